// An SSH server that only forwards (the engine of porthole-server's relay):
// it accepts connections on a listening socket, does key exchange with one
// host key and public-key authentication through a delegate, takes
// `tcpip-forward` / `cancel-tcpip-forward` global requests and
// `direct-tcpip` channel opens to the delegate, and bridges a direct-tcpip
// channel of one connection to a `forwarded-tcpip` channel it opens on
// another connection the delegate chooses. It never opens a shell, never
// listens on a port per forward and never dials out: every byte it moves
// goes from one SSH channel to another.
//
//   ForwardingServer::Options options{.host_key = &key, .listen_fd = fd};
//   auto server = ForwardingServer::Create(std::move(options), &delegate);
//   std::thread t([&] { Status s = (*server)->Run(); });
//   ...
//   (*server)->Wake();   // any thread: delegate.OnWake() on the loop thread
//   (*server)->Stop();   // any thread: Run() returns
//   t.join();
//
// What is refused without asking the delegate (and reported through
// OnRequestRefused): channel opens of any type but direct-tcpip (session,
// x11, forwarded-tcpip, auth-agent...), every authentication method but
// publickey, certificates as user keys, and channel requests on bridged
// channels. Global requests other than tcpip-forward,
// cancel-tcpip-forward and keepalive@openssh.com (answered with success) are
// refused by libssh itself before this class sees them, so they are neither
// reported nor logged.
//
// Authentication: the delegate sees every offered key twice, once for the
// query without a signature ("would you take it?") and once after libssh has
// verified the signature. Only the second acceptance logs the connection in.
// libssh 0.10 facts the delegate must know (FIELD-NOTES.md 2):
//  - sk- (FIDO) keys are verified WITHOUT checking the user-presence flag, so
//    a signature made without a touch passes; refuse them if presence
//    matters.
//  - A request with a bad signature gets no answer at all (libssh drops
//    it), so such a client waits until login_grace ends the connection.
// At most max_auth_attempts refused attempts (the first "none" probe does
// not count); then the connection is dropped.
//
// Bridges: when the delegate answers a direct-tcpip open with a target, the
// operator's channel is confirmed at once, and a forwarded-tcpip channel is
// opened on the target connection; bytes the operator sends meanwhile wait
// (bounded, below). If the target refuses, the operator's channel is closed
// (its client sees the channel close, not an open failure: libssh 0.10
// answers a channel open only inside the callback that announces it). Each
// direction has a queue of at most buffer_per_direction bytes (<= 256 KiB);
// a full queue stops reading the source channel, whose peer is then held by
// the SSH window. A connection whose socket has not taken
// max_pending_output bytes it was given gets no more channel data until it
// has (so one slow reader cannot grow memory without bound). libssh 0.10
// keeps its own receive window per channel (about 1.28 MB, not settable), so
// a stalled consumer can leave up to about 2 MB more per channel inside
// libssh. EOF and close are passed on in order: a bridge ends when both
// directions have seen EOF, or one side closed and everything it sent has
// been passed on.
//
// Liveness: TCP_NODELAY, SO_KEEPALIVE and TCP_USER_TIMEOUT (keepalive_interval
// x (keepalive_count_max + 1)) on every accepted socket. An authenticated
// connection from which nothing has been received for keepalive_interval
// gets a `keepalive@openssh.com` request with want-reply (any answer counts,
// OpenSSH clients answer failure); after keepalive_count_max unanswered ones
// it is dropped at the next interval ("keepalive timeout"), so a peer that
// vanished goes within keepalive_interval x (keepalive_count_max + 1) plus
// one interval at most.
//
// Timeouts and limits: key exchange plus authentication must finish within
// login_grace; an authenticated connection with neither an accepted forward
// nor an open bridge is dropped after idle_timeout (0: never). At most
// max_connections connections, max_per_source from one source address and
// max_unauthenticated not yet authenticated; a connection over a limit is
// closed right after accept() (OnConnectionRefused). At most
// max_channels_per_connection bridges may use one connection (either side).
//
// Cutting: Disconnect() and CloseBridge() act at the next safe point of the
// loop (never inside a libssh callback): channels get EOF and CLOSE, and a
// connection gets SSH_MSG_DISCONNECT (reason 11, by application) with the
// given text after at most disconnect_flush of waiting for output already
// queued to drain (a peer that does not read loses the message, not the
// cut). The socket is then half-closed and read until the peer closes it
// (at most 1 s), so that bytes the peer sent meanwhile do not make the
// kernel reset the connection before the peer has read the message. Called from OnWake() or OnTimer(), both take effect before the loop
// next waits.
//
// Threading: Run() runs the whole server on the calling thread (epoll;
// one libssh session and ssh_event per connection; no other threads).
// Stop(), Wake() and stats() are thread-safe. Everything else, and every
// delegate call, happens on the Run() thread; the delegate may call
// Disconnect(), CloseBridge(), WakeAt() and connection() from its callbacks
// (they only record what to do). Delegate methods must not block and must
// not throw.
//
// Privileges: none needed. The listening socket is made by the caller (see
// ListenTcp(), which the server calls before dropping root if the port is
// below 1024); the host key is read before Create().
#ifndef PORTHOLE_CORE_SSH_FORWARDING_SERVER_H_
#define PORTHOLE_CORE_SSH_FORWARDING_SERVER_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/base/status.h"
#include "core/base/unique_fd.h"
#include "core/keys/public_key.h"
#include "core/ssh/device_key.h"

