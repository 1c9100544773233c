// The relay's decisions against real components: OpenSSH's `ssh -N -R` as
// the device (what RAC does), a real root sshd behind it as the device's
// own SSH server (RelaySshd), and OpenSSH's `ssh -J` / `ssh -W` as the
// operator; the backend is the table backend, in-process.
#include "server/relay/relay.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <list>
#include <mutex>
#include <thread>

#include "core/base/file.h"
#include "core/base/subprocess.h"
#include "core/base/test_util.h"
#include "core/ssh/openssh_for_test.h"
#include "core/ssh/relay_sshd_for_test.h"
#include "core/tuf/rfc3339.h"
#include "server/relay/table_backend.h"

namespace porthole::server::relay {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;
using ssh::TestKey;
using Kind = RelayEvent::Kind;

constexpr char kDev7[] = "0f8fad5b-d9cb-469f-a165-70867728950e";
constexpr char kDev8[] = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
constexpr char kDev9[] = "16fd2706-8baf-433b-82eb-8c7fada847da";

class Events {
 public:
  void Add(const RelayEvent& e) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      events_.push_back(e);
    }
    cv_.notify_all();
  }
  // The first event of `kind` whose reason contains `text` (from index
  // `from` on), waiting up to `timeout`.
  std::optional<RelayEvent> Wait(Kind kind, const std::string& text = "",
                                 std::chrono::milliseconds timeout = 20s,
                                 size_t from = 0) {
    std::unique_lock<std::mutex> lock(mu_);
    std::optional<RelayEvent> found;
    cv_.wait_for(lock, timeout, [&] {
      for (size_t i = from; i < events_.size(); ++i) {
        if (events_[i].kind == kind &&
            events_[i].reason.find(text) != std::string::npos) {
          found = events_[i];
          return true;
        }
      }
      return false;
    });
    return found;
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_.size();
  }
  std::vector<RelayEvent> All() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  std::string Dump() {
    std::string out;
    for (const RelayEvent& e : All()) {
      out += std::to_string(static_cast<int>(e.kind)) + " " + e.reason + "\n";
    }
    return out;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<RelayEvent> events_;
};

class RelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    signal(SIGPIPE, SIG_IGN);
    for (auto [name, key] : {std::pair{"device7", &dev7_},
                             {"device8", &dev8_},
                             {"alice", &alice_},
                             {"bob", &bob_},
                             {"mallory", &mallory_}}) {
      auto k = ssh::MakeTestKey(dir_.path(), name);
      ASSERT_TRUE(k.ok()) << k.status().message();
      *key = *k;
    }
    auto hk = ssh::PrivateKey::GenerateEd25519("relay-host-key");
    ASSERT_TRUE(hk.ok());
    host_key_.emplace(std::move(*hk));
    port7_ = ssh::PickFreePort();
    port8_ = port7_ + 1;
    far_future_ = std::chrono::system_clock::now() + std::chrono::hours(1);
  }
  void TearDown() override {
    children_.clear();  // kills what is left
    if (relay_) {
      relay_->Stop();
      thread_.join();
      relay_.reset();
    }
  }

  Table DefaultTable() {
    Table t;
    t.devices = {{kDev7, "dev-7", dev7_.key},
                 {kDev8, "dev-8", dev8_.key},
                 {kDev9, "dev-9", std::nullopt}};
    t.sessions = {{"s7", kDev7, port7_, {alice_.key}, far_future_},
                  {"s8", kDev8, port8_, {bob_.key}, far_future_}};
    return t;
  }

  void StartRelay(std::optional<Table> table = std::nullopt) {
    backend_.Replace(table ? *table : DefaultTable());
    RelayOptions o;
    o.listen_address = "127.0.0.1";
    o.port = 0;
    o.host_key = &*host_key_;
    o.login_grace = 5s;
    auto r = Relay::Create(std::move(o), &backend_);
    ASSERT_TRUE(r.ok()) << r.status().message();
    relay_ = std::move(*r);
    thread_ = std::thread([this] { EXPECT_TRUE(relay_->Run().ok()); });
    // An ssh config: "relay" is the jump host, and every host gets the
    // test's options (ProxyJump's inner ssh reads this file too).
    std::string cfg =
        "Host relay\n"
        "  HostName 127.0.0.1\n"
        "  Port " +
        std::to_string(relay_->port()) +
        "\n"
        "  User porthole\n"
        "Host *\n"
        "  UserKnownHostsFile /dev/null\n"
        "  GlobalKnownHostsFile /dev/null\n"
        "  StrictHostKeyChecking no\n"
        "  BatchMode yes\n"
        "  IdentitiesOnly yes\n"
        "  LogLevel ERROR\n"
        "  ConnectTimeout 10\n";
    ASSERT_TRUE(AtomicReplace(dir_.Join("ssh_config"), cfg).ok());
  }

  // The device's own sshd: root may log in with alice's or bob's key.
  void StartDeviceSshd() {
    auto s =
        ssh::RelaySshd::Start(alice_.pub_line + "\n" + bob_.pub_line + "\n");
    ASSERT_TRUE(s.ok()) << s.status().message();
    device_sshd_ = std::move(*s);
  }

  // `ssh -N -R BIND:PORT:127.0.0.1:<device sshd> USER@relay`.
  ChildProcess* StartDevice(const TestKey& key, const std::string& user,
                            const std::string& forward) {
    std::string err =
        dir_.Join("device" + std::to_string(children_.size()) + ".err");
    auto c =
        ChildProcess::Start({"ssh", "-F", ConfigFor(key), "-E", err, "-N", "-o",
                             "ExitOnForwardFailure=yes", "-o", "LogLevel=INFO",
                             "-R", forward, user + "@relay"});
    EXPECT_TRUE(c.ok());
    children_.push_back(std::move(*c));
    device_errs_.push_back(err);
    return &children_.back();
  }
  std::string Forward(uint16_t port) const {
    return "127.0.0.1:" + std::to_string(port) + ":127.0.0.1:" +
           std::to_string(device_sshd_ ? device_sshd_->port() : 9);
  }
  std::string DeviceErr(size_t i) {
    auto t = ReadFile(device_errs_[i], 1 << 20);
    return t.ok() ? *t : "";
  }

  // An ssh config offering only `key` (ProxyJump's inner ssh gets the same
  // -F, but not -i): the base config plus IdentityFile.
  std::string ConfigFor(const TestKey& key) {
    std::string path = dir_.Join("ssh_config." + BaseName(key.path));
    auto base = ReadFile(dir_.Join("ssh_config"), 1 << 16);
    EXPECT_TRUE(base.ok());
    EXPECT_TRUE(
        AtomicReplace(path, *base + "  IdentityFile " + key.path + "\n").ok());
    return path;
  }

  // ssh -F <config for key> ARGS...
  RunResult Operator(const TestKey& key, const std::vector<std::string>& args,
                     std::chrono::milliseconds timeout = 60s) {
    std::vector<std::string> argv = {"ssh", "-F", ConfigFor(key)};
    argv.insert(argv.end(), args.begin(), args.end());
    RunOptions ro;
    ro.timeout = timeout;
    auto r = RunProcess(argv, ro);
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : RunResult();
  }

  TempDir dir_;
  TestKey dev7_, dev8_, alice_, bob_, mallory_;
  std::optional<ssh::PrivateKey> host_key_;
  uint16_t port7_ = 0, port8_ = 0;
  SystemTime far_future_;
  Events events_;
  TableBackend backend_{Clock::Real(),
                        [this](const RelayEvent& e) { events_.Add(e); }};
  std::unique_ptr<Relay> relay_;
  std::thread thread_;
  std::unique_ptr<ssh::RelaySshd> device_sshd_;
  std::list<ChildProcess> children_;
  std::vector<std::string> device_errs_;
};

