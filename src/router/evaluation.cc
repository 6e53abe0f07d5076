#include "router/evaluation.h"

#include <algorithm>
#include <ctime>
#include <cmath>
#include <cstdio>
#include <map>

#include "common/text.h"

namespace tollgate::router {
namespace {

std::string Slug(const std::string& s) {
  std::string out;
  for (char c : s) out.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  return out;
}

std::string XmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else out.push_back(c);
  }
  return out;
}

struct Cross {
  double x, y;
};
double CrossZ(Cross o, Cross a, Cross b) { return (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x); }

// Mean cost/quality/strong share of routing each sample to choice[i].
OperatingPoint Replay(const std::vector<const Sample*>& samples, const std::vector<int>& choice, int strong) {
  OperatingPoint p;
  for (size_t i = 0; i < samples.size(); ++i) {
    const ModelOutcome& o = samples[i]->outcomes[choice[i]];
    p.cost_usd += o.cost_usd;
    p.quality += o.score;
    p.strong_share += choice[i] == strong;
  }
  const double n = std::max<size_t>(samples.size(), 1);
  p.cost_usd /= n;
  p.quality /= n;
  p.strong_share /= n;
  return p;
}

OperatingPoint Cascade(const std::vector<const Sample*>& samples, const std::vector<int>& steps,
                       const std::vector<std::pair<std::string, CheckSpec>>& checks, int strong) {
  OperatingPoint p;
  for (const Sample* s : samples) {
    for (size_t k = 0; k < steps.size(); ++k) {
      const ModelOutcome& o = s->outcomes[steps[k]];
      p.cost_usd += o.cost_usd;
      p.strong_share += steps[k] == strong;
      bool accept = k + 1 == steps.size();
      if (!accept) {
        accept = true;
        for (const auto& [name, spec] : checks) accept = accept && RunCheck(spec, o.response).pass;
      }
      if (accept) {
        p.quality += o.score;
        break;
      }
    }
  }
  const double n = std::max<size_t>(samples.size(), 1);
  p.cost_usd /= n;
  p.quality /= n;
  p.strong_share /= n;
  return p;
}

void Finish(MethodResult& m, const GroupReport& g) {
  m.auc = AreaUnderCurve(m.points, g.cheap_cost, g.cheap_quality, g.strong_cost);
  m.strong_share_for_95 = -1;
  for (const auto& p : m.points)
    if (p.quality >= 0.95 * g.strong_quality - 1e-12 &&
        (m.strong_share_for_95 < 0 || p.strong_share < m.strong_share_for_95))
      m.strong_share_for_95 = p.strong_share;
}

// CPU time of this thread: other processes on a shared machine do not inflate it.
double ThreadCpuUs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

std::string Pct(double v) { return v < 0 ? "not reached" : FormatNumber("%.1f%%", 100 * v); }

}  // namespace

std::vector<std::pair<std::string, CheckSpec>> DefaultCascadeChecks(const std::string& eval_name) {
  std::vector<std::pair<std::string, CheckSpec>> out;
  auto add = [&](const std::string& text) {
    auto spec = ParseCheckSpec(text);
    if (spec.ok()) out.emplace_back(text, *spec);  // the texts below are constants that parse
  };
  if (eval_name == "arc-challenge") {
    add(R"(regex:^\s*\(?[ABCD]\)?[.:]?\s*$)");
    add("refusal");
  } else if (eval_name == "mbpp") {
    add("length:40..8000");
    add(R"(regex:\bdef\s+\w+\s*\()");
    add("refusal");
  } else {
    add("length:1..");
    add("refusal");
  }
  return out;
}

