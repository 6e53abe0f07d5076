#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <unistd.h>

#include "router/checks.h"
#include "router/evaluation.h"
#include "router/features.h"
#include "router/learned_router.h"
#include "router/routerbench.h"

namespace tollgate::router {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() / ("tollgate_router_test_" + std::to_string(::getpid()) + "_" +
                                         std::to_string(counter_++));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string Write(const std::string& name, const std::string& text) const {
    const std::string p = (path_ / name).string();
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
  std::string Path(const std::string& name) const { return (path_ / name).string(); }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

const char kSmallCsv[] =
    ",sample_id,prompt,eval_name,a,b,a|model_response,b|model_response,a|total_cost,b|total_cost,"
    "oracle_model_to_route_to\n"
    "0,s1,\"['Say \"\"hi\"\"\\nnow']\",demo,1.0,0.0,\"['hi']\",\"[\"\"I can\\'t\"\"]\",0.001,0.01,a\n"
    "1,s2,\"['line one\n"
    "line two']\",demo,,0.5,\"['x']\",\"['y']\",0.002,0.02,b\n";

TEST(RouterBench, ParsesQuotedFieldsWithNewlines) {
  auto rows = ParseCsv("a,\"b,c\",\"d\"\"e\"\n\"multi\nline\",x,\r\n", "t.csv");
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0], (std::vector<std::string>{"a", "b,c", "d\"e"}));
  EXPECT_EQ((*rows)[1], (std::vector<std::string>{"multi\nline", "x", ""}));
  auto bad = ParseCsv("a,b\n\"open\nstill open", "t.csv");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("t.csv:2:"), std::string::npos) << bad.status().message();
  EXPECT_FALSE(ParseCsv("a,b\"c\n", "t.csv").ok());
}

TEST(RouterBench, DecodesPythonListRepr) {
  EXPECT_EQ(DecodePythonStringList(R"(['a\nb'])"), "a\nb");
  EXPECT_EQ(DecodePythonStringList(R"(["it's \"q\""])"), "it's \"q\"");
  EXPECT_EQ(DecodePythonStringList(R"(['it\'s', 'two'])"), "it's\ntwo");
  EXPECT_EQ(DecodePythonStringList(R"(['back\\slash \t tab'])"), "back\\slash \t tab");
  EXPECT_EQ(DecodePythonStringList(R"(['caf\xe9 \u20ac'])"), "caf\xC3\xA9 \xE2\x82\xAC");
  EXPECT_EQ(DecodePythonStringList("plain text"), "plain text");
  EXPECT_EQ(DecodePythonStringList("['unterminated"), "['unterminated");
  EXPECT_EQ(DecodePythonStringList("[]"), "");
}

TEST(RouterBench, LoadsFileAndReportsBadLines) {
  TempDir dir;
  auto ds = LoadRouterBench(dir.Write("ok.csv", kSmallCsv));
  ASSERT_TRUE(ds.ok()) << ds.status().message();
  EXPECT_EQ(ds->models, (std::vector<std::string>{"a", "b"}));
  ASSERT_EQ(ds->samples.size(), 2u);
  EXPECT_EQ(ds->samples[0].prompt, "Say \"hi\"\nnow");
  EXPECT_EQ(ds->samples[0].outcomes[1].response, "I can't");
  EXPECT_DOUBLE_EQ(ds->samples[0].outcomes[1].cost_usd, 0.01);
  EXPECT_EQ(ds->samples[1].prompt, "line one\nline two");
  EXPECT_EQ(ds->samples[1].outcomes[0].score, 0.0);  // blank score reads 0
  EXPECT_EQ(ds->samples[1].oracle_model, "b");
  EXPECT_EQ(ds->ModelIndex("b"), 1);
  EXPECT_EQ(ds->ModelIndex("zzz"), -1);

  std::string short_row = std::string(kSmallCsv) + "2,s3,p,demo,1.0\n";
  auto bad = LoadRouterBench(dir.Write("short.csv", short_row));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("short.csv:5:"), std::string::npos) << bad.status().message();

  std::string nan_cost = kSmallCsv;
  nan_cost.replace(nan_cost.find("0.001"), 5, "cheap");
  auto bad2 = LoadRouterBench(dir.Write("nan.csv", nan_cost));
  ASSERT_FALSE(bad2.ok());
  EXPECT_NE(bad2.status().message().find("nan.csv:2:"), std::string::npos) << bad2.status().message();

  EXPECT_FALSE(LoadRouterBench(dir.Write("nocol.csv", "sample_id,prompt\n1,2\n")).ok());
  EXPECT_EQ(LoadRouterBench(dir.Path("missing.csv")).status().code(), StatusCode::kIoError);

  auto both = LoadRouterBenchFiles({dir.Path("ok.csv"), dir.Path("ok.csv")});
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both->samples.size(), 4u);
}

