#include "agent/command_exec.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include "core/base/subprocess.h"

namespace porthole::agent {
namespace {

std::string Quoted(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) {
    if (!out.empty()) out += ",";
    out += "`" + s + "`";
  }
  return out;
}

bool IsKnown(std::string_view name) {
  return std::find(std::begin(tuf::kKnownCommands),
                   std::end(tuf::kKnownCommands),
                   name) != std::end(tuf::kKnownCommands);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsOctal(char c) { return c >= '0' && c <= '7'; }

// Appends `arg` with echo -e's escapes applied; false after \c (stop).
bool AppendEscaped(std::string_view arg, std::string* out) {
  size_t i = 0;
  while (i < arg.size()) {
    char c = arg[i++];
    if (c != '\\' || i == arg.size()) {
      out->push_back(c);
      continue;
    }
    char e = arg[i++];
    static constexpr std::string_view kLetters = "abefnrtv\\";
    static constexpr std::string_view kBytes = "\a\b\x1b\f\n\r\t\v\\";
    if (size_t k = kLetters.find(e); k != std::string_view::npos) {
      out->push_back(kBytes[k]);
    } else if (e == 'c') {
      return false;
    } else if (e == 'x' && i < arg.size() && HexValue(arg[i]) >= 0) {
      int value = HexValue(arg[i++]);
      if (i < arg.size() && HexValue(arg[i]) >= 0) {
        value = value * 16 + HexValue(arg[i++]);
      }
      out->push_back(static_cast<char>(value));
    } else if (IsOctal(e)) {
      // \0NNN: up to three digits after the 0; \NNN: up to three in all.
      int value = e - '0';
      int more = e == '0' ? 3 : 2;
      for (int d = 0; d < more && i < arg.size() && IsOctal(arg[i]); ++d) {
        value = value * 8 + (arg[i++] - '0');
      }
      out->push_back(static_cast<char>(value & 0xff));
    } else {  // not an escape, \x without a digit included
      out->push_back('\\');
      out->push_back(e);
    }
  }
  return true;
}

std::string Replace(std::string s, std::string_view from,
                    const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos;
       at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

// The argv for `command`, or why there is none.
struct Argv {
  std::vector<std::string> argv;
  std::string error;
};
Argv BuildArgv(const Command& command, const CommandLines& lines) {
  Argv a;
  if (command.name == "reboot") {
    const uint64_t secs =
        lines.reboot_delay.secs + (lines.reboot_delay.nanos > 0 ? 1 : 0);
    const std::string seconds = std::to_string(secs);
    const std::string minutes = std::to_string((secs + 59) / 60);
    a.argv = lines.reboot;
    for (std::string& s : a.argv) {
      s = Replace(Replace(s, config::kDelaySecondsPlaceholder, seconds),
                  config::kDelayMinutesPlaceholder, minutes);
    }
  } else if (command.name == "restart-service") {
    if (command.args.empty()) {
      a.error = "restart-service: no argument for the service name";
      return a;
    }
    a.argv = lines.restart_service;
    for (std::string& s : a.argv) {
      s = Replace(s, config::kServicePlaceholder, command.args[0]);
    }
  } else if (command.name == "echo") {
    a.argv = lines.echo;
    a.argv.insert(a.argv.end(), command.args.begin(), command.args.end());
  } else {
    a.error = "unknown command `" + command.name + "`";
    return a;
  }
  if (a.argv.empty()) a.error = command.name + ": no command line configured";
  return a;
}

std::string FormatTimeout(config::Duration timeout) {
  return "timed out after " + config::FormatDuration(timeout);
}

}  // namespace

std::vector<std::string> ValidateCommand(const Command& command,
                                         const tuf::RemoteSessions& metadata) {
  tuf::ErrorOr<std::optional<tuf::CommandPolicy>> policy =
      tuf::ParseCommandPolicy(metadata);
  if (!policy.ok())
    return {"invalid remote_commands: " + policy.error().message()};
  if (!policy->has_value()) return {std::string(tuf::kNoRemoteCommands)};
  if (!IsKnown(command.name)) {
    return {"unknown command `" + command.name + "`"};
  }
  const tuf::CommandPolicy& p = **policy;
  auto allowed = p.allowed.find(command.name);
  if (allowed == p.allowed.end()) {
    std::vector<std::string> names;
    for (const auto& [name, args] : p.allowed) names.push_back(name);
    return {"command `" + command.name +
            "` is not in remote-sessions metadata; allowed commands are: " +
            Quoted(names)};
  }
  std::vector<std::string> reasons;
  for (const std::string& arg : command.args) {
    const std::vector<std::string>& ok = allowed->second;
    if (std::find(ok.begin(), ok.end(), arg) == ok.end()) {
      reasons.push_back("arg `" + arg +
                        "` not allowed; allowed arguments are: " + Quoted(ok));
    }
  }
  return reasons;
}

std::string BuiltinEcho(const std::vector<std::string>& args) {
  bool escapes = false, newline = true;
  size_t first = 0;
  for (; first < args.size(); ++first) {
    const std::string& a = args[first];
    if (a.size() < 2 || a[0] != '-' ||
        a.find_first_not_of("neE", 1) != std::string::npos) {
      break;
    }
    for (char c : std::string_view(a).substr(1)) {
      if (c == 'n') newline = false;
      if (c == 'e') escapes = true;
      if (c == 'E') escapes = false;
    }
  }
  std::string out;
  for (size_t i = first; i < args.size(); ++i) {
    if (i > first) out.push_back(' ');
    if (!escapes) {
      out += args[i];
    } else if (!AppendEscaped(args[i], &out)) {
      return out;
    }
  }
  if (newline) out.push_back('\n');
  return out;
}

CommandLines CommandLines::FromConfig(const config::PortholeConfig& p) {
  CommandLines lines;
  lines.reboot = p.reboot_command;
  lines.reboot_delay = p.reboot_delay;
  lines.restart_service = p.restart_service_command;
  return lines;
}

CommandResult ExecuteCommand(const Command& command, const CommandLines& lines,
                             config::Duration timeout, const Clock& clock,
                             int cancel_fd) {
  const bool echo = command.name == "echo";
  if (echo && lines.echo.empty()) {
    CommandResult r;
    r.success = true;
    r.exit_code = 0;
    std::string out = TrimEndWhitespace(LossyUtf8(BuiltinEcho(command.args)));
    r.stdout_text = CapOutput(out, false);
    r.finished_at = clock.Now();
    return r;
  }
  Argv argv = BuildArgv(command, lines);
  if (!argv.error.empty()) return ExecutionErrorResult(argv.error, clock.Now());

  RunOptions options;
  options.max_output = kMaxOutputBytes;
  options.timeout =
      std::chrono::ceil<std::chrono::milliseconds>(timeout.ToChrono());
  options.cancel_fd = cancel_fd;
  options.cancel_grace = std::chrono::milliseconds(500);
  Result<RunResult> run = RunProcess(argv.argv, options);
  if (!run.ok()) {
    return ExecutionErrorResult(
        "could not run command: " + run.status().message(), clock.Now());
  }
  CommandResult r;
  r.finished_at = clock.Now();
  r.success = !run->timed_out && !run->cancelled && run->exit_code == 0;
  if (run->term_signal == 0 && run->exit_code >= 0) {
    r.exit_code = run->exit_code;
  }
  std::string out = run->out;
  bool out_more = run->out_truncated;
  if (echo) {
    out = TrimEndWhitespace(LossyUtf8(out));
  }
  r.stdout_text = CapOutput(out, out_more);
  r.stderr_text = CapOutput(run->err, run->err_truncated);
  if (run->timed_out) r.error = FormatTimeout(timeout);
  if (run->cancelled) r.error = std::string(kCommandCancelled);
  return r;
}

}  // namespace porthole::agent
