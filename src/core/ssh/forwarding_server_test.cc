// The forwarding server against real OpenSSH clients: `ssh -N -R` plays a
// device that forwards to a local TCP server, `ssh -W` an operator whose
// direct-tcpip channel the server bridges to it, and raw TCP sockets play
// clients that never speak. The delegate is a small scripted one; the
// relay's real decisions are tested in server/relay/relay_test.cc.
#include "core/ssh/forwarding_server.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include "core/base/file.h"
#include "core/base/subprocess.h"
#include "core/base/test_util.h"
#include "core/ssh/openssh_for_test.h"

namespace porthole::ssh {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

constexpr uint32_t kForwardPort = 7000;

// Accepts the listed keys, every forward, and bridges every direct-tcpip to
// the latest connection that forwarded; records what happens.
class TestDelegate : public ForwardingDelegate {
 public:
  struct Closed {
    ConnectionInfo info;
    std::string reason, last_refusal;
  };

  AuthDecision OnPublicKey(const ConnectionInfo&, const std::string&,
                           const keys::PublicKey& key, bool) override {
    for (const auto& k : allowed) {
      if (k == key) return {true, ""};
    }
    return {false, "not on the test's list"};
  }
  void OnAuthenticated(const ConnectionInfo& c) override {
    Record([&] { authenticated.push_back(c.id); });
  }
  Status OnTcpipForward(const ConnectionInfo& c, const std::string& address,
                        uint32_t port) override {
    if (refuse_forwards) return Status::PermissionDenied("test refuses");
    Record([&] {
      forwarder = c.id;
      forwards.push_back(address + ":" + std::to_string(port));
    });
    return Status::Ok();
  }
  Status OnCancelTcpipForward(const ConnectionInfo&, const std::string&,
                              uint32_t) override {
    return Status::Ok();
  }
  Result<BridgeTarget> OnDirectTcpip(const ConnectionInfo& c,
                                     const DirectTcpipRequest& r) override {
    std::lock_guard<std::mutex> lock(mu);
    if (forwarder == 0) return Status::NotFound("nobody forwards");
    BridgeTarget t;
    t.connection = forwarder;
    t.connected_address = "127.0.0.1";
    t.connected_port = r.port;
    t.originator_address = c.peer_address;
    t.originator_port = c.peer_port;
    return t;
  }
  void OnBridgeOpen(const BridgeInfo& b) override {
    Record([&] { opened.push_back(b); });
  }
  void OnBridgeClosed(const BridgeInfo& b, const BridgeEnd& end) override {
    Record([&] { bridge_ends.push_back({b, end}); });
  }
  void OnRequestRefused(const ConnectionInfo&, std::string_view what) override {
    Record([&] { refused.emplace_back(what); });
  }
  void OnConnectionRefused(const std::string&, uint16_t,
                           std::string_view reason) override {
    Record([&] { connections_refused.emplace_back(reason); });
  }
  void OnConnectionClosed(const ConnectionInfo& c, std::string_view reason,
                          std::string_view last_refusal) override {
    Record([&] {
      closed.push_back({c, std::string(reason), std::string(last_refusal)});
    });
  }
  void OnWake() override {
    if (on_wake) on_wake();
    Record([&] { wakes++; });
  }
  void OnTimer() override {
    Record([&] { timers++; });
  }

  template <typename F>
  void Record(F f) {
    {
      std::lock_guard<std::mutex> lock(mu);
      f();
    }
    cv.notify_all();
  }
  template <typename P>
  bool WaitFor(P pred, std::chrono::milliseconds timeout = 20s) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, timeout, pred);
  }

  std::vector<keys::PublicKey> allowed;
  bool refuse_forwards = false;
  std::function<void()> on_wake;

  std::mutex mu;
  std::condition_variable cv;
  std::vector<ConnectionId> authenticated;
  ConnectionId forwarder = 0;
  std::vector<std::string> forwards;
  std::vector<BridgeInfo> opened;
  std::vector<std::pair<BridgeInfo, BridgeEnd>> bridge_ends;
  std::vector<std::string> refused, connections_refused;
  std::vector<Closed> closed;
  int wakes = 0, timers = 0;
};

class ForwardingServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto hk = PrivateKey::GenerateEd25519("test-host-key");
    ASSERT_TRUE(hk.ok()) << hk.status().message();
    host_key_.emplace(std::move(*hk));
    auto dev = MakeTestKey(dir_.path(), "device");
    auto op = MakeTestKey(dir_.path(), "operator");
    ASSERT_TRUE(dev.ok() && op.ok());
    device_ = *dev;
    operator_ = *op;
    delegate_.allowed = {device_.key, operator_.key};
    options_.login_grace = 5s;
    options_.keepalive_interval = 5s;
  }
  void TearDown() override { StopServer(); }

  void StartServer() {
    auto fd = ListenTcp("127.0.0.1", 0);
    ASSERT_TRUE(fd.ok()) << fd.status().message();
    port_ = LocalPort(fd->get());
    options_.host_key = &*host_key_;
    options_.listen_fd = std::move(*fd);
    auto server = ForwardingServer::Create(std::move(options_), &delegate_);
    ASSERT_TRUE(server.ok()) << server.status().message();
    server_ = std::move(*server);
    thread_ = std::thread([this] { run_status_ = server_->Run(); });
  }
  void StopServer() {
    if (!server_) return;
    server_->Stop();
    thread_.join();
    EXPECT_TRUE(run_status_.ok()) << run_status_.message();
    server_.reset();
  }

  // `ssh -N -R 127.0.0.1:kForwardPort:127.0.0.1:target` as "device".
  ChildProcess StartDevice(uint16_t target, const std::string& extra = "") {
    std::vector<std::string> args = {
        "-N", "-o", "ExitOnForwardFailure=yes", "-R",
        "127.0.0.1:" + std::to_string(kForwardPort) +
            ":127.0.0.1:" + std::to_string(target)};
    if (!extra.empty()) args.push_back(extra);
    args.push_back("device@127.0.0.1");
    auto child = ChildProcess::Start(SshArgv(port_, device_.path, args));
    EXPECT_TRUE(child.ok());
    return std::move(*child);
  }
  bool WaitForForward(size_t n = 1) {
    return delegate_.WaitFor([&] { return delegate_.forwards.size() >= n; });
  }
  // ssh -W through the server, stdin_data in, stdout back.
  RunResult Operator(const std::string& input,
                     std::chrono::milliseconds timeout = 60s) {
    RunOptions ro;
    ro.stdin_data = input;
    ro.timeout = timeout;
    ro.max_output = 64 << 20;
    auto r = RunProcess(SshArgv(port_, operator_.path,
                                {"-W", "device:" + std::to_string(kForwardPort),
                                 "operator@127.0.0.1"}),
                        ro);
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : RunResult();
  }
  const TestDelegate::Closed* ClosedConn(ConnectionId id) {
    for (const auto& c : delegate_.closed) {
      if (c.info.id == id) return &c;
    }
    return nullptr;
  }

  TempDir dir_;
  std::optional<PrivateKey> host_key_;
  TestKey device_, operator_;
  TestDelegate delegate_;
  ForwardingServer::Options options_;
  std::unique_ptr<ForwardingServer> server_;
  std::thread thread_;
  Status run_status_;
  uint16_t port_ = 0;
};

TEST_F(ForwardingServerTest, BridgesBytesBothWaysInOrderAndEndsOnEof) {
  signal(SIGPIPE, SIG_IGN);
  StartServer();
  auto echo = TcpTestServer::Start(TcpTestServer::Mode::kEcho);
  ChildProcess device = StartDevice(echo->port());
  ASSERT_TRUE(WaitForForward());
  EXPECT_EQ(delegate_.forwards[0], "127.0.0.1:7000");

  const std::string data = RandomBytes(4 << 20, 1);
  RunResult r = Operator(data);
  EXPECT_EQ(r.exit_code, 0) << r.Describe() << ": " << r.err;
  EXPECT_TRUE(r.out == data) << "got " << r.out.size() << " bytes back";

  ASSERT_TRUE(
      delegate_.WaitFor([&] { return !delegate_.bridge_ends.empty(); }));
  const auto& [info, end] = delegate_.bridge_ends[0];
  EXPECT_TRUE(end.target_opened);
  EXPECT_EQ(end.reason, "closed");
  EXPECT_EQ(end.bytes_to_target, data.size());
  EXPECT_EQ(end.bytes_from_target, data.size());
  EXPECT_EQ(info.request.host, "device");
  EXPECT_EQ(info.request.port, kForwardPort);
  EXPECT_EQ(delegate_.opened.size(), 1u);
  ServerStats st = server_->stats();
  EXPECT_EQ(st.bridges_opened, 1u);
  EXPECT_EQ(st.bridges_open, 0u);
  EXPECT_LE(st.peak_queued, 256u * 1024);
}

