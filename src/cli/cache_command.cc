#include "cli/cache_command.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include "common/json.h"
#include "cache/exact_cache.h"
#include "cache/minhash.h"
#include "cache/semantic_index.h"
#include "common/status.h"
#include "common/util.h"
#include "http/upstream.h"

namespace tollgate::cli {
namespace {

using Vectors = std::vector<std::vector<float>>;

struct Pair {
  std::string origin, similar;
};

Result<std::vector<Pair>> LoadPairs(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::NotFound("cannot read " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string text = ss.str();
  rapidjson::Document d;
  const JsonParse d_json = ParseJson(d, text);
  if (!d_json.ok || !d.IsArray())
    return Status::InvalidArgument(path + ": expected a JSON array of {origin, similar} objects");
  std::vector<Pair> out;
  for (const auto& e : d.GetArray()) {
    if (!e.IsObject() || !e.HasMember("origin") || !e.HasMember("similar") ||
        !e["origin"].IsString() || !e["similar"].IsString())
      return Status::InvalidArgument(path + ": element " + std::to_string(out.size()) +
                                     " is not an {origin, similar} object of strings");
    out.push_back({e["origin"].GetString(), e["similar"].GetString()});
  }
  if (out.size() < 2) return Status::InvalidArgument(path + ": needs at least two pairs");
  return out;
}

// The built-in lexical stand-in for an embedding model (NOT a model): signed
// feature hashing of word unigrams (weight 1) and character trigrams of the
// normalised text (weight 0.5) into kLexicalDim dimensions, L2-normalised by
// SemanticIndex. It exercises the HNSW path; its cosine measures shared
// surface form, not meaning.
constexpr int kLexicalDim = 1024;
std::vector<float> LexicalVector(std::string_view text) {
  std::vector<float> v(kLexicalDim, 0.0f);
  const std::string norm = cache::NormalizeForMatch(text);
  auto add = [&](std::string_view feature, float w) {
    const std::string h = Sha256Hex(feature);  // stable across platforms; fast enough for an eval
    const uint64_t x = std::strtoull(h.substr(0, 16).c_str(), nullptr, 16);
    v[x % kLexicalDim] += (x >> 63) ? w : -w;
  };
  size_t pos = 0;
  while (pos < norm.size()) {
    size_t sp = norm.find(' ', pos);
    if (sp == std::string::npos) sp = norm.size();
    add("w:" + norm.substr(pos, sp - pos), 1.0f);
    pos = sp + 1;
  }
  const std::string padded = " " + norm + " ";
  for (size_t i = 0; i + 3 <= padded.size(); ++i) add("c:" + padded.substr(i, 3), 0.5f);
  return v;
}

// POSTs {"model", "input": [texts]} to an OpenAI-compatible embeddings
// endpoint (`url` is the endpoint or its /v1 base), in batches of 64.
Result<Vectors> FetchEmbeddings(const std::string& url, const std::string& model,
                                const std::string& api_key, const std::vector<std::string>& texts) {
  namespace asio = boost::asio;
  namespace beast = boost::beast;
  namespace bhttp = boost::beast::http;
  auto u = http::ParseUrl(url);
  if (!u.ok()) return u.status();
  std::string target = u->path.empty() ? "/v1/embeddings" : u->path;
  if (target.size() < 11 || target.compare(target.size() - 11, 11, "/embeddings") != 0)
    target += "/embeddings";
  std::shared_ptr<asio::ssl::context> tls;
  if (u->tls) {
    auto ctx = http::MakeTlsContext("");
    if (!ctx.ok()) return ctx.status();
    tls = *ctx;
  }
  Vectors out;
  constexpr size_t kBatch = 64;
  for (size_t start = 0; start < texts.size(); start += kBatch) {
    const size_t end = std::min(texts.size(), start + kBatch);
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    w.StartObject();
    w.Key("model");
    w.String(model.c_str());
    w.Key("input");
    w.StartArray();
    for (size_t i = start; i < end; ++i)
      w.String(texts[i].data(), static_cast<rapidjson::SizeType>(texts[i].size()));
    w.EndArray();
    w.EndObject();
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, target, 11};
    req.set(bhttp::field::host, u->host);
    req.set(bhttp::field::content_type, "application/json");
    if (!api_key.empty()) req.set(bhttp::field::authorization, "Bearer " + api_key);
    req.body().assign(sb.GetString(), sb.GetSize());
    req.prepare_payload();
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(256u << 20);
    try {
      asio::io_context ioc;
      asio::ip::tcp::resolver resolver(ioc);
      auto results = resolver.resolve(u->host, u->port);
      beast::flat_buffer buf;
      if (tls) {
        beast::ssl_stream<beast::tcp_stream> s(ioc, *tls);
        beast::get_lowest_layer(s).expires_after(std::chrono::seconds(120));
        SSL_set_tlsext_host_name(s.native_handle(), u->host.c_str());
        s.set_verify_callback(asio::ssl::host_name_verification(u->host));
        beast::get_lowest_layer(s).connect(results);
        s.handshake(asio::ssl::stream_base::client);
        bhttp::write(s, req);
        bhttp::read(s, buf, parser);
      } else {
        beast::tcp_stream s(ioc);
        s.expires_after(std::chrono::seconds(120));
        s.connect(results);
        bhttp::write(s, req);
        bhttp::read(s, buf, parser);
      }
    } catch (const std::exception& e) {
      return Status::Unavailable("embeddings endpoint " + url + ": " + e.what());
    }
    const auto& res = parser.get();
    if (res.result_int() != 200)
      return Status::UpstreamError("embeddings endpoint answered " +
                                   std::to_string(res.result_int()) + ": " +
                                   res.body().substr(0, 300));
    rapidjson::Document d;
    const JsonParse d_json = ParseJson(d, res.body());
    if (!d_json.ok || !d.IsObject() || !d.HasMember("data") || !d["data"].IsArray() ||
        d["data"].Size() != end - start)
      return Status::UpstreamError("embeddings endpoint: unexpected response shape");
    Vectors batch(end - start);
    size_t pos = 0;
    for (const auto& item : d["data"].GetArray()) {
      size_t index = pos++;
      if (item.HasMember("index") && item["index"].IsUint()) index = item["index"].GetUint();
      if (index >= batch.size() || !item.HasMember("embedding") || !item["embedding"].IsArray())
        return Status::UpstreamError("embeddings endpoint: bad data item");
      for (const auto& x : item["embedding"].GetArray()) {
        if (!x.IsNumber())
          return Status::UpstreamError("embeddings endpoint: non-numeric embedding");
        batch[index].push_back(static_cast<float>(x.GetDouble()));
      }
    }
    for (auto& v : batch) out.push_back(std::move(v));
  }
  return out;
}

// The best match of one query: (id, similarity), or none.
using Match = std::optional<std::pair<uint64_t, double>>;

struct Measured {
  std::string name;
  std::vector<Match> positive;  // similar[i] against all origins
  std::vector<Match> negative;  // similar[i] against all origins but i
  double build_ms = 0, query_us = 0;
};

// Runs both experiments on one matcher. Find(t) returns the best match when
// its similarity is >= t, so one query at t = -inf per pair gives every
// threshold's answer.
template <typename AddFn, typename RemoveFn, typename FindFn>
Measured Measure(std::string name, size_t n, AddFn add, RemoveFn remove, FindFn find) {
  Measured m;
  m.name = std::move(name);
  auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < n; ++i) add(i);
  auto t1 = std::chrono::steady_clock::now();
  m.build_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
  double query_s = 0;
  for (size_t i = 0; i < n; ++i) {
    auto q0 = std::chrono::steady_clock::now();
    m.positive.push_back(find(i));
    query_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - q0).count();
  }
  m.query_us = query_s * 1e6 / n;
  for (size_t i = 0; i < n; ++i) {
    remove(i);
    m.negative.push_back(find(i));
    add(i);
  }
  return m;
}

