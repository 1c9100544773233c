// porthole devices [--all] [--json]; porthole device show DEVICE [--json].
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "cli/connect_flow.h"
#include "cli/format.h"
#include "core/base/exit_code.h"

namespace porthole::cli {

int RunDevices(const Args& args) {
  const char* prog = "porthole devices";
  CLI::App app("List the server's devices.", prog);
  bool all = false, json = false;
  app.add_flag("--all", all, "include removed devices");
  app.add_flag("--json", json, "print the API's JSON");
  if (int rc = ParseCli(app, args); rc >= 0) return rc;
  auto ctx = LoadOperatorContext();
  if (!ctx.ok()) return Fail(prog, ctx.status());
  Json raw;
  auto devices = ctx->api->ListDevices(all, &raw);
  if (!devices.ok()) return Fail(prog, devices.status());
  if (json) {
    PrintJson(raw);
  } else {
    Print(DevicesTable(*devices, Clock::Real().Now(), all));
  }
  return kExitSuccess;
}

int RunDevice(const Args& args) {
  const char* prog = "porthole device";
  CLI::App app("One device.", prog);
  app.require_subcommand(1);
  std::string device;
  bool json = false;
  CLI::App* show = app.add_subcommand("show", "show a device");
  show->add_option("DEVICE", device, "name or UUID")->required();
  show->add_flag("--json", json, "print the API's JSON");
  if (int rc = ParseCli(app, args); rc >= 0) return rc;
  auto ctx = LoadOperatorContext();
  if (!ctx.ok()) return Fail(prog, ctx.status());
  auto d = ctx->api->GetDevice(device);
  if (!d.ok()) return Fail(prog, d.status());
  if (json) {
    PrintJson(d->json);
  } else {
    Print(DeviceDetails(*d, Clock::Real().Now()));
  }
  return kExitSuccess;
}

}  // namespace porthole::cli
