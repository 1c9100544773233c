#include "server/cmd_policy.h"

#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cerrno>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "core/base/file.h"
#include "core/config/toml.h"
#include "core/keys/public_key.h"
#include "core/tuf/root.h"
#include "core/tuf/signed_document.h"
#include "server/data_dir.h"

namespace porthole::server {

namespace {

constexpr size_t kMaxKeyFile = 64 << 10;
constexpr size_t kMaxDocument = 1 << 20;

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' ||
                        s.back() == ' ' || s.back() == '\t')) {
    s.pop_back();
  }
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return s.substr(i);
}

nlohmann::json PolicyToJson(const director::Policy& policy) {
  // FormatPolicy is the strict JSON form ParsePolicy reads back.
  return nlohmann::json::parse(director::FormatPolicy(policy));
}

}  // namespace

Result<std::string> ReadKeyArgument(const std::string& arg) {
  if (arg.empty()) return Status::InvalidArgument("empty key argument");
  if (!PathExists(arg)) return arg;
  auto text = ReadFile(arg, kMaxKeyFile, /*follow_symlinks=*/true);
  if (!text.ok()) {
    return Status(text.status().code(), arg + ": " + text.status().message());
  }
  size_t pos = 0;
  while (pos < text->size()) {
    size_t end = text->find('\n', pos);
    if (end == std::string::npos) end = text->size();
    std::string line = Trim(text->substr(pos, end - pos));
    pos = end + 1;
    if (line.empty() || line[0] == '#') continue;
    return line;
  }
  return Status::InvalidArgument(arg + ": no public key line in the file");
}

nlohmann::json PolicyStateJson(const director::DirectorState& s) {
  return {{"root",
           {{"version", s.root_version},
            {"expires", FormatTime(s.root_expires)},
            {"keys_online", s.root_keys_online}}},
          {"remote_sessions",
           {{"version", s.remote_sessions_version},
            {"expires", FormatTime(s.remote_sessions_expires)},
            {"keys_online", s.remote_sessions_keys_online}}},
          {"draft_published", s.draft_published},
          {"draft", PolicyToJson(s.draft)},
          {"published", PolicyToJson(s.published)}};
}

namespace {

void AppendPolicy(std::string& text, const director::Policy& p) {
  auto section = [&](const char* title, const std::vector<std::string>& v) {
    text += std::string("  ") + title + ":";
    if (v.empty()) {
      text += " none\n";
      return;
    }
    text += "\n";
    for (const std::string& item : v) text += "    " + item + "\n";
  };
  std::vector<std::string> keys;
  for (const director::PolicyKey& k : p.authorized_keys) {
    Result<keys::PublicKey> parsed = keys::ParsePublicKeyLine(k.line);
    std::string fp = parsed.ok() ? parsed->Fingerprint() : "?";
    keys.push_back((k.name.empty() ? std::string("-") : k.name) + "  " + fp +
                   "  " + config::PrintableText(k.line, 120));
  }
  section("operator keys", keys);
  section("relay hosts", p.relay_hosts);
  std::vector<std::string> relay_keys;
  for (const std::string& line : p.relay_keys) {
    relay_keys.push_back(config::PrintableText(line, 120));
  }
  section("relay host keys", relay_keys);
  if (!p.commands) {
    text += "  commands: none (devices reject every command)\n";
  } else {
    std::vector<std::string> cmds;
    for (const auto& [name, args] : *p.commands) {
      std::string line = name;
      if (args.empty()) {
        line += " (no arguments)";
      } else {
        line += ":";
        for (const std::string& a : args) line += " " + a;
      }
      cmds.push_back(line);
    }
    section("commands", cmds);
  }
}

}  // namespace

