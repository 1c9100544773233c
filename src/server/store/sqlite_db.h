// A thin wrapper over one SQLite connection, for this folder only: errors
// as Status values naming the file, a cache of prepared statements, RAII
// statement use and transactions. Not thread-safe: the owner serialises
// every call (sqlite_store.cc holds a mutex).
#ifndef PORTHOLE_SERVER_STORE_SQLITE_DB_H_
#define PORTHOLE_SERVER_STORE_SQLITE_DB_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/base/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace porthole::server::sqlite {

inline constexpr int kBusyTimeoutMs = 5000;

class Db {
 public:
  // Opens `path` read-write (creating it with mode 0600 first if missing;
  // never through a symlink) and applies the connection settings: WAL,
  // synchronous=NORMAL, foreign_keys, busy timeout, defensive mode. The
  // schema is not touched.
  static Result<std::unique_ptr<Db>> Open(const std::string& path);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  const std::string& path() const { return path_; }
  sqlite3* handle() const { return db_; }

  // Runs one or more statements that return no rows.
  Status Exec(const char* sql);

  // The cached prepared statement for `sql` (keyed by the pointer: pass
  // string literals or other static text).
  Result<sqlite3_stmt*> Prepare(const char* sql);

  // "PATH: <what>: <sqlite message>" with a code from the SQLite result:
  // kCorrupt (CORRUPT, NOTADB), kUnavailable (BUSY, LOCKED), kPermission-
  // Denied (READONLY, PERM, AUTH), kIoError otherwise.
  Status Error(int rc, std::string_view what) const;

 private:
  Db(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
  std::unordered_map<const char*, sqlite3_stmt*> cache_;
};

// One use of a cached statement: bind, step, read columns; reset and
// unbound again when it goes out of scope.
class Query {
 public:
  Query(Db& db, const char* sql);
  ~Query();
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  // Preparation failed (the error is returned by the first Step()).
  bool ok() const { return stmt_ != nullptr; }

  // Parameters are numbered from 1.
  Query& Bind(int index, int64_t v);
  Query& Bind(int index, std::string_view v);
  Query& Bind(int index, const std::string& v) {
    return Bind(index, std::string_view(v));
  }
  Query& Bind(int index, const char* v) {
    return Bind(index, std::string_view(v));
  }
  Query& BindNull(int index);
  Query& Bind(int index, std::optional<int64_t> v) {
    return v ? Bind(index, *v) : BindNull(index);
  }
  template <typename... Args>
  Query& BindAll(const Args&... args) {
    int i = 0;
    (Bind(++i, args), ...);
    return *this;
  }

  // true: a row is ready; false: done. Errors name the file.
  Result<bool> Step();
  // Steps to the end (for statements that return no rows).
  Status Run();

  int64_t Int(int col) const;
  std::string Text(int col) const;
  bool IsNull(int col) const;
  std::optional<int64_t> OptInt(int col) const {
    return IsNull(col) ? std::nullopt : std::optional<int64_t>(Int(col));
  }

  // The constraint failure of the last Step(), if that is why it failed.
  bool constraint_failed() const { return constraint_failed_; }

 private:
  Db& db_;
  sqlite3_stmt* stmt_ = nullptr;
  Status prepare_error_;
  bool constraint_failed_ = false;
};

// BEGIN IMMEDIATE (write) or BEGIN (read) ... COMMIT; rolled back when it
// goes out of scope uncommitted.
class Transaction {
 public:
  enum Kind { kRead, kWrite };
  Transaction(Db& db, Kind kind);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  // The BEGIN's outcome.
  const Status& status() const { return begin_; }
  Status Commit();

 private:
  Db& db_;
  Status begin_;
  bool open_ = false;
};

}  // namespace porthole::server::sqlite

#endif  // PORTHOLE_SERVER_STORE_SQLITE_DB_H_
