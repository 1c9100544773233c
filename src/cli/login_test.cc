// porthole login against a real HTTPS server (the operator API fake,
// tests/tools/operator_api_fake.py) with a certificate chain made by
// tests/tools/mkcerts.sh: the pin decides what is trusted, and nothing is
// written (or sent with the token) unless everything checks out.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <cstdlib>

#include "cli/commands.h"
#include "cli/operator_config.h"
#include "cli/pem.h"
#include "core/base/file.h"
#include "core/base/subprocess.h"
#include "core/base/test_util.h"
#include "core/crypto/signature.h"
#include "core/http/http_client.h"
#include "core/tuf/json.h"

namespace porthole::cli {
namespace {

using std::chrono::milliseconds;

class LoginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string tools = std::string(PORTHOLE_SOURCE_DIR) + "/tests/tools";
    auto made = RunProcess({"bash", tools + "/mkcerts.sh", tmp_.Join("pki")});
    ASSERT_TRUE(made.ok() && made->success()) << "mkcerts.sh failed";
    ca_pem_ = ReadFile(tmp_.Join("pki/ca.crt"), 1 << 20).value();
    leaf_pem_ = ReadFile(tmp_.Join("pki/server.crt"), 1 << 20).value();
    ASSERT_TRUE(
        AtomicReplace(tmp_.Join("chain.pem"), leaf_pem_ + ca_pem_).ok());
    ASSERT_TRUE(AtomicReplace(tmp_.Join("state.json"),
                              R"({"token": "tok-right",
        "relay": {"host": "relay.test", "port": 2222, "host_key": "k"}})")
                    .ok());
    ASSERT_TRUE(AtomicReplace(tmp_.Join("token"), "tok-right\n").ok());
    ASSERT_TRUE(AtomicReplace(tmp_.Join("bad-token"), "tok-wrong\n").ok());
    ChildProcess::Options o;
    o.pipe_stdout = true;
    auto server = ChildProcess::Start(
        {"python3", tools + "/operator_api_fake.py", "--cert",
         tmp_.Join("chain.pem"), "--key", tmp_.Join("pki/server.key"),
         "--state", tmp_.Join("state.json")},
        o);
    ASSERT_TRUE(server.ok()) << server.status().message();
    server_ = std::make_unique<ChildProcess>(std::move(server).value());
    auto port = server_->ReadLine(milliseconds(10000));
    ASSERT_TRUE(port.ok()) << "operator_api_fake.py did not start";
    url_ = "https://localhost:" + *port;
    setenv("XDG_CONFIG_HOME", tmp_.Join("config").c_str(), 1);
    config_path_ = tmp_.Join("config/porthole/operator.toml");
  }
  void TearDown() override { unsetenv("XDG_CONFIG_HOME"); }

  std::string Sha(const std::string& pem) {
    return CertificateSha256(SplitPemCertificates(pem).value()[0]);
  }

  // How many API requests the server has seen (through a verified client).
  size_t ApiRequests() {
    http::TlsClientConfig c;
    c.ca_pem = ca_pem_;
    auto client = http::MakeCurlHttpClient(c).value();
    auto r = client->Send({.url = url_ + "/_test/requests"});
    if (!r.ok()) return 999;
    return tuf::ParseJson(r->body).value()["requests"].size();
  }

  int Login(std::vector<std::string> args, std::string* err = nullptr) {
    testing::internal::CaptureStderr();
    testing::internal::CaptureStdout();
    int rc = RunLogin(args);
    std::string e = testing::internal::GetCapturedStderr();
    testing::internal::GetCapturedStdout();
    if (err) *err = e;
    return rc;
  }

  TempDir tmp_;
  std::unique_ptr<ChildProcess> server_;
  std::string url_, ca_pem_, leaf_pem_, config_path_;
};

