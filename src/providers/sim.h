// The `sim` provider: answers offline in OpenAI's wire format, clearly
// labelled as simulated ("[simulated]" text, system_fingerprint
// "tollgate-sim", header x-tollgate-simulated). Deterministic for a given
// prompt. Stateless; thread-safe.
#pragma once

#include <rapidjson/document.h>

#include <string>
#include <vector>

#include "config/config.h"
#include "pricing/catalog.h"

namespace tollgate::providers {

struct SimAnswer {
  std::vector<std::string> pieces;  // one entry per output token
  pricing::Usage usage;
};

// Builds the answer to a chat/completions request body.
SimAnswer SimGenerate(const config::ProviderConfig& cfg, const rapidjson::Value& body);

// Full non-streamed response bodies.
std::string SimChatResponse(const std::string& id, const std::string& model, const SimAnswer& a, bool chat);
std::string SimEmbeddingsResponse(const std::string& model, const rapidjson::Value& body, pricing::Usage* usage);
// One streamed chunk payload (the JSON after "data: ") holding `text`;
// `finish` marks the last content chunk.
std::string SimChunk(const std::string& id, const std::string& model, const std::string& text, bool chat,
                     bool first, bool finish);
// The include_usage chunk.
std::string SimUsageChunk(const std::string& id, const std::string& model, const pricing::Usage& u, bool chat);

}  // namespace tollgate::providers
