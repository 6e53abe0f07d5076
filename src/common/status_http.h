// How a Status from the store answers an HTTP API that reads and writes it
// (the admin API, the dashboard's JSON API): the HTTP status and the error code
// each writes in its own envelope. Header-only; thread-safe.
#pragma once

#include "common/status.h"

namespace tollgate {

struct HttpError {
  int status;
  const char* code;
};

// InvalidArgument: 400 invalid_request; NotFound: 404 not_found; anything
// else: 500 internal_error.
inline HttpError HttpErrorFor(const Status& st) {
  switch (st.code()) {
    case StatusCode::kInvalidArgument: return {400, "invalid_request"};
    case StatusCode::kNotFound: return {404, "not_found"};
    default: return {500, "internal_error"};
  }
}

}  // namespace tollgate
