// Tests for `tollgate usage` (src/usage/): realistic Claude Code and Codex CLI
// logs are written to a temp folder, imported, and checked to the token and cent.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "common/util.h"
#include "ledger/ledger.h"
#include "pricing/catalog.h"
#include "usage/importer.h"
#include "usage/ledger_export.h"
#include "usage/usage_report.h"

namespace tollgate::usage {
namespace {

namespace fs = std::filesystem;

fs::path TempDir() {
  auto dir = fs::temp_directory_path() / ("tollgate-usage-" + NewRequestId());
  fs::create_directories(dir);
  return dir;
}

// Writes `lines` joined by newlines; `trailing_newline` false leaves the last
// line unterminated, as in a file an agent is still writing.
void WriteLines(const fs::path& p, const std::vector<std::string>& lines,
                bool trailing_newline = true) {
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  for (size_t i = 0; i < lines.size(); ++i)
    out << lines[i] << (i + 1 < lines.size() || trailing_newline ? "\n" : "");
}

// One Claude Code assistant line, shaped like what Claude Code 2.x writes.
std::string ClaudeAssistant(const std::string& session, const std::string& ts,
                            const std::string& msg_id, const std::string& req_id,
                            const std::string& model, const std::string& usage_json) {
  return R"({"parentUuid":"p-)" + msg_id +
         R"(","isSidechain":false,"userType":"external","cwd":"/home/alice/x",)"
         R"("sessionId":")" +
         session + R"(","version":"2.0.14","gitBranch":"main","message":{"id":")" + msg_id +
         R"(","type":"message","role":"assistant","model":")" + model +
         R"(","content":[{"type":"text","text":"ok"}],"stop_reason":null,"stop_sequence":null,"usage":)" +
         usage_json + R"(},"requestId":")" + req_id + R"(","type":"assistant","uuid":"u-)" +
         msg_id + ts + R"(","timestamp":")" + ts + R"("})";
}

std::string CodexTokenCount(const std::string& ts, const std::string& info_json) {
  return R"({"timestamp":")" + ts +
         R"(","type":"event_msg","payload":{"type":"token_count","info":)" + info_json +
         R"(,"rate_limits":{"primary":{"used_percent":12.0,"window_minutes":300,"resets_in_seconds":9000}}}})";
}

std::string Tokens(int in, int cached, int out, int reasoning) {
  return R"({"input_tokens":)" + std::to_string(in) + R"(,"cached_input_tokens":)" +
         std::to_string(cached) + R"(,"output_tokens":)" + std::to_string(out) +
         R"(,"reasoning_output_tokens":)" + std::to_string(reasoning) + R"(,"total_tokens":)" +
         std::to_string(in + out) + "}";
}

const char* kSonnet = "claude-sonnet-4-5-20250929";

// The fixture: three Claude Code files (two projects, one holding a copy of a
// message from a resumed session) and two Codex rollouts.
struct Fixture {
  fs::path dir = TempDir();
  fs::path claude = dir / "claude";  // a CLAUDE_CONFIG_DIR
  fs::path codex = dir / "codex";    // a CODEX_HOME
  fs::path sess_a = claude / "projects" / "-home-alice-webapp" / "sess-a.jsonl";
  fs::path resumed = claude / "projects" / "-home-alice-webapp" / "resumed.jsonl";
  fs::path sess_b = claude / "projects" / "-home-alice-api" / "sess-b.jsonl";
  fs::path rollout1 = codex / "sessions" / "2025" / "10" / "01" /
                      "rollout-2025-10-01T11-00-00-0199a000-0000-7000-8000-000000000001.jsonl";
  fs::path rollout2 = codex / "sessions" / "2025" / "10" / "03" /
                      "rollout-2025-10-03T00-30-00-0199b000-0000-7000-8000-000000000002.jsonl";

