// QueryAgentStatus (dbus_service.h): the client side of GetStatus.
#include <chrono>
#include <string>

#include "agent/dbus/agent_object.h"
#include "agent/dbus/bus.h"
#include "agent/dbus/dbus_service.h"

namespace porthole::agent {
namespace {

Status CallFailed(const DbusOptions& options, const sdbus::Error& e) {
  const std::string on = " on " + DescribeBus(options);
  const std::string& name = e.getName();
  if (name == "org.freedesktop.DBus.Error.ServiceUnknown" ||
      name == "org.freedesktop.DBus.Error.NameHasNoOwner") {
    return Status::Unavailable("porthole-agent is not running" + on +
                               " (nothing owns " + kAgentBusName + ")");
  }
  if (name == "org.freedesktop.DBus.Error.NoReply" ||
      name == "org.freedesktop.DBus.Error.Timeout" ||
      name == "org.freedesktop.DBus.Error.TimedOut") {
    return Status::Unavailable("porthole-agent did not answer" + on +
                               " within " +
                               std::to_string(kBusCallTimeout.count()) + " s");
  }
  if (name == "org.freedesktop.DBus.Error.UnknownMethod" ||
      name == "org.freedesktop.DBus.Error.UnknownObject" ||
      name == "org.freedesktop.DBus.Error.UnknownInterface") {
    return Status::Unavailable(std::string(kAgentBusName) + on +
                               " is not porthole-agent (" + ErrorText(e) + ")");
  }
  if (name == "org.freedesktop.DBus.Error.AccessDenied") {
    return Status::PermissionDenied(
        DescribeBus(options) +
        " refused the call to porthole-agent: " + ErrorText(e));
  }
  return Status::Unavailable("cannot ask porthole-agent for its status" + on +
                             ": " + ErrorText(e));
}

}  // namespace

Result<AgentStatus> QueryAgentStatus(const DbusOptions& options) {
  PH_ASSIGN_OR_RETURN(std::unique_ptr<sdbus::IConnection> bus,
                      OpenBus(options));
  StatusDict dict;
  try {
    auto proxy = sdbus::createProxy(*bus, kAgentBusName, kAgentObjectPath);
    auto call = proxy->createMethodCall(kAgentInterface, "GetStatus");
    auto reply = proxy->callMethod(
        call,
        std::chrono::duration_cast<std::chrono::microseconds>(kBusCallTimeout)
            .count());
    reply >> dict;
  } catch (const sdbus::Error& e) {
    return CallFailed(options, e);
  }
  return StatusFromDict(dict);
}

}  // namespace porthole::agent
