// What the SSH relay needs from the rest of porthole-server, and what it
// reports back. The relay (relay.h) decides nothing about sessions on its
// own: every check asks the backend, every event is reported to it. The
// server implements it over its store; tests implement it with a table.
//
// Identities:
//  - A device logs in with user name = its UUID (lower-case hyphenated; the
//    relay lower-cases what it receives) and the SSH key it registered with
//    `POST public-keys` (DeviceKey()).
//  - An operator logs in with any user name and a key that some live session
//    lists (LiveSessionsForOperatorKey()); the user name is only logged.
//
// Threading: every method is called on the relay's event-loop thread, one
// call at a time, and must not block on the network (a store lookup is
// fine). Implementations must be safe against the rest of the server
// changing state concurrently. Report() must not call back into the Relay.
#ifndef PORTHOLE_SERVER_RELAY_RELAY_BACKEND_H_
#define PORTHOLE_SERVER_RELAY_RELAY_BACKEND_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/base/clock.h"
#include "core/keys/public_key.h"

namespace porthole::server::relay {

// A session that is open now (not closed, not expired).
struct LiveSession {
  std::string session_id;
  std::string device_id;    // UUID, lower-case hyphenated
  std::string device_name;  // the name the operator uses ("dev-7")
  uint16_t reverse_port = 0;  // unique among the live sessions of this relay
  std::vector<keys::PublicKey> operator_keys;  // compared by key material
  SystemTime expires_at;
};

struct RelayEvent {
  enum class Kind {
    kTunnelUp,            // a device's tcpip-forward was accepted
    kTunnelDown,          // that tunnel ended (reason says why)
    kOperatorConnect,     // an operator channel to a device was bridged
    kOperatorDisconnect,  // it ended (bytes and duration set)
    kRefused,             // a login, forward or channel was refused (reason)
  };
  Kind kind = Kind::kRefused;
  std::string session_id;   // when one is involved
  std::string device_id;    // when known
  std::string fingerprint;  // the key used (SHA256:...), when known
  std::string user;         // the SSH user name sent
  std::string peer;         // "ADDR:PORT" of the TCP peer
  std::string reason;       // one line: "key not in any live session", ...
  uint64_t bytes_to_device = 0;    // kOperatorDisconnect
  uint64_t bytes_from_device = 0;  // kOperatorDisconnect
  std::chrono::milliseconds duration{0};  // kOperatorDisconnect, kTunnelDown
};

class RelayBackend {
 public:
  virtual ~RelayBackend() = default;

  // The device's registered SSH key; nullopt when the device is unknown,
  // removed (revoked), or has registered no key.
  virtual std::optional<keys::PublicKey> DeviceKey(
      const std::string& device_id) = 0;

  // The device's live session, if it has one.
  virtual std::optional<LiveSession> LiveSessionOfDevice(
      const std::string& device_id) = 0;

  // Every live session whose operator keys include `key`.
  virtual std::vector<LiveSession> LiveSessionsForOperatorKey(
      const keys::PublicKey& key) = 0;

  // The device id for a direct-tcpip host: a device name or a UUID (any
  // case); nullopt when no such (unremoved) device exists.
  virtual std::optional<std::string> ResolveDevice(
      const std::string& name_or_id) = 0;

  // Audit and state: tunnel up/down marks the session's tunnel state.
  virtual void Report(const RelayEvent& event) = 0;
};

}  // namespace porthole::server::relay

#endif  // PORTHOLE_SERVER_RELAY_RELAY_BACKEND_H_
