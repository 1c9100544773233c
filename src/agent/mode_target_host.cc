// target_host: forwarded connections go to a TCP address; the target (an
// sshd) authenticates with the session keys this mode writes into its
// authorized_keys file, counted per connection (PROTOCOL.md 8.3; 13 row 21).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "agent/local_session.h"
#include "agent/modes.h"
#include "core/base/unique_fd.h"
#include "core/keys/session_lines.h"
#include "core/ssh/device_key.h"

namespace porthole::agent {
namespace {

constexpr int kConnectTimeoutMs = 3000;

Result<UniqueFd> ConnectTcp(const config::SocketAddress& to) {
  sockaddr_storage ss = {};
  socklen_t len;
  if (to.ipv6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(to.port);
    inet_pton(AF_INET6, to.ip.c_str(), &a->sin6_addr);
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(to.port);
    inet_pton(AF_INET, to.ip.c_str(), &a->sin_addr);
    len = sizeof *a;
  }
  const std::string name = to.ToString();
  UniqueFd fd(socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
                     0));
  if (!fd.valid()) return PosixError("socket for " + name, errno);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    if (errno != EINPROGRESS) return PosixError("connect to " + name, errno);
    pollfd p = {fd.get(), POLLOUT, 0};
    int n;
    do {
      n = poll(&p, 1, kConnectTimeoutMs);
    } while (n < 0 && errno == EINTR);
    if (n == 0) {
      return Status::Unavailable("connect to " + name + ": timed out");
    }
    int err = 0;
    socklen_t err_len = sizeof err;
    getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &err_len);
    if (err != 0) return PosixError("connect to " + name, err);
  }
  return fd;
}

class TargetHostSession : public LocalSession {
 public:
  explicit TargetHostSession(const config::AgentConfig& config)
      : target_(std::get<config::TargetHostSession>(config.device.session)),
        path_(config.Absolute(target_.authorized_keys_path)) {}

  Status Prepare() override {
    // Keys left behind by a crash (or by RAC) must not stay valid.
    return RemoveKeys("at start");
  }

  Status Start(const SessionPlan& plan) override {
    keys_.clear();
    for (const std::string& line : plan.session.authorized_pubkeys) {
      keys::SessionKey k;
      auto key = keys::ParsePublicKeyLine(line, &k.comment);
      if (!key.ok()) continue;  // PlanSession() parsed them all already
      k.key = std::move(key).value();
      bool dup = false;
      for (const auto& have : keys_) dup |= have.key == k.key;
      if (!dup) keys_.push_back(std::move(k));
    }
    return RemoveKeys("before the session");
  }

  Result<ssh::LocalStream> Open(const ssh::ForwardedConnection&) override {
    if (open_ == 0) {
      Status s = keys::ReplaceSessionLines(
          path_, keys_, ssh::LocalTimeForComment(SystemClockNow()));
      if (!s.ok()) return s;
      spdlog::info("target_host: {} session key(s) written to {}",
                   keys_.size(), path_);
    }
    ++open_;
    Result<UniqueFd> fd = ConnectTcp(target_.host_port);
    if (!fd.ok()) {
      Closed();
      return fd.status();
    }
    return ssh::LocalStream::Duplex(std::move(fd).value()).OnClose([this] {
      Closed();
    });
  }

  void Stop() override {
    if (open_ != 0) {
      spdlog::error("target_host: {} connection(s) still counted at stop",
                    open_);
      open_ = 0;
    }
    Status s = RemoveKeys("at session end");
    if (!s.ok()) spdlog::error("target_host: {}", s.message());
  }

 private:
  static SystemTime SystemClockNow() { return Clock::Real().Now(); }

  void Closed() {
    if (--open_ > 0) return;
    Status s = RemoveKeys("after the last connection");
    if (!s.ok()) spdlog::error("target_host: {}", s.message());
  }

  Status RemoveKeys(std::string_view when) {
    size_t removed = 0;
    Status s = keys::ReplaceSessionLines(path_, {}, "", &removed);
    if (s.ok() && removed > 0) {
      spdlog::info("target_host: removed {} session key line(s) from {} {}",
                   removed, path_, when);
    }
    return s;
  }

  const config::TargetHostSession target_;
  const std::string path_;
  std::vector<keys::SessionKey> keys_;
  int open_ = 0;  // forwarded connections open now
};

}  // namespace

std::unique_ptr<LocalSession> MakeTargetHostSession(
    const config::AgentConfig& config) {
  return std::make_unique<TargetHostSession>(config);
}

}  // namespace porthole::agent
