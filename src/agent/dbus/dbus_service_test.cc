// DbusService and QueryAgentStatus against a real dbus-daemon, with
// signals from dbus-send, gdbus and an sdbus-c++ connection that owns
// io.torizon.TznService (as tzn-mqtt does). Waits are on events: log lines,
// callbacks, and D-Bus round trips (a Peer.Ping answered by the agent's
// connection proves that everything the daemon queued to it before has
// been handled, in order).
#include "agent/dbus/dbus_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sdbus-c++/sdbus-c++.h>
#include <stdlib.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/dbus/test_bus.h"
#include "core/base/subprocess.h"
#include "core/base/test_util.h"

namespace porthole::agent {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr uint64_t kCallTimeoutUsec = 5'000'000;
constexpr char kTznMatch[] =
    "type='signal',interface='io.torizon.TznService1',member='TznMessageSig'";

// Dispatches `bus` in this thread until `done()` or the timeout.
bool ProcessUntil(sdbus::IConnection& bus, const std::function<bool()>& done,
                  std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    while (bus.processPendingRequest()) {
    }
    if (done()) return true;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    auto data = bus.getEventLoopPollData();
    int wait = data.getPollTimeout();
    if (wait < 0 || wait > left.count()) wait = static_cast<int>(left.count());
    pollfd p{data.fd, data.events, 0};
    poll(&p, 1, wait);
  }
}

// org.freedesktop.DBus.Peer.Ping to `peer`: returns once `peer` has handled
// every message it got before (sd-bus answers it in order).
void Ping(sdbus::IConnection& bus, const std::string& peer) {
  auto proxy = sdbus::createProxy(bus, peer, "/");
  auto call = proxy->createMethodCall("org.freedesktop.DBus.Peer", "Ping");
  proxy->callMethod(call, kCallTimeoutUsec);
}

// A connection that owns io.torizon.TznService and emits TznMessageSig
// from /io/torizon/TznService, as tzn-mqtt does.
class TznEmitter {
 public:
  explicit TznEmitter(const std::string& address)
      : bus_(sdbus::createSessionBusConnectionWithAddress(address)) {
    bus_->requestName(kTznServiceName);
    object_ = sdbus::createObject(*bus_, kTznServicePath);
    object_->registerSignal(kTznSignal)
        .onInterface(kTznInterface)
        .withParameters<std::string, std::string>();
    object_->finishRegistration();
  }

  void Emit(const std::string& command, const std::string& args,
            const std::string& destination = "") {
    EmitWith([&](sdbus::Signal& s) { s << command << args; }, destination);
  }
  // Any body.
  void EmitWith(const std::function<void(sdbus::Signal&)>& fill,
                const std::string& destination = "") {
    auto signal = object_->createSignal(kTznInterface, kTznSignal);
    if (!destination.empty()) signal.setDestination(destination);
    fill(signal);
    object_->emitSignal(signal);
  }
  // Returns once `peer` has handled everything emitted so far.
  void Flush(const std::string& peer) { Ping(*bus_, peer); }
  void ReleaseName() { bus_->releaseName(kTznServiceName); }

 private:
  std::unique_ptr<sdbus::IConnection> bus_;
  std::unique_ptr<sdbus::IObject> object_;
};

AgentStatus Sample() {
  AgentStatus s;
  s.session_state = "active";
  s.relay = "ras.example.com:2222";
  s.mode = "spawned_sshd";
  s.last_poll_time = "2024-05-01T10:00:00Z";
  s.last_poll_result = "session 7f3e";
  s.last_error = "";
  s.pending_commands = 3;
  return s;
}

class DbusServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(bus_.Start().ok()); }

  DbusOptions Options() {
    DbusOptions o;
    o.address = bus_.address();
    return o;
  }

  std::unique_ptr<DbusService> StartService(const DbusOptions& o) {
    auto s = std::make_unique<DbusService>(
        o,
        [this] {
          std::lock_guard lock(mu_);
          ++polls_;
          cv_.notify_all();
        },
        [this] {
          std::lock_guard lock(mu_);
          return status_;
        });
    Status started = s->Start();
    EXPECT_TRUE(started.ok()) << started.message();
    return s;
  }

  // Waits until the service has connected `n` times; its unique name.
  std::string WaitConnected(size_t n = 1,
                            std::chrono::milliseconds timeout = 5s) {
    if (!log_.WaitFor("info: dbus: connected to ", timeout, n)) {
      ADD_FAILURE() << "not connected; log:\n" << log_.All();
      return "";
    }
    std::string line = log_.Last("info: dbus: connected to ");
    size_t at = line.find(" as :");
    size_t end = line.find(';', at);
    if (at == std::string::npos || end == std::string::npos) {
      ADD_FAILURE() << line;
      return "";
    }
    return line.substr(at + 4, end - at - 4);
  }

  bool WaitForPolls(int n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return polls_ >= n; });
  }
  int polls() {
    std::lock_guard lock(mu_);
    return polls_;
  }

  // A tool on the test bus (as the session bus); fails the test unless it
  // exits 0. Its stdout.
  std::string Tool(const std::vector<std::string>& argv) {
    RunOptions o;
    o.env = {bus_.SessionEnv()};
    o.timeout = 10s;
    auto r = RunProcess(argv, o);
    if (!r.ok()) {
      ADD_FAILURE() << argv[0] << ": " << r.status().message();
      return "";
    }
    EXPECT_TRUE(r->success())
        << argv[0] << " " << r->Describe() << ": " << r->err;
    return r->out;
  }

  LogCapture log_;  // first: outlives every thread that logs
  TempDir tmp_;
  TestBus bus_{tmp_.Join("bus")};
  std::mutex mu_;
  std::condition_variable cv_;
  int polls_ = 0;
  AgentStatus status_ = Sample();
};

TEST_F(DbusServiceTest, PollRasNowFromTheNameOwnerCallsBackWithinOneSecond) {
  auto service = StartService(Options());
  std::string me = WaitConnected();
  TznEmitter tzn(bus_.address());
  tzn.Emit("PollRasNow", "{}");
  EXPECT_TRUE(WaitForPolls(1, 1s));
  tzn.Emit("PollRasNow", R"({"reason":"mqtt"})");
  EXPECT_TRUE(WaitForPolls(2, 1s));
  // Sent to the agent's connection rather than broadcast: the same.
  tzn.Emit("PollRasNow", "null", me);
  EXPECT_TRUE(WaitForPolls(3, 1s));
  EXPECT_THAT(log_.All(), HasSubstr("debug: dbus: PollRasNow from :1."));
}

TEST_F(DbusServiceTest, EmitterThatOwnedTheNameFirstIsHeardToo) {
  TznEmitter tzn(bus_.address());
  auto service = StartService(Options());
  WaitConnected();
  tzn.Emit("PollRasNow", "{}");
  EXPECT_TRUE(WaitForPolls(1, 1s));
}

// RAC's rule names the sender, so a signal from a connection that does not
// own io.torizon.TznService is not acted on; porthole does the same.
TEST_F(DbusServiceTest, SignalsFromSendersWithoutTheNameAreNotActedOn) {
  auto service = StartService(Options());
  std::string me = WaitConnected();
  auto observer = sdbus::createSessionBusConnectionWithAddress(bus_.address());
  int seen = 0;
  auto slot = observer->addMatch(kTznMatch, [&](sdbus::Message&) { ++seen; });
  const std::vector<std::string> dbus_send = {
      "dbus-send",
      "--session",
      "--type=signal",
      kTznServicePath,
      std::string(kTznInterface) + "." + kTznSignal,
      "string:PollRasNow",
      "string:{}"};
  const std::vector<std::string> gdbus_emit = {
      "gdbus",
      "emit",
      "--session",
      "--object-path",
      kTznServicePath,
      "--signal",
      std::string(kTznInterface) + "." + kTznSignal,
      "\"PollRasNow\"",
      "\"{}\""};

  // Broadcasts: the daemon does not deliver them to the agent at all.
  Tool(dbus_send);
  Tool(gdbus_emit);
  // Once the observer has both, the daemon has routed them everywhere.
  ASSERT_TRUE(ProcessUntil(
      *observer, [&] { return seen == 2; }, 5s));
  Ping(*observer, me);
  EXPECT_EQ(polls(), 0);

  // The same while someone else owns the name.
  TznEmitter tzn(bus_.address());
  Tool(dbus_send);
  ASSERT_TRUE(ProcessUntil(
      *observer, [&] { return seen == 3; }, 5s));
  Ping(*observer, me);
  EXPECT_EQ(polls(), 0);

  // Sent straight to the agent, match rules do not apply: the agent checks
  // the sender against the owner it tracks, and says so.
  std::vector<std::string> unicast = dbus_send;
  unicast.insert(unicast.begin() + 3, "--dest=" + me);
  Tool(unicast);
  std::vector<std::string> gdbus_unicast = gdbus_emit;
  gdbus_unicast.insert(gdbus_unicast.begin() + 3, {"--dest", me});
  Tool(gdbus_unicast);
  EXPECT_TRUE(
      log_.WaitFor("info: dbus: ignored TznMessageSig: sent by :1.", 5s, 2));
  EXPECT_THAT(log_.Last("ignored TznMessageSig: sent by"),
              HasSubstr(", which does not own io.torizon.TznService"));
  EXPECT_EQ(polls(), 0);

  // The owner, for contrast.
  tzn.Emit("PollRasNow", "{}");
  EXPECT_TRUE(WaitForPolls(1, 1s));
  // After the owner lets the name go, its signals are not acted on either.
  tzn.ReleaseName();
  tzn.Emit("PollRasNow", "{}", me);
  tzn.Flush(me);
  EXPECT_EQ(polls(), 1);
}

