// The device listener: RAC's device API (PROTOCOL.md 3) plus porthole's
// extensions (docs/device-api-extensions.md), answered from the store.
//
//   POST {url}public-keys                 register the device's SSH key
//   GET  {url}sessions[?wait=&seen=]      404 or the DeviceSession
//   GET  {url}commands[?wait=&seen=]      {"values": [pending commands]}
//   POST {url}commands/<urn>/result       store a CommandResult
//   POST {url}host-keys                   (extension) session host keys
//   GET  {dir}root.json, {dir}<N>.root.json, {dir}remote-sessions.json
// with {url} = /ras/ and {dir} = /director/.
//
// Identity comes only from the verified client certificate: its CN must be
// a device's UUID and its SHA-256 the certificate issued to that device; a
// removed device is refused (403) at once. Every response carries
// X-Porthole-Extensions; errors are RAC's RasError bodies.
//
// Thread safety: Handle() may run concurrently on any threads.
#ifndef PORTHOLE_SERVER_API_DEVICE_API_H_
#define PORTHOLE_SERVER_API_DEVICE_API_H_

#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "server/api/context.h"
#include "server/api/http.h"

namespace porthole::server::api {

inline constexpr char kRasPrefix[] = "/ras/";
inline constexpr char kDirectorPrefix[] = "/director/";
// Body caps: a CommandResult carries up to 2 x 819,200 bytes of output,
// which JSON escaping can grow up to six-fold.
inline constexpr size_t kMaxResultBody = 12 << 20;
inline constexpr size_t kMaxDeviceBody = 64 << 10;

class DeviceApi {
 public:
  explicit DeviceApi(Context* context) : ctx_(context) {}

  void Handle(Request request, Respond respond);

  // The body limit for a request line (the HTTPS layer asks before reading
  // the body).
  static size_t BodyLimit(std::string_view method, std::string_view path);

  // "long-poll=55, host-keys".
  std::string ExtensionsHeader() const;

 private:
  Response PostPublicKey(const Device& device, const Request& request);
  void GetSessions(const Device& device, const Request& request,
                   Respond respond);
  void GetCommands(const Device& device, const Request& request,
                   Respond respond);
  Response PostResult(const Device& device, const std::string& id,
                      const Request& request);
  Response PostHostKeys(const Device& device, const Request& request);
  Response Director(const std::string& name);

  Response SessionsNow(const std::string& device_id);
  Response CommandsNow(const std::string& device_id);

  // A refused device is audited (api.refused) and logged at most once a
  // minute: a removed device whose agent keeps polling must not fill the
  // audit log and the server's log with one entry per poll.
  bool FirstRefusalInAWhile(const std::string& key, SystemTime now);

  Context* const ctx_;
  std::mutex refused_mu_;
  std::map<std::string, SystemTime> refused_at_;  // by device id or CN
};

}  // namespace porthole::server::api

#endif  // PORTHOLE_SERVER_API_DEVICE_API_H_
