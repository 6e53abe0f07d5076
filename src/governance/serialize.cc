#include "governance/serialize.h"

#include <climits>

#include "governance/window.h"

namespace tollgate::governance {
namespace {
void Str(JsonWriter& w, const char* k, const std::string& v) {
  w.Key(k);
  if (v.empty()) w.Null();
  else w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
}
void List(JsonWriter& w, const char* k, const std::vector<std::string>& v) {
  w.Key(k);
  w.StartArray();
  for (const auto& s : v) w.String(s.c_str());
  w.EndArray();
}
}  // namespace

void WriteKey(JsonWriter& w, const VirtualKey& k) {
  w.StartObject();
  Str(w, "id", k.id);
  Str(w, "name", k.name);
  Str(w, "secret_prefix", k.secret_prefix);
  Str(w, "owner", k.owner);
  Str(w, "user", k.user);
  Str(w, "project", k.project);
  Str(w, "team", k.team);
  List(w, "tags", k.tags);
  List(w, "allowed_models", k.allowed_models);
  w.Key("expires_at");
  if (k.expires_at_ms) w.String(FormatLocalTime(*k.expires_at_ms).c_str());
  else w.Null();
  w.Key("rpm");
  w.Int64(k.rpm);
  w.Key("tpm");
  w.Int64(k.tpm);
  w.Key("usd_per_minute");
  w.Double(k.usd_per_minute);
  w.Key("created_at");
  w.String(FormatLocalTime(k.created_at_ms).c_str());
  w.Key("revoked_at");
  if (k.revoked_at_ms) w.String(FormatLocalTime(*k.revoked_at_ms).c_str());
  else w.Null();
  w.EndObject();
}

void WriteBudget(JsonWriter& w, const Budget& b, double spent, int64_t now_ms) {
  w.StartObject();
  Str(w, "id", b.id);
  Str(w, "name", b.name);
  Str(w, "scope", b.scope);
  Str(w, "subject", b.subject);
  Str(w, "model", b.model);
  w.Key("window");
  w.String(WindowName(b.window));
  w.Key("limit_usd");
  if (b.limit_usd) w.Double(*b.limit_usd);
  else w.Null();
  w.Key("soft_limit_usd");
  if (b.soft_limit_usd) w.Double(*b.soft_limit_usd);
  else w.Null();
  if (spent >= 0) {
    w.Key("spent_usd");
    w.Double(spent);
    w.Key("soft_limit_exceeded");
    w.Bool(b.soft_limit_usd && spent >= *b.soft_limit_usd);
    w.Key("hard_limit_reached");
    w.Bool(b.limit_usd && spent >= *b.limit_usd);
  }
  w.Key("window_start");
  w.String(FormatLocalTime(WindowStart(b.window, now_ms)).c_str());
  w.Key("resets_at");
  int64_t end = WindowEnd(b.window, now_ms);
  if (end == INT64_MAX) w.Null();
  else w.String(FormatLocalTime(end).c_str());
  w.EndObject();
}

void WriteAudit(JsonWriter& w, const AuditEntry& e) {
  w.StartObject();
  w.Key("ts");
  w.String(FormatLocalTime(e.ts_ms).c_str());
  Str(w, "actor", e.actor);
  Str(w, "action", e.action);
  Str(w, "target", e.target);
  Str(w, "detail", e.detail);
  w.EndObject();
}

}  // namespace tollgate::governance
