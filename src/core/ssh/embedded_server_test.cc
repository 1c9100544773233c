// The embedded SSH server against real clients: OpenSSH's ssh and sftp over
// loopback TCP (one accepted connection handed to ServeEmbeddedConnection on
// a thread), a client on a pty of a known size for pty tests, and libssh's
// client over a socketpair where OpenSSH cannot be made to do something
// (offer an sk- key without hardware, keep failing, open channels side by
// side).
#include "core/ssh/embedded_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "core/base/file.h"
#include "core/base/subprocess.h"
#include "core/base/test_util.h"
#include "core/keys/test_keys.h"

namespace porthole::ssh {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

// CPU time this process uses during `wall` of doing nothing itself.
keys::PublicKey Key(const std::string& line) {
  Result<keys::PublicKey> k = keys::ParsePublicKeyLine(line);
  if (!k.ok()) std::abort();
  return *k;
}

std::string ReadText(const std::string& path) {
  Result<std::string> r = ReadFile(path, 64 << 20);
  return r.ok() ? *r : "<unreadable " + path + ">";
}

// Captures the default logger's output while alive.
class LogCapture {
 public:
  LogCapture() {
    old_ = spdlog::default_logger();
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    auto logger = std::make_shared<spdlog::logger>("capture", sink);
    logger->set_pattern("%l %v");
    logger->set_level(spdlog::level::debug);
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(old_); }
  std::string str() const {
    spdlog::default_logger()->flush();
    return out_.str();
  }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> old_;
};

// Blocks SIGPIPE on this thread (feeding a client that exits early must
// not kill the test) and drops any it caused. Threads started earlier, such
// as the server's, keep the default: the library must not need this.
class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
  }
  ~ScopedSigpipeBlock() {
    struct timespec zero = {0, 0};
    while (sigtimedwait(&set_, nullptr, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t set_, old_;
};

// Runs ServeEmbeddedConnection on a thread: for the one TCP connection
// accepted on a loopback port, or for a given descriptor. Its stop eventfd
// ends the connection (Stop(), and on every way out of a test).
class Server {
 public:
  static std::unique_ptr<Server> Tcp(EmbeddedServerConfig config) {
    auto s = std::unique_ptr<Server>(new Server(std::move(config)));
    UniqueFd listener(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(listener.get(), reinterpret_cast<sockaddr*>(&a), len) != 0 ||
        listen(listener.get(), 1) != 0 ||
        getsockname(listener.get(), reinterpret_cast<sockaddr*>(&a), &len) !=
            0) {
      std::abort();
    }
    s->port_ = ntohs(a.sin_port);
    s->thread_ = std::thread([srv = s.get(), l = std::move(listener)] {
      // The client may fail before it connects: give up when stopped.
      pollfd p[2] = {{l.get(), POLLIN, 0}, {srv->stop_.get(), POLLIN, 0}};
      if (poll(p, 2, 60000) <= 0 || (p[1].revents & POLLIN)) {
        srv->result_.set_value(Status::Unavailable("test: no client came"));
        return;
      }
      UniqueFd fd(accept4(l.get(), nullptr, nullptr, SOCK_CLOEXEC));
      srv->result_.set_value(
          ServeEmbeddedConnection(std::move(fd), srv->config_, srv->stop_fd()));
    });
    return s;
  }

  static std::unique_ptr<Server> OnFd(EmbeddedServerConfig config,
                                      UniqueFd fd) {
    auto s = std::unique_ptr<Server>(new Server(std::move(config)));
    s->thread_ = std::thread([srv = s.get(), f = std::move(fd)]() mutable {
      srv->result_.set_value(
          ServeEmbeddedConnection(std::move(f), srv->config_, srv->stop_fd()));
    });
    return s;
  }

  ~Server() {
    Stop();
    thread_.join();
  }

  uint16_t port() const { return port_; }
  int stop_fd() const { return stop_.get(); }
  void Stop() {
    uint64_t one = 1;
    ssize_t ignored = write(stop_.get(), &one, sizeof one);
    (void)ignored;
  }

  // How ServeEmbeddedConnection ended; a test failure (and a stop) if it
  // has not within `timeout`.
  Status Wait(std::chrono::milliseconds timeout = 30s) {
    if (!done_.valid()) return last_;
    if (done_.wait_for(timeout) != std::future_status::ready) {
      ADD_FAILURE() << "the server did not end within " << timeout.count()
                    << " ms";
      Stop();
    }
    last_ = done_.get();
    return last_;
  }

 private:
  explicit Server(EmbeddedServerConfig config)
      : config_(std::move(config)),
        stop_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    done_ = result_.get_future();
  }

  EmbeddedServerConfig config_;
  UniqueFd stop_;
  uint16_t port_ = 0;
  std::promise<Status> result_;
  std::future<Status> done_;
  Status last_;
  std::thread thread_;
};

// A program on a pty of a given size, as an operator's terminal.
class PtyProgram {
 public:
  PtyProgram(const std::vector<std::string>& argv, struct winsize size) {
    master_.reset(posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
    char name[128];
    if (!master_.valid() || grantpt(master_.get()) != 0 ||
        unlockpt(master_.get()) != 0 ||
        ptsname_r(master_.get(), name, sizeof name) != 0 ||
        ioctl(master_.get(), TIOCSWINSZ, &size) != 0) {
      std::abort();
    }
    std::vector<std::string> args = argv;
    std::vector<char*> cargs;
    for (auto& a : args) cargs.push_back(a.data());
    cargs.push_back(nullptr);
    pid_ = fork();
    if (pid_ < 0) std::abort();
    if (pid_ == 0) {
      // A session leader opening a tty gets it as controlling terminal.
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      int tty = -1;
      if (setsid() >= 0 && (tty = open(name, O_RDWR)) >= 0 &&
          dup2(tty, 0) == 0 && dup2(tty, 1) == 1 && dup2(tty, 2) == 2) {
        execvp(cargs[0], cargs.data());
      }
      _exit(127);
    }
  }
  ~PtyProgram() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  int master() const { return master_.get(); }
  const std::string& output() const { return output_; }

  // Reads output until `done(output)` holds; false at the deadline or when
  // the program is gone.
  bool ReadUntil(const std::function<bool(const std::string&)>& done,
                 std::chrono::milliseconds timeout) {
    auto deadline = Steady::now() + timeout;
    while (!done(output_)) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline -
                                                               Steady::now());
      pollfd p = {master_.get(), POLLIN, 0};
      if (left.count() <= 0 ||
          poll(&p, 1, static_cast<int>(left.count())) <= 0) {
        return false;
      }
      char buf[4096];
      ssize_t n = read(master_.get(), buf, sizeof buf);
      if (n <= 0) return false;  // EIO: the program is gone
      output_.append(buf, static_cast<size_t>(n));
    }
    return true;
  }

  void Write(std::string_view s) {
    ASSERT_EQ(write(master_.get(), s.data(), s.size()),
              static_cast<ssize_t>(s.size()));
  }

  // Reads to the end of the output, then reaps; the exit code or -1.
  int Wait(std::chrono::milliseconds timeout) {
    ReadUntil([](const std::string&) { return false; }, timeout);
    int status = 0;
    pid_t r = waitpid(pid_, &status, 0);
    pid_ = -1;
    return r > 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  UniqueFd master_;
  pid_t pid_ = -1;
  std::string output_;
};

// libssh's client over a descriptor (a socketpair end).
class LibsshClient {
 public:
  explicit LibsshClient(UniqueFd fd) : fd_(std::move(fd)), session_(ssh_new()) {
    int raw = fd_.get();
    bool no = false;
    long timeout_s = 20;
    ssh_options_set(session_, SSH_OPTIONS_FD, &raw);  // libssh never closes it
    ssh_options_set(session_, SSH_OPTIONS_HOST, "embedded");
    ssh_options_set(session_, SSH_OPTIONS_USER, "operator");
    ssh_options_set(session_, SSH_OPTIONS_PROCESS_CONFIG, &no);
    ssh_options_set(session_, SSH_OPTIONS_KNOWNHOSTS, "/dev/null");
    ssh_options_set(session_, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null");
    ssh_options_set(session_, SSH_OPTIONS_TIMEOUT, &timeout_s);
  }
  ~LibsshClient() {
    ssh_disconnect(session_);
    ssh_free(session_);
    fd_.reset();
  }
  ssh_session get() const { return session_; }
  bool Connect() { return ssh_connect(session_) == SSH_OK; }

  int TryPublicKeyLine(const std::string& line) {
    std::string type = line.substr(0, line.find(' '));
    std::string b64 = line.substr(type.size() + 1);
    b64 = b64.substr(0, b64.find(' '));
    ssh_key key = nullptr;
    if (ssh_pki_import_pubkey_base64(b64.c_str(),
                                     ssh_key_type_from_name(type.c_str()),
                                     &key) != SSH_OK) {
      ADD_FAILURE() << "libssh cannot import " << line;
      return SSH_AUTH_ERROR;
    }
    int rc = ssh_userauth_try_publickey(session_, nullptr, key);
    ssh_key_free(key);
    return rc;
  }

  int LogIn(const std::string& private_key_path) {
    ssh_key key = nullptr;
    if (ssh_pki_import_privkey_file(private_key_path.c_str(), nullptr, nullptr,
                                    nullptr, &key) != SSH_OK) {
      ADD_FAILURE() << "libssh cannot import " << private_key_path;
      return SSH_AUTH_ERROR;
    }
    int rc = ssh_userauth_publickey(session_, nullptr, key);
    ssh_key_free(key);
    return rc;
  }

 private:
  UniqueFd fd_;
  ssh_session session_;
};

class EmbeddedServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    op_line_ = keys::MakeTestKey(dir_->path(), "op", "ed25519", "op@laptop");
    other_line_ = keys::MakeTestKey(dir_->path(), "other", "ed25519");
    ecdsa_line_ = keys::MakeTestKey(dir_->path(), "ecdsa", "ecdsa");
    rsa_line_ = keys::MakeTestKey(dir_->path(), "rsa", "rsa");
    Result<PrivateKey> host = PrivateKey::GenerateEd25519("embedded host");
    if (!host.ok()) std::abort();
    host_key_ = new PrivateKey(std::move(*host));
  }
  static void TearDownTestSuite() {
    delete host_key_;
    delete dir_;
  }

  void SetUp() override { log_ = std::make_unique<LogCapture>(); }
  void TearDown() override { log_.reset(); }

  static std::string KeyPath(const std::string& name) {
    return dir_->Join(name);
  }

  // The session lists the operator's key under another comment: only key
  // material counts.
  EmbeddedServerConfig Config() const {
    std::string line = op_line_.substr(0, op_line_.rfind(' ')) + " rac-session";
    EmbeddedServerConfig c;
    c.host_key = host_key_;
    c.authorized_keys = {Key(line), Key(ecdsa_line_), Key(rsa_line_)};
    return c;
  }

  static std::vector<std::string> SshOptions(const std::string& key) {
    return {"-F", "/dev/null",
            "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null",
            "-o", "BatchMode=yes",
            "-o", "LogLevel=ERROR",
            "-o", "IdentitiesOnly=yes",
            "-o", "IdentityAgent=none",
            "-i", KeyPath(key)};
  }

  static std::vector<std::string> SshArgv(const Server& server,
                                          const std::string& key,
                                          std::vector<std::string> options,
                                          std::vector<std::string> remote) {
    std::vector<std::string> argv = {"ssh"};
    for (auto& o : SshOptions(key)) argv.push_back(o);
    argv.push_back("-p");
    argv.push_back(std::to_string(server.port()));
    for (auto& o : options) argv.push_back(o);
    argv.push_back("operator@127.0.0.1");
    for (auto& r : remote) argv.push_back(r);
    return argv;
  }

  static RunResult Ssh(const Server& server, const std::string& key,
                       std::vector<std::string> options,
                       std::vector<std::string> remote,
                       std::optional<std::string> input = std::nullopt,
                       std::vector<std::string> env = {}) {
    porthole::RunOptions o;
    o.stdin_data = std::move(input);
    o.env = std::move(env);
    o.timeout = 60s;
    Result<RunResult> r = RunProcess(
        SshArgv(server, key, std::move(options), std::move(remote)), o);
    if (!r.ok()) {
      ADD_FAILURE() << r.status().message();
      return RunResult();
    }
    return *r;
  }

  std::string Log() const { return log_->str(); }

  static TempDir* dir_;
  static PrivateKey* host_key_;
  static std::string op_line_, other_line_, ecdsa_line_, rsa_line_;
  std::unique_ptr<LogCapture> log_;
};

