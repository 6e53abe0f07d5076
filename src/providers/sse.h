// Server-sent events helpers shared by the stream adapters. Stateless.
#pragma once

#include <rapidjson/document.h>

#include <string>
#include <string_view>

namespace tollgate::providers {

// The data payload of one SSE event (its lines, without the blank separator).
// Several data lines are joined with '\n' (the SSE rule) into *scratch; the
// common single-line case is a view into `ev`. Empty if the event has no data.
std::string_view SseData(std::string_view ev, std::string* scratch);

// Parses an event's data payload into *doc; false unless it is a JSON object
// (empty payloads, "[DONE]" and malformed JSON are all "nothing to meter").
bool ParseJsonObject(std::string_view data, rapidjson::Document* doc);

// End of the next complete event in `buf` at or after `from` (the index of its
// first separator byte), setting *sep to the separator's length ("\n\n" or
// "\n\r\n"); npos while the event is still incomplete.
size_t FindSseEventEnd(const std::string& buf, size_t from, size_t* sep);

}  // namespace tollgate::providers
