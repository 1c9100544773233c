#include "server/cmd_init.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/base/file.h"
#include "core/base/unique_fd.h"
#include "core/config/toml.h"
#include "core/crypto/random.h"
#include "core/crypto/x509.h"
#include "core/ssh/device_key.h"
#include "core/tuf/rfc3339.h"
#include "server/director/director.h"
#include "server/operator_token.h"

namespace porthole::server {
namespace {

using std::chrono::hours;

// Lifetimes of what init issues. The CAs outlive what they sign; devices
// and operators pin the server CA, so renewing the server certificate
// needs nothing from them.
constexpr auto kCaLifetime = hours(24 * 365 * 20);
constexpr auto kServerCertLifetime = hours(24 * 365 * 10);

Status MakeDir(const std::string& path) {
  if (mkdir(path.c_str(), 0700) != 0) return PosixError(path, errno);
  return Status::Ok();
}

Status FsyncDir(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid() || fsync(fd.get()) != 0) return PosixError(path, errno);
  return Status::Ok();
}

// Sets the umask for the scope.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : old_(umask(mask)) {}
  ~ScopedUmask() { umask(old_); }

 private:
  mode_t old_;
};

enum class DirState { kMissing, kEmpty, kInitialised, kOther };

Result<DirState> Inspect(const std::string& dir) {
  struct stat st;
  if (lstat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT) return DirState::kMissing;
    return PosixError(dir, errno);
  }
  if (!S_ISDIR(st.st_mode)) return DirState::kOther;
  if (PathExists(DataDir{dir}.ConfigFile())) return DirState::kInitialised;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return PosixError(dir, errno);
  bool empty = true;
  while (struct dirent* e = readdir(d)) {
    std::string_view n = e->d_name;
    if (n != "." && n != "..") empty = false;
  }
  closedir(d);
  return empty ? DirState::kEmpty : DirState::kOther;
}

std::string CaName(const char* what, const std::string& host) {
  std::string name = std::string(what) + " " + host;
  return name.size() <= 64 ? name : std::string(what);
}

// "20261204T050000Z"
std::string CompactUtc(SystemTime t) {
  std::string s = tuf::FormatRfc3339(t);
  std::string out;
  for (char c : s) {
    if (c != '-' && c != ':') out.push_back(c);
  }
  return out;
}

Result<crypto::CertificateAuthority> MakeCa(const std::string& name,
                                            const crypto::Validity& v) {
  crypto::SigningKey key = crypto::SigningKey::GenerateEcdsaP256();
  PH_ASSIGN_OR_RETURN(crypto::Certificate cert,
                      crypto::MakeSelfSignedCa(key, name, v));
  return crypto::CertificateAuthority{std::move(cert), std::move(key)};
}

Status WriteCa(const crypto::CertificateAuthority& ca,
               const std::string& cert_path, const std::string& key_path) {
  PH_ASSIGN_OR_RETURN(std::string key_pem, ca.key.ToPkcs8Pem());
  PH_RETURN_IF_ERROR(WriteFileMode(key_path, key_pem, 0600));
  return WriteFileMode(cert_path, ca.cert.ToPem(), 0644);
}

std::string ServerToml(const std::string& data_dir,
                       const std::string& hostname) {
  return "# porthole-server configuration, written by `porthole-server "
         "init`.\n"
         "# Every key, with its default, is described in the example "
         "server.toml\n"
         "# (packaging/server.toml); `porthole-server --check-config` prints "
         "them all.\n"
         "data_dir = " +
         config::TomlQuote(data_dir) +
         "\n"
         "# The public name devices and operators use (the server "
         "certificate's name).\n"
         "hostname = " +
         config::TomlQuote(hostname) + "\n";
}

