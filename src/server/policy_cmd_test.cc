// `porthole-server policy ...` and `root ...` (cmd_policy.h) driven through
// their CLI11 setup, on a data directory made by InitDataDir (the e2e test
// tests/e2e/server_tuf.sh drives the binary against a running server).
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "core/base/file.h"
#include "core/base/test_util.h"
#include "core/crypto/signature.h"
#include "core/tuf/json.h"
#include "core/tuf/signer.h"
#include "server/cmd_init.h"
#include "server/cmd_policy.h"
#include "server/config.h"

namespace porthole::server {
namespace {

constexpr char kAlice[] =
    "ssh-ed25519 "
    "AAAAC3NzaC1lZDI1NTE5AAAAIN1FZFQ6phPDMdrtAd5LkdIhIUN1kVGacgQiLdb4"
    "dD8B alice@laptop";

struct Ran {
  int rc = -1;
  std::string out;
  std::string err;
};

class PolicyCmdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = InitDataDir({data_, "localhost", false});
    ASSERT_TRUE(r.ok()) << r.status().message();
    global_.data_dir = data_;
  }

  // Runs `porthole-server [policy|root] ARGS...` in-process.
  Ran Run(const std::vector<std::string>& args) {
    CLI::App app("test", "porthole-server");
    CLI::App* policy = app.add_subcommand("policy", "");
    CLI::App* root = app.add_subcommand("root", "");
    CommandAction p = SetupPolicy(policy, &global_);
    CommandAction r = SetupRoot(root, &global_);
    std::vector<std::string> rev(args.rbegin(), args.rend());
    Ran ran;
    try {
      app.parse(rev);
    } catch (const CLI::ParseError& e) {
      ran.rc = 2;
      ran.err = e.what();
      return ran;
    }
    testing::internal::CaptureStdout();
    testing::internal::CaptureStderr();
    ran.rc = policy->parsed() ? p() : r();
    ran.out = testing::internal::GetCapturedStdout();
    ran.err = testing::internal::GetCapturedStderr();
    return ran;
  }

  nlohmann::json ShowJson() {
    Ran r = Run({"policy", "show", "--json"});
    EXPECT_EQ(r.rc, 0) << r.err;
    return nlohmann::json::parse(r.out);
  }

  std::string Write(const std::string& name, const std::string& text) {
    std::string path = tmp_.Join(name);
    EXPECT_TRUE(AtomicReplace(path, text).ok());
    return path;
  }

  TempDir tmp_;
  std::string data_ = tmp_.Join("data");
  GlobalOptions global_;
};

TEST_F(PolicyCmdTest, ReadKeyArgument) {
  auto line = ReadKeyArgument(kAlice);
  ASSERT_TRUE(line.ok());
  EXPECT_EQ(*line, kAlice);
  std::string file =
      Write("alice.pub", std::string("# a comment\n\n  ") + kAlice + "  \n");
  auto from_file = ReadKeyArgument(file);
  ASSERT_TRUE(from_file.ok()) << from_file.status().message();
  EXPECT_EQ(*from_file, kAlice);
  std::string empty = Write("empty.pub", "# nothing\n\n");
  auto none = ReadKeyArgument(empty);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(none.status().message().find(empty), std::string::npos);
  EXPECT_FALSE(ReadKeyArgument("").ok());
}