  Fixture() {
    const std::string a_final =
        R"({"input_tokens":100,"cache_creation_input_tokens":2000,"cache_read_input_tokens":5000,)"
        R"("cache_creation":{"ephemeral_5m_input_tokens":1500,"ephemeral_1h_input_tokens":500},)"
        R"("output_tokens":300,"service_tier":"standard"})";
    const std::string a_partial =
        R"({"input_tokens":100,"cache_creation_input_tokens":2000,"cache_read_input_tokens":5000,)"
        R"("cache_creation":{"ephemeral_5m_input_tokens":1500,"ephemeral_1h_input_tokens":500},)"
        R"("output_tokens":10,"service_tier":"standard"})";
    WriteLines(
        sess_a,
        {
            // 1: a user line (no usage)
            R"({"type":"user","sessionId":"sess-a","timestamp":"2025-10-01T10:14:00.000Z","message":{"role":"user","content":"hi"}})",
            // 2, 3: two content blocks of one call; the first is a streaming snapshot
            ClaudeAssistant("sess-a", "2025-10-01T10:15:00.000Z", "msg_A", "req_A", kSonnet,
                            a_partial),
            ClaudeAssistant("sess-a", "2025-10-01T10:15:01.000Z", "msg_A", "req_A", kSonnet,
                            a_final),
            // 4: malformed JSON
            R"({"type":"assistant","message":)",
            // 5: an assistant line without usage
            R"({"type":"assistant","sessionId":"sess-a","timestamp":"2025-10-01T10:16:00.000Z","message":{"id":"msg_X","model":"claude-sonnet-4-5-20250929","role":"assistant","content":[]}})",
            // 6: no cache_creation split: all cache writes are 5-minute
            ClaudeAssistant(
                "sess-a", "2025-10-01T12:30:00.000Z", "msg_B", "req_B", kSonnet,
                R"({"input_tokens":50,"cache_creation_input_tokens":1000,"cache_read_input_tokens":8000,"output_tokens":200})"),
            // 7: Claude Code's own placeholder, not a model call
            ClaudeAssistant(
                "sess-a", "2025-10-01T12:31:00.000Z", "msg_S", "req_S", "<synthetic>",
                R"({"input_tokens":0,"output_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0})"),
            // 8: after the first 5-hour block (10:00-15:00)
            ClaudeAssistant(
                "sess-a", "2025-10-01T16:00:00.000Z", "msg_C", "req_C", "claude-sonnet-4-5",
                R"({"input_tokens":20,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":40})"),
        });
    // A resumed session starts with a copy of an earlier message.
    WriteLines(resumed, {ClaudeAssistant("sess-a", "2025-10-01T10:15:01.000Z", "msg_A", "req_A",
                                         kSonnet, a_final)});
    WriteLines(
        sess_b,
        {
            ClaudeAssistant(
                "sess-b", "2025-10-02T08:00:00.000Z", "msg_D", "req_D", kSonnet,
                R"({"input_tokens":10,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":20})"),
            // a model the catalog does not price
            ClaudeAssistant(
                "sess-b", "2025-10-02T08:30:00.000Z", "msg_E", "req_E", "claude-imaginary-9",
                R"({"input_tokens":1000,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1000})"),
            // 3: a count of the wrong type
            ClaudeAssistant("sess-b", "2025-10-02T08:40:00.000Z", "msg_F", "req_F", kSonnet,
                            R"({"input_tokens":"12","output_tokens":1})"),
            // 4: the line being written when the file was read
            R"({"type":"assistant","message":{"id":"msg_G")",
        },
        /*trailing_newline=*/false);

    WriteLines(
        rollout1,
        {
            R"({"timestamp":"2025-10-01T11:00:00.000Z","type":"session_meta","payload":{"id":"0199a000-0000-7000-8000-000000000001","timestamp":"2025-10-01T11:00:00.000Z","cwd":"/home/alice/webapp","originator":"codex_cli_rs","cli_version":"0.46.0","instructions":null}})",
            R"({"timestamp":"2025-10-01T11:00:01.000Z","type":"turn_context","payload":{"cwd":"/home/alice/webapp","approval_policy":"on-request","sandbox_policy":{"mode":"workspace-write"},"model":"gpt-5","effort":"medium","summary":"auto"}})",
            // 3: a rate-limit-only update
            CodexTokenCount("2025-10-01T11:00:02.000Z", "null"),
            // 4, 5: a turn, then the same event repeated
            CodexTokenCount("2025-10-01T11:01:00.000Z",
                            R"({"total_token_usage":)" + Tokens(1000, 200, 300, 100) +
                                R"(,"last_token_usage":)" + Tokens(1000, 200, 300, 100) +
                                R"(,"model_context_window":272000})"),
            CodexTokenCount("2025-10-01T11:01:00.500Z",
                            R"({"total_token_usage":)" + Tokens(1000, 200, 300, 100) +
                                R"(,"last_token_usage":)" + Tokens(1000, 200, 300, 100) +
                                R"(,"model_context_window":272000})"),
            // 6
            CodexTokenCount("2025-10-01T11:05:00.000Z",
                            R"({"total_token_usage":)" + Tokens(3000, 1700, 400, 100) +
                                R"(,"last_token_usage":)" + Tokens(2000, 1500, 100, 0) +
                                R"(,"model_context_window":272000})"),
            // 7
            "not json at all",
            // 8: the model changes for the turns that follow
            R"({"timestamp":"2025-10-01T11:09:00.000Z","type":"turn_context","payload":{"cwd":"/home/alice/webapp","model":"gpt-5-mini"}})",
            // 9, 10: cumulative totals only, then a repeat
            CodexTokenCount("2025-10-01T11:10:00.000Z",
                            R"({"total_token_usage":)" + Tokens(3500, 1700, 450, 100) + "}"),
            CodexTokenCount("2025-10-01T11:10:05.000Z",
                            R"({"total_token_usage":)" + Tokens(3500, 1700, 450, 100) + "}"),
            // 11: info without any usage
            CodexTokenCount("2025-10-01T11:11:00.000Z", R"({"model_context_window":272000})"),
        });
    // No session_meta and no turn_context: session from the file name, model unknown.
    WriteLines(rollout2,
               {CodexTokenCount("2025-10-03T00:30:00.000Z",
                                R"({"total_token_usage":)" + Tokens(100, 0, 10, 0) + "}")});
  }
  ~Fixture() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  std::vector<SourceFile> Files() const {
    auto f = DiscoverFiles(Agent::kClaudeCode, {claude.string()}, nullptr);
    auto c = DiscoverFiles(Agent::kCodex, {codex.string()}, nullptr);
    f.insert(f.end(), c.begin(), c.end());
    return f;
  }
};

