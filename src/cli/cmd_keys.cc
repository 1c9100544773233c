#include "cli/cmd_keys.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <optional>
#include <set>

#include "cli/builtin_catalogue.h"
#include "cli/cli_util.h"
#include "cli/keys_ops.h"
#include "cli/keys_porthole.h"
#include "cli/keys_remote.h"
#include "cli/valid_for.h"
#include "core/base/exit_code.h"
#include "core/base/file.h"

namespace porthole::cli {
namespace {

// Everything the command line said.
struct KeysArgs {
  std::string verb;
  std::string config_path;
  std::string host;
  std::string key;  // add
  std::string valid_for;
  std::vector<std::string> set_keys;
  std::string tier;
  bool revoked = false;  // rm --revoked, known --revoked
  bool json = false;
  bool full = false;
  std::string output = "/etc/ssh/sshd_config.d/porthole.conf";
  bool output_given = false;
  RemoteTarget remote;
  std::string remote_config;
  bool from_stdin = false;
};

constexpr char kKeysProg[] = "porthole keys";

// Builds the parser. Options of `keys` itself are accepted after the verb.
void Describe(CLI::App& app, KeysArgs& a) {
  app.description(
      "Manage tiers of OpenSSH authorized_keys on a device (KEYS.md).\n"
      "HOST is `self`, an ssh destination (alias, user@host), or\n"
      "porthole:[USER@]DEVICE for a device reached through porthole's relay.");
  app.require_subcommand(1);
  app.add_option("--config", a.config_path,
                 "keys.toml (default /etc/porthole/keys.toml)");
  app.add_option("-F", a.remote.ssh_config, "ssh config file for remote HOSTs");
  app.add_option("-J", a.remote.jump, "ssh jump host for remote HOSTs");
  app.add_option("-o", a.remote.ssh_options, "ssh option, repeatable");
  app.add_option("--remote-porthole", a.remote.remote_porthole,
                 "porthole on the remote HOST (default: porthole on PATH)");
  app.add_option("--remote-config", a.remote_config,
                 "keys.toml on the remote HOST (default: its own default)");
  app.add_flag("--from-stdin", a.from_stdin)->group("");  // the remote side

  auto sub = [&](const char* name, const char* help) {
    CLI::App* s = app.add_subcommand(name, help);
    s->fallthrough();
    s->callback([&a, name] { a.verb = name; });
    return s;
  };
  auto host = [&](CLI::App* s) {
    s->add_option("HOST", a.host, "self or an ssh destination")->required();
  };
  CLI::App* add = sub("add", "add a key for VALID_FOR (Nh Nd Nw Nm, forever)");
  host(add);
  add->add_option("KEY", a.key, "key line, .pub file or catalogue ID")
      ->required();
  add->add_option("VALID_FOR", a.valid_for, "Nh, Nd, Nw, Nm or forever")
      ->required();
  add->add_option("--tier", a.tier, "root|fleet|temporary|customer|session");

  CLI::App* set = sub("set", "replace all keys of a tier");
  host(set);
  set->add_option("--tier", a.tier, "the tier to replace")->required();
  set->add_option("KEYS", a.set_keys, "key lines, .pub files or IDs")
      ->required();

  CLI::App* rm = sub("rm", "remove a key from every tier, or --revoked");
  host(rm);
  rm->add_option("KEY", a.key, "key line, .pub file or catalogue ID");
  rm->add_flag("--revoked", a.revoked, "remove every revoked key; sync KRL");

  CLI::App* list = sub("list", "list every key on HOST");
  host(list);
  list->add_flag("--json", a.json, "JSON array");

  host(sub("clear", "empty the temporary tier"));
  host(sub("prune", "drop expired temporary keys"));

  CLI::App* known = sub("known", "the catalogue: IDs, --full lines, --revoked");
  known->add_flag("--full", a.full, "print the full lines");
  known->add_flag("--revoked", a.revoked, "the revoked keys");

  sub("sshd-config", "print the sshd_config drop-in for these tiers");
  CLI::App* install =
      sub("install-sshd-config", "write the sshd_config drop-in and the KRL");
  host(install);
  install->add_option("--output", a.output, "drop-in path")
      ->default_str(a.output);
}

Result<keys::Catalogue> LoadCatalogue(const keys::KeysConfig& config,
                                      const std::string& extra_toml) {
  PH_ASSIGN_OR_RETURN(
      keys::Catalogue c,
      keys::Catalogue::Parse(kBuiltinCatalogue, kBuiltinCatalogueSource));
  PH_ASSIGN_OR_RETURN(keys::Catalogue file,
                      keys::Catalogue::Load(config.catalogue, true));
  PH_RETURN_IF_ERROR(c.Merge(file).Prefixed(config.catalogue));
  if (!extra_toml.empty()) {
    PH_ASSIGN_OR_RETURN(
        keys::Catalogue sent,
        keys::Catalogue::Parse(extra_toml, "operator catalogue"));
    PH_RETURN_IF_ERROR(c.Merge(sent));
  }
  return c;
}

// The key arguments of the command, resolved.
Result<std::vector<KeyArg>> ResolveKeys(const KeysArgs& a,
                                        const keys::Catalogue& catalogue) {
  std::vector<KeyArg> out;
  if (a.verb == "add" || (a.verb == "rm" && !a.revoked)) {
    PH_ASSIGN_OR_RETURN(KeyArg k,
                        ResolveKeyArg(catalogue, a.key,
                                      a.verb == "rm" ? RevokedPolicy::kAllow
                                                     : RevokedPolicy::kRefuse));
    out.push_back(std::move(k));
  }
  for (const auto& s : a.set_keys) {
    PH_ASSIGN_OR_RETURN(KeyArg k,
                        ResolveKeyArg(catalogue, s, RevokedPolicy::kRefuse));
    out.push_back(std::move(k));
  }
  return out;
}

// The same command for HOST self, keys written out as lines: what a remote
// porthole (or a sudo'd one) is asked to run.
std::vector<std::string> NormalisedArgs(const KeysArgs& a,
                                        const std::vector<KeyArg>& keys,
                                        const std::string& config) {
  std::vector<std::string> v = {a.verb, "self"};
  if (!config.empty()) v.insert(v.end(), {"--config", config});
  if (!a.tier.empty()) v.insert(v.end(), {"--tier", a.tier});
  for (const auto& k : keys) v.push_back(keys::FormatAuthorizedKey(k.line));
  if (a.verb == "add") v.push_back(a.valid_for);
  if (a.revoked) v.push_back("--revoked");
  if (a.json) v.push_back("--json");
  if (a.verb == "install-sshd-config" && a.output_given) {
    v.insert(v.end(), {"--output", a.output});
  }
  return v;
}

// True when this (non-root) process cannot write one of `files`.
bool NeedsRoot(const std::vector<std::string>& files, bool read_only) {
  if (geteuid() == 0) return false;
  for (const auto& f : files) {
    int mode = read_only ? R_OK : W_OK;
    if (PathExists(f)) {
      if (access(f.c_str(), mode) != 0) return true;
      if (!read_only && access(DirName(f).c_str(), W_OK) != 0) return true;
    } else if (PathExists(DirName(f)) &&
               access(DirName(f).c_str(), W_OK) != 0 && !read_only) {
      return true;
    }
  }
  return false;
}

int RunKnown(const KeysArgs& a, const keys::Catalogue& c) {
  const auto& list = a.revoked ? c.revoked() : c.known();
  for (const auto& e : list) {
    std::string line = a.full ? e.id + "  " + keys::FormatAuthorizedKey(e.line)
                              : e.id + "  " + e.line.key.Fingerprint();
    std::printf("%s\n", line.c_str());
  }
  return kExitSuccess;
}

int RunParsed(KeysArgs& a, const std::string& sent_catalogue, bool elevated) {
  const bool config_given = !a.config_path.empty();
  auto config = keys::KeysConfig::Load(
      config_given ? a.config_path : keys::kDefaultKeysConfig, !config_given);
  if (!config.ok()) return Fail(kKeysProg, config.status());
  auto catalogue = LoadCatalogue(*config, sent_catalogue);
  if (!catalogue.ok()) return Fail(kKeysProg, catalogue.status());

  if (a.verb == "known") return RunKnown(a, *catalogue);
  if (a.verb == "sshd-config") {
    Print(keys::SshdDropIn(*config));
    return kExitSuccess;
  }
  if (a.host.empty() || a.host[0] == '-') {
    return Fail(kKeysProg,
                Status::InvalidArgument("bad HOST '" + a.host + "'"));
  }
  if (a.verb == "rm" && a.revoked == !a.key.empty()) {
    return Fail(kKeysProg,
                Status::InvalidArgument("rm takes KEY|ID or --revoked"));
  }
  std::optional<keys::Tier> tier;
  if (!a.tier.empty()) {
    auto t = keys::ParseTier(a.tier);
    if (!t.ok()) return Fail(kKeysProg, t.status());
    tier = *t;
  }
  auto resolved = ResolveKeys(a, *catalogue);
  if (!resolved.ok()) return Fail(kKeysProg, resolved.status());

  KeysContext ctx;
  ctx.config = *config;
  ctx.catalogue = *catalogue;
  if (a.verb == "add") {
    // Bad VALID_FOR is a usage error here, before any ssh or sudo.
    auto v = ParseValidFor(a.valid_for, ctx.clock->Now());
    if (!v.ok()) return Fail(kKeysProg, v.status());
  }

  if (a.host != "self") {
    KeysRequest req{NormalisedArgs(a, *resolved, a.remote_config),
                    catalogue->ToToml()};
    a.remote.host = a.host;
    if (IsPortholeHost(a.host)) {
      auto target = PortholeTarget(a.host, a.remote);
      if (!target.ok()) return Fail(kKeysProg, target.status());
      a.remote = std::move(*target);
    }
    auto code = RunKeysRemote(a.remote, req);
    return code.ok() ? *code : Fail(kKeysProg, code.status());
  }

  if (!elevated &&
      NeedsRoot(KeysFilesTouched(ctx, a.verb, tier), a.verb == "list")) {
    // The sudo'd porthole must read the same config whatever its directory.
    std::string config_path =
        config_given ? std::filesystem::absolute(a.config_path).string() : "";
    KeysRequest req{NormalisedArgs(a, *resolved, config_path),
                    catalogue->ToToml()};
    auto code = RunKeysElevated(req);
    return code.ok() ? *code : Fail(kKeysProg, code.status());
  }

  std::string out;
  Status s;
  if (a.verb == "add") {
    s = KeysAdd(ctx, (*resolved)[0], a.valid_for, tier, &out);
  } else if (a.verb == "set") {
    s = KeysSet(ctx, *tier, *resolved, &out);
  } else if (a.verb == "rm") {
    s = a.revoked ? KeysRemoveRevoked(ctx, &out)
                  : KeysRemove(ctx, (*resolved)[0], &out);
  } else if (a.verb == "list") {
    s = KeysList(ctx, a.json, &out);
  } else if (a.verb == "clear") {
    s = KeysClear(ctx, &out);
  } else if (a.verb == "prune") {
    s = KeysPrune(ctx, &out);
  } else if (a.verb == "install-sshd-config") {
    s = KeysInstallSshdConfig(ctx, a.output, &out);
  } else {
    s = Status::Internal("unhandled verb " + a.verb);
  }
  Print(out);
  for (const auto& w : ctx.warnings) {
    std::fprintf(stderr, "porthole keys: warning: %s\n", w.c_str());
  }
  return s.ok() ? kExitSuccess : Fail(kKeysProg, s);
}

int Parse(const std::vector<std::string>& args, KeysArgs* a) {
  CLI::App app("", "porthole keys");
  Describe(app, *a);
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return kExitSuccess;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return kExitSuccess;
  } catch (const CLI::ParseError& e) {
    if (a->from_stdin && args.size() == 1) return -1;  // request comes later
    std::string what = e.what();
    // CLI11 reports an unknown verb as a missing subcommand; name it.
    if (a->verb.empty()) {
      static const std::set<std::string> kTakesValue = {
          "--config", "-F", "-J", "-o", "--remote-porthole", "--remote-config"};
      for (size_t i = 0; i < args.size(); ++i) {
        if (kTakesValue.contains(args[i])) {
          ++i;
          continue;
        }
        if (args[i].empty() || args[i][0] == '-') continue;
        what = "unknown command '" + args[i] +
               "' (add, set, rm, list, clear, prune, known, sshd-config, "
               "install-sshd-config)";
        break;
      }
    }
    std::fprintf(stderr, "porthole keys: %s (see porthole keys --help)\n",
                 what.c_str());
    return kExitUsage;
  }
  a->output_given =
      app.get_subcommand("install-sshd-config")->count("--output") > 0;
  return -1;
}

}  // namespace

int RunKeys(const std::vector<std::string>& args) {
  KeysArgs a;
  if (args.size() == 1 && args[0] == "--from-stdin") {
    std::string data((std::istreambuf_iterator<char>(std::cin)),
                     std::istreambuf_iterator<char>());
    auto req = DecodeKeysRequest(data);
    if (!req.ok()) return Fail(kKeysProg, req.status());
    if (int rc = Parse(req->args, &a); rc >= 0) return rc;
    if (a.host != "self" && !a.verb.empty() && a.verb != "known" &&
        a.verb != "sshd-config") {
      return Fail(kKeysProg, Status::InvalidArgument(
                                 "a forwarded request must be for self"));
    }
    return RunParsed(a, req->catalogue_toml, geteuid() == 0);
  }
  if (int rc = Parse(args, &a); rc >= 0) return rc;
  return RunParsed(a, "", false);
}

}  // namespace porthole::cli
