// The PostgreSQL backend against a real server (pg_test_server.h), beyond the
// conformance checks every backend passes (storage_test.cc): a replayed batch
// is stored and charged once, replicas starting together migrate once and
// write side by side, a reader sees what another process's writer wrote, text
// survives COPY's escaping, and the state store keeps SQLite's semantics.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <latch>
#include <thread>

#include "common/util.h"
#include "ledger/postgres_schema.h"
#include "ledger/storage.h"
#include "pg_test_server.h"

namespace tollgate::ledger {
namespace {

Row MakeRow(int i, const std::string& prefix = "req_") {
  Row r;
  r.id = prefix + std::to_string(i);
  r.ts_start_ms = 1790000000000 + i * 1000;
  r.ts_end_ms = r.ts_start_ms + 250;
  r.endpoint = "chat.completions";
  r.api_key = "key_" + std::to_string(i % 3);
  r.user = i % 2 ? "alice" : "";
  r.requested_model = "gpt-4o";
  r.served_model = "gpt-4o";
  r.provider = "openai";
  r.status = 200;
  r.usage = {100 + i, 0, 0, 0, 10 + i, 0};
  r.cost_known = i % 5 != 0;
  r.cost = {0.0001 * (1 + i % 7), 0, 0, 0.0003 * (1 + i % 3), 0};
  r.latency_ms = 40 + i;
  r.charges.push_back({"bud_a", 0});
  if (i % 2) r.charges.push_back({"bud_b", 86400000});
  return r;
}

Budget MakeBudget(const std::string& id) {
  Budget b;
  b.id = id;
  b.name = id + "-name";
  b.scope = "global";
  b.window = Window::kLifetime;
  b.limit_usd = 10;
  b.created_at_ms = 1;
  return b;
}

constexpr auto Query = testing::QueryPostgres;

int64_t CountRows(const LedgerReader& reader) {
  auto t = reader.TotalsByGroup(GroupKey::kAll, {});
  if (!t.ok()) return -1;
  return t->empty() ? 0 : (*t)[0].requests;
}

void Write(Storage& s, int from, int to, const std::string& prefix = "req_") {
  auto w = s.OpenWriter();
  ASSERT_TRUE(w.ok()) << w.status().message();
  for (int i = from; i < to; ++i) (*w)->Append(MakeRow(i, prefix));
  ASSERT_TRUE((*w)->Close().ok());
}

std::vector<SpendRow> SortedSpend(StateStore& st) {
  auto spend = st.ListSpend();
  EXPECT_TRUE(spend.ok());
  std::vector<SpendRow> v = spend.ok() ? *spend : std::vector<SpendRow>{};
  std::sort(v.begin(), v.end(), [](const SpendRow& a, const SpendRow& b) {
    return std::tie(a.budget_id, a.window_start_ms) < std::tie(b.budget_id, b.window_start_ms);
  });
  return v;
}

TEST(PostgresStorage, UnreachableServerIsAnIoErrorWithoutThePassword) {
  auto s = OpenLedger("postgres://tg:hunter2@127.0.0.1:1/tollgate?connect_timeout=2");
  ASSERT_TRUE(s.ok());
  auto w = (*s)->OpenWriter();
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), StatusCode::kIoError);
  EXPECT_NE(w.status().message().find("tg:***@127.0.0.1:1"), std::string::npos)
      << w.status().message();
  EXPECT_EQ(w.status().message().find("hunter2"), std::string::npos);
  EXPECT_FALSE((*s)->OpenStateStore().ok());
  EXPECT_EQ((*s)->OpenReader()->TotalsByGroup(GroupKey::kAll, {}).status().code(),
            StatusCode::kIoError);
}