struct Counts {
  int64_t true_hits = 0, false_pos = 0, false_neg = 0;
};
Counts CountAt(const Measured& m, double t) {
  Counts c;
  for (size_t i = 0; i < m.positive.size(); ++i) {
    if (m.positive[i] && m.positive[i]->second >= t)
      (m.positive[i]->first == i ? c.true_hits : c.false_pos)++;
    if (m.negative[i] && m.negative[i]->second >= t) c.false_neg++;
  }
  return c;
}

std::string Pct(int64_t num, int64_t den) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%",
                den ? 100.0 * static_cast<double>(num) / static_cast<double>(den) : 0.0);
  return buf;
}

std::string Table(const Measured& m, const std::vector<double>& thresholds, size_t n) {
  std::string s =
      "| threshold | hit rate | false-hit rate | true hits | false hits (positives) | false hits "
      "(negatives) |\n"
      "|---:|---:|---:|---:|---:|---:|\n";
  for (double t : thresholds) {
    const Counts c = CountAt(m, t);
    char buf[256];
    std::snprintf(buf, sizeof buf, "| %.2f | %s | %s | %lld | %lld | %lld |\n", t,
                  Pct(c.true_hits, static_cast<int64_t>(n)).c_str(),
                  Pct(c.false_pos + c.false_neg, static_cast<int64_t>(2 * n)).c_str(),
                  static_cast<long long>(c.true_hits), static_cast<long long>(c.false_pos),
                  static_cast<long long>(c.false_neg));
    s += buf;
  }
  return s;
}

}  // namespace

