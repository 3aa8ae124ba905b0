// Helpers shared by the store's tests: a full job spec, a fresh temporary folder.
#pragma once

#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "fastgpu/store/state_store.h"

namespace fastgpu::store::testing {

inline WallTime at_seconds(std::int64_t seconds) { return WallTime(std::chrono::seconds(seconds)); }

// A spec with every field set to a value that differs from its default.
inline JobSpec full_spec(int n) {
  JobSpec spec;
  spec.name = "train-" + std::to_string(n);
  spec.argv = {"python", "train.py", "--seed", std::to_string(n), "arg with spaces"};
  spec.working_dir = "/home/ada/project";
  spec.environment = {"A=1", "B=x=y", "EMPTY="};
  spec.gpus = 2;
  spec.gpu_mem = Bytes{20} << 30;
  spec.util_share = 0.5;
  spec.priority = -3;
  spec.time_limit_s = 7200;
  spec.deadline = at_seconds(2'000'000'000);
  spec.restartable = true;
  spec.umask = 027;
  spec.limits = {{"nofile", 1024, 4096}, {"stack", std::nullopt, std::nullopt}};
  spec.uid = 1001;
  spec.user = "ada";
  spec.signature = "train.py";
  spec.submit_time = WallTime(std::chrono::microseconds(1'764'000'000'123'456 + n));
  return spec;
}

// A unique empty folder under the system's temporary folder, removed when destroyed.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "fastgpu-store-XXXXXX");
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// The number of rows of `table` in the database file, read with the raw SQLite API; -1 if
// it cannot be read.
inline std::int64_t count_rows(const std::string& path, const std::string& table) {
  sqlite3* db = nullptr;
  sqlite3_stmt* stmt = nullptr;
  std::int64_t count = -1;
  const std::string sql = "SELECT count(*) FROM " + table;
  if (sqlite3_open(path.c_str(), &db) == SQLITE_OK &&
      sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW) {
    count = sqlite3_column_int64(stmt, 0);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return count;
}

inline std::unique_ptr<StateStore> open_or_die(const std::string& path) {
  auto store = open_sqlite_store(path);
  if (!store.ok()) throw std::runtime_error(store.status().to_string());
  return std::move(store).value();
}

}  // namespace fastgpu::store::testing
