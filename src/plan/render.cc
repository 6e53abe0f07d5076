#include "plan/render.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "common/json.h"
#include "common/text.h"
#include "plan/formulas.h"

namespace tollgate::plan {
namespace {

std::string Int(int64_t v) { return WithThousands(v); }

std::string Millions(double usd) { return FormatNumber("%.1f", usd / 1e6); }

std::string Signed(double usd) { return (usd > 0 ? "+" : "") + Money(usd); }

std::string Months(double m) { return FormatNumber(m == std::floor(m) ? "%.0f" : "%.1f", m); }

std::string Title(const Plan& p) {
  const Scenario& s = p.scenario;
  std::string t = (s.model.name.empty() ? "model" : s.model.name) + " on " + Int(p.replica_gpus) + " x " + s.gpu.name +
                  " per replica";
  return s.title.empty() ? t : s.title + ": " + t;
}

struct Row {
  std::string label, value, note;
};
struct Section {
  std::string title;
  std::vector<Row> rows;
};

std::string ThroughputNote(const Plan& p) {
  const Throughput& t = p.throughput;
  std::string bound = "roofline bound " + Int(std::llround(t.roofline)) + " (compute " +
                      Int(std::llround(t.compute_bound)) + ", memory " + Int(std::llround(t.memory_bound)) +
                      " at batch " + Int(t.roofline_batch) + ")";
  if (t.measured) return "measured; " + bound;
  return "estimate: " + FormatNumber("%.0f%%", p.scenario.roofline_efficiency * 100) + " of the " + bound;
}

// The plan as labelled rows, shared by the table and Markdown renderers.
std::vector<Section> Sections(const Plan& p) {
  const Scenario& s = p.scenario;
  std::vector<Section> out;
  Section cap{"Capacity", {}};
  cap.rows.push_back({"weights", FormatNumber("%.1f GB", p.weight_bytes / 1e9),
                      FormatNumber("%g bits/weight", s.model.bits_per_weight) +
                          (s.model.quantization.empty() ? "" : " (" + s.model.quantization + ")")});
  cap.rows.push_back({"KV cache of the batch", FormatNumber("%.1f GB", p.kv_cache_bytes / 1e9),
                      Int(p.users_per_replica) + " users x " + Int(p.context_tokens) + " tokens x " +
                          Int(std::llround(p.kv_bytes_per_token)) + " bytes/token"});
  cap.rows.push_back({"memory per replica", FormatNumber("%.1f GB", p.replica_memory_bytes / 1e9),
                      "needs " + Int(p.min_gpus_for_memory) + " x " + s.gpu.name + " at " +
                          FormatNumber("%.0f%%", s.usable_memory_fraction * 100) + " usable; the replica has " +
                          Int(p.replica_gpus)});
  cap.rows.push_back({"output tokens/s per replica", Int(std::llround(p.throughput.used)), ThroughputNote(p)});
  cap.rows.push_back({"active users per replica", Int(p.users_per_replica),
                      "at " + FormatNumber("%g", s.tokens_per_s_per_user) + " tokens/s each"});
  cap.rows.push_back({"replicas", Int(p.replicas), "for " + Int(s.active_users) + " active concurrent users"});
  cap.rows.push_back({"GPUs", Int(p.gpus), Int(p.users_served) + " users served at once"});
  out.push_back(std::move(cap));

  Section cost{"Cost (" + p.price_basis + ", " + Money(p.usd_per_gpu_hour) + "/GPU-hour)", {}};
  cost.rows.push_back({"per day", Money(p.usd_per_day), Int(p.gpus) + " GPUs x 24 h"});
  std::string range;
  if (s.gpu.price_high > s.gpu.price_low)
    range = Money(p.usd_per_month_low) + " to " + Money(p.usd_per_month_high) + " at " + Money(s.gpu.price_low) +
            " to " + Money(s.gpu.price_high) + "/GPU-hour";
  cost.rows.push_back({"per month (30 days)", Money(p.usd_per_month), range});
  if (p.owned_usd_per_gpu_hour && p.price_basis != "owned")
    cost.rows.push_back({"per month if owned", Money(UsdPerMonth(p.gpus, *p.owned_usd_per_gpu_hour)), Money(*p.owned_usd_per_gpu_hour) + "/GPU-hour"});
  cost.rows.push_back({"per million output tokens", Money(p.usd_per_mtok),
                       "at " + FormatNumber("%.0f%%", s.utilization * 100) + " utilization" +
                           (s.utilization < 1 ? " (" + Money(p.usd_per_mtok_full) + " at 100%)" : "")});
  out.push_back(std::move(cost));

  if (p.api) {
    const ApiComparison& a = *p.api;
    Section api{"Against the API" + (s.api->name.empty() ? std::string() : " (" + s.api->name + ")"), {}};
    api.rows.push_back({"API per million output tokens", Money(a.api_usd_per_mtok),
                        "output price + input price x " + Int(s.input_tokens) + "/" + Int(s.output_tokens)});
    api.rows.push_back({"break-even utilization", FormatNumber("%.1f%%", a.break_even_utilization * 100),
                        a.break_even_utilization <= 1 ? "self-hosting is cheaper above it"
                                                      : "self-hosting never matches the API price"});
    api.rows.push_back({"break-even volume", Int(std::llround(a.break_even_tokens_per_month / 1e6)) + "M tokens/month",
                        "the fleet's monthly cost bought as API output tokens"});
    api.rows.push_back({"the served tokens from the API", Money(a.api_usd_per_month) + "/month",
                        Int(std::llround(a.served_tokens_per_month / 1e6)) + "M output tokens at the utilization"});
    out.push_back(std::move(api));
  }
  if (p.business) {
    const BusinessResult& b = *p.business;
    const Business& in = *s.business;
    Section biz{"Business (per month)", {}};
    biz.rows.push_back({"revenue", Money(b.revenue_per_month),
                        Int(std::llround(in.monthly_users)) + " users x " + FormatNumber("%g%%", in.paying_share * 100) +
                            " paying x " + Money(in.usd_per_paying_user)});
    biz.rows.push_back({"before training", Signed(b.before_training_per_month), "revenue - serving"});
    for (const Lifetime& l : b.lifetimes)
      biz.rows.push_back({"training over " + Months(l.months) + " months", Signed(l.result_per_month),
                          Money(in.training_usd) + " / " + Months(l.months) + " = " + Money(l.amortized_per_month)});
    biz.rows.push_back({"break-even model lifetime",
                        b.break_even_lifetime_months < 0 ? "never" : FormatNumber("%.1f months", b.break_even_lifetime_months),
                        "training / (revenue - serving)"});
    out.push_back(std::move(biz));
  }
  return out;
}

// The sensitivity table as rows of cells, header first ($M per month).
std::vector<std::vector<std::string>> SensitivityCells(const Plan& p) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> head{"$/GPU-hour"};
  for (double m : p.sensitivity_lifetimes) head.push_back(Months(m) + " mo");
  head.push_back("break-even");
  rows.push_back(head);
  for (const SensitivityRow& r : p.sensitivity) {
    std::vector<std::string> row{FormatNumber("%.2f", r.usd_per_gpu_hour)};
    for (double v : r.result_per_month) row.push_back(Millions(v));
    row.push_back(r.break_even_lifetime_months < 0 ? "never" : FormatNumber("%.1f mo", r.break_even_lifetime_months));
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace

std::string Money(double usd) {
  const char* sign = usd < 0 ? "-" : "";
  const double a = std::fabs(usd);
  if (a >= 1e9) return sign + FormatNumber("$%.2fB", a / 1e9);
  if (a >= 1e7) return sign + FormatNumber("$%.1fM", a / 1e6);
  if (a >= 1000) return std::string(sign) + "$" + WithThousands(std::llround(a));
  return sign + FormatNumber("$%.2f", a);
}

std::string RenderTable(const Plan& p) {
  std::ostringstream os;
  os << Title(p) << "\n";
  for (const Section& sec : Sections(p)) {
    os << "\n" << sec.title << "\n";
    size_t lw = 0, vw = 0;
    for (const Row& r : sec.rows) lw = std::max(lw, r.label.size()), vw = std::max(vw, r.value.size());
    for (const Row& r : sec.rows) {
      std::string line = "  " + r.label + std::string(lw - r.label.size() + 2, ' ') +
                         std::string(vw - r.value.size(), ' ') + r.value;
      if (!r.note.empty()) line += "  " + r.note;
      os << line << "\n";
    }
  }
  if (!p.sensitivity.empty()) {
    os << "\nMonthly result in $M by GPU price (rows) and model lifetime (columns); break-even: the lifetime where it "
          "crosses zero\n";
    const auto cells = SensitivityCells(p);
    std::vector<size_t> width(cells[0].size(), 0);
    for (const auto& row : cells)
      for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
    for (const auto& row : cells) {
            for (size_t i = 0; i < row.size(); ++i) os << "  " << std::string(width[i] - row[i].size(), ' ') << row[i];
      os << "\n";
    }
  }
  return os.str();
}

std::string RenderMarkdown(const Plan& p) {
  std::ostringstream os;
  os << "## " << Title(p) << "\n";
  for (const Section& sec : Sections(p)) {
    os << "\n### " << sec.title << "\n\n| | | |\n|---|---:|---|\n";
    for (const Row& r : sec.rows) os << "| " << r.label << " | " << r.value << " | " << r.note << " |\n";
  }
  if (!p.sensitivity.empty()) {
    auto cells = SensitivityCells(p);
    os << "\n### Monthly result ($M) by GPU price and model lifetime\n\n|";
    for (const auto& h : cells[0]) os << " " << h << " |";
    os << "\n|";
    for (size_t i = 0; i < cells[0].size(); ++i) os << (i == 0 ? "---|" : "---:|");
    os << "\n";
    for (size_t r = 1; r < cells.size(); ++r) {
      os << "|";
      for (const auto& c : cells[r]) os << " " << c << " |";
      os << "\n";
    }
  }
  return os.str();
}

std::string RenderJson(const Plan& p) {
  const Scenario& s = p.scenario;
  return WriteJson([&](JsonWriter& w) {
    auto num = [&](const char* k, double v) {
      w.Key(k);
      w.Double(v);
    };
    auto integer = [&](const char* k, int64_t v) {
      w.Key(k);
      w.Int64(v);
    };
    w.StartObject();
    w.Key("title");
    WriteString(w, Title(p));
    w.Key("capacity");
    w.StartObject();
    num("weight_bytes", p.weight_bytes);
    num("kv_bytes_per_token", p.kv_bytes_per_token);
    num("kv_cache_bytes", p.kv_cache_bytes);
    num("replica_memory_bytes", p.replica_memory_bytes);
    integer("context_tokens", p.context_tokens);
    integer("min_gpus_for_memory", p.min_gpus_for_memory);
    integer("gpus_per_replica", p.replica_gpus);
    num("tokens_per_s_per_replica", p.throughput.used);
    w.Key("throughput_measured");
    w.Bool(p.throughput.measured);
    num("roofline_tokens_per_s", p.throughput.roofline);
    num("roofline_memory_bound_tokens_per_s", p.throughput.memory_bound);
    num("roofline_compute_bound_tokens_per_s", p.throughput.compute_bound);
    integer("roofline_batch", p.throughput.roofline_batch);
    integer("users_per_replica", p.users_per_replica);
    integer("replicas", p.replicas);
    integer("gpus", p.gpus);
    integer("users_served", p.users_served);
    w.EndObject();
    w.Key("cost");
    w.StartObject();
    w.Key("basis");
    WriteString(w, p.price_basis);
    num("usd_per_gpu_hour", p.usd_per_gpu_hour);
    if (p.owned_usd_per_gpu_hour) num("owned_usd_per_gpu_hour", *p.owned_usd_per_gpu_hour);
    num("usd_per_day", p.usd_per_day);
    num("usd_per_month", p.usd_per_month);
    num("usd_per_month_low", p.usd_per_month_low);
    num("usd_per_month_high", p.usd_per_month_high);
    num("utilization", s.utilization);
    num("usd_per_mtok", p.usd_per_mtok);
    num("usd_per_mtok_full_load", p.usd_per_mtok_full);
    w.EndObject();
    if (p.api) {
      w.Key("api");
      w.StartObject();
      num("api_usd_per_mtok_output", p.api->api_usd_per_mtok);
      num("break_even_utilization", p.api->break_even_utilization);
      num("break_even_tokens_per_month", p.api->break_even_tokens_per_month);
      num("served_tokens_per_month", p.api->served_tokens_per_month);
      num("api_usd_per_month", p.api->api_usd_per_month);
      w.EndObject();
    }
    if (p.business) {
      w.Key("business");
      w.StartObject();
      num("revenue_per_month", p.business->revenue_per_month);
      num("before_training_per_month", p.business->before_training_per_month);
      num("break_even_lifetime_months", p.business->break_even_lifetime_months);
      w.Key("lifetimes");
      w.StartArray();
      for (const Lifetime& l : p.business->lifetimes) {
        w.StartObject();
        num("months", l.months);
        num("amortized_per_month", l.amortized_per_month);
        num("result_per_month", l.result_per_month);
        w.EndObject();
      }
      w.EndArray();
      w.Key("sensitivity");
      w.StartArray();
      for (const SensitivityRow& r : p.sensitivity) {
        w.StartObject();
        num("usd_per_gpu_hour", r.usd_per_gpu_hour);
        num("break_even_lifetime_months", r.break_even_lifetime_months);
        w.Key("result_per_month");
        w.StartArray();
        for (size_t i = 0; i < r.result_per_month.size(); ++i) {
          w.StartObject();
          num("lifetime_months", p.sensitivity_lifetimes[i]);
          num("usd", r.result_per_month[i]);
          w.EndObject();
        }
        w.EndArray();
        w.EndObject();
      }
      w.EndArray();
      w.EndObject();
    }
    w.EndObject();
  }) + "\n";
}

}  // namespace tollgate::plan

namespace tollgate::plan {
namespace {

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '&') out += "&amp;";
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else out += c;
  }
  return out;
}

}  // namespace

