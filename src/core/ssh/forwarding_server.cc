#include "core/ssh/forwarding_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <set>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/base/logging.h"
#include "core/crypto/digest.h"
#include "core/ssh/byte_queue.h"
#include "core/ssh/libssh_util.h"

namespace porthole::ssh {
namespace {

using libssh::ChannelTypeName;
using libssh::ErrnoText;
using libssh::kChunk;
using libssh::KeyOf;
using libssh::kPumpRounds;

using Steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr size_t kMaxBuffer = 256 * 1024;
// libssh 0.10 reads at most 4 KiB per poll event; a connection gets this
// many reads per turn (256 KiB) before the others get theirs.
constexpr int kReadRounds = 64;
constexpr int kMaxEvents = 256;
constexpr milliseconds kAcceptPause{100};
constexpr milliseconds kLingerTime{1000};
constexpr size_t kMaxLingering = 4096;

constexpr uint64_t kListenerTag = 0;
constexpr uint64_t kStopTag = 1;
constexpr uint64_t kWakeTag = 2;
constexpr uint64_t kFirstConnectionId = 16;  // ids below are epoll tags

const char* AuthMethodName(int subtype) {
  switch (subtype) {
    case SSH_AUTH_METHOD_PASSWORD:
      return "password";
    case SSH_AUTH_METHOD_HOSTBASED:
      return "hostbased";
    case SSH_AUTH_METHOD_INTERACTIVE:
      return "keyboard-interactive";
    case SSH_AUTH_METHOD_GSSAPI_MIC:
      return "gssapi-with-mic";
    case SSH_AUTH_METHOD_NONE:
      return "none";
    case SSH_AUTH_METHOD_PUBLICKEY:
      return "publickey";
    default:
      return "unknown";
  }
}

std::string AddressText(const sockaddr_storage& ss, uint16_t* port) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
    *port = ntohs(a->sin_port);
    return buf;
  }
  if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    *port = ntohs(a->sin6_port);
    // An IPv4 client of a dual-stack socket: report it as IPv4.
    if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
      inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], buf, sizeof buf);
    } else {
      inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
    }
    return buf;
  }
  *port = 0;
  return "?";
}

}  // namespace

std::string ConnectionInfo::Peer() const {
  if (peer_address.find(':') != std::string::npos) {
    return "[" + peer_address + "]:" + std::to_string(peer_port);
  }
  return peer_address + ":" + std::to_string(peer_port);
}

Result<UniqueFd> ListenTcp(const std::string& address, uint16_t port) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family = AF_INET6;
  std::string where = (address.find(':') != std::string::npos
                           ? "[" + address + "]"
                           : (address.empty() ? "*" : address)) +
                      ":" + std::to_string(port);
  if (address.empty()) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_any;
    a->sin6_port = htons(port);
    len = sizeof *a;
  } else if (auto* a4 = reinterpret_cast<sockaddr_in*>(&ss);
             inet_pton(AF_INET, address.c_str(), &a4->sin_addr) == 1) {
    family = AF_INET;
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
    len = sizeof *a4;
  } else if (auto* a6 = reinterpret_cast<sockaddr_in6*>(&ss);
             inet_pton(AF_INET6, address.c_str(), &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(port);
    len = sizeof *a6;
  } else {
    return Status::InvalidArgument("listen address '" + LogSafe(address) +
                                   "': not an IPv4 or IPv6 literal");
  }
  UniqueFd fd(socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return PosixError("listen " + where + ": socket", errno);
  int one = 1, zero = 0;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (address.empty()) {
    setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  }
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    return PosixError("listen " + where + ": bind", errno);
  }
  if (listen(fd.get(), 1024) != 0) {
    return PosixError("listen " + where + ": listen", errno);
  }
  return fd;
}

uint16_t LocalPort(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  uint16_t port = 0;
  AddressText(ss, &port);
  return port;
}

// ---------------------------------------------------------------------------
// State.

namespace {

struct Conn;
struct Bridge;

// One channel of a bridge.
struct Side {
  Bridge* bridge = nullptr;
  Conn* conn = nullptr;
  ssh_channel channel = nullptr;
  struct ssh_channel_callbacks_struct callbacks = {};
  // Set by libssh callbacks (possibly from nested packet processing).
  bool rx_pending = false;  // libssh holds data of this channel not yet read
  bool remote_eof = false;
  bool remote_closed = false;
  bool eof_sent = false;
};

struct Bridge {
  explicit Bridge(size_t buffer) : to_target(buffer), to_origin(buffer) {}
  BridgeInfo info;
  Side from, to;
  ByteQueue to_target, to_origin;
  enum class State { kOpening, kOpen, kClosing } state = State::kOpening;
  bool open_sent = false;    // the forwarded-tcpip open went out
  bool open_failed = false;  // ... and was refused or failed
  bool target_opened = false;
  bool dirty = false;
  uint64_t bytes_to_target = 0, bytes_from_target = 0;
  std::string close_reason;
};

enum class ConnState { kHandshake, kAuthenticated, kDraining };

struct Conn {
  ConnectionInfo info;
  libssh::SessionPtr session;
  ssh_event event = nullptr;
  int fd = -1;
  uint32_t epoll_events = 0;
  struct ssh_server_callbacks_struct server_callbacks = {};
  struct ssh_counter_struct counter = {};

  ConnState state = ConnState::kHandshake;
  bool none_seen = false;
  int auth_failures = 0;
  std::string last_refusal;

  Steady::time_point grace_end, last_rx, idle_since, drain_deadline;
  uint64_t seen_in_bytes = 0;
  int missed_keepalives = 0;
  size_t forwards = 0;  // tcpip-forwards accepted and not cancelled
  std::vector<Bridge*> bridges;
  // Forwarded channels still opening whose bridge ended: closed once the
  // peer answers (so its end does not stay open).
  std::vector<ssh_channel> orphans;

  bool close_requested = false;
  std::string close_reason;

  // Output the socket has not taken yet (see Congested()).
  uint64_t queued_since_mark = 0, out_mark = 0;
  Steady::time_point timer_at = Steady::time_point::max();
  bool touched = false;

  void* owner = nullptr;  // the Impl, for the callbacks
};

}  // namespace

class ForwardingServer::Impl {
 public:
  Impl(Options options, ForwardingDelegate* delegate)
      : opt_(std::move(options)), delegate_(delegate) {}
  ~Impl();

  Status Init();
  Status Run();
  void Stop() { Signal(stop_fd_.get()); }
  void Wake() { Signal(wake_fd_.get()); }
  ServerStats Stats() const;
  void Disconnect(ConnectionId id, std::string_view reason);
  void CloseBridge(BridgeId id, std::string_view reason);
  void WakeAt(std::optional<SteadyTime> when) { wake_at_ = when; }
  const ConnectionInfo* Connection(ConnectionId id) const {
    auto it = conns_.find(id);
    return it == conns_.end() ? nullptr : &it->second->info;
  }

 private:
  static void Signal(int fd) {
    uint64_t one = 1;
    ssize_t n = write(fd, &one, sizeof one);
    (void)n;  // a full counter means a signal is pending anyway
  }
  static void Drain(int fd) {
    uint64_t v;
    ssize_t n = read(fd, &v, sizeof v);
    (void)n;
  }

