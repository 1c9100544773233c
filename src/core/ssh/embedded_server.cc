#include "core/ssh/embedded_server.h"

#include <fcntl.h>
#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "core/base/fd_io.h"
#include "core/base/logging.h"
#include "core/crypto/digest.h"
#include "core/ssh/byte_queue.h"
#include "core/ssh/libssh_util.h"

extern char** environ;

namespace porthole::ssh {
namespace {

using libssh::ChannelTypeName;
using libssh::ErrnoText;
using libssh::KeyOf;
using libssh::kPumpRounds;

using Steady = std::chrono::steady_clock;

// Client data waiting for the program, per channel.
constexpr size_t kToProgramBuffer = 64 * 1024;
// Program output waiting for the client's window, per stream.
constexpr size_t kOutputBuffer = 32 * 1024;
constexpr size_t kMaxEnvRequests = 64;
constexpr size_t kMaxEnvValue = 4096;
constexpr size_t kMaxTermName = 256;
constexpr const char* kDefaultPath =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

bool IsSkKey(const keys::PublicKey& key) {
  return key.type == keys::KeyType::kSkEd25519 ||
         key.type == keys::KeyType::kSkEcdsaP256;
}

// The account the programs run as: the agent's effective uid.
struct Account {
  std::string name, home;
};

Account LookupAccount() {
  Account a;
  long hint = sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buf(hint > 0 ? static_cast<size_t>(hint) : 16384);
  struct passwd pw, *found = nullptr;
  int rc;
  while ((rc = getpwuid_r(geteuid(), &pw, buf.data(), buf.size(), &found)) ==
             ERANGE &&
         buf.size() < (1u << 20)) {
    buf.resize(buf.size() * 2);
  }
  if (rc == 0 && found != nullptr) {
    a.name = pw.pw_name;
    a.home = pw.pw_dir;
  }
  return a;
}

// The signal names RFC 4254 6.10 defines, without "SIG".
const char* RfcSignalName(int sig) {
  switch (sig) {
    case SIGABRT:
      return "ABRT";
    case SIGALRM:
      return "ALRM";
    case SIGFPE:
      return "FPE";
    case SIGHUP:
      return "HUP";
    case SIGILL:
      return "ILL";
    case SIGINT:
      return "INT";
    case SIGKILL:
      return "KILL";
    case SIGPIPE:
      return "PIPE";
    case SIGQUIT:
      return "QUIT";
    case SIGSEGV:
      return "SEGV";
    case SIGTERM:
      return "TERM";
    case SIGUSR1:
      return "USR1";
    case SIGUSR2:
      return "USR2";
    default:
      return nullptr;
  }
}

// A descriptor with O_CLOEXEC numbered 3 or above, so that the child's
// dup2() onto 0-2 cannot clobber another of its sources.
Result<UniqueFd> AboveStdio(UniqueFd fd, std::string_view what) {
  if (!fd.valid()) return PosixError(what, errno);
  if (fd.get() > 2) return fd;
  UniqueFd moved(fcntl(fd.get(), F_DUPFD_CLOEXEC, 3));
  if (!moved.valid()) return PosixError(what, errno);
  return moved;
}

struct Pipe {
  UniqueFd read, write;
};

Result<Pipe> MakePipe() {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return PosixError("pipe", errno);
  Pipe out;
  PH_ASSIGN_OR_RETURN(out.read, AboveStdio(UniqueFd(p[0]), "pipe"));
  PH_ASSIGN_OR_RETURN(out.write, AboveStdio(UniqueFd(p[1]), "pipe"));
  return out;
}

struct SpawnRequest {
  std::string path;
  std::vector<std::string> argv;
  std::vector<std::string> env;  // "NAME=value"; SSH_TTY is added for a pty
  std::string cwd;
  bool pty = false;
  struct winsize size = {};
};

// A started program. Parent-side descriptors are non-blocking and CLOEXEC.
struct Process {
  pid_t pid = -1;
  UniqueFd pidfd;
  UniqueFd pty;           // the pty master (pty)
  UniqueFd in, out, err;  // pipes (no pty)
};

// In the child of a possibly multi-threaded parent: async-signal-safe calls
// only.
[[noreturn]] void ExecChild(const char* path, char* const* argv,
                            char* const* envp, const char* cwd, int slave,
                            int in, int out, int err, int report) {
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  bool ok = setsid() >= 0;
  if (ok && slave >= 0) {
    ok = ioctl(slave, TIOCSCTTY, 0) == 0 && dup2(slave, 0) == 0 &&
         dup2(slave, 1) == 1 && dup2(slave, 2) == 2;
  } else if (ok) {
    ok = dup2(in, 0) == 0 && dup2(out, 1) == 1 && dup2(err, 2) == 2;
  }
  if (ok) {
    // Nothing but stdio crosses the exec: other threads' descriptors and
    // libssh's socket are not all CLOEXEC. `report` already is.
    if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
      struct rlimit lim;
      rlim_t max = getrlimit(RLIMIT_NOFILE, &lim) == 0 ? lim.rlim_cur : 1024;
      if (max > 65536) max = 65536;
      for (int fd = 3; fd < static_cast<int>(max); ++fd) {
        fcntl(fd, F_SETFD, FD_CLOEXEC);
      }
    }
    if (chdir(cwd) != 0 && chdir("/") != 0) {
      // Run anyway, wherever we are.
    }
    execve(path, argv, envp);
  }
  int e = errno;
  ssize_t ignored = write(report, &e, sizeof e);
  (void)ignored;
  _exit(127);
}

Result<Process> Spawn(SpawnRequest req) {
  Process p;
  UniqueFd slave;
  Pipe in, out, err;
  if (req.pty) {
    PH_ASSIGN_OR_RETURN(
        p.pty, AboveStdio(UniqueFd(posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)),
                          "posix_openpt"));
    char name[128];
    if (grantpt(p.pty.get()) != 0 || unlockpt(p.pty.get()) != 0 ||
        ptsname_r(p.pty.get(), name, sizeof name) != 0) {
      return PosixError("pty", errno);
    }
    PH_ASSIGN_OR_RETURN(
        slave,
        AboveStdio(UniqueFd(open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)), name));
    if (ioctl(p.pty.get(), TIOCSWINSZ, &req.size) != 0) {
      return PosixError("TIOCSWINSZ", errno);
    }
    req.env.push_back(std::string("SSH_TTY=") + name);
  } else {
    PH_ASSIGN_OR_RETURN(in, MakePipe());
    PH_ASSIGN_OR_RETURN(out, MakePipe());
    PH_ASSIGN_OR_RETURN(err, MakePipe());
  }
  PH_ASSIGN_OR_RETURN(Pipe report, MakePipe());

  std::vector<char*> argv, envp;
  for (auto& a : req.argv) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : req.env) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = fork();
  if (pid < 0) return PosixError("fork", errno);
  if (pid == 0) {
    ExecChild(req.path.c_str(), argv.data(), envp.data(), req.cwd.c_str(),
              slave.get(), in.read.get(), out.write.get(), err.write.get(),
              report.write.get());
  }
  slave.reset();
  in.read.reset();
  out.write.reset();
  err.write.reset();
  report.write.reset();
  // The child reports only a failed exec; EOF means the exec happened (and
  // setsid() before it, so the process group exists for kill()).
  int exec_errno = 0;
  ssize_t got;
  do {
    got = read(report.read.get(), &exec_errno, sizeof exec_errno);
  } while (got < 0 && errno == EINTR);
  if (got == sizeof exec_errno) {
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    return PosixError(req.path, exec_errno);
  }
  p.pid = pid;
  // glibc 2.36's <sys/pidfd.h> lacks C linkage for C++; use the syscall.
  p.pidfd.reset(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  if (!p.pidfd.valid()) {
    int e = errno;
    kill(-pid, SIGKILL);
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    return PosixError("pidfd_open", e);
  }
  p.in = std::move(in.write);
  p.out = std::move(out.read);
  p.err = std::move(err.read);
  for (const UniqueFd* fd : {&p.pty, &p.in, &p.out, &p.err}) {
    if (fd->valid()) SetNonBlocking(fd->get());
  }
  return p;
}

