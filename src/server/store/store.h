// porthole-server's persistent state: devices, sessions, commands, operator
// tokens, the audit trail, the director's signed documents and a few
// settings. One interface, so that a bigger deployment can put PostgreSQL
// behind it; OpenSqliteStore() is the embedded default (one file, WAL,
// schema migrations on open).
//
// Rules every implementation keeps:
//  - Each method is one transaction: it happens completely or not at all.
//  - Times are stored with second precision (UTC); what comes back is what
//    went in, rounded down to the second.
//  - Errors: kNotFound for a named thing that does not exist (message names
//    it), kAlreadyExists for a uniqueness clash (message names the value),
//    kFailedPrecondition when state forbids it (a removed device, a closed
//    session), kInvalidArgument for a value the store refuses to hold (a
//    bad device name, a key line that does not parse, an inverted range),
//    kIoError / kCorrupt / kPermissionDenied for the database itself
//    (message names the file), kUnavailable when another process kept the
//    database locked past the busy timeout (retry later).
//  - Device ids given to a method may be in any case; ids are stored and
//    returned lower-case hyphenated.
//  - ChangeStamp() changes after every committed change, whether this
//    process or another one (e.g. `porthole-server device remove` while the
//    server runs) made it; the server polls it to wake long polls and
//    re-check the relay. Every commit moves it, also TouchDevices() and
//    AppendAudit(): a waiter re-checks its own state rather than taking a
//    move as a change of it.
//
// Thread safety: every method may be called from any thread concurrently.
#ifndef PORTHOLE_SERVER_STORE_STORE_H_
#define PORTHOLE_SERVER_STORE_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/base/clock.h"
#include "core/base/status.h"
#include "server/store/names.h"

namespace porthole::server {

struct Device {
  std::string id;    // UUID, lower-case hyphenated; the certificate's CN
  std::string name;  // ValidateDeviceName(); unique among devices not removed
  std::string cert_sha256;  // hex SHA-256 of the issued certificate's DER
  std::string cert_serial;  // hex
  SystemTime cert_not_after;
  SystemTime created_at;
  std::optional<SystemTime> removed_at;  // set: revoked, the API refuses it
  std::string ssh_key;  // registered device key line ("" until POSTed)
  std::optional<SystemTime> ssh_key_at;
  std::vector<std::string> host_keys;  // session host keys (extension)
  std::optional<SystemTime> last_seen_at;

  bool removed() const { return removed_at.has_value(); }
};

enum class SessionState { kOpen, kClosed, kExpired };
// "open", "closed", "expired".
const char* SessionStateName(SessionState state);

struct Session {
  std::string id;  // UUID
  std::string device_id;
  // Sent to the device (authorized_pubkeys) and allowed at the relay.
  std::vector<std::string> operator_keys;
  // Allowed at the relay only, never sent to the device (porthole connect's
  // per-session key for the relay hop).
  std::vector<std::string> relay_keys;
  uint16_t reverse_port = 0;
  std::string opened_by;  // the operator token's name, or "admin"
  SystemTime created_at;
  SystemTime expires_at;
  SessionState state = SessionState::kOpen;
  std::optional<SystemTime> ended_at;
  std::string end_reason;  // "closed by alice", "expired", "device removed"
  bool tunnel_up = false;
  std::optional<SystemTime> tunnel_changed_at;

  // Open and not past expires_at.
  bool LiveAt(SystemTime now) const {
    return state == SessionState::kOpen && now < expires_at;
  }
};

struct NewSession {
  std::string device_id;
  std::vector<std::string> operator_keys;  // key lines, already validated
  std::vector<std::string> relay_keys;
  std::string opened_by;
  SystemTime created_at;
  SystemTime expires_at;
  // The reverse port is picked at random in [port_min, port_max], unused by
  // any open session (state kOpen, including one past expires_at that
  // ExpireSessions() has not ended yet: its tunnel may still hold the port).
  uint16_t port_min = 40000;
  uint16_t port_max = 49999;
};

struct SessionFilter {
  std::string device_id;  // "" = any
  bool live_only = false;
  std::optional<SystemTime> now;  // for live_only (required then)
  size_t limit = 100;             // newest first; 0 = no limit
};

struct Command {
  std::string id;  // urn:tdx-ota:command:<uuid>
  std::string device_id;
  std::string name;
  std::vector<std::string> args;
  std::string created_by;
  SystemTime created_at;
  // Set once the device POSTs a result; result_json is its body as received.
  std::optional<SystemTime> result_at;
  std::string result_json;
  bool success = false;
  std::optional<int64_t> exit_code;

