// The reverse tunnel against real components: a root OpenSSH sshd as the
// relay (RelaySshd), local targets behind the tunnel (a TCP echo server,
// socketpairs, a spawned `sshd -i` on pipes), and the operator connecting to
// the forwarded port on the relay's loopback (plain sockets, and a real `ssh`
// client). One test uses a libssh server as a misbehaving relay, which
// OpenSSH cannot be made to be.
#include "core/ssh/reverse_tunnel.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <libssh/libssh.h>
#include <libssh/server.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/base/file.h"
#include "core/base/subprocess.h"
#include "core/base/test_util.h"
#include "core/crypto/digest.h"
#include "core/keys/test_keys.h"
#include "core/ssh/relay_sshd_for_test.h"

extern char** environ;

namespace porthole::ssh {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

constexpr std::string_view kEofMarker = "<eof>";
const std::string kRelayKeyOptions =
    "restrict,port-forwarding,permitlisten=\"127.0.0.1:*\" ";

UniqueFd ConnectTcp(uint16_t port) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ADD_FAILURE() << "connect 127.0.0.1:" << port << ": " << strerror(errno);
    return UniqueFd();
  }
  return fd;
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Writes `data` and reads at the same time (the peer may echo), then
// half-closes and reads until EOF. Gives up at `timeout`.
std::string Exchange(int fd, std::string_view data,
                     std::chrono::milliseconds timeout = 30s) {
  auto deadline = Steady::now() + timeout;
  std::string got;
  bool shut = false;
  char buf[65536];
  for (;;) {
    if (data.empty() && !shut) {
      shutdown(fd, SHUT_WR);
      shut = true;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - Steady::now());
    if (left.count() <= 0) {
      ADD_FAILURE() << "exchange timed out with " << data.size()
                    << " bytes unsent, " << got.size() << " received";
      return got;
    }
    struct pollfd p = {fd, static_cast<short>(POLLIN | (shut ? 0 : POLLOUT)),
                       0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    if (p.revents & POLLOUT) {
      ssize_t n = send(fd, data.data(), std::min<size_t>(data.size(), 65536),
                       MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) data.remove_prefix(static_cast<size_t>(n));
    }
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        if (!data.empty()) ADD_FAILURE() << "peer closed before all was sent";
        return got;
      }
      if (n > 0) got.append(buf, static_cast<size_t>(n));
    }
  }
}

std::string ReadUntilEof(int fd, std::chrono::milliseconds timeout = 30s) {
  auto deadline = Steady::now() + timeout;
  std::string got;
  char buf[65536];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - Steady::now());
    struct pollfd p = {fd, POLLIN, 0};
    if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      ADD_FAILURE() << "no EOF before the deadline; got " << got.size();
      return got;
    }
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return got;
    got.append(buf, static_cast<size_t>(n));
  }
}

// A TCP socket listening on 127.0.0.1 at a port the kernel picks (stored in
// `*port`). Aborts on failure: the test cannot run without it.
UniqueFd ListenLoopback(int backlog, uint16_t* port) {
  UniqueFd fd = BindLoopback(port);
  if (listen(fd.get(), backlog) != 0) std::abort();
  return fd;
}

// CPU time this process uses during `wall` of doing nothing itself.
// A TCP echo service: echoes until EOF, then writes kEofMarker and closes.
// Pause() stops it reading (a slow consumer).
class EchoServer {
 public:
  EchoServer() {
    listen_ = ListenLoopback(64, &port_);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }
  ~EchoServer() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      for (int fd : open_) shutdown(fd, SHUT_RDWR);
    }
    cv_.notify_all();
    shutdown(listen_.get(), SHUT_RDWR);
    acceptor_.join();
    for (auto& t : workers_) t.join();
  }

  void Pause(bool paused) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      paused_ = paused;
    }
    cv_.notify_all();
  }

  // Connects a fresh TCP socket to the service, as target_host mode does.
  ChannelHandler Handler() {
    return [this](const ForwardedConnection&) -> Result<LocalStream> {
      UniqueFd fd = ConnectTcp(port_);
      if (!fd.valid()) return Status::Unavailable("echo connect failed");
      return LocalStream::Duplex(std::move(fd));
    };
  }

 private:
  void AcceptLoop() {
    for (;;) {
      int fd = accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC);
      std::lock_guard<std::mutex> lock(mu_);
      if (fd < 0) {
        if (stopping_) return;
        continue;
      }
      if (stopping_) {
        close(fd);
        return;
      }
      open_.insert(fd);
      workers_.emplace_back([this, fd] { Serve(fd); });
    }
  }
  void Serve(int fd) {
    char buf[65536];
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return !paused_ || stopping_; });
      }
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        if (n == 0) WriteAll(fd, kEofMarker);
        break;
      }
      if (!WriteAll(fd, std::string_view(buf, static_cast<size_t>(n)))) break;
    }
    std::lock_guard<std::mutex> lock(mu_);
    open_.erase(fd);
    close(fd);
  }

  UniqueFd listen_;
  uint16_t port_ = 0;
  std::thread acceptor_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool paused_ = false, stopping_ = false;
  std::set<int> open_;
  std::vector<std::thread> workers_;
};

