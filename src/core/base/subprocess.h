// Running a child process from an argument vector, never through a shell.
//
// RunProcess forks, execs argv[0] (searched on PATH when it has no '/'),
// feeds `stdin_data` (or /dev/null), collects stdout and stderr up to a cap
// each, and waits. With a timeout the child runs in its own process group and
// the whole group is killed (SIGTERM, then SIGKILL after `kill_grace`) when
// the timeout expires. Blocking; safe to call from any thread. Programs using
// stdin_data must ignore SIGPIPE (a child that exits without reading its
// input then just ends the feeding).
#ifndef PORTHOLE_CORE_BASE_SUBPROCESS_H_
#define PORTHOLE_CORE_BASE_SUBPROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "core/base/status.h"

namespace porthole {

struct RunOptions {
  std::optional<std::string> stdin_data;  // unset: stdin is /dev/null
  bool capture_stdout = true;             // false: inherit the caller's
  bool capture_stderr = true;
  size_t max_output = 16 << 20;  // per stream; more is read and dropped
  // Extra "NAME=value" entries added to (and overriding) the environment.
  std::vector<std::string> env;
  std::optional<std::chrono::milliseconds> timeout;
  std::chrono::milliseconds kill_grace{2000};
  bool new_process_group = false;  // implied by timeout and cancel_fd
  // When this descriptor (e.g. an eventfd) becomes readable, the child's
  // whole group is ended as for a timeout, but with SIGKILL after
  // cancel_grace, and the result says `cancelled`. Never read. -1: none.
  int cancel_fd = -1;
  std::chrono::milliseconds cancel_grace{500};
};

struct RunResult {
  int exit_code = -1;   // -1 when killed by a signal
  int term_signal = 0;  // the signal that ended it, or 0
  bool timed_out = false;
  bool cancelled = false;  // ended because cancel_fd became readable
  std::string out, err;
  bool out_truncated = false, err_truncated = false;

  bool success() const { return exit_code == 0; }
  // "exit 3", "killed by signal 9", "timed out", "cancelled".
  std::string Describe() const;
};

// Fails (kNotFound/kIoError) only when the program cannot be started; a
// program that runs and fails is a RunResult with a non-zero exit_code.
Result<RunResult> RunProcess(const std::vector<std::string>& argv,
                             const RunOptions& options = {});

// A child running in the background. The destructor kills its process group
// (SIGKILL) and reaps it, so no child outlives its owner by accident.
class ChildProcess {
 public:
  struct Options {
    bool pipe_stdout = false;  // readable through stdout_fd()
    bool new_process_group = true;
    std::vector<std::string> env;  // extra "NAME=value" entries
  };
  static Result<ChildProcess> Start(const std::vector<std::string>& argv,
                                    const Options& options);
  static Result<ChildProcess> Start(const std::vector<std::string>& argv) {
    return Start(argv, Options());
  }

  ChildProcess(ChildProcess&& o) noexcept;
  ChildProcess& operator=(ChildProcess&& o) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  int stdout_fd() const { return stdout_fd_; }
  // Reads stdout up to and excluding the next '\n' (at most 4 KiB), waiting
  // at most `timeout`.
  Result<std::string> ReadLine(std::chrono::milliseconds timeout);
  // Sends `sig` to the child (its whole group if it has one).
  void Signal(int sig);
  // Waits for the child to end; returns its RunResult-style exit status.
  RunResult Wait();

 private:
  ChildProcess(pid_t pid, int fd, bool group)
      : pid_(pid), stdout_fd_(fd), group_(group) {}
  void Reset();
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  bool group_ = false;
};

// The building block of the above, for children whose descriptors the caller
// wires itself (e.g. `sshd -i` on a socket). Forks and execs argv[0] (PATH
// searched) with the extra `env`. The child's stdin is `stdin_fd` (/dev/null
// when -1), its stdout and stderr `stdout_fd` / `stderr_fd` (inherited when
// -1); every other descriptor is closed at exec. Returns the pid once the
// exec succeeded (the caller must reap it), or the exec's errno as a Status
// naming argv[0].
struct SpawnOptions {
  std::vector<std::string> env;  // extra "NAME=value" entries
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  bool new_process_group = false;
};
Result<pid_t> SpawnProcess(const std::vector<std::string>& argv,
                           const SpawnOptions& options);

// Path of the running executable (/proc/self/exe).
Result<std::string> SelfExecutable();

}  // namespace porthole

#endif  // PORTHOLE_CORE_BASE_SUBPROCESS_H_