  bool done() const { return result_at.has_value(); }
};

struct CommandFilter {
  std::string device_id;  // "" = any
  bool pending_only = false;
  size_t limit = 100;  // newest first; 0 = no limit
};

struct CommandResult {
  std::string json;  // the body as the device sent it
  bool success = false;
  std::optional<int64_t> exit_code;
  SystemTime at;
};

struct Token {
  std::string name;    // ValidateTokenName(); unique among unrevoked tokens
  std::string sha256;  // hex SHA-256 of the secret; the secret is not kept
  SystemTime created_at;
  std::optional<SystemTime> revoked_at;
};

struct AuditEvent {
  int64_t seq = 0;  // assigned by Append, increasing
  SystemTime at;
  std::string kind;  // "session.open", "tunnel.up", "relay.refused", ...
  std::string device_id;
  std::string session_id;
  std::string actor;         // token name, key fingerprint, "device", "admin"
  std::string details_json;  // a JSON object with the rest
};

struct AuditFilter {
  std::string device_id;  // "" = any
  std::optional<SystemTime> since;
  int64_t after_seq = 0;  // only events with seq > after_seq
  size_t limit = 1000;    // oldest first; 0 = no limit
};

struct Counts {
  uint64_t devices = 0;        // not removed
  uint64_t sessions_live = 0;  // open and unexpired at `now`
  uint64_t tunnels_up = 0;
  uint64_t commands_pending = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // ---- devices ----
  // kInvalidArgument if the id is not a UUID or the name fails
  // ValidateDeviceName(); kAlreadyExists if the id, or the name among
  // devices not removed, exists.
  virtual Status AddDevice(const Device& device) = 0;
  // By id (any UUID form, any case) or by name; removed devices are found
  // by id only.
  virtual Result<Device> FindDevice(const std::string& id_or_name) = 0;
  // Ordered by name, then creation.
  virtual Result<std::vector<Device>> ListDevices(bool include_removed) = 0;
  // Marks it removed; its open sessions end (kClosed) with reason "device
  // removed". kNotFound if unknown, kFailedPrecondition if already removed.
  virtual Status RemoveDevice(const std::string& id, SystemTime at) = 0;
  // Replaces the device key; returns the previous line ("" if none).
  // kNotFound / kFailedPrecondition (removed) as for every per-device
  // update below.
  virtual Result<std::string> SetDeviceSshKey(const std::string& id,
                                              const std::string& line,
                                              SystemTime at) = 0;
  virtual Status SetDeviceHostKeys(const std::string& id,
                                   const std::vector<std::string>& lines) = 0;
  // Batched last-seen updates (unknown ids are ignored).
  virtual Status TouchDevices(
      const std::vector<std::pair<std::string, SystemTime>>& seen) = 0;

  // ---- sessions ----
  // kNotFound if the device is unknown, kFailedPrecondition if it is
  // removed; kAlreadyExists (naming the session id) if it already has a
  // live session at created_at; kUnavailable if no port is free;
  // kInvalidArgument if a key line does not parse, port_min is 0 or above
  // port_max, or expires_at is not after created_at. The new session's id
  // is a random UUID.
  virtual Result<Session> OpenSession(const NewSession& request) = 0;
  virtual Result<Session> GetSession(const std::string& id) = 0;
  // nullopt also for an unknown device.
  virtual Result<std::optional<Session>> LiveSessionOfDevice(
      const std::string& device_id, SystemTime now) = 0;
  // Live sessions at `now` whose operator or relay keys include a key with
  // this blob SHA-256 (hex, PublicKey::BlobSha256Hex()).
  virtual Result<std::vector<Session>> LiveSessionsWithKey(
      const std::string& key_blob_sha256, SystemTime now) = 0;
  virtual Result<std::vector<Session>> ListSessions(
      const SessionFilter& filter) = 0;
  // Adds a relay-only key to an open session (no-op if a relay key with
  // the same key material is already there). kFailedPrecondition if the
  // session has ended.
  virtual Status AddRelayKey(const std::string& session_id,
                             const std::string& line) = 0;
  // Ends an open session with `state` (kClosed or kExpired, else
  // kInvalidArgument). Returns false if it had already ended (nothing
  // changes).
  virtual Result<bool> EndSession(const std::string& id, SessionState state,
                                  const std::string& reason, SystemTime at) = 0;
  // Ends every open session with expires_at <= now as kExpired (ended_at =
  // its expires_at, reason "expired") and returns them, ended.
  virtual Result<std::vector<Session>> ExpireSessions(SystemTime now) = 0;
  // The earliest expires_at among open sessions.
  virtual Result<std::optional<SystemTime>> NextExpiry() = 0;
  // Records the relay's view of the tunnel, for open and ended sessions
  // alike; tunnel_changed_at moves only when `up` differs.
  virtual Status SetTunnelUp(const std::string& session_id, bool up,
                             SystemTime at) = 0;

