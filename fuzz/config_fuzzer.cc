// libFuzzer target: the YAML config loader (config::ParseConfig, what
// LoadConfigFile runs on a file's text): YAML parsing, environment
// expansion, validation with file:line:col errors. Any input must give a
// Config or an error, never a crash or an exception.

#include <cstdint>
#include <string>

#include "config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string yaml(reinterpret_cast<const char*>(data), size);
  auto cfg = tollgate::config::ParseConfig(yaml, "fuzz.yaml");
  if (cfg.ok()) (void)cfg->FindModel("gpt-4o-mini");
  else (void)cfg.status().message();
  return 0;
}
