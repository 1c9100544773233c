#include "agent/reload.h"

#include <gtest/gtest.h>

namespace porthole::agent {
namespace {

config::AgentConfig Config(const std::string& device_extra) {
  return config::ParseAgentConfig(R"(
[torizon]
url = "https://ras.example/ras/"
server_cert_path = "/ca.pem"
client_cert_path = "/c.pem"
client_key_path = "/k.pem"
[device]
ssh_private_key_path = "/key"
)" + device_extra + R"(
[device.session.embedded]
)",
                                  "/etc/porthole/agent.toml")
      .value();
}

using Kind = ReloadDecision::Kind;

TEST(ReloadTest, ABadFileIsLoggedAndIgnored) {
  ReloadDecision d =
      DecideReload(Config(""),
                   Status::InvalidArgument(
                       "/etc/porthole/agent.toml:3: key 'x': unknown key"),
                   Status::Ok(), true);
  EXPECT_EQ(d.kind, Kind::kKeep);
  EXPECT_EQ(d.message,
            "reload: /etc/porthole/agent.toml:3: key 'x': unknown key; keeping "
            "the running configuration");
  EXPECT_FALSE(d.next.has_value());
}

TEST(ReloadTest, SameSettingsChangeNothing) {
  ReloadDecision d = DecideReload(Config(""), Config("poll_timeout = \"3s\""),
                                  Status::Ok(), true);
  EXPECT_EQ(d.kind, Kind::kUnchanged);
  EXPECT_EQ(d.message, "reload: /etc/porthole/agent.toml: no setting changed");
}

TEST(ReloadTest, NewSettingsRestart) {
  ReloadDecision d = DecideReload(Config(""), Config("poll_timeout = \"1h\""),
                                  Status::Ok(), true);
  EXPECT_EQ(d.kind, Kind::kRestart);
  EXPECT_EQ(d.message,
            "reload: /etc/porthole/agent.toml: device.poll_timeout changed; "
            "ending the session and restarting with the new configuration");
  ASSERT_TRUE(d.next.has_value());
  EXPECT_EQ(d.next->device.poll_timeout, config::Duration::Seconds(3600));
  EXPECT_TRUE(d.notes.empty());
}

TEST(ReloadTest, TlsMaterialAfterThePrivilegeDrop) {
  const Status unreadable =
      Status::PermissionDenied("/k.pem: Permission denied");
  // As root an unreadable file is a problem of the new configuration.
  ReloadDecision d = DecideReload(Config(""), Config("poll_timeout = \"1h\""),
                                  unreadable, true);
  EXPECT_EQ(d.kind, Kind::kKeep);
  EXPECT_EQ(d.message,
            "reload: /k.pem: Permission denied; keeping the running "
            "configuration");
  // After the drop it cannot be read again: the material read at start
  // stays, and the user cannot change.
  d = DecideReload(Config("unprivileged_user_group = \"a:a\""),
                   Config("unprivileged_user_group = \"b:b\""), unreadable,
                   false);
  EXPECT_EQ(d.kind, Kind::kRestart);
  EXPECT_EQ(d.notes,
            (std::vector<std::string>{
                "reload: cannot read the TLS material now (/k.pem: Permission "
                "denied): privileges were dropped at start; keeping the "
                "certificate and key read then",
                "reload: device.unprivileged_user_group changed, but "
                "privileges were dropped at start: it applies at the next "
                "start"}));
}

}  // namespace
}  // namespace porthole::agent
