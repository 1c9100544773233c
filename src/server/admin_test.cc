// init, device add and tokens, as functions (the e2e test
// tests/e2e/server_admin.sh drives the binary).
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <set>
#include <string>

#include "core/base/file.h"
#include "core/base/subprocess.h"
#include "core/base/test_util.h"
#include "core/config/agent_config.h"
#include "core/crypto/digest.h"
#include "core/crypto/x509.h"
#include "core/ssh/device_key.h"
#include "server/cmd_device.h"
#include "server/cmd_init.h"
#include "server/device_bundle.h"
#include "server/operator_token.h"
#include "server/table.h"

namespace porthole::server {
namespace {

mode_t ModeOf(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

std::set<std::string> Entries(const std::string& dir) {
  std::set<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return out;
  while (struct dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.insert(n);
  }
  closedir(d);
  return out;
}

std::string Read(const std::string& path) {
  auto r = ReadFile(path, 1 << 20);
  EXPECT_TRUE(r.ok()) << path << ": " << r.status().message();
  return r.ok() ? *r : "";
}

RunResult RunTool(const std::vector<std::string>& argv) {
  auto r = RunProcess(argv);
  EXPECT_TRUE(r.ok()) << argv[0] << ": " << r.status().message();
  return r.ok() ? *r : RunResult();
}

class InitTest : public ::testing::Test {
 protected:
  Result<InitResult> Init(const std::string& host = "localhost",
                          bool force = false) {
    return InitDataDir({data_, host, force});
  }
  TempDir tmp_;
  std::string data_ = tmp_.Join("data");
};

TEST_F(InitTest, CreatesTheDataDirectory) {
  auto r = Init("porthole.example.com");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->data_dir, data_);
  EXPECT_TRUE(r->replaced.empty());
  // Nothing else beside it: the temporary directory was renamed.
  EXPECT_EQ(Entries(tmp_.path()), std::set<std::string>{"data"});
  EXPECT_EQ(Entries(data_),
            (std::set<std::string>{"devices", "director", "relay", "server.db",
                                   "server.toml", "tls"}));
  DataDir d{data_};
  EXPECT_EQ(ModeOf(data_), 0700u);
  for (const std::string& dir :
       {d.TlsDir(), d.DevicesDir(), d.RelayDir(), d.DirectorDir()}) {
    EXPECT_EQ(ModeOf(dir), 0700u) << dir;
  }
  for (const std::string& secret :
       {d.ServerCaKey(), d.ServerKey(), d.DeviceCaKey(), d.RelayHostKey(),
        d.DefaultStoreFile()}) {
    EXPECT_EQ(ModeOf(secret), 0600u) << secret;
  }
  for (const std::string& pub :
       {d.ServerCaCert(), d.ServerCertChain(), d.DeviceCaCert(),
        d.RelayHostKeyPub(), d.ConfigFile()}) {
    EXPECT_EQ(ModeOf(pub), 0644u) << pub;
  }

  // The config names the final directory.
  auto config = LoadServerConfig(d.ConfigFile());
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->data_dir, data_);
  EXPECT_EQ(config->hostname, "porthole.example.com");
  EXPECT_EQ(config->StorePath(), d.DefaultStoreFile());

