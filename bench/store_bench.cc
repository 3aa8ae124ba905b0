// StateStore write rates: job submissions in batches of 1 and 1,000, and GPU samples in
// batches of 8 (one tick of 8 GPUs) and 1,000, each against a baseline in the same run:
// the plain SQLite C API inserting the same rows into the same schema, with the same
// pragmas and one transaction per batch, with nothing of FastGPU's layer (no validation,
// JSON encoding done once up front, no mutex, no statement cache lookup).
// Submissions are also measured with synchronous=FULL, which costs one fsync per commit.
// Prints the store/baseline ratios of wall and CPU time per item after the Google Benchmark
// table. On a busy shared machine CPU time is the steadier figure; wall time is what counts
// for synchronous=FULL, whose cost is waiting for the disk.
//
// The databases live in a fresh folder under $TMPDIR (or /tmp); the disk decides the
// absolute figures, the ratio is what this benchmark is for.
#include <benchmark/benchmark.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "fastgpu/store/state_store.h"

namespace {

namespace fs = std::filesystem;
using fastgpu::store::Durability;
using fastgpu::store::JobSpec;
using fastgpu::store::Sample;
using fastgpu::store::WallTime;

fs::path bench_dir() {
  static const fs::path dir = [] {
    std::string pattern = (fs::temp_directory_path() / "fastgpu-store-bench-XXXXXX").string();
    return fs::path(::mkdtemp(pattern.data()));
  }();
  return dir;
}

// A new database file with FastGPU's schema, for one benchmark.
std::string fresh_db(const std::string& name, Durability durability) {
  const std::string path = (bench_dir() / (name + ".db")).string();
  fs::remove(path);
  auto store = fastgpu::store::open_sqlite_store(path, {durability, std::chrono::seconds(5)});
  if (!store.ok()) std::fprintf(stderr, "%s\n", store.status().to_string().c_str());
  return path;
}

JobSpec typical_job(int n) {
  JobSpec spec;
  spec.name = "train-" + std::to_string(n);
  spec.argv = {"python", "train.py", "--lr", "0.001", "--seed", std::to_string(n)};
  spec.working_dir = "/home/ada/project";
  spec.environment = {"PATH=/usr/bin:/bin", "HOME=/home/ada", "WANDB_MODE=offline"};
  spec.gpus = 1;
  spec.gpu_mem = std::uint64_t{20} << 30;
  spec.time_limit_s = 7200;
  spec.uid = 1000;
  spec.user = "ada";
  spec.signature = "train.py";
  spec.submit_time = WallTime(std::chrono::microseconds(1'764'000'000'000'000 + n));
  return spec;
}

Sample typical_sample(std::int64_t n) {
  return {WallTime(std::chrono::microseconds(n)),
          static_cast<std::uint32_t>(n % 8),
          std::uint64_t{30} << 30,
          87.0,
          512.5,
          static_cast<std::uint64_t>(n) * 1000};
}

void store_submit(benchmark::State& state, Durability durability) {
  const auto batch_size = static_cast<int>(state.range(0));
  auto store = fastgpu::store::open_sqlite_store(fresh_db("store_submit", durability),
                                                 {durability, std::chrono::seconds(5)});
  std::vector<JobSpec> batch;
  for (int i = 0; i < batch_size; ++i) batch.push_back(typical_job(i));
  for (auto _ : state) {
    auto ids = (*store)->submit(batch);
    if (!ids.ok()) state.SkipWithError(ids.status().to_string().c_str());
  }
  state.SetItemsProcessed(state.iterations() * batch_size);
}

void store_samples(benchmark::State& state) {
  const auto batch_size = state.range(0);
  auto store = fastgpu::store::open_sqlite_store(fresh_db("store_samples", Durability::kNormal));
  std::vector<Sample> batch;
  for (std::int64_t i = 0; i < batch_size; ++i) batch.push_back(typical_sample(i));
  for (auto _ : state) {
    if (!(*store)->append_samples(batch).ok()) state.SkipWithError("append_samples failed");
  }
  state.SetItemsProcessed(state.iterations() * batch_size);
}

// The baseline: a raw connection, configured as the store configures its own.
class RawDb {
 public:
  RawDb(const std::string& path, Durability durability) {
    sqlite3_open(path.c_str(), &db_);
    sqlite3_busy_timeout(db_, 5000);
    exec("PRAGMA journal_mode = WAL");
    exec(durability == Durability::kFull ? "PRAGMA synchronous = FULL"
                                         : "PRAGMA synchronous = NORMAL");
    exec("PRAGMA foreign_keys = ON");
  }
  ~RawDb() {
    for (sqlite3_stmt* stmt : statements_) sqlite3_finalize(stmt);
    sqlite3_close(db_);
  }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  bool exec(const char* sql) { return sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) == 0; }
  sqlite3_stmt* prepare(const char* sql) {
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr);
    statements_.push_back(stmt);
    return stmt;
  }
  std::int64_t last_id() { return sqlite3_last_insert_rowid(db_); }

 private:
  sqlite3* db_ = nullptr;
  std::vector<sqlite3_stmt*> statements_;
};

bool step_and_reset(sqlite3_stmt* stmt) {
  const bool ok = sqlite3_step(stmt) == SQLITE_DONE;
  sqlite3_reset(stmt);
  return ok;
}

void bind_text(sqlite3_stmt* stmt, int index, const std::string& text) {
  sqlite3_bind_text(stmt, index, text.c_str(), static_cast<int>(text.size()), SQLITE_STATIC);
}

void raw_submit(benchmark::State& state, Durability durability) {
  const auto batch_size = static_cast<int>(state.range(0));
  RawDb db(fresh_db("raw_submit", durability), durability);
  sqlite3_stmt* job = db.prepare(
      "INSERT INTO jobs (name, argv, shell_command, working_dir, environment, gpus, gpu_mem, "
      "util_share, priority, time_limit_s, restartable, uid, user, signature, submit_us, state) "
      "VALUES (?1, ?2, '', ?3, ?4, 1, ?5, 1.0, 0, 7200, 0, 1000, 'ada', 'train.py', ?6, "
      "'QUEUED')");
  sqlite3_stmt* transition = db.prepare(
      "INSERT INTO transitions (job, from_state, to_state, at_us, reason) "
      "VALUES (?1, NULL, 'QUEUED', ?2, 'submitted')");
  // The same rows as the store writes, encoded once, outside the timed loop.
  const std::string argv = R"(["python","train.py","--lr","0.001","--seed","0"])";
  const std::string env = R"(["PATH=/usr/bin:/bin","HOME=/home/ada","WANDB_MODE=offline"])";
  const std::string name = "train-0";
  const std::string cwd = "/home/ada/project";
  for (auto _ : state) {
    bool ok = db.exec("BEGIN IMMEDIATE");
    for (int i = 0; i < batch_size; ++i) {
      bind_text(job, 1, name);
      bind_text(job, 2, argv);
      bind_text(job, 3, cwd);
      bind_text(job, 4, env);
      sqlite3_bind_int64(job, 5, std::int64_t{20} << 30);
      sqlite3_bind_int64(job, 6, 1'764'000'000'000'000 + i);
      ok = ok && step_and_reset(job);
      sqlite3_bind_int64(transition, 1, db.last_id());
      sqlite3_bind_int64(transition, 2, 1'764'000'000'000'000 + i);
      ok = ok && step_and_reset(transition);
    }
    ok = ok && db.exec("COMMIT");
    if (!ok) state.SkipWithError("raw insert failed");
  }
  state.SetItemsProcessed(state.iterations() * batch_size);
}

void raw_samples(benchmark::State& state) {
  const auto batch_size = state.range(0);
  RawDb db(fresh_db("raw_samples", Durability::kNormal), Durability::kNormal);
  sqlite3_stmt* insert = db.prepare(
      "INSERT INTO samples (at_us, gpu, memory_used, util, power_w, energy_mj) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  for (auto _ : state) {
    bool ok = db.exec("BEGIN IMMEDIATE");
    for (std::int64_t i = 0; i < batch_size; ++i) {
      sqlite3_bind_int64(insert, 1, i);
      sqlite3_bind_int64(insert, 2, i % 8);
      sqlite3_bind_int64(insert, 3, std::int64_t{30} << 30);
      sqlite3_bind_double(insert, 4, 87.0);
      sqlite3_bind_double(insert, 5, 512.5);
      sqlite3_bind_int64(insert, 6, i * 1000);
      ok = ok && step_and_reset(insert);
    }
    ok = ok && db.exec("COMMIT");
    if (!ok) state.SkipWithError("raw insert failed");
  }
  state.SetItemsProcessed(state.iterations() * batch_size);
}

// Keeps each run's wall time per item, to print store/baseline ratios at the end.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      // With --benchmark_repetitions the median (reported after the repetitions) wins.
      const bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
      if ((run.run_type != Run::RT_Iteration && !median) || run.error_occurred) continue;
      const auto items = run.counters.find("items_per_second");
      if (items == run.counters.end()) continue;
      // CPU seconds per item = (CPU time per iteration) / (items per iteration).
      const double items_per_iteration = items->second * run.GetAdjustedRealTime() * 1e-9;
      rates_[run.run_name.str()] = {items->second,
                                    run.GetAdjustedCPUTime() * 1e-9 / items_per_iteration};
    }
    ConsoleReporter::ReportRuns(runs);
  }