// Environment names the programs do not inherit from the agent.
bool DroppedFromEnvironment(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "TERM", "HOME", "USER", "LOGNAME", "SHELL", "NOTIFY_SOCKET"};
  static constexpr std::string_view kPrefixes[] = {"SSH_", "LISTEN_",
                                                   "WATCHDOG_"};
  for (auto n : kNames) {
    if (name == n) return true;
  }
  for (auto p : kPrefixes) {
    if (name.substr(0, p.size()) == p) return true;
  }
  return false;
}

bool AcceptedEnvName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char ch : name) {
    if (!(isalnum(static_cast<unsigned char>(ch)) || ch == '_')) return false;
  }
  return name == "TERM" || name == "LANG" || name.substr(0, 3) == "LC_";
}

// A polled descriptor and what poll last said about it.
struct Watch {
  UniqueFd fd;
  short registered = 0;  // the events polled for now (0: not in the loop)
  // Optimistic until a read or write says EAGAIN.
  bool readable = true;
  bool writable = true;
  bool hup = false;  // POLLHUP or POLLERR seen
};

int OnWatchedFd(socket_t, int revents, void* userdata) {
  auto* w = static_cast<Watch*>(userdata);
  if (revents & (POLLIN | POLLHUP | POLLERR)) w->readable = true;
  if (revents & (POLLOUT | POLLHUP | POLLERR)) w->writable = true;
  if (revents & (POLLHUP | POLLERR)) w->hup = true;
  return 0;
}

class Connection;

enum class ProgramKind { kShell, kExec, kSftp };

// One "session" channel and the program it runs.
struct Channel {
  Channel(Connection* c, uint64_t n) : conn(c), id(n) {}
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  Connection* conn;
  uint64_t id;
  ssh_channel channel = nullptr;
  struct ssh_channel_callbacks_struct callbacks = {};

  // Requests before the program starts.
  bool pty_requested = false;
  std::string term;
  struct winsize size = {};
  std::vector<std::pair<std::string, std::string>> env;

  // The program.
  bool started = false;
  bool uses_pty = false;
  pid_t pid = -1;
  bool reaped = false;
  std::optional<int> wait_status;  // unset: unknown (reaped elsewhere)
  bool killed = false;
  Watch pidfd, pty, in, out, err;
  ByteQueue to_program{kToProgramBuffer};
  ByteQueue out_queue{kOutputBuffer}, err_queue{kOutputBuffer};
  bool input_done = false;  // nothing more is written to the program
  bool out_eof = false, err_eof = false;

  // Set by libssh callbacks (possibly from nested packet processing).
  bool rx_pending = false;  // libssh holds channel data not yet read
  bool remote_eof = false;
  bool remote_closed = false;

  bool finished = false;  // ready to be freed
};

class Connection {
 public:
  Connection(const EmbeddedServerConfig& config, int stop_fd)
      : cfg_(config), stop_fd_(stop_fd) {}
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() { Teardown(""); }

  Status Serve(UniqueFd fd);

 private:
  Status Setup(UniqueFd fd);
  Status Loop();
  // True when the connection must end, with how (OK for a normal end) and
  // the DISCONNECT reason to send ("" for none).
  bool Ended(Status* end, std::string* disconnect_reason);
  int PollTimeoutMs(bool busy) const;
  bool IdleLimited() const {
    return authenticated_ && cfg_.idle_timeout.count() > 0;
  }
  Status SessionEnd() const;
  void Teardown(const std::string& disconnect_reason);
  bool SessionDown() const {
    return !ssh_is_connected(session_.get()) ||
           (ssh_get_status(session_.get()) & (SSH_CLOSED | SSH_CLOSED_ERROR));
  }
  std::string LibsshError() const { return ssh_get_error(session_.get()); }

  // Server callbacks.
  static int OnAuthNone(ssh_session, const char* user, void* userdata);
  static int OnAuthPassword(ssh_session, const char* user, const char*,
                            void* userdata);
  static int OnAuthPubkey(ssh_session, const char* user, ssh_key_struct* key,
                          char signature_state, void* userdata);
  static ssh_channel OnChannelOpen(ssh_session, void* userdata);
  static int OnMessage(ssh_session, ssh_message msg, void* userdata);
  static int OnStopFd(socket_t, int, void* userdata);
  int AuthPubkey(const char* user, ssh_key key, char signature_state);
  void CountFailure();

