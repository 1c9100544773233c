// What x509.h issues, checked by other implementations: `openssl verify`
// accepts the certificates against their CA (and not against the other
// CA), CSRs made by `openssl req` are signed, and libcurl (core/http)
// completes a mutual-TLS handshake with `openssl s_server -Verify 1
// -verify_return_error` (FIELD-NOTES 9) using them.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "core/base/file.h"
#include "core/base/subprocess.h"
#include "core/base/test_util.h"
#include "core/crypto/random.h"
#include "core/crypto/x509.h"
#include "core/http/http_client.h"

namespace porthole::crypto {
namespace {

using namespace std::chrono_literals;

Validity OneDay() {
  SystemTime now = std::chrono::system_clock::now();
  return {now - 1h, now + 24h};
}

void Write(const std::string& path, const std::string& text) {
  ASSERT_TRUE(AtomicReplace(path, text, ReplaceOptions::NewMode(0600)).ok())
      << path;
}

RunResult RunTool(const std::vector<std::string>& argv) {
  auto r = RunProcess(argv);
  EXPECT_TRUE(r.ok()) << argv[0] << ": " << r.status().message();
  return r.ok() ? *r : RunResult();
}

class X509InteropTest : public ::testing::Test {
 protected:
  X509InteropTest()
      : server_ca_(MakeCa("interop server CA")),
        device_ca_(MakeCa("interop device CA")) {}

  void SetUp() override {
    auto v = RunProcess({"openssl", "version"});
    ASSERT_TRUE(v.ok() && v->success())
        << "prerequisite missing: the openssl command (package openssl)";
    Write(dir_.Join("server-ca.pem"), server_ca_.cert.ToPem());
    Write(dir_.Join("device-ca.pem"), device_ca_.cert.ToPem());
  }

  static CertificateAuthority MakeCa(const char* name) {
    SigningKey key = SigningKey::GenerateEcdsaP256();
    auto cert = MakeSelfSignedCa(key, name, OneDay());
    EXPECT_TRUE(cert.ok());
    return {std::move(cert).value(), key};
  }

  // Issues a device certificate (and key) into dir/NAME.pem, NAME.key.
  void IssueDevice(const CertificateAuthority& ca, const std::string& name) {
    SigningKey key = SigningKey::GenerateEcdsaP256();
    auto cert = IssueDeviceCertificate(ca, key.PublicSpkiDer(), RandomUuidV4(),
                                       OneDay());
    ASSERT_TRUE(cert.ok()) << cert.status().message();
    Write(dir_.Join(name + ".pem"), cert->ToPem());
    Write(dir_.Join(name + ".key"), *key.ToPkcs8Pem());
  }

  // Issues a server certificate for `host`: NAME.pem (chain), NAME.key.
  void IssueServer(const std::string& host, const std::string& name) {
    SigningKey key = SigningKey::GenerateEcdsaP256();
    auto cert =
        IssueServerCertificate(server_ca_, key.PublicSpkiDer(), host, OneDay());
    ASSERT_TRUE(cert.ok()) << cert.status().message();
    Write(dir_.Join(name + ".pem"), cert->ToPem() + server_ca_.cert.ToPem());
    Write(dir_.Join(name + ".key"), *key.ToPkcs8Pem());
  }

  RunResult Verify(const std::string& ca, const std::string& purpose,
                   const std::string& cert) {
    return RunTool({"openssl", "verify", "-x509_strict", "-purpose", purpose,
                    "-CAfile", dir_.Join(ca), dir_.Join(cert)});
  }