TEST_F(ForwardingServerTest, ManyChannelsThroughOneConnection) {
  StartServer();
  auto echo = TcpTestServer::Start(TcpTestServer::Mode::kEcho);
  ChildProcess device = StartDevice(echo->port());
  ASSERT_TRUE(WaitForForward());
  constexpr int kChannels = 10;
  std::vector<std::thread> ops;
  std::vector<bool> ok(kChannels, false);
  for (int i = 0; i < kChannels; ++i) {
    ops.emplace_back([&, i] {
      std::string data = RandomBytes(300000, 100 + i);
      RunResult r = Operator(data);
      ok[i] = r.exit_code == 0 && r.out == data;
    });
  }
  for (auto& t : ops) t.join();
  for (int i = 0; i < kChannels; ++i) EXPECT_TRUE(ok[i]) << "channel " << i;
  EXPECT_EQ(echo->connections(), kChannels);
}

TEST_F(ForwardingServerTest, RefusedKeysAndTooManyAttempts) {
  options_.max_auth_attempts = 2;
  StartServer();
  auto k2 = MakeTestKey(dir_.path(), "other2");
  auto k3 = MakeTestKey(dir_.path(), "other3");
  ASSERT_TRUE(k2.ok() && k3.ok());
  auto r = RunProcess(SshArgv(port_, k2->path, {"x@127.0.0.1", "true"}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 255);
  EXPECT_NE(r->err.find("Permission denied (publickey)"), std::string::npos)
      << r->err;
  ASSERT_TRUE(delegate_.WaitFor([&] { return delegate_.closed.size() == 1; }));
  EXPECT_EQ(delegate_.closed[0].last_refusal, "not on the test's list");
  EXPECT_FALSE(delegate_.closed[0].info.authenticated);
  EXPECT_EQ(delegate_.closed[0].info.user, "x");

  // Two refused keys are the limit: the connection is dropped before the
  // third (acceptable) key is tried.
  r = RunProcess(
      SshArgv(port_, k2->path,
              {"-i", k3->path, "-i", operator_.path, "x@127.0.0.1", "true"}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 255);
  ASSERT_TRUE(delegate_.WaitFor([&] { return delegate_.closed.size() == 2; }));
  EXPECT_EQ(delegate_.closed[1].reason, "too many authentication failures (2)");
  EXPECT_TRUE(delegate_.authenticated.empty());
  EXPECT_EQ(server_->stats().auth_failures, 3u);
}

TEST_F(ForwardingServerTest, LoginGraceEndsASilentClient) {
  options_.login_grace = 400ms;
  StartServer();
  Steady::time_point t0 = Steady::now();
  UniqueFd fd = ConnectLoopback(port_);
  ASSERT_TRUE(fd.valid());
  char buf[4096];
  ssize_t n;
  std::string got;
  while ((n = read(fd.get(), buf, sizeof buf)) > 0) got.append(buf, n);
  auto took = Steady::now() - t0;
  EXPECT_EQ(got.rfind("SSH-2.0-", 0), 0u) << got;  // the banner, then EOF
  EXPECT_GE(took, 350ms);
  EXPECT_LT(took, 5s);
  ASSERT_TRUE(delegate_.WaitFor([&] { return delegate_.closed.size() == 1; }));
  EXPECT_EQ(delegate_.closed[0].reason, "login grace time (400 ms) exceeded");
}

TEST_F(ForwardingServerTest, ConnectionLimits) {
  options_.max_per_source = 2;
  StartServer();
  UniqueFd a = ConnectLoopback(port_), b = ConnectLoopback(port_);
  ASSERT_TRUE(a.valid() && b.valid());
  UniqueFd c = ConnectLoopback(port_);
  ASSERT_TRUE(c.valid());
  char buf[4096];
  EXPECT_EQ(read(c.get(), buf, sizeof buf), 0);  // closed at once, no banner
  ASSERT_TRUE(delegate_.WaitFor(
      [&] { return delegate_.connections_refused.size() == 1; }));
  EXPECT_EQ(delegate_.connections_refused[0],
            "too many connections from 127.0.0.1 (2)");
  // Once one goes, a new one is let in.
  a.reset();
  ASSERT_TRUE(delegate_.WaitFor([&] { return delegate_.closed.size() == 1; }));
  UniqueFd d = ConnectLoopback(port_);
  ASSERT_EQ(read(d.get(), buf, 8), 8);  // "SSH-2.0-"
  EXPECT_EQ(server_->stats().connections_refused, 1u);
}

TEST_F(ForwardingServerTest, UnauthenticatedLimit) {
  options_.max_unauthenticated = 1;
  StartServer();
  UniqueFd a = ConnectLoopback(port_);
  char buf[4096];
  ASSERT_EQ(read(a.get(), buf, 8), 8);
  UniqueFd b = ConnectLoopback(port_);
  EXPECT_EQ(read(b.get(), buf, sizeof buf), 0);
  ASSERT_TRUE(delegate_.WaitFor(
      [&] { return delegate_.connections_refused.size() == 1; }));
  EXPECT_EQ(delegate_.connections_refused[0],
            "too many unauthenticated connections (1)");
}

TEST_F(ForwardingServerTest, KeepaliveKeepsLivePeersAndCutsSilentOnes) {
  options_.keepalive_interval = 300ms;
  options_.keepalive_count_max = 2;
  StartServer();
  auto echo = TcpTestServer::Start(TcpTestServer::Mode::kEcho);
  ChildProcess device = StartDevice(echo->port());
  ASSERT_TRUE(WaitForForward());
  // An idle but live peer answers the keepalives: still there after many
  // intervals.
  EXPECT_FALSE(
      delegate_.WaitFor([&] { return !delegate_.closed.empty(); }, 2500ms));
  Steady::time_point stopped = Steady::now();
  device.Signal(SIGSTOP);
  ASSERT_TRUE(
      delegate_.WaitFor([&] { return !delegate_.closed.empty(); }, 10s));
  auto took = Steady::now() - stopped;
  EXPECT_EQ(delegate_.closed[0].reason.rfind("keepalive timeout", 0), 0u)
      << delegate_.closed[0].reason;
  // interval x (count + 1) after the last byte, at most one interval late.
  EXPECT_LT(took, 1500ms)
      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count();
  EXPECT_EQ(server_->stats().keepalive_timeouts, 1u);
  device.Signal(SIGCONT);
}

TEST_F(ForwardingServerTest, IdleTimeoutCutsAConnectionWithNothingOpen) {
  options_.idle_timeout = 500ms;
  StartServer();
  Steady::time_point t0 = Steady::now();
  auto r = RunProcess(SshArgv(port_, operator_.path, {"-N", "op@127.0.0.1"}),
                      RunOptions{.timeout = 20s});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->timed_out);
  EXPECT_GE(Steady::now() - t0, 450ms);
  ASSERT_TRUE(delegate_.WaitFor([&] { return delegate_.closed.size() == 1; }));
  EXPECT_EQ(delegate_.closed[0].reason,
            "idle timeout (500 ms without a forward or channel)");
}

TEST_F(ForwardingServerTest, TargetRefusingTheChannelClosesTheOperators) {
  StartServer();
  // Nothing listens on the port the device forwards to: its ssh answers
  // the forwarded-tcpip open with a failure.
  uint16_t closed_port;
  {
    auto l = ListenTcp("127.0.0.1", 0);
    ASSERT_TRUE(l.ok());
    closed_port = LocalPort(l->get());
  }
  ChildProcess device = StartDevice(closed_port);
  ASSERT_TRUE(WaitForForward());
  RunResult r = Operator("hello");
  EXPECT_EQ(r.out, "");
  ASSERT_TRUE(
      delegate_.WaitFor([&] { return !delegate_.bridge_ends.empty(); }));
  EXPECT_FALSE(delegate_.bridge_ends[0].second.target_opened);
  EXPECT_EQ(delegate_.bridge_ends[0].second.reason,
            "the target refused the channel");
  EXPECT_TRUE(delegate_.opened.empty());
}

TEST_F(ForwardingServerTest, DisconnectFromWakeReachesThePeerWithTheReason) {
  StartServer();
  auto echo = TcpTestServer::Start(TcpTestServer::Mode::kEcho);
  std::string err_path = dir_.Join("device.err");
  UniqueFd err(
      open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  auto pid = SpawnProcess(
      SshArgv(port_, device_.path,
              {"-N", "-o", "LogLevel=INFO", "-R",
               "127.0.0.1:7000:127.0.0.1:" + std::to_string(echo->port()),
               "device@127.0.0.1"}),
      SpawnOptions{.stderr_fd = err.get()});
  ASSERT_TRUE(pid.ok());
  err.reset();
  ASSERT_TRUE(WaitForForward());
  ConnectionId id = delegate_.forwarder;
  delegate_.on_wake = [&] { server_->Disconnect(id, "revoked by test"); };
  Steady::time_point t0 = Steady::now();
  server_->Wake();
  int status = 0;
  waitpid(*pid, &status, 0);
  EXPECT_LT(Steady::now() - t0, 1s);
  EXPECT_EQ(WEXITSTATUS(status), 255);
  ASSERT_TRUE(delegate_.WaitFor([&] { return !delegate_.closed.empty(); }));
  EXPECT_EQ(delegate_.closed[0].reason, "revoked by test");
  auto text = ReadFile(err_path, 1 << 16);
  ASSERT_TRUE(text.ok());
  EXPECT_NE(text->find("Received disconnect from 127.0.0.1 port " +
                       std::to_string(port_) + ":11: revoked by test"),
            std::string::npos)
      << *text;
}

TEST_F(ForwardingServerTest, BackPressureHoldsASlowTarget) {
  StartServer();
  auto sink = TcpTestServer::Start(TcpTestServer::Mode::kSink);
  ChildProcess device = StartDevice(sink->port());
  ASSERT_TRUE(WaitForForward());
  constexpr size_t kTotal = 64 << 20;
  std::string path = dir_.Join("big");
  ASSERT_TRUE(AtomicReplace(path, RandomBytes(kTotal, 7)).ok());
  UniqueFd in(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  UniqueFd devnull(open("/dev/null", O_WRONLY | O_CLOEXEC));
  auto pid = SpawnProcess(
      SshArgv(port_, operator_.path,
              {"-W", "device:7000", "operator@127.0.0.1"}),
      SpawnOptions{.stdin_fd = in.get(), .stdout_fd = devnull.get()});
  ASSERT_TRUE(pid.ok());
  // The target reads nothing: what crosses the server levels off far
  // below the total (SSH windows and socket buffers), and the server's own
  // queue stays within its bound.
  uint64_t last = 0;
  int steady_rounds = 0;
  ASSERT_TRUE(PollUntil(
      [&] {
        uint64_t now = server_->stats().bytes_to_targets;
        steady_rounds = (now == last && now > 0) ? steady_rounds + 1 : 0;
        last = now;
        return steady_rounds >= 30;  // unchanged for 300 ms
      },
      20s));
  EXPECT_LT(last, 24u << 20) << "moved " << last << " bytes";
  EXPECT_LE(server_->stats().peak_queued, 256u * 1024);
  // Released, everything arrives.
  sink->Release();
  int status = 0;
  ASSERT_EQ(waitpid(*pid, &status, 0), *pid);
  ASSERT_TRUE(PollUntil([&] { return sink->bytes_read() == kTotal; }, 30s))
      << sink->bytes_read();
  EXPECT_LE(server_->stats().peak_queued, 256u * 1024);
}

TEST_F(ForwardingServerTest, RefusesSessionsAndForwardsTheDelegateRefuses) {
  delegate_.refuse_forwards = true;
  StartServer();
  auto r = RunProcess(
      SshArgv(port_, operator_.path, {"op@127.0.0.1", "echo", "hi"}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 255);
  EXPECT_EQ(r->out, "");
  ASSERT_TRUE(delegate_.WaitFor([&] { return !delegate_.refused.empty(); }));
  EXPECT_EQ(delegate_.refused[0], "session channel");
  r = RunProcess(SshArgv(port_, device_.path,
                         {"-N", "-o", "ExitOnForwardFailure=yes", "-R",
                          "127.0.0.1:7000:127.0.0.1:9", "d@127.0.0.1"}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 255);
  EXPECT_NE(r->err.find("remote port forwarding failed"), std::string::npos)
      << r->err;
}

TEST_F(ForwardingServerTest, ChannelLimitOfTheTargetIsReportedAsABridgeEnd) {
  options_.max_channels_per_connection = 2;
  StartServer();
  auto echo = TcpTestServer::Start(TcpTestServer::Mode::kEcho);
  ChildProcess device = StartDevice(echo->port());
  ASSERT_TRUE(WaitForForward());
  // Two operators hold a channel each (their stdin stays open).
  std::vector<UniqueFd> keep;
  std::vector<pid_t> pids;
  for (int i = 0; i < 2; ++i) {
    int fds[2];
    ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
    keep.emplace_back(fds[1]);
    UniqueFd in(fds[0]);
    auto pid = SpawnProcess(
        SshArgv(port_, operator_.path, {"-W", "device:7000", "op@127.0.0.1"}),
        SpawnOptions{.stdin_fd = in.get()});
    ASSERT_TRUE(pid.ok());
    pids.push_back(*pid);
  }
  ASSERT_TRUE(delegate_.WaitFor([&] { return delegate_.opened.size() == 2; }));
  RunResult third = Operator("x");
  EXPECT_EQ(third.out, "");
  ASSERT_TRUE(
      delegate_.WaitFor([&] { return !delegate_.bridge_ends.empty(); }));
  EXPECT_FALSE(delegate_.bridge_ends[0].second.target_opened);
  EXPECT_EQ(delegate_.bridge_ends[0].second.reason,
            "the target has 2 channels open");
  keep.clear();  // EOF: the two channels end
  for (pid_t pid : pids) {
    int status = 0;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
  }
  ASSERT_TRUE(
      delegate_.WaitFor([&] { return delegate_.bridge_ends.size() == 3; }));
  EXPECT_EQ(server_->stats().bridges_open, 0u);
}

TEST_F(ForwardingServerTest, StopDisconnectsEveryConnection) {
  StartServer();
  auto echo = TcpTestServer::Start(TcpTestServer::Mode::kEcho);
  ChildProcess device = StartDevice(echo->port());
  ASSERT_TRUE(WaitForForward());
  // An operator with an open channel: its stdin stays open.
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  UniqueFd keep(fds[1]);
  UniqueFd in(fds[0]);
  auto pid = SpawnProcess(
      SshArgv(port_, operator_.path, {"-W", "device:7000", "op@127.0.0.1"}),
      SpawnOptions{.stdin_fd = in.get()});
  ASSERT_TRUE(pid.ok());
  in.reset();
  ASSERT_TRUE(delegate_.WaitFor([&] { return !delegate_.opened.empty(); }));
  StopServer();
  EXPECT_EQ(delegate_.closed.size(), 2u);
  for (const auto& c : delegate_.closed) EXPECT_EQ(c.reason, "server stopping");
  ASSERT_EQ(delegate_.bridge_ends.size(), 1u);
  EXPECT_EQ(delegate_.bridge_ends[0].second.reason.find("connection #"), 0u);
  int status = 0;
  EXPECT_EQ(waitpid(*pid, &status, 0), *pid);
  RunResult end = device.Wait();
  EXPECT_EQ(end.exit_code, 255);
}

TEST(ForwardingServerOptionsTest, BadOptionsAreNamed) {
  auto hk = PrivateKey::GenerateEd25519("k");
  ASSERT_TRUE(hk.ok());
  TestDelegate d;
  auto make = [&](auto tweak) {
    ForwardingServer::Options o;
    o.host_key = &*hk;
    auto fd = ListenTcp("127.0.0.1", 0);
    o.listen_fd = std::move(*fd);
    tweak(o);
    auto s = ForwardingServer::Create(std::move(o), &d);
    return s.ok() ? std::string("OK") : s.status().message();
  };
  EXPECT_EQ(make([](auto&) {}), "OK");
  EXPECT_EQ(make([](auto& o) { o.buffer_per_direction = 300 * 1024; }),
            "forwarding server: buffer_per_direction must be 1..262144");
  EXPECT_EQ(make([](auto& o) { o.login_grace = 0ms; }),
            "forwarding server: login_grace must be > 0");
  EXPECT_EQ(make([](auto& o) { o.keepalive_count_max = 0; }),
            "forwarding server: keepalive_interval must be > 0 and "
            "keepalive_count_max >= 1");
  EXPECT_EQ(make([](auto& o) { o.host_key = nullptr; }),
            "forwarding server: no host key");
  EXPECT_EQ(make([](auto& o) { o.max_per_source = 0; }),
            "forwarding server: connection and channel limits must be >= 1");
}

TEST(ListenTcpTest, AddressesAndErrors) {
  auto v4 = ListenTcp("127.0.0.1", 0);
  ASSERT_TRUE(v4.ok());
  EXPECT_NE(LocalPort(v4->get()), 0);
  auto bad = ListenTcp("localhost", 0);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "listen address 'localhost': not an IPv4 or IPv6 literal");
  uint16_t taken = LocalPort(v4->get());
  auto again = ListenTcp("127.0.0.1", taken);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().message(),
            "listen 127.0.0.1:" + std::to_string(taken) +
                ": bind: Address already in use");
  ConnectionInfo c;
  c.peer_address = "::1";
  c.peer_port = 22;
  EXPECT_EQ(c.Peer(), "[::1]:22");
}

}  // namespace
}  // namespace porthole::ssh
