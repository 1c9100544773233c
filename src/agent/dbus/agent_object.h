// org.porthole.Agent1 (dbus_service.h has the interface): the exported
// object and the a{sv} form of AgentStatus its GetStatus returns. Internal
// to src/agent/dbus/ (it includes sdbus-c++). Nothing here throws.
#ifndef PORTHOLE_AGENT_DBUS_AGENT_OBJECT_H_
#define PORTHOLE_AGENT_DBUS_AGENT_OBJECT_H_

#include <sdbus-c++/sdbus-c++.h>

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "agent/dbus/dbus_service.h"
#include "core/base/status.h"

namespace porthole::agent {

using StatusDict = std::map<std::string, sdbus::Variant>;

// Registers /org/porthole/Agent with org.porthole.Agent1 on `bus` (which
// must outlive the object). The callbacks run on the thread that processes
// `bus`. Fails (kUnavailable) only if sd-bus refuses the registration.
Result<std::unique_ptr<sdbus::IObject>> ExportAgentObject(
    sdbus::IConnection& bus, std::function<void()> poll_now,
    std::function<AgentStatus()> status);

// The GetStatus reply: {"SessionState": <s>, ..., "PendingCommands": <u>}.
StatusDict StatusToDict(const AgentStatus& status);

// The inverse. Unknown keys are skipped and missing ones left at their
// defaults; a value of the wrong type is kCorrupt ("GetStatus: 'Relay' is
// 'u', not 's'").
Result<AgentStatus> StatusFromDict(const StatusDict& dict);

}  // namespace porthole::agent

#endif  // PORTHOLE_AGENT_DBUS_AGENT_OBJECT_H_
