// Ledger write throughput through the real LedgerWriter interface, the way
// the gateway uses it: producer threads Append() finished rows, then Close()
// flushes. Prints rows/s. The backend is the ledger URL's (storage.h): by
// default a SQLite file in a temporary folder (queue + batch writer thread +
// WAL); postgres://user@host:port/db measures the PostgreSQL writer (COPY
// batches), whose database should be empty (bench/ledger_bench_pg.sh starts a
// throwaway server and runs it).
// Usage: ledger_bench [ROWS] [PRODUCERS] [LEDGER_URL]   (build: ninja ledger_bench)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <vector>

#include "common/util.h"
#include "ledger/storage.h"

int main(int argc, char** argv) {
  using namespace tollgate;
  const int64_t rows = argc > 1 ? std::atoll(argv[1]) : 500000;
  const int producers = argc > 2 ? std::atoi(argv[2]) : 2;
  auto dir = std::filesystem::temp_directory_path() / ("tollgate-ledger-bench-" + NewRequestId());
  std::filesystem::create_directories(dir);
  const std::string url = argc > 3 ? argv[3] : "sqlite://" + (dir / "bench.db").string();
  auto storage = ledger::OpenLedger(url, {2048, 100, 1000000});
  if (!storage.ok()) {
    std::fprintf(stderr, "%s\n", storage.status().message().c_str());
    return 1;
  }
  auto ledger = (*storage)->OpenWriter();
  if (!ledger.ok()) {
    std::fprintf(stderr, "%s\n", ledger.status().message().c_str());
    return 1;
  }
  // A realistic row: ids, identity, models, tokens and costs of every class.
  auto make = [](int64_t i) {
    ledger::Row r;
    r.id = NewRequestId();
    r.ts_start_ms = NowUnixMs();
    r.ts_end_ms = r.ts_start_ms + 120;
    r.endpoint = "chat.completions";
    r.api_key = "key_0123456789ab";
    r.user = "user-" + std::to_string(i % 100);
    r.project = "project-" + std::to_string(i % 10);
    r.tags = "bench,ledger";
    r.requested_model = "gpt-4o-mini";
    r.served_model = "gpt-4o-mini-2024-07-18";
    r.provider = "openai";
    r.status = 200;
    r.usage.input = 1200;
    r.usage.cache_read = 300;
    r.usage.output = 250;
    r.cost.input = 0.00018;
    r.cost.cache_read = 0.0000225;
    r.cost.output = 0.00015;
    r.cost_known = true;
    r.latency_ms = 120.5;
    r.price_version = "2026-11-23";
    return r;
  };
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p)
    threads.emplace_back([&, p] {
      for (int64_t i = p; i < rows; i += producers) (*ledger)->Append(make(i));
    });
  for (auto& t : threads) t.join();
  const auto t_appended = std::chrono::steady_clock::now();
  tollgate::Status st = (*ledger)->Close();
  const auto t1 = std::chrono::steady_clock::now();
  if (!st.ok()) {
    std::fprintf(stderr, "%s\n", st.message().c_str());
    return 1;
  }
  const double secs = std::chrono::duration<double>(t1 - t0).count();
  const double append_secs = std::chrono::duration<double>(t_appended - t0).count();
  std::printf("ledger_bench rows=%lld producers=%d seconds=%.3f rows_per_s=%.0f append_only_rows_per_s=%.0f"
              " backend=%s\n",
              static_cast<long long>(rows), producers, secs, static_cast<double>(rows) / secs,
              static_cast<double>(rows) / append_secs, url.substr(0, url.find(':')).c_str());
  std::filesystem::remove_all(dir);
  return 0;
}
