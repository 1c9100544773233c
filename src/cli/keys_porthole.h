// `porthole keys ... porthole:[USER@]DEVICE`: the keys operation on a
// device that is reachable only through porthole. A session is opened (or
// the open one reused) as `porthole connect` does, the tunnel awaited, and
// the ordinary remote path (keys_remote.h: `porthole keys --from-stdin`
// over ssh) runs with connect's ssh options, so the result is reported as
// for any SSH host. The session stays open (it expires on its own).
#ifndef PORTHOLE_CLI_KEYS_PORTHOLE_H_
#define PORTHOLE_CLI_KEYS_PORTHOLE_H_

#include <string>
#include <string_view>

#include "cli/keys_remote.h"
#include "core/base/status.h"

namespace porthole::cli {

inline constexpr std::string_view kPortholeHostPrefix = "porthole:";

// True for "porthole:..." hosts.
bool IsPortholeHost(std::string_view host);

// `base` (its -F and -o options kept) pointed at the device named by
// `host` ("porthole:[USER@]DEVICE") through the relay: host becomes
// [USER@]DEVICE-NAME, the device hop's options are added before the
// user's, env gets SHELL=/bin/sh. kInvalidArgument for a malformed host or
// -J (the relay is the jump host).
Result<RemoteTarget> PortholeTarget(const std::string& host, RemoteTarget base);

}  // namespace porthole::cli

#endif  // PORTHOLE_CLI_KEYS_PORTHOLE_H_
