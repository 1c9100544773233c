#include "core/ssh/reverse_tunnel.h"

#include <fcntl.h>
#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <optional>
#include <system_error>
#include <utility>
#include <vector>

#include "core/base/fd_io.h"
#include "core/base/tcp_info.h"
#include "core/crypto/digest.h"
#include "core/keys/public_key.h"
#include "core/ssh/byte_queue.h"
#include "core/ssh/libssh_util.h"

namespace porthole::ssh {

LocalStream LocalStream::Duplex(UniqueFd fd) {
  LocalStream s;
  s.read_ = std::move(fd);
  return s;
}

LocalStream LocalStream::Pipes(UniqueFd read_from, UniqueFd write_to) {
  LocalStream s;
  s.read_ = std::move(read_from);
  s.write_ = std::move(write_to);
  return s;
}

std::string_view EndReasonName(EndReason reason) {
  switch (reason) {
    case EndReason::kRelayClosed:
      return "relay-closed";
    case EndReason::kLinkDead:
      return "link-dead";
    case EndReason::kStopped:
      return "stopped";
    case EndReason::kError:
      return "error";
  }
  return "unknown";
}

namespace {

using libssh::ErrnoText;
using libssh::kChunk;
using libssh::kPumpRounds;

using Steady = std::chrono::steady_clock;

// A relay silent at the SSH level while TCP still receives (a stall behind
// a lost segment) is given up to this many link timeouts.
constexpr int kMaxStallFactor = 3;

// libssh parses SSH_OPTIONS_HOST as [user@]host[:port]; an IPv6 literal
// must be bracketed or its colons read as a port separator.
std::string HostForLibssh(const std::string& host) {
  if (host.find(':') != std::string::npos && host.front() != '[') {
    return "[" + host + "]";
  }
  return host;
}

std::string RelayName(const std::string& host, uint16_t port) {
  std::string h = host;
  if (h.find(':') != std::string::npos && h.front() != '[') h = "[" + h + "]";
  return h + ":" + std::to_string(port);
}

// Host-key algorithms that make the relay present the pinned key's type.
Result<std::string> HostKeyAlgorithms(const keys::PublicKey& key) {
  switch (key.type) {
    case keys::KeyType::kEd25519:
      return std::string("ssh-ed25519");
    case keys::KeyType::kEcdsaP256:
      return std::string("ecdsa-sha2-nistp256");
    case keys::KeyType::kEcdsaP384:
      return std::string("ecdsa-sha2-nistp384");
    case keys::KeyType::kEcdsaP521:
      return std::string("ecdsa-sha2-nistp521");
    case keys::KeyType::kRsa:
      return std::string("rsa-sha2-512,rsa-sha2-256");
    default:
      return Status::InvalidArgument("unsupported relay host key type " +
                                     key.TypeName());
  }
}

bool IsSocket(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

// One forwarded connection: an SSH channel spliced to local descriptors.
struct Link {
  explicit Link(size_t buffer) : to_local(buffer), to_relay(buffer) {}
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;
  ~Link() {
    in_fd.reset();
    out_fd.reset();
    if (on_close) on_close();
  }

  int read_fd() const { return in_fd.get(); }
  int write_fd() const { return duplex ? in_fd.get() : out_fd.get(); }

  uint64_t id = 0;
  std::string origin;  // "addr:port" of the operator, for logs
  ssh_channel channel = nullptr;
  struct ssh_channel_callbacks_struct callbacks = {};

  UniqueFd in_fd;   // local -> relay (and relay -> local when duplex)
  UniqueFd out_fd;  // relay -> local, unless duplex
  bool duplex = false;
  bool in_is_socket = false, out_is_socket = false;
  short in_registered = 0, out_registered = 0;  // poll events in the loop

  ByteQueue to_local, to_relay;

  // Set by libssh callbacks (possibly from nested packet processing).
  bool rx_pending = false;  // libssh holds channel data not yet read
  bool remote_eof = false;
  bool remote_closed = false;
  // Set by the descriptor callbacks.
  bool in_ready = false;
  bool out_ready = true;  // optimistic until a write says EAGAIN

  std::function<void()> on_close;  // the handler's LocalStream::OnClose

  bool local_eof = false;         // the local side sent EOF
  bool eof_sent = false;          // channel EOF sent to the relay
  bool local_write_shut = false;  // relay EOF passed on to the local side
  bool failed = false;
  std::string end_reason;

  bool Finished() const {
    return failed || (local_write_shut && (eof_sent || remote_closed));
  }
};

int OnChannelData(ssh_session, ssh_channel, void*, uint32_t len, int is_stderr,
                  void* userdata) {
  auto* link = static_cast<Link*>(userdata);
  // forwarded-tcpip carries no extended data; drop any.
  if (is_stderr) return static_cast<int>(len);
  // Leave the bytes in libssh's buffer: the loop reads them when there is
  // room, which keeps this callback safe to run from nested packet
  // processing and keeps the back-pressure in one place.
  link->rx_pending = true;
  return 0;
}

void OnChannelEof(ssh_session, ssh_channel, void* userdata) {
  static_cast<Link*>(userdata)->remote_eof = true;
}

void OnChannelClose(ssh_session, ssh_channel, void* userdata) {
  auto* link = static_cast<Link*>(userdata);
  link->remote_closed = true;
  link->remote_eof = true;
}

int OnLocalFd(socket_t fd, int revents, void* userdata) {
  auto* link = static_cast<Link*>(userdata);
  if (fd == link->read_fd() && (revents & (POLLIN | POLLHUP | POLLERR))) {
    link->in_ready = true;
  }
  if (fd == link->write_fd() && (revents & (POLLOUT | POLLHUP | POLLERR))) {
    link->out_ready = true;
  }
  return 0;
}

}  // namespace

class ReverseTunnel::Impl {
 public:
  explicit Impl(TunnelConfig config)
      : cfg_(std::move(config)), relay_(RelayName(cfg_.host, cfg_.port)) {}
  ~Impl() {
    CloseAllLinks("tunnel destroyed");
    event_.reset();
    session_.reset();
  }

