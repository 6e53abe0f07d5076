#include "usage/importer.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <unordered_map>

#include "common/json.h"
#include "common/util.h"

namespace tollgate::usage {
namespace {

namespace fs = std::filesystem;
using rapidjson::Value;

// Progress is reported at most once per this many bytes (and at each file's end).
constexpr uint64_t kProgressStepBytes = 1 << 20;

// Reads the token count `obj.name` into *out: absent or null is 0. Returns false
// (with *error set) when it is present but not a non-negative integer.
bool ReadCount(const Value& obj, const char* name, std::string_view where, int64_t* out,
               std::string* error) {
  *out = 0;
  const Value* v = Member(obj, name);
  if (!v || v->IsNull()) return true;
  if (v->IsInt64() && v->GetInt64() >= 0) {
    *out = v->GetInt64();
    return true;
  }
  *error = std::string(where) + "." + name + " is not a non-negative integer";
  return false;
}

std::string ImportId(std::string_view key) { return "imp_" + Sha256Hex(key).substr(0, 24); }

std::string FileStem(const std::string& path) { return fs::path(path).stem().string(); }

// Codex names its files rollout-<local time>-<session uuid>.jsonl; the uuid is the
// session id when a file lacks its session_meta line.
std::string CodexSessionFromFileName(const std::string& path) {
  std::string stem = FileStem(path);
  if (stem.size() >= 36) {
    std::string tail = stem.substr(stem.size() - 36);
    if (tail[8] == '-' && tail[13] == '-' && tail[18] == '-' && tail[23] == '-') return tail;
  }
  return stem;
}

// Token counts of one Codex TokenUsage object. In Codex (as in the OpenAI API)
// cached_input_tokens is part of input_tokens, and reasoning_output_tokens is part
// of output_tokens; total_tokens = input_tokens + output_tokens. Some events do
// not hold to that (reasoning above output, a total above input + output): the
// total is then believed, and what it holds beyond input + output is reasoning
// (then output) that output_tokens left out.
struct CodexTokens {
  int64_t input = 0, cached = 0, cache_write = 0, output = 0, reasoning = 0, total = 0;
  bool operator==(const CodexTokens&) const = default;
  bool Zero() const { return input == 0 && output == 0 && total == 0; }
  bool AtLeast(const CodexTokens& o) const {
    return input >= o.input && cached >= o.cached && cache_write >= o.cache_write &&
           output >= o.output && reasoning >= o.reasoning && total >= o.total;
  }
  CodexTokens Minus(const CodexTokens& o) const {
    return {input - o.input,   cached - o.cached,       cache_write - o.cache_write,
            output - o.output, reasoning - o.reasoning, total - o.total};
  }
  std::string Key() const {
    return std::to_string(input) + "/" + std::to_string(cached) + "/" +
           std::to_string(cache_write) + "/" + std::to_string(output) + "/" +
           std::to_string(reasoning) + "/" + std::to_string(total);
  }
  // False when the counts break Codex's rules above (ToUsage then keeps every
  // token the total counts).
  bool Consistent() const { return reasoning <= output && (total == 0 || total == input + output); }
  // Maps onto tollgate's disjoint classes. The cache write count only appears in
  // newer Codex builds; like cached input it is a part of input_tokens.
  pricing::Usage ToUsage() const {
    pricing::Usage u;
    u.cache_read = std::min(cached, input);
    u.cache_write_5m = std::min(cache_write, input - u.cache_read);
    u.input = input - u.cache_read - u.cache_write_5m;
    // Output and reasoning together: output_tokens, or what the total holds
    // beyond the input when that is more.
    const int64_t all_output = std::max(output, total - input);
    u.reasoning = std::min(reasoning, all_output);
    u.output = all_output - u.reasoning;
    return u;
  }
};

bool ReadCodexTokens(const Value& v, std::string_view where, CodexTokens* t, std::string* error) {
  if (!v.IsObject()) {
    *error = std::string(where) + " is not an object";
    return false;
  }
  return ReadCount(v, "input_tokens", where, &t->input, error) &&
         ReadCount(v, "cached_input_tokens", where, &t->cached, error) &&
         ReadCount(v, "cache_write_input_tokens", where, &t->cache_write, error) &&
         ReadCount(v, "output_tokens", where, &t->output, error) &&
         ReadCount(v, "reasoning_output_tokens", where, &t->reasoning, error) &&
         ReadCount(v, "total_tokens", where, &t->total, error);
}

// What a Codex file has said so far; token_count events are interpreted against it.
struct CodexFileState {
  std::string session, cwd, model;
  std::optional<CodexTokens> prev_total;
  std::optional<CodexTokens> prev_last;
  int64_t prev_ts = 0;
  int64_t ordinal = 0;
  bool warned_no_model = false;
  bool warned_inconsistent = false;
};

class Importer {
 public:
  explicit Importer(const ImportOptions& o) : o_(o) {}

