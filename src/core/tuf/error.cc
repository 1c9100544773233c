#include "core/tuf/error.h"

namespace porthole::tuf {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk:
      return "ok";
    case ErrorCode::kNotJson:
      return "not-json";
    case ErrorCode::kTooLarge:
      return "too-large";
    case ErrorCode::kMalformed:
      return "malformed";
    case ErrorCode::kNotCanonical:
      return "not-canonical";
    case ErrorCode::kWrongType:
      return "wrong-type";
    case ErrorCode::kBadKeyId:
      return "bad-keyid";
    case ErrorCode::kUnsupportedKey:
      return "unsupported-key";
    case ErrorCode::kBadSignature:
      return "bad-signature";
    case ErrorCode::kThresholdNotMet:
      return "threshold-not-met";
    case ErrorCode::kMissingRole:
      return "missing-role";
    case ErrorCode::kExpired:
      return "expired";
    case ErrorCode::kRollback:
      return "rollback";
    case ErrorCode::kBadVersion:
      return "bad-version";
    case ErrorCode::kTooManyRotations:
      return "too-many-rotations";
    case ErrorCode::kNotFound:
      return "not-found";
    case ErrorCode::kFetchFailed:
      return "fetch-failed";
    case ErrorCode::kStateError:
      return "state-error";
  }
  return "unknown";
}

Error Error::Prefixed(std::string_view prefix) const {
  if (ok()) return *this;
  return Error(code_, std::string(prefix) + ": " + message_);
}

Status Error::ToStatus() const {
  switch (code_) {
    case ErrorCode::kOk:
      return Status::Ok();
    case ErrorCode::kStateError:
      return Status::IoError(message_);
    case ErrorCode::kNotFound:
      return Status::NotFound(message_);
    case ErrorCode::kFetchFailed:
      return Status::Unavailable(message_);
    default:
      return Status::Corrupt(message_);
  }
}

std::string VerifyFailureText(const Error& error) {
  return std::string(kVerifyFailedPrefix) + error.message();
}

}  // namespace porthole::tuf
