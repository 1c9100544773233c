// porthole-test-tuf: forges the TUF/Uptane metadata a RAC director serves
// (PROTOCOL.md 6), for the end-to-end tests (tests/e2e/agent_lib.sh). It
// signs with src/core/tuf/signer.h, so its output is what porthole-server
// would serve, and it verifies with the agent's own verifier.
//
//   porthole-test-tuf keygen --type ed25519|rsa|ecdsa [--bits N] --out FILE
//   porthole-test-tuf keyid --key FILE
//   porthole-test-tuf root --key FILE[,FILE...]
//       [--role-key ROLE=FILE[,FILE...]]... [--sign-key FILE[,FILE...]]
//       [--threshold ROLE=N]... [--version N] EXPIRY --out FILE
//   porthole-test-tuf remote-sessions --key FILE[,FILE...] [--version N]
//       EXPIRY [--authorized-key-file PUB]... [--host H]...
//       [--relay-key-file PUB]... [--allow-command NAME[=ARG,...]]...
//       [--empty-commands] --out FILE
//   porthole-test-tuf sign --key FILE[,FILE...] --in SIGNED_JSON --out FILE
//   porthole-test-tuf verify-root --trusted FILE [--update FILE]...
//
//   EXPIRY is one of --expires-days D, --expires-seconds S (either may be
//   negative: already expired) or --expires RFC3339.
//
// Flags take a value ("--flag VALUE" or "--flag=VALUE"), except
// --empty-commands; a flag not marked "..." may be given once. "--out -"
// writes to stdout; files are replaced atomically (keys 0600, metadata
// 0644). keygen prints the new key's id on stdout. Exit 0 on success, 1
// when the work fails (message on stderr), 2 for a usage error.
//
// Test-only: keys are unencrypted files and nothing here is hardened.
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/base/clock.h"
#include "core/base/exit_code.h"
#include "core/base/file.h"
#include "core/crypto/signature.h"
#include "core/tuf/error.h"
#include "core/tuf/json.h"
#include "core/tuf/rfc3339.h"
#include "core/tuf/signer.h"
#include "core/tuf/verifier.h"

namespace porthole::test_tuf {
namespace {

constexpr char kProgram[] = "porthole-test-tuf";
constexpr size_t kMaxInputBytes = 1 << 20;

// A failure of one command: the exit code and the line for stderr.
struct Failure {
  int code;
  std::string message;
};

Failure UsageError(std::string message) {
  return {kExitUsage, std::move(message)};
}
Failure WorkError(std::string message) {
  return {kExitFailure, std::move(message)};
}

// ---- flags ----

struct FlagSpec {
  const char* name;  // without the leading "--"
  bool repeated;
  bool boolean = false;  // takes no value; Get() gives ""
};

// The values of the flags given, by name (without "--").
class Flags {
 public:
  bool Has(const std::string& name) const { return values_.count(name) != 0; }
  // The one value of a flag that is not repeated, or nullopt.
  std::optional<std::string> Get(const std::string& name) const {
    auto it = values_.find(name);
    if (it == values_.end()) return std::nullopt;
    return it->second.front();
  }
  // Every value of a repeated flag, in order.
  std::vector<std::string> All(const std::string& name) const {
    auto it = values_.find(name);
    return it == values_.end() ? std::vector<std::string>{} : it->second;
  }
  void Add(const std::string& name, std::string value) {
    values_[name].push_back(std::move(value));
  }

