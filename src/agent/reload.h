// What SIGHUP does with the configuration (porthole-agent(8), SIGNALS):
// the file is read again and the agent either keeps running as it is or
// restarts itself with the new settings.
//
//   ReloadDecision d = DecideReload(running, LoadAgentConfig(options),
//                                   ServerApi::LoadTls(new).status(),
//                                   geteuid() == 0);
//
//   kKeep      the file does not load, or as root its TLS material cannot
//              be read: logged (one line naming the problem), nothing
//              changes, the session goes on
//   kUnchanged the same settings: logged, nothing changes
//   kRestart   other settings: the active session ends cleanly
//              ("configuration reloaded"), a running remote command is
//              let finish (its result is delivered by the new agent), and
//              the agent starts again with the new configuration; the new
//              agent polls at once, so a session that is still valid comes
//              back within a round trip. What cannot be redone is kept,
//              with a note: after the privilege drop the TLS files (root's,
//              0600) cannot be read again, so the certificate and key read
//              at start stay in use; the agent cannot become another user
//              (unprivileged_user_group applies at the next start).
// Pure function: thread-compatible, no I/O.
#ifndef PORTHOLE_AGENT_RELOAD_H_
#define PORTHOLE_AGENT_RELOAD_H_

#include <optional>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/config/agent_config.h"

namespace porthole::agent {

struct ReloadDecision {
  enum class Kind { kKeep, kUnchanged, kRestart };
  Kind kind = Kind::kKeep;
  std::string message;             // one log line, "reload: ..."
  std::vector<std::string> notes;  // kRestart: what is kept, one line each
  std::optional<config::AgentConfig> next;  // kRestart
};

// `running`: the configuration in use; `loaded`: the file read again;
// `tls`: whether the TLS material of `loaded` could be read now (only
// looked at when `loaded` is fine); `root`: whether the agent still runs
// as root (false after the privilege drop).
ReloadDecision DecideReload(const config::AgentConfig& running,
                            Result<config::AgentConfig> loaded,
                            const Status& tls, bool root);

}  // namespace porthole::agent

#endif  // PORTHOLE_AGENT_RELOAD_H_