  // The loop.
  int PollTimeoutMs() const;
  void HandleEvent(uint64_t tag, uint32_t events);
  void AcceptAll();
  void SetUpConnection(UniqueFd fd, std::string address, uint16_t port);
  void Service(Conn& c);
  void PumpDirty();
  void RunTimers();
  void CheckConnection(Conn& c, Steady::time_point now);
  void Reap();
  void UpdateInterest();
  void Touch(Conn& c) {
    if (!c.touched) {
      c.touched = true;
      touched_.push_back(c.info.id);
    }
  }
  void Schedule(Conn& c, Steady::time_point when);
  void UpdateIdle(Conn& c);
  void SendKeepalive(Conn& c);
  // libssh also reads a connection's socket while we write to its channels
  // (it flushes by polling), so "received since last look" is judged by
  // the byte counter, wherever the bytes were read.
  static void NoteReceived(Conn& c) {
    if (c.counter.in_bytes != c.seen_in_bytes) {
      c.seen_in_bytes = c.counter.in_bytes;
      c.last_rx = Steady::now();
      c.missed_keepalives = 0;
    }
  }
  void RequestClose(Conn& c, std::string reason);
  void FinishConnection(Conn& c);
  // Sockets closed for writing after a DISCONNECT, read and discarded
  // until the peer closes or kLingerTime passes.
  void Linger(UniqueFd fd);
  void ServiceLinger(uint64_t tag);
  void ExpireLingers();
  bool SessionDown(const Conn& c) const;
  std::string SessionEndReason(const Conn& c) const;
  // libssh closes the socket itself when the connection breaks; the number
  // may then belong to a newer connection, so epoll calls check this.
  static bool FdOpen(const Conn& c) {
    return c.session != nullptr && ssh_get_fd(c.session.get()) == c.fd;
  }
  bool WritePending(const Conn& c) const {
    return (ssh_get_poll_flags(c.session.get()) & SSH_WRITE_PENDING) != 0;
  }
  bool Congested(Conn& c);
  void CollectOrphans(Conn& c);

  // libssh callbacks.
  static int OnAuthNone(ssh_session, const char* user, void* userdata);
  static int OnAuthPubkey(ssh_session, const char* user, ssh_key_struct* key,
                          char signature_state, void* userdata);
  static int OnMessage(ssh_session, ssh_message msg, void* userdata);
  static int OnData(ssh_session, ssh_channel, void*, uint32_t len,
                    int is_stderr, void* userdata);
  static void OnEof(ssh_session, ssh_channel, void* userdata);
  static void OnClose(ssh_session, ssh_channel, void* userdata);
  int AuthPubkey(Conn& c, const char* user, ssh_key key, char state);
  void RefuseAuth(Conn& c, std::string reason);
  bool HandleGlobalRequest(Conn& c, ssh_message msg);
  bool HandleDirectTcpip(Conn& c, ssh_message msg);
  void Refused(Conn& c, std::string what);

  // Bridges.
  void MarkDirty(Bridge& b) {
    if (!b.dirty) {
      b.dirty = true;
      dirty_.push_back(b.info.id);
    }
  }
  void MarkBridgesDirty(Conn& c) {
    for (Bridge* b : c.bridges) MarkDirty(*b);
  }
  void SetChannelCallbacks(Side& s);
  bool Pump(Bridge& b);
  void TryOpen(Bridge& b);
  bool PumpDirection(Bridge& b, Side& src, Side& dst, ByteQueue& q,
                     uint64_t* counter);
  bool ReadChannel(Bridge& b, Side& src, ByteQueue& q);
  bool WriteChannel(Bridge& b, Side& dst, ByteQueue& q, uint64_t* counter);
  static bool FlowDone(const Side& src, const Side& dst, const ByteQueue& q) {
    return dst.remote_closed ||
           (src.remote_eof && !src.rx_pending && q.empty() && dst.eof_sent);
  }
  void EndBridge(Bridge& b, std::string reason);
  void DestroyBridge(Bridge& b);
  void ReleaseSide(Side& s);

  Options opt_;
  ForwardingDelegate* delegate_;
  libssh::BindPtr bind_;
  UniqueFd epoll_fd_, stop_fd_, wake_fd_;
  bool listener_registered_ = false;
  Steady::time_point accept_paused_until_ = Steady::time_point::min();
  bool stopping_ = false;
  std::optional<SteadyTime> wake_at_;

  ConnectionId next_conn_id_ = kFirstConnectionId;
  BridgeId next_bridge_id_ = 1;
  std::unordered_map<ConnectionId, std::unique_ptr<Conn>> conns_;
  std::unordered_map<BridgeId, std::unique_ptr<Bridge>> bridges_;
  std::unordered_map<std::string, size_t> per_source_;
  size_t unauthenticated_ = 0;
  std::set<std::pair<Steady::time_point, ConnectionId>> timers_;
  std::vector<BridgeId> dirty_;
  std::vector<ConnectionId> closing_conns_;
  std::vector<BridgeId> closing_bridges_;
  std::vector<ConnectionId> touched_;
  struct Lingering {
    UniqueFd fd;
    Steady::time_point until;
  };
  std::unordered_map<uint64_t, Lingering> lingers_;  // by epoll tag

  struct AtomicStats {
    std::atomic<uint64_t> connections_accepted{0}, connections_refused{0},
        connections_open{0}, connections_unauthenticated{0}, auth_failures{0},
        keepalive_timeouts{0}, bridges_opened{0}, bridges_open{0},
        bytes_to_targets{0}, bytes_from_targets{0}, peak_queued{0};
  } stats_;
};

// ---------------------------------------------------------------------------
// Set-up and the loop.

ForwardingServer::Impl::~Impl() {
  // Run() normally leaves nothing; this covers a server never run or an
  // early return.
  for (auto& [id, b] : bridges_) {
    b->state = Bridge::State::kClosing;
  }
  for (auto& [id, b] : bridges_) {
    ReleaseSide(b->from);
    ReleaseSide(b->to);
  }
  bridges_.clear();
  for (auto& [id, c] : conns_) {
    if (c->event != nullptr) {
      ssh_event_remove_session(c->event, c->session.get());
      ssh_event_free(c->event);
    }
    c->session.reset();
  }
  conns_.clear();
}

