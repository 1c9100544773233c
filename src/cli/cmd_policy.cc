// porthole policy keygen|sign (offline, no server) and
// show|allow-key|deny-key|allow-command|deny-command|export|import (thin
// calls of the operator API).
#include <cstdio>
#include <iostream>
#include <iterator>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "cli/connect_flow.h"
#include "cli/format.h"
#include "cli/policy_sign.h"
#include "cli/table.h"
#include "core/base/exit_code.h"
#include "core/base/file.h"
#include "core/keys/public_key.h"
#include "core/tuf/signed_document.h"

namespace porthole::cli {
namespace {

constexpr char kPolicyProg[] = "porthole policy";

Result<std::string> ReadInput(const std::string& path) {
  if (path == "-") {
    std::string text((std::istreambuf_iterator<char>(std::cin)),
                     std::istreambuf_iterator<char>());
    if (text.size() > tuf::kMaxMetadataBytes) {
      return Status::InvalidArgument("stdin: larger than 1 MiB");
    }
    return text;
  }
  return ReadFile(path, tuf::kMaxMetadataBytes, true);
}

Status WriteOutput(const std::string& path, const std::string& text) {
  if (path.empty() || path == "-") {
    Print(text);
    return Status::Ok();
  }
  return AtomicReplace(path, text, ReplaceOptions::NewMode(0644));
}

// KEY as a plain key line: a key line, or a .pub (or private key) file.
Result<std::string> KeyLineArg(const std::string& arg, std::string* comment) {
  if (PathExists(arg)) {
    PH_ASSIGN_OR_RETURN(OperatorKey k, LoadKeyArg(arg));
    (void)keys::ParsePublicKeyLine(k.line, comment);
    return k.line;
  }
  auto k = keys::ParsePublicKeyLine(arg, comment);
  if (!k.ok()) {
    return Status::InvalidArgument("KEY '" + Printable(arg.substr(0, 60)) +
                                   "' is neither a key file nor a key line (" +
                                   k.status().message() + ")");
  }
  return arg;
}

int Edited(const Result<ApiResponse>& r, bool json) {
  if (!r.ok()) return Fail(kPolicyProg, r.status());
  if (json) {
    PrintJson(r->body);
    return kExitSuccess;
  }
  uint64_t version = 0;
  if (auto it = r->body.find("published_version");
      it != r->body.end() && it->is_number_unsigned()) {
    version = it->get<uint64_t>();
  }
  std::string note;
  if (auto it = r->body.find("note"); it != r->body.end() && it->is_string()) {
    note = it->get_ref<const std::string&>();
  }
  if (version > 0) {
    Print("policy version " + std::to_string(version) + " signed and served\n");
  } else {
    Print("draft changed, not published" +
          (note.empty() ? std::string(" (keys offline)")
                        : ": " + Printable(note)) +
          "\n");
  }
  return kExitSuccess;
}

int Keygen(const std::string& out, bool json) {
  const std::string pub = out + ".pub";
  for (const auto& p : {out, pub}) {
    if (PathExists(p)) {
      return Fail(
          kPolicyProg,
          Status::AlreadyExists(p + " exists; refusing to overwrite a signing "
                                    "key (remove it first)"));
    }
  }
  auto key = GeneratePolicyKey();
  if (!key.ok()) return Fail(kPolicyProg, key.status());
  ReplaceOptions secret = ReplaceOptions::NewMode(0600);
  if (Status s = AtomicReplace(out, key->key_file, secret); !s.ok()) {
    return Fail(kPolicyProg, s);
  }
  if (Status s =
          AtomicReplace(pub, key->public_file, ReplaceOptions::NewMode(0644));
      !s.ok()) {
    return Fail(kPolicyProg, s);
  }
  if (json) {
    PrintJson(
        Json{{"keyid", key->keyid}, {"key_file", out}, {"public_file", pub}});
  } else {
    Print("wrote " + out + " (secret, 0600) and " + pub + "\nkeyid " +
          key->keyid + "\nto sign offline, give " + pub +
          " to porthole-server root rotate as the remote-sessions key\n");
  }
  return kExitSuccess;
}

}  // namespace

int RunPolicy(const Args& args) {
  CLI::App app("The signed policy: which keys and commands devices accept.",
               kPolicyProg);
  app.require_subcommand(1);
  std::string out, key_file, in, key, name;
  std::vector<std::string> cmd_args;
  bool json = false;

  CLI::App* keygen = app.add_subcommand(
      "keygen", "make an ed25519 signing key: FILE (secret) and FILE.pub");
  keygen->add_option("--out", out, "the key file to write")->required();
  CLI::App* sign = app.add_subcommand(
      "sign", "add your signature to an exported policy document");
  sign->add_option("--key", key_file, "the key file (policy keygen)")
      ->required();
  sign->add_option("IN", in, "the document ('-': stdin)")->required();
  sign->add_option("-o,--output", out, "write here (default: stdout)");
  CLI::App* show = app.add_subcommand("show", "the policy the server serves");
  CLI::App* allow_key = app.add_subcommand(
      "allow-key", "let KEY (a .pub file or key line) open sessions");
  allow_key->add_option("KEY", key, "key file or line")->required();
  allow_key->add_option("--name", name,
                        "a name for it (default: its "
                        "comment)");
  CLI::App* deny_key = app.add_subcommand(
      "deny-key", "remove a key (key file or line, SHA256:... or name)");
  deny_key->add_option("KEY", key, "key, fingerprint or name")->required();
  CLI::App* allow_cmd = app.add_subcommand(
      "allow-command", "allow NAME (reboot, restart-service, echo) with ARGS");
  allow_cmd->add_option("NAME", name, "command name")->required();
  allow_cmd->add_option("ARGS", cmd_args, "allowed arguments");
  CLI::App* deny_cmd = app.add_subcommand("deny-command", "disallow NAME");
  deny_cmd->add_option("NAME", name, "command name")->required();
  CLI::App* exp = app.add_subcommand(
      "export", "the unsigned next version, for policy sign");
  exp->add_option("-o,--output", out, "write here (default: stdout)");
  CLI::App* imp = app.add_subcommand("import", "serve a signed document");
  imp->add_option("FILE", in, "the signed document ('-': stdin)")->required();
  for (CLI::App* s :
       {keygen, show, allow_key, deny_key, allow_cmd, deny_cmd, imp}) {
    s->add_flag("--json", json, "print JSON");
  }
  if (int rc = ParseCli(app, args); rc >= 0) return rc;

  if (keygen->parsed()) return Keygen(out, json);
  if (sign->parsed()) {
    auto signer = LoadPolicyKey(key_file);
    if (!signer.ok()) return Fail(kPolicyProg, signer.status());
    auto text = ReadInput(in);
    if (!text.ok()) return Fail(kPolicyProg, text.status());
    auto signed_text =
        SignPolicyDocument(*text, *signer, in == "-" ? "stdin" : in);
    if (!signed_text.ok()) return Fail(kPolicyProg, signed_text.status());
    if (Status s = WriteOutput(out, *signed_text); !s.ok()) {
      return Fail(kPolicyProg, s);
    }
    if (!out.empty() && out != "-") {
      std::fprintf(stderr, "%s: signed with key %s; wrote %s\n", kPolicyProg,
                   signer->keyid().c_str(), out.c_str());
    }
    return kExitSuccess;
  }

  std::string comment;
  std::string line;
  if (allow_key->parsed()) {
    auto l = KeyLineArg(key, &comment);
    if (!l.ok()) return Fail(kPolicyProg, l.status());
    line = *l;
  }
  auto ctx = LoadOperatorContext();
  if (!ctx.ok()) return Fail(kPolicyProg, ctx.status());
  OperatorApi& api = *ctx->api;

  if (show->parsed()) {
    auto p = api.GetPolicy();
    if (!p.ok()) return Fail(kPolicyProg, p.status());
    if (json) {
      PrintJson(p->json);
    } else {
      Print(PolicyText(*p));
    }
    return kExitSuccess;
  }
  if (allow_key->parsed()) {
    Json body{{"key", line}};
    std::string n = name.empty() ? comment : name;
    if (!n.empty()) body["name"] = n;
    return Edited(api.Post("/api/v1/policy/keys", body), json);
  }
  if (deny_key->parsed()) {
    std::string target = key;
    if (PathExists(key) || keys::ParsePublicKeyLine(key).ok()) {
      auto l = KeyLineArg(key, &comment);
      if (!l.ok()) return Fail(kPolicyProg, l.status());
      target = keys::ParsePublicKeyLine(*l)->Fingerprint();
    }
    // A fingerprint holds '/': the key is a query parameter
    // (docs/operator-api.md).
    return Edited(api.Delete("/api/v1/policy/keys?key=" + UrlEncode(target)),
                  json);
  }
  if (allow_cmd->parsed()) {
    return Edited(api.Post("/api/v1/policy/commands",
                           Json{{"name", name}, {"args", cmd_args}}),
                  json);
  }
  if (deny_cmd->parsed()) {
    return Edited(api.Delete("/api/v1/policy/commands/" + UrlEncodePath(name)),
                  json);
  }
  if (exp->parsed()) {
    auto r = api.Get("/api/v1/policy/export");
    if (!r.ok()) return Fail(kPolicyProg, r.status());
    std::string text = r->raw;
    if (!text.ends_with("\n")) text += "\n";
    if (Status s = WriteOutput(out, text); !s.ok()) return Fail(kPolicyProg, s);
    return kExitSuccess;
  }
  auto text = ReadInput(in);
  if (!text.ok()) return Fail(kPolicyProg, text.status());
  return Edited(api.PostRaw("/api/v1/policy/import", *text), json);
}

}  // namespace porthole::cli
