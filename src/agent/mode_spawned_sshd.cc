// spawned_sshd: OpenSSH's sshd in inetd mode (`sshd -i`), one per forwarded
// connection, its stdin/stdout a socketpair whose other end the tunnel
// splices to the channel. No listening port, so no free-port race (RAC bug
// 18), and nothing runs while no operator is connected.
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <vector>

#include <spdlog/spdlog.h>

#include "agent/local_session.h"
#include "agent/modes.h"
#include "core/base/file.h"
#include "core/base/subprocess.h"
#include "core/crypto/digest.h"
#include "core/base/unique_fd.h"
#include "core/ssh/device_key.h"

namespace porthole::agent {

std::string SpawnedSshdConfig(const std::string& host_key_path,
                              const std::string& authorized_keys_path,
                              const std::string& allow_user) {
  std::string c =
      "# Written by porthole-agent for spawned_sshd sessions (sshd -i per\n"
      "# connection); rewritten at every agent start. Do not edit.\n"
      "HostKey " + host_key_path + "\n"
      "AuthorizedKeysFile " + authorized_keys_path + "\n"
      "AuthorizedPrincipalsFile none\n"
      "PidFile none\n"
      "StrictModes yes\n"
      "PermitRootLogin no\n"
      "PubkeyAuthentication yes\n"
      "PasswordAuthentication no\n"
      "KbdInteractiveAuthentication no\n"
      "HostbasedAuthentication no\n"
      "UsePAM no\n"
      "PermitUserEnvironment no\n"
      "AllowAgentForwarding no\n"
      "AllowStreamLocalForwarding no\n"
      "AllowTcpForwarding local\n"
      "GatewayPorts no\n"
      "PermitTunnel no\n"
      "X11Forwarding no\n"
      "Subsystem sftp internal-sftp\n"
      "PrintMotd no\n"
      "PrintLastLog no\n"
      "LoginGraceTime 30\n"
      "MaxAuthTries 6\n";
  if (!allow_user.empty()) c += "AllowUsers " + allow_user + "\n";
  return c;
}

namespace {

using SteadyClock = std::chrono::steady_clock;

// How long an sshd may outlive its connection before it is killed.
constexpr auto kLingerAfterClose = std::chrono::seconds(5);

bool DebugLogging() { return spdlog::get_level() <= spdlog::level::debug; }

class SpawnedSshdSession : public LocalSession {
 public:
  explicit SpawnedSshdSession(const config::AgentConfig& config)
      : mode_(std::get<config::SpawnedSshdSession>(config.device.session)),
        sshd_(mode_.sshd_path),
        dir_(config.Absolute(mode_.config_dir)),
        host_key_(config.Absolute(mode_.HostKeyPath())),
        keys_file_(dir_ + "/authorized_keys"),
        conf_file_(dir_ + "/sshd.conf") {}

  ~SpawnedSshdSession() override { KillAll(); }

  Status Prepare() override {
    const bool root = geteuid() == 0;
    if (sshd_.empty() || sshd_[0] != '/') {
      return Status::InvalidArgument(
          "device.session.spawned_sshd.sshd_path: '" + sshd_ +
          "' must be an absolute path (sshd refuses to run otherwise)");
    }
    if (access(sshd_.c_str(), X_OK) != 0) {
      return PosixError("device.session.spawned_sshd.sshd_path: " + sshd_,
                        errno);
    }
    PH_RETURN_IF_ERROR(MakeDirs(dir_, 0700));
    // A root sshd reads authorized_keys as the user logging in, who must be
    // able to reach it (but not list the directory).
    if (chmod(dir_.c_str(), root ? 0711 : 0700) != 0) {
      return PosixError("chmod " + dir_, errno);
    }
    if (root && !PathExists("/run/sshd")) {
      // sshd's privilege separation directory (what ssh.service's
      // RuntimeDirectory makes on a systemd machine).
      if (mkdir("/run/sshd", 0755) != 0 && errno != EEXIST) {
        return PosixError("mkdir /run/sshd (sshd's privilege separation "
                          "directory)",
                          errno);
      }
      spdlog::info("spawned_sshd: created /run/sshd");
    }
    PH_ASSIGN_OR_RETURN(ssh::PrivateKey key,
                        ssh::PrivateKey::LoadOrCreate(host_key_));
    spdlog::info("spawned_sshd: host key {} ({})", host_key_,
                 key.public_key().Fingerprint());
    host_key_line_ = HostKeyLine(key.public_key());
    PH_RETURN_IF_ERROR(WriteKeys(""));
    std::string allow;
    if (!root) {
      passwd* pw = getpwuid(geteuid());
      if (pw == nullptr) {
        return Status::FailedPrecondition(
            "spawned_sshd: the agent's uid " + std::to_string(geteuid()) +
            " has no passwd entry (sshd needs one)");
      }
      allow = pw->pw_name;
    }
    PH_RETURN_IF_ERROR(AtomicReplace(
        conf_file_, SpawnedSshdConfig(host_key_, keys_file_, allow),
        ReplaceOptions::NewMode(0600)));
    // sshd checks its config and host key here, once, rather than failing
    // in front of the first operator.
    PH_ASSIGN_OR_RETURN(RunResult t,
                        RunProcess({sshd_, "-t", "-f", conf_file_},
                                   {.timeout = std::chrono::seconds(10)}));
    if (!t.success()) {
      std::string why = t.err.substr(0, t.err.find('\n'));
      return Status::FailedPrecondition(sshd_ + " -t -f " + conf_file_ +
                                        ": " + (why.empty() ? t.Describe()
                                                            : why));
    }
    return Status::Ok();
  }

