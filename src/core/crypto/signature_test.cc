#include "core/crypto/signature.h"

#include <gtest/gtest.h>

#include <string>

#include "core/crypto/digest.h"

namespace porthole::crypto {
namespace {

std::string FromHex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(
        std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

// RFC 8032 section 7.1, TEST 2 (one-byte message 0x72).
TEST(Ed25519Test, Rfc8032Vector) {
  auto key = SigningKey::FromEd25519Seed(FromHex(
      "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb"));
  ASSERT_TRUE(key.ok()) << key.status().message();
  EXPECT_EQ(HexEncode(key->PublicBytes()),
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c");
  auto sig = key->Sign(FromHex("72"));
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(HexEncode(*sig),
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
            "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00");
  auto pub = VerifyingKey::FromEd25519(key->PublicBytes());
  ASSERT_TRUE(pub.ok());
  EXPECT_TRUE(pub->Verify(FromHex("72"), *sig));
  EXPECT_FALSE(pub->Verify(FromHex("73"), *sig));
  EXPECT_FALSE(pub->Verify(FromHex("72"), sig->substr(1)));
  EXPECT_FALSE(pub->Verify(FromHex("72"), ""));
}

struct SchemeCase {
  const char* name;
  SigningKey (*make)();
  SignatureScheme scheme;
};

SigningKey MakeEd25519() { return SigningKey::GenerateEd25519(); }
SigningKey MakeP256() { return SigningKey::GenerateEcdsaP256(); }
SigningKey MakeRsa() { return SigningKey::GenerateRsa(2048).value(); }

class SchemeTest : public ::testing::TestWithParam<SchemeCase> {};

TEST_P(SchemeTest, SignVerifyRoundTrip) {
  SigningKey key = GetParam().make();
  EXPECT_EQ(key.scheme(), GetParam().scheme);
  auto pub = key.Public();
  ASSERT_TRUE(pub.ok()) << pub.status().message();
  auto sig = key.Sign("message");
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(pub->Verify("message", *sig));
  EXPECT_FALSE(pub->Verify("massage", *sig));
  std::string flipped = *sig;
  flipped[flipped.size() / 2] ^= 1;
  EXPECT_FALSE(pub->Verify("message", flipped));
  // Another key of the same type does not verify it.
  auto other = GetParam().make().Public();
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->Verify("message", *sig));
  EXPECT_FALSE(*other == *pub);
  EXPECT_EQ(pub->SpkiDer(), key.PublicSpkiDer());
}

TEST_P(SchemeTest, Pkcs8PemRoundTrip) {
  SigningKey key = GetParam().make();
  auto pem = key.ToPkcs8Pem();
  ASSERT_TRUE(pem.ok());
  auto back = SigningKey::FromPem(*pem);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->PublicBytes(), key.PublicBytes());
  EXPECT_EQ(back->scheme(), key.scheme());
}

INSTANTIATE_TEST_SUITE_P(
    All, SchemeTest,
    ::testing::Values(
        SchemeCase{"Ed25519", MakeEd25519, SignatureScheme::kEd25519},
        SchemeCase{"P256", MakeP256, SignatureScheme::kEcdsaP256Sha256},
        SchemeCase{"Rsa", MakeRsa, SignatureScheme::kRsaPssSha256}),
    [](const auto& p) { return std::string(p.param.name); });

TEST(RsaTest, PssSignatureIsModulusSized) {
  // RAC's real RSA-PSS (salt 32) vector is checked in core/tuf's tests.
  SigningKey key = SigningKey::GenerateRsa(2048).value();
  auto pub = key.Public().value();
  auto sig = key.Sign("m").value();
  EXPECT_EQ(sig.size(), 256u);
  EXPECT_TRUE(pub.Verify("m", sig));
  EXPECT_EQ(pub.scheme(), SignatureScheme::kRsaPssSha256);
}

TEST(RsaTest, ModulusLimits) {
  SigningKey small = SigningKey::GenerateRsa(1024).value();
  auto pub = VerifyingKey::FromRsaSpki(small.PublicSpkiDer());
  ASSERT_FALSE(pub.ok());
  EXPECT_EQ(pub.status().message(),
            "RSA modulus of 1024 bits (must be 2048..8192)");
  EXPECT_FALSE(small.Public().ok());
}

TEST(RsaTest, SpkiMustBeExactDer) {
  SigningKey key = SigningKey::GenerateRsa(2048).value();
  std::string der = key.PublicSpkiDer();
  EXPECT_TRUE(VerifyingKey::FromRsaSpki(der).ok());
  EXPECT_FALSE(VerifyingKey::FromRsaSpki(der + "x").ok());
  EXPECT_FALSE(VerifyingKey::FromRsaSpki(der.substr(0, 100)).ok());
  EXPECT_FALSE(VerifyingKey::FromRsaSpki("").ok());
  // An Ed25519 SPKI is not an RSA key.
  EXPECT_FALSE(
      VerifyingKey::FromRsaSpki(SigningKey::GenerateEd25519().PublicSpkiDer())
          .ok());
}

TEST(EcdsaTest, PointChecks) {
  SigningKey key = SigningKey::GenerateEcdsaP256();
  std::string point = key.PublicBytes();
  ASSERT_EQ(point.size(), 65u);
  EXPECT_EQ(point[0], '\x04');
  EXPECT_TRUE(VerifyingKey::FromEcdsaP256Point(point).ok());
  std::string off = point;
  off[64] ^= 1;  // no longer on the curve
  EXPECT_FALSE(VerifyingKey::FromEcdsaP256Point(off).ok());
  EXPECT_FALSE(VerifyingKey::FromEcdsaP256Point(point.substr(0, 33)).ok());
}

TEST(Ed25519Test, RawKeyLength) {
  EXPECT_FALSE(VerifyingKey::FromEd25519(std::string(31, 'a')).ok());
  EXPECT_FALSE(SigningKey::FromEd25519Seed(std::string(33, 'a')).ok());
}

TEST(PemTest, DecodeTable) {
  const std::string kBody = "MAoGCCqGSM49AwEH";  // any DER-ish bytes
  struct Case {
    std::string text;
    bool ok;
  };
  const Case kCases[] = {
      {"-----BEGIN X-----\n" + kBody + "\n-----END X-----\n", true},
      {"\n  -----BEGIN X-----\r\n" + kBody + "\r\n-----END X-----", true},
      {"-----BEGIN X-----\nMAoG\nCCqGSM49AwEH\n-----END X-----\n", true},
      {"-----BEGIN Y-----\n" + kBody + "\n-----END Y-----\n", false},
      {"-----BEGIN X-----\nProc-Type: 4,ENCRYPTED\n" + kBody +
           "\n-----END X-----\n",
       false},
      {"-----BEGIN X-----\n" + kBody + "\n-----END X-----\ntrailer", false},
      {"-----BEGIN X-----\n-----END X-----\n", false},
      {"-----BEGIN X-----\n" + kBody + " \n-----END X-----\n", false},
  };
  for (const Case& c : kCases) {
    EXPECT_EQ(PemDecode(c.text, "X").ok(), c.ok) << c.text;
  }
  std::string der = "\x30\x03\x02\x01\x05";
  EXPECT_EQ(PemDecode(PemEncode(der, "X"), "X").value(), der);
}

TEST(SigningKeyTest, FromPemRefusesOtherThings) {
  EXPECT_FALSE(SigningKey::FromPem("").ok());
  EXPECT_FALSE(SigningKey::FromPem(
                   PemEncode(SigningKey::GenerateEd25519().PublicSpkiDer(),
                             "PUBLIC KEY"))
                   .ok());
  EXPECT_FALSE(SigningKey::FromPem(PemEncode("garbage", "PRIVATE KEY")).ok());
}

TEST(SchemeNameTest, Names) {
  EXPECT_EQ(SignatureSchemeName(SignatureScheme::kEd25519), "ed25519");
  EXPECT_EQ(SignatureSchemeName(SignatureScheme::kRsaPssSha256),
            "rsassa-pss-sha256");
  EXPECT_EQ(SignatureSchemeName(SignatureScheme::kEcdsaP256Sha256),
            "ecdsa-sha2-nistp256");
}

}  // namespace
}  // namespace porthole::crypto
