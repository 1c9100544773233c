// The one wrapper around sdbus-c++ connections for this folder: opening a
// bus as DbusOptions says, and sdbus::Error as text. Nothing here throws.
// Internal to src/agent/dbus/ (it includes sdbus-c++).
#ifndef PORTHOLE_AGENT_DBUS_BUS_H_
#define PORTHOLE_AGENT_DBUS_BUS_H_

#include <sdbus-c++/sdbus-c++.h>

#include <chrono>
#include <memory>
#include <string>

#include "agent/dbus/dbus_service.h"
#include "core/base/status.h"

namespace porthole::agent {

// Timeout of every blocking call on a connection from OpenBus (AddMatch,
// RequestName, GetStatus), so that a frozen bus cannot hold a thread for
// sd-bus's default 25 s.
inline constexpr std::chrono::seconds kBusCallTimeout{5};

// A connected, authenticated connection (Hello done) with kBusCallTimeout
// set. kUnavailable "cannot connect to the session bus: <reason>" otherwise;
// on the session bus with neither DBUS_SESSION_BUS_ADDRESS nor
// XDG_RUNTIME_DIR set the reason says so.
Result<std::unique_ptr<sdbus::IConnection>> OpenBus(const DbusOptions& options);

// "<message> (<D-Bus error name>)", or whichever of the two is set.
std::string ErrorText(const sdbus::Error& e);

}  // namespace porthole::agent

#endif  // PORTHOLE_AGENT_DBUS_BUS_H_
