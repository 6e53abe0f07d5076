#include "common/status.h"

namespace tollgate {

std::string Status::ToString() const {
  const char* name = "OK";
  switch (code_) {
    case StatusCode::kOk: return "OK";
    case StatusCode::kInvalidArgument: name = "InvalidArgument"; break;
    case StatusCode::kNotFound: name = "NotFound"; break;
    case StatusCode::kTooLarge: name = "TooLarge"; break;
    case StatusCode::kUnavailable: name = "Unavailable"; break;
    case StatusCode::kTimeout: name = "Timeout"; break;
    case StatusCode::kUpstreamError: name = "UpstreamError"; break;
    case StatusCode::kIoError: name = "IoError"; break;
    case StatusCode::kInternal: name = "Internal"; break;
  }
  return std::string(name) + ": " + message_;
}

}  // namespace tollgate