  // Channel callbacks; userdata is the Channel.
  static int OnData(ssh_session, ssh_channel, void*, uint32_t len,
                    int is_stderr, void* userdata);
  static void OnEof(ssh_session, ssh_channel, void* userdata);
  static void OnClose(ssh_session, ssh_channel, void* userdata);
  static int OnPtyRequest(ssh_session, ssh_channel, const char* term, int width,
                          int height, int pxwidth, int pxheight,
                          void* userdata);
  static int OnWindowChange(ssh_session, ssh_channel, int width, int height,
                            int pxwidth, int pxheight, void* userdata);
  static int OnShell(ssh_session, ssh_channel, void* userdata);
  static int OnExec(ssh_session, ssh_channel, const char* command,
                    void* userdata);
  static int OnSubsystem(ssh_session, ssh_channel, const char* subsystem,
                         void* userdata);
  static int OnEnv(ssh_session, ssh_channel, const char* name,
                   const char* value, void* userdata);
  bool StartProgram(Channel& c, ProgramKind kind, const std::string& command);
  std::vector<std::string> ProgramEnvironment(const Channel& c) const;

  // The event loop's work on channels.
  void AdoptPending();
  bool PumpAll();
  bool Pump(Channel& c);
  bool PumpInput(Channel& c);
  bool PumpOutput(Channel& c);
  bool ReadChannel(Channel& c);
  bool DiscardChannelData(Channel& c);
  bool WriteProgram(Channel& c);
  void EndInput(Channel& c);
  bool ReadProgram(Channel& c, Watch& w, ByteQueue& q, bool* eof);
  bool WriteChannel(Channel& c, ByteQueue& q, bool is_stderr);
  bool Reap(Channel& c);
  void SendExitAndClose(Channel& c);
  void FailChannel(Channel& c, const std::string& why);
  void UpdateInterest(Channel& c);
  void SetInterest(Watch& w, short want);
  void KillAndReap(Channel& c);
  void FreeChannel(Channel& c);

  const EmbeddedServerConfig& cfg_;
  const int stop_fd_;
  libssh::SessionPtr session_;
  libssh::EventPtr event_;
  struct ssh_server_callbacks_struct server_callbacks_ = {};
  struct ssh_counter_struct socket_counter_ = {};
  bool stop_fd_registered_ = false;
  Account account_;
  Steady::time_point grace_end_, last_traffic_;
  uint64_t last_bytes_ = 0;

  bool stop_requested_ = false;
  bool authenticated_ = false;
  bool none_seen_ = false;
  int failures_ = 0;
  bool too_many_failures_ = false;
  std::set<std::string> sk_logged_;  // fingerprints already logged

  std::vector<std::unique_ptr<Channel>> channels_;
  // Opened inside libssh callbacks; moved to channels_ by the loop.
  std::vector<std::unique_ptr<Channel>> pending_;
  uint64_t next_channel_id_ = 0;
  bool torn_down_ = false;
};

Status Connection::Serve(UniqueFd fd) {
  if (Status s = Setup(std::move(fd)); !s.ok()) {
    Teardown("");
    return s;
  }
  return Loop();
}

Status Connection::Setup(UniqueFd fd) {
  if (cfg_.host_key == nullptr || cfg_.host_key->libssh_key() == nullptr) {
    return Status::InvalidArgument("embedded: no host key");
  }
  if (cfg_.shell.empty() || cfg_.shell.front() != '/' ||
      cfg_.sftp_server.empty() || cfg_.sftp_server.front() != '/') {
    return Status::InvalidArgument(
        "embedded: shell and sftp_server must be absolute paths");
  }
  if (cfg_.login_grace.count() <= 0 || cfg_.idle_timeout.count() < 0) {
    return Status::InvalidArgument(
        "embedded: login_grace must be positive, idle_timeout not negative");
  }
  if (!fd.valid()) return Status::InvalidArgument("embedded: no connection");
  // The programs this serves must not inherit the connection, and libssh
  // 0.10 takes EAGAIN from send() for a broken connection (see the header).
  int fd_flags = fcntl(fd.get(), F_GETFD);
  int fl_flags = fcntl(fd.get(), F_GETFL);
  if (fd_flags < 0 || fl_flags < 0 ||
      fcntl(fd.get(), F_SETFD, fd_flags | FD_CLOEXEC) != 0 ||
      fcntl(fd.get(), F_SETFL, fl_flags & ~O_NONBLOCK) != 0) {
    return PosixError("embedded: connection descriptor", errno);
  }
  account_ = LookupAccount();

  libssh::BindPtr bind(ssh_bind_new());
  session_.reset(ssh_new());
  if (bind == nullptr || session_ == nullptr) {
    return Status::Internal("embedded: libssh out of memory");
  }
  bool process_config = false;
  // The bind takes ownership of the imported key.
  ssh_key host_key = ssh_key_dup(cfg_.host_key->libssh_key());
  if (host_key == nullptr) return Status::Internal("embedded: ssh_key_dup");
  if (ssh_bind_options_set(bind.get(), SSH_BIND_OPTIONS_IMPORT_KEY, host_key) !=
      SSH_OK) {
    ssh_key_free(host_key);
    return Status::Internal("embedded: libssh refused the host key: " +
                            std::string(ssh_get_error(bind.get())));
  }
  if (ssh_bind_options_set(bind.get(), SSH_BIND_OPTIONS_PROCESS_CONFIG,
                           &process_config) != SSH_OK) {
    return Status::Internal("embedded: libssh refused a bind option");
  }
  int raw_fd = fd.release();
  if (ssh_bind_accept_fd(bind.get(), session_.get(), raw_fd) != SSH_OK) {
    // Early failures leave the descriptor with us, later ones with the
    // session (which closes it).
    if (ssh_get_fd(session_.get()) != raw_fd) close(raw_fd);
    return Status::Internal("embedded: " +
                            std::string(ssh_get_error(bind.get())));
  }
  bind.reset();  // the session holds copies of the keys

  ssh_callbacks_init(&server_callbacks_);
  server_callbacks_.userdata = this;
  server_callbacks_.auth_none_function = &Connection::OnAuthNone;
  server_callbacks_.auth_password_function = &Connection::OnAuthPassword;
  server_callbacks_.auth_pubkey_function = &Connection::OnAuthPubkey;
  server_callbacks_.channel_open_request_session_function =
      &Connection::OnChannelOpen;
  ssh_set_server_callbacks(session_.get(), &server_callbacks_);
  // Everything the callbacks above do not take: keyboard-interactive,
  // other channel types, global requests, unsupported channel requests.
  ssh_set_message_callback(session_.get(), &Connection::OnMessage, this);
  ssh_set_auth_methods(session_.get(), SSH_AUTH_METHOD_PUBLICKEY);
  ssh_set_counters(session_.get(), &socket_counter_, nullptr);
  ssh_set_blocking(session_.get(), 0);

  // Non-blocking: sends our banner and returns; the event loop drives the
  // rest of the key exchange and authentication.
  if (ssh_handle_key_exchange(session_.get()) == SSH_ERROR) {
    return Status::Unavailable("embedded: key exchange failed: " +
                               LibsshError());
  }
  event_.reset(ssh_event_new());
  if (event_ == nullptr ||
      ssh_event_add_session(event_.get(), session_.get()) != SSH_OK) {
    return Status::Internal("embedded: cannot set up the event loop");
  }
  if (stop_fd_ >= 0) {
    if (ssh_event_add_fd(event_.get(), stop_fd_, POLLIN, &Connection::OnStopFd,
                         this) != SSH_OK) {
      return Status::Internal("embedded: cannot watch the stop descriptor");
    }
    stop_fd_registered_ = true;
  }
  return Status::Ok();
}

