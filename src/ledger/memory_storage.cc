// The in-memory backend: the ledger's rows and the governance state in one
// object shared by the writer, readers and state stores opened from the same
// Storage. It computes in C++ what the SQLite backend computes in SQL, with the
// same definitions, so the two can be checked against each other
// (tests/unit/storage_test.cc). Nothing persists.
// Thread safety: one mutex guards everything; every call holds it throughout,
// so a reader's visitor must not call back into the store.
#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "common/mutex.h"
#include "common/util.h"
#include "ledger/columns.h"
#include "ledger/storage.h"

namespace tollgate::ledger {
namespace {

constexpr int64_t kDayMs = 86400000;

struct Data {
  Mutex mu;
  std::vector<Row> rows GUARDED_BY(mu);  // seq = index + 1
  std::unordered_map<std::string, size_t> by_id GUARDED_BY(mu);
  std::vector<VirtualKey> keys GUARDED_BY(mu);
  std::vector<Budget> budgets GUARDED_BY(mu);
  std::map<std::pair<std::string, int64_t>, SpendRow> spend GUARDED_BY(mu);
  std::vector<AuditEntry> audit GUARDED_BY(mu);  // oldest first
  int64_t version GUARDED_BY(mu) = 0;
};

std::optional<double> CostOf(const Row& r) {
  return r.cost_known ? std::optional<double>(r.cost.Total()) : std::nullopt;
}

// The budgets a row is charged to, each once (the charge's key is (request, budget)).
std::vector<const Row::BudgetCharge*> DistinctCharges(const Row& r) {
  std::vector<const Row::BudgetCharge*> out;
  std::set<std::string_view> seen;
  for (const auto& c : r.charges)
    if (seen.insert(c.budget_id).second) out.push_back(&c);
  return out;
}

// SQLite's date(ts / 1000, 'unixepoch') arithmetic: seconds truncated, days floored.
int64_t DayOf(int64_t ts_ms) {
  const int64_t s = ts_ms / 1000;
  return s >= 0 ? s / 86400 : (s - 86399) / 86400;
}

std::string GroupKeyOf(GroupKey key, const Row& r) {
  switch (key) {
    case GroupKey::kDay:
      return FormatDateUtc(r.ts_start_ms);
    case GroupKey::kWeek: {
      const int64_t d = DayOf(r.ts_start_ms);
      return FormatDateUtc((d - ((d % 7 + 7 + 3) % 7)) * kDayMs);  // 1970-01-01 was a Thursday
    }
    case GroupKey::kMonth:
      return FormatDateUtc(r.ts_start_ms).substr(0, 7);
    case GroupKey::kModel:
      return r.requested_model;
    case GroupKey::kProvider:
      return r.provider;
    case GroupKey::kKey:
      return r.api_key;
    case GroupKey::kUser:
      return r.user;
    case GroupKey::kProject:
      return r.project;
    case GroupKey::kTag:
      return r.tags;
    case GroupKey::kLever:
      return r.savings_lever;
    case GroupKey::kEndpoint:
      return r.endpoint;
    case GroupKey::kSession:
      return r.session;
    case GroupKey::kAll:
      return "";
  }
  return "";
}

bool InRange(const Row& r, TimeRange range) {
  return r.ts_start_ms >= range.from_ms && r.ts_start_ms < range.end_ms;
}

SummaryRow SummaryOf(const Row& r, int64_t seq) {
  SummaryRow v;
  v.seq = seq;
  v.ts_start_ms = r.ts_start_ms;
  v.requested_model = r.requested_model;
  v.provider = r.provider;
  v.api_key = r.api_key;
  v.user = r.user;
  v.project = r.project;
  v.tags = r.tags;
  v.cost_usd = CostOf(r);
  v.input_tokens = r.usage.PromptTotal();
  v.output_tokens = r.usage.OutputTotal();
  v.failed = !r.error_class.empty();  // stored as NULL when empty
  v.latency_ms = r.latency_ms;
  v.ttft_ms = r.ttft_ms;
  return v;
}

UsageRow UsageOf(const Row& r) {
  UsageRow v;
  v.ts_start_ms = r.ts_start_ms;
  v.status = r.status;
  v.requested_model = r.requested_model;
  v.served_model = r.served_model;
  v.tags = r.tags;
  v.usage = r.usage;
  v.cost_usd = CostOf(r);
  v.latency_ms = r.latency_ms;
  return v;
}

const std::vector<std::string>& ColumnNames() {
  static const std::vector<std::string> names(kRowColumns.begin(), kRowColumns.end());
  return names;
}

void VisitRecord(const Row& r, int64_t seq, const RecordVisitor& visit) {
  const auto values = RowValues(r);
  visit(Record{seq, ColumnNames(), values});
}

class MemoryWriter final : public LedgerWriter {
 public:
  explicit MemoryWriter(std::shared_ptr<Data> d) : d_(std::move(d)) {}
  // As in SQLite: a row whose id is already stored is ignored, and only a
  // stored row charges its budgets.
  void Append(Row row) override {
    MutexLock lock(&d_->mu);
    if (d_->by_id.count(row.id)) return;
    const double cost = row.cost_known ? row.cost.Total() : 0.0;
    for (const Row::BudgetCharge* c : DistinctCharges(row)) {
      SpendRow& s = d_->spend[{c->budget_id, c->window_start_ms}];
      s.budget_id = c->budget_id;
      s.window_start_ms = c->window_start_ms;
      s.spent_usd += cost;
      s.requests += 1;
    }
    d_->by_id.emplace(row.id, d_->rows.size());
    d_->rows.push_back(std::move(row));
  }
  Status Flush() override { return Status::Ok(); }
  Status Close() override { return Status::Ok(); }
  uint64_t failed_rows() const override { return 0; }

