#include "agent/cmd_status.h"

#include <gtest/gtest.h>

#include <chrono>

#include "agent/dbus/test_bus.h"
#include "core/base/test_util.h"

namespace porthole::agent {
namespace {

using namespace std::chrono_literals;

AgentStatus Sample() {
  AgentStatus s;
  s.session_state = "active";
  s.relay = "ras.example.com:22";
  s.mode = "spawned_sshd";
  s.last_poll_time = "2024-05-01T10:00:00Z";
  s.last_poll_result = "session";
  s.last_error = "";
  s.pending_commands = 2;
  return s;
}

TEST(CmdStatusTest, FormatStatus) {
  EXPECT_EQ(FormatStatus(Sample()),
            "session state:    active\n"
            "relay:            ras.example.com:22\n"
            "mode:             spawned_sshd\n"
            "last poll time:   2024-05-01T10:00:00Z\n"
            "last poll result: session\n"
            "last error:       -\n"
            "pending commands: 2\n");
  AgentStatus odd;
  odd.last_error = "line one\nline\ttwo \x7f über";
  EXPECT_EQ(FormatStatus(odd),
            "session state:    -\n"
            "relay:            -\n"
            "mode:             -\n"
            "last poll time:   -\n"
            "last poll result: -\n"
            "last error:       line one?line?two ? über\n"
            "pending commands: 0\n");
}

TEST(CmdStatusTest, FormatStatusJson) {
  AgentStatus s = Sample();
  s.last_error = "say \"no\"";
  EXPECT_EQ(FormatStatusJson(s),
            R"({"last_error":"say \"no\"","last_poll_result":"session",)"
            R"("last_poll_time":"2024-05-01T10:00:00Z","mode":"spawned_sshd",)"
            R"("pending_commands":2,"relay":"ras.example.com:22",)"
            R"("session_state":"active"})"
            "\n");
}

class CmdStatusBusTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(bus_.Start().ok()); }
  DbusOptions Options() {
    DbusOptions o;
    o.address = bus_.address();
    return o;
  }

  LogCapture log_;
  TempDir tmp_;
  TestBus bus_{tmp_.Join("bus")};
};

TEST_F(CmdStatusBusTest, PrintsWhatTheAgentSays) {
  DbusService service(
      Options(), [] {}, [] { return Sample(); });
  ASSERT_TRUE(service.Start().ok());
  ASSERT_TRUE(log_.WaitFor("info: dbus: connected to ", 5s));
  std::string out, err;
  EXPECT_EQ(ShowStatus({}, Options(), &out, &err), 0);
  EXPECT_EQ(out, FormatStatus(Sample()));
  EXPECT_EQ(err, "");
  out.clear();
  EXPECT_EQ(ShowStatus({"--json"}, Options(), &out, &err), 0);
  EXPECT_EQ(out, FormatStatusJson(Sample()));
  EXPECT_EQ(err, "");
}

TEST_F(CmdStatusBusTest, AgentNotRunningIsOneLineAndExitOne) {
  std::string out, err;
  EXPECT_EQ(ShowStatus({"--json"}, Options(), &out, &err), 1);
  EXPECT_EQ(out, "");
  EXPECT_EQ(err,
            "porthole-agent: porthole-agent is not running on the bus at " +
                bus_.address() + " (nothing owns org.porthole.Agent)\n");
}

TEST(CmdStatusTest, BadArgumentIsUsageError) {
  std::string out, err;
  EXPECT_EQ(ShowStatus({"--jsn"}, DbusOptions(), &out, &err), 2);
  EXPECT_EQ(out, "");
  EXPECT_EQ(err,
            "porthole-agent: status: unexpected argument '--jsn' (usage: "
            "porthole-agent status [--json] [--system])\n");
}

}  // namespace
}  // namespace porthole::agent
