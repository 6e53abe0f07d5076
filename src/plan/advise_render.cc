#include <algorithm>
#include <cmath>
#include <sstream>

#include "common/json.h"
#include "common/text.h"
#include "common/util.h"
#include "plan/advise.h"
#include "plan/render.h"

namespace tollgate::plan {
namespace {

using Cells = std::vector<std::vector<std::string>>;

struct Table {
  std::string title;
  Cells cells;  // the first row is the header
};

std::string Group(const ModelTraffic& t) { return t.model.empty() ? "(all)" : t.model; }
std::string Num(double v) { return WithThousands(std::llround(v)); }
std::string Pct(double v) { return FormatNumber(v < 0.1 ? "%.1f%%" : "%.0f%%", v * 100); }
std::string Span2(Span s, std::string (*f)(double)) {
  return s.low == s.high ? f(s.low) : f(s.low) + "–" + f(s.high);
}
std::string Int(double v) { return FormatNumber("%.0f", v); }
std::string Volume(double n) {
  if (n >= 1e9) return FormatNumber("%.1fB", n / 1e9);
  return FormatNumber("%.0fM", n / 1e6);
}
std::string PctSpan(Span s) {
  return s.low == s.high ? Pct(s.low) : Pct(s.low) + "–" + Pct(s.high);
}

std::string Heading(const Advice& a) {
  return "Traffic " + FormatDateUtc(a.traffic.from_ms) + " to " +
         FormatDateUtc(a.traffic.end_ms - 1) + " (" + FormatNumber("%g", a.traffic.all.days) +
         " days, by " + (a.traffic.by_requested ? "requested" : "served") + " model)";
}

std::string ModelLine(const ModelAdvice& m) {
  return Group(m.traffic) + ": " + std::to_string(m.input_tokens_per_request) + " input / " +
         std::to_string(m.output_tokens_per_request) + " output tokens per request, peak " +
         std::to_string(m.traffic.peak_concurrency) + " concurrent generations (" +
         FormatDateUtc(m.traffic.peak_at_ms) + "), API " + Money(m.api_usd_per_month) + "/month (" +
         Money(m.api_usd_per_mtok_output) + " per million output tokens)";
}

std::vector<Table> Tables(const Advice& a) {
  std::vector<Table> out;
  Table traffic{Heading(a),
                {{"model", "requests/day", "input/day", "output/day", "cached input", "peak",
                  "mean", "API $/month"}}};
  std::vector<const ModelTraffic*> rows;
  for (const ModelTraffic& t : a.traffic.models) rows.push_back(&t);
  if (a.traffic.models.size() != 1) rows.push_back(&a.traffic.all);
  for (const ModelTraffic* t : rows)
    traffic.cells.push_back({Group(*t), Num(t->PerDay(static_cast<double>(t->requests))),
                             Num(t->PerDay(static_cast<double>(t->input_tokens))),
                             Num(t->PerDay(static_cast<double>(t->output_tokens))),
                             Pct(t->CachedShare()), std::to_string(t->peak_concurrency),
                             FormatNumber("%.2f", t->mean_concurrency),
                             Money(t->PerDay(t->api_usd) * 30)});
  out.push_back(std::move(traffic));
  Table hours{"p95 concurrent generations by hour of day (UTC)", {{"model"}}};
  for (int h = 0; h < 24; ++h) hours.cells[0].push_back(FormatNumber("%02.0f", h));
  for (const ModelTraffic* t : rows) {
    std::vector<std::string> line{Group(*t)};
    for (int64_t v : t->p95_concurrency_by_hour) line.push_back(std::to_string(v));
    hours.cells.push_back(std::move(line));
  }
  out.push_back(std::move(hours));
  for (const ModelAdvice& m : a.models) {
    Table t{ModelLine(m),
            {{"candidate", "GPU", "replica", "replicas", "GPUs", "rented $/month", "owned $/month",
              "utilization", "$/Mtok out", "break-even out tok/month"}}};
    int unfit = 0;
    for (const Candidate& c : m.candidates) {
      if (!c.fits) {
        ++unfit;
        continue;
      }
      t.cells.push_back({c.model + " " + c.quantization, c.gpu, std::to_string(c.replica_gpus),
                         Span2(c.replicas, Int), Span2(c.gpus, Int),
                         Span2(c.rented_usd_per_month, Money),
                         c.owned_usd_per_month ? Span2(*c.owned_usd_per_month, Money) : "-",
                         PctSpan(c.utilization), Span2(c.usd_per_mtok, Money),
                         Span2(c.break_even_output_tokens_per_month, Volume)});
    }
    if (unfit > 0)
      t.title +=
          "; " + std::to_string(unfit) + " model × GPU pairs do not fit one server (JSON: why_not)";
    out.push_back(std::move(t));
  }
  return out;
}

std::string TextGrid(const Cells& cells) {
  std::vector<size_t> width(cells[0].size(), 0);
  auto len = [](const std::string& s) {  // UTF-8 code points, so that "–" counts once
    return static_cast<size_t>(
        std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
  };
  for (const auto& row : cells)
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], len(row[i]));
  std::ostringstream os;
  for (const auto& row : cells) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      const std::string pad(width[i] - len(row[i]), ' ');
      line += (i ? "  " : "  ") + (i == 0 ? row[i] + pad : pad + row[i]);
    }
    os << line << "\n";
  }
  return os.str();
}

