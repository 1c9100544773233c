#include "agent/cmd_check_policy.h"

#include <gtest/gtest.h>

#include "core/base/file.h"
#include "core/base/test_util.h"
#include "core/tuf/rfc3339.h"

namespace porthole::agent {
namespace {

std::string Rac(const std::string& name) {
  return std::string(PORTHOLE_SHARED_DIR) + "/testdata/rac/" + name;
}

constexpr char kSession[] = R"({"ssh":{
  "authorized_pubkeys":["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOfgyvDfxMI1lfrHBWZSEnIX8isPMdg8CZLNKB7W4rj/ alice"],
  "reverse_port":41022,
  "ra_server_url":"ssh://6f1c0b8e-2a47-4b3e-9d0c-3f3b1c2d4e5f@RAS.dev.torizon.io:2222",
  "ra_server_ssh_pubkey":"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMSQy6JGnIxrVMsi4xi2Goq48Dy1ilQ8wvaurQU3TSQe",
  "expires_at":"2025-07-30T18:00:00Z"}})";

class CheckPolicyTest : public ::testing::Test {
 protected:
  int Run(const std::vector<std::string>& args) {
    out_.clear();
    err_.clear();
    return CheckPolicy(args, clock_, &out_, &err_);
  }
  std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_.Join(name);
    EXPECT_TRUE(AtomicReplace(path, text).ok());
    return path;
  }

  TempDir dir_;
  FakeClock clock_{tuf::ParseRfc3339("2025-07-30T16:00:00Z").value()};
  std::string out_, err_;
};

TEST_F(CheckPolicyTest, RacVectorsAreValid) {
  EXPECT_EQ(Run({"--root", Rac("root-rsa.json"), "--metadata",
                 Rac("remote-sessions.json")}),
            0)
      << err_;
  EXPECT_EQ(out_, Rac("remote-sessions.json") +
                      ": valid remote-sessions version 87, expires "
                      "2034-03-12T15:48:31Z (root version 3, expires "
                      "2034-02-08T15:38:17Z)\n");
  EXPECT_EQ(err_, "");
}

TEST_F(CheckPolicyTest, SessionAllowed) {
  std::string session = Write("session.json", kSession);
  EXPECT_EQ(
      Run({"--root=" + Rac("root-rsa.json"),
           "--metadata=" + Rac("remote-sessions.json"), "--session", session}),
      0)
      << err_;
  EXPECT_NE(out_.find("session allowed (1 operator keys"), std::string::npos);
}

TEST_F(CheckPolicyTest, SessionRefusedWithEveryReason) {
  std::string text = kSession;
  text.replace(text.find("RAS.dev.torizon.io"), 18, "evil.example.com");
  text.replace(text.find("TSQe"), 4, "TSQf");
  std::string session = Write("session.json", text);
  EXPECT_EQ(Run({"--root", Rac("root-rsa.json"), "--metadata",
                 Rac("remote-sessions.json"), "--session", session, "--at",
                 "2025-07-30T19:00:00Z"}),
            1);
  EXPECT_NE(err_.find("check-policy: session not allowed: metadata does not "
                      "allow relay host 'evil.example.com'\n"),
            std::string::npos)
      << err_;
  EXPECT_NE(err_.find("session not allowed: metadata does not allow server "
                      "key ssh-ed25519 SHA256:"),
            std::string::npos)
      << err_;
  EXPECT_NE(err_.find("session not allowed: session expired at "
                      "2025-07-30T18:00:00Z\n"),
            std::string::npos)
      << err_;
}

TEST_F(CheckPolicyTest, NamedFailures) {
  std::string other = Write("x.json", "An error occurred\n");
  struct Case {
    std::vector<std::string> args;
    int code;
    std::string err_start;
  };
  const Case kCases[] = {
      {{"--root", Rac("root-offline-updates-only.json"), "--metadata",
        Rac("remote-sessions.json")},
       1,
       "check-policy: Failed to verify remote-sessions metadata: "
       "remote-sessions not set in root.json [missing-role]\n"},
      {{"--root", Rac("root-rsa.json"), "--metadata",
        Rac("remote-sessions-86.json")},
       1,
       "check-policy: Failed to verify remote-sessions metadata: " +
           Rac("remote-sessions-86.json") + ": not JSON"},
      {{"--root", Rac("remote-sessions.json"), "--metadata",
        Rac("remote-sessions.json")},
       1,
       "check-policy: Failed to verify remote-sessions metadata: " +
           Rac("remote-sessions.json") +
           ": _type must be 'Root' ('Remote-Sessions') [wrong-type]\n"},
      {{"--root", Rac("root-rsa.json"), "--metadata", Rac("root-rsa.json")},
       1,
       "check-policy: Failed to verify remote-sessions metadata: " +
           Rac("root-rsa.json") +
           ": _type must be 'Remote-Sessions' ('Root') [wrong-type]\n"},
      {{"--root", Rac("root-rsa.json"), "--metadata",
        Rac("remote-sessions.json"), "--at", "2034-03-01T00:00:00Z"},
       1,
       "check-policy: Failed to verify remote-sessions metadata: " +
           Rac("root-rsa.json") +
           ": expired at 2034-02-08T15:38:17Z (now "
           "2034-03-01T00:00:00Z) [expired]\n"},
      {{"--root", Rac("root-rsa.json"), "--metadata", other + ".missing"},
       1,
       "check-policy: " + other + ".missing: "},
      {{"--root", Rac("root-rsa.json")},
       2,
       "check-policy: --metadata is required\nusage:"},
      {{"--metadata", "x"}, 2, "check-policy: --root is required\n"},
      {{"--root", "a", "--root", "b", "--metadata", "m"},
       2,
       "check-policy: --root given twice\n"},
      {{"--root"}, 2, "check-policy: --root needs a value\n"},
      {{"--root", "a", "--metadata", "m", "extra"},
       2,
       "check-policy: unexpected argument 'extra'\n"},
      {{"--root", "a", "--metadata", "m", "--at", "soon"},
       2,
       "check-policy: --at: not an RFC 3339 timestamp: 'soon'\n"},
  };
  for (const Case& c : kCases) {
    EXPECT_EQ(Run(c.args), c.code) << err_;
    EXPECT_EQ(err_.substr(0, c.err_start.size()), c.err_start);
    EXPECT_EQ(out_, "");
  }
}

TEST_F(CheckPolicyTest, Help) {
  EXPECT_EQ(Run({"--help"}), 0);
  EXPECT_EQ(out_.rfind("usage: porthole-agent check-policy", 0), 0u);
}

}  // namespace
}  // namespace porthole::agent
