// Writes imported agent usage into the ledger's `requests` table, so that reports
// and the dashboard show it next to the gateway's own traffic. Rows keep the
// entries' deterministic ids and the ledger ignores ids it already has, so
// importing the same logs again adds nothing. Thread-compatible, like LedgerWriter.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "ledger/ledger.h"
#include "usage/importer.h"

namespace tollgate::usage {

// The ledger row for one entry: endpoint "agent.claude-code" or "agent.codex",
// provider "anthropic" or "openai", the log's model as requested and served model,
// project from the log, tags "agent,<agent name>", status 200, and no latency.
ledger::Row ToLedgerRow(const Entry& entry, const std::string& price_version);

// Appends one row per entry and flushes. IoError when the ledger cannot write.
Status WriteToLedger(const std::vector<Entry>& entries, const std::string& price_version,
                     ledger::LedgerWriter& ledger);

}  // namespace tollgate::usage
