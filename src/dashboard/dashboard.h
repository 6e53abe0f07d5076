// The web dashboard: static assets (built from web/ with npm at build time and
// compiled into the binary) served at /, and the JSON API under /api/ that the
// page reads (totals, daily spend by model, breakdowns, budgets, savings,
// most expensive requests, live feed, cache hit rate, latency percentiles, CSV
// export). Queries run on the ledger read-only. Handle() blocks on SQLite, so
// the gateway calls it off the worker threads (on its blocking pool).
// Thread-safe: Handle may run concurrently; each call opens its own read handle
// (or uses a pool guarded by a mutex).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "config/config.h"
#include "governance/governor.h"

namespace tollgate::dashboard {

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

class Dashboard {
 public:
  // `governor` gives budgets (and the master key check when auth is on).
  static Result<std::unique_ptr<Dashboard>> Create(const config::Config& cfg, governance::Governor& governor);
  virtual ~Dashboard() = default;
  // Serves `path` if it belongs to the dashboard ("/", "/index.html", "/assets/...",
  // "/api/..."); nullopt otherwise. `authorization` is the raw Authorization header:
  // when auth is enabled, the dashboard requires the master key as a Bearer token or
  // as the password of HTTP Basic auth (answering 401 with WWW-Authenticate).
  virtual std::optional<Response> Handle(std::string_view method, std::string_view path, std::string_view query,
                                         std::string_view authorization) = 0;
};

}  // namespace tollgate::dashboard
