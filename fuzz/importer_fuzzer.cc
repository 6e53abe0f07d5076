// libFuzzer target: the usage log importers (usage::Import) on one Claude
// Code or Codex CLI JSONL file.
//
// Input: one control byte (bit 0: Codex rather than Claude Code; bit 1: a
// date range), then the file's bytes. Import reads files by path, line by
// line, as it reads the agents' logs: the bytes go to an in-memory file
// (memfd) reached through a symlink named like a Codex rollout file, and are
// imported with the embedded price catalog. Any file must import: bad lines
// become diagnostics, never a crash.

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "fuzz_util.h"
#include "pricing/catalog.h"
#include "usage/importer.h"

namespace {

const tollgate::pricing::PriceCatalog* Prices() {
  static const auto* catalog = [] {
    auto c = tollgate::pricing::PriceCatalog::Build({}, "2026-01-01");
    if (!c.ok()) std::abort();
    return c->release();
  }();
  return catalog;
}

// The in-memory file and the path Import opens it by.
struct LogFile {
  int fd = -1;
  std::string path;
  LogFile() {
    fd = memfd_create("tollgate-fuzz-log", 0);
    if (fd < 0) std::abort();
    path = (std::filesystem::temp_directory_path() /
            ("tollgate-fuzz-" + std::to_string(getpid()) +
             "-rollout-2025-10-01T11-00-00-0199a000-0000-7000-8000-000000000001.jsonl"))
               .string();
    std::filesystem::remove(path);
    std::filesystem::create_symlink("/proc/self/fd/" + std::to_string(fd), path);
  }
  ~LogFile() {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
  static LogFile& Log() {
    static LogFile log;
    return log;
  }
  void Write(std::string_view bytes) {
    if (ftruncate(fd, 0) != 0 || pwrite(fd, bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size()))
      std::abort();
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const uint8_t control = tollgate::fuzz::ControlByte(data, size, 0);
  const std::string_view file = tollgate::fuzz::Payload(data, size, 1);
  LogFile& log = LogFile::Log();
  log.Write(file);
  tollgate::usage::SourceFile src;
  src.agent = (control & 1) ? tollgate::usage::Agent::kCodex : tollgate::usage::Agent::kClaudeCode;
  src.path = log.path;
  src.project = "-home-alice-webapp";
  src.bytes = file.size();
  tollgate::usage::ImportOptions options;
  options.prices = Prices();
  options.max_diagnostics = 8;
  if (control & 2) {
    options.from_ms = 1759276800000;  // 2025-10-01
    options.to_ms = 1759363200000;    // 2025-10-02
  }
  tollgate::usage::ImportResult r = tollgate::usage::Import({src}, options);
  if (r.files != 1 || r.bytes != file.size()) std::abort();  // every byte of a readable file is read
  for (const auto& e : r.entries)
    if (e.id.size() != 28 || e.id.compare(0, 4, "imp_") != 0) std::abort();
  return 0;
}