std::string FormatPolicyState(const director::DirectorState& s) {
  std::string text;
  text += "root.json:            version " + std::to_string(s.root_version) +
          ", expires " + FormatTime(s.root_expires) + ", keys " +
          (s.root_keys_online ? "online" : "offline") + "\n";
  if (s.remote_sessions_version == 0) {
    text += "remote-sessions.json: none published yet";
  } else {
    text += "remote-sessions.json: version " +
            std::to_string(s.remote_sessions_version) + ", expires " +
            FormatTime(s.remote_sessions_expires);
  }
  text += std::string(", key ") +
          (s.remote_sessions_keys_online ? "online" : "offline") + "\n";
  text += "\nServed:\n";
  AppendPolicy(text, s.published);
  if (s.draft_published) {
    text += "\nThe draft is what is served.\n";
  } else {
    text += "\nDraft (not served yet";
    text += s.remote_sessions_keys_online
                ? ": porthole-server policy publish"
                : ": porthole-server policy export, porthole policy sign, "
                  "porthole-server policy import";
    text += "):\n";
    AppendPolicy(text, s.draft);
  }
  return text;
}

namespace {

// The store, the director and the configuration one command works on.
struct Env {
  ServerConfig config;
  std::unique_ptr<Store> store;
  std::unique_ptr<director::Director> director;
};

Result<Env> OpenEnv(const GlobalOptions& global) {
  Env env;
  PH_ASSIGN_OR_RETURN(env.config, LoadConfig(global));
  PH_ASSIGN_OR_RETURN(env.store, OpenStore(env.config));
  env.director = std::make_unique<director::Director>(
      env.store.get(), DataDir{env.config.data_dir}.DirectorDir(),
      &Clock::Real(), DirectorOptionsOf(env.config));
  return env;
}

void Audit(Env& env, const std::string& kind, const nlohmann::json& details) {
  (void)env.store->AppendAudit({.at = Clock::Real().Now(),
                                .kind = kind,
                                .actor = "admin",
                                .details_json = details.dump()});
}

struct PolicyArgs {
  std::string key;
  std::string name;
  std::vector<std::string> args;
  std::string file;
  std::string output;
  bool json = false;
};

// Applies one draft edit; prints what happened.
int RunEdit(const GlobalOptions& global,
            const std::function<Status(director::Policy&)>& edit,
            nlohmann::json details, const std::string& what) {
  auto env = OpenEnv(global);
  if (!env.ok()) return Fail(env.status());
  Result<uint64_t> version = env->director->Edit(edit);
  if (!version.ok()) return Fail(version.status());
  details["published_version"] = *version;
  Audit(*env, "policy.change", details);
  if (*version > 0) {
    Print(what + ": served as remote-sessions.json version " +
          std::to_string(*version) + ".\n");
  } else {
    Print(what +
          ": the draft changed, but it is NOT served: the remote-sessions "
          "signing key is offline.\nSign it on the machine that holds the "
          "key:\n  porthole-server policy export -o draft.json\n  porthole "
          "policy sign --key KEY draft.json -o signed.json\n  "
          "porthole-server policy import signed.json\n");
  }
  return 0;
}

int RunShow(const GlobalOptions& global, const PolicyArgs& a) {
  auto env = OpenEnv(global);
  if (!env.ok()) return Fail(env.status());
  auto state = env->director->State();
  if (!state.ok()) return Fail(state.status());
  Print(a.json ? PolicyStateJson(*state).dump(2) + "\n"
               : FormatPolicyState(*state));
  return 0;
}

int RunPublish(const GlobalOptions& global) {
  auto env = OpenEnv(global);
  if (!env.ok()) return Fail(env.status());
  auto state = env->director->State();
  if (!state.ok()) return Fail(state.status());
  if (state->draft_published) {
    Print("Nothing to publish: remote-sessions.json version " +
          std::to_string(state->remote_sessions_version) +
          " already holds the draft.\n");
    return 0;
  }
  Result<uint64_t> version = env->director->Publish();
  if (!version.ok()) return Fail(version.status());
  Audit(*env, "policy.change", {{"publish", *version}});
  Print("Served the draft as remote-sessions.json version " +
        std::to_string(*version) + ".\n");
  return 0;
}

int RunExport(const GlobalOptions& global, const PolicyArgs& a) {
  auto env = OpenEnv(global);
  if (!env.ok()) return Fail(env.status());
  Result<std::string> doc = env->director->Export();
  if (!doc.ok()) return Fail(doc.status());
  std::string text = *doc;
  if (text.empty() || text.back() != '\n') text += "\n";
  if (a.output.empty() || a.output == "-") {
    Print(text);
    return 0;
  }
  Status s = AtomicReplace(a.output, text, ReplaceOptions::NewMode(0644));
  if (!s.ok()) return Fail(s);
  std::fprintf(stderr, "Wrote the unsigned draft to %s.\n", a.output.c_str());
  return 0;
}

Result<std::string> ReadInput(const std::string& path) {
  if (path != "-") {
    auto text = ReadFile(path, kMaxDocument, /*follow_symlinks=*/true);
    if (!text.ok()) {
      StatusCode code = text.status().code() == StatusCode::kCorrupt
                            ? StatusCode::kInvalidArgument
                            : text.status().code();
      return Status(code, path + ": " + text.status().message());
    }
    return *text;
  }
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IoError("stdin: read failed");
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > kMaxDocument) {
      return Status::InvalidArgument("stdin: larger than 1 MiB");
    }
  }
  return out;
}

