#include "core/keys/public_key.h"

#include <gtest/gtest.h>

#include <cctype>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "core/crypto/digest.h"
#include "core/keys/test_keys.h"

namespace porthole::keys {
namespace {

std::string FixtureBlob(const std::string& name) {
  std::string line = KeyFixtureLine(name);
  size_t b = line.find(' ') + 1;
  size_t e = line.find(' ', b);
  Result<std::string> blob = crypto::Base64Decode(line.substr(b, e - b));
  EXPECT_TRUE(blob.ok()) << name;
  return blob.ok() ? *blob : std::string();
}

// What `ssh-keygen -l -E sha256` printed for each fixture (fingerprints.txt):
// "name.pub<TAB>BITS SHA256:... comment (SHORTTYPE)".
struct KeygenLine {
  int bits = 0;
  std::string fingerprint;
  std::string short_type;
};

std::map<std::string, KeygenLine> KeygenOutput() {
  std::map<std::string, KeygenLine> out;
  std::istringstream in(ReadKeyFixture("fingerprints.txt"));
  std::string line;
  while (std::getline(in, line)) {
    size_t tab = line.find('\t');
    std::string name = line.substr(0, tab);
    std::string rest = line.substr(tab + 1);
    KeygenLine k;
    k.bits = std::stoi(rest.substr(0, rest.find(' ')));
    size_t fp = rest.find(' ') + 1;
    k.fingerprint = rest.substr(fp, rest.find(' ', fp) - fp);
    size_t open = rest.rfind('(');
    k.short_type = rest.substr(open + 1, rest.size() - open - 2);
    out[name] = k;
  }
  return out;
}

struct Fixture {
  std::string file;
  std::string type_name;
  KeyType type;
  bool certificate;
  std::string comment;
  std::string application;
};

const std::vector<Fixture>& Fixtures() {
  static const std::vector<Fixture> kFixtures = {
      {"ed25519.pub", "ssh-ed25519", KeyType::kEd25519, false,
       "alice@example.org", ""},
      {"ecdsa256.pub", "ecdsa-sha2-nistp256", KeyType::kEcdsaP256, false,
       "ecdsa256@example.org", ""},
      {"ecdsa384.pub", "ecdsa-sha2-nistp384", KeyType::kEcdsaP384, false,
       "ecdsa384@example.org", ""},
      {"ecdsa521.pub", "ecdsa-sha2-nistp521", KeyType::kEcdsaP521, false,
       "ecdsa521@example.org", ""},
      {"rsa2048.pub", "ssh-rsa", KeyType::kRsa, false,
       "Bob Example <bob@example.org>", ""},
      {"rsa1024.pub", "ssh-rsa", KeyType::kRsa, false, "rsa1024@example.org",
       ""},
      {"rsa3072.pub", "ssh-rsa", KeyType::kRsa, false, "", ""},
      {"dsa.pub", "ssh-dss", KeyType::kDsa, false, "dsa@example.org", ""},
      {"sk-ed25519.pub", "sk-ssh-ed25519@openssh.com", KeyType::kSkEd25519,
       false, "alice@yubikey16719472", "ssh:"},
      {"sk-ecdsa.pub", "sk-ecdsa-sha2-nistp256@openssh.com",
       KeyType::kSkEcdsaP256, false, "carol@yubikey", "ssh:porthole"},
      {"ca_ed25519.pub", "ssh-ed25519", KeyType::kEd25519, false, "ca-ed25519",
       ""},
      {"ca_rsa.pub", "ssh-rsa", KeyType::kRsa, false, "ca-rsa", ""},
      {"ca_ecdsa.pub", "ecdsa-sha2-nistp521", KeyType::kEcdsaP521, false,
       "ca-ecdsa", ""},
      {"ed25519-cert.pub", "ssh-ed25519-cert-v01@openssh.com",
       KeyType::kEd25519, true, "alice@example.org", ""},
      {"rsa2048-cert.pub", "ssh-rsa-cert-v01@openssh.com", KeyType::kRsa, true,
       "Bob Example <bob@example.org>", ""},
      {"ecdsa384-cert.pub", "ecdsa-sha2-nistp384-cert-v01@openssh.com",
       KeyType::kEcdsaP384, true, "ecdsa384@example.org", ""},
      {"sk-ed25519-cert.pub", "sk-ssh-ed25519-cert-v01@openssh.com",
       KeyType::kSkEd25519, true, "alice@yubikey16719472", "ssh:"},
      {"sk-ecdsa-cert.pub", "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
       KeyType::kSkEcdsaP256, true, "carol@yubikey", "ssh:porthole"},
      {"dsa-cert.pub", "ssh-dss-cert-v01@openssh.com", KeyType::kDsa, true,
       "dsa@example.org", ""},
  };
  return kFixtures;
}

void PrintTo(const Fixture& f, std::ostream* os) { *os << f.file; }

class PublicKeyFixtureTest : public testing::TestWithParam<Fixture> {};

INSTANTIATE_TEST_SUITE_P(
    PublicKeyFixtures, PublicKeyFixtureTest, testing::ValuesIn(Fixtures()),
    [](const testing::TestParamInfo<Fixture>& param_info) {
      std::string n;
      for (char c :
           param_info.param.file.substr(0, param_info.param.file.size() - 4)) {
        n.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
      }
      return n;
    });

TEST_P(PublicKeyFixtureTest, ParsesLikeSshKeygen) {
  const Fixture& f = GetParam();
  std::map<std::string, KeygenLine> keygen = KeygenOutput();
  ASSERT_EQ(keygen.count(f.file), 1u) << "missing from fingerprints.txt";
  const KeygenLine& want = keygen[f.file];

  std::string comment = "unset";
  Result<PublicKey> key = ParsePublicKeyLine(KeyFixtureLine(f.file), &comment);
  ASSERT_TRUE(key.ok()) << key.status().message();
  EXPECT_EQ(key->TypeName(), f.type_name);
  EXPECT_EQ(key->type, f.type);
  EXPECT_EQ(key->certificate, f.certificate);
  EXPECT_EQ(key->application, f.application);
  EXPECT_EQ(comment, f.comment);
  EXPECT_EQ(key->Fingerprint(), want.fingerprint);
  EXPECT_EQ(key->bits, want.bits);
  EXPECT_EQ(key->ShortTypeName(), want.short_type);
  EXPECT_EQ(key->blob, FixtureBlob(f.file));
  EXPECT_EQ(key->BlobSha256Hex(), crypto::HexEncode(crypto::Sha256(key->blob)));
  if (!f.certificate) {
    EXPECT_EQ(key->plain_blob, key->blob);
  }
}

TEST_P(PublicKeyFixtureTest, BlobParsesAndEveryTruncationFails) {
  std::string blob = FixtureBlob(GetParam().file);
  ASSERT_TRUE(ParsePublicKeyBlob(blob).ok());
  for (size_t len = 0; len < blob.size(); ++len) {
    Result<PublicKey> r = ParsePublicKeyBlob(blob.substr(0, len));
    ASSERT_FALSE(r.ok()) << "prefix of length " << len << " parsed";
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  }
}

TEST_P(PublicKeyFixtureTest, TrailingGarbageFails) {
  Result<PublicKey> r = ParsePublicKeyBlob(FixtureBlob(GetParam().file) + "x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "trailing bytes after key blob");
}

TEST(PublicKeyTest, CertificateSharesPlainKeyIdentityButNotBlob) {
  Result<PublicKey> plain = ParsePublicKeyLine(KeyFixtureLine("ed25519.pub"));
  Result<PublicKey> cert =
      ParsePublicKeyLine(KeyFixtureLine("ed25519-cert.pub"));
  ASSERT_TRUE(plain.ok());
  ASSERT_TRUE(cert.ok());
  EXPECT_EQ(cert->plain_blob, plain->blob);
  EXPECT_EQ(cert->Fingerprint(), plain->Fingerprint());
  EXPECT_FALSE(*cert == *plain);
  EXPECT_NE(cert->BlobSha256Hex(), plain->BlobSha256Hex());
}

TEST(PublicKeyTest, KnownTypeNames) {
  for (const char* name :
       {"ssh-ed25519", "sk-ssh-ed25519@openssh.com", "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
        "sk-ecdsa-sha2-nistp256@openssh.com", "ssh-rsa", "ssh-dss",
        "ssh-ed25519-cert-v01@openssh.com",
        "sk-ssh-ed25519-cert-v01@openssh.com",
        "ecdsa-sha2-nistp256-cert-v01@openssh.com",
        "ecdsa-sha2-nistp384-cert-v01@openssh.com",
        "ecdsa-sha2-nistp521-cert-v01@openssh.com",
        "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
        "ssh-rsa-cert-v01@openssh.com", "ssh-dss-cert-v01@openssh.com"}) {
    EXPECT_TRUE(IsKnownKeyTypeName(name)) << name;
  }
  for (const char* name : {"", "SSH-ED25519", "rsa-sha2-256", "RSA",
                           "ssh-ed448", "ssh-ed25519 ", "ssh-rsa1"}) {
    EXPECT_FALSE(IsKnownKeyTypeName(name)) << name;
  }
}

// --- Hand-built blobs for the cases ssh-keygen will not produce. ---

std::string U32(uint32_t v) {
  std::string s(4, '\0');
  s[0] = static_cast<char>(v >> 24);
  s[1] = static_cast<char>(v >> 16);
  s[2] = static_cast<char>(v >> 8);
  s[3] = static_cast<char>(v);
  return s;
}
std::string U64(uint64_t v) {
  return U32(static_cast<uint32_t>(v >> 32)) + U32(static_cast<uint32_t>(v));
}
std::string Str(std::string_view s) { return U32(s.size()) + std::string(s); }

// An odd "modulus" of exactly `bits` bits, canonically encoded.
std::string MpintOfBits(int bits) {
  std::string mag((bits + 7) / 8, '\x5a');
  int top = bits % 8 == 0 ? 8 : bits % 8;
  mag[0] = static_cast<char>(1 << (top - 1));
  mag.back() = static_cast<char>(mag.back() | 1);
  if (static_cast<unsigned char>(mag[0]) & 0x80) mag.insert(0, 1, '\0');
  return Str(mag);
}

std::string Ed25519Blob() {
  return Str("ssh-ed25519") + Str(std::string(32, '\x11'));
}

std::string RsaBlob(int bits) {
  return Str("ssh-rsa") + Str(std::string("\x01\x00\x01", 3)) +
         MpintOfBits(bits);
}

// A certificate over an ed25519 key with every section well formed;
// `ca` is the signature key blob.
std::string Ed25519Cert(const std::string& ca, uint32_t cert_type = 1,
                        const std::string& principals = Str("user"),
                        const std::string& critical = "",
                        const std::string& extensions = Str("permit-pty") +
                                                        Str("")) {
  return Str("ssh-ed25519-cert-v01@openssh.com") + Str("nonce-nonce") +
         Str(std::string(32, '\x22')) + U64(42) + U32(cert_type) +
         Str("key id") + Str(principals) + U64(0) + U64(~0ull) + Str(critical) +
         Str(extensions) + Str("") + Str(ca) +
         Str(Str("ssh-ed25519") + Str(std::string(64, 's')));
}

TEST(PublicKeyBlobTest, HandBuiltCertificateParses) {
  Result<PublicKey> k = ParsePublicKeyBlob(Ed25519Cert(Ed25519Blob()));
  ASSERT_TRUE(k.ok()) << k.status().message();
  EXPECT_TRUE(k->certificate);
  EXPECT_EQ(k->plain_blob, Str("ssh-ed25519") + Str(std::string(32, '\x22')));
  Result<PublicKey> rsa_ca = ParsePublicKeyBlob(Ed25519Cert(RsaBlob(2048)));
  EXPECT_TRUE(rsa_ca.ok()) << rsa_ca.status().message();
}

TEST(PublicKeyBlobTest, RsaModulusLimits) {
  Result<PublicKey> k1024 = ParsePublicKeyBlob(RsaBlob(1024));
  ASSERT_TRUE(k1024.ok()) << k1024.status().message();
  EXPECT_EQ(k1024->bits, 1024);
  Result<PublicKey> k16384 = ParsePublicKeyBlob(RsaBlob(16384));
  ASSERT_TRUE(k16384.ok()) << k16384.status().message();
  EXPECT_EQ(k16384->bits, 16384);
}

struct BlobError {
  std::string label;
  std::string blob;
  std::string message;
};

void PrintTo(const BlobError& e, std::ostream* os) { *os << e.label; }

class PublicKeyBlobErrorTest : public testing::TestWithParam<BlobError> {};

std::vector<BlobError> BlobErrors() {
  std::string ed = FixtureBlob("ed25519.pub");
  std::string ec = FixtureBlob("ecdsa256.pub");
  std::string ec_bad_point = ec;
  ec_bad_point.back() = static_cast<char>(ec_bad_point.back() ^ 0x01);
  // ecdsa256 blob: type(4+19) curve(4+8) point(4+65); swap in a nistp384
  // curve name while keeping the type.
  std::string ec_wrong_curve =
      Str("ecdsa-sha2-nistp256") + Str("nistp384") + ec.substr(4 + 19 + 4 + 8);
  // A real certificate whose embedded CA key has its type name damaged.
  std::string cert = FixtureBlob("ed25519-cert.pub");
  std::string ca = FixtureBlob("ca_ed25519.pub");
  std::string cert_bad_ca = cert;
  size_t at = cert_bad_ca.find(ca);
  if (at != std::string::npos) cert_bad_ca[at + 4] = 'X';
  // The same with the CA's 32-byte key length field changed to 31.
  std::string cert_short_ca_key = cert;
  if (at != std::string::npos) cert_short_ca_key[at + 4 + 11 + 3] = 31;

  return {
      {"empty", "", "truncated key blob"},
      {"short_length", std::string("\x00\x00\x00", 3), "truncated key blob"},
      {"length_past_end", U32(100) + "ssh-ed25519", "truncated key blob"},
      {"unknown_type", Str("ssh-ed448") + Str(std::string(57, 'k')),
       "unknown key type 'ssh-ed448'"},
      {"signature_algorithm_name",
       Str("rsa-sha2-256") + RsaBlob(2048).substr(11),
       "unknown key type 'rsa-sha2-256'"},
      {"binary_type", Str(std::string("\x01\xff", 2)),
       "unknown key type '\\x01\\xff'"},
      {"nul_in_type", Str(std::string("ssh-ed25519\0", 12)),
       "NUL byte in key type"},
      {"ed25519_short", Str("ssh-ed25519") + Str(std::string(31, 'k')),
       "invalid ed25519 key length 31"},
      {"ed25519_long", Str("ssh-ed25519") + Str(std::string(33, 'k')),
       "invalid ed25519 key length 33"},
      {"ed25519_trailing", ed + Str(""), "trailing bytes after key blob"},
      {"sk_missing_application",
       Str("sk-ssh-ed25519@openssh.com") + Str(std::string(32, 'k')),
       "truncated key blob"},
      {"sk_nul_application",
       Str("sk-ssh-ed25519@openssh.com") + Str(std::string(32, 'k')) +
           Str(std::string("ssh:\0", 5)),
       "NUL byte in application"},
      {"ecdsa_point_not_on_curve", ec_bad_point, "invalid EC point"},
      {"ecdsa_compressed_point",
       Str("ecdsa-sha2-nistp256") + Str("nistp256") +
           Str("\x02" + ec.substr(ec.size() - 64, 32)),
       "invalid EC point"},
      {"ecdsa_curve_mismatch", ec_wrong_curve,
       "curve 'nistp384' does not match key type (nistp256)"},
      {"sk_ecdsa_curve_mismatch",
       Str("sk-ecdsa-sha2-nistp256@openssh.com") + Str("nistp521"),
       "curve 'nistp521' does not match key type (nistp256)"},
      {"rsa_too_small", RsaBlob(1023), "RSA modulus too small (1023 bits)"},
      {"rsa_512", RsaBlob(512), "RSA modulus too small (512 bits)"},
      {"rsa_too_large", RsaBlob(16385), "mpint too large"},
      {"rsa_negative_modulus",
       Str("ssh-rsa") + Str(std::string("\x01\x00\x01", 3)) +
           Str(std::string(129, '\x80')),
       "negative mpint"},
      {"rsa_leading_zero",
       Str("ssh-rsa") + Str(std::string("\x00\x01\x00\x01", 4)) +
           MpintOfBits(2048),
       "non-canonical mpint"},
      {"rsa_lone_zero_byte",
       Str("ssh-rsa") + Str(std::string(1, '\0')) + MpintOfBits(2048),
       "non-canonical mpint"},
      {"dsa_missing_y",
       Str("ssh-dss") + MpintOfBits(1024) + MpintOfBits(160) +
           MpintOfBits(1000),
       "truncated key blob"},
      {"cert_bad_type", Ed25519Cert(Ed25519Blob(), 3),
       "unknown certificate type 3"},
      {"cert_bad_principals",
       Ed25519Cert(Ed25519Blob(), 1,
                   std::string("\x00\x00\x00\x09"
                               "x",
                               5)),
       "bad certificate principals"},
      {"cert_bad_critical_options",
       Ed25519Cert(Ed25519Blob(), 1, Str("user"), Str("force-command")),
       "bad certificate critical options"},
      {"cert_bad_extensions",
       Ed25519Cert(Ed25519Blob(), 1, Str("user"), "", Str("permit-pty")),
       "bad certificate extensions"},
      {"cert_corrupt_signature_key_type", cert_bad_ca,
       "bad certificate signature key: unknown key type 'Xsh-ed25519'"},
      {"cert_short_signature_key", cert_short_ca_key,
       "bad certificate signature key: invalid ed25519 key length 31"},
      {"cert_signature_key_short_ed25519",
       Ed25519Cert(Str("ssh-ed25519") + Str(std::string(31, 'k'))),
       "bad certificate signature key: invalid ed25519 key length 31"},
      {"cert_signature_key_small_rsa", Ed25519Cert(RsaBlob(768)),
       "bad certificate signature key: RSA modulus too small (768 bits)"},
      {"cert_signature_key_is_cert", Ed25519Cert(Ed25519Cert(Ed25519Blob())),
       "bad certificate signature key: nested certificate"},
      {"cert_signature_key_trailing", Ed25519Cert(Ed25519Blob() + "zz"),
       "bad certificate signature key: trailing bytes after key blob"},
      {"cert_missing_signature",
       Ed25519Cert(Ed25519Blob())
           .substr(0,
                   Ed25519Cert(Ed25519Blob()).size() - (4 + 4 + 11 + 4 + 64)),
       "truncated key blob"},
      {"cert_trailing_garbage", cert + std::string(1, '\0'),
       "trailing bytes after key blob"},
  };
}

INSTANTIATE_TEST_SUITE_P(
    PublicKeyHostileBlobs, PublicKeyBlobErrorTest,
    testing::ValuesIn(BlobErrors()),
    [](const testing::TestParamInfo<BlobError>& param_info) {
      return param_info.param.label;
    });

TEST_P(PublicKeyBlobErrorTest, Rejected) {
  Result<PublicKey> r = ParsePublicKeyBlob(GetParam().blob);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), GetParam().message);
}

struct LineError {
  std::string label;
  std::string line;
  std::string message;
};

void PrintTo(const LineError& e, std::ostream* os) { *os << e.label; }

class PublicKeyLineErrorTest : public testing::TestWithParam<LineError> {};

std::vector<LineError> LineErrors() {
  std::string ed = KeyFixtureLine("ed25519.pub");
  std::string ed_b64 = ed.substr(12, ed.find(' ', 12) - 12);
  std::string rsa = KeyFixtureLine("rsa2048.pub");
  std::string rsa_b64 = rsa.substr(8, rsa.find(' ', 8) - 8);
  return {
      {"empty", "", "missing key"},
      {"blank", " \t\r", "missing key"},
      {"empty_type", " " + ed_b64,
       "unknown key type '" + ed_b64.substr(0, 64) + "...'"},
      {"unknown_type", "ssh-foo " + ed_b64, "unknown key type 'ssh-foo'"},
      {"type_only", "ssh-ed25519", "missing key data after type"},
      {"type_and_space", "ssh-ed25519 \t", "missing key data after type"},
      {"bad_base64_char",
       "ssh-ed25519 " + ed_b64.substr(0, 10) + "!" + ed_b64.substr(11),
       "bad base64 in key: invalid base64 character"},
      {"bad_base64_padding",
       "ssh-ed25519 " + ed_b64 + "==", "bad base64 in key: bad base64 padding"},
      {"truncated_base64", "ssh-ed25519 " + ed_b64.substr(0, ed_b64.size() - 3),
       "bad base64 in key: truncated base64"},
      {"truncated_blob", "ssh-ed25519 " + ed_b64.substr(0, ed_b64.size() - 4),
       "truncated key blob"},
      {"type_mismatch", "ssh-rsa " + ed_b64,
       "key type mismatch: line says ssh-rsa, key is ssh-ed25519"},
      {"type_mismatch_cert", "ssh-ed25519-cert-v01@openssh.com " + ed_b64,
       "key type mismatch: line says ssh-ed25519-cert-v01@openssh.com, key "
       "is ssh-ed25519"},
      {"sig_alg_alias_wrong_key", "rsa-sha2-512 " + ed_b64,
       "key type mismatch: line says rsa-sha2-512, key is ssh-ed25519"},
      {"cert_alias_for_plain_key",
       "rsa-sha2-256-cert-v01@openssh.com " + rsa_b64,
       "key type mismatch: line says rsa-sha2-256-cert-v01@openssh.com, key "
       "is ssh-rsa"},
  };
}

INSTANTIATE_TEST_SUITE_P(
    PublicKeyHostileLines, PublicKeyLineErrorTest,
    testing::ValuesIn(LineErrors()),
    [](const testing::TestParamInfo<LineError>& param_info) {
      return param_info.param.label;
    });

TEST_P(PublicKeyLineErrorTest, Rejected) {
  Result<PublicKey> r = ParsePublicKeyLine(GetParam().line);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), GetParam().message);
}