 private:
  std::shared_ptr<Data> d_;
};

class MemoryReader final : public LedgerReader {
 public:
  explicit MemoryReader(std::shared_ptr<Data> d) : d_(std::move(d)) {}

  Result<std::vector<GroupTotals>> TotalsByGroup(GroupKey key, TimeRange range) const override {
    MutexLock lock(&d_->mu);
    std::map<std::string, GroupTotals> groups;
    for (const Row& r : d_->rows) {
      if (!InRange(r, range)) continue;
      std::string k = GroupKeyOf(key, r);
      GroupTotals& g = groups[k];
      g.key = std::move(k);
      const std::optional<double> cost = CostOf(r);
      g.cost_usd += cost.value_or(0);
      g.input_tokens += r.usage.PromptTotal();
      g.output_tokens += r.usage.OutputTotal();
      g.requests += 1;
      g.errors += r.error_class.empty() ? 0 : 1;
      g.unknown_cost += cost ? 0 : 1;
      const std::optional<double> baseline = r.baseline_cost_usd ? r.baseline_cost_usd : cost;
      g.baseline_usd += baseline.value_or(0);
      g.output_tokens_saved += r.output_tokens_saved;
      for (int i = 0; i < 5; ++i)
        if (r.savings_lever == kSavingsLevers[i])
          g.lever_usd[i] += baseline.value_or(0) - cost.value_or(0);
    }
    std::vector<GroupTotals> out;
    for (auto& [k, g] : groups) out.push_back(std::move(g));
    return out;
  }

  Result<SavingsTotals> Savings(TimeRange range) const override {
    MutexLock lock(&d_->mu);
    SavingsTotals t;
    for (const Row& r : d_->rows) {
      if (!InRange(r, range) || (r.cache.empty() && r.savings_lever.empty())) continue;
      const bool hit = r.cache == "hit" || r.cache == "semantic_hit";
      t.cache_hits += hit ? 1 : 0;
      t.cache_lookups += hit || r.cache == "miss" ? 1 : 0;
      const double cost = CostOf(r).value_or(0);
      const double baseline = r.baseline_cost_usd ? *r.baseline_cost_usd : cost;
      t.saved_usd += baseline - cost;
      t.baseline_usd += baseline;
      t.requests += 1;
    }
    return t;
  }

  Result<std::vector<ChargeTotals>> ChargesByWindow() const override {
    MutexLock lock(&d_->mu);
    std::map<std::pair<std::string, int64_t>, ChargeTotals> windows;
    for (const Row& r : d_->rows)
      for (const Row::BudgetCharge* c : DistinctCharges(r)) {
        ChargeTotals& t = windows[{c->budget_id, c->window_start_ms}];
        t.budget_id = c->budget_id;
        t.window_start_ms = c->window_start_ms;
        t.cost_usd += CostOf(r).value_or(0);
        t.requests += 1;
      }
    std::vector<ChargeTotals> out;
    for (auto& [k, t] : windows) out.push_back(std::move(t));
    return out;
  }