TEST_F(LoginTest, RightPinSavesTheCaAndTheToken) {
  std::string err;
  ASSERT_EQ(Login({url_, "--ca-sha256", Sha(ca_pem_), "--token-file",
                   tmp_.Join("token")},
                  &err),
            0)
      << err;
  auto saved = LoadOperatorConfig(config_path_);
  ASSERT_TRUE(saved.ok()) << saved.status().message();
  EXPECT_EQ(saved->server, url_);
  EXPECT_EQ(saved->token, "tok-right");
  EXPECT_EQ(SplitPemCertificates(saved->ca_pem).value(),
            SplitPemCertificates(ca_pem_).value());
  struct stat st;
  ASSERT_EQ(stat(config_path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_EQ(stat(tmp_.Join("config/porthole").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_EQ(ApiRequests(), 1u);  // GET /api/v1/relay, verified
  // openssl's colon form of the pin works too.
  std::string colons;
  std::string hex = Sha(ca_pem_);
  for (size_t i = 0; i < hex.size(); i += 2) {
    colons += (i ? ":" : "") + hex.substr(i, 2);
  }
  EXPECT_EQ(Login({url_, "--ca-sha256", colons, "--token", "tok-right"}), 0);
}

TEST_F(LoginTest, WrongPinIsRefusedAndNothingIsSentOrWritten) {
  std::string err;
  std::string wrong(64, 'a');
  EXPECT_EQ(
      Login({url_, "--ca-sha256", wrong, "--token-file", tmp_.Join("token")},
            &err),
      1);
  EXPECT_EQ(err, "porthole login: " + url_ +
                     ": no certificate the server presented has SHA-256 " +
                     wrong + " (it presented 2: " + Sha(leaf_pem_) + ", " +
                     Sha(ca_pem_) +
                     "); check the pin porthole-server printed, or use --ca "
                     "FILE\n");
  EXPECT_FALSE(PathExists(config_path_));
  EXPECT_FALSE(PathExists(tmp_.Join("config/porthole")));
  EXPECT_EQ(ApiRequests(), 0u);  // the token never left
}

TEST_F(LoginTest, PinningTheServersOwnCertificateTrustsExactlyIt) {
  // libcurl accepts a trust anchor that is not a root (partial chains), so
  // a pin of the server's own certificate works (the host name is still
  // checked); it stops working when that certificate is renewed: pin the CA.
  std::string err;
  ASSERT_EQ(Login({url_, "--ca-sha256", Sha(leaf_pem_), "--token-file",
                   tmp_.Join("token")},
                  &err),
            0)
      << err;
  EXPECT_EQ(
      SplitPemCertificates(LoadOperatorConfig(config_path_)->ca_pem).value(),
      SplitPemCertificates(leaf_pem_).value());
  // (The host name check itself: http_test HostnameIsVerified.)
}

TEST_F(LoginTest, RejectedTokenWritesNothingAndKeepsTheOldLogin) {
  ASSERT_EQ(Login({url_, "--ca", tmp_.Join("pki/ca.crt"), "--token-file",
                   tmp_.Join("token")}),
            0);
  std::string before = ReadFile(config_path_, 1 << 20).value();
  std::string err;
  EXPECT_EQ(Login({url_, "--ca-sha256", Sha(ca_pem_), "--token-file",
                   tmp_.Join("bad-token")},
                  &err),
            1);
  EXPECT_EQ(err, "porthole login: " + url_ +
                     " refused the token (unknown or revoked token); nothing "
                     "saved\n");
  EXPECT_EQ(ReadFile(config_path_, 1 << 20).value(), before);
}

TEST_F(LoginTest, UnreachableServerAndBadArguments) {
  std::string err;
  EXPECT_EQ(Login({"https://127.0.0.1:1", "--ca-sha256", Sha(ca_pem_),
                   "--token", "t"},
                  &err),
            1);
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_EQ(Login({url_, "--token", "t"}, &err), 2);
  EXPECT_EQ(err,
            "porthole login: give exactly one of --ca-sha256 HEX and "
            "--ca FILE (see porthole login --help)\n");
  EXPECT_EQ(Login({url_, "--ca-sha256", "xyz", "--token", "t"}, &err), 2);
  EXPECT_EQ(Login({"http://" + url_.substr(8), "--ca-sha256", Sha(ca_pem_),
                   "--token", "t"},
                  &err),
            2);
  EXPECT_EQ(Login({url_, "--ca-sha256", Sha(ca_pem_), "--token", "a b"}, &err),
            2);
  EXPECT_EQ(err,
            "porthole login: token contains a space, control or "
            "non-ASCII character\n");
  EXPECT_FALSE(PathExists(config_path_));
  EXPECT_EQ(ApiRequests(), 0u);
}

}  // namespace
}  // namespace porthole::cli
