// Single-threaded throughput of the C++ tokenizer on a list of documents,
// for bench/tokenizer/run.mjs. Each document is tokenized on its own, as the
// gateway does per request. Prints one JSON object per encoding and mode:
//   {"encoding":"o200k_base","mode":"count","bytes":N,"tokens":N,"wall_s":S,"cpu_s":S,
//    "load_ms":X}
// where wall_s and cpu_s (this thread's CPU time, robust on a busy machine)
// are each the best of --passes full passes over the corpus.
// Usage: tokenizer_bench --list FILE [--encoding NAME]... [--passes N]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace {

using Clock = std::chrono::steady_clock;
using tollgate::tokenizer::Encoding;
using tollgate::tokenizer::Tokenizer;

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Timing {
  double wall = 1e300;  // best pass, wall clock
  double cpu = 1e300;   // best pass, this thread's CPU time
};

template <typename Fn>
Timing Best(int passes, Fn&& fn) {
  Timing best;
  for (int p = 0; p < passes; ++p) {
    auto t0 = Clock::now();
    double c0 = ThreadCpuSeconds();
    fn();
    best.cpu = std::min(best.cpu, ThreadCpuSeconds() - c0);
    best.wall = std::min(best.wall, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<Encoding> encodings;
  std::vector<std::string> docs;
  int passes = 5;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--encoding" && i + 1 < argc) {
      auto e = tollgate::tokenizer::ParseEncoding(argv[++i]);
      if (!e) {
        std::fprintf(stderr, "unknown encoding %s\n", argv[i]);
        return 2;
      }
      encodings.push_back(*e);
    } else if (arg == "--passes" && i + 1 < argc) {
      passes = std::max(0, std::atoi(argv[++i]));  // 0: load only (for profiling)
    } else if (arg == "--list" && i + 1 < argc) {
      std::ifstream list(argv[++i]);
      for (std::string path; std::getline(list, path);) {
        if (path.empty()) continue;
        std::ifstream in(path, std::ios::binary);
        std::ostringstream ss;
        ss << in.rdbuf();
        docs.push_back(ss.str());
      }
    } else {
      std::fprintf(stderr,
                   "usage: tokenizer_bench --list FILE [--encoding NAME]... [--passes N]\n");
      return 2;
    }
  }
  if (encodings.empty()) encodings = {Encoding::kO200kBase, Encoding::kCl100kBase};
  size_t bytes = 0;
  for (const auto& d : docs) bytes += d.size();

  for (Encoding e : encodings) {
    auto load_start = Clock::now();
    auto tok = Tokenizer::Load(e);
    double load_s = std::chrono::duration<double>(Clock::now() - load_start).count();
    if (!tok.ok()) {
      std::fprintf(stderr, "%s\n", tok.status().ToString().c_str());
      return 1;
    }
    const Tokenizer& t = **tok;
    size_t tokens = 0;
    Timing count_t = Best(passes, [&] {
      tokens = 0;
      for (const auto& d : docs) tokens += t.Count(d);
    });
    size_t encoded = 0;
    Timing encode_t = Best(passes, [&] {
      encoded = 0;
      for (const auto& d : docs) encoded += t.Encode(d).size();
    });
    auto name = tollgate::tokenizer::EncodingName(e);
    for (auto [mode, timing, n] :
         {std::tuple{"count", count_t, tokens}, std::tuple{"encode", encode_t, encoded}}) {
      std::printf(
          "{\"encoding\":\"%.*s\",\"mode\":\"%s\",\"bytes\":%zu,\"tokens\":%zu,"
          "\"wall_s\":%.6f,\"cpu_s\":%.6f,\"load_ms\":%.1f}\n",
          static_cast<int>(name.size()), name.data(), mode, bytes, n, timing.wall, timing.cpu,
          load_s * 1e3);
    }
  }
  return 0;
}