  void Run(const std::vector<SourceFile>& files) {
    for (const auto& f : files) total_bytes_ += f.bytes;
    for (const auto& f : files) ReadFile(f);
    Report(true);
    Finish();
  }

  ImportResult TakeResult() { return std::move(r_); }

 private:
  void Diag(const std::string& file, int64_t line, std::string message) {
    ++r_.diagnostics_total;
    if (r_.diagnostics.size() < o_.max_diagnostics)
      r_.diagnostics.push_back({file, line, std::move(message)});
  }

  void Report(bool force) {
    if (!o_.progress) return;
    if (!force && done_bytes_ - reported_bytes_ < kProgressStepBytes) return;
    reported_bytes_ = done_bytes_;
    o_.progress(std::min(done_bytes_, total_bytes_), total_bytes_);
  }

  void ReadFile(const SourceFile& f) {
    std::ifstream in(f.path, std::ios::binary);
    if (!in) {
      Diag(f.path, 0, "cannot open: " + std::string(std::strerror(errno)));
      done_bytes_ += f.bytes;
      return;
    }
    ++r_.files;
    CodexFileState codex;
    std::string line;
    int64_t lineno = 0;
    uint64_t file_bytes = 0;
    while (std::getline(in, line)) {
      ++lineno;
      ++r_.lines;
      bool complete = !in.eof();  // false: the last line had no newline
      file_bytes += line.size() + (complete ? 1 : 0);
      done_bytes_ += line.size() + (complete ? 1 : 0);
      ParseLine(f, lineno, line, complete, codex);
      Report(false);
    }
    if (in.bad()) Diag(f.path, lineno + 1, "read error: " + std::string(std::strerror(errno)));
    r_.bytes += file_bytes;
    // The file may have grown or shrunk since discovery; keep the bar consistent.
    if (file_bytes < f.bytes) done_bytes_ += f.bytes - file_bytes;
    Report(true);
  }

  void ParseLine(const SourceFile& f, int64_t lineno, std::string& line, bool complete,
                 CodexFileState& codex) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (lineno == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
    if (Trim(line).empty()) return;
    rapidjson::Document doc;
    const JsonParse parsed = ParseJson(doc, line);
    if (!parsed.ok) {
      std::string m = "invalid JSON at column " + std::to_string(parsed.offset + 1) + ": " + parsed.message;
      if (!complete) m += " (last line is incomplete; is the agent still writing this file?)";
      Diag(f.path, lineno, m + "; skipped");
      return;
    }
    if (!doc.IsObject()) {
      Diag(f.path, lineno, "not a JSON object; skipped");
      return;
    }
    if (f.agent == Agent::kClaudeCode)
      ClaudeLine(f, lineno, doc);
    else
      CodexLine(f, lineno, doc, codex);
  }