// Runs ReverseTunnel::Run on its own thread; the destructor stops and joins
// it, so a failed assertion never leaves it running.
class TunnelRunner {
 public:
  explicit TunnelRunner(ReverseTunnel* tunnel, RunOptions options = {})
      : stop_(eventfd(0, EFD_CLOEXEC)) {
    options.stop_fd = stop_.get();
    future_ = std::async(std::launch::async,
                         [tunnel, options] { return tunnel->Run(options); });
  }
  ~TunnelRunner() {
    if (future_.valid()) {
      Stop();
      future_.wait();
    }
  }
  void Stop() {
    uint64_t one = 1;
    ssize_t ignored = write(stop_.get(), &one, sizeof one);
    (void)ignored;
  }
  // Run's result if it ends within `timeout`.
  std::optional<RunEnd> WaitEnd(std::chrono::milliseconds timeout) {
    if (future_.wait_for(timeout) != std::future_status::ready) {
      return std::nullopt;
    }
    return future_.get();
  }

 private:
  UniqueFd stop_;
  std::future<RunEnd> future_;
};

// Copies of the tunnel's stats taken on its own thread (from on_tick).
struct StatsProbe {
  RunOptions Options(ReverseTunnel* tunnel) {
    RunOptions o;
    o.tick_interval = 20ms;
    o.on_tick = [this, tunnel] {
      std::lock_guard<std::mutex> lock(mu);
      last = tunnel->stats();
      return TickAction::kContinue;
    };
    return o;
  }
  TunnelStats Get() {
    std::lock_guard<std::mutex> lock(mu);
    return last;
  }
  std::mutex mu;
  TunnelStats last;
};

class ReverseTunnelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<PrivateKey> key = PrivateKey::GenerateEd25519("device");
    ASSERT_TRUE(key.ok()) << key.status().message();
    device_key_.emplace(std::move(*key));
  }

  void StartRelay(const std::string& options = kRelayKeyOptions,
                  bool ipv6 = false) {
    Result<std::unique_ptr<RelaySshd>> relay =
        RelaySshd::Start(options + device_key_->PublicKeyLine() + "\n", ipv6);
    ASSERT_TRUE(relay.ok()) << relay.status().message();
    relay_ = std::move(*relay);
  }

  TunnelConfig Config() {
    TunnelConfig c;
    c.host = "127.0.0.1";
    c.port = relay_->port();
    c.user = "root";
    c.device_key = &*device_key_;
    c.relay_host_key = relay_->host_key_line();
    c.reverse_port = 0;
    c.handler = echo_.Handler();
    return c;
  }

  std::optional<PrivateKey> device_key_;
  std::unique_ptr<RelaySshd> relay_;
  EchoServer echo_;
};

#define ASSERT_CONNECTS(tunnel)                                              \
  do {                                                                       \
    Error e_ = (tunnel).Connect();                                           \
    ASSERT_TRUE(e_.ok()) << ErrorCodeName(e_.code()) << ": " << e_.message() \
                         << "\n--- relay log:\n"                             \
                         << relay_->Log();                                   \
  } while (0)

TEST_F(ReverseTunnelTest, OneMebibyteRoundTripsIntact) {
  StartRelay();
  ReverseTunnel tunnel(Config());
  ASSERT_CONNECTS(tunnel);
  ASSERT_NE(tunnel.bound_port(), 0);
  std::string data = RandomBytes(1 << 20, 1);
  {
    TunnelRunner runner(&tunnel);
    UniqueFd op = ConnectTcp(tunnel.bound_port());
    ASSERT_TRUE(op.valid());
    std::string got = Exchange(op.get(), data);
    EXPECT_EQ(got.size(), data.size() + kEofMarker.size());
    EXPECT_TRUE(got == data + std::string(kEofMarker)) << "content differs";
    runner.Stop();
    std::optional<RunEnd> end = runner.WaitEnd(5s);
    ASSERT_TRUE(end.has_value());
    EXPECT_EQ(end->reason, EndReason::kStopped) << end->detail;
  }
  TunnelStats s = tunnel.stats();
  EXPECT_EQ(s.channels_accepted, 1u);
  EXPECT_EQ(s.channels_refused, 0u);
  EXPECT_EQ(s.open_channels, 0u);
  EXPECT_EQ(s.bytes_to_local, data.size());
  EXPECT_EQ(s.bytes_to_relay, data.size() + kEofMarker.size());
  EXPECT_LE(s.peak_buffered_to_local, kMaxBufferPerDirection);
  EXPECT_LE(s.peak_buffered_to_relay, kMaxBufferPerDirection);
}

size_t OpenDescriptors() {
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    (void)e;
    ++n;
  }
  return n;
}

// The relay socket carries the liveness options and is not inherited by
// children; and nothing the tunnel opened outlives it.
TEST_F(ReverseTunnelTest, RelaySocketOptionsAndNoDescriptorLeak) {
  StartRelay();
  size_t before = OpenDescriptors();
  std::vector<std::thread> targets;
  TunnelConfig config = Config();
  config.handler = [&](const ForwardedConnection&) -> Result<LocalStream> {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
      return PosixError("socketpair", errno);
    }
    targets.emplace_back([fd = sv[1]] {
      UniqueFd own(fd);
      std::string got = ReadUntilEof(fd);
      WriteAll(fd, got + std::string(kEofMarker));
    });
    return LocalStream::Duplex(UniqueFd(sv[0]));
  };
  {
    ReverseTunnel tunnel(std::move(config));
    ASSERT_CONNECTS(tunnel);
    int relay_fd = -1;
    for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
      int fd = std::stoi(e.path().filename().string());
      sockaddr_in peer{};
      socklen_t len = sizeof peer;
      if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) == 0 &&
          peer.sin_family == AF_INET &&
          ntohs(peer.sin_port) == relay_->port()) {
        relay_fd = fd;
      }
    }
    ASSERT_GE(relay_fd, 0);
    int keepalive = 0, idle = 0;
    unsigned int user_timeout = 0;
    socklen_t len = sizeof keepalive;
    getsockopt(relay_fd, SOL_SOCKET, SO_KEEPALIVE, &keepalive, &len);
    len = sizeof idle;
    getsockopt(relay_fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, &len);
    len = sizeof user_timeout;
    getsockopt(relay_fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, &len);
    EXPECT_EQ(keepalive, 1);
    EXPECT_EQ(idle, 2);
    EXPECT_EQ(user_timeout, 24000u);  // 3 link timeouts: a lossy link's stall
    EXPECT_TRUE(fcntl(relay_fd, F_GETFD) & FD_CLOEXEC);

    TunnelRunner runner(&tunnel);
    for (int i = 0; i < 5; ++i) {
      UniqueFd op = ConnectTcp(tunnel.bound_port());
      EXPECT_EQ(Exchange(op.get(), "n"), "n" + std::string(kEofMarker));
    }
    runner.Stop();
    ASSERT_TRUE(runner.WaitEnd(5s).has_value());
    tunnel.Disconnect("done");
  }
  for (auto& t : targets) t.join();
  EXPECT_EQ(OpenDescriptors(), before);
}

