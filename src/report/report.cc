#include "report/report.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>
#include <sstream>

#include "common/text.h"
#include "common/util.h"
#include "ledger/storage.h"

namespace tollgate::report {
namespace {

std::optional<ledger::GroupKey> ParseGroupKey(const std::string& by) {
  using ledger::GroupKey;
  static const std::pair<const char*, GroupKey> kKeys[] = {
      {"day", GroupKey::kDay},     {"week", GroupKey::kWeek},         {"month", GroupKey::kMonth},
      {"model", GroupKey::kModel}, {"provider", GroupKey::kProvider}, {"key", GroupKey::kKey},
      {"user", GroupKey::kUser},   {"project", GroupKey::kProject},   {"tag", GroupKey::kTag},
      {"lever", GroupKey::kLever}, {"session", GroupKey::kSession}};
  for (const auto& [name, key] : kKeys)
    if (by == name) return key;
  return std::nullopt;
}

std::string Money(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, v >= 100 ? "%.2f" : "%.6f", v);
  return buf;
}

// {from, to, by, totals, rows}: the shape of every JSON report; `row(x, with_group)` writes one row.
template <class Writer, class RowFn>
std::string JsonEnvelope(const Report& r, rapidjson::StringBuffer& sb, Writer& w, RowFn&& row) {
  w.StartObject();
  w.Key("from");
  w.String(r.from.c_str());
  w.Key("to");
  w.String(r.to.c_str());
  w.Key("by");
  w.String(r.by.c_str());
  w.Key("totals");
  row(r.totals, false);
  w.Key("rows");
  w.StartArray();
  for (const auto& x : r.rows) row(x, true);
  w.EndArray();
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize()) + "\n";
}

// Columns aligned (the group left, the numbers right), a rule above the total row.
std::string Aligned(const std::vector<std::vector<std::string>>& cells) { return AlignedTable(cells, 1); }

void Add(ReportRow& into, const ReportRow& r) {
  into.cost_usd += r.cost_usd;
  into.tokens += r.tokens;
  into.input_tokens += r.input_tokens;
  into.output_tokens += r.output_tokens;
  into.requests += r.requests;
  into.errors += r.errors;
  into.unknown_cost += r.unknown_cost;
  into.baseline_usd += r.baseline_usd;
  for (int i = 0; i < 5; ++i) into.lever_usd[i] += r.lever_usd[i];
  into.output_tokens_saved += r.output_tokens_saved;
}

}  // namespace

Result<Report> BuildReport(const ledger::LedgerReader& ledger, const ReportOptions& o) {
  Report rep;
  rep.by = o.by;
  const std::optional<ledger::GroupKey> key = ParseGroupKey(o.by);
  if (!key)
    return Status::InvalidArgument("--by must be one of day, week, month, model, provider, key, user, project, tag, lever (got '" +
                                   o.by + "')");
  rep.to = o.to.empty() ? FormatDateUtc(NowUnixMs()) : o.to;
  auto to_ms = ParseDateUtcMs(rep.to);
  if (!to_ms) return Status::InvalidArgument("--to must be a date YYYY-MM-DD (got '" + rep.to + "')");
  rep.from = o.from.empty() ? FormatDateUtc(*to_ms - 29LL * 86400000) : o.from;
  auto from_ms = ParseDateUtcMs(rep.from);
  if (!from_ms) return Status::InvalidArgument("--from must be a date YYYY-MM-DD (got '" + rep.from + "')");
  if (*from_ms > *to_ms) return Status::InvalidArgument("--from " + rep.from + " is after --to " + rep.to);

  TG_ASSIGN_OR_RETURN(std::vector<ledger::GroupTotals> totals,
                      ledger.TotalsByGroup(*key, {*from_ms, *to_ms + 86400000}));
  std::map<std::string, ReportRow> groups;
  for (const ledger::GroupTotals& g : totals) {
    ReportRow r;
    r.group = g.key;
    r.cost_usd = g.cost_usd;
    r.input_tokens = g.input_tokens;
    r.output_tokens = g.output_tokens;
    r.tokens = r.input_tokens + r.output_tokens;
    r.requests = g.requests;
    r.errors = g.errors;
    r.unknown_cost = g.unknown_cost;
    r.baseline_usd = g.baseline_usd;
    r.output_tokens_saved = g.output_tokens_saved;
    for (int i = 0; i < 5; ++i) r.lever_usd[i] = g.lever_usd[i];
    Add(rep.totals, r);
    if (o.by == "tag") {
      // Tags are stored comma-joined; a request counts once under each of its tags.
      std::string_view tags = r.group;
      if (tags.empty()) {
        r.group = "(none)";
        Add(groups[r.group], r);
      }
      size_t pos = 0;
      while (pos < tags.size()) {
        size_t c = tags.find(',', pos);
        std::string t(tags.substr(pos, c == std::string_view::npos ? std::string_view::npos : c - pos));
        ReportRow copy = r;
        copy.group = t;
        Add(groups[t], copy);
        if (c == std::string_view::npos) break;
        pos = c + 1;
      }
    } else {
      if (r.group.empty()) r.group = "(none)";
      Add(groups[r.group], r);
    }
  }
  for (auto& [g, r] : groups) {
    r.group = g;
    rep.rows.push_back(r);
  }
  bool time_bucket = o.by == "day" || o.by == "week" || o.by == "month";
  if (!time_bucket)
    std::stable_sort(rep.rows.begin(), rep.rows.end(),
                     [](const ReportRow& a, const ReportRow& b) { return a.cost_usd > b.cost_usd; });
  return rep;
}

Result<Report> BuildReport(const ReportOptions& o) {
  TG_ASSIGN_OR_RETURN(std::unique_ptr<ledger::Storage> storage, ledger::OpenLedger(o.db_path));
  return BuildReport(*storage->OpenReader(), o);
}

