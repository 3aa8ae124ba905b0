// The environments table (schema 3): each distinct environment is one row, and a job
// points at its row by environment_id. Rows are never changed or deleted.
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>

#include "fastgpu/core/result.h"
#include "fastgpu/store/environment.h"
#include "store/sqlite_db.h"

namespace fastgpu::store {

// Thread-safety: none; the store calls it under its connection's mutex.
class EnvironmentTable {
 public:
  // Starts a write transaction's use of row_for: a row remembered from an earlier
  // transaction may have been rolled back.
  void begin_batch() { last_.reset(); }

  // The row id of `environment`, inserted if no row has it. A batch's jobs share one list,
  // so the last list asked about is remembered and its copies cost nothing.
  // REQUIRES: inside the write transaction of the job rows that will point at it, after
  // begin_batch().
  Result<std::int64_t> row_for(sqlite::Db& db, const Environment& environment);

  // The environment of row `id` (none: the job has no environment). Read from the database
  // once and then shared from memory: thousands of jobs read back hold one copy.
  Result<Environment> read(sqlite::Db& db, std::optional<std::int64_t> id);

 private:
  struct Written {
    Environment environment;
    std::int64_t id;
  };
  static constexpr std::size_t kMaxCached = 4096;  // distinct environments kept in memory

  std::optional<Written> last_;
  std::unordered_map<std::int64_t, Environment> by_id_;
};

}  // namespace fastgpu::store
