#include "cli/keys_remote.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "core/base/subprocess.h"

namespace porthole::cli {
namespace {

TEST(KeysRemoteTest, RequestRoundTrip) {
  KeysRequest r{{"add", "self", "command=\"a b\" ssh-ed25519 AAAA x", "1h"},
                "[known]\n"};
  auto back = DecodeKeysRequest(EncodeKeysRequest(r));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->args, r.args);
  EXPECT_EQ(back->catalogue_toml, r.catalogue_toml);
}

TEST(KeysRemoteTest, HostileRequests) {
  std::string magic("porthole-keys-request 1\0", 24);
  struct Case {
    std::string data, error;
  } cases[] = {
      {"",
       "bad keys request on stdin: wrong header (is the local porthole the "
       "same version?)"},
      {"porthole-keys-request 2",
       "bad keys request on stdin: wrong header (is "
       "the local porthole the same version?)"},
      {magic, "bad keys request on stdin: truncated"},
      {magic + "add", "bad keys request on stdin: truncated"},
      {magic + std::string("\0", 1), "bad keys request on stdin: no verb"},
      {magic + std::string("list\0\0x\0y", 9),
       "bad keys request on stdin: NUL in catalogue"},
      {std::string(kMaxKeysRequest + 1, 'x'),
       "bad keys request on stdin: too large"},
  };
  for (const auto& c : cases) {
    auto r = DecodeKeysRequest(c.data);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().message(), c.error);
  }
}

TEST(KeysRemoteTest, ShellQuoteSurvivesARealShell) {
  for (std::string word :
       {"plain", "a b", "it's", "$(id)", "`x`", "\\\"'\n", ""}) {
    auto r = RunProcess({"sh", "-c", "printf %s " + ShellQuote(word)});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->out, word);
  }
}

TEST(KeysRemoteTest, SshArgvPutsHostAfterDoubleDash) {
  unsetenv("PORTHOLE_SSH");
  RemoteTarget t;
  t.host = "dev-7";
  t.ssh_config = "/c";
  t.jump = "hub";
  t.ssh_options = {"Port=2222"};
  EXPECT_EQ(SshArgv(t, "cmd"), (std::vector<std::string>{
                                   "ssh", "-T", "-F", "/c", "-J", "hub", "-o",
                                   "Port=2222", "--", "dev-7", "cmd"}));
}

}  // namespace
}  // namespace porthole::cli
