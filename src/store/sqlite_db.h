// A thin RAII layer over the SQLite C API for the store: one connection (Db), its cache of
// prepared statements, scoped statement use (Statement resets itself when it goes out of
// scope), and write transactions that roll back unless committed.
//
// Thread-safety: none; the store serialises access to a Db.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "fastgpu/core/result.h"

namespace fastgpu::store::sqlite {

class Db;

// A cached prepared statement in use. Binds are 1-based, columns 0-based (SQLite's own
// numbering). Resets and clears its bindings when destroyed, so the cache can hand it out
// again.
class Statement {
 public:
  Statement(Db* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view value);
  Statement& bind_null(int index);
  template <typename T>
  Statement& bind(int index, const std::optional<T>& value) {
    return value ? bind(index, *value) : bind_null(index);
  }

  // One step: true while a row is available, false when done.
  Result<bool> step();
  // Steps to the end, ignoring rows (for writes).
  Status run();

  bool is_null(int column) const;
  std::int64_t column_int64(int column) const;
  double column_double(int column) const;
  std::string column_text(int column) const;
  std::optional<std::int64_t> column_optional_int64(int column) const;
  std::optional<double> column_optional_double(int column) const;

 private:
  Statement& check_bind(int rc);

  Db* db_;
  sqlite3_stmt* stmt_;
  int bind_error_ = SQLITE_OK;
};

class Db {
 public:
  // Opens or creates `path` (":memory:" for a private in-memory database). Touches no
  // page: a file that is not a database is only detected by the first statement.
  static Result<std::unique_ptr<Db>> open(const std::string& path,
                                          std::chrono::milliseconds busy_timeout);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Runs one or more statements without results.
  Status exec(const char* sql);
  // A prepared statement for `sql`, compiled once per connection and cached.
  // REQUIRES: `sql` outlives the Db (a string literal).
  Result<Statement> prepare(const char* sql);
  // The integer result of a single-value query such as "PRAGMA user_version".
  Result<std::int64_t> query_int(const char* sql);

  // A Status for SQLite result code `rc` while doing `what`, naming the database's path.
  Status error(int rc, std::string_view what) const;

  sqlite3* handle() { return db_; }
  const std::string& path() const { return path_; }
  std::int64_t changes() const { return sqlite3_changes64(db_); }
  std::int64_t last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }

 private:
  Db(sqlite3* db, std::string path, std::chrono::milliseconds busy_timeout)
      : db_(db), path_(std::move(path)), busy_timeout_(busy_timeout) {}

  sqlite3* db_;
  std::string path_;
  std::chrono::milliseconds busy_timeout_;
  std::unordered_map<const char*, sqlite3_stmt*> cache_;
};

// A write transaction (BEGIN IMMEDIATE: the write lock is taken at the start, where the
// busy timeout applies, instead of at the first write, where WAL would fail at once with
// SQLITE_BUSY_SNAPSHOT). Rolls back when destroyed uncommitted.
class Transaction {
 public:
  static Result<Transaction> begin(Db& db);
  Transaction(Transaction&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  Status commit();

 private:
  explicit Transaction(Db* db) : db_(db) {}
  Db* db_;
};

}  // namespace fastgpu::store::sqlite
