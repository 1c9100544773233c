#include "core/tuf/root.h"

#include <gtest/gtest.h>

#include <cctype>

#include "core/crypto/digest.h"
#include "core/tuf/test_fixtures.h"

namespace porthole::tuf {
namespace {

using fixtures::ReadRac;
using fixtures::Time;

constexpr char kRootKeyId[] =
    "858206d2a5a4b71f41ceaff7aa8c31f0b7d67472332fe7c04bef3832fbbf6c02";
constexpr char kRsaKeyId[] =
    "ffee976d0b7e0a1e4038c7f7bbd29fdc11ae426f21337820a0d6a6dbb75a4cd6";

SignedDocument Doc(const std::string& text) {
  ErrorOr<SignedDocument> doc = ParseSignedDocument(text, "root.json");
  if (!doc.ok()) ADD_FAILURE() << doc.error().message();
  return std::move(doc).value();
}

// root-rsa.json with `edit` applied to its `signed` part (unsigned after).
SignedDocument EditedRac(void (*edit)(Json&)) {
  Json j = ParseJson(ReadRac("root-rsa.json")).value();
  edit(j["signed"]);
  return Doc(DumpJson(j).value());
}

TEST(RootTest, ParsesRacRoot) {
  SignedDocument doc = Doc(ReadRac("root-rsa.json"));
  ErrorOr<Root> root = ParseRoot(doc);
  ASSERT_TRUE(root.ok()) << root.error().message();
  EXPECT_EQ(root->version, 3u);
  EXPECT_EQ(root->expires, Time("2034-02-08T15:38:17Z"));
  EXPECT_EQ(root->keys.size(), 6u);
  EXPECT_EQ(root->keys.at(kRsaKeyId).type, KeyType::kRsa);
  ASSERT_EQ(root->roles.size(), 5u);
  EXPECT_EQ(root->FindRole("root")->keyids,
            std::vector<std::string>{kRootKeyId});
  EXPECT_EQ(root->FindRole("remote-sessions")->keyids,
            std::vector<std::string>{kRsaKeyId});
  EXPECT_EQ(root->FindRole("remote-sessions")->threshold, 1u);
  EXPECT_EQ(root->FindRole("offline-updates"), nullptr);
  EXPECT_TRUE(VerifyRole(doc, *root, "root").ok());
}

TEST(RootTest, UnknownRolesAreKept) {
  SignedDocument doc = Doc(ReadRac("root-offline-updates-only.json"));
  ErrorOr<Root> root = ParseRoot(doc);
  ASSERT_TRUE(root.ok()) << root.error().message();
  ASSERT_NE(root->FindRole("offline-updates"), nullptr);
  EXPECT_EQ(root->FindRole("remote-sessions"), nullptr);
  EXPECT_TRUE(VerifyRole(doc, *root, "root").ok());
}

struct ErrorCase {
  const char* name;
  void (*edit)(Json&);
  ErrorCode code;
  std::string message;
};

class RootErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(RootErrorTest, Refused) {
  ErrorOr<Root> root = ParseRoot(EditedRac(GetParam().edit));
  ASSERT_FALSE(root.ok());
  EXPECT_EQ(root.error().code(), GetParam().code);
  EXPECT_EQ(root.error().message(), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Table, RootErrorTest,
    ::testing::Values(
        ErrorCase{"TypeMissing", [](Json& s) { s.erase("_type"); },
                  ErrorCode::kWrongType,
                  "root.json: _type must be 'Root' (missing)"},
        ErrorCase{"TypeRemoteSessions",
                  [](Json& s) { s["_type"] = "Remote-Sessions"; },
                  ErrorCode::kWrongType,
                  "root.json: _type must be 'Root' ('Remote-Sessions')"},
        ErrorCase{"TypeLowerCase", [](Json& s) { s["_type"] = "root"; },
                  ErrorCode::kWrongType,
                  "root.json: _type must be 'Root' ('root')"},
        ErrorCase{"NoConsistentSnapshot",
                  [](Json& s) { s.erase("consistent_snapshot"); },
                  ErrorCode::kMalformed,
                  "root.json: missing member 'consistent_snapshot'"},
        ErrorCase{"VersionZero", [](Json& s) { s["version"] = 0; },
                  ErrorCode::kMalformed,
                  "root.json: member 'version' must be an integer >= 1"},
        ErrorCase{"VersionNegative", [](Json& s) { s["version"] = -3; },
                  ErrorCode::kMalformed,
                  "root.json: member 'version' must be an integer >= 1"},
        ErrorCase{"VersionString", [](Json& s) { s["version"] = "3"; },
                  ErrorCode::kMalformed,
                  "root.json: member 'version' must be an integer >= 1"},
        ErrorCase{"BadExpires", [](Json& s) { s["expires"] = "2034-02-08"; },
                  ErrorCode::kMalformed,
                  "root.json: expires: not an RFC 3339 timestamp: "
                  "'2034-02-08'"},
        ErrorCase{"KeyIdMismatch",
                  [](Json& s) {
                    Json k = s["keys"][kRootKeyId];
                    s["keys"].erase(kRootKeyId);
                    s["keys"][std::string(64, '0')] = k;
                  },
                  ErrorCode::kBadKeyId,
                  "root.json: key " + std::string(64, '0') +
                      ": keyid does not match the key (computed " + kRootKeyId +
                      ")"},
        ErrorCase{
            "DuplicateKeyIdByCase",
            [](Json& s) {
              std::string upper = kRootKeyId;
              for (char& c : upper) c = static_cast<char>(toupper(c));
              s["keys"][upper] = s["keys"][kRootKeyId];
            },
            ErrorCode::kBadKeyId,
            std::string("root.json: key ") + kRootKeyId + ": duplicate keyid"},
        ErrorCase{"KeyIdNotHex",
                  [](Json& s) { s["keys"]["xyz"] = s["keys"][kRootKeyId]; },
                  ErrorCode::kBadKeyId, "root.json: key xyz: keyid is not hex"},
        ErrorCase{"UnknownKeyType",
                  [](Json& s) { s["keys"][kRsaKeyId]["keytype"] = "DSA"; },
                  ErrorCode::kUnsupportedKey,
                  std::string("root.json: key ") + kRsaKeyId +
                      ": unknown keytype 'DSA'"},
        ErrorCase{"ThresholdZero",
                  [](Json& s) { s["roles"]["root"]["threshold"] = 0; },
                  ErrorCode::kMalformed,
                  "root.json: role root: member 'threshold' must be an "
                  "integer >= 1"},
        ErrorCase{"RoleKeyIdNotHex",
                  [](Json& s) { s["roles"]["targets"]["keyids"] = {"q"}; },
                  ErrorCode::kBadKeyId,
                  "root.json: role targets: keyid 'q' is not hex"},
        ErrorCase{"UnknownRoleMalformed",
                  [](Json& s) {
                    s["roles"]["mirror"] = {{"keyids", 1}};
                  },
                  ErrorCode::kMalformed,
                  "root.json: role mirror: member 'keyids' must be an array"},
        ErrorCase{"NoRoles", [](Json& s) { s.erase("roles"); },
                  ErrorCode::kMalformed, "root.json: missing member 'roles'"}),
    [](const auto& p) { return std::string(p.param.name); });

// Threshold counting (PROTOCOL 6.11) over a document signed by generated
// keys: a, b listed for the role; c listed in keys but not the role; d
// unknown.
class VerifyRoleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RootSpec spec;
    spec.version = 1;
    spec.expires = Time("2030-01-01T00:00:00Z");
    spec.AddRoleKey("root", a_);
    spec.AddRoleKey("root", b_);
    spec.AddRoleKey("other", c_);
    spec.roles["root"].threshold = 2;
    root_ = ParseRoot(Doc(fixtures::RootText(spec, {&a_}))).value();
  }
  // A document signed by `signers`, possibly with signature `tamper`
  // corrupted.
  SignedDocument Signed(const std::vector<const Signer*>& signers,
                        int tamper = -1) {
    Json doc = SignMetadata(Json{{"x", 1}}, signers).value();
    if (tamper >= 0) {
      std::string sig = crypto::Base64Decode(
                            doc["signatures"][tamper]["sig"].get<std::string>())
                            .value();
      sig[0] ^= 1;
      doc["signatures"][tamper]["sig"] = crypto::Base64Encode(sig);
    }
    return Doc(DumpJson(doc).value());
  }

