#include "router/learned_router.h"

#include "common/json.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numeric>
#include <random>
#include <sstream>

namespace tollgate::router {
namespace {

constexpr const char* kFormat = "tollgate-learned-router";
constexpr int kVersion = 1;
// Weights smaller than this are dropped from the model file: they move a
// logit by less than 1e-5 on a unit-norm feature vector.
constexpr float kPruneBelow = 1e-5f;

double Sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }

struct Weights {
  std::vector<float> bias;     // M
  std::vector<float> weights;  // kFeatureDim x M
};

// Logistic regression per model, Adagrad with L2 applied on touched weights only.
Weights FitWeights(const std::vector<Features>& feats, const std::vector<std::vector<float>>& labels,
                   const std::vector<size_t>& rows, size_t m_count, const TrainOptions& opt) {
  Weights w;
  w.bias.assign(m_count, 0.0f);
  w.weights.assign(static_cast<size_t>(kFeatureDim) * m_count, 0.0f);
  std::vector<float> g2(w.weights.size(), 0.0f), g2_bias(m_count, 0.0f);
  // Start each bias at the model's base rate: fewer epochs are spent learning it.
  for (size_t m = 0; m < m_count; ++m) {
    double mean = 0;
    for (size_t r : rows) mean += labels[r][m];
    mean = rows.empty() ? 0.5 : mean / rows.size();
    mean = std::clamp(mean, 0.01, 0.99);
    w.bias[m] = static_cast<float>(std::log(mean / (1 - mean)));
  }
  std::vector<size_t> order = rows;
  std::mt19937_64 rng(opt.seed);
  const float lr = static_cast<float>(opt.learning_rate), l2 = static_cast<float>(opt.l2);
  std::vector<float> grad(m_count);
  for (int epoch = 0; epoch < opt.epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), rng);
    for (size_t r : order) {
      const Features& f = feats[r];
      for (size_t m = 0; m < m_count; ++m) grad[m] = w.bias[m];
      for (const auto& [j, x] : f.sparse) {
        const float* row = &w.weights[static_cast<size_t>(j) * m_count];
        for (size_t m = 0; m < m_count; ++m) grad[m] += row[m] * x;
      }
      for (size_t m = 0; m < m_count; ++m) {
        grad[m] = static_cast<float>(Sigmoid(grad[m])) - labels[r][m];
        g2_bias[m] += grad[m] * grad[m];
        w.bias[m] -= lr * grad[m] / (std::sqrt(g2_bias[m]) + 1e-6f);
      }
      for (const auto& [j, x] : f.sparse) {
        float* row = &w.weights[static_cast<size_t>(j) * m_count];
        float* acc = &g2[static_cast<size_t>(j) * m_count];
        for (size_t m = 0; m < m_count; ++m) {
          const float g = grad[m] * x + l2 * row[m];
          acc[m] += g * g;
          row[m] -= lr * g / (std::sqrt(acc[m]) + 1e-6f);
        }
      }
    }
  }
  return w;
}

std::vector<double> Predict(const std::vector<float>& bias, const std::vector<float>& weights, const Features& f) {
  const size_t m_count = bias.size();
  std::vector<double> z(bias.begin(), bias.end());
  for (const auto& [j, x] : f.sparse) {
    const float* row = &weights[static_cast<size_t>(j) * m_count];
    for (size_t m = 0; m < m_count; ++m) z[m] += static_cast<double>(row[m]) * x;
  }
  for (double& v : z) v = Sigmoid(v);
  return z;
}

Status Bad(const std::string& source, const std::string& what) {
  return Status::InvalidArgument(source + ": invalid router model: " + what);
}

Result<std::vector<double>> NumberArray(const rapidjson::Value& doc, const char* key, size_t want,
                                        const std::string& source) {
  auto it = doc.FindMember(key);
  if (it == doc.MemberEnd() || !it->value.IsArray()) return Bad(source, std::string("'") + key + "' must be an array");
  const auto& a = it->value;
  if (want != SIZE_MAX && a.Size() != want)
    return Bad(source, std::string("'") + key + "' has " + std::to_string(a.Size()) + " entries, want " +
                           std::to_string(want));
  std::vector<double> out;
  out.reserve(a.Size());
  for (const auto& v : a.GetArray()) {
    if (!v.IsNumber() || !std::isfinite(v.GetDouble()))
      return Bad(source, std::string("'") + key + "' holds a non-finite or non-number entry");
    out.push_back(v.GetDouble());
  }
  return out;
}

}  // namespace

