#include "cli/operator_config.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "cli/pem.h"
#include "core/base/file.h"
#include "core/base/unique_fd.h"
#include "core/config/toml.h"
#include "core/config/url.h"

namespace porthole::cli {
namespace {

constexpr size_t kMaxConfigBytes = 1 << 20;
constexpr size_t kMaxTokenBytes = 4096;

std::string Octal(mode_t m) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 07777));
  return buf;
}

Result<std::string> XdgDir(const char* var, const char* fallback) {
  const char* v = std::getenv(var);
  if (v != nullptr && v[0] == '/') return std::string(v) + "/porthole";
  PH_ASSIGN_OR_RETURN(std::string home, HomeDir());
  return home + "/" + fallback + "/porthole";
}

}  // namespace

Status CheckToken(const std::string& token) {
  if (token.empty()) return Status::InvalidArgument("empty token");
  if (token.size() > kMaxTokenBytes) {
    return Status::InvalidArgument("token longer than " +
                                   std::to_string(kMaxTokenBytes) + " bytes");
  }
  for (unsigned char c : token) {
    if (c <= 0x20 || c >= 0x7f) {
      return Status::InvalidArgument(
          "token contains a space, control or non-ASCII character");
    }
  }
  return Status::Ok();
}

Result<std::string> HomeDir() {
  const char* home = std::getenv("HOME");
  if (home != nullptr && home[0] == '/') return std::string(home);
  struct passwd* pw = getpwuid(getuid());
  if (pw == nullptr || pw->pw_dir == nullptr || pw->pw_dir[0] != '/') {
    return Status::NotFound("no home directory: HOME is unset");
  }
  return std::string(pw->pw_dir);
}

Result<std::string> PortholeConfigDir() {
  return XdgDir("XDG_CONFIG_HOME", ".config");
}

Result<std::string> PortholeCacheDir() {
  return XdgDir("XDG_CACHE_HOME", ".cache");
}

Result<std::string> OperatorConfigPath() {
  PH_ASSIGN_OR_RETURN(std::string dir, PortholeConfigDir());
  return dir + "/operator.toml";
}

Result<std::string> NormalizeServerUrl(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("server URL '" +
                                   config::PrintableText(text) + "': " + why);
  };
  auto url = config::ParseHttpUrl(text);
  if (!url.ok()) {
    return Status::InvalidArgument("server URL " + url.status().message());
  }
  if (url->scheme() != "https") return bad("must be https://");
  if (url->query() || url->fragment()) {
    return bad("must not have a query or fragment");
  }
  std::string s = url->ToString();
  while (s.ends_with('/')) s.pop_back();
  return s;
}

Result<OperatorConfig> ParseOperatorConfig(std::string_view text,
                                           const std::string& source) {
  PH_ASSIGN_OR_RETURN(auto doc, config::TomlDocument::Parse(text, source));
  config::TomlTable root = doc.Root();
  OperatorConfig c;
  const std::pair<const char*, std::string*> keys[] = {
      {"server", &c.server}, {"token", &c.token}, {"ca", &c.ca_pem}};
  for (const auto& [key, out] : keys) {
    PH_ASSIGN_OR_RETURN(auto v, root.GetString(key));
    if (!v) {
      return Status::InvalidArgument(source + ": missing key '" + key +
                                     "' (porthole login again)");
    }
    *out = std::move(*v);
  }
  PH_RETURN_IF_ERROR(root.CheckNoUnknownKeys());
  auto where = [&](const char* key, const Status& s) {
    return Status::InvalidArgument(root.Where(key) + ": " + s.message());
  };
  auto url = NormalizeServerUrl(c.server);
  if (!url.ok()) return where("server", url.status());
  c.server = *url;
  if (Status s = CheckToken(c.token); !s.ok()) return where("token", s);
  auto certs = SplitPemCertificates(c.ca_pem);
  if (!certs.ok()) return where("ca", certs.status());
  return c;
}

std::string FormatOperatorConfig(const OperatorConfig& c) {
  return "# porthole operator login (porthole login); holds a secret: keep "
         "0600\n"
         "server = " +
         config::TomlQuote(c.server) +
         "\ntoken = " + config::TomlQuote(c.token) +
         "\nca = " + config::TomlQuote(c.ca_pem) + "\n";
}

Result<OperatorConfig> LoadOperatorConfig(const std::string& path) {
  // O_NONBLOCK: a FIFO planted at the path must not hang us.
  UniqueFd fd(
      open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd.valid()) {
    int err = errno;
    if (err == ENOENT) {
      return Status::NotFound("not logged in (no " + path +
                              "): porthole login URL --token-file FILE "
                              "--ca-sha256 HEX");
    }
    if (err == ELOOP) {
      return Status::PermissionDenied(path +
                                      ": is a symbolic link; refusing it");
    }
    return PosixError(path, err);
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return PosixError(path, errno);
  if (!S_ISREG(st.st_mode)) {
    return Status::PermissionDenied(path + ": not a regular file");
  }
  if (st.st_uid != geteuid()) {
    return Status::PermissionDenied(path + ": owned by uid " +
                                    std::to_string(st.st_uid) +
                                    ", not by you; refusing it");
  }
  if ((st.st_mode & 077) != 0) {
    return Status::PermissionDenied(path + ": mode " + Octal(st.st_mode) +
                                    " lets others read the token; chmod 600 " +
                                    path);
  }
  // Read through the checked descriptor, not the path again.
  PH_ASSIGN_OR_RETURN(std::string text,
                      ReadFile("/proc/self/fd/" + std::to_string(fd.get()),
                               kMaxConfigBytes, true));
  return ParseOperatorConfig(text, path);
}

Status SaveOperatorConfig(const std::string& path,
                          const OperatorConfig& config) {
  std::string text = FormatOperatorConfig(config);
  PH_RETURN_IF_ERROR(ParseOperatorConfig(text, path).status());
  const std::string dir = DirName(path);
  PH_RETURN_IF_ERROR(MakeDirs(dir, 0700));
  struct stat st;
  if (lstat(dir.c_str(), &st) != 0) return PosixError(dir, errno);
  if (!S_ISDIR(st.st_mode)) return Status::IoError(dir + ": not a directory");
  if (st.st_uid == geteuid() && (st.st_mode & 077) != 0 &&
      chmod(dir.c_str(), 0700) != 0) {
    return PosixError(dir, errno);
  }
  // AtomicReplace keeps an existing file's mode: make sure that is 0600
  // before the secret goes in.
  UniqueFd old(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (old.valid()) {
    if (fstat(old.get(), &st) == 0 && S_ISREG(st.st_mode) &&
        (st.st_mode & 07777) != 0600 && fchmod(old.get(), 0600) != 0) {
      return PosixError(path, errno);
    }
  } else if (errno == ELOOP) {
    return Status::PermissionDenied(path + ": is a symbolic link; refusing it");
  }
  ReplaceOptions o = ReplaceOptions::NewMode(0600);
  o.owner_if_new = FileOwner{geteuid(), getegid()};
  return AtomicReplace(path, text, o);
}

Status RemoveOperatorConfig(const std::string& path) {
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return PosixError(path, errno);
  }
  return Status::Ok();
}

}  // namespace porthole::cli