// Fills `tmp` (the future DATA_DIR) and returns the admin token.
Result<InitResult> Populate(const std::string& tmp,
                            const std::string& final_dir,
                            const std::string& hostname, SystemTime now) {
  DataDir layout{tmp};
  PH_RETURN_IF_ERROR(MakeDir(layout.TlsDir()));
  PH_RETURN_IF_ERROR(MakeDir(layout.DevicesDir()));
  PH_RETURN_IF_ERROR(MakeDir(layout.RelayDir()));

  crypto::Validity ca_validity{now - kCertBackdate, now + kCaLifetime};
  PH_ASSIGN_OR_RETURN(
      auto server_ca,
      MakeCa(CaName("porthole server CA", hostname), ca_validity));
  PH_RETURN_IF_ERROR(
      WriteCa(server_ca, layout.ServerCaCert(), layout.ServerCaKey()));

  crypto::SigningKey server_key = crypto::SigningKey::GenerateEcdsaP256();
  PH_ASSIGN_OR_RETURN(crypto::Certificate server_cert,
                      crypto::IssueServerCertificate(
                          server_ca, server_key.PublicSpkiDer(), hostname,
                          {now - kCertBackdate, now + kServerCertLifetime}));
  PH_ASSIGN_OR_RETURN(std::string server_key_pem, server_key.ToPkcs8Pem());
  PH_RETURN_IF_ERROR(WriteFileMode(layout.ServerKey(), server_key_pem, 0600));
  PH_RETURN_IF_ERROR(WriteFileMode(layout.ServerCertChain(),
                                   server_cert.ToPem() + server_ca.cert.ToPem(),
                                   0644));

  PH_ASSIGN_OR_RETURN(
      auto device_ca,
      MakeCa(CaName("porthole device CA", hostname), ca_validity));
  PH_RETURN_IF_ERROR(
      WriteCa(device_ca, layout.DeviceCaCert(), layout.DeviceCaKey()));

  PH_ASSIGN_OR_RETURN(
      ssh::PrivateKey host_key,
      ssh::PrivateKey::GenerateEd25519("porthole-server relay " + hostname));
  PH_RETURN_IF_ERROR(
      WriteFileMode(layout.RelayHostKey(), host_key.file_text(), 0600));
  PH_RETURN_IF_ERROR(WriteFileMode(layout.RelayHostKeyPub(),
                                   host_key.PublicKeyLine() + "\n", 0644));

  PH_RETURN_IF_ERROR(WriteFileMode(layout.ConfigFile(),
                                   ServerToml(final_dir, hostname), 0644));
  // The config as the server will read it (data_dir names the final
  // place; the store is made here, in the temporary one).
  PH_ASSIGN_OR_RETURN(ServerConfig config,
                      ParseServerConfig(ServerToml(final_dir, hostname),
                                        DataDir{final_dir}.ConfigFile()));

  InitResult result;
  result.data_dir = final_dir;
  result.token = GenerateOperatorToken();
  result.server_ca_sha256 = server_ca.cert.Info().sha256_hex;
  {
    PH_ASSIGN_OR_RETURN(std::unique_ptr<Store> store,
                        OpenSqliteStore(layout.DefaultStoreFile()));
    PH_RETURN_IF_ERROR(store->AddToken(
        {"admin", OperatorTokenSha256(result.token), now, std::nullopt}));

    // The director: TUF root and remote-sessions keys (online, in
    // director/), root v1 and the first remote-sessions document, which
    // allows this relay's host name and host key.
    FakeClock at_init(now);  // one instant for everything init writes
    director::Director director(store.get(), layout.DirectorDir(), &at_init,
                                DirectorOptionsOf(config));
    PH_RETURN_IF_ERROR(director.Initialize(config.RelayPublicHost(),
                                           host_key.PublicKeyLine()));

    PH_ASSIGN_OR_RETURN(
        int64_t seq,
        store->AppendAudit(
            {.at = now,
             .kind = "server.init",
             .actor = "admin",
             .details_json = nlohmann::json{{"hostname", hostname}}.dump()}));
    (void)seq;
  }  // closed: the WAL is checkpointed into server.db

  std::string host = hostname;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  result.login_command = "porthole login https://" + host + ":" +
                         std::to_string(config.operator_api.port) +
                         " --token " + result.token + " --ca-sha256 " +
                         result.server_ca_sha256;
  return result;
}

}  // namespace