TEST_F(RelayTest, OperatorReachesTheDeviceByNameUuidAndPort) {
  StartRelay();
  StartDeviceSshd();
  StartDevice(dev7_, kDev7, Forward(port7_));
  auto up = events_.Wait(Kind::kTunnelUp);
  ASSERT_TRUE(up) << events_.Dump();
  EXPECT_EQ(up->session_id, "s7");
  EXPECT_EQ(up->device_id, kDev7);
  EXPECT_EQ(up->fingerprint, dev7_.key.Fingerprint());
  EXPECT_EQ(up->reason, "forwarding 127.0.0.1:" + std::to_string(port7_));

  for (const std::string& dest :
       {std::string("root@dev-7"), std::string("root@") + kDev7,
        std::string("root@0F8FAD5B-D9CB-469F-A165-70867728950E")}) {
    RunResult r = Operator(alice_, {"-J", "relay", dest, "echo", "ok"});
    EXPECT_EQ(r.exit_code, 0) << dest << ": " << r.err;
    EXPECT_EQ(r.out, "ok\n") << dest;
  }
  RunResult r = Operator(alice_, {"-J", "relay", "-p", std::to_string(port7_),
                                  "root@127.0.0.1", "echo", "ok"});
  EXPECT_EQ(r.out, "ok\n") << r.err;

  auto done = events_.Wait(Kind::kOperatorDisconnect);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->session_id, "s7");
  EXPECT_EQ(done->device_id, kDev7);
  EXPECT_EQ(done->fingerprint, alice_.key.Fingerprint());
  EXPECT_EQ(done->user, "porthole");
  EXPECT_GT(done->bytes_to_device, 1000u);
  EXPECT_GT(done->bytes_from_device, 1000u);
  EXPECT_EQ(done->reason, "closed");
  auto connect = events_.Wait(Kind::kOperatorConnect);
  ASSERT_TRUE(connect);
  EXPECT_EQ(connect->reason, "to dev-7:22");
}