TEST(RouterFeatures, DeterministicSortedAndDistinct) {
  const std::string p = "Write a python function to sum a list.\n```python\ndef f(x): return sum(x)\n```";
  Features a = ExtractFeatures(p), b = ExtractFeatures(p);
  ASSERT_EQ(a.sparse, b.sparse);
  ASSERT_FALSE(a.sparse.empty());
  for (size_t i = 1; i < a.sparse.size(); ++i) EXPECT_LT(a.sparse[i - 1].first, a.sparse[i].first);
  for (const auto& [j, v] : a.sparse) {
    EXPECT_LT(j, kFeatureDim);
    EXPECT_TRUE(std::isfinite(v));
  }
  EXPECT_NE(ExtractFeatures("Which planet is largest?").sparse, a.sparse);
  EXPECT_TRUE(ExtractFeatures("").sparse.empty() || ExtractFeatures("").sparse.size() < 4);
}

// Two models: "cheap" answers prompts about apples, fails prompts about
// quantum; "strong" answers everything.
Dataset Synthetic(int n, uint64_t seed) {
  Dataset ds;
  ds.models = {"cheap", "strong"};
  std::mt19937_64 rng(seed);
  const char* easy[] = {"apples", "bananas", "fruit salad", "orchard"};
  const char* hard[] = {"quantum chromodynamics", "renormalization", "gauge theory", "lattice qcd"};
  for (int i = 0; i < n; ++i) {
    const bool is_hard = i % 2 == 1;
    Sample s;
    s.sample_id = "s" + std::to_string(i);
    s.eval_name = "synthetic";
    s.prompt = std::string("Question ") + std::to_string(rng() % 1000) + ": tell me about " +
               (is_hard ? hard[rng() % 4] : easy[rng() % 4]) + " please";
    s.outcomes = {{is_hard ? 0.0 : 1.0, "A", 1.0}, {1.0, "A", 10.0}};
    ds.samples.push_back(s);
  }
  return ds;
}

TEST(LearnedRouter, LearnsAndChoosesAndCalibrates) {
  const Dataset train = Synthetic(200, 7);
  TrainOptions opt;
  opt.epochs = 10;
  auto r = Train(train, opt);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->models(), train.models);
  EXPECT_EQ(r->strong_model(), "strong");
  EXPECT_NEAR(r->mean_cost_usd()[1], 10.0, 1e-9);

  auto easy = r->PredictSuccess("Question 5: tell me about apples please");
  auto hard = r->PredictSuccess("Question 5: tell me about gauge theory please");
  ASSERT_EQ(easy.size(), 2u);
  EXPECT_GT(easy[0], 0.8);
  EXPECT_LT(hard[0], 0.2);
  EXPECT_GT(hard[1], 0.8);

  const std::vector<std::pair<std::string, double>> cands = {{"strong", 10}, {"cheap", 1}, {"unknown", 0.1}};
  EXPECT_EQ(r->Choose("tell me about bananas please", cands, 0.5), "cheap");
  EXPECT_EQ(r->Choose("tell me about renormalization please", cands, 0.5), "strong");
  EXPECT_EQ(r->Choose("anything", {{"unknown", 1}}, 0.5), "");
  // Nothing clears a threshold above 1: the highest predicted success wins.
  EXPECT_EQ(r->Choose("tell me about lattice qcd please", cands, 1.01), "strong");

  // Half the prompts need the strong model: the calibrated threshold sends about half there.
  std::vector<std::vector<double>> preds;
  for (const auto& s : train.samples) preds.push_back(r->PredictSuccess(s.prompt));
  EXPECT_GT(r->threshold(), 0.0);
  EXPECT_LT(r->threshold(), 1.0);
  EXPECT_NEAR(StrongShare(preds, r->mean_cost_usd(), 1, r->threshold()), 0.5, 0.1);

  opt.target_strong_share = 1.0;
  auto all_strong = Train(train, opt);
  ASSERT_TRUE(all_strong.ok());
  EXPECT_GT(all_strong->threshold(), r->threshold());

  opt.strong_model = "nope";
  EXPECT_FALSE(Train(train, opt).ok());
  EXPECT_FALSE(Train(Dataset{}, TrainOptions{}).ok());
}

