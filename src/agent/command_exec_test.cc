#include "agent/command_exec.h"

#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "agent/test_ids.h"
#include "core/base/file.h"
#include "core/base/test_util.h"
#include "core/base/unique_fd.h"
#include "core/tuf/rfc3339.h"

namespace porthole::agent {
namespace {

tuf::RemoteSessions Metadata(const char* remote_commands) {
  tuf::RemoteSessions m;
  m.version = 1;
  m.remote_sessions = tuf::Json::object();
  if (remote_commands != nullptr) {
    m.remote_commands = tuf::ParseJson(remote_commands).value();
  }
  return m;
}

// RAC's test stub, plus an allowed_commands key RAC does not know.
constexpr char kExecPolicy[] =
    R"({"allowed_commands":{"restart-service":{"args":["aktualizr"]},
                            "echo":{"args":["test","-e"]},
                            "shutdown":{"args":[]},
                            "format-disk":"anything"},
        "version":"v1alpha"})";

Command Cmd(std::string name, std::vector<std::string> args = {}) {
  return Command{kId, std::move(name), std::move(args), SystemTime()};
}

TEST(ValidateCommandTest, Table) {
  struct Row {
    const char* policy;  // nullptr: no remote_commands
    Command command;
    std::vector<std::string> reasons;
  } rows[] = {
      {kExecPolicy, Cmd("echo", {"test"}), {}},
      {kExecPolicy, Cmd("echo"), {}},
      {kExecPolicy, Cmd("echo", {"test", "-e", "test"}), {}},
      {kExecPolicy, Cmd("restart-service", {"aktualizr"}), {}},
      {kExecPolicy,
       Cmd("echo", {"test", "rm", "-rf"}),
       {"arg `rm` not allowed; allowed arguments are: `test`,`-e`",
        "arg `-rf` not allowed; allowed arguments are: `test`,`-e`"}},
      {kExecPolicy,
       Cmd("restart-service", {"sshd"}),
       {"arg `sshd` not allowed; allowed arguments are: `aktualizr`"}},
      {kExecPolicy,
       Cmd("reboot"),
       {"command `reboot` is not in remote-sessions metadata; allowed "
        "commands are: `echo`,`restart-service`"}},
      // Listed in allowed_commands, but not a command porthole knows.
      {kExecPolicy, Cmd("shutdown"), {"unknown command `shutdown`"}},
      {kExecPolicy, Cmd("Echo", {"test"}), {"unknown command `Echo`"}},
      {nullptr,
       Cmd("echo", {"test"}),
       {"no remote_commands in remote-sessions"}},
      {R"({"allowed_commands":{}})",
       Cmd("echo"),
       {"command `echo` is not in remote-sessions metadata; allowed commands "
        "are: "}},
      {R"({"allowed_commands":[]})",
       Cmd("echo"),
       {"invalid remote_commands: remote_commands: member 'allowed_commands' "
        "must be an object"}},
      {R"({"allowed_commands":{"echo":{"args":[1]}}})",
       Cmd("echo"),
       {"invalid remote_commands: remote_commands.allowed_commands.echo: "
        "member 'args' must be an array of strings"}},
  };
  for (const Row& row : rows) {
    EXPECT_EQ(ValidateCommand(row.command, Metadata(row.policy)), row.reasons)
        << row.command.name;
  }
}