TEST(PostgresStorage, AnEmptyDatabaseIsNotFoundUntilMigrated) {
  TG_POSTGRES_URL(url);
  auto s = OpenLedger(url);
  ASSERT_TRUE(s.ok());
  auto reader = (*s)->OpenReader();
  EXPECT_EQ(reader->TotalsByGroup(GroupKey::kAll, {}).status().code(), StatusCode::kNotFound);
  auto st = (*s)->OpenStateStore();
  ASSERT_TRUE(st.ok()) << st.status().message();
  EXPECT_EQ(CountRows(*reader), 0);
  EXPECT_EQ(Query(url, "SELECT COUNT(*) FROM tollgate_schema_migrations"),
            std::to_string(pg::kPostgresSchemaVersion));
}

// A batch sent again (by a second writer, as a spool replay would) adds no
// row and charges no budget twice; a row appended twice in one batch neither.
TEST(PostgresStorage, ReplayedBatchIsStoredAndChargedOnce) {
  TG_POSTGRES_URL(url);
  auto pg = OpenLedger(url);
  ASSERT_TRUE(pg.ok());
  auto memory = NewMemoryStorage();
  for (Storage* s : {pg->get(), memory.get()}) {
    auto st = s->OpenStateStore();
    ASSERT_TRUE(st.ok()) << st.status().message();
    ASSERT_TRUE((*st)->UpsertBudget(MakeBudget("bud_a")).ok());
    ASSERT_TRUE((*st)->UpsertBudget(MakeBudget("bud_b")).ok());
    Write(*s, 0, 100);
    Write(*s, 50, 150);  // 50..99 again
    auto w = s->OpenWriter();
    ASSERT_TRUE(w.ok());
    (*w)->Append(MakeRow(7));  // again, twice in one batch
    (*w)->Append(MakeRow(7));
    ASSERT_TRUE((*w)->Close().ok());
  }
  auto pg_state = (*pg)->OpenStateStore();
  auto mem_state = memory->OpenStateStore();
  ASSERT_TRUE(pg_state.ok() && mem_state.ok());
  EXPECT_EQ(CountRows(*(*pg)->OpenReader()), 150);
  const auto a = SortedSpend(**pg_state), b = SortedSpend(**mem_state);
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].budget_id, b[i].budget_id);
    EXPECT_EQ(a[i].window_start_ms, b[i].window_start_ms);
    EXPECT_EQ(a[i].requests, b[i].requests);
    EXPECT_NEAR(a[i].spent_usd, b[i].spent_usd, 1e-12);
  }
  EXPECT_EQ(a[0].requests, 150);  // bud_a: every row
  EXPECT_EQ(a[1].requests, 75);   // bud_b: the odd ones
  auto charges = (*pg)->OpenReader()->ChargesByWindow();
  ASSERT_TRUE(charges.ok());
  int64_t charged = 0;
  for (const auto& c : *charges) charged += c.requests;
  EXPECT_EQ(charged, 225);
  // Seqs were not spent on the replayed rows: they run 1..150.
  EXPECT_EQ(Query(url, "SELECT MAX(seq) FROM requests"), "150");
}

