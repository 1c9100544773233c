#include "core/tuf/signer.h"

#include <gtest/gtest.h>

#include "core/tuf/canonical_json.h"
#include "core/tuf/remote_sessions.h"
#include "core/tuf/test_fixtures.h"
#include "core/tuf/verifier.h"

namespace porthole::tuf {
namespace {

using fixtures::RacRemoteSessionsKey;
using fixtures::RacRootKey;
using fixtures::ReadRac;
using fixtures::Time;

TEST(SignerTest, LoadsRacKeys) {
  EXPECT_EQ(RacRootKey().type(), KeyType::kEd25519);
  EXPECT_EQ(RacRootKey().keyid(),
            "858206d2a5a4b71f41ceaff7aa8c31f0b7d67472332fe7c04bef3832fbbf6c02");
  EXPECT_EQ(RacRemoteSessionsKey().type(), KeyType::kRsa);
  EXPECT_EQ(RacRemoteSessionsKey().keyid(),
            "ffee976d0b7e0a1e4038c7f7bbd29fdc11ae426f21337820a0d6a6dbb75a4cd6");
  // remote-sessions-key.pub holds the same public key.
  Json pub = ParseJson(ReadRac("remote-sessions-key.pub")).value();
  EXPECT_EQ(RacRemoteSessionsKey().PublicJson(), pub);
}

TEST(SignerTest, Ed25519SignatureIsDeterministic) {
  // root-rsa.json's own signature, reproduced from root-keys.json.
  Json root = ParseJson(ReadRac("root-rsa.json")).value();
  ErrorOr<Json> sig = RacRootKey().Sign(root["signed"]);
  ASSERT_TRUE(sig.ok()) << sig.error().message();
  EXPECT_EQ(*sig, root["signatures"][0]);
}

TEST(SignerTest, KeyFileRoundTrip) {
  for (crypto::SigningKey key :
       {crypto::SigningKey::GenerateEd25519(),
        crypto::SigningKey::GenerateEcdsaP256(),
        crypto::SigningKey::GenerateRsa(2048).value()}) {
    Signer signer(key);
    ErrorOr<std::string> file = signer.ToKeyFile();
    ASSERT_TRUE(file.ok());
    ErrorOr<Signer> back = Signer::FromKeyFile(*file);
    ASSERT_TRUE(back.ok()) << back.error().message();
    EXPECT_EQ(back->keyid(), signer.keyid());
  }
}

TEST(SignerTest, KeyFileErrors) {
  std::string seed_and_pub =
      "6b4ce02619c564aa6a740b6d552c6fc5b825692091e69be3305d9d1664e41525"
      "74fd37e6f3a1f57f436c8a6b409223f68b8aa08231f1c7627e89d0f55bd94352";
  std::string wrong_pub = seed_and_pub.substr(0, 64) + std::string(64, '0');
  struct Case {
    std::string json;
    std::string message;
  };
  const Case kCases[] = {
      {"[]", "key file: not a JSON object"},
      {R"({"keyval":{"private":"00"}})", "key file: missing member 'keytype'"},
      {R"({"keytype":"ED25519","keyval":{"private":"00"}})",
       "key file: ED25519 private key must be 64 bytes of hex"},
      {R"({"keytype":"ED25519","keyval":{"private":")" + wrong_pub + R"("}})",
       "key file: ED25519 private key holds the wrong public key"},
      {R"({"keytype":"RSA","keyval":{"private":")" + seed_and_pub + R"("}})",
       "key file: not an unencrypted PEM private key (RSA, EC or PKCS#8)"},
      {R"({"keytype":"ED25519","keyval":{"private":")" + seed_and_pub +
           R"(","public":")" + std::string(64, '1') + R"("}})",
       "key file: public does not match the private key"},
  };
  for (const Case& c : kCases) {
    ErrorOr<Signer> s = Signer::FromKeyFile(c.json);
    ASSERT_FALSE(s.ok()) << c.json;
    EXPECT_EQ(s.error().message(), c.message);
  }
  // The RSA key file claiming to be ED25519.
  Json sec = ParseJson(ReadRac("remote-sessions-key.sec")).value();
  sec["keytype"] = "ED25519";
  ErrorOr<Signer> s = Signer::FromKeyFile(DumpJson(sec).value());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message(),
            "key file: keytype 'ED25519' but the key is RSA");
}

TEST(SignerTest, BuildAndVerifyRepository) {
  Signer ecdsa{crypto::SigningKey::GenerateEcdsaP256()};
  RootSpec spec;
  spec.version = 1;
  spec.expires = Time("2030-01-01T00:00:00Z");
  spec.AddRoleKey("root", RacRootKey());
  spec.AddRoleKey("root", ecdsa);
  spec.AddRoleKey("remote-sessions", RacRemoteSessionsKey());
  spec.AddRoleKey("remote-sessions", RacRootKey());  // listed once in keys
  spec.roles["root"].threshold = 2;
  Json root_signed = BuildRoot(spec);
  EXPECT_EQ(root_signed["keys"].size(), 3u);
  EXPECT_EQ(root_signed["_type"], "Root");
  std::string root_text =
      SignMetadataText(root_signed, {&RacRootKey(), &ecdsa}).value();
  ErrorOr<Root> root = VerifyTrustedRoot(root_text, "root.json");
  ASSERT_TRUE(root.ok()) << root.error().message();

  RemoteSessionsSpec rs;
  rs.version = 9;
  rs.expires = Time("2029-01-01T00:00:00Z");
  rs.authorized_keys = {
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOfgyvDfxMI1lfrHBWZSEnIX8isPMdg8"
      "CZLNKB7W4rj/ someone"};
  rs.ra_server_hosts = {"ras.example.com"};
  rs.allowed_commands = {{{"echo", {"test"}}, {"reboot", {}}}};
  Json rs_signed = BuildRemoteSessions(rs).value();
  EXPECT_EQ(
      rs_signed["remote_sessions"]["ssh"]["authorized_keys"].begin().key(),
      "84620270886dabc51c9ace026b0a03e63abc4796b0703e344997b4a7e0f1ce5a");
  std::string rs_text =
      SignMetadataText(rs_signed, {&RacRemoteSessionsKey()}).value();
  ErrorOr<RemoteSessions> verified =
      VerifyRemoteSessions(*root, rs_text, Time("2028-01-01T00:00:00Z"));
  ASSERT_TRUE(verified.ok()) << verified.error().message();
  EXPECT_EQ(verified->version, 9u);
  ErrorOr<std::optional<CommandPolicy>> commands =
      ParseCommandPolicy(*verified);
  ASSERT_TRUE(commands.ok() && commands->has_value());
  EXPECT_TRUE((*commands)->Allows("echo", {"test"}));
  EXPECT_TRUE(ParseSshPolicy(*verified).ok());

  // Without commands the member is left out, never null (PROTOCOL 6.6).
  rs.allowed_commands.reset();
  EXPECT_FALSE(BuildRemoteSessions(rs).value().contains("remote_commands"));
  rs.authorized_keys = {"not a key"};
  EXPECT_FALSE(BuildRemoteSessions(rs).ok());
}

}  // namespace
}  // namespace porthole::tuf
