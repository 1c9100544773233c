#include "core/base/subprocess.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <utility>

#include "core/base/fd_io.h"
#include "core/base/unique_fd.h"

extern char** environ;

namespace porthole {

std::string RunResult::Describe() const {
  if (timed_out) return "timed out";
  if (cancelled) return "cancelled";
  if (term_signal != 0) {
    return "killed by signal " + std::to_string(term_signal);
  }
  return "exit " + std::to_string(exit_code);
}

Result<std::string> SelfExecutable() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n < 0) return PosixError("/proc/self/exe", errno);
  return std::string(buf, static_cast<size_t>(n));
}

namespace {

struct Pipe {
  UniqueFd read, write;
};

Result<Pipe> MakePipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return PosixError("pipe", errno);
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// Builds the child's environment: ours, with `extra` entries replacing any of
// the same name.
std::vector<std::string> MergedEnv(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    auto name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (const auto& x : extra) {
      if (std::string_view(x).substr(0, x.find('=')) == name) replaced = true;
    }
    if (!replaced) env.emplace_back(entry);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

}  // namespace

Result<pid_t> SpawnProcess(const std::vector<std::string>& argv,
                           const SpawnOptions& options) {
  const int stdin_fd = options.stdin_fd, stdout_fd = options.stdout_fd,
            stderr_fd = options.stderr_fd;
  const bool new_group = options.new_process_group;
  if (argv.empty()) return Status::InvalidArgument("empty command");
  Result<Pipe> exec_err = MakePipe();
  if (!exec_err.ok()) return exec_err.status();
  // Everything the child needs is prepared before fork: after it, only
  // async-signal-safe calls.
  std::vector<std::string> env_strings = MergedEnv(options.env);
  std::vector<char*> envp, args;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (auto& a : argv_copy) args.push_back(a.data());
  args.push_back(nullptr);
  UniqueFd devnull(open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!devnull.valid()) return PosixError("/dev/null", errno);

  pid_t pid = fork();
  if (pid < 0) return PosixError("fork", errno);
  if (pid == 0) {
    if (new_group) setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    dup2(stdin_fd >= 0 ? stdin_fd : devnull.get(), 0);
    if (stdout_fd >= 0) dup2(stdout_fd, 1);
    if (stderr_fd >= 0) dup2(stderr_fd, 2);
    // Nothing but stdio crosses the exec (descriptors the caller opened
    // without O_CLOEXEC, libssh's sockets). exec_err is already CLOEXEC.
    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    execvpe(args[0], args.data(), envp.data());
    int e = errno;
    ssize_t ignored = write(exec_err->write.get(), &e, sizeof e);
    (void)ignored;
    _exit(127);
  }
  if (new_group) setpgid(pid, pid);  // also here: no race with kill()
  exec_err->write.reset();
  int exec_errno = 0;
  ssize_t got;
  do {
    got = read(exec_err->read.get(), &exec_errno, sizeof exec_errno);
  } while (got < 0 && errno == EINTR);
  if (got == sizeof exec_errno) {
    waitpid(pid, nullptr, 0);
    return PosixError(argv[0], exec_errno);
  }
  return pid;
}

namespace {

Result<pid_t> Spawn(const std::vector<std::string>& argv,
                    const std::vector<std::string>& env, int stdin_fd,
                    int stdout_fd, int stderr_fd, bool new_group) {
  return SpawnProcess(argv, {.env = env,
                             .stdin_fd = stdin_fd,
                             .stdout_fd = stdout_fd,
                             .stderr_fd = stderr_fd,
                             .new_process_group = new_group});
}

}  // namespace

Result<RunResult> RunProcess(const std::vector<std::string>& argv,
                             const RunOptions& options) {
  Result<Pipe> in = MakePipe(), out = MakePipe(), err = MakePipe();
  for (const auto* p : {&in, &out, &err}) {
    if (!p->ok()) return p->status();
  }
  const bool group = options.new_process_group || options.timeout.has_value() ||
                     options.cancel_fd >= 0;
  const bool watch = options.timeout.has_value() || options.cancel_fd >= 0;
  PH_ASSIGN_OR_RETURN(
      pid_t pid,
      Spawn(argv, options.env, options.stdin_data ? in->read.get() : -1,
            options.capture_stdout ? out->write.get() : -1,
            options.capture_stderr ? err->write.get() : -1, group));
  in->read.reset();
  out->write.reset();
  err->write.reset();

  RunResult result;
  std::string_view to_write;
  if (options.stdin_data) {
    to_write = *options.stdin_data;
    SetNonBlocking(in->write.get());
    if (to_write.empty()) in->write.reset();
  }
  if (!options.capture_stdout) out->read.reset();
  if (!options.capture_stderr) err->read.reset();

  using Steady = std::chrono::steady_clock;
  const auto deadline = options.timeout ? Steady::now() + *options.timeout
                                        : Steady::time_point::max();
  Steady::time_point kill_at = Steady::time_point::max();
  bool term_sent = false;
  char buf[65536];

  // Ends the group for a timeout or a cancellation: SIGTERM now, SIGKILL
  // after the grace.
  auto end_group = [&](Steady::time_point now) {
    kill(-pid, SIGTERM);
    term_sent = true;
    kill_at =
        now + (result.cancelled ? options.cancel_grace : options.kill_grace);
  };
  auto cancel_requested = [&] {
    if (options.cancel_fd < 0 || term_sent) return false;
    pollfd p = {options.cancel_fd, POLLIN, 0};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR));
  };

  auto drain = [&](UniqueFd& fd, std::string& sink, bool& truncated) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) {
      fd.reset();
      return;
    }
    size_t room =
        options.max_output - std::min(options.max_output, sink.size());
    if (static_cast<size_t>(n) > room) truncated = true;
    sink.append(buf, std::min(room, static_cast<size_t>(n)));
  };

  while (out->read.valid() || err->read.valid() || in->write.valid()) {
    pollfd fds[4];
    int nfds = 0;
    int out_i = -1, err_i = -1, in_i = -1;
    if (options.cancel_fd >= 0 && !term_sent) {
      fds[nfds++] = {options.cancel_fd, POLLIN, 0};
    }
    if (out->read.valid()) {
      out_i = nfds;
      fds[nfds++] = {out->read.get(), POLLIN, 0};
    }
    if (err->read.valid()) {
      err_i = nfds;
      fds[nfds++] = {err->read.get(), POLLIN, 0};
    }
    if (in->write.valid()) {
      in_i = nfds;
      fds[nfds++] = {in->write.get(), POLLOUT, 0};
    }
    int wait_ms = -1;
    auto now = Steady::now();
    auto next = std::min(deadline, kill_at);
    if (next != Steady::time_point::max()) {
      wait_ms = next <= now
                    ? 0
                    : static_cast<int>(
                          std::chrono::duration_cast<std::chrono::milliseconds>(
                              next - now)
                              .count()) +
                          1;
    }
    int r = poll(fds, static_cast<nfds_t>(nfds), wait_ms);
    if (r < 0 && errno != EINTR) return PosixError("poll", errno);
    now = Steady::now();
    if (cancel_requested()) {
      result.cancelled = true;
      end_group(now);
    } else if (now >= deadline && !term_sent) {
      result.timed_out = true;
      end_group(now);
    } else if (now >= kill_at) {
      kill(-pid, SIGKILL);
      kill_at = Steady::time_point::max();
      // Descendants may keep the pipes open; stop reading.
      out->read.reset();
      err->read.reset();
      in->write.reset();
    }
    if (r <= 0) continue;
    if (out_i >= 0 && fds[out_i].revents) {
      drain(out->read, result.out, result.out_truncated);
    }
    if (err_i >= 0 && fds[err_i].revents) {
      drain(err->read, result.err, result.err_truncated);
    }
    if (in_i >= 0 && fds[in_i].revents) {
      ssize_t n = write(in->write.get(), to_write.data(), to_write.size());
      if (n > 0) to_write.remove_prefix(static_cast<size_t>(n));
      if ((n < 0 && errno != EAGAIN && errno != EINTR) || to_write.empty()) {
        in->write.reset();
      }
    }
  }

  int wstatus = 0;
  for (;;) {
    pid_t w = waitpid(pid, &wstatus, watch ? WNOHANG : 0);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) return PosixError("waitpid", errno);
    if (w == 0) {  // pipes closed but the child lives on: keep the deadline
      auto now = Steady::now();
      if (cancel_requested()) {
        result.cancelled = true;
        end_group(now);
      } else if (now >= deadline && !term_sent) {
        result.timed_out = true;
        end_group(now);
      } else if (now >= kill_at) {
        kill(-pid, SIGKILL);
        kill_at = Steady::time_point::max();
      }
      usleep(10000);
    }
  }
  if (group && (result.timed_out || result.cancelled)) {
    kill(-pid, SIGKILL);  // stragglers
  }
  if (WIFEXITED(wstatus)) {
    result.exit_code = WEXITSTATUS(wstatus);
  } else if (WIFSIGNALED(wstatus)) {
    result.term_signal = WTERMSIG(wstatus);
  }
  return result;
}

