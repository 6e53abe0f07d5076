// JSON views of governance objects, shared by the admin API and the CLI's
// --format json. Secrets never appear here: only ids, prefixes and hashes are
// stored, and the hash is not emitted either.
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>

#include "governance/store.h"

namespace tollgate::governance {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void WriteKey(JsonWriter& w, const VirtualKey& k);
// `spent` < 0 means "unknown" (omitted).
void WriteBudget(JsonWriter& w, const Budget& b, double spent, int64_t now_ms);
void WriteAudit(JsonWriter& w, const AuditEntry& e);

}  // namespace tollgate::governance