int LearnedRouter::ModelIndex(std::string_view name) const {
  for (size_t i = 0; i < models_.size(); ++i)
    if (models_[i] == name) return static_cast<int>(i);
  return -1;
}

std::vector<double> LearnedRouter::PredictSuccess(const Features& features) const {
  return Predict(bias_, weights_, features);
}

std::vector<double> LearnedRouter::PredictSuccess(std::string_view prompt) const {
  return PredictSuccess(ExtractFeatures(prompt));
}

int LearnedRouter::ChooseIndex(const std::vector<double>& success, const std::vector<std::pair<int, double>>& candidates,
                               double threshold) {
  int cheapest = -1, best = -1;
  double cheapest_cost = 0, best_p = -1, best_cost = 0;
  for (const auto& [m, cost] : candidates) {
    if (m < 0 || static_cast<size_t>(m) >= success.size()) continue;
    const double p = success[m];
    if (p >= threshold && (cheapest < 0 || cost < cheapest_cost || (cost == cheapest_cost && p > success[cheapest]))) {
      cheapest = m;
      cheapest_cost = cost;
    }
    if (best < 0 || p > best_p || (p == best_p && cost < best_cost)) {
      best = m;
      best_p = p;
      best_cost = cost;
    }
  }
  return cheapest >= 0 ? cheapest : best;
}

std::string LearnedRouter::Choose(std::string_view prompt, const std::vector<std::pair<std::string, double>>& candidates,
                                  double threshold) const {
  std::vector<std::pair<int, double>> known;
  for (const auto& [name, cost] : candidates) {
    const int m = ModelIndex(name);
    if (m >= 0) known.emplace_back(m, cost);
  }
  if (known.empty()) return "";
  const int chosen = ChooseIndex(PredictSuccess(prompt), known, threshold);
  return chosen < 0 ? "" : models_[chosen];
}

double StrongShare(const std::vector<std::vector<double>>& success, const std::vector<double>& mean_cost,
                   int strong_index, double threshold) {
  if (success.empty()) return 0;
  std::vector<std::pair<int, double>> all;
  for (size_t m = 0; m < mean_cost.size(); ++m) all.emplace_back(static_cast<int>(m), mean_cost[m]);
  size_t strong = 0;
  for (const auto& s : success) strong += LearnedRouter::ChooseIndex(s, all, threshold) == strong_index;
  return static_cast<double>(strong) / success.size();
}