  Error Connect();
  RunEnd Run(const RunOptions& options);
  void Disconnect(std::string_view reason);
  TunnelStats Stats() const;
  uint16_t bound_port() const { return bound_port_; }

 private:
  enum class State { kNew, kConnected, kRunning, kDone };

  Error Fail(ErrorCode code, std::string what) {
    if (session_ != nullptr) {
      // What the relay's log shows: "Received disconnect ...: 11: <name>".
      ssh_session_set_disconnect_message(
          session_.get(), std::string(ErrorCodeName(code)).c_str());
    }
    DropSession();
    return Error(code, "relay " + relay_ + ": " + what);
  }
  void DropSession();
  std::string LibsshError() const {
    return session_ != nullptr ? ssh_get_error(session_.get()) : "no session";
  }
  bool SessionDown() const {
    return !ssh_is_connected(session_.get()) ||
           (ssh_get_status(session_.get()) & (SSH_CLOSED | SSH_CLOSED_ERROR));
  }
  Error ConfigError() const;
  Error SetOptions(const std::string& host_key_algorithms);
  Error SetSocketOptions();
  Error CheckHostKey();
  Error Authenticate();
  Error RequestForward();

  static int OnMessage(ssh_session, ssh_message msg, void* userdata);
  static int OnStopFd(socket_t, int, void* userdata);
  bool AcceptForwarded(ssh_message msg);

  void SendKeepalive();
  RunEnd SessionEnd() const;

  void AdoptPending();
  bool PumpAll();  // true: some connection has more work right now
  bool Pump(Link& l);
  bool ReadFromChannel(Link& l);
  bool WriteToLocal(Link& l);
  void ShutLocalWrite(Link& l);
  bool ReadFromLocal(Link& l);
  bool WriteToChannel(Link& l);
  void SendEof(Link& l);
  void FailLink(Link& l, std::string reason) {
    l.failed = true;
    if (l.end_reason.empty()) l.end_reason = std::move(reason);
  }
  void UpdateInterest(Link& l);
  void SetInterest(Link& l, int fd, short* registered, short want);
  void CloseLink(Link& l);
  void CloseAllLinks(std::string_view reason);

  TunnelConfig cfg_;
  std::string relay_;
  keys::PublicKey pinned_;
  libssh::SessionPtr session_;
  libssh::EventPtr event_;
  struct ssh_counter_struct rx_counter_ = {};
  State state_ = State::kNew;
  uint16_t bound_port_ = 0;
  bool stop_requested_ = false;

  std::vector<std::unique_ptr<Link>> links_;
  // Accepted inside libssh callbacks; moved to links_ by the loop.
  std::vector<std::unique_ptr<Link>> pending_;
  uint64_t next_link_id_ = 1;
  TunnelStats totals_;  // counters and peaks; current figures in Stats()
};

Error ReverseTunnel::Impl::ConfigError() const {
  auto bad = [&](std::string what) {
    return Error(ErrorCode::kBadConfig, "relay " + relay_ + ": " + what);
  };
  if (cfg_.host.empty()) return bad("no relay host");
  if (cfg_.port == 0) return bad("relay port 0");
  if (cfg_.user.empty()) return bad("no user name");
  if (cfg_.device_key == nullptr) return bad("no device key");
  if (!cfg_.handler) return bad("no channel handler");
  if (cfg_.buffer_per_direction == 0 ||
      cfg_.buffer_per_direction > kMaxBufferPerDirection) {
    return bad("buffer_per_direction must be 1.." +
               std::to_string(kMaxBufferPerDirection));
  }
  if (cfg_.max_channels == 0) return bad("max_channels is 0");
  if (cfg_.connect_timeout.count() <= 0 ||
      cfg_.keepalive_interval.count() <= 0 ||
      cfg_.link_timeout < cfg_.keepalive_interval) {
    return bad("timeouts must be positive, link_timeout >= keepalive");
  }
  return Error();
}

Error ReverseTunnel::Impl::SetOptions(const std::string& host_key_algorithms) {
  ssh_session s = session_.get();
  std::string host = HostForLibssh(cfg_.host);
  int port = cfg_.port;
  bool process_config = false;
  int nodelay = 1;
  long timeout_s = static_cast<long>(cfg_.connect_timeout.count() / 1000);
  long timeout_us =
      static_cast<long>((cfg_.connect_timeout.count() % 1000) * 1000);
  // SSH_OPTIONS_TIMEOUT 0 means "no timeout" to libssh.
  if (timeout_s == 0 && timeout_us == 0) timeout_us = 1;
  if (ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &process_config) < 0 ||
      ssh_options_set(s, SSH_OPTIONS_HOST, host.c_str()) < 0 ||
      ssh_options_set(s, SSH_OPTIONS_PORT, &port) < 0 ||
      ssh_options_set(s, SSH_OPTIONS_USER, cfg_.user.c_str()) < 0 ||
      ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &timeout_s) < 0 ||
      ssh_options_set(s, SSH_OPTIONS_TIMEOUT_USEC, &timeout_us) < 0 ||
      ssh_options_set(s, SSH_OPTIONS_NODELAY, &nodelay) < 0 ||
      ssh_options_set(s, SSH_OPTIONS_HOSTKEYS, host_key_algorithms.c_str()) <
          0 ||
      ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, "/dev/null") < 0 ||
      ssh_options_set(s, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null") < 0) {
    return Fail(ErrorCode::kBadConfig,
                "libssh rejected a setting: " + LibsshError());
  }
  return Error();
}

