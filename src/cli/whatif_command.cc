#include "cli/whatif_command.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>

#include "common/json.h"
#include "common/util.h"
#include "config/config.h"
#include "gateway/gateway.h"
#include "governance/counters.h"
#include "governance/governor.h"
#include "http/server.h"
#include "ledger/storage.h"
#include "pricing/catalog.h"
#include "providers/replay.h"
#include "router/routerbench.h"
#include "routing/deployment_order.h"
#include "routing/route_rules.h"

namespace tollgate::cli {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

struct Totals {
  double cost = 0, quality = 0;
  int64_t n = 0, errors = 0;
};

void PrintRow(const char* name, const Totals& t) {
  std::printf("%-28s %8lld  %12.6f  %10.6f  %8.4f\n", name, static_cast<long long>(t.n), t.cost,
              t.n ? t.cost / static_cast<double>(t.n) : 0.0,
              t.n ? t.quality / static_cast<double>(t.n) : 0.0);
}

}  // namespace

WhatifCommand::WhatifCommand(CLI::App& app) {
  cmd_ = app.add_subcommand(
      "whatif",
      "Replay a dataset or a ledger under another policy config; print cost and quality deltas");
  cmd_->add_option("-c,--config", config_, "Policy config to evaluate")
      ->required()
      ->check(CLI::ExistingFile);
  cmd_->add_option("--dataset", datasets_, "routerbench-style CSV(s) to replay through the gateway")
      ->check(CLI::ExistingFile);
  cmd_->add_option("--ledger", ledger_, "Ledger to re-price under the policy")
      ->check(CLI::ExistingFile);
  cmd_->add_option("--model", model_,
                   "--dataset: the model clients ask for (usually a routed model)");
  cmd_->add_option("--baseline", baseline_,
                   "--dataset: the dataset model to compare with (default: best mean score)");
  cmd_->add_option("--limit", limit_, "--dataset: replay only the first N prompts")
      ->check(CLI::NonNegativeNumber);
  cmd_->add_option("--from", from_, "--ledger: first day YYYY-MM-DD (UTC)");
  cmd_->add_option("--to", to_, "--ledger: last day YYYY-MM-DD (UTC)");
  cmd_->add_flag("--json", json_, "Print JSON");
}

std::optional<int> WhatifCommand::Run() {
  if (!cmd_->parsed()) return std::nullopt;
  if (datasets_.empty() == ledger_.empty()) {
    std::fprintf(stderr, "error: give exactly one of --dataset or --ledger\n");
    return 2;
  }
  return datasets_.empty() ? RunLedger() : RunDataset();
}