  void print_ratio(const std::string& label, const std::string& store, const std::string& raw) {
    const auto s = rates_.find(store);
    const auto r = rates_.find(raw);
    if (s == rates_.end() || r == rates_.end()) return;
    std::printf(
        "  %-26s store %8.0f/s %6.1f us cpu | raw sqlite3 %8.0f/s %6.1f us cpu | "
        "store/raw wall %.2fx, cpu %.2fx\n",
        label.c_str(), s->second.per_second, s->second.cpu_s * 1e6, r->second.per_second,
        r->second.cpu_s * 1e6, r->second.per_second / s->second.per_second,
        s->second.cpu_s / r->second.cpu_s);
  }

 private:
  struct Rate {
    double per_second = 0;  // items per wall-clock second
    double cpu_s = 0;       // CPU seconds per item
  };
  std::map<std::string, Rate> rates_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  for (auto [label, durability] :
       {std::pair{"normal", Durability::kNormal}, std::pair{"full", Durability::kFull}}) {
    const std::string suffix = std::string("/") + label;
    benchmark::RegisterBenchmark(("store/submit" + suffix).c_str(), store_submit, durability)
        ->Arg(1)
        ->Arg(1000)
        ->UseRealTime()
        ->MinTime(1.0);
    benchmark::RegisterBenchmark(("raw/submit" + suffix).c_str(), raw_submit, durability)
        ->Arg(1)
        ->Arg(1000)
        ->UseRealTime()
        ->MinTime(1.0);
  }
  benchmark::RegisterBenchmark("store/samples", store_samples)
      ->Arg(8)
      ->Arg(1000)
      ->UseRealTime()
      ->MinTime(1.0);
  benchmark::RegisterBenchmark("raw/samples", raw_samples)
      ->Arg(8)
      ->Arg(1000)
      ->UseRealTime()
      ->MinTime(1.0);
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  std::printf("\nthe store vs raw sqlite3 inserts of the same rows (per item):\n");
  for (const char* label : {"normal", "full"}) {
    for (const char* batch : {"1", "1000"}) {
      const std::string tail = std::string("/") + label + "/" + batch + "/min_time:1.000/real_time";
      reporter.print_ratio(std::string("submit, ") + label + ", batch " + batch,
                           "store/submit" + tail, "raw/submit" + tail);
    }
  }
  for (const char* batch : {"8", "1000"}) {
    const std::string tail = std::string("/") + batch + "/min_time:1.000/real_time";
    reporter.print_ratio(std::string("samples, batch ") + batch, "store/samples" + tail,
                         "raw/samples" + tail);
  }
  std::error_code ignored;
  fs::remove_all(bench_dir(), ignored);
  benchmark::Shutdown();
  return 0;
}