  // Two CAs; the server chain is leaf + server CA.
  auto server_ca = crypto::Certificate::FromPem(Read(d.ServerCaCert()));
  auto device_ca = crypto::Certificate::FromPem(Read(d.DeviceCaCert()));
  ASSERT_TRUE(server_ca.ok() && device_ca.ok());
  EXPECT_NE(server_ca->Der(), device_ca->Der());
  EXPECT_NE(server_ca->PublicKeySpki(), device_ca->PublicKeySpki());
  EXPECT_EQ(server_ca->Info().subject_cn,
            "porthole server CA porthole.example.com");
  EXPECT_EQ(device_ca->Info().subject_cn,
            "porthole device CA porthole.example.com");
  EXPECT_EQ(r->server_ca_sha256, server_ca->Info().sha256_hex);
  auto chain = crypto::Certificate::ChainFromPem(Read(d.ServerCertChain()));
  ASSERT_TRUE(chain.ok());
  ASSERT_EQ(chain->size(), 2u);
  EXPECT_EQ((*chain)[0].Info().subject_cn, "porthole.example.com");
  EXPECT_EQ((*chain)[1].Der(), server_ca->Der());
  EXPECT_TRUE(crypto::CertificateAuthority::FromPem(Read(d.ServerCaCert()),
                                                    Read(d.ServerCaKey()))
                  .ok());
  EXPECT_TRUE(crypto::CertificateAuthority::FromPem(Read(d.DeviceCaCert()),
                                                    Read(d.DeviceCaKey()))
                  .ok());
  auto server_key = crypto::SigningKey::FromPem(Read(d.ServerKey()));
  ASSERT_TRUE(server_key.ok());
  EXPECT_EQ(server_key->PublicSpkiDer(), (*chain)[0].PublicKeySpki());
  RunResult v = RunTool({"openssl", "verify", "-purpose", "sslserver",
                         "-CAfile", d.ServerCaCert(), d.ServerCertChain()});
  EXPECT_TRUE(v.success()) << v.out << v.err;

  // The relay's host key is an OpenSSH key whose .pub matches.
  auto host_key = ssh::PrivateKey::Load(d.RelayHostKey());
  ASSERT_TRUE(host_key.ok()) << host_key.status().message();
  EXPECT_EQ(Read(d.RelayHostKeyPub()), host_key->PublicKeyLine() + "\n");

  // The admin token: only its hash is stored.
  EXPECT_TRUE(LooksLikeOperatorToken(r->token)) << r->token;
  auto store = OpenSqliteStore(d.DefaultStoreFile());
  ASSERT_TRUE(store.ok());
  auto token = (*store)->FindToken(OperatorTokenSha256(r->token));
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(token->name, "admin");
  EXPECT_EQ(Read(d.DefaultStoreFile()).find(r->token), std::string::npos);
  EXPECT_EQ(r->login_command,
            "porthole login https://porthole.example.com:8444 --token " +
                r->token + " --ca-sha256 " + r->server_ca_sha256);
  EXPECT_EQ((*store)->ListAudit({})->front().kind, "server.init");
}

TEST_F(InitTest, IpAddressesGetIpNamesAndBrackets) {
  auto r = Init("::1");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->login_command.starts_with("porthole login https://[::1]:8444"))
      << r->login_command;
  auto chain =
      crypto::Certificate::ChainFromPem(Read(DataDir{data_}.ServerCertChain()));
  ASSERT_TRUE(chain.ok());
  EXPECT_EQ((*chain)[0].Info().subject_cn, "::1");
}

TEST_F(InitTest, RefusesWhatItShouldNotTouch) {
  auto bad = Init("bad host");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(),
            "--hostname 'bad host' is not a DNS name or an IP address");
  EXPECT_TRUE(Entries(tmp_.path()).empty());

  // Someone else's files.
  ASSERT_TRUE(MakeDirs(data_, 0755).ok());
  ASSERT_TRUE(AtomicReplace(data_ + "/notes.txt", "mine").ok());
  auto other = Init();
  EXPECT_EQ(other.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(other.status().message(),
            data_ +
                " exists and is not an empty directory or a porthole-server "
                "data directory; refusing to write into it");
  EXPECT_EQ(Entries(data_), std::set<std::string>{"notes.txt"});
  EXPECT_EQ(Entries(tmp_.path()), std::set<std::string>{"data"});
  auto forced = Init("localhost", true);
  EXPECT_EQ(forced.status().code(), StatusCode::kFailedPrecondition);

  // A file where the directory should be.
  std::string file = tmp_.Join("file");
  ASSERT_TRUE(AtomicReplace(file, "x").ok());
  EXPECT_EQ(InitDataDir({file, "localhost", false}).status().code(),
            StatusCode::kFailedPrecondition);
}

TEST_F(InitTest, AnEmptyDirectoryIsUsed) {
  ASSERT_EQ(mkdir(data_.c_str(), 0755), 0);
  auto r = Init();
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(ModeOf(data_), 0700u);
  EXPECT_TRUE(PathExists(data_ + "/server.toml"));
}

