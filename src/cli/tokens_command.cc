#include "cli/tokens_command.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <set>
#include <sstream>

#include "common/util.h"
#include "pricing/catalog.h"
#include "tokenizer/model_tokens.h"
#include "tokenizer/request_text.h"

namespace tollgate::cli {

TokensCommand::TokensCommand(CLI::App& app) {
  cmd_ = app.add_subcommand("tokens", "Count the tokens of a text or request body and price them per model");
  cmd_->add_option("file", file_, "File to read, or - for standard input")->required();
  cmd_->add_option("--model", models_, "Only these models (repeatable; default: every priced chat model)");
  cmd_->add_flag("--text", text_, "Treat the input as plain text even if it is a JSON request body");
  cmd_->add_option("--format", format_, "table|json")->check(CLI::IsMember({"table", "json"}));
}

std::optional<int> TokensCommand::Run() {
  if (!cmd_->parsed()) return std::nullopt;
  std::string input;
  if (file_ == "-") {
    input.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream f(file_, std::ios::binary);
    if (!f) {
      std::fprintf(stderr, "error: cannot read %s\n", file_.c_str());
      return 2;
    }
    std::stringstream ss;
    ss << f.rdbuf();
    input = ss.str();
  }
  // A request body is counted the way the model reads it; anything else as text.
  std::vector<std::string> owned;
  std::vector<std::string_view> parts;
  int64_t framing = 0;
  std::string body_model;
  bool is_request = false;
  if (!text_) {
    auto rt = tokenizer::ExtractRequestText(input);
    if (rt.ok()) {
      is_request = true;
      owned = std::move(rt->parts);
      framing = rt->framing_tokens;
      body_model = rt->model;
    }
  }
  if (!is_request) parts.push_back(input);
  for (const auto& p : owned) parts.push_back(p);
  tokenizer::ModelTokenCounter counter(parts, framing);

  auto cat = pricing::PriceCatalog::Build({}, FormatDateUtc(NowUnixMs()));
  if (!cat.ok()) {
    std::fprintf(stderr, "error: %s\n", cat.status().message().c_str());
    return 1;
  }
  std::vector<const pricing::ModelPrice*> prices;
  if (!models_.empty() || !body_model.empty()) {
    std::vector<std::string> wanted = models_;
    if (wanted.empty()) wanted.push_back(body_model);
    for (const auto& m : wanted) {
      const pricing::ModelPrice* p = (*cat)->Find(m);
      if (!p) {
        std::fprintf(stderr, "error: no price for model '%s'\n", m.c_str());
        return 2;
      }
      prices.push_back(p);
    }
  } else {
    std::set<std::string> seen;
    for (const pricing::ModelPrice* p : (*cat)->All())
      if ((p->mode == "chat" || p->mode.empty()) && seen.insert(p->provider + "/" + p->model).second) prices.push_back(p);
  }
  if (format_ == "json") std::printf("{\"request\":%s,\"models\":[", is_request ? "true" : "false");
  else std::printf("%-44s %-10s %-8s %10s %14s\n", "MODEL", "FAMILY", "COUNT", "TOKENS", "INPUT_USD");
  bool first = true;
  for (const pricing::ModelPrice* p : prices) {
    auto n = counter.ForModel(p->model);
    if (!n.ok()) {
      std::fprintf(stderr, "error: %s\n", n.status().message().c_str());
      return 1;
    }
    pricing::Usage u;
    u.input = n->tokens;
    const double usd = pricing::ComputeCost(*p, u).Total();
    const std::string name = p->provider + "/" + p->model;
    const char* how = n->method.exact ? "exact" : "estimate";
    if (format_ == "json") {
      std::printf("%s{\"model\":\"%s\",\"family\":\"%.*s\",\"count\":\"%s\",\"tokens\":%lld,\"input_cost_usd\":%.10g}",
                  first ? "" : ",", name.c_str(), static_cast<int>(n->method.family.size()), n->method.family.data(),
                  how, static_cast<long long>(n->tokens), usd);
    } else {
      std::printf("%-44s %-10.*s %-8s %10lld %14s\n", name.c_str(), static_cast<int>(n->method.family.size()),
                  n->method.family.data(), how, static_cast<long long>(n->tokens), FormatUsd(usd).c_str());
    }
    first = false;
  }
  if (format_ == "json") std::printf("]}\n");
  return 0;
}

}  // namespace tollgate::cli
