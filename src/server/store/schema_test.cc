// Opening files: the schema, migrations, and files that are not ours.
#include "server/store/schema.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "core/base/file.h"
#include "core/base/test_util.h"
#include "server/store/store.h"

namespace porthole::server {
namespace {

using sqlite::Db;
using sqlite::Migration;

// Runs SQL on `path` with a plain connection (not the store's).
void RawExec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

int64_t RawInt(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK);
  int64_t v = -1;
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

TEST(SchemaTest, NewFileGetsTheWholeSchema) {
  TempDir dir;
  std::string path = dir.Join("server.db");
  {
    auto store = OpenSqliteStore(path);
    ASSERT_TRUE(store.ok()) << store.status().message();
    EXPECT_EQ(ModeOf(path), 0600u);
    // WAL files take the database's mode.
    ASSERT_TRUE((*store)->PutSetting("k", "v").ok());
    EXPECT_EQ(ModeOf(path + "-wal"), 0600u);
    EXPECT_EQ(ModeOf(path + "-shm"), 0600u);
  }
  EXPECT_EQ(RawInt(path, "PRAGMA user_version"), SqliteSchemaVersion());
  EXPECT_EQ(RawInt(path, "PRAGMA application_id"), sqlite::kApplicationId);
  EXPECT_EQ(RawInt(path,
                   "SELECT count(*) FROM sqlite_schema WHERE type = "
                   "'table' AND name IN ('devices', 'sessions', "
                   "'session_keys', 'commands', 'tokens', 'audit', "
                   "'metadata', 'settings')"),
            8);
  // WAL is persistent; the data survived the close.
  EXPECT_EQ(RawInt(path, "SELECT count(*) FROM settings"), 1);
  // Reopening changes nothing.
  ASSERT_TRUE(OpenSqliteStore(path).ok());
  EXPECT_EQ(RawInt(path, "PRAGMA user_version"), SqliteSchemaVersion());
}

TEST(SchemaTest, AnExistingFileKeepsItsMode) {
  TempDir dir;
  std::string path = dir.Join("server.db");
  int fd = open(path.c_str(), O_CREAT | O_WRONLY, 0640);
  ASSERT_GE(fd, 0);
  close(fd);
  chmod(path.c_str(), 0640);
  ASSERT_TRUE(OpenSqliteStore(path).ok());
  EXPECT_EQ(ModeOf(path), 0640u);
}

TEST(SchemaTest, FromVersionZeroStepByStep) {
  TempDir dir;
  std::string path = dir.Join("m.db");
  const Migration v1[] = {
      {"t", "CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1);"},
  };
  const Migration v2[] = {
      v1[0],
      {"t.b", "ALTER TABLE t ADD COLUMN b TEXT NOT NULL DEFAULT 'x';"},
  };
  {
    auto db = Db::Open(path);
    ASSERT_TRUE(db.ok());
    auto v = sqlite::SchemaVersion(**db);
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(*v, 0);
    ASSERT_TRUE(sqlite::Migrate(**db, v1).ok());
    EXPECT_EQ(*sqlite::SchemaVersion(**db), 1);
    ASSERT_TRUE((*db)->Exec("INSERT INTO t VALUES (2)").ok());
  }
  {
    auto db = Db::Open(path);
    ASSERT_TRUE(db.ok());
    Status s = sqlite::Migrate(**db, v2);
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(*sqlite::SchemaVersion(**db), 2);
  }
  EXPECT_EQ(RawInt(path, "SELECT count(*) FROM t WHERE b = 'x'"), 2);
  EXPECT_EQ(RawInt(path, "PRAGMA application_id"), sqlite::kApplicationId);
}

TEST(SchemaTest, AFailedStepChangesNothing) {
  TempDir dir;
  std::string path = dir.Join("m.db");
  const Migration steps[] = {
      {"t", "CREATE TABLE t (a INTEGER);"},
      {"broken", "CREATE TABLE u (a INTEGER); INSERT INTO nowhere VALUES (1);"},
  };
  auto db = Db::Open(path);
  ASSERT_TRUE(db.ok());
  Status s = sqlite::Migrate(**db, steps);
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_EQ(s.message(), path +
                             ": schema migration to version 2 (broken) "
                             "failed: statement failed: no such table: "
                             "nowhere");
  EXPECT_EQ(*sqlite::SchemaVersion(**db), 1);
  db->reset();
  EXPECT_EQ(RawInt(path, "SELECT count(*) FROM sqlite_schema WHERE name = 'u'"),
            0);
}

TEST(SchemaTest, NewerSchemaIsRefused) {
  TempDir dir;
  std::string path = dir.Join("server.db");
  ASSERT_TRUE(OpenSqliteStore(path).ok());
  RawExec(path, "PRAGMA user_version = 99");
  auto store = OpenSqliteStore(path);
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(store.status().message(),
            path +
                ": schema version 99 is newer than this porthole-server "
                "knows (" +
                std::to_string(SqliteSchemaVersion()) +
                "); run a newer porthole-server");
}

TEST(SchemaTest, ForeignDatabasesAreRefused) {
  TempDir dir;
  std::string other = dir.Join("other.db");
  RawExec(other, "CREATE TABLE photos (id INTEGER PRIMARY KEY)");
  auto store = OpenSqliteStore(other);
  EXPECT_EQ(store.status().code(), StatusCode::kCorrupt);
  EXPECT_EQ(store.status().message(),
            other +
                ": not a porthole database (it holds other tables and no "
                "porthole schema)");
  // Untouched.
  EXPECT_EQ(RawInt(other, "PRAGMA user_version"), 0);

  std::string app = dir.Join("app.db");
  RawExec(app, "PRAGMA application_id = 7; PRAGMA user_version = 1");
  store = OpenSqliteStore(app);
  EXPECT_EQ(store.status().message(),
            app + ": not a porthole database (application_id 7)");
}

TEST(SchemaTest, GarbageAndCorruptFiles) {
  TempDir dir;
  std::string garbage = dir.Join("garbage.db");
  ASSERT_TRUE(AtomicReplace(garbage, std::string(8192, 'x')).ok());
  auto store = OpenSqliteStore(garbage);
  EXPECT_EQ(store.status().code(), StatusCode::kCorrupt);
  EXPECT_EQ(store.status().message(),
            garbage + ": not a porthole database (file is not a database)");
  // Not modified.
  EXPECT_EQ(*ReadFile(garbage, 1 << 20), std::string(8192, 'x'));

  std::string text = dir.Join("config.toml");
  ASSERT_TRUE(AtomicReplace(text, "data_dir = \"/var/lib/x\"\n").ok());
  EXPECT_EQ(OpenSqliteStore(text).status().code(), StatusCode::kCorrupt);

  // A real porthole database with its schema page scribbled over.
  std::string broken = dir.Join("broken.db");
  {
    auto s = OpenSqliteStore(broken);
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->PutSetting("a", std::string(10000, 'a')).ok());
  }
  auto bytes = ReadFile(broken, 1 << 24);
  ASSERT_TRUE(bytes.ok());
  std::string scribbled = *bytes;
  for (size_t i = 100; i < 4096 && i < scribbled.size(); ++i) {
    scribbled[i] = static_cast<char>(i * 7);
  }
  ASSERT_TRUE(AtomicReplace(broken, scribbled).ok());
  store = OpenSqliteStore(broken);
  EXPECT_EQ(store.status().code(), StatusCode::kCorrupt);
  EXPECT_TRUE(store.status().message().starts_with(broken + ": "))
      << store.status().message();
}

TEST(SchemaTest, CorruptDataPagesAreErrorsNotCrashes) {
  TempDir dir;
  std::string path = dir.Join("server.db");
  {
    auto s = OpenSqliteStore(path);
    ASSERT_TRUE(s.ok());
    for (int i = 0; i < 200; ++i) {
      ASSERT_TRUE(
          (*s)->PutSetting("key" + std::to_string(i), std::string(500, 'v'))
              .ok());
    }
  }
  auto bytes = ReadFile(path, 1 << 24);
  ASSERT_TRUE(bytes.ok());
  std::string s = *bytes;
  ASSERT_GT(s.size(), 3 * 4096u);
  // Everything after the first two pages.
  for (size_t i = 2 * 4096; i < s.size(); ++i) s[i] = static_cast<char>(i);
  ASSERT_TRUE(AtomicReplace(path, s).ok());
  auto store = OpenSqliteStore(path);
  if (!store.ok()) {
    EXPECT_EQ(store.status().code(), StatusCode::kCorrupt);
    return;
  }
  bool saw_error = false;
  for (int i = 0; i < 200; ++i) {
    auto v = (*store)->GetSetting("key" + std::to_string(i));
    if (!v.ok()) {
      EXPECT_EQ(v.status().code(), StatusCode::kCorrupt)
          << v.status().message();
      EXPECT_TRUE(v.status().message().starts_with(path + ": "));
      saw_error = true;
    }
  }
  EXPECT_TRUE(saw_error);
}

TEST(SchemaTest, PathsThatAreNotFiles) {
  TempDir dir;
  auto missing = OpenSqliteStore(dir.Join("no/such/dir/server.db"));
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(missing.status().message().starts_with(
      dir.Join("no/such/dir/server.db") + ": "));

  ASSERT_TRUE(OpenSqliteStore(dir.Join("real.db")).ok());
  ASSERT_EQ(symlink(dir.Join("real.db").c_str(), dir.Join("link.db").c_str()),
            0);
  auto link = OpenSqliteStore(dir.Join("link.db"));
  EXPECT_EQ(link.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(link.status().message(),
            dir.Join("link.db") +
                ": is a symbolic link (refused; name the file itself)");

  EXPECT_EQ(OpenSqliteStore(dir.path()).status().message(),
            dir.path() + ": not a regular file");
}

TEST(SchemaTest, ALockHeldPastTheBusyTimeoutIsUnavailable) {
  TempDir dir;
  std::string path = dir.Join("server.db");
  auto store = OpenSqliteStore(path);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->PutSetting("k", "v").ok());
  // Another connection (as another process would) holds the write lock.
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr),
            SQLITE_OK);
  // Reads go on (WAL)...
  auto v = (*store)->GetSetting("k");
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(**v, "v");
  // ...writes wait for the busy timeout, then give up naming the file.
  auto start = std::chrono::steady_clock::now();
  Status s = (*store)->PutSetting("k", "w");
  auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), path + ": statement failed: database is locked");
  EXPECT_GE(waited, std::chrono::milliseconds(sqlite::kBusyTimeoutMs - 100));
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  EXPECT_TRUE((*store)->PutSetting("k", "w").ok());
}

TEST(SchemaTest, ManyOpenersOfANewFileMigrateItOnce) {
  TempDir dir;
  std::string path = dir.Join("server.db");
  std::vector<std::thread> threads;
  std::vector<Status> results(8);
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] {
      auto s = OpenSqliteStore(path);
      results[i] = s.ok() ? Status::Ok() : s.status();
    });
  }
  for (auto& t : threads) t.join();
  for (const Status& s : results) EXPECT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(RawInt(path, "PRAGMA user_version"), SqliteSchemaVersion());
}

}  // namespace
}  // namespace porthole::server