TEST_F(ReverseTunnelTest, TenParallelConnections) {
  StartRelay();
  ReverseTunnel tunnel(Config());
  ASSERT_CONNECTS(tunnel);
  {
    TunnelRunner runner(&tunnel);
    std::vector<std::string> sent(10), got(10);
    std::vector<std::thread> ops;
    for (int i = 0; i < 10; ++i) {
      sent[i] = RandomBytes(300 * 1024 + i, 100 + i);
      ops.emplace_back([&, i] {
        UniqueFd op = ConnectTcp(tunnel.bound_port());
        if (op.valid()) got[i] = Exchange(op.get(), sent[i]);
      });
    }
    for (auto& t : ops) t.join();
    for (int i = 0; i < 10; ++i) {
      EXPECT_TRUE(got[i] == sent[i] + std::string(kEofMarker))
          << "connection " << i << ": " << got[i].size() << " bytes";
    }
  }
  EXPECT_EQ(tunnel.stats().channels_accepted, 10u);
}

// Operator EOF reaches the device while the device can still answer, and
// device EOF reaches the operator while the operator can still send.
TEST_F(ReverseTunnelTest, HalfClosePropagatesBothWays) {
  StartRelay();
  std::promise<std::string> device_received;
  std::thread device;
  TunnelConfig config = Config();
  config.handler = [&](const ForwardedConnection&) -> Result<LocalStream> {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
      return PosixError("socketpair", errno);
    }
    device = std::thread([fd = sv[1], &device_received] {
      UniqueFd own(fd);
      WriteAll(fd, "hello from the device");
      shutdown(fd, SHUT_WR);
      device_received.set_value(ReadUntilEof(fd));
    });
    return LocalStream::Duplex(UniqueFd(sv[0]));
  };
  ReverseTunnel tunnel(std::move(config));
  ASSERT_CONNECTS(tunnel);
  {
    TunnelRunner runner(&tunnel);
    // 1. The device's EOF arrives while the operator's side is still open.
    UniqueFd op = ConnectTcp(tunnel.bound_port());
    ASSERT_TRUE(op.valid());
    EXPECT_EQ(ReadUntilEof(op.get()), "hello from the device");
    // 2. The operator still sends, then EOF; the device sees both.
    ASSERT_TRUE(WriteAll(op.get(), "late data"));
    shutdown(op.get(), SHUT_WR);
    std::future<std::string> f = device_received.get_future();
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(f.get(), "late data");
  }
  if (device.joinable()) device.join();
}

TEST_F(ReverseTunnelTest, OnCloseRunsOnceWhenTheConnectionEnds) {
  StartRelay();
  std::promise<void> closed;
  std::atomic<int> calls{0};
  std::thread device;
  TunnelConfig config = Config();
  config.handler = [&](const ForwardedConnection&) -> Result<LocalStream> {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
      return PosixError("socketpair", errno);
    }
    device = std::thread([fd = sv[1]] {
      UniqueFd own(fd);
      WriteAll(fd, "bye");
      shutdown(fd, SHUT_WR);
      ReadUntilEof(fd);
    });
    return LocalStream::Duplex(UniqueFd(sv[0])).OnClose([&] {
      if (calls.fetch_add(1) == 0) closed.set_value();
    });
  };
  ReverseTunnel tunnel(std::move(config));
  ASSERT_CONNECTS(tunnel);
  {
    TunnelRunner runner(&tunnel);
    UniqueFd op = ConnectTcp(tunnel.bound_port());
    ASSERT_TRUE(op.valid());
    EXPECT_EQ(ReadUntilEof(op.get()), "bye");
    EXPECT_EQ(calls.load(), 0);  // half-closed: still open
    op.reset();
    ASSERT_EQ(closed.get_future().wait_for(10s), std::future_status::ready);
  }
  if (device.joinable()) device.join();
  EXPECT_EQ(calls.load(), 1);
}

TEST_F(ReverseTunnelTest, OperatorEofReachesDeviceFirst) {
  StartRelay();
  ReverseTunnel tunnel(Config());
  ASSERT_CONNECTS(tunnel);
  TunnelRunner runner(&tunnel);
  UniqueFd op = ConnectTcp(tunnel.bound_port());
  ASSERT_TRUE(WriteAll(op.get(), "ping"));
  shutdown(op.get(), SHUT_WR);
  // The echo service writes the marker only after it has seen EOF.
  EXPECT_EQ(ReadUntilEof(op.get()), "ping" + std::string(kEofMarker));
}