Error ReverseTunnel::Impl::SetSocketOptions() {
  int fd = ssh_get_fd(session_.get());
  if (fd < 0) return Fail(ErrorCode::kInternal, "libssh has no socket");
  // libssh creates its socket without CLOEXEC; the agent spawns processes
  // (sshd, commands) that must not inherit the relay connection.
  int fd_flags = fcntl(fd, F_GETFD);
  int one = 1;
  int interval_s = static_cast<int>(
      std::max<int64_t>(1, cfg_.keepalive_interval.count() / 1000));
  int probes = static_cast<int>(std::max<int64_t>(
      1, cfg_.link_timeout.count() / cfg_.keepalive_interval.count()));
  // The kernel's limit matches the longest silence Run() tolerates while
  // TCP is still receiving (kMaxStallFactor, below).
  unsigned int user_timeout_ms = static_cast<unsigned int>(
      cfg_.link_timeout.count() * kMaxStallFactor);
  if (fd_flags < 0 || fcntl(fd, F_SETFD, fd_flags | FD_CLOEXEC) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one) != 0 ||
      setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &interval_s,
                 sizeof interval_s) != 0 ||
      setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval_s,
                 sizeof interval_s) != 0 ||
      setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof probes) != 0 ||
      setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms,
                 sizeof user_timeout_ms) != 0) {
    return Fail(
        ErrorCode::kInternal,
        "setting keepalive options on the relay socket: " + ErrnoText(errno));
  }
  return Error();
}

Error ReverseTunnel::Impl::CheckHostKey() {
  ssh_key raw = nullptr;
  if (ssh_get_server_publickey(session_.get(), &raw) != SSH_OK ||
      raw == nullptr) {
    return Fail(ErrorCode::kConnectionLost,
                "no host key received: " + LibsshError());
  }
  libssh::KeyPtr key(raw);
  char* b64_raw = nullptr;
  if (ssh_pki_export_pubkey_base64(raw, &b64_raw) != SSH_OK ||
      b64_raw == nullptr) {
    return Fail(ErrorCode::kInternal, "cannot export the relay host key");
  }
  libssh::Chars b64(b64_raw);
  Result<std::string> blob = crypto::Base64Decode(b64.get());
  Result<keys::PublicKey> offered =
      blob.ok() ? keys::ParsePublicKeyBlob(*blob)
                : Result<keys::PublicKey>(blob.status());
  if (!offered.ok()) {
    return Fail(ErrorCode::kHostKeyMismatch,
                "host key mismatch: the relay's key does not parse (" +
                    offered.status().message() + "); pinned " +
                    pinned_.ShortTypeName() + " " + pinned_.Fingerprint());
  }
  if (!(*offered == pinned_)) {
    return Fail(ErrorCode::kHostKeyMismatch,
                "host key mismatch: relay offered " + offered->ShortTypeName() +
                    " " + offered->Fingerprint() + ", pinned " +
                    pinned_.ShortTypeName() + " " + pinned_.Fingerprint());
  }
  return Error();
}

Error ReverseTunnel::Impl::Authenticate() {
  int rc = ssh_userauth_publickey(session_.get(), nullptr,
                                  cfg_.device_key->libssh_key());
  const keys::PublicKey& pub = cfg_.device_key->public_key();
  switch (rc) {
    case SSH_AUTH_SUCCESS:
      return Error();
    case SSH_AUTH_DENIED:
    case SSH_AUTH_PARTIAL:
      return Fail(
          ErrorCode::kAuthDenied,
          "the device key " + pub.ShortTypeName() + " " + pub.Fingerprint() +
              " was refused for user '" + cfg_.user + "'" +
              (rc == SSH_AUTH_PARTIAL ? " (more methods required)" : ""));
    case SSH_AUTH_AGAIN:
      return Fail(ErrorCode::kTimedOut, "no answer to authentication");
    default:
      return Fail(ErrorCode::kConnectionLost,
                  "authentication failed: " + LibsshError());
  }
}