CacheCommand::CacheCommand(CLI::App& app) {
  cmd_ = app.add_subcommand("cache", "Response cache tools");
  cmd_->require_subcommand(1);
  eval_ = cmd_->add_subcommand(
      "eval-paraphrase",
      "Measure the semantic matchers' hit and false-hit rates on paraphrase pairs");
  eval_->add_option("--data", data_, "JSON array of {origin, similar} pairs")->required();
  eval_->add_option("--embeddings-url", embeddings_url_,
                    "OpenAI-compatible embeddings endpoint (http(s)://host:port/v1[/embeddings]); "
                    "without it a built-in lexical stand-in is measured instead of a model");
  eval_->add_option("--embeddings-model", embeddings_model_,
                    "Model name sent to the embeddings endpoint");
  eval_
      ->add_option("--embeddings-key-env", embeddings_key_env_,
                   "Environment variable holding the endpoint's bearer token")
      ->capture_default_str();
  eval_->add_option("--markdown", markdown_, "Also write the report (Markdown) to this file");
  stats_ = cmd_->add_subcommand("stats", "Summarise a cache file");
  stats_->add_option("--db", db_, "Cache SQLite file")->required();
  clear_ = cmd_->add_subcommand("clear", "Delete every entry of a cache file");
  clear_->add_option("--db", db_, "Cache SQLite file")->required();
}

std::optional<int> CacheCommand::Run() {
  if (!cmd_->parsed()) return std::nullopt;
  if (eval_->parsed()) return RunEval();
  if (stats_->parsed()) return RunStats();
  if (clear_->parsed()) return RunClear();
  return 2;
}

int CacheCommand::RunEval() {
  auto pairs = LoadPairs(data_);
  if (!pairs.ok()) {
    std::fprintf(stderr, "error: %s\n", pairs.status().message().c_str());
    return 2;
  }
  const std::vector<Pair>& p = *pairs;
  const size_t n = p.size();
  if (!embeddings_url_.empty() && embeddings_model_.empty()) {
    std::fprintf(stderr, "error: --embeddings-url needs --embeddings-model\n");
    return 2;
  }

  // (a) MinHash.
  cache::MinHashIndex mh;
  Measured minhash = Measure(
      "MinHash", n, [&](size_t i) { mh.Add("eval", i, p[i].origin); },
      [&](size_t i) { mh.Remove("eval", i); },
      [&](size_t i) { return mh.Find("eval", p[i].similar, -1.0); });

  // (b) Cosine over vectors through SemanticIndex.
  Vectors origin_vecs, similar_vecs;
  std::string embedder;
  if (embeddings_url_.empty()) {
    embedder = "built-in lexical stand-in (hashed word + character-trigram counts, " +
               std::to_string(kLexicalDim) + " dimensions; NOT an embedding model)";
    for (const auto& x : p) {
      origin_vecs.push_back(LexicalVector(x.origin));
      similar_vecs.push_back(LexicalVector(x.similar));
    }
  } else {
    embedder = "embedding model `" + embeddings_model_ + "` at " + embeddings_url_;
    const char* key = std::getenv(embeddings_key_env_.c_str());
    std::vector<std::string> texts;
    for (const auto& x : p) texts.push_back(x.origin);
    for (const auto& x : p) texts.push_back(x.similar);
    auto vecs = FetchEmbeddings(embeddings_url_, embeddings_model_, key ? key : "", texts);
    if (!vecs.ok()) {
      std::fprintf(stderr, "error: %s\n", vecs.status().message().c_str());
      return 1;
    }
    origin_vecs.assign(vecs->begin(), vecs->begin() + static_cast<std::ptrdiff_t>(n));
    similar_vecs.assign(vecs->begin() + static_cast<std::ptrdiff_t>(n), vecs->end());
  }
  const int dim = static_cast<int>(origin_vecs.front().size());
  cache::SemanticIndex sem(dim);
  Status add_error = Status::Ok();
  Measured cosine = Measure(
      "cosine", n,
      [&](size_t i) {
        Status s = sem.Add("eval", i, origin_vecs[i]);
        if (!s.ok() && add_error.ok()) add_error = s;
      },
      [&](size_t i) { sem.Remove("eval", i); },
      [&](size_t i) { return sem.Find("eval", similar_vecs[i], -2.0); });
  if (!add_error.ok()) {
    std::fprintf(stderr, "error: %s\n", add_error.message().c_str());
    return 1;
  }

  std::vector<double> main_t, wide_t;
  for (int k = 80; k <= 98; k += 2) main_t.push_back(k / 100.0);
  for (int k = 30; k <= 75; k += 5) wide_t.push_back(k / 100.0);
  char head[1024];
  std::snprintf(
      head, sizeof head,
      "Produced by `tollgate cache eval-paraphrase --data %s%s` (%zu pairs).\n\n"
      "Positives: each `similar` is looked up in an index of all %zu `origin`s; a match on its own "
      "origin is a true hit, a match on another origin a false hit. Negatives: each `similar` is "
      "looked "
      "up in the same index with its own origin removed, so any match is a false hit. Hit rate = "
      "true "
      "hits / %zu positives; false-hit rate = (false hits on positives + on negatives) / %zu "
      "queries.\n\n",
      data_.c_str(),
      embeddings_url_.empty()
          ? ""
          : (" --embeddings-url " + embeddings_url_ + " --embeddings-model " + embeddings_model_)
                .c_str(),
      n, n, n, 2 * n);
  std::string md = head;
  md += "### (a) MinHash matcher (word 1+2-grams, 128 permutations, LSH 32 bands x 4 rows)\n\n";
  md += Table(minhash, main_t, n);
  md += "\n### (b) Cosine through SemanticIndex (hnswlib HNSW), vectors: " + embedder + "\n\n";
  md += Table(cosine, main_t, n);
  md += "\n### Lower thresholds (where paraphrases actually score)\n\n(a) MinHash:\n\n";
  md += Table(minhash, wide_t, n);
  md += "\n(b) Cosine, " +
        std::string(embeddings_url_.empty() ? "lexical stand-in" : "embedding model") + ":\n\n";
  md += Table(cosine, wide_t, n);
  char timing[512];
  std::snprintf(
      timing, sizeof timing,
      "\nTiming on this machine (single thread): MinHash index build %.1f ms, mean lookup %.1f us; "
      "HNSW index build %.1f ms (%d dimensions), mean lookup %.1f us (vectors precomputed).\n",
      minhash.build_ms, minhash.query_us, cosine.build_ms, dim, cosine.query_us);
  md += timing;
  std::fwrite(md.data(), 1, md.size(), stdout);
  if (!markdown_.empty()) {
    std::ofstream f(markdown_, std::ios::binary);
    f << md;
    if (!f) {
      std::fprintf(stderr, "error: cannot write %s\n", markdown_.c_str());
      return 1;
    }
  }
  return 0;
}