namespace porthole::ssh {

using ConnectionId = uint64_t;  // never 0, never reused within a server
using BridgeId = uint64_t;      // never 0, never reused within a server
using SteadyTime = std::chrono::steady_clock::time_point;

// A listening TCP socket on `address` (an IPv4 or IPv6 literal; "" means
// every address, IPv6 and IPv4) and `port` (0: the kernel picks one),
// non-blocking, close-on-exec, SO_REUSEADDR, backlog 1024. Errors name the
// address and port.
Result<UniqueFd> ListenTcp(const std::string& address, uint16_t port);
// The local port of a bound socket (0 on error).
uint16_t LocalPort(int fd);

struct ConnectionInfo {
  ConnectionId id = 0;
  std::string peer_address;  // "192.0.2.7", "2001:db8::1"
  uint16_t peer_port = 0;
  std::string user;  // the SSH user name of the latest auth request ("")
  bool authenticated = false;
  keys::PublicKey key;  // the key that logged in (when authenticated)
  SteadyTime accepted_at;
  // "ADDR:PORT", "[ADDR]:PORT" for IPv6.
  std::string Peer() const;
};

struct DirectTcpipRequest {
  BridgeId bridge = 0;  // the id the bridge gets if the open is accepted
  std::string host;     // as the client sent it (any bytes; not validated)
  uint32_t port = 0;
  std::string originator;  // as the client sent it
  uint32_t originator_port = 0;
};

// Where to take an accepted direct-tcpip channel: a forwarded-tcpip channel
// on connection `connection` with these fields (RFC 4254 7.2).
struct BridgeTarget {
  ConnectionId connection = 0;
  std::string connected_address;
  uint32_t connected_port = 0;
  std::string originator_address;
  uint32_t originator_port = 0;
};

struct BridgeInfo {
  BridgeId id = 0;
  ConnectionId from = 0;  // the connection that opened direct-tcpip
  ConnectionId to = 0;    // the target connection
  DirectTcpipRequest request;
  BridgeTarget target;
  SteadyTime opened_at;  // when the direct-tcpip open arrived
};

struct BridgeEnd {
  bool target_opened = false;      // the forwarded-tcpip channel was confirmed
  uint64_t bytes_to_target = 0;    // from -> to, written to the target
  uint64_t bytes_from_target = 0;  // to -> from
  std::chrono::milliseconds duration{0};  // from opened_at
  // "closed" (both sides done, or a peer hung up), "the target refused
  // the channel", the CloseBridge() reason, "connection #N ended: REASON".
  std::string reason;
};

struct AuthDecision {
  bool accept = false;
  std::string reason;  // why not (for the log and OnConnectionClosed)
};

class ForwardingDelegate {
 public:
  virtual ~ForwardingDelegate() = default;

  // A public key offered by `user` on `c` (never a certificate: those are
  // refused before). `signature_verified` false: the query before signing;
  // true: libssh checked the signature, and acceptance logs in.
  virtual AuthDecision OnPublicKey(const ConnectionInfo& c,
                                   const std::string& user,
                                   const keys::PublicKey& key,
                                   bool signature_verified) = 0;
  // `c` is logged in (c.key, c.user set).
  virtual void OnAuthenticated(const ConnectionInfo& c) = 0;

  // tcpip-forward on an authenticated connection. OK: success is answered
  // (with `port`; port 0 is answered with 0, so refuse it if you cannot
  // pick one). An error: failure is answered.
  virtual Status OnTcpipForward(const ConnectionInfo& c,
                                const std::string& address, uint32_t port) = 0;
  // cancel-tcpip-forward; same answers.
  virtual Status OnCancelTcpipForward(const ConnectionInfo& c,
                                      const std::string& address,
                                      uint32_t port) = 0;

