// The embedded-mode SSH server (PROTOCOL.md 4.7 and 13 row 23): each
// connection the relay forwards to the device is one SSH server session,
// served in-process by libssh over the connection's byte stream instead of
// by a spawned sshd.
//
//   EmbeddedServerConfig config{.host_key = &host_key,
//                               .authorized_keys = session_keys};
//   // On a thread of its own, one per forwarded connection:
//   Status s = ServeEmbeddedConnection(std::move(local_end), config, stop_fd);
//   if (!s.ok()) spdlog::warn("{}", s.message());
//
// Authentication:
//  - publickey only ("publickey" is the one method advertised); none,
//    password and keyboard-interactive are refused. The user name is
//    ignored (any name is accepted, as RAC does).
//  - A key is accepted iff its material (the public key blob) equals one of
//    `authorized_keys`; comments never take part. ed25519, ecdsa
//    (256/384/521) and rsa keys are served; certificates are never accepted.
//  - sk- keys (sk-ssh-ed25519@openssh.com, sk-ecdsa-sha2-nistp256@openssh.com)
//    are REFUSED, even when listed, with the log line "embedded mode refuses
//    sk- key TYPE SHA256:...: libssh 0.10 cannot enforce user presence; use
//    spawned_sshd". libssh 0.10 verifies an sk signature without checking
//    its user-presence flag and exposes neither flags nor counter, so a
//    signature made without a touch would log in (FIELD-NOTES.md 2). The
//    spawned_sshd mode enforces the touch.
//  - At most kMaxAuthFailures refused attempts (the client's first "none"
//    probe does not count); then the connection is dropped.
//  - Key exchange and authentication must finish within login_grace. This
//    timer is also the only answer to a bad signature: libssh 0.10 drops such
//    a request without any reply (FIELD-NOTES.md 2, gotcha 2), so the client
//    waits until the grace ends the connection.
//
// Channels: only "session" channels, at most kMaxSessionChannels open at once
// (further opens, direct-tcpip, x11 and agent channels are refused with
// OPEN_FAILURE; tcpip-forward and other global requests with
// REQUEST_FAILURE). Every channel request that wants a reply gets success or
// failure:
//  - pty-req: records TERM and the size (columns/rows and pixels, each
//    0..65535); once per channel, before the program starts.
//  - env: accepted for TERM, LANG and LC_* (at most 64 variables, names of
//    [A-Za-z0-9_], values up to 4096 bytes); anything else is refused.
//  - shell: `shell` as a login shell (argv[0] "-bash" for /bin/bash, as sshd
//    does). exec: `shell -c COMMAND` (argv[0] the shell's base name; the
//    command is passed as one argument, never re-quoted). Both run in a pty
//    when one was requested, otherwise on pipes with stderr sent as extended
//    data. subsystem "sftp": `sftp_server` with no arguments, always on pipes;
//    other subsystems are refused. One program per channel. A program that
//    cannot be started (fork or exec failed) fails the request and is logged.
//  - window-change: resizes the pty (TIOCSWINSZ).
//  - x11-req, auth-agent-req@openssh.com and anything unknown: failure.
// When the program has exited and its output is drained (for a pipe, up to
// EOF; for a pty, what is readable once the program has been reaped), the
// server sends exit-status (or exit-signal for ABRT ALRM FPE HUP ILL INT KILL
// PIPE QUIT SEGV TERM USR1 USR2; other signals as exit-status 128+N), then
// EOF, then CLOSE. Client EOF closes the program's stdin (pipes; a pty
// cannot be half-closed and stays open). A channel the client closes early
// has its program's process group killed (SIGKILL). As with sshd, background
// processes a program leaves behind are not tracked once it has exited, and
// while one holds the program's stdout or stderr pipe the channel stays open.
//
// Unlike RAC's embedded server (russh), this one replies to every request,
// runs exec and sftp, sends exit-status and EOF, and keeps idle connections
// unless idle_timeout says otherwise.
//
// Programs run with the caller's uid and gid, in a new session (setsid; the
// pty, if any, is the controlling terminal), with signals reset to default
// and unblocked, no descriptors other than 0-2, in the account's home
// directory (or / if that fails). Environment: the caller's, minus TERM,
// SSH_*, NOTIFY_SOCKET, LISTEN_* and WATCHDOG_*, plus HOME, USER, LOGNAME
// (from getpwuid_r(geteuid())), SHELL=`shell`, PATH if unset, the accepted
// env requests, and TERM and SSH_TTY with a pty.
//
// Flow control: data from the client is taken out of libssh only when it can
// be written to the program (at most 64 KiB waiting per channel; beyond that
// libssh's own receive window, up to about 1.28 MB, holds the rest and the
// client stops sending). Program output is read only while the client's
// window has room, at most 32 KiB per stream waiting in this code.
//
// Liveness: with idle_timeout > 0 the connection is dropped after that long
// without a byte received or sent. With 0 (the default) an idle connection
// is kept until the client or the caller ends it.
//
// Blocking writes: libssh 0.10 treats EAGAIN from send() as a fatal error, so
// `fd` is put in blocking mode, and libssh writes what it has queued (at most
// the client's window) in one send() once poll() says the socket is
// writable. If the peer end stops reading, the thread can block there until
// it reads again or is closed; stop_fd is only seen between writes. To end
// such a connection at once, close or shut down the peer end (the reverse
// tunnel closes its end of every forwarded connection when it stops).
//
// Threading: ServeEmbeddedConnection() blocks on the calling thread until the
// connection ends; any number may run at once on different threads (each has
// its own libssh session and event loop). The config is only read. The
// process must not set SIGCHLD to SIG_IGN, and no other code may reap
// children with waitpid(-1, ...): exit statuses are collected per child
// through pidfds and waitpid(pid).
#ifndef PORTHOLE_CORE_SSH_EMBEDDED_SERVER_H_
#define PORTHOLE_CORE_SSH_EMBEDDED_SERVER_H_

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/base/unique_fd.h"
#include "core/keys/public_key.h"
#include "core/ssh/device_key.h"