Result<InitResult> InitDataDir(const InitOptions& options, const Clock& clock) {
  if (!crypto::IsValidHostName(options.hostname)) {
    return Status::InvalidArgument("--hostname '" +
                                   config::PrintableText(options.hostname) +
                                   "' is not a DNS name or an IP address");
  }
  if (options.data_dir.empty()) {
    return Status::InvalidArgument("--data-dir is empty");
  }
  std::string dir =
      std::filesystem::absolute(options.data_dir).lexically_normal().string();
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (dir == "/") return Status::InvalidArgument("--data-dir cannot be /");

  PH_ASSIGN_OR_RETURN(DirState state, Inspect(dir));
  if (state == DirState::kInitialised && !options.force) {
    return Status::AlreadyExists(
        dir +
        " is already initialised (it has server.toml); nothing "
        "changed. --force starts over and keeps the old one as " +
        dir + ".replaced-<time>");
  }
  if (state == DirState::kOther) {
    return Status::FailedPrecondition(
        dir +
        " exists and is not an empty directory or a porthole-server "
        "data directory; refusing to write into it");
  }

  std::string parent = DirName(dir);
  PH_RETURN_IF_ERROR(MakeDirs(parent, 0755));
  ScopedUmask mask(077);
  std::string tmpl = dir + ".init-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr)
    return PosixError(dir + ".init-*", errno);
  const std::string tmp = tmpl;
  RemoveOnExit cleanup(tmp);

  SystemTime now = std::chrono::floor<std::chrono::seconds>(clock.Now());
  PH_ASSIGN_OR_RETURN(InitResult result,
                      Populate(tmp, dir, options.hostname, now));
  PH_RETURN_IF_ERROR(FsyncDir(tmp));

  if (state == DirState::kInitialised) {
    result.replaced = dir + ".replaced-" + CompactUtc(now);
    if (rename(dir.c_str(), result.replaced.c_str()) != 0) {
      return PosixError(dir, errno);
    }
  }
  if (rename(tmp.c_str(), dir.c_str()) != 0) {
    Status s = PosixError(dir, errno);
    if (!result.replaced.empty()) {
      (void)rename(result.replaced.c_str(), dir.c_str());
    }
    return s;
  }
  cleanup.Release();
  PH_RETURN_IF_ERROR(FsyncDir(parent));
  return result;
}

std::string FormatInitSummary(const InitResult& r,
                              const std::string& hostname) {
  std::string out = "Initialised " + r.data_dir + " for " + hostname + ".\n";
  if (!r.replaced.empty()) {
    out += "The previous data directory is now " + r.replaced + ".\n";
  }
  out += "Server CA (tls/ca.pem) SHA-256: " + r.server_ca_sha256 +
         "\n\nThe first operator token, \"admin\", is shown only now:\n  " +
         r.token + "\nLog in from an operator's machine with:\n  " +
         r.login_command +
         "\n\nNext: porthole-server device add NAME; porthole-server run.\n";
  return out;
}

CommandAction SetupInit(CLI::App* sub, const GlobalOptions* global) {
  auto opts = std::make_shared<InitOptions>();
  sub->add_option("--data-dir", opts->data_dir,
                  "the data directory to create (default: the global "
                  "--data-dir, " +
                      std::string(kDefaultDataDir) + ")")
      ->option_text("DIR");
  sub->add_option("--hostname", opts->hostname,
                  "the public DNS name or IP address of this server")
      ->required()
      ->option_text("NAME");
  sub->add_flag("--force", opts->force,
                "start over in an initialised data directory (the old one "
                "is kept as DIR.replaced-<time>)");
  return [opts, global]() -> int {
    if (!global->config_file.empty()) {
      return Fail(Status::InvalidArgument(
          "init writes DATA_DIR/server.toml; --config does not apply"));
    }
    InitOptions o = *opts;
    if (o.data_dir.empty()) o.data_dir = global->data_dir;
    auto r = InitDataDir(o);
    if (!r.ok()) return Fail(r.status());
    Print(FormatInitSummary(*r, o.hostname));
    return 0;
  };
}

}  // namespace porthole::server