TEST(BuiltinEchoTest, CoreutilsSemantics) {
  struct Row {
    std::vector<std::string> args;
    std::string want;  // as /bin/echo from GNU coreutils prints it
  } rows[] = {
      {{}, "\n"},
      {{"test"}, "test\n"},
      {{"a", "", "b"}, "a  b\n"},
      {{"-n", "x"}, "x"},
      {{"-neE"}, ""},
      {{"--", "-n"}, "-- -n\n"},
      {{"-nx"}, "-nx\n"},
      {{"-", "x"}, "- x\n"},
      {{"x", "-n"}, "x -n\n"},
      {{"a\\tb"}, "a\\tb\n"},
      {{"-e", "a\\tb\\n"}, "a\tb\n\n"},
      {{"-e", "-E", "a\\tb"}, "a\\tb\n"},
      {{"-e", "a\\101b\\0101c\\x41d\\x4g\\xzz\\qe\\\\f"},
       "aAbAcAd\x04g\\xzz\\qe\\f\n"},
      {{"-e", "x\\cy", "z"}, "x"},
      {{"-e", "\\0"}, std::string("\0\n", 2)},
      {{"-e", "end\\"}, "end\\\n"},
      {{"-e", "\\a\\b\\e\\f\\r\\v"}, "\a\b\x1b\f\r\v\n"},
  };
  for (const Row& row : rows) {
    EXPECT_EQ(BuiltinEcho(row.args), row.want)
        << (row.args.empty() ? "" : row.args.back());
  }
}

// For megabyte strings: sizes and the first difference, not the bytes.
::testing::AssertionResult Same(const std::string& got,
                                const std::string& want) {
  if (got == want) return ::testing::AssertionSuccess();
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
  return ::testing::AssertionFailure()
         << "got " << got.size() << " bytes, want " << want.size()
         << "; first difference at " << i;
}

class ExecuteTest : public ::testing::Test {
 protected:
  CommandResult Run(const Command& c,
                    config::Duration timeout = config::Duration::Seconds(30)) {
    return ExecuteCommand(c, lines_, timeout, clock_);
  }
  // A restart-service line running `script` with the service as $1.
  void Script(std::string script) {
    lines_.restart_service = {"sh", "-c", std::move(script), "sh", "{service}"};
  }
  TempDir tmp_;
  CommandLines lines_;
  FakeClock clock_{tuf::ParseRfc3339("2025-07-30T16:00:03.5Z").value()};
};

TEST_F(ExecuteTest, BuiltinEchoIsTrimmed) {
  CommandResult r = Run(Cmd("echo", {"test"}));
  EXPECT_EQ(FormatCommandResult(r),
            R"({"success":true,"stdout":"test","stderr":"","error":null,)"
            R"("exit_code":0,"finished_at":"2025-07-30T16:00:03.500Z"})");
  EXPECT_EQ(Run(Cmd("echo", {"-e", "a\\tb\\n\\n \\t"})).stdout_text, "a\tb");
}

TEST_F(ExecuteTest, ExternalEchoIsTrimmedToo) {
  lines_.echo = {"printf", "%s|%s \\n\\n"};
  CommandResult r = Run(Cmd("echo", {"a b", "c"}));
  EXPECT_TRUE(r.success);
  EXPECT_EQ(r.stdout_text, "a b|c");
}

TEST_F(ExecuteTest, RestartServiceSubstitutesTheNameAndReportsTheExit) {
  Script("echo restarting \"$1\"; echo oops >&2; exit 3");
  CommandResult r = Run(Cmd("restart-service", {"aktualizr", "ignored"}));
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.stdout_text, "restarting aktualizr\n");  // only echo is trimmed
  EXPECT_EQ(r.stderr_text, "oops\n");
  EXPECT_TRUE(r.error.is_null());
  EXPECT_EQ(r.finished_at, clock_.Now());
}

TEST_F(ExecuteTest, ArgumentsNeverReachAShell) {
  const std::string marker = tmp_.Join("pwned");
  lines_.restart_service = {"printf", "%s", "{service}"};
  CommandResult r = Run(Cmd("restart-service", {"x; touch " + marker}));
  EXPECT_TRUE(r.success);
  EXPECT_EQ(r.stdout_text, "x; touch " + marker);
  EXPECT_FALSE(PathExists(marker));
}

TEST_F(ExecuteTest, RebootIgnoresItsArguments) {
  lines_.reboot = {"sh", "-c", "echo $#", "sh"};
  CommandResult r = Run(Cmd("reboot", {"now", "please"}));
  EXPECT_TRUE(r.success);
  EXPECT_EQ(r.stdout_text, "0\n");
}

