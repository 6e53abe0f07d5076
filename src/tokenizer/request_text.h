// What a model reads from an OpenAI-style request body, for counting prompt
// tokens before sending it (`tollgate tokens`): the text of chat messages,
// completion prompts, embedding and Responses API inputs, instructions and
// tool definitions, plus the message framing tokens OpenAI's cookbook
// (num_tokens_from_messages) adds. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tollgate::tokenizer {

struct RequestText {
  std::string model;               // the "model" field; empty if absent
  std::vector<std::string> parts;  // each counted on its own, in body order
  // Chat framing: 3 tokens per message, 1 per "name", and 3 that prime the
  // reply; 0 for bodies without "messages". Token-id arrays in "prompt" or
  // "input" (already tokenized) are added here too, one per id.
  int64_t framing_tokens = 0;
  size_t messages = 0;
};

// Extracts the counted text of `body`:
//   messages[]:  role, name and content (a string, or the "text" of each
//                text part; image and audio parts are not counted);
//                tool calls' function names and arguments.
//   prompt, input: a string, an array of strings, or token-id arrays;
//                Responses API input items with content parts.
//   instructions, system (string): as text.
//   tools / functions: each definition as compact JSON (an approximation:
//                OpenAI renders them into a hidden system message).
// Errors: InvalidArgument if `body` is not a JSON object or has none of
// messages, prompt or input.
Result<RequestText> ExtractRequestText(std::string_view body);

}  // namespace tollgate::tokenizer