TEST_F(ReverseTunnelTest, PinnedKeyCommentIsIgnored) {
  StartRelay();
  TunnelConfig config = Config();
  std::string line = relay_->host_key_line();
  config.relay_host_key = line.substr(0, line.rfind(' ')) + " another comment";
  ReverseTunnel tunnel(std::move(config));
  ASSERT_CONNECTS(tunnel);
}

TEST_F(ReverseTunnelTest, WrongHostKeyIsNamedAndNoAuthIsAttempted) {
  StartRelay();
  Result<PrivateKey> other = PrivateKey::GenerateEd25519("impostor");
  ASSERT_TRUE(other.ok());
  TunnelConfig config = Config();
  config.relay_host_key = other->PublicKeyLine();
  ReverseTunnel tunnel(std::move(config));
  Error e = tunnel.Connect();
  EXPECT_EQ(e.code(), ErrorCode::kHostKeyMismatch) << e.message();
  Result<keys::PublicKey> relay_key =
      keys::ParsePublicKeyLine(relay_->host_key_line());
  ASSERT_TRUE(relay_key.ok());
  EXPECT_EQ(e.message(), "relay 127.0.0.1:" + std::to_string(relay_->port()) +
                             ": host key mismatch: relay offered ED25519 " +
                             relay_key->Fingerprint() + ", pinned ED25519 " +
                             other->public_key().Fingerprint());
  // The relay saw the connection end before any authentication.
  ASSERT_TRUE(relay_->WaitForLog(":11: host-key-mismatch [preauth]"))
      << relay_->Log();
  std::string log = relay_->Log();
  EXPECT_EQ(log.find("publickey"), std::string::npos) << log;
  EXPECT_EQ(log.find("Accepted key"), std::string::npos) << log;
  EXPECT_NE(log.find("[preauth]"), std::string::npos) << log;
}

TEST_F(ReverseTunnelTest, PinnedKeyOfAnotherTypeIsAMismatch) {
  StartRelay();
  VarLibTempDir dir;
  TunnelConfig config = Config();
  config.relay_host_key = keys::MakeTestKey(dir.path(), "rsa", "rsa");
  ReverseTunnel tunnel(std::move(config));
  Error e = tunnel.Connect();
  EXPECT_EQ(e.code(), ErrorCode::kHostKeyMismatch) << e.message();
  EXPECT_NE(e.message().find("no host key of the pinned type RSA"),
            std::string::npos)
      << e.message();
}

TEST_F(ReverseTunnelTest, UnauthorizedDeviceKeyIsNamed) {
  Result<PrivateKey> someone = PrivateKey::GenerateEd25519("someone else");
  ASSERT_TRUE(someone.ok());
  // The relay trusts another key only.
  Result<std::unique_ptr<RelaySshd>> relay =
      RelaySshd::Start(kRelayKeyOptions + someone->PublicKeyLine() + "\n");
  ASSERT_TRUE(relay.ok()) << relay.status().message();
  relay_ = std::move(*relay);
  ReverseTunnel tunnel(Config());
  Error e = tunnel.Connect();
  EXPECT_EQ(e.code(), ErrorCode::kAuthDenied) << e.message();
  EXPECT_EQ(e.message(), "relay 127.0.0.1:" + std::to_string(relay_->port()) +
                             ": the device key ED25519 " +
                             device_key_->public_key().Fingerprint() +
                             " was refused for user 'root'");
}

TEST_F(ReverseTunnelTest, ExactPortAllowedOtherPortRefused) {
  // The port is free when picked; another test running in parallel may
  // bind it before sshd does (the forward is then refused): pick again.
  uint16_t allowed = 0;
  for (int attempt = 0; attempt < 5 && allowed == 0; ++attempt) {
    uint16_t port = PickFreePort();
    StartRelay("restrict,port-forwarding,permitlisten=\"127.0.0.1:" +
               std::to_string(port) + "\" ");
    TunnelConfig config = Config();
    config.reverse_port = port;
    ReverseTunnel tunnel(std::move(config));
    Error e = tunnel.Connect();
    if (e.code() == ErrorCode::kForwardRefused) continue;
    ASSERT_TRUE(e.ok()) << e.message() << "\n--- relay log:\n" << relay_->Log();
    allowed = port;
    EXPECT_EQ(tunnel.bound_port(), allowed);
    TunnelRunner runner(&tunnel);
    UniqueFd op = ConnectTcp(allowed);
    EXPECT_EQ(Exchange(op.get(), "x"), "x" + std::string(kEofMarker));
  }
  ASSERT_NE(allowed, 0) << "five free ports were all taken before sshd bound";
  uint16_t other = allowed == 65535 ? allowed - 1 : allowed + 1;
  TunnelConfig config = Config();
  config.reverse_port = other;
  ReverseTunnel tunnel(std::move(config));
  Error e = tunnel.Connect();
  EXPECT_EQ(e.code(), ErrorCode::kForwardRefused) << e.message();
  EXPECT_EQ(e.message(), "relay 127.0.0.1:" + std::to_string(relay_->port()) +
                             ": tcpip-forward 127.0.0.1:" +
                             std::to_string(other) + " refused");
}

