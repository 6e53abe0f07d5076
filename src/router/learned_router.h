// The learned router: per-model logistic regressions over hashed prompt
// features (features.h) that predict whether each model answers a prompt
// correctly, trained offline on RouterBench outcomes (routerbench.h), and a
// cost-aware choice among candidate models. A LearnedRouter is immutable after
// Load/Train: share one instance across request threads without locking.
//
// Model file (JSON, written by Save, read by Load):
//   {"format": "tollgate-learned-router", "version": 1,
//    "feature_version": kFeatureVersion, "feature_dim": kFeatureDim,
//    "models": [name...], "mean_cost_usd": [..per model..], "mean_score": [..],
//    "strong_model": name, "threshold": t, "target_strong_share": s,
//    "bias": [..per model..],
//    "features": [ascending feature indices with a non-zero weight],
//    "weights": [features.size() x models.size() numbers, row-major by feature]}
// mean_cost_usd and mean_score are over the training prompts, so that
// `tollgate router eval` can price candidates without a price catalog.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "router/features.h"
#include "router/routerbench.h"

namespace tollgate::router {

struct TrainOptions;

class LearnedRouter {
 public:
  // Reads a model file written by Save.
  // Errors: IoError if unreadable; InvalidArgument naming the file and the
  // problem if it is not valid JSON, has another format/version/feature
  // version, or has inconsistent array sizes or non-finite numbers.
  static Result<LearnedRouter> Load(const std::string& path);
  // Parses the model JSON from memory; `source` names it in errors.
  static Result<LearnedRouter> Parse(std::string_view json, const std::string& source);
  // Writes the model file. Errors: IoError if it cannot be written.
  Status Save(const std::string& path) const;
  std::string ToJson() const;

  // Models it can score, in training-data order.
  const std::vector<std::string>& models() const { return models_; }
  // Mean cost per call of each of models() over the training prompts.
  const std::vector<double>& mean_cost_usd() const { return mean_cost_; }
  const std::vector<double>& mean_score() const { return mean_score_; }
  int ModelIndex(std::string_view name) const;

  // Predicted probability that each of models() answers `prompt` correctly.
  std::vector<double> PredictSuccess(std::string_view prompt) const;
  std::vector<double> PredictSuccess(const Features& features) const;

  // Cheapest of `candidates` (model name -> expected cost per call) whose
  // predicted success >= threshold; if none clears it, the candidate with the
  // highest predicted success. Unknown names are skipped; returns "" if none known.
  std::string Choose(std::string_view prompt, const std::vector<std::pair<std::string, double>>& candidates,
                     double threshold) const;
  // The same decision over precomputed predictions (index = models()).
  // candidates: (model index, cost). Returns the chosen index, or -1 if empty.
  static int ChooseIndex(const std::vector<double>& success, const std::vector<std::pair<int, double>>& candidates,
                         double threshold);

  // Calibrated default threshold: routes target_strong_share of the training
  // prompts to strong_model() when every model is a candidate at its mean cost.
  double threshold() const { return threshold_; }
  double target_strong_share() const { return target_strong_share_; }
  const std::string& strong_model() const { return strong_model_; }

 private:
  friend Result<LearnedRouter> Train(const Dataset& train, const TrainOptions& opt);
  std::vector<std::string> models_;
  std::vector<double> mean_cost_, mean_score_;
  std::string strong_model_;
  double threshold_ = 0.5;
  double target_strong_share_ = 0.5;
  std::vector<float> bias_;     // per model
  std::vector<float> weights_;  // kFeatureDim x models_.size(), row-major by feature
};

struct TrainOptions {
  double target_strong_share = 0.5;
  std::string strong_model;  // default: best mean score on `train`
  int epochs = 30;
  double l2 = 1e-4;
  uint64_t seed = 1;
  // Adagrad base learning rate.
  double learning_rate = 0.5;
  // Folds for out-of-fold predictions used to calibrate the threshold (in-sample
  // predictions of an over-parameterised model are over-confident); <= 1
  // calibrates on in-sample predictions.
  int calibration_folds = 3;
};

// Trains one logistic regression per model (soft labels = the recorded score)
// with Adagrad and L2, then calibrates the threshold.
// Errors: InvalidArgument if `train` has no samples or models, or names an
// unknown strong_model, or options are out of range.
Result<LearnedRouter> Train(const Dataset& train, const TrainOptions& opt);

// The strong-model share of Choose over all models (priced at mean_cost) for
// each of the given predictions at `threshold`. Used for calibration and eval.
double StrongShare(const std::vector<std::vector<double>>& success, const std::vector<double>& mean_cost,
                   int strong_index, double threshold);

}  // namespace tollgate::router