namespace {
// Opens a cache file without expiring or evicting anything.
Result<std::unique_ptr<cache::ExactCache>> OpenForAdmin(const std::string& db) {
  cache::ExactCacheOptions opt;
  opt.path = db;
  opt.ttl_s = 0;
  opt.max_entries = 0;
  opt.max_bytes = 0;
  return cache::ExactCache::Open(opt);
}
}  // namespace

int CacheCommand::RunStats() {
  if (FILE* f = std::fopen(db_.c_str(), "rb")) {
    std::fclose(f);
  } else {
    std::fprintf(stderr, "error: cannot read %s\n", db_.c_str());
    return 2;
  }
  auto c = OpenForAdmin(db_);
  if (!c.ok()) {
    std::fprintf(stderr, "error: %s\n", c.status().message().c_str());
    return 1;
  }
  struct Row {
    int64_t entries = 0, hits = 0;
    double saved_usd = 0;
  };
  std::map<std::string, Row> by_model;
  Row total;
  (*c)->ForEach([&](const std::string&, const cache::Entry& e) {
    for (Row* r : {&by_model[e.api + " " + e.model], &total}) {
      r->entries++;
      r->hits += e.hits;
      r->saved_usd += static_cast<double>(e.hits) * e.cost_usd;
    }
  });
  const auto st = (*c)->stats();
  std::printf("%-50s %10s %10s %14s\n", "api model", "entries", "hits", "saved_usd");
  for (const auto& [k, r] : by_model)
    std::printf("%-50s %10lld %10lld %14s\n", k.c_str(), static_cast<long long>(r.entries),
                static_cast<long long>(r.hits), FormatUsd(r.saved_usd).c_str());
  std::printf("%-50s %10lld %10lld %14s\n", "total", static_cast<long long>(total.entries),
              static_cast<long long>(total.hits), FormatUsd(total.saved_usd).c_str());
  std::printf("approx. memory when loaded: %lld bytes\n", static_cast<long long>(st.bytes));
  Status s = (*c)->Close();
  return s.ok() ? 0 : 1;
}

int CacheCommand::RunClear() {
  auto c = OpenForAdmin(db_);
  if (!c.ok()) {
    std::fprintf(stderr, "error: %s\n", c.status().message().c_str());
    return 1;
  }
  const int64_t n = (*c)->stats().entries;
  (*c)->Clear();
  Status s = (*c)->Close();
  if (!s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.message().c_str());
    return 1;
  }
  std::printf("cleared %lld entries from %s\n", static_cast<long long>(n), db_.c_str());
  return 0;
}

}  // namespace tollgate::cli