TempDir* EmbeddedServerTest::dir_ = nullptr;
PrivateKey* EmbeddedServerTest::host_key_ = nullptr;
std::string EmbeddedServerTest::op_line_, EmbeddedServerTest::other_line_,
    EmbeddedServerTest::ecdsa_line_, EmbeddedServerTest::rsa_line_;

TEST_F(EmbeddedServerTest, ExecWithoutPtySeparatesStreamsAndReportsExit) {
  auto server = Server::Tcp(Config());
  RunResult r = Ssh(*server, "op", {}, {"echo out; echo err >&2; exit 3"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  EXPECT_TRUE(server->Wait().ok()) << server->Wait().message();
  std::string log = Log();
  EXPECT_NE(log.find("info embedded: accepted key ED25519 " +
                     Key(op_line_).Fingerprint() + " for 'operator'"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("debug embedded: channel #1: exec 'echo out; echo err "
                     ">&2; exit 3'"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("info embedded: connection closed by the client"),
            std::string::npos)
      << log;
}

TEST_F(EmbeddedServerTest, StdinRoundTripsOneMebibyte) {
  auto server = Server::Tcp(Config());
  const std::string data = RandomBytes(1 << 20, 7);
  ScopedSigpipeBlock no_sigpipe;
  RunResult r = Ssh(*server, "op", {}, {"cat"}, data);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.size(), data.size());
  EXPECT_TRUE(r.out == data);
  EXPECT_TRUE(server->Wait().ok());
}

TEST_F(EmbeddedServerTest, ProgramThatStopsReadingDoesNotStallOrSignal) {
  // head exits after 10 bytes; the rest of the client's megabyte is
  // dropped (EPIPE, no SIGPIPE in the server's thread).
  auto server = Server::Tcp(Config());
  ScopedSigpipeBlock no_sigpipe;
  RunResult r = Ssh(*server, "op", {}, {"head -c 10; echo; echo done"},
                    RandomBytes(1 << 20, 3));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.size(), 10u + 1 + 5);
  EXPECT_TRUE(r.out.ends_with("\ndone\n"));
  EXPECT_TRUE(server->Wait().ok());
}

TEST_F(EmbeddedServerTest, AccountEnvironmentAndAcceptedEnvRequests) {
  struct passwd* pw = getpwuid(geteuid());
  ASSERT_NE(pw, nullptr);
  auto server = Server::Tcp(Config());
  RunResult r =
      Ssh(*server, "op", {"-o", "SetEnv=LANG=xx_YY.UTF-8 LC_TIME=C FOO=bar"},
          {"echo \"$HOME|$USER|$LOGNAME|$SHELL|$(pwd)|$LANG|$LC_TIME|"
           "${FOO-unset}|$(printenv TERM || echo unset)|"
           "${SSH_TTY-unset}\""});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, std::string(pw->pw_dir) + "|" + pw->pw_name + "|" +
                       pw->pw_name + "|/bin/bash|" + pw->pw_dir +
                       "|xx_YY.UTF-8|C|unset|unset|unset\n");
  EXPECT_TRUE(server->Wait().ok());
  EXPECT_NE(Log().find("debug embedded: channel #1: refused env FOO"),
            std::string::npos)
      << Log();
}

TEST_F(EmbeddedServerTest, ExecWithPtyRunsOnATerminal) {
  auto server = Server::Tcp(Config());
  RunResult r = Ssh(*server, "op", {"-tt"}, {"tty; echo $TERM; exit 4"},
                    std::nullopt, {"TERM=vt220"});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_EQ(r.out.rfind("/dev/pts/", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("\r\nvt220\r\n"), std::string::npos) << r.out;
  EXPECT_TRUE(server->Wait().ok());
}

TEST_F(EmbeddedServerTest, ShellWithPtyGetsTermAndExitStatus) {
  auto server = Server::Tcp(Config());
  ScopedSigpipeBlock no_sigpipe;
  RunResult r = Ssh(*server, "op", {"-tt"}, {},
                    "echo \"T=$TERM S=$0\"\nexit 7\n", {"TERM=xterm-256color"});
  EXPECT_EQ(r.exit_code, 7) << r.err;
  // The typed line is echoed as typed; the expanded one shows the values.
  EXPECT_NE(r.out.find("T=xterm-256color S=-bash"), std::string::npos) << r.out;
  EXPECT_TRUE(server->Wait().ok());
  EXPECT_NE(
      Log().find("debug embedded: channel #1: pty-req TERM=xterm-256color"),
      std::string::npos)
      << Log();
}

TEST_F(EmbeddedServerTest, PtySizeFollowsTheClientsTerminal) {
  auto server = Server::Tcp(Config());
  struct winsize size = {};
  size.ws_row = 40;
  size.ws_col = 120;
  PtyProgram ssh(SshArgv(*server, "op", {"-tt"},
                         {"stty size; while read x; do stty size; done"}),
                 size);
  auto sizes = [](const std::string& out) {
    return Count(out, "40 120\r\n") + Count(out, "50 132\r\n");
  };
  ASSERT_TRUE(ssh.ReadUntil(
      [&](const std::string& out) { return sizes(out) == 1; }, 30s))
      << ssh.output();
  EXPECT_EQ(Count(ssh.output(), "40 120\r\n"), 1u);
  // Resizing the client's terminal sends it SIGWINCH, and it sends
  // window-change. Each line typed makes the remote side print its size
  // again; the new size shows once the window-change has been applied.
  size.ws_row = 50;
  size.ws_col = 132;
  ASSERT_EQ(ioctl(ssh.master(), TIOCSWINSZ, &size), 0);
  for (size_t printed = 1; printed < 20; ++printed) {
    if (Count(ssh.output(), "50 132\r\n") > 0) break;
    ssh.Write("\n");
    ASSERT_TRUE(ssh.ReadUntil(
        [&](const std::string& out) { return sizes(out) > printed; }, 30s))
        << ssh.output();
  }
  EXPECT_EQ(Count(ssh.output(), "50 132\r\n"), 1u) << ssh.output();
  ssh.Write("\x04");  // EOF for `read`: the loop ends
  EXPECT_EQ(ssh.Wait(30s), 0) << ssh.output();
  EXPECT_TRUE(server->Wait().ok());
  EXPECT_NE(Log().find("debug embedded: channel #1: window-change 132x50"),
            std::string::npos)
      << Log();
}

TEST_F(EmbeddedServerTest, SftpPutAndGetAreByteIdentical) {
  auto server = Server::Tcp(Config());
  TempDir work;
  const std::string data = RandomBytes(700 * 1024, 11);
  ASSERT_TRUE(AtomicReplace(work.Join("up"), data).ok());
  {
    std::ofstream batch(work.Join("batch"));
    batch << "put " << work.Join("up") << " " << work.Join("remote") << "\n"
          << "get " << work.Join("remote") << " " << work.Join("down") << "\n"
          << "ls -l " << work.Join("remote") << "\n";
  }
  std::vector<std::string> argv = {"sftp"};
  for (auto& o : SshOptions("op")) argv.push_back(o);
  argv.insert(argv.end(), {"-P", std::to_string(server->port()), "-b",
                           work.Join("batch"), "operator@127.0.0.1"});
  porthole::RunOptions o;
  o.timeout = 60s;
  Result<RunResult> r = RunProcess(argv, o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->exit_code, 0) << r->out << r->err;
  EXPECT_TRUE(ReadText(work.Join("remote")) == data);
  EXPECT_TRUE(ReadText(work.Join("down")) == data);
  EXPECT_TRUE(server->Wait().ok());
  EXPECT_NE(Log().find("debug embedded: channel #1: subsystem sftp\n"),
            std::string::npos)
      << Log();
}

TEST_F(EmbeddedServerTest, EcdsaAndRsaKeysLogIn) {
  for (std::string key : {"ecdsa", "rsa"}) {
    SCOPED_TRACE(key);
    auto server = Server::Tcp(Config());
    RunResult r = Ssh(*server, key, {}, {"echo ok"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "ok\n");
    EXPECT_TRUE(server->Wait().ok());
  }
  EXPECT_NE(Log().find("accepted key ECDSA " + Key(ecdsa_line_).Fingerprint()),
            std::string::npos);
  EXPECT_NE(Log().find("accepted key RSA " + Key(rsa_line_).Fingerprint()),
            std::string::npos);
}

TEST_F(EmbeddedServerTest, KeyNotInTheSessionIsRefused) {
  auto server = Server::Tcp(Config());
  RunResult r = Ssh(*server, "other", {}, {"echo hello"});
  EXPECT_EQ(r.exit_code, 255);
  EXPECT_NE(r.err.find("Permission denied (publickey)"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.out, "");
  Status s = server->Wait();
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied) << s.message();
  EXPECT_EQ(s.message().rfind("embedded: authentication failed: the client "
                              "left after 1 refused attempt",
                              0),
            0u)
      << s.message();
  EXPECT_NE(Log().find("info embedded: refused key ED25519 " +
                       Key(other_line_).Fingerprint() +
                       " for 'operator': not a session key"),
            std::string::npos)
      << Log();
}

TEST_F(EmbeddedServerTest, SkKeysAreRefusedEvenWhenListed) {
  const std::string dir =
      std::string(PORTHOLE_SOURCE_DIR) + "/src/core/keys/testdata/";
  std::string sk_ed = ReadText(dir + "sk-ed25519.pub");
  std::string sk_ec = ReadText(dir + "sk-ecdsa.pub");
  sk_ed = sk_ed.substr(0, sk_ed.find('\n'));
  sk_ec = sk_ec.substr(0, sk_ec.find('\n'));
  EmbeddedServerConfig config = Config();
  config.authorized_keys.push_back(Key(sk_ed));
  config.authorized_keys.push_back(Key(sk_ec));
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  auto server = Server::OnFd(config, UniqueFd(sv[1]));
  {
    LibsshClient client{UniqueFd(sv[0])};
    ASSERT_TRUE(client.Connect()) << ssh_get_error(client.get());
    EXPECT_EQ(ssh_userauth_none(client.get(), nullptr), SSH_AUTH_DENIED);
    EXPECT_EQ(ssh_userauth_list(client.get(), nullptr),
              SSH_AUTH_METHOD_PUBLICKEY);
    EXPECT_EQ(client.TryPublicKeyLine(sk_ed), SSH_AUTH_DENIED);
    EXPECT_EQ(client.TryPublicKeyLine(sk_ed), SSH_AUTH_DENIED);
    EXPECT_EQ(client.TryPublicKeyLine(sk_ec), SSH_AUTH_DENIED);
    EXPECT_EQ(ssh_userauth_password(client.get(), nullptr, "secret"),
              SSH_AUTH_DENIED);
    EXPECT_EQ(ssh_userauth_kbdint(client.get(), nullptr, nullptr),
              SSH_AUTH_DENIED);
    // The listed ed25519 key still works on the same connection.
    EXPECT_EQ(client.LogIn(KeyPath("op")), SSH_AUTH_SUCCESS);
  }
  EXPECT_TRUE(server->Wait().ok()) << server->Wait().message();
  std::string log = Log();
  const std::string why =
      ": libssh 0.10 cannot enforce user presence; use spawned_sshd\n";
  EXPECT_EQ(Count(log, "warning embedded mode refuses sk- key ED25519-SK " +
                           Key(sk_ed).Fingerprint() + why),
            1u)
      << log;
  EXPECT_EQ(Count(log, "warning embedded mode refuses sk- key ECDSA-SK " +
                           Key(sk_ec).Fingerprint() + why),
            1u)
      << log;
  EXPECT_NE(log.find("info embedded: refused password authentication for "
                     "'operator'"),
            std::string::npos)
      << log;
}

TEST_F(EmbeddedServerTest, TooManyFailuresDropTheConnection) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  auto server = Server::OnFd(Config(), UniqueFd(sv[1]));
  LibsshClient client{UniqueFd(sv[0])};
  ASSERT_TRUE(client.Connect()) << ssh_get_error(client.get());
  for (int i = 0; i < kMaxAuthFailures; ++i) {
    ASSERT_EQ(ssh_userauth_password(client.get(), nullptr, "guess"),
              SSH_AUTH_DENIED)
        << "attempt " << i + 1;
  }
  // The tenth refusal ends the connection without the client's help.
  Status s = server->Wait(10s);
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(s.message(),
            "embedded: authentication failed: too many refused attempts (10)");
}

TEST_F(EmbeddedServerTest, LoginGraceEndsASilentClient) {
  EmbeddedServerConfig config = Config();
  config.login_grace = 300ms;
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  UniqueFd client(sv[0]);
  auto start = Steady::now();
  auto server = Server::OnFd(config, UniqueFd(sv[1]));
  Status s = server->Wait(10s);
  auto took = Steady::now() - start;
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.message(),
            "embedded: login grace time (300 ms) expired before "
            "authentication");
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 5s);
  // The client saw the banner, then the connection end.
  std::string got;
  char buf[4096];
  ssize_t n;
  while ((n = read(client.get(), buf, sizeof buf)) > 0) got.append(buf, n);
  EXPECT_EQ(got.rfind("SSH-2.0-", 0), 0u) << got;
}