Status ForwardingServer::Impl::Init() {
  auto bad = [](std::string what) {
    return Status::InvalidArgument("forwarding server: " + what);
  };
  if (delegate_ == nullptr) return bad("no delegate");
  if (opt_.host_key == nullptr || opt_.host_key->libssh_key() == nullptr) {
    return bad("no host key");
  }
  if (!opt_.listen_fd.valid()) return bad("no listening socket");
  if (opt_.login_grace.count() <= 0) return bad("login_grace must be > 0");
  if (opt_.idle_timeout.count() < 0) return bad("idle_timeout must be >= 0");
  if (opt_.keepalive_interval.count() <= 0 || opt_.keepalive_count_max < 1) {
    return bad("keepalive_interval must be > 0 and keepalive_count_max >= 1");
  }
  if (opt_.max_auth_attempts < 1) return bad("max_auth_attempts must be >= 1");
  if (opt_.max_connections == 0 || opt_.max_per_source == 0 ||
      opt_.max_unauthenticated == 0 || opt_.max_channels_per_connection == 0) {
    return bad("connection and channel limits must be >= 1");
  }
  if (opt_.buffer_per_direction == 0 ||
      opt_.buffer_per_direction > kMaxBuffer) {
    return bad("buffer_per_direction must be 1.." + std::to_string(kMaxBuffer));
  }
  if (opt_.max_pending_output == 0) {
    return bad("max_pending_output must be > 0");
  }
  if (opt_.disconnect_flush.count() < 0) {
    return bad("disconnect_flush must be >= 0");
  }

  bind_.reset(ssh_bind_new());
  if (bind_ == nullptr) return Status::Internal("forwarding server: ssh_bind");
  bool process_config = false;
  ssh_key host_key = ssh_key_dup(opt_.host_key->libssh_key());
  if (host_key == nullptr) return Status::Internal("forwarding server: key");
  // The bind takes ownership of the imported key.
  if (ssh_bind_options_set(bind_.get(), SSH_BIND_OPTIONS_IMPORT_KEY,
                           host_key) != SSH_OK) {
    ssh_key_free(host_key);
    return Status::Internal("forwarding server: libssh refused the host key: " +
                            std::string(ssh_get_error(bind_.get())));
  }
  if (ssh_bind_options_set(bind_.get(), SSH_BIND_OPTIONS_PROCESS_CONFIG,
                           &process_config) != SSH_OK) {
    return Status::Internal("forwarding server: libssh refused an option");
  }

  epoll_fd_ = UniqueFd(epoll_create1(EPOLL_CLOEXEC));
  stop_fd_ = UniqueFd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  wake_fd_ = UniqueFd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!epoll_fd_.valid() || !stop_fd_.valid() || !wake_fd_.valid()) {
    return PosixError("forwarding server: epoll/eventfd", errno);
  }
  auto add = [&](int fd, uint64_t tag) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tag;
    return epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &ev) == 0;
  };
  if (!add(stop_fd_.get(), kStopTag) || !add(wake_fd_.get(), kWakeTag) ||
      !add(opt_.listen_fd.get(), kListenerTag)) {
    return PosixError("forwarding server: epoll_ctl", errno);
  }
  listener_registered_ = true;
  int flags = fcntl(opt_.listen_fd.get(), F_GETFL);
  if (flags < 0 ||
      fcntl(opt_.listen_fd.get(), F_SETFL, flags | O_NONBLOCK) != 0) {
    return PosixError("forwarding server: listening socket", errno);
  }
  return Status::Ok();
}

Status ForwardingServer::Impl::Run() {
  epoll_event events[kMaxEvents];
  bool stop_seen = false;
  for (;;) {
    if (stop_seen && !stopping_) {
      stopping_ = true;
      if (listener_registered_) {
        epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, opt_.listen_fd.get(),
                  nullptr);
        listener_registered_ = false;
      }
      std::vector<ConnectionId> ids;
      for (auto& [id, c] : conns_) ids.push_back(id);
      for (ConnectionId id : ids) Disconnect(id, "server stopping");
      Reap();
      UpdateInterest();
    }
    if (stopping_ && conns_.empty() && lingers_.empty()) break;

    int n = epoll_wait(epoll_fd_.get(), events, kMaxEvents, PollTimeoutMs());
    if (n < 0) {
      if (errno == EINTR) continue;
      return PosixError("forwarding server: epoll_wait", errno);
    }
    for (int i = 0; i < n; ++i) {
      if (events[i].data.u64 == kStopTag) {
        Drain(stop_fd_.get());
        stop_seen = true;
        continue;
      }
      HandleEvent(events[i].data.u64, events[i].events);
    }
    if (wake_at_ && Steady::now() >= *wake_at_) {
      wake_at_.reset();
      delegate_->OnTimer();
    }
    if (!stopping_ && !listener_registered_ &&
        Steady::now() >= accept_paused_until_) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = kListenerTag;
      if (epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, opt_.listen_fd.get(),
                    &ev) == 0) {
        listener_registered_ = true;
      }
    }
    PumpDirty();
    RunTimers();
    Reap();
    UpdateInterest();
    if (!lingers_.empty()) ExpireLingers();
  }
  if (listener_registered_) {
    epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, opt_.listen_fd.get(), nullptr);
    listener_registered_ = false;
  }
  return Status::Ok();
}

int ForwardingServer::Impl::PollTimeoutMs() const {
  if (!dirty_.empty() || !closing_conns_.empty() || !closing_bridges_.empty()) {
    return 0;
  }
  Steady::time_point now = Steady::now();
  Steady::time_point deadline = Steady::time_point::max();
  if (!timers_.empty()) deadline = timers_.begin()->first;
  for (const auto& [tag, l] : lingers_) deadline = std::min(deadline, l.until);
  if (wake_at_) deadline = std::min(deadline, *wake_at_);
  if (!listener_registered_ && !stopping_) {
    deadline = std::min(deadline, accept_paused_until_);
  }
  if (deadline == Steady::time_point::max()) return -1;
  if (deadline <= now) return 0;
  auto wait = std::chrono::ceil<milliseconds>(deadline - now);
  return static_cast<int>(std::clamp<int64_t>(wait.count(), 0, INT_MAX));
}

void ForwardingServer::Impl::HandleEvent(uint64_t tag, uint32_t) {
  if (tag == kListenerTag) {
    AcceptAll();
    return;
  }
  if (tag == kWakeTag) {
    Drain(wake_fd_.get());
    delegate_->OnWake();
    return;
  }
  auto it = conns_.find(tag);
  if (it != conns_.end()) {
    Service(*it->second);
  } else if (lingers_.count(tag)) {
    ServiceLinger(tag);
  }
}

void ForwardingServer::Impl::Linger(UniqueFd fd) {
  shutdown(fd.get(), SHUT_WR);     // FIN after the DISCONNECT
  uint64_t tag = next_conn_id_++;  // ids and tags share one space
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = tag;
  if (epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd.get(), &ev) != 0) return;
  lingers_.emplace(tag, Lingering{std::move(fd), Steady::now() + kLingerTime});
  ServiceLinger(tag);
}

void ForwardingServer::Impl::ServiceLinger(uint64_t tag) {
  auto it = lingers_.find(tag);
  char buf[16384];
  for (int i = 0; i < 16; ++i) {
    ssize_t n = recv(it->second.fd.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) continue;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    break;  // the peer closed (or the connection broke): done
  }
  // 16 full reads: a peer still sending is not worth waiting for.
  lingers_.erase(it);  // closing also leaves the epoll set
}

void ForwardingServer::Impl::ExpireLingers() {
  Steady::time_point now = Steady::now();
  for (auto it = lingers_.begin(); it != lingers_.end();) {
    it = it->second.until <= now ? lingers_.erase(it) : std::next(it);
  }
}

void ForwardingServer::Impl::AcceptAll() {
  if (stopping_) return;
  for (int accepted = 0; accepted < 64; ++accepted) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    int raw = accept4(opt_.listen_fd.get(), reinterpret_cast<sockaddr*>(&ss),
                      &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (raw < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      // Out of descriptors or memory: the listener would stay readable and
      // spin the loop, so stop watching it for a moment.
      spdlog::warn("forwarding server: accept: {}; pausing accepts for {} ms",
                   ErrnoText(errno), kAcceptPause.count());
      epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, opt_.listen_fd.get(), nullptr);
      listener_registered_ = false;
      accept_paused_until_ = Steady::now() + kAcceptPause;
      return;
    }
    UniqueFd fd(raw);
    uint16_t port = 0;
    std::string address = AddressText(ss, &port);
    std::string refusal;
    if (conns_.size() >= opt_.max_connections) {
      refusal =
          "too many connections (" + std::to_string(opt_.max_connections) + ")";
    } else if (per_source_[address] >= opt_.max_per_source) {
      refusal = "too many connections from " + address + " (" +
                std::to_string(opt_.max_per_source) + ")";
    } else if (unauthenticated_ >= opt_.max_unauthenticated) {
      refusal = "too many unauthenticated connections (" +
                std::to_string(opt_.max_unauthenticated) + ")";
    }
    if (!refusal.empty()) {
      if (per_source_[address] == 0) per_source_.erase(address);
      fd.reset();
      stats_.connections_refused++;
      delegate_->OnConnectionRefused(address, port, refusal);
      continue;
    }
    SetUpConnection(std::move(fd), std::move(address), port);
  }
}

