// porthole-agent on D-Bus (PROTOCOL.md 7, with the fixes of 13 rows 13/30):
// the TznMessageSig wake-up RAC listens to, and porthole's own
// org.porthole.Agent1 interface with its client for `porthole-agent status`.
//
// Receiving (RAC's interface, unchanged):
//   match     type='signal',sender='io.torizon.TznService',
//             path='/io/torizon/TznService',interface='io.torizon.TznService1',
//             member='TznMessageSig'
//   args      (ss): command, args_json
// The rule names the sender, as RAC's does, so the bus delivers a broadcast
// only when its emitter owns io.torizon.TznService (who may own it is the
// bus policy's business on the system bus). A signal sent by `dbus-send` or
// `gdbus emit`, which own no name, is not delivered and is not acted on.
// A signal addressed to the agent's connection (a destination set) bypasses
// match rules, and sd-bus trusts the daemon for well-known senders, so the
// service also tracks the name's owner (GetNameOwner, then NameOwnerChanged
// from the bus driver) and drops, with a log line, any TznMessageSig whose
// sender is not the current owner. To make the agent poll by hand, call
// org.porthole.Agent1.PollNow (below) or send SIGUSR1. A delivered signal
// is acted on when the command is exactly "PollRasNow" and args_json is
// JSON (tzn_message.h); anything else is logged at info level (identical
// repeats at debug) and dropped. Nothing is queued or dropped for lack of
// room: each PollRasNow calls on_poll_now, which the agent coalesces (an
// eventfd write), and nothing D-Bus does ever ends a session.
//
// Serving (porthole's own, on the same bus, when serve_own_interface):
// well-known name org.porthole.Agent, object /org/porthole/Agent, which
// introspects as (beside the standard Peer, Introspectable, Properties):
//
//   <interface name="org.porthole.Agent1">
//    <method name="GetStatus">
//     <arg type="a{sv}" name="status" direction="out"/>
//    </method>
//    <method name="PollNow">
//    </method>
//    <property name="LastError" type="s" access="read">
//     <annotation name="org.freedesktop.DBus.Property.EmitsChangedSignal"
//                 value="false"/>
//    </property>
//    ... the same for LastPollResult (s), LastPollTime (s), Mode (s),
//    PendingCommands (u), Relay (s), SessionState (s)
//   </interface>
//
// PollNow calls on_poll_now and returns at once. The properties are read
// from status() when asked; no PropertiesChanged is ever sent, so watch by
// polling. They are there for `busctl get-property`, `busctl introspect`
// and `gdbus introspect`. GetStatus returns the same seven values under the
// same names from one status() call: a consistent snapshot, which GetAll
// (one status() call per property) is not. `porthole-agent status` uses
// GetStatus.
//
// If org.porthole.Agent is taken (or the bus policy refuses it) that is
// logged and the object is still served on the connection's unique name;
// the name is asked for again after each reconnect. On the system bus the
// default policy refuses to let the agent own the name and others to call
// it: packaging/org.porthole.Agent.conf allows both (the agent's user owns
// the name; everyone reads the status; root and that user call PollNow);
// listening for TznMessageSig needs none.
//
// Connection: the session bus ($DBUS_SESSION_BUS_ADDRESS, as RAC) or the
// system bus ($DBUS_SYSTEM_BUS_ADDRESS or the standard socket), or an
// explicit address. A connection that fails or is lost is retried every
// `reconnect` (RAC: 3 s) for as long as the service lives; problems are
// logged once at warning level, repeats at debug.
#ifndef PORTHOLE_AGENT_DBUS_DBUS_SERVICE_H_
#define PORTHOLE_AGENT_DBUS_DBUS_SERVICE_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/base/status.h"

namespace porthole::agent {

// RAC's emitter (PROTOCOL.md 7.1).
inline constexpr char kTznServiceName[] = "io.torizon.TznService";
inline constexpr char kTznServicePath[] = "/io/torizon/TznService";
inline constexpr char kTznInterface[] = "io.torizon.TznService1";
inline constexpr char kTznSignal[] = "TznMessageSig";

// Porthole's own interface.
inline constexpr char kAgentBusName[] = "org.porthole.Agent";
inline constexpr char kAgentObjectPath[] = "/org/porthole/Agent";
inline constexpr char kAgentInterface[] = "org.porthole.Agent1";

// What `porthole-agent status` shows. Free text chosen by the agent; empty
// means "nothing to say" (e.g. no relay while idle).
struct AgentStatus {
  std::string session_state;      // D-Bus: SessionState
  std::string relay;              // Relay
  std::string mode;               // Mode
  std::string last_poll_time;     // LastPollTime
  std::string last_poll_result;   // LastPollResult
  std::string last_error;         // LastError
  uint32_t pending_commands = 0;  // PendingCommands

  friend bool operator==(const AgentStatus&, const AgentStatus&) = default;
};

enum class BusKind { kSession, kSystem };

struct DbusOptions {
  BusKind bus = BusKind::kSession;
  // When set, this bus address is used whatever `bus` says (tests, or a
  // bus elsewhere); `bus` then only names it in messages. sdbus-c++ 1.2
  // leaks about 2 KB per failed connection to an explicit address; bus.cc
  // avoids that for a "unix:path=" address that is missing or refused, and
  // the session and system bus paths do not leak.
  std::string address;
  // Wait between connection attempts after a failure or a loss. > 0.
  std::chrono::milliseconds reconnect{3000};
  // Serve org.porthole.Agent1 (and ask for org.porthole.Agent).
  bool serve_own_interface = true;
};

// "the session bus", "the system bus" or "the bus at <address>".
std::string DescribeBus(const DbusOptions& options);

// The D-Bus side of the agent, on a thread of its own that owns the
// connection: every D-Bus callback, on_poll_now and status() run there.
// on_poll_now and status must be thread-safe with respect to the rest of
// the agent, must not block for long and must not throw. Not thread-safe
// itself: create, Start() and destroy it from one thread (not from inside
// a callback). Start it after the agent's privilege drop, as RAC connects
// after its own (Agent::Run() wants no other thread before that).
class DbusService {
 public:
  DbusService(DbusOptions options, std::function<void()> on_poll_now,
              std::function<AgentStatus()> status);
  // Stops the thread: disconnects and waits for it (no callback runs after
  // it returns).
  ~DbusService();
  DbusService(const DbusService&) = delete;
  DbusService& operator=(const DbusService&) = delete;

  // Starts the thread, which connects and keeps reconnecting on its own:
  // a bus that is not there is not an error here (it is logged). Fails only
  // when called twice (kFailedPrecondition), for a reconnect <= 0
  // (kInvalidArgument) or when the thread cannot be made.
  Status Start();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// For `porthole-agent status`: one GetStatus call to org.porthole.Agent on
// the bus `options` names (reconnect and serve_own_interface are unused),
// waiting at most 5 s. Errors are kUnavailable (kPermissionDenied when the
// bus policy refuses the call), one line each:
//   "cannot connect to the session bus: <reason>"
//   "porthole-agent is not running on the session bus (nothing owns
//    org.porthole.Agent)"
//   "porthole-agent did not answer on the session bus within 5 s"
//   "org.porthole.Agent on the session bus is not porthole-agent (...)"
// A reply value of the wrong type is an error; missing or unknown keys are
// not (older or newer agents).
Result<AgentStatus> QueryAgentStatus(const DbusOptions& options);

}  // namespace porthole::agent

#endif  // PORTHOLE_AGENT_DBUS_DBUS_SERVICE_H_