  Result<std::vector<RequestCharge>> ChargesOf(const std::string& id) const override {
    MutexLock lock(&d_->mu);
    std::vector<RequestCharge> out;
    auto it = d_->by_id.find(id);
    if (it == d_->by_id.end()) return out;
    for (const Row::BudgetCharge* c : DistinctCharges(d_->rows[it->second])) {
      RequestCharge rc{c->budget_id, std::nullopt, c->window_start_ms};
      for (const Budget& b : d_->budgets)
        if (b.id == c->budget_id) rc.budget_name = b.name;
      out.push_back(std::move(rc));
    }
    std::sort(out.begin(), out.end(), [](const RequestCharge& a, const RequestCharge& b) {
      return a.budget_id < b.budget_id;
    });
    return out;
  }

  Status ScanAfter(int64_t after_seq, const std::function<void()>& on_restart,
                   const SummaryVisitor& visit) const override {
    MutexLock lock(&d_->mu);
    const int64_t last = static_cast<int64_t>(d_->rows.size());
    if (last < after_seq) {
      on_restart();
      after_seq = 0;
    }
    for (int64_t seq = std::max<int64_t>(after_seq, 0) + 1; seq <= last; ++seq)
      visit(SummaryOf(d_->rows[static_cast<size_t>(seq - 1)], seq));
    return Status::Ok();
  }

  Status ScanRange(TimeRange range, const UsageVisitor& visit) const override {
    MutexLock lock(&d_->mu);
    std::vector<const Row*> in;  // rows are appended as they end, so sort by start (stable: seq breaks ties)
    for (const Row& r : d_->rows)
      if (InRange(r, range)) in.push_back(&r);
    std::stable_sort(in.begin(), in.end(), [](const Row* a, const Row* b) { return a->ts_start_ms < b->ts_start_ms; });
    for (const Row* r : in) visit(UsageOf(*r));
    return Status::Ok();
  }

  Result<std::vector<std::string>> Columns() const override { return ColumnNames(); }

  Status RecordsWithSeqs(std::span<const int64_t> seqs, const RecordVisitor& visit) const override {
    std::vector<int64_t> sorted(seqs.begin(), seqs.end());
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    MutexLock lock(&d_->mu);
    for (int64_t seq : sorted)
      if (seq >= 1 && seq <= static_cast<int64_t>(d_->rows.size()))
        VisitRecord(d_->rows[static_cast<size_t>(seq - 1)], seq, visit);
    return Status::Ok();
  }

  Status RecordsAfter(int64_t after_seq, int64_t limit, const RecordVisitor& visit) const override {
    MutexLock lock(&d_->mu);
    int64_t n = 0;
    for (int64_t seq = static_cast<int64_t>(d_->rows.size());
         seq > after_seq && seq >= 1 && n < limit; --seq, ++n)
      VisitRecord(d_->rows[static_cast<size_t>(seq - 1)], seq, visit);
    return Status::Ok();
  }

  Status RecordWithId(const std::string& id, const RecordVisitor& visit) const override {
    MutexLock lock(&d_->mu);
    auto it = d_->by_id.find(id);
    if (it != d_->by_id.end())
      VisitRecord(d_->rows[it->second], static_cast<int64_t>(it->second + 1), visit);
    return Status::Ok();
  }

  Status RecordsInRange(TimeRange range, int64_t limit, const RecordVisitor& visit) const override {
    MutexLock lock(&d_->mu);
    std::vector<size_t> in;
    for (size_t i = 0; i < d_->rows.size(); ++i)
      if (InRange(d_->rows[i], range)) in.push_back(i);
    // Oldest first; rows that started together keep the order they were written in.
    std::stable_sort(in.begin(), in.end(), [&](size_t a, size_t b) {
      d_->mu.AssertHeld();  // runs here, under the lock
      return d_->rows[a].ts_start_ms < d_->rows[b].ts_start_ms;
    });
    for (size_t k = 0; k < in.size() && static_cast<int64_t>(k) < limit; ++k)
      VisitRecord(d_->rows[in[k]], static_cast<int64_t>(in[k] + 1), visit);
    return Status::Ok();
  }

 private:
  std::shared_ptr<Data> d_;
};

class MemoryStateStore final : public StateStore {
 public:
  explicit MemoryStateStore(std::shared_ptr<Data> d) : d_(std::move(d)) {}

  Status InsertKey(const VirtualKey& k) override {
    MutexLock lock(&d_->mu);
    for (const VirtualKey& e : d_->keys)
      if (e.id == k.id || e.secret_hash == k.secret_hash)
        return Status::IoError("state db: UNIQUE constraint failed: keys");
    d_->keys.push_back(k);
    return Status::Ok();
  }

  Result<std::vector<VirtualKey>> ListKeys(bool include_revoked) override {
    MutexLock lock(&d_->mu);
    std::vector<VirtualKey> out;
    for (const VirtualKey& k : d_->keys)
      if (include_revoked || !k.revoked_at_ms) out.push_back(k);
    std::stable_sort(out.begin(), out.end(), [](const VirtualKey& a, const VirtualKey& b) {
      return a.created_at_ms < b.created_at_ms;
    });
    return out;
  }