  TempDir dir_;
  CertificateAuthority server_ca_;
  CertificateAuthority device_ca_;
};

TEST_F(X509InteropTest, OpensslVerifiesIssuedCertificates) {
  IssueServer("localhost", "server");
  IssueDevice(device_ca_, "device");
  RunResult r = Verify("server-ca.pem", "sslserver", "server.pem");
  EXPECT_TRUE(r.success()) << r.out << r.err;
  EXPECT_EQ(r.out, dir_.Join("server.pem") + ": OK\n");
  r = Verify("device-ca.pem", "sslclient", "device.pem");
  EXPECT_TRUE(r.success()) << r.out << r.err;
  // The purposes are exclusive, and the two CAs are separate.
  EXPECT_FALSE(Verify("device-ca.pem", "sslserver", "device.pem").success());
  EXPECT_FALSE(Verify("server-ca.pem", "sslclient", "server.pem").success());
  EXPECT_FALSE(Verify("server-ca.pem", "sslclient", "device.pem").success());
  EXPECT_FALSE(Verify("device-ca.pem", "sslserver", "server.pem").success());
  // The CA itself passes openssl's strict checks as a trust anchor.
  r = RunTool({"openssl", "verify", "-x509_strict", "-check_ss_sig", "-CAfile",
               dir_.Join("server-ca.pem"), dir_.Join("server-ca.pem")});
  EXPECT_TRUE(r.success()) << r.out << r.err;
}

TEST_F(X509InteropTest, SignsOpensslReqCsrs) {
  struct Case {
    const char* name;
    std::vector<std::string> newkey;
    bool accepted;
  };
  const Case cases[] = {
      {"ec", {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"}, true},
      {"ed25519", {"-newkey", "ed25519"}, true},
      {"rsa2048", {"-newkey", "rsa:2048"}, true},
      {"rsa1024", {"-newkey", "rsa:1024"}, false},
      {"p384", {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"}, false},
  };
  for (const Case& c : cases) {
    std::string csr = dir_.Join(std::string(c.name) + ".csr");
    std::string key = dir_.Join(std::string(c.name) + ".key");
    std::vector<std::string> argv = {"openssl", "req", "-new", "-nodes"};
    argv.insert(argv.end(), c.newkey.begin(), c.newkey.end());
    argv.insert(argv.end(),
                {"-keyout", key, "-subj", "/CN=device-chosen", "-out", csr});
    RunResult made = RunTool(argv);
    ASSERT_TRUE(made.success()) << c.name << ": " << made.err;
    auto pem = ReadFile(csr, kMaxPemBytes);
    ASSERT_TRUE(pem.ok());
    auto req = ParseCertificateRequest(*pem);
    ASSERT_EQ(req.ok(), c.accepted) << c.name << ": " << req.status().message();
    if (!req.ok()) continue;
    std::string uuid = RandomUuidV4();
    auto cert = IssueDeviceCertificate(device_ca_, req->public_key_spki, uuid,
                                       OneDay());
    ASSERT_TRUE(cert.ok()) << c.name << ": " << cert.status().message();
    std::string pem_name = std::string(c.name) + ".pem";
    Write(dir_.Join(pem_name), cert->ToPem());
    RunResult r = Verify("device-ca.pem", "sslclient", pem_name);
    EXPECT_TRUE(r.success()) << c.name << ": " << r.out << r.err;
    // The certificate is for the device's own key.
    RunResult mod = RunTool(
        {"openssl", "x509", "-noout", "-pubkey", "-in", dir_.Join(pem_name)});
    RunResult keypub = RunTool({"openssl", "pkey", "-pubout", "-in", key});
    EXPECT_EQ(mod.out, keypub.out) << c.name;
    RunResult subj = RunTool({"openssl", "x509", "-noout", "-subject", "-ext",
                              "subjectAltName", "-in", dir_.Join(pem_name)});
    EXPECT_NE(subj.out.find("subject=CN = " + uuid), std::string::npos)
        << subj.out;
    EXPECT_NE(subj.out.find("URI:urn:uuid:" + uuid), std::string::npos)
        << subj.out;
  }
}

// openssl s_server on 127.0.0.1 (a free port), presenting NAME.pem and
// requiring a client certificate from the device CA.
class SServer {
 public:
  static Result<SServer> Start(const TempDir& dir, const std::string& name) {
    ChildProcess::Options o;
    o.pipe_stdout = true;
    PH_ASSIGN_OR_RETURN(
        ChildProcess child,
        ChildProcess::Start(
            {"openssl", "s_server", "-accept", "127.0.0.1:0", "-cert",
             dir.Join(name + ".pem"), "-key", dir.Join(name + ".key"),
             "-CAfile", dir.Join("device-ca.pem"), "-Verify", "1",
             "-verify_return_error", "-www"},
            o));
    // "ACCEPT 127.0.0.1:PORT" once it listens.
    for (int i = 0; i < 20; ++i) {
      PH_ASSIGN_OR_RETURN(std::string line, child.ReadLine(10s));
      if (line.starts_with("ACCEPT ")) {
        std::string port = line.substr(line.rfind(':') + 1);
        return SServer(std::move(child), port);
      }
    }
    return Status::Unavailable("openssl s_server did not say ACCEPT");
  }
  const std::string& port() const { return port_; }

 private:
  SServer(ChildProcess c, std::string port)
      : child_(std::move(c)), port_(std::move(port)) {}
  ChildProcess child_;
  std::string port_;
};

Result<http::HttpResponse> Get(const TempDir& dir, const std::string& url,
                               const std::string& client) {
  http::TlsClientConfig tls;
  tls.ca_file = dir.Join("server-ca.pem");
  tls.cert_file = dir.Join(client + ".pem");
  tls.key_file = dir.Join(client + ".key");
  tls.timeout = 10s;
  PH_ASSIGN_OR_RETURN(auto client_ptr, http::MakeCurlHttpClient(tls));
  http::HttpRequest req;
  req.url = url;
  return client_ptr->Send(req);
}

TEST_F(X509InteropTest, MutualTlsWithCurlAndOpensslServer) {
  IssueServer("localhost", "server-dns");
  IssueServer("127.0.0.1", "server-ip");
  IssueDevice(device_ca_, "device");
  IssueDevice(server_ca_, "rogue");  // a client cert from the wrong CA

  for (const auto& [name, host] :
       {std::pair<std::string, std::string>{"server-dns", "localhost"},
        {"server-ip", "127.0.0.1"}}) {
    auto server = SServer::Start(dir_, name);
    ASSERT_TRUE(server.ok()) << server.status().message();
    std::string url = "https://" + host + ":" + server->port() + "/";
    auto ok = Get(dir_, url, "device");
    ASSERT_TRUE(ok.ok()) << name << ": " << ok.status().message();
    EXPECT_EQ(ok->status, 200) << ok->body;
    // s_server -www echoes the session, including the client's subject.
    EXPECT_NE(ok->body.find("Client certificate"), std::string::npos)
        << ok->body;

    auto refused = Get(dir_, url, "rogue");
    EXPECT_FALSE(refused.ok()) << name
                               << ": a client certificate from the "
                                  "server CA was accepted";
  }
  // The name is checked: the DNS certificate does not cover 127.0.0.1.
  auto server = SServer::Start(dir_, "server-dns");
  ASSERT_TRUE(server.ok());
  auto wrong_name =
      Get(dir_, "https://127.0.0.1:" + server->port() + "/", "device");
  EXPECT_FALSE(wrong_name.ok());
}

}  // namespace
}  // namespace porthole::crypto
