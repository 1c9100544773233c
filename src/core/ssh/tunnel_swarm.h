// Many idle device tunnels from one process, for the relay's benchmarks
// (bench/relay.sh): each tunnel is a libssh client session that logs in,
// asks for a `tcpip-forward` of 127.0.0.1:PORT as RAC does, and then only
// answers the relay's keepalives. Not for production: the relay's host key
// is not checked and forwarded channels are refused.
//
// Threading: not thread-safe; one thread calls Connect() and Run().
#ifndef PORTHOLE_CORE_SSH_TUNNEL_SWARM_H_
#define PORTHOLE_CORE_SSH_TUNNEL_SWARM_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/base/status.h"
#include "core/ssh/device_key.h"

namespace porthole::ssh {

struct SwarmConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 22;
  const PrivateKey* key = nullptr;  // borrowed; every tunnel uses it
  // The user name and the forwarded port of tunnel `i`.
  std::function<std::string(size_t)> user;
  std::function<uint16_t(size_t)> forward_port;
};

class TunnelSwarm {
 public:
  explicit TunnelSwarm(SwarmConfig config);
  ~TunnelSwarm();
  TunnelSwarm(const TunnelSwarm&) = delete;
  TunnelSwarm& operator=(const TunnelSwarm&) = delete;

  // Opens tunnel number `i` (blocking: connect, authenticate, forward).
  // Errors name the step and libssh's reason.
  Status Open(size_t i);
  // Answers what the open tunnels have received (keepalives), without
  // waiting: call it between Open()s, or a relay's keepalive check cuts
  // the tunnels opened first while the others are still being opened.
  void Poll();
  size_t size() const;
  // Serves every open tunnel (keepalive answers) until `stop_fd` is
  // readable; returns how many were still connected then.
  size_t Run(int stop_fd);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace porthole::ssh

#endif  // PORTHOLE_CORE_SSH_TUNNEL_SWARM_H_