  // Claude Code: one line per assistant message content block; each carries the
  // message's usage. Lines of one API call share message.id and requestId.
  void ClaudeLine(const SourceFile& f, int64_t lineno, const Value& doc) {
    const Value* msg = Member(doc, "message");
    const Value* usage = msg ? Member(*msg, "usage") : nullptr;
    if (!usage || usage->IsNull()) {
      if (Str(Member(doc, "type")) == "assistant")
        Diag(f.path, lineno, "assistant line without message.usage; skipped");
      return;
    }
    if (!usage->IsObject()) {
      Diag(f.path, lineno, "message.usage is not an object; skipped");
      return;
    }
    std::string_view model = Str(Member(*msg, "model"));
    // Claude Code writes "<synthetic>" messages itself (API errors, interruptions):
    // no model was called.
    if (model == "<synthetic>") return;
    std::string_view ts_text = Str(Member(doc, "timestamp"));
    auto ts = ParseTimestampMs(ts_text);
    if (!ts) {
      Diag(f.path, lineno, "missing or invalid timestamp; skipped");
      return;
    }
    int64_t in = 0, out = 0, cw = 0, cr = 0, cw5 = 0, cw1 = 0;
    std::string err;
    bool ok = ReadCount(*usage, "input_tokens", "message.usage", &in, &err) &&
              ReadCount(*usage, "output_tokens", "message.usage", &out, &err) &&
              ReadCount(*usage, "cache_creation_input_tokens", "message.usage", &cw, &err) &&
              ReadCount(*usage, "cache_read_input_tokens", "message.usage", &cr, &err);
    const Value* split = Member(*usage, "cache_creation");
    bool has_split = ok && split && split->IsObject();
    if (has_split)
      ok = ReadCount(*split, "ephemeral_5m_input_tokens", "message.usage.cache_creation", &cw5,
                     &err) &&
           ReadCount(*split, "ephemeral_1h_input_tokens", "message.usage.cache_creation", &cw1,
                     &err);
    if (!ok) {
      Diag(f.path, lineno, err + "; skipped");
      return;
    }
    Entry e;
    e.agent = Agent::kClaudeCode;
    e.ts_ms = *ts;
    e.model = std::string(model);
    e.project = f.project;
    e.session = std::string(Str(Member(doc, "sessionId")));
    if (e.session.empty()) e.session = FileStem(f.path);
    // Claude's input_tokens already excludes cache reads and writes.
    e.usage.input = in;
    e.usage.cache_read = cr;
    e.usage.output = out;  // includes any extended-thinking tokens: billed as output
    if (has_split) {
      // Trust the split; tokens the split does not account for default to 5m,
      // Anthropic's default cache lifetime.
      e.usage.cache_write_5m = cw5 + std::max<int64_t>(0, cw - cw5 - cw1);
      e.usage.cache_write_1h = cw1;
    } else {
      e.usage.cache_write_5m = cw;
    }
    std::string_view msg_id = Str(Member(*msg, "id"));
    std::string_view req_id = Str(Member(doc, "requestId"));
    std::string key;
    if (!msg_id.empty()) {
      key = "claude:" + std::string(msg_id) + ":" + std::string(req_id);
    } else {
      // Nothing identifies the call: every such line stands alone.
      std::string_view uuid = Str(Member(doc, "uuid"));
      key = "claude-line:" +
            (uuid.empty() ? f.path + ":" + std::to_string(lineno) : std::string(uuid));
    }
    e.id = ImportId(key);
    auto [it, inserted] = by_id_.try_emplace(e.id, r_.entries.size());
    if (inserted) {
      r_.entries.push_back(std::move(e));
      return;
    }
    // A repeat of a call already seen (another content block of the same message,
    // or the same session copied into another file). Streaming snapshots only
    // grow, so the field-wise maximum is the call's final usage.
    ++r_.duplicates;
    pricing::Usage& u = r_.entries[it->second].usage;
    u.input = std::max(u.input, e.usage.input);
    u.cache_read = std::max(u.cache_read, e.usage.cache_read);
    u.cache_write_5m = std::max(u.cache_write_5m, e.usage.cache_write_5m);
    u.cache_write_1h = std::max(u.cache_write_1h, e.usage.cache_write_1h);
    u.output = std::max(u.output, e.usage.output);
  }