TEST_F(DbusServiceTest, OtherCommandsAndBadJsonAreLoggedAndIgnored) {
  auto service = StartService(Options());
  std::string me = WaitConnected();
  TznEmitter tzn(bus_.address());
  tzn.Emit("Reboot", "{}");
  tzn.Emit("PollRasNow", "{bad");
  tzn.Emit("PollRasNow", "{bad");
  tzn.Emit("pollrasnow", "{}");
  tzn.EmitWith([](sdbus::Signal& s) { s << std::string("PollRasNow"); });
  tzn.EmitWith([](sdbus::Signal& s) {
    s << std::string("PollRasNow") << std::string("{}") << std::string("x");
  });
  tzn.EmitWith(
      [](sdbus::Signal& s) { s << std::string("PollRasNow") << int32_t{1}; });
  tzn.EmitWith([](sdbus::Signal& s) { s << uint32_t{7}; });
  tzn.Flush(me);
  EXPECT_EQ(polls(), 0);
  EXPECT_EQ(log_.Count("info: dbus: ignored TznMessageSig: unknown command "
                       "'Reboot' (only PollRasNow is acted on)"),
            1u);
  EXPECT_EQ(log_.Count("info: dbus: ignored TznMessageSig: unknown command "
                       "'pollrasnow' (only PollRasNow is acted on)"),
            1u);
  const std::string bad_json =
      "dbus: ignored TznMessageSig: PollRasNow args are not JSON: parse error "
      "at line 1, column 2: syntax error while parsing object key - invalid "
      "literal; last read: '{b'; "
      "expected string literal";
  EXPECT_EQ(log_.Count("info: " + bad_json), 1u);
  // An identical repeat is logged at debug level only.
  EXPECT_EQ(log_.Count("debug: " + bad_json), 1u);
  EXPECT_EQ(log_.Count("info: dbus: ignored TznMessageSig: arguments are "
                       "not (ss)"),
            1u);
  EXPECT_EQ(log_.Count("debug: dbus: ignored TznMessageSig: arguments are "
                       "not (ss)"),
            3u);

  tzn.Emit("PollRasNow", "{}");
  EXPECT_TRUE(WaitForPolls(1, 1s));
}

TEST_F(DbusServiceTest, BurstOfAHundredSignalsNeitherCrashesNorBlocks) {
  auto service = StartService(Options());
  std::string me = WaitConnected();
  TznEmitter tzn(bus_.address());
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 100; ++i) {
    tzn.Emit("PollRasNow", "{\"n\":" + std::to_string(i) + "}");
  }
  tzn.Flush(me);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_EQ(polls(), 100);  // nothing dropped; the agent coalesces
  auto status = QueryAgentStatus(Options());
  ASSERT_TRUE(status.ok()) << status.status().message();
  EXPECT_EQ(*status, Sample());
}