Status Connection::Loop() {
  grace_end_ = Steady::now() + cfg_.login_grace;
  last_traffic_ = Steady::now();
  Status end;
  std::string disconnect_reason;
  for (;;) {
    bool busy = PumpAll();
    if (Ended(&end, &disconnect_reason)) break;
    for (auto& c : channels_) UpdateInterest(*c);
    if (ssh_event_dopoll(event_.get(), PollTimeoutMs(busy)) == SSH_ERROR &&
        !SessionDown() && !stop_requested_) {
      end = Status::Internal("embedded: poll failed: " + ErrnoText(errno));
      break;
    }
  }
  Teardown(disconnect_reason);
  return end;
}

bool Connection::Ended(Status* end, std::string* disconnect_reason) {
  Steady::time_point now = Steady::now();
  uint64_t bytes = socket_counter_.in_bytes + socket_counter_.out_bytes;
  if (bytes != last_bytes_) {
    last_bytes_ = bytes;
    last_traffic_ = now;
  }
  if (stop_requested_) {
    spdlog::info("embedded: connection stopped by the agent");
    *disconnect_reason = "session ended";
    return true;
  }
  if (too_many_failures_) {
    *end = Status::PermissionDenied(
        "embedded: authentication failed: too many refused attempts (" +
        std::to_string(failures_) + ")");
    *disconnect_reason = "too many authentication failures";
    return true;
  }
  if (SessionDown()) {
    *end = SessionEnd();
    return true;
  }
  if (!authenticated_ && now >= grace_end_) {
    *end = Status::Unavailable(
        "embedded: login grace time (" +
        std::to_string(cfg_.login_grace.count()) +
        " ms) expired before authentication" +
        (failures_ > 0 ? " (" + std::to_string(failures_) + " attempts refused)"
                       : ""));
    *disconnect_reason = "login grace time exceeded";
    return true;
  }
  if (IdleLimited() && now - last_traffic_ >= cfg_.idle_timeout) {
    spdlog::info("embedded: no traffic for {} ms, disconnecting",
                 cfg_.idle_timeout.count());
    *disconnect_reason = "idle timeout";
    return true;
  }
  return false;
}

int Connection::PollTimeoutMs(bool busy) const {
  if (busy) return 0;
  Steady::time_point deadline = Steady::time_point::max();
  if (!authenticated_) deadline = grace_end_;
  if (IdleLimited()) deadline = last_traffic_ + cfg_.idle_timeout;
  if (deadline == Steady::time_point::max()) return -1;
  auto wait =
      std::chrono::ceil<std::chrono::milliseconds>(deadline - Steady::now());
  return static_cast<int>(std::clamp<int64_t>(wait.count(), 0, INT_MAX));
}

Status Connection::SessionEnd() const {
  std::string err = LibsshError();
  // libssh reports how a connection ended only as text; these are the
  // strings of 0.10 (packet_cb.c, session.c).
  const bool client_left = err.rfind("Received SSH_MSG_DISCONNECT", 0) == 0 ||
                           err.rfind("Socket error: ", 0) == 0 || err.empty();
  if (authenticated_) {
    if (client_left) {
      spdlog::info("embedded: connection closed by the client{}{}",
                   err.empty() ? "" : ": ", err);
      return Status::Ok();
    }
    return Status::Corrupt("embedded: protocol error: " + err);
  }
  if (!client_left) {
    return Status::Corrupt("embedded: protocol error before authentication: " +
                           err);
  }
  if (failures_ > 0) {
    return Status::PermissionDenied(
        "embedded: authentication failed: the client left after " +
        std::to_string(failures_) + " refused attempt" +
        (failures_ == 1 ? "" : "s") + (err.empty() ? "" : " (" + err + ")"));
  }
  return Status::Unavailable("embedded: the client left before authenticating" +
                             (err.empty() ? "" : " (" + err + ")"));
}

void Connection::Teardown(const std::string& disconnect_reason) {
  if (torn_down_) return;
  torn_down_ = true;
  AdoptPending();
  for (auto& c : channels_) {
    KillAndReap(*c);
    FreeChannel(*c);
  }
  channels_.clear();
  if (event_ != nullptr) {
    if (stop_fd_registered_) ssh_event_remove_fd(event_.get(), stop_fd_);
    if (session_ != nullptr) {
      ssh_event_remove_session(event_.get(), session_.get());
    }
  }
  event_.reset();
  if (session_ == nullptr) return;
  ssh_session s = session_.get();
  if (ssh_is_connected(s) && !SessionDown()) {
    if (!disconnect_reason.empty()) {
      ssh_session_set_disconnect_message(s, disconnect_reason.c_str());
    }
    // libssh 0.10 writes to the socket only after poll has reported it
    // writable since its previous write; otherwise the DISCONNECT that
    // ssh_disconnect() queues is dropped with the socket. Flush what is
    // queued (bounded), then say the socket is writable.
    ssh_set_blocking(s, 1);
    ssh_blocking_flush(s, 1000);
    ssh_set_fd_towrite(s);
  }
  ssh_disconnect(s);
  session_.reset();
}

// ---------------------------------------------------------------------------
// Authentication.

void Connection::CountFailure() {
  if (++failures_ >= kMaxAuthFailures) too_many_failures_ = true;
}

int Connection::OnAuthNone(ssh_session, const char*, void* userdata) {
  auto* self = static_cast<Connection*>(userdata);
  // OpenSSH clients start with "none" to learn the methods; that one is
  // not an attempt.
  if (self->none_seen_) self->CountFailure();
  self->none_seen_ = true;
  return SSH_AUTH_DENIED;
}

int Connection::OnAuthPassword(ssh_session, const char* user, const char*,
                               void* userdata) {
  auto* self = static_cast<Connection*>(userdata);
  spdlog::info("embedded: refused password authentication for '{}'",
               LogSafe(user != nullptr ? user : "", 64));
  self->CountFailure();
  return SSH_AUTH_DENIED;
}

