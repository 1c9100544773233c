// RAC's real test vectors (shared/testdata/rac), read in place, through the
// same paths RAC's own tests take (PROTOCOL.md 10.1, 11).
#include <gtest/gtest.h>

#include <cctype>

#include "core/base/file.h"
#include "core/base/test_util.h"
#include "core/crypto/digest.h"
#include "core/tuf/canonical_json.h"
#include "core/tuf/loader.h"
#include "core/tuf/test_fixtures.h"
#include "core/tuf/verifier.h"

namespace porthole::tuf {
namespace {

using fixtures::RacDir;
using fixtures::RacRemoteSessionsKey;
using fixtures::ReadRac;

// `unsigned` is the pretty-printed signed part of remote-sessions.json: its
// canonical form must be exactly the bytes the RSA-PSS signature covers.
TEST(RacVectorsTest, UnsignedCanonicalisesToTheSignedBytes) {
  Json body = ParseJson(ReadRac("unsigned")).value();
  std::string canonical = CanonicalJson(body).value();
  SignedDocument doc =
      ParseSignedDocument(ReadRac("remote-sessions.json"), "rs").value();
  EXPECT_EQ(canonical, doc.canonical);
  // No whitespace survives and the keys are sorted.
  EXPECT_EQ(canonical.substr(0, 44),
            R"({"_type":"Remote-Sessions","expires":"2034-0)");
  ASSERT_EQ(doc.signatures.size(), 1u);
  Result<crypto::VerifyingKey> key = RacRemoteSessionsKey().key().Public();
  ASSERT_TRUE(key.ok());
  EXPECT_TRUE(key->Verify(canonical, doc.signatures[0].sig));
  EXPECT_FALSE(key->Verify(canonical + " ", doc.signatures[0].sig));
}

struct RootVector {
  const char* file;
  uint64_t version;
  bool has_remote_sessions;
};

class RacRootVectorTest : public ::testing::TestWithParam<RootVector> {};

TEST_P(RacRootVectorTest, SelfSigned) {
  ErrorOr<Root> root = VerifyTrustedRoot(ReadRac(GetParam().file), "root");
  ASSERT_TRUE(root.ok()) << root.error().message();
  EXPECT_EQ(root->version, GetParam().version);
  EXPECT_EQ(root->FindRole("remote-sessions") != nullptr,
            GetParam().has_remote_sessions);
}

// RAC's validates_remote_sessions_rsa / validates_root_unknown_roles: the
// trusted root in the state directory, the repository over file transport
// (the vector directory, which has no 4.root.json).
TEST_P(RacRootVectorTest, LoadsOverFileTransport) {
  TempDir state;
  ASSERT_TRUE(
      AtomicReplace(state.Join("root.json"), ReadRac(GetParam().file)).ok());
  DirectoryFetcher fetcher(RacDir());
  FakeClock clock(fixtures::VectorNow());
  MetadataLoader loader(state.path(), &fetcher, &clock);
  ErrorOr<Root> root = loader.LoadRoot();
  ASSERT_TRUE(root.ok()) << root.error().message();
  ErrorOr<VerifiedMetadata> m = loader.Load();
  if (GetParam().has_remote_sessions) {
    ASSERT_TRUE(m.ok()) << m.error().message();
    EXPECT_EQ(m->remote_sessions.version, 87u);
    EXPECT_TRUE(m->remote_sessions.remote_sessions.is_object());
    EXPECT_TRUE(ParseSshPolicy(m->remote_sessions).ok());
  } else {
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.error().code(), ErrorCode::kMissingRole);
    EXPECT_EQ(m.error().message(), "remote-sessions not set in root.json");
  }
}

INSTANTIATE_TEST_SUITE_P(
    Vectors, RacRootVectorTest,
    ::testing::Values(RootVector{"root-rsa.json", 3, true},
                      RootVector{"root-offline-updates-only.json", 3, false}),
    [](const auto& p) {
      std::string name = p.param.file;
      for (char& c : name) {
        if (!isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return name;
    });

// Every vector file through the envelope parser: the JSON ones parse, the
// captured server error is a clear kNotJson.
struct EnvelopeVector {
  const char* file;
  ErrorCode code;
};

class RacEnvelopeVectorTest : public ::testing::TestWithParam<EnvelopeVector> {
};

TEST_P(RacEnvelopeVectorTest, Parses) {
  ErrorOr<SignedDocument> doc =
      ParseSignedDocument(ReadRac(GetParam().file), GetParam().file);
  EXPECT_EQ(doc.error().code(), GetParam().code) << doc.error().message();
}

INSTANTIATE_TEST_SUITE_P(
    Vectors, RacEnvelopeVectorTest,
    ::testing::Values(
        EnvelopeVector{"root-rsa.json", ErrorCode::kOk},
        EnvelopeVector{"root-offline-updates-only.json", ErrorCode::kOk},
        EnvelopeVector{"remote-sessions.json", ErrorCode::kOk},
        EnvelopeVector{"remote-sessions-86.json", ErrorCode::kNotJson},
        EnvelopeVector{"unsigned", ErrorCode::kMalformed}));

TEST(RacVectorsTest, NotJsonMessageIsClear) {
  ErrorOr<SignedDocument> doc = ParseSignedDocument(
      ReadRac("remote-sessions-86.json"), "remote-sessions.json");
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(VerifyFailureText(doc.error()).substr(0, 80),
            "Failed to verify remote-sessions metadata: remote-sessions.json: "
            "not JSON (parse");
}

}  // namespace
}  // namespace porthole::tuf
