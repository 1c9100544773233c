// A remote session as the RAS hands it out (GET sessions, PROTOCOL.md 3.3 B)
// and its check against verified remote-sessions metadata (4.5 a, with the
// fixes of 13 row 15).
//
//   {"ssh": {"authorized_pubkeys": ["ssh-ed25519 AAAA... alice@laptop"],
//            "reverse_port": 41022,
//            "ra_server_url": "ssh://<device uuid>@ras.torizon.io:2222",
//            "ra_server_ssh_pubkey": "ssh-ed25519 AAAA...",
//            "expires_at": "2025-07-30T18:00:00Z"}}
#ifndef PORTHOLE_CORE_TUF_SESSION_CHECK_H_
#define PORTHOLE_CORE_TUF_SESSION_CHECK_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/clock.h"
#include "core/base/status.h"
#include "core/tuf/error.h"
#include "core/tuf/remote_sessions.h"

namespace porthole::tuf {

struct DeviceSession {
  std::vector<std::string> authorized_pubkeys;  // OpenSSH key lines
  uint16_t reverse_port = 0;
  std::string ra_server_url;
  std::string ra_server_ssh_pubkey;
  SystemTime expires_at;
  std::string expires_at_text;

  friend bool operator==(const DeviceSession&, const DeviceSession&) = default;
};

// Parses a GET sessions body. All five `ssh` members are required with
// their types (reverse_port an integer 0..65535, expires_at RFC 3339);
// other members at either level are ignored, as RAC does. Key strings are
// not parsed here (CheckSession() reports bad ones). Errors: kNotJson,
// kMalformed.
ErrorOr<DeviceSession> ParseDeviceSession(std::string_view json);

struct RelayAddress {
  std::string user;  // as written ("" when absent)
  std::string host;  // reg-name or IPv4 as written; IPv6 with its brackets
  uint16_t port = 22;
};

// Parses "ssh://[user@]host[:port][/]": the scheme is case-insensitive; an
// IPv6 literal in brackets is accepted and the port defaults to 22 (both
// refused by RAC, PROTOCOL 13 #17). A path other than "/", a query or a
// fragment is an error. Errors are kInvalidArgument.
Result<RelayAddress> ParseRaServerUrl(std::string_view url);

// The reasons `session` is not allowed by `policy`; empty when it is. Every
// reason is collected:
//   - each authorized_pubkeys entry must parse and its key material (the
//     comment is ignored) be among the metadata authorized_keys;
//   - ra_server_url must parse and its host be in ra_server_hosts, compared
//     case-insensitively (brackets around IPv6 literals optional on either
//     side);
//   - ra_server_ssh_pubkey must parse and its key material equal one of
//     ra_server_ssh_pubkeys (comments ignored; RAC compared them too).
std::vector<std::string> CheckSession(const SshPolicy& policy,
                                      const DeviceSession& session);

}  // namespace porthole::tuf

#endif  // PORTHOLE_CORE_TUF_SESSION_CHECK_H_