std::unique_ptr<pricing::PriceCatalog> Catalog() {
  auto c = pricing::PriceCatalog::Build({}, "2026-01-01");
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return std::move(c).value();
}

const Entry* FindEntry(const ImportResult& r, Agent agent, int64_t ts_ms) {
  for (const auto& e : r.entries)
    if (e.agent == agent && e.ts_ms == ts_ms) return &e;
  return nullptr;
}

int64_t Ts(const char* iso) { return *ParseTimestampMs(iso); }

bool HasDiagnostic(const ImportResult& r, const fs::path& file, int64_t line,
                   const std::string& needle) {
  for (const auto& d : r.diagnostics)
    if (d.file == file.string() && d.line == line && d.message.find(needle) != std::string::npos)
      return true;
  return false;
}

TEST(UsageTimestamp, ParsesIsoForms) {
  EXPECT_EQ(ParseTimestampMs("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseTimestampMs("2025-10-01T10:15:00.123Z"), 1759313700123);
  EXPECT_EQ(ParseTimestampMs("2025-10-01T12:15:00.123+02:00"), 1759313700123);
  EXPECT_EQ(ParseTimestampMs("2025-10-01T05:15:00.123456-05:00"), 1759313700123);
  EXPECT_EQ(ParseTimestampMs("2025-10-01"), 1759276800000);
  EXPECT_FALSE(ParseTimestampMs(""));
  EXPECT_FALSE(ParseTimestampMs("yesterday"));
  EXPECT_FALSE(ParseTimestampMs("2025-13-01T00:00:00Z"));
  EXPECT_FALSE(ParseTimestampMs("2025-10-01T10:15:00Zjunk"));
}

TEST(UsageDiscovery, FindsFilesUnderConfigOrDataFolders) {
  Fixture fx;
  std::vector<Diagnostic> diags;
  // The config folder and its projects/ folder find the same files, listed once.
  auto files = DiscoverFiles(
      Agent::kClaudeCode,
      {fx.claude.string(), (fx.claude / "projects").string(), (fx.dir / "missing").string()},
      &diags);
  EXPECT_TRUE(diags.empty());
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files[0].path, fx.sess_b.string());
  EXPECT_EQ(files[0].project, "-home-alice-api");
  EXPECT_EQ(files[1].path, fx.resumed.string());
  EXPECT_EQ(files[2].project, "-home-alice-webapp");
  EXPECT_GT(files[2].bytes, 0u);
  auto codex = DiscoverFiles(Agent::kCodex, {(fx.codex / "sessions").string()}, &diags);
  ASSERT_EQ(codex.size(), 2u);
  EXPECT_EQ(codex[0].path, fx.rollout1.string());
}

TEST(UsageImport, ClaudeCodeTokensDedupAndDiagnostics) {
  Fixture fx;
  auto cat = Catalog();
  ImportOptions o;
  o.prices = cat.get();
  ImportResult r = Import(DiscoverFiles(Agent::kClaudeCode, {fx.claude.string()}, nullptr), o);

  EXPECT_EQ(r.files, 3u);
  EXPECT_EQ(r.lines, 13u);
  ASSERT_EQ(r.entries.size(), 5u);  // A, B, C, D, E
  EXPECT_EQ(r.duplicates, 2u);      // msg_A's second block, and its copy in the resumed session

  // A: the largest snapshot wins; the cache-write split is kept.
  const Entry* a = FindEntry(r, Agent::kClaudeCode, Ts("2025-10-01T10:15:01.000Z"));
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->usage.input, 100);
  EXPECT_EQ(a->usage.cache_read, 5000);
  EXPECT_EQ(a->usage.cache_write_5m, 1500);
  EXPECT_EQ(a->usage.cache_write_1h, 500);
  EXPECT_EQ(a->usage.output, 300);
  EXPECT_EQ(a->usage.reasoning, 0);
  EXPECT_EQ(a->session, "sess-a");
  EXPECT_EQ(a->project, "-home-alice-webapp");
  EXPECT_EQ(a->model, kSonnet);
  EXPECT_EQ(a->id, "imp_" + Sha256Hex("claude:msg_A:req_A").substr(0, 24));
  // $3 in, $0.30 cache read, $3.75 5m write, $6 1h write, $15 out per 1M.
  ASSERT_TRUE(a->cost_known);
  EXPECT_NEAR(a->cost.Total(),
              (100 * 3.0 + 5000 * 0.30 + 1500 * 3.75 + 500 * 6.0 + 300 * 15.0) / 1e6, 1e-12);

  // B: without a split every cache write is 5-minute.
  const Entry* b = FindEntry(r, Agent::kClaudeCode, Ts("2025-10-01T12:30:00Z"));
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->usage.cache_write_5m, 1000);
  EXPECT_EQ(b->usage.cache_write_1h, 0);
  EXPECT_NEAR(b->cost.Total(), (50 * 3.0 + 8000 * 0.30 + 1000 * 3.75 + 200 * 15.0) / 1e6, 1e-12);

  // E: no price, so no cost (never $0).
  const Entry* e = FindEntry(r, Agent::kClaudeCode, Ts("2025-10-02T08:30:00Z"));
  ASSERT_NE(e, nullptr);
  EXPECT_FALSE(e->cost_known);
  EXPECT_EQ(e->cost.Total(), 0);
  ASSERT_EQ(r.unpriced_models.size(), 1u);
  EXPECT_EQ(r.unpriced_models[0].first, "claude-imaginary-9");
  EXPECT_EQ(r.unpriced_models[0].second, 1u);

  pricing::Usage sum;
  for (const auto& x : r.entries) {
    sum.input += x.usage.input;
    sum.cache_read += x.usage.cache_read;
    sum.cache_write_5m += x.usage.cache_write_5m;
    sum.cache_write_1h += x.usage.cache_write_1h;
    sum.output += x.usage.output;
  }
  EXPECT_EQ(sum.input, 1180);
  EXPECT_EQ(sum.cache_read, 13000);
  EXPECT_EQ(sum.cache_write_5m, 2500);
  EXPECT_EQ(sum.cache_write_1h, 500);
  EXPECT_EQ(sum.output, 1560);

  // Every bad line is reported with file:line, and none stopped the import.
  EXPECT_EQ(r.diagnostics_total, 4u);
  EXPECT_TRUE(HasDiagnostic(r, fx.sess_a, 4, "invalid JSON"));
  EXPECT_TRUE(HasDiagnostic(r, fx.sess_a, 5, "without message.usage"));
  EXPECT_TRUE(
      HasDiagnostic(r, fx.sess_b, 3, "message.usage.input_tokens is not a non-negative integer"));
  EXPECT_TRUE(HasDiagnostic(r, fx.sess_b, 4, "incomplete"));
  EXPECT_EQ(r.diagnostics[0].ToString().rfind(fx.sess_b.string() + ":3: ", 0), 0u);
}

