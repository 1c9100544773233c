// The relay's view of the server: RelayBackend answered from the store, and
// its events recorded as audit events and session tunnel state.
//
// A session's relay logins are its operator keys and its relay-only keys;
// only the operator keys ever reach the device.
//
// Thread safety: called on the relay thread; the store and hub are
// thread-safe.
#ifndef PORTHOLE_SERVER_DAEMON_STORE_RELAY_BACKEND_H_
#define PORTHOLE_SERVER_DAEMON_STORE_RELAY_BACKEND_H_

#include <string>
#include <vector>

#include "server/api/context.h"
#include "server/relay/relay_backend.h"

namespace porthole::server::daemon {

class StoreRelayBackend : public relay::RelayBackend {
 public:
  // `context` must outlive the object.
  explicit StoreRelayBackend(api::Context* context) : ctx_(context) {}

  std::optional<keys::PublicKey> DeviceKey(
      const std::string& device_id) override;
  std::optional<relay::LiveSession> LiveSessionOfDevice(
      const std::string& device_id) override;
  std::vector<relay::LiveSession> LiveSessionsForOperatorKey(
      const keys::PublicKey& key) override;
  std::optional<std::string> ResolveDevice(
      const std::string& name_or_id) override;
  void Report(const relay::RelayEvent& event) override;

 private:
  relay::LiveSession ToLive(const Session& session);

  api::Context* const ctx_;
};

}  // namespace porthole::server::daemon

#endif  // PORTHOLE_SERVER_DAEMON_STORE_RELAY_BACKEND_H_
