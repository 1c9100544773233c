// Test helper: a real root OpenSSH sshd on 127.0.0.1 playing the relay.
//
// It runs `sshd -D` inside `unshare -m -p -f --kill-child` with a private
// tmpfs on /run (root sshd needs /run/sshd; FIELD-NOTES.md 10), so killing it
// takes every per-connection sshd with it and the host is left untouched.
// Its files live in a fresh 0755 directory under /var/lib (sshd's StrictModes
// refuses paths under /tmp), removed with the object. The host key is made by
// PrivateKey::GenerateEd25519, so sshd itself checks that format.
#ifndef PORTHOLE_CORE_SSH_RELAY_SSHD_FOR_TEST_H_
#define PORTHOLE_CORE_SSH_RELAY_SSHD_FOR_TEST_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"
#include "core/base/subprocess.h"
#include "core/base/unique_fd.h"

namespace porthole::ssh {

// A directory under /var/lib, mode 0755, removed with its contents.
class VarLibTempDir {
 public:
  VarLibTempDir();
  ~VarLibTempDir();
  VarLibTempDir(const VarLibTempDir&) = delete;
  VarLibTempDir& operator=(const VarLibTempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Join(std::string_view name) const {
    return path_ + "/" + std::string(name);
  }

 private:
  std::string path_;
};

// Waits until `path` contains one of `needles` (inotify, no polling loop).
// Returns the index of the first needle found, or nullopt at the deadline.
std::optional<size_t> WaitForFileText(const std::string& path,
                                      const std::vector<std::string>& needles,
                                      std::chrono::milliseconds timeout);

// A TCP socket bound to 127.0.0.1 at a port the kernel picks (stored in
// `*port`), not listening: a connect to it is refused, and nothing else can
// take the port while it is open. Aborts on failure.
UniqueFd BindLoopback(uint16_t* port);

// A free TCP port on 127.0.0.1 at the time of the call.
uint16_t PickFreePort();

// Starts `sh -c script` inside a fresh mount and PID namespace with a tmpfs
// /run holding /run/sshd; `script` should end in `exec /usr/sbin/sshd ...`.
std::vector<std::string> SshdNamespaceArgv(const std::string& sshd_args);

class RelaySshd {
 public:
  // `authorized_keys` is the whole authorized_keys file for user root.
  // `ipv6`: listen on [::1] too (same port).
  static Result<std::unique_ptr<RelaySshd>> Start(
      const std::string& authorized_keys, bool ipv6 = false);
  ~RelaySshd();

  uint16_t port() const { return port_; }
  // "ssh-ed25519 AAAA... relay-host-key".
  const std::string& host_key_line() const { return host_key_line_; }
  const std::string& log_path() const { return log_path_; }
  std::string Log() const;
  bool WaitForLog(
      const std::string& needle,
      std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
  // SIGKILLs sshd and every process it started, and reaps them.
  void Kill();

 private:
  RelaySshd() = default;
  VarLibTempDir dir_;
  uint16_t port_ = 0;
  std::string host_key_line_;
  std::string log_path_;
  std::optional<ChildProcess> child_;
};

}  // namespace porthole::ssh

#endif  // PORTHOLE_CORE_SSH_RELAY_SSHD_FOR_TEST_H_