TEST(UsageImport, CodexDeltasRepeatsAndModels) {
  Fixture fx;
  auto cat = Catalog();
  ImportOptions o;
  o.prices = cat.get();
  ImportResult r = Import(DiscoverFiles(Agent::kCodex, {fx.codex.string()}, nullptr), o);

  EXPECT_EQ(r.files, 2u);
  EXPECT_EQ(r.lines, 12u);
  ASSERT_EQ(r.entries.size(), 4u);
  EXPECT_EQ(r.duplicates, 2u);  // the repeated event (line 5) and the repeated total (line 10)

  // Turn 1: cached is part of input, reasoning part of output.
  const Entry* t1 = FindEntry(r, Agent::kCodex, Ts("2025-10-01T11:01:00Z"));
  ASSERT_NE(t1, nullptr);
  EXPECT_EQ(t1->usage.input, 800);
  EXPECT_EQ(t1->usage.cache_read, 200);
  EXPECT_EQ(t1->usage.output, 200);
  EXPECT_EQ(t1->usage.reasoning, 100);
  EXPECT_EQ(t1->usage.Total(), 1300);  // = total_tokens
  EXPECT_EQ(t1->model, "gpt-5");
  EXPECT_EQ(t1->session, "0199a000-0000-7000-8000-000000000001");
  EXPECT_EQ(t1->project, "/home/alice/webapp");
  // gpt-5: $1.25 in, $0.125 cached, $10 out (reasoning billed as output).
  ASSERT_TRUE(t1->cost_known);
  EXPECT_NEAR(t1->cost.Total(), (800 * 1.25 + 200 * 0.125 + 200 * 10.0 + 100 * 10.0) / 1e6, 1e-12);

  // Turn 2: last_token_usage is used as is.
  const Entry* t2 = FindEntry(r, Agent::kCodex, Ts("2025-10-01T11:05:00Z"));
  ASSERT_NE(t2, nullptr);
  EXPECT_EQ(t2->usage.input, 500);
  EXPECT_EQ(t2->usage.cache_read, 1500);
  EXPECT_EQ(t2->usage.output, 100);
  EXPECT_EQ(t2->usage.reasoning, 0);
  EXPECT_NEAR(t2->cost.Total(), (500 * 1.25 + 1500 * 0.125 + 100 * 10.0) / 1e6, 1e-12);

  // Turn 3: only the cumulative total, so the difference from the previous one;
  // the turn_context before it switched the model.
  const Entry* t3 = FindEntry(r, Agent::kCodex, Ts("2025-10-01T11:10:00Z"));
  ASSERT_NE(t3, nullptr);
  EXPECT_EQ(t3->model, "gpt-5-mini");
  EXPECT_EQ(t3->usage.input, 500);
  EXPECT_EQ(t3->usage.cache_read, 0);
  EXPECT_EQ(t3->usage.output, 50);
  EXPECT_EQ(t3->usage.reasoning, 0);
  EXPECT_NEAR(t3->cost.Total(), (500 * 0.25 + 50 * 2.0) / 1e6, 1e-12);

  // The file without metadata: session from its name, cost unknown.
  const Entry* t4 = FindEntry(r, Agent::kCodex, Ts("2025-10-03T00:30:00Z"));
  ASSERT_NE(t4, nullptr);
  EXPECT_EQ(t4->session, "0199b000-0000-7000-8000-000000000002");
  EXPECT_EQ(t4->model, "");
  EXPECT_FALSE(t4->cost_known);
  EXPECT_EQ(t4->usage.input, 100);
  EXPECT_EQ(t4->usage.output, 10);

  EXPECT_EQ(r.diagnostics_total, 3u);
  EXPECT_TRUE(HasDiagnostic(r, fx.rollout1, 7, "invalid JSON"));
  EXPECT_TRUE(HasDiagnostic(r, fx.rollout1, 11, "without last_token_usage or total_token_usage"));
  EXPECT_TRUE(HasDiagnostic(r, fx.rollout2, 1, "before any turn_context"));
}