Error ReverseTunnel::Impl::RequestForward() {
  int bound = 0;
  int rc = ssh_channel_listen_forward(session_.get(), "127.0.0.1",
                                      cfg_.reverse_port, &bound);
  std::string where = "127.0.0.1:" + std::to_string(cfg_.reverse_port);
  if (rc == SSH_AGAIN) {
    return Fail(ErrorCode::kTimedOut, "no answer to tcpip-forward " + where);
  }
  if (rc != SSH_OK) {
    if (ssh_get_error_code(session_.get()) == SSH_REQUEST_DENIED &&
        !SessionDown()) {
      return Fail(ErrorCode::kForwardRefused,
                  "tcpip-forward " + where + " refused");
    }
    return Fail(ErrorCode::kConnectionLost,
                "tcpip-forward " + where + ": " + LibsshError());
  }
  if (cfg_.reverse_port != 0) {
    bound_port_ = cfg_.reverse_port;
    if (bound != 0 && bound != cfg_.reverse_port) {
      spdlog::warn("relay {}: asked to listen on port {}, relay reports {}",
                   relay_, cfg_.reverse_port, bound);
    }
  } else if (bound > 0 && bound <= 65535) {
    bound_port_ = static_cast<uint16_t>(bound);
  } else {
    return Fail(ErrorCode::kForwardRefused,
                "tcpip-forward for a relay-chosen port: no port reported");
  }
  return Error();
}

Error ReverseTunnel::Impl::Connect() {
  if (state_ != State::kNew) {
    return Error(ErrorCode::kBadConfig, "Connect() called twice");
  }
  if (Error e = ConfigError(); !e.ok()) {
    state_ = State::kDone;
    return e;
  }
  std::string comment;
  Result<keys::PublicKey> pinned =
      keys::ParsePublicKeyLine(cfg_.relay_host_key, &comment);
  if (!pinned.ok() || pinned->certificate) {
    state_ = State::kDone;
    return Error(ErrorCode::kBadConfig,
                 "relay " + relay_ + ": pinned host key: " +
                     (pinned.ok() ? "a certificate, not a plain key"
                                  : pinned.status().message()));
  }
  pinned_ = std::move(*pinned);
  Result<std::string> algorithms = HostKeyAlgorithms(pinned_);
  if (!algorithms.ok()) {
    state_ = State::kDone;
    return Error(ErrorCode::kBadConfig,
                 "relay " + relay_ + ": " + algorithms.status().message());
  }

  session_.reset(ssh_new());
  if (session_ == nullptr) {
    state_ = State::kDone;
    return Error(ErrorCode::kInternal, "ssh_new failed");
  }
  if (Error e = SetOptions(*algorithms); !e.ok()) return e;
  ssh_set_message_callback(session_.get(), &Impl::OnMessage, this);
  ssh_set_blocking(session_.get(), 1);

  Steady::time_point start = Steady::now();
  if (ssh_connect(session_.get()) != SSH_OK) {
    std::string err = LibsshError();
    // Only the pinned key's algorithms are offered, so a relay without a
    // key of that type fails key exchange (libssh 0.10 kex.c wording).
    if (err.find("no match for method server host key algo") !=
        std::string::npos) {
      return Fail(ErrorCode::kHostKeyMismatch,
                  "host key mismatch: the relay has no host key of the "
                  "pinned type " +
                      pinned_.ShortTypeName() + " (" + err + ")");
    }
    bool timed_out = Steady::now() - start >= cfg_.connect_timeout;
    return Fail(timed_out ? ErrorCode::kTimedOut : ErrorCode::kConnectFailed,
                err);
  }
  if (Error e = SetSocketOptions(); !e.ok()) return e;
  if (Error e = CheckHostKey(); !e.ok()) return e;
  if (Error e = Authenticate(); !e.ok()) return e;
  if (Error e = RequestForward(); !e.ok()) return e;
  ssh_set_counters(session_.get(), &rx_counter_, nullptr);
  state_ = State::kConnected;
  spdlog::info("relay {}: connected as '{}', relay listens on 127.0.0.1:{}",
               relay_, cfg_.user, bound_port_);
  return Error();
}

int ReverseTunnel::Impl::OnMessage(ssh_session, ssh_message msg,
                                   void* userdata) {
  auto* self = static_cast<Impl*>(userdata);
  // Returning 1 makes libssh send the default reply: OPEN_FAILURE for a
  // channel, REQUEST_FAILURE for a global request that wants one.
  if (ssh_message_type(msg) != SSH_REQUEST_CHANNEL_OPEN) return 1;
  if (ssh_message_subtype(msg) != SSH_CHANNEL_FORWARDED_TCPIP) {
    spdlog::warn("relay {}: refusing a channel-open of type {}", self->relay_,
                 ssh_message_subtype(msg));
    ++self->totals_.channels_refused;
    return 1;
  }
  return self->AcceptForwarded(msg) ? 0 : 1;
}

