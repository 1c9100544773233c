#include "agent/dbus/bus.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "core/base/unique_fd.h"

namespace porthole::agent {
namespace {

bool EnvSet(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0';
}

// The socket path of a D-Bus address that is exactly one
// "unix:path=<escaped>[,guid=<hex>]"; nullopt for anything else.
std::optional<std::string> UnixPath(std::string_view address) {
  constexpr std::string_view kPrefix = "unix:path=";
  if (!address.starts_with(kPrefix)) return std::nullopt;
  std::string_view value = address.substr(kPrefix.size());
  if (size_t comma = value.find(','); comma != std::string_view::npos) {
    std::string_view rest = value.substr(comma);
    if (!rest.starts_with(",guid=") ||
        rest.find_first_of(",;", 1) != std::string_view::npos) {
      return std::nullopt;
    }
    value = value.substr(0, comma);
  }
  if (value.find(';') != std::string_view::npos) return std::nullopt;
  std::string path;
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] != '%') {
      path.push_back(value[i]);
      continue;
    }
    if (i + 2 >= value.size()) return std::nullopt;
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    int hi = hex(value[i + 1]), lo = hex(value[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    path.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return path;
}

// sdbus-c++ 1.2 leaks the sd_bus object (about 2 KB) when it cannot
// connect to an explicit address, so the reconnect loop would leak while a
// bus is away. For a plain unix socket, find out first: a missing socket or
// a refused connection is the bus being away. The leak remains only for a
// bus that goes away between the two connects, or for other address forms.
Status ProbeUnixSocket(const std::string& path) {
  sockaddr_un sa = {};
  sa.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(sa.sun_path)) return Status::Ok();
  std::memcpy(sa.sun_path, path.data(), path.size());
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return Status::Ok();  // let sd-bus say what is wrong
  if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof(sa)) !=
          0 &&
      (errno == ENOENT || errno == ECONNREFUSED)) {
    return PosixError(path, errno);
  }
  return Status::Ok();
}

}  // namespace

std::string DescribeBus(const DbusOptions& options) {
  if (!options.address.empty()) return "the bus at " + options.address;
  return options.bus == BusKind::kSystem ? "the system bus" : "the session bus";
}

std::string ErrorText(const sdbus::Error& e) {
  if (e.getMessage().empty()) return e.getName();
  if (e.getName().empty()) return e.getMessage();
  return e.getMessage() + " (" + e.getName() + ")";
}

Result<std::unique_ptr<sdbus::IConnection>> OpenBus(
    const DbusOptions& options) {
  const std::string what = "cannot connect to " + DescribeBus(options) + ": ";
  if (options.address.empty() && options.bus == BusKind::kSession &&
      !EnvSet("DBUS_SESSION_BUS_ADDRESS") && !EnvSet("XDG_RUNTIME_DIR")) {
    return Status::Unavailable(
        what + "neither DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR is set");
  }
  if (auto path = UnixPath(options.address)) {
    if (Status s = ProbeUnixSocket(*path); !s.ok()) {
      return Status::Unavailable(what + s.message());
    }
  }
  try {
    std::unique_ptr<sdbus::IConnection> bus;
    if (!options.address.empty()) {
      // sd-bus has no "system bus at this address"; for a connection the
      // two differ only in what sd_bus_get_scope() reports.
      bus = sdbus::createSessionBusConnectionWithAddress(options.address);
    } else if (options.bus == BusKind::kSystem) {
      bus = sdbus::createSystemBusConnection();
    } else {
      bus = sdbus::createSessionBusConnection();
    }
    bus->setMethodCallTimeout(kBusCallTimeout);
    return bus;
  } catch (const sdbus::Error& e) {
    return Status::Unavailable(what + ErrorText(e));
  }
}

}  // namespace porthole::agent
