// porthole session open|list|show|close.
#include <cstdio>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "cli/connect_flow.h"
#include "cli/duration_arg.h"
#include "cli/format.h"
#include "cli/table.h"
#include "core/base/exit_code.h"

namespace porthole::cli {
namespace {

constexpr char kSessionProg[] = "porthole session";

void Show(const Session& s, bool json) {
  if (json) {
    PrintJson(s.json);
  } else {
    Print(SessionDetails(s, Clock::Real().Now()));
  }
}

}  // namespace

int RunSession(const Args& args) {
  CLI::App app("Remote sessions: open, list, show, close.", kSessionProg);
  app.require_subcommand(1);
  std::string device, id, ttl_text;
  std::vector<std::string> key_files;
  bool all = false, json = false;

  CLI::App* open = app.add_subcommand(
      "open",
      "open a session on DEVICE for your key(s); an open session "
      "that lists them is shown instead");
  open->add_option("DEVICE", device, "name or UUID")->required();
  open->add_option("--key", key_files,
                   "public or private key file, repeatable (default: the "
                   "first of ~/.ssh/id_*.pub and ssh-agent keys the policy "
                   "allows)");
  open->add_option("--for", ttl_text,
                   "how long: 90s, 15m, 1h, 1h30m, 7d (default: the "
                   "server's)");
  CLI::App* list = app.add_subcommand("list",
                                      "live sessions (--all: ended "
                                      "ones too, newest first)");
  list->add_flag("--all", all, "include ended sessions");
  list->add_option("--device", device, "only this device");
  CLI::App* show = app.add_subcommand("show", "one session");
  show->add_option("ID", id, "session id")->required();
  CLI::App* close = app.add_subcommand("close", "close a session now");
  close->add_option("ID", id, "session id")->required();
  for (CLI::App* s : {open, list, show, close}) {
    s->add_flag("--json", json, "print the API's JSON");
  }
  if (int rc = ParseCli(app, args); rc >= 0) return rc;

  std::optional<std::chrono::seconds> ttl;
  if (!ttl_text.empty()) {
    auto t = ParseDurationArg(ttl_text, "--for");
    if (!t.ok()) return Fail(kSessionProg, t.status());
    ttl = *t;
  }
  auto ctx = LoadOperatorContext();
  if (!ctx.ok()) return Fail(kSessionProg, ctx.status());
  OperatorApi& api = *ctx->api;

  if (open->parsed()) {
    SessionNeeds needs;
    needs.device = device;
    needs.ttl = ttl;
    for (const auto& f : key_files) {
      auto k = LoadKeyArg(f);
      if (!k.ok()) return Fail(kSessionProg, k.status());
      needs.keys.push_back(std::move(*k));
    }
    if (needs.keys.empty()) {
      auto k = ChooseOperatorKey(api, "");
      if (!k.ok()) return Fail(kSessionProg, k.status());
      needs.keys.push_back(std::move(*k));
    }
    auto ready = OpenOrReuseSession(api, needs);
    if (!ready.ok()) return Fail(kSessionProg, ready.status());
    if (!ready->opened) {
      std::fprintf(stderr,
                   "%s: %s already has this live session for your "
                   "key(s)\n",
                   kSessionProg, Printable(ready->device.name).c_str());
    }
    Show(ready->session, json);
    return kExitSuccess;
  }
  if (list->parsed()) {
    std::string path = "/api/v1/sessions";
    std::string sep = "?";
    if (!device.empty()) {
      path += sep + "device=" + UrlEncode(device);
      sep = "&";
    }
    if (all) path += sep + "all=1";
    auto r = api.Get(path);
    if (!r.ok()) return Fail(kSessionProg, r.status());
    auto sessions = ParseSessionList(r->body);
    if (!sessions.ok()) return Fail(kSessionProg, sessions.status());
    if (json) {
      PrintJson(r->body);
    } else {
      Print(SessionsTable(*sessions, Clock::Real().Now()));
    }
    return kExitSuccess;
  }
  if (show->parsed()) {
    auto s = api.GetSession(id);
    if (!s.ok()) return Fail(kSessionProg, s.status());
    Show(*s, json);
    return kExitSuccess;
  }
  auto s = api.CloseSession(id);
  if (!s.ok()) return Fail(kSessionProg, s.status());
  (void)ctx->RelayKeys().Remove(s->id);
  if (json) {
    PrintJson(s->json);
  } else {
    Print("closed session " + Printable(s->id) + " on " +
          Printable(s->device_name.empty() ? s->device : s->device_name) +
          (s->end_reason.empty() ? "" : " (" + Printable(s->end_reason) + ")") +
          "\n");
  }
  return kExitSuccess;
}

}  // namespace porthole::cli