int Connection::OnAuthPubkey(ssh_session, const char* user, ssh_key_struct* key,
                             char signature_state, void* userdata) {
  return static_cast<Connection*>(userdata)->AuthPubkey(user, key,
                                                        signature_state);
}

int Connection::AuthPubkey(const char* user, ssh_key key,
                           char signature_state) {
  std::string who = LogSafe(user != nullptr ? user : "", 64);
  if (authenticated_) return SSH_AUTH_DENIED;
  Result<keys::PublicKey> offered = KeyOf(key);
  if (!offered.ok()) {
    spdlog::info("embedded: refused an unreadable key for '{}': {}", who,
                 offered.status().message());
    CountFailure();
    return SSH_AUTH_DENIED;
  }
  std::string name = offered->ShortTypeName() + " " + offered->Fingerprint();
  if (IsSkKey(*offered)) {
    if (sk_logged_.insert(offered->Fingerprint()).second) {
      spdlog::warn(
          "embedded mode refuses sk- key {}: libssh 0.10 cannot enforce user "
          "presence; use spawned_sshd",
          name);
    }
    CountFailure();
    return SSH_AUTH_DENIED;
  }
  bool listed = std::any_of(
      cfg_.authorized_keys.begin(), cfg_.authorized_keys.end(),
      [&](const keys::PublicKey& k) { return k.blob == offered->blob; });
  if (!listed) {
    spdlog::info("embedded: refused key {} for '{}': not a session key", name,
                 who);
    CountFailure();
    return SSH_AUTH_DENIED;
  }
  // A probe without a signature gets PK_OK; only a verified signature
  // (libssh calls this with VALID only after checking it) logs in.
  if (signature_state == SSH_PUBLICKEY_STATE_VALID) {
    authenticated_ = true;
    spdlog::info("embedded: accepted key {} for '{}'", name, who);
  }
  return SSH_AUTH_SUCCESS;
}

int Connection::OnMessage(ssh_session, ssh_message msg, void* userdata) {
  auto* self = static_cast<Connection*>(userdata);
  // Returning 1 makes libssh send the default reply: a failure (with the
  // method list "publickey" for authentication), OPEN_FAILURE, or
  // REQUEST_FAILURE when a reply is wanted; a service request is accepted.
  int subtype = ssh_message_subtype(msg);
  switch (ssh_message_type(msg)) {
    case SSH_REQUEST_AUTH:
      spdlog::debug("embedded: refused authentication method {}", subtype);
      self->CountFailure();
      break;
    case SSH_REQUEST_CHANNEL_OPEN:
      spdlog::info("embedded: refused a {} channel", ChannelTypeName(subtype));
      break;
    case SSH_REQUEST_CHANNEL:
      spdlog::debug("embedded: refused channel request type {}", subtype);
      break;
    case SSH_REQUEST_GLOBAL:
      spdlog::debug("embedded: refused global request type {}", subtype);
      break;
    default:
      break;
  }
  return 1;
}

int Connection::OnStopFd(socket_t, int, void* userdata) {
  static_cast<Connection*>(userdata)->stop_requested_ = true;
  return 0;
}

// ---------------------------------------------------------------------------
// Channels and their requests.

ssh_channel Connection::OnChannelOpen(ssh_session session, void* userdata) {
  auto* self = static_cast<Connection*>(userdata);
  // Also called from packets processed while tearing down.
  if (!self->authenticated_ || self->stop_requested_ || self->torn_down_) {
    return nullptr;
  }
  if (self->channels_.size() + self->pending_.size() >= kMaxSessionChannels) {
    spdlog::info("embedded: refused a session channel: already {} open",
                 kMaxSessionChannels);
    return nullptr;
  }
  ssh_channel channel = ssh_channel_new(session);
  if (channel == nullptr) return nullptr;
  auto c = std::make_unique<Channel>(self, ++self->next_channel_id_);
  c->channel = channel;
  ssh_callbacks_init(&c->callbacks);
  c->callbacks.userdata = c.get();
  c->callbacks.channel_data_function = &Connection::OnData;
  c->callbacks.channel_eof_function = &Connection::OnEof;
  c->callbacks.channel_close_function = &Connection::OnClose;
  c->callbacks.channel_pty_request_function = &Connection::OnPtyRequest;
  c->callbacks.channel_pty_window_change_function = &Connection::OnWindowChange;
  c->callbacks.channel_shell_request_function = &Connection::OnShell;
  c->callbacks.channel_exec_request_function = &Connection::OnExec;
  c->callbacks.channel_subsystem_request_function = &Connection::OnSubsystem;
  c->callbacks.channel_env_request_function = &Connection::OnEnv;
  // No x11 or agent callbacks: without them libssh replies failure.
  ssh_set_channel_callbacks(channel, &c->callbacks);
  spdlog::debug("embedded: channel #{}: session opened", c->id);
  self->pending_.push_back(std::move(c));
  return channel;
}

int Connection::OnData(ssh_session, ssh_channel, void*, uint32_t len,
                       int is_stderr, void* userdata) {
  // Clients send no extended data on a session channel; drop any.
  if (is_stderr) return static_cast<int>(len);
  // Leave the bytes in libssh's buffer: the loop reads them when the
  // program can take them, which keeps this callback safe inside nested
  // packet processing and the back-pressure in one place.
  static_cast<Channel*>(userdata)->rx_pending = true;
  return 0;
}

void Connection::OnEof(ssh_session, ssh_channel, void* userdata) {
  static_cast<Channel*>(userdata)->remote_eof = true;
}

void Connection::OnClose(ssh_session, ssh_channel, void* userdata) {
  auto* c = static_cast<Channel*>(userdata);
  c->remote_closed = true;
  c->remote_eof = true;
}

int Connection::OnPtyRequest(ssh_session, ssh_channel, const char* term,
                             int width, int height, int pxwidth, int pxheight,
                             void* userdata) {
  auto* c = static_cast<Channel*>(userdata);
  std::string t = term != nullptr ? term : "";
  auto fits = [](int v) { return v >= 0 && v <= 65535; };
  if (c->started || c->pty_requested || !fits(width) || !fits(height) ||
      !fits(pxwidth) || !fits(pxheight) || t.size() > kMaxTermName) {
    spdlog::debug("embedded: channel #{}: refused pty-req", c->id);
    return -1;
  }
  c->pty_requested = true;
  c->term = std::move(t);
  c->size.ws_col = static_cast<unsigned short>(width);
  c->size.ws_row = static_cast<unsigned short>(height);
  c->size.ws_xpixel = static_cast<unsigned short>(pxwidth);
  c->size.ws_ypixel = static_cast<unsigned short>(pxheight);
  spdlog::debug("embedded: channel #{}: pty-req TERM={} {}x{}", c->id,
                LogSafe(c->term, 64), width, height);
  return 0;
}