TEST_F(ReverseTunnelTest, RelayKilledEndsRunPromptly) {
  StartRelay();
  ReverseTunnel tunnel(Config());
  ASSERT_CONNECTS(tunnel);
  TunnelRunner runner(&tunnel);
  UniqueFd op = ConnectTcp(tunnel.bound_port());
  ASSERT_TRUE(WriteAll(op.get(), "open connection"));
  auto t0 = Steady::now();
  relay_->Kill();
  std::optional<RunEnd> end = runner.WaitEnd(5s);
  ASSERT_TRUE(end.has_value()) << "Run did not end after the relay died";
  EXPECT_EQ(end->reason, EndReason::kRelayClosed) << end->detail;
  EXPECT_LT(Steady::now() - t0, 3s);
  EXPECT_EQ(tunnel.stats().open_channels, 0u);
}

TEST_F(ReverseTunnelTest, OwnerStopThenDisconnectWithReason) {
  StartRelay();
  ReverseTunnel tunnel(Config());
  ASSERT_CONNECTS(tunnel);
  TunnelRunner runner(&tunnel);
  UniqueFd op = ConnectTcp(tunnel.bound_port());
  EXPECT_EQ(Exchange(op.get(), "hi"), "hi" + std::string(kEofMarker));
  auto t0 = Steady::now();
  runner.Stop();
  std::optional<RunEnd> end = runner.WaitEnd(2s);
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->reason, EndReason::kStopped);
  EXPECT_LT(Steady::now() - t0, 1s);
  tunnel.Disconnect("disconnect, session not valid");
  tunnel.Disconnect("again");  // idempotent
  EXPECT_TRUE(relay_->WaitForLog(":11: disconnect, session not valid"))
      << relay_->Log();
}

TEST_F(ReverseTunnelTest, TickCallbackCanStop) {
  StartRelay();
  ReverseTunnel tunnel(Config());
  ASSERT_CONNECTS(tunnel);
  int ticks = 0;
  RunOptions options;
  options.tick_interval = 50ms;
  options.on_tick = [&] {
    return ++ticks == 3 ? TickAction::kStop : TickAction::kContinue;
  };
  auto t0 = Steady::now();
  RunEnd end = tunnel.Run(options);
  EXPECT_EQ(end.reason, EndReason::kStopped);
  EXPECT_EQ(end.detail, "stopped by the tick callback");
  EXPECT_EQ(ticks, 3);
  EXPECT_GE(Steady::now() - t0, 150ms);
  EXPECT_LT(Steady::now() - t0, 2s);
}

// A TCP relay between the tunnel and sshd that can go silent without
// closing anything: a link that died somewhere on the path.
class FreezableProxy {
 public:
  explicit FreezableProxy(uint16_t target) : target_(target) {
    listen_ = ListenLoopback(1, &port_);
    wake_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    thread_ = std::thread([this] { Loop(); });
  }
  ~FreezableProxy() {
    stop_ = true;
    Wake();
    thread_.join();
  }
  uint16_t port() const { return port_; }
  void Freeze() {
    frozen_ = true;
    Wake();
  }