void ForwardingServer::Impl::SetUpConnection(UniqueFd fd, std::string address,
                                             uint16_t port) {
  std::string peer = address + ":" + std::to_string(port);
  int one = 1;
  int idle_s = static_cast<int>(
      std::max<int64_t>(1, opt_.keepalive_interval.count() / 1000));
  int probes = opt_.keepalive_count_max + 1;
  auto user_timeout_ms = static_cast<unsigned int>(std::min<int64_t>(
      UINT_MAX,
      opt_.keepalive_interval.count() * (opt_.keepalive_count_max + 1)));
  setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(fd.get(), SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  setsockopt(fd.get(), IPPROTO_TCP, TCP_KEEPIDLE, &idle_s, sizeof idle_s);
  setsockopt(fd.get(), IPPROTO_TCP, TCP_KEEPINTVL, &idle_s, sizeof idle_s);
  setsockopt(fd.get(), IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof probes);
  setsockopt(fd.get(), IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms,
             sizeof user_timeout_ms);

  auto c = std::make_unique<Conn>();
  c->owner = this;
  c->info.id = next_conn_id_++;
  c->info.peer_address = std::move(address);
  c->info.peer_port = port;
  c->info.accepted_at = Steady::now();
  c->session.reset(ssh_new());
  if (c->session == nullptr) {
    spdlog::warn("forwarding server: {}: ssh_new failed", peer);
    return;
  }
  ssh_session s = c->session.get();
  int raw = fd.release();
  if (ssh_bind_accept_fd(bind_.get(), s, raw) != SSH_OK) {
    // Early failures leave the descriptor with us, later ones with the
    // session (which closes it).
    if (ssh_get_fd(s) != raw) close(raw);
    spdlog::warn("forwarding server: {}: {}", peer, ssh_get_error(bind_.get()));
    return;
  }
  c->fd = raw;
  ssh_callbacks_init(&c->server_callbacks);
  c->server_callbacks.userdata = c.get();
  c->server_callbacks.auth_none_function = &Impl::OnAuthNone;
  c->server_callbacks.auth_pubkey_function = &Impl::OnAuthPubkey;
  ssh_set_server_callbacks(s, &c->server_callbacks);
  // Everything else: other auth methods, channel opens, global requests,
  // channel requests.
  ssh_set_message_callback(s, &Impl::OnMessage, c.get());
  ssh_set_auth_methods(s, SSH_AUTH_METHOD_PUBLICKEY);
  ssh_set_counters(s, &c->counter, nullptr);
  ssh_set_blocking(s, 0);
  // Non-blocking: sends our banner and returns; the loop drives the rest of
  // the key exchange and authentication.
  if (ssh_handle_key_exchange(s) == SSH_ERROR) {
    spdlog::info("forwarding server: {}: key exchange failed: {}", peer,
                 ssh_get_error(s));
    return;  // the session closes the descriptor
  }
  c->event = ssh_event_new();
  if (c->event == nullptr || ssh_event_add_session(c->event, s) != SSH_OK) {
    if (c->event != nullptr) ssh_event_free(c->event);
    spdlog::warn("forwarding server: {}: cannot set up the event", peer);
    return;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = c->info.id;
  if (epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, c->fd, &ev) != 0) {
    spdlog::warn("forwarding server: {}: epoll_ctl: {}", peer,
                 ErrnoText(errno));
    ssh_event_remove_session(c->event, s);
    ssh_event_free(c->event);
    return;
  }
  c->epoll_events = EPOLLIN;
  Steady::time_point now = Steady::now();
  c->grace_end = now + opt_.login_grace;
  c->last_rx = now;
  Conn& ref = *c;
  per_source_[ref.info.peer_address]++;
  unauthenticated_++;
  stats_.connections_accepted++;
  stats_.connections_open++;
  stats_.connections_unauthenticated++;
  conns_.emplace(ref.info.id, std::move(c));
  spdlog::debug("forwarding server: connection #{} from {}", ref.info.id,
                ref.info.Peer());
  Schedule(ref, ref.grace_end);
  Touch(ref);
}

void ForwardingServer::Impl::Service(Conn& c) {
  Touch(c);
  for (int round = 0; round < kReadRounds; ++round) {
    uint64_t before = c.counter.in_bytes;
    ssh_event_dopoll(c.event, 0);
    if (SessionDown(c)) {
      if (!c.close_requested) RequestClose(c, SessionEndReason(c));
      break;
    }
    if (c.counter.in_bytes == before) break;
  }
  NoteReceived(c);
  if (!c.orphans.empty()) CollectOrphans(c);
  // Their channels may have data, window or an answer to an open now.
  MarkBridgesDirty(c);
  if (c.state == ConnState::kDraining && !WritePending(c)) {
    c.drain_deadline = Steady::now();
    Schedule(c, c.drain_deadline);
  }
}

void ForwardingServer::Impl::UpdateInterest() {
  for (ConnectionId id : touched_) {
    auto it = conns_.find(id);
    if (it == conns_.end()) continue;
    Conn& c = *it->second;
    c.touched = false;
    uint32_t want = EPOLLIN | (WritePending(c) ? uint32_t{EPOLLOUT} : 0u);
    if (want == c.epoll_events || !FdOpen(c)) continue;
    epoll_event ev{};
    ev.events = want;
    ev.data.u64 = id;
    if (epoll_ctl(epoll_fd_.get(), EPOLL_CTL_MOD, c.fd, &ev) == 0) {
      c.epoll_events = want;
    }
  }
  touched_.clear();
}

// ---------------------------------------------------------------------------
// Timers, keepalives, closing.

void ForwardingServer::Impl::Schedule(Conn& c, Steady::time_point when) {
  if (c.timer_at == when) return;
  if (c.timer_at != Steady::time_point::max()) {
    timers_.erase({c.timer_at, c.info.id});
  }
  c.timer_at = when;
  if (when != Steady::time_point::max()) timers_.insert({when, c.info.id});
}

void ForwardingServer::Impl::RunTimers() {
  Steady::time_point now = Steady::now();
  while (!timers_.empty() && timers_.begin()->first <= now) {
    ConnectionId id = timers_.begin()->second;
    timers_.erase(timers_.begin());
    auto it = conns_.find(id);
    if (it == conns_.end()) continue;
    it->second->timer_at = Steady::time_point::max();
    CheckConnection(*it->second, now);
  }
}

void ForwardingServer::Impl::CheckConnection(Conn& c, Steady::time_point now) {
  if (c.close_requested && c.state != ConnState::kDraining) return;
  switch (c.state) {
    case ConnState::kHandshake:
      if (now >= c.grace_end) {
        RequestClose(c, "login grace time (" +
                            std::to_string(opt_.login_grace.count()) +
                            " ms) exceeded");
      } else {
        Schedule(c, c.grace_end);
      }
      return;
    case ConnState::kDraining:
      if (now >= c.drain_deadline)
        FinishConnection(c);
      else
        Schedule(c, c.drain_deadline);
      return;
    case ConnState::kAuthenticated:
      break;
  }
  NoteReceived(c);
  Steady::time_point next_keepalive =
      c.last_rx + opt_.keepalive_interval * (c.missed_keepalives + 1);
  if (now >= next_keepalive) {
    if (c.missed_keepalives >= opt_.keepalive_count_max) {
      stats_.keepalive_timeouts++;
      RequestClose(
          c, "keepalive timeout: nothing received for " +
                 std::to_string(
                     std::chrono::duration_cast<milliseconds>(now - c.last_rx)
                         .count()) +
                 " ms");
      return;
    }
    SendKeepalive(c);
    c.missed_keepalives++;
    next_keepalive =
        c.last_rx + opt_.keepalive_interval * (c.missed_keepalives + 1);
    // The peer was silent for a whole interval; do not keep firing at once
    // if the clock jumped.
    next_keepalive = std::max(next_keepalive, now + milliseconds(1));
  }
  Steady::time_point next = next_keepalive;
  if (opt_.idle_timeout.count() > 0 && c.forwards == 0 && c.bridges.empty()) {
    Steady::time_point idle_end = c.idle_since + opt_.idle_timeout;
    if (now >= idle_end) {
      RequestClose(c, "idle timeout (" +
                          std::to_string(opt_.idle_timeout.count()) +
                          " ms without a forward or channel)");
      return;
    }
    next = std::min(next, idle_end);
  }
  Schedule(c, next);
}

void ForwardingServer::Impl::UpdateIdle(Conn& c) {
  if (c.state != ConnState::kAuthenticated) return;
  if (c.forwards == 0 && c.bridges.empty()) {
    c.idle_since = Steady::now();
    if (opt_.idle_timeout.count() > 0) {
      Schedule(c, std::min(c.timer_at, c.idle_since + opt_.idle_timeout));
    }
  }
}

void ForwardingServer::Impl::SendKeepalive(Conn& c) {
  // libssh 0.10's ssh_send_keepalive() sends keepalive@openssh.com with
  // want-reply and, non-blocking, returns with the request pending; the
  // next call only collects that reply. Two calls collect the previous
  // reply (if any) and send a new one, never more than one outstanding.
  // Replies count as received bytes, which is what the check looks at.
  Touch(c);
  ssh_send_keepalive(c.session.get());
  ssh_send_keepalive(c.session.get());
  if (SessionDown(c) && !c.close_requested) {
    RequestClose(c, SessionEndReason(c));
  }
}

bool ForwardingServer::Impl::SessionDown(const Conn& c) const {
  ssh_session s = c.session.get();
  return s == nullptr || !ssh_is_connected(s) ||
         (ssh_get_status(s) & (SSH_CLOSED | SSH_CLOSED_ERROR)) != 0;
}

std::string ForwardingServer::Impl::SessionEndReason(const Conn& c) const {
  std::string err = ssh_get_error(c.session.get());
  // libssh reports how a connection ended only as text (0.10 packet_cb.c,
  // socket.c).
  if (err.empty() || err == "Socket error: disconnected") {
    return "closed by the peer";
  }
  if (err.rfind("Received SSH_MSG_DISCONNECT", 0) == 0) {
    return "closed by the peer (" + LogSafe(err) + ")";
  }
  if (err.rfind("Socket error: ", 0) == 0) {
    return "connection lost (" + LogSafe(err) + ")";
  }
  return "protocol error (" + LogSafe(err) + ")";
}

void ForwardingServer::Impl::RequestClose(Conn& c, std::string reason) {
  if (c.close_requested) return;
  c.close_requested = true;
  c.close_reason = std::move(reason);
  closing_conns_.push_back(c.info.id);
}

void ForwardingServer::Impl::Disconnect(ConnectionId id,
                                        std::string_view reason) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  RequestClose(*it->second, std::string(reason));
}