int RunImport(const GlobalOptions& global, const PolicyArgs& a) {
  Result<std::string> text = ReadInput(a.file);
  if (!text.ok()) return Fail(text.status());
  auto env = OpenEnv(global);
  if (!env.ok()) return Fail(env.status());
  const std::string name = a.file == "-" ? std::string("stdin") : a.file;
  // Not signed metadata at all: malformed input (exit 2). A document that
  // parses but fails a check (signatures, type, version, expiry) is
  // refused (exit 1).
  tuf::ErrorOr<tuf::SignedDocument> parsed =
      tuf::ParseSignedDocument(*text, name, kMaxDocument);
  if (!parsed.ok()) {
    return Fail(Status::InvalidArgument(parsed.error().message()));
  }
  Result<uint64_t> version = env->director->Import(*text);
  if (!version.ok()) {
    StatusCode code = version.status().code() == StatusCode::kInvalidArgument
                          ? StatusCode::kFailedPrecondition
                          : version.status().code();
    return Fail(Status(code, name + ": " + version.status().message()));
  }
  Audit(*env, "policy.change", {{"import", *version}});
  Print("Imported and serving remote-sessions.json version " +
        std::to_string(*version) + ".\n");
  return 0;
}

}  // namespace

CommandAction SetupPolicy(CLI::App* sub, const GlobalOptions* global) {
  auto a = std::make_shared<PolicyArgs>();
  sub->require_subcommand(1);
  CLI::App* show =
      sub->add_subcommand("show", "the served policy, the draft, the keys");
  show->add_flag("--json", a->json, "a JSON object");

  CLI::App* allow_key = sub->add_subcommand(
      "allow-key",
      "let an operator key open sessions (signed at once when "
      "the key is online)");
  allow_key
      ->add_option("KEY", a->key,
                   "a public key line, or a file holding one (.pub)")
      ->required();
  allow_key->add_option("--name", a->name, "a name for the key (e.g. alice)")
      ->option_text("NAME");
  CLI::App* deny_key =
      sub->add_subcommand("deny-key", "remove an operator key from the policy");
  deny_key
      ->add_option("KEY", a->key,
                   "a key line or file, a SHA256:... fingerprint or a name")
      ->required();

  CLI::App* allow_cmd =
      sub->add_subcommand("allow-command",
                          "allow a remote command (reboot, restart-service, "
                          "echo) with exactly these arguments");
  allow_cmd->add_option("NAME", a->name, "the command")->required();
  allow_cmd->add_option("ARGS", a->args, "the arguments it may take");
  CLI::App* deny_cmd =
      sub->add_subcommand("deny-command", "no longer allow a remote command");
  deny_cmd->add_option("NAME", a->name, "the command")->required();

  CLI::App* allow_host = sub->add_subcommand(
      "allow-relay-host", "let devices dial this relay host name");
  allow_host->add_option("HOST", a->name, "host name or address")->required();
  CLI::App* deny_host =
      sub->add_subcommand("deny-relay-host", "no longer allow a relay host");
  deny_host->add_option("HOST", a->name, "host name or address")->required();
  CLI::App* allow_rkey =
      sub->add_subcommand("allow-relay-key", "pin one more relay SSH host key");
  allow_rkey
      ->add_option("KEY", a->key, "a public key line, or a file holding one")
      ->required();
  CLI::App* deny_rkey =
      sub->add_subcommand("deny-relay-key", "unpin a relay SSH host key");
  deny_rkey
      ->add_option("KEY", a->key,
                   "a key line or file, or a SHA256:... fingerprint")
      ->required();

  CLI::App* publish = sub->add_subcommand(
      "publish", "sign the draft as the next version (online key only)");
  CLI::App* exp = sub->add_subcommand(
      "export", "write the unsigned next version, for `porthole policy sign`");
  exp->add_option("-o,--output", a->output, "write here (default: stdout)")
      ->option_text("FILE");
  CLI::App* imp = sub->add_subcommand(
      "import",
      "verify a signed remote-sessions document against the root and serve "
      "it");
  imp->add_option("FILE", a->file, "the signed document ('-': stdin)")
      ->required();

  return [=]() -> int {
    const GlobalOptions& g = *global;
    if (*show) return RunShow(g, *a);
    if (*publish) return RunPublish(g);
    if (*exp) return RunExport(g, *a);
    if (*imp) return RunImport(g, *a);
    if (*allow_cmd) {
      std::string n = a->name;
      std::vector<std::string> args = a->args;
      return RunEdit(
          g, [n, args](director::Policy& p) { return p.AllowCommand(n, args); },
          {{"allow_command", n}, {"args", args}}, "Allowed command " + n);
    }
    if (*deny_cmd) {
      std::string n = a->name;
      return RunEdit(
          g, [n](director::Policy& p) { return p.DenyCommand(n); },
          {{"deny_command", n}}, "Denied command " + n);
    }
    if (*allow_host) {
      std::string h = a->name;
      return RunEdit(
          g, [h](director::Policy& p) { return p.AllowRelayHost(h); },
          {{"allow_relay_host", h}}, "Allowed relay host " + h);
    }
    if (*deny_host) {
      std::string h = a->name;
      return RunEdit(
          g, [h](director::Policy& p) { return p.DenyRelayHost(h); },
          {{"deny_relay_host", h}}, "Denied relay host " + h);
    }
    // The key commands: KEY may be a file.
    Result<std::string> key = ReadKeyArgument(a->key);
    if (!key.ok()) return Fail(key.status());
    std::string k = *key;
    Result<keys::PublicKey> parsed = keys::ParsePublicKeyLine(k);
    std::string fp = parsed.ok() ? parsed->Fingerprint() : k;
    if (*allow_key) {
      std::string n = a->name;
      return RunEdit(
          g, [k, n](director::Policy& p) { return p.AllowKey(k, n); },
          {{"allow_key", fp}, {"name", n}}, "Allowed key " + fp);
    }
    if (*deny_key) {
      return RunEdit(
          g, [k](director::Policy& p) { return p.DenyKey(k); },
          {{"deny_key", fp}}, "Denied key " + fp);
    }
    if (*allow_rkey) {
      return RunEdit(
          g, [k](director::Policy& p) { return p.AllowRelayKey(k); },
          {{"allow_relay_key", fp}}, "Allowed relay key " + fp);
    }
    return RunEdit(
        g, [k](director::Policy& p) { return p.DenyRelayKey(k); },
        {{"deny_relay_key", fp}}, "Denied relay key " + fp);
  };
}