Result<LearnedRouter> Train(const Dataset& train, const TrainOptions& opt) {
  if (train.samples.empty() || train.models.empty()) return Status::InvalidArgument("training set is empty");
  if (opt.epochs < 1 || opt.epochs > 10000) return Status::InvalidArgument("epochs must be in [1, 10000]");
  if (!(opt.target_strong_share >= 0 && opt.target_strong_share <= 1))
    return Status::InvalidArgument("target strong share must be in [0, 1]");
  if (!(opt.l2 >= 0) || !(opt.learning_rate > 0)) return Status::InvalidArgument("l2 must be >= 0 and learning rate > 0");
  const size_t n = train.samples.size(), m_count = train.models.size();
  LearnedRouter r;
  r.models_ = train.models;
  r.mean_cost_.assign(m_count, 0);
  r.mean_score_.assign(m_count, 0);
  std::vector<Features> feats(n);
  std::vector<std::vector<float>> labels(n, std::vector<float>(m_count));
  for (size_t i = 0; i < n; ++i) {
    const Sample& s = train.samples[i];
    if (s.outcomes.size() != m_count) return Status::InvalidArgument("sample " + s.sample_id + " has wrong outcome count");
    feats[i] = ExtractFeatures(s.prompt);
    for (size_t m = 0; m < m_count; ++m) {
      labels[i][m] = static_cast<float>(std::clamp(s.outcomes[m].score, 0.0, 1.0));
      r.mean_cost_[m] += s.outcomes[m].cost_usd / n;
      r.mean_score_[m] += s.outcomes[m].score / n;
    }
  }
  int strong = -1;
  if (opt.strong_model.empty()) {
    strong = static_cast<int>(std::max_element(r.mean_score_.begin(), r.mean_score_.end()) - r.mean_score_.begin());
  } else {
    strong = train.ModelIndex(opt.strong_model);
    if (strong < 0) return Status::InvalidArgument("strong model '" + opt.strong_model + "' is not in the training data");
  }
  r.strong_model_ = train.models[strong];
  r.target_strong_share_ = opt.target_strong_share;

  std::vector<size_t> all(n);
  std::iota(all.begin(), all.end(), 0);
  Weights w = FitWeights(feats, labels, all, m_count, opt);

  // Predictions the threshold is calibrated on: out-of-fold where possible.
  std::vector<std::vector<double>> preds(n);
  if (opt.calibration_folds > 1 && n >= static_cast<size_t>(opt.calibration_folds) * 2) {
    std::vector<size_t> perm = all;
    std::mt19937_64 rng(opt.seed ^ 0x5bd1e995u);
    std::shuffle(perm.begin(), perm.end(), rng);
    for (int k = 0; k < opt.calibration_folds; ++k) {
      std::vector<size_t> fit_rows, held;
      for (size_t i = 0; i < n; ++i) (static_cast<int>(i % opt.calibration_folds) == k ? held : fit_rows).push_back(perm[i]);
      Weights wk = FitWeights(feats, labels, fit_rows, m_count, opt);
      for (size_t i : held) preds[i] = Predict(wk.bias, wk.weights, feats[i]);
    }
  } else {
    for (size_t i = 0; i < n; ++i) preds[i] = Predict(w.bias, w.weights, feats[i]);
  }
  // StrongShare is a step function of the threshold; scan a fine grid and keep
  // the first threshold closest to the target.
  double best_t = 0.5, best_gap = 2;
  for (int g = 0; g <= 1000; ++g) {
    const double t = g / 1000.0;
    const double gap = std::abs(StrongShare(preds, r.mean_cost_, strong, t) - opt.target_strong_share);
    if (gap < best_gap - 1e-12) {
      best_gap = gap;
      best_t = t;
    }
  }
  r.threshold_ = best_t;
  r.bias_ = std::move(w.bias);
  r.weights_ = std::move(w.weights);
  for (float& v : r.weights_)
    if (std::abs(v) < kPruneBelow) v = 0;
  return r;
}

