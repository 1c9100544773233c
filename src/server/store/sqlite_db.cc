#include "server/store/sqlite_db.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace porthole::server::sqlite {

Result<std::unique_ptr<Db>> Db::Open(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) == 0) {
    if (S_ISLNK(st.st_mode)) {
      return Status::PermissionDenied(
          path + ": is a symbolic link (refused; name the file itself)");
    }
    if (!S_ISREG(st.st_mode)) {
      return Status::Corrupt(path + ": not a regular file");
    }
  } else if (errno == ENOENT) {
    // SQLite would create it with the umask's mode; a store is private.
    int fd = open(path.c_str(),
                  O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST) return PosixError(path, errno);
    if (fd >= 0) close(fd);
  } else {
    return PosixError(path, errno);
  }

  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &raw,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW,
      nullptr);
  std::unique_ptr<Db> db(new Db(raw, path));
  if (rc != SQLITE_OK) {
    if (raw == nullptr) return Status::IoError(path + ": cannot open");
    return db->Error(rc, "cannot open");
  }
  sqlite3_busy_timeout(raw, kBusyTimeoutMs);
  // No writable_schema tricks and no functions run from the schema: the
  // file may come from anywhere.
  sqlite3_db_config(raw, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(raw, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);

  // The first statement reads the header: a file that is not SQLite fails
  // here.
  Query mode(*db, "PRAGMA journal_mode=WAL");
  auto row = mode.Step();
  if (!row.ok()) {
    if (row.status().code() == StatusCode::kCorrupt) {
      return Status::Corrupt(path + ": not a porthole database (" +
                             sqlite3_errmsg(raw) + ")");
    }
    return row.status();
  }
  if (!*row || mode.Text(0) != "wal") {
    return Status::IoError(path + ": cannot switch to WAL mode");
  }
  PH_RETURN_IF_ERROR(
      db->Exec("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"));
  return db;
}

Db::~Db() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

Status Db::Exec(const char* sql) {
  char* message = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &message);
  if (rc == SQLITE_OK) return Status::Ok();
  sqlite3_free(message);
  return Error(rc, "statement failed");
}

Result<sqlite3_stmt*> Db::Prepare(const char* sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return it->second;
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt,
                              nullptr);
  if (rc != SQLITE_OK) return Error(rc, "cannot prepare a statement");
  cache_.emplace(sql, stmt);
  return stmt;
}

Status Db::Error(int rc, std::string_view what) const {
  std::string message =
      path_ + ": " + std::string(what) + ": " + sqlite3_errmsg(db_);
  switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status::Corrupt(std::move(message));
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Unavailable(std::move(message));
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return Status::PermissionDenied(std::move(message));
    case SQLITE_CONSTRAINT:
      return Status::AlreadyExists(std::move(message));
    default:
      return Status::IoError(std::move(message));
  }
}

// --- Query ------------------------------------------------------------------

Query::Query(Db& db, const char* sql) : db_(db) {
  auto stmt = db.Prepare(sql);
  if (stmt.ok()) {
    stmt_ = *stmt;
  } else {
    prepare_error_ = stmt.status();
  }
}

Query::~Query() {
  if (stmt_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

Query& Query::Bind(int index, int64_t v) {
  if (stmt_ != nullptr) sqlite3_bind_int64(stmt_, index, v);
  return *this;
}

Query& Query::Bind(int index, std::string_view v) {
  if (stmt_ != nullptr) {
    sqlite3_bind_text64(stmt_, index, v.data(), v.size(), SQLITE_TRANSIENT,
                        SQLITE_UTF8);
  }
  return *this;
}

Query& Query::BindNull(int index) {
  if (stmt_ != nullptr) sqlite3_bind_null(stmt_, index);
  return *this;
}

Result<bool> Query::Step() {
  if (stmt_ == nullptr) return prepare_error_;
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  constraint_failed_ = (rc & 0xff) == SQLITE_CONSTRAINT;
  return db_.Error(rc, "statement failed");
}

Status Query::Run() {
  while (true) {
    PH_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return Status::Ok();
  }
}

int64_t Query::Int(int col) const { return sqlite3_column_int64(stmt_, col); }

std::string Query::Text(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  if (p == nullptr) return "";
  return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
}

bool Query::IsNull(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}

// --- Transaction ------------------------------------------------------------

Transaction::Transaction(Db& db, Kind kind) : db_(db) {
  Query begin(db, kind == kWrite ? "BEGIN IMMEDIATE" : "BEGIN");
  begin_ = begin.Run();
  open_ = begin_.ok();
}

Transaction::~Transaction() {
  if (open_) {
    Query rollback(db_, "ROLLBACK");
    (void)rollback.Run();
  }
}

Status Transaction::Commit() {
  if (!open_)
    return begin_.ok() ? Status::Internal("not in a transaction") : begin_;
  Status s;
  {
    Query commit(db_, "COMMIT");
    s = commit.Run();
  }
  if (s.ok()) open_ = false;
  return s;
}

}  // namespace porthole::server::sqlite
