#include "core/tuf/key.h"

#include <gtest/gtest.h>

#include "core/crypto/digest.h"
#include "core/tuf/test_fixtures.h"

namespace porthole::tuf {
namespace {

using fixtures::ReadRac;

// Every key of RAC's roots: the recomputed keyid equals the listed one
// (PROTOCOL 6.9: DER SPKI for ED25519 and RSA).
class RacKeyIdTest : public ::testing::TestWithParam<const char*> {};

TEST_P(RacKeyIdTest, KeyIdsMatch) {
  Json root = ParseJson(ReadRac(GetParam())).value();
  const Json& keys = root["signed"]["keys"];
  ASSERT_EQ(keys.size(), 6u);
  for (auto it = keys.begin(); it != keys.end(); ++it) {
    ErrorOr<Key> key = ParseKey(it.value(), it.key());
    ASSERT_TRUE(key.ok()) << key.error().message();
    EXPECT_EQ(key->keyid, it.key());
  }
}

INSTANTIATE_TEST_SUITE_P(Vectors, RacKeyIdTest,
                         ::testing::Values("root-rsa.json",
                                           "root-offline-updates-only.json"));

TEST(KeyIdTest, Ed25519Example) {
  std::string raw =
      HexDecode(
          "74fd37e6f3a1f57f436c8a6b409223f68b8aa08231f1c7627e89d0f55bd94352")
          .value();
  EXPECT_EQ(KeyIdOf(KeyType::kEd25519, raw),
            "858206d2a5a4b71f41ceaff7aa8c31f0b7d67472332fe7c04bef3832fbbf6c02");
}

TEST(KeyIdTest, EcdsaIsHashOfDecodedBytes) {
  crypto::SigningKey k = crypto::SigningKey::GenerateEcdsaP256();
  Json j = KeyToJson(KeyType::kEcdsaP256, k.PublicBytes());
  EXPECT_EQ(j["scheme"], "ecdsa-sha2-nistp256");
  ErrorOr<Key> key = ParseKey(j, "k");
  ASSERT_TRUE(key.ok()) << key.error().message();
  EXPECT_EQ(key->type, KeyType::kEcdsaP256);
  EXPECT_EQ(key->keyid, crypto::HexEncode(crypto::Sha256(k.PublicBytes())));
}

TEST(KeyTest, RsaJsonRoundTripMatchesTorizonPem) {
  // KeyToJson writes the PEM exactly as Torizon did in root-rsa.json.
  Json root = ParseJson(ReadRac("root-rsa.json")).value();
  const Json& listed =
      root["signed"]["keys"]
          ["ffee976d0b7e0a1e4038c7f7bbd29fdc11ae426f21337820a0d6a6dbb75a4cd6"];
  std::string der =
      crypto::PemDecode(listed["keyval"]["public"].get<std::string>(),
                        "PUBLIC KEY")
          .value();
  EXPECT_EQ(KeyToJson(KeyType::kRsa, der), listed);
}

TEST(KeyTest, Errors) {
  std::string ed_hex(64, 'a');
  struct Case {
    const char* name;
    std::string json;
    ErrorCode code;
    std::string message;
  };
  const Case kCases[] = {
      {"UnknownKeytype", R"({"keytype":"ed448","keyval":{"public":"aa"}})",
       ErrorCode::kUnsupportedKey, "k: unknown keytype 'ed448'"},
      {"LowerCaseEd25519", R"({"keytype":"ed25519","keyval":{"public":"aa"}})",
       ErrorCode::kUnsupportedKey, "k: unknown keytype 'ed25519'"},
      {"Ed25519NotHex", R"({"keytype":"ED25519","keyval":{"public":"zz"}})",
       ErrorCode::kUnsupportedKey, "k: ED25519 public key is not hex"},
      {"Ed25519Short", R"({"keytype":"ED25519","keyval":{"public":"aabb"}})",
       ErrorCode::kUnsupportedKey,
       "k: ed25519 public key must be 32 bytes, not 2"},
      {"RsaNotPem", R"({"keytype":"RSA","keyval":{"public":"aabb"}})",
       ErrorCode::kUnsupportedKey,
       "k: RSA public key PEM: expected '-----BEGIN PUBLIC KEY-----'"},
      {"EcdsaWithoutScheme",
       R"({"keytype":"ecdsa-sha2-nistp256","keyval":{"public":"aabb"}})",
       ErrorCode::kMalformed, "k: missing member 'scheme'"},
      {"EcdsaPem",
       R"({"keytype":"ecdsa-sha2-nistp256","scheme":"ecdsa-sha2-nistp256",
           "keyval":{"public":"-----BEGIN PUBLIC KEY-----\nAA==\n-----END PUBLIC KEY-----\n"}})",
       ErrorCode::kUnsupportedKey, "k: ECDSA public key is not hex"},
      {"NoKeyval", R"({"keytype":"RSA"})", ErrorCode::kMalformed,
       "k: missing member 'keyval'"},
      {"PublicNotString", R"({"keytype":"ED25519","keyval":{"public":1}})",
       ErrorCode::kMalformed, "k keyval: member 'public' must be a string"},
      {"NotObject", "[]", ErrorCode::kMalformed, "k: must be an object"},
  };
  for (const Case& c : kCases) {
    ErrorOr<Key> key = ParseKey(ParseJson(c.json).value(), "k");
    ASSERT_FALSE(key.ok()) << c.name;
    EXPECT_EQ(key.error().code(), c.code) << c.name;
    EXPECT_EQ(key.error().message(), c.message) << c.name;
  }
}

TEST(KeyTest, SchemeOnEd25519IsIgnored) {
  Json j =
      KeyToJson(KeyType::kEd25519, fixtures::RacRootKey().key().PublicBytes());
  j["scheme"] = "whatever";
  ErrorOr<Key> key = ParseKey(j, "k");
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->keyid, fixtures::RacRootKey().keyid());
}

TEST(KeyTest, SmallRsaRefused) {
  crypto::SigningKey small = crypto::SigningKey::GenerateRsa(1024).value();
  ErrorOr<Key> key =
      ParseKey(KeyToJson(KeyType::kRsa, small.PublicBytes()), "k");
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.error().code(), ErrorCode::kUnsupportedKey);
}

TEST(HexTest, Decode) {
  EXPECT_EQ(HexDecode("00fFaB").value(), std::string("\x00\xff\xab", 3));
  EXPECT_FALSE(HexDecode("abc").has_value());
  EXPECT_FALSE(HexDecode("zz").has_value());
  EXPECT_EQ(NormalizeKeyId("ABCDEF").value(), "abcdef");
}

}  // namespace
}  // namespace porthole::tuf