std::string LearnedRouter::ToJson() const {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.SetMaxDecimalPlaces(7);
  const size_t m_count = models_.size();
  w.StartObject();
  w.Key("format");
  w.String(kFormat);
  w.Key("version");
  w.Int(kVersion);
  w.Key("feature_version");
  w.Int(kFeatureVersion);
  w.Key("feature_dim");
  w.Uint(kFeatureDim);
  w.Key("models");
  w.StartArray();
  for (const auto& m : models_) w.String(m);
  w.EndArray();
  auto doubles = [&](const char* key, const auto& v) {
    w.Key(key);
    w.StartArray();
    for (double x : v) w.Double(x);
    w.EndArray();
  };
  w.SetMaxDecimalPlaces(12);
  doubles("mean_cost_usd", mean_cost_);
  w.SetMaxDecimalPlaces(7);
  doubles("mean_score", mean_score_);
  w.Key("strong_model");
  w.String(strong_model_);
  w.Key("threshold");
  w.Double(threshold_);
  w.Key("target_strong_share");
  w.Double(target_strong_share_);
  doubles("bias", bias_);
  std::vector<uint32_t> used;
  for (uint32_t j = 0; j < kFeatureDim; ++j) {
    const float* row = &weights_[static_cast<size_t>(j) * m_count];
    if (std::any_of(row, row + m_count, [](float v) { return v != 0.0f; })) used.push_back(j);
  }
  w.Key("features");
  w.StartArray();
  for (uint32_t j : used) w.Uint(j);
  w.EndArray();
  w.Key("weights");
  w.StartArray();
  w.SetMaxDecimalPlaces(6);
  for (uint32_t j : used)
    for (size_t m = 0; m < m_count; ++m) w.Double(weights_[static_cast<size_t>(j) * m_count + m]);
  w.EndArray();
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

Status LearnedRouter::Save(const std::string& path) const {
  const std::string json = ToJson();
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return Status::IoError("cannot write " + path);
  f.write(json.data(), static_cast<std::streamsize>(json.size()));
  f.close();
  if (!f) return Status::IoError("error writing " + path);
  return Status::Ok();
}

Result<LearnedRouter> LearnedRouter::Load(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::IoError("cannot read router model " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  return Parse(ss.str(), path);
}

Result<LearnedRouter> LearnedRouter::Parse(std::string_view json, const std::string& source) {
  rapidjson::Document doc;
  const JsonParse doc_json = ParseJson(doc, json);
  if (!doc_json.ok)
    return Bad(source, std::string("JSON error at offset ") + std::to_string(doc_json.offset) + ": " +
                           doc_json.message);
  if (!doc.IsObject()) return Bad(source, "not a JSON object");
  auto str = [&](const char* key) -> const rapidjson::Value* {
    auto it = doc.FindMember(key);
    return it != doc.MemberEnd() && it->value.IsString() ? &it->value : nullptr;
  };
  auto integer = [&](const char* key) -> int64_t {
    auto it = doc.FindMember(key);
    return it != doc.MemberEnd() && it->value.IsInt64() ? it->value.GetInt64() : INT64_MIN;
  };
  const rapidjson::Value* format = str("format");
  if (!format || std::string_view(format->GetString()) != kFormat)
    return Bad(source, std::string("'format' must be \"") + kFormat + "\"");
  if (integer("version") != kVersion)
    return Bad(source, "unsupported 'version' (this build reads " + std::to_string(kVersion) + ")");
  if (integer("feature_version") != kFeatureVersion || integer("feature_dim") != kFeatureDim)
    return Bad(source, "trained with other features (feature_version/feature_dim); retrain with `tollgate router train`");
  LearnedRouter r;
  auto models = doc.FindMember("models");
  if (models == doc.MemberEnd() || !models->value.IsArray() || models->value.Empty())
    return Bad(source, "'models' must be a non-empty array");
  for (const auto& m : models->value.GetArray()) {
    if (!m.IsString()) return Bad(source, "'models' entries must be strings");
    r.models_.emplace_back(m.GetString(), m.GetStringLength());
  }
  const size_t m_count = r.models_.size();
  TG_ASSIGN_OR_RETURN(r.mean_cost_, NumberArray(doc, "mean_cost_usd", m_count, source));
  TG_ASSIGN_OR_RETURN(r.mean_score_, NumberArray(doc, "mean_score", m_count, source));
  TG_ASSIGN_OR_RETURN(std::vector<double> bias, NumberArray(doc, "bias", m_count, source));
  const rapidjson::Value* strong = str("strong_model");
  if (!strong) return Bad(source, "'strong_model' must be a string");
  r.strong_model_ = strong->GetString();
  if (r.ModelIndex(r.strong_model_) < 0) return Bad(source, "'strong_model' is not one of 'models'");
  for (const char* key : {"threshold", "target_strong_share"}) {
    auto it = doc.FindMember(key);
    if (it == doc.MemberEnd() || !it->value.IsNumber() || !(it->value.GetDouble() >= 0 && it->value.GetDouble() <= 1))
      return Bad(source, std::string("'") + key + "' must be a number in [0, 1]");
  }
  r.threshold_ = doc["threshold"].GetDouble();
  r.target_strong_share_ = doc["target_strong_share"].GetDouble();
  TG_ASSIGN_OR_RETURN(std::vector<double> features, NumberArray(doc, "features", SIZE_MAX, source));
  TG_ASSIGN_OR_RETURN(std::vector<double> weights, NumberArray(doc, "weights", features.size() * m_count, source));
  r.bias_.assign(bias.begin(), bias.end());
  r.weights_.assign(static_cast<size_t>(kFeatureDim) * m_count, 0.0f);
  double prev = -1;
  for (size_t k = 0; k < features.size(); ++k) {
    const double j = features[k];
    if (j != std::floor(j) || j <= prev || j >= kFeatureDim)
      return Bad(source, "'features' must be ascending integers below feature_dim");
    prev = j;
    for (size_t m = 0; m < m_count; ++m)
      r.weights_[static_cast<size_t>(j) * m_count + m] = static_cast<float>(weights[k * m_count + m]);
  }
  return r;
}

}  // namespace tollgate::router