double AreaUnderCurve(const std::vector<OperatingPoint>& points, double cheap_cost, double cheap_quality,
                      double strong_cost) {
  const double span = strong_cost - cheap_cost;
  if (!(span > 0)) return 0;
  std::vector<Cross> pts{{0, cheap_quality}};
  for (const auto& p : points) {
    const double x = (p.cost_usd - cheap_cost) / span;
    if (x > 1 + 1e-12) continue;
    pts.push_back({std::max(0.0, std::min(1.0, x)), p.quality});
  }
  double best = 0;
  for (const auto& c : pts) best = std::max(best, c.y);
  pts.push_back({1, best});
  std::sort(pts.begin(), pts.end(), [](Cross a, Cross b) { return a.x < b.x || (a.x == b.x && a.y > b.y); });
  // Upper hull (monotone chain, left to right, keep clockwise turns).
  std::vector<Cross> hull;
  for (const Cross& c : pts) {
    if (!hull.empty() && hull.back().x == c.x) continue;  // same x: the higher one came first
    while (hull.size() >= 2 && CrossZ(hull[hull.size() - 2], hull.back(), c) >= 0) hull.pop_back();
    hull.push_back(c);
  }
  double area = 0;
  for (size_t i = 1; i < hull.size(); ++i) area += (hull[i].x - hull[i - 1].x) * (hull[i].y + hull[i - 1].y) / 2;
  return area;
}

