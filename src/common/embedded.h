// Data files compiled into the binary at build time (cmake/embed.cmake):
// the price catalog (prices.json), the GPU catalog of `tollgate plan`
// (gpus.json) and the bundled config (tollgate.yaml).
#pragma once
#include <string_view>

namespace tollgate {
// Returns the bytes of the embedded file `name`, or an empty view if absent.
std::string_view EmbeddedFile(std::string_view name);
}  // namespace tollgate
