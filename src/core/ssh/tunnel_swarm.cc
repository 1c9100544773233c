#include "core/ssh/tunnel_swarm.h"

#include <fcntl.h>
#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>
#include <poll.h>

#include <vector>

namespace porthole::ssh {
namespace {

struct SessionDeleter {
  void operator()(ssh_session s) const {
    ssh_disconnect(s);
    ssh_free(s);
  }
};

// Refuse every channel the relay opens: a benchmark tunnel serves nothing.
int OnMessage(ssh_session, ssh_message, void*) { return 1; }

int OnStop(socket_t, int, void* userdata) {
  *static_cast<bool*>(userdata) = true;
  return 0;
}

}  // namespace

class TunnelSwarm::Impl {
 public:
  explicit Impl(SwarmConfig config)
      : cfg_(std::move(config)), event_(ssh_event_new()) {}
  ~Impl() {
    if (event_ != nullptr) {
      for (auto& s : sessions_) ssh_event_remove_session(event_, s.get());
      ssh_event_free(event_);
    }
  }

  Status Open(size_t i) {
    if (cfg_.key == nullptr) return Status::InvalidArgument("swarm: no key");
    std::unique_ptr<ssh_session_struct, SessionDeleter> s(ssh_new());
    if (s == nullptr) return Status::Internal("swarm: ssh_new");
    std::string user = cfg_.user(i);
    int port = cfg_.port;
    bool no = false;
    if (ssh_options_set(s.get(), SSH_OPTIONS_PROCESS_CONFIG, &no) < 0 ||
        ssh_options_set(s.get(), SSH_OPTIONS_HOST, cfg_.host.c_str()) < 0 ||
        ssh_options_set(s.get(), SSH_OPTIONS_PORT, &port) < 0 ||
        ssh_options_set(s.get(), SSH_OPTIONS_USER, user.c_str()) < 0 ||
        ssh_options_set(s.get(), SSH_OPTIONS_KNOWNHOSTS, "/dev/null") < 0 ||
        ssh_options_set(s.get(), SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null") <
            0) {
      return Status::Internal("swarm: options: " +
                              std::string(ssh_get_error(s.get())));
    }
    ssh_set_message_callback(s.get(), &OnMessage, nullptr);
    auto fail = [&](const char* step) {
      return Status::Unavailable("tunnel " + std::to_string(i) + " (" + user +
                                 "): " + step + ": " + ssh_get_error(s.get()));
    };
    if (ssh_connect(s.get()) != SSH_OK) return fail("connect");
    int fd = ssh_get_fd(s.get());
    int flags = fcntl(fd, F_GETFD);
    if (flags >= 0) fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
    if (ssh_userauth_publickey(s.get(), nullptr, cfg_.key->libssh_key()) !=
        SSH_AUTH_SUCCESS) {
      return fail("authentication");
    }
    int bound = 0;
    if (ssh_channel_listen_forward(s.get(), "127.0.0.1", cfg_.forward_port(i),
                                   &bound) != SSH_OK) {
      return fail("tcpip-forward");
    }
    ssh_set_blocking(s.get(), 0);
    if (ssh_event_add_session(event_, s.get()) != SSH_OK) {
      return fail("event");
    }
    sessions_.push_back(std::move(s));
    return Status::Ok();
  }

  void Poll() {
    if (!sessions_.empty()) ssh_event_dopoll(event_, 0);
  }

  size_t Run(int stop_fd) {
    bool stop = false;
    ssh_event_add_fd(event_, stop_fd, POLLIN, &OnStop, &stop);
    while (!stop) ssh_event_dopoll(event_, 10000);
    ssh_event_remove_fd(event_, stop_fd);
    size_t alive = 0;
    for (auto& s : sessions_) {
      if (ssh_is_connected(s.get())) ++alive;
    }
    return alive;
  }

  size_t size() const { return sessions_.size(); }

 private:
  SwarmConfig cfg_;
  std::vector<std::unique_ptr<ssh_session_struct, SessionDeleter>> sessions_;
  ssh_event event_ = nullptr;
};

TunnelSwarm::TunnelSwarm(SwarmConfig config)
    : impl_(std::make_unique<Impl>(std::move(config))) {}
TunnelSwarm::~TunnelSwarm() = default;
Status TunnelSwarm::Open(size_t i) { return impl_->Open(i); }
void TunnelSwarm::Poll() { impl_->Poll(); }
size_t TunnelSwarm::size() const { return impl_->size(); }
size_t TunnelSwarm::Run(int stop_fd) { return impl_->Run(stop_fd); }

}  // namespace porthole::ssh
