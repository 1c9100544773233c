#include "core/ssh/error.h"

namespace porthole::ssh {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk:
      return "ok";
    case ErrorCode::kBadConfig:
      return "bad-config";
    case ErrorCode::kConnectFailed:
      return "connect-failed";
    case ErrorCode::kTimedOut:
      return "timed-out";
    case ErrorCode::kHostKeyMismatch:
      return "host-key-mismatch";
    case ErrorCode::kAuthDenied:
      return "auth-denied";
    case ErrorCode::kForwardRefused:
      return "forward-refused";
    case ErrorCode::kConnectionLost:
      return "connection-lost";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "unknown";
}

Status Error::ToStatus() const {
  switch (code_) {
    case ErrorCode::kOk:
      return Status::Ok();
    case ErrorCode::kBadConfig:
      return Status::InvalidArgument(message_);
    case ErrorCode::kHostKeyMismatch:
    case ErrorCode::kAuthDenied:
    case ErrorCode::kForwardRefused:
      return Status::PermissionDenied(message_);
    case ErrorCode::kInternal:
      return Status::Internal(message_);
    case ErrorCode::kConnectFailed:
    case ErrorCode::kTimedOut:
    case ErrorCode::kConnectionLost:
      return Status::Unavailable(message_);
  }
  return Status::Internal(message_);
}

}  // namespace porthole::ssh
