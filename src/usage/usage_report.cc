#include "usage/usage_report.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

#include "common/json.h"
#include "common/text.h"
#include "common/util.h"

namespace tollgate::usage {
namespace {

constexpr int64_t kDayMs = 86400000;
constexpr int64_t kHourMs = 3600000;

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// The Monday (UTC) of the week holding `ms`, as in `tollgate report --by week`.
std::string WeekStart(int64_t ms) {
  int64_t days = FloorDiv(ms, kDayMs);
  int64_t since_monday = ((days + 3) % 7 + 7) % 7;  // 1970-01-01 was a Thursday
  return FormatDateUtc((days - since_monday) * kDayMs);
}

void AddUsage(pricing::Usage& into, const pricing::Usage& u) {
  into.input += u.input;
  into.cache_read += u.cache_read;
  into.cache_write_5m += u.cache_write_5m;
  into.cache_write_1h += u.cache_write_1h;
  into.output += u.output;
  into.reasoning += u.reasoning;
}

// Accumulates entries into a row; models are collected in a side set.
struct Acc {
  ReportRow row;
  std::set<std::string> models;
  void Add(const Entry& e) {
    if (row.entries == 0 || e.ts_ms < row.first_ms) row.first_ms = e.ts_ms;
    if (row.entries == 0 || e.ts_ms > row.last_ms) row.last_ms = e.ts_ms;
    ++row.entries;
    AddUsage(row.usage, e.usage);
    if (e.cost_known)
      row.cost_usd += e.cost.Total();
    else
      ++row.unknown_cost_entries;
    models.insert(e.model.empty() ? "(unknown)" : e.model);
  }
  ReportRow Take() {
    row.models.assign(models.begin(), models.end());
    return std::move(row);
  }
};

std::string Money(const ReportRow& r) {
  if (r.entries > 0 && r.unknown_cost_entries == r.entries) return "?";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4f", r.cost_usd);
  return std::string(buf) + (r.unknown_cost_entries > 0 ? "*" : "");
}

// A dollar amount as a JSON number with FormatUsd's digits (at most 10 decimals,
// as `report --format csv` and the x-tollgate-cost header): 0.38121, never
// 0.38120999999999996.
void WriteUsd(JsonWriter& w, double usd) {
  const std::string s = FormatUsd(usd);
  w.RawValue(s.data(), s.size(), rapidjson::kNumberType);
}

void WriteRow(JsonWriter& w, const ReportRow& r, GroupBy by, bool is_total) {
  w.StartObject();
  if (!is_total) {
    w.Key("group");
    w.String(r.group.c_str());
    w.Key("agent");
    w.String(std::string(AgentName(r.agent)).c_str());
    if (by == GroupBy::kSession) {
      w.Key("session");
      w.String(r.group.c_str());
      w.Key("project");
      w.String(r.project.c_str());
    }
    if (by == GroupBy::kBlocks) {
      w.Key("start");
      w.String(FormatIsoUtc(r.block_start_ms).c_str());
      w.Key("end");
      w.String(FormatIsoUtc(r.block_end_ms).c_str());
      w.Key("active");
      w.Bool(r.active);
    }
  }
  if (r.entries > 0) {
    w.Key("first_ts");
    w.String(FormatIsoUtc(r.first_ms).c_str());
    w.Key("last_ts");
    w.String(FormatIsoUtc(r.last_ms).c_str());
  }
  w.Key("models");
  w.StartArray();
  for (const auto& m : r.models) w.String(m.c_str());
  w.EndArray();
  w.Key("entries");
  w.Int64(r.entries);
  w.Key("input_tokens");
  w.Int64(r.usage.input);
  w.Key("cache_read_tokens");
  w.Int64(r.usage.cache_read);
  w.Key("cache_write_5m_tokens");
  w.Int64(r.usage.cache_write_5m);
  w.Key("cache_write_1h_tokens");
  w.Int64(r.usage.cache_write_1h);
  w.Key("output_tokens");
  w.Int64(r.usage.output);
  w.Key("reasoning_tokens");
  w.Int64(r.usage.reasoning);
  w.Key("total_tokens");
  w.Int64(r.usage.Total());
  // null, never 0, when no entry of the row has a known price.
  w.Key("cost_usd");
  if (r.entries > 0 && r.unknown_cost_entries == r.entries)
    w.Null();
  else
    WriteUsd(w, r.cost_usd);
  w.Key("unknown_cost_entries");
  w.Int64(r.unknown_cost_entries);
  w.EndObject();
}

}  // namespace

std::optional<GroupBy> ParseGroupBy(std::string_view name) {
  if (name == "daily") return GroupBy::kDaily;
  if (name == "weekly") return GroupBy::kWeekly;
  if (name == "monthly") return GroupBy::kMonthly;
  if (name == "session") return GroupBy::kSession;
  if (name == "blocks") return GroupBy::kBlocks;
  return std::nullopt;
}

std::string_view GroupByName(GroupBy by) {
  switch (by) {
    case GroupBy::kDaily:
      return "daily";
    case GroupBy::kWeekly:
      return "weekly";
    case GroupBy::kMonthly:
      return "monthly";
    case GroupBy::kSession:
      return "session";
    case GroupBy::kBlocks:
      return "blocks";
  }
  return "daily";
}

std::string FormatIsoUtc(int64_t unix_ms) {
  int64_t ms_of_day = unix_ms - FloorDiv(unix_ms, kDayMs) * kDayMs;
  int64_t s = ms_of_day / 1000;
  char buf[32];
  std::snprintf(buf, sizeof buf, "T%02d:%02d:%02dZ", static_cast<int>(s / 3600),
                static_cast<int>(s / 60 % 60), static_cast<int>(s % 60));
  return FormatDateUtc(unix_ms) + buf;
}

Report BuildReport(const ImportResult& result, GroupBy by, int64_t now_ms) {
  Report rep;
  rep.by = by;
  rep.files = result.files;
  rep.lines = result.lines;
  rep.duplicates = result.duplicates;
  rep.diagnostics = result.diagnostics_total;
  rep.out_of_range = result.out_of_range;
  rep.unpriced_models = result.unpriced_models;

  Acc totals;
  // Keyed so that iteration order is the report order for time buckets.
  std::map<std::pair<std::string, int>, Acc> groups;
  // Blocks: entries are sorted by time, so each agent's open block is its last.
  std::map<int, std::vector<Acc>> blocks;
  for (const Entry& e : result.entries) {
    totals.Add(e);
    int agent = static_cast<int>(e.agent);
    if (by == GroupBy::kBlocks) {
      auto& list = blocks[agent];
      if (list.empty() || e.ts_ms >= list.back().row.block_end_ms) {
        Acc a;
        a.row.agent = e.agent;
        a.row.block_start_ms = FloorDiv(e.ts_ms, kHourMs) * kHourMs;
        a.row.block_end_ms = a.row.block_start_ms + kBlockMs;
        a.row.group = FormatIsoUtc(a.row.block_start_ms);
        a.row.active = now_ms < a.row.block_end_ms;
        list.push_back(std::move(a));
      }
      list.back().Add(e);
      continue;
    }
    std::string key;
    switch (by) {
      case GroupBy::kDaily:
        key = FormatDateUtc(e.ts_ms);
        break;
      case GroupBy::kWeekly:
        key = WeekStart(e.ts_ms);
        break;
      case GroupBy::kMonthly:
        key = FormatDateUtc(e.ts_ms).substr(0, 7);
        break;
      default:
        key = e.session;
        break;
    }
    Acc& a = groups[{key, agent}];
    if (a.row.entries == 0) {
      a.row.group = key;
      a.row.agent = e.agent;
      a.row.project = e.project;
    }
    a.Add(e);
  }
  for (auto& [k, a] : groups) rep.rows.push_back(a.Take());
  for (auto& [k, list] : blocks)
    for (auto& a : list) rep.rows.push_back(a.Take());
  if (by == GroupBy::kSession)
    std::stable_sort(rep.rows.begin(), rep.rows.end(),
                     [](const ReportRow& a, const ReportRow& b) { return a.last_ms < b.last_ms; });
  if (by == GroupBy::kBlocks)
    std::stable_sort(rep.rows.begin(), rep.rows.end(), [](const ReportRow& a, const ReportRow& b) {
      return a.block_start_ms != b.block_start_ms ? a.block_start_ms < b.block_start_ms
                                                  : a.agent < b.agent;
    });
  rep.totals = totals.Take();
  rep.totals.group = "TOTAL";
  return rep;
}

std::string RenderTable(const Report& r) {
  const bool session = r.by == GroupBy::kSession, blocks = r.by == GroupBy::kBlocks;
  std::vector<std::string> header = {std::string(session  ? "session"
                                                 : blocks ? "block_start"
                                                          : GroupByName(r.by)),
                                     "agent"};
  if (session) header.push_back("project");
  if (blocks) header.push_back("status");
  for (const char* h :
       {"models", "input", "cache_write", "cache_read", "output", "reasoning", "total", "cost_usd"})
    header.push_back(h);
  std::vector<std::vector<std::string>> cells = {header};
  auto add = [&](const ReportRow& x, bool total) {
    std::vector<std::string> c = {x.group, total ? "" : std::string(AgentName(x.agent))};
    if (session) c.push_back(total ? "" : x.project);
    if (blocks) c.push_back(total ? "" : x.active ? "active" : "");
    c.push_back(total ? "" : Join(x.models, ","));
    for (int64_t v : {x.usage.input, x.usage.cache_write_5m + x.usage.cache_write_1h,
                      x.usage.cache_read, x.usage.output, x.usage.reasoning, x.usage.Total()})
      c.push_back(WithThousands(v));
    c.push_back(Money(x));
    cells.push_back(std::move(c));
  };
  for (const auto& x : r.rows) add(x, false);
  add(r.totals, true);
  const size_t text_cols =
      header.size() - 7;  // left-aligned: group, agent, [project|status], models
  std::ostringstream os;
  os << AlignedTable(cells, text_cols);
  os << "\n$" << Money(r.totals) << " across " << WithThousands(r.totals.usage.Total())
     << " tokens and " << WithThousands(r.totals.entries) << " model calls";
  if (!r.from.empty() || !r.to.empty())
    os << " (" << (r.from.empty() ? "start" : r.from) << " to " << (r.to.empty() ? "today" : r.to)
       << ")";
  os << "\n";
  if (r.totals.unknown_cost_entries > 0) {
    os << "* " << WithThousands(r.totals.unknown_cost_entries)
       << " calls have no known price and are not in the cost; models:";
    for (const auto& [m, n] : r.unpriced_models) os << " " << m << " (" << n << ")";
    os << "\n  (add a price under pricing.overrides in a config and pass --config)\n";
  }
  return os.str();
}

std::string RenderJson(const Report& r) {
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  w.StartObject();
  w.Key("by");
  w.String(std::string(GroupByName(r.by)).c_str());
  w.Key("from");
  if (r.from.empty())
    w.Null();
  else
    w.String(r.from.c_str());
  w.Key("to");
  if (r.to.empty())
    w.Null();
  else
    w.String(r.to.c_str());
  w.Key("totals");
  WriteRow(w, r.totals, r.by, true);
  w.Key("rows");
  w.StartArray();
  for (const auto& x : r.rows) WriteRow(w, x, r.by, false);
  w.EndArray();
  w.Key("unpriced_models");
  w.StartArray();
  for (const auto& [m, n] : r.unpriced_models) {
    w.StartObject();
    w.Key("model");
    w.String(m.c_str());
    w.Key("entries");
    w.Uint64(n);
    w.EndObject();
  }
  w.EndArray();
  w.Key("import");
  w.StartObject();
  w.Key("files");
  w.Uint64(r.files);
  w.Key("lines");
  w.Uint64(r.lines);
  w.Key("duplicates");
  w.Uint64(r.duplicates);
  w.Key("diagnostics");
  w.Uint64(r.diagnostics);
  w.Key("out_of_range");
  w.Uint64(r.out_of_range);
  w.EndObject();
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize()) + "\n";
}

}  // namespace tollgate::usage