// Codex counts reasoning inside output_tokens (total = input + output). An event
// that breaks that keeps every token its total counts, with one warning per file.
TEST(UsageImport, CodexReasoningOutsideOutputKeepsTheTotal) {
  fs::path dir = TempDir();
  auto counts = [](int in, int out, int reasoning, int total) {
    return R"({"input_tokens":)" + std::to_string(in) +
           R"(,"cached_input_tokens":0,"output_tokens":)" + std::to_string(out) +
           R"(,"reasoning_output_tokens":)" + std::to_string(reasoning) + R"(,"total_tokens":)" +
           std::to_string(total) + "}";
  };
  fs::path file =
      dir / "sessions" / "rollout-2025-10-01T11-00-00-0199a000-0000-7000-8000-00000000000a.jsonl";
  WriteLines(
      file,
      {
          R"({"timestamp":"2025-10-01T11:00:01.000Z","type":"turn_context","payload":{"model":"gpt-5"}})",
          // 2: reasoning 70 > output 10, total 180 = 100 + 10 + 70
          CodexTokenCount("2025-10-01T11:01:00.000Z",
                          R"({"last_token_usage":)" + counts(100, 10, 70, 180) + "}"),
          // 3: reasoning above output, but the total says input + output
          CodexTokenCount("2025-10-01T11:02:00.000Z",
                          R"({"last_token_usage":)" + counts(100, 10, 70, 110) + "}"),
          // 4: consistent
          CodexTokenCount("2025-10-01T11:03:00.000Z",
                          R"({"last_token_usage":)" + counts(100, 50, 20, 150) + "}"),
      });
  auto cat = Catalog();
  ImportOptions o;
  o.prices = cat.get();
  ImportResult r = Import(DiscoverFiles(Agent::kCodex, {dir.string()}, nullptr), o);
  ASSERT_EQ(r.entries.size(), 3u);
  const Entry* a = FindEntry(r, Agent::kCodex, Ts("2025-10-01T11:01:00Z"));
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->usage.input, 100);
  EXPECT_EQ(a->usage.output, 10);
  EXPECT_EQ(a->usage.reasoning, 70);
  EXPECT_EQ(a->usage.Total(), 180);
  ASSERT_TRUE(a->cost_known);
  EXPECT_NEAR(a->cost.Total(), (100 * 1.25 + 80 * 10.0) / 1e6, 1e-12);
  const Entry* b = FindEntry(r, Agent::kCodex, Ts("2025-10-01T11:02:00Z"));
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->usage.Total(), 110);
  EXPECT_EQ(b->usage.reasoning, 10);
  EXPECT_EQ(b->usage.output, 0);
  const Entry* c = FindEntry(r, Agent::kCodex, Ts("2025-10-01T11:03:00Z"));
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->usage.output, 30);
  EXPECT_EQ(c->usage.reasoning, 20);
  EXPECT_EQ(c->usage.Total(), 150);
  // One warning for the file, at the first inconsistent event.
  EXPECT_EQ(r.diagnostics_total, 1u);
  EXPECT_TRUE(HasDiagnostic(r, file, 2, "counted as 180 tokens"));
  std::error_code ec;
  fs::remove_all(dir, ec);
}