// Replicas starting at the same moment: every migration applied exactly once
// (a second application would be a primary-key violation in
// tollgate_schema_migrations, or a CREATE TABLE failing), and their writers
// write side by side, with seqs that a cursor can follow.
TEST(PostgresStorage, ReplicasStartingTogetherMigrateOnceAndWriteSideBySide) {
  TG_POSTGRES_URL(url);
  constexpr int kReplicas = 6, kRowsEach = 300;
  std::latch start(kReplicas);
  std::vector<Status> results(kReplicas);
  std::vector<std::thread> threads;
  for (int r = 0; r < kReplicas; ++r)
    threads.emplace_back([&, r] {
      auto s = OpenLedger(url, {64, 10, 1000000});
      if (!s.ok()) {
        results[r] = s.status();
        return;
      }
      start.arrive_and_wait();
      if (r % 2) {  // half of them open a state store first (it migrates too)
        auto state = (*s)->OpenStateStore();
        if (!state.ok()) {
          results[r] = state.status();
          return;
        }
      }
      auto w = (*s)->OpenWriter();
      if (!w.ok()) {
        results[r] = w.status();
        return;
      }
      for (int i = 0; i < kRowsEach; ++i)
        (*w)->Append(MakeRow(i, "replica" + std::to_string(r) + "_"));
      results[r] = (*w)->Close();
    });
  for (auto& t : threads) t.join();
  for (const Status& st : results) EXPECT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(Query(url, "SELECT COUNT(*) FROM tollgate_schema_migrations"),
            std::to_string(pg::kPostgresSchemaVersion));
  auto s = OpenLedger(url);
  ASSERT_TRUE(s.ok());
  auto reader = (*s)->OpenReader();
  EXPECT_EQ(CountRows(*reader), kReplicas * kRowsEach);
  std::vector<int64_t> seqs;
  ASSERT_TRUE(reader
                  ->ScanAfter(
                      0, [] {}, [&](const SummaryRow& row) { seqs.push_back(row.seq); })
                  .ok());
  ASSERT_EQ(seqs.size(), static_cast<size_t>(kReplicas * kRowsEach));
  EXPECT_TRUE(std::is_sorted(seqs.begin(), seqs.end()));
  EXPECT_EQ(std::adjacent_find(seqs.begin(), seqs.end()), seqs.end());
  int after = 0;
  ASSERT_TRUE(reader
                  ->ScanAfter(
                      seqs[999], [] { FAIL() << "no restart expected"; },
                      [&](const SummaryRow&) { ++after; })
                  .ok());
  EXPECT_EQ(after, kReplicas * kRowsEach - 1000);
}

