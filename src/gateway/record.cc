// Record stage: pricing a finished request, its counterfactual baseline,
// settling its budget reservation and queueing its ledger row, once.
#include "gateway/call.h"

namespace tollgate::gateway {

using asio::awaitable;
using asio::use_awaitable;

void Gateway::PriceAndRecord(Call& call) {
  if (call.recorded) return;  // one row per request, whichever path ends it
  call.recorded = true;
  ledger::Row& row = call.row;
  row.ts_end_ms = NowUnixMs();
  row.latency_ms = static_cast<double>(MonotonicUs() - call.start_us) / 1000.0;
  row.price_version = prices_.version();
  const pricing::ModelPrice* price = nullptr;
  if (!call.response_model.empty()) price = prices_.Find(call.response_model);
  if (!price && !row.served_model.empty()) price = prices_.Find(row.served_model);
  if (!price && !row.requested_model.empty() && row.usage.Total() > 0) price = prices_.Find(row.requested_model);
  if (call.fixed_cost) {
    // Replay: the recorded call's cost, all of it on output (the dataset has no split).
    row.cost = pricing::Cost{};
    row.cost.output = *call.fixed_cost;
    row.cost_known = true;
    row.price_version = "replay";
    call.cost_header = FormatUsd(row.cost.Total());
  } else if (price) {
    if (price->source != "catalog") row.price_version += price->source == "config" ? "+override" : "+" + price->source;
    row.cost = pricing::ComputeCost(*price, row.usage);
    row.cost_known = true;
    call.cost_header = FormatUsd(row.cost.Total());
  } else if (row.usage.Total() == 0) {
    // Nothing was consumed (e.g. a rejected request): that costs nothing.
    row.cost_known = true;
    call.cost_header = "0";
  } else {
    row.cost_known = false;
    call.cost_header = "unknown";
    stats_.unknown_price.fetch_add(1, std::memory_order_relaxed);
    if (FirstUnknownPrice(row.served_model.empty() ? row.requested_model : row.served_model))
      log::Warn("no price for model '" + (row.served_model.empty() ? row.requested_model : row.served_model) +
              "': cost recorded as unknown (add it under pricing.overrides)");
  }
  if (row.served_model.empty() && !call.response_model.empty()) row.served_model = call.response_model;
  // Budget-aware prompting: control requests set the baseline, treated ones are measured against it.
  if (!call.hint_model.empty() && row.status == 200 && !row.estimated) {
    if (call.hint.control) hints_.RecordControl(call.hint_model, row.usage.OutputTotal());
    else if (call.hint.hinted || call.hint.clamped) row.output_tokens_saved = hints_.Saved(call.hint_model, row.usage.OutputTotal());
  }
  // The counterfactual: these tokens (plus any the hint saved) at the baseline model's price.
  if (!call.baseline_model.empty() && !row.baseline_cost_usd) {
    row.baseline_model = call.baseline_model;
    if (call.replay_baseline_cost) {
      row.baseline_cost_usd = *call.replay_baseline_cost;
    } else if (const pricing::ModelPrice* bp = prices_.Find(call.baseline_model)) {
      pricing::Usage u = call.baseline_usage.value_or(row.usage);
      u.output += row.output_tokens_saved;
      row.baseline_cost_usd = pricing::ComputeCost(*bp, u).Total();
    }
  }
  // The lever is named whether it saved or cost money, so its sum is honest.
  if (row.savings_lever.empty() && row.baseline_cost_usd && row.cost_known) {
    if (!row.route.empty() && row.served_model != call.baseline_model) row.savings_lever = "routing";
    else if (row.output_tokens_saved > 0) row.savings_lever = "budget_hint";
  }
  if (row.status == 200 && call.model_cfg != nullptr && !row.estimated)
    latency_->Record(call.model_cfg->name, call.deployment, row.ttft_ms.value_or(row.latency_ms));
  if (call.admission.active) {
    governor_.Settle(call.admission, row.cost_known ? row.cost.Total() : 0.0, row.usage.Total());
    row.reserved_usd = call.admission.reserved_usd;
    for (const auto& slot : call.admission.slots) row.charges.push_back({slot.budget_id, slot.window_start_ms});
    call.admission.active = false;
  }
  if (call.defer_record) return;
  metrics_.Record(row);
  ledger_.Append(row);
}

void Gateway::RecordAbandoned(Call& call) {
  // Nothing answered this request through a normal path: keep what is known.
  if (call.row.status == 0 || call.row.status == 200) call.row.status = 499;
  if (call.row.error_class.empty()) call.row.error_class = "abandoned";
  stats_.abandoned.fetch_add(1, std::memory_order_relaxed);
  log::Warn("request " + call.row.id + " ended without an answer; recorded as abandoned");
  PriceAndRecord(call);
}

void Gateway::Record(ledger::Row& row) {
  metrics_.Record(row);
  ledger_.Append(row);
}

}  // namespace tollgate::gateway