TEST(UsageImport, IdsAreStableAcrossImports) {
  Fixture fx;
  ImportResult r1 = Import(fx.Files(), {});
  ImportResult r2 = Import(fx.Files(), {});
  ASSERT_EQ(r1.entries.size(), 9u);
  ASSERT_EQ(r2.entries.size(), 9u);
  for (size_t i = 0; i < r1.entries.size(); ++i) {
    EXPECT_EQ(r1.entries[i].id, r2.entries[i].id);
    EXPECT_EQ(r1.entries[i].id.size(), 28u);
    EXPECT_FALSE(r1.entries[i].cost_known);  // no catalog given
  }
}

TEST(UsageImport, DateRangeKeepsDeduplicationAndDeltas) {
  Fixture fx;
  ImportOptions o;
  o.from_ms = *ParseDateUtcMs("2025-10-01");
  o.to_ms = *ParseDateUtcMs("2025-10-02");
  ImportResult r = Import(fx.Files(), o);
  ASSERT_EQ(r.entries.size(), 6u);  // A, B, C and Codex turns 1-3
  EXPECT_EQ(r.out_of_range, 3u);
  for (const auto& e : r.entries) EXPECT_EQ(FormatDateUtc(e.ts_ms), "2025-10-01");
}

TEST(UsageImport, ProgressReachesTheTotal) {
  Fixture fx;
  uint64_t last_done = 0, last_total = 0, calls = 0;
  ImportOptions o;
  o.progress = [&](uint64_t done, uint64_t total) {
    EXPECT_GE(done, last_done);
    last_done = done;
    last_total = total;
    ++calls;
  };
  auto files = fx.Files();
  ImportResult r = Import(files, o);
  uint64_t bytes = 0;
  for (const auto& f : files) bytes += f.bytes;
  EXPECT_GT(calls, 0u);
  EXPECT_EQ(last_total, bytes);
  EXPECT_EQ(last_done, bytes);
  EXPECT_EQ(r.bytes, bytes);
}