 private:
  std::map<std::string, std::vector<std::string>> values_;
};

// Parses `args` against `specs`; nullopt on success.
std::optional<Failure> ParseFlags(const std::vector<std::string>& args,
                                  const std::vector<FlagSpec>& specs,
                                  Flags* flags) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.rfind("--", 0) != 0 || a.size() == 2) {
      return UsageError("unexpected argument '" + a + "'");
    }
    std::string name = a.substr(2);
    std::optional<std::string> value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    const FlagSpec* spec = nullptr;
    for (const FlagSpec& s : specs) {
      if (name == s.name) spec = &s;
    }
    if (spec == nullptr) return UsageError("unknown option '--" + name + "'");
    if (spec->boolean) {
      if (value) return UsageError("--" + name + " takes no value");
      value = "";
    } else if (!value) {
      if (i + 1 == args.size()) {
        return UsageError("--" + name + " needs a value");
      }
      value = args[++i];
    }
    if (!spec->repeated && flags->Has(name)) {
      return UsageError("--" + name + " given twice");
    }
    flags->Add(name, std::move(*value));
  }
  return std::nullopt;
}

std::optional<Failure> Require(const Flags& flags,
                               const std::vector<std::string>& names) {
  for (const std::string& n : names) {
    if (!flags.Has(n)) return UsageError("--" + n + " is required");
  }
  return std::nullopt;
}

std::vector<std::string> SplitCommas(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t comma = text.find(',', start);
    out.push_back(text.substr(start, comma - start));
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

// A whole decimal integer, optionally signed; nothing else.
std::optional<long long> ParseInteger(const std::string& text,
                                      bool allow_negative) {
  if (text.empty()) return std::nullopt;
  size_t digits = (allow_negative && text[0] == '-') ? 1 : 0;
  if (digits == text.size()) return std::nullopt;
  for (size_t i = digits; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
  }
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0') return std::nullopt;
  return v;
}

// --version N (default 1): an integer >= 1.
std::optional<Failure> VersionFlag(const Flags& flags, uint64_t* version) {
  *version = 1;
  if (std::optional<std::string> v = flags.Get("version")) {
    std::optional<long long> n = ParseInteger(*v, false);
    if (!n || *n < 1) {
      return UsageError("--version: '" + *v + "' is not an integer >= 1");
    }
    *version = static_cast<uint64_t>(*n);
  }
  return std::nullopt;
}

// Exactly one of --expires-days, --expires-seconds, --expires.
std::optional<Failure> ExpiryFlag(const Flags& flags, SystemTime* expires) {
  int given = flags.Has("expires-days") + flags.Has("expires-seconds") +
              flags.Has("expires");
  if (given != 1) {
    return UsageError(
        "exactly one of --expires-days, --expires-seconds or --expires is "
        "required");
  }
  SystemTime now = Clock::Real().Now();
  if (std::optional<std::string> t = flags.Get("expires")) {
    Result<SystemTime> at = tuf::ParseRfc3339(*t);
    if (!at.ok()) return UsageError("--expires: " + at.status().message());
    *expires = *at;
    return std::nullopt;
  }
  bool days = flags.Has("expires-days");
  std::string name = days ? "expires-days" : "expires-seconds";
  std::string text = *flags.Get(name);
  std::optional<long long> n = ParseInteger(text, true);
  constexpr long long kLimitSeconds = 1000LL * 366 * 86400;  // ~1000 years
  long long seconds = n ? *n * (days ? 86400 : 1) : 0;
  if (!n || seconds > kLimitSeconds || seconds < -kLimitSeconds) {
    return UsageError("--" + name + ": '" + text +
                      "' is not an integer (within 1000 years)");
  }
  *expires = now + std::chrono::seconds(seconds);
  return std::nullopt;
}

// ---- files ----

std::optional<Failure> ReadInput(const std::string& path, std::string* data) {
  Result<std::string> r = ReadFile(path, kMaxInputBytes, true);
  if (!r.ok()) return WorkError(r.status().message());
  *data = std::move(*r);
  return std::nullopt;
}

// Writes `contents` to `path` (replaced atomically), or stdout for "-".
std::optional<Failure> WriteOutput(const std::string& path,
                                   const std::string& contents, mode_t mode) {
  if (path == "-") {
    if (std::fwrite(contents.data(), 1, contents.size(), stdout) !=
            contents.size() ||
        std::fflush(stdout) != 0) {
      return WorkError("cannot write to stdout");
    }
    return std::nullopt;
  }
  Status s = AtomicReplace(path, contents, ReplaceOptions::NewMode(mode));
  if (!s.ok()) return WorkError(s.message());
  return std::nullopt;
}

std::optional<Failure> LoadSigner(const std::string& path,
                                  std::vector<tuf::Signer>* out) {
  std::string text;
  if (auto f = ReadInput(path, &text)) return f;
  tuf::ErrorOr<tuf::Signer> s = tuf::Signer::FromKeyFile(text);
  if (!s.ok()) return WorkError(path + ": " + s.error().message());
  out->push_back(std::move(*s));
  return std::nullopt;
}

// Every FILE of "FILE[,FILE...]" values, in order.
std::optional<Failure> LoadSigners(const std::vector<std::string>& values,
                                   std::vector<tuf::Signer>* out) {
  for (const std::string& v : values) {
    for (const std::string& path : SplitCommas(v)) {
      if (path.empty()) return UsageError("empty key file name in '" + v + "'");
      if (auto f = LoadSigner(path, out)) return f;
    }
  }
  return std::nullopt;
}

// The OpenSSH public key lines of a .pub file: every line that is neither
// empty nor a '#' comment, without its line ending.
std::optional<Failure> ReadKeyLines(const std::string& path,
                                    std::vector<std::string>* out) {
  std::string text;
  if (auto f = ReadInput(path, &text)) return f;
  size_t n = 0, start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    std::string line = text.substr(start, nl - start);
    start = nl == std::string::npos ? text.size() : nl + 1;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) {
      line.pop_back();
    }
    if (line.empty() || line[0] == '#') continue;
    out->push_back(std::move(line));
    ++n;
  }
  if (n == 0) return WorkError(path + ": no public key line");
  return std::nullopt;
}