void ForwardingServer::Impl::CloseBridge(BridgeId id, std::string_view reason) {
  auto it = bridges_.find(id);
  if (it == bridges_.end()) return;
  EndBridge(*it->second, std::string(reason));
}

void ForwardingServer::Impl::EndBridge(Bridge& b, std::string reason) {
  if (b.state == Bridge::State::kClosing) return;
  b.state = Bridge::State::kClosing;
  b.close_reason = std::move(reason);
  closing_bridges_.push_back(b.info.id);
}

void ForwardingServer::Impl::Reap() {
  // Closing a channel may process packets (libssh flushes), which may queue
  // more closings: loop until none are left.
  while (!closing_bridges_.empty() || !closing_conns_.empty()) {
    while (!closing_bridges_.empty()) {
      BridgeId id = closing_bridges_.back();
      closing_bridges_.pop_back();
      auto it = bridges_.find(id);
      if (it != bridges_.end()) DestroyBridge(*it->second);
    }
    if (closing_conns_.empty()) break;
    ConnectionId id = closing_conns_.back();
    closing_conns_.pop_back();
    auto it = conns_.find(id);
    if (it == conns_.end()) continue;
    Conn& c = *it->second;
    if (c.state == ConnState::kDraining) continue;
    for (Bridge* b : std::vector<Bridge*>(c.bridges)) {
      // A peer that hung up ends its channels the ordinary way.
      EndBridge(*b, c.close_reason.rfind("closed by the peer", 0) == 0
                        ? std::string("closed")
                        : "connection #" + std::to_string(c.info.id) +
                              " ended: " + c.close_reason);
    }
    while (!closing_bridges_.empty()) {
      BridgeId bid = closing_bridges_.back();
      closing_bridges_.pop_back();
      auto bit = bridges_.find(bid);
      if (bit != bridges_.end()) DestroyBridge(*bit->second);
    }
    if (c.state == ConnState::kHandshake) {
      unauthenticated_--;
      stats_.connections_unauthenticated--;
    }
    c.state = ConnState::kDraining;
    c.drain_deadline = Steady::now() + opt_.disconnect_flush;
    if (SessionDown(c) || !WritePending(c) ||
        opt_.disconnect_flush.count() == 0) {
      FinishConnection(c);
    } else {
      Touch(c);
      Schedule(c, c.drain_deadline);
    }
  }
}

void ForwardingServer::Impl::FinishConnection(Conn& c) {
  ConnectionId id = c.info.id;
  Schedule(c, Steady::time_point::max());
  for (ssh_channel ch : c.orphans) ssh_channel_free(ch);
  c.orphans.clear();
  ssh_session s = c.session.get();
  if (FdOpen(c)) epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, c.fd, nullptr);
  ssh_event_remove_session(c.event, s);
  ssh_event_free(c.event);
  c.event = nullptr;
  UniqueFd linger;
  if (!SessionDown(c)) {
    ssh_session_set_disconnect_message(s, c.close_reason.c_str());
    // libssh 0.10 writes only after poll said the socket is writable since
    // its previous write; what is still queued now is abandoned (the drain
    // timed out), and the DISCONNECT goes out if the socket takes it.
    ssh_set_fd_towrite(s);
    // ssh_disconnect() closes the socket at once. Closed with bytes from
    // the peer unread (a channel close crossing ours, a keepalive answer),
    // the kernel would answer with a reset, and a peer that is reset may
    // never read the DISCONNECT; so a copy of the socket stays open,
    // half-closed, until the peer closes too (Linger()).
    if (FdOpen(c) && lingers_.size() < kMaxLingering) {
      linger = UniqueFd(fcntl(c.fd, F_DUPFD_CLOEXEC, 0));
    }
  }
  ssh_disconnect(s);
  c.session.reset();
  if (linger.valid()) Linger(std::move(linger));
  auto src = per_source_.find(c.info.peer_address);
  if (src != per_source_.end() && --src->second == 0) per_source_.erase(src);
  stats_.connections_open--;
  spdlog::debug("forwarding server: connection #{} from {} closed: {}", id,
                c.info.Peer(), c.close_reason);
  // Keep the object alive for the call, then drop it.
  std::unique_ptr<Conn> owned = std::move(conns_[id]);
  conns_.erase(id);
  delegate_->OnConnectionClosed(owned->info, owned->close_reason,
                                owned->last_refusal);
}