 private:
  void Wake() {
    uint64_t one = 1;
    ssize_t ignored = write(wake_.get(), &one, sizeof one);
    (void)ignored;
  }
  void Loop() {
    struct pollfd lp[2] = {{listen_.get(), POLLIN, 0},
                           {wake_.get(), POLLIN, 0}};
    poll(lp, 2, -1);
    if (stop_) return;
    UniqueFd a(accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    UniqueFd b = ConnectTcp(target_);
    char buf[16384];
    while (!stop_) {
      struct pollfd p[3] = {
          {wake_.get(), POLLIN, 0}, {a.get(), POLLIN, 0}, {b.get(), POLLIN, 0}};
      int n = poll(p, frozen_ ? 1 : 3, -1);
      if (n <= 0) continue;
      if (p[0].revents) {
        uint64_t v;
        ssize_t ignored = read(wake_.get(), &v, sizeof v);
        (void)ignored;
        continue;
      }
      for (int i = 1; i <= 2; ++i) {
        if (!p[i].revents) continue;
        ssize_t r = recv(p[i].fd, buf, sizeof buf, 0);
        if (r <= 0) return;
        if (!WriteAll(i == 1 ? b.get() : a.get(),
                      std::string_view(buf, static_cast<size_t>(r)))) {
          return;
        }
      }
    }
  }

  uint16_t target_, port_ = 0;
  UniqueFd listen_, wake_;
  std::atomic<bool> frozen_{false}, stop_{false};
  std::thread thread_;
};

TEST_F(ReverseTunnelTest, SilentLinkIsDetectedAsDeadWithinTenSeconds) {
  StartRelay();
  FreezableProxy proxy(relay_->port());
  TunnelConfig config = Config();
  config.port = proxy.port();
  ReverseTunnel tunnel(std::move(config));
  ASSERT_CONNECTS(tunnel);
  TunnelRunner runner(&tunnel);
  UniqueFd op = ConnectTcp(tunnel.bound_port());
  EXPECT_EQ(Exchange(op.get(), "alive"), "alive" + std::string(kEofMarker));
  // Healthy and idle: keepalives keep it up past one link_timeout, without
  // the loop spinning.
  EXPECT_LT(CpuSecondsDuring(1s), 0.1);
  EXPECT_FALSE(runner.WaitEnd(8s).has_value()) << "idle link declared dead";
  proxy.Freeze();
  auto t0 = Steady::now();
  std::optional<RunEnd> end = runner.WaitEnd(15s);
  ASSERT_TRUE(end.has_value()) << "dead link not detected";
  auto took = Steady::now() - t0;
  EXPECT_EQ(end->reason, EndReason::kLinkDead) << end->detail;
  RecordProperty(
      "detection_ms",
      static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
  EXPECT_GE(took, 5s);
  EXPECT_LE(took, 10s);
}

// Wait until writes to `fd` have made no progress for `quiet`; returns the
// number of bytes written.
size_t WriteUntilStalled(int fd, std::string* sent, uint64_t seed,
                         std::chrono::milliseconds quiet) {
  std::mt19937_64 rng(seed);
  std::string chunk(65536, '\0');
  size_t total = 0;
  for (;;) {
    for (char& c : chunk) c = static_cast<char>(rng());
    size_t off = 0;
    while (off < chunk.size()) {
      struct pollfd p = {fd, POLLOUT, 0};
      if (poll(&p, 1, static_cast<int>(quiet.count())) == 0) {
        sent->append(chunk, 0, off);
        return total;
      }
      ssize_t n = send(fd, chunk.data() + off, chunk.size() - off,
                       MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        off += static_cast<size_t>(n);
        total += static_cast<size_t>(n);
      } else if (n < 0 && errno != EAGAIN) {
        ADD_FAILURE() << "send: " << strerror(errno);
        return total;
      }
    }
    sent->append(chunk);
    if (total > (256u << 20)) {
      ADD_FAILURE() << "256 MiB accepted without back-pressure";
      return total;
    }
  }
}

TEST_F(ReverseTunnelTest, SlowConsumersHoldBuffersAtTheBound) {
  StartRelay();
  ReverseTunnel tunnel(Config());
  ASSERT_CONNECTS(tunnel);
  StatsProbe probe;
  TunnelRunner runner(&tunnel, probe.Options(&tunnel));
  UniqueFd op = ConnectTcp(tunnel.bound_port());

  // 1. The device-side consumer stops reading: the operator's writes stall.
  echo_.Pause(true);
  std::string sent;
  size_t accepted = WriteUntilStalled(op.get(), &sent, 7, 500ms);
  TunnelStats s = probe.Get();
  EXPECT_EQ(s.open_channels, 1u);
  EXPECT_EQ(s.buffered_to_local, kMaxBufferPerDirection)
      << "the tunnel's buffer should be full and no fuller";
  EXPECT_LE(s.peak_buffered_to_local, kMaxBufferPerDirection);
  // Everything in flight: kernel socket buffers, sshd's channel window,
  // libssh's fixed window, and ours. Bounded, and far below "unbounded".
  EXPECT_LT(accepted, 48u << 20) << accepted;
  RecordProperty("bytes_in_flight_when_stalled", static_cast<int>(accepted));
  // Stalled is idle: the loop waits in poll, it does not spin.
  EXPECT_LT(CpuSecondsDuring(1s), 0.1);

  // 2. The consumer reads again but the operator does not: echoed bytes pile
  // up toward the operator and stall in the same way.
  echo_.Pause(false);
  std::string more;
  WriteUntilStalled(op.get(), &more, 8, 1000ms);
  sent += more;
  s = probe.Get();
  EXPECT_LE(s.peak_buffered_to_relay, kMaxBufferPerDirection);
  EXPECT_GT(s.peak_buffered_to_relay, 0u);

  // 3. Everything arrives intact once both sides read.
  std::string got = Exchange(op.get(), "", 60s);
  EXPECT_EQ(got.size(), sent.size() + kEofMarker.size());
  EXPECT_TRUE(got == sent + std::string(kEofMarker)) << "content differs";
  s = probe.Get();
  EXPECT_LE(s.peak_buffered_to_local, kMaxBufferPerDirection);
  EXPECT_LE(s.peak_buffered_to_relay, kMaxBufferPerDirection);
}

TEST_F(ReverseTunnelTest, HandlerErrorRefusesTheChannel) {
  StartRelay();
  TunnelConfig config = Config();
  int calls = 0;
  config.handler = [&](const ForwardedConnection& from) -> Result<LocalStream> {
    ++calls;
    EXPECT_EQ(from.originator, "127.0.0.1");
    EXPECT_NE(from.originator_port, 0);
    return Status::Unavailable("target down");
  };
  ReverseTunnel tunnel(std::move(config));
  ASSERT_CONNECTS(tunnel);
  {
    TunnelRunner runner(&tunnel);
    UniqueFd op = ConnectTcp(tunnel.bound_port());
    EXPECT_EQ(ReadUntilEof(op.get(), 10s), "");
  }
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(tunnel.stats().channels_refused, 1u);
  EXPECT_EQ(tunnel.stats().channels_accepted, 0u);
}

TEST_F(ReverseTunnelTest, ConnectionsOverTheLimitAreRefused) {
  StartRelay();
  TunnelConfig config = Config();
  config.max_channels = 1;
  ReverseTunnel tunnel(std::move(config));
  ASSERT_CONNECTS(tunnel);
  StatsProbe probe;
  TunnelRunner runner(&tunnel, probe.Options(&tunnel));
  UniqueFd first = ConnectTcp(tunnel.bound_port());
  ASSERT_TRUE(WriteAll(first.get(), "a"));
  char c;
  ASSERT_EQ(recv(first.get(), &c, 1, 0), 1);  // echoed: the channel is open
  UniqueFd second = ConnectTcp(tunnel.bound_port());
  EXPECT_EQ(ReadUntilEof(second.get(), 10s), "");  // refused: closed at once
  EXPECT_EQ(Exchange(first.get(), "b"), "b" + std::string(kEofMarker));
  UniqueFd third = ConnectTcp(tunnel.bound_port());  // room again
  EXPECT_EQ(Exchange(third.get(), "c"), "c" + std::string(kEofMarker));
  runner.Stop();
  ASSERT_TRUE(runner.WaitEnd(5s).has_value());
  EXPECT_EQ(tunnel.stats().channels_refused, 1u);
  EXPECT_EQ(tunnel.stats().channels_accepted, 2u);
}

TEST_F(ReverseTunnelTest, Ipv6LiteralRelay) {
  StartRelay(kRelayKeyOptions, /*ipv6=*/true);
  for (std::string host : {"::1", "[::1]"}) {
    TunnelConfig config = Config();
    config.host = host;
    ReverseTunnel tunnel(std::move(config));
    ASSERT_CONNECTS(tunnel);
    TunnelRunner runner(&tunnel);
    UniqueFd op = ConnectTcp(tunnel.bound_port());
    EXPECT_EQ(Exchange(op.get(), "v6"), "v6" + std::string(kEofMarker));
  }
  EXPECT_TRUE(relay_->WaitForLog("Connection from ::1")) << relay_->Log();
}

TEST_F(ReverseTunnelTest, ConnectFailuresAreNamed) {
  StartRelay();
  {
    TunnelConfig config = Config();
    // Bound, never listening: a connect is refused, and no test running in
    // parallel can take the port meanwhile.
    UniqueFd bound = BindLoopback(&config.port);
    ReverseTunnel tunnel(std::move(config));
    Error e = tunnel.Connect();
    EXPECT_EQ(e.code(), ErrorCode::kConnectFailed) << e.message();
  }
  {
    TunnelConfig config = Config();
    config.handler = nullptr;
    ReverseTunnel tunnel(std::move(config));
    EXPECT_EQ(tunnel.Connect().code(), ErrorCode::kBadConfig);
  }
  {
    TunnelConfig config = Config();
    config.relay_host_key = "ssh-ed25519 notbase64!";
    ReverseTunnel tunnel(std::move(config));
    EXPECT_EQ(tunnel.Connect().code(), ErrorCode::kBadConfig);
  }
  {
    TunnelConfig config = Config();
    config.buffer_per_direction = kMaxBufferPerDirection + 1;
    ReverseTunnel tunnel(std::move(config));
    EXPECT_EQ(tunnel.Connect().code(), ErrorCode::kBadConfig);
  }
}

// The whole path with real OpenSSH at both ends: an operator's `ssh` logs in
// through the relay and the tunnel to an `sshd -i` the handler spawns on
// pipes (the spawned_sshd shape without a listening port).
TEST_F(ReverseTunnelTest, RealSshClientReachesSpawnedSshdOverPipes) {
  StartRelay();
  VarLibTempDir dev;
  Result<PrivateKey> host_key = PrivateKey::LoadOrCreate(dev.Join("host_key"));
  ASSERT_TRUE(host_key.ok()) << host_key.status().message();
  std::string operator_pub = keys::MakeTestKey(dev.path(), "operator");
  ASSERT_TRUE(
      AtomicReplace(dev.Join("authorized_keys"), operator_pub + "\n").ok());
  ASSERT_TRUE(AtomicReplace(dev.Join("sshd_config"),
                            "HostKey " + dev.Join("host_key") +
                                "\nAuthorizedKeysFile " +
                                dev.Join("authorized_keys") +
                                "\nPermitRootLogin prohibit-password\n"
                                "PasswordAuthentication no\n"
                                "KbdInteractiveAuthentication no\n"
                                "UsePAM no\nPidFile none\nLogLevel VERBOSE\n")
                  .ok());
  std::mutex mu;
  std::vector<pid_t> children;
  TunnelConfig config = Config();
  config.handler = [&](const ForwardedConnection&) -> Result<LocalStream> {
    int to_child[2], from_child[2];
    if (pipe2(to_child, O_CLOEXEC) != 0) return PosixError("pipe", errno);
    UniqueFd to_r(to_child[0]), to_w(to_child[1]);
    if (pipe2(from_child, O_CLOEXEC) != 0) return PosixError("pipe", errno);
    UniqueFd from_r(from_child[0]), from_w(from_child[1]);
    std::vector<std::string> argv = SshdNamespaceArgv(
        "-i -E " + dev.Join("sshd.log") + " -f " + dev.Join("sshd_config"));
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, to_r.get(), 0);
    posix_spawn_file_actions_adddup2(&fa, from_w.get(), 1);
    pid_t pid;
    int rc = posix_spawnp(&pid, "unshare", &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) return PosixError("spawn sshd -i", rc);
    {
      std::lock_guard<std::mutex> lock(mu);
      children.push_back(pid);
    }
    return LocalStream::Pipes(std::move(from_r), std::move(to_w));
  };
  ReverseTunnel tunnel(std::move(config));
  ASSERT_CONNECTS(tunnel);
  {
    TunnelRunner runner(&tunnel);
    ASSERT_TRUE(
        AtomicReplace(dev.Join("known_hosts"),
                      "[127.0.0.1]:" + std::to_string(tunnel.bound_port()) +
                          " " + host_key->PublicKeyLine() + "\n")
            .ok());
    std::string input = RandomBytes(200 * 1024, 3);
    porthole::RunOptions ssh_options;
    ssh_options.stdin_data = input;
    ssh_options.timeout = 60s;
    Result<RunResult> r =
        RunProcess({"ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o",
                    "StrictHostKeyChecking=yes", "-o",
                    "UserKnownHostsFile=" + dev.Join("known_hosts"), "-o",
                    "IdentitiesOnly=yes", "-i", dev.Join("operator"), "-p",
                    std::to_string(tunnel.bound_port()), "root@127.0.0.1",
                    "sha256sum; echo done"},
                   ssh_options);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_TRUE(r->success()) << r->Describe() << "\n" << r->err;
    EXPECT_EQ(r->out, crypto::HexEncode(crypto::Sha256(input)) + "  -\ndone\n");
  }
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(children.size(), 1u);
  for (pid_t pid : children) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
}

// ---- a libssh server as a relay that opens channels nobody asked for ----

struct FakeRelayResult {
  std::vector<int> open_rc;  // per attempted channel-open
  std::string echoed;        // what came back on the good channel
  std::string error;
};

FakeRelayResult ServeFakeRelay(int listen_fd, const std::string& host_key_path,
                               uint16_t port) {
  FakeRelayResult out;
  UniqueFd fd(accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
  ssh_bind bind = ssh_bind_new();
  ssh_session s = ssh_new();
  auto done = [&](std::string error) {
    out.error = std::move(error);
    ssh_disconnect(s);
    ssh_free(s);
    ssh_bind_free(bind);
    return out;
  };
  ssh_bind_options_set(bind, SSH_BIND_OPTIONS_HOSTKEY, host_key_path.c_str());
  if (ssh_bind_accept_fd(bind, s, fd.release()) != SSH_OK ||
      ssh_handle_key_exchange(s) != SSH_OK) {
    return done(std::string("handshake: ") + ssh_get_error(s));
  }
  bool forwarding = false;
  while (!forwarding) {
    ssh_message msg = ssh_message_get(s);
    if (msg == nullptr) return done(std::string("auth: ") + ssh_get_error(s));
    int type = ssh_message_type(msg);
    int sub = ssh_message_subtype(msg);
    if (type == SSH_REQUEST_AUTH && sub == SSH_AUTH_METHOD_PUBLICKEY) {
// The message API is deprecated in 0.10 in favour of server callbacks, but it
// keeps this fake relay a short synchronous loop.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
      bool valid =
          ssh_message_auth_publickey_state(msg) == SSH_PUBLICKEY_STATE_VALID;
#pragma GCC diagnostic pop
      if (valid) {
        ssh_message_auth_reply_success(msg, 0);
      } else {
        ssh_message_auth_reply_pk_ok_simple(msg);
      }
    } else if (type == SSH_REQUEST_GLOBAL &&
               sub == SSH_GLOBAL_REQUEST_TCPIP_FORWARD) {
      ssh_message_global_request_reply_success(msg, port);
      forwarding = true;
    } else {
      ssh_message_auth_set_methods(msg, SSH_AUTH_METHOD_PUBLICKEY);
      ssh_message_reply_default(msg);
    }
    ssh_message_free(msg);
  }
  struct Target {
    const char* host;
    int port;
  };
  const Target targets[] = {{"10.9.8.7", port},
                            {"127.0.0.1", port + 1},
                            {"localhost", port},
                            {"127.0.0.1", port}};
  for (const Target& t : targets) {
    ssh_channel ch = ssh_channel_new(s);
    int rc =
        ssh_channel_open_reverse_forward(ch, t.host, t.port, "192.0.2.7", 5555);
    out.open_rc.push_back(rc);
    if (rc == SSH_OK) {
      ssh_channel_write(ch, "ping", 4);
      ssh_channel_send_eof(ch);
      char buf[256];
      int n;
      while ((n = ssh_channel_read_timeout(ch, buf, sizeof buf, 0, 10000)) >
             0) {
        out.echoed.append(buf, static_cast<size_t>(n));
      }
      ssh_channel_close(ch);
    }
    ssh_channel_free(ch);
  }
  return done("");
}

TEST_F(ReverseTunnelTest, ChannelsForOtherDestinationsAreRefused) {
  VarLibTempDir dir;
  Result<PrivateKey> host_key = PrivateKey::GenerateEd25519("fake relay");
  ASSERT_TRUE(host_key.ok());
  ASSERT_TRUE(AtomicReplace(dir.Join("host_key"), host_key->file_text(),
                            ReplaceOptions::NewMode(0600))
                  .ok());
  uint16_t relay_port = 0;
  UniqueFd listen_fd = ListenLoopback(1, &relay_port);
  const uint16_t kForwardPort = 40000;
  std::future<FakeRelayResult> relay =
      std::async(std::launch::async, ServeFakeRelay, listen_fd.get(),
                 dir.Join("host_key"), kForwardPort);

  TunnelConfig config;
  config.host = "127.0.0.1";
  config.port = relay_port;
  config.user = "device";
  config.device_key = &*device_key_;
  config.relay_host_key = host_key->PublicKeyLine();
  config.reverse_port = kForwardPort;
  config.handler = echo_.Handler();
  config.link_timeout = 30s;  // the fake relay answers no keepalives
  ReverseTunnel tunnel(std::move(config));
  Error e = tunnel.Connect();
  ASSERT_TRUE(e.ok()) << e.message();
  {
    TunnelRunner runner(&tunnel);
    ASSERT_EQ(relay.wait_for(30s), std::future_status::ready);
    FakeRelayResult r = relay.get();
    EXPECT_EQ(r.error, "");
    EXPECT_EQ(r.open_rc,
              (std::vector<int>{SSH_ERROR, SSH_ERROR, SSH_ERROR, SSH_OK}));
    EXPECT_EQ(r.echoed, "ping" + std::string(kEofMarker));
  }
  EXPECT_EQ(tunnel.stats().channels_refused, 3u);
  EXPECT_EQ(tunnel.stats().channels_accepted, 1u);
}

}  // namespace
}  // namespace porthole::ssh