TEST_F(RelayTest, RefusalsAreReportedWithTheReason) {
  StartRelay();
  StartDeviceSshd();
  StartDevice(dev7_, kDev7, Forward(port7_));
  ASSERT_TRUE(events_.Wait(Kind::kTunnelUp));

  // An operator key in no live session.
  RunResult r = Operator(mallory_, {"-J", "relay", "root@dev-7", "true"});
  EXPECT_EQ(r.exit_code, 255);
  auto e = events_.Wait(Kind::kRefused, "login refused: key " +
                                            mallory_.key.Fingerprint() +
                                            " is not in any live session");
  EXPECT_TRUE(e) << events_.Dump();

  // A live session, but of another device.
  r = Operator(alice_, {"-J", "relay", "root@dev-8", "true"});
  EXPECT_EQ(r.exit_code, 255);
  e = events_.Wait(Kind::kRefused, std::string("direct-tcpip to dev-8:22: no "
                                               "live session of device ") +
                                       kDev8 + " lists this key");
  ASSERT_TRUE(e) << events_.Dump();
  EXPECT_EQ(e->fingerprint, alice_.key.Fingerprint());

  // A session's device that is not connected.
  r = Operator(bob_, {"-J", "relay", "root@dev-8", "true"});
  EXPECT_TRUE(events_.Wait(
      Kind::kRefused, std::string("device ") + kDev8 + " is not connected"));
  // No such device, another port, a port of no session of this key.
  r = Operator(alice_, {"-J", "relay", "root@nosuch", "true"});
  EXPECT_TRUE(events_.Wait(Kind::kRefused,
                           "direct-tcpip to nosuch:22: no such device"));
  r = Operator(alice_, {"-J", "relay", "-p", "2222", "root@dev-7", "true"});
  EXPECT_TRUE(events_.Wait(Kind::kRefused,
                           "direct-tcpip to dev-7:2222: only 127.0.0.1:PORT "
                           "of a session or DEVICE:22 can be reached"));
  r = Operator(alice_, {"-J", "relay", "-p", std::to_string(port8_),
                        "root@127.0.0.1", "true"});
  EXPECT_TRUE(events_.Wait(Kind::kRefused,
                           "no live session with this key "
                           "has reverse port " +
                               std::to_string(port8_)));

  // The device key under another device's name, an unknown device.
  ChildProcess* d = StartDevice(dev7_, kDev8, Forward(port8_));
  d->Wait();
  auto refused = events_.Wait(
      Kind::kRefused, "login refused: key " + dev7_.key.Fingerprint() +
                          " is not the registered key of device " + kDev8);
  ASSERT_TRUE(refused) << events_.Dump();
  // Who and for which device, as fields (the audit's "who").
  EXPECT_EQ(refused->fingerprint, dev7_.key.Fingerprint());
  EXPECT_EQ(refused->device_id, kDev8);
  // A device forwarding another port than its session's, or "localhost"
  // (what OpenSSH sends for -R PORT:...).
  d = StartDevice(dev8_, kDev8, Forward(port7_));
  EXPECT_EQ(d->Wait().exit_code, 255);
  e = events_.Wait(Kind::kRefused,
                   "tcpip-forward 127.0.0.1:" + std::to_string(port7_) +
                       ": only 127.0.0.1:" + std::to_string(port8_) +
                       " (the session's reverse port) may be forwarded");
  ASSERT_TRUE(e) << events_.Dump();
  EXPECT_EQ(e->device_id, kDev8);
  d = StartDevice(dev8_, kDev8,
                  std::to_string(port8_) +
                      ":127.0.0.1:" + std::to_string(device_sshd_->port()));
  EXPECT_EQ(d->Wait().exit_code, 255);
  EXPECT_TRUE(events_.Wait(
      Kind::kRefused, "tcpip-forward localhost:" + std::to_string(port8_)));

  // A device channel open, an operator's session channel and forward.
  r = Operator(dev7_, {"-W", "dev-7:22", std::string(kDev7) + "@relay"});
  EXPECT_TRUE(events_.Wait(Kind::kRefused,
                           "a device connection may not open channels"));
  r = Operator(alice_, {"relay", "echo", "hi"});
  EXPECT_EQ(r.exit_code, 255);
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(events_.Wait(Kind::kRefused, "session channel"));
  r = Operator(alice_, {"-N", "-o", "ExitOnForwardFailure=yes", "-R",
                        "127.0.0.1:4000:127.0.0.1:22", "relay"});
  EXPECT_EQ(r.exit_code, 255);
  EXPECT_TRUE(events_.Wait(Kind::kRefused,
                           "tcpip-forward 127.0.0.1:4000 from an operator "
                           "connection"));
  // The tunnel of dev-7 survived all of that.
  r = Operator(alice_, {"-J", "relay", "root@dev-7", "echo", "still"});
  EXPECT_EQ(r.out, "still\n") << r.err;
}

TEST_F(RelayTest, DeviceWithoutSessionAndExpiredSessionsAreRefused) {
  Table t = DefaultTable();
  t.sessions[0].expires = std::chrono::system_clock::now() - 1s;
  t.devices[2].key = mallory_.key;  // dev-9: a key, no session
  StartRelay(t);
  StartDeviceSshd();
  ChildProcess* d = StartDevice(dev7_, kDev7, Forward(port7_));
  EXPECT_EQ(d->Wait().exit_code, 255);
  EXPECT_TRUE(events_.Wait(
      Kind::kRefused, std::string("device ") + kDev7 + " has no live session"));
  d = StartDevice(mallory_, kDev9, Forward(port7_));
  EXPECT_EQ(d->Wait().exit_code, 255);
  EXPECT_TRUE(events_.Wait(
      Kind::kRefused, std::string("device ") + kDev9 + " has no live session"));
  RunResult r = Operator(alice_, {"-J", "relay", "root@dev-7", "true"});
  EXPECT_EQ(r.exit_code, 255);
  EXPECT_TRUE(events_.Wait(Kind::kRefused, "login refused: key " +
                                               alice_.key.Fingerprint() +
                                               " is not in any live session"));
}