namespace porthole::ssh {

inline constexpr int kMaxAuthFailures = 10;
inline constexpr size_t kMaxSessionChannels = 10;

struct EmbeddedServerConfig {
  // The server's host key (PrivateKey::LoadOrCreate of server_key_path, or a
  // key made per connection). Borrowed: must outlive the call.
  const PrivateKey* host_key = nullptr;
  // The session's operator keys. sk- keys among them are refused (above).
  std::vector<keys::PublicKey> authorized_keys;
  std::string shell = "/bin/bash";                           // absolute
  std::string sftp_server = "/usr/lib/openssh/sftp-server";  // absolute
  // Key exchange plus authentication must finish within this (> 0).
  std::chrono::milliseconds login_grace{30000};
  // Drop the connection after this long without traffic; 0: never.
  std::chrono::milliseconds idle_timeout{0};
};

// Serves one SSH connection over `fd` (a connected stream socket, e.g. the
// end of a socketpair whose other end the agent splices to the relay; owned
// from here on and closed before returning) until the client disconnects or
// `stop_fd` becomes readable. `stop_fd` (an eventfd or a pipe's read end) is
// only polled, never read or closed, so one descriptor can stop many
// connections; -1 for none. Every child still running is killed (SIGKILL to
// its process group) and reaped, and the connection is dropped with a
// DISCONNECT message, before this returns.
//
// Returns OK for a normal end (the client disconnected after authenticating,
// the caller stopped it, the idle timeout), logged here at info. Otherwise a
// Status whose message starts with "embedded: " and names why, not logged
// here:
//   kInvalidArgument   unusable config or descriptor
//   kPermissionDenied  authentication failed (too many refused attempts, or
//                      the client left after refused attempts)
//   kUnavailable       login grace expired; the client left or the
//                      connection broke before authenticating
//   kCorrupt           protocol error (bad packet, no common algorithm)
//   kInternal          libssh or the OS failed to set the session up
Status ServeEmbeddedConnection(UniqueFd fd, const EmbeddedServerConfig& config,
                               int stop_fd);

}  // namespace porthole::ssh

#endif  // PORTHOLE_CORE_SSH_EMBEDDED_SERVER_H_