// "NAME=VALUE" split at the first '='.
std::optional<Failure> SplitAssignment(const std::string& flag,
                                       const std::string& text,
                                       std::string* name, std::string* value) {
  size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    return UsageError("--" + flag + ": '" + text + "' is not NAME=VALUE");
  }
  *name = text.substr(0, eq);
  *value = text.substr(eq + 1);
  return std::nullopt;
}

std::vector<const tuf::Signer*> Pointers(const std::vector<tuf::Signer>& v) {
  std::vector<const tuf::Signer*> out;
  for (const tuf::Signer& s : v) out.push_back(&s);
  return out;
}

std::optional<Failure> WriteSigned(const tuf::Json& signed_value,
                                   const std::vector<const tuf::Signer*>& by,
                                   const std::string& out) {
  tuf::ErrorOr<std::string> text = tuf::SignMetadataText(signed_value, by);
  if (!text.ok()) return WorkError(text.error().message());
  return WriteOutput(out, *text, 0644);
}

// ---- commands ----

std::optional<Failure> CmdKeygen(const std::vector<std::string>& args) {
  Flags f;
  if (auto e = ParseFlags(
          args, {{"type", false}, {"bits", false}, {"out", false}}, &f)) {
    return e;
  }
  if (auto e = Require(f, {"type", "out"})) return e;
  std::string type = *f.Get("type");
  if (f.Has("bits") && type != "rsa") {
    return UsageError("--bits is only for --type rsa");
  }
  std::optional<crypto::SigningKey> key;
  if (type == "ed25519") {
    key = crypto::SigningKey::GenerateEd25519();
  } else if (type == "ecdsa") {
    key = crypto::SigningKey::GenerateEcdsaP256();
  } else if (type == "rsa") {
    std::string bits_text = f.Get("bits").value_or("2048");
    std::optional<long long> bits = ParseInteger(bits_text, false);
    if (!bits || *bits < 1024 || *bits > 16384) {
      return UsageError("--bits: '" + bits_text + "' is not in 1024..16384");
    }
    Result<crypto::SigningKey> rsa =
        crypto::SigningKey::GenerateRsa(static_cast<int>(*bits));
    if (!rsa.ok()) return WorkError(rsa.status().message());
    key = std::move(*rsa);
  } else {
    return UsageError("--type: '" + type + "' is not ed25519, rsa or ecdsa");
  }
  tuf::Signer signer(std::move(*key));
  tuf::ErrorOr<std::string> text = signer.ToKeyFile();
  if (!text.ok()) return WorkError(text.error().message());
  if (auto e = WriteOutput(*f.Get("out"), *text, 0600)) return e;
  if (*f.Get("out") != "-") std::printf("%s\n", signer.keyid().c_str());
  return std::nullopt;
}