std::string LineChart(const std::string& title, const std::string& x_label, const std::string& y_label,
                      const std::vector<Series>& series) {
  const double W = 760, H = 440, L = 80, R = 190, T = 50, B = 60;
  double x0 = 1e300, x1 = -1e300, y0 = 0, y1 = 0;
  for (const auto& s : series)
    for (auto [x, y] : s.points) x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
  if (x1 <= x0) x1 = x0 + 1;
  if (y1 <= y0) y1 = y0 + 1;
  const double pad = (y1 - y0) * 0.05;
  y0 -= y0 < 0 ? pad : 0;
  y1 += pad;
  auto X = [&](double x) { return L + (x - x0) / (x1 - x0) * (W - L - R); };
  auto Y = [&](double y) { return T + (y1 - y) / (y1 - y0) * (H - T - B); };
  static const char* kColors[] = {"#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d"};
  std::ostringstream os;
  os << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H << "\" viewBox=\"0 0 " << W
     << " " << H << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  os << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  os << "<text x=\"" << L << "\" y=\"24\" font-size=\"15\" font-weight=\"bold\">" << Escape(title) << "</text>\n";
  os << "<rect x=\"" << L << "\" y=\"" << T << "\" width=\"" << W - L - R << "\" height=\"" << H - T - B
     << "\" fill=\"none\" stroke=\"#999\"/>\n";
  for (int i = 0; i <= 5; ++i) {
    const double xv = x0 + (x1 - x0) * i / 5, yv = y0 + (y1 - y0) * i / 5;
    os << "<text x=\"" << X(xv) << "\" y=\"" << H - B + 18 << "\" text-anchor=\"middle\">" << FormatNumber("%g", std::round(xv * 10) / 10)
       << "</text>\n";
    os << "<text x=\"" << L - 6 << "\" y=\"" << Y(yv) + 4 << "\" text-anchor=\"end\">" << FormatNumber("%.1f", yv) << "</text>\n";
    os << "<line x1=\"" << L << "\" x2=\"" << W - R << "\" y1=\"" << Y(yv) << "\" y2=\"" << Y(yv)
       << "\" stroke=\"#eee\"/>\n";
  }
  if (y0 < 0 && y1 > 0)
    os << "<line x1=\"" << L << "\" x2=\"" << W - R << "\" y1=\"" << Y(0) << "\" y2=\"" << Y(0)
       << "\" stroke=\"black\" stroke-dasharray=\"4 3\"/>\n";
  os << "<text x=\"" << (L + W - R) / 2 << "\" y=\"" << H - 18 << "\" text-anchor=\"middle\">" << Escape(x_label)
     << "</text>\n";
  os << "<text transform=\"translate(18 " << (T + H - B) / 2 << ") rotate(-90)\" text-anchor=\"middle\">"
     << Escape(y_label) << "</text>\n";
  for (size_t i = 0; i < series.size(); ++i) {
    const char* color = kColors[i % (sizeof kColors / sizeof kColors[0])];
    os << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\"2\""
       << (series[i].dashed ? " stroke-dasharray=\"6 4\"" : "") << " points=\"";
    for (auto [x, y] : series[i].points) os << FormatNumber("%.1f", X(x)) << "," << FormatNumber("%.1f", Y(y)) << " ";
    os << "\"/>\n";
    const double ly = T + 16 + 20 * static_cast<double>(i);
    os << "<line x1=\"" << W - R + 12 << "\" x2=\"" << W - R + 32 << "\" y1=\"" << ly - 4 << "\" y2=\"" << ly - 4
       << "\" stroke=\"" << color << "\" stroke-width=\"2\"/>\n";
    os << "<text x=\"" << W - R + 38 << "\" y=\"" << ly << "\">" << Escape(series[i].label) << "</text>\n";
  }
  os << "</svg>\n";
  return os.str();
}