int Connection::OnWindowChange(ssh_session, ssh_channel, int width, int height,
                               int pxwidth, int pxheight, void* userdata) {
  auto* c = static_cast<Channel*>(userdata);
  auto fits = [](int v) { return v >= 0 && v <= 65535; };
  if (!c->pty_requested || !fits(width) || !fits(height) || !fits(pxwidth) ||
      !fits(pxheight)) {
    return -1;
  }
  c->size.ws_col = static_cast<unsigned short>(width);
  c->size.ws_row = static_cast<unsigned short>(height);
  c->size.ws_xpixel = static_cast<unsigned short>(pxwidth);
  c->size.ws_ypixel = static_cast<unsigned short>(pxheight);
  if (c->pty.fd.valid()) ioctl(c->pty.fd.get(), TIOCSWINSZ, &c->size);
  spdlog::debug("embedded: channel #{}: window-change {}x{}", c->id, width,
                height);
  return 0;
}

int Connection::OnShell(ssh_session, ssh_channel, void* userdata) {
  auto* c = static_cast<Channel*>(userdata);
  return c->conn->StartProgram(*c, ProgramKind::kShell, "") ? 0 : 1;
}

int Connection::OnExec(ssh_session, ssh_channel, const char* command,
                       void* userdata) {
  auto* c = static_cast<Channel*>(userdata);
  return c->conn->StartProgram(*c, ProgramKind::kExec,
                               command != nullptr ? command : "")
             ? 0
             : 1;
}

int Connection::OnSubsystem(ssh_session, ssh_channel, const char* subsystem,
                            void* userdata) {
  auto* c = static_cast<Channel*>(userdata);
  std::string name = subsystem != nullptr ? subsystem : "";
  if (name != "sftp") {
    spdlog::info("embedded: channel #{}: refused subsystem '{}'", c->id,
                 LogSafe(name, 64));
    return 1;
  }
  return c->conn->StartProgram(*c, ProgramKind::kSftp, "") ? 0 : 1;
}

int Connection::OnEnv(ssh_session, ssh_channel, const char* name,
                      const char* value, void* userdata) {
  auto* c = static_cast<Channel*>(userdata);
  std::string n = name != nullptr ? name : "";
  std::string v = value != nullptr ? value : "";
  auto same = [&](const auto& e) { return e.first == n; };
  bool known = std::any_of(c->env.begin(), c->env.end(), same);
  if (c->started || !AcceptedEnvName(n) || v.size() > kMaxEnvValue ||
      (!known && c->env.size() >= kMaxEnvRequests)) {
    spdlog::debug("embedded: channel #{}: refused env {}", c->id,
                  LogSafe(n, 64));
    return 1;
  }
  std::erase_if(c->env, same);
  c->env.emplace_back(std::move(n), std::move(v));
  return 0;
}

std::vector<std::string> Connection::ProgramEnvironment(
    const Channel& c) const {
  std::vector<std::string> env;
  bool have_path = false;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    std::string_view name = entry.substr(0, entry.find('='));
    if (DroppedFromEnvironment(name)) continue;
    bool overridden =
        std::any_of(c.env.begin(), c.env.end(),
                    [&](const auto& v) { return v.first == name; });
    if (overridden) continue;
    if (name == "PATH") have_path = true;
    env.emplace_back(entry);
  }
  if (!have_path) env.push_back(std::string("PATH=") + kDefaultPath);
  if (!account_.name.empty()) {
    env.push_back("USER=" + account_.name);
    env.push_back("LOGNAME=" + account_.name);
    env.push_back("HOME=" + account_.home);
  }
  env.push_back("SHELL=" + cfg_.shell);
  for (const auto& [n, v] : c.env) {
    if (c.uses_pty && n == "TERM") continue;  // the pty-req's wins
    env.push_back(n + "=" + v);
  }
  if (c.uses_pty) env.push_back("TERM=" + (c.term.empty() ? "dumb" : c.term));
  return env;
}

bool Connection::StartProgram(Channel& c, ProgramKind kind,
                              const std::string& command) {
  const char* what = kind == ProgramKind::kShell  ? "shell"
                     : kind == ProgramKind::kExec ? "exec"
                                                  : "subsystem sftp";
  if (c.started || stop_requested_ || torn_down_) {
    spdlog::debug(
        "embedded: channel #{}: refused {}: {}", c.id, what,
        c.started ? "a program already ran" : "the connection is ending");
    return false;
  }
  SpawnRequest req;
  std::string base = cfg_.shell.substr(cfg_.shell.rfind('/') + 1);
  switch (kind) {
    case ProgramKind::kShell:
      req.path = cfg_.shell;
      req.argv = {"-" + base};  // a login shell, as sshd starts it
      break;
    case ProgramKind::kExec:
      req.path = cfg_.shell;
      req.argv = {base, "-c", command};
      break;
    case ProgramKind::kSftp:
      req.path = cfg_.sftp_server;
      req.argv = {cfg_.sftp_server.substr(cfg_.sftp_server.rfind('/') + 1)};
      break;
  }
  c.uses_pty = c.pty_requested && kind != ProgramKind::kSftp;
  req.pty = c.uses_pty;
  req.size = c.size;
  req.env = ProgramEnvironment(c);
  req.cwd = account_.home.empty() ? "/" : account_.home;
  if (kind == ProgramKind::kExec) {
    spdlog::debug("embedded: channel #{}: exec{} '{}'", c.id,
                  c.uses_pty ? " with pty" : "", LogSafe(command));
  } else {
    spdlog::debug("embedded: channel #{}: {}{}", c.id, what,
                  c.uses_pty ? " with pty" : "");
  }
  Result<Process> p = Spawn(std::move(req));
  if (!p.ok()) {
    spdlog::warn("embedded: channel #{}: cannot start {}: {}", c.id, what,
                 p.status().message());
    return false;
  }
  c.started = true;
  c.pid = p->pid;
  c.pidfd.fd = std::move(p->pidfd);
  c.pidfd.readable = false;
  if (c.uses_pty) {
    c.pty.fd = std::move(p->pty);
    c.err_eof = true;  // stderr is the pty
  } else {
    c.in.fd = std::move(p->in);
    c.out.fd = std::move(p->out);
    c.err.fd = std::move(p->err);
  }
  spdlog::debug("embedded: channel #{}: {} started, pid {}", c.id, what, c.pid);
  return true;
}