TEST_F(EmbeddedServerTest, LoginGraceAlsoEndsAClientThatStopsMidway) {
  // Key exchange done, then nothing: the state an unanswered bad signature
  // leaves a client in.
  EmbeddedServerConfig config = Config();
  config.login_grace = 1000ms;
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  auto server = Server::OnFd(config, UniqueFd(sv[1]));
  LibsshClient client{UniqueFd(sv[0])};
  ASSERT_TRUE(client.Connect()) << ssh_get_error(client.get());
  Status s = server->Wait(10s);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.message();
  int rc = ssh_userauth_none(client.get(), nullptr);
  EXPECT_NE(rc, SSH_AUTH_SUCCESS);
  EXPECT_NE(rc, SSH_AUTH_DENIED);
}

TEST_F(EmbeddedServerTest, StopEndsALiveConnectionAndKillsItsProcesses) {
  // Orphans re-parent to this process, so the background child's end can be
  // seen (and it is reaped here, not left to a PID 1 that may not reap).
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  struct Unset {
    ~Unset() { prctl(PR_SET_CHILD_SUBREAPER, 0); }
  } unset_subreaper;
  auto server = Server::Tcp(Config());
  Result<ChildProcess> ssh = ChildProcess::Start(
      SshArgv(*server, "op", {"-q"}, {"sleep 1000 & echo $$ $!; wait"}),
      {.pipe_stdout = true});
  ASSERT_TRUE(ssh.ok()) << ssh.status().message();
  Result<std::string> line = ssh->ReadLine(30s);
  ASSERT_TRUE(line.ok()) << line.status().message();
  pid_t shell = 0, background = 0;
  ASSERT_EQ(sscanf(line->c_str(), "%d %d", &shell, &background), 2) << *line;
  ASSERT_EQ(kill(shell, 0), 0);
  // A live, quiet session costs no CPU: the server sleeps in poll.
  EXPECT_LT(CpuSecondsDuring(500ms), 0.05);

  auto start = Steady::now();
  server->Stop();
  Status s = server->Wait(10s);
  EXPECT_TRUE(s.ok()) << s.message();
  EXPECT_LT(Steady::now() - start, 3s);
  // The shell was reaped by the server; the background sleep, in its
  // process group, was killed too (and reaped here, or by the shell when
  // it died first).
  EXPECT_EQ(kill(shell, 0), -1);
  EXPECT_EQ(errno, ESRCH);
  int status = 0;
  if (waitpid(background, &status, 0) == background) {
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  } else {
    EXPECT_EQ(errno, ECHILD);
  }
  EXPECT_EQ(kill(background, 0), -1);
  EXPECT_EQ(errno, ESRCH);
  EXPECT_EQ(ssh->Wait().exit_code, 255);
  EXPECT_NE(Log().find("info embedded: connection stopped by the agent"),
            std::string::npos);
}

