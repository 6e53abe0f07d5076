// Status and Result<T>: the error currency of tollgate. No exception crosses a
// component boundary; third-party exceptions are converted at the wrapper.
// Values are immutable after construction and safe to copy between threads.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace tollgate {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,   // bad client input or bad config
  kNotFound,          // a named thing (model, route, key) does not exist
  kTooLarge,          // input over a configured limit
  kUnavailable,       // upstream or dependency could not be reached
  kTimeout,           // an operation exceeded its deadline
  kUpstreamError,     // upstream answered with an error
  kIoError,           // disk or database failure
  kInternal,          // broken invariant: a bug
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) { return Status(StatusCode::kInvalidArgument, std::move(m)); }
  static Status NotFound(std::string m) { return Status(StatusCode::kNotFound, std::move(m)); }
  static Status TooLarge(std::string m) { return Status(StatusCode::kTooLarge, std::move(m)); }
  static Status Unavailable(std::string m) { return Status(StatusCode::kUnavailable, std::move(m)); }
  static Status Timeout(std::string m) { return Status(StatusCode::kTimeout, std::move(m)); }
  static Status UpstreamError(std::string m) { return Status(StatusCode::kUpstreamError, std::move(m)); }
  static Status IoError(std::string m) { return Status(StatusCode::kIoError, std::move(m)); }
  static Status Internal(std::string m) { return Status(StatusCode::kInternal, std::move(m)); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;

 private:
  Status(StatusCode c, std::string m) : code_(c), message_(std::move(m)) {}
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Result<T> holds either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}            // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}     // NOLINT: implicit by design
  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }

 private:
  std::variant<T, Status> v_;
};

#define TG_RETURN_IF_ERROR(expr)            \
  do {                                      \
    ::tollgate::Status _st = (expr);        \
    if (!_st.ok()) return _st;              \
  } while (0)

#define TG_CONCAT_INNER(a, b) a##b
#define TG_CONCAT(a, b) TG_CONCAT_INNER(a, b)
#define TG_ASSIGN_OR_RETURN(lhs, expr)                                   \
  auto TG_CONCAT(_res_, __LINE__) = (expr);                              \
  if (!TG_CONCAT(_res_, __LINE__).ok()) return TG_CONCAT(_res_, __LINE__).status(); \
  lhs = std::move(TG_CONCAT(_res_, __LINE__)).value()

}  // namespace tollgate