bool ReverseTunnel::Impl::AcceptForwarded(ssh_message msg) {
  const char* dest = ssh_message_channel_request_open_destination(msg);
  int dest_port = ssh_message_channel_request_open_destination_port(msg);
  const char* orig = ssh_message_channel_request_open_originator(msg);
  int orig_port = ssh_message_channel_request_open_originator_port(msg);
  ForwardedConnection from;
  from.originator = orig != nullptr ? orig : "";
  from.originator_port = static_cast<uint16_t>(orig_port);
  std::string origin = from.originator + ":" + std::to_string(orig_port);
  auto refuse = [&](std::string_view why) {
    spdlog::warn("relay {}: refusing forwarded connection from {}: {}", relay_,
                 origin, why);
    ++totals_.channels_refused;
    return false;
  };

  std::string dest_str = dest != nullptr ? dest : "";
  if (dest_str != "127.0.0.1" || dest_port != bound_port_) {
    return refuse("it is for " + dest_str + ":" + std::to_string(dest_port) +
                  ", we forward 127.0.0.1:" + std::to_string(bound_port_));
  }
  if (state_ != State::kConnected && state_ != State::kRunning) {
    return refuse("the tunnel is shutting down");
  }
  if (links_.size() + pending_.size() >= cfg_.max_channels) {
    return refuse("already " + std::to_string(cfg_.max_channels) +
                  " connections open");
  }
  Result<LocalStream> local = Status::Internal("handler threw");
  // The handler runs inside a C callback; an exception must not unwind
  // through libssh's frames.
  try {
    local = cfg_.handler(from);
  } catch (...) {
    return refuse("the handler threw");
  }
  if (!local.ok()) return refuse(local.status().message());
  // From here the link owns the stream: a refusal below still closes the
  // descriptors and runs the stream's OnClose.
  auto link = std::make_unique<Link>(cfg_.buffer_per_direction);
  link->on_close = local->TakeOnClose();
  if (local->read_fd() < 0) return refuse("the handler gave no descriptor");
  link->duplex = local->duplex();
  link->in_fd = local->TakeRead();
  link->out_fd = local->TakeWrite();
  if (!SetNonBlocking(link->read_fd()) || !SetNonBlocking(link->write_fd())) {
    return refuse("cannot make the local descriptor non-blocking: " +
                  ErrnoText(errno));
  }
  link->in_is_socket = IsSocket(link->read_fd());
  link->out_is_socket = IsSocket(link->write_fd());

  ssh_channel channel = ssh_message_channel_request_open_reply_accept(msg);
  if (channel == nullptr) {
    return refuse("libssh could not accept: " + LibsshError());
  }
  link->id = next_link_id_++;
  link->origin = std::move(origin);
  link->channel = channel;
  ssh_callbacks_init(&link->callbacks);
  link->callbacks.userdata = link.get();
  link->callbacks.channel_data_function = &OnChannelData;
  link->callbacks.channel_eof_function = &OnChannelEof;
  link->callbacks.channel_close_function = &OnChannelClose;
  ssh_set_channel_callbacks(channel, &link->callbacks);
  ++totals_.channels_accepted;
  spdlog::info("relay {}: forwarded connection #{} from {}", relay_, link->id,
               link->origin);
  pending_.push_back(std::move(link));
  return true;
}

int ReverseTunnel::Impl::OnStopFd(socket_t, int, void* userdata) {
  static_cast<Impl*>(userdata)->stop_requested_ = true;
  return 0;
}

void ReverseTunnel::Impl::SendKeepalive() {
  // libssh 0.10's ssh_send_keepalive() sends keepalive@openssh.com with
  // want-reply and returns at once in non-blocking mode, leaving the request
  // pending; the next call only collects that reply and sends nothing. Two
  // calls therefore collect the previous reply (if any) and send a new one,
  // with never more than one outstanding. Replies count as received bytes,
  // which is what the link watchdog looks at.
  ssh_send_keepalive(session_.get());
  ssh_send_keepalive(session_.get());
}

RunEnd ReverseTunnel::Impl::SessionEnd() const {
  std::string err = LibsshError();
  auto socket_error = [](int e) { return "Socket error: " + ErrnoText(e); };
  // libssh reports how the connection ended only as text; these are the
  // strings of 0.10 (packet_cb.c, session.c).
  if (err.rfind("Received SSH_MSG_DISCONNECT", 0) == 0) {
    return {EndReason::kRelayClosed, "relay " + relay_ + ": " + err};
  }
  if (err == "Socket error: disconnected" || err == socket_error(ECONNRESET) ||
      err == socket_error(EPIPE)) {
    return {EndReason::kRelayClosed,
            "relay " + relay_ + " closed the connection"};
  }
  if (err == socket_error(ETIMEDOUT) || err == socket_error(EHOSTUNREACH) ||
      err == socket_error(ENETUNREACH)) {
    return {EndReason::kLinkDead, "relay " + relay_ + ": " + err};
  }
  return {EndReason::kError, "relay " + relay_ + ": " + err};
}