TEST_F(InitTest, InitialisedNeedsForceWhichKeepsTheOldOne) {
  auto first = Init();
  ASSERT_TRUE(first.ok());
  std::string before = Read(DataDir{data_}.ServerCaCert());
  auto again = Init();
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(again.status().message(),
            data_ +
                " is already initialised (it has server.toml); nothing "
                "changed. --force starts over and keeps the old one as " +
                data_ + ".replaced-<time>");
  EXPECT_EQ(Read(DataDir{data_}.ServerCaCert()), before);

  auto forced = Init("localhost", true);
  ASSERT_TRUE(forced.ok()) << forced.status().message();
  ASSERT_FALSE(forced->replaced.empty());
  EXPECT_TRUE(forced->replaced.starts_with(data_ + ".replaced-"));
  EXPECT_EQ(Read(forced->replaced + "/tls/ca.pem"), before);
  EXPECT_NE(Read(DataDir{data_}.ServerCaCert()), before);
  EXPECT_NE(forced->token, first->token);
}

// ---- device add ----

class DeviceAddTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = InitDataDir({data_, "localhost", false});
    ASSERT_TRUE(r.ok()) << r.status().message();
    auto c = LoadServerConfig(DataDir{data_}.ConfigFile());
    ASSERT_TRUE(c.ok());
    config_ = *c;
    auto s = OpenSqliteStore(config_.StorePath());
    ASSERT_TRUE(s.ok());
    store_ = std::move(s).value();
  }
  Result<DeviceAddResult> Add(DeviceAddOptions o) {
    if (o.out_dir.empty()) o.out_dir = tmp_.Join(o.name);
    return AddDeviceWithBundle(config_, *store_, o);
  }
  // An `openssl req` CSR (and its key) in the temp dir.
  std::string MakeCsr(const std::string& name,
                      const std::vector<std::string>& newkey = {
                          "-newkey", "ec", "-pkeyopt",
                          "ec_paramgen_curve:P-256"}) {
    std::vector<std::string> argv = {"openssl", "req", "-new", "-nodes"};
    argv.insert(argv.end(), newkey.begin(), newkey.end());
    argv.insert(argv.end(),
                {"-keyout", tmp_.Join(name + ".key"), "-subj",
                 "/CN=chosen-by-device", "-out", tmp_.Join(name + ".csr")});
    RunResult r = RunTool(argv);
    EXPECT_TRUE(r.success()) << r.err;
    return tmp_.Join(name + ".csr");
  }

  TempDir tmp_;
  std::string data_ = tmp_.Join("data");
  ServerConfig config_;
  std::unique_ptr<Store> store_;
};