// sshd's line reader also takes signature-algorithm names as the declared
// type (checked against sshd 9.2: "rsa-sha2-512 <ssh-rsa key>" logs in).
TEST(PublicKeyLineTest, SignatureAlgorithmAliases) {
  struct Case {
    std::string alias;
    std::string fixture;
  };
  const Case kCases[] = {
      {"rsa-sha2-256", "rsa2048.pub"},
      {"rsa-sha2-512", "rsa2048.pub"},
      {"rsa-sha2-256-cert-v01@openssh.com", "rsa2048-cert.pub"},
      {"rsa-sha2-512-cert-v01@openssh.com", "rsa2048-cert.pub"},
      {"webauthn-sk-ecdsa-sha2-nistp256@openssh.com", "sk-ecdsa.pub"},
  };
  for (const Case& c : kCases) {
    std::string line = KeyFixtureLine(c.fixture);
    Result<PublicKey> canonical = ParsePublicKeyLine(line);
    ASSERT_TRUE(canonical.ok());
    std::string aliased = c.alias + line.substr(line.find(' '));
    Result<PublicKey> k = ParsePublicKeyLine(aliased);
    ASSERT_TRUE(k.ok()) << c.alias << ": " << k.status().message();
    EXPECT_EQ(*k, *canonical);
    EXPECT_EQ(k->TypeName(), canonical->TypeName());
    EXPECT_TRUE(IsKeyLineTypeName(c.alias));
    EXPECT_FALSE(IsKnownKeyTypeName(c.alias));
  }
}

TEST(PublicKeyLineTest, SeparatorsAndComment) {
  std::string ed = KeyFixtureLine("ed25519.pub");
  std::string b64 = ed.substr(12, ed.find(' ', 12) - 12);
  struct Case {
    std::string line;
    std::string comment;
  };
  const Case kCases[] = {
      {"ssh-ed25519 " + b64, ""},
      {"ssh-ed25519\t" + b64 + "\tc", "c"},
      {"  \tssh-ed25519  \t " + b64 + " \t two  words \t\r", "two  words"},
      {"ssh-ed25519 " + b64 + "\r", ""},
      {"ssh-ed25519 " + b64 + " c\r\n", "c"},
  };
  for (const Case& c : kCases) {
    std::string comment = "unset";
    Result<PublicKey> k = ParsePublicKeyLine(c.line, &comment);
    ASSERT_TRUE(k.ok()) << c.line << ": " << k.status().message();
    EXPECT_EQ(comment, c.comment) << c.line;
  }
}

}  // namespace
}  // namespace porthole::keys