TEST_F(ExecuteTest, DefaultLines) {
  CommandLines lines;
  EXPECT_EQ(lines.reboot, (std::vector<std::string>{"sudo", "-n", "shutdown",
                                                    "-r", "+{delay_minutes}"}));
  EXPECT_EQ(lines.reboot_delay, config::Duration::Seconds(60));
  EXPECT_EQ(lines.restart_service,
            (std::vector<std::string>{"sudo", "-n", "systemctl", "restart",
                                      "{service}"}));
  EXPECT_TRUE(lines.echo.empty());
  config::PortholeConfig p;
  p.reboot_command = {"systemctl", "reboot", "--when=+{delay_seconds}s"};
  p.reboot_delay = config::Duration::Seconds(30);
  p.restart_service_command = {"svc", "{service}"};
  lines = CommandLines::FromConfig(p);
  EXPECT_EQ(lines.reboot, p.reboot_command);
  EXPECT_EQ(lines.reboot_delay, p.reboot_delay);
  EXPECT_EQ(lines.restart_service, p.restart_service_command);
}

TEST_F(ExecuteTest, PlaceholdersStayInsideTheirElement) {
  lines_.restart_service = {"printf", "[%s]", "{service}.service",
                            "x{service}y{service}"};
  CommandResult r = Run(Cmd("restart-service", {"a b {service}"}));
  EXPECT_EQ(r.stdout_text,
            "[a b {service}.service][xa b {service}ya b {service}]");
  // The delay, rounded up to whole seconds and minutes.
  lines_.reboot = {"printf", "[%s]", "+{delay_minutes}", "{delay_seconds}s",
                   "{delay_seconds}{delay_minutes}"};
  const std::pair<config::Duration, std::string> delays[] = {
      {config::Duration::Seconds(60), "[+1][60s][601]"},
      {config::Duration::Seconds(61), "[+2][61s][612]"},
      {config::Duration{0, 1}, "[+1][1s][11]"},
      {config::Duration::Seconds(0), "[+0][0s][00]"},
      {config::Duration::Seconds(3600), "[+60][3600s][360060]"},
  };
  for (const auto& [delay, want] : delays) {
    lines_.reboot_delay = delay;
    EXPECT_EQ(Run(Cmd("reboot")).stdout_text, want);
  }
}

