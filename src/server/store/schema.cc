#include "server/store/schema.h"

#include <string>

namespace porthole::server::sqlite {
namespace {

// Times are integer seconds since the Unix epoch (UTC). Lists of strings
// (key lines, command arguments) are JSON arrays. Sessions keep their key
// lines in the row and, for LiveSessionsWithKey(), one session_keys row per
// distinct key blob.
constexpr char kSchemaV1[] = R"sql(
CREATE TABLE devices (
  id             TEXT PRIMARY KEY NOT NULL,
  name           TEXT NOT NULL,
  cert_sha256    TEXT NOT NULL,
  cert_serial    TEXT NOT NULL,
  cert_not_after INTEGER NOT NULL,
  created_at     INTEGER NOT NULL,
  removed_at     INTEGER,
  ssh_key        TEXT NOT NULL DEFAULT '',
  ssh_key_at     INTEGER,
  host_keys      TEXT NOT NULL DEFAULT '[]',
  last_seen_at   INTEGER
);
CREATE UNIQUE INDEX devices_name_live ON devices(name)
  WHERE removed_at IS NULL;

CREATE TABLE sessions (
  id                TEXT PRIMARY KEY NOT NULL,
  device_id         TEXT NOT NULL REFERENCES devices(id),
  operator_keys     TEXT NOT NULL,
  relay_keys        TEXT NOT NULL,
  reverse_port      INTEGER NOT NULL,
  opened_by         TEXT NOT NULL,
  created_at        INTEGER NOT NULL,
  expires_at        INTEGER NOT NULL,
  state             INTEGER NOT NULL,
  ended_at          INTEGER,
  end_reason        TEXT NOT NULL DEFAULT '',
  tunnel_up         INTEGER NOT NULL DEFAULT 0,
  tunnel_changed_at INTEGER
);
CREATE INDEX sessions_device ON sessions(device_id, created_at);
CREATE INDEX sessions_open ON sessions(expires_at) WHERE state = 0;
CREATE INDEX sessions_created ON sessions(created_at);

CREATE TABLE session_keys (
  session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  blob_sha256 TEXT NOT NULL,
  PRIMARY KEY (session_id, blob_sha256)
) WITHOUT ROWID;
CREATE INDEX session_keys_blob ON session_keys(blob_sha256);

CREATE TABLE commands (
  id          TEXT PRIMARY KEY NOT NULL,
  device_id   TEXT NOT NULL REFERENCES devices(id),
  name        TEXT NOT NULL,
  args        TEXT NOT NULL,
  created_by  TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  result_at   INTEGER,
  result_json TEXT NOT NULL DEFAULT '',
  success     INTEGER NOT NULL DEFAULT 0,
  exit_code   INTEGER
);
CREATE INDEX commands_device ON commands(device_id, created_at);
CREATE INDEX commands_pending ON commands(device_id) WHERE result_at IS NULL;
CREATE INDEX commands_created ON commands(created_at);

CREATE TABLE tokens (
  name       TEXT NOT NULL,
  sha256     TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
);
CREATE UNIQUE INDEX tokens_name_live ON tokens(name) WHERE revoked_at IS NULL;

CREATE TABLE audit (
  seq          INTEGER PRIMARY KEY AUTOINCREMENT,
  at           INTEGER NOT NULL,
  kind         TEXT NOT NULL,
  device_id    TEXT NOT NULL,
  session_id   TEXT NOT NULL,
  actor        TEXT NOT NULL,
  details_json TEXT NOT NULL
);
CREATE INDEX audit_device ON audit(device_id, seq);

CREATE TABLE metadata (
  role    TEXT NOT NULL,
  version INTEGER NOT NULL,
  text    TEXT NOT NULL,
  PRIMARY KEY (role, version)
);

CREATE TABLE settings (
  key   TEXT PRIMARY KEY NOT NULL,
  value TEXT NOT NULL
);
)sql";

constexpr Migration kMigrations[] = {
    {"devices, sessions, commands, tokens, audit, metadata, settings",
     kSchemaV1},
};

struct Header {
  int64_t version = 0;
  int64_t application_id = 0;
  int64_t objects = 0;  // rows of sqlite_schema
};

Result<Header> ReadHeader(Db& db) {
  Header h;
  Query q(db,
          "SELECT (SELECT user_version FROM pragma_user_version), "
          "(SELECT application_id FROM pragma_application_id), "
          "(SELECT count(*) FROM sqlite_schema)");
  PH_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return Status::Internal(db.path() + ": no schema header");
  h.version = q.Int(0);
  h.application_id = q.Int(1);
  h.objects = q.Int(2);
  return h;
}

}  // namespace

std::span<const Migration> Migrations() { return kMigrations; }

Result<int64_t> SchemaVersion(Db& db) {
  PH_ASSIGN_OR_RETURN(Header h, ReadHeader(db));
  return h.version;
}

Status Migrate(Db& db, std::span<const Migration> steps) {
  const int64_t known = static_cast<int64_t>(steps.size());
  while (true) {
    Transaction txn(db, Transaction::kWrite);
    PH_RETURN_IF_ERROR(txn.status());
    PH_ASSIGN_OR_RETURN(Header h, ReadHeader(db));
    bool fresh = h.version == 0 && h.application_id == 0;
    if (fresh && h.objects > 0) {
      return Status::Corrupt(db.path() +
                             ": not a porthole database (it holds other "
                             "tables and no porthole schema)");
    }
    if (!fresh && h.application_id != kApplicationId) {
      return Status::Corrupt(db.path() +
                             ": not a porthole database (application_id " +
                             std::to_string(h.application_id) + ")");
    }
    if (h.version > known) {
      return Status::FailedPrecondition(
          db.path() + ": schema version " + std::to_string(h.version) +
          " is newer than this porthole-server knows (" +
          std::to_string(known) + "); run a newer porthole-server");
    }
    if (h.version == known) return txn.Commit();
    const Migration& step = steps[static_cast<size_t>(h.version)];
    Status s = db.Exec(step.sql);
    if (s.ok()) {
      // PRAGMA takes no parameters; the numbers are ours.
      std::string set =
          "PRAGMA user_version = " + std::to_string(h.version + 1) +
          "; PRAGMA application_id = " + std::to_string(kApplicationId);
      s = db.Exec(set.c_str());
    }
    if (!s.ok()) {
      std::string reason = s.message();
      if (reason.starts_with(db.path() + ": ")) {
        reason.erase(0, db.path().size() + 2);
      }
      return Status(s.code(), db.path() + ": schema migration to version " +
                                  std::to_string(h.version + 1) + " (" +
                                  step.description + ") failed: " + reason);
    }
    PH_RETURN_IF_ERROR(txn.Commit());
  }
}

}  // namespace porthole::server::sqlite
