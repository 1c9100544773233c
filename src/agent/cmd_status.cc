#include "agent/cmd_status.h"

#include <cstdio>
#include <utility>

#include "core/base/exit_code.h"
#include "core/tuf/json.h"

namespace porthole::agent {
namespace {

constexpr char kStatusUsage[] =
    "usage: porthole-agent status [--json] [--system]";

// Text from the agent on one terminal line.
std::string Printable(const std::string& value) {
  if (value.empty()) return "-";
  std::string out = value;
  for (char& c : out) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = '?';
  }
  return out;
}

}  // namespace

std::string FormatStatus(const AgentStatus& s) {
  const std::pair<const char*, std::string> rows[] = {
      {"session state:    ", Printable(s.session_state)},
      {"relay:            ", Printable(s.relay)},
      {"mode:             ", Printable(s.mode)},
      {"last poll time:   ", Printable(s.last_poll_time)},
      {"last poll result: ", Printable(s.last_poll_result)},
      {"last error:       ", Printable(s.last_error)},
      {"pending commands: ", std::to_string(s.pending_commands)},
  };
  std::string out;
  for (const auto& [name, value] : rows) out += name + value + "\n";
  return out;
}

std::string FormatStatusJson(const AgentStatus& s) {
  tuf::Json j = tuf::Json::object();
  j["session_state"] = s.session_state;
  j["relay"] = s.relay;
  j["mode"] = s.mode;
  j["last_poll_time"] = s.last_poll_time;
  j["last_poll_result"] = s.last_poll_result;
  j["last_error"] = s.last_error;
  j["pending_commands"] = s.pending_commands;
  // D-Bus strings are valid UTF-8, so this cannot fail; be safe anyway.
  auto text = tuf::DumpJson(j);
  return (text.ok() ? *text : std::string("{}")) + "\n";
}

int ShowStatus(const std::vector<std::string>& args, DbusOptions bus,
               std::string* out, std::string* err) {
  bool json = false;
  for (const std::string& a : args) {
    if (a == "--json") {
      json = true;
    } else if (a == "--system") {
      bus.bus = BusKind::kSystem;
    } else {
      *err = "porthole-agent: status: unexpected argument '" + a + "' (" +
             kStatusUsage + ")\n";
      return kExitUsage;
    }
  }
  auto status = QueryAgentStatus(bus);
  if (!status.ok()) {
    *err = "porthole-agent: " + status.status().message() + "\n";
    return kExitFailure;
  }
  *out = json ? FormatStatusJson(*status) : FormatStatus(*status);
  return kExitSuccess;
}

int RunStatus(const AgentOptions&, const std::vector<std::string>& args) {
  std::string out, err;
  int code = ShowStatus(args, DbusOptions(), &out, &err);
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fwrite(err.data(), 1, err.size(), stderr);
  return code;
}

}  // namespace porthole::agent
