#include "core/tuf/verifier.h"

#include "core/tuf/rfc3339.h"

namespace porthole::tuf {

ErrorOr<Root> VerifyTrustedRoot(std::string_view bytes, std::string_view name) {
  TUF_ASSIGN_OR_RETURN(SignedDocument doc, ParseSignedDocument(bytes, name));
  TUF_ASSIGN_OR_RETURN(Root root, ParseRoot(doc));
  TUF_RETURN_IF_ERROR(VerifyRole(doc, root, kRootRole));
  return root;
}

ErrorOr<Root> VerifyRootUpdate(const Root& trusted, std::string_view bytes,
                               std::string_view name) {
  TUF_ASSIGN_OR_RETURN(SignedDocument doc, ParseSignedDocument(bytes, name));
  TUF_ASSIGN_OR_RETURN(Root next, ParseRoot(doc));
  // Signed by the keys we trust now, and by the keys it brings.
  Error old_keys = VerifyRole(doc, trusted, kRootRole);
  if (!old_keys.ok()) {
    return Error(old_keys.code(), old_keys.message() +
                                      " (keys of trusted root version " +
                                      std::to_string(trusted.version) + ")");
  }
  Error new_keys = VerifyRole(doc, next, kRootRole);
  if (!new_keys.ok()) {
    return Error(new_keys.code(), new_keys.message() + " (its own keys)");
  }
  const std::string n(name);
  if (next.version < trusted.version) {
    return Error(ErrorCode::kRollback,
                 n + ": version " + std::to_string(next.version) +
                     " is lower than trusted root version " +
                     std::to_string(trusted.version));
  }
  if (next.version > trusted.version + 1) {
    return Error(ErrorCode::kBadVersion,
                 n + ": version " + std::to_string(next.version) +
                     " does not follow trusted root version " +
                     std::to_string(trusted.version));
  }
  return next;
}

Error CheckExpiry(std::string_view name, std::string_view expires_text,
                  SystemTime expires, SystemTime now) {
  if (now > expires) {
    return Error(ErrorCode::kExpired, std::string(name) + ": expired at " +
                                          std::string(expires_text) + " (now " +
                                          FormatRfc3339(now) + ")");
  }
  return Error::None();
}

ErrorOr<RemoteSessions> VerifyRemoteSessions(
    const Root& root, std::string_view bytes, SystemTime now,
    std::optional<uint64_t> min_version, std::string_view name) {
  if (root.FindRole(kRemoteSessionsRole) == nullptr) {
    return Error(ErrorCode::kMissingRole, std::string(kRemoteSessionsNotSet));
  }
  TUF_ASSIGN_OR_RETURN(SignedDocument doc, ParseSignedDocument(bytes, name));
  TUF_ASSIGN_OR_RETURN(RemoteSessions rs, ParseRemoteSessions(doc));
  TUF_RETURN_IF_ERROR(VerifyRole(doc, root, kRemoteSessionsRole));
  if (min_version && rs.version < *min_version) {
    return Error(ErrorCode::kRollback,
                 doc.name + ": version " + std::to_string(rs.version) +
                     " is lower than the last accepted version " +
                     std::to_string(*min_version));
  }
  TUF_RETURN_IF_ERROR(CheckExpiry(name, rs.expires_text, rs.expires, now));
  return rs;
}

}  // namespace porthole::tuf
