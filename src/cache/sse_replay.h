// Replaying a cached whole response as a server-sent-event stream of the same
// API, and the reverse (assembling the whole response from a stream a client
// received, to cache a streamed miss). Supported APIs: "chat" (OpenAI chat
// completions), "completions" (OpenAI legacy completions), "messages"
// (Anthropic Messages). Stateless functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace tollgate::cache {

// The SSE bytes a streaming client of `api` would have received for the whole
// response `whole_json`:
//   chat:        chat.completion.chunk events: a role chunk, content pieces of
//                20-40 bytes (cut at spaces when possible, never inside a UTF-8
//                character), tool_calls (id/name chunk, then argument pieces), a
//                finish_reason chunk, a usage chunk (choices: []) only when
//                `include_usage`, then "data: [DONE]".
//   completions: text_completion chunks likewise.
//   messages:    "event: X\ndata: {...}" for message_start, per content block
//                content_block_start / _delta(s) / _stop (text_delta,
//                input_json_delta, thinking_delta + signature_delta), message_delta
//                (stop_reason, usage), message_stop.
// Each event ends in "\n\n". A non-empty `new_id` replaces the response id.
// InvalidArgument if whole_json is not a response object of `api` or the API is
// not supported.
Result<std::string> ReplayAsSse(std::string_view api, std::string_view whole_json,
                                bool include_usage, std::string_view new_id);

// The whole response JSON (as the non-streamed API returns it) rebuilt from the
// SSE bytes of one complete stream: text, tool-call deltas, finish/stop
// reasons and usage. InvalidArgument if the stream is incomplete (chat and
// completions: no "[DONE]" or a choice without finish_reason; messages: no
// message_stop), carries an error event, or is malformed: the caller must not
// cache it.
Result<std::string> AssembleFromSse(std::string_view api, std::string_view sse);

}  // namespace tollgate::cache
