// JSON for the whole tree: parsing untrusted bytes (client bodies, upstream
// answers, files), reading the DOM it gives, and writing. Every parse in
// tollgate goes through ParseJson: it parses iteratively (no recursion per
// nesting level) and stops at the first array or object nested deeper than
// kMaxJsonDepth, so no input can overflow a stack: neither the parser's nor
// that of the recursive code that later walks the DOM (serialisers,
// canonicalisers, translators). One pass, no pre-scan. The small readers and
// writers below are the only ones: no component defines its own.
// Thread-safe (no shared state).
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/encodedstream.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace tollgate {

// Deepest nesting of arrays and objects accepted anywhere. Real requests stay
// far below it (a JSON schema in response_format rarely passes 20 levels).
inline constexpr int kMaxJsonDepth = 128;

// Outcome of ParseJson. `ok` false: `offset` is the byte where the problem was
// found and `message` says what it is (for an error body).
struct JsonParse {
  bool ok = true;
  size_t offset = 0;
  std::string message;
};

// Parses `text` into `doc`, replacing what it held (null on failure). Refuses
// nesting deeper than kMaxJsonDepth ("nesting deeper than 128 levels") and
// numbers beyond a double's range (RapidJSON reads 1e309 as an error but
// 2e308 as infinity, which no JSON writer can write back); otherwise
// RapidJSON's own errors.
template <class Document>
JsonParse ParseJson(Document& doc, std::string_view text);

// The message of a failed parse: "at offset N: <problem>".
std::string JsonErrorMessage(const JsonParse& p);

// Largest token count believed from a provider (a trillion: no request comes near).
inline constexpr int64_t kMaxTokenCount = 1'000'000'000'000;

// A token count read from an untrusted usage object. Absent or null: 0. A
// non-negative integer (an integral double too) up to kMaxTokenCount: its
// value. Anything else (negative, fractional, huge, a string, an object):
// nullopt, and the caller treats the whole usage object as missing.
std::optional<int64_t> TokenCount(const rapidjson::Value* v);

// Reading a DOM built from untrusted bytes: a member that is missing, or whose
// value has another type, reads as absent, never as an assertion.

// `obj[key]`; null when `obj` is not an object or has no such member.
const rapidjson::Value* Member(const rapidjson::Value& obj, const char* key);
// The string `v` holds; empty when `v` is null or not a string.
std::string_view Str(const rapidjson::Value* v);
// The length of the string `v` holds; 0 when `v` is null or not a string.
size_t StrLen(const rapidjson::Value* v);

// Writing: the compact writer every serialiser uses.
using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// Writes `s` as a JSON string. An empty view (whose data() may be null, which
// RapidJSON asserts against) is written as "".
void WriteString(JsonWriter& w, std::string_view s);
// `v`, serialised compactly.
std::string Serialize(const rapidjson::Value& v);
// What `write` writes, as a string.
std::string WriteJson(const std::function<void(JsonWriter&)>& write);

namespace json_internal {

JsonParse Failure(rapidjson::ParseErrorCode code, size_t offset, bool too_deep);

// Forwards the reader's events to the document, counting depth.
template <class Handler>
struct DepthLimited {
  Handler& h;
  int depth = 0;
  bool too_deep = false;
  bool too_big = false;  // a number that overflowed to infinity
  using Ch = char;
  bool Null() { return h.Null(); }
  bool Bool(bool b) { return h.Bool(b); }
  bool Int(int i) { return h.Int(i); }
  bool Uint(unsigned u) { return h.Uint(u); }
  bool Int64(int64_t i) { return h.Int64(i); }
  bool Uint64(uint64_t u) { return h.Uint64(u); }
  bool Double(double d) {
    if (std::isfinite(d)) return h.Double(d);
    too_big = true;
    return false;
  }
  bool RawNumber(const Ch* s, rapidjson::SizeType n, bool copy) { return h.RawNumber(s, n, copy); }
  bool String(const Ch* s, rapidjson::SizeType n, bool copy) { return h.String(s, n, copy); }
  bool Key(const Ch* s, rapidjson::SizeType n, bool copy) { return h.Key(s, n, copy); }
  bool StartObject() { return Enter() && h.StartObject(); }
  bool EndObject(rapidjson::SizeType n) { return --depth, h.EndObject(n); }
  bool StartArray() { return Enter() && h.StartArray(); }
  bool EndArray(rapidjson::SizeType n) { return --depth, h.EndArray(n); }
  bool Enter() {
    if (++depth <= kMaxJsonDepth) return true;
    too_deep = true;
    return false;
  }
};

}  // namespace json_internal

template <class Document>
JsonParse ParseJson(Document& doc, std::string_view text) {
  doc.SetNull();
  rapidjson::Reader reader;
  bool done = false, too_deep = false, too_big = false;
  // Populate hands the document's own handler to the generator and keeps the
  // value it built only when the generator says it succeeded.
  auto generate = [&](Document& handler) {
    json_internal::DepthLimited<Document> limited{handler};
    rapidjson::MemoryStream ms(text.data(), text.size());
    rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> is(ms);
    done = !reader.template Parse<rapidjson::kParseIterativeFlag>(is, limited).IsError();
    too_deep = limited.too_deep;
    too_big = limited.too_big;
    return done;
  };
  doc.Populate(generate);
  if (done) return {};
  doc.SetNull();
  return json_internal::Failure(too_big ? rapidjson::kParseErrorNumberTooBig : reader.GetParseErrorCode(),
                                reader.GetErrorOffset(), too_deep);
}

}  // namespace tollgate
