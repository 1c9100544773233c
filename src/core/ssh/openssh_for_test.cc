#include "core/ssh/openssh_for_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "core/base/file.h"
#include "core/base/subprocess.h"

namespace porthole::ssh {

Result<TestKey> MakeTestKey(const std::string& dir, const std::string& name,
                            const std::string& type,
                            const std::vector<std::string>& extra) {
  TestKey k;
  k.path = dir + "/" + name;
  std::vector<std::string> argv = {"ssh-keygen", "-q", "-t", type, "-N",
                                   "",           "-C", name, "-f", k.path};
  argv.insert(argv.end(), extra.begin(), extra.end());
  PH_ASSIGN_OR_RETURN(RunResult r, RunProcess(argv));
  if (!r.success()) {
    return Status::Internal("ssh-keygen " + name + ": " + r.Describe() + ": " +
                            r.err);
  }
  PH_ASSIGN_OR_RETURN(std::string pub, ReadFile(k.path + ".pub", 1 << 16));
  while (!pub.empty() && (pub.back() == '\n' || pub.back() == '\r')) {
    pub.pop_back();
  }
  k.pub_line = pub;
  PH_ASSIGN_OR_RETURN(k.key, keys::ParsePublicKeyLine(pub));
  return k;
}

std::vector<std::string> SshArgv(uint16_t port, const std::string& identity,
                                 const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"ssh",
                                   "-F",
                                   "/dev/null",
                                   "-o",
                                   "UserKnownHostsFile=/dev/null",
                                   "-o",
                                   "GlobalKnownHostsFile=/dev/null",
                                   "-o",
                                   "StrictHostKeyChecking=no",
                                   "-o",
                                   "BatchMode=yes",
                                   "-o",
                                   "IdentitiesOnly=yes",
                                   "-o",
                                   "LogLevel=ERROR",
                                   "-o",
                                   "ConnectTimeout=10",
                                   "-p",
                                   std::to_string(port)};
  if (!identity.empty()) {
    argv.push_back("-i");
    argv.push_back(identity);
  } else {
    argv.push_back("-o");
    argv.push_back("IdentityFile=/dev/null");
  }
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

UniqueFd ConnectLoopback(uint16_t port) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (!fd.valid() ||
      connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    return UniqueFd();
  }
  return fd;
}

bool PollUntil(const std::function<bool()>& done,
               std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= end) return false;
    usleep(10000);
  }
  return true;
}

std::unique_ptr<TcpTestServer> TcpTestServer::Start(Mode mode) {
  std::unique_ptr<TcpTestServer> s(new TcpTestServer());
  s->mode_ = mode;
  s->listen_ = UniqueFd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  s->stop_ = UniqueFd(eventfd(0, EFD_CLOEXEC));
  s->release_ = UniqueFd(eventfd(0, EFD_CLOEXEC));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(s->listen_.get(), reinterpret_cast<sockaddr*>(&a), len) != 0 ||
      listen(s->listen_.get(), 128) != 0 ||
      getsockname(s->listen_.get(), reinterpret_cast<sockaddr*>(&a), &len) !=
          0) {
    return nullptr;
  }
  s->port_ = ntohs(a.sin_port);
  s->thread_ = std::thread([p = s.get()] { p->Serve(); });
  return s;
}

TcpTestServer::~TcpTestServer() {
  uint64_t one = 1;
  ssize_t n = write(stop_.get(), &one, sizeof one);
  (void)n;
  if (thread_.joinable()) thread_.join();
  for (auto& t : handlers_) t.join();
}

void TcpTestServer::Serve() {
  for (;;) {
    pollfd p[2] = {{listen_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
    if (poll(p, 2, -1) < 0 && errno != EINTR) return;
    if (p[1].revents) return;
    if (!(p[0].revents & POLLIN)) continue;
    int fd = accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    connections_++;
    handlers_.emplace_back([this, fd] { Handle(UniqueFd(fd)); });
  }
}

void TcpTestServer::Handle(UniqueFd fd) {
  char buf[65536];
  for (;;) {
    pollfd p[2] = {{fd.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
    if (mode_ == Mode::kSink && !released_) {
      // Not reading: wait for Release() (the eventfd stays readable).
      pollfd r[2] = {{release_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
      if (poll(r, 2, -1) < 0 && errno != EINTR) return;
      if (r[1].revents) return;
      if (r[0].revents) released_ = true;
      continue;
    }
    if (poll(p, 2, -1) < 0 && errno != EINTR) return;
    if (p[1].revents) return;
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    bytes_read_ += static_cast<uint64_t>(n);
    if (mode_ == Mode::kEcho) {
      const char* d = buf;
      size_t left = static_cast<size_t>(n);
      while (left > 0) {
        ssize_t w = send(fd.get(), d, left, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        d += w;
        left -= static_cast<size_t>(w);
      }
    }
  }
  shutdown(fd.get(), SHUT_WR);
}

void TcpTestServer::Release() {
  uint64_t one = 1;
  ssize_t n = write(release_.get(), &one, sizeof one);
  (void)n;
}

}  // namespace porthole::ssh