std::string Sentences(const Advice& a, const char* bullet) {
  std::ostringstream os;
  os << "\nRecommendations\n";
  for (const ModelAdvice& m : a.models)
    for (const std::string& r : m.recommendations) os << bullet << r << "\n";
  os << "\nAssumptions\n";
  for (const std::string& s : a.assumptions) os << bullet << s << "\n";
  return os.str();
}

}  // namespace

std::string RenderAdviceTable(const Advice& a) {
  std::ostringstream os;
  bool first = true;
  for (const Table& t : Tables(a)) {
    os << (first ? "" : "\n") << t.title << "\n" << TextGrid(t.cells);
    first = false;
  }
  if (a.models.empty()) os << "\nNo generations in the range: nothing to size.\n";
  os << Sentences(a, "  - ");
  return os.str();
}

std::string RenderAdviceMarkdown(const Advice& a) {
  std::ostringstream os;
  for (const Table& t : Tables(a)) {
    os << "\n### " << t.title << "\n\n|";
    for (const auto& h : t.cells[0]) os << " " << h << " |";
    os << "\n|";
    for (size_t i = 0; i < t.cells[0].size(); ++i) os << (i == 0 ? "---|" : "---:|");
    os << "\n";
    for (size_t r = 1; r < t.cells.size(); ++r) {
      os << "|";
      for (const auto& c : t.cells[r]) os << " " << c << " |";
      os << "\n";
    }
  }
  std::string s = Sentences(a, "- ");
  return os.str() + s;
}