std::string RenderSvg(const Plan& p) {
  std::vector<Series> series;
  if (!p.sensitivity.empty()) {
    const double lo = *std::min_element(p.sensitivity_lifetimes.begin(), p.sensitivity_lifetimes.end());
    const double hi = *std::max_element(p.sensitivity_lifetimes.begin(), p.sensitivity_lifetimes.end());
    for (const SensitivityRow& r : p.sensitivity) {
      Series s{Money(r.usd_per_gpu_hour) + "/GPU-hour", {}, false};
      for (int i = 0; i <= 84; ++i) {
        const double months = lo + (hi - lo) * i / 84;
        const double v = p.business->revenue_per_month - r.serving_per_month -
                         AmortizedPerMonth(p.scenario.business->training_usd, months);
        s.points.push_back({months, v / 1e6});
      }
      series.push_back(std::move(s));
    }
    return LineChart("Monthly result by model lifetime, per GPU price: " + p.scenario.model.name, "model lifetime (months)",
                     "monthly result ($M)", series);
  }
  Series self{"self-hosted", {}, false};
  for (int pct = 5; pct <= 100; ++pct) self.points.push_back({pct, p.usd_per_mtok_full * 100 / pct});
  series.push_back(self);
  if (p.api)
    series.push_back({"API", {{5, p.api->api_usd_per_mtok}, {100, p.api->api_usd_per_mtok}}, true});
  return LineChart("$ per million output tokens by utilization: " + p.scenario.model.name, "utilization (%)",
                   "USD per million output tokens", series);
}

}  // namespace tollgate::plan