std::vector<GroupReport> EvaluateRouting(const LearnedRouter& router, const Dataset& test) {
  std::vector<GroupReport> groups;
  std::map<std::string, std::vector<const Sample*>> by_eval;
  std::vector<std::string> order;
  for (const Sample& s : test.samples) {
    if (!by_eval.count(s.eval_name)) order.push_back(s.eval_name);
    by_eval[s.eval_name].push_back(&s);
  }
  // Map router model index -> test column; models the router cannot score are left out.
  const auto& rm = router.models();
  std::vector<int> col(rm.size());
  for (size_t m = 0; m < rm.size(); ++m) col[m] = test.ModelIndex(rm[m]);
  const int strong_r = router.ModelIndex(router.strong_model());
  if (strong_r < 0 || col[strong_r] < 0) return groups;
  const int strong = col[strong_r];
  // Cheapest by training mean cost; the cascade's cheap step is the best
  // model (training mean score) at <= 1/5 of the strong model's mean cost.
  int cheap_r = -1, cascade_r = -1;
  for (size_t m = 0; m < rm.size(); ++m) {
    if (col[m] < 0) continue;
    if (cheap_r < 0 || router.mean_cost_usd()[m] < router.mean_cost_usd()[cheap_r]) cheap_r = static_cast<int>(m);
    if (router.mean_cost_usd()[m] <= router.mean_cost_usd()[strong_r] / 5 &&
        (cascade_r < 0 || router.mean_score()[m] > router.mean_score()[cascade_r]))
      cascade_r = static_cast<int>(m);
  }
  if (cascade_r < 0) cascade_r = cheap_r;
  const int cheapest = col[cheap_r], cascade_cheap = col[cascade_r];
  std::vector<std::pair<int, double>> all_candidates, pair_candidates;
  for (size_t m = 0; m < rm.size(); ++m)
    if (col[m] >= 0) all_candidates.emplace_back(static_cast<int>(m), router.mean_cost_usd()[m]);
  pair_candidates = {{cascade_r, router.mean_cost_usd()[cascade_r]}, {strong_r, router.mean_cost_usd()[strong_r]}};

  for (const std::string& name : order) {
    const auto& samples = by_eval[name];
    GroupReport g;
    g.eval_name = name;
    g.samples = samples.size();
    g.strong_model = test.models[strong];
    g.cheapest_model = test.models[cheapest];
    g.cascade_cheap = test.models[cascade_cheap];
    g.cascade_first = test.models[cheapest];
    auto always = [&](int m) { return Replay(samples, std::vector<int>(samples.size(), m), strong); };
    const OperatingPoint sp = always(strong), cp = always(cheapest);
    g.strong_cost = sp.cost_usd;
    g.strong_quality = sp.quality;
    g.cheap_cost = cp.cost_usd;
    g.cheap_quality = cp.quality;

    // Learned router: sweep the threshold; predictions once per prompt.
    std::vector<std::vector<double>> preds;
    preds.reserve(samples.size());
    for (const Sample* s : samples) preds.push_back(router.PredictSuccess(s->prompt));
    auto sweep = [&](const std::string& label, const std::vector<std::pair<int, double>>& cands) {
      MethodResult m{label, true};
      for (int t = 0; t <= 100; ++t) {
        std::vector<int> choice;
        for (const auto& p : preds) choice.push_back(col[LearnedRouter::ChooseIndex(p, cands, t / 100.0)]);
        OperatingPoint op = Replay(samples, choice, strong);
        op.label = "t=" + FormatNumber("%.2f", t / 100.0);
        m.points.push_back(op);
      }
      Finish(m, g);
      return m;
    };
    g.methods.push_back(sweep("learned router, all models (threshold sweep)", all_candidates));
    {
      MethodResult m{"learned router, all models @ calibrated t=" + FormatNumber("%.3f", router.threshold())};
      std::vector<int> choice;
      for (const auto& p : preds) choice.push_back(col[LearnedRouter::ChooseIndex(p, all_candidates, router.threshold())]);
      m.points.push_back(Replay(samples, choice, strong));
      Finish(m, g);
      g.methods.push_back(m);
    }
    g.methods.push_back(sweep("learned router, " + g.cascade_cheap + " vs " + g.strong_model + " (sweep)", pair_candidates));

    const auto checks = DefaultCascadeChecks(name);
    for (const auto& c : checks) g.cascade_checks.push_back(c.first);
    {
      MethodResult m{"cascade " + g.cascade_cheap + " -> " + g.strong_model};
      m.points.push_back(Cascade(samples, {cascade_cheap, strong}, checks, strong));
      Finish(m, g);
      g.methods.push_back(m);
    }
    if (cheapest != cascade_cheap) {
      MethodResult m{"cascade " + g.cascade_first + " -> " + g.cascade_cheap + " -> " + g.strong_model};
      m.points.push_back(Cascade(samples, {cheapest, cascade_cheap, strong}, checks, strong));
      Finish(m, g);
      g.methods.push_back(m);
    }
    {
      MethodResult m{"oracle (cheapest best-scoring model)"};
      m.baseline = true;
      std::vector<int> choice;
      for (const Sample* s : samples) {
        int best = -1;
        for (const auto& [mr, unused] : all_candidates) {
          const int c = col[mr];
          const ModelOutcome& o = s->outcomes[c];
          if (best < 0 || o.score > s->outcomes[best].score ||
              (o.score == s->outcomes[best].score && o.cost_usd < s->outcomes[best].cost_usd))
            best = c;
        }
        choice.push_back(best);
      }
      m.points.push_back(Replay(samples, choice, strong));
      Finish(m, g);
      g.methods.push_back(m);
    }
    {
      MethodResult m{"random mix " + g.cheapest_model + " / " + g.strong_model, true, true};
      for (int k = 0; k <= 10; ++k) {
        const double a = k / 10.0;
        m.points.push_back({(1 - a) * cp.cost_usd + a * sp.cost_usd, (1 - a) * cp.quality + a * sp.quality, a,
                            "p=" + FormatNumber("%.1f", a)});
      }
      Finish(m, g);
      // Exact share for 95% on the line, rather than the 10% grid.
      const double want = 0.95 * sp.quality;
      m.strong_share_for_95 =
          cp.quality >= want ? 0 : (sp.quality > cp.quality ? (want - cp.quality) / (sp.quality - cp.quality) : -1);
      g.methods.push_back(m);
    }
    for (const auto& [mr, unused] : all_candidates) {
      MethodResult m{"always " + rm[mr]};
      m.baseline = true;
      m.points.push_back(always(col[mr]));
      Finish(m, g);
      g.methods.push_back(m);
    }

    // Findings: each non-baseline method against the random mix and the best single model.
    const MethodResult* mix = nullptr;
    const MethodResult* best_single = nullptr;
    for (const auto& m : g.methods) {
      if (m.name.rfind("random mix", 0) == 0) mix = &m;
      if (m.name.rfind("always ", 0) == 0 && (!best_single || m.auc > best_single->auc)) best_single = &m;
    }
    for (const auto& m : g.methods) {
      if (m.baseline || !mix || !best_single) continue;
      std::string s = "`" + m.name + "`: AUC " + FormatNumber("%.4f", m.auc);
      s += m.auc > mix->auc ? " beats" : " does not beat";
      s += " the random mix (" + FormatNumber("%.4f", mix->auc) + ") and";
      s += m.auc > best_single->auc ? " beats" : " does not beat";
      s += " the best single model by AUC, `" + best_single->name + "` (" + FormatNumber("%.4f", best_single->auc) + ").";
      g.findings.push_back(s);
    }
    groups.push_back(std::move(g));
  }
  return groups;
}

