#include "store/sqlite_db.h"

#include <string>
#include <utility>

namespace fastgpu::store::sqlite {

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_), stmt_(other.stmt_), bind_error_(other.bind_error_) {
  other.stmt_ = nullptr;
}

Statement::~Statement() {
  if (stmt_ == nullptr) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

Statement& Statement::check_bind(int rc) {
  if (rc != SQLITE_OK && bind_error_ == SQLITE_OK) bind_error_ = rc;
  return *this;
}

Statement& Statement::bind(int index, std::int64_t value) {
  return check_bind(sqlite3_bind_int64(stmt_, index, value));
}

Statement& Statement::bind(int index, double value) {
  return check_bind(sqlite3_bind_double(stmt_, index, value));
}

Statement& Statement::bind(int index, std::string_view value) {
  return check_bind(
      sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
}

Statement& Statement::bind_null(int index) { return check_bind(sqlite3_bind_null(stmt_, index)); }

Result<bool> Statement::step() {
  if (bind_error_ != SQLITE_OK) return db_->error(bind_error_, "binding a parameter");
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_->error(rc, sqlite3_sql(stmt_));
}

Status Statement::run() {
  for (;;) {
    Result<bool> row = step();
    if (!row.ok()) return row.status();
    if (!*row) return {};
  }
}

bool Statement::is_null(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

std::int64_t Statement::column_int64(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

double Statement::column_double(int column) const { return sqlite3_column_double(stmt_, column); }

std::string Statement::column_text(int column) const {
  const auto* text = sqlite3_column_text(stmt_, column);
  if (text == nullptr) return {};
  const auto size = static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column));
  return {reinterpret_cast<const char*>(text), size};
}

std::optional<std::int64_t> Statement::column_optional_int64(int column) const {
  if (is_null(column)) return std::nullopt;
  return column_int64(column);
}

std::optional<double> Statement::column_optional_double(int column) const {
  if (is_null(column)) return std::nullopt;
  return column_double(column);
}

Result<std::unique_ptr<Db>> Db::open(const std::string& path,
                                     std::chrono::milliseconds busy_timeout) {
  sqlite3* handle = nullptr;
  // NOMUTEX: the store serialises calls itself, so SQLite's own mutex would be pure cost.
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &handle, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = handle != nullptr ? sqlite3_errmsg(handle) : sqlite3_errstr(rc);
    sqlite3_close(handle);
    return io_error("cannot open the state database '" + path + "': " + message +
                    "; check that its folder exists and is writable, or set "
                    "FASTGPU_STATE_DIR to another folder");
  }
  sqlite3_extended_result_codes(handle, 1);
  sqlite3_busy_timeout(handle, static_cast<int>(busy_timeout.count()));
  return std::unique_ptr<Db>(new Db(handle, path, busy_timeout));
}

Db::~Db() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

Status Db::exec(const char* sql) {
  char* message = nullptr;
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &message);
  sqlite3_free(message);
  if (rc != SQLITE_OK) return error(rc, sql);
  return {};
}

Result<Statement> Db::prepare(const char* sql) {
  if (auto it = cache_.find(sql); it != cache_.end()) return Statement(this, it->second);
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return error(rc, sql);
  cache_.emplace(sql, stmt);
  return Statement(this, stmt);
}

Result<std::int64_t> Db::query_int(const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr);
  if (rc != SQLITE_OK) return error(rc, sql);
  rc = sqlite3_step(stmt);
  const std::int64_t value = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
  sqlite3_finalize(stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return error(rc, sql);
  return value;
}

Status Db::error(int rc, std::string_view what) const {
  const std::string detail =
      std::string(sqlite3_errmsg(db_)) + " (while " + std::string(what) + ")";
  const std::string where = "state database '" + path_ + "'";
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return unavailable(where + " is busy: another process held its write lock for more than " +
                         std::to_string(busy_timeout_.count()) + " ms; retry");
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return failed_precondition(where +
                                 " is not a valid SQLite database or is corrupt: " + detail +
                                 "; move the file aside or set FASTGPU_STATE_DIR "
                                 "to another folder");
    case SQLITE_CONSTRAINT: return invalid_argument(where + ": " + detail);
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY: return io_error(where + ": " + detail);
    default: return internal_error(where + ": " + detail);
  }
}

Result<Transaction> Transaction::begin(Db& db) {
  FASTGPU_RETURN_IF_ERROR(db.exec("BEGIN IMMEDIATE"));
  return Transaction(&db);
}

Transaction::~Transaction() {
  if (db_ != nullptr) (void)db_->exec("ROLLBACK");
}

Status Transaction::commit() {
  Db* db = db_;
  db_ = nullptr;
  Status status = db->exec("COMMIT");
  // A failed COMMIT (e.g. busy) leaves the transaction open: roll it back so the
  // connection stays usable, and report the commit's error.
  if (!status.ok() && sqlite3_get_autocommit(db->handle()) == 0) (void)db->exec("ROLLBACK");
  return status;
}

}  // namespace fastgpu::store::sqlite
