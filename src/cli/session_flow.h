// Getting a live, connected session on a device: what `porthole connect`,
// `porthole ssh-proxy` and `porthole keys ... porthole:DEVICE` share.
//
// OpenOrReuseSession():
//   1. GET the device (removed devices are refused).
//   2. If it has a live session that lists every one of the operator's keys
//      (by key material), reuse it. A live session without them is refused:
//      a device has one live session at a time, so the operator must close
//      it (or ask whoever opened it).
//   3. Otherwise POST a session with the keys, the TTL and (when asked) a
//      fresh relay-only key; a 409 session_exists that races us is handled
//      as in 2.
//   4. With `relay_key`: a reused session gets this machine's stored key
//      for it if the session lists it, else a new one added with POST
//      .../relay-keys.
// WaitForTunnel() long-polls the session until the device's tunnel is up.
//
// Blocking, single-threaded; errors are one line for the operator.
#ifndef PORTHOLE_CLI_SESSION_FLOW_H_
#define PORTHOLE_CLI_SESSION_FLOW_H_

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cli/api_client.h"
#include "cli/operator_keys.h"
#include "cli/relay_key_store.h"
#include "core/base/clock.h"

namespace porthole::cli {

struct SessionNeeds {
  std::string device;                       // name or UUID
  std::vector<OperatorKey> keys;            // at least one
  std::optional<std::chrono::seconds> ttl;  // unset: the server's default
  // Make or reuse a relay-only key (needs `store`).
  const RelayKeyStore* store = nullptr;
};

struct ReadySession {
  Device device;
  Session session;
  bool opened = false;  // false: an existing session was reused
  std::optional<RelayKeyStore::Entry> relay_key;
};

Result<ReadySession> OpenOrReuseSession(OperatorApi& api,
                                        const SessionNeeds& needs);

// Returns the session once tunnel_up; `on_wait` runs once, before the first
// wait. Fails when the session ends (kFailedPrecondition naming its state
// and reason) or `max_wait` passes (kUnavailable: "dev-7 did not connect
// within 2m; ...").
Result<Session> WaitForTunnel(OperatorApi& api, const Session& session,
                              std::chrono::seconds max_wait,
                              const std::function<void()>& on_wait,
                              const Clock& clock = Clock::Real());

}  // namespace porthole::cli

#endif  // PORTHOLE_CLI_SESSION_FLOW_H_