TEST_F(DbusServiceTest, PollNowMethodWorksFromGdbusAndBusctl) {
  auto service = StartService(Options());
  WaitConnected();
  EXPECT_EQ(Tool({"gdbus", "call", "--session", "--dest", kAgentBusName,
                  "--object-path", kAgentObjectPath, "--method",
                  std::string(kAgentInterface) + ".PollNow"}),
            "()\n");
  // The reply comes after the callback.
  EXPECT_EQ(polls(), 1);
  EXPECT_EQ(Tool({"busctl", "--address=" + bus_.address(), "call",
                  kAgentBusName, kAgentObjectPath, kAgentInterface, "PollNow"}),
            "");
  EXPECT_EQ(polls(), 2);
  EXPECT_THAT(log_.All(), HasSubstr("debug: dbus: org.porthole.Agent1.PollNow "
                                    "called: polling now"));
}

TEST_F(DbusServiceTest, StatusIsReadableWithGdbusBusctlAndQueryAgentStatus) {
  auto service = StartService(Options());
  WaitConnected();
  EXPECT_EQ(Tool({"busctl", "--address=" + bus_.address(), "get-property",
                  kAgentBusName, kAgentObjectPath, kAgentInterface,
                  "SessionState", "Relay", "LastError", "PendingCommands"}),
            "s \"active\"\ns \"ras.example.com:2222\"\ns \"\"\nu 3\n");
  EXPECT_EQ(
      Tool({"gdbus", "call", "--session", "--dest", kAgentBusName,
            "--object-path", kAgentObjectPath, "--method",
            std::string(kAgentInterface) + ".GetStatus"}),
      "({'LastError': <''>, 'LastPollResult': <'session 7f3e'>, "
      "'LastPollTime': <'2024-05-01T10:00:00Z'>, 'Mode': <'spawned_sshd'>, "
      "'PendingCommands': <uint32 3>, 'Relay': <'ras.example.com:2222'>, "
      "'SessionState': <'active'>},)\n");
  std::string all =
      Tool({"gdbus", "call", "--session", "--dest", kAgentBusName,
            "--object-path", kAgentObjectPath, "--method",
            "org.freedesktop.DBus.Properties.GetAll", kAgentInterface});
  EXPECT_THAT(all, HasSubstr("'PendingCommands': <uint32 3>"));
  EXPECT_THAT(all, HasSubstr("'Mode': <'spawned_sshd'>"));

  // Values are read when asked.
  {
    std::lock_guard lock(mu_);
    status_.session_state = "idle";
    status_.pending_commands = 0;
  }
  auto status = QueryAgentStatus(Options());
  ASSERT_TRUE(status.ok()) << status.status().message();
  AgentStatus want = Sample();
  want.session_state = "idle";
  want.pending_commands = 0;
  EXPECT_EQ(*status, want);

  // The interface as documented in dbus_service.h.
  std::string xml =
      Tool({"gdbus", "introspect", "--session", "--dest", kAgentBusName,
            "--object-path", kAgentObjectPath, "--xml"});
  EXPECT_THAT(xml, HasSubstr(R"(<interface name="org.porthole.Agent1">)"));
  EXPECT_THAT(xml, HasSubstr(R"(<method name="PollNow">)"));
  EXPECT_THAT(xml, HasSubstr(R"(<method name="GetStatus">)"));
  EXPECT_THAT(
      xml, HasSubstr(R"(<arg type="a{sv}" name="status" direction="out"/>)"));
  for (const char* p :
       {"SessionState\" type=\"s\"", "Relay\" type=\"s\"", "Mode\" type=\"s\"",
        "LastPollTime\" type=\"s\"", "LastPollResult\" type=\"s\"",
        "LastError\" type=\"s\"", "PendingCommands\" type=\"u\""}) {
    EXPECT_THAT(xml, HasSubstr(std::string("<property name=\"") + p +
                               " access=\"read\">"));
  }
  EXPECT_THAT(
      xml,
      HasSubstr(
          R"(<annotation name="org.freedesktop.DBus.Property.EmitsChangedSignal" value="false"/>)"));
}

