#include "gateway/admin.h"

#include "common/json.h"
#include "report/report.h"

#include <rapidjson/document.h>

#include "common/status_http.h"
#include "common/util.h"
#include "gateway/errors.h"
#include "governance/serialize.h"
#include "governance/window.h"

namespace tollgate::gateway {
namespace {

using governance::JsonWriter;

AdminResponse Err(int status, const std::string& code, const std::string& message, const std::string& param = "") {
  return {status, ErrorBody({status, "invalid_request_error", code, message, param})};
}

AdminResponse FromStatus(const Status& st) {
  const HttpError e = HttpErrorFor(st);
  return Err(e.status, e.code, st.message());
}

AdminResponse Json(int status, const std::function<void(JsonWriter&)>& fill) { return {status, WriteJson(fill)}; }

// Typed field readers that name the field on error.
Status GetString(const rapidjson::Value& o, const char* k, std::string* out) {
  auto it = o.FindMember(k);
  if (it == o.MemberEnd() || it->value.IsNull()) return Status::Ok();
  if (!it->value.IsString()) return Status::InvalidArgument(std::string("'") + k + "' must be a string");
  *out = it->value.GetString();
  return Status::Ok();
}
Status GetStrings(const rapidjson::Value& o, const char* k, std::vector<std::string>* out) {
  auto it = o.FindMember(k);
  if (it == o.MemberEnd() || it->value.IsNull()) return Status::Ok();
  if (!it->value.IsArray()) return Status::InvalidArgument(std::string("'") + k + "' must be an array of strings");
  for (const auto& v : it->value.GetArray()) {
    if (!v.IsString()) return Status::InvalidArgument(std::string("'") + k + "' must be an array of strings");
    out->emplace_back(v.GetString());
  }
  return Status::Ok();
}
Status GetInt(const rapidjson::Value& o, const char* k, int64_t* out) {
  auto it = o.FindMember(k);
  if (it == o.MemberEnd() || it->value.IsNull()) return Status::Ok();
  if (!it->value.IsInt64() || it->value.GetInt64() < 0)
    return Status::InvalidArgument(std::string("'") + k + "' must be a non-negative integer");
  *out = it->value.GetInt64();
  return Status::Ok();
}
Status GetNumber(const rapidjson::Value& o, const char* k, std::optional<double>* out) {
  auto it = o.FindMember(k);
  if (it == o.MemberEnd() || it->value.IsNull()) return Status::Ok();
  if (!it->value.IsNumber() || it->value.GetDouble() < 0)
    return Status::InvalidArgument(std::string("'") + k + "' must be a non-negative number");
  *out = it->value.GetDouble();
  return Status::Ok();
}
Status CheckKnownFields(const rapidjson::Value& o, std::initializer_list<const char*> allowed) {
  for (auto it = o.MemberBegin(); it != o.MemberEnd(); ++it) {
    bool ok = false;
    for (const char* a : allowed) ok = ok || std::string_view(it->name.GetString()) == a;
    if (!ok) {
      std::string list;
      for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      return Status::InvalidArgument("unknown field '" + std::string(it->name.GetString()) + "'; allowed: " + list);
    }
  }
  return Status::Ok();
}

// Parses an expiry: "YYYY-MM-DD" (UTC midnight) or Unix seconds.
Status ParseExpiry(const rapidjson::Value& o, std::optional<int64_t>* out) {
  auto it = o.FindMember("expires_at");
  if (it == o.MemberEnd() || it->value.IsNull()) return Status::Ok();
  if (it->value.IsInt64()) {
    *out = it->value.GetInt64() * 1000;
    return Status::Ok();
  }
  if (it->value.IsString()) {
    if (auto ms = ParseDateUtcMs(it->value.GetString())) {
      *out = *ms;
      return Status::Ok();
    }
  }
  return Status::InvalidArgument("'expires_at' must be a date YYYY-MM-DD or Unix seconds");
}

Status ParseBudgetFields(const rapidjson::Value& o, governance::Budget* b) {
  TG_RETURN_IF_ERROR(GetString(o, "name", &b->name));
  TG_RETURN_IF_ERROR(GetString(o, "scope", &b->scope));
  TG_RETURN_IF_ERROR(GetString(o, "subject", &b->subject));
  TG_RETURN_IF_ERROR(GetString(o, "model", &b->model));
  std::string window = "daily";
  TG_RETURN_IF_ERROR(GetString(o, "window", &window));
  auto w = governance::ParseWindow(window);
  if (!w) return Status::InvalidArgument("'window' must be daily, weekly, monthly or lifetime");
  b->window = *w;
  TG_RETURN_IF_ERROR(GetNumber(o, "limit_usd", &b->limit_usd));
  TG_RETURN_IF_ERROR(GetNumber(o, "soft_limit_usd", &b->soft_limit_usd));
  return Status::Ok();
}

Result<rapidjson::Document> ParseBody(const std::string& body) {
  rapidjson::Document d;
  const JsonParse d_json = ParseJson(d, body);
  if (!d_json.ok)
    return Status::InvalidArgument("Invalid JSON at offset " + std::to_string(d_json.offset) + ": " +
                                   d_json.message);
  if (!d.IsObject()) return Status::InvalidArgument("Request body must be a JSON object");
  return d;
}

AdminResponse CreateKey(governance::Store& store, const std::string& body) {
  auto doc = ParseBody(body);
  if (!doc.ok()) return FromStatus(doc.status());
  const auto& o = *doc;
  governance::KeySpec spec;
  std::optional<governance::Budget> budget;
  Status st = CheckKnownFields(o, {"name", "owner", "user", "project", "team", "tags", "models", "expires_at", "rpm",
                                   "tpm", "usd_per_minute", "budget"});
  if (st.ok()) st = GetString(o, "name", &spec.name);
  if (st.ok()) st = GetString(o, "owner", &spec.owner);
  if (st.ok()) st = GetString(o, "user", &spec.user);
  if (st.ok()) st = GetString(o, "project", &spec.project);
  if (st.ok()) st = GetString(o, "team", &spec.team);
  if (st.ok()) st = GetStrings(o, "tags", &spec.tags);
  if (st.ok()) st = GetStrings(o, "models", &spec.allowed_models);
  if (st.ok()) st = ParseExpiry(o, &spec.expires_at_ms);
  if (st.ok()) st = GetInt(o, "rpm", &spec.rpm);
  if (st.ok()) st = GetInt(o, "tpm", &spec.tpm);
  std::optional<double> usd;
  if (st.ok()) st = GetNumber(o, "usd_per_minute", &usd);
  spec.usd_per_minute = usd.value_or(0);
  if (st.ok()) {
    auto it = o.FindMember("budget");
    if (it != o.MemberEnd() && !it->value.IsNull()) {
      if (!it->value.IsObject()) {
        st = Status::InvalidArgument("'budget' must be an object {limit_usd, soft_limit_usd, window, model}");
      } else {
        st = CheckKnownFields(it->value, {"limit_usd", "soft_limit_usd", "window", "model"});
        governance::Budget b;
        if (st.ok()) st = ParseBudgetFields(it->value, &b);
        budget = b;
      }
    }
  }
  if (!st.ok()) return FromStatus(st);
  std::string secret;
  auto k = governance::CreateKeyWithBudget(store, spec, budget, "admin-api", &secret);
  if (!k.ok()) return FromStatus(k.status());
  return Json(201, [&](JsonWriter& w) {
    w.StartObject();
    w.Key("key");
    governance::WriteKey(w, *k);
    w.Key("secret");
    w.String(secret.c_str());
    w.Key("note");
    w.String("The secret is shown only once; tollgate stores only its hash.");
    w.EndObject();
  });
}

AdminResponse ListBudgets(governance::Governor& gov, governance::Store& store) {
  auto budgets = store.ListBudgets();
  if (!budgets.ok()) return FromStatus(budgets.status());
  const int64_t now = NowUnixMs();
  return Json(200, [&](JsonWriter& w) {
    w.StartObject();
    w.Key("data");
    w.StartArray();
    for (const auto& b : *budgets)
      governance::WriteBudget(w, b, gov.counters().Spent(b.id, governance::WindowStart(b.window, now)), now);
    w.EndArray();
    w.EndObject();
  });
}

// Splits /admin/<collection>[/<id>[/<action>]].
std::vector<std::string> AdminPathParts(std::string_view path) {
  std::vector<std::string> parts;
  std::string_view rest = path.substr(std::string_view("/admin/").size());
  while (!rest.empty()) {
    size_t slash = rest.find('/');
    parts.emplace_back(rest.substr(0, slash));
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return parts;
}

// A change that succeeded is picked up at once: the next request sees it.
AdminResponse Changed(governance::Governor& gov, AdminResponse r) {
  if (r.status < 300) (void)gov.ReloadNow();
  return r;
}

// {"<key>": "<value>"}
AdminResponse OneField(const char* key, const std::string& value) {
  return Json(200, [&](JsonWriter& w) {
    w.StartObject();
    w.Key(key);
    w.String(value.c_str());
    w.EndObject();
  });
}

// /admin/keys[/<id>[/revoke|/rotate]]; nullopt for no such route.
std::optional<AdminResponse> HandleKeys(governance::Governor& gov, governance::Store& s, std::string_view method,
                                        const std::vector<std::string>& parts, std::string_view query,
                                        const std::string& body) {
  if (parts.size() == 1 && method == "GET") {
    auto keys = s.ListKeys(query.find("all=1") != std::string_view::npos || query.find("all=true") != std::string_view::npos);
    if (!keys.ok()) return FromStatus(keys.status());
    return Json(200, [&](JsonWriter& w) {
      w.StartObject();
      w.Key("data");
      w.StartArray();
      for (const auto& k : *keys) governance::WriteKey(w, k);
      w.EndArray();
      w.EndObject();
    });
  }
  if (parts.size() == 1 && method == "POST") return Changed(gov, CreateKey(s, body));
  if (parts.size() == 2 && method == "GET") {
    auto k = s.GetKey(parts[1]);
    if (!k.ok()) return FromStatus(k.status());
    return Json(200, [&](JsonWriter& w) { governance::WriteKey(w, *k); });
  }
  if ((parts.size() == 2 && method == "DELETE") || (parts.size() == 3 && parts[2] == "revoke" && method == "POST")) {
    Status st = s.RevokeKey(parts[1], "admin-api");
    if (!st.ok()) return FromStatus(st);
    return Changed(gov, OneField("revoked", parts[1]));
  }
  if (parts.size() == 3 && parts[2] == "rotate" && method == "POST") {
    auto secret = s.RotateKey(parts[1], "admin-api");
    if (!secret.ok()) return FromStatus(secret.status());
    return Changed(gov, Json(200, [&](JsonWriter& w) {
      w.StartObject();
      w.Key("id");
      w.String(parts[1].c_str());
      w.Key("secret");
      w.String(secret->c_str());
      w.EndObject();
    }));
  }
  return std::nullopt;
}

// /admin/budgets[/<id>]; nullopt for no such route.
std::optional<AdminResponse> HandleBudgets(governance::Governor& gov, governance::Store& s, std::string_view method,
                                           const std::vector<std::string>& parts, const std::string& body) {
  if (parts.size() == 1 && method == "GET") return ListBudgets(gov, s);
  if (parts.size() == 1 && (method == "POST" || method == "PUT")) {
    auto doc = ParseBody(body);
    if (!doc.ok()) return FromStatus(doc.status());
    governance::Budget b;
    Status st = CheckKnownFields(*doc, {"name", "scope", "subject", "model", "window", "limit_usd", "soft_limit_usd"});
    if (st.ok()) st = ParseBudgetFields(*doc, &b);
    if (!st.ok()) return FromStatus(st);
    auto put = s.PutBudget(b, "admin-api");
    if (!put.ok()) return FromStatus(put.status());
    return Changed(gov, Json(200, [&](JsonWriter& w) { governance::WriteBudget(w, *put, -1, NowUnixMs()); }));
  }
  if (parts.size() == 2 && method == "DELETE") {
    Status st = s.DeleteBudget(parts[1], "admin-api");
    if (!st.ok()) return FromStatus(st);
    return Changed(gov, OneField("deleted", parts[1]));
  }
  return std::nullopt;
}

// GET /admin/savings: what the savings engine saved, by lever and by
// ?by=key|project|model|lever|day..., over ?from=&to=.
AdminResponse Savings(governance::Governor& gov, std::string_view query) {
  report::ReportOptions o;
  o.by = "lever";
  size_t pos = 0;
  while (pos < query.size()) {
    size_t amp = query.find('&', pos);
    std::string_view kv = query.substr(pos, amp == std::string_view::npos ? std::string_view::npos : amp - pos);
    size_t eq = kv.find('=');
    if (eq != std::string_view::npos) {
      std::string_view k = kv.substr(0, eq), v = kv.substr(eq + 1);
      if (k == "by") o.by = std::string(v);
      else if (k == "from") o.from = std::string(v);
      else if (k == "to") o.to = std::string(v);
    }
    if (amp == std::string_view::npos) break;
    pos = amp + 1;
  }
  auto r = report::BuildReport(*gov.OpenReader(), o);
  if (!r.ok()) return FromStatus(r.status());
  return AdminResponse{200, report::RenderSavingsJson(*r)};
}

// GET /admin/audit: the newest 500 entries.
AdminResponse Audit(governance::Store& s) {
  auto entries = s.ListAudit(500);
  if (!entries.ok()) return FromStatus(entries.status());
  return Json(200, [&](JsonWriter& w) {
    w.StartObject();
    w.Key("data");
    w.StartArray();
    for (const auto& e : *entries) governance::WriteAudit(w, e);
    w.EndArray();
    w.EndObject();
  });
}

}  // namespace

AdminResponse HandleAdmin(governance::Governor& gov, std::string_view method, std::string_view path,
                          std::string_view query, std::string_view bearer, const std::string& body) {
  if (!gov.admin_enabled())
    return Err(404, "admin_disabled", "The admin API is disabled: set auth.master_key in the config to enable it.");
  if (!gov.IsMasterKey(bearer)) return Err(401, "invalid_api_key", "The admin API needs 'Authorization: Bearer <auth.master_key>'.");
  auto store = gov.OpenStore();  // on the gateway's own storage, whatever its backend
  if (!store.ok()) return FromStatus(store.status());
  governance::Store& s = **store;

  const std::vector<std::string> parts = AdminPathParts(path);
  const std::string collection = parts.empty() ? "" : parts[0];
  std::optional<AdminResponse> r;
  if (collection == "keys") r = HandleKeys(gov, s, method, parts, query, body);
  else if (collection == "budgets") r = HandleBudgets(gov, s, method, parts, body);
  else if (collection == "savings" && parts.size() == 1 && method == "GET") r = Savings(gov, query);
  else if (collection == "audit" && parts.size() == 1 && method == "GET") r = Audit(s);
  if (r) return std::move(*r);
  return Err(404, "not_found", "No admin route for " + std::string(method) + " " + std::string(path));
}

}  // namespace tollgate::gateway
