// The store's schema and its migrations, for sqlite_store.cc and tests.
//
// The schema version is PRAGMA user_version; a porthole database also
// carries PRAGMA application_id = kApplicationId. Migration step i (0-based)
// takes a database from version i to i + 1; each step runs in its own
// BEGIN IMMEDIATE transaction together with the new user_version, so a
// failed step leaves the previous version intact, and two processes opening
// a new file at once migrate it once.
#ifndef PORTHOLE_SERVER_STORE_SCHEMA_H_
#define PORTHOLE_SERVER_STORE_SCHEMA_H_

#include <cstdint>
#include <span>

#include "core/base/status.h"
#include "server/store/sqlite_db.h"

namespace porthole::server::sqlite {

// "Phst" as a big-endian 32-bit integer.
inline constexpr int32_t kApplicationId = 0x50687374;

struct Migration {
  const char* description;
  const char* sql;  // one or more statements
};

// The migrations of this program, in order; the schema version it writes
// is their count.
std::span<const Migration> Migrations();

// Brings `db` up to `steps.size()`. Refuses, naming the file:
//  - a database whose application_id is not ours, or one that holds tables
//    but no version (kCorrupt "not a porthole database (...)");
//  - a version above steps.size() (kFailedPrecondition "schema version N is
//    newer than this porthole-server knows (M); ...").
Status Migrate(Db& db, std::span<const Migration> steps);

// PRAGMA user_version.
Result<int64_t> SchemaVersion(Db& db);

}  // namespace porthole::server::sqlite

#endif  // PORTHOLE_SERVER_STORE_SCHEMA_H_