std::optional<Failure> CmdKeyid(const std::vector<std::string>& args) {
  Flags f;
  if (auto e = ParseFlags(args, {{"key", false}}, &f)) return e;
  if (auto e = Require(f, {"key"})) return e;
  std::vector<tuf::Signer> signers;
  if (auto e = LoadSigner(*f.Get("key"), &signers)) return e;
  std::printf("%s\n", signers[0].keyid().c_str());
  return std::nullopt;
}

std::optional<Failure> CmdRoot(const std::vector<std::string>& args) {
  Flags f;
  if (auto e = ParseFlags(args,
                          {{"key", true},
                           {"role-key", true},
                           {"sign-key", true},
                           {"threshold", true},
                           {"version", false},
                           {"expires-days", false},
                           {"expires-seconds", false},
                           {"expires", false},
                           {"out", false}},
                          &f)) {
    return e;
  }
  if (auto e = Require(f, {"key", "out"})) return e;
  tuf::RootSpec spec;
  if (auto e = VersionFlag(f, &spec.version)) return e;
  if (auto e = ExpiryFlag(f, &spec.expires)) return e;

  std::vector<tuf::Signer> root_keys, sign_keys;
  if (auto e = LoadSigners(f.All("key"), &root_keys)) return e;
  if (auto e = LoadSigners(f.All("sign-key"), &sign_keys)) return e;
  for (const tuf::Signer& s : root_keys) spec.AddRoleKey("root", s);

  std::set<std::string> named_roles;
  for (const std::string& v : f.All("role-key")) {
    std::string role, files;
    if (auto e = SplitAssignment("role-key", v, &role, &files)) return e;
    if (role == "root") {
      return UsageError("--role-key: the root role's keys are --key");
    }
    if (!named_roles.insert(role).second) {
      return UsageError("--role-key: role '" + role + "' given twice");
    }
    std::vector<tuf::Signer> keys;
    if (auto e = LoadSigners({files}, &keys)) return e;
    for (const tuf::Signer& s : keys) spec.AddRoleKey(role, s);
  }
  // tough's Root lists these roles; reuse the root keys unless named.
  for (const char* role : {"snapshot", "targets", "timestamp"}) {
    if (named_roles.count(role) == 0) {
      for (const tuf::Signer& s : root_keys) spec.AddRoleKey(role, s);
    }
  }
  std::set<std::string> thresholds;
  for (const std::string& v : f.All("threshold")) {
    std::string role, n_text;
    if (auto e = SplitAssignment("threshold", v, &role, &n_text)) return e;
    std::optional<long long> n = ParseInteger(n_text, false);
    if (!n || *n < 1) {
      return UsageError("--threshold: '" + n_text + "' is not an integer >= 1");
    }
    if (spec.roles.count(role) == 0) {
      return UsageError("--threshold: no role '" + role + "' in this root");
    }
    if (!thresholds.insert(role).second) {
      return UsageError("--threshold: role '" + role + "' given twice");
    }
    spec.roles[role].threshold = static_cast<uint64_t>(*n);
  }

  // Signed by the root keys, then the extra (e.g. the previous root's) keys;
  // each key once.
  std::vector<const tuf::Signer*> by;
  std::set<std::string> seen;
  for (const auto* list : {&root_keys, &sign_keys}) {
    for (const tuf::Signer& s : *list) {
      if (seen.insert(s.keyid()).second) by.push_back(&s);
    }
  }
  return WriteSigned(tuf::BuildRoot(spec), by, *f.Get("out"));
}