TEST(LearnedRouter, SaveLoadRoundTripAndBadFiles) {
  TempDir dir;
  TrainOptions opt;
  opt.epochs = 5;
  opt.calibration_folds = 1;
  auto r = Train(Synthetic(60, 3), opt);
  ASSERT_TRUE(r.ok());
  const std::string path = dir.Path("router.json");
  ASSERT_TRUE(r->Save(path).ok());
  auto back = LearnedRouter::Load(path);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->models(), r->models());
  EXPECT_EQ(back->strong_model(), r->strong_model());
  EXPECT_DOUBLE_EQ(back->threshold(), r->threshold());
  for (const char* p : {"tell me about apples", "gauge theory", "unseen words entirely"}) {
    auto a = r->PredictSuccess(p), b = back->PredictSuccess(p);
    for (size_t m = 0; m < a.size(); ++m) EXPECT_NEAR(a[m], b[m], 1e-4);
  }

  EXPECT_EQ(LearnedRouter::Load(dir.Path("absent.json")).status().code(), StatusCode::kIoError);
  const std::string good = r->ToJson();
  std::vector<std::string> bad = {
      "", "not json", "[]", "{\"format\":\"other\",\"version\":1}",
      good.substr(0, good.size() / 2),
  };
  std::string wrong_version = good;
  wrong_version.replace(wrong_version.find("\"version\":1"), 11, "\"version\":9");
  bad.push_back(wrong_version);
  std::string short_weights = good;
  short_weights.replace(short_weights.find("\"weights\":["), 11, "\"weights\":[1,");
  bad.push_back(short_weights);
  std::string bad_strong = good;
  bad_strong.replace(bad_strong.find("\"strong_model\":\"strong\""), 23, "\"strong_model\":\"other\"");
  bad.push_back(bad_strong);
  for (const auto& text : bad) {
    auto res = LearnedRouter::Parse(text, "m.json");
    EXPECT_FALSE(res.ok()) << text.substr(0, 60);
    if (!res.ok()) {
      EXPECT_EQ(res.status().code(), StatusCode::kInvalidArgument);
      EXPECT_EQ(res.status().message().rfind("m.json", 0), 0u);
    }
  }
}

CheckSpec Spec(const std::string& text) {
  auto s = ParseCheckSpec(text);
  EXPECT_TRUE(s.ok()) << text << ": " << s.status().message();
  return s.ok() ? *s : CheckSpec{CheckKind::kRefusal};
}

