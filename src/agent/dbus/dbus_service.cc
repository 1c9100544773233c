#include "agent/dbus/dbus_service.h"

#include <poll.h>
#include <sys/eventfd.h>

#include <atomic>
#include <cerrno>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>

#include "agent/dbus/agent_object.h"
#include "agent/dbus/bus.h"
#include "agent/dbus/tzn_message.h"
#include "core/base/logging.h"
#include "core/base/unique_fd.h"

namespace porthole::agent {
namespace {

std::string TznMatchRule() {
  return std::string("type='signal',sender='") + kTznServiceName + "',path='" +
         kTznServicePath + "',interface='" + kTznInterface + "',member='" +
         kTznSignal + "'";
}

constexpr char kBusDriver[] = "org.freedesktop.DBus";

// The bus driver's signal that a name changed hands, for the TznService name.
std::string OwnerMatchRule() {
  return std::string("type='signal',sender='") + kBusDriver +
         "',path='/org/freedesktop/DBus',interface='" + kBusDriver +
         "',member='NameOwnerChanged',arg0='" + kTznServiceName + "'";
}

// The unique name owning `name`, "" when nobody does. Other errors throw
// sdbus::Error (Connect() catches them).
std::string NameOwner(sdbus::IConnection& bus, const std::string& name) {
  auto proxy = sdbus::createProxy(bus, kBusDriver, "/org/freedesktop/DBus");
  auto call = proxy->createMethodCall(kBusDriver, "GetNameOwner");
  call << name;
  try {
    auto reply = proxy->callMethod(
        call,
        std::chrono::duration_cast<std::chrono::microseconds>(kBusCallTimeout)
            .count());
    std::string owner;
    reply >> owner;
    return owner;
  } catch (const sdbus::Error& e) {
    if (e.getName() == "org.freedesktop.DBus.Error.NameHasNoOwner") return "";
    throw;
  }
}

std::string Every(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + " s";
  return std::to_string(d.count()) + " ms";
}

// The D-Bus type code of the next argument of `message`, '\0' at its end
// (sd-bus peeks the end as type 0).
char NextType(const sdbus::Message& message) {
  std::string type, contents;
  message.peekType(type, contents);
  return type.empty() ? '\0' : type[0];
}

// Reads the body of a TznMessageSig; anything but exactly (ss) is
// kInvalidArgument.
Status ReadTznMessage(sdbus::Message& message, std::string* command,
                      std::string* args) {
  const Status bad = Status::InvalidArgument("arguments are not (ss)");
  try {
    if (NextType(message) != 's') return bad;
    message >> *command;
    if (NextType(message) != 's') return bad;
    message >> *args;
    if (NextType(message) != '\0') return bad;
  } catch (const sdbus::Error&) {
    return bad;
  }
  return Status::Ok();
}

}  // namespace

class DbusService::Impl {
 public:
  Impl(DbusOptions options, std::function<void()> on_poll_now,
       std::function<AgentStatus()> status)
      : options_(std::move(options)),
        on_poll_now_(std::move(on_poll_now)),
        status_(std::move(status)) {}

  ~Impl() {
    if (!thread_.joinable()) return;
    stopping_.store(true);
    uint64_t one = 1;
    // Cannot fail short of a bug: the counter is far from overflowing.
    (void)!write(stop_fd_.get(), &one, sizeof(one));
    thread_.join();
  }

  Status Start() {
    if (thread_.joinable()) {
      return Status::FailedPrecondition("dbus: service already started");
    }
    if (options_.reconnect.count() <= 0) {
      return Status::InvalidArgument("dbus: reconnect interval must be > 0");
    }
    stop_fd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!stop_fd_.valid()) return PosixError("dbus: eventfd", errno);
    try {
      thread_ = std::thread([this] { Run(); });
    } catch (const std::system_error& e) {
      return Status::Internal(std::string("dbus: cannot start thread: ") +
                              e.what());
    }
    return Status::Ok();
  }

 private:
  // One connection and what hangs off it; members die in reverse order, the
  // bus last.
  struct Connection {
    std::unique_ptr<sdbus::IConnection> bus;
    sdbus::Slot owner_match;
    sdbus::Slot match;
    std::unique_ptr<sdbus::IObject> object;
  };

  // The thread: connect, serve until lost, wait, again; until stopped.
  void Run() {
    while (!stopping_.load()) {
      std::optional<std::string> problem = ConnectAndServe();
      if (!problem) return;  // stopped
      Problem(*problem);
      if (WaitForStop(options_.reconnect)) return;
    }
  }

  // One connection, from connect to loss. nullopt once stopped, else what
  // went wrong.
  std::optional<std::string> ConnectAndServe() {
    Connection c;
    if (Status s = Connect(&c); !s.ok()) {
      return s.message() + "; retrying every " + Every(options_.reconnect);
    }
    Status s = Serve(c);
    if (s.ok()) return std::nullopt;
    last_problem_.clear();  // a loss is always worth a warning
    return "lost the connection to " + DescribeBus(options_) + " (" +
           s.message() + "); reconnecting every " + Every(options_.reconnect);
  }

