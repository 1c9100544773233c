#include "agent/cmd_check_policy.h"

#include <cstdio>
#include <optional>

#include "core/base/exit_code.h"
#include "core/base/file.h"
#include "core/tuf/error.h"
#include "core/tuf/remote_sessions.h"
#include "core/tuf/rfc3339.h"
#include "core/tuf/session_check.h"
#include "core/tuf/signed_document.h"
#include "core/tuf/verifier.h"

namespace porthole::agent {
namespace {

constexpr char kPrefix[] = "check-policy: ";
constexpr char kCheckPolicyUsage[] =
    "usage: porthole-agent check-policy --root FILE --metadata FILE "
    "[--session FILE] [--at TIME]\n";

struct Args {
  std::string root;
  std::string metadata;
  std::optional<std::string> session;
  std::optional<std::string> at;
};

// Parses "--name VALUE" and "--name=VALUE"; each at most once.
std::optional<std::string> ParseArgs(const std::vector<std::string>& args,
                                     Args* out, bool* help) {
  struct Flag {
    const char* name;
    std::optional<std::string>* value;
  };
  std::optional<std::string> root, metadata;
  const Flag kFlags[] = {{"--root", &root},
                         {"--metadata", &metadata},
                         {"--session", &out->session},
                         {"--at", &out->at}};
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      *help = true;
      return std::nullopt;
    }
    const Flag* flag = nullptr;
    std::optional<std::string> value;
    for (const Flag& f : kFlags) {
      std::string name = f.name;
      if (a == name) {
        if (i + 1 == args.size()) return name + " needs a value";
        flag = &f;
        value = args[++i];
      } else if (a.rfind(name + "=", 0) == 0) {
        flag = &f;
        value = a.substr(name.size() + 1);
      }
    }
    if (flag == nullptr) return "unexpected argument '" + a + "'";
    if (flag->value->has_value()) {
      return std::string(flag->name) + " given twice";
    }
    *flag->value = std::move(value);
  }
  if (!root) return "--root is required";
  if (!metadata) return "--metadata is required";
  out->root = *root;
  out->metadata = *metadata;
  return std::nullopt;
}

bool ReadInput(const std::string& path, std::string* data, std::string* err) {
  // A little over the metadata cap, so that the cap is reported as such.
  Result<std::string> r =
      ReadFile(path, tuf::kMaxMetadataBytes + 1, /*follow_symlinks=*/true);
  if (!r.ok()) {
    *err += kPrefix + r.status().message() + "\n";
    return false;
  }
  *data = std::move(*r);
  return true;
}

std::string Named(const tuf::Error& e) {
  return e.message() + " [" + std::string(tuf::ErrorCodeName(e.code())) + "]";
}

}  // namespace

int CheckPolicy(const std::vector<std::string>& argv, const Clock& clock,
                std::string* out, std::string* err) {
  Args args;
  bool help = false;
  if (std::optional<std::string> usage = ParseArgs(argv, &args, &help)) {
    *err += kPrefix + *usage + "\n" + kCheckPolicyUsage;
    return kExitUsage;
  }
  if (help) {
    *out += kCheckPolicyUsage;
    return kExitSuccess;
  }
  SystemTime now = clock.Now();
  if (args.at) {
    Result<SystemTime> at = tuf::ParseRfc3339(*args.at);
    if (!at.ok()) {
      *err += kPrefix + std::string("--at: ") + at.status().message() + "\n" +
              kCheckPolicyUsage;
      return kExitUsage;
    }
    now = *at;
  }

  std::string root_text, metadata_text, session_text;
  if (!ReadInput(args.root, &root_text, err) ||
      !ReadInput(args.metadata, &metadata_text, err) ||
      (args.session && !ReadInput(*args.session, &session_text, err))) {
    return kExitFailure;
  }

  tuf::ErrorOr<tuf::Root> root = tuf::VerifyTrustedRoot(root_text, args.root);
  tuf::Error root_ok =
      root.ok()
          ? tuf::CheckExpiry(args.root, root->expires_text, root->expires, now)
          : root.error();
  if (!root_ok.ok()) {
    *err += kPrefix +
            tuf::VerifyFailureText(tuf::Error(root_ok.code(), Named(root_ok))) +
            "\n";
    return kExitFailure;
  }
  tuf::ErrorOr<tuf::RemoteSessions> rs = tuf::VerifyRemoteSessions(
      *root, metadata_text, now, std::nullopt, args.metadata);
  if (!rs.ok()) {
    *err += kPrefix +
            tuf::VerifyFailureText(
                tuf::Error(rs.error().code(), Named(rs.error()))) +
            "\n";
    return kExitFailure;
  }
  *out += args.metadata + ": valid remote-sessions version " +
          std::to_string(rs->version) + ", expires " + rs->expires_text +
          " (root version " + std::to_string(root->version) + ", expires " +
          root->expires_text + ")\n";

  tuf::ErrorOr<std::optional<tuf::CommandPolicy>> commands =
      tuf::ParseCommandPolicy(*rs);
  if (!commands.ok()) {
    *err += kPrefix + Named(commands.error()) + "\n";
    return kExitFailure;
  }
  if (commands->has_value()) {
    for (const auto& [name, allowed] : (*commands)->allowed) {
      std::string list;
      for (const std::string& a : allowed) list += " " + a;
      *out +=
          "allowed command: " + name + (list.empty() ? "" : ":") + list + "\n";
    }
  }
  if (!args.session) return kExitSuccess;

  tuf::ErrorOr<tuf::SshPolicy> ssh = tuf::ParseSshPolicy(*rs);
  if (!ssh.ok()) {
    *err += kPrefix + Named(ssh.error()) + "\n";
    return kExitFailure;
  }
  tuf::ErrorOr<tuf::DeviceSession> session =
      tuf::ParseDeviceSession(session_text);
  if (!session.ok()) {
    *err += kPrefix + *args.session + ": " + Named(session.error()) + "\n";
    return kExitFailure;
  }
  std::vector<std::string> reasons = tuf::CheckSession(*ssh, *session);
  if (now > session->expires_at) {
    reasons.push_back("session expired at " + session->expires_at_text);
  }
  for (const std::string& r : reasons) {
    *err += kPrefix + std::string("session not allowed: ") + r + "\n";
  }
  if (!reasons.empty()) return kExitFailure;
  *out += *args.session + ": session allowed (" +
          std::to_string(session->authorized_pubkeys.size()) +
          " operator keys, relay " + session->ra_server_url + ")\n";
  return kExitSuccess;
}

int RunCheckPolicy(const std::vector<std::string>& args) {
  std::string out, err;
  int code = CheckPolicy(args, Clock::Real(), &out, &err);
  std::fputs(out.c_str(), stdout);
  std::fputs(err.c_str(), stderr);
  return code;
}

}  // namespace porthole::agent