  // Codex CLI rollout files: session_meta (session id, cwd), turn_context (the
  // model for the turns that follow), and event_msg/token_count (usage).
  void CodexLine(const SourceFile& f, int64_t lineno, const Value& doc, CodexFileState& st) {
    std::string_view type = Str(Member(doc, "type"));
    const Value* payload = Member(doc, "payload");
    if (type == "session_meta" && payload) {
      if (auto id = Str(Member(*payload, "id")); !id.empty()) st.session = std::string(id);
      if (auto cwd = Str(Member(*payload, "cwd")); !cwd.empty()) st.cwd = std::string(cwd);
      return;
    }
    if (type == "turn_context" && payload) {
      if (auto model = Str(Member(*payload, "model")); !model.empty())
        st.model = std::string(model);
      if (auto cwd = Str(Member(*payload, "cwd")); !cwd.empty() && st.cwd.empty())
        st.cwd = std::string(cwd);
      return;
    }
    if (type != "event_msg" || !payload || Str(Member(*payload, "type")) != "token_count") return;
    const Value* info = Member(*payload, "info");
    if (!info || info->IsNull()) return;  // a rate-limit-only update: no tokens
    if (!info->IsObject()) {
      Diag(f.path, lineno, "token_count payload.info is not an object; skipped");
      return;
    }
    const Value* last_v = Member(*info, "last_token_usage");
    const Value* total_v = Member(*info, "total_token_usage");
    if (last_v && last_v->IsNull()) last_v = nullptr;
    if (total_v && total_v->IsNull()) total_v = nullptr;
    if (!last_v && !total_v) {
      Diag(f.path, lineno, "token_count without last_token_usage or total_token_usage; skipped");
      return;
    }
    std::optional<CodexTokens> last, total;
    std::string err;
    if (last_v &&
        !ReadCodexTokens(*last_v, "payload.info.last_token_usage", &last.emplace(), &err)) {
      Diag(f.path, lineno, err + "; skipped");
      return;
    }
    if (total_v &&
        !ReadCodexTokens(*total_v, "payload.info.total_token_usage", &total.emplace(), &err)) {
      Diag(f.path, lineno, err + "; skipped");
      return;
    }
    auto ts = ParseTimestampMs(Str(Member(doc, "timestamp")));
    if (!ts) {
      Diag(f.path, lineno, "missing or invalid timestamp; skipped");
      return;
    }
    // Codex repeats token_count events (e.g. once per UI refresh) without new
    // usage: the cumulative total is then unchanged. Without a total, a repeat is
    // the same last usage at the same instant.
    bool repeat = total ? (st.prev_total && *total == *st.prev_total)
                        : (st.prev_last && *last == *st.prev_last && *ts == st.prev_ts);
    std::optional<CodexTokens> prev_total = st.prev_total;
    if (total) st.prev_total = total;
    if (last) st.prev_last = last;
    st.prev_ts = *ts;
    if (repeat) {
      ++r_.duplicates;
      return;
    }
    CodexTokens delta;
    if (last)
      delta = *last;
    else if (prev_total && total->AtLeast(*prev_total))
      delta = total->Minus(*prev_total);
    else
      delta = *total;  // the first event, or a new cumulative series
    if (delta.Zero()) return;

    if (st.session.empty()) st.session = CodexSessionFromFileName(f.path);
    if (st.model.empty() && !st.warned_no_model) {
      st.warned_no_model = true;
      Diag(f.path, lineno,
           "token usage before any turn_context names a model; counted with cost unknown");
    }
    if (!delta.Consistent() && !st.warned_inconsistent) {
      st.warned_inconsistent = true;
      Diag(f.path, lineno,
           "token_count counts disagree (input " + std::to_string(delta.input) + ", output " +
               std::to_string(delta.output) + ", reasoning " + std::to_string(delta.reasoning) +
               ", total " + std::to_string(delta.total) +
               "; expected reasoning <= output and total = input + output): counted as " +
               std::to_string(delta.ToUsage().Total()) +
               " tokens, what the total holds beyond input + output as reasoning (reported once "
               "per file)");
    }
    Entry e;
    e.agent = Agent::kCodex;
    e.ts_ms = *ts;
    e.session = st.session;
    e.project = st.cwd;
    e.model = st.model;
    e.usage = delta.ToUsage();
    ++st.ordinal;
    // The cumulative total identifies a turn within its session whatever the
    // repeats around it; without one, the event's time and position do.
    std::string key =
        "codex:" + st.session + ":" +
        (total ? total->Key() : std::to_string(*ts) + ":" + std::to_string(st.ordinal));
    e.id = ImportId(key);
    if (!by_id_.try_emplace(e.id, r_.entries.size()).second) {
      ++r_.duplicates;  // the same session file reached twice
      return;
    }
    r_.entries.push_back(std::move(e));
  }

