// CLI11 validators with short, clear messages (CLI11's own range checks print
// the full double range, which reads like noise).
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace tollgate::cli {

inline CLI::Validator NonNegative() {
  return CLI::Validator(
      [](std::string& in) -> std::string {
        try {
          size_t pos = 0;
          double v = std::stod(in, &pos);
          if (pos != in.size()) return "must be a number (got '" + in + "')";
          if (v < 0) return "must be 0 or more (got " + in + ")";
        } catch (const std::exception&) {
          return "must be a number (got '" + in + "')";
        }
        return "";
      },
      "NUMBER>=0");
}

}  // namespace tollgate::cli