// ---------------------------------------------------------------------------
// The event loop's work.

void Connection::AdoptPending() {
  for (auto& c : pending_) channels_.push_back(std::move(c));
  pending_.clear();
}

bool Connection::PumpAll() {
  bool busy = false;
  // Channels can be opened while pumping (libssh processes packets inside
  // channel reads and writes); adopt and pump until none are left.
  do {
    AdoptPending();
    for (size_t i = 0; i < channels_.size(); ++i) busy |= Pump(*channels_[i]);
  } while (!pending_.empty());
  for (auto& c : channels_) {
    if (c->finished) FreeChannel(*c);
  }
  std::erase_if(channels_,
                [](const std::unique_ptr<Channel>& c) { return c->finished; });
  return busy;
}

bool Connection::Pump(Channel& c) {
  for (int round = 0; round < kPumpRounds; ++round) {
    if (c.finished) return false;
    bool progress = false;
    if (c.started && !c.reaped && c.pidfd.readable) progress |= Reap(c);
    if (c.remote_closed) {
      // Nothing more can be sent; end the program and let the channel go.
      if (c.started && !c.reaped && !c.killed) {
        spdlog::debug("embedded: channel #{}: closed early, killing pid {}",
                      c.id, c.pid);
        kill(-c.pid, SIGKILL);
        c.killed = true;
      }
      if (!c.started || c.reaped) c.finished = true;
      return false;
    }
    progress |= PumpInput(c);
    progress |= PumpOutput(c);
    if (c.started && c.reaped && c.out_eof && c.err_eof &&
        c.out_queue.empty() && c.err_queue.empty()) {
      SendExitAndClose(c);
      return false;
    }
    if (!progress) return false;
  }
  return true;  // still going: give the others a turn, then come back
}

bool Connection::PumpInput(Channel& c) {
  bool progress = false;
  if (c.rx_pending && c.started) {
    if (c.input_done) {
      progress |= DiscardChannelData(c);
    } else if (c.to_program.room() > 0) {
      progress |= ReadChannel(c);
    }
  }
  if (!c.to_program.empty() && !c.input_done) {
    Watch& w = c.uses_pty ? c.pty : c.in;
    if (w.hup) {
      // The program's side is gone (a pty without a slave): nobody reads.
      EndInput(c);
      progress = true;
    } else if (w.writable) {
      progress |= WriteProgram(c);
    }
  }
  if (c.started && !c.input_done && c.remote_eof && !c.rx_pending &&
      c.to_program.empty()) {
    EndInput(c);
    progress = true;
  }
  return progress;
}

bool Connection::ReadChannel(Channel& c) {
  size_t got = 0;
  char* dst = c.to_program.PrepareAppend(kToProgramBuffer, &got);
  auto want = static_cast<uint32_t>(std::min(got, c.to_program.room()));
  int n = ssh_channel_read_nonblocking(c.channel, dst, want, 0);
  if (n == SSH_ERROR) {
    c.rx_pending = false;
    if (!SessionDown()) FailChannel(c, "reading the channel: " + LibsshError());
    return false;
  }
  if (n < static_cast<int>(want)) c.rx_pending = false;  // also SSH_EOF
  if (n <= 0) return false;
  c.to_program.Commit(static_cast<size_t>(n));
  return true;
}

bool Connection::DiscardChannelData(Channel& c) {
  char scratch[16 * 1024];
  int n = ssh_channel_read_nonblocking(c.channel, scratch, sizeof scratch, 0);
  if (n < static_cast<int>(sizeof scratch)) c.rx_pending = false;
  return n > 0;
}

bool Connection::WriteProgram(Channel& c) {
  Watch& w = c.uses_pty ? c.pty : c.in;
  std::string_view data = c.to_program.Front();
  ssize_t n = WriteWithoutSigpipe(w.fd.get(), data.data(), data.size());
  if (n > 0) {
    c.to_program.Consume(static_cast<size_t>(n));
    return true;
  }
  if (n < 0 && errno == EINTR) return true;
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    w.writable = false;
    return false;
  }
  // EPIPE (the program closed its stdin) or EIO (the pty's slave is gone):
  // what the client sends from now on is dropped, as sshd does.
  spdlog::debug("embedded: channel #{}: program input closed: {}", c.id,
                ErrnoText(n < 0 ? errno : EIO));
  EndInput(c);
  return true;
}

void Connection::EndInput(Channel& c) {
  c.input_done = true;
  c.to_program.Consume(c.to_program.size());
  // A pty cannot be half-closed: the master stays open for the output.
  if (!c.uses_pty && c.in.fd.valid()) {
    SetInterest(c.in, 0);
    c.in.fd.reset();
  }
}

bool Connection::PumpOutput(Channel& c) {
  if (!c.started) return false;
  bool progress = false;
  if (c.uses_pty) {
    progress |= ReadProgram(c, c.pty, c.out_queue, &c.out_eof);
  } else {
    progress |= ReadProgram(c, c.out, c.out_queue, &c.out_eof);
    progress |= ReadProgram(c, c.err, c.err_queue, &c.err_eof);
  }
  progress |= WriteChannel(c, c.out_queue, false);
  progress |= WriteChannel(c, c.err_queue, true);
  return progress;
}

bool Connection::ReadProgram(Channel& c, Watch& w, ByteQueue& q, bool* eof) {
  if (*eof || !w.readable || !q.empty()) return false;
  // Read only what the client's window takes now: the window is the
  // back-pressure on the program.
  uint32_t window = ssh_channel_window_size(c.channel);
  if (window == 0) return false;
  size_t got = 0;
  char* dst = q.PrepareAppend(kOutputBuffer, &got);
  size_t want = std::min<size_t>({got, q.room(), window});
  ssize_t n = read(w.fd.get(), dst, want);
  if (n > 0) {
    q.Commit(static_cast<size_t>(n));
    return true;
  }
  if (n < 0 && errno == EINTR) return true;
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    // A pty's slave may stay open in a process the program left behind;
    // once the program is reaped, what is readable now is all there is.
    if (c.uses_pty && c.reaped) {
      *eof = true;
      return true;
    }
    w.readable = false;
    return false;
  }
  // EOF, or EIO from a pty whose slave is closed: the output is complete.
  if (n < 0 && !(c.uses_pty && errno == EIO)) {
    spdlog::debug("embedded: channel #{}: reading program output: {}", c.id,
                  ErrnoText(errno));
  }
  *eof = true;
  return true;
}