TEST_F(EmbeddedServerTest, IdleTimeoutDropsASilentSession) {
  EmbeddedServerConfig config = Config();
  config.idle_timeout = 500ms;
  auto server = Server::Tcp(config);
  auto start = Steady::now();
  RunResult r = Ssh(*server, "op", {}, {"sleep 1000"});
  EXPECT_EQ(r.exit_code, 255);
  EXPECT_LT(Steady::now() - start, 20s);
  EXPECT_TRUE(server->Wait().ok());
  EXPECT_NE(Log().find("info embedded: no traffic for 500 ms, disconnecting"),
            std::string::npos)
      << Log();
}

TEST_F(EmbeddedServerTest, ProgramThatCannotStartFailsTheRequest) {
  EmbeddedServerConfig config = Config();
  config.shell = "/nonexistent/shell";
  auto server = Server::Tcp(config);
  RunResult r = Ssh(*server, "op", {}, {"true"});
  EXPECT_EQ(r.exit_code, 255);
  EXPECT_NE(r.err.find("exec request failed"), std::string::npos) << r.err;
  EXPECT_TRUE(server->Wait().ok());
  EXPECT_NE(Log().find("warning embedded: channel #1: cannot start exec: "
                       "/nonexistent/shell: No such file or directory"),
            std::string::npos)
      << Log();
}

