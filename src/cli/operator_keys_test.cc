#include "cli/operator_keys.h"

#include <gtest/gtest.h>

#include "core/base/file.h"
#include "core/base/test_util.h"
#include "core/keys/test_keys.h"

namespace porthole::cli {
namespace {

using keys::MakeTestKey;

TEST(OperatorKeysTest, LoadKeyArgPublicOrPrivate) {
  TempDir tmp;
  std::string line = MakeTestKey(tmp.path(), "id_ed25519", "ed25519", "me");
  auto from_priv = LoadKeyArg(tmp.Join("id_ed25519"));
  ASSERT_TRUE(from_priv.ok()) << from_priv.status().message();
  EXPECT_EQ(from_priv->line, line);
  EXPECT_EQ(from_priv->identity_file, tmp.Join("id_ed25519"));
  auto from_pub = LoadKeyArg(tmp.Join("id_ed25519.pub"));
  ASSERT_TRUE(from_pub.ok());
  EXPECT_EQ(from_pub->key, from_priv->key);
  EXPECT_EQ(from_pub->identity_file, tmp.Join("id_ed25519"));
  // A .pub alone (the private half in an agent or on a token).
  ASSERT_TRUE(AtomicReplace(tmp.Join("agent.pub"), line + "\n").ok());
  EXPECT_EQ(LoadKeyArg(tmp.Join("agent.pub"))->identity_file,
            tmp.Join("agent.pub"));
}

TEST(OperatorKeysTest, LoadKeyArgErrorsNameTheFile) {
  TempDir tmp;
  MakeTestKey(tmp.path(), "k");
  std::remove(tmp.Join("k.pub").c_str());
  auto r = LoadKeyArg(tmp.Join("k"));
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(r.status().message(), tmp.Join("k") + ": a private key without " +
                                      tmp.Join("k.pub") +
                                      " (ssh-keygen -y -f " + tmp.Join("k") +
                                      " > " + tmp.Join("k.pub") + ")");
  ASSERT_TRUE(AtomicReplace(tmp.Join("junk.pub"), "hello world\n").ok());
  EXPECT_EQ(LoadKeyArg(tmp.Join("junk.pub")).status().message(),
            tmp.Join("junk.pub") + ": unknown key type 'hello'");
  ASSERT_TRUE(AtomicReplace(tmp.Join("empty.pub"), "# nothing\n\n").ok());
  EXPECT_EQ(LoadKeyArg(tmp.Join("empty.pub")).status().message(),
            tmp.Join("empty.pub") + ": no public key in the file");
  EXPECT_EQ(LoadKeyArg(tmp.Join("missing")).status().code(),
            StatusCode::kNotFound);
}

TEST(OperatorKeysTest, SelectionIsByKeyMaterialInOrder) {
  TempDir tmp;
  std::string ssh = tmp.Join(".ssh");
  ASSERT_TRUE(MakeDirs(ssh, 0700).ok());
  std::string ed = MakeTestKey(ssh, "id_ed25519", "ed25519", "laptop");
  std::string rsa = MakeTestKey(ssh, "id_rsa", "rsa", "old");
  std::string ecdsa = MakeTestKey(tmp.path(), "agent_only", "ecdsa", "agent");
  ASSERT_TRUE(AtomicReplace(ssh + "/id_broken.pub", "ssh-ed25519 !!!\n").ok());
  std::vector<std::string> warnings;
  // The agent lists the ed25519 key again (once is enough) and one more.
  auto c = CandidateKeys(ssh, ed + "\n" + ecdsa + "\n", &warnings);
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].line, ed);  // id_broken, id_ed25519, id_rsa by name
  EXPECT_EQ(c[1].line, rsa);
  EXPECT_EQ(c[2].source, "ssh-agent");
  EXPECT_EQ(c[2].identity_file, "");
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("id_broken.pub"), std::string::npos);

  // The policy names the RSA and agent keys, with other comments: the first
  // candidate that matches by material wins.
  auto strip = [](const std::string& l) {
    return l.substr(0, l.rfind(' ')) + " policy-comment";
  };
  auto chosen = SelectAllowedKey(c, {strip(ecdsa), "garbage", strip(rsa)});
  ASSERT_TRUE(chosen.ok());
  EXPECT_EQ(chosen->line, rsa);
  EXPECT_EQ(chosen->identity_file, ssh + "/id_rsa");

  auto none = SelectAllowedKey(c, {});
  EXPECT_EQ(none.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(
      none.status().message(),
      "none of your keys is allowed by the server's signed policy (tried " +
          c[0].key.Fingerprint() + ", " + c[1].key.Fingerprint() + ", " +
          c[2].key.Fingerprint() +
          "); porthole policy allow-key FILE, or --key FILE");
  EXPECT_EQ(SelectAllowedKey({}, {ed}).status().message(),
            "no SSH key found (~/.ssh/id_*.pub or ssh-agent); give one with "
            "--key FILE");
}

}  // namespace
}  // namespace porthole::cli