TEST(UsageReport, DailyWeeklyMonthly) {
  Fixture fx;
  auto cat = Catalog();
  ImportOptions o;
  o.prices = cat.get();
  ImportResult r = Import(fx.Files(), o);

  Report daily = BuildReport(r, GroupBy::kDaily, Ts("2026-01-01T00:00:00Z"));
  ASSERT_EQ(daily.rows.size(), 4u);
  EXPECT_EQ(daily.rows[0].group, "2025-10-01");
  EXPECT_EQ(daily.rows[0].agent, Agent::kClaudeCode);
  EXPECT_EQ(daily.rows[0].entries, 3);
  EXPECT_EQ(daily.rows[0].models, std::vector<std::string>({"claude-sonnet-4-5", kSonnet}));
  EXPECT_NEAR(daily.rows[0].cost_usd,
              (100 * 3.0 + 5000 * 0.30 + 1500 * 3.75 + 500 * 6.0 + 300 * 15.0 +  // A
               50 * 3.0 + 8000 * 0.30 + 1000 * 3.75 + 200 * 15.0 +               // B
               20 * 3.0 + 40 * 15.0) /
                  1e6,  // C
              1e-12);
  EXPECT_EQ(daily.rows[1].group, "2025-10-01");
  EXPECT_EQ(daily.rows[1].agent, Agent::kCodex);
  EXPECT_EQ(daily.rows[1].usage.Total(), 1300 + 2100 + 550);
  EXPECT_EQ(daily.rows[2].group, "2025-10-02");
  EXPECT_EQ(daily.rows[2].unknown_cost_entries, 1);
  EXPECT_NEAR(daily.rows[2].cost_usd, (10 * 3.0 + 20 * 15.0) / 1e6, 1e-12);
  EXPECT_EQ(daily.rows[3].group, "2025-10-03");
  EXPECT_EQ(daily.rows[3].unknown_cost_entries, 1);
  EXPECT_EQ(daily.totals.entries, 9);
  EXPECT_EQ(daily.totals.unknown_cost_entries, 2);
  EXPECT_EQ(daily.totals.usage.Total(),
            (1180 + 13000 + 2500 + 500 + 1560) + (1300 + 2100 + 550) + 110);
  EXPECT_EQ(daily.duplicates, 4u);
  EXPECT_EQ(daily.diagnostics, 7u);

  Report weekly = BuildReport(r, GroupBy::kWeekly, 0);
  ASSERT_EQ(weekly.rows.size(), 2u);
  EXPECT_EQ(weekly.rows[0].group, "2025-09-29");  // the Monday
  EXPECT_EQ(weekly.rows[0].entries, 5);
  EXPECT_EQ(weekly.rows[1].entries, 4);
  Report monthly = BuildReport(r, GroupBy::kMonthly, 0);
  ASSERT_EQ(monthly.rows.size(), 2u);
  EXPECT_EQ(monthly.rows[0].group, "2025-10");
  EXPECT_NEAR(monthly.totals.cost_usd, weekly.totals.cost_usd, 1e-15);
}

TEST(UsageReport, SessionsAndFiveHourBlocks) {
  Fixture fx;
  ImportResult r = Import(fx.Files(), {});

  Report sessions = BuildReport(r, GroupBy::kSession, 0);
  ASSERT_EQ(sessions.rows.size(), 4u);  // by last activity
  EXPECT_EQ(sessions.rows[0].group, "0199a000-0000-7000-8000-000000000001");
  EXPECT_EQ(sessions.rows[0].project, "/home/alice/webapp");
  EXPECT_EQ(sessions.rows[0].entries, 3);
  EXPECT_EQ(sessions.rows[1].group, "sess-a");
  EXPECT_EQ(sessions.rows[1].project, "-home-alice-webapp");
  EXPECT_EQ(sessions.rows[1].entries, 3);
  EXPECT_EQ(sessions.rows[1].first_ms, Ts("2025-10-01T10:15:01Z"));
  EXPECT_EQ(sessions.rows[1].last_ms, Ts("2025-10-01T16:00:00Z"));
  EXPECT_EQ(sessions.rows[2].group, "sess-b");
  EXPECT_EQ(sessions.rows[2].entries, 2);
  EXPECT_EQ(sessions.rows[3].group, "0199b000-0000-7000-8000-000000000002");

  // Claude: 10:15 and 12:30 share the 10:00-15:00 block; 16:00 opens another.
  Report blocks = BuildReport(r, GroupBy::kBlocks, Ts("2025-10-03T01:00:00Z"));
  ASSERT_EQ(blocks.rows.size(), 5u);
  EXPECT_EQ(blocks.rows[0].group, "2025-10-01T10:00:00Z");
  EXPECT_EQ(blocks.rows[0].agent, Agent::kClaudeCode);
  EXPECT_EQ(blocks.rows[0].entries, 2);
  EXPECT_EQ(blocks.rows[0].block_end_ms, Ts("2025-10-01T15:00:00Z"));
  EXPECT_EQ(blocks.rows[1].group, "2025-10-01T11:00:00Z");
  EXPECT_EQ(blocks.rows[1].agent, Agent::kCodex);
  EXPECT_EQ(blocks.rows[1].entries, 3);
  EXPECT_EQ(blocks.rows[2].group, "2025-10-01T16:00:00Z");
  EXPECT_EQ(blocks.rows[2].entries, 1);
  EXPECT_EQ(blocks.rows[3].group, "2025-10-02T08:00:00Z");
  EXPECT_EQ(blocks.rows[3].entries, 2);
  EXPECT_FALSE(blocks.rows[3].active);
  EXPECT_EQ(blocks.rows[4].group, "2025-10-03T00:00:00Z");
  EXPECT_TRUE(blocks.rows[4].active);  // "now" is 01:00, before 05:00
}