LatencyReport MeasureLatency(const LearnedRouter& router, const Dataset& test) {
  LatencyReport r;
  std::vector<double> us;
  double sink = 0, bytes = 0;
  // Warm-up: the first calls fault in the weight table.
  for (size_t i = 0; i < std::min<size_t>(test.samples.size(), 20); ++i) sink += router.PredictSuccess(test.samples[i].prompt)[0];
  for (const Sample& s : test.samples) {
    const double t0 = ThreadCpuUs();
    const auto p = router.PredictSuccess(s.prompt);
    us.push_back(ThreadCpuUs() - t0);
    sink += p.empty() ? 0 : p[0];
    bytes += s.prompt.size();
  }
  if (!us.empty()) {
    r.prompts = us.size();
    r.mean_prompt_bytes = bytes / us.size();
    double total = 0;
    for (double v : us) total += v;
    r.mean_us = total / us.size();
    std::sort(us.begin(), us.end());
    r.p50_us = us[us.size() / 2];
    r.p99_us = us[std::min(us.size() - 1, us.size() * 99 / 100)];
  }
  std::string prompt4k;
  for (const Sample& s : test.samples) {
    if (prompt4k.size() >= 4096) break;
    prompt4k += s.prompt + "\n";
  }
  while (!prompt4k.empty() && prompt4k.size() < 4096) prompt4k += prompt4k;
  prompt4k.resize(4096);
  constexpr int kRuns = 200;
  const double t0 = ThreadCpuUs();
  for (int i = 0; i < kRuns; ++i) sink += router.PredictSuccess(prompt4k)[0];
  r.us_4kb = (ThreadCpuUs() - t0) / kRuns;
  if (sink == -1) std::printf(" ");  // keeps the calls from being optimised away
  return r;
}