std::optional<Failure> CmdRemoteSessions(const std::vector<std::string>& args) {
  Flags f;
  if (auto e = ParseFlags(args,
                          {{"key", true},
                           {"version", false},
                           {"expires-days", false},
                           {"expires-seconds", false},
                           {"expires", false},
                           {"authorized-key-file", true},
                           {"host", true},
                           {"relay-key-file", true},
                           {"allow-command", true},
                           {"empty-commands", false, true},
                           {"out", false}},
                          &f)) {
    return e;
  }
  if (auto e = Require(f, {"key", "out"})) return e;
  tuf::RemoteSessionsSpec spec;
  if (auto e = VersionFlag(f, &spec.version)) return e;
  if (auto e = ExpiryFlag(f, &spec.expires)) return e;
  std::vector<tuf::Signer> keys;
  if (auto e = LoadSigners(f.All("key"), &keys)) return e;
  for (const std::string& path : f.All("authorized-key-file")) {
    if (auto e = ReadKeyLines(path, &spec.authorized_keys)) return e;
  }
  for (const std::string& path : f.All("relay-key-file")) {
    if (auto e = ReadKeyLines(path, &spec.ra_server_ssh_pubkeys)) return e;
  }
  spec.ra_server_hosts = f.All("host");

  if (f.Has("empty-commands")) {
    if (f.Has("allow-command")) {
      return UsageError(
          "--empty-commands and --allow-command exclude each "
          "other");
    }
    spec.allowed_commands.emplace();
  }
  for (const std::string& v : f.All("allow-command")) {
    if (!spec.allowed_commands) spec.allowed_commands.emplace();
    size_t eq = v.find('=');
    std::string name = v.substr(0, eq);
    if (name.empty()) {
      return UsageError("--allow-command: '" + v + "' has no command name");
    }
    std::vector<std::string> allowed;
    if (eq != std::string::npos && eq + 1 < v.size()) {
      allowed = SplitCommas(v.substr(eq + 1));
    }
    if (!spec.allowed_commands->emplace(name, std::move(allowed)).second) {
      return UsageError("--allow-command: '" + name + "' given twice");
    }
  }
  tuf::ErrorOr<tuf::Json> doc = tuf::BuildRemoteSessions(spec);
  if (!doc.ok()) return WorkError(doc.error().message());
  return WriteSigned(*doc, Pointers(keys), *f.Get("out"));
}

std::optional<Failure> CmdSign(const std::vector<std::string>& args) {
  Flags f;
  if (auto e = ParseFlags(args, {{"key", true}, {"in", false}, {"out", false}},
                          &f)) {
    return e;
  }
  if (auto e = Require(f, {"key", "in", "out"})) return e;
  std::vector<tuf::Signer> keys;
  if (auto e = LoadSigners(f.All("key"), &keys)) return e;
  std::string text;
  if (auto e = ReadInput(*f.Get("in"), &text)) return e;
  tuf::ErrorOr<tuf::Json> value = tuf::ParseJson(text);
  if (!value.ok()) {
    return WorkError(*f.Get("in") + ": " + value.error().message());
  }
  return WriteSigned(*value, Pointers(keys), *f.Get("out"));
}

