#include "core/crypto/digest.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

#include <string>

namespace porthole::crypto {
namespace {

TEST(Sha256Test, KnownAnswers) {
  struct Case {
    std::string input;
    std::string hex;
  };
  const Case kCases[] = {
      {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"abc",
       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
      {std::string(1000000, 'a'),
       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
  };
  for (const Case& c : kCases) {
    EXPECT_EQ(HexEncode(Sha256(c.input)), c.hex) << c.input.substr(0, 20);
  }
}

TEST(HexEncodeTest, Bytes) {
  EXPECT_EQ(HexEncode(std::string_view("")), "");
  EXPECT_EQ(HexEncode(std::string_view("\x00\x01\xab\xff", 4)), "0001abff");
}

struct Base64Vector {
  std::string plain;
  std::string padded;
  std::string unpadded;
};

class Base64VectorTest : public testing::TestWithParam<Base64Vector> {};

// RFC 4648 section 10, plus bytes that use '+' and '/'.
INSTANTIATE_TEST_SUITE_P(
    Rfc4648, Base64VectorTest,
    testing::Values(Base64Vector{"", "", ""}, Base64Vector{"f", "Zg==", "Zg"},
                    Base64Vector{"fo", "Zm8=", "Zm8"},
                    Base64Vector{"foo", "Zm9v", "Zm9v"},
                    Base64Vector{"foob", "Zm9vYg==", "Zm9vYg"},
                    Base64Vector{"fooba", "Zm9vYmE=", "Zm9vYmE"},
                    Base64Vector{"foobar", "Zm9vYmFy", "Zm9vYmFy"},
                    Base64Vector{std::string("\xfb\xff\xbf", 3), "+/+/",
                                 "+/+/"},
                    Base64Vector{std::string("\x00\x00\x00\x00", 4),
                                 "AAAAAA==", "AAAAAA"}));

TEST_P(Base64VectorTest, EncodeAndDecode) {
  const Base64Vector& v = GetParam();
  EXPECT_EQ(Base64Encode(v.plain), v.padded);
  EXPECT_EQ(Base64Encode(v.plain, /*pad=*/false), v.unpadded);
  Result<std::string> decoded = Base64Decode(v.padded);
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  EXPECT_EQ(*decoded, v.plain);
}

TEST(Base64Test, RoundTripsEveryByteValue) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t len = 0; len <= all.size(); len += 37) {
    std::string part = all.substr(0, len);
    Result<std::string> back = Base64Decode(Base64Encode(part));
    ASSERT_TRUE(back.ok()) << len;
    EXPECT_EQ(*back, part);
  }
}

struct Base64Error {
  std::string text;
  std::string message;
};

class Base64ErrorTest : public testing::TestWithParam<Base64Error> {};

INSTANTIATE_TEST_SUITE_P(
    Strict, Base64ErrorTest,
    testing::Values(
        Base64Error{"Zm9v!A==", "invalid base64 character"},
        Base64Error{"Zm9v YmFy", "invalid base64 character"},
        Base64Error{"Zm9vYmFy\n", "invalid base64 character"},
        Base64Error{"Zm-v", "invalid base64 character"},  // base64url
        Base64Error{"Zm_v", "invalid base64 character"},
        Base64Error{std::string("Zm\0v", 4), "invalid base64 character"},
        Base64Error{"Zg", "missing base64 padding"},
        Base64Error{"Zm8", "missing base64 padding"},
        Base64Error{"Zm9vY", "truncated base64"},
        Base64Error{"Zg=", "bad base64 padding"},
        Base64Error{"Z===", "bad base64 padding"},
        Base64Error{"====", "bad base64 padding"},
        Base64Error{"Zg==Zg==", "bad base64 padding"},
        Base64Error{"Zm=v", "bad base64 padding"},
        Base64Error{"Zh==", "non-zero trailing bits in base64"},
        Base64Error{"Zm9=", "non-zero trailing bits in base64"}));

TEST_P(Base64ErrorTest, Rejected) {
  Result<std::string> r = Base64Decode(GetParam().text);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), GetParam().message);
}

