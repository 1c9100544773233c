#include "cli/policy_sign.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include "cli/commands.h"
#include "core/base/file.h"
#include "core/base/test_util.h"
#include "core/tuf/rfc3339.h"
#include "core/tuf/verifier.h"

namespace porthole::cli {
namespace {

SystemTime Time(const char* t) { return tuf::ParseRfc3339(t).value(); }

// What `porthole-server policy export` writes: the next version, unsigned.
std::string Exported(uint64_t version) {
  tuf::RemoteSessionsSpec spec;
  spec.version = version;
  spec.expires = Time("2030-01-01T00:00:00Z");
  spec.authorized_keys = {
      "ssh-ed25519 "
      "AAAAC3NzaC1lZDI1NTE5AAAAIPp6T7ZEBsNvVYBzrb/XyD8eDqhrFjWgDvtKwZEvuIE1 "
      "alice"};
  spec.authorized_key_names = {"alice"};
  spec.ra_server_hosts = {"relay.example.com"};
  spec.allowed_commands =
      std::map<std::string, std::vector<std::string>>{{"echo", {"test"}}};
  tuf::Json doc{{"signatures", tuf::Json::array()},
                {"signed", tuf::BuildRemoteSessions(spec).value()}};
  return tuf::DumpJsonPretty(doc).value();
}

// A root whose remote-sessions role is `rs` (threshold 1), signed by a root
// key of its own.
tuf::Root RootFor(const tuf::Signer& rs) {
  tuf::Signer root_key(crypto::SigningKey::GenerateEd25519());
  tuf::RootSpec spec;
  spec.expires = Time("2031-01-01T00:00:00Z");
  spec.AddRoleKey("root", root_key);
  spec.AddRoleKey("remote-sessions", rs);
  std::string text =
      tuf::SignMetadataText(tuf::BuildRoot(spec), {&root_key}).value();
  return tuf::VerifyTrustedRoot(text, "root.json").value();
}

TEST(PolicySignTest, KeygenSignVerifyRoundTrip) {
  TempDir tmp;
  std::string key_path = tmp.Join("rs.key");
  ASSERT_EQ(RunPolicy({"keygen", "--out", key_path}), 0);
  struct stat st;
  ASSERT_EQ(stat(key_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  // FILE.pub holds only the root `keys` entry.
  auto pub = tuf::ParseJson(ReadFile(key_path + ".pub", 1 << 16).value());
  ASSERT_TRUE(pub.ok());
  auto signer = LoadPolicyKey(key_path);
  ASSERT_TRUE(signer.ok()) << signer.status().message();
  EXPECT_EQ(*pub, signer->PublicJson());
  auto parsed_pub = tuf::ParseKey(*pub, "pub");
  ASSERT_TRUE(parsed_pub.ok());
  EXPECT_EQ(parsed_pub->keyid, signer->keyid());

  // Unsigned, the document is refused by the devices' verifier...
  tuf::Root root = RootFor(*signer);
  std::string doc = Exported(4);
  auto unsigned_check =
      tuf::VerifyRemoteSessions(root, doc, Time("2026-12-04T10:00:00Z"));
  EXPECT_EQ(unsigned_check.error().code(), tuf::ErrorCode::kThresholdNotMet);
  // ...signed, it is accepted.
  auto signed_doc = SignPolicyDocument(doc, *signer, "export.json");
  ASSERT_TRUE(signed_doc.ok()) << signed_doc.status().message();
  auto ok = tuf::VerifyRemoteSessions(root, *signed_doc,
                                      Time("2026-12-04T10:00:00Z"));
  ASSERT_TRUE(ok.ok()) << ok.error().message();
  EXPECT_EQ(ok->version, 4u);

  // Signing twice with the same key is refused; the first file is intact.
  auto twice = SignPolicyDocument(*signed_doc, *signer, "signed.json");
  EXPECT_EQ(twice.status().message(),
            "signed.json: already signed by key " + signer->keyid());
  // keygen never overwrites a key.
  EXPECT_EQ(RunPolicy({"keygen", "--out", key_path}), 1);
  EXPECT_EQ(LoadPolicyKey(key_path)->keyid(), signer->keyid());
}

TEST(PolicySignTest, SignedByAnotherKeyStillFailsVerification) {
  tuf::Signer good(crypto::SigningKey::GenerateEd25519());
  tuf::Signer rogue(crypto::SigningKey::GenerateEd25519());
  auto signed_doc = SignPolicyDocument(Exported(2), rogue, "x");
  ASSERT_TRUE(signed_doc.ok());
  auto r = tuf::VerifyRemoteSessions(RootFor(good), *signed_doc,
                                     Time("2026-12-04T10:00:00Z"));
  EXPECT_EQ(r.error().code(), tuf::ErrorCode::kThresholdNotMet);
}

TEST(PolicySignTest, RootDocumentsCanBeSignedToo) {
  tuf::Signer old_key(crypto::SigningKey::GenerateEd25519());
  tuf::Signer new_key(crypto::SigningKey::GenerateEd25519());
  tuf::RootSpec spec;
  spec.expires = Time("2031-01-01T00:00:00Z");
  spec.AddRoleKey("root", new_key);
  tuf::Json doc{{"signatures", tuf::Json::array()},
                {"signed", tuf::BuildRoot(spec)}};
  std::string text = tuf::DumpJson(doc).value();
  auto signed_doc = SignPolicyDocument(text, new_key, "root.json");
  ASSERT_TRUE(signed_doc.ok()) << signed_doc.status().message();
  EXPECT_TRUE(tuf::VerifyTrustedRoot(*signed_doc, "root.json").ok());
  (void)old_key;
}

TEST(PolicySignTest, HostileDocumentsAreRefused) {
  tuf::Signer key(crypto::SigningKey::GenerateEd25519());
  const std::pair<std::string, std::string> cases[] = {
      {"not json", "in.json: "},
      {"[]", "in.json: "},
      {R"({"signed": {"_type": "Targets", "version": 1}, "signatures": []})",
       "in.json: signed._type is 'Targets', not Remote-Sessions or Root; "
       "refusing to sign it"},
      {R"({"signed": {"version": 1}, "signatures": []})",
       "in.json: signed._type is '', not Remote-Sessions or Root; refusing to "
       "sign it"},
      {R"({"signed": {"_type": "Root", "x": 1.5}, "signatures": []})",
       "in.json: "},
      {R"({"signed": {"_type": "Root"}, "signatures": [{"keyid": "zz", "sig": "AA=="}]})",
       "in.json: "},
      {R"({"signed": {"_type": "Root"}})", "in.json: "},
      {R"({"signed": {"_type": "Root", "a": 1, "a": 2}, "signatures": []})",
       "in.json: "},
  };
  for (const auto& [text, prefix] : cases) {
    auto r = SignPolicyDocument(text, key, "in.json");
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << text;
    EXPECT_TRUE(r.status().message().starts_with(prefix))
        << r.status().message();
  }
  TempDir tmp;
  ASSERT_TRUE(
      AtomicReplace(tmp.Join("bad.key"), "{\"keytype\": \"ED25519\"}").ok());
  auto bad = LoadPolicyKey(tmp.Join("bad.key"));
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(bad.status().message().starts_with(tmp.Join("bad.key") + ": "));
}

}  // namespace
}  // namespace porthole::cli