TEST_F(DbusServiceTest, ReconnectsWithinThreeSecondsWhenTheDaemonRestarts) {
  auto service = StartService(Options());  // reconnect: 3 s, as RAC
  WaitConnected();
  {
    TznEmitter tzn(bus_.address());
    tzn.Emit("PollRasNow", "{}");
    EXPECT_TRUE(WaitForPolls(1, 1s));
  }
  bus_.Stop();
  EXPECT_TRUE(log_.WaitFor(
      "warning: dbus: lost the connection to the bus at " + bus_.address(),
      5s));
  EXPECT_THAT(log_.Last("lost the connection"),
              HasSubstr("; reconnecting every 3 s"));
  auto restarted = std::chrono::steady_clock::now();
  ASSERT_TRUE(bus_.Start().ok());
  std::string me = WaitConnected(2, 6s);
  auto took = std::chrono::steady_clock::now() - restarted;
  EXPECT_LT(took, 3500ms);

  TznEmitter tzn(bus_.address());
  tzn.Emit("PollRasNow", "{}");
  EXPECT_TRUE(WaitForPolls(2, 1s));
  EXPECT_EQ(Tool({"gdbus", "call", "--session", "--dest", kAgentBusName,
                  "--object-path", kAgentObjectPath, "--method",
                  std::string(kAgentInterface) + ".PollNow"}),
            "()\n");
  EXPECT_EQ(polls(), 3);
}

TEST_F(DbusServiceTest, StartWithNoBusReturnsOkAndKeepsRetrying) {
  TestBus later(tmp_.Join("later"));
  DbusOptions o;
  o.address = later.address();
  o.reconnect = 300ms;
  auto service = StartService(o);
  const std::string problem =
      "dbus: cannot connect to the bus at " + later.address() + ": ";
  ASSERT_TRUE(log_.WaitFor("warning: " + problem, 5s));
  EXPECT_THAT(log_.Last(problem), HasSubstr("; retrying every 300 ms"));
  // Repeats are quieter.
  ASSERT_TRUE(log_.WaitFor("debug: " + problem, 5s, 2));
  EXPECT_EQ(log_.Count("warning: " + problem), 1u);

  ASSERT_TRUE(later.Start().ok());
  std::string me = WaitConnected(1, 5s);
  TznEmitter tzn(later.address());
  tzn.Emit("PollRasNow", "{}");
  EXPECT_TRUE(WaitForPolls(1, 1s));

  later.Stop();
  ASSERT_TRUE(log_.WaitFor("warning: dbus: lost the connection", 5s));
  auto start = std::chrono::steady_clock::now();
  service.reset();  // while waiting to reconnect: stops at once
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
}

// Saves an environment variable and puts it back.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = getenv(name)) old_ = old;
    if (value != nullptr) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST_F(DbusServiceTest, NoSessionBusAddressAtAllIsRetriedQuietly) {
  ScopedEnv a("DBUS_SESSION_BUS_ADDRESS", nullptr);
  ScopedEnv b("XDG_RUNTIME_DIR", nullptr);
  DbusOptions o;  // the session bus, from the environment
  auto service = StartService(o);
  EXPECT_TRUE(log_.WaitFor(
      "warning: dbus: cannot connect to the session bus: neither "
      "DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR is set; retrying every "
      "3 s",
      5s));
  service.reset();
  auto status = QueryAgentStatus(o);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(status.status().message(),
            "cannot connect to the session bus: neither "
            "DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR is set");
}

TEST_F(DbusServiceTest, SystemBusComesFromDbusSystemBusAddress) {
  ScopedEnv env("DBUS_SYSTEM_BUS_ADDRESS", bus_.address().c_str());
  DbusOptions o;
  o.bus = BusKind::kSystem;
  auto service = StartService(o);
  WaitConnected();
  EXPECT_THAT(log_.Last("connected to"),
              HasSubstr("info: dbus: connected to the system bus as :1."));
  EXPECT_THAT(log_.Last("connected to"),
              HasSubstr("; listening for io.torizon.TznService1.TznMessageSig "
                        "from io.torizon.TznService; serving "
                        "org.porthole.Agent1 as org.porthole.Agent"));
  auto status = QueryAgentStatus(o);
  ASSERT_TRUE(status.ok()) << status.status().message();
  EXPECT_EQ(*status, Sample());
}

