#include "providers/error_bodies.h"

#include "common/json.h"
#include "common/util.h"

namespace tollgate::providers {
namespace {

void WriteText(JsonWriter& w, std::string_view s) { WriteString(w, ToValidUtf8(s)); }

}  // namespace

std::string OpenAiErrorBody(std::string_view message, std::string_view type, std::string_view param,
                            std::string_view code) {
  return WriteJson([&](JsonWriter& w) {
    w.StartObject();
    w.Key("error");
    w.StartObject();
    w.Key("message");
    WriteText(w, message);
    w.Key("type");
    WriteText(w, type);
    w.Key("param");
    if (param.empty()) w.Null();
    else WriteText(w, param);
    w.Key("code");
    WriteText(w, code);
    w.EndObject();
    w.EndObject();
  });
}

std::string AnthropicErrorBody(std::string_view type, std::string_view message, std::optional<std::string_view> code) {
  return WriteJson([&](JsonWriter& w) {
    w.StartObject();
    w.Key("type");
    w.String("error");
    w.Key("error");
    w.StartObject();
    w.Key("type");
    WriteText(w, type);
    w.Key("message");
    WriteText(w, message);
    if (code) {
      w.Key("code");
      WriteText(w, *code);
    }
    w.EndObject();
    w.EndObject();
  });
}

std::string GeminiErrorBody(int code, std::string_view message, std::string_view status,
                            std::optional<std::string_view> reason) {
  return WriteJson([&](JsonWriter& w) {
    w.StartObject();
    w.Key("error");
    w.StartObject();
    w.Key("code");
    w.Int(code);
    w.Key("message");
    WriteText(w, message);
    w.Key("status");
    WriteText(w, status);
    if (reason) {
      w.Key("details");
      w.StartArray();
      w.StartObject();
      w.Key("@type");
      w.String("type.googleapis.com/google.rpc.ErrorInfo");
      w.Key("reason");
      WriteText(w, *reason);
      w.Key("domain");
      w.String("tollgate");
      w.EndObject();
      w.EndArray();
    }
    w.EndObject();
    w.EndObject();
  });
}

std::string OpenAiErrorEvent(std::string_view message, std::string_view type, std::string_view code) {
  return "data: " + OpenAiErrorBody(message, type, "", code) + "\n\n";
}

std::string AnthropicErrorEvent(std::string_view type, std::string_view message) {
  return "event: error\ndata: " + AnthropicErrorBody(type, message) + "\n\n";
}

std::string GeminiErrorEvent(int code, std::string_view message, std::string_view status) {
  return "data: " + GeminiErrorBody(code, message, status) + "\n\n";
}

}  // namespace tollgate::providers