  // ---- commands ----
  // kNotFound if the device is unknown, kFailedPrecondition if it is
  // removed, kAlreadyExists if the id exists. The result fields are stored
  // as given (normally empty).
  virtual Status AddCommand(const Command& command) = 0;
  virtual Result<Command> GetCommand(const std::string& id) = 0;
  // Commands of the device without a result, oldest first.
  virtual Result<std::vector<Command>> PendingCommands(
      const std::string& device_id) = 0;
  virtual Result<std::vector<Command>> ListCommands(
      const CommandFilter& filter) = 0;
  // kNotFound if the id is unknown or belongs to another device. Returns
  // false (and keeps the first result) if a result was already stored.
  virtual Result<bool> SetCommandResult(const std::string& device_id,
                                        const std::string& id,
                                        const CommandResult& result) = 0;

  // ---- operator tokens ----
  // kInvalidArgument if the name fails ValidateTokenName() or sha256 is not
  // 64 lower-case hex digits; kAlreadyExists if an unrevoked token has the
  // name, or any token the hash.
  virtual Status AddToken(const Token& token) = 0;
  // An unrevoked token with this hash, or kNotFound.
  virtual Result<Token> FindToken(const std::string& sha256) = 0;
  // Revoked ones too, oldest first.
  virtual Result<std::vector<Token>> ListTokens() = 0;
  // Revokes the unrevoked token with this name; kNotFound if none.
  virtual Status RevokeToken(const std::string& name, SystemTime at) = 0;

  // ---- audit ----
  // `seq` is ignored and assigned; details_json must be a JSON object ("" is
  // stored as "{}"), else kInvalidArgument.
  virtual Result<int64_t> AppendAudit(const AuditEvent& event) = 0;
  virtual Result<std::vector<AuditEvent>> ListAudit(
      const AuditFilter& filter) = 0;

  // ---- director documents (signed metadata, served as is) ----
  // Appends version `version` of `role` ("root", "remote-sessions");
  // kAlreadyExists if that version exists. Versions are 1..2^63-1
  // (kInvalidArgument otherwise, here and in GetMetadata).
  virtual Status PutMetadata(const std::string& role, uint64_t version,
                             const std::string& text) = 0;
  // The given version, or the latest when nullopt; kNotFound if none.
  virtual Result<std::string> GetMetadata(const std::string& role,
                                          std::optional<uint64_t> version) = 0;
  // The latest version of `role`, 0 when there is none.
  virtual Result<uint64_t> LatestMetadataVersion(const std::string& role) = 0;

  // ---- settings (small values: the policy draft, flags) ----
  virtual Result<std::optional<std::string>> GetSetting(
      const std::string& key) = 0;
  virtual Status PutSetting(const std::string& key,
                            const std::string& value) = 0;

  // ---- change detection and metrics ----
  // Never decreases; moves after every committed change (see the top). On
  // a database error it returns the last value.
  virtual uint64_t ChangeStamp() = 0;
  virtual Result<Counts> GetCounts(SystemTime now) = 0;
};

// Opens (creating if missing, mode 0600; its directory must exist) the
// SQLite database at `path` and brings its schema up to date. Fails naming
// the file if it cannot be opened (kNotFound for a missing directory,
// kPermissionDenied, kIoError; a symlink is refused), is not a porthole
// database (kCorrupt), or has a newer schema than this program knows
// (kFailedPrecondition). Settings: WAL, synchronous=NORMAL, foreign keys,
// a 5 s busy timeout; one connection shared under a mutex.
Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path);

// The schema version this program writes (PRAGMA user_version).
int SqliteSchemaVersion();

}  // namespace porthole::server

#endif  // PORTHOLE_SERVER_STORE_STORE_H_
