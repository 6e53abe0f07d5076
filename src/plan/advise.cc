#include "plan/advise.h"

#include <algorithm>
#include <cmath>

#include "common/text.h"
#include "plan/formulas.h"
#include "plan/plan.h"
#include "plan/render.h"

namespace tollgate::plan {
namespace {

constexpr double kSecondsPerMonth = 3600 * kHoursPerDay * kDaysPerMonth;

// "87M", "1.2B", "950k": token volumes in a sentence.
std::string Tokens(double n) {
  if (n >= 1e9) return FormatNumber("%.1fB", n / 1e9);
  if (n >= 1e6) return FormatNumber("%.0fM", n / 1e6);
  if (n >= 1e3) return FormatNumber("%.0fk", n / 1e3);
  return FormatNumber("%.0f", n);
}

std::string MoneySpan(Span s) {
  return s.low == s.high ? Money(s.low) : Money(s.low) + "–" + Money(s.high);
}
std::string IntSpan(Span s) {
  return s.low == s.high ? FormatNumber("%.0f", s.low)
                         : FormatNumber("%.0f", s.low) + "–" + FormatNumber("%.0f", s.high);
}

// The scenario sizing `model` on `gpu` for this traffic (or the user's own scenario).
Scenario ScenarioFor(const ModelAdvice& m, const AdviseOptions& o, const ModelSpec& model,
                     const GpuChoice& gpu) {
  Scenario s;
  s.source = "--from-ledger";
  s.model = model;
  s.gpu = gpu;
  s.input_tokens = m.input_tokens_per_request;
  s.output_tokens = m.output_tokens_per_request;
  s.tokens_per_s_per_user = o.tokens_per_s_per_user;
  s.active_users = std::max<int64_t>(1, m.traffic.peak_concurrency);
  return s;
}

// Sizes one candidate at both ends of the efficiency range and prices it at
// both ends of the price ranges.
Candidate Size(const ModelAdvice& m, const AdviseOptions& o, Scenario s, const GpuSpec* spec) {
  Candidate c;
  c.model = s.model.name;
  c.quantization = s.model.quantization.empty() ? FormatNumber("%g bits", s.model.bits_per_weight)
                                                : s.model.quantization;
  c.gpu = s.gpu.name;
  s.roofline_efficiency = o.efficiency_high;
  auto fast = ComputePlan(s);
  s.roofline_efficiency = o.efficiency_low;
  auto slow = ComputePlan(s);
  if (!fast.ok() || !slow.ok()) {
    const std::string& msg = (fast.ok() ? slow : fast).status().message();
    const size_t at = msg.find("error: ");
    c.why_not = at == std::string::npos ? msg : msg.substr(at + 7);
    return c;
  }
  c.replica_gpus = std::max(fast->replica_gpus, slow->replica_gpus);
  if (c.replica_gpus > o.max_replica_gpus && !o.scenario) {
    c.why_not = "needs " + std::to_string(c.replica_gpus) +
                " GPUs per replica, more than one server of " + std::to_string(o.max_replica_gpus);
    return c;
  }
  c.fits = true;
  const double f_gpus = static_cast<double>(fast->gpus), s_gpus = static_cast<double>(slow->gpus);
  c.replicas = {static_cast<double>(fast->replicas), static_cast<double>(slow->replicas)};
  c.gpus = {f_gpus, s_gpus};
  c.tokens_per_s_per_replica = {slow->throughput.used, fast->throughput.used};
  c.rented_usd_per_month = {UsdPerMonth(fast->gpus, s.gpu.price_low),
                            UsdPerMonth(slow->gpus, s.gpu.price_high)};
  std::optional<Span> purchase;
  if (s.gpu.owned)
    purchase = Span{s.gpu.owned->purchase_usd, s.gpu.owned->purchase_usd};
  else if (spec && spec->purchase.low > 0)
    purchase = Span{spec->purchase.low, spec->purchase.high};
  if (purchase) {
    const double lifetime = s.gpu.owned ? s.gpu.owned->lifetime_months : o.owned_lifetime_months;
    const double power = s.gpu.owned ? s.gpu.owned->power_w : (spec ? spec->power_w : 0);
    const double pue = s.gpu.owned ? s.gpu.owned->pue : o.pue;
    const double kwh = s.gpu.owned ? s.gpu.owned->usd_per_kwh : o.usd_per_kwh;
    c.owned_usd_per_month = Span{
        UsdPerMonth(fast->gpus, OwnedUsdPerGpuHour(purchase->low, lifetime, power, pue, kwh)),
        UsdPerMonth(slow->gpus, OwnedUsdPerGpuHour(purchase->high, lifetime, power, pue, kwh))};
  }
  // Observed output tokens/s against the fleet's capacity; $/Mtok at that use.
  const double observed = m.output_tokens_per_month / kSecondsPerMonth;
  const double cap_fast = static_cast<double>(fast->replicas) * fast->throughput.used;
  const double cap_slow = static_cast<double>(slow->replicas) * slow->throughput.used;
  const double u_fast = std::max(1e-12, observed / cap_fast),
               u_slow = std::max(1e-12, observed / cap_slow);
  c.utilization = {std::min(u_fast, u_slow), std::max(u_fast, u_slow)};
  c.usd_per_mtok = {UsdPerMillionTokens(f_gpus * s.gpu.price_low, cap_fast, u_fast),
                    UsdPerMillionTokens(s_gpus * s.gpu.price_high, cap_slow, u_slow)};
  if (m.api_usd_per_mtok_output > 0)
    c.break_even_output_tokens_per_month = {
        BreakEvenTokensPerMonth(c.rented_usd_per_month.low, m.api_usd_per_mtok_output),
        BreakEvenTokensPerMonth(c.rented_usd_per_month.high, m.api_usd_per_mtok_output)};
  return c;
}

// The cheapest replica size for a catalog candidate: the smallest that fits,
// then each power of two up to one server (a bigger replica holds a bigger
// batch, so it may serve the same peak with fewer GPUs in all).
Candidate Cheapest(const ModelAdvice& m, const AdviseOptions& o, const Scenario& s, const GpuSpec* spec) {
  Candidate best = Size(m, o, s, spec);
  if (!best.fits) return best;
  for (int64_t gpus = best.replica_gpus * 2; gpus <= o.max_replica_gpus; gpus *= 2) {
    Scenario larger = s;
    larger.replica_gpus = gpus;
    Candidate c = Size(m, o, larger, spec);
    if (c.fits && c.rented_usd_per_month.high < best.rented_usd_per_month.high) best = std::move(c);
  }
  return best;
}

std::string Recommend(const ModelAdvice& m, const AdviseOptions& o,
                      const std::string& candidate_model) {
  const Candidate* best = nullptr;
  for (const Candidate& c : m.candidates)
    if (c.model == candidate_model && c.fits &&
        (!best || c.rented_usd_per_month.high < best->rented_usd_per_month.high))
      best = &c;
  const std::string who = m.traffic.model.empty() ? "all traffic" : m.traffic.model;
  if (!best)
    return who + " → " + candidate_model + ": no catalog GPU serves its peak of " +
           std::to_string(m.traffic.peak_concurrency) +
           " generations within one server; keep the API.";
  const double bill = m.api_usd_per_month;
  std::string verdict;
  if (bill < best->rented_usd_per_month.low)
    verdict = "keep the API";
  else if (bill > best->rented_usd_per_month.high)
    verdict = "self-hosting is cheaper";
  else
    verdict = "too close to call (it depends on the GPU price and the throughput reached)";
  std::string s = who + " → " + candidate_model + " (" + best->quantization + "): " + verdict +
                  ": serving its peak of " + std::to_string(m.traffic.peak_concurrency) +
                  " concurrent generations at " + FormatNumber("%g", o.tokens_per_s_per_user) +
                  " tok/s takes " + IntSpan(best->gpus) + " × " + best->gpu + " (" +
                  IntSpan(best->replicas) + " replicas of " + std::to_string(best->replica_gpus) +
                  "), " + MoneySpan(best->rented_usd_per_month) + "/month rented";
  if (best->owned_usd_per_month) s += " or " + MoneySpan(*best->owned_usd_per_month) + " owned";
  s += ", against an API bill of " + Money(bill) + "/month";
  if (m.api_usd_per_mtok_output > 0)
    s += "; it breaks even at " + Tokens(best->break_even_output_tokens_per_month.low) + "–" +
         Tokens(best->break_even_output_tokens_per_month.high) + " output tokens/month (now " +
         Tokens(m.output_tokens_per_month) + ")";
  return s + ".";
}

}  // namespace

Result<Advice> Advise(const TrafficReport& traffic, const AdviseOptions& o,
                      const Catalog& catalog) {
  if (o.tokens_per_s_per_user <= 0)
    return Status::InvalidArgument("the target speed must be above 0 tokens/s");
  if (o.efficiency_low <= 0 || o.efficiency_high < o.efficiency_low || o.efficiency_high > 1)
    return Status::InvalidArgument("the roofline efficiency range must be 0 < low <= high <= 1");
  if (o.owned_lifetime_months <= 0)
    return Status::InvalidArgument("the owned lifetime must be above 0 months");
  Advice a;
  a.traffic = traffic;
  a.options = o;
  std::vector<const ModelTraffic*> groups;
  for (const ModelTraffic& t : traffic.models) groups.push_back(&t);
  if (traffic.models.size() > 1) groups.push_back(&traffic.all);
  for (const ModelTraffic* t : groups) {
    if (t->generations == 0) continue;
    ModelAdvice m;
    m.traffic = *t;
    const double requests = static_cast<double>(std::max<int64_t>(1, t->requests));
    m.input_tokens_per_request =
        std::max<int64_t>(1, std::llround(static_cast<double>(t->input_tokens) / requests));
    m.output_tokens_per_request =
        std::max<int64_t>(1, std::llround(static_cast<double>(t->output_tokens) / requests));
    m.output_tokens_per_month = t->PerDay(static_cast<double>(t->output_tokens)) * kDaysPerMonth;
    m.api_usd_per_month = t->PerDay(t->api_usd) * kDaysPerMonth;
    if (t->output_tokens > 0)
      m.api_usd_per_mtok_output = t->api_usd / static_cast<double>(t->output_tokens) * 1e6;
    std::vector<std::string> names;
    if (o.scenario) {
      Scenario s = ScenarioFor(m, o, o.scenario->model, o.scenario->gpu);
      s.source = o.scenario->source;
      s.replica_gpus = o.scenario->replica_gpus;
      s.replica_where = o.scenario->replica_where;
      s.model_where = o.scenario->model_where;
      s.usable_memory_fraction = o.scenario->usable_memory_fraction;
      s.measured_tokens_per_s = o.scenario->measured_tokens_per_s;
      if (!s.measured_tokens_per_s) s.roofline_efficiency = o.scenario->roofline_efficiency;
      m.candidates.push_back(Size(m, o, s, catalog.FindGpu(s.gpu.name)));
      names.push_back(s.model.name);
    } else {
      for (const CatalogModel& cm : catalog.models) {
        const ModelSpec spec = ModelSpecFrom(cm, catalog);
        for (const GpuSpec& g : catalog.gpus)
          m.candidates.push_back(
              Cheapest(m, o, ScenarioFor(m, o, spec, GpuChoiceFrom(g, spec.compute)), &g));
        names.push_back(cm.name);
      }
    }
    std::stable_sort(m.candidates.begin(), m.candidates.end(),
                     [](const Candidate& x, const Candidate& y) {
                       if (x.fits != y.fits) return x.fits;
                       return x.rented_usd_per_month.high < y.rented_usd_per_month.high;
                     });
    for (const std::string& n : names) m.recommendations.push_back(Recommend(m, o, n));
    a.models.push_back(std::move(m));
  }
  const bool measured = o.scenario && o.scenario->measured_tokens_per_s;
  a.assumptions = {
      "every observed concurrent generation is served at once at " +
          FormatNumber("%g", o.tokens_per_s_per_user) +
          " output tokens/s (the fleet is sized for the peak, no queueing)",
      measured ? "throughput: the scenario's measured tokens/s per replica"
               : "throughput: " + FormatNumber("%.0f", o.efficiency_low * 100) + "–" +
                     FormatNumber("%.0f", o.efficiency_high * 100) +
                     "% of the roofline bound (TensorRT-LLM's published points reach 40–80%)",
      "requests of the observed mean size (input and output tokens per request)",
      "rented: the catalog's dated $/GPU-hour range (data/gpus.json " + catalog.version +
          "), a 30-day month",
      "owned: the purchase range (estimates) over " + FormatNumber("%g", o.owned_lifetime_months) +
          " months plus power at PUE " + FormatNumber("%g", o.pue) + " and $" +
          FormatNumber("%g", o.usd_per_kwh) + "/kWh; no staff, networking or hosting",
      "the API bill: the ledger's cost over the range, scaled to 30 days",
      "the open model's quality is good enough for this traffic (not measured here)",
  };
  return a;
}

}  // namespace tollgate::plan
