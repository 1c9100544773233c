// Attacks on the pure verification steps, with documents forged by signing
// with RAC's own test keys (root-keys.json, remote-sessions-key.sec) and
// with fresh keys.
#include "core/tuf/verifier.h"

#include <gtest/gtest.h>

#include "core/tuf/test_fixtures.h"

namespace porthole::tuf {
namespace {

using fixtures::MakeRemoteSessionsSpec;
using fixtures::MakeRootSpec;
using fixtures::RacRemoteSessionsKey;
using fixtures::RacRootKey;
using fixtures::ReadRac;
using fixtures::RemoteSessionsText;
using fixtures::RootText;
using fixtures::Time;

class VerifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = VerifyTrustedRoot(ReadRac("root-rsa.json"), "root.json").value();
  }
  // A remote-sessions document for root-rsa.json.
  std::string Rs(uint64_t version, std::vector<const Signer*> signers,
                 SystemTime expires = Time("2034-01-01T00:00:00Z")) {
    return RemoteSessionsText(MakeRemoteSessionsSpec(version, expires),
                              signers);
  }
  ErrorOr<RemoteSessions> Verify(const std::string& body,
                                 std::optional<uint64_t> floor = {}) {
    return VerifyRemoteSessions(root_, body, now_, floor);
  }
  static void ExpectError(const ErrorOr<RemoteSessions>& r, ErrorCode code,
                          const std::string& message) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), code) << r.error().message();
    EXPECT_EQ(r.error().message(), message);
  }

  Root root_;
  SystemTime now_ = fixtures::VectorNow();
  const Signer& rs_key_ = RacRemoteSessionsKey();
  const Signer& root_key_ = RacRootKey();
  Signer stranger_{crypto::SigningKey::GenerateEd25519()};
};

TEST_F(VerifierTest, RacVectorsVerify) {
  EXPECT_EQ(root_.version, 3u);
  ErrorOr<RemoteSessions> rs = Verify(ReadRac("remote-sessions.json"));
  ASSERT_TRUE(rs.ok()) << rs.error().message();
  EXPECT_EQ(rs->version, 87u);
}

TEST_F(VerifierTest, ForgedWithRacKeyVerifies) {
  ErrorOr<RemoteSessions> rs = Verify(Rs(88, {&rs_key_}));
  ASSERT_TRUE(rs.ok()) << rs.error().message();
  EXPECT_EQ(rs->version, 88u);
}

TEST_F(VerifierTest, WrongKey) {
  ExpectError(Verify(Rs(88, {&stranger_})), ErrorCode::kThresholdNotMet,
              "remote-sessions.json: signature threshold of 1 not met for "
              "role remote-sessions (0 valid signatures)");
}

TEST_F(VerifierTest, RootKeyIsNotARemoteSessionsKey) {
  // Mix and match: the root key is valid, but not for this role.
  ExpectError(Verify(Rs(88, {&root_key_})), ErrorCode::kThresholdNotMet,
              "remote-sessions.json: signature threshold of 1 not met for "
              "role remote-sessions (0 valid signatures)");
}

TEST_F(VerifierTest, RootDocumentServedAsRemoteSessions) {
  // One key for both roles, as in RAC's integration tests: the root is
  // correctly signed by a remote-sessions key, but it is not one.
  Signer both{crypto::SigningKey::GenerateEd25519()};
  std::string root_text = RootText(
      MakeRootSpec(1, Time("2034-01-01T00:00:00Z"), {&both}, {&both}), {&both});
  Root root = VerifyTrustedRoot(root_text, "root.json").value();
  ErrorOr<RemoteSessions> r = VerifyRemoteSessions(root, root_text, now_);
  ExpectError(r, ErrorCode::kWrongType,
              "remote-sessions.json: _type must be 'Remote-Sessions' "
              "('Root')");
  // While a real one from the same key passes.
  EXPECT_TRUE(VerifyRemoteSessions(root, Rs(1, {&both}), now_).ok());
}