TEST_F(EmbeddedServerTest, ForwardingIsRefused) {
  auto server = Server::Tcp(Config());
  RunResult r = Ssh(*server, "op", {"-W", "127.0.0.1:9"}, {});
  EXPECT_EQ(r.exit_code, 255);
  EXPECT_TRUE(server->Wait().ok());
  EXPECT_NE(Log().find("info embedded: refused a direct-tcpip channel"),
            std::string::npos)
      << Log();
}

TEST_F(EmbeddedServerTest, SeveralChannelsOnOneConnection) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  auto server = Server::OnFd(Config(), UniqueFd(sv[1]));
  {
    LibsshClient client{UniqueFd(sv[0])};
    ASSERT_TRUE(client.Connect()) << ssh_get_error(client.get());
    ASSERT_EQ(client.LogIn(KeyPath("op")), SSH_AUTH_SUCCESS);
    // The server shows the configured host key.
    ssh_key host = nullptr;
    ASSERT_EQ(ssh_get_server_publickey(client.get(), &host), SSH_OK);
    char* b64 = nullptr;
    ASSERT_EQ(ssh_pki_export_pubkey_base64(host, &b64), SSH_OK);
    EXPECT_TRUE(Key("ssh-ed25519 " + std::string(b64)) ==
                host_key_->public_key());
    ssh_string_free_char(b64);
    ssh_key_free(host);
    std::vector<ssh_channel> channels;
    for (int i = 0; i < 3; ++i) {
      ssh_channel ch = ssh_channel_new(client.get());
      ASSERT_EQ(ssh_channel_open_session(ch), SSH_OK);
      // Each waits for input, so all three run at the same time.
      std::string cmd = "read x; echo $x-" + std::to_string(i) + "; exit " +
                        std::to_string(10 + i);
      ASSERT_EQ(ssh_channel_request_exec(ch, cmd.c_str()), SSH_OK);
      channels.push_back(ch);
    }
    // A second program on a channel is refused.
    EXPECT_EQ(ssh_channel_request_exec(channels[0], "true"), SSH_ERROR);
    for (int i = 2; i >= 0; --i) {
      ssh_channel ch = channels[static_cast<size_t>(i)];
      ASSERT_EQ(ssh_channel_write(ch, "go\n", 3), 3);
      ASSERT_EQ(ssh_channel_send_eof(ch), SSH_OK);
      std::string out;
      char buf[256];
      int n;
      while ((n = ssh_channel_read(ch, buf, sizeof buf, 0)) > 0) {
        out.append(buf, static_cast<size_t>(n));
      }
      EXPECT_EQ(out, "go-" + std::to_string(i) + "\n");
      EXPECT_EQ(ssh_channel_get_exit_status(ch), 10 + i);
      ssh_channel_close(ch);
      ssh_channel_free(ch);
    }
  }
  EXPECT_TRUE(server->Wait().ok()) << server->Wait().message() << Log();
}