TEST_F(DeviceAddTest, GeneratedKeyBundle) {
  auto r = Add({.name = "dev-7"});
  ASSERT_TRUE(r.ok()) << r.status().message();
  std::string out = tmp_.Join("dev-7");
  EXPECT_EQ(r->out_dir, out);
  EXPECT_TRUE(r->wrote_key);
  EXPECT_EQ(Entries(out), (std::set<std::string>{"agent.toml", "client.pem",
                                                 "pkey.pem", "root.crt"}));
  EXPECT_EQ(ModeOf(out), 0700u);
  EXPECT_EQ(ModeOf(out + "/pkey.pem"), 0600u);
  EXPECT_EQ(ModeOf(out + "/client.pem"), 0644u);
  EXPECT_EQ(ModeOf(out + "/root.crt"), 0644u);
  EXPECT_EQ(ModeOf(out + "/agent.toml"), 0644u);
  // No temporary directories left.
  for (const std::string& e : Entries(tmp_.path())) {
    EXPECT_EQ(e.find(".tmp-"), std::string::npos) << e;
  }

  auto cert = crypto::Certificate::FromPem(Read(out + "/client.pem"));
  ASSERT_TRUE(cert.ok());
  crypto::CertificateInfo info = cert->Info();
  EXPECT_EQ(info.subject_cn, r->device.id);
  auto key = crypto::SigningKey::FromPem(Read(out + "/pkey.pem"));
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->PublicSpkiDer(), cert->PublicKeySpki());
  EXPECT_EQ(Read(out + "/root.crt"), Read(DataDir{data_}.ServerCaCert()));
  RunResult v =
      RunTool({"openssl", "verify", "-purpose", "sslclient", "-CAfile",
               DataDir{data_}.DeviceCaCert(), out + "/client.pem"});
  EXPECT_TRUE(v.success()) << v.out << v.err;
  // Not by the server CA.
  v = RunTool({"openssl", "verify", "-CAfile", DataDir{data_}.ServerCaCert(),
               out + "/client.pem"});
  EXPECT_FALSE(v.success());

  auto d = store_->FindDevice("dev-7");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->id, r->device.id);
  EXPECT_EQ(d->cert_sha256, info.sha256_hex);
  EXPECT_EQ(d->cert_serial, info.serial_hex);
  EXPECT_EQ(d->cert_not_after, info.not_after);
  EXPECT_EQ(store_->ListAudit({})->back().kind, "device.add");

  // The agent loads agent.toml unchanged.
  config::LoadOptions load;
  load.config_file = out + "/agent.toml";
  auto agent = config::LoadAgentConfig(load);
  ASSERT_TRUE(agent.ok()) << agent.status().message();
  EXPECT_TRUE(agent->notes.empty());
  EXPECT_EQ(agent->torizon.url.ToString(), "https://localhost:8443/ras/");
  EXPECT_EQ(agent->torizon.Director().ToString(),
            "https://localhost:8443/director/");
  EXPECT_EQ(agent->torizon.SessionsUrl(),
            "https://localhost:8443/ras/sessions");
  EXPECT_EQ(agent->torizon.RootUrl(),
            "https://localhost:8443/director/root.json");
  EXPECT_EQ(agent->torizon.client_cert_path, "/etc/porthole/client.pem");
  EXPECT_EQ(agent->torizon.client_key_path, "/etc/porthole/pkey.pem");
  EXPECT_EQ(agent->torizon.server_cert_path, "/etc/porthole/root.crt");
  EXPECT_EQ(agent->device.ssh_private_key_path, "/var/lib/porthole/device-key");
  EXPECT_EQ(agent->device.local_tuf_repo_path, "/var/lib/porthole/tuf");
  EXPECT_EQ(agent->device.commands_dir, "/var/lib/porthole/commands");
  auto* mode = std::get_if<config::SpawnedSshdSession>(&agent->device.session);
  ASSERT_NE(mode, nullptr);
  EXPECT_EQ(mode->config_dir, "/run/porthole");
  auto expected = MakeAgentConfig(config_, "/etc/porthole");
  ASSERT_TRUE(expected.ok());
  EXPECT_TRUE(agent->SameSettings(*expected));
}

TEST_F(DeviceAddTest, DeviceDirAndIpv6) {
  config_.hostname = "2001:db8::7";
  config_.device_api.port = 9443;
  auto r = Add({.name = "dev-8", .device_dir = "/opt/bundle/dev-8/"});
  ASSERT_TRUE(r.ok()) << r.status().message();
  config::LoadOptions load;
  load.config_file = r->out_dir + "/agent.toml";
  auto agent = config::LoadAgentConfig(load);
  ASSERT_TRUE(agent.ok()) << agent.status().message();
  EXPECT_EQ(agent->torizon.url.ToString(), "https://[2001:db8::7]:9443/ras/");
  EXPECT_EQ(agent->torizon.client_cert_path, "/opt/bundle/dev-8/client.pem");
  EXPECT_EQ(agent->torizon.server_cert_path, "/opt/bundle/dev-8/root.crt");
}

