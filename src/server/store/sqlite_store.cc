// The Store over one SQLite connection (store.h). Every method takes the
// mutex, so the connection is used by one thread at a time; writes run in
// BEGIN IMMEDIATE transactions so that a concurrent writer in another
// process waits (busy timeout) instead of failing half-way.
#include <sqlite3.h>

#include <algorithm>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>

#include "core/base/utf8.h"
#include "core/config/agent_config.h"
#include "core/config/toml.h"
#include "core/crypto/random.h"
#include "core/keys/authorized_key.h"
#include "server/store/schema.h"
#include "server/store/sqlite_db.h"
#include "server/store/store.h"

namespace porthole::server {

const char* SessionStateName(SessionState state) {
  switch (state) {
    case SessionState::kOpen:
      return "open";
    case SessionState::kClosed:
      return "closed";
    case SessionState::kExpired:
      return "expired";
  }
  return "?";
}

namespace {

using sqlite::Db;
using sqlite::Query;
using sqlite::Transaction;

#define DEVICE_COLUMNS                                               \
  "id, name, cert_sha256, cert_serial, cert_not_after, created_at, " \
  "removed_at, ssh_key, ssh_key_at, host_keys, last_seen_at"
#define SESSION_COLUMNS                                                 \
  "id, device_id, operator_keys, relay_keys, reverse_port, opened_by, " \
  "created_at, expires_at, state, ended_at, end_reason, tunnel_up, "    \
  "tunnel_changed_at"
#define COMMAND_COLUMNS                                            \
  "id, device_id, name, args, created_by, created_at, result_at, " \
  "result_json, success, exit_code"

int64_t Secs(SystemTime t) {
  return std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
}
std::optional<int64_t> Secs(const std::optional<SystemTime>& t) {
  if (!t) return std::nullopt;
  return Secs(*t);
}
SystemTime Time(int64_t secs) { return SystemTime(std::chrono::seconds(secs)); }
std::optional<SystemTime> Time(std::optional<int64_t> secs) {
  if (!secs) return std::nullopt;
  return Time(*secs);
}

std::string Quote(std::string_view s) {
  return "'" + config::PrintableText(s, 100) + "'";
}

// Any UUID form in any case -> the stored form; anything else unchanged
// (then it simply matches nothing).
std::string NormalizeId(const std::string& id) {
  auto uuid = config::ParseUuid(id);
  return uuid.ok() ? *uuid : id;
}

bool IsLowerHex(std::string_view s, size_t size) {
  return s.size() == size &&
         s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

Result<std::string> ToJsonArray(const std::vector<std::string>& items,
                                std::string_view what) {
  for (size_t i = 0; i < items.size(); ++i) {
    if (!IsValidUtf8(items[i])) {
      return Status::InvalidArgument(std::string(what) + " " +
                                     std::to_string(i + 1) +
                                     " is not valid UTF-8");
    }
  }
  try {
    return nlohmann::json(items).dump();
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(std::string(what) + ": " + e.what());
  }
}

Result<std::vector<std::string>> FromJsonArray(const Db& db,
                                               const std::string& text) {
  try {
    nlohmann::json j = nlohmann::json::parse(text);
    return j.get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception&) {
    return Status::Corrupt(db.path() +
                           ": a stored list is not a JSON array "
                           "of strings");
  }
}

Result<Device> ReadDevice(const Db& db, const Query& q) {
  Device d;
  d.id = q.Text(0);
  d.name = q.Text(1);
  d.cert_sha256 = q.Text(2);
  d.cert_serial = q.Text(3);
  d.cert_not_after = Time(q.Int(4));
  d.created_at = Time(q.Int(5));
  d.removed_at = Time(q.OptInt(6));
  d.ssh_key = q.Text(7);
  d.ssh_key_at = Time(q.OptInt(8));
  PH_ASSIGN_OR_RETURN(d.host_keys, FromJsonArray(db, q.Text(9)));
  d.last_seen_at = Time(q.OptInt(10));
  return d;
}

Result<Session> ReadSession(const Db& db, const Query& q) {
  Session s;
  s.id = q.Text(0);
  s.device_id = q.Text(1);
  PH_ASSIGN_OR_RETURN(s.operator_keys, FromJsonArray(db, q.Text(2)));
  PH_ASSIGN_OR_RETURN(s.relay_keys, FromJsonArray(db, q.Text(3)));
  s.reverse_port = static_cast<uint16_t>(q.Int(4));
  s.opened_by = q.Text(5);
  s.created_at = Time(q.Int(6));
  s.expires_at = Time(q.Int(7));
  switch (q.Int(8)) {
    case 0:
      s.state = SessionState::kOpen;
      break;
    case 1:
      s.state = SessionState::kClosed;
      break;
    case 2:
      s.state = SessionState::kExpired;
      break;
    default:
      return Status::Corrupt(db.path() + ": session " + s.id +
                             " has an unknown state");
  }
  s.ended_at = Time(q.OptInt(9));
  s.end_reason = q.Text(10);
  s.tunnel_up = q.Int(11) != 0;
  s.tunnel_changed_at = Time(q.OptInt(12));
  return s;
}

Result<Command> ReadCommand(const Db& db, const Query& q) {
  Command c;
  c.id = q.Text(0);
  c.device_id = q.Text(1);
  c.name = q.Text(2);
  PH_ASSIGN_OR_RETURN(c.args, FromJsonArray(db, q.Text(3)));
  c.created_by = q.Text(4);
  c.created_at = Time(q.Int(5));
  c.result_at = Time(q.OptInt(6));
  c.result_json = q.Text(7);
  c.success = q.Int(8) != 0;
  c.exit_code = q.OptInt(9);
  return c;
}

Token ReadToken(const Query& q) {
  Token t;
  t.name = q.Text(0);
  t.sha256 = q.Text(1);
  t.created_at = Time(q.Int(2));
  t.revoked_at = Time(q.OptInt(3));
  return t;
}

AuditEvent ReadAudit(const Query& q) {
  AuditEvent e;
  e.seq = q.Int(0);
  e.at = Time(q.Int(1));
  e.kind = q.Text(2);
  e.device_id = q.Text(3);
  e.session_id = q.Text(4);
  e.actor = q.Text(5);
  e.details_json = q.Text(6);
  return e;
}

// Every row of `q` through `read`.
template <typename T, typename F>
Result<std::vector<T>> ReadAll(Query& q, F read) {
  std::vector<T> out;
  while (true) {
    PH_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return out;
    if constexpr (std::is_same_v<decltype(read(q)), T>) {
      out.push_back(read(q));
    } else {
      PH_ASSIGN_OR_RETURN(T item, read(q));
      out.push_back(std::move(item));
    }
  }
}

// SQLite's LIMIT: -1 is none.
int64_t Limit(size_t limit) {
  return limit == 0 ? -1
                    : static_cast<int64_t>(std::min<size_t>(
                          limit, std::numeric_limits<int64_t>::max()));
}

// The distinct key blob hashes of `lines`; kInvalidArgument naming the
// line ("operator key 2: ...") if one does not parse.
Result<std::vector<std::string>> BlobHashes(
    const std::vector<std::string>& lines, std::string_view what) {
  std::vector<std::string> out;
  for (size_t i = 0; i < lines.size(); ++i) {
    auto key = keys::ParseAuthorizedKey(lines[i]);
    if (!key.ok()) {
      return Status::InvalidArgument(std::string(what) + " " +
                                     std::to_string(i + 1) + ": " +
                                     key.status().message());
    }
    std::string h = key->key.BlobSha256Hex();
    if (std::find(out.begin(), out.end(), h) == out.end()) out.push_back(h);
  }
  return out;
}

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(std::unique_ptr<Db> db)
      : db_(std::move(db)), rng_(std::random_device{}()) {
    data_version_ = ReadDataVersion().value_or(0);
  }

  // ---- devices ----

  Status AddDevice(const Device& device) override {
    auto id = config::ParseUuid(device.id);
    if (!id.ok() || *id != device.id) {
      return Status::InvalidArgument("device id " + Quote(device.id) +
                                     " is not a lower-case hyphenated UUID");
    }
    PH_RETURN_IF_ERROR(ValidateDeviceName(device.name));
    PH_ASSIGN_OR_RETURN(std::string host_keys,
                        ToJsonArray(device.host_keys, "host key"));
    return Write([&]() -> Status {
      Query by_id(*db_, "SELECT 1 FROM devices WHERE id = ?1");
      by_id.Bind(1, device.id);
      PH_ASSIGN_OR_RETURN(bool id_taken, by_id.Step());
      if (id_taken) {
        return Status::AlreadyExists("device id " + device.id +
                                     " already exists");
      }
      Query by_name(*db_,
                    "SELECT 1 FROM devices WHERE name = ?1 AND removed_at IS "
                    "NULL");
      by_name.Bind(1, device.name);
      PH_ASSIGN_OR_RETURN(bool name_taken, by_name.Step());
      if (name_taken) {
        return Status::AlreadyExists("device name '" + device.name +
                                     "' is already in use");
      }
      Query insert(*db_, "INSERT INTO devices (" DEVICE_COLUMNS
                         ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
                         "?11)");
      insert.BindAll(device.id, device.name, device.cert_sha256,
                     device.cert_serial, Secs(device.cert_not_after),
                     Secs(device.created_at), Secs(device.removed_at),
                     device.ssh_key, Secs(device.ssh_key_at), host_keys,
                     Secs(device.last_seen_at));
      return insert.Run();
    });
  }

  Result<Device> FindDevice(const std::string& id_or_name) override {
    std::lock_guard<std::mutex> lock(mu_);
    return FindDeviceLocked(id_or_name);
  }

  Result<std::vector<Device>> ListDevices(bool include_removed) override {
    std::lock_guard<std::mutex> lock(mu_);
    Query q(*db_, "SELECT " DEVICE_COLUMNS
                  " FROM devices WHERE ?1 OR removed_at IS NULL "
                  "ORDER BY name, created_at, id");
    q.Bind(1, int64_t{include_removed});
    return ReadAll<Device>(q,
                           [&](const Query& r) { return ReadDevice(*db_, r); });
  }

  Status RemoveDevice(const std::string& id, SystemTime at) override {
    return Write([&]() -> Status {
      PH_ASSIGN_OR_RETURN(Device d, LiveDeviceById(id));
      Query mark(*db_, "UPDATE devices SET removed_at = ?2 WHERE id = ?1");
      mark.BindAll(d.id, Secs(at));
      PH_RETURN_IF_ERROR(mark.Run());
      Query end(*db_,
                "UPDATE sessions SET state = 1, ended_at = ?2, "
                "end_reason = 'device removed' WHERE device_id = ?1 AND "
                "state = 0");
      end.BindAll(d.id, Secs(at));
      return end.Run();
    });
  }

  Result<std::string> SetDeviceSshKey(const std::string& id,
                                      const std::string& line,
                                      SystemTime at) override {
    return Write([&]() -> Result<std::string> {
      PH_ASSIGN_OR_RETURN(Device d, LiveDeviceById(id));
      Query q(*db_,
              "UPDATE devices SET ssh_key = ?2, ssh_key_at = ?3 WHERE id = "
              "?1");
      q.BindAll(d.id, line, Secs(at));
      PH_RETURN_IF_ERROR(q.Run());
      return d.ssh_key;
    });
  }

  Status SetDeviceHostKeys(const std::string& id,
                           const std::vector<std::string>& lines) override {
    PH_ASSIGN_OR_RETURN(std::string json, ToJsonArray(lines, "host key"));
    return Write([&]() -> Status {
      PH_ASSIGN_OR_RETURN(Device d, LiveDeviceById(id));
      Query q(*db_, "UPDATE devices SET host_keys = ?2 WHERE id = ?1");
      q.BindAll(d.id, json);
      return q.Run();
    });
  }

  Status TouchDevices(
      const std::vector<std::pair<std::string, SystemTime>>& seen) override {
    if (seen.empty()) return Status::Ok();
    return Write([&]() -> Status {
      for (const auto& [id, at] : seen) {
        Query q(*db_,
                "UPDATE devices SET last_seen_at = ?2 WHERE id = ?1 AND "
                "(last_seen_at IS NULL OR last_seen_at < ?2)");
        q.BindAll(NormalizeId(id), Secs(at));
        PH_RETURN_IF_ERROR(q.Run());
      }
      return Status::Ok();
    });
  }

  // ---- sessions ----

  Result<Session> OpenSession(const NewSession& r) override {
    if (r.port_min == 0 || r.port_min > r.port_max) {
      return Status::InvalidArgument("bad reverse port range " +
                                     std::to_string(r.port_min) + "-" +
                                     std::to_string(r.port_max));
    }
    if (Secs(r.expires_at) <= Secs(r.created_at)) {
      return Status::InvalidArgument("a session must expire after it opens");
    }
    PH_ASSIGN_OR_RETURN(std::vector<std::string> operator_hashes,
                        BlobHashes(r.operator_keys, "operator key"));
    PH_ASSIGN_OR_RETURN(std::vector<std::string> relay_hashes,
                        BlobHashes(r.relay_keys, "relay key"));
    PH_ASSIGN_OR_RETURN(std::string operator_json,
                        ToJsonArray(r.operator_keys, "operator key"));
    PH_ASSIGN_OR_RETURN(std::string relay_json,
                        ToJsonArray(r.relay_keys, "relay key"));
    return Write([&]() -> Result<Session> {
      PH_ASSIGN_OR_RETURN(Device d, LiveDeviceById(r.device_id));
      PH_ASSIGN_OR_RETURN(std::optional<Session> live,
                          LiveSessionLocked(d.id, r.created_at));
      if (live) {
        return Status::AlreadyExists(
            "device '" + d.name + "' already has a live session " + live->id);
      }
      PH_ASSIGN_OR_RETURN(uint16_t port, PickPort(r.port_min, r.port_max));
      Session s;
      s.id = crypto::RandomUuidV4();
      s.device_id = d.id;
      s.operator_keys = r.operator_keys;
      s.relay_keys = r.relay_keys;
      s.reverse_port = port;
      s.opened_by = r.opened_by;
      s.created_at = Time(Secs(r.created_at));
      s.expires_at = Time(Secs(r.expires_at));
      Query insert(*db_,
                   "INSERT INTO sessions (id, device_id, operator_keys, "
                   "relay_keys, reverse_port, opened_by, created_at, "
                   "expires_at, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
                   "?8, 0)");
      insert.BindAll(s.id, s.device_id, operator_json, relay_json,
                     int64_t{port}, s.opened_by, Secs(s.created_at),
                     Secs(s.expires_at));
      PH_RETURN_IF_ERROR(insert.Run());
      for (const auto* hashes : {&operator_hashes, &relay_hashes}) {
        for (const std::string& h : *hashes) {
          PH_RETURN_IF_ERROR(InsertSessionKey(s.id, h));
        }
      }
      return s;
    });
  }

  Result<Session> GetSession(const std::string& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    return GetSessionLocked(id);
  }

  Result<std::optional<Session>> LiveSessionOfDevice(
      const std::string& device_id, SystemTime now) override {
    std::lock_guard<std::mutex> lock(mu_);
    return LiveSessionLocked(NormalizeId(device_id), now);
  }

  Result<std::vector<Session>> LiveSessionsWithKey(
      const std::string& key_blob_sha256, SystemTime now) override {
    std::string h = key_blob_sha256;
    std::transform(h.begin(), h.end(), h.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    std::lock_guard<std::mutex> lock(mu_);
    Query q(*db_, "SELECT " SESSION_COLUMNS
                  " FROM sessions WHERE state = 0 AND expires_at > ?2 AND "
                  "id IN (SELECT session_id FROM session_keys WHERE "
                  "blob_sha256 = ?1) ORDER BY created_at, id");
    q.BindAll(h, Secs(now));
    return ReadAll<Session>(
        q, [&](const Query& r) { return ReadSession(*db_, r); });
  }

  Result<std::vector<Session>> ListSessions(const SessionFilter& f) override {
    if (f.live_only && !f.now) {
      return Status::InvalidArgument("ListSessions: live_only needs now");
    }
    std::lock_guard<std::mutex> lock(mu_);
    const char* sql =
        f.device_id.empty()
            ? "SELECT " SESSION_COLUMNS
              " FROM sessions WHERE ?1 = ?1 AND (?2 = 0 OR (state = 0 AND "
              "expires_at > ?3)) ORDER BY created_at DESC, rowid DESC "
              "LIMIT ?4"
            : "SELECT " SESSION_COLUMNS
              " FROM sessions WHERE device_id = ?1 AND (?2 = 0 OR (state = 0 "
              "AND expires_at > ?3)) ORDER BY created_at DESC, rowid DESC "
              "LIMIT ?4";
    Query q(*db_, sql);
    q.BindAll(NormalizeId(f.device_id), int64_t{f.live_only},
              f.now ? Secs(*f.now) : int64_t{0}, Limit(f.limit));
    return ReadAll<Session>(
        q, [&](const Query& r) { return ReadSession(*db_, r); });
  }

  Status AddRelayKey(const std::string& session_id,
                     const std::string& line) override {
    PH_ASSIGN_OR_RETURN(std::vector<std::string> hash,
                        BlobHashes({line}, "relay key"));
    return Write([&]() -> Status {
      PH_ASSIGN_OR_RETURN(Session s, GetSessionLocked(session_id));
      if (s.state != SessionState::kOpen) {
        return Status::FailedPrecondition("session " + s.id + " has ended");
      }
      PH_ASSIGN_OR_RETURN(std::vector<std::string> have,
                          BlobHashes(s.relay_keys, "stored relay key"));
      if (std::find(have.begin(), have.end(), hash[0]) != have.end()) {
        return Status::Ok();
      }
      s.relay_keys.push_back(line);
      PH_ASSIGN_OR_RETURN(std::string json,
                          ToJsonArray(s.relay_keys, "relay key"));
      Query q(*db_, "UPDATE sessions SET relay_keys = ?2 WHERE id = ?1");
      q.BindAll(s.id, json);
      PH_RETURN_IF_ERROR(q.Run());
      return InsertSessionKey(s.id, hash[0]);
    });
  }

  Result<bool> EndSession(const std::string& id, SessionState state,
                          const std::string& reason, SystemTime at) override {
    if (state == SessionState::kOpen) {
      return Status::InvalidArgument(
          "EndSession: the state must be closed or expired");
    }
    return Write([&]() -> Result<bool> {
      PH_ASSIGN_OR_RETURN(Session s, GetSessionLocked(id));
      if (s.state != SessionState::kOpen) return false;
      Query q(*db_,
              "UPDATE sessions SET state = ?2, ended_at = ?3, end_reason = "
              "?4 WHERE id = ?1");
      q.BindAll(s.id, static_cast<int64_t>(state), Secs(at), reason);
      PH_RETURN_IF_ERROR(q.Run());
      return true;
    });
  }

  Result<std::vector<Session>> ExpireSessions(SystemTime now) override {
    return Write([&]() -> Result<std::vector<Session>> {
      Query q(*db_, "SELECT " SESSION_COLUMNS
                    " FROM sessions WHERE state = 0 AND expires_at <= ?1 "
                    "ORDER BY expires_at, id");
      q.Bind(1, Secs(now));
      PH_ASSIGN_OR_RETURN(std::vector<Session> ended,
                          ReadAll<Session>(q, [&](const Query& r) {
                            return ReadSession(*db_, r);
                          }));
      for (Session& s : ended) {
        Query u(*db_,
                "UPDATE sessions SET state = 2, ended_at = expires_at, "
                "end_reason = 'expired' WHERE id = ?1");
        u.Bind(1, s.id);
        PH_RETURN_IF_ERROR(u.Run());
        s.state = SessionState::kExpired;
        s.ended_at = s.expires_at;
        s.end_reason = "expired";
      }
      return ended;
    });
  }

  Result<std::optional<SystemTime>> NextExpiry() override {
    std::lock_guard<std::mutex> lock(mu_);
    Query q(*db_, "SELECT min(expires_at) FROM sessions WHERE state = 0");
    PH_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row || q.IsNull(0)) return std::optional<SystemTime>();
    return std::optional<SystemTime>(Time(q.Int(0)));
  }

  Status SetTunnelUp(const std::string& session_id, bool up,
                     SystemTime at) override {
    return Write([&]() -> Status {
      PH_ASSIGN_OR_RETURN(Session s, GetSessionLocked(session_id));
      if (s.tunnel_up == up) return Status::Ok();
      Query q(*db_,
              "UPDATE sessions SET tunnel_up = ?2, tunnel_changed_at = ?3 "
              "WHERE id = ?1");
      q.BindAll(s.id, int64_t{up}, Secs(at));
      return q.Run();
    });
  }

  // ---- commands ----

  Status AddCommand(const Command& c) override {
    PH_ASSIGN_OR_RETURN(std::string args, ToJsonArray(c.args, "argument"));
    return Write([&]() -> Status {
      PH_ASSIGN_OR_RETURN(Device d, LiveDeviceById(c.device_id));
      Query exists(*db_, "SELECT 1 FROM commands WHERE id = ?1");
      exists.Bind(1, c.id);
      PH_ASSIGN_OR_RETURN(bool taken, exists.Step());
      if (taken) {
        return Status::AlreadyExists("command id " + Quote(c.id) +
                                     " already exists");
      }
      Query q(*db_, "INSERT INTO commands (" COMMAND_COLUMNS
                    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
      q.BindAll(c.id, d.id, c.name, args, c.created_by, Secs(c.created_at),
                Secs(c.result_at), c.result_json, int64_t{c.success},
                c.exit_code);
      return q.Run();
    });
  }

  Result<Command> GetCommand(const std::string& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    return GetCommandLocked(id);
  }

  Result<std::vector<Command>> PendingCommands(
      const std::string& device_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    Query q(*db_, "SELECT " COMMAND_COLUMNS
                  " FROM commands WHERE device_id = ?1 AND result_at IS NULL "
                  "ORDER BY created_at, rowid");
    q.Bind(1, NormalizeId(device_id));
    return ReadAll<Command>(
        q, [&](const Query& r) { return ReadCommand(*db_, r); });
  }

  Result<std::vector<Command>> ListCommands(const CommandFilter& f) override {
    std::lock_guard<std::mutex> lock(mu_);
    const char* sql =
        f.device_id.empty()
            ? "SELECT " COMMAND_COLUMNS
              " FROM commands WHERE ?1 = ?1 AND (?2 = 0 OR result_at IS "
              "NULL) ORDER BY created_at DESC, rowid DESC LIMIT ?3"
            : "SELECT " COMMAND_COLUMNS
              " FROM commands WHERE device_id = ?1 AND (?2 = 0 OR result_at "
              "IS NULL) ORDER BY created_at DESC, rowid DESC LIMIT ?3";
    Query q(*db_, sql);
    q.BindAll(NormalizeId(f.device_id), int64_t{f.pending_only},
              Limit(f.limit));
    return ReadAll<Command>(
        q, [&](const Query& r) { return ReadCommand(*db_, r); });
  }

  Result<bool> SetCommandResult(const std::string& device_id,
                                const std::string& id,
                                const CommandResult& result) override {
    return Write([&]() -> Result<bool> {
      auto c = GetCommandLocked(id);
      if (!c.ok() || c->device_id != NormalizeId(device_id)) {
        if (!c.ok() && c.status().code() != StatusCode::kNotFound) {
          return c.status();
        }
        return Status::NotFound("no command " + Quote(id) + " for device " +
                                Quote(device_id));
      }
      if (c->done()) return false;
      Query q(*db_,
              "UPDATE commands SET result_at = ?2, result_json = ?3, "
              "success = ?4, exit_code = ?5 WHERE id = ?1");
      q.BindAll(c->id, Secs(result.at), result.json, int64_t{result.success},
                result.exit_code);
      PH_RETURN_IF_ERROR(q.Run());
      return true;
    });
  }

  // ---- tokens ----

  Status AddToken(const Token& t) override {
    PH_RETURN_IF_ERROR(ValidateTokenName(t.name));
    if (!IsLowerHex(t.sha256, 64)) {
      return Status::InvalidArgument(
          "a token hash is 64 lower-case hex digits");
    }
    return Write([&]() -> Status {
      Query by_name(*db_,
                    "SELECT 1 FROM tokens WHERE name = ?1 AND revoked_at IS "
                    "NULL");
      by_name.Bind(1, t.name);
      PH_ASSIGN_OR_RETURN(bool name_taken, by_name.Step());
      if (name_taken) {
        return Status::AlreadyExists("token name '" + t.name +
                                     "' is already in use");
      }
      Query by_hash(*db_, "SELECT 1 FROM tokens WHERE sha256 = ?1");
      by_hash.Bind(1, t.sha256);
      PH_ASSIGN_OR_RETURN(bool hash_taken, by_hash.Step());
      if (hash_taken) {
        return Status::AlreadyExists("a token with this hash already exists");
      }
      Query q(*db_,
              "INSERT INTO tokens (name, sha256, created_at, revoked_at) "
              "VALUES (?1, ?2, ?3, ?4)");
      q.BindAll(t.name, t.sha256, Secs(t.created_at), Secs(t.revoked_at));
      return q.Run();
    });
  }

  Result<Token> FindToken(const std::string& sha256) override {
    std::lock_guard<std::mutex> lock(mu_);
    Query q(*db_,
            "SELECT name, sha256, created_at, revoked_at FROM tokens WHERE "
            "sha256 = ?1 AND revoked_at IS NULL");
    q.Bind(1, sha256);
    PH_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return Status::NotFound("no token with this hash");
    return ReadToken(q);
  }

  Result<std::vector<Token>> ListTokens() override {
    std::lock_guard<std::mutex> lock(mu_);
    Query q(*db_,
            "SELECT name, sha256, created_at, revoked_at FROM tokens ORDER "
            "BY created_at, rowid");
    return ReadAll<Token>(q, ReadToken);
  }

  Status RevokeToken(const std::string& name, SystemTime at) override {
    return Write([&]() -> Status {
      Query q(*db_,
              "UPDATE tokens SET revoked_at = ?2 WHERE name = ?1 AND "
              "revoked_at IS NULL");
      q.BindAll(name, Secs(at));
      PH_RETURN_IF_ERROR(q.Run());
      if (sqlite3_changes(db_->handle()) == 0) {
        return Status::NotFound("no active token " + Quote(name));
      }
      return Status::Ok();
    });
  }

  // ---- audit ----

  Result<int64_t> AppendAudit(const AuditEvent& e) override {
    std::string details = e.details_json.empty() ? "{}" : e.details_json;
    try {
      if (!nlohmann::json::parse(details).is_object()) {
        return Status::InvalidArgument("audit details must be a JSON object");
      }
    } catch (const nlohmann::json::exception&) {
      return Status::InvalidArgument("audit details must be a JSON object");
    }
    return Write([&]() -> Result<int64_t> {
      Query q(*db_,
              "INSERT INTO audit (at, kind, device_id, session_id, actor, "
              "details_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
      q.BindAll(Secs(e.at), e.kind, e.device_id, e.session_id, e.actor,
                details);
      PH_RETURN_IF_ERROR(q.Run());
      return static_cast<int64_t>(sqlite3_last_insert_rowid(db_->handle()));
    });
  }

  Result<std::vector<AuditEvent>> ListAudit(const AuditFilter& f) override {
    std::lock_guard<std::mutex> lock(mu_);
    const char* sql =
        f.device_id.empty()
            ? "SELECT seq, at, kind, device_id, session_id, actor, "
              "details_json FROM audit WHERE ?1 = ?1 AND seq > ?2 AND (?3 IS "
              "NULL OR at >= ?3) ORDER BY seq LIMIT ?4"
            : "SELECT seq, at, kind, device_id, session_id, actor, "
              "details_json FROM audit WHERE device_id = ?1 AND seq > ?2 AND "
              "(?3 IS NULL OR at >= ?3) ORDER BY seq LIMIT ?4";
    Query q(*db_, sql);
    q.BindAll(NormalizeId(f.device_id), f.after_seq, Secs(f.since),
              Limit(f.limit));
    return ReadAll<AuditEvent>(q, ReadAudit);
  }

  // ---- metadata ----

  Status PutMetadata(const std::string& role, uint64_t version,
                     const std::string& text) override {
    PH_RETURN_IF_ERROR(CheckVersion(version));
    return Write([&]() -> Status {
      Query exists(*db_,
                   "SELECT 1 FROM metadata WHERE role = ?1 AND version = ?2");
      exists.BindAll(role, static_cast<int64_t>(version));
      PH_ASSIGN_OR_RETURN(bool taken, exists.Step());
      if (taken) {
        return Status::AlreadyExists(
            role + " version " + std::to_string(version) + " already exists");
      }
      Query q(*db_,
              "INSERT INTO metadata (role, version, text) VALUES (?1, ?2, "
              "?3)");
      q.BindAll(role, static_cast<int64_t>(version), text);
      return q.Run();
    });
  }

  Result<std::string> GetMetadata(const std::string& role,
                                  std::optional<uint64_t> version) override {
    if (version) PH_RETURN_IF_ERROR(CheckVersion(*version));
    std::lock_guard<std::mutex> lock(mu_);
    Query q(*db_, version
                      ? "SELECT text FROM metadata WHERE role = ?1 AND version "
                        "= ?2"
                      : "SELECT text FROM metadata WHERE role = ?1 AND ?2 = ?2 "
                        "ORDER BY version DESC LIMIT 1");
    q.BindAll(role, static_cast<int64_t>(version.value_or(0)));
    PH_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) {
      return Status::NotFound(version ? "no " + role + " version " +
                                            std::to_string(*version)
                                      : "no " + role + " metadata");
    }
    return q.Text(0);
  }

  Result<uint64_t> LatestMetadataVersion(const std::string& role) override {
    std::lock_guard<std::mutex> lock(mu_);
    Query q(*db_, "SELECT max(version) FROM metadata WHERE role = ?1");
    q.Bind(1, role);
    PH_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row || q.IsNull(0)) return uint64_t{0};
    return static_cast<uint64_t>(q.Int(0));
  }

  // ---- settings ----

  Result<std::optional<std::string>> GetSetting(
      const std::string& key) override {
    std::lock_guard<std::mutex> lock(mu_);
    Query q(*db_, "SELECT value FROM settings WHERE key = ?1");
    q.Bind(1, key);
    PH_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return std::optional<std::string>();
    return std::optional<std::string>(q.Text(0));
  }

  Status PutSetting(const std::string& key, const std::string& value) override {
    return Write([&]() -> Status {
      Query q(*db_,
              "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT "
              "(key) DO UPDATE SET value = excluded.value");
      q.BindAll(key, value);
      return q.Run();
    });
  }

  // ---- change detection and metrics ----

  uint64_t ChangeStamp() override {
    std::lock_guard<std::mutex> lock(mu_);
    auto v = ReadDataVersion();
    if (v && *v != data_version_) {
      data_version_ = *v;
      ++stamp_;
    }
    return stamp_;
  }

  Result<Counts> GetCounts(SystemTime now) override {
    std::lock_guard<std::mutex> lock(mu_);
    Query q(*db_,
            "SELECT (SELECT count(*) FROM devices WHERE removed_at IS NULL), "
            "(SELECT count(*) FROM sessions WHERE state = 0 AND expires_at > "
            "?1), (SELECT count(*) FROM sessions WHERE state = 0 AND "
            "tunnel_up = 1), (SELECT count(*) FROM commands WHERE result_at "
            "IS NULL)");
    q.Bind(1, Secs(now));
    PH_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return Status::Internal("no counts");
    Counts c;
    c.devices = static_cast<uint64_t>(q.Int(0));
    c.sessions_live = static_cast<uint64_t>(q.Int(1));
    c.tunnels_up = static_cast<uint64_t>(q.Int(2));
    c.commands_pending = static_cast<uint64_t>(q.Int(3));
    return c;
  }

 private:
  // Runs `f` in a write transaction under the mutex; commits if it
  // succeeded (and moves the stamp), rolls back otherwise.
  template <typename F>
  auto Write(F&& f) -> decltype(f()) {
    std::lock_guard<std::mutex> lock(mu_);
    Transaction txn(*db_, Transaction::kWrite);
    if (!txn.status().ok()) return txn.status();
    auto result = f();
    if (!result.ok()) return result;
    Status committed = txn.Commit();
    if (!committed.ok()) return committed;
    ++stamp_;
    return result;
  }

  static Status CheckVersion(uint64_t version) {
    if (version == 0 ||
        version > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Status::InvalidArgument(
          "metadata version " + std::to_string(version) + " is out of range");
    }
    return Status::Ok();
  }

  std::optional<int64_t> ReadDataVersion() {
    Query q(*db_, "PRAGMA data_version");
    auto row = q.Step();
    if (!row.ok() || !*row) return std::nullopt;
    return q.Int(0);
  }

  Result<Device> FindDeviceLocked(const std::string& id_or_name) {
    auto uuid = config::ParseUuid(id_or_name);
    Query q(*db_, uuid.ok() ? "SELECT " DEVICE_COLUMNS
                              " FROM devices WHERE id = ?1"
                            : "SELECT " DEVICE_COLUMNS
                              " FROM devices WHERE name = ?1 AND removed_at "
                              "IS NULL");
    q.Bind(1, uuid.ok() ? *uuid : id_or_name);
    PH_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return Status::NotFound("no device " + Quote(id_or_name));
    return ReadDevice(*db_, q);
  }

  // By id only; kFailedPrecondition if removed.
  Result<Device> LiveDeviceById(const std::string& id) {
    std::string norm = NormalizeId(id);
    Query q(*db_, "SELECT " DEVICE_COLUMNS " FROM devices WHERE id = ?1");
    q.Bind(1, norm);
    PH_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return Status::NotFound("no device " + Quote(id));
    PH_ASSIGN_OR_RETURN(Device d, ReadDevice(*db_, q));
    if (d.removed()) {
      return Status::FailedPrecondition("device '" + d.name + "' (" + d.id +
                                        ") is removed");
    }
    return d;
  }

  Result<Session> GetSessionLocked(const std::string& id) {
    Query q(*db_, "SELECT " SESSION_COLUMNS " FROM sessions WHERE id = ?1");
    q.Bind(1, NormalizeId(id));
    PH_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return Status::NotFound("no session " + Quote(id));
    return ReadSession(*db_, q);
  }

  Result<std::optional<Session>> LiveSessionLocked(const std::string& device_id,
                                                   SystemTime now) {
    Query q(*db_, "SELECT " SESSION_COLUMNS
                  " FROM sessions WHERE device_id = ?1 AND state = 0 AND "
                  "expires_at > ?2 ORDER BY created_at DESC LIMIT 1");
    q.BindAll(device_id, Secs(now));
    PH_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return std::optional<Session>();
    PH_ASSIGN_OR_RETURN(Session s, ReadSession(*db_, q));
    return std::optional<Session>(std::move(s));
  }

  Result<Command> GetCommandLocked(const std::string& id) {
    Query q(*db_, "SELECT " COMMAND_COLUMNS " FROM commands WHERE id = ?1");
    q.Bind(1, id);
    PH_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return Status::NotFound("no command " + Quote(id));
    return ReadCommand(*db_, q);
  }

  Status InsertSessionKey(const std::string& session_id,
                          const std::string& hash) {
    Query q(*db_,
            "INSERT OR IGNORE INTO session_keys (session_id, blob_sha256) "
            "VALUES (?1, ?2)");
    q.BindAll(session_id, hash);
    return q.Run();
  }

  // A port in [lo, hi] that no open session uses, uniformly at random.
  Result<uint16_t> PickPort(uint16_t lo, uint16_t hi) {
    Query q(*db_,
            "SELECT DISTINCT reverse_port FROM sessions WHERE state = 0 AND "
            "reverse_port BETWEEN ?1 AND ?2 ORDER BY reverse_port");
    q.BindAll(int64_t{lo}, int64_t{hi});
    PH_ASSIGN_OR_RETURN(
        std::vector<int64_t> used,
        ReadAll<int64_t>(q, [](const Query& r) { return r.Int(0); }));
    uint32_t range = uint32_t{hi} - lo + 1;
    if (used.size() >= range) {
      return Status::Unavailable("no free reverse port in " +
                                 std::to_string(lo) + "-" + std::to_string(hi));
    }
    uint32_t k = static_cast<uint32_t>(rng_() % (range - used.size()));
    // The k-th port (from 0) that is not in `used` (sorted).
    uint32_t port = lo + k;
    for (int64_t u : used) {
      if (u <= port) {
        ++port;
      } else {
        break;
      }
    }
    return static_cast<uint16_t>(port);
  }

  std::mutex mu_;
  std::unique_ptr<Db> db_;    // guarded by mu_
  uint64_t stamp_ = 1;        // guarded by mu_
  int64_t data_version_ = 0;  // guarded by mu_
  std::mt19937_64 rng_;       // guarded by mu_; ports need not be secret
};

}  // namespace

int SqliteSchemaVersion() {
  return static_cast<int>(sqlite::Migrations().size());
}

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path) {
  PH_ASSIGN_OR_RETURN(std::unique_ptr<Db> db, Db::Open(path));
  PH_RETURN_IF_ERROR(sqlite::Migrate(*db, sqlite::Migrations()));
  return std::unique_ptr<Store>(new SqliteStore(std::move(db)));
}

}  // namespace porthole::server