  Status Connect(Connection* c) {
    auto bus = OpenBus(options_);
    if (!bus.ok()) return bus.status();
    c->bus = std::move(bus).value();
    std::string unique_name, name_note;
    try {
      unique_name = c->bus->getUniqueName();
      // Match first, then ask: a change in between arrives as a signal.
      c->owner_match = c->bus->addMatch(
          OwnerMatchRule(), [this](sdbus::Message& m) { OnOwnerChanged(m); });
      tzn_owner_ = NameOwner(*c->bus, kTznServiceName);
      c->match = c->bus->addMatch(
          TznMatchRule(), [this](sdbus::Message& m) { OnTznMessage(m); });
    } catch (const sdbus::Error& e) {
      return Status::Unavailable("cannot subscribe on " +
                                 DescribeBus(options_) + ": " + ErrorText(e));
    }
    if (options_.serve_own_interface) {
      auto object = ExportAgentObject(
          *c->bus, [this] { PollNowCalled(); }, status_);
      if (!object.ok()) return object.status();
      c->object = std::move(object).value();
      try {
        c->bus->requestName(kAgentBusName);
        name_note = std::string("; serving ") + kAgentInterface + " as " +
                    kAgentBusName;
      } catch (const sdbus::Error& e) {
        spdlog::warn("dbus: cannot own {} on {} ({}); serving {} on {} only",
                     kAgentBusName, DescribeBus(options_), ErrorText(e),
                     kAgentObjectPath, unique_name);
        name_note =
            std::string("; serving ") + kAgentInterface + " as " + unique_name;
      }
    }
    spdlog::info("dbus: connected to {} as {}; listening for {}.{} from {}{}",
                 DescribeBus(options_), unique_name, kTznInterface, kTznSignal,
                 kTznServiceName, name_note);
    last_problem_.clear();
    return Status::Ok();
  }

  // Processes the connection until stopped (OK) or lost (the reason).
  Status Serve(Connection& c) {
    for (;;) {
      sdbus::IConnection::PollData poll_data{};
      int timeout_ms = -1;
      try {
        while (!stopping_.load() && c.bus->processPendingRequest()) {
        }
        if (stopping_.load()) return Status::Ok();
        poll_data = c.bus->getEventLoopPollData();
        timeout_ms = poll_data.getPollTimeout();
      } catch (const sdbus::Error& e) {
        return Status::Unavailable(ErrorText(e));
      }
      pollfd fds[] = {{poll_data.fd, poll_data.events, 0},
                      {stop_fd_.get(), POLLIN, 0}};
      if (poll(fds, 2, timeout_ms) < 0 && errno != EINTR) {
        return PosixError("poll", errno);
      }
      if (fds[1].revents & POLLIN) return Status::Ok();
    }
  }

  void OnOwnerChanged(sdbus::Message& message) {
    // Signals sent straight to us bypass match rules and sd-bus trusts the
    // daemon on well-known senders: only the driver itself is believed.
    if (message.getSender() != kBusDriver) return;
    std::string name, old_owner, new_owner;
    try {
      message >> name >> old_owner >> new_owner;
    } catch (const sdbus::Error&) {
      return;
    }
    if (!message || name != kTznServiceName) return;
    spdlog::debug("dbus: {} is now owned by '{}'", kTznServiceName, new_owner);
    tzn_owner_ = std::move(new_owner);
  }

  void OnTznMessage(sdbus::Message& message) {
    std::string command, args;
    // The match rule keeps broadcasts from others away, but a signal sent
    // straight to us (a destination set) is delivered whoever sends it.
    // Messages routed by the daemon always carry a sender.
    std::string sender = message.getSender();
    Status s = !tzn_owner_.empty() && sender == tzn_owner_
                   ? ReadTznMessage(message, &command, &args)
                   : Status::PermissionDenied("sent by " + sender +
                                              ", which does not own " +
                                              kTznServiceName);
    if (s.ok()) s = CheckTznMessage(command, args);
    if (!s.ok()) {
      std::string line =
          std::string("dbus: ignored ") + kTznSignal + ": " + s.message();
      if (line == last_ignored_) {
        spdlog::debug("{}", line);
      } else {
        spdlog::info("{}", line);
        last_ignored_ = std::move(line);
      }
      return;
    }
    last_ignored_.clear();
    spdlog::debug("dbus: {} from {}: polling now", kPollRasNow, sender);
    on_poll_now_();
  }

  void PollNowCalled() {
    spdlog::debug("dbus: {}.PollNow called: polling now", kAgentInterface);
    on_poll_now_();
  }

  // Logs `message` at warning level unless it repeats the last one.
  void Problem(const std::string& message) {
    if (message == last_problem_) {
      spdlog::debug("dbus: {}", message);
      return;
    }
    spdlog::warn("dbus: {}", message);
    last_problem_ = message;
  }

  // Waits `d` or until stopped; true when stopped.
  bool WaitForStop(std::chrono::milliseconds d) {
    auto deadline = std::chrono::steady_clock::now() + d;
    while (!stopping_.load()) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{stop_fd_.get(), POLLIN, 0};
      poll(&p, 1, static_cast<int>(left.count()));
    }
    return true;
  }

  const DbusOptions options_;
  const std::function<void()> on_poll_now_;
  const std::function<AgentStatus()> status_;
  UniqueFd stop_fd_;  // eventfd, readable once stopping_
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  // Used by the thread only.
  std::string last_problem_;
  std::string last_ignored_;
  std::string tzn_owner_;  // unique name owning io.torizon.TznService
};

DbusService::DbusService(DbusOptions options, std::function<void()> on_poll_now,
                         std::function<AgentStatus()> status)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(on_poll_now),
                                   std::move(status))) {}

DbusService::~DbusService() = default;

Status DbusService::Start() { return impl_->Start(); }

}  // namespace porthole::agent
