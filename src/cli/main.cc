// tollgate's command line: serve, report, config check|docs, prices, version.
// The only place with a main(); it wires components together and maps their
// Status errors to exit codes (0 ok, 1 runtime failure, 2 bad config or usage).
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <pthread.h>
#include <sys/resource.h>

#include "common/log.h"
#include "common/util.h"
#include "config/config.h"
#include "dashboard/dashboard.h"
#include "cli/governance_commands.h"
#include "cli/validators.h"
#include "cli/plan_command.h"
#include "cli/tokens_command.h"
#include "cli/usage_command.h"
#include "cli/router_command.h"
#include "cli/cache_command.h"
#include "cli/whatif_command.h"
#include "gateway/gateway.h"
#include "governance/governor.h"
#include "http/server.h"
#include "governance/counters.h"
#include "governance/redis_counters.h"
#include "ledger/storage.h"
#include "pricing/catalog.h"
#include "report/report.h"

namespace tollgate {
namespace {

Result<config::Config> LoadConfig(const std::string& path) {
  return path.empty() ? config::LoadEmbeddedConfig() : config::LoadConfigFile(path);
}

// Raises the soft open-file limit to the hard one and returns the client
// connections that fit in it: each may hold an upstream connection too, and the
// ledger, caches, listeners and logs need a few descriptors of their own.
int64_t ConnectionLimit(int64_t configured) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return configured;
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  if (rl.rlim_cur == RLIM_INFINITY) return configured;
  const int64_t fit = std::max<int64_t>(1, (static_cast<int64_t>(rl.rlim_cur) - 64) / 2);
  if (configured <= fit) return configured;
  log::Warn("server.max_connections " + std::to_string(configured) + " does not fit the open-file limit " +
            std::to_string(rl.rlim_cur) + " (ulimit -n): serving at most " + std::to_string(fit) +
            " connections at once");
  return fit;
}

int Serve(const std::string& config_path, const std::string& listen, const std::string& db) {
  // Block the stop signals before any thread starts so only sigwait sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto cfg = LoadConfig(config_path);
  if (!cfg.ok()) {
    std::fprintf(stderr, "%s\n", cfg.status().message().c_str());
    return 2;
  }
  for (const auto& w : cfg->warnings) log::Warn("config: " + w);
  if (!listen.empty()) cfg->server.listen = listen;
  if (!db.empty()) cfg->ledger.url = db;

  auto prices = pricing::PriceCatalog::Build(cfg->pricing, FormatDateUtc(NowUnixMs()));
  if (!prices.ok()) {
    std::fprintf(stderr, "pricing: %s\n", prices.status().message().c_str());
    return 2;
  }
  // The composition root: the storage chosen by ledger.url, the counters, and
  // who gets which of them.
  auto storage = ledger::OpenLedger(cfg->ledger.url, {cfg->ledger.batch_size, cfg->ledger.flush_interval_ms,
                                                      cfg->ledger.max_queue_rows, cfg->ledger.spool_path});
  if (!storage.ok()) {
    std::fprintf(stderr, "%s\n", storage.status().message().c_str());
    return 2;
  }
  auto ledger = (*storage)->OpenWriter();
  if (!ledger.ok()) {
    std::fprintf(stderr, "%s\n", ledger.status().message().c_str());
    return 1;
  }
  auto counters = governance::OpenCounterStore(cfg->counters, **storage);
  if (!counters.ok()) {
    std::fprintf(stderr, "%s\n", counters.status().message().c_str());
    return 2;
  }
  auto gov = governance::Governor::Create(*cfg, **storage, **counters);
  if (!gov.ok()) {
    std::fprintf(stderr, "governance: %s\n", gov.status().message().c_str());
    return gov.status().code() == StatusCode::kInvalidArgument ? 2 : 1;
  }
  (*gov)->Start();
  auto gw = gateway::Gateway::Create(*cfg, **prices, **ledger, **gov);
  if (!gw.ok()) {
    std::fprintf(stderr, "%s\n", gw.status().message().c_str());
    return 2;
  }

  http::ServerOptions so;
  const std::string& l = cfg->server.listen;
  size_t colon = l.rfind(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "server.listen must be HOST:PORT (got '%s')\n", l.c_str());
    return 2;
  }
  so.host = l.substr(0, colon);
  if (so.host.size() > 2 && so.host.front() == '[') so.host = so.host.substr(1, so.host.size() - 2);
  try {
    int port = std::stoi(l.substr(colon + 1));
    if (port < 0 || port > 65535) throw std::out_of_range("port");
    so.port = static_cast<uint16_t>(port);
  } catch (const std::exception&) {
    std::fprintf(stderr, "server.listen has an invalid port (got '%s')\n", l.c_str());
    return 2;
  }
  so.threads = static_cast<int>(cfg->server.threads);
  so.max_body_bytes = cfg->server.max_body_bytes;
  so.idle_timeout_ms = cfg->server.client_idle_timeout_ms;
  so.max_connections = ConnectionLimit(cfg->server.max_connections);
  gateway::Gateway* g = gw->get();
  auto dash = dashboard::Dashboard::Create(*cfg, **gov, (*storage)->OpenReader());
  if (!dash.ok()) {
    std::fprintf(stderr, "%s\n", dash.status().message().c_str());
    return 1;
  }
  g->AttachDashboard(dash->get());
  http::Server server(so, [g](int worker, http::Request& req, http::PreError pre, http::ClientStream& out) {
    return g->Handle(worker, req, pre, out);
  });
  g->AttachWorkers(server);
  Status st = server.Listen();
  if (!st.ok()) {
    std::fprintf(stderr, "%s\n", st.message().c_str());
    return 1;
  }
  server.Start();
  std::string host = so.host.find(':') != std::string::npos ? "[" + so.host + "]" : so.host;
  std::printf("tollgate listening on http://%s:%u\n", host.c_str(), server.port());
  std::fflush(stdout);
  log::Info("config " + cfg->source + ", ledger " + cfg->ledger.url + ", " + std::to_string((*prices)->size()) +
            " priced models (catalog " + (*prices)->version() + ")");