int WhatifCommand::RunDataset() {
  if (model_.empty()) {
    std::fprintf(stderr, "error: --dataset needs --model (the model clients would ask for)\n");
    return 2;
  }
  auto cfg = config::LoadConfigFile(config_);
  if (!cfg.ok()) {
    std::fprintf(stderr, "%s\n", cfg.status().message().c_str());
    return 2;
  }
  if (cfg->FindModel(model_) == nullptr) {
    std::fprintf(stderr, "error: %s has no model '%s'\n", config_.c_str(), model_.c_str());
    return 2;
  }
  auto data = router::LoadRouterBenchFiles(datasets_);
  if (!data.ok()) {
    std::fprintf(stderr, "error: %s\n", data.status().message().c_str());
    return 2;
  }
  int baseline = data->ModelIndex(baseline_);
  if (baseline_.empty()) {
    double best = -1;
    for (size_t m = 0; m < data->models.size(); ++m) {
      double s = 0;
      for (const auto& smp : data->samples) s += smp.outcomes[m].score;
      if (s > best) {
        best = s;
        baseline = static_cast<int>(m);
      }
    }
  } else if (baseline < 0) {
    std::fprintf(stderr, "error: the dataset has no model '%s'\n", baseline_.c_str());
    return 2;
  }
  // An offline, private run: a temporary ledger, an in-memory cache, no auth.
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("tollgate-whatif-" + NewRequestId());
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  cfg->ledger.path = (dir / "ledger.db").string();
  cfg->ledger.url = cfg->ledger.path;
  cfg->cache.path = "";
  cfg->auth.enabled = false;
  cfg->server.threads = 1;
  auto prices = pricing::PriceCatalog::Build(cfg->pricing, FormatDateUtc(NowUnixMs()));
  auto storage = ledger::OpenLedger(cfg->ledger.url, {2048, 50, 1000000});
  if (!storage.ok()) {
    std::fprintf(stderr, "error: %s\n", storage.status().message().c_str());
    return 1;
  }
  auto ledger = (*storage)->OpenWriter();
  if (!prices.ok() || !ledger.ok()) {
    std::fprintf(stderr, "error: %s\n",
                 (!prices.ok() ? prices.status() : ledger.status()).message().c_str());
    return 1;
  }
  governance::LocalCounterStore counters;
  auto gov = governance::Governor::Create(*cfg, **storage, counters);
  if (!gov.ok()) {
    std::fprintf(stderr, "error: %s\n", gov.status().message().c_str());
    return 2;
  }
  auto gw = gateway::Gateway::Create(*cfg, **prices, **ledger, **gov);
  if (!gw.ok()) {
    std::fprintf(stderr, "%s\n", gw.status().message().c_str());
    return 2;
  }
  gateway::Gateway* g = gw->get();
  http::ServerOptions so;
  so.host = "127.0.0.1";
  so.port = 0;
  so.threads = 1;
  so.max_body_bytes = cfg->server.max_body_bytes;
  http::Server server(
      so, [g](int worker, http::Request& req, http::PreError pre, http::ClientStream& out) {
        return g->Handle(worker, req, pre, out);
      });
  g->AttachWorkers(server);
  if (Status st = server.Listen(); !st.ok()) {
    std::fprintf(stderr, "%s\n", st.message().c_str());
    return 1;
  }
  server.Start();

  Totals policy, base;
  std::map<std::string, int64_t> served, routes;
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), server.port()));
  const size_t n = limit_ > 0 ? std::min<size_t>(static_cast<size_t>(limit_), data->samples.size())
                              : data->samples.size();
  for (size_t i = 0; i < n; ++i) {
    const router::Sample& s = data->samples[i];
    base.cost += s.outcomes[static_cast<size_t>(baseline)].cost_usd;
    base.quality += s.outcomes[static_cast<size_t>(baseline)].score;
    ++base.n;
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    w.StartObject();
    w.Key("model");
    w.String(model_.c_str());
    w.Key("temperature");
    w.Int(0);
    w.Key("messages");
    w.StartArray();
    w.StartObject();
    w.Key("role");
    w.String("user");
    w.Key("content");
    w.String(s.prompt.c_str(), static_cast<rapidjson::SizeType>(s.prompt.size()));
    w.EndObject();
    w.EndArray();
    w.EndObject();
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, "/v1/chat/completions", 11};
    req.set(bhttp::field::host, "127.0.0.1");
    req.set(bhttp::field::content_type, "application/json");
    req.set("x-tollgate-tags", "whatif");
    req.keep_alive(true);
    req.body().assign(sb.GetString(), sb.GetSize());
    req.prepare_payload();
    beast::flat_buffer buf;
    bhttp::response<bhttp::string_body> res;
    boost::system::error_code wec;
    bhttp::write(stream, req, wec);
    if (!wec) bhttp::read(stream, buf, res, wec);
    ++policy.n;
    if (wec || res.result_int() != 200) {
      ++policy.errors;
      if (wec) break;
      continue;
    }
    auto route = res.find("x-tollgate-route");
    std::string r = route == res.end() ? "(none)" : std::string(route->value());
    // Group routes by kind and target: "learned->gpt4", "cascade:gpt35 accepted",
    // "rule:code->large".
    if (size_t arrow = r.rfind("->"); arrow != std::string::npos)
      r = r.substr(0, r.find(':')) + r.substr(arrow);
    else if (size_t paren = r.find(" ("); paren != std::string::npos)
      r = r.substr(0, paren);
    routes[r]++;
    rapidjson::Document d;
    const JsonParse d_json = ParseJson(d, res.body());
    std::string answered_by;
    if (d_json.ok && d.IsObject() && d.HasMember("model") && d["model"].IsString())
      answered_by = d["model"].GetString();
    int m = data->ModelIndex(answered_by);
    if (m >= 0) policy.quality += s.outcomes[static_cast<size_t>(m)].score;
    served[answered_by.empty() ? "(unknown)" : answered_by]++;
  }
  boost::system::error_code ignore;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignore);
  server.Stop(1000);
  g->DetachWorkers();
  (void)g->Close();
  (void)(*ledger)->Close();
  // Every upstream call the policy made (cascade steps and judges included) is in the ledger.
  policy.cost = 0;
  if (auto all = (*storage)->OpenReader()->TotalsByGroup(ledger::GroupKey::kAll, {}); all.ok())
    for (const auto& g : *all) policy.cost += g.cost_usd;
  std::filesystem::remove_all(dir, ec);
  const std::string& bname = data->models[static_cast<size_t>(baseline)];
  if (json_) {
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    auto tot = [&](const Totals& t) {
      w.StartObject();
      w.Key("prompts");
      w.Int64(t.n);
      w.Key("cost_usd");
      w.Double(t.cost);
      w.Key("mean_quality");
      w.Double(t.n ? t.quality / static_cast<double>(t.n) : 0);
      w.Key("errors");
      w.Int64(t.errors);
      w.EndObject();
    };
    w.StartObject();
    w.Key("policy");
    tot(policy);
    w.Key("baseline_model");
    w.String(bname.c_str());
    w.Key("baseline");
    tot(base);
    w.Key("served");
    w.StartObject();
    for (const auto& [k, v] : served) {
      w.Key(k.c_str());
      w.Int64(v);
    }
    w.EndObject();
    w.EndObject();
    std::cout << sb.GetString() << "\n";
    return policy.errors > 0 ? 1 : 0;
  }
  std::printf("%-28s %8s  %12s  %10s  %8s\n", "", "prompts", "cost_usd", "per_prompt", "quality");
  PrintRow(("policy: " + model_).c_str(), policy);
  PrintRow(("baseline: " + bname).c_str(), base);
  const double dq =
      (policy.quality - base.quality) / static_cast<double>(std::max<int64_t>(1, policy.n));
  std::printf("\ncost delta %+.6f USD (%+.1f%%), quality delta %+.4f (%+.1f%% of the baseline's)\n",
              policy.cost - base.cost,
              base.cost > 0 ? 100.0 * (policy.cost - base.cost) / base.cost : 0.0, dq,
              base.quality > 0 ? 100.0 * (policy.quality - base.quality) / base.quality : 0.0);
  std::printf("answered by:");
  for (const auto& [k, v] : served) std::printf(" %s=%lld", k.c_str(), static_cast<long long>(v));
  std::printf("\nroutes:");
  for (const auto& [k, v] : routes) std::printf(" %s=%lld", k.c_str(), static_cast<long long>(v));
  std::printf("\n");
  if (policy.errors > 0)
    std::printf("%lld requests failed\n", static_cast<long long>(policy.errors));
  return policy.errors > 0 ? 1 : 0;
}

