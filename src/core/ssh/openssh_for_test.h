// Test helpers around the real OpenSSH client and plain TCP peers, shared by
// the forwarding server's and the relay's tests: keys made by ssh-keygen,
// `ssh` argument vectors that touch nothing outside the test, and small TCP
// servers (echo, sink) to stand at the far end of a tunnel.
#ifndef PORTHOLE_CORE_SSH_OPENSSH_FOR_TEST_H_
#define PORTHOLE_CORE_SSH_OPENSSH_FOR_TEST_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/base/status.h"
#include "core/base/unique_fd.h"
#include "core/keys/public_key.h"

namespace porthole::ssh {

// A key pair made with `ssh-keygen -t TYPE` in `dir` (file `dir`/`name`).
struct TestKey {
  std::string path;      // the private key
  std::string pub_line;  // "ssh-ed25519 AAAA... name"
  keys::PublicKey key;
};
Result<TestKey> MakeTestKey(const std::string& dir, const std::string& name,
                            const std::string& type = "ed25519",
                            const std::vector<std::string>& extra = {});

// `ssh` with no config file, no known_hosts (any host key accepted), batch
// mode, only `identity` offered (none if empty), LogLevel ERROR, port
// `port`, then `args` (destination and the rest).
std::vector<std::string> SshArgv(uint16_t port, const std::string& identity,
                                 const std::vector<std::string>& args);

// A TCP server on 127.0.0.1 running on its own thread until destroyed.
// kEcho echoes every byte and half-closes after the peer's EOF; kSink
// accepts and never reads (until Release()), then reads and counts.
class TcpTestServer {
 public:
  enum class Mode { kEcho, kSink };
  static std::unique_ptr<TcpTestServer> Start(Mode mode);
  ~TcpTestServer();
  uint16_t port() const { return port_; }
  // kSink: start reading (and discarding) what every connection sent.
  void Release();
  uint64_t bytes_read() const { return bytes_read_; }
  int connections() const { return connections_; }

 private:
  TcpTestServer() = default;
  void Serve();
  void Handle(UniqueFd fd);
  Mode mode_ = Mode::kEcho;
  UniqueFd listen_, stop_, release_;
  uint16_t port_ = 0;
  std::atomic<bool> released_{false};
  std::atomic<uint64_t> bytes_read_{0};
  std::atomic<int> connections_{0};
  std::thread thread_;
  std::vector<std::thread> handlers_;
};

// A connected TCP socket to 127.0.0.1:port (invalid on failure).
UniqueFd ConnectLoopback(uint16_t port);

// Polls `done` every 10 ms until it is true or `timeout` passes. For
// conditions only observable by looking (a process's memory, a count kept
// by another process); in-process events use condition variables.
bool PollUntil(const std::function<bool()>& done,
               std::chrono::milliseconds timeout);

}  // namespace porthole::ssh

#endif  // PORTHOLE_CORE_SSH_OPENSSH_FOR_TEST_H_
