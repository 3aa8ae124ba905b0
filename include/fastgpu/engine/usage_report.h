// The usage report (`fastgpu report`, GET /v1/usage): ended jobs summed up by name, by user
// or by GPU, as Slurm's sreport sums up accounts: how many ended how, what they waited and ran,
// the GPU time and energy they took, and how much of the GPU memory and of the time limit
// they reserved their runs used. The last two are what a shared box loses most to: a job
// that reserves 20 GiB and peaks at 6 keeps two more jobs off its GPU, and a 4 h limit on a
// 20-minute run keeps backfill from starting it in a 30-minute gap.
//
// Built one job at a time (UsageTally::add), so the daemon can read a long history a page
// at a time. Each job's figures are make_job_report()'s, so they agree with `history` and
// `show`. Missing stays missing: a group none of whose jobs has a figure gives nullopt
// (null in JSON, "n/a" in the table), and each sum says how many jobs it covers.
//
// Thread-safety: none needed (values).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fastgpu/core/result.h"
#include "fastgpu/store/state_store.h"

namespace fastgpu::engine {

// By name, by user, by GPU (a job counts on each GPU its latest run held, with 1/N of its
// GPU time and energy there, so the GPUs' jobs add up to more than the total's), or by the
// day it ended.
enum class UsageKey { kName, kUser, kGpu, kDay };

// "name", "user", "gpu" or "day"; anything else is an error naming the four.
Result<UsageKey> parse_usage_key(std::string_view text);
std::string_view usage_key_name(UsageKey key);

// A run uses less than this share of what it reserved (memory, time limit) before the
// report suggests asking for less.
inline constexpr double kUsageHintBelowPercent = 50.0;
// The table says so for at most this many groups' memory or time (a batch of short jobs
// under one default limit would give a line per name); the rest are counted.
inline constexpr std::size_t kMostHints = 6;

struct UsageGroup {
  // The user, or the name (a job without one: its command, as its signature holds it; ""
  // for neither), or the GPU's index ("" for jobs that held none), or the day the jobs
  // ended, "2026-12-07"; "" in the total.
  std::string key;
  std::uint64_t jobs = 0;
  std::uint64_t completed = 0;
  std::uint64_t failed = 0;
  std::uint64_t timeout = 0;
  std::uint64_t cancelled = 0;
  std::uint64_t started = 0;            // jobs that ran (a job cancelled while queued did not)
  double wait_s = 0.0;                  // summed over the jobs that started
  double run_s = 0.0;                   // the same
  double gpu_seconds = 0.0;             // summed; a job that never ran adds 0
  std::uint64_t gpu_jobs = 0;           // jobs that ran on GPUs (memory and energy apply to them)
  std::optional<double> energy_joules;  // summed over energy_jobs
  std::uint64_t energy_jobs = 0;
  bool energy_is_estimate = false;
  // GPU memory: over the memory_jobs that ran on GPUs with a reservation and a measured
  // peak (both per GPU), the peaks summed against the reservations summed.
  std::uint64_t memory_jobs = 0;
  double peak_bytes = 0.0;
  double reserved_bytes = 0.0;
  Bytes largest_peak = 0;
  Bytes largest_reserved = 0;
  // Time limits: over the time_jobs that ran with a limit, run times summed against limits.
  std::uint64_t time_jobs = 0;
  double limited_run_s = 0.0;
  double limit_s = 0.0;
  double longest_limited_run_s = 0.0;
  std::int64_t longest_limit_s = 0;

  std::optional<double> mean_wait_s() const;
  std::optional<double> mean_run_s() const;
  std::optional<double> memory_used_percent() const;
  std::optional<double> time_used_percent() const;
};

struct UsageReport {
  UsageKey key = UsageKey::kName;
  // By GPU time, most first, ties by key (by GPU: by index, the group without one last; by
  // day: the days in order, every day from the first to the last listed). By name, user or
  // day a job is in exactly one group.
  std::vector<UsageGroup> groups;
  UsageGroup total;  // each job once
};

// The most a day's offset from UTC can be (UTC-12 to UTC+14, with room).
inline constexpr std::int64_t kMostUtcOffsetSeconds = 18 * 3600;

// A time zone's offsets from UTC (seconds east) over time: `initial` before the first
// change, then each change's offset from its moment on. By day, a job's day is read with the
// offset in force when it ended, so that a report across a change to or from summer time
// puts each job on the day its end showed on the clock.
struct UtcOffsets {
  std::int64_t initial = 0;
  std::vector<std::pair<store::WallTime, std::int64_t>> changes;  // ascending moments

  // The offset in force at `moment`.
  std::int64_t at(store::WallTime moment) const;
};

class UsageTally {
 public:
  // `offsets`: by day, the time zone the days are read in; a job that ended at 23:30 UTC
  // ends the next day at UTC+1. REQUIRES: every offset at most kMostUtcOffsetSeconds from 0.
  explicit UsageTally(UsageKey key, UtcOffsets offsets = {})
      : key_(key), offsets_(std::move(offsets)) {}
  // Adds an ended job (COMPLETED, FAILED, TIMEOUT or CANCELLED); any other is left out.
  void add(const store::JobRecord& job);
  // By GPU: lists the GPU even if no job ran on it (an idle GPU is what a report of the
  // load is read for). Nothing by name or user.
  void include_gpu(std::uint32_t index);
  UsageReport finish() &&;

 private:
  UsageGroup& group(const std::string& key);

  UsageKey key_;
  UtcOffsets offsets_;
  std::map<std::string, UsageGroup> groups_;
  std::map<std::chrono::sys_days, UsageGroup> days_;  // by day: each day's group, in order
  UsageGroup total_;
};

// The table: a line per group, then a total line when there are two groups or more; then
// a line per group whose runs used under kUsageHintBelowPercent of the memory or time they
// reserved, saying what to ask instead (by name or user only). "No ended jobs" when there
// are none.
std::string render_usage_table(const UsageReport& report);
// {"by": "name", "groups": [...], "total": {...}}; missing figures are null.
nlohmann::ordered_json usage_json(const UsageReport& report);
// The report usage_json wrote (as the CLI reads the daemon's); an error names what is wrong.
Result<UsageReport> usage_report_from_json(const nlohmann::ordered_json& json);

}  // namespace fastgpu::engine