  Status Start(const SessionPlan& plan) override {
    std::string text;
    for (const keys::PublicKey& k : plan.operator_keys) {
      text += k.TypeName() + " " + crypto::Base64Encode(k.blob) +
              " porthole session key\n";
    }
    return WriteKeys(text);
  }

  Result<ssh::LocalStream> Open(const ssh::ForwardedConnection&) override {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
      return PosixError("socketpair", errno);
    }
    UniqueFd ours(sv[0]), theirs(sv[1]);
    std::vector<std::string> argv = {sshd_, "-i", "-f", conf_file_};
    if (DebugLogging()) argv.push_back("-e");  // -e only at debug (RAC bug 19)
    PH_ASSIGN_OR_RETURN(pid_t pid,
                        SpawnProcess(argv, {.stdin_fd = theirs.get(),
                                            .stdout_fd = theirs.get(),
                                            .new_process_group = true}));
    children_.push_back({pid, SteadyClock::time_point::max()});
    spdlog::debug("spawned_sshd: sshd -i pid {}", pid);
    return ssh::LocalStream::Duplex(std::move(ours)).OnClose([this, pid] {
      for (Child& c : children_) {
        if (c.pid == pid) c.closed_at = SteadyClock::now();
      }
    });
  }

  void Tick() override { Reap(); }

  std::vector<std::string> HostKeys() const override {
    if (host_key_line_.empty()) return {};
    return {host_key_line_};
  }

  void Stop() override {
    KillAll();
    Status s = WriteKeys("");
    if (!s.ok()) spdlog::error("spawned_sshd: {}", s.message());
  }

 private:
  struct Child {
    pid_t pid;
    SteadyClock::time_point closed_at;  // max() while its stream is open
  };

  Status WriteKeys(const std::string& text) {
    // Public keys only; a root sshd reads the file as the target user.
    return AtomicReplace(keys_file_, text,
                         ReplaceOptions::NewMode(geteuid() == 0 ? 0644 : 0600));
  }

  // Reaps ended children; kills those that outlived their connection.
  void Reap() {
    const auto now = SteadyClock::now();
    std::erase_if(children_, [&](const Child& c) {
      int status;
      if (waitpid(c.pid, &status, WNOHANG) == c.pid) return true;
      if (c.closed_at != SteadyClock::time_point::max() &&
          now - c.closed_at > kLingerAfterClose) {
        kill(-c.pid, SIGKILL);
        waitpid(c.pid, &status, 0);
        return true;
      }
      return false;
    });
  }

  void KillAll() {
    for (const Child& c : children_) kill(-c.pid, SIGTERM);
    const auto deadline = SteadyClock::now() + std::chrono::seconds(2);
    while (!children_.empty() && SteadyClock::now() < deadline) {
      std::erase_if(children_, [](const Child& c) {
        int status;
        return waitpid(c.pid, &status, WNOHANG) == c.pid;
      });
      if (!children_.empty()) usleep(20000);  // bounded: 2 s in all
    }
    for (const Child& c : children_) {
      kill(-c.pid, SIGKILL);
      int status;
      waitpid(c.pid, &status, 0);
    }
    children_.clear();
  }

  const config::SpawnedSshdSession mode_;
  const std::string sshd_, dir_, host_key_, keys_file_, conf_file_;
  std::vector<Child> children_;
  std::string host_key_line_;
};

}  // namespace

std::unique_ptr<LocalSession> MakeSpawnedSshdSession(
    const config::AgentConfig& config) {
  return std::make_unique<SpawnedSshdSession>(config);
}

}  // namespace porthole::agent