  // direct-tcpip on an authenticated connection. A target: the channel is
  // confirmed and bridged (OnBridgeOpen / OnBridgeClosed follow); the
  // target must be another authenticated connection. An error: the open is
  // refused (OPEN_FAILURE, administratively prohibited).
  virtual Result<BridgeTarget> OnDirectTcpip(const ConnectionInfo& c,
                                             const DirectTcpipRequest& r) = 0;
  // The target confirmed its channel: bytes flow.
  virtual void OnBridgeOpen(const BridgeInfo& b) = 0;
  // Exactly once for every direct-tcpip OnDirectTcpip accepted, also when
  // the server then refuses it itself (the target connection is gone, a
  // channel limit: end.target_opened false, end.reason says why; the
  // operator gets OPEN_FAILURE).
  virtual void OnBridgeClosed(const BridgeInfo& b, const BridgeEnd& end) = 0;

  // Something the server refused by itself on `c` ("session channel",
  // "password authentication", "certificate key ..."). For the audit log.
  virtual void OnRequestRefused(const ConnectionInfo& c,
                                std::string_view what) = 0;
  // A connection closed right after accept() (a limit).
  virtual void OnConnectionRefused(const std::string& peer_address,
                                   uint16_t peer_port,
                                   std::string_view reason) = 0;
  // Exactly once for every accepted connection, after its bridges' ends.
  // `reason`: "closed by the peer", "login grace time exceeded",
  // "keepalive timeout", the Disconnect() reason, ... `last_refusal`: the
  // reason of the last refused authentication attempt ("" if none).
  virtual void OnConnectionClosed(const ConnectionInfo& c,
                                  std::string_view reason,
                                  std::string_view last_refusal) = 0;

  // After Wake() (calls before it runs are coalesced).
  virtual void OnWake() = 0;
  // At the time given to WakeAt().
  virtual void OnTimer() = 0;
};

struct ServerStats {
  uint64_t connections_accepted = 0;
  uint64_t connections_refused = 0;  // over a limit
  uint64_t connections_open = 0;
  uint64_t connections_unauthenticated = 0;
  uint64_t auth_failures = 0;
  uint64_t keepalive_timeouts = 0;
  uint64_t bridges_opened = 0;  // accepted direct-tcpip opens
  uint64_t bridges_open = 0;
  uint64_t bytes_to_targets = 0;
  uint64_t bytes_from_targets = 0;
  // The most bytes any one bridge direction has held in this server's
  // queue (<= buffer_per_direction; libssh's own buffers not counted).
  uint64_t peak_queued = 0;
};

class ForwardingServer {
 public:
  struct Options {
    // Borrowed; must outlive the server. Ed25519, ECDSA or RSA.
    const PrivateKey* host_key = nullptr;
    // A listening, non-blocking stream socket (ListenTcp()); owned.
    UniqueFd listen_fd;

    std::chrono::milliseconds login_grace{30000};
    std::chrono::milliseconds idle_timeout{300000};  // 0: never
    std::chrono::milliseconds keepalive_interval{15000};
    int keepalive_count_max = 3;
    int max_auth_attempts = 6;
    size_t max_connections = 20000;
    size_t max_per_source = 1000;
    size_t max_unauthenticated = 256;
    size_t max_channels_per_connection = 256;
    size_t buffer_per_direction = 256 * 1024;  // 1..256 KiB
    size_t max_pending_output = 256 * 1024;
    std::chrono::milliseconds disconnect_flush{250};
  };

  // Checks the options (kInvalidArgument naming the bad one) and sets up
  // the loop's descriptors and libssh's bind object.
  static Result<std::unique_ptr<ForwardingServer>> Create(
      Options options, ForwardingDelegate* delegate);
  ~ForwardingServer();
  ForwardingServer(const ForwardingServer&) = delete;
  ForwardingServer& operator=(const ForwardingServer&) = delete;

  // Serves until Stop(). Then every bridge is closed and every connection
  // disconnected ("server stopping"), with their delegate calls, and OK is
  // returned. An error only if the loop itself fails (epoll). Call once.
  Status Run();
  // Thread-safe, async-signal-safe (writes an eventfd); idempotent.
  void Stop();
  // Thread-safe, async-signal-safe: OnWake() runs soon on the loop thread;
  // calls before it runs are coalesced.
  void Wake();
  // Thread-safe snapshot.
  ServerStats stats() const;

  // Loop thread only. Unknown or already closing ids are ignored.
  void Disconnect(ConnectionId id, std::string_view reason);
  void CloseBridge(BridgeId id, std::string_view reason);
  // OnTimer() at `when` (one timer: a new call replaces the pending time;
  // a past time means at once). std::nullopt cancels.
  void WakeAt(std::optional<SteadyTime> when);
  // The connection's current info, or nullptr.
  const ConnectionInfo* connection(ConnectionId id) const;

 private:
  class Impl;
  explicit ForwardingServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace porthole::ssh

#endif  // PORTHOLE_CORE_SSH_FORWARDING_SERVER_H_