  int sig = 0;
  sigwait(&stop_signals, &sig);
  log::Info(std::string("received ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") + ", draining");
  server.Stop(static_cast<int>(cfg->server.drain_timeout_ms));
  g->DetachWorkers();
  // No counter store answer may reach a frame destroyed below.
  (*counters)->Quiesce();
  // Requests still suspended on the loops are destroyed now, while the ledger
  // is open: a Call destroyed without its row records itself (gateway/call.h).
  server.DestroyLoops();
  if (Status cs = g->Close(); !cs.ok()) log::Error("cache: " + cs.message());
  (*gov)->Stop();
  Status closed = (*ledger)->Close();
  if (!closed.ok()) {
    log::Error(closed.message());
    return 1;
  }
  log::Info("ledger flushed; bye");
  return 0;
}

int Report(const report::ReportOptions& o, const std::string& format, bool savings) {
  auto storage = ledger::OpenLedger(o.db_path);
  if (!storage.ok()) {
    std::fprintf(stderr, "error: %s\n", storage.status().message().c_str());
    return 2;
  }
  auto r = report::BuildReport(*(*storage)->OpenReader(), o);
  if (!r.ok()) {
    std::fprintf(stderr, "error: %s\n", r.status().message().c_str());
    return r.status().code() == StatusCode::kInvalidArgument ? 2 : 1;
  }
  if (savings) {
    if (format == "json") std::cout << report::RenderSavingsJson(*r);
    else if (format == "csv") std::cout << report::RenderSavingsCsv(*r);
    else std::cout << report::RenderSavingsTable(*r);
    return 0;
  }
  if (format == "json") std::cout << report::RenderJson(*r);
  else if (format == "csv") std::cout << report::RenderCsv(*r);
  else std::cout << report::RenderTable(*r);
  return 0;
}

