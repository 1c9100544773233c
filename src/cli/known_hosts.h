// porthole's own known_hosts files: the devices' session host keys under
// their alias (porthole-NAME), and each session's relay host key.
//
// Lines are "HOSTSPEC TYPE BASE64" (OpenSSH's sshd(8) KNOWN_HOSTS format),
// plain, never hashed, so porthole can replace its own entries later.
#ifndef PORTHOLE_CLI_KNOWN_HOSTS_H_
#define PORTHOLE_CLI_KNOWN_HOSTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/keys/public_key.h"

namespace porthole::cli {

// "host" for port 22, else "[host]:port", as ssh looks a host up.
std::string KnownHostsHostSpec(const std::string& host, uint16_t port);

// "HOSTSPEC TYPE BASE64" for `key`.
std::string KnownHostsLine(const std::string& hostspec,
                           const keys::PublicKey& key);

// Makes the lines for `hostspec` in `path` exactly `key_lines` (OpenSSH key
// lines; comments dropped), keeping every other line byte for byte. A line
// is `hostspec`'s when its first field, split at commas, names it exactly.
// With an empty `key_lines` the file is left as it is (entries ssh learned
// with accept-new stay). Creates the file 0600 (directory 0700) if missing;
// replaces it atomically. kInvalidArgument for a key line that does not
// parse (nothing written).
Status UpdateKnownHosts(const std::string& path, const std::string& hostspec,
                        const std::vector<std::string>& key_lines);

}  // namespace porthole::cli

#endif  // PORTHOLE_CLI_KNOWN_HOSTS_H_