TEST_F(DbusServiceTest, TakenNameIsLoggedAndTheObjectStillServed) {
  auto squatter = sdbus::createSessionBusConnectionWithAddress(bus_.address());
  squatter->requestName(kAgentBusName);
  squatter->enterEventLoopAsync();
  auto service = StartService(Options());
  std::string me = WaitConnected();
  EXPECT_THAT(log_.Last("cannot own"),
              StartsWith("warning: dbus: cannot own org.porthole.Agent on the "
                         "bus at " +
                         bus_.address() + " ("));
  EXPECT_THAT(log_.Last("cannot own"),
              HasSubstr("); serving /org/porthole/Agent on " + me + " only"));
  EXPECT_THAT(log_.Last("connected to"),
              HasSubstr("; serving org.porthole.Agent1 as " + me));

  EXPECT_THAT(Tool({"gdbus", "call", "--session", "--dest", me, "--object-path",
                    kAgentObjectPath, "--method",
                    std::string(kAgentInterface) + ".GetStatus"}),
              HasSubstr("'SessionState': <'active'>"));
  TznEmitter tzn(bus_.address());
  tzn.Emit("PollRasNow", "{}");
  EXPECT_TRUE(WaitForPolls(1, 1s));

  auto status = QueryAgentStatus(Options());
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.status().message(),
              StartsWith("org.porthole.Agent on the bus at " + bus_.address() +
                         " is not porthole-agent ("));
}

TEST_F(DbusServiceTest, WithoutOwnInterfaceOnlyListens) {
  DbusOptions o = Options();
  o.serve_own_interface = false;
  auto service = StartService(o);
  std::string me = WaitConnected();
  EXPECT_THAT(log_.Last("connected to"), Not(HasSubstr("serving")));
  TznEmitter tzn(bus_.address());
  tzn.Emit("PollRasNow", "{}");
  tzn.Flush(me);
  EXPECT_EQ(polls(), 1);
  auto status = QueryAgentStatus(Options());
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.status().message(),
            "porthole-agent is not running on the bus at " + bus_.address() +
                " (nothing owns org.porthole.Agent)");
}

TEST_F(DbusServiceTest, QueryAgentStatusErrors) {
  auto status = QueryAgentStatus(Options());
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(status.status().message(),
            "porthole-agent is not running on the bus at " + bus_.address() +
                " (nothing owns org.porthole.Agent)");

  DbusOptions none;
  none.address = "unix:path=" + tmp_.Join("nothing-here");
  status = QueryAgentStatus(none);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(status.status().message(),
            "cannot connect to the bus at " + none.address + ": " +
                tmp_.Join("nothing-here") + ": No such file or directory");

  // A socket that is there but refuses: the daemon is gone.
  bus_.Stop();
  status = QueryAgentStatus(Options());
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.status().message(),
            "cannot connect to the bus at " + bus_.address() + ": " +
                tmp_.Join("bus") + ": Connection refused");
}

TEST_F(DbusServiceTest, AddressesAreUnescaped) {
  // "%62us" is "bus"; the guid is the daemon's.
  const std::string& printed = bus_.printed_address();
  ASSERT_THAT(printed, StartsWith(bus_.address() + ",guid="));
  DbusOptions o;
  o.address = printed;
  o.address.replace(bus_.address().size() - 3, 1, "%62");
  auto service = StartService(o);
  WaitConnected();
  auto status = QueryAgentStatus(o);
  ASSERT_TRUE(status.ok()) << status.status().message();
}

TEST_F(DbusServiceTest, StartRefusesMisuse) {
  DbusService twice(
      Options(), [] {}, [] { return AgentStatus(); });
  ASSERT_TRUE(twice.Start().ok());
  Status again = twice.Start();
  EXPECT_EQ(again.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(again.message(), "dbus: service already started");

  DbusOptions o = Options();
  o.reconnect = 0ms;
  DbusService zero(
      o, [] {}, [] { return AgentStatus(); });
  Status bad = zero.Start();
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.message(), "dbus: reconnect interval must be > 0");

  // Never started: destroys cleanly.
  DbusService idle(
      Options(), [] {}, [] { return AgentStatus(); });
}

}  // namespace
}  // namespace porthole::agent
