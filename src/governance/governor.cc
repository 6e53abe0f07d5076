#include "governance/governor.h"

#include <openssl/crypto.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <climits>
#include <cmath>
#include <functional>
#include <optional>
#include <sstream>

#include "common/log.h"
#include "common/text.h"
#include "common/util.h"
#include "config/closed_sets.h"
#include "governance/window.h"
#include "http/upstream.h"

namespace tollgate::governance {
namespace {

namespace asio = boost::asio;

// Resumes the awaiting coroutine with the result `start` passes to its
// completion: without suspending when that runs inline (the in-process
// store), otherwise from the coroutine's own executor once the store answers
// on its thread. The completion runs exactly once.
template <class T, class Start>
asio::awaitable<T> AwaitCompletion(Start start) {
  // In this coroutine's frame, which outlives the completion: the coroutine
  // does not return before the completion has run.
  struct Pending {
    Mutex mu;
    std::optional<T> value GUARDED_BY(mu);         // the result, when it came first
    std::function<void(T)> resume GUARDED_BY(mu);  // set when the coroutine suspended first
  } pending;
  start([&pending](T v) {
    std::function<void(T)> resume;
    {
      MutexLock lock(&pending.mu);
      if (!pending.resume) {
        pending.value = std::move(v);
        return;
      }
      resume = std::move(pending.resume);
    }
    resume(std::move(v));
  });
  {
    MutexLock lock(&pending.mu);
    if (pending.value) co_return std::move(*pending.value);
  }
  auto initiate = [&pending](auto handler) {
    // The handler is move-only; a std::function needs a copyable target.
    auto h = std::make_shared<decltype(handler)>(std::move(handler));
    auto resume = [h](T v) {
      asio::post(asio::get_associated_executor(*h),
                 [h, v = std::move(v)]() mutable { (*h)(std::move(v)); });
    };
    std::optional<T> v;
    {
      MutexLock lock(&pending.mu);
      if (!pending.value) {
        pending.resume = std::move(resume);
        return;
      }
      v = std::move(pending.value);
    }
    resume(std::move(*v));  // posted: a handler never runs inside its initiation
  };
  asio::awaitable<T> answered = asio::async_initiate<const asio::use_awaitable_t<>&, void(T)>(
      std::move(initiate), asio::use_awaitable);
  co_return co_await std::move(answered);
}

std::string Money(double v) { return FourDecimals(v); }

// Posts `body` to `url`; best effort, off the request path, bounded by 5 s.
void PostWebhook(const std::string& url, const std::string& body) {
  namespace asio = boost::asio;
  namespace beast = boost::beast;
  auto u = http::ParseUrl(url);
  if (!u.ok()) return;
  try {
    asio::io_context ioc;
    asio::ip::tcp::resolver resolver(ioc);
    auto results = resolver.resolve(u->host, u->port);
    beast::http::request<beast::http::string_body> req{beast::http::verb::post,
                                                       u->path.empty() ? "/" : u->path, 11};
    req.set(beast::http::field::host, u->host);
    req.set(beast::http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    beast::flat_buffer buf;
    beast::http::response<beast::http::string_body> res;
    if (u->tls) {
      auto ctx = http::MakeTlsContext("");
      if (!ctx.ok()) return;
      beast::ssl_stream<beast::tcp_stream> s(ioc, **ctx);
      beast::get_lowest_layer(s).expires_after(std::chrono::seconds(5));
      SSL_set_tlsext_host_name(s.native_handle(), u->host.c_str());
      s.set_verify_callback(asio::ssl::host_name_verification(u->host));
      beast::get_lowest_layer(s).connect(results);
      s.handshake(asio::ssl::stream_base::client);
      beast::http::write(s, req);
      beast::http::read(s, buf, res);
    } else {
      beast::tcp_stream s(ioc);
      s.expires_after(std::chrono::seconds(5));
      s.connect(results);
      beast::http::write(s, req);
      beast::http::read(s, buf, res);
    }
  } catch (const std::exception& e) {
    log::Warn(std::string("budget alert webhook failed: ") + e.what());
  }
}

bool BudgetApplies(const Budget& b, const RequestFacts& f) {
  if (!b.model.empty() && b.model != f.model) return false;
  const std::optional<config::BudgetScope> scope = config::ParseBudgetScope(b.scope);
  if (!scope) return false;
  switch (*scope) {
    case config::BudgetScope::kGlobal:
      return true;
    case config::BudgetScope::kKey:
      return !f.key_id.empty() && b.subject == f.key_id;
    case config::BudgetScope::kUser:
      return !f.user.empty() && b.subject == f.user;
    case config::BudgetScope::kProject:
      return !f.project.empty() && b.subject == f.project;
    case config::BudgetScope::kTeam:
      return !f.team.empty() && b.subject == f.team;
  }
  return false;
}

Denial RateDenial(const RateDecision& d, const std::string& subject) {
  Denial den;
  den.status = 429;
  den.type = "rate_limit_exceeded";
  den.code = "rate_limit_exceeded";
  std::ostringstream m;
  m << "Rate limit reached for " << subject << ": " << d.limit << " " << d.dimension
    << " per minute. Try again in " << d.reset_s << "s.";
  den.message = m.str();
  den.retry_after_s = d.reset_s;
  std::string reset = std::to_string(d.reset_s) + "s";
  if (d.remaining_requests >= 0 || d.dimension == "requests") {
    den.headers.push_back(
        {"x-ratelimit-limit-requests",
         d.dimension == "requests" ? std::to_string(static_cast<int64_t>(d.limit)) : ""});
    den.headers.push_back({"x-ratelimit-remaining-requests",
                           std::to_string(std::max<int64_t>(d.remaining_requests, 0))});
    den.headers.push_back({"x-ratelimit-reset-requests", reset});
  }
  if (d.dimension == "tokens" || d.remaining_tokens >= 0) {
    den.headers.push_back(
        {"x-ratelimit-limit-tokens",
         d.dimension == "tokens" ? std::to_string(static_cast<int64_t>(d.limit)) : ""});
    den.headers.push_back(
        {"x-ratelimit-remaining-tokens", std::to_string(std::max<int64_t>(d.remaining_tokens, 0))});
    den.headers.push_back({"x-ratelimit-reset-tokens", reset});
  }
  // Drop empty limit headers (dimensions that were not the one refused).
  den.headers.erase(std::remove_if(den.headers.begin(), den.headers.end(),
                                   [](auto& h) { return h.second.empty(); }),
                    den.headers.end());
  return den;
}

}  // namespace

Result<std::unique_ptr<Governor>> Governor::Create(const config::Config& cfg,
                                                   ledger::Storage& storage,
                                                   CounterStore& counters) {
  TG_RETURN_IF_ERROR(SetTimezone(cfg.governance.timezone));
  std::unique_ptr<Governor> g(new Governor(cfg, storage, counters));
  MutexLock lock(
      &g->reload_mu_);  // no other thread sees g yet; the analysis wants it held all the same
  for (const auto& r : cfg.rate_limits)
    g->model_limits_[r.model] = RateLimits{r.rpm, r.tpm, r.usd_per_minute};
  TG_ASSIGN_OR_RETURN(g->store_, Store::Open(storage));
  // Config budgets are the declared state: create or update them by name.
  TG_ASSIGN_OR_RETURN(std::vector<Budget> existing, g->store_->ListBudgets());
  for (const auto& bc : cfg.budgets) {
    Budget b;
    b.name = bc.name;
    b.scope = bc.scope;
    b.subject = bc.subject;
    b.model = bc.model;
    b.window = ParseWindow(bc.window).value_or(Window::kDaily);
    b.limit_usd = bc.limit_usd;
    b.soft_limit_usd = bc.soft_limit_usd;
    auto same = std::find_if(existing.begin(), existing.end(), [&](const Budget& e) {
      return e.name == b.name && e.scope == b.scope && e.subject == b.subject &&
             e.model == b.model && e.window == b.window && e.limit_usd == b.limit_usd &&
             e.soft_limit_usd == b.soft_limit_usd;
    });
    if (same == existing.end()) TG_RETURN_IF_ERROR(g->store_->PutBudget(b, "config").status());
  }
  TG_ASSIGN_OR_RETURN(std::vector<SpendRow> spend, g->store_->ListSpend());
  for (const auto& s : spend) counters.Seed(s.budget_id, s.window_start_ms, s.spent_usd);
  TG_RETURN_IF_ERROR(g->Reload(*g->store_));
  return g;
}

Result<std::unique_ptr<Governor>> Governor::Create(const config::Config& cfg,
                                                   const std::string& ledger_url) {
  TG_ASSIGN_OR_RETURN(std::unique_ptr<ledger::Storage> storage, ledger::OpenLedger(ledger_url));
  auto counters = std::make_unique<LocalCounterStore>();
  TG_ASSIGN_OR_RETURN(std::unique_ptr<Governor> g, Create(cfg, *storage, *counters));
  g->owned_storage_ = std::move(storage);
  g->owned_counters_ = std::move(counters);
  return g;
}

Governor::~Governor() { Stop(); }

std::shared_ptr<const Governor::Snapshot> Governor::snapshot() const {
  MutexLock lock(&snap_mu_);
  return snap_;
}

Status Governor::Reload(Store& store) {
  auto snap = std::make_shared<Snapshot>();
  TG_ASSIGN_OR_RETURN(snap->version, store.StateVersion());
  TG_ASSIGN_OR_RETURN(std::vector<VirtualKey> keys, store.ListKeys(/*include_revoked=*/false));
  for (auto& k : keys) snap->keys_by_hash.emplace(k.secret_hash, std::move(k));
  TG_ASSIGN_OR_RETURN(snap->budgets, store.ListBudgets());
  MutexLock lock(&snap_mu_);
  snap_ = std::move(snap);
  return Status::Ok();
}

std::vector<std::pair<Budget, double>> Governor::BudgetStatus() {
  std::vector<std::pair<Budget, double>> out;
  const int64_t now = NowUnixMs();
  for (const Budget& b : snapshot()->budgets)
    out.emplace_back(b, counters_.Spent(b.id, WindowStart(b.window, now)));
  return out;
}

Status Governor::ReloadNow() {
  MutexLock lock(&reload_mu_);
  return Reload(*store_);
}

void Governor::Start() {
  reloader_ = std::thread([this] { ReloaderLoop(); });
}

void Governor::Stop() {
  {
    MutexLock lock(&stop_mu_);
    stop_ = true;
  }
  stop_cv_.SignalAll();
  if (reloader_.joinable()) reloader_.join();
}

void Governor::ReloaderLoop() {
  for (;;) {
    {
      MutexLock lock(&stop_mu_);
      const auto deadline = std::chrono::steady_clock::now() +
                            std::chrono::milliseconds(cfg_.governance.reload_interval_ms);
      while (!stop_ && stop_cv_.WaitUntil(&stop_mu_, deadline)) {
      }
      if (stop_) return;
    }
    MutexLock lock(&reload_mu_);
    auto v = store_->StateVersion();
    if (!v.ok()) {
      log::Warn("governance: cannot read state version: " + v.status().message());
      continue;
    }
    if (*v == snapshot()->version) continue;
    Status st = Reload(*store_);
    if (!st.ok()) log::Warn("governance: reload failed: " + st.message());
  }
}

bool Governor::IsMasterKey(std::string_view bearer) const {
  if (cfg_.auth.master_key.empty() || bearer.empty()) return false;
  std::string a = Sha256Hex(bearer), b = Sha256Hex(cfg_.auth.master_key);
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::optional<Denial> Governor::Authenticate(std::string_view bearer, Principal* out) const {
  auto unauthorized = [](std::string msg) {
    return Denial{401, "invalid_request_error", "invalid_api_key", std::move(msg), -1, {}};
  };
  if (bearer.empty())
    return unauthorized(
        "Missing API key. Send 'Authorization: Bearer <tollgate virtual key>' (create one with "
        "`tollgate keys create`).");
  auto snap = snapshot();
  const std::string hash = Sha256Hex(bearer);
  auto it = snap->keys_by_hash.find(hash);
  // The map lookup is on the hash, so its timing says nothing about the secret;
  // the final comparison is constant-time anyway.
  if (it == snap->keys_by_hash.end() ||
      CRYPTO_memcmp(it->second.secret_hash.data(), hash.data(), hash.size()) != 0)
    return unauthorized("Invalid API key.");
  const VirtualKey& k = it->second;
  if (k.expires_at_ms && *k.expires_at_ms <= NowUnixMs())
    return unauthorized("API key " + k.id + " expired at " + FormatLocalTime(*k.expires_at_ms) +
                        ".");
  out->key_id = k.id;
  out->key_name = k.name;
  out->user = k.user;
  out->project = k.project;
  out->team = k.team;
  out->tags = k.tags;
  out->allowed_models = k.allowed_models;
  out->limits = RateLimits{k.rpm, k.tpm, k.usd_per_minute};
  return std::nullopt;
}

std::optional<Denial> Governor::CheckModel(const Principal& p, const std::string& model) const {
  if (p.allowed_models.empty()) return std::nullopt;
  if (std::find(p.allowed_models.begin(), p.allowed_models.end(), model) != p.allowed_models.end())
    return std::nullopt;
  std::string list;
  for (const auto& m : p.allowed_models) list += (list.empty() ? "" : ", ") + m;
  return Denial{
      403,
      "permission_error",
      "model_not_allowed",
      "API key " + p.key_id + " may not use model '" + model + "'. Allowed: " + list + ".",
      -1,
      {}};
}

// One admission in flight: what its steps share. Lives in the caller's frame
// (Admit's stack, AdmitAsync's coroutine) until `done` has run.
struct Governor::AdmitOp {
  const Principal* p = nullptr;
  const RequestFacts* f = nullptr;
  Admission* out = nullptr;
  Completion<std::optional<Denial>> done;
  int64_t now = 0;
  double input_cost = 0;
  double worst = 0;  // what is being reserved
  int64_t tokens = 0;
  std::vector<RateSubject> subjects;
  int64_t fit = -1;  // >= 0: the lowered max_tokens being reserved for
};

std::optional<Denial> Governor::Admit(const Principal* p, const RequestFacts& f, Admission* out) {
  AdmitOp op{p, &f, out};
  return WaitFor<std::optional<Denial>>([&](Completion<std::optional<Denial>> done) {
    op.done = std::move(done);
    StartAdmit(op);
  });
}

asio::awaitable<std::optional<Denial>> Governor::AdmitAsync(const Principal* p,
                                                            const RequestFacts& f, Admission* out) {
  AdmitOp op{p, &f, out};
  auto start = [this, &op](Completion<std::optional<Denial>> done) {
    op.done = std::move(done);
    StartAdmit(op);
  };
  // Named locals, not temporaries, in a co_await (GCC 12, docs/ARCHITECTURE.md).
  asio::awaitable<std::optional<Denial>> admitted =
      AwaitCompletion<std::optional<Denial>>(std::move(start));
  co_return co_await std::move(admitted);
}

void Governor::StartAdmit(AdmitOp& op) {
  const RequestFacts& f = *op.f;
  Admission* out = op.out;
  op.now = NowUnixMs();
  op.input_cost = static_cast<double>(f.input_tokens_bound) * f.input_usd_per_token;
  op.worst = op.input_cost + static_cast<double>(f.max_output_tokens) * f.output_usd_per_token;
  op.tokens = f.input_tokens_bound + f.max_output_tokens;

  // Rate limits: the key's, then the model's.
  out->rate_minute = RateLimiter::MinuteOf(op.now);
  out->rate_tokens = op.tokens;
  out->rate_usd = op.worst;
  if (op.p && op.p->limits.any()) op.subjects.push_back({"key:" + op.p->key_id, op.p->limits});
  if (auto it = model_limits_.find(f.model); it != model_limits_.end() && it->second.any())
    op.subjects.push_back({"model:" + f.model, it->second});

  // Budgets: the worst case is reserved on every budget this request falls under.
  auto snap = snapshot();
  for (const Budget& b : snap->budgets) {
    if (!BudgetApplies(b, f)) continue;
    BudgetSlot slot;
    slot.budget_id = b.id;
    slot.budget_name = b.name;
    slot.window_start_ms = WindowStart(b.window, op.now);
    slot.window_end_ms = WindowEnd(b.window, op.now);
    slot.limit_usd = b.limit_usd.value_or(-1);
    slot.soft_limit_usd = b.soft_limit_usd.value_or(-1);
    out->slots.push_back(std::move(slot));
  }
  if (op.subjects.empty() && out->slots.empty()) {
    out->active = true;
    out->reserved_usd = op.worst;
    return op.done(std::nullopt);
  }
  // Rates and budgets in one step (one Redis round trip), all or nothing.
  counters_.Admit(op.subjects, op.tokens, out->rate_usd, op.now, out->slots, op.worst,
                  [this, &op](AdmitOutcome r) { AfterAdmit(op, r); });
}

namespace {
// The counters are shared (counters.url) and cannot be reached, and the policy
// is fail_closed (under fail_open the store admits against local shares).
Denial CountersUnavailable() {
  Denial d;
  d.status = 503;
  d.type = "api_error";
  d.code = "counters_unavailable";
  d.message =
      "The budget and rate-limit counters (counters.url) cannot be reached, so governed requests "
      "are refused "
      "(counters.policy: fail_closed). Retry shortly; an operator can set counters.policy: "
      "fail_open to admit "
      "against each replica's share of every limit instead.";
  d.retry_after_s = 1;
  return d;
}
}  // namespace

void Governor::AfterAdmit(AdmitOp& op, const AdmitOutcome& r) {
  const RequestFacts& f = *op.f;
  Admission* out = op.out;
  if (r.unavailable) return op.done(CountersUnavailable());
  if (!r.rates.ok) {
    const bool key = op.subjects[r.rates.failed_subject].name.rfind("key", 0) == 0;
    return op.done(RateDenial(r.rates.decision, key ? "key " + op.p->key_id : "model " + f.model));
  }
  const ReserveResult& b = r.budget;
  if (!b.ok && op.fit < 0 && cfg_.governance.clamp_max_tokens && f.output_usd_per_token > 0) {
    // Lower max_tokens to what the tightest budget can still pay for.
    double room = b.headroom - op.input_cost;
    auto fit = static_cast<int64_t>(std::floor(room / f.output_usd_per_token));
    if (fit >= 1) {
      op.fit = std::min(fit, f.max_output_tokens);
      op.worst = op.input_cost + static_cast<double>(op.fit) * f.output_usd_per_token;
      return counters_.Admit(op.subjects, op.tokens, out->rate_usd, op.now, out->slots, op.worst,
                             [this, &op](AdmitOutcome rr) { AfterAdmit(op, rr); });
    }
  }
  if (!b.ok) {
    // Refused: nothing was charged, the rate limits included.
    const BudgetSlot& s = out->slots[b.failed_slot];
    Denial d;
    d.status = 429;
    d.type = "insufficient_quota";
    d.code = "budget_exceeded";
    d.message = "Budget '" + s.budget_name + "' exceeded: $" + Money(b.spent) +
                " spent or reserved of its $" + Money(s.limit_usd) +
                " limit; this request could cost up to $" + Money(op.worst) +
                ". The window resets at " + FormatLocalTime(s.window_end_ms) + ".";
    if (s.window_end_ms != INT64_MAX)
      d.retry_after_s =
          static_cast<int>(std::max<int64_t>((s.window_end_ms - op.now + 999) / 1000, 1));
    return op.done(std::move(d));
  }
  for (const auto& s : op.subjects) out->rate_subjects.push_back(s.name);
  if (op.fit >= 0) out->clamped_max_tokens = op.fit;
  out->active = true;
  out->reserved_usd = op.worst;
  out->reservation = b.ticket;
  op.done(std::nullopt);
}

bool Governor::Active(const Principal* p) const {
  return !model_limits_.empty() || (p && p->limits.any()) || !snapshot()->budgets.empty();
}

void Governor::Settle(const Admission& a, double actual_usd, int64_t actual_tokens) {
  if (!a.active || (a.rate_subjects.empty() && a.slots.empty())) return;
  counters_.Finish(a.rate_subjects, a.rate_minute, actual_tokens - a.rate_tokens,
                   actual_usd - a.rate_usd, a.slots, a.reservation, a.reserved_usd, actual_usd,
                   [this](std::vector<SoftLimitCrossing> crossed) {
                     for (const auto& c : crossed) Alert(c.slot, c.spent);
                   });
}

void Governor::Alert(const BudgetSlot& slot, double spent) {
  std::string msg = "budget '" + slot.budget_name + "' crossed its soft limit: $" + Money(spent) +
                    " of $" + Money(slot.soft_limit_usd) + " (window resets " +
                    FormatLocalTime(slot.window_end_ms) + ")";
  log::Warn(msg);
  if (cfg_.governance.alert_webhook.empty()) return;
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);  // escapes names with quotes or backslashes
  w.StartObject();
  w.Key("event");
  w.String("budget.soft_limit");
  w.Key("budget");
  w.String(slot.budget_name.c_str());
  w.Key("budget_id");
  w.String(slot.budget_id.c_str());
  w.Key("spent_usd");
  w.Double(spent);
  w.Key("soft_limit_usd");
  w.Double(slot.soft_limit_usd);
  w.Key("limit_usd");
  if (slot.limit_usd >= 0)
    w.Double(slot.limit_usd);
  else
    w.Null();
  w.Key("window_resets");
  w.String(FormatLocalTime(slot.window_end_ms).c_str());
  w.EndObject();
  std::string body(sb.GetString(), sb.GetSize());
  std::thread([url = cfg_.governance.alert_webhook, b = std::move(body)] {
    PostWebhook(url, b);
  }).detach();
}

}  // namespace tollgate::governance
