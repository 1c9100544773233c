#include "core/crypto/peer_certificate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <vector>

#include "core/base/file.h"
#include "core/base/subprocess.h"
#include "core/base/test_util.h"

namespace porthole::crypto {
namespace {

// Certificates made fresh by tests/tools/mkcerts.sh and mkcerts_extra.sh;
// the expected facts come from the openssl command line.
// One PKI for the whole suite (key generation is slow).
class PeerCertificateTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    const std::string tools = std::string(PORTHOLE_SOURCE_DIR) + "/tests/tools";
    for (const char* script : {"/mkcerts.sh", "/mkcerts_extra.sh"}) {
      auto made = RunProcess({"bash", tools + script, dir_->path()});
      ASSERT_TRUE(made.ok() && made->success()) << script << " failed";
    }
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  std::string Der(const std::string& name) {
    auto pem = ReadFile(dir_->Join(name), 1 << 20, true);
    EXPECT_TRUE(pem.ok());
    auto ders = PeerCertificatesFromPem(*pem);
    EXPECT_TRUE(ders.ok()) << ders.status().message();
    return ders.ok() ? ders->at(0) : "";
  }

  // `openssl x509 -noout <flag>` on a certificate, after the '='.
  std::string OpensslField(const std::string& name,
                           std::vector<std::string> flags) {
    std::vector<std::string> argv = {"openssl", "x509", "-in", dir_->Join(name),
                                     "-noout"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    auto r = RunProcess(argv);
    EXPECT_TRUE(r.ok() && r->success());
    std::string out = r.ok() ? r->out : "";
    out = out.substr(out.find('=') + 1);
    out.erase(std::remove_if(out.begin(), out.end(),
                             [](char c) { return c == ':' || c == '\n'; }),
              out.end());
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    return out;
  }

  static TempDir* dir_;
};

TempDir* PeerCertificateTest::dir_ = nullptr;

TEST_F(PeerCertificateTest, ClientCertificateFacts) {
  std::string der = Der("client.crt");
  auto info = ParsePeerCertificateDer(der);
  ASSERT_TRUE(info.ok()) << info.status().message();
  EXPECT_EQ(info->subject_cn, "device-0001");
  EXPECT_EQ(info->sha256_hex,
            OpensslField("client.crt", {"-fingerprint", "-sha256"}));
  std::string serial = OpensslField("client.crt", {"-serial"});
  serial.erase(0, std::min(serial.find_first_not_of('0'), serial.size()));
  EXPECT_EQ(info->serial_hex, serial);
  EXPECT_EQ(info->der, der);
  // mkcerts.sh makes certificates valid for two days from now.
  auto now = std::chrono::system_clock::now();
  EXPECT_LE(info->not_before, now);
  EXPECT_GT(info->not_after, now + std::chrono::hours(47));
  EXPECT_LT(info->not_after, now + std::chrono::hours(49));
}

TEST_F(PeerCertificateTest, ExpiredDatesAndSerial) {
  auto info = ParsePeerCertificateDer(Der("expired.crt"));
  ASSERT_TRUE(info.ok()) << info.status().message();
  EXPECT_EQ(info->subject_cn, "device-expired");
  EXPECT_EQ(info->serial_hex, "1000");
  EXPECT_EQ(std::chrono::system_clock::to_time_t(info->not_before),
            1577836800);  // 2020-01-01T00:00:00Z
  EXPECT_EQ(std::chrono::system_clock::to_time_t(info->not_after),
            1577923200);  // 2020-01-02T00:00:00Z
}

TEST_F(PeerCertificateTest, TwoCommonNamesAreRefused) {
  auto info = ParsePeerCertificateDer(Der("twocn.crt"));
  EXPECT_EQ(info.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(info.status().message(),
            "certificate: subject has more than one commonName");
}

TEST_F(PeerCertificateTest, MalformedDer) {
  std::string der = Der("client.crt");
  EXPECT_EQ(ParsePeerCertificateDer("").status().message(),
            "certificate: empty or too long");
  EXPECT_EQ(ParsePeerCertificateDer(der + "x").status().message(),
            "certificate: bytes after the certificate");
  EXPECT_EQ(
      ParsePeerCertificateDer(der.substr(0, der.size() - 1)).status().message(),
      "certificate: not a DER certificate");
}

TEST_F(PeerCertificateTest, PemBlocks) {
  auto ca = ReadFile(dir_->Join("ca.crt"), 1 << 20, true);
  auto key = ReadFile(dir_->Join("ca.key"), 1 << 20, true);
  auto client = ReadFile(dir_->Join("client.crt"), 1 << 20, true);
  ASSERT_TRUE(ca.ok() && key.ok() && client.ok());
  // A key between two certificates is skipped.
  auto both = PeerCertificatesFromPem(*ca + *key + *client);
  ASSERT_TRUE(both.ok()) << both.status().message();
  EXPECT_EQ(both->size(), 2u);
  EXPECT_EQ(both->at(1), Der("client.crt"));
  EXPECT_EQ(PeerCertificatesFromPem(*key).status().message(),
            "certificate: no CERTIFICATE block in PEM");
  EXPECT_EQ(PeerCertificatesFromPem("").status().message(),
            "certificate: no CERTIFICATE block in PEM");
  std::string broken = *ca;
  broken.replace(broken.find("\n") + 5, 4, "!!!!");
  EXPECT_EQ(PeerCertificatesFromPem(broken).status().message(),
            "certificate: a PEM block does not parse");
}

}  // namespace
}  // namespace porthole::crypto