// ---------------------------------------------------------------------------
// Authentication and requests (libssh callbacks; decisions only, nothing
// freed here).

void ForwardingServer::Impl::RefuseAuth(Conn& c, std::string reason) {
  c.last_refusal = std::move(reason);
  stats_.auth_failures++;
  if (++c.auth_failures >= opt_.max_auth_attempts) {
    RequestClose(c, "too many authentication failures (" +
                        std::to_string(c.auth_failures) + ")");
  }
}

int ForwardingServer::Impl::OnAuthNone(ssh_session, const char* user,
                                       void* userdata) {
  auto* c = static_cast<Conn*>(userdata);
  auto* self = static_cast<Impl*>(c->owner);
  if (user != nullptr) c->info.user = user;
  // OpenSSH clients start with "none" to learn the methods; only a repeated
  // one counts as an attempt.
  if (c->none_seen) self->RefuseAuth(*c, "method none");
  c->none_seen = true;
  return SSH_AUTH_DENIED;
}

int ForwardingServer::Impl::OnAuthPubkey(ssh_session, const char* user,
                                         ssh_key_struct* key,
                                         char signature_state, void* userdata) {
  auto* c = static_cast<Conn*>(userdata);
  return static_cast<Impl*>(c->owner)->AuthPubkey(*c, user, key,
                                                  signature_state);
}

int ForwardingServer::Impl::AuthPubkey(Conn& c, const char* user, ssh_key key,
                                       char state) {
  if (c.state != ConnState::kHandshake || c.close_requested) {
    return SSH_AUTH_DENIED;
  }
  c.info.user = user != nullptr ? user : "";
  Result<keys::PublicKey> offered = KeyOf(key);
  if (!offered.ok()) {
    RefuseAuth(c, "unreadable key: " + offered.status().message());
    return SSH_AUTH_DENIED;
  }
  if (offered->certificate) {
    std::string what = "certificate " + offered->TypeName() + " " +
                       offered->Fingerprint() +
                       " (certificates are not "
                       "accepted)";
    Refused(c, what);
    RefuseAuth(c, what);
    return SSH_AUTH_DENIED;
  }
  if (state != SSH_PUBLICKEY_STATE_NONE && state != SSH_PUBLICKEY_STATE_VALID) {
    RefuseAuth(c, "bad signature");
    return SSH_AUTH_DENIED;
  }
  const bool verified = state == SSH_PUBLICKEY_STATE_VALID;
  AuthDecision d =
      delegate_->OnPublicKey(c.info, c.info.user, *offered, verified);
  if (c.close_requested) return SSH_AUTH_DENIED;
  if (!d.accept) {
    RefuseAuth(c, d.reason.empty() ? "refused" : d.reason);
    return SSH_AUTH_DENIED;
  }
  if (verified) {
    c.state = ConnState::kAuthenticated;
    c.info.authenticated = true;
    c.info.key = std::move(*offered);
    unauthenticated_--;
    stats_.connections_unauthenticated--;
    c.last_rx = Steady::now();
    c.idle_since = c.last_rx;
    Schedule(c, c.last_rx);  // recomputes keepalive and idle deadlines
    delegate_->OnAuthenticated(c.info);
  }
  return SSH_AUTH_SUCCESS;
}

void ForwardingServer::Impl::Refused(Conn& c, std::string what) {
  spdlog::debug("forwarding server: connection #{} from {}: refused {}",
                c.info.id, c.info.Peer(), what);
  delegate_->OnRequestRefused(c.info, what);
}

int ForwardingServer::Impl::OnMessage(ssh_session, ssh_message msg,
                                      void* userdata) {
  auto* c = static_cast<Conn*>(userdata);
  auto* self = static_cast<Impl*>(c->owner);
  // Returning 1 makes libssh send the default answer: failure (with the
  // method list for authentication), OPEN_FAILURE, REQUEST_FAILURE when a
  // reply is wanted; a service request is accepted.
  int subtype = ssh_message_subtype(msg);
  switch (ssh_message_type(msg)) {
    case SSH_REQUEST_AUTH:
      if (c->state == ConnState::kHandshake && !c->close_requested) {
        self->RefuseAuth(*c, std::string("method ") + AuthMethodName(subtype));
      }
      return 1;
    case SSH_REQUEST_SERVICE:
      return 1;
    case SSH_REQUEST_GLOBAL:
      return self->HandleGlobalRequest(*c, msg) ? 0 : 1;
    case SSH_REQUEST_CHANNEL_OPEN:
      if (subtype == SSH_CHANNEL_DIRECT_TCPIP) {
        return self->HandleDirectTcpip(*c, msg) ? 0 : 1;
      }
      if (c->state == ConnState::kAuthenticated && !c->close_requested) {
        self->Refused(*c, std::string(ChannelTypeName(subtype)) + " channel");
      }
      return 1;
    case SSH_REQUEST_CHANNEL:
      if (c->state == ConnState::kAuthenticated && !c->close_requested) {
        self->Refused(
            *c, "a channel request (type " + std::to_string(subtype) + ")");
      }
      return 1;
    default:
      return 1;
  }
}

bool ForwardingServer::Impl::HandleGlobalRequest(Conn& c, ssh_message msg) {
  int subtype = ssh_message_subtype(msg);
  if (subtype != SSH_GLOBAL_REQUEST_TCPIP_FORWARD &&
      subtype != SSH_GLOBAL_REQUEST_CANCEL_TCPIP_FORWARD) {
    return false;
  }
  if (c.state != ConnState::kAuthenticated || c.close_requested) return false;
  const char* addr = ssh_message_global_request_address(msg);
  int port = ssh_message_global_request_port(msg);
  std::string address = addr != nullptr ? addr : "";
  auto uport = static_cast<uint32_t>(port);
  Touch(c);
  if (subtype == SSH_GLOBAL_REQUEST_TCPIP_FORWARD) {
    Status s = delegate_->OnTcpipForward(c.info, address, uport);
    if (!s.ok() || c.close_requested) return false;
    c.forwards++;
    ssh_message_global_request_reply_success(msg, static_cast<uint16_t>(uport));
    return true;
  }
  Status s = delegate_->OnCancelTcpipForward(c.info, address, uport);
  if (!s.ok()) return false;
  if (c.forwards > 0) c.forwards--;
  UpdateIdle(c);
  ssh_message_global_request_reply_success(msg, 0);
  return true;
}