// What one replica writes, another one's reader reads: the writer runs in a
// child process, and the reader (with a pooled connection already open) sees
// its rows, every column as written.
TEST(PostgresStorage, ReaderSeesRowsAnotherProcessWrote) {
  TG_POSTGRES_URL(url);
  auto s = OpenLedger(url);
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE((*s)->OpenStateStore().ok());  // migrated: the reader reads an empty ledger
  auto reader = (*s)->OpenReader();
  ASSERT_EQ(CountRows(*reader), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child touches nothing of the parent's: a storage of its own, then _exit.
    auto own = OpenLedger(url);
    bool ok = own.ok();
    if (ok) {
      auto w = (*own)->OpenWriter();
      ok = w.ok();
      if (ok) {
        for (int i = 0; i < 250; ++i) (*w)->Append(MakeRow(i, "child_"));
        ok = (*w)->Close().ok();
      }
    }
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(CountRows(*reader), 250);
  const Row want = MakeRow(17, "child_");
  int visits = 0;
  ASSERT_TRUE(reader
                  ->RecordWithId("child_17",
                                 [&](const Record& r) {
                                   ++visits;
                                   EXPECT_EQ(r.Find("id")->text, "child_17");
                                   EXPECT_EQ(r.Find("user")->text, "alice");
                                   EXPECT_EQ(r.Find("ts_start_ms")->integer, want.ts_start_ms);
                                   EXPECT_EQ(r.Find("cost_usd")->real, want.cost.Total());
                                   EXPECT_EQ(r.Find("ttft_ms")->kind, Value::Kind::kNull);
                                 })
                  .ok());
  EXPECT_EQ(visits, 1);
}

// COPY's text format escapes tab, newline, carriage return and backslash; bytes
// that are not UTF-8 (which PostgreSQL refuses) are stored as U+FFFD rather
// than failing the batch.
TEST(PostgresStorage, TextSurvivesCopyEscaping) {
  TG_POSTGRES_URL(url);
  auto s = OpenLedger(url);
  ASSERT_TRUE(s.ok());
  Row r = MakeRow(1);
  r.user = "a\tb\\c\nd\re \\N é 😀";
  r.project = std::string("bad\xff") + std::string("\0z", 2);
  r.tags = "\\";
  auto w = (*s)->OpenWriter();
  ASSERT_TRUE(w.ok());
  (*w)->Append(r);
  ASSERT_TRUE((*w)->Close().ok());
  int visits = 0;
  ASSERT_TRUE((*s)->OpenReader()
                  ->RecordWithId(r.id,
                                 [&](const Record& rec) {
                                   ++visits;
                                   EXPECT_EQ(rec.Find("user")->text, r.user);
                                   EXPECT_EQ(rec.Find("project")->text,
                                             "bad\xEF\xBF\xBD\xEF\xBF\xBDz");
                                   EXPECT_EQ(rec.Find("tags")->text, "\\");
                                 })
                  .ok());
  EXPECT_EQ(visits, 1);
}

// Connections the server drops (a restart, a failover, an idle timeout): the
// writer reconnects and writes the batch, a reader's pooled connection is
// replaced, and a state store reconnects on its next call.
TEST(PostgresStorage, DroppedConnectionsAreReplaced) {
  TG_POSTGRES_URL(url);
  auto s = OpenLedger(url);
  ASSERT_TRUE(s.ok());
  auto state = (*s)->OpenStateStore();
  ASSERT_TRUE(state.ok());
  auto w = (*s)->OpenWriter();
  ASSERT_TRUE(w.ok());
  auto reader = (*s)->OpenReader();
  for (int i = 0; i < 10; ++i) (*w)->Append(MakeRow(i));
  ASSERT_TRUE((*w)->Flush().ok());
  ASSERT_EQ(CountRows(*reader), 10);
  // Every connection to this database but the one asking.
  ASSERT_EQ(Query(url,
                  "SELECT COUNT(pg_terminate_backend(pid)) > 0 FROM pg_stat_activity"
                  " WHERE datname = current_database() AND pid <> pg_backend_pid()"),
            "t");
  for (int i = 10; i < 20; ++i) (*w)->Append(MakeRow(i));
  ASSERT_TRUE((*w)->Flush().ok());
  EXPECT_EQ((*w)->failed_rows(), 0u);
  EXPECT_EQ(CountRows(*reader), 20);
  (void)(*state)->StateVersion();  // may fail: it finds the connection closed
  auto v = (*state)->StateVersion();
  ASSERT_TRUE(v.ok()) << v.status().message();
  ASSERT_TRUE((*w)->Close().ok());
}

// The state store's semantics, the same on every backend.
TEST(PostgresStorage, StateStoreMatchesTheOtherBackends) {
  TG_POSTGRES_URL(url);
  const auto dir = std::filesystem::temp_directory_path() / ("tollgate-pg-state-" + NewRequestId());
  std::filesystem::create_directories(dir);
  std::vector<std::unique_ptr<Storage>> all;
  all.push_back(NewMemoryStorage());
  all.push_back(std::move(*OpenLedger("sqlite://" + (dir / "l.db").string())));
  all.push_back(std::move(*OpenLedger(url)));
  for (auto& s : all) {
    SCOPED_TRACE(s->url());
    auto opened = s->OpenStateStore();
    ASSERT_TRUE(opened.ok()) << opened.status().message();
    StateStore& st = **opened;
    VirtualKey k;
    k.id = "key_1";
    k.name = "ci";
    k.secret_hash = "h1";
    k.secret_prefix = "tg-ab";
    k.user = "alice";
    k.tags = {"prod", "batch"};
    k.rpm = 60;
    k.usd_per_minute = 0.5;
    k.created_at_ms = 10;
    k.expires_at_ms = 99;
    ASSERT_TRUE(st.InsertKey(k).ok());
    EXPECT_FALSE(st.InsertKey(k).ok());  // the id is taken
    VirtualKey k2 = k;
    k2.id = "key_2";
    k2.name = "";
    k2.secret_hash = "h2";
    k2.tags.clear();
    k2.expires_at_ms.reset();
    k2.created_at_ms = 20;
    ASSERT_TRUE(st.InsertKey(k2).ok());
    auto found = st.FindKey("ci");
    ASSERT_TRUE(found.ok());
    EXPECT_EQ(found->id, "key_1");
    EXPECT_EQ(found->tags, (std::vector<std::string>{"prod", "batch"}));
    EXPECT_EQ(found->expires_at_ms, 99);
    EXPECT_EQ(found->usd_per_minute, 0.5);
    EXPECT_EQ(st.FindKey("nope").status().code(), StatusCode::kNotFound);
    ASSERT_TRUE(st.SetKeyRevoked("key_1", 30).ok());
    ASSERT_TRUE(st.SetKeySecret("key_2", "h3", "tg-cd", 31).ok());
    auto live = st.ListKeys(false);
    ASSERT_TRUE(live.ok());
    ASSERT_EQ(live->size(), 1u);
    EXPECT_EQ((*live)[0].secret_hash, "h3");
    EXPECT_FALSE((*live)[0].expires_at_ms.has_value());
    auto every = st.ListKeys(true);
    ASSERT_TRUE(every.ok());
    ASSERT_EQ(every->size(), 2u);
    EXPECT_EQ((*every)[0].revoked_at_ms, 30);

    Budget b = MakeBudget("bud_z");
    b.name = "zeta";
    ASSERT_TRUE(st.UpsertBudget(b).ok());
    ASSERT_TRUE(st.UpsertBudget(MakeBudget("bud_a")).ok());
    b.name = "renamed";  // an upsert keeps the name
    b.limit_usd.reset();
    b.window = Window::kMonthly;
    ASSERT_TRUE(st.UpsertBudget(b).ok());
    auto budgets = st.ListBudgets();
    ASSERT_TRUE(budgets.ok());
    ASSERT_EQ(budgets->size(), 2u);
    EXPECT_EQ((*budgets)[1].name, "zeta");
    EXPECT_EQ((*budgets)[1].window, Window::kMonthly);
    EXPECT_FALSE((*budgets)[1].limit_usd.has_value());
    ASSERT_TRUE(st.DeleteBudget("zeta").ok());
    EXPECT_EQ(st.DeleteBudget("zeta").code(), StatusCode::kNotFound);

    ASSERT_TRUE(st.SetSpend({"bud_a", 5, 1.25, 3}).ok());
    ASSERT_TRUE(st.SetSpend({"bud_a", 5, 2.5, 4}).ok());
    auto spend = st.ListSpend();
    ASSERT_TRUE(spend.ok());
    ASSERT_EQ(spend->size(), 1u);
    EXPECT_EQ((*spend)[0].spent_usd, 2.5);
    EXPECT_EQ((*spend)[0].requests, 4);

    for (int i = 0; i < 3; ++i)
      ASSERT_TRUE(st.AppendAudit({i, "admin", "key.create", "key_" + std::to_string(i), ""}).ok());
    auto audit = st.ListAudit(2);
    ASSERT_TRUE(audit.ok());
    ASSERT_EQ(audit->size(), 2u);
    EXPECT_EQ((*audit)[0].target, "key_2");  // newest first

    auto v0 = st.StateVersion();
    ASSERT_TRUE(v0.ok());
    ASSERT_TRUE(st.BumpStateVersion().ok());
    EXPECT_EQ(*st.StateVersion(), *v0 + 1);
  }
  // A change made through one connection is what a second one reads next (replicas).
  auto a = all[2]->OpenStateStore();
  auto b = all[2]->OpenStateStore();
  ASSERT_TRUE(a.ok() && b.ok());
  const int64_t before = *(*b)->StateVersion();
  ASSERT_TRUE((*a)->SetKeyRevoked("key_2", 40).ok());
  ASSERT_TRUE((*a)->BumpStateVersion().ok());
  EXPECT_EQ(*(*b)->StateVersion(), before + 1);
  EXPECT_EQ((*b)->FindKey("key_2")->revoked_at_ms, 40);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace tollgate::ledger