TEST_F(DeviceAddTest, SignsACsr) {
  struct Case {
    const char* name;
    std::vector<std::string> newkey;
  };
  const Case cases[] = {
      {"ec", {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"}},
      {"ed", {"-newkey", "ed25519"}},
      {"rsa", {"-newkey", "rsa:2048"}},
  };
  for (const Case& c : cases) {
    std::string csr = MakeCsr(c.name, c.newkey);
    auto r = Add({.name = c.name, .csr_file = csr});
    ASSERT_TRUE(r.ok()) << c.name << ": " << r.status().message();
    EXPECT_FALSE(r->wrote_key);
    EXPECT_EQ(Entries(r->out_dir),
              (std::set<std::string>{"agent.toml", "client.pem", "root.crt"}));
    auto cert = crypto::Certificate::FromPem(Read(r->out_dir + "/client.pem"));
    ASSERT_TRUE(cert.ok());
    EXPECT_EQ(cert->Info().subject_cn, r->device.id);  // not the CSR's
    RunResult pub = RunTool({"openssl", "pkey", "-pubout", "-outform", "DER",
                             "-in", tmp_.Join(std::string(c.name) + ".key")});
    EXPECT_EQ(pub.out, cert->PublicKeySpki()) << c.name;
  }
}

TEST_F(DeviceAddTest, BadInputWritesNothing) {
  ASSERT_TRUE(Add({.name = "taken"}).ok());
  size_t audit = store_->ListAudit({})->size();
  std::set<std::string> before = Entries(tmp_.path());

  struct Case {
    DeviceAddOptions options;
    StatusCode code;
    std::string error;
  };
  std::string garbage = tmp_.Join("garbage.csr");
  ASSERT_TRUE(AtomicReplace(garbage,
                            "-----BEGIN CERTIFICATE REQUEST-----\n"
                            "AAAA\n"
                            "-----END CERTIFICATE REQUEST-----\n")
                  .ok());
  std::string weak = MakeCsr("weak", {"-newkey", "rsa:1024"});
  before = Entries(tmp_.path());
  std::vector<Case> cases = {
      {{.name = "bad name"},
       StatusCode::kInvalidArgument,
       "invalid device name 'bad name': use 1-63 letters, digits, '.', '_' "
       "and '-', starting with a letter or digit"},
      {{.name = "1b4e28ba-2fa1-4d2e-883f-0016d3cca427"},
       StatusCode::kInvalidArgument,
       "invalid device name '1b4e28ba-2fa1-4d2e-883f-0016d3cca427': a device "
       "name must not look like a device id (UUID)"},
      {{.name = "taken", .out_dir = tmp_.Join("elsewhere")},
       StatusCode::kAlreadyExists,
       "device name 'taken' is already in use (by " +
           store_->FindDevice("taken")->id + ")"},
      {{.name = "new", .out_dir = tmp_.Join("taken")},
       StatusCode::kAlreadyExists,
       tmp_.Join("taken") +
           " already exists; not overwriting it (--out names another "
           "directory)"},
      {{.name = "new", .csr_file = garbage},
       StatusCode::kInvalidArgument,
       garbage + ": not a certificate request: malformed DER"},
      {{.name = "new", .csr_file = weak},
       StatusCode::kInvalidArgument,
       weak + ": certificate request: RSA key of 1024 bits (must be "
              "2048..8192)"},
      {{.name = "new", .csr_file = tmp_.Join("missing.csr")},
       StatusCode::kNotFound,
       tmp_.Join("missing.csr") + ": No such file or directory"},
      {{.name = "new", .device_dir = "etc/porthole"},
       StatusCode::kInvalidArgument,
       "--device-dir 'etc/porthole' is not an absolute path"},
  };
  for (const Case& c : cases) {
    auto r = Add(c.options);
    EXPECT_EQ(r.status().code(), c.code) << c.error;
    EXPECT_EQ(r.status().message(), c.error);
    EXPECT_EQ(Entries(tmp_.path()), before) << c.error;
  }
  EXPECT_EQ(store_->ListDevices(true)->size(), 1u);
  EXPECT_EQ(store_->ListAudit({})->size(), audit);
}

TEST_F(DeviceAddTest, AStoreRefusalRemovesTheBundle) {
  // Another process takes the name between the check and the insert: the
  // bundle written for it goes again.
  class RacingStore : public Store {
   public:
    explicit RacingStore(Store& s) : s_(s) {}
    Status AddDevice(const Device&) override {
      return Status::AlreadyExists("device name 'racy' is already in use");
    }
    Result<Device> FindDevice(const std::string& x) override {
      return s_.FindDevice(x);
    }
    // The rest is not reached by device add.
#define UNUSED(sig) \
  sig override { std::abort(); }
    UNUSED(Result<std::vector<Device>> ListDevices(bool))
    UNUSED(Status RemoveDevice(const std::string&, SystemTime))
    UNUSED(Result<std::string> SetDeviceSshKey(const std::string&,
                                               const std::string&, SystemTime))
    UNUSED(Status SetDeviceHostKeys(const std::string&,
                                    const std::vector<std::string>&))
    UNUSED(Status TouchDevices(
        const std::vector<std::pair<std::string, SystemTime>>&))
    UNUSED(Result<Session> OpenSession(const NewSession&))
    UNUSED(Result<Session> GetSession(const std::string&))
    UNUSED(Result<std::optional<Session>> LiveSessionOfDevice(
        const std::string&, SystemTime))
    UNUSED(Result<std::vector<Session>> LiveSessionsWithKey(const std::string&,
                                                            SystemTime))
    UNUSED(Result<std::vector<Session>> ListSessions(const SessionFilter&))
    UNUSED(Status AddRelayKey(const std::string&, const std::string&))
    UNUSED(Result<bool> EndSession(const std::string&, SessionState,
                                   const std::string&, SystemTime))
    UNUSED(Result<std::vector<Session>> ExpireSessions(SystemTime))
    UNUSED(Result<std::optional<SystemTime>> NextExpiry())
    UNUSED(Status SetTunnelUp(const std::string&, bool, SystemTime))
    UNUSED(Status AddCommand(const Command&))
    UNUSED(Result<Command> GetCommand(const std::string&))
    UNUSED(Result<std::vector<Command>> PendingCommands(const std::string&))
    UNUSED(Result<std::vector<Command>> ListCommands(const CommandFilter&))
    UNUSED(Result<bool> SetCommandResult(const std::string&, const std::string&,
                                         const CommandResult&))
    UNUSED(Status AddToken(const Token&))
    UNUSED(Result<Token> FindToken(const std::string&))
    UNUSED(Result<std::vector<Token>> ListTokens())
    UNUSED(Status RevokeToken(const std::string&, SystemTime))
    UNUSED(Result<int64_t> AppendAudit(const AuditEvent&))
    UNUSED(Result<std::vector<AuditEvent>> ListAudit(const AuditFilter&))
    UNUSED(Status PutMetadata(const std::string&, uint64_t, const std::string&))
    UNUSED(Result<std::string> GetMetadata(const std::string&,
                                           std::optional<uint64_t>))
    UNUSED(Result<uint64_t> LatestMetadataVersion(const std::string&))
    UNUSED(Result<std::optional<std::string>> GetSetting(const std::string&))
    UNUSED(Status PutSetting(const std::string&, const std::string&))
    UNUSED(uint64_t ChangeStamp())
    UNUSED(Result<Counts> GetCounts(SystemTime))
#undef UNUSED
   private:
    Store& s_;
  };
  RacingStore racing(*store_);
  std::set<std::string> before = Entries(tmp_.path());
  auto r = AddDeviceWithBundle(config_, racing,
                               {.name = "racy", .out_dir = tmp_.Join("racy")});
  EXPECT_EQ(r.status().message(), "device name 'racy' is already in use");
  EXPECT_EQ(Entries(tmp_.path()), before);
}

// ---- tokens, tables ----

TEST(OperatorTokenTest, Shape) {
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    std::string t = GenerateOperatorToken();
    EXPECT_TRUE(LooksLikeOperatorToken(t)) << t;
    EXPECT_EQ(t.size(), kOperatorTokenLength);
    seen.insert(t);
  }
  EXPECT_EQ(seen.size(), 50u);
  EXPECT_EQ(OperatorTokenSha256("pht_x"),
            crypto::HexEncode(crypto::Sha256("pht_x")));
  for (const char* bad :
       {"", "pht_", "phx_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "pht_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "pht_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+",
        "pht_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}) {
    EXPECT_FALSE(LooksLikeOperatorToken(bad)) << bad;
  }
}

TEST(TableTest, AlignsColumns) {
  Table t({"NAME", "ID"});
  t.AddRow({"a-long-name", "1"});
  t.AddRow({"b", "22"});
  t.AddColumn("X");
  EXPECT_EQ(t.ToString(),
            "NAME         ID  X\n"
            "a-long-name  1\n"
            "b            22\n");
}

}  // namespace
}  // namespace porthole::server
