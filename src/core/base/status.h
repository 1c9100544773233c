// Status and Result<T>: errors as values at every boundary.
//
// A Status is either OK or a code plus a one-line, human-readable message that
// already names the file, key or value at fault ("keys.toml:3: unknown key
// 'rot'"). Callers branch on code(); people read message(). Result<T> holds a
// T or a non-OK Status. Both are cheap to move and not thread-safe to mutate.
#ifndef PORTHOLE_CORE_BASE_STATUS_H_
#define PORTHOLE_CORE_BASE_STATUS_H_

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace porthole {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // the user gave something malformed: usage error
  kNotFound,            // a named thing does not exist
  kAlreadyExists,
  kPermissionDenied,
  kIoError,             // the OS refused: disk full, read-only, ...
  kCorrupt,             // stored or received data does not parse
  kFailedPrecondition,  // state forbids it (e.g. a revoked key)
  kUnavailable,         // transient: network, peer away; retry later
  kInternal,            // a bug
};

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message)
      : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) {
    return {StatusCode::kInvalidArgument, std::move(m)};
  }
  static Status NotFound(std::string m) {
    return {StatusCode::kNotFound, std::move(m)};
  }
  static Status AlreadyExists(std::string m) {
    return {StatusCode::kAlreadyExists, std::move(m)};
  }
  static Status PermissionDenied(std::string m) {
    return {StatusCode::kPermissionDenied, std::move(m)};
  }
  static Status IoError(std::string m) {
    return {StatusCode::kIoError, std::move(m)};
  }
  static Status Corrupt(std::string m) {
    return {StatusCode::kCorrupt, std::move(m)};
  }
  static Status FailedPrecondition(std::string m) {
    return {StatusCode::kFailedPrecondition, std::move(m)};
  }
  static Status Unavailable(std::string m) {
    return {StatusCode::kUnavailable, std::move(m)};
  }
  static Status Internal(std::string m) {
    return {StatusCode::kInternal, std::move(m)};
  }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // The same status with "prefix: " in front of the message.
  Status Prefixed(std::string_view prefix) const;

  // "OK" or the message.
  std::string ToString() const { return ok() ? "OK" : message_; }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// errno -> Status, in one place: "context: strerror(err)". ENOENT maps to
// kNotFound, EACCES/EPERM/EROFS to kPermissionDenied, the rest to kIoError.
Status PosixError(std::string_view context, int err);

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok() && "Result from an OK Status");
  }

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
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<Status, T> v_;
};

}  // namespace porthole

#define PH_CONCAT_INNER_(a, b) a##b
#define PH_CONCAT_(a, b) PH_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` (a Status) is not OK.
#define PH_RETURN_IF_ERROR(expr)              \
  do {                                        \
    ::porthole::Status ph_status_ = (expr);   \
    if (!ph_status_.ok()) return ph_status_;  \
  } while (0)

// `lhs = value of expr` (a Result<T>), or returns its Status.
#define PH_ASSIGN_OR_RETURN(lhs, expr) \
  PH_ASSIGN_OR_RETURN_IMPL_(PH_CONCAT_(ph_result_, __LINE__), lhs, expr)
#define PH_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()

#endif  // PORTHOLE_CORE_BASE_STATUS_H_