bool ForwardingServer::Impl::HandleDirectTcpip(Conn& c, ssh_message msg) {
  if (c.state != ConnState::kAuthenticated || c.close_requested || stopping_) {
    return false;
  }
  DirectTcpipRequest req;
  req.bridge = next_bridge_id_++;
  const char* host = ssh_message_channel_request_open_destination(msg);
  const char* orig = ssh_message_channel_request_open_originator(msg);
  req.host = host != nullptr ? host : "";
  req.port = static_cast<uint32_t>(
      ssh_message_channel_request_open_destination_port(msg));
  req.originator = orig != nullptr ? orig : "";
  req.originator_port = static_cast<uint32_t>(
      ssh_message_channel_request_open_originator_port(msg));
  Touch(c);
  Result<BridgeTarget> target = delegate_->OnDirectTcpip(c.info, req);
  if (!target.ok()) return false;
  // Accepted by the delegate: from here on every way out tells it through
  // OnBridgeClosed().
  auto refuse = [&](std::string why, bool answered) {
    BridgeInfo info;
    info.id = req.bridge;
    info.from = c.info.id;
    info.to = target->connection;
    info.request = req;
    info.target = *target;
    info.opened_at = Steady::now();
    BridgeEnd end;
    end.reason = std::move(why);
    delegate_->OnBridgeClosed(info, end);
    return answered;
  };
  auto tit = conns_.find(target->connection);
  if (tit == conns_.end() || tit->second->state != ConnState::kAuthenticated ||
      tit->second->close_requested || tit->second.get() == &c) {
    return refuse("the target connection is gone", false);
  }
  if (c.bridges.size() >= opt_.max_channels_per_connection) {
    return refuse("already " +
                      std::to_string(opt_.max_channels_per_connection) +
                      " channels on this connection",
                  false);
  }
  if (tit->second->bridges.size() >= opt_.max_channels_per_connection) {
    return refuse("the target has " +
                      std::to_string(opt_.max_channels_per_connection) +
                      " channels open",
                  false);
  }
  Conn& t = *tit->second;
  ssh_channel to_channel = ssh_channel_new(t.session.get());
  if (to_channel == nullptr) return refuse("out of memory", false);
  ssh_channel from_channel = ssh_message_channel_request_open_reply_accept(msg);
  if (from_channel == nullptr) {
    ssh_channel_free(to_channel);
    // libssh answered (or the connection is broken).
    return refuse("accepting the channel failed: " +
                      std::string(ssh_get_error(c.session.get())),
                  true);
  }
  auto owned = std::make_unique<Bridge>(opt_.buffer_per_direction);
  Bridge& b = *owned;
  b.info.id = req.bridge;
  b.info.from = c.info.id;
  b.info.to = t.info.id;
  b.info.request = std::move(req);
  b.info.target = std::move(*target);
  b.info.opened_at = Steady::now();
  b.from.bridge = &b;
  b.from.conn = &c;
  b.from.channel = from_channel;
  b.to.bridge = &b;
  b.to.conn = &t;
  b.to.channel = to_channel;
  SetChannelCallbacks(b.from);
  SetChannelCallbacks(b.to);
  c.bridges.push_back(&b);
  t.bridges.push_back(&b);
  bridges_.emplace(b.info.id, std::move(owned));
  stats_.bridges_opened++;
  stats_.bridges_open++;
  Touch(t);
  MarkDirty(b);  // the loop sends the forwarded-tcpip open
  return true;
}

// ---------------------------------------------------------------------------
// Bridges.

void ForwardingServer::Impl::SetChannelCallbacks(Side& s) {
  ssh_callbacks_init(&s.callbacks);
  s.callbacks.userdata = &s;
  s.callbacks.channel_data_function = &Impl::OnData;
  s.callbacks.channel_eof_function = &Impl::OnEof;
  s.callbacks.channel_close_function = &Impl::OnClose;
  ssh_set_channel_callbacks(s.channel, &s.callbacks);
}

int ForwardingServer::Impl::OnData(ssh_session, ssh_channel, void*,
                                   uint32_t len, int is_stderr,
                                   void* userdata) {
  auto* s = static_cast<Side*>(userdata);
  // TCP forwarding channels carry no extended data; drop any.
  if (is_stderr) return static_cast<int>(len);
  // Leave the bytes in libssh's buffer: the loop reads them when there is
  // room, which keeps this callback safe inside nested packet processing
  // and the back-pressure in one place.
  s->rx_pending = true;
  static_cast<Impl*>(s->conn->owner)->MarkDirty(*s->bridge);
  return 0;
}

void ForwardingServer::Impl::OnEof(ssh_session, ssh_channel, void* userdata) {
  auto* s = static_cast<Side*>(userdata);
  s->remote_eof = true;
  static_cast<Impl*>(s->conn->owner)->MarkDirty(*s->bridge);
}

void ForwardingServer::Impl::OnClose(ssh_session, ssh_channel, void* userdata) {
  auto* s = static_cast<Side*>(userdata);
  s->remote_closed = true;
  s->remote_eof = true;
  static_cast<Impl*>(s->conn->owner)->MarkDirty(*s->bridge);
}

void ForwardingServer::Impl::PumpDirty() {
  // Pumping writes to channels, and libssh may process packets meanwhile,
  // which can mark more bridges: take the list as it is, then repeat next
  // round.
  std::vector<BridgeId> ids;
  ids.swap(dirty_);
  for (BridgeId id : ids) {
    auto it = bridges_.find(id);
    if (it == bridges_.end()) continue;
    Bridge& b = *it->second;
    b.dirty = false;
    if (b.state == Bridge::State::kClosing) continue;
    if (Pump(b)) MarkDirty(b);  // more to do: come back after the others
  }
}

void ForwardingServer::Impl::TryOpen(Bridge& b) {
  Conn& t = *b.to.conn;
  Touch(t);
  b.open_sent = true;
  const BridgeTarget& tg = b.info.target;
  int rc = ssh_channel_open_reverse_forward(
      b.to.channel, tg.connected_address.c_str(),
      static_cast<int>(tg.connected_port), tg.originator_address.c_str(),
      static_cast<int>(tg.originator_port));
  if (rc == SSH_AGAIN) return;
  if (rc == SSH_OK) {
    b.state = Bridge::State::kOpen;
    b.target_opened = true;
    delegate_->OnBridgeOpen(b.info);
    return;
  }
  b.open_failed = true;
  if (SessionDown(t)) {
    if (!t.close_requested) RequestClose(t, SessionEndReason(t));
    EndBridge(b, "the target connection ended");
    return;
  }
  EndBridge(b, "the target refused the channel");
}

bool ForwardingServer::Impl::Pump(Bridge& b) {
  if (b.state == Bridge::State::kOpening) {
    TryOpen(b);
    if (b.state == Bridge::State::kClosing) return false;
  }
  Touch(*b.from.conn);
  Touch(*b.to.conn);
  bool more = PumpDirection(b, b.from, b.to, b.to_target, &b.bytes_to_target);
  if (b.state == Bridge::State::kOpen) {
    more |= PumpDirection(b, b.to, b.from, b.to_origin, &b.bytes_from_target);
  }
  if (b.state == Bridge::State::kOpen && FlowDone(b.from, b.to, b.to_target) &&
      FlowDone(b.to, b.from, b.to_origin)) {
    EndBridge(b, "closed");
    return false;
  }
  return more && b.state != Bridge::State::kClosing;
}

bool ForwardingServer::Impl::PumpDirection(Bridge& b, Side& src, Side& dst,
                                           ByteQueue& q, uint64_t* counter) {
  for (int round = 0; round < kPumpRounds; ++round) {
    if (b.state == Bridge::State::kClosing) return false;
    bool progress = false;
    if (src.rx_pending && q.room() > 0) progress |= ReadChannel(b, src, q);
    if (b.state != Bridge::State::kOpen) return false;  // opening: hold it
    if (!q.empty() && !dst.eof_sent && !dst.remote_closed) {
      progress |= WriteChannel(b, dst, q, counter);
    }
    if (src.remote_eof && !src.rx_pending && q.empty() && !dst.eof_sent &&
        !dst.remote_closed && b.state == Bridge::State::kOpen) {
      // SSH_AGAIN only means the EOF is queued, not yet on the socket.
      if (ssh_channel_send_eof(dst.channel) == SSH_ERROR &&
          SessionDown(*dst.conn)) {
        if (!dst.conn->close_requested) {
          RequestClose(*dst.conn, SessionEndReason(*dst.conn));
        }
      }
      dst.eof_sent = true;
      progress = true;
    }
    if (!progress) return false;
  }
  return true;
}

