// Running as root only as long as needed (PROTOCOL.md 2.6
// unprivileged_user_group; STYLE.md 7): the agent reads its TLS material
// as root, then becomes the configured user for good.
#ifndef PORTHOLE_AGENT_PRIVILEGES_H_
#define PORTHOLE_AGENT_PRIVILEGES_H_

#include <string>

#include "core/base/status.h"
#include "core/config/agent_config.h"

namespace porthole::agent {

// Becomes `who` (names looked up in passwd/group): supplementary groups of
// the user (initgroups), then setgid, then setuid; afterwards checks that
// setuid(0) fails and that real, effective and saved ids are all the user's.
// Must run before any thread is started. Errors name the user or group;
// a process whose drop cannot be verified must not go on (the caller exits).
Status DropPrivileges(const config::UserGroup& who);

// Checks that the agent, as it runs now, can write `path` (a file or a
// directory), or create it: the nearest existing ancestor must be a
// writable directory. `key` names the config key in the error, e.g.
//   "device.local_tuf_repo_path: /var/rac/uptane-repo is not writable by
//    uid 1000 (owner 0:0, mode 0755)"
Status CheckWritable(std::string_view key, const std::string& path);

}  // namespace porthole::agent

#endif  // PORTHOLE_AGENT_PRIVILEGES_H_