  void Finish() {
    std::map<std::string, uint64_t> unpriced;
    std::vector<Entry> kept;
    kept.reserve(r_.entries.size());
    for (auto& e : r_.entries) {
      if ((o_.from_ms && e.ts_ms < *o_.from_ms) || (o_.to_ms && e.ts_ms >= *o_.to_ms)) {
        ++r_.out_of_range;
        continue;
      }
      const pricing::ModelPrice* p =
          o_.prices && !e.model.empty() ? o_.prices->Find(e.model) : nullptr;
      if (p == nullptr && o_.prices != nullptr) {
        if (auto alias = o_.model_aliases.find(e.model); alias != o_.model_aliases.end())
          p = o_.prices->Find(alias->second);
      }
      if (p) {
        e.cost = pricing::ComputeCost(*p, e.usage);
        e.cost_known = true;
      } else {
        ++unpriced[e.model.empty() ? "(unknown)" : e.model];
      }
      kept.push_back(std::move(e));
    }
    std::sort(kept.begin(), kept.end(), [](const Entry& a, const Entry& b) {
      return a.ts_ms != b.ts_ms ? a.ts_ms < b.ts_ms : a.id < b.id;
    });
    r_.entries = std::move(kept);
    r_.unpriced_models.assign(unpriced.begin(), unpriced.end());
  }

  const ImportOptions& o_;
  ImportResult r_;
  std::unordered_map<std::string, size_t> by_id_;  // entry id -> index in r_.entries
  uint64_t total_bytes_ = 0, done_bytes_ = 0, reported_bytes_ = 0;
};

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

std::string HomeDir() {
  const char* h = std::getenv("HOME");
  return h ? h : "";
}

}  // namespace

std::string_view AgentName(Agent agent) {
  return agent == Agent::kClaudeCode ? "claude-code" : "codex";
}

std::string Diagnostic::ToString() const {
  return file + ":" + std::to_string(line) + ": " + message;
}

std::vector<std::string> DefaultClaudeRoots() {
  std::vector<std::string> roots;
  if (const char* env = std::getenv("CLAUDE_CONFIG_DIR"); env && *env) {
    std::string_view s = env;
    size_t pos = 0;
    while (pos <= s.size()) {
      size_t c = s.find(',', pos);
      std::string_view part =
          Trim(s.substr(pos, c == std::string_view::npos ? std::string_view::npos : c - pos));
      if (!part.empty()) roots.emplace_back(part);
      if (c == std::string_view::npos) break;
      pos = c + 1;
    }
    return roots;
  }
  std::string home = HomeDir();
  if (home.empty()) return roots;
  roots.push_back(home + "/.config/claude");
  roots.push_back(home + "/.claude");
  return roots;
}

std::vector<std::string> DefaultCodexRoots() {
  if (const char* env = std::getenv("CODEX_HOME"); env && *env) return {env};
  std::string home = HomeDir();
  if (home.empty()) return {};
  return {home + "/.codex"};
}

std::vector<SourceFile> DiscoverFiles(Agent agent, const std::vector<std::string>& roots,
                                      std::vector<Diagnostic>* diagnostics) {
  std::vector<SourceFile> out;
  std::set<std::string> seen;  // canonical paths
  const char* sub = agent == Agent::kClaudeCode ? "projects" : "sessions";
  for (const auto& root_arg : roots) {
    std::error_code ec;
    fs::path root = root_arg;
    if (!fs::is_directory(root, ec)) continue;
    if (fs::is_directory(root / sub, ec)) root /= sub;
    fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec),
        end;
    if (ec) {
      if (diagnostics) diagnostics->push_back({root.string(), 0, "cannot list: " + ec.message()});
      continue;
    }
    for (; it != end; it.increment(ec)) {
      if (ec) {
        if (diagnostics) diagnostics->push_back({root.string(), 0, "cannot list: " + ec.message()});
        break;
      }
      const fs::directory_entry& de = *it;
      if (de.path().extension() != ".jsonl" || !de.is_regular_file(ec)) continue;
      std::string canonical = fs::weakly_canonical(de.path(), ec).string();
      if (ec) canonical = de.path().string();
      if (!seen.insert(canonical).second) continue;
      SourceFile f;
      f.agent = agent;
      f.path = de.path().string();
      f.bytes = de.file_size(ec);
      if (ec) f.bytes = 0;
      if (agent == Agent::kClaudeCode) {
        fs::path rel = de.path().lexically_relative(root);
        auto first = rel.begin();
        f.project = std::next(first) != rel.end() ? first->string() : root.filename().string();
      }
      out.push_back(std::move(f));
    }
  }
  std::sort(out.begin(), out.end(),
            [](const SourceFile& a, const SourceFile& b) { return a.path < b.path; });
  return out;
}