RunEnd ReverseTunnel::Impl::Run(const RunOptions& options) {
  if (state_ != State::kConnected) {
    return {EndReason::kError, "Run() without a successful Connect()"};
  }
  state_ = State::kRunning;
  ssh_set_blocking(session_.get(), 0);
  event_.reset(ssh_event_new());
  if (event_ == nullptr ||
      ssh_event_add_session(event_.get(), session_.get()) != SSH_OK ||
      (options.stop_fd >= 0 &&
       ssh_event_add_fd(event_.get(), options.stop_fd, POLLIN, &Impl::OnStopFd,
                        this) != SSH_OK)) {
    CloseAllLinks("tunnel failed");
    event_.reset();
    state_ = State::kDone;
    return {EndReason::kError, "cannot set up the event loop"};
  }

  const bool ticking = options.on_tick && options.tick_interval.count() > 0;
  Steady::time_point now = Steady::now();
  Steady::time_point last_rx = now;
  uint64_t last_rx_bytes = rx_counter_.in_bytes;
  // While SSH is silent: when TCP last received a data segment, sampled
  // every pass from keepalive_interval into the silence on (the first
  // sample is the baseline).
  Steady::time_point last_tcp_rx = now;
  std::optional<uint32_t> tcp_segs;
  bool stalled = false;  // logged that TCP still receives
  Steady::time_point next_keepalive = now + cfg_.keepalive_interval;
  Steady::time_point next_tick =
      ticking ? now + options.tick_interval : Steady::time_point::max();
  RunEnd end{EndReason::kError, ""};

  for (;;) {
    bool busy = PumpAll();
    if (stop_requested_) {
      end = {EndReason::kStopped, "stopped by the owner"};
      break;
    }
    if (SessionDown()) {
      end = SessionEnd();
      break;
    }
    now = Steady::now();
    if (rx_counter_.in_bytes != last_rx_bytes) {
      last_rx_bytes = rx_counter_.in_bytes;
      last_rx = now;
      last_tcp_rx = now;
      tcp_segs.reset();
      stalled = false;
    } else if (now - last_rx >= cfg_.keepalive_interval) {
      std::optional<uint32_t> segs =
          TcpDataSegmentsIn(ssh_get_fd(session_.get()));
      if (segs && tcp_segs && *segs != *tcp_segs) last_tcp_rx = now;
      tcp_segs = segs;
    }
    if (now - last_rx >= cfg_.link_timeout) {
      // On a lossy link one missing segment holds back everything behind
      // it: SSH hears nothing while TCP still receives data segments. Such
      // a stall is waited out, up to kMaxStallFactor link timeouts; a dead
      // link, or a relay whose kernel only acknowledges, is not.
      if (now - last_tcp_rx < cfg_.link_timeout &&
          now - last_rx < cfg_.link_timeout * kMaxStallFactor) {
        if (!stalled) {
          spdlog::info(
              "tunnel: nothing from relay {} for {} ms but TCP is still "
              "receiving (a lossy link?); waiting",
              relay_, cfg_.link_timeout.count());
          stalled = true;
        }
      } else {
        end = {EndReason::kLinkDead,
               "nothing received from relay " + relay_ + " for " +
                   std::to_string(std::chrono::duration_cast<
                                      std::chrono::milliseconds>(now - last_rx)
                                      .count()) +
                   " ms"};
        break;
      }
    }
    if (now >= next_keepalive) {
      SendKeepalive();
      next_keepalive = now + cfg_.keepalive_interval;
      continue;  // the keepalive may have processed packets
    }
    if (now >= next_tick) {
      TickAction action = options.on_tick();
      next_tick = Steady::now() + options.tick_interval;
      if (action == TickAction::kStop) {
        end = {EndReason::kStopped, "stopped by the tick callback"};
        break;
      }
      continue;
    }
    for (auto& link : links_) UpdateInterest(*link);
    Steady::time_point deadline =
        std::min({next_keepalive, next_tick, last_rx + cfg_.link_timeout});
    int timeout_ms = 0;
    if (!busy) {
      auto wait = std::chrono::ceil<std::chrono::milliseconds>(deadline - now);
      timeout_ms =
          static_cast<int>(std::clamp<int64_t>(wait.count(), 0, INT_MAX));
    }
    if (ssh_event_dopoll(event_.get(), timeout_ms) == SSH_ERROR &&
        !SessionDown() && !stop_requested_) {
      end = {EndReason::kError, "poll failed: " + ErrnoText(errno)};
      break;
    }
  }

  CloseAllLinks(EndReasonName(end.reason));
  if (options.stop_fd >= 0) ssh_event_remove_fd(event_.get(), options.stop_fd);
  event_.reset();
  state_ = State::kDone;
  spdlog::info("relay {}: tunnel ended ({}): {}", relay_,
               EndReasonName(end.reason), end.detail);
  return end;
}

void ReverseTunnel::Impl::Disconnect(std::string_view reason) {
  CloseAllLinks("disconnect");
  event_.reset();
  if (session_ != nullptr && ssh_is_connected(session_.get())) {
    std::string message(reason);
    ssh_session_set_disconnect_message(session_.get(), message.c_str());
    spdlog::info("relay {}: disconnecting: {}", relay_, message);
  }
  DropSession();
}