// Bytes the process has written so far (/proc/PID/io wchar); -1 if gone.
long long BytesWritten(pid_t pid) {
  std::ifstream io("/proc/" + std::to_string(pid) + "/io");
  std::string key;
  long long value;
  while (io >> key >> value) {
    if (key == "wchar:") return value;
  }
  return -1;
}

// Reads one line of `is_stderr` data from a libssh channel.
std::string ReadChannelLine(ssh_channel ch, int is_stderr) {
  std::string line;
  char c;
  while (line.find('\n') == std::string::npos &&
         ssh_channel_read(ch, &c, 1, is_stderr) == 1) {
    line += c;
  }
  return line;
}

TEST_F(EmbeddedServerTest, OutputIsReadOnlyAsFastAsTheClientTakesIt) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  auto server = Server::OnFd(Config(), UniqueFd(sv[1]));
  LibsshClient client{UniqueFd(sv[0])};
  ASSERT_TRUE(client.Connect()) << ssh_get_error(client.get());
  ASSERT_EQ(client.LogIn(KeyPath("op")), SSH_AUTH_SUCCESS);
  ssh_channel ch = ssh_channel_new(client.get());
  ASSERT_EQ(ssh_channel_open_session(ch), SSH_OK);
  constexpr long long kTotal = 16 << 20;
  std::string cmd =
      "echo $$ >&2; exec head -c " + std::to_string(kTotal) + " /dev/zero";
  ASSERT_EQ(ssh_channel_request_exec(ch, cmd.c_str()), SSH_OK);
  pid_t pid = std::stoi(ReadChannelLine(ch, 1));

  // The client reads no stdout now. Sample what the program has written
  // until it stops growing: it must stall near the client's window (libssh
  // grants about 1.28 MB), not run through the whole output.
  long long written = BytesWritten(pid), stable_for = 0;
  for (auto deadline = Steady::now() + 20s;
       stable_for < 4 && Steady::now() < deadline;) {
    std::this_thread::sleep_for(50ms);  // sampling, not synchronising
    long long now = BytesWritten(pid);
    stable_for = now == written ? stable_for + 1 : 0;
    written = now;
  }
  EXPECT_EQ(stable_for, 4) << "the program never stalled";
  EXPECT_GT(written, 0);
  EXPECT_LT(written, 2500 * 1024) << "written before the client read";
  // Stalled on both sides (window closed, pipe full): no spinning.
  EXPECT_LT(CpuSecondsDuring(500ms), 0.05);

  long long got = 0;
  char buf[65536];
  int n;
  while ((n = ssh_channel_read(ch, buf, sizeof buf, 0)) > 0) got += n;
  EXPECT_EQ(got, kTotal);
  EXPECT_EQ(ssh_channel_get_exit_status(ch), 0);
  ssh_channel_free(ch);
}

