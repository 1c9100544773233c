#include <gtest/gtest.h>

#include <regex>

#include "agent/cmd_check_config.h"
#include "agent/version.h"

namespace porthole::agent {
namespace {

const std::string kTestData =
    std::string(PORTHOLE_SHARED_DIR) + "/testdata/rac";

TEST(VersionTest, UserAgentHasRacsShape) {
  std::string ua = UserAgent();
  EXPECT_TRUE(std::regex_match(
      ua,
      std::regex(R"(porthole-agent/\d+\.\d+\.\d+ \(([0-9a-f]{7,}|unknown); )"
                 R"(\d{4}-\d{2}-\d{2}; [a-z]+-[0-9.]+-[A-Za-z0-9_.-]+\))")))
      << ua;
}

struct CheckRun {
  int code;
  std::string out, err;
};

CheckRun Check(const std::string& file, config::Environment env = {}) {
  config::LoadOptions o;
  o.config_file = file;
  o.env = std::move(env);
  o.cwd = "/home/torizon";
  CheckRun r;
  r.code = CheckConfig(o, &r.out, &r.err);
  return r;
}

TEST(CheckConfigTest, RacClientTomlIsValid) {
  CheckRun r = Check(kTestData + "/client.toml");
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.err, "");
  EXPECT_NE(r.out.find("\n[device.session.embedded]\n"), std::string::npos);
}

TEST(CheckConfigTest, AktualizrExampleFailsWithOneLine) {
  CheckRun r = Check(kTestData + "/client-aktualizr.toml");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "porthole-agent: " + kTestData +
                       "/client-aktualizr.toml:9: key "
                       "'device.target_host_port': unknown key (RAC's older "
                       "format: write host_port under "
                       "[device.session.target_host])\n");
}

TEST(CheckConfigTest, EnvironmentIsMarkedAndCanBreakIt) {
  CheckRun r = Check(kTestData + "/client.toml",
                     {{"RAC__DEVICE__POLL_TIMEOUT__SECS", "9"}});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("poll_timeout = { secs = 9, nanos = 0 }  # 9s; from "
                       "RAC__DEVICE__POLL_TIMEOUT__SECS\n"),
            std::string::npos)
      << r.out;
  r = Check(kTestData + "/client.toml",
            {{"RAC__DEVICE__SESSION__SPAWNED_SSHD__CONFIG_DIR", "/run/x"}});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
}

TEST(CheckConfigTest, MissingFileIsAUsageError) {
  CheckRun r = Check("/nonexistent/agent.toml");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err,
            "porthole-agent: --config: /nonexistent/agent.toml does not exist "
            "(nor /nonexistent/agent.toml.toml)\n");
}

}  // namespace
}  // namespace porthole::agent