  Result<VirtualKey> FindKey(const std::string& id_or_name) override {
    MutexLock lock(&d_->mu);
    for (const VirtualKey& k : d_->keys)
      if (k.id == id_or_name || (!k.name.empty() && k.name == id_or_name)) return k;
    return Status::NotFound("no key '" + id_or_name + "'");
  }

  Status SetKeyRevoked(const std::string& id, int64_t revoked_at_ms) override {
    MutexLock lock(&d_->mu);
    for (VirtualKey& k : d_->keys)
      if (k.id == id) k.revoked_at_ms = revoked_at_ms;
    return Status::Ok();
  }

  Status SetKeySecret(const std::string& id, const std::string& secret_hash,
                      const std::string& secret_prefix, int64_t) override {
    MutexLock lock(&d_->mu);
    for (VirtualKey& k : d_->keys)
      if (k.id == id) {
        k.secret_hash = secret_hash;
        k.secret_prefix = secret_prefix;
      }
    return Status::Ok();
  }

  Status UpsertBudget(const Budget& b) override {
    MutexLock lock(&d_->mu);
    for (Budget& e : d_->budgets)
      if (e.id == b.id) {
        Budget updated = b;
        updated.name = e.name;
        updated.created_at_ms = e.created_at_ms;
        e = std::move(updated);
        return Status::Ok();
      }
    for (const Budget& e : d_->budgets)
      if (e.name == b.name)
        return Status::IoError("state db: UNIQUE constraint failed: budgets.name");
    d_->budgets.push_back(b);
    return Status::Ok();
  }

  Result<std::vector<Budget>> ListBudgets() override {
    MutexLock lock(&d_->mu);
    std::vector<Budget> out = d_->budgets;
    std::sort(out.begin(), out.end(),
              [](const Budget& a, const Budget& b) { return a.name < b.name; });
    return out;
  }

  Status DeleteBudget(const std::string& id_or_name) override {
    MutexLock lock(&d_->mu);
    const size_t before = d_->budgets.size();
    std::erase_if(d_->budgets,
                  [&](const Budget& b) { return b.id == id_or_name || b.name == id_or_name; });
    if (d_->budgets.size() == before) return Status::NotFound("no budget '" + id_or_name + "'");
    return Status::Ok();
  }

  Result<std::vector<SpendRow>> ListSpend() override {
    MutexLock lock(&d_->mu);
    std::vector<SpendRow> out;
    for (const auto& [k, s] : d_->spend) out.push_back(s);
    return out;
  }

  Status SetSpend(const SpendRow& row) override {
    MutexLock lock(&d_->mu);
    d_->spend[{row.budget_id, row.window_start_ms}] = row;
    return Status::Ok();
  }

  Status AppendAudit(const AuditEntry& e) override {
    MutexLock lock(&d_->mu);
    d_->audit.push_back(e);
    return Status::Ok();
  }

  Result<std::vector<AuditEntry>> ListAudit(int limit) override {
    MutexLock lock(&d_->mu);
    std::vector<AuditEntry> out;
    for (auto it = d_->audit.rbegin();
         it != d_->audit.rend() && static_cast<int>(out.size()) < limit; ++it)
      out.push_back(*it);
    return out;
  }

  Result<int64_t> StateVersion() override {
    MutexLock lock(&d_->mu);
    return d_->version;
  }

  Status BumpStateVersion() override {
    MutexLock lock(&d_->mu);
    ++d_->version;
    return Status::Ok();
  }

 private:
  std::shared_ptr<Data> d_;
};

class MemoryStorage final : public Storage {
 public:
  const std::string& url() const override { return url_; }
  Result<std::unique_ptr<LedgerWriter>> OpenWriter() override {
    return std::unique_ptr<LedgerWriter>(new MemoryWriter(data_));
  }
  std::unique_ptr<LedgerReader> OpenReader() const override {
    return std::make_unique<MemoryReader>(data_);
  }
  Result<std::unique_ptr<StateStore>> OpenStateStore() override {
    return std::unique_ptr<StateStore>(new MemoryStateStore(data_));
  }

 private:
  const std::string url_ = "memory:";
  const std::shared_ptr<Data> data_ = std::make_shared<Data>();
};

}  // namespace

std::unique_ptr<Storage> NewMemoryStorage() { return std::make_unique<MemoryStorage>(); }

}  // namespace tollgate::ledger
