#include "core/ssh/relay_sshd_for_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/base/file.h"
#include "core/base/unique_fd.h"
#include "core/ssh/device_key.h"

namespace porthole::ssh {

VarLibTempDir::VarLibTempDir() {
  std::string tmpl = "/var/lib/porthole-test.XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) std::abort();
  if (chmod(tmpl.c_str(), 0755) != 0) std::abort();
  path_ = tmpl;
}

VarLibTempDir::~VarLibTempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::optional<size_t> WaitForFileText(const std::string& path,
                                      const std::vector<std::string>& needles,
                                      std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  UniqueFd watch(inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  if (!watch.valid() ||
      inotify_add_watch(watch.get(), path.c_str(), IN_MODIFY) < 0) {
    return std::nullopt;
  }
  for (;;) {
    // Read after arming the watch, so no write can slip in between.
    std::string text = Slurp(path);
    for (size_t i = 0; i < needles.size(); ++i) {
      if (text.find(needles[i]) != std::string::npos) return i;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    struct pollfd p = {watch.get(), POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) > 0) {
      char buf[4096];
      while (read(watch.get(), buf, sizeof buf) > 0) {
      }
    }
  }
}

UniqueFd BindLoopback(uint16_t* port) {
  UniqueFd s(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (!s.valid() || bind(s.get(), reinterpret_cast<sockaddr*>(&a), len) != 0 ||
      getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    std::abort();
  }
  *port = ntohs(a.sin_port);
  return s;
}

uint16_t PickFreePort() {
  uint16_t port = 0;
  BindLoopback(&port);
  return port;
}

std::vector<std::string> SshdNamespaceArgv(const std::string& sshd_args) {
  return {"unshare",
          "-m",
          "-p",
          "-f",
          "--kill-child",
          "--propagation",
          "private",
          "sh",
          "-c",
          "mount -t tmpfs -o mode=755 none /run && mkdir /run/sshd && "
          "exec /usr/sbin/sshd " +
              sshd_args};
}

Result<std::unique_ptr<RelaySshd>> RelaySshd::Start(
    const std::string& authorized_keys, bool ipv6) {
  std::unique_ptr<RelaySshd> r(new RelaySshd());
  const std::string& d = r->dir_.path();
  Result<PrivateKey> host_key = PrivateKey::GenerateEd25519("relay-host-key");
  if (!host_key.ok()) return host_key.status();
  r->host_key_line_ = host_key->PublicKeyLine();
  PH_RETURN_IF_ERROR(AtomicReplace(r->dir_.Join("host_key"),
                                   host_key->file_text(),
                                   ReplaceOptions::NewMode(0600)));
  PH_RETURN_IF_ERROR(AtomicReplace(r->dir_.Join("authorized_keys"),
                                   authorized_keys,
                                   ReplaceOptions::NewMode(0644)));
  r->log_path_ = r->dir_.Join("sshd.log");

  // The port is free when picked, not necessarily when sshd binds it; a
  // lost race shows in the log and is retried with another port.
  for (int attempt = 0; attempt < 5; ++attempt) {
    r->port_ = PickFreePort();
    std::string config =
        "ListenAddress 127.0.0.1:" + std::to_string(r->port_) + "\n" +
        (ipv6 ? "ListenAddress [::1]:" + std::to_string(r->port_) + "\n"
              : std::string()) +
        "HostKey " + d +
        "/host_key\n"
        "AuthorizedKeysFile " +
        d +
        "/authorized_keys\n"
        "AllowTcpForwarding remote\n"
        "GatewayPorts no\n"
        "PermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "UsePAM no\n"
        "PidFile none\n"
        "StrictModes yes\n"
        "LogLevel VERBOSE\n"
        // Like a real relay: it probes idle clients and drops silent ones,
        // which libssh only answers while the tunnel's loop runs.
        "ClientAliveInterval 2\n"
        "ClientAliveCountMax 3\n";
    PH_RETURN_IF_ERROR(AtomicReplace(r->dir_.Join("sshd_config"), config));
    PH_RETURN_IF_ERROR(AtomicReplace(r->log_path_, ""));
    Result<ChildProcess> child = ChildProcess::Start(SshdNamespaceArgv(
        "-D -E " + r->log_path_ + " -f " + d + "/sshd_config"));
    if (!child.ok()) return child.status();
    r->child_.emplace(std::move(*child));
    std::optional<size_t> seen = WaitForFileText(
        r->log_path_,
        {std::string("Server listening on ") + (ipv6 ? "::1" : "127.0.0.1") +
             " port " + std::to_string(r->port_),
         "Bind to port", "fatal:"},
        std::chrono::seconds(10));
    if (seen == 0u) return r;
    r->Kill();
    if (seen != 1u) {
      return Status::Internal("sshd did not start: " + Slurp(r->log_path_));
    }
  }
  return Status::Internal("sshd could not bind a port in 5 attempts");
}

RelaySshd::~RelaySshd() { Kill(); }

std::string RelaySshd::Log() const { return Slurp(log_path_); }

bool RelaySshd::WaitForLog(const std::string& needle,
                           std::chrono::milliseconds timeout) const {
  return WaitForFileText(log_path_, {needle}, timeout).has_value();
}

void RelaySshd::Kill() {
  if (!child_) return;
  // The namespace's init (sshd) is unshare's only child; when it dies the
  // kernel kills everything else in the namespace and unshare exits.
  pid_t pid = child_->pid();
  std::string children = Slurp("/proc/" + std::to_string(pid) + "/task/" +
                               std::to_string(pid) + "/children");
  int inner = std::atoi(children.c_str());
  if (inner > 0) {
    // SIGKILL: a namespace's init ignores signals it has no handler for
    // yet, so a SIGTERM right after start could be lost and Wait() hang.
    kill(inner, SIGKILL);  // the kernel SIGKILLs the rest of the namespace
  } else {
    child_->Signal(SIGKILL);
  }
  child_->Wait();
  child_.reset();
}

}  // namespace porthole::ssh
