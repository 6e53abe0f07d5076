#include "usage/ledger_export.h"

namespace tollgate::usage {

ledger::Row ToLedgerRow(const Entry& e, const std::string& price_version) {
  ledger::Row r;
  r.id = e.id;
  r.ts_start_ms = e.ts_ms;
  r.ts_end_ms = e.ts_ms;
  r.endpoint = "agent." + std::string(AgentName(e.agent));
  r.provider = e.agent == Agent::kClaudeCode ? "anthropic" : "openai";
  r.requested_model = e.model;
  r.served_model = e.model;
  r.project = e.project;
  // Sessions are not users; the session stays findable through the id's source
  // (docs/usage-import.md) rather than filling `tollgate report --by user`.
  r.tags = "agent," + std::string(AgentName(e.agent));
  r.status = 200;
  r.usage = e.usage;
  r.cost = e.cost;
  r.cost_known = e.cost_known;
  r.price_version = e.cost_known ? price_version : "";
  return r;
}

Status WriteToLedger(const std::vector<Entry>& entries, const std::string& price_version,
                     ledger::LedgerWriter& ledger) {
  for (const Entry& e : entries) ledger.Append(ToLedgerRow(e, price_version));
  return ledger.Flush();
}

}  // namespace tollgate::usage
