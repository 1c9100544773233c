// The device side of a remote-access session (PROTOCOL.md 4.2, 4.4): an SSH
// client that dials out to the relay, proves it is the device, asks the relay
// to listen on 127.0.0.1:<reverse_port> (`tcpip-forward`), and serves every
// `forwarded-tcpip` channel the relay opens for that listener by splicing it
// to a local file descriptor the caller supplies.
//
//   ReverseTunnel tunnel(config);
//   if (Error e = tunnel.Connect(); !e.ok()) ...          // named failure
//   RunEnd end = tunnel.Run({.stop_fd = efd, .tick_interval = 3s,
//                            .on_tick = [&] { return Revalidate(); }});
//   tunnel.Disconnect("disconnect, session not valid");
//
// Security properties:
//  - The relay's host key is pinned by key material (the comment of the
//    pinned line is ignored); only host-key algorithms of the pinned key's
//    type are offered, and on a mismatch the connection is dropped before any
//    authentication is attempted.
//  - No ssh_config or known_hosts file is read (SSH_OPTIONS_PROCESS_CONFIG
//    off, known-hosts paths /dev/null); only the given device key is offered.
//  - A forwarded channel is served only if its connected address/port is
//    exactly "127.0.0.1":bound_port(); any other channel-open (other
//    destinations, session, x11, agent, direct-tcpip) is refused with
//    OPEN_FAILURE and logged. At most `max_channels` are open at once.
//
// Resources: each forwarded connection buffers at most buffer_per_direction
// bytes (<= 256 KiB) in each direction in this class; while a buffer is full
// the side feeding it is not read (back-pressure reaches the operator through
// the SSH window and the local peer through its socket). libssh 0.10 keeps its
// own receive window per channel (fixed at 1,280,000 bytes, not settable), so
// a stalled local consumer can additionally leave up to about that much in
// libssh's channel buffer.
//
// Liveness: TCP keepalive and TCP_USER_TIMEOUT (below) are set on
// the relay socket, an SSH keepalive request (keepalive@openssh.com, which
// the relay answers) is sent every keepalive_interval, and Run() ends with
// kLinkDead when nothing has been received from the relay for link_timeout
// and TCP has received no data segment in that time either (a dead link, or
// a relay whose kernel still acknowledges but which sends nothing). When
// TCP still receives data (a lossy link: everything waits behind one lost
// segment), the silence is tolerated up to 3 link timeouts, which is also
// TCP_USER_TIMEOUT.
//
// Threading: not thread-safe. Every method, the handler and the tick callback
// run on the thread that calls them (the agent's session thread); one call at
// a time. The object may be handed between threads between calls.
#ifndef PORTHOLE_CORE_SSH_REVERSE_TUNNEL_H_
#define PORTHOLE_CORE_SSH_REVERSE_TUNNEL_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/base/status.h"
#include "core/base/unique_fd.h"
#include "core/ssh/device_key.h"
#include "core/ssh/error.h"

namespace porthole::ssh {

inline constexpr size_t kMaxBufferPerDirection = 256 * 1024;

// Where a forwarded connection comes from, as the relay reports it.
struct ForwardedConnection {
  std::string originator;  // the operator's address as seen by the relay
  uint16_t originator_port = 0;
};

// The local end of one forwarded connection. Once returned by the handler,
// the tunnel owns the descriptors, makes them non-blocking and closes them
// when the connection ends.
class LocalStream {
 public:
  // One descriptor used both ways: a connected socket, a socketpair end.
  // EOF from the relay becomes shutdown(SHUT_WR) on a socket; a non-socket
  // duplex descriptor (a pty master) cannot be half-closed and stays open
  // until both directions are done.
  static LocalStream Duplex(UniqueFd fd);
  // Two one-way descriptors, e.g. pipes to a child's stdout and stdin.
  // EOF from the relay closes `write_to`.
  static LocalStream Pipes(UniqueFd read_from, UniqueFd write_to);

  int read_fd() const { return read_.get(); }
  int write_fd() const { return write_.valid() ? write_.get() : read_.get(); }
  bool duplex() const { return !write_.valid(); }

  // Runs once when the connection has ended and its descriptors are
  // closed (also when the tunnel refuses the stream after the handler
  // returned it, and when the tunnel is destroyed). On the Run() thread;
  // it must not block for long or call back into the ReverseTunnel.
  LocalStream&& OnClose(std::function<void()> done) && {
    on_close_ = std::move(done);
    return std::move(*this);
  }

  UniqueFd TakeRead() { return std::move(read_); }
  UniqueFd TakeWrite() { return std::move(write_); }
  std::function<void()> TakeOnClose() { return std::move(on_close_); }