std::string RenderTable(const Report& r) {
  std::vector<std::vector<std::string>> cells;
  cells.push_back({r.by, "requests", "tokens", "input", "output", "errors", "cost_usd"});
  auto add = [&](const ReportRow& x) {
    cells.push_back({x.group, WithThousands(x.requests), WithThousands(x.tokens), WithThousands(x.input_tokens),
                     WithThousands(x.output_tokens), WithThousands(x.errors), Money(x.cost_usd)});
  };
  for (const auto& x : r.rows) add(x);
  ReportRow total = r.totals;
  total.group = "TOTAL";
  add(total);
  std::ostringstream os;
  os << Aligned(cells);
  os << "\n$" << Money(r.totals.cost_usd) << " across " << WithThousands(r.totals.tokens) << " tokens and "
     << WithThousands(r.totals.requests) << " requests (" << r.from << " to " << r.to << ")";
  if (r.totals.unknown_cost > 0)
    os << "; " << r.totals.unknown_cost << " requests have no known price";
  os << "\n";
  return os.str();
}

std::string RenderCsv(const Report& r) {
  std::ostringstream os;
  os << r.by << ",requests,tokens,input_tokens,output_tokens,errors,cost_usd\n";
  for (const auto& x : r.rows) {
    os << CsvField(x.group) << "," << x.requests << "," << x.tokens << "," << x.input_tokens << "," << x.output_tokens << ","
       << x.errors << "," << FormatUsd(x.cost_usd) << "\n";
  }
  return os.str();
}

void WriteRowJson(JsonWriter& w, const ReportRow& x, bool with_group) {
  w.StartObject();
  if (with_group) {
    w.Key("group");
    WriteString(w, x.group);
  }
  w.Key("cost_usd");
  w.Double(x.cost_usd);
  w.Key("tokens");
  w.Int64(x.tokens);
  w.Key("input_tokens");
  w.Int64(x.input_tokens);
  w.Key("output_tokens");
  w.Int64(x.output_tokens);
  w.Key("requests");
  w.Int64(x.requests);
  w.Key("errors");
  w.Int64(x.errors);
  w.Key("unknown_cost_requests");
  w.Int64(x.unknown_cost);
  w.EndObject();
}

std::string RenderJson(const Report& r) {
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  return JsonEnvelope(r, sb, w, [&](const ReportRow& x, bool with_group) { WriteRowJson(w, x, with_group); });
}

namespace {

std::vector<std::string> SavingsHeader(const Report& r) {
  std::vector<std::string> h = {r.by, "requests", "cost_usd", "baseline_usd", "saved_usd", "saved_pct"};
  for (const char* l : kLevers) h.push_back(std::string(l) + "_usd");
  h.push_back("output_tokens_saved");
  return h;
}

std::string Pct(double saved, double baseline) {
  if (baseline <= 0) return "0.0%";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * saved / baseline);
  return buf;
}

std::vector<std::string> SavingsCells(const ReportRow& x, bool pretty) {
  auto money = [&](double v) { return pretty ? Money(v) : FormatUsd(v); };
  std::vector<std::string> c = {x.group, pretty ? WithThousands(x.requests) : std::to_string(x.requests), money(x.cost_usd),
                                money(x.baseline_usd), money(x.saved_usd()), Pct(x.saved_usd(), x.baseline_usd)};
  for (double v : x.lever_usd) c.push_back(money(v));
  c.push_back(pretty ? WithThousands(x.output_tokens_saved) : std::to_string(x.output_tokens_saved));
  return c;
}

}  // namespace

std::string RenderSavingsTable(const Report& r) {
  std::vector<std::vector<std::string>> cells;
  cells.push_back(SavingsHeader(r));
  for (const auto& x : r.rows) cells.push_back(SavingsCells(x, true));
  ReportRow total = r.totals;
  total.group = "TOTAL";
  cells.push_back(SavingsCells(total, true));
  std::ostringstream os;
  os << Aligned(cells);
  os << "\nSaved $" << Money(r.totals.saved_usd()) << " of $" << Money(r.totals.baseline_usd) << " ("
     << Pct(r.totals.saved_usd(), r.totals.baseline_usd) << ") that these requests would have cost without tollgate ("
     << r.from << " to " << r.to << ")\n";
  return os.str();
}

std::string RenderSavingsCsv(const Report& r) {
  std::ostringstream os;
  auto line = [&](const std::vector<std::string>& cells) {
    for (size_t i = 0; i < cells.size(); ++i) os << (i ? "," : "") << CsvField(cells[i]);
    os << "\n";
  };
  line(SavingsHeader(r));
  for (const auto& x : r.rows) line(SavingsCells(x, false));
  return os.str();
}

std::string RenderSavingsJson(const Report& r) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  auto row = [&](const ReportRow& x, bool with_group) {
    w.StartObject();
    if (with_group) {
      w.Key("group");
      w.String(x.group.c_str());
    }
    w.Key("requests");
    w.Int64(x.requests);
    w.Key("cost_usd");
    w.Double(x.cost_usd);
    w.Key("baseline_usd");
    w.Double(x.baseline_usd);
    w.Key("saved_usd");
    w.Double(x.saved_usd());
    w.Key("by_lever");
    w.StartObject();
    for (int i = 0; i < 5; ++i) {
      w.Key(kLevers[i]);
      w.Double(x.lever_usd[i]);
    }
    w.EndObject();
    w.Key("output_tokens_saved");
    w.Int64(x.output_tokens_saved);
    w.EndObject();
  };
  return JsonEnvelope(r, sb, w, row);
}

}  // namespace tollgate::report
