// Governor: the governance decisions of the request path. It authenticates
// virtual keys, checks model permissions, applies rate limits, and reserves a
// request's worst-case cost against every budget it falls under before the
// request is forwarded, settling the reservation to the actual cost after.
// Its state comes from a ledger::Storage and its counters from a CounterStore,
// both built by the composition root (src/cli) and injected.
// Thread-safety: every public method may be called from any worker. Keys and
// budgets are an immutable snapshot swapped by the reloader thread; counters
// and rate windows live behind the CounterStore.
#pragma once

// clang-format off
#include <utility>  // first: Boost 1.74's awaitable.hpp uses std::exchange without including it
// clang-format on

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "config/config.h"
#include "governance/counters.h"
#include "governance/rate_limiter.h"
#include "governance/store.h"
#include "ledger/storage.h"

namespace tollgate::governance {

// Who is calling, after authentication.
struct Principal {
  std::string key_id, key_name, user, project, team;
  std::vector<std::string> tags;
  std::vector<std::string> allowed_models;  // empty = all
  RateLimits limits;
};

// A refusal, in the terms of an OpenAI-shaped error plus extra headers.
struct Denial {
  int status = 429;
  std::string type, code, message;
  int retry_after_s = -1;
  std::vector<std::pair<std::string, std::string>> headers;
};

// What the gateway knows about a request before forwarding it.
struct RequestFacts {
  std::string model, user, project, team, key_id;
  int64_t input_tokens_bound = 0;   // an upper bound on input tokens
  int64_t max_output_tokens = 0;    // max_tokens, or the configured default
  double input_usd_per_token = 0;   // highest over the model's deployments
  double output_usd_per_token = 0;  // highest of output and reasoning rates
};

// What was reserved; handed back to Settle.
struct Admission {
  bool active = false;
  std::vector<BudgetSlot> slots;
  double reserved_usd = 0;
  std::string reservation;          // the counter store's ticket for it (ReserveResult::ticket)
  int64_t clamped_max_tokens = -1;  // >= 0 when max_tokens was lowered
  std::vector<std::string> rate_subjects;
  int64_t rate_minute = 0;
  int64_t rate_tokens = 0;
  double rate_usd = 0;  // what the rate limiter was charged (before any clamp)
};

class Governor {
  // Set only by the Create overload that builds its own storage and counters;
  // declared first, so they are destroyed after everything that uses them.
  std::unique_ptr<ledger::Storage> owned_storage_;
  std::unique_ptr<CounterStore> owned_counters_;

 public:
  // Opens the state store of `storage`, syncs config budgets into it, and
  // seeds `counters` from its budget_spend. `storage` and `counters` must
  // outlive the Governor. IoError / InvalidArgument on failure.
  static Result<std::unique_ptr<Governor>> Create(const config::Config& cfg,
                                                  ledger::Storage& storage, CounterStore& counters);
  // The same over the ledger at `ledger_url` (storage.h) with an in-process
  // counter store, both owned by the Governor: for tests and offline tools.
  static Result<std::unique_ptr<Governor>> Create(const config::Config& cfg,
                                                  const std::string& ledger_url);
  ~Governor();

  bool auth_enabled() const { return cfg_.auth.enabled; }
  bool admin_enabled() const { return !cfg_.auth.master_key.empty(); }
  // Constant-time check of a bearer token against the master key.
  bool IsMasterKey(std::string_view bearer) const;

  // Looks the bearer token up (by SHA-256, compared in constant time).
  // Denial 401 if missing, unknown, revoked or expired.
  std::optional<Denial> Authenticate(std::string_view bearer, Principal* out) const;
  // Denial 403 if the key may not use `model`.
  std::optional<Denial> CheckModel(const Principal& p, const std::string& model) const;
  // Rate limits, then budget reservation. On success fills *out (Settle it
  // exactly once). Denial 429 with Retry-After and x-ratelimit-* headers.
  // `p`, `f` and `out` must stay valid until it completes. AdmitAsync never
  // blocks the event loop: with the in-process store it completes without
  // suspending; with a networked one it suspends until the store answers and
  // resumes on the caller's executor. Admit waits for the store (at once for
  // the in-process one), so it is for callers off the event loop.
  // REQUIRES (networked stores): the awaiting frame holds the admission in
  // flight, so a coroutine suspended here must not be destroyed before the
  // store answers (stop or drain the store before Server::DestroyLoops).
  boost::asio::awaitable<std::optional<Denial>> AdmitAsync(const Principal* p,
                                                           const RequestFacts& f, Admission* out);
  std::optional<Denial> Admit(const Principal* p, const RequestFacts& f, Admission* out);
  // Whether any budget or rate limit could apply to `p`'s requests; when not,
  // Admit() can be skipped (and the request's facts need not be computed).
  bool Active(const Principal* p) const;
  // Replaces the reservation by the actual cost and tokens. Never waits: a
  // networked store applies it when it can (soft-limit alerts follow then).
  void Settle(const Admission& a, double actual_usd, int64_t actual_tokens);

  // Every budget with its spend in the current window (for /metrics and the dashboard).
  std::vector<std::pair<Budget, double>> BudgetStatus();

  // Reloads keys and budgets now (after an admin change).
  Status ReloadNow();
  // Starts / stops the thread that picks up changes made by the CLI.
  void Start();
  void Stop();
  // A Store on this governor's storage (one per thread: the admin API and the
  // dashboard open one per call).
  Result<std::unique_ptr<Store>> OpenStore() { return Store::Open(storage_); }
  // A reader of this governor's ledger (the admin API's savings report).
  std::unique_ptr<ledger::LedgerReader> OpenReader() const { return storage_.OpenReader(); }
  CounterStore& counters() { return counters_; }

 private:
  struct AdmitOp;
  struct Snapshot {
    std::unordered_map<std::string, VirtualKey> keys_by_hash;
    std::vector<Budget> budgets;
    int64_t version = -1;
  };
  Governor(const config::Config& cfg, ledger::Storage& storage, CounterStore& counters)
      : cfg_(cfg), storage_(storage), counters_(counters) {}
  std::shared_ptr<const Snapshot> snapshot() const;
  // Admit's steps: one counter store call (two when max_tokens is clamped); the
  // last one calls op.done.
  void StartAdmit(AdmitOp& op);
  void AfterAdmit(AdmitOp& op, const AdmitOutcome& r);
  Status Reload(Store& store);
  void Alert(const BudgetSlot& slot, double spent);
  void ReloaderLoop();

  const config::Config& cfg_;
  ledger::Storage& storage_;
  CounterStore& counters_;
  std::unordered_map<std::string, RateLimits> model_limits_;  // immutable after Create

  // A snapshot is shared so readers keep using the one they took while the
  // reloader swaps in a new one.
  mutable Mutex snap_mu_;
  std::shared_ptr<const Snapshot> snap_ GUARDED_BY(snap_mu_);

  Mutex reload_mu_;  // serialises reloads (reloader thread vs admin API)
  std::unique_ptr<Store> store_ GUARDED_BY(reload_mu_);
  std::thread reloader_;
  Mutex stop_mu_;
  CondVar stop_cv_;
  bool stop_ GUARDED_BY(stop_mu_) = false;
};

}  // namespace tollgate::governance
