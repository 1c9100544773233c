// The checks of the metadata load (PROTOCOL.md 6.3, with the fixes of 13
// rows 7-10) as pure functions over bytes already fetched: no I/O, no clock.
// loader.h runs them against a server and a state directory; check-policy
// runs them on files.
#ifndef PORTHOLE_CORE_TUF_VERIFIER_H_
#define PORTHOLE_CORE_TUF_VERIFIER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/base/clock.h"
#include "core/tuf/error.h"
#include "core/tuf/remote_sessions.h"
#include "core/tuf/root.h"

namespace porthole::tuf {

// The exact text RAC gives when the root has no remote-sessions role.
inline constexpr std::string_view kRemoteSessionsNotSet =
    "remote-sessions not set in root.json";

// A root trusted on its own (the stored root, or a first download): it must
// parse and meet its *own* root role threshold. Expiry is not checked here
// (6.3 step 1 runs even on an expired root). `name` labels messages.
ErrorOr<Root> VerifyTrustedRoot(std::string_view bytes, std::string_view name);

// The root served as "<N+1>.root.json" while `trusted` (version N) is
// trusted. It must parse and meet both the root threshold of `trusted` and
// its own. Then its version decides:
//   < N      kRollback
//   == N     returned as is: the caller stops rotating (tough's rule)
//   == N+1   returned: the caller adopts it
//   > N+1    kBadVersion (a skipped version: refused, unlike tough)
ErrorOr<Root> VerifyRootUpdate(const Root& trusted, std::string_view bytes,
                               std::string_view name);

// kExpired ("<name>: expired at <expires> (now <now>)") when now > expires.
Error CheckExpiry(std::string_view name, std::string_view expires_text,
                  SystemTime expires, SystemTime now);

// A remote-sessions document against the (verified, unexpired) `root`:
//   - kMissingRole with exactly kRemoteSessionsNotSet when the root has no
//     remote-sessions role (checked first: nothing else is read);
//   - the document must parse (see signed_document.h) with `_type`
//     "Remote-Sessions" (kWrongType);
//   - the remote-sessions threshold must be met (kThresholdNotMet);
//   - version < `min_version` (the last accepted one) is kRollback;
//   - expired at `now` is kExpired.
ErrorOr<RemoteSessions> VerifyRemoteSessions(
    const Root& root, std::string_view bytes, SystemTime now,
    std::optional<uint64_t> min_version = std::nullopt,
    std::string_view name = "remote-sessions.json");

}  // namespace porthole::tuf

#endif  // PORTHOLE_CORE_TUF_VERIFIER_H_