TEST_F(RelayTest, SkKeysAreRefusedEvenWithATouch) {
  auto sk = ssh::MakeTestKey(dir_.path(), "yubi", "ed25519-sk",
                             {"-w", PORTHOLE_SOFT_SK});
  ASSERT_TRUE(sk.ok()) << sk.status().message();
  Table t = DefaultTable();
  t.sessions[0].operator_keys.push_back(sk->key);
  StartRelay(t);
  RunResult r = Operator(*sk, {"-o", "SecurityKeyProvider=" PORTHOLE_SOFT_SK,
                               "-W", "dev-7:22", "relay"});
  EXPECT_EQ(r.exit_code, 255);
  auto e = events_.Wait(Kind::kRefused, "sk- key ED25519-SK " +
                                            sk->key.Fingerprint() +
                                            " refused: libssh 0.10 cannot "
                                            "check user presence");
  ASSERT_TRUE(e) << events_.Dump();
  EXPECT_EQ(e->fingerprint, sk->key.Fingerprint());
  EXPECT_EQ(relay_->stats().bridges_opened, 0u);
}

TEST_F(RelayTest, AReconnectingDeviceReplacesItsTunnel) {
  StartRelay();
  StartDeviceSshd();
  ChildProcess* first = StartDevice(dev7_, kDev7, Forward(port7_));
  ASSERT_TRUE(events_.Wait(Kind::kTunnelUp));
  size_t mark = events_.size();
  StartDevice(dev7_, kDev7, Forward(port7_));
  auto down = events_.Wait(Kind::kTunnelDown, "", 20s, mark);
  ASSERT_TRUE(down);
  EXPECT_EQ(down->reason, "replaced by a new connection of the device");
  ASSERT_TRUE(events_.Wait(Kind::kTunnelUp, "", 20s, mark));
  EXPECT_EQ(first->Wait().exit_code, 255);
  EXPECT_NE(DeviceErr(0).find("replaced by a new connection of the device"),
            std::string::npos)
      << DeviceErr(0);
  RunResult r = Operator(alice_, {"-J", "relay", "root@dev-7", "echo", "ok"});
  EXPECT_EQ(r.out, "ok\n") << r.err;
}

TEST_F(RelayTest, ClosingTheSessionCutsBothEndsAtOnce) {
  StartRelay();
  StartDeviceSshd();
  ChildProcess* device = StartDevice(dev7_, kDev7, Forward(port7_));
  ASSERT_TRUE(events_.Wait(Kind::kTunnelUp));
  auto op = ChildProcess::Start({"ssh", "-F", ConfigFor(alice_), "-J", "relay",
                                 "root@dev-7", "echo up; exec sleep 60"},
                                ChildProcess::Options{.pipe_stdout = true});
  ASSERT_TRUE(op.ok());
  auto line = op->ReadLine(20s);
  ASSERT_TRUE(line.ok() && *line == "up");

  Table t = DefaultTable();
  t.sessions.erase(t.sessions.begin());
  backend_.Replace(t);
  Steady::time_point t0 = Steady::now();
  relay_->Revalidate();
  RunResult op_end = op->Wait();
  auto op_took = Steady::now() - t0;
  RunResult dev_end = device->Wait();
  auto dev_took = Steady::now() - t0;
  EXPECT_LT(op_took, 1s);
  EXPECT_LT(dev_took, 1s);
  EXPECT_NE(op_end.exit_code, 0);
  EXPECT_EQ(dev_end.exit_code, 255);
  EXPECT_NE(DeviceErr(0).find(":11: session closed"), std::string::npos)
      << DeviceErr(0);
  auto down = events_.Wait(Kind::kTunnelDown);
  ASSERT_TRUE(down);
  EXPECT_EQ(down->reason, "session closed");
  auto gone = events_.Wait(Kind::kOperatorDisconnect);
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->reason, "session closed");
}

