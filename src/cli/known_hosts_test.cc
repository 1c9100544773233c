#include "cli/known_hosts.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include "core/base/file.h"
#include "core/base/test_util.h"
#include "core/keys/test_keys.h"

namespace porthole::cli {
namespace {

TEST(KnownHostsTest, ReplacesOnlyTheAliasLines) {
  TempDir tmp;
  std::string k1 = keys::MakeTestKey(tmp.path(), "h1", "ed25519", "c1");
  std::string k2 = keys::MakeTestKey(tmp.path(), "h2", "ecdsa", "c2");
  auto body = [](const std::string& l) {
    size_t a = l.find(' '), b = l.find(' ', a + 1);
    return l.substr(0, b);
  };
  std::string path = tmp.Join("cfg/known_hosts");
  ASSERT_TRUE(MakeDirs(tmp.Join("cfg"), 0700).ok());
  std::string other = "# mine\nporthole-dev-70 " + body(k1) +
                      "\nother,porthole-dev-7 " + body(k2) +
                      "\n|1|hashed= " + body(k1) + "\nporthole-dev-7 " +
                      body(k2) + "\n";
  ASSERT_TRUE(AtomicReplace(path, other, ReplaceOptions::NewMode(0644)).ok());
  ASSERT_TRUE(UpdateKnownHosts(path, "porthole-dev-7", {k1}).ok());
  EXPECT_EQ(*ReadFile(path, 1 << 20),
            "# mine\nporthole-dev-70 " + body(k1) + "\n|1|hashed= " + body(k1) +
                "\nporthole-dev-7 " + body(k1) + "\n");
  // No keys from the server: what is there stays.
  ASSERT_TRUE(UpdateKnownHosts(path, "porthole-dev-7", {}).ok());
  EXPECT_NE(ReadFile(path, 1 << 20)->find("porthole-dev-7 " + body(k1)),
            std::string::npos);
  // A bad key from the server writes nothing.
  std::string before = *ReadFile(path, 1 << 20);
  EXPECT_EQ(
      UpdateKnownHosts(path, "porthole-dev-7", {k2, "ssh-ed25519 AA"}).code(),
      StatusCode::kInvalidArgument);
  EXPECT_EQ(*ReadFile(path, 1 << 20), before);
}

TEST(KnownHostsTest, NewFileIsPrivateAndPortsAreBracketed) {
  TempDir tmp;
  std::string k = keys::MakeTestKey(tmp.path(), "relay");
  std::string path = tmp.Join("new/dir/known_hosts");
  std::string spec = KnownHostsHostSpec("relay.example.com", 2222);
  EXPECT_EQ(spec, "[relay.example.com]:2222");
  EXPECT_EQ(KnownHostsHostSpec("relay.example.com", 22), "relay.example.com");
  ASSERT_TRUE(UpdateKnownHosts(path, spec, {k}).ok());
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_EQ(stat(tmp.Join("new/dir").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  // ssh-keygen finds the key under that name: the format is OpenSSH's.
  auto r = RunProcess({"ssh-keygen", "-F", spec, "-f", path});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->success()) << r->err;
}

}  // namespace
}  // namespace porthole::cli