void ReverseTunnel::Impl::DropSession() {
  if (session_ != nullptr) {
    ssh_session s = session_.get();
    if (ssh_is_connected(s) && !SessionDown()) {
      // libssh 0.10 writes to the socket only after poll has reported it
      // writable since its previous write; otherwise the DISCONNECT that
      // ssh_disconnect() queues is dropped with the socket. Flush what is
      // queued (bounded), then say the socket is writable: the kernel takes
      // a packet this small.
      ssh_set_blocking(s, 1);
      ssh_blocking_flush(s, 1000);
      ssh_set_fd_towrite(s);
    }
    ssh_disconnect(s);
  }
  session_.reset();
  state_ = State::kDone;
}

void ReverseTunnel::Impl::AdoptPending() {
  for (auto& link : pending_) links_.push_back(std::move(link));
  pending_.clear();
}

bool ReverseTunnel::Impl::PumpAll() {
  bool busy = false;
  // New channels can be accepted while pumping (libssh processes packets
  // inside channel writes); adopt and pump until none are left.
  do {
    AdoptPending();
    for (size_t i = 0; i < links_.size(); ++i) busy |= Pump(*links_[i]);
  } while (!pending_.empty());
  auto finished = [](const std::unique_ptr<Link>& l) { return l->Finished(); };
  for (auto& link : links_) {
    if (link->Finished()) CloseLink(*link);
  }
  links_.erase(std::remove_if(links_.begin(), links_.end(), finished),
               links_.end());
  return busy;
}

bool ReverseTunnel::Impl::Pump(Link& l) {
  for (int round = 0; round < kPumpRounds; ++round) {
    if (l.failed) return false;
    bool progress = false;
    // relay -> local
    if (l.rx_pending && l.to_local.room() > 0) progress |= ReadFromChannel(l);
    if (!l.to_local.empty() && l.out_ready && !l.local_write_shut) {
      progress |= WriteToLocal(l);
    }
    if (l.remote_eof && !l.rx_pending && l.to_local.empty() &&
        !l.local_write_shut) {
      ShutLocalWrite(l);
      progress = true;
    }
    // local -> relay; nothing more goes to a channel the relay closed.
    if (!l.remote_closed) {
      if (l.in_ready && !l.local_eof && l.to_relay.room() > 0) {
        progress |= ReadFromLocal(l);
      }
      if (!l.to_relay.empty()) progress |= WriteToChannel(l);
      if (l.local_eof && l.to_relay.empty() && !l.eof_sent && !l.failed) {
        SendEof(l);
        progress = true;
      }
    }
    totals_.peak_buffered_to_local =
        std::max(totals_.peak_buffered_to_local, l.to_local.peak());
    totals_.peak_buffered_to_relay =
        std::max(totals_.peak_buffered_to_relay, l.to_relay.peak());
    if (!progress) return false;
  }
  return true;  // still going: give the others a turn, then come back
}

bool ReverseTunnel::Impl::ReadFromChannel(Link& l) {
  size_t got = 0;
  char* dst = l.to_local.PrepareAppend(kChunk, &got);
  uint32_t want =
      static_cast<uint32_t>(std::min({got, kChunk, l.to_local.room()}));
  int n = ssh_channel_read_nonblocking(l.channel, dst, want, 0);
  if (n == SSH_ERROR) {
    l.rx_pending = false;
    if (!SessionDown()) FailLink(l, "reading the channel: " + LibsshError());
    return false;
  }
  if (n < static_cast<int>(want)) l.rx_pending = false;  // also SSH_EOF
  if (n <= 0) return false;
  l.to_local.Commit(static_cast<size_t>(n));
  return true;
}

bool ReverseTunnel::Impl::WriteToLocal(Link& l) {
  std::string_view data = l.to_local.Front();
  int fd = l.write_fd();
  ssize_t n =
      l.out_is_socket
          ? send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT)
          : WriteWithoutSigpipe(fd, data.data(), data.size());
  if (n > 0) {
    l.to_local.Consume(static_cast<size_t>(n));
    totals_.bytes_to_local += static_cast<uint64_t>(n);
    return true;
  }
  if (n < 0 && errno == EINTR) return true;
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    l.out_ready = false;
    return false;
  }
  FailLink(l, "local write: " + ErrnoText(n < 0 ? errno : EIO));
  return false;
}

void ReverseTunnel::Impl::ShutLocalWrite(Link& l) {
  if (l.duplex) {
    // A non-socket duplex descriptor cannot be half-closed.
    if (l.in_is_socket) shutdown(l.in_fd.get(), SHUT_WR);
  } else {
    SetInterest(l, l.out_fd.get(), &l.out_registered, 0);
    l.out_fd.reset();
  }
  l.local_write_shut = true;
}

bool ReverseTunnel::Impl::ReadFromLocal(Link& l) {
  size_t got = 0;
  char* dst = l.to_relay.PrepareAppend(kChunk, &got);
  size_t want = std::min({got, kChunk, l.to_relay.room()});
  int fd = l.read_fd();
  ssize_t n =
      l.in_is_socket ? recv(fd, dst, want, MSG_DONTWAIT) : read(fd, dst, want);
  if (n > 0) {
    l.to_relay.Commit(static_cast<size_t>(n));
    return true;
  }
  if (n < 0 && errno == EINTR) return true;
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    l.in_ready = false;
    return false;
  }
  // EOF; a read error (ECONNRESET, EIO from a pty) ends the input the same
  // way, so what was read before it still reaches the relay.
  if (n < 0) {
    spdlog::debug("relay {}: connection #{}: local read: {}", relay_, l.id,
                  ErrnoText(errno));
  }
  l.local_eof = true;
  l.in_ready = false;
  return true;
}

