#include "agent/dbus/agent_object.h"

#include <utility>

#include "agent/dbus/bus.h"

namespace porthole::agent {
namespace {

struct StringField {
  const char* name;
  std::string AgentStatus::*member;
};

// The D-Bus names of AgentStatus, in the order they are introspected.
constexpr StringField kStringFields[] = {
    {"SessionState", &AgentStatus::session_state},
    {"Relay", &AgentStatus::relay},
    {"Mode", &AgentStatus::mode},
    {"LastPollTime", &AgentStatus::last_poll_time},
    {"LastPollResult", &AgentStatus::last_poll_result},
    {"LastError", &AgentStatus::last_error},
};
constexpr char kPendingCommands[] = "PendingCommands";

}  // namespace

StatusDict StatusToDict(const AgentStatus& status) {
  StatusDict dict;
  for (const StringField& f : kStringFields) {
    dict.emplace(f.name, sdbus::Variant(status.*f.member));
  }
  dict.emplace(kPendingCommands, sdbus::Variant(status.pending_commands));
  return dict;
}

Result<AgentStatus> StatusFromDict(const StatusDict& dict) {
  AgentStatus status;
  try {
    auto wrong = [](const char* name, const sdbus::Variant& v,
                    const char* want) {
      return Status::Corrupt(std::string("GetStatus: '") + name + "' is '" +
                             v.peekValueType() + "', not '" + want + "'");
    };
    for (const StringField& f : kStringFields) {
      auto it = dict.find(f.name);
      if (it == dict.end()) continue;
      if (!it->second.containsValueOfType<std::string>()) {
        return wrong(f.name, it->second, "s");
      }
      status.*f.member = it->second.get<std::string>();
    }
    if (auto it = dict.find(kPendingCommands); it != dict.end()) {
      if (!it->second.containsValueOfType<uint32_t>()) {
        return wrong(kPendingCommands, it->second, "u");
      }
      status.pending_commands = it->second.get<uint32_t>();
    }
  } catch (const sdbus::Error& e) {
    return Status::Corrupt("GetStatus: " + ErrorText(e));
  }
  return status;
}

Result<std::unique_ptr<sdbus::IObject>> ExportAgentObject(
    sdbus::IConnection& bus, std::function<void()> poll_now,
    std::function<AgentStatus()> status) {
  try {
    auto object = sdbus::createObject(bus, kAgentObjectPath);
    object->registerMethod("PollNow")
        .onInterface(kAgentInterface)
        .implementedAs([poll_now] { poll_now(); });
    object->registerMethod("GetStatus")
        .onInterface(kAgentInterface)
        .withOutputParamNames("status")
        .implementedAs([status] { return StatusToDict(status()); });
    for (const StringField& f : kStringFields) {
      object->registerProperty(f.name)
          .onInterface(kAgentInterface)
          .withGetter([status, member = f.member] { return status().*member; })
          .withUpdateBehavior(sdbus::Flags::EMITS_NO_SIGNAL);
    }
    object->registerProperty(kPendingCommands)
        .onInterface(kAgentInterface)
        .withGetter([status] { return status().pending_commands; })
        .withUpdateBehavior(sdbus::Flags::EMITS_NO_SIGNAL);
    object->finishRegistration();
    return object;
  } catch (const sdbus::Error& e) {
    return Status::Unavailable("cannot export " + std::string(kAgentInterface) +
                               " at " + kAgentObjectPath + ": " + ErrorText(e));
  }
}

}  // namespace porthole::agent