ImportResult Import(const std::vector<SourceFile>& files, const ImportOptions& options) {
  Importer imp(options);
  imp.Run(files);
  return imp.TakeResult();
}

std::optional<int64_t> ParseTimestampMs(std::string_view s) {
  int y, mo, d, h = 0, mi = 0, sec = 0;
  if (!Digits(s, 0, 4, &y) || s.size() < 10 || s[4] != '-' || !Digits(s, 5, 2, &mo) ||
      s[7] != '-' || !Digits(s, 8, 2, &d))
    return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return std::nullopt;
  size_t pos = 10;
  int64_t frac_ms = 0;
  if (pos < s.size() && (s[pos] == 'T' || s[pos] == 't' || s[pos] == ' ')) {
    if (!Digits(s, pos + 1, 2, &h) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !Digits(s, pos + 4, 2, &mi))
      return std::nullopt;
    pos += 6;
    if (pos < s.size() && s[pos] == ':') {
      if (!Digits(s, pos + 1, 2, &sec)) return std::nullopt;
      pos += 3;
      if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
        ++pos;
        int scale = 100, n = 0;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
          frac_ms += (s[pos] - '0') * scale;
          scale /= 10;
          ++pos;
          ++n;
        }
        if (n == 0) return std::nullopt;
      }
    }
    if (h > 23 || mi > 59 || sec > 60) return std::nullopt;
  }
  int64_t offset_min = 0;
  if (pos < s.size()) {
    if ((s[pos] == 'Z' || s[pos] == 'z') && pos + 1 == s.size()) {
      ++pos;
    } else if (s[pos] == '+' || s[pos] == '-') {
      int oh, om = 0;
      if (!Digits(s, pos + 1, 2, &oh)) return std::nullopt;
      size_t p = pos + 3;
      if (p < s.size() && s[p] == ':') ++p;
      if (p < s.size() && !Digits(s, p, 2, &om)) return std::nullopt;
      if (p < s.size()) p += 2;
      if (p != s.size()) return std::nullopt;
      offset_min = (oh * 60 + om) * (s[pos] == '-' ? -1 : 1);
      pos = s.size();
    } else {
      return std::nullopt;
    }
  }
  int64_t days = DaysFromCivil(y, mo, d);
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - offset_min * 60;
  return secs * 1000 + frac_ms;
}

}  // namespace tollgate::usage
