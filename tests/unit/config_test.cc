#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "config/config.h"

namespace tollgate::config {
namespace {

constexpr const char* kGood = R"(server:
  listen: 127.0.0.1:0
providers:
  - name: up
    type: openai-compatible
    base_url: http://127.0.0.1:9/v1/
    api_key: ${TG_TEST_KEY}
  - name: sim
    type: sim
models:
  - name: m
    deployments:
      - provider: up
        model: real-m
      - provider: sim
)";

TEST(Config, ParsesAndAppliesDefaults) {
  setenv("TG_TEST_KEY", "sk-test", 1);
  auto c = ParseConfig(kGood, "good.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->server.listen, "127.0.0.1:0");
  EXPECT_EQ(c->server.max_body_bytes, 10485760);
  ASSERT_EQ(c->providers.size(), 2u);
  EXPECT_EQ(c->providers[0].api_key, "sk-test");
  EXPECT_EQ(c->providers[0].base_url, "http://127.0.0.1:9/v1");  // trailing slash trimmed
  EXPECT_EQ(c->providers[0].max_retries, 2);
  ASSERT_EQ(c->models[0].deployments.size(), 2u);
  EXPECT_EQ(c->models[0].deployments[1].model, "m");  // defaults to the model name
}

TEST(Config, UnsetEnvVarIsAWarningNotAnError) {
  unsetenv("TG_TEST_KEY");
  auto c = ParseConfig(kGood, "good.yaml");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->providers[0].api_key, "");
  ASSERT_EQ(c->warnings.size(), 1u);
  EXPECT_NE(c->warnings[0].find("TG_TEST_KEY"), std::string::npos);
}

struct BadCase {
  const char* yaml;
  const char* expect_location;
  const char* expect_text;
};

class ConfigErrors : public ::testing::TestWithParam<BadCase> {};

TEST_P(ConfigErrors, NamesFileLineAndFix) {
  auto c = ParseConfig(GetParam().yaml, "bad.yaml");
  ASSERT_FALSE(c.ok());
  const std::string& m = c.status().message();
  EXPECT_NE(m.find(GetParam().expect_location), std::string::npos) << m;
  EXPECT_NE(m.find(GetParam().expect_text), std::string::npos) << m;
  EXPECT_NE(m.find("fix:"), std::string::npos) << m;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ConfigErrors,
    ::testing::Values(
        BadCase{"providers:\n  - name: a\n    type: bogus\nmodels: []\n", "bad.yaml:3:", "unknown type 'bogus'"},
        BadCase{"providers:\n  - name: a\n    type: sim\nmodels:\n  - name: m\n    deployments:\n      - provider: zz\n",
                "bad.yaml:7:", "unknown provider 'zz'"},
        BadCase{"server:\n  listen: [1, 2\n", "bad.yaml:", "invalid YAML"},
        BadCase{"server:\n  threads: lots\nproviders: []\nmodels: []\n", "bad.yaml:2:", "must be an integer"},
        BadCase{"server:\n  lisen: 1\n", "bad.yaml:2:", "unknown key 'lisen'"},
        BadCase{"server:\n  threads: 2\nledger:\n  path: a.db\nserver:\n  threads: 4\n", "bad.yaml:5:",
                "duplicate key 'server' in the top level"},
        BadCase{"providers:\n  - name: a\n    type: sim\n    name: b\nmodels: []\n", "bad.yaml:4:",
                "duplicate key 'name'"},
        BadCase{"providers:\n  - name: a\n    type: openai-compatible\nmodels: []\n", "bad.yaml:2:", "needs base_url"},
        BadCase{"providers:\n  - name: a\n    type: openai\n    base_url: ftp://x\nmodels: []\n", "bad.yaml:4:",
                "invalid base_url"},
        BadCase{"providers:\n  - name: a\n    type: sim\n  - name: a\n    type: sim\nmodels: []\n", "bad.yaml:4:",
                "duplicate provider"},
        BadCase{"providers:\n  - name: a\n    type: sim\nmodels:\n  - name: m\n", "bad.yaml:5:", "no deployments"},
        BadCase{"pricing:\n  overrides:\n    - model: x\n      input: cheap\nproviders: []\nmodels: []\n", "bad.yaml:4:",
                "must be a number"},
        BadCase{"server:\n  max_connections: 0\nproviders: []\nmodels: []\n", "bad.yaml:2:",
                "max_connections must be at least 1"},
        BadCase{"server:\n  drain_timeout_ms: -5\nproviders: []\nmodels: []\n", "bad.yaml:2:", "must not be negative"},
        BadCase{"server:\n  drain_timeout_ms: 4000000\nproviders: []\nmodels: []\n", "bad.yaml:2:",
                "drain_timeout_ms must be between 0 and 3600000"},
        BadCase{"counters:\n  url: http://127.0.0.1:6379\nproviders: []\nmodels: []\n", "bad.yaml:2:",
                "counters.url must be a redis:// URL"},
        BadCase{"counters:\n  policy: sometimes\nproviders: []\nmodels: []\n", "bad.yaml:2:",
                "counters.policy must be fail_closed or fail_open"},
        BadCase{"counters:\n  replicas: 0\nproviders: []\nmodels: []\n", "bad.yaml:2:",
                "counters.replicas must be between 1 and 10000"},
        BadCase{"counters:\n  reservation_ttl_ms: 10\nproviders: []\nmodels: []\n", "bad.yaml:2:",
                "reservation_ttl_ms must be at least 1000"},
        BadCase{"", "bad.yaml:1:", "empty"}));

TEST(Config, EmbeddedConfigIsValid) {
  auto c = LoadEmbeddedConfig();
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_NE(c->FindProvider("sim"), nullptr);
}

TEST(Config, ReferenceListsEverySetting) {
  std::string md = SettingsReferenceMarkdown();
  for (const char* k : {"max_body_bytes", "first_byte_timeout_ms", "flush_interval_ms", "litellm_file"})
    EXPECT_NE(md.find(k), std::string::npos) << k;
}

}  // namespace
}  // namespace tollgate::config

namespace tollgate::config {
namespace {
TEST(Config, DocsConfigMdIsUpToDate) {
  std::ifstream f(std::string(TOLLGATE_SOURCE_DIR) + "/docs/config.md");
  std::stringstream ss;
  ss << f.rdbuf();
  EXPECT_EQ(ss.str(), SettingsReferenceMarkdown())
      << "docs/config.md is stale: regenerate it with `tollgate config docs > docs/config.md`";
}
}  // namespace
}  // namespace tollgate::config