Result<ChildProcess> ChildProcess::Start(const std::vector<std::string>& argv,
                                         const Options& options) {
  Result<Pipe> out = MakePipe();
  if (!out.ok()) return out.status();
  PH_ASSIGN_OR_RETURN(
      pid_t pid,
      Spawn(argv, options.env, -1, options.pipe_stdout ? out->write.get() : -1,
            -1, options.new_process_group));
  out->write.reset();
  return ChildProcess(pid, options.pipe_stdout ? out->read.release() : -1,
                      options.new_process_group);
}

ChildProcess::ChildProcess(ChildProcess&& o) noexcept
    : pid_(std::exchange(o.pid_, -1)),
      stdout_fd_(std::exchange(o.stdout_fd_, -1)),
      group_(o.group_) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& o) noexcept {
  if (this != &o) {
    Reset();
    pid_ = std::exchange(o.pid_, -1);
    stdout_fd_ = std::exchange(o.stdout_fd_, -1);
    group_ = o.group_;
  }
  return *this;
}

ChildProcess::~ChildProcess() { Reset(); }

void ChildProcess::Reset() {
  if (pid_ > 0) {
    Signal(SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  if (stdout_fd_ >= 0) close(stdout_fd_);
  stdout_fd_ = -1;
}

void ChildProcess::Signal(int sig) {
  if (pid_ <= 0) return;
  kill(group_ ? -pid_ : pid_, sig);
}

Result<std::string> ChildProcess::ReadLine(std::chrono::milliseconds timeout) {
  if (stdout_fd_ < 0) return Status::FailedPrecondition("stdout not piped");
  std::string line;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (line.size() < 4096) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Status::Unavailable("timed out reading");
    pollfd p{stdout_fd_, POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno != EINTR) return PosixError("poll", errno);
    if (r <= 0) continue;
    char c;
    ssize_t n = read(stdout_fd_, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::Unavailable("child closed its output");
    if (c == '\n') return line;
    line += c;
  }
  return Status::Corrupt("line too long");
}

RunResult ChildProcess::Wait() {
  RunResult r;
  int wstatus = 0;
  while (pid_ > 0 && waitpid(pid_, &wstatus, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  if (WIFEXITED(wstatus)) r.exit_code = WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) r.term_signal = WTERMSIG(wstatus);
  return r;
}

}  // namespace porthole
