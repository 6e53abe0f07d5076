#include "gateway/call.h"

#include <cctype>
#include <unordered_set>

namespace tollgate::gateway {

std::string_view BearerToken(const http::Request& req) {
  std::string_view auth = HeaderValue(req, "authorization");
  if (auth.size() > 7 && (auth.substr(0, 7) == "Bearer " || auth.substr(0, 7) == "bearer ")) return Trim(auth.substr(7));
  // Anthropic-style clients send the key in x-api-key, Gemini clients in x-goog-api-key.
  std::string_view k = Trim(HeaderValue(req, "x-api-key"));
  return k.empty() ? Trim(HeaderValue(req, "x-goog-api-key")) : k;
}

Gateway::Call::~Call() {
  if (owner != nullptr && !recorded && !defer_record) owner->RecordAbandoned(*this);
  if (access != nullptr) {
    access->api = true;
    access->row = std::move(row);
  }
}

std::string_view HeaderValue(const http::Request& req, std::string_view name) {
  auto it = req.find(name);
  return it == req.end() ? std::string_view() : std::string_view(it->value().data(), it->value().size());
}

bool FirstUnknownPrice(const std::string& model) {
  struct Seen {
    Mutex mu;
    std::unordered_set<std::string> models GUARDED_BY(mu);
  };
  static Seen seen;
  MutexLock lock(&seen.mu);
  return seen.models.size() < 10000 && seen.models.insert(model).second;
}

bool ForwardableUpstreamHeader(std::string_view name) {
  // Case-insensitive, without allocating: this runs for every upstream header.
  auto starts = [&](std::string_view prefix) {
    if (name.size() < prefix.size()) return false;
    for (size_t i = 0; i < prefix.size(); ++i)
      if (static_cast<char>(std::tolower(static_cast<unsigned char>(name[i]))) != prefix[i]) return false;
    return true;
  };
  auto is = [&](std::string_view v) { return name.size() == v.size() && starts(v); };
  return is("x-request-id") || is("request-id") || starts("openai-") || starts("x-ratelimit-") ||
         starts("anthropic-ratelimit-") || is("retry-after");
}

const char* CacheApiName(providers::Api api) {
  switch (api) {
    case providers::Api::kOpenAiChat: return "chat";
    case providers::Api::kOpenAiCompletions: return "completions";
    case providers::Api::kAnthropicMessages: return "messages";
    case providers::Api::kOpenAiEmbeddings: return "embeddings";
    default: return nullptr;
  }
}

ledger::Row RowOnBehalfOf(const ledger::Row& parent) {
  ledger::Row r;
  r.id = NewRequestId();
  r.ts_start_ms = NowUnixMs();
  r.api_key = parent.api_key;
  r.key_id = parent.key_id;
  r.user = parent.user;
  r.project = parent.project;
  r.team = parent.team;
  r.tags = parent.tags;
  r.session = parent.session;
  return r;
}

}  // namespace tollgate::gateway