TEST(RouterChecks, EachKindPassesAndFails) {
  const CheckSpec schema = Spec(
      R"(json_schema:{"type":"object","required":["answer"],"properties":{"answer":{"type":"integer"}}})");
  EXPECT_TRUE(RunCheck(schema, R"({"answer": 42})").pass);
  EXPECT_TRUE(RunCheck(schema, "Here you go:\n```json\n{\"answer\": 7}\n```\nDone.").pass);
  EXPECT_FALSE(RunCheck(schema, R"({"answer": "42"})").pass);
  EXPECT_FALSE(RunCheck(schema, "no json here").pass);

  const CheckSpec len = Spec("length:3..5");
  EXPECT_TRUE(RunCheck(len, "abcd").pass);
  EXPECT_TRUE(RunCheck(len, "\xC3\xA9\xC3\xA9\xC3\xA9").pass);  // 3 code points, 6 bytes
  EXPECT_FALSE(RunCheck(len, "ab").pass);
  EXPECT_FALSE(RunCheck(len, "abcdef").pass);
  EXPECT_TRUE(RunCheck(Spec("length:2.."), std::string(10000, 'x')).pass);

  const CheckSpec refusal = Spec("refusal");
  EXPECT_TRUE(RunCheck(refusal, "The answer is B.").pass);
  EXPECT_FALSE(RunCheck(refusal, "I'm sorry, but I cannot help with that.").pass);
  EXPECT_FALSE(RunCheck(refusal, "As an AI language model, I don't have opinions.").pass);
  EXPECT_FALSE(RunCheck(refusal, "I can\xE2\x80\x99t do that.").pass);

  const CheckSpec conf = Spec("confidence:0.8");
  EXPECT_TRUE(RunCheck(conf, "B\nConfidence: 0.85").pass);
  EXPECT_TRUE(RunCheck(conf, "B (confidence: 90%)").pass);
  EXPECT_FALSE(RunCheck(conf, "B\nconfidence: 0.5").pass);
  EXPECT_FALSE(RunCheck(conf, "B").pass);
  EXPECT_DOUBLE_EQ(Spec("confidence:75%").min_confidence, 0.75);

  const CheckSpec letter = Spec(R"(regex:^\s*\(?[ABCD]\)?\s*$)");
  EXPECT_TRUE(RunCheck(letter, "B\n").pass);
  EXPECT_TRUE(RunCheck(letter, " (C) ").pass);
  EXPECT_FALSE(RunCheck(letter, "The answer is B").pass);

  EXPECT_FALSE(ParseCheckSpec("regex:([unclosed").ok());
  EXPECT_FALSE(ParseCheckSpec("length:9..3").ok());
  EXPECT_FALSE(ParseCheckSpec("length:abc").ok());
  EXPECT_FALSE(ParseCheckSpec("confidence:2").ok());
  EXPECT_FALSE(ParseCheckSpec("json_schema:nope").ok());
  EXPECT_FALSE(ParseCheckSpec("vibes").ok());
  // A spec built by hand with a bad regex fails the check instead of throwing.
  CheckSpec bad_re{CheckKind::kRegex};
  bad_re.regex = "([";
  EXPECT_FALSE(RunCheck(bad_re, "x").pass);
}

TEST(RouterEval, AreaUnderCurve) {
  // Mixing cheapest (0, 0.5) and strongest (1, 0.9) at random: the chord.
  EXPECT_NEAR(AreaUnderCurve({{10, 0.9, 1}}, 1, 0.5, 10), 0.7, 1e-12);
  // A free perfect point dominates everything.
  EXPECT_NEAR(AreaUnderCurve({{1, 1.0, 0}}, 1, 0.5, 10), 1.0, 1e-12);
  // Costlier than the strongest: outside the range, only the fallback counts.
  EXPECT_NEAR(AreaUnderCurve({{20, 1.0, 1}}, 1, 0.5, 10), 0.5, 1e-12);
}

TEST(RouterBench, LoadsRealTrainFileIfPresent) {
  const std::string path = std::string(TOLLGATE_SOURCE_DIR) + "/../shared/data/routerbench/arc_challenge_train.csv";
  if (!fs::exists(path)) GTEST_SKIP() << "no RouterBench data at " << path;
  auto ds = LoadRouterBench(path);
  ASSERT_TRUE(ds.ok()) << ds.status().message();
  EXPECT_EQ(ds->models.size(), 11u);
  EXPECT_GT(ds->samples.size(), 1000u);
  EXPECT_GE(ds->ModelIndex("gpt-4-1106-preview"), 0);
  for (const auto& s : ds->samples) {
    ASSERT_EQ(s.outcomes.size(), 11u);
    EXPECT_NE(s.prompt.rfind("['", 0), 0u) << s.sample_id;
    EXPECT_EQ(s.eval_name, "arc-challenge");
  }
  EXPECT_NE(ds->samples[0].prompt.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace tollgate::router
