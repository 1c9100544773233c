// porthole-server's SSH relay: joins an operator's ordinary OpenSSH client to
// a device's outbound tunnel. One listening port, no listener per device, no
// inbound port on the device. The SSH machinery is core/ssh's
// ForwardingServer; this class makes every decision, asking RelayBackend.
//
//   RelayOptions options;
//   options.listen_address = "0.0.0.0";
//   options.port = 2222;
//   options.host_key = &host_key;  // ssh::PrivateKey::LoadOrCreate(...)
//   auto relay = Relay::Create(std::move(options), &backend);  // binds
//   // ... drop privileges ...
//   std::thread t([&] { Status s = (*relay)->Run(); });
//   (*relay)->Revalidate();  // whenever sessions change (any thread)
//   (*relay)->Stop();        // any thread; Run() returns
//   t.join();
//
// Devices (PROTOCOL.md 4.2, what RAC and porthole-agent do): user = the
// device UUID (any case; compared lower-case), publickey with the key the
// device registered (RelayBackend::DeviceKey). Then exactly one
// `tcpip-forward` for "127.0.0.1":PORT, PORT being the reverse port of the
// device's live session; any other address or port, a second forward, or no
// live session is refused and reported. One live tunnel per device: a newer
// connection's accepted forward disconnects the older one ("replaced by a
// new connection of the device"). A device connection may not open
// channels (refused, reported).
//
// Operators: any user name, a key that some live session lists
// (LiveSessionsForOperatorKey); the device's own sshd checks the key again
// end to end. `direct-tcpip` to 127.0.0.1:PORT (PORT a session's reverse
// port) or to NAME:22 / UUID:22 (ResolveDevice) reaches the device of a live
// session that lists the operator's key, if that device's tunnel is up: the
// relay opens a `forwarded-tcpip` channel on the device's connection with
// connected address "127.0.0.1", the session's port, and the operator's TCP
// address and port as originator, and bridges the two. `ssh -J relay dev`,
// `ssh -W`, scp, sftp and `ssh -L` through the jump all work this way.
// Anything else is refused and reported: other channel types (session,
// x11...), other global requests, a forward from an operator.
//
// Keys: compared by key material. Certificates are refused. sk- (FIDO) keys
// are REFUSED, with one warning line per key and connection and a kRefused
// report: libssh 0.10 verifies them without checking user presence (see
// forwarding_server.h), so a touch could not be enforced. (Operators use a
// separate plain session key for the relay hop; the device's sshd checks
// the sk key end to end.)
//
// Revalidation: Revalidate() (thread-safe, async-signal-safe: an eventfd)
// makes the relay re-check, on its own thread, every device connection
// (device still known with the same key), every tunnel (a live session
// with the same reverse port, not expired) and every operator channel (a
// live session of that device and port still lists the key) against the
// backend, and cut what is no longer allowed: operator channels are closed
// and the device's connection is disconnected with SSH_MSG_DISCONNECT
// ("session closed", "session expired", "device removed", "the device's
// registered key changed", "the key was removed from the session", ...).
// Operator connections left without any live session are disconnected
// too. A cut happens within one loop turn of the call (milliseconds), plus
// the backend's lookup time. The relay also sets a timer for the earliest
// `expires_at` of what it serves; then it asks the backend about what is
// due only (a session extended meanwhile stays) and cuts what expired. An
// expired session is never used, whatever the backend says.
//
// Liveness and limits: see ForwardingServer::Options (login grace 30 s,
// keepalive every 15 s with 3 misses allowed, idle timeout, connection and
// channel limits, 256 KiB per direction per channel).
//
// Reporting: every event goes to RelayBackend::Report() and one spdlog line
// (info for up/down/connect/disconnect, warning for refusals):
//  - kTunnelUp (session, device, fingerprint, user, peer); kTunnelDown with
//    the reason and how long it was up;
//  - kOperatorConnect (session, device, operator key fingerprint, user,
//    peer); kOperatorDisconnect with bytes each way, duration, reason;
//  - kRefused: logins (at the end of a connection that never logged in, with
//    the last reason; right away for sk- keys), forwards, channel opens and
//    requests, connections over a limit, channels the device refused.
//
// Threading: Run() serves on the calling thread (the server provides it)
// until Stop(); all backend calls happen there, one at a time. Stop(),
// Revalidate() and stats() may be called from any thread. Create() may run
// as root (to bind a port below 1024); nothing after it needs privileges.
#ifndef PORTHOLE_SERVER_RELAY_RELAY_H_
#define PORTHOLE_SERVER_RELAY_RELAY_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "core/base/clock.h"
#include "core/base/status.h"
#include "core/base/unique_fd.h"
#include "core/ssh/device_key.h"
#include "core/ssh/forwarding_server.h"
#include "server/relay/relay_backend.h"

namespace porthole::server::relay {

struct RelayOptions {
  // Where to listen, unless listen_fd is given: an IPv4 or IPv6 literal
  // ("" = every address) and a port (0 = any free port; see port()).
  std::string listen_address = "0.0.0.0";
  uint16_t port = 2222;
  // An already listening stream socket to use instead (owned).
  UniqueFd listen_fd;
  // The relay's host key (the key sessions pin as ra_server_ssh_pubkey).
  // Borrowed: must outlive the relay.
  const ssh::PrivateKey* host_key = nullptr;

  std::chrono::milliseconds login_grace{30000};
  std::chrono::milliseconds idle_timeout{300000};  // 0: never
  std::chrono::milliseconds keepalive_interval{15000};
  int keepalive_count_max = 3;
  size_t max_connections = 20000;
  size_t max_per_source = 1000;
  size_t max_unauthenticated = 256;
  size_t max_channels_per_connection = 256;
  size_t buffer_per_direction = 256 * 1024;
};

class Relay {
 public:
  // Binds (unless options.listen_fd is set) and checks the options; errors
  // name the bad option or the address. `backend` and `clock` are borrowed
  // and must outlive the relay.
  static Result<std::unique_ptr<Relay>> Create(
      RelayOptions options, RelayBackend* backend,
      const Clock& clock = Clock::Real());
  ~Relay();
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  // The port it listens on.
  uint16_t port() const { return port_; }

  // Serves until Stop(); then every tunnel and channel is cut ("server
  // stopping") and reported, and OK returned. Call once.
  Status Run();
  void Stop();
  void Revalidate();
  ssh::ServerStats stats() const;

 private:
  class Logic;
  Relay() = default;
  std::unique_ptr<Logic> logic_;
  std::unique_ptr<ssh::ForwardingServer> server_;
  uint16_t port_ = 0;
};

// True for a lower-case hyphenated UUID ("0f8fad5b-d9cb-469f-a165-
// 70867728950e"); `*normal` gets it lower-cased (upper case is accepted).
bool NormalizeUuid(std::string_view text, std::string* normal);

}  // namespace porthole::server::relay

#endif  // PORTHOLE_SERVER_RELAY_RELAY_H_