bool ForwardingServer::Impl::ReadChannel(Bridge& b, Side& src, ByteQueue& q) {
  size_t got = 0;
  char* dst = q.PrepareAppend(kChunk, &got);
  auto want = static_cast<uint32_t>(std::min({got, kChunk, q.room()}));
  int n = ssh_channel_read_nonblocking(src.channel, dst, want, 0);
  if (n == SSH_ERROR) {
    src.rx_pending = false;
    if (SessionDown(*src.conn)) {
      if (!src.conn->close_requested) {
        RequestClose(*src.conn, SessionEndReason(*src.conn));
      }
    } else {
      EndBridge(b, "reading a channel failed: " +
                       std::string(ssh_get_error(src.conn->session.get())));
    }
    return false;
  }
  if (n < static_cast<int>(want)) src.rx_pending = false;  // also SSH_EOF
  if (n <= 0) return false;
  q.Commit(static_cast<size_t>(n));
  if (q.size() > stats_.peak_queued.load(std::memory_order_relaxed)) {
    stats_.peak_queued = q.size();
  }
  return true;
}

bool ForwardingServer::Impl::Congested(Conn& c) {
  // libssh queues everything we write in its output buffer and hands it to
  // the socket when poll says it is writable. The buffer is empty exactly
  // when no write is pending; until then, what we wrote minus what the
  // socket took (a slight underestimate: packet overhead) is still queued.
  if (!WritePending(c)) {
    c.queued_since_mark = 0;
    c.out_mark = c.counter.out_bytes;
    return false;
  }
  uint64_t taken = c.counter.out_bytes - c.out_mark;
  uint64_t queued =
      c.queued_since_mark > taken ? c.queued_since_mark - taken : 0;
  return queued >= opt_.max_pending_output;
}

bool ForwardingServer::Impl::WriteChannel(Bridge& b, Side& dst, ByteQueue& q,
                                          uint64_t* counter) {
  Conn& c = *dst.conn;
  if (c.close_requested || Congested(c)) return false;
  uint32_t window = ssh_channel_window_size(dst.channel);
  if (window == 0) return false;
  std::string_view data = q.Front();
  auto len =
      static_cast<uint32_t>(std::min<size_t>({data.size(), window, kChunk}));
  // Within the window, libssh 0.10 queues the whole length and never waits
  // (it returns 0 only during a key re-exchange).
  int n = ssh_channel_write(dst.channel, data.data(), len);
  if (n == SSH_ERROR) {
    if (SessionDown(c)) {
      if (!c.close_requested) RequestClose(c, SessionEndReason(c));
    } else if (ssh_channel_is_closed(dst.channel)) {
      dst.remote_closed = true;
    } else {
      EndBridge(b, "writing a channel failed: " +
                       std::string(ssh_get_error(c.session.get())));
    }
    return false;
  }
  if (n <= 0) return false;
  q.Consume(static_cast<size_t>(n));
  *counter += static_cast<uint64_t>(n);
  c.queued_since_mark += static_cast<uint64_t>(n);
  if (&dst == &b.to) {
    stats_.bytes_to_targets += static_cast<uint64_t>(n);
  } else {
    stats_.bytes_from_targets += static_cast<uint64_t>(n);
  }
  return true;
}

void ForwardingServer::Impl::ReleaseSide(Side& s) {
  if (s.channel == nullptr) return;
  ssh_remove_channel_callbacks(s.channel, &s.callbacks);
  Conn& c = *s.conn;
  Bridge& b = *s.bridge;
  const bool is_target = &s == &b.to;
  const bool was_open = !is_target || b.target_opened;
  if (!SessionDown(c)) {
    if (was_open) {
      // ssh_channel_close() returns early when flushing its EOF would
      // block; the second call sends the CLOSE.
      if (ssh_channel_close(s.channel) == SSH_AGAIN) {
        ssh_channel_close(s.channel);
      }
    } else if (b.open_sent && !b.open_failed && !c.close_requested) {
      // The peer has not answered the open yet; freeing the channel now
      // would leave its end open for good. Close it once it answers.
      c.orphans.push_back(s.channel);
      s.channel = nullptr;
      Touch(c);
      return;
    }
  }
  // A channel never opened (or refused) is freed without a packet.
  ssh_channel_free(s.channel);
  s.channel = nullptr;
  Touch(c);
}

void ForwardingServer::Impl::CollectOrphans(Conn& c) {
  std::vector<ssh_channel> keep;
  for (ssh_channel ch : c.orphans) {
    int rc = ssh_channel_open_reverse_forward(ch, "", 0, "", 0);
    if (rc == SSH_AGAIN && !SessionDown(c)) {
      keep.push_back(ch);
      continue;
    }
    if (rc == SSH_OK && !SessionDown(c)) {
      if (ssh_channel_close(ch) == SSH_AGAIN) ssh_channel_close(ch);
    }
    ssh_channel_free(ch);
  }
  c.orphans = std::move(keep);
}

void ForwardingServer::Impl::DestroyBridge(Bridge& b) {
  b.state = Bridge::State::kClosing;
  ReleaseSide(b.from);
  ReleaseSide(b.to);
  for (Side* s : {&b.from, &b.to}) {
    auto& v = s->conn->bridges;
    v.erase(std::remove(v.begin(), v.end(), &b), v.end());
    UpdateIdle(*s->conn);
  }
  BridgeEnd end;
  end.target_opened = b.target_opened;
  end.bytes_to_target = b.bytes_to_target;
  end.bytes_from_target = b.bytes_from_target;
  end.duration = std::chrono::duration_cast<milliseconds>(Steady::now() -
                                                          b.info.opened_at);
  end.reason = b.close_reason;
  stats_.bridges_open--;
  std::unique_ptr<Bridge> owned = std::move(bridges_[b.info.id]);
  bridges_.erase(b.info.id);
  delegate_->OnBridgeClosed(owned->info, end);
}

ServerStats ForwardingServer::Impl::Stats() const {
  ServerStats s;
  s.connections_accepted = stats_.connections_accepted.load();
  s.connections_refused = stats_.connections_refused.load();
  s.connections_open = stats_.connections_open.load();
  s.connections_unauthenticated = stats_.connections_unauthenticated.load();
  s.auth_failures = stats_.auth_failures.load();
  s.keepalive_timeouts = stats_.keepalive_timeouts.load();
  s.bridges_opened = stats_.bridges_opened.load();
  s.bridges_open = stats_.bridges_open.load();
  s.bytes_to_targets = stats_.bytes_to_targets.load();
  s.bytes_from_targets = stats_.bytes_from_targets.load();
  s.peak_queued = stats_.peak_queued.load();
  return s;
}

// ---------------------------------------------------------------------------

Result<std::unique_ptr<ForwardingServer>> ForwardingServer::Create(
    Options options, ForwardingDelegate* delegate) {
  auto impl = std::make_unique<Impl>(std::move(options), delegate);
  PH_RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<ForwardingServer>(
      new ForwardingServer(std::move(impl)));
}

ForwardingServer::ForwardingServer(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
ForwardingServer::~ForwardingServer() = default;
Status ForwardingServer::Run() { return impl_->Run(); }
void ForwardingServer::Stop() { impl_->Stop(); }
void ForwardingServer::Wake() { impl_->Wake(); }
ServerStats ForwardingServer::stats() const { return impl_->Stats(); }
void ForwardingServer::Disconnect(ConnectionId id, std::string_view reason) {
  impl_->Disconnect(id, reason);
}
void ForwardingServer::CloseBridge(BridgeId id, std::string_view reason) {
  impl_->CloseBridge(id, reason);
}
void ForwardingServer::WakeAt(std::optional<SteadyTime> when) {
  impl_->WakeAt(when);
}
const ConnectionInfo* ForwardingServer::connection(ConnectionId id) const {
  return impl_->Connection(id);
}

}  // namespace porthole::ssh