TEST_F(EmbeddedServerTest, ExitSignalIsReported) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  auto server = Server::OnFd(Config(), UniqueFd(sv[1]));
  LibsshClient client{UniqueFd(sv[0])};
  ASSERT_TRUE(client.Connect()) << ssh_get_error(client.get());
  ASSERT_EQ(client.LogIn(KeyPath("op")), SSH_AUTH_SUCCESS);
  struct Seen {
    std::string signal;
  } seen;
  struct ssh_channel_callbacks_struct cb = {};
  ssh_callbacks_init(&cb);
  cb.userdata = &seen;
  cb.channel_exit_signal_function = [](ssh_session, ssh_channel,
                                       const char* signal, int, const char*,
                                       const char*, void* userdata) {
    static_cast<Seen*>(userdata)->signal = signal;
  };
  // TERM has an RFC 4254 name; VTALRM has none and becomes 128+N.
  for (auto [command, signal, status] :
       {std::tuple<std::string, std::string, int>{"kill -TERM $$", "TERM", -1},
        {"kill -VTALRM $$", "", 128 + SIGVTALRM}}) {
    SCOPED_TRACE(command);
    seen.signal.clear();
    ssh_channel ch = ssh_channel_new(client.get());
    ASSERT_EQ(ssh_channel_open_session(ch), SSH_OK);
    ssh_set_channel_callbacks(ch, &cb);
    ASSERT_EQ(ssh_channel_request_exec(ch, command.c_str()), SSH_OK);
    char buf[256];
    while (ssh_channel_read(ch, buf, sizeof buf, 0) > 0) {
    }
    EXPECT_EQ(ssh_channel_get_exit_status(ch), status);
    EXPECT_EQ(seen.signal, signal);
    ssh_remove_channel_callbacks(ch, &cb);
    ssh_channel_free(ch);
  }
}