TEST_F(ExecuteTest, CancelFdEndsTheCommandAtOnce) {
  const std::string pids = tmp_.Join("pids");
  Script("trap '' TERM; echo $$ > " + pids + "; echo started; sleep 60");
  UniqueFd cancel(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  ASSERT_TRUE(cancel.valid());
  std::thread stopper([&] {
    while (!PathExists(pids)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    uint64_t one = 1;
    ASSERT_EQ(write(cancel.get(), &one, sizeof one), 8);
  });
  auto start = std::chrono::steady_clock::now();
  CommandResult r =
      ExecuteCommand(Cmd("restart-service", {"x"}), lines_,
                     config::Duration::Seconds(30), clock_, cancel.get());
  stopper.join();
  // SIGTERM is ignored: SIGKILL 500 ms later.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_FALSE(r.success);
  EXPECT_FALSE(r.exit_code.has_value());
  EXPECT_EQ(r.error, std::string(kCommandCancelled));
  EXPECT_EQ(r.stdout_text, "started\n");
}

TEST_F(ExecuteTest, ExecutionErrorsAreFailedResults) {
  EXPECT_EQ(
      FormatCommandResult(Run(Cmd("restart-service"))),
      R"({"success":false,"stdout":"","stderr":"","error":)"
      R"("restart-service: no argument for the service name","exit_code":null,)"
      R"("finished_at":"2025-07-30T16:00:03.500Z"})");

  lines_.reboot = {"/nonexistent/porthole-reboot"};
  CommandResult spawn = Run(Cmd("reboot"));
  EXPECT_FALSE(spawn.success);
  EXPECT_FALSE(spawn.exit_code.has_value());
  EXPECT_EQ(spawn.error,
            "could not run command: /nonexistent/porthole-reboot: No such "
            "file or directory");

  lines_.reboot.clear();
  EXPECT_EQ(Run(Cmd("reboot")).error, "reboot: no command line configured");
  EXPECT_EQ(Run(Cmd("shutdown")).error, "unknown command `shutdown`");
}

TEST_F(ExecuteTest, KilledBySignalHasNoExitCode) {
  Script("echo partial; kill -KILL $$");
  CommandResult r = Run(Cmd("restart-service", {"x"}));
  EXPECT_FALSE(r.success);
  EXPECT_FALSE(r.exit_code.has_value());
  EXPECT_TRUE(r.error.is_null());
  EXPECT_EQ(r.stdout_text, "partial\n");
}

// Whether `pid` has ended (gone, or a zombie nobody reaped yet).
bool Ended(const std::string& pid) {
  std::ifstream stat("/proc/" + pid + "/stat");
  if (!stat) return true;
  std::string line;
  std::getline(stat, line);
  size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() &&
         line[paren + 2] == 'Z';
}

TEST_F(ExecuteTest, TimeoutKillsTheWholeProcessGroup) {
  const std::string pids = tmp_.Join("pids");
  Script("echo $$ > " + pids + "; sleep 60 & echo $! >> " + pids +
         "; echo started; wait");
  auto start = std::chrono::steady_clock::now();
  CommandResult r =
      Run(Cmd("restart-service", {"x"}), config::Duration::Seconds(1));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.error, "timed out after 1s");
  EXPECT_FALSE(r.exit_code.has_value());
  EXPECT_EQ(r.stdout_text, "started\n");

  std::ifstream in(pids);
  std::string shell, grandchild;
  ASSERT_TRUE(in >> shell >> grandchild);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while ((!Ended(shell) || !Ended(grandchild)) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(Ended(shell)) << shell;
  EXPECT_TRUE(Ended(grandchild)) << grandchild;
}

TEST_F(ExecuteTest, EachStreamIsCappedOnACharacterBoundary) {
  // stdout: 819,194 'a' then two-byte characters; stderr: 819,193 'b' then
  // three-byte ones. Both cuts fall inside a character.
  Script(
      "head -c 819194 /dev/zero | tr '\\0' a; "
      "i=0; while [ $i -lt 10 ]; do printf '\\303\\251'; i=$((i+1)); done; "
      "{ head -c 819193 /dev/zero | tr '\\0' b; "
      "i=0; while [ $i -lt 10 ]; do printf '\\342\\202\\254'; i=$((i+1)); "
      "done; } >&2");
  CommandResult r = Run(Cmd("restart-service", {"x"}));
  EXPECT_TRUE(r.success);
  EXPECT_TRUE(Same(r.stdout_text, std::string(819194, 'a') + "[...]"));
  EXPECT_TRUE(Same(r.stderr_text, std::string(819193, 'b') + "[...]"));

  // Over the cap by far, in plain ASCII: exactly 819,200 bytes each.
  Script(
      "head -c 3000000 /dev/zero | tr '\\0' a; "
      "head -c 3000000 /dev/zero | tr '\\0' b >&2");
  r = Run(Cmd("restart-service", {"x"}));
  EXPECT_TRUE(Same(r.stdout_text, std::string(819195, 'a') + "[...]"));
  EXPECT_TRUE(Same(r.stderr_text, std::string(819195, 'b') + "[...]"));

  // RAC bug 1: a long stderr must not mark a short stdout.
  Script("echo short; head -c 900000 /dev/zero | tr '\\0' c >&2");
  r = Run(Cmd("restart-service", {"x"}));
  EXPECT_EQ(r.stdout_text, "short\n");
  EXPECT_TRUE(Same(r.stderr_text, std::string(819195, 'c') + "[...]"));

  // Exactly at the cap: nothing cut, no marker.
  Script("head -c 819200 /dev/zero | tr '\\0' d");
  r = Run(Cmd("restart-service", {"x"}));
  EXPECT_TRUE(Same(r.stdout_text, std::string(819200, 'd')));
}

}  // namespace
}  // namespace porthole::agent