std::string RenderAdviceJson(const Advice& a) {
  return WriteJson([&](JsonWriter& w) {
           auto num = [&](const char* k, double v) {
             w.Key(k);
             w.Double(v);
           };
           auto integer = [&](const char* k, int64_t v) {
             w.Key(k);
             w.Int64(v);
           };
           auto str = [&](const char* k, const std::string& v) {
             w.Key(k);
             WriteString(w, v);
           };
           auto span = [&](const char* k, Span s) {
             w.Key(k);
             w.StartObject();
             num("low", s.low);
             num("high", s.high);
             w.EndObject();
           };
           auto traffic = [&](const ModelTraffic& t) {
             w.StartObject();
             str("model", t.model);
             integer("requests", t.requests);
             integer("generations", t.generations);
             integer("input_tokens", t.input_tokens);
             integer("cached_input_tokens", t.cached_input_tokens);
             integer("output_tokens", t.output_tokens);
             num("requests_per_day", t.PerDay(static_cast<double>(t.requests)));
             num("input_tokens_per_day", t.PerDay(static_cast<double>(t.input_tokens)));
             num("output_tokens_per_day", t.PerDay(static_cast<double>(t.output_tokens)));
             num("cached_input_share", t.CachedShare());
             num("api_usd", t.api_usd);
             integer("unknown_cost", t.unknown_cost);
             integer("peak_concurrency", t.peak_concurrency);
             str("peak_at", FormatDateUtc(t.peak_at_ms));
             integer("peak_at_ms", t.peak_at_ms);
             num("mean_concurrency", t.mean_concurrency);
             w.Key("p95_concurrency_by_hour");
             w.StartArray();
             for (int64_t v : t.p95_concurrency_by_hour) w.Int64(v);
             w.EndArray();
             w.EndObject();
           };
           w.StartObject();
           str("from", FormatDateUtc(a.traffic.from_ms));
           str("to", FormatDateUtc(a.traffic.end_ms - 1));
           num("days", a.traffic.all.days);
           str("by", a.traffic.by_requested ? "requested" : "served");
           num("tokens_per_s_per_user", a.options.tokens_per_s_per_user);
           w.Key("all");
           traffic(a.traffic.all);
           w.Key("traffic");
           w.StartArray();
           for (const ModelTraffic& t : a.traffic.models) traffic(t);
           w.EndArray();
           w.Key("models");
           w.StartArray();
           for (const ModelAdvice& m : a.models) {
             w.StartObject();
             str("model", m.traffic.model);
             integer("peak_concurrency", m.traffic.peak_concurrency);
             integer("input_tokens_per_request", m.input_tokens_per_request);
             integer("output_tokens_per_request", m.output_tokens_per_request);
             num("output_tokens_per_month", m.output_tokens_per_month);
             num("api_usd_per_month", m.api_usd_per_month);
             num("api_usd_per_mtok_output", m.api_usd_per_mtok_output);
             w.Key("candidates");
             w.StartArray();
             for (const Candidate& c : m.candidates) {
               w.StartObject();
               str("model", c.model);
               str("quantization", c.quantization);
               str("gpu", c.gpu);
               w.Key("fits");
               w.Bool(c.fits);
               if (!c.fits) {
                 str("why_not", c.why_not);
               } else {
                 integer("replica_gpus", c.replica_gpus);
                 span("replicas", c.replicas);
                 span("gpus", c.gpus);
                 span("tokens_per_s_per_replica", c.tokens_per_s_per_replica);
                 span("rented_usd_per_month", c.rented_usd_per_month);
                 if (c.owned_usd_per_month) span("owned_usd_per_month", *c.owned_usd_per_month);
                 span("utilization", c.utilization);
                 span("usd_per_mtok", c.usd_per_mtok);
                 span("break_even_output_tokens_per_month", c.break_even_output_tokens_per_month);
               }
               w.EndObject();
             }
             w.EndArray();
             w.Key("recommendations");
             w.StartArray();
             for (const std::string& r : m.recommendations) WriteString(w, r);
             w.EndArray();
             w.EndObject();
           }
           w.EndArray();
           w.Key("assumptions");
           w.StartArray();
           for (const std::string& s : a.assumptions) WriteString(w, s);
           w.EndArray();
           w.EndObject();
         }) +
         "\n";
}

std::string RenderAdviceSvg(const Advice& a) {
  std::vector<Series> series;
  if (a.models.empty())
    return LineChart("No generations in the range", "output tokens per month (B)", "$k per month",
                     series);
  const ModelAdvice& m = a.models.front();
  double x_max = m.output_tokens_per_month * 2;
  std::vector<const Candidate*> best;  // the cheapest fitting GPU of each candidate model
  for (const Candidate& c : m.candidates) {
    if (!c.fits || std::any_of(best.begin(), best.end(),
                               [&](const Candidate* b) { return b->model == c.model; }))
      continue;
    best.push_back(&c);
    x_max = std::max(x_max, c.break_even_output_tokens_per_month.high * 1.2);
  }
  x_max = std::max(x_max, 1e6);
  const double per_token = m.api_usd_per_mtok_output / 1e6;
  series.push_back({"API (" + Money(m.api_usd_per_mtok_output) + "/Mtok out)",
                    {{0, 0}, {x_max / 1e9, x_max * per_token / 1e3}},
                    false});
  for (const Candidate* c : best) {
    series.push_back(
        {c->model + " " + c->gpu + " low",
         {{0, c->rented_usd_per_month.low / 1e3}, {x_max / 1e9, c->rented_usd_per_month.low / 1e3}},
         true});
    series.push_back({c->model + " " + c->gpu + " high",
                      {{0, c->rented_usd_per_month.high / 1e3},
                       {x_max / 1e9, c->rented_usd_per_month.high / 1e3}},
                      true});
  }
  double y_max = x_max * per_token / 1e3;
  for (const Series& s : series) y_max = std::max(y_max, s.points.back().second);
  series.push_back(
      {"today",
       {{m.output_tokens_per_month / 1e9, 0}, {m.output_tokens_per_month / 1e9, y_max}},
       false});
  return LineChart("Monthly cost by output volume: " + Group(m.traffic) +
                       ", API vs a rented fleet for today's peak",
                   "output tokens per month (B)", "$k per month", series);
}

}  // namespace tollgate::plan
