// Named failures of TUF metadata checks.
//
// Every check in src/core/tuf fails with its own ErrorCode so that callers
// (and tests) can branch on what went wrong, plus a one-line message for the
// log that names the document and the reason, e.g.
//   "remote-sessions.json: signature threshold of 1 not met for role
//    remote-sessions (0 valid signatures)".
// Error is a value; ErrorOr<T> holds a T or a failed Error. Neither is
// thread-safe to mutate.
#ifndef PORTHOLE_CORE_TUF_ERROR_H_
#define PORTHOLE_CORE_TUF_ERROR_H_

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "core/base/status.h"

namespace porthole::tuf {

enum class ErrorCode {
  kOk = 0,
  kNotJson,           // the body is not JSON at all (e.g. an HTML error page)
  kTooLarge,          // a document is over the size cap (1 MiB)
  kMalformed,         // JSON, but not the schema (missing/mistyped member)
  kNotCanonical,      // `signed` cannot be canonicalised (a float, bad UTF-8)
  kWrongType,         // `_type` is not the role the document was fetched as
  kBadKeyId,          // a keyid does not match its key, or is duplicated
  kUnsupportedKey,    // an unknown keytype or an unusable public key
  kBadSignature,      // a `signatures` entry is malformed (keyid, base64)
  kThresholdNotMet,   // fewer valid signatures than the role's threshold
  kMissingRole,       // the root has no such role
  kExpired,           // `expires` is before "now"
  kRollback,          // version lower than the last accepted one
  kBadVersion,        // a rotated root whose version is not N+1
  kTooManyRotations,  // more than 1024 root rotations in one load
  kNotFound,          // the server has no such document (404 or 424)
  kFetchFailed,       // transport or HTTP error while fetching
  kStateError,        // the local state directory cannot be read or written
};

// "not-json", "threshold-not-met", ...: stable names for logs and tests.
std::string_view ErrorCodeName(ErrorCode code);

class [[nodiscard]] Error {
 public:
  Error() = default;  // no error
  Error(ErrorCode code, std::string message)
      : code_(code), message_(std::move(message)) {}

  static Error None() { return Error(); }
  // A base Status as a TUF error with `code`.
  static Error FromStatus(ErrorCode code, const Status& status) {
    return Error(code, status.message());
  }

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // The same error with "prefix: " in front of the message.
  Error Prefixed(std::string_view prefix) const;

  // "OK" or the message.
  std::string ToString() const { return ok() ? "OK" : message_; }

  // kStateError -> kIoError, kFetchFailed/kNotFound -> kUnavailable /
  // kNotFound, everything else (the document is bad) -> kCorrupt.
  Status ToStatus() const;

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

template <typename T>
class [[nodiscard]] ErrorOr {
 public:
  ErrorOr(T value) : v_(std::move(value)) {}     // NOLINT: implicit by design
  ErrorOr(Error error) : v_(std::move(error)) {  // NOLINT
    assert(!std::get<Error>(v_).ok() && "ErrorOr from a non-error");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Error& error() const {
    static const Error kNone;
    return ok() ? kNone : std::get<Error>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<Error, T> v_;
};

// The line the agent logs when remote-sessions cannot be verified; RAC's
// tests match this prefix.
inline constexpr std::string_view kVerifyFailedPrefix =
    "Failed to verify remote-sessions metadata: ";

// "Failed to verify remote-sessions metadata: <message>".
std::string VerifyFailureText(const Error& error);

}  // namespace porthole::tuf

// Returns from the enclosing function if `expr` (an Error) is not OK.
#define TUF_RETURN_IF_ERROR(expr)               \
  do {                                          \
    ::porthole::tuf::Error tuf_error_ = (expr); \
    if (!tuf_error_.ok()) return tuf_error_;    \
  } while (0)

// `lhs = value of expr` (an ErrorOr<T>), or returns its Error.
#define TUF_ASSIGN_OR_RETURN(lhs, expr) \
  TUF_ASSIGN_OR_RETURN_IMPL_(PH_CONCAT_(tuf_result_, __LINE__), lhs, expr)
#define TUF_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return tmp.error();               \
  lhs = std::move(tmp).value()

#endif  // PORTHOLE_CORE_TUF_ERROR_H_