TEST_F(VerifierTest, BelowThresholdAndDuplicates) {
  Signer second{crypto::SigningKey::GenerateEcdsaP256()};
  RootSpec spec = MakeRootSpec(1, Time("2034-01-01T00:00:00Z"), {&root_key_},
                               {&rs_key_, &second});
  spec.roles["remote-sessions"].threshold = 2;
  Root root =
      VerifyTrustedRoot(RootText(spec, {&root_key_}), "root.json").value();
  auto verify = [&](std::vector<const Signer*> signers) {
    return VerifyRemoteSessions(root, Rs(1, signers), now_);
  };
  EXPECT_TRUE(verify({&rs_key_, &second}).ok());
  ExpectError(verify({&rs_key_}), ErrorCode::kThresholdNotMet,
              "remote-sessions.json: signature threshold of 2 not met for "
              "role remote-sessions (1 valid signatures)");
  ExpectError(verify({&rs_key_, &rs_key_}), ErrorCode::kThresholdNotMet,
              "remote-sessions.json: signature threshold of 2 not met for "
              "role remote-sessions (1 valid signatures)");
  ExpectError(verify({&rs_key_, &root_key_, &stranger_}),
              ErrorCode::kThresholdNotMet,
              "remote-sessions.json: signature threshold of 2 not met for "
              "role remote-sessions (1 valid signatures)");
}

TEST_F(VerifierTest, Expired) {
  ExpectError(Verify(Rs(88, {&rs_key_}, Time("2025-07-30T15:59:59Z"))),
              ErrorCode::kExpired,
              "remote-sessions.json: expired at 2025-07-30T15:59:59Z (now "
              "2025-07-30T16:00:00Z)");
  // Expiring exactly now is still valid (now <= expires).
  EXPECT_TRUE(Verify(Rs(88, {&rs_key_}, now_)).ok());
}

TEST_F(VerifierTest, Rollback) {
  ExpectError(Verify(ReadRac("remote-sessions.json"), 88), ErrorCode::kRollback,
              "remote-sessions.json: version 87 is lower than the last "
              "accepted version 88");
  EXPECT_TRUE(Verify(ReadRac("remote-sessions.json"), 87).ok());
  EXPECT_TRUE(Verify(ReadRac("remote-sessions.json"), 1).ok());
}

TEST_F(VerifierTest, TamperedContent) {
  Json doc = ParseJson(ReadRac("remote-sessions.json")).value();
  doc["signed"]["remote_sessions"]["ssh"]["ra_server_hosts"].push_back(
      "evil.example.com");
  ExpectError(Verify(DumpJson(doc).value()), ErrorCode::kThresholdNotMet,
              "remote-sessions.json: signature threshold of 1 not met for "
              "role remote-sessions (0 valid signatures)");
}

TEST_F(VerifierTest, NotJsonAndTooLarge) {
  ErrorOr<RemoteSessions> r = Verify(ReadRac("remote-sessions-86.json"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kNotJson);
  EXPECT_NE(r.error().message().find("body starts 'An error occurred'"),
            std::string::npos)
      << r.error().message();
  r = Verify(std::string(kMaxMetadataBytes + 1, ' '));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kTooLarge);
}

TEST_F(VerifierTest, MissingRole) {
  Root root =
      VerifyTrustedRoot(ReadRac("root-offline-updates-only.json"), "root.json")
          .value();
  ErrorOr<RemoteSessions> r =
      VerifyRemoteSessions(root, ReadRac("remote-sessions.json"), now_);
  ExpectError(r, ErrorCode::kMissingRole,
              "remote-sessions not set in root.json");
  EXPECT_EQ(VerifyFailureText(r.error()),
            "Failed to verify remote-sessions metadata: remote-sessions not "
            "set in root.json");
}