  Signer a_{crypto::SigningKey::GenerateEd25519()};
  Signer b_{crypto::SigningKey::GenerateEcdsaP256()};
  Signer c_{crypto::SigningKey::GenerateEd25519()};
  Signer d_{crypto::SigningKey::GenerateEd25519()};
  Root root_;
};

TEST_F(VerifyRoleTest, Counting) {
  struct Case {
    const char* name;
    std::vector<const Signer*> signers;
    int tamper;
    size_t valid;  // expected count; threshold is 2
  };
  const Case kCases[] = {
      {"BothKeys", {&a_, &b_}, -1, 2},
      {"OneKey", {&a_}, -1, 1},
      {"NoSignatures", {}, -1, 0},
      {"DuplicateCountsOnce", {&a_, &a_, &a_}, -1, 1},
      {"KeyNotInRole", {&a_, &c_}, -1, 1},
      {"UnknownKey", {&d_, &b_}, -1, 1},
      {"BadSignatureSkipped", {&a_, &b_}, 1, 1},
      {"BadThenGoodSameKey", {&a_, &a_, &b_}, 0, 2},
      {"AllFourOneBad", {&d_, &c_, &a_, &b_}, 3, 1},
  };
  for (const Case& c : kCases) {
    Error e = VerifyRole(Signed(c.signers, c.tamper), root_, "root");
    if (c.valid >= 2) {
      EXPECT_TRUE(e.ok()) << c.name << ": " << e.message();
    } else {
      EXPECT_EQ(e.code(), ErrorCode::kThresholdNotMet) << c.name;
      EXPECT_EQ(e.message(),
                "root.json: signature threshold of 2 not met "
                "for role root (" +
                    std::to_string(c.valid) + " valid signatures)")
          << c.name;
    }
  }
}

TEST_F(VerifyRoleTest, MissingRole) {
  Error e = VerifyRole(Signed({&a_}), root_, "remote-sessions");
  EXPECT_EQ(e.code(), ErrorCode::kMissingRole);
  EXPECT_EQ(e.message(),
            "root.json: role remote-sessions not set in root.json");
}

TEST(RoleKeysTest, SameKeysAs) {
  RoleKeys a{{"01", "02"}, 1};
  EXPECT_TRUE(a.SameKeysAs(RoleKeys{{"02", "01", "02"}, 1}));
  EXPECT_FALSE(a.SameKeysAs(RoleKeys{{"01", "02"}, 2}));
  EXPECT_FALSE(a.SameKeysAs(RoleKeys{{"01"}, 1}));
}

}  // namespace
}  // namespace porthole::tuf