std::string RenderSvg(const GroupReport& g) {
  const double W = 820, H = 520, L = 70, R = 300, T = 40, B = 60;
  const double pw = W - L - R, ph = H - T - B;
  double cmin = 1e9, cmax = 0, qmin = 1, qmax = 0;
  for (const auto& m : g.methods)
    for (const auto& p : m.points) {
      if (p.cost_usd > 0) cmin = std::min(cmin, p.cost_usd);
      cmax = std::max(cmax, p.cost_usd);
      qmin = std::min(qmin, p.quality);
      qmax = std::max(qmax, p.quality);
    }
  if (cmin >= cmax) cmax = cmin * 10;
  const double lx0 = std::floor(std::log10(cmin) * 2) / 2, lx1 = std::ceil(std::log10(cmax) * 2) / 2;
  qmin = std::floor(qmin * 10) / 10;
  qmax = std::min(1.0, std::ceil(qmax * 10) / 10);
  if (qmax <= qmin) qmax = qmin + 0.1;
  auto X = [&](double c) { return L + (std::log10(std::max(c, 1e-12)) - lx0) / (lx1 - lx0) * pw; };
  auto Y = [&](double q) { return T + (1 - (q - qmin) / (qmax - qmin)) * ph; };
  std::string s;
  char buf[512];
  auto add = [&](const char* fmt, auto... a) {
    std::snprintf(buf, sizeof buf, fmt, a...);
    s += buf;
  };
  add("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" "
      "font-size=\"12\">\n",
      W, H);
  s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  s += "<text x=\"" + FormatNumber("%.0f", L) + "\" y=\"24\" font-size=\"15\" font-weight=\"bold\">" +
       XmlEscape(g.eval_name + " test (" + std::to_string(g.samples) + " prompts): cost vs quality") + "</text>\n";
  add("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#333\"/>\n", L, T, pw, ph);
  for (double e = lx0; e <= lx1 + 1e-9; e += 0.5) {
    const double x = L + (e - lx0) / (lx1 - lx0) * pw;
    add("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", x, T, x, T + ph);
    add("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">$%.2g</text>\n", x, T + ph + 16, std::pow(10, e));
  }
  for (double q = qmin; q <= qmax + 1e-9; q += 0.05) {
    add("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>\n", L, Y(q), L + pw, Y(q));
    add("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.2f</text>\n", L - 6, Y(q) + 4, q);
  }
  add("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">mean cost per prompt (USD, log scale)</text>\n", L + pw / 2,
      H - 18);
  add("<text x=\"16\" y=\"%.1f\" text-anchor=\"middle\" transform=\"rotate(-90 16 %.1f)\">mean quality "
      "(score)</text>\n",
      T + ph / 2, T + ph / 2);
  static const char* kColors[] = {"#d62728", "#ff7f0e", "#9467bd", "#2ca02c", "#17becf", "#000000", "#7f7f7f"};
  int color = 0, legend = 0;
  for (const auto& m : g.methods) {
    const bool single = m.name.rfind("always ", 0) == 0;
    const char* c = single ? "#1f77b4" : kColors[color++ % 7];
    if (m.curve) {
      std::vector<OperatingPoint> pts = m.points;
      std::sort(pts.begin(), pts.end(), [](const auto& a, const auto& b) { return a.cost_usd < b.cost_usd; });
      s += "<polyline fill=\"none\" stroke=\"" + std::string(c) + "\" stroke-width=\"2\"" +
           (m.baseline ? " stroke-dasharray=\"6 4\"" : "") + " points=\"";
      for (const auto& p : pts) add("%.1f,%.1f ", X(p.cost_usd), Y(p.quality));
      s += "\"/>\n";
    } else {
      for (const auto& p : m.points) {
        if (single) {
          add("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"/>\n", X(p.cost_usd), Y(p.quality), c);
          std::string shortname = m.name.substr(7);
          if (auto slash = shortname.rfind('/'); slash != std::string::npos) shortname = shortname.substr(slash + 1);
          add("<text x=\"%.1f\" y=\"%.1f\" font-size=\"9\" fill=\"#1f77b4\">%s</text>\n", X(p.cost_usd) + 5,
              Y(p.quality) - 4, XmlEscape(shortname).c_str());
        } else {
          add("<rect x=\"%.1f\" y=\"%.1f\" width=\"9\" height=\"9\" fill=\"%s\" transform=\"rotate(45 %.1f %.1f)\"/>\n",
              X(p.cost_usd) - 4.5, Y(p.quality) - 4.5, c, X(p.cost_usd), Y(p.quality));
        }
      }
    }
    if (single && legend > 0 && m.name != "always " + g.strong_model) continue;
    const double ly = T + 10 + 18 * legend++;
    const std::string label = single ? "single models (always X)" : m.name;
    add("<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"4\" fill=\"%s\"/>\n", W - R + 14, ly - 4, c);
    s += "<text x=\"" + FormatNumber("%.1f", W - R + 34) + "\" y=\"" + FormatNumber("%.1f", ly) + "\" font-size=\"10\">" +
         XmlEscape(label.size() > 52 ? label.substr(0, 50) + "..." : label) + "</text>\n";
  }
  s += "</svg>\n";
  return s;
}

std::string RenderMarkdown(const std::vector<GroupReport>& groups, const LatencyReport& lat,
                           const LearnedRouter& router, const std::string& svg_rel_dir) {
  std::string md;
  md += "Router model: trained on the `*_train` files, strong model `" + router.strong_model() +
        "`, calibrated threshold " + FormatNumber("%.3f", router.threshold()) + " (target strong share " +
        FormatNumber("%.2f", router.target_strong_share()) + " of the training prompts).\n\n";
  for (const auto& g : groups) {
    md += "### " + g.eval_name + " (test, " + std::to_string(g.samples) + " prompts)\n\n";
    if (!svg_rel_dir.empty())
      md += "![" + g.eval_name + " cost vs quality](" + svg_rel_dir + "/routing_" + Slug(g.eval_name) + ".svg)\n\n";
    md += "Strongest: `" + g.strong_model + "` (quality " + FormatNumber("%.4f", g.strong_quality) + ", $" +
          FormatNumber("%.6f", g.strong_cost) + " per prompt); cheapest: `" + g.cheapest_model + "` (quality " +
          FormatNumber("%.4f", g.cheap_quality) + ", $" + FormatNumber("%.6f", g.cheap_cost) + "). 95% of the strongest quality is " +
          FormatNumber("%.4f", 0.95 * g.strong_quality) + ". Cascade checks:";
    for (const auto& c : g.cascade_checks) md += " `" + c + "`";
    md += ".\n\n";
    md += "| method | mean $/prompt | quality | strong calls | AUC | strong share for 95% |\n";
    md += "|---|---:|---:|---:|---:|---:|\n";
    for (const auto& m : g.methods) {
      std::string cost = "-", q = "-", strong = "-";
      if (m.points.size() == 1) {
        cost = FormatNumber("%.6f", m.points[0].cost_usd);
        q = FormatNumber("%.4f", m.points[0].quality);
        strong = FormatNumber("%.1f%%", 100 * m.points[0].strong_share);
      } else if (!m.points.empty()) {
        double lo = 1e9, hi = 0, qlo = 1e9, qhi = 0;
        for (const auto& p : m.points) {
          lo = std::min(lo, p.cost_usd);
          hi = std::max(hi, p.cost_usd);
          qlo = std::min(qlo, p.quality);
          qhi = std::max(qhi, p.quality);
        }
        cost = FormatNumber("%.6f", lo) + "–" + FormatNumber("%.6f", hi);
        q = FormatNumber("%.4f", qlo) + "–" + FormatNumber("%.4f", qhi);
      }
      md += "| " + m.name + " | " + cost + " | " + q + " | " + strong + " | " + FormatNumber("%.4f", m.auc) + " | " +
            Pct(m.strong_share_for_95) + " |\n";
    }
    md += "\n";
    for (const auto& f : g.findings) md += "- " + f + "\n";
    md += "\n";
  }
  md += "### Latency of a routing decision\n\n";
  md += "`ExtractFeatures` + `PredictSuccess` for all " + std::to_string(router.models().size()) +
        " models, in thread CPU time (so other load on the machine does not count), measured by `tollgate router eval` over the " + std::to_string(lat.prompts) +
        " test prompts (mean " + FormatNumber("%.0f", lat.mean_prompt_bytes) + " bytes): p50 " + FormatNumber("%.1f", lat.p50_us) +
        " µs, p99 " + FormatNumber("%.1f", lat.p99_us) + " µs, mean " + FormatNumber("%.1f", lat.mean_us) + " µs; a 4096-byte prompt: " +
        FormatNumber("%.1f", lat.us_4kb) + " µs (mean of 200 runs).\n";
  return md;
}

}  // namespace tollgate::router