TEST_F(RelayTest, RemovingTheKeyCutsOnlyTheOperator) {
  StartRelay();
  StartDeviceSshd();
  StartDevice(dev7_, kDev7, Forward(port7_));
  ASSERT_TRUE(events_.Wait(Kind::kTunnelUp));
  auto op = ChildProcess::Start({"ssh", "-F", ConfigFor(alice_), "-J", "relay",
                                 "root@dev-7", "echo up; exec sleep 60"},
                                ChildProcess::Options{.pipe_stdout = true});
  ASSERT_TRUE(op.ok());
  ASSERT_TRUE(op->ReadLine(20s).ok());
  Table t = DefaultTable();
  t.sessions[0].operator_keys = {bob_.key};
  backend_.Replace(t);
  relay_->Revalidate();
  op->Wait();
  auto gone = events_.Wait(Kind::kOperatorDisconnect);
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->reason, "the key was removed from the session");
  // The device's tunnel stays; bob gets in.
  RunResult r = Operator(bob_, {"-J", "relay", "root@dev-7", "echo", "bob"});
  EXPECT_EQ(r.out, "bob\n") << r.err;
  for (const RelayEvent& e : events_.All()) {
    EXPECT_NE(e.kind, Kind::kTunnelDown) << e.reason;
  }
}

TEST_F(RelayTest, RemovingTheDeviceDisconnectsIt) {
  StartRelay();
  StartDeviceSshd();
  ChildProcess* device = StartDevice(dev7_, kDev7, Forward(port7_));
  ASSERT_TRUE(events_.Wait(Kind::kTunnelUp));
  Table t = DefaultTable();
  t.devices.erase(t.devices.begin());
  t.sessions.erase(t.sessions.begin());
  backend_.Replace(t);
  relay_->Revalidate();
  EXPECT_EQ(device->Wait().exit_code, 255);
  auto down = events_.Wait(Kind::kTunnelDown);
  ASSERT_TRUE(down);
  EXPECT_EQ(down->reason, "device removed");
}

TEST_F(RelayTest, AnExpiringSessionIsCutWithoutBeingAsked) {
  Table t = DefaultTable();
  // Whole seconds, as the table's RFC 3339 has them.
  auto expires = std::chrono::time_point_cast<std::chrono::seconds>(
                     std::chrono::system_clock::now()) +
                 3s;
  t.sessions[0].expires = expires;
  StartRelay(t);
  StartDeviceSshd();
  ChildProcess* device = StartDevice(dev7_, kDev7, Forward(port7_));
  ASSERT_TRUE(events_.Wait(Kind::kTunnelUp));
  EXPECT_EQ(device->Wait().exit_code, 255);
  auto late = std::chrono::system_clock::now() - expires;
  EXPECT_GE(late, 0s);
  EXPECT_LT(late, 1s);
  auto down = events_.Wait(Kind::kTunnelDown);
  ASSERT_TRUE(down);
  EXPECT_EQ(down->reason, "session expired");
}

TEST(NormalizeUuidTest, Forms) {
  std::string out;
  EXPECT_TRUE(NormalizeUuid("0F8FAD5B-D9CB-469F-A165-70867728950E", &out));
  EXPECT_EQ(out, kDev7);
  EXPECT_FALSE(NormalizeUuid("0f8fad5bd9cb469fa16570867728950e", &out));
  EXPECT_FALSE(NormalizeUuid("0f8fad5b-d9cb-469f-a165-70867728950", &out));
  EXPECT_FALSE(NormalizeUuid("0f8fad5b-d9cb-469f-a165_70867728950e", &out));
  EXPECT_FALSE(NormalizeUuid("0g8fad5b-d9cb-469f-a165-70867728950e", &out));
  EXPECT_FALSE(NormalizeUuid("", &out));
}

}  // namespace
}  // namespace porthole::server::relay
