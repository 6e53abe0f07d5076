// The admin HTTP API (/admin/...): virtual keys, budgets and the audit log,
// protected by auth.master_key and disabled without one. Each call opens its
// own short-lived Store, so it is safe on any worker; admin calls are rare and
// their small SQLite transactions run inline on the worker thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "governance/governor.h"

namespace tollgate::gateway {

struct AdminResponse {
  int status = 200;
  std::string body;  // JSON
};

// Serves one admin request. `bearer` is the caller's bearer token.
AdminResponse HandleAdmin(governance::Governor& gov, std::string_view method, std::string_view path,
                          std::string_view query, std::string_view bearer, const std::string& body);

}  // namespace tollgate::gateway