// Points are produced with OpenSSL itself so the test covers all three
// curves without hard-coding long constants.
std::string Encode(const EC_GROUP* group, const EC_POINT* p,
                   point_conversion_form_t form) {
  size_t len = EC_POINT_point2oct(group, p, form, nullptr, 0, nullptr);
  std::string out(len, '\0');
  EC_POINT_point2oct(group, p, form, reinterpret_cast<unsigned char*>(&out[0]),
                     len, nullptr);
  return out;
}

struct CurveCase {
  const char* name;
  int nid;
};

class EcPointTest : public testing::TestWithParam<CurveCase> {
 protected:
  void SetUp() override {
    group_ = EC_GROUP_new_by_curve_name(GetParam().nid);
    ASSERT_NE(group_, nullptr);
    // 7 * G: an ordinary point that is not the generator.
    point_ = EC_POINT_new(group_);
    BIGNUM* seven = BN_new();
    BN_set_word(seven, 7);
    EC_POINT_mul(group_, point_, seven, nullptr, nullptr, nullptr);
    BN_free(seven);
  }
  void TearDown() override {
    EC_POINT_free(point_);
    EC_GROUP_free(group_);
  }
  EC_GROUP* group_ = nullptr;
  EC_POINT* point_ = nullptr;
};

INSTANTIATE_TEST_SUITE_P(Curves, EcPointTest,
                         testing::Values(CurveCase{"nistp256",
                                                   NID_X9_62_prime256v1},
                                         CurveCase{"nistp384", NID_secp384r1},
                                         CurveCase{"nistp521", NID_secp521r1}));

TEST_P(EcPointTest, AcceptsUncompressedPointOnCurve) {
  std::string p = Encode(group_, point_, POINT_CONVERSION_UNCOMPRESSED);
  EXPECT_TRUE(IsValidEcPoint(GetParam().name, p));
  std::string g = Encode(group_, EC_GROUP_get0_generator(group_),
                         POINT_CONVERSION_UNCOMPRESSED);
  EXPECT_TRUE(IsValidEcPoint(GetParam().name, g));
}

TEST_P(EcPointTest, RejectsBadPoints) {
  std::string p = Encode(group_, point_, POINT_CONVERSION_UNCOMPRESSED);
  std::string off_curve = p;
  off_curve.back() = static_cast<char>(off_curve.back() ^ 1);
  EXPECT_FALSE(IsValidEcPoint(GetParam().name, off_curve));
  EXPECT_FALSE(IsValidEcPoint(
      GetParam().name, Encode(group_, point_, POINT_CONVERSION_COMPRESSED)));
  EXPECT_FALSE(IsValidEcPoint(GetParam().name, p.substr(0, p.size() - 1)));
  EXPECT_FALSE(IsValidEcPoint(GetParam().name, p + '\0'));
  EXPECT_FALSE(IsValidEcPoint(GetParam().name, std::string(1, '\0')));
  EXPECT_FALSE(IsValidEcPoint(GetParam().name, ""));
  std::string zeros(p.size(), '\0');
  zeros[0] = 4;
  EXPECT_FALSE(IsValidEcPoint(GetParam().name, zeros));
  EXPECT_FALSE(IsValidEcPoint("nistp192", p));
}

TEST(EcPointCrossCurveTest, PointOfOneCurveIsNotValidOnAnother) {
  EC_GROUP* g256 = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
  std::string p = Encode(g256, EC_GROUP_get0_generator(g256),
                         POINT_CONVERSION_UNCOMPRESSED);
  EXPECT_TRUE(IsValidEcPoint("nistp256", p));
  EXPECT_FALSE(IsValidEcPoint("nistp384", p));
  EXPECT_FALSE(IsValidEcPoint("nistp521", p));
  EC_GROUP_free(g256);
}

}  // namespace
}  // namespace porthole::crypto