int WhatifCommand::RunLedger() {
  auto cfg = config::LoadConfigFile(config_);
  if (!cfg.ok()) {
    std::fprintf(stderr, "%s\n", cfg.status().message().c_str());
    return 2;
  }
  auto prices = pricing::PriceCatalog::Build(cfg->pricing, FormatDateUtc(NowUnixMs()));
  if (!prices.ok()) {
    std::fprintf(stderr, "pricing: %s\n", prices.status().message().c_str());
    return 2;
  }
  auto storage = ledger::OpenLedger(ledger_);
  if (!storage.ok()) {
    std::fprintf(stderr, "error: %s\n", storage.status().message().c_str());
    return 2;
  }
  const int64_t to_ms =
      (to_.empty() ? ParseDateUtcMs(FormatDateUtc(NowUnixMs())) : ParseDateUtcMs(to_)).value_or(-1);
  const int64_t from_ms =
      from_.empty() ? to_ms - 29LL * 86400000 : ParseDateUtcMs(from_).value_or(-1);
  if (to_ms < 0 || from_ms < 0) {
    std::fprintf(stderr, "error: --from/--to must be dates YYYY-MM-DD\n");
    return 2;
  }
  routing::LatencyStats latency(cfg->models);
  std::map<std::string, std::unique_ptr<routing::RouteRules>> rules;
  struct Agg {
    int64_t n = 0;
    double before = 0, after = 0;
    int64_t unpriced = 0;
  };
  std::map<std::string, Agg> by_model;
  Agg total;
  int64_t unmatched = 0;
  Status scanned = (*storage)->OpenReader()->ScanRange(
      {from_ms, to_ms + 86400000}, [&](const ledger::UsageRow& row) {
        if (row.status != 200) return;
        const std::string requested(row.requested_model), served_before(row.served_model),
            tags(row.tags);
        const pricing::Usage& u = row.usage;
        const double before = row.cost_usd.value_or(0);
        // Where the policy sends it: rules that can be decided from the ledger
        // (tags, prompt tokens), else the route's default; for a plain model its
        // first deployment under its strategy.
        const config::ModelConfig* m = cfg->FindModel(requested);
        std::string after_model = served_before;
        if (m == nullptr) {
          ++unmatched;
        } else {
          if (m->route) {
            const config::ModelConfig* target = nullptr;
            routing::RequestFeatures f;
            f.prompt_tokens = u.PromptTotal();
            for (size_t p = 0, c; p <= tags.size() && !tags.empty(); p = c + 1) {
              c = tags.find(',', p);
              if (c == std::string::npos) c = tags.size();
              f.tags.push_back(tags.substr(p, c - p));
            }
            for (const auto& r : m->route->rules) {
              if (!r.regex.empty() || r.has_tools || r.has_images)
                continue;  // not decidable from the ledger
              if (r.min_prompt_tokens && f.prompt_tokens < *r.min_prompt_tokens) continue;
              if (r.max_prompt_tokens && f.prompt_tokens > *r.max_prompt_tokens) continue;
              bool any = r.tags_any.empty();
              for (const auto& want : r.tags_any)
                for (const auto& have : f.tags) any = any || want == have;
              if (!any) continue;
              target = cfg->FindModel(r.to);
              break;
            }
            if (target == nullptr && !m->route->default_model.empty())
              target = cfg->FindModel(m->route->default_model);
            if (target == nullptr && m->route->cascade)
              target = cfg->FindModel(m->route->cascade->steps.front());
            if (target == nullptr && !m->route->baseline.empty())
              target = cfg->FindModel(m->route->baseline);
            m = target;
          }
          if (m != nullptr && !m->deployments.empty())
            after_model =
                m->deployments[routing::PlanDeployments(*m, latency, **prices, 0.0).order.front()]
                    .model;
        }
        const pricing::ModelPrice* p = (*prices)->Find(after_model);
        const double after = p ? pricing::ComputeCost(*p, u).Total() : before;
        Agg& a = by_model[requested + " -> " + after_model];
        for (Agg* x : {&a, &total}) {
          ++x->n;
          x->before += before;
          x->after += after;
          if (!p) ++x->unpriced;
        }
      });
  if (!scanned.ok()) {
    std::fprintf(stderr, "error: %s\n", scanned.message().c_str());
    return 1;
  }
  std::printf("%-56s %8s  %12s  %12s  %8s\n", "requested -> under the policy", "requests",
              "cost_before", "cost_after", "delta");
  for (const auto& [k, a] : by_model)
    std::printf("%-56s %8lld  %12.6f  %12.6f  %+7.1f%%\n", k.c_str(), static_cast<long long>(a.n),
                a.before, a.after, a.before > 0 ? 100 * (a.after - a.before) / a.before : 0.0);
  std::printf("%-56s %8lld  %12.6f  %12.6f  %+7.1f%%\n", "TOTAL", static_cast<long long>(total.n),
              total.before, total.after,
              total.before > 0 ? 100 * (total.after - total.before) / total.before : 0.0);
  std::printf(
      "\nSame token counts re-priced; quality is unknown for a ledger (use --dataset with a replay "
      "provider).\n");
  if (unmatched > 0)
    std::printf("%lld requests name models the policy does not declare (kept as they were)\n",
                static_cast<long long>(unmatched));
  if (total.unpriced > 0)
    std::printf("%lld requests would go to unpriced models (kept at their old cost)\n",
                static_cast<long long>(total.unpriced));
  return 0;
}

}  // namespace tollgate::cli
