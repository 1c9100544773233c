// porthole audit [--device D] [--since T] [--follow] [--json]
#include <thread>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "cli/connect_flow.h"
#include "cli/duration_arg.h"
#include "cli/format.h"
#include "core/base/exit_code.h"
#include "core/tuf/rfc3339.h"

namespace porthole::cli {
namespace {

constexpr char kAuditProg[] = "porthole audit";
constexpr int kPage = 1000;
constexpr std::chrono::seconds kFollowInterval{2};

// --since: an RFC 3339 time, or a duration before now ("1h").
Result<std::string> SinceArg(const std::string& text) {
  if (auto t = tuf::ParseRfc3339(text); t.ok()) return tuf::FormatRfc3339(*t);
  auto d = ParseDurationArg(text, "--since");
  if (!d.ok()) {
    return Status::InvalidArgument(
        "--since '" + text +
        "': neither a time (2026-12-04T10:00:00Z) nor a duration (1h, 2d)");
  }
  return tuf::FormatRfc3339(Clock::Real().Now() - *d);
}

}  // namespace

int RunAudit(const Args& args) {
  CLI::App app(
      "The server's audit log: sessions, tunnels, operator "
      "connections, refusals, commands, policy changes.",
      kAuditProg);
  std::string device, since_text;
  bool follow = false, json = false;
  app.add_option("--device", device, "only this device (name or UUID)");
  app.add_option("--since", since_text,
                 "from this time (RFC 3339) or this long ago (1h, 2d)");
  app.add_flag("--follow,-f", follow, "keep printing new events");
  app.add_flag("--json", json,
               "the API's JSON (with --follow: one event per line)");
  if (int rc = ParseCli(app, args); rc >= 0) return rc;
  std::string since;
  if (!since_text.empty()) {
    auto s = SinceArg(since_text);
    if (!s.ok()) return Fail(kAuditProg, s.status());
    since = *s;
  }
  auto ctx = LoadOperatorContext();
  if (!ctx.ok()) return Fail(kAuditProg, ctx.status());
  OperatorApi& api = *ctx->api;

  std::optional<uint64_t> after;
  std::vector<AuditEvent> all;
  Json all_json = Json::array();
  for (;;) {
    std::string path = "/api/v1/audit?limit=" + std::to_string(kPage);
    if (!device.empty()) path += "&device=" + UrlEncode(device);
    if (after) {
      path += "&after=" + std::to_string(*after);
    } else if (!since.empty()) {
      path += "&since=" + UrlEncode(since);
    }
    auto r = api.Get(path);
    if (!r.ok()) return Fail(kAuditProg, r.status());
    auto events = ParseAuditList(r->body);
    if (!events.ok()) return Fail(kAuditProg, events.status());
    for (auto& e : *events) {
      if (after && e.seq <= *after) continue;  // never print one twice
      after = e.seq;
      if (follow) {
        if (json) {
          auto line = tuf::DumpJson(e.json);
          Print((line.ok() ? *line : "null") + "\n");
        } else {
          Print(AuditLine(e));
        }
      } else {
        all_json.push_back(e.json);
        all.push_back(std::move(e));
      }
    }
    std::fflush(stdout);
    if (events->size() >= static_cast<size_t>(kPage)) continue;  // more
    if (!follow) break;
    std::this_thread::sleep_for(kFollowInterval);
  }
  if (json) {
    PrintJson(Json{{"events", std::move(all_json)}});
  } else {
    Print(AuditTable(all));
  }
  return kExitSuccess;
}

}  // namespace porthole::cli