std::optional<Failure> CmdVerifyRoot(const std::vector<std::string>& args) {
  Flags f;
  if (auto e = ParseFlags(args, {{"trusted", false}, {"update", true}}, &f)) {
    return e;
  }
  if (auto e = Require(f, {"trusted"})) return e;
  std::string path = *f.Get("trusted"), text;
  if (auto e = ReadInput(path, &text)) return e;
  tuf::ErrorOr<tuf::Root> root = tuf::VerifyTrustedRoot(text, path);
  auto named = [](const tuf::Error& e) {
    return e.message() + " [" + std::string(tuf::ErrorCodeName(e.code())) + "]";
  };
  if (!root.ok()) return WorkError(named(root.error()));
  for (const std::string& update : f.All("update")) {
    if (auto e = ReadInput(update, &text)) return e;
    tuf::ErrorOr<tuf::Root> next = tuf::VerifyRootUpdate(*root, text, update);
    if (!next.ok()) return WorkError(named(next.error()));
    if (next->version == root->version) {
      return WorkError(update + ": same version " +
                       std::to_string(root->version) + " (not a rotation)");
    }
    root = std::move(next);
    path = update;
  }
  tuf::Error expiry = tuf::CheckExpiry(path, root->expires_text, root->expires,
                                       Clock::Real().Now());
  if (!expiry.ok()) return WorkError(named(expiry));
  std::printf("%s: valid root version %llu, expires %s\n", path.c_str(),
              static_cast<unsigned long long>(root->version),
              root->expires_text.c_str());
  return std::nullopt;
}

// ---- the command table ----

struct Command {
  const char* name;
  const char* usage;
  std::optional<Failure> (*run)(const std::vector<std::string>& args);
};

constexpr Command kCommands[] = {
    {"keygen", "keygen --type ed25519|rsa|ecdsa [--bits N] --out FILE",
     CmdKeygen},
    {"keyid", "keyid --key FILE", CmdKeyid},
    {"root",
     "root --key FILE[,FILE...] [--role-key ROLE=FILE[,FILE...]]... "
     "[--sign-key FILE[,FILE...]] [--threshold ROLE=N]... [--version N] "
     "EXPIRY --out FILE",
     CmdRoot},
    {"remote-sessions",
     "remote-sessions --key FILE[,FILE...] [--version N] EXPIRY "
     "[--authorized-key-file PUB]... [--host H]... [--relay-key-file PUB]... "
     "[--allow-command NAME[=ARG,...]]... [--empty-commands] --out FILE",
     CmdRemoteSessions},
    {"sign", "sign --key FILE[,FILE...] --in SIGNED_JSON --out FILE", CmdSign},
    {"verify-root", "verify-root --trusted FILE [--update FILE]...",
     CmdVerifyRoot},
};

void Usage(FILE* out) {
  std::fprintf(out, "usage:\n");
  for (const Command& c : kCommands) {
    std::fprintf(out, "  %s %s\n", kProgram, c.usage);
  }
  std::fprintf(out,
               "EXPIRY: --expires-days D | --expires-seconds S | --expires "
               "RFC3339\n");
}

int Main(int argc, char** argv) {
  if (argc < 2) {
    Usage(stderr);
    return kExitUsage;
  }
  std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    Usage(stdout);
    return kExitSuccess;
  }
  for (const Command& c : kCommands) {
    if (name != c.name) continue;
    std::vector<std::string> args(argv + 2, argv + argc);
    if (args.size() == 1 && (args[0] == "--help" || args[0] == "-h")) {
      std::printf("usage: %s %s\n", kProgram, c.usage);
      return kExitSuccess;
    }
    std::optional<Failure> failure = c.run(args);
    if (!failure) return kExitSuccess;
    std::fprintf(stderr, "%s %s: %s\n", kProgram, c.name,
                 failure->message.c_str());
    if (failure->code == kExitUsage) {
      std::fprintf(stderr, "usage: %s %s\n", kProgram, c.usage);
    }
    return failure->code;
  }
  std::fprintf(stderr, "%s: unknown command '%s' (%s --help)\n", kProgram,
               name.c_str(), kProgram);
  return kExitUsage;
}

}  // namespace
}  // namespace porthole::test_tuf

int main(int argc, char** argv) { return porthole::test_tuf::Main(argc, argv); }
