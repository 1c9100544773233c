// embedded: an SSH server inside the agent (core/ssh/embedded_server.h), one
// thread per forwarded connection, spoken over a socketpair whose other end
// the tunnel splices to the channel.
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <list>
#include <memory>
#include <thread>

#include <spdlog/spdlog.h>

#include "agent/local_session.h"
#include "agent/modes.h"
#include "core/base/unique_fd.h"
#include "core/ssh/device_key.h"
#include "core/ssh/embedded_server.h"

namespace porthole::agent {
namespace {

class EmbeddedSession : public LocalSession {
 public:
  explicit EmbeddedSession(const config::AgentConfig& config)
      : mode_(std::get<config::EmbeddedSession>(config.device.session)),
        host_key_path_(mode_.server_key_path
                           ? config.Absolute(*mode_.server_key_path)
                           : DefaultEmbeddedHostKeyPath(config)) {}

  ~EmbeddedSession() override { Stop(); }

  Status Prepare() override {
    PH_ASSIGN_OR_RETURN(ssh::PrivateKey key,
                        ssh::PrivateKey::LoadOrCreate(host_key_path_));
    spdlog::info("embedded: host key {} ({})", host_key_path_,
                 key.public_key().Fingerprint());
    host_key_line_ = HostKeyLine(key.public_key());
    host_key_ = std::make_shared<ssh::PrivateKey>(std::move(key));
    if (access(mode_.shell.c_str(), X_OK) != 0) {
      spdlog::warn("embedded: shell {} is not executable: {}", mode_.shell,
                   std::strerror(errno));
    }
    return Status::Ok();
  }

  Status Start(const SessionPlan& plan) override {
    auto c = std::make_shared<ssh::EmbeddedServerConfig>();
    c->host_key = host_key_.get();
    c->authorized_keys = plan.operator_keys;
    c->shell = mode_.shell;
    server_config_ = std::move(c);
    stop_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!stop_.valid()) return PosixError("eventfd", errno);
    return Status::Ok();
  }

  Result<ssh::LocalStream> Open(const ssh::ForwardedConnection&) override {
    if (server_config_ == nullptr) return Status::FailedPrecondition("no session");
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
      return PosixError("socketpair", errno);
    }
    UniqueFd ours(sv[0]);
    auto worker = std::make_unique<Worker>();
    Worker* w = worker.get();
    // The thread holds its own references: the config and host key live
    // until it ends, whatever happens to this session.
    w->thread = std::thread([w, fd = sv[1], config = server_config_,
                             key = host_key_, stop = stop_.get()]() mutable {
      Status s = ssh::ServeEmbeddedConnection(UniqueFd(fd), *config, stop);
      if (!s.ok()) spdlog::info("embedded: connection ended: {}", s.message());
      w->done = true;
    });
    workers_.push_back(std::move(worker));
    return ssh::LocalStream::Duplex(std::move(ours));
  }

  void Tick() override { JoinFinished(); }

  std::vector<std::string> HostKeys() const override {
    if (host_key_line_.empty()) return {};
    return {host_key_line_};
  }

  void Stop() override {
    if (stop_.valid()) {
      uint64_t one = 1;
      ssize_t ignored = write(stop_.get(), &one, sizeof one);
      (void)ignored;
    }
    for (auto& w : workers_) w->thread.join();
    workers_.clear();
    stop_.reset();
    server_config_.reset();
  }

 private:
  struct Worker {
    std::thread thread;
    std::atomic<bool> done{false};
  };

  void JoinFinished() {
    std::erase_if(workers_, [](const std::unique_ptr<Worker>& w) {
      if (!w->done) return false;
      w->thread.join();
      return true;
    });
  }

  const config::EmbeddedSession mode_;
  const std::string host_key_path_;
  std::shared_ptr<ssh::PrivateKey> host_key_;
  std::string host_key_line_;
  std::shared_ptr<ssh::EmbeddedServerConfig> server_config_;
  UniqueFd stop_;  // eventfd: written at Stop(), read by every worker
  std::list<std::unique_ptr<Worker>> workers_;
};

}  // namespace

std::unique_ptr<LocalSession> MakeEmbeddedSession(
    const config::AgentConfig& config) {
  return std::make_unique<EmbeddedSession>(config);
}

}  // namespace porthole::agent
