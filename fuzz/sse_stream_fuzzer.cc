// libFuzzer target: an upstream's SSE stream through the SSE splitter and one
// stream adapter, read as Gateway::RelayStream reads it.
//
// Input: one control byte (which adapter, and whether the stream ends cleanly
// with Finish or breaks with Fail), one seeding the read sizes
// (fuzz_util.h), then the upstream's bytes. Each read is appended to the
// pending buffer, cut into events with FindSseEventEnd and fed to the adapter
// event by event, exactly as the relay does, so events split across reads at
// every point are covered. Checked on the way:
//   - FindSseEventEnd returns the first separator at or after `from`;
//   - every write to the client is whole SSE events (ends in a blank line);
//   - the translators (chat <-> Anthropic) emit only events whose data is
//     JSON or [DONE]: the client must be able to parse what tollgate made.

#include <rapidjson/document.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "providers/adapter.h"
#include "providers/sse.h"

namespace {

using namespace tollgate::providers;

std::unique_ptr<StreamAdapter> MakeAdapter(int which, bool* translator) {
  *translator = which >= 5;
  switch (which) {
    case 0: return MakeOpenAiPassthrough(false);
    case 1: return MakeOpenAiPassthrough(true);
    case 2: return MakeAnthropicPassthrough();
    case 3: return MakeResponsesPassthrough();
    case 4: return MakeGeminiPassthrough();
    case 5: return MakeAnthropicToChatStream("gpt-4o-mini", false);
    case 6: return MakeAnthropicToChatStream("gpt-4o-mini", true);
    default: return MakeChatToAnthropicStream("claude-sonnet-4-5");
  }
}

// The separator FindSseEventEnd must find: the first "\n\n" or "\n\r\n" at or after `from`.
size_t ReferenceEventEnd(const std::string& buf, size_t from, size_t* sep) {
  for (size_t i = from; i < buf.size(); ++i) {
    if (buf.compare(i, 2, "\n\n") == 0) {
      *sep = 2;
      return i;
    }
    if (buf.compare(i, 3, "\n\r\n") == 0) {
      *sep = 3;
      return i;
    }
  }
  return std::string::npos;
}

// What one client write carries: whole events, and for a translator, JSON data.
void CheckClientWrite(std::string_view out, bool translator) {
  if (out.empty()) return;
  if (out.size() < 2 || out.substr(out.size() - 2) != "\n\n") std::abort();
  if (!translator) return;
  size_t pos = 0;
  while (pos < out.size()) {
    size_t end = out.find("\n\n", pos);
    std::string_view ev = out.substr(pos, end - pos);
    pos = end + 2;
    std::string scratch;
    std::string_view payload = SseData(ev, &scratch);
    if (payload.empty() || payload == "[DONE]") continue;
    rapidjson::Document d;
    d.Parse<rapidjson::kParseIterativeFlag>(payload.data(), payload.size());
    if (d.HasParseError()) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const uint8_t control = tollgate::fuzz::ControlByte(data, size, 0);
  bool translator = false;
  std::unique_ptr<StreamAdapter> adapter = MakeAdapter(control % 8, &translator);
  tollgate::fuzz::Splitter reads(tollgate::fuzz::Payload(data, size, 2),
                                 tollgate::fuzz::ControlByte(data, size, 1), 512);

  std::string pending, forward;
  while (!reads.done()) {
    const std::string_view chunk = reads.Next();
    pending.append(chunk);
    size_t pos = 0, sep = 0, end;
    for (;;) {
      size_t ref_sep = 0;
      const size_t ref = ReferenceEventEnd(pending, pos, &ref_sep);
      end = FindSseEventEnd(pending, pos, &sep);
      if (end != ref || (end != std::string::npos && sep != ref_sep)) std::abort();
      if (end == std::string::npos) break;
      adapter->OnEvent(std::string_view(pending.data() + pos, end - pos), &forward);
      pos = end + sep;
    }
    pending.erase(0, pos);
    CheckClientWrite(forward, translator);
    forward.clear();
  }
  std::string tail;
  if (control & 0x80)
    adapter->Fail("Provider 'fuzz' stream broke: connection reset", &tail);
  else
    adapter->Finish(&tail);
  CheckClientWrite(tail, translator);
  const Meter& m = adapter->meter();
  if (m.usage.input < 0 || m.usage.output < 0 || m.usage.cache_read < 0) {
    // Negative token counts would bill a credit; the extractors clamp them.
    std::abort();
  }
  return 0;
}