namespace {

struct RootArgs {
  bool json = false;
  bool new_root_key = false;
  bool new_rs_key = false;
  std::string rs_key_file;
};

int RunRootShow(const GlobalOptions& global, const RootArgs& a) {
  auto env = OpenEnv(global);
  if (!env.ok()) return Fail(env.status());
  auto state = env->director->State();
  if (!state.ok()) return Fail(state.status());
  auto text = env->store->GetMetadata(director::kRootRole, std::nullopt);
  if (!text.ok()) return Fail(text.status());
  tuf::ErrorOr<tuf::SignedDocument> doc =
      tuf::ParseSignedDocument(*text, "root.json");
  if (!doc.ok()) return Fail(Status::Corrupt(doc.error().message()));
  tuf::ErrorOr<tuf::Root> root = tuf::ParseRoot(*doc);
  if (!root.ok()) return Fail(Status::Corrupt(root.error().message()));
  DataDir dir{env->config.data_dir};
  auto online = [&](const std::string& keyid) {
    return PathExists(env->director->KeyPath(keyid));
  };
  if (a.json) {
    nlohmann::json roles = nlohmann::json::object();
    for (const auto& [name, role] : root->roles) {
      nlohmann::json keys = nlohmann::json::array();
      for (const std::string& id : role.keyids) {
        keys.push_back({{"keyid", id}, {"online", online(id)}});
      }
      roles[name] = {{"threshold", role.threshold}, {"keys", keys}};
    }
    Print(nlohmann::json{{"version", root->version},
                         {"expires", root->expires_text},
                         {"keys_online", state->root_keys_online},
                         {"remote_sessions_keys_online",
                          state->remote_sessions_keys_online},
                         {"roles", roles}}
              .dump(2) +
          "\n");
    return 0;
  }
  std::string out = "root.json version " + std::to_string(root->version) +
                    ", expires " + root->expires_text + "\n";
  for (const auto& [name, role] : root->roles) {
    out +=
        "  " + name + " (threshold " + std::to_string(role.threshold) + "):\n";
    for (const std::string& id : role.keyids) {
      out += "    " + id + (online(id) ? "  online" : "  offline") + "\n";
    }
  }
  Print(out);
  return 0;
}

int RunRootRotate(const GlobalOptions& global, const RootArgs& a) {
  director::RotateOptions options;
  options.new_root_key = a.new_root_key;
  options.new_remote_sessions_key = a.new_rs_key;
  if (!a.rs_key_file.empty()) {
    auto text = ReadFile(a.rs_key_file, kMaxKeyFile, /*follow_symlinks=*/true);
    if (!text.ok()) {
      return Fail(Status(text.status().code(),
                         a.rs_key_file + ": " + text.status().message()));
    }
    options.remote_sessions_public_key = *text;
  }
  auto env = OpenEnv(global);
  if (!env.ok()) return Fail(env.status());
  Result<uint64_t> version = env->director->RotateRoot(options);
  if (!version.ok()) {
    if (!a.rs_key_file.empty() &&
        version.status().code() == StatusCode::kInvalidArgument) {
      return Fail(Status::InvalidArgument(a.rs_key_file + ": " +
                                          version.status().message()));
    }
    return Fail(version.status());
  }
  nlohmann::json details = {
      {"root_version", *version},
      {"new_root_key", a.new_root_key},
      {"new_remote_sessions_key", a.new_rs_key},
      {"offline_remote_sessions_key", !a.rs_key_file.empty()}};
  Audit(*env, "policy.root_rotate", details);
  std::string out =
      "Published root.json version " + std::to_string(*version) +
      ", signed by the old and the new root keys; devices holding an older "
      "root follow the chain.\n";
  if (!a.rs_key_file.empty()) {
    out +=
        "The remote-sessions key is now offline: policy edits change the "
        "draft only; export, sign (porthole policy sign) and import them.\n"
        "The served remote-sessions.json is still signed by the old key, "
        "which devices no longer accept: sign and import the next version "
        "now (porthole-server policy export).\n";
  }
  Print(out);
  return 0;
}

}  // namespace

CommandAction SetupRoot(CLI::App* sub, const GlobalOptions* global) {
  auto a = std::make_shared<RootArgs>();
  sub->require_subcommand(1);
  CLI::App* show = sub->add_subcommand(
      "show", "the latest root.json: version, expiry, roles and keys");
  show->add_flag("--json", a->json, "a JSON object");
  CLI::App* rotate = sub->add_subcommand(
      "rotate",
      "publish the next root version, signed by the old and the new keys");
  rotate->add_flag("--new-root-key", a->new_root_key,
                   "a fresh online root key replaces the current one");
  auto* offline =
      rotate
          ->add_option("--remote-sessions-key", a->rs_key_file,
                       "the remote-sessions role gets exactly this public key "
                       "(the .pub file `porthole policy keygen` writes): the "
                       "role goes offline")
          ->option_text("FILE");
  rotate
      ->add_flag("--new-remote-sessions-key", a->new_rs_key,
                 "a fresh online remote-sessions key instead")
      ->excludes(offline);
  return [=]() -> int {
    if (*show) return RunRootShow(*global, *a);
    return RunRootRotate(*global, *a);
  };
}

}  // namespace porthole::server
