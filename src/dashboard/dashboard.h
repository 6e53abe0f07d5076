// The web dashboard: static assets (built from web/ with npm at build time and
// compiled into the binary) served at /, and the JSON API under /api/ that the
// page reads (totals, daily spend by model, breakdowns, budgets, savings,
// most expensive requests, live feed, cache hit rate, latency percentiles, CSV
// export). It reads the ledger through a ledger::LedgerReader and the budgets
// through the Governor; it opens no file itself. Handle() blocks on the store,
// so the gateway calls it off the worker threads (on its blocking pool).
// Thread-safe: Handle may run concurrently (the reader is thread-safe).
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
#include "ledger/reader.h"

namespace tollgate::dashboard {

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

class Dashboard {
 public:
  // `governor` gives budgets (and the master key check when auth is on);
  // `ledger` is what every view reads.
  static Result<std::unique_ptr<Dashboard>> Create(const config::Config& cfg, governance::Governor& governor,
                                                   std::unique_ptr<const ledger::LedgerReader> ledger);
  virtual ~Dashboard() = default;
  // Serves `path` if it belongs to the dashboard ("/", "/index.html", "/assets/...",
  // "/api/..."); nullopt otherwise. `authorization` is the raw Authorization header:
  // when auth is enabled, the dashboard requires the master key as a Bearer token or
  // as the password of HTTP Basic auth (answering 401 with WWW-Authenticate).
  virtual std::optional<Response> Handle(std::string_view method, std::string_view path, std::string_view query,
                                         std::string_view authorization) = 0;
};

}  // namespace tollgate::dashboard