bool Connection::WriteChannel(Channel& c, ByteQueue& q, bool is_stderr) {
  if (q.empty()) return false;
  uint32_t window = ssh_channel_window_size(c.channel);
  if (window == 0) return false;
  std::string_view data = q.Front();
  auto len = static_cast<uint32_t>(std::min<size_t>(data.size(), window));
  // Within the window libssh 0.10 queues the whole length and never waits;
  // it writes 0 during a key re-exchange, and the bytes stay queued here.
  int n = is_stderr ? ssh_channel_write_stderr(c.channel, data.data(), len)
                    : ssh_channel_write(c.channel, data.data(), len);
  if (n == SSH_ERROR) {
    if (!SessionDown()) FailChannel(c, "writing the channel: " + LibsshError());
    return false;
  }
  if (n <= 0) return false;
  q.Consume(static_cast<size_t>(n));
  return true;
}

bool Connection::Reap(Channel& c) {
  int status = 0;
  pid_t r = waitpid(c.pid, &status, WNOHANG);
  if (r == 0) {
    c.pidfd.readable = false;
    return false;
  }
  if (r < 0 && errno == EINTR) return true;
  if (r == c.pid) {
    c.wait_status = status;
  } else {
    // ECHILD: SIGCHLD is ignored or someone else reaped it (see the header).
    spdlog::warn("embedded: channel #{}: exit status of pid {} lost: {}", c.id,
                 c.pid, ErrnoText(errno));
  }
  c.reaped = true;
  SetInterest(c.pidfd, 0);
  c.pidfd.fd.reset();
  c.pty.readable = true;  // drain what the program left in the pty
  if (c.wait_status && WIFSIGNALED(*c.wait_status)) {
    spdlog::debug("embedded: channel #{}: pid {} killed by signal {}", c.id,
                  c.pid, WTERMSIG(*c.wait_status));
  } else if (c.wait_status) {
    spdlog::debug("embedded: channel #{}: pid {} exited with {}", c.id, c.pid,
                  WEXITSTATUS(*c.wait_status));
  }
  return true;
}

void Connection::SendExitAndClose(Channel& c) {
  ssh_channel ch = c.channel;
  if (c.wait_status && WIFEXITED(*c.wait_status)) {
    ssh_channel_request_send_exit_status(ch, WEXITSTATUS(*c.wait_status));
  } else if (c.wait_status && WIFSIGNALED(*c.wait_status)) {
    int sig = WTERMSIG(*c.wait_status);
    if (const char* name = RfcSignalName(sig)) {
      ssh_channel_request_send_exit_signal(
          ch, name, WCOREDUMP(*c.wait_status) ? 1 : 0, "", "");
    } else {
      ssh_channel_request_send_exit_status(ch, 128 + sig);
    }
  }
  ssh_channel_send_eof(ch);
  ssh_channel_close(ch);
  c.finished = true;
}

void Connection::FailChannel(Channel& c, const std::string& why) {
  spdlog::debug("embedded: channel #{}: {}", c.id, why);
  // Treated as closed by the client: the program is killed, the channel
  // freed (libssh sends CLOSE if it still can).
  c.remote_closed = true;
}

void Connection::UpdateInterest(Channel& c) {
  if (c.finished) return;
  if (c.pidfd.fd.valid()) {
    SetInterest(c.pidfd, c.pidfd.readable ? 0 : POLLIN);
  }
  if (!c.started || c.remote_closed) {
    for (Watch* w : {&c.pty, &c.in, &c.out, &c.err}) {
      if (w->fd.valid()) SetInterest(*w, 0);
    }
    return;
  }
  const bool window_open = ssh_channel_window_size(c.channel) > 0;
  auto want_read = [&](const Watch& w, const ByteQueue& q, bool eof) {
    return !eof && !w.readable && q.empty() && window_open;
  };
  const bool want_write = !c.input_done && !c.to_program.empty() &&
                          !(c.uses_pty ? c.pty.writable : c.in.writable);
  if (c.uses_pty) {
    short want = want_read(c.pty, c.out_queue, c.out_eof) ? POLLIN : 0;
    if (want_write && !c.pty.hup) want |= POLLOUT;
    SetInterest(c.pty, want);
  } else {
    if (c.in.fd.valid()) SetInterest(c.in, want_write ? POLLOUT : 0);
    if (c.out.fd.valid()) {
      SetInterest(c.out, want_read(c.out, c.out_queue, c.out_eof) ? POLLIN : 0);
    }
    if (c.err.fd.valid()) {
      SetInterest(c.err, want_read(c.err, c.err_queue, c.err_eof) ? POLLIN : 0);
    }
  }
}

void Connection::SetInterest(Watch& w, short want) {
  if (w.registered == want || event_ == nullptr || !w.fd.valid()) return;
  if (w.registered != 0) ssh_event_remove_fd(event_.get(), w.fd.get());
  w.registered = 0;
  if (want == 0) return;
  if (ssh_event_add_fd(event_.get(), w.fd.get(), want, &OnWatchedFd, &w) !=
      SSH_OK) {
    // Out of memory in libssh; without the watch this side cannot progress.
    w.hup = true;
    return;
  }
  w.registered = want;
}

void Connection::KillAndReap(Channel& c) {
  if (!c.started || c.reaped) return;
  // The unreaped leader keeps its process group id from being reused.
  kill(-c.pid, SIGKILL);
  while (waitpid(c.pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  c.reaped = true;
  spdlog::debug("embedded: channel #{}: pid {} killed", c.id, c.pid);
}

void Connection::FreeChannel(Channel& c) {
  for (Watch* w : {&c.pidfd, &c.pty, &c.in, &c.out, &c.err}) {
    if (w->fd.valid()) SetInterest(*w, 0);
    w->fd.reset();
  }
  if (c.started && !c.reaped) KillAndReap(c);
  if (c.channel != nullptr) {
    ssh_remove_channel_callbacks(c.channel, &c.callbacks);
    // Sends CLOSE if the session is alive and one is still due; libssh
    // frees the channel once the client's CLOSE has arrived too.
    ssh_channel_free(c.channel);
    c.channel = nullptr;
  }
  spdlog::debug("embedded: channel #{}: closed", c.id);
}

}  // namespace

Status ServeEmbeddedConnection(UniqueFd fd, const EmbeddedServerConfig& config,
                               int stop_fd) {
  Connection connection(config, stop_fd);
  return connection.Serve(std::move(fd));
}

}  // namespace porthole::ssh