// `tollgate prices`: a model's rates, or the cost of a given usage.
int Prices(const std::string& model, const pricing::Usage& usage, bool batch, bool json, bool list) {
  auto cat = pricing::PriceCatalog::Build({}, FormatDateUtc(NowUnixMs()));
  if (!cat.ok()) {
    std::fprintf(stderr, "%s\n", cat.status().message().c_str());
    return 1;
  }
  if (list) {
    for (const pricing::ModelPrice* p : (*cat)->All())
      std::printf("%s/%s\t%s\t%.4f\t%.4f\n", p->provider.c_str(), p->model.c_str(), p->effective_from.c_str(),
                  p->rates.input, p->rates.output);
    return 0;
  }
  if (model.empty()) {
    std::fprintf(stderr, "error: give a model, or --list\n");
    return 2;
  }
  const pricing::ModelPrice* p = (*cat)->Find(model);
  if (!p) {
    std::fprintf(stderr, "no price for '%s' in catalog %s\n", model.c_str(), (*cat)->version().c_str());
    return 1;
  }
  pricing::Cost c = pricing::ComputeCost(*p, usage, batch);
  if (json) {
    std::printf("{\"provider\":\"%s\",\"model\":\"%s\",\"effective_from\":\"%s\",\"catalog_version\":\"%s\","
                "\"cost_usd\":%.12g,\"input_cost_usd\":%.12g,\"cache_read_cost_usd\":%.12g,"
                "\"cache_write_cost_usd\":%.12g,\"output_cost_usd\":%.12g,\"reasoning_cost_usd\":%.12g}\n",
                p->provider.c_str(), p->model.c_str(), p->effective_from.c_str(), (*cat)->version().c_str(), c.Total(),
                c.input, c.cache_read, c.cache_write, c.output, c.reasoning);
    return 0;
  }
  std::printf("%s/%s (effective %s, %s)\n  input %.4f  cached_input %.4f  cache_write_5m %.4f  cache_write_1h %.4f\n"
              "  output %.4f  reasoning %.4f  USD per 1M tokens; batch discount %.0f%%; %zu long-context tiers\n",
              p->provider.c_str(), p->model.c_str(), p->effective_from.c_str(), p->source.c_str(), p->rates.input,
              p->rates.cached_input, p->rates.cache_write_5m, p->rates.cache_write_1h, p->rates.output,
              p->rates.reasoning, p->batch_discount * 100, p->tiers.size());
  if (usage.Total() > 0) std::printf("  cost of the given usage: $%s\n", FormatUsd(c.Total()).c_str());
  return 0;
}

}  // namespace
}  // namespace tollgate