TEST(UsageReport, JsonAndTableRendering) {
  Fixture fx;
  auto cat = Catalog();
  ImportOptions o;
  o.prices = cat.get();
  Report rep = BuildReport(Import(fx.Files(), o), GroupBy::kDaily, 0);
  rapidjson::Document doc;
  std::string json = RenderJson(rep);
  doc.Parse(json.c_str());
  ASSERT_FALSE(doc.HasParseError()) << json;
  EXPECT_STREQ(doc["by"].GetString(), "daily");
  EXPECT_EQ(doc["totals"]["entries"].GetInt64(), 9);
  EXPECT_EQ(doc["totals"]["unknown_cost_entries"].GetInt64(), 2);
  EXPECT_EQ(doc["rows"].Size(), 4u);
  EXPECT_STREQ(doc["rows"][1]["agent"].GetString(), "codex");
  EXPECT_EQ(doc["rows"][1]["reasoning_tokens"].GetInt64(), 100);
  EXPECT_TRUE(doc["rows"][3]["cost_usd"].IsNull());  // only unpriced usage: unknown, not $0
  EXPECT_TRUE(doc["rows"][2]["cost_usd"].IsNumber());
  EXPECT_EQ(doc["unpriced_models"].Size(), 2u);
  EXPECT_EQ(doc["import"]["duplicates"].GetUint64(), 4u);

  std::string table = RenderTable(rep);
  EXPECT_NE(table.find("2025-10-01  claude-code"), std::string::npos) << table;
  EXPECT_NE(table.find("TOTAL"), std::string::npos);
  EXPECT_NE(table.find("2 calls have no known price"), std::string::npos) << table;
  EXPECT_NE(table.find("claude-imaginary-9 (1)"), std::string::npos) << table;
}

// Dollar figures in JSON carry FormatUsd's digits, not binary float noise.
TEST(UsageReport, JsonCostsHaveNoFloatNoise) {
  Report rep;
  rep.totals.entries = 2;
  rep.totals.cost_usd = 0.1 + 0.2;  // 0.30000000000000004 as a double
  ReportRow row;
  row.entries = 1;
  row.cost_usd = 0.38120999999999996;
  rep.rows.push_back(row);
  std::string json = RenderJson(rep);
  EXPECT_NE(json.find(R"("cost_usd":0.3,)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("cost_usd":0.38121,)"), std::string::npos) << json;
  EXPECT_EQ(json.find("0000000"), std::string::npos) << json;
  rapidjson::Document doc;
  doc.Parse(json.c_str());
  ASSERT_FALSE(doc.HasParseError()) << json;
  EXPECT_DOUBLE_EQ(doc["totals"]["cost_usd"].GetDouble(), 0.3);
}

TEST(UsageLedger, ImportIsIdempotent) {
  Fixture fx;
  auto cat = Catalog();
  ImportOptions o;
  o.prices = cat.get();
  ImportResult r = Import(fx.Files(), o);
  std::string db = (fx.dir / "ledger.db").string();
  for (int round = 0; round < 2; ++round) {
    auto l = ledger::OpenSqliteLedger({db});
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    ASSERT_TRUE(WriteToLedger(r.entries, cat->version(), **l).ok());
    ASSERT_TRUE((*l)->Close().ok());
  }
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  auto scalar = [&](const char* sql) {
    sqlite3_stmt* s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(h, sql, -1, &s, nullptr), SQLITE_OK) << sql;
    std::string v;
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
      v = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return v;
  };
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM requests"), "9");
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM requests WHERE endpoint='agent.claude-code' AND "
                   "provider='anthropic'"),
            "5");
  EXPECT_EQ(
      scalar("SELECT COUNT(*) FROM requests WHERE endpoint='agent.codex' AND provider='openai'"),
      "4");
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM requests WHERE cost_usd IS NULL"), "2");
  EXPECT_EQ(scalar("SELECT tags FROM requests WHERE endpoint='agent.codex' LIMIT 1"),
            "agent,codex");
  std::string a_row =
      "SELECT project || '|' || requested_model || '|' || cache_write_1h_tokens || '|' || "
      "ts_start_ms"
      " FROM requests WHERE id='imp_" +
      Sha256Hex("claude:msg_A:req_A").substr(0, 24) + "'";
  EXPECT_EQ(scalar(a_row.c_str()), std::string("-home-alice-webapp|") + kSonnet + "|500|" +
                                       std::to_string(Ts("2025-10-01T10:15:01Z")));
  sqlite3_close(h);
}

}  // namespace
}  // namespace tollgate::usage
