// Helpers shared by the libFuzzer targets (fuzz/README in docs/HARDENING.md).
// Inputs keep their payload readable: a target takes one or two control bytes
// first and the rest is the payload as it would arrive (an HTTP request, an
// SSE stream, a JSON body), so the seed corpus is made of real-looking files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tollgate::fuzz {

// Cuts a payload into the reads a socket might deliver: sizes from 1 to `max`
// drawn from a small generator seeded by a control byte, so the fuzzer
// explores split points without spending payload bytes on them.
class Splitter {
 public:
  Splitter(std::string_view payload, uint8_t seed, size_t max = 4096)
      : rest_(payload), state_(seed * 2654435761u + 1u), max_(max) {}
  bool done() const { return rest_.empty(); }
  // The next read (empty once everything was delivered).
  std::string_view Next() {
    state_ = state_ * 1103515245u + 12345u;
    // Mostly small reads (where boundaries fall inside tokens), sometimes large.
    const size_t cap = (state_ >> 28) < 4 ? max_ : 64;
    size_t n = 1 + (state_ >> 8) % cap;
    if (n > rest_.size()) n = rest_.size();
    std::string_view out = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return out;
  }

 private:
  std::string_view rest_;
  uint32_t state_;
  size_t max_;
};

// The control byte at `i`, or 0 when the input is shorter.
inline uint8_t ControlByte(const uint8_t* data, size_t size, size_t i) {
  return i < size ? data[i] : 0;
}

// The input after `n` control bytes.
inline std::string_view Payload(const uint8_t* data, size_t size, size_t n) {
  if (size <= n) return {};
  return {reinterpret_cast<const char*>(data) + n, size - n};
}

}  // namespace tollgate::fuzz