 private:
  UniqueFd read_, write_;  // write_ invalid: read_ is duplex
  std::function<void()> on_close_;
};

// Decides what serves one forwarded connection. Called on the Run() thread
// from inside the event loop, before the channel is accepted: returning an
// error refuses the channel (the operator's connection is closed). It must
// not block for long (the whole tunnel waits), must not throw, and must not
// call back into the ReverseTunnel.
using ChannelHandler =
    std::function<Result<LocalStream>(const ForwardedConnection&)>;

struct TunnelConfig {
  // Relay host name, IPv4 literal or IPv6 literal (with or without [ ]).
  std::string host;
  uint16_t port = 22;
  std::string user;  // the device UUID, sent as is
  // Borrowed: must outlive the ReverseTunnel.
  const PrivateKey* device_key = nullptr;
  // The pinned relay host key, an OpenSSH public key line ("TYPE BASE64
  // [comment]"); a plain ed25519, ecdsa or rsa key, not a certificate.
  std::string relay_host_key;
  // The port the relay is asked to listen on (127.0.0.1 only). 0 lets the
  // relay choose; bound_port() then tells which.
  uint16_t reverse_port = 0;
  ChannelHandler handler;

  // Bounds TCP connect, key exchange, authentication and the forward
  // request, each.
  std::chrono::milliseconds connect_timeout{15000};
  std::chrono::milliseconds keepalive_interval{2000};
  std::chrono::milliseconds link_timeout{8000};
  size_t buffer_per_direction = kMaxBufferPerDirection;  // 1..256 KiB
  size_t max_channels = 64;
};

// Why Run() returned.
enum class EndReason {
  kRelayClosed,  // the relay closed the connection or sent DISCONNECT
  kLinkDead,     // nothing received for link_timeout, or TCP timed out
  kStopped,      // the owner asked: stop_fd readable or on_tick said so
  kError,        // any other failure (protocol error, libssh error)
};
// "relay-closed", "link-dead", "stopped", "error".
std::string_view EndReasonName(EndReason reason);

struct RunEnd {
  EndReason reason;
  std::string detail;  // one line for the log
};

enum class TickAction { kContinue, kStop };

struct RunOptions {
  // When readable, Run() returns kStopped. Not read or owned by the tunnel
  // (an eventfd the owner writes to, a pipe's read end). -1: none.
  int stop_fd = -1;
  // on_tick runs every tick_interval (first after one interval), on the Run
  // thread; returning kStop ends Run() with kStopped. Unset: no ticks.
  std::chrono::milliseconds tick_interval{0};
  std::function<TickAction()> on_tick;
};

// Counters for logs and tests; buffer figures are this class's buffers only.
struct TunnelStats {
  size_t open_channels = 0;
  uint64_t channels_accepted = 0;
  uint64_t channels_refused = 0;
  uint64_t bytes_to_local = 0;   // written to local descriptors
  uint64_t bytes_to_relay = 0;   // handed to libssh for the relay
  size_t buffered_to_local = 0;  // now, summed over open channels
  size_t buffered_to_relay = 0;
  // The fullest any single channel's buffer has ever been, per direction.
  size_t peak_buffered_to_local = 0;
  size_t peak_buffered_to_relay = 0;
};

class ReverseTunnel {
 public:
  explicit ReverseTunnel(TunnelConfig config);
  ReverseTunnel(const ReverseTunnel&) = delete;
  ReverseTunnel& operator=(const ReverseTunnel&) = delete;
  // Closes every forwarded connection and drops the relay connection
  // (without a DISCONNECT message; call Disconnect() for one).
  ~ReverseTunnel();

  // Connects, pins the host key, authenticates and requests the forward;
  // blocking, each step bounded by connect_timeout. Call once. On failure
  // the connection is already dropped; the Error names the relay and what
  // failed (kHostKeyMismatch, kAuthDenied, kForwardRefused, kConnectFailed,
  // kTimedOut, kConnectionLost, kBadConfig).
  Error Connect();

  // The relay-side port being forwarded (after a successful Connect()).
  uint16_t bound_port() const;

  // Serves forwarded channels until the relay goes away, the link dies or
  // the owner stops it. Event-driven (poll); no busy waiting. Call once,
  // after a successful Connect(). Every forwarded connection is closed when
  // it returns; the relay connection stays up (if it still is) for
  // Disconnect().
  RunEnd Run(const RunOptions& options);

  // Sends SSH_MSG_DISCONNECT (reason 11, by application) with `reason` as
  // the description, if still connected, and drops the connection.
  // Idempotent.
  void Disconnect(std::string_view reason);

  // Valid on the Run() thread (e.g. inside on_tick) or between calls.
  TunnelStats stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace porthole::ssh

#endif  // PORTHOLE_CORE_SSH_REVERSE_TUNNEL_H_
