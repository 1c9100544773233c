// What serves the operator at the device end of the tunnel: one of RAC's
// three session modes (PROTOCOL.md 4.4, 8; porthole's fixes in 13 rows
// 18-23).
//
//   spawned_sshd  one `sshd -i` per forwarded connection, on a socketpair,
//                 with a generated hardened config and an authorized_keys
//                 holding only the session's keys (no port, no race)
//   embedded      the in-process libssh server (core/ssh/embedded_server.h),
//                 one thread per forwarded connection
//   target_host   a TCP connection to host_port; the session's keys are
//                 written to authorized_keys_path while at least one
//                 connection is open (core/keys/session_lines.h)
//
// Life cycle, all on the agent's session thread:
//   Prepare()  once at agent start: checks and clean-up of leftovers; an
//              error is a configuration problem
//   Start()    for each validated session, before the tunnel connects
//   Open()     for each forwarded connection, from inside the tunnel's event
//              loop (must not block for long)
//   Tick()     now and then while the tunnel runs (reaping children)
//   Stop()     after the tunnel is gone and every stream closed: children
//              ended, session keys removed; idempotent
//   HostKeys() any time after Prepare()
// Not thread-safe.
#ifndef PORTHOLE_AGENT_LOCAL_SESSION_H_
#define PORTHOLE_AGENT_LOCAL_SESSION_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/session_validity.h"
#include "core/base/status.h"
#include "core/config/agent_config.h"
#include "core/ssh/reverse_tunnel.h"

namespace porthole::agent {

class LocalSession {
 public:
  virtual ~LocalSession() = default;
  virtual Status Prepare() = 0;
  virtual Status Start(const SessionPlan& plan) = 0;
  virtual Result<ssh::LocalStream> Open(
      const ssh::ForwardedConnection& from) = 0;
  virtual void Tick() {}
  virtual void Stop() = 0;
  // After Prepare(): the public keys the session server presents to
  // operators, as "TYPE BASE64 porthole-agent" lines (spawned_sshd,
  // embedded); empty when the device's own server answers (target_host).
  virtual std::vector<std::string> HostKeys() const { return {}; }
};

// The mode the config names. `config` must outlive the object.
std::unique_ptr<LocalSession> MakeLocalSession(
    const config::AgentConfig& config);

// The sshd_config spawned_sshd writes (exposed for tests). `allow_user`:
// the only account that may log in (the agent's own when it is not root),
// empty for any but root.
std::string SpawnedSshdConfig(const std::string& host_key_path,
                              const std::string& authorized_keys_path,
                              const std::string& allow_user);

// The embedded server's host key when server_key_path is not set: a
// persistent key beside the device key (RAC made a new one per connection).
std::string DefaultEmbeddedHostKeyPath(const config::AgentConfig& config);

}  // namespace porthole::agent

#endif  // PORTHOLE_AGENT_LOCAL_SESSION_H_