TEST(TrustedRootTest, SelfSignatureRequired) {
  // Re-signed by a stranger: it does not meet its own root threshold.
  Json doc = ParseJson(fixtures::ReadRac("root-rsa.json")).value();
  Signer stranger{crypto::SigningKey::GenerateEd25519()};
  std::string forged = fixtures::SignedText(doc["signed"], {&stranger});
  ErrorOr<Root> r = VerifyTrustedRoot(forged, "root.json");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kThresholdNotMet);
  EXPECT_EQ(r.error().message(),
            "root.json: signature threshold of 1 not met for role root (0 "
            "valid signatures)");
  // Re-signed by the real root key (as a forger with root-keys.json could):
  std::string resigned = fixtures::SignedText(doc["signed"], {&RacRootKey()});
  EXPECT_TRUE(VerifyTrustedRoot(resigned, "root.json").ok());
}

// Root rotation from root-rsa.json (version 3, root key K).
class RootUpdateTest : public VerifierTest {
 protected:
  std::string Next(uint64_t version, const std::vector<const Signer*>& keys,
                   const std::vector<const Signer*>& signers) {
    return RootText(
        MakeRootSpec(version, Time("2035-01-01T00:00:00Z"), keys, {&rs_key_}),
        signers);
  }
  ErrorOr<Root> Update(const std::string& body) {
    return VerifyRootUpdate(root_, body, "4.root.json");
  }
  Signer new_key_{crypto::SigningKey::GenerateEd25519()};
};

TEST_F(RootUpdateTest, SameKeysNextVersion) {
  ErrorOr<Root> r = Update(Next(4, {&root_key_}, {&root_key_}));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->version, 4u);
}

TEST_F(RootUpdateTest, KeyRotationSignedByBoth) {
  EXPECT_TRUE(Update(Next(4, {&new_key_}, {&root_key_, &new_key_})).ok());
}

TEST_F(RootUpdateTest, OnlyOldThreshold) {
  ErrorOr<Root> r = Update(Next(4, {&new_key_}, {&root_key_}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kThresholdNotMet);
  EXPECT_EQ(r.error().message(),
            "4.root.json: signature threshold of 1 not met for role root (0 "
            "valid signatures) (its own keys)");
}

TEST_F(RootUpdateTest, OnlyNewThreshold) {
  ErrorOr<Root> r = Update(Next(4, {&new_key_}, {&new_key_}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kThresholdNotMet);
  EXPECT_EQ(r.error().message(),
            "4.root.json: signature threshold of 1 not met for role root (0 "
            "valid signatures) (keys of trusted root version 3)");
}

TEST_F(RootUpdateTest, BadSignature) {
  Json doc = ParseJson(Next(4, {&root_key_}, {&root_key_})).value();
  doc["signed"]["expires"] = "2099-01-01T00:00:00Z";  // after signing
  ErrorOr<Root> r = Update(DumpJson(doc).value());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kThresholdNotMet);
}

TEST_F(RootUpdateTest, Versions) {
  struct Case {
    uint64_t version;
    bool ok;
    ErrorCode code;
    std::string message;
  };
  const Case kCases[] = {
      {2, false, ErrorCode::kRollback,
       "4.root.json: version 2 is lower than trusted root version 3"},
      {3, true, ErrorCode::kOk, ""},  // the caller stops here
      {4, true, ErrorCode::kOk, ""},
      {5, false, ErrorCode::kBadVersion,
       "4.root.json: version 5 does not follow trusted root version 3"},
  };
  for (const Case& c : kCases) {
    ErrorOr<Root> r = Update(Next(c.version, {&root_key_}, {&root_key_}));
    EXPECT_EQ(r.ok(), c.ok) << c.version;
    if (!r.ok()) {
      EXPECT_EQ(r.error().code(), c.code);
      EXPECT_EQ(r.error().message(), c.message);
    } else {
      EXPECT_EQ(r->version, c.version);
    }
  }
}

}  // namespace
}  // namespace porthole::tuf
