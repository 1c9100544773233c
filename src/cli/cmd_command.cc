// porthole command run|list|show: remote commands (reboot,
// restart-service, echo) as the signed policy allows them.
//
// `run` creates the command, then long-polls it until the device reports a
// result, prints the device's stdout and stderr as they were reported, and
// exits with the command's exit code; a command the device rejected or
// could not run exits 1 with the error line.
#include <cstdio>
#include <thread>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "cli/connect_flow.h"
#include "cli/duration_arg.h"
#include "cli/format.h"
#include "cli/table.h"
#include "core/base/exit_code.h"

namespace porthole::cli {
namespace {

constexpr char kCommandProg[] = "porthole command";
constexpr std::chrono::seconds kMaxPoll{25};

// The exit code for a finished command.
int ExitCodeOf(const Command& c) {
  const CommandResult& r = *c.result;
  if (r.error) return kExitFailure;
  if (r.exit_code < 0 || r.exit_code > 255) return kExitFailure;
  if (!r.success && r.exit_code == 0) return kExitFailure;
  return static_cast<int>(r.exit_code);
}

int Finish(const Command& c, bool json) {
  if (json) {
    PrintJson(c.json);
  } else {
    const CommandResult& r = *c.result;
    // The device's output goes out as it came (it is the user's data);
    // only the error line, ours, is made printable.
    std::fwrite(r.stdout_text.data(), 1, r.stdout_text.size(), stdout);
    if (!r.stdout_text.empty() && r.stdout_text.back() != '\n') {
      std::fputc('\n', stdout);
    }
    std::fflush(stdout);
    std::fwrite(r.stderr_text.data(), 1, r.stderr_text.size(), stderr);
    if (!r.stderr_text.empty() && r.stderr_text.back() != '\n') {
      std::fputc('\n', stderr);
    }
  }
  int code = ExitCodeOf(c);
  if (c.result->error || code == kExitFailure) {
    std::fprintf(
        stderr, "%s: %s %s on %s: %s\n", kCommandProg,
        Printable(c.name).c_str(), Printable(c.id).c_str(),
        Printable(c.device_name.empty() ? c.device : c.device_name).c_str(),
        Printable(CommandOutcome(c)).c_str());
  }
  return code;
}

}  // namespace

int RunCommand(const Args& args) {
  CLI::App app("Remote commands: run, list, show.", kCommandProg);
  app.require_subcommand(1);
  std::string device, name, id, timeout_text = "5m";
  std::vector<std::string> cmd_args;
  bool no_wait = false, json = false, pending = false;

  CLI::App* run = app.add_subcommand(
      "run",
      "run NAME [ARGS...] on DEVICE; wait for its result and exit "
      "with its exit code ('--' before ARGS that start with '-')");
  run->add_option("DEVICE", device, "name or UUID")->required();
  run->add_option("NAME", name, "reboot, restart-service or echo")->required();
  run->add_option("ARGS", cmd_args, "the command's arguments");
  run->add_flag("--no-wait", no_wait, "print the command's id and return");
  run->add_option("--timeout", timeout_text,
                  "how long to wait for the result (default 5m)");
  CLI::App* list = app.add_subcommand("list", "recent commands, newest first");
  list->add_option("--device", device, "only this device");
  list->add_flag("--pending", pending, "only those without a result");
  CLI::App* show = app.add_subcommand("show", "one command and its result");
  show->add_option("ID", id, "command id")->required();
  for (CLI::App* s : {run, list, show}) {
    s->add_flag("--json", json, "print the API's JSON");
  }
  if (int rc = ParseCli(app, args); rc >= 0) return rc;

  auto timeout = ParseDurationArg(timeout_text, "--timeout");
  if (!timeout.ok()) return Fail(kCommandProg, timeout.status());
  auto ctx = LoadOperatorContext();
  if (!ctx.ok()) return Fail(kCommandProg, ctx.status());
  OperatorApi& api = *ctx->api;
  const SystemTime now = Clock::Real().Now();

  if (list->parsed()) {
    std::string path = "/api/v1/commands";
    std::string sep = "?";
    if (!device.empty()) {
      path += sep + "device=" + UrlEncode(device);
      sep = "&";
    }
    if (pending) path += sep + "pending=1";
    auto r = api.Get(path);
    if (!r.ok()) return Fail(kCommandProg, r.status());
    auto cmds = ParseCommandList(r->body);
    if (!cmds.ok()) return Fail(kCommandProg, cmds.status());
    if (json) {
      PrintJson(r->body);
    } else {
      Print(CommandsTable(*cmds, now));
    }
    return kExitSuccess;
  }
  if (show->parsed()) {
    auto r = api.Get("/api/v1/commands/" + UrlEncodePath(id));
    if (!r.ok()) return Fail(kCommandProg, r.status());
    auto c = ParseCommand(r->body);
    if (!c.ok()) return Fail(kCommandProg, c.status());
    if (json) {
      PrintJson(c->json);
    } else {
      Print(CommandDetails(*c, now));
    }
    return kExitSuccess;
  }

  Json body{{"device", device}, {"name", name}, {"args", cmd_args}};
  auto created = api.Post("/api/v1/commands", body);
  if (!created.ok()) return Fail(kCommandProg, created.status());
  auto c = ParseCommand(created->body);
  if (!c.ok()) return Fail(kCommandProg, c.status());
  if (no_wait) {
    if (json) {
      PrintJson(c->json);
    } else {
      Print(Printable(c->id) + "\n");
    }
    return kExitSuccess;
  }
  const auto deadline = std::chrono::steady_clock::now() + *timeout;
  std::string seen;
  while (!c->result) {
    auto left = std::chrono::duration_cast<std::chrono::seconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() < 1) {
      return Fail(
          kCommandProg,
          Status::Unavailable("no result from " + Printable(c->device_name) +
                              " within " + FormatDurationArg(*timeout) +
                              "; command " + Printable(c->id) +
                              " stays pending (porthole command show " +
                              Printable(c->id) + ")"));
    }
    auto wait = std::min(left, kMaxPoll);
    auto started = std::chrono::steady_clock::now();
    std::string etag;
    auto next = api.WaitCommand(c->id, seen, wait, &etag);
    if (!next.ok()) return Fail(kCommandProg, next.status());
    if ((etag.empty() || etag == seen) &&
        std::chrono::steady_clock::now() - started < wait / 2) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    seen = etag;
    *c = std::move(*next);
  }
  return Finish(*c, json);
}

}  // namespace porthole::cli