TEST_F(EmbeddedServerTest, EveryChannelRequestIsAnswered) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  auto server = Server::OnFd(Config(), UniqueFd(sv[1]));
  {
    LibsshClient client{UniqueFd(sv[0])};
    ASSERT_TRUE(client.Connect()) << ssh_get_error(client.get());
    ASSERT_EQ(client.LogIn(KeyPath("op")), SSH_AUTH_SUCCESS);
    ssh_channel ch = ssh_channel_new(client.get());
    ASSERT_EQ(ssh_channel_open_session(ch), SSH_OK);
    EXPECT_EQ(ssh_channel_request_env(ch, "LANG", "C.UTF-8"), SSH_OK);
    EXPECT_EQ(ssh_channel_request_env(ch, "LD_PRELOAD", "/x.so"), SSH_ERROR);
    EXPECT_EQ(ssh_channel_request_x11(ch, 0, nullptr, nullptr, 0), SSH_ERROR);
    EXPECT_EQ(ssh_channel_request_pty_size(ch, "vt100", 100, 30), SSH_OK);
    EXPECT_EQ(ssh_channel_request_pty_size(ch, "vt100", 100, 30), SSH_ERROR);
    EXPECT_EQ(ssh_channel_request_subsystem(ch, "netconf"), SSH_ERROR);
    int bound = 0;
    EXPECT_EQ(ssh_channel_listen_forward(client.get(), "127.0.0.1", 0, &bound),
              SSH_ERROR);
    ssh_channel fwd = ssh_channel_new(client.get());
    EXPECT_EQ(ssh_channel_open_forward(fwd, "127.0.0.1", 22, "127.0.0.1", 1),
              SSH_ERROR);
    ssh_channel_free(fwd);

    // At most kMaxSessionChannels at once.
    std::vector<ssh_channel> more;
    for (size_t i = 1; i <= kMaxSessionChannels; ++i) {
      ssh_channel extra = ssh_channel_new(client.get());
      int rc = ssh_channel_open_session(extra);
      if (i < kMaxSessionChannels) {
        EXPECT_EQ(rc, SSH_OK) << i;
      } else {
        EXPECT_EQ(rc, SSH_ERROR) << i;
      }
      more.push_back(extra);
    }
    for (ssh_channel extra : more) ssh_channel_free(extra);

    ASSERT_EQ(ssh_channel_request_exec(ch, "echo $LANG $TERM; stty size"),
              SSH_OK);
    std::string out;
    char buf[256];
    int n;
    while ((n = ssh_channel_read(ch, buf, sizeof buf, 0)) > 0) {
      out.append(buf, static_cast<size_t>(n));
    }
    EXPECT_EQ(out, "C.UTF-8 vt100\r\n30 100\r\n");
    EXPECT_EQ(ssh_channel_get_exit_status(ch), 0);
    ssh_channel_free(ch);
  }
  EXPECT_TRUE(server->Wait().ok()) << server->Wait().message();
  std::string log = Log();
  EXPECT_NE(log.find("info embedded: channel #1: refused subsystem 'netconf'"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("info embedded: refused a direct-tcpip channel"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("info embedded: refused a session channel: already 10 "
                     "open"),
            std::string::npos)
      << log;
}

TEST_F(EmbeddedServerTest, ConfigErrorsAreNamed) {
  EmbeddedServerConfig no_key = Config();
  no_key.host_key = nullptr;
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  UniqueFd peer(sv[0]);
  Status s = ServeEmbeddedConnection(UniqueFd(sv[1]), no_key, -1);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "embedded: no host key");
  char c;
  EXPECT_EQ(read(peer.get(), &c, 1), 0);  // the descriptor was closed

  EmbeddedServerConfig relative = Config();
  relative.shell = "bash";
  s = ServeEmbeddedConnection(UniqueFd(), relative, -1);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "embedded: shell and sftp_server must be absolute paths");
}

}  // namespace
}  // namespace porthole::ssh