bool ReverseTunnel::Impl::WriteToChannel(Link& l) {
  uint32_t window = ssh_channel_window_size(l.channel);
  if (window == 0) return false;
  std::string_view data = l.to_relay.Front();
  uint32_t len =
      static_cast<uint32_t>(std::min<size_t>({data.size(), window, kChunk}));
  // Within the window, libssh 0.10 queues the whole length and never waits
  // (it waits only for window, or for a key re-exchange, when it returns 0).
  int n = ssh_channel_write(l.channel, data.data(), len);
  if (n == SSH_ERROR) {
    if (!SessionDown()) FailLink(l, "writing the channel: " + LibsshError());
    return false;
  }
  if (n <= 0) return false;
  l.to_relay.Consume(static_cast<size_t>(n));
  totals_.bytes_to_relay += static_cast<uint64_t>(n);
  return true;
}

void ReverseTunnel::Impl::SendEof(Link& l) {
  if (ssh_channel_send_eof(l.channel) != SSH_OK && !SessionDown()) {
    FailLink(l, "sending EOF: " + LibsshError());
  }
  l.eof_sent = true;
}

void ReverseTunnel::Impl::UpdateInterest(Link& l) {
  short want_in =
      (!l.remote_closed && !l.local_eof && !l.in_ready && l.to_relay.room() > 0)
          ? POLLIN
          : 0;
  short want_out = (!l.local_write_shut && !l.to_local.empty() && !l.out_ready)
                       ? POLLOUT
                       : 0;
  if (l.duplex) {
    SetInterest(l, l.in_fd.get(), &l.in_registered,
                static_cast<short>(want_in | want_out));
  } else {
    SetInterest(l, l.in_fd.get(), &l.in_registered, want_in);
    if (l.out_fd.valid()) {
      SetInterest(l, l.out_fd.get(), &l.out_registered, want_out);
    }
  }
}

void ReverseTunnel::Impl::SetInterest(Link& l, int fd, short* registered,
                                      short want) {
  if (*registered == want || event_ == nullptr) return;
  if (*registered != 0) ssh_event_remove_fd(event_.get(), fd);
  *registered = 0;
  if (want == 0) return;
  if (ssh_event_add_fd(event_.get(), fd, want, &OnLocalFd, &l) != SSH_OK) {
    FailLink(l, "cannot watch the local descriptor");
    return;
  }
  *registered = want;
}

void ReverseTunnel::Impl::CloseLink(Link& l) {
  SetInterest(l, l.in_fd.get(), &l.in_registered, 0);
  if (l.out_fd.valid()) SetInterest(l, l.out_fd.get(), &l.out_registered, 0);
  if (l.channel != nullptr) {
    ssh_remove_channel_callbacks(l.channel, &l.callbacks);
    // Sends EOF and CLOSE if the session is alive and they are still due.
    ssh_channel_free(l.channel);
    l.channel = nullptr;
  }
  totals_.peak_buffered_to_local =
      std::max(totals_.peak_buffered_to_local, l.to_local.peak());
  totals_.peak_buffered_to_relay =
      std::max(totals_.peak_buffered_to_relay, l.to_relay.peak());
  spdlog::info("relay {}: forwarded connection #{} from {} closed{}{}", relay_,
               l.id, l.origin, l.failed ? ": " : "", l.end_reason);
  l.in_fd.reset();
  l.out_fd.reset();
}

void ReverseTunnel::Impl::CloseAllLinks(std::string_view reason) {
  AdoptPending();
  for (auto& link : links_) {
    if (!link->Finished()) FailLink(*link, std::string(reason));
    CloseLink(*link);
  }
  links_.clear();
}

TunnelStats ReverseTunnel::Impl::Stats() const {
  TunnelStats s = totals_;
  s.open_channels = links_.size() + pending_.size();
  for (const auto& link : links_) {
    s.buffered_to_local += link->to_local.size();
    s.buffered_to_relay += link->to_relay.size();
    s.peak_buffered_to_local =
        std::max(s.peak_buffered_to_local, link->to_local.peak());
    s.peak_buffered_to_relay =
        std::max(s.peak_buffered_to_relay, link->to_relay.peak());
  }
  return s;
}

ReverseTunnel::ReverseTunnel(TunnelConfig config)
    : impl_(std::make_unique<Impl>(std::move(config))) {}
ReverseTunnel::~ReverseTunnel() = default;
Error ReverseTunnel::Connect() { return impl_->Connect(); }
uint16_t ReverseTunnel::bound_port() const { return impl_->bound_port(); }
RunEnd ReverseTunnel::Run(const RunOptions& options) {
  return impl_->Run(options);
}
void ReverseTunnel::Disconnect(std::string_view reason) {
  impl_->Disconnect(reason);
}
TunnelStats ReverseTunnel::stats() const { return impl_->Stats(); }

}  // namespace porthole::ssh
