// A RelayBackend over a fixed table of devices and sessions, read from a
// JSON document: what the relay's tests and porthole-test-relay use until
// (and besides) porthole-server's store.
//
//   {
//     "devices": [
//       {"id": "0f8fad5b-d9cb-469f-a165-70867728950e", "name": "dev-7",
//        "key": "ssh-ed25519 AAAA... comment"}
//     ],
//     "sessions": [
//       {"id": "s1", "device": "0f8fad5b-d9cb-469f-a165-70867728950e",
//        "port": 40001, "operator_keys": ["ssh-ed25519 AAAA... alice"],
//        "expires": "2030-01-01T00:00:00Z"}
//     ]
//   }
//
// Strict: both members required (arrays, may be empty); every member listed
// above required and no other allowed, except a device's "key", which may
// be absent or null (a device that registered no key). Device ids are UUIDs
// (any case, kept lower-case), unique; names are unique, non-empty and not
// a UUID; session ids unique; a session names a listed device; ports
// 1..65535 and unique among sessions; keys are OpenSSH public key lines;
// `expires` is RFC 3339. Errors: "WHERE: sessions[1].port: 0 is not a port
// (1..65535)" where WHERE names the file; nothing is half-applied.
//
// A session is live while clock.Now() < expires. Threading: every method is
// thread-safe (one mutex); Replace() swaps the whole table atomically.
#ifndef PORTHOLE_SERVER_RELAY_TABLE_BACKEND_H_
#define PORTHOLE_SERVER_RELAY_TABLE_BACKEND_H_

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/clock.h"
#include "core/base/status.h"
#include "core/keys/public_key.h"
#include "server/relay/relay_backend.h"

namespace porthole::server::relay {

struct TableDevice {
  std::string id;  // lower-case UUID
  std::string name;
  std::optional<keys::PublicKey> key;
};

struct TableSession {
  std::string id;
  std::string device;  // a TableDevice id
  uint16_t port = 0;
  std::vector<keys::PublicKey> operator_keys;
  SystemTime expires;
};

struct Table {
  std::vector<TableDevice> devices;
  std::vector<TableSession> sessions;
};

// Parses the document; `where` (a file name) starts every error message.
// Errors are kInvalidArgument.
Result<Table> ParseTable(std::string_view json, std::string_view where);
// Reads (at most 16 MiB) and parses `path`.
Result<Table> LoadTable(const std::string& path);

class TableBackend : public RelayBackend {
 public:
  // `report` receives every event (on the relay's thread); may be empty.
  TableBackend(const Clock& clock,
               std::function<void(const RelayEvent&)> report);

  void Replace(Table table);

  std::optional<keys::PublicKey> DeviceKey(
      const std::string& device_id) override;
  std::optional<LiveSession> LiveSessionOfDevice(
      const std::string& device_id) override;
  std::vector<LiveSession> LiveSessionsForOperatorKey(
      const keys::PublicKey& key) override;
  std::optional<std::string> ResolveDevice(
      const std::string& name_or_id) override;
  void Report(const RelayEvent& event) override;

 private:
  LiveSession ToLive(const TableSession& s) const;  // mu_ held

  const Clock& clock_;
  std::function<void(const RelayEvent&)> report_;
  std::mutex mu_;
  Table table_;  // GUARDED_BY(mu_)
  // Indexes into table_ (GUARDED_BY(mu_)), so that a table of thousands of
  // devices costs the relay's benchmarks nothing per lookup.
  std::map<std::string, size_t> device_by_id_, device_by_name_;
  std::multimap<std::string, size_t> sessions_by_device_, sessions_by_key_;
};

}  // namespace porthole::server::relay

#endif  // PORTHOLE_SERVER_RELAY_TABLE_BACKEND_H_
