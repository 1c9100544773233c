// Named failures of the SSH client side (src/core/ssh).
//
// Callers branch on ErrorCode (retry later, report, give up); people read the
// one-line message, which names the relay ("relay 127.0.0.1:2222: ...") and
// the reason. Error is a value, cheap to move, not thread-safe to mutate.
#ifndef PORTHOLE_CORE_SSH_ERROR_H_
#define PORTHOLE_CORE_SSH_ERROR_H_

#include <string>
#include <string_view>
#include <utility>

#include "core/base/status.h"

namespace porthole::ssh {

enum class ErrorCode {
  kOk = 0,
  kBadConfig,        // an unusable setting: bad host key line, no handler...
  kConnectFailed,    // name lookup, TCP connect or key exchange failed
  kTimedOut,         // the relay did not answer within the connect timeout
  kHostKeyMismatch,  // the relay's host key is not the pinned one
  kAuthDenied,       // the relay refused the device key
  kForwardRefused,   // the relay refused the tcpip-forward request
  kConnectionLost,   // the connection broke during the handshake
  kInternal,         // libssh failed in a way that is a bug or out of memory
};

// "host-key-mismatch", "auth-denied", ...: stable names for logs and tests.
std::string_view ErrorCodeName(ErrorCode code);

class [[nodiscard]] Error {
 public:
  Error() = default;  // no error
  Error(ErrorCode code, std::string message)
      : code_(code), message_(std::move(message)) {}

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "OK" or the message.
  std::string ToString() const { return ok() ? "OK" : message_; }

  // kBadConfig -> kInvalidArgument, kHostKeyMismatch/kAuthDenied/
  // kForwardRefused -> kPermissionDenied, kInternal -> kInternal, the rest
  // (transient) -> kUnavailable.
  Status ToStatus() const;

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

}  // namespace porthole::ssh

#endif  // PORTHOLE_CORE_SSH_ERROR_H_