int main(int argc, char** argv) {
  using namespace tollgate;
  CLI::App app{"tollgate: an LLM gateway that meters, governs and saves AI spend"};
  app.require_subcommand(1);
  app.set_version_flag("--version", TOLLGATE_VERSION);

  std::string config_path, listen, db;
  auto* serve = app.add_subcommand("serve", "Run the gateway");
  serve->add_option("-c,--config", config_path, "YAML config file (default: the bundled config)")->check(CLI::ExistingFile);
  serve->add_option("--listen", listen, "HOST:PORT to listen on (overrides server.listen)");
  serve->add_option("--db", db, "Ledger: a file path, sqlite:// or postgres:// URL (overrides ledger.url and ledger.path)");

  report::ReportOptions ro;
  std::string format = "table", report_config;
  bool report_savings = false;
  auto* rep = app.add_subcommand("report", "Spend, tokens and requests from the ledger");
  rep->add_option("--db", ro.db_path,
                  "Ledger: a file path, sqlite:// or postgres:// URL (default: ledger.url/path of --config, or ./tollgate.db)");
  rep->add_option("-c,--config", report_config, "Config whose ledger to read")->check(CLI::ExistingFile);
  rep->add_option("--by", ro.by,
                  "day|week|month|model|provider|key|user|project|tag|lever|session (lever: by "
                  "savings lever; session: by coding-agent session)")
      ->check(CLI::IsMember({"day", "week", "month", "model", "provider", "key", "user", "project",
                             "tag", "lever", "session"}));
  rep->add_option("--from", ro.from, "First day, YYYY-MM-DD (UTC, default 30 days ago)");
  rep->add_option("--to", ro.to, "Last day, YYYY-MM-DD (UTC, default today)");
  rep->add_flag("--savings", report_savings,
                "Savings view: cost vs what the requests would have cost without tollgate, saved per lever "
                "(cache, semantic_cache, routing, cascade, budget_hint)");
  rep->add_option("--format", format, "table|csv|json")->check(CLI::IsMember({"table", "csv", "json"}));

  auto* cfgcmd = app.add_subcommand("config", "Validate a config or print the settings reference");
  cfgcmd->require_subcommand(1);
  std::string check_path;
  auto* check = cfgcmd->add_subcommand("check", "Validate a config file");
  check->add_option("file", check_path, "Config file")->required();
  auto* docs = cfgcmd->add_subcommand("docs", "Print the settings reference (markdown)");

  std::string price_model;
  pricing::Usage price_usage;
  bool price_json = false, price_batch = false, price_list = false;
  auto* prices = app.add_subcommand("prices", "Show a model's catalog price, or price a usage");
  prices->add_option("model", price_model, "Model id (provider/model also accepted)");
  prices->add_flag("--list", price_list, "List every priced model");
  prices->add_option("--input", price_usage.input, "Uncached input tokens")->check(cli::NonNegative());
  prices->add_option("--cache-read", price_usage.cache_read, "Cache-read input tokens")->check(cli::NonNegative());
  prices->add_option("--cache-write-5m", price_usage.cache_write_5m, "5-minute cache-write tokens")->check(cli::NonNegative());
  prices->add_option("--cache-write-1h", price_usage.cache_write_1h, "1-hour cache-write tokens")->check(cli::NonNegative());
  prices->add_option("--output", price_usage.output, "Output tokens (reasoning excluded)")->check(cli::NonNegative());
  prices->add_option("--reasoning", price_usage.reasoning, "Reasoning tokens")->check(cli::NonNegative());
  prices->add_flag("--batch", price_batch, "Apply the batch discount");
  prices->add_flag("--json", price_json, "Print JSON");
  auto* version = app.add_subcommand("version", "Print the version");
  cli::GovernanceCommands gov_cmds(app);
  cli::TokensCommand tokens_cmd(app);
  cli::UsageCommand usage_cmd(app);
  cli::RouterCommand router_cmd(app);
  cli::CacheCommand cache_cmd(app);
  cli::WhatifCommand whatif_cmd(app);
  cli::PlanCommand plan_cmd(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  if (serve->parsed()) return Serve(config_path, listen, db);
  if (rep->parsed()) {
    if (ro.db_path.empty()) {
      ro.db_path = "./tollgate.db";
      if (!report_config.empty()) {
        auto c = config::LoadConfigFile(report_config);
        if (!c.ok()) {
          std::fprintf(stderr, "%s\n", c.status().message().c_str());
          return 2;
        }
        ro.db_path = c->ledger.url;
      }
    }
    return Report(ro, format, report_savings);
  }
  if (check->parsed()) {
    auto c = config::LoadConfigFile(check_path);
    if (!c.ok()) {
      std::fprintf(stderr, "%s\n", c.status().message().c_str());
      return 2;
    }
    for (const auto& w : c->warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
    std::printf("%s: ok (%zu providers, %zu models)\n", check_path.c_str(), c->providers.size(), c->models.size());
    return 0;
  }
  if (docs->parsed()) {
    std::cout << config::SettingsReferenceMarkdown();
    return 0;
  }
  if (prices->parsed()) return Prices(price_model, price_usage, price_batch, price_json, price_list);
  if (auto rc = gov_cmds.Run()) return *rc;
  if (auto rc = tokens_cmd.Run()) return *rc;
  if (auto rc = usage_cmd.Run()) return *rc;
  if (auto rc = router_cmd.Run()) return *rc;
  if (auto rc = cache_cmd.Run()) return *rc;
  if (auto rc = whatif_cmd.Run()) return *rc;
  if (auto rc = plan_cmd.Run()) return *rc;
  if (version->parsed()) {
    std::printf("tollgate %s\n", TOLLGATE_VERSION);
    return 0;
  }
  return 0;
}