TEST_F(PolicyCmdTest, OnlineEditsAreServedAtOnce) {
  nlohmann::json before = ShowJson();
  uint64_t v = before["remote_sessions"]["version"];
  EXPECT_TRUE(before["remote_sessions"]["keys_online"].get<bool>());

  Ran r = Run(
      {"policy", "allow-key", Write("alice.pub", kAlice), "--name", "alice"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("version " + std::to_string(v + 1)), std::string::npos)
      << r.out;
  nlohmann::json after = ShowJson();
  EXPECT_EQ(after["remote_sessions"]["version"], v + 1);
  EXPECT_TRUE(after["draft_published"].get<bool>());
  ASSERT_EQ(after["published"]["authorized_keys"].size(), 1u);
  EXPECT_EQ(after["published"]["authorized_keys"][0]["name"], "alice");

  EXPECT_EQ(Run({"policy", "allow-command", "echo", "test"}).rc, 0);
  EXPECT_EQ(Run({"policy", "allow-relay-host", "relay2.example.com"}).rc, 0);
  after = ShowJson();
  EXPECT_EQ(after["remote_sessions"]["version"], v + 3);
  EXPECT_EQ(after["published"]["allowed_commands"]["echo"],
            nlohmann::json::array({"test"}));

  // By name; then it is gone and a second removal finds nothing (exit 1).
  EXPECT_EQ(Run({"policy", "deny-key", "alice"}).rc, 0);
  EXPECT_TRUE(ShowJson()["published"]["authorized_keys"].empty());
  r = Run({"policy", "deny-key", "alice"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_FALSE(r.err.empty());
  EXPECT_EQ(Run({"policy", "deny-relay-host", "relay2.example.com"}).rc, 0);
  EXPECT_EQ(Run({"policy", "deny-command", "echo"}).rc, 0);
  EXPECT_EQ(Run({"policy", "deny-command", "echo"}).rc, 1);

  // Nothing new: publish says so and changes nothing.
  uint64_t now = ShowJson()["remote_sessions"]["version"];
  r = Run({"policy", "publish"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("Nothing to publish"), std::string::npos);
  EXPECT_EQ(ShowJson()["remote_sessions"]["version"], now);

  // Text form for people names the sections.
  r = Run({"policy", "show"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(r.out.find("relay hosts:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("key online"), std::string::npos) << r.out;
}

TEST_F(PolicyCmdTest, BadInputIsUsageAndChangesNothing) {
  nlohmann::json before = ShowJson();
  Ran r = Run({"policy", "allow-key", "ssh-ed25519 not-base64"});
  EXPECT_EQ(r.rc, 2) << r.err;
  EXPECT_FALSE(r.err.empty());
  r = Run({"policy", "allow-command", "rm", "-rf"});
  EXPECT_EQ(r.rc, 2) << r.err;
  r = Run({"policy", "import", Write("junk.json", "{not json")});
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.err.find("junk.json"), std::string::npos) << r.err;
  r = Run({"policy", "import", tmp_.Join("missing.json")});
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("missing.json"), std::string::npos) << r.err;
  EXPECT_EQ(ShowJson(), before);
  // Unknown subcommand / missing argument: CLI usage errors.
  EXPECT_EQ(Run({"policy", "frobnicate"}).rc, 2);
  EXPECT_EQ(Run({"policy", "allow-key"}).rc, 2);
  EXPECT_EQ(Run({"root", "rotate", "--remote-sessions-key", "x",
                 "--new-remote-sessions-key"})
                .rc,
            2);
}

TEST_F(PolicyCmdTest, OfflineKeyExportSignImport) {
  tuf::Signer offline(crypto::SigningKey::GenerateEd25519());
  tuf::Signer rogue(crypto::SigningKey::GenerateEd25519());
  auto pub = tuf::DumpJsonPretty(offline.PublicJson());
  ASSERT_TRUE(pub.ok());
  std::string pub_file = Write("rs.pub", *pub);

  Ran r = Run({"root", "show", "--json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["version"], 1);

  r = Run({"root", "rotate", "--remote-sessions-key", pub_file});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("offline"), std::string::npos) << r.out;
  r = Run({"root", "show", "--json"});
  nlohmann::json root = nlohmann::json::parse(r.out);
  EXPECT_EQ(root["version"], 2);
  EXPECT_EQ(root["roles"]["remote-sessions"]["keys"][0]["keyid"],
            offline.keyid());
  EXPECT_FALSE(
      root["roles"]["remote-sessions"]["keys"][0]["online"].get<bool>());

  nlohmann::json before = ShowJson();
  uint64_t served = before["remote_sessions"]["version"];
  // The edit changes the draft only, and says so.
  r = Run({"policy", "allow-key", kAlice, "--name", "alice"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("NOT served"), std::string::npos) << r.out;
  nlohmann::json after = ShowJson();
  EXPECT_EQ(after["remote_sessions"]["version"], served);
  EXPECT_FALSE(after["draft_published"].get<bool>());
  r = Run({"policy", "publish"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_FALSE(r.err.empty());

  std::string draft = tmp_.Join("draft.json");
  r = Run({"policy", "export", "-o", draft});
  ASSERT_EQ(r.rc, 0) << r.err;
  auto text = ReadFile(draft, 1 << 20);
  ASSERT_TRUE(text.ok());
  nlohmann::json doc = nlohmann::json::parse(*text);
  EXPECT_TRUE(doc["signatures"].empty());

  // Unsigned, and signed by a key not in root: refused, nothing served.
  EXPECT_EQ(Run({"policy", "import", draft}).rc, 1);
  auto signed_value = tuf::ParseJson(doc["signed"].dump());
  ASSERT_TRUE(signed_value.ok());
  auto by_rogue = tuf::SignMetadataText(*signed_value, {&rogue});
  ASSERT_TRUE(by_rogue.ok());
  r = Run({"policy", "import", Write("rogue.json", *by_rogue)});
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("rogue.json"), std::string::npos) << r.err;
  EXPECT_EQ(ShowJson()["remote_sessions"]["version"], served);

  auto by_offline = tuf::SignMetadataText(*signed_value, {&offline});
  ASSERT_TRUE(by_offline.ok());
  std::string good = Write("signed.json", *by_offline);
  r = Run({"policy", "import", good});
  ASSERT_EQ(r.rc, 0) << r.err;
  after = ShowJson();
  EXPECT_GT(after["remote_sessions"]["version"].get<uint64_t>(), served);
  EXPECT_TRUE(after["draft_published"].get<bool>());
  EXPECT_EQ(after["published"]["authorized_keys"][0]["name"], "alice");
  // The same version again is a rollback.
  EXPECT_EQ(Run({"policy", "import", good}).rc, 1);
}

TEST_F(PolicyCmdTest, RotateWithNewKeys) {
  Ran r = Run({"root", "rotate", "--new-root-key"});
  ASSERT_EQ(r.rc, 0) << r.err;
  r = Run({"root", "rotate", "--new-remote-sessions-key"});
  ASSERT_EQ(r.rc, 0) << r.err;
  r = Run({"root", "show"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(r.out.find("root.json version 3"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("offline"), std::string::npos) << r.out;
  // Still online: an edit is served.
  r = Run({"policy", "allow-key", kAlice});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("served as"), std::string::npos) << r.out;
  // A public key file that is not a key: usage error naming it.
  r = Run({"root", "rotate", "--remote-sessions-key",
           Write("bad.pub", "{\"keytype\": \"nope\"}")});
  EXPECT_EQ(r.rc, 2) << r.err;
  EXPECT_NE(r.err.find("bad.pub"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace porthole::server
