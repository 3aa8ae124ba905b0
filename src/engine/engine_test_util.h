// Test doubles for the engine's seams: a launcher that records what it is asked and lets
// the test end runs with any Outcome, a clock the test moves by hand, and a store that
// forwards to another and counts the reads.
#pragma once

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "fastgpu/engine/engine.h"
#include "fastgpu/exec/launcher.h"
#include "fastgpu/store/state_store.h"

namespace fastgpu::engine::testing {

class ManualClock final : public Clock {
 public:
  explicit ManualClock(double start_s = 1'800'000'000.0) : now_(seconds(start_s)) {}
  WallTime now() override { return now_; }
  void advance(double by_s) { now_ += std::chrono::microseconds(std::llround(by_s * 1e6)); }
  static WallTime seconds(double s) {
    return WallTime(std::chrono::microseconds(std::llround(s * 1e6)));
  }

 private:
  WallTime now_;
};

class FakeLauncher final : public exec::Launcher {
 public:
  struct StopCall {
    JobId job;
    exec::StopReason reason;
  };
  struct AdoptCall {
    JobId job;
    pid_t supervisor_pid;
    std::filesystem::path run_file;
  };

  explicit FakeLauncher(Clock& clock) : clock_(clock) {}

  Result<exec::Launched> launch(const exec::LaunchRequest& request) override {
    if (!fail_next_launch.empty()) {
      std::string message = std::move(fail_next_launch);
      fail_next_launch.clear();
      return io_error(message);
    }
    launches.push_back(request);
    const pid_t supervisor = next_pid_++;
    const pid_t job = next_pid_++;
    running_[request.job] = {supervisor, job, clock_.now()};
    return running_[request.job];
  }

  Status stop(JobId job, exec::StopReason reason) override {
    if (!running_.count(job)) return not_found("fake launcher: no run of job " + to_string(job));
    stops.push_back({job, reason});
    return {};
  }

  Status set_time_limit(JobId job, std::optional<double> time_limit_s) override {
    if (!running_.count(job)) return not_found("fake launcher: no run of job " + to_string(job));
    if (!limit_answer.ok()) return limit_answer;
    limit_changes.push_back({job, time_limit_s});
    return {};
  }

  Status adopt(JobId job, pid_t supervisor_pid, const std::filesystem::path& run_file) override {
    adopts.push_back({job, supervisor_pid, run_file});
    auto answer = adopt_answers.find(job);
    if (answer != adopt_answers.end() && !answer->second.ok()) return answer->second;
    running_[job] = {supervisor_pid, supervisor_pid + 1, clock_.now()};
    return {};
  }

  std::vector<exec::Finished> poll() override {
    std::vector<exec::Finished> ended = std::move(finished_);
    finished_.clear();
    return ended;
  }

  // Ends a run the launcher knows; the next poll() reports it.
  void finish(JobId job, exec::Outcome outcome) {
    auto run = running_.find(job);
    if (run == running_.end()) throw std::logic_error("finish: job not running in the fake");
    finished_.push_back({job, std::move(outcome), run->second.started, clock_.now(), {}});
    running_.erase(run);
  }

  bool runs(JobId job) const { return running_.count(job) > 0; }
  pid_t job_pid(JobId job) const { return running_.at(job).job_pid; }

  const exec::LaunchRequest* launch_of(JobId job) const {
    for (const exec::LaunchRequest& request : launches) {
      if (request.job == job) return &request;
    }
    return nullptr;
  }
  std::size_t launch_count(JobId job) const {
    std::size_t count = 0;
    for (const exec::LaunchRequest& request : launches) count += request.job == job ? 1 : 0;
    return count;
  }

  std::vector<exec::LaunchRequest> launches;
  std::vector<StopCall> stops;
  struct LimitCall {
    JobId job;
    std::optional<double> time_limit_s;
  };
  std::vector<AdoptCall> adopts;
  std::vector<LimitCall> limit_changes;   // set_time_limit() calls that succeeded
  std::map<JobId, Status> adopt_answers;  // adopt() returns these errors; others succeed
  Status limit_answer;                    // set_time_limit() returns it when not ok
  std::string fail_next_launch;           // non-empty: the next launch() fails with it

 private:
  Clock& clock_;
  pid_t next_pid_ = 1000;
  std::map<JobId, exec::Launched> running_;
  std::vector<exec::Finished> finished_;
};

// A unique empty folder, removed with everything in it when destroyed.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "fastgpu-engine-XXXXXX");
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Forwards every call to `inner` and counts the calls that read jobs (get_job, list_jobs,
// list_job_ids, count_jobs_by_state, transitions): what a tick costs the store.
class CountingStore final : public store::StateStore {
 public:
  explicit CountingStore(store::StateStore& inner) : inner_(inner) {}

  Result<std::vector<store::JobRecord>> submit_records(
      std::span<const store::JobSpec> jobs) override {
    return inner_.submit_records(jobs);
  }
  Status check_records(std::span<const store::JobSpec> jobs) override {
    return inner_.check_records(jobs);
  }
  Status transition(JobId job, store::JobState from, store::JobState to, store::WallTime at,
                    std::string_view reason) override {
    return inner_.transition(job, from, to, at, reason);
  }
  Status record_start(JobId job, const store::JobStart& start) override {
    return inner_.record_start(job, start);
  }
  Status record_pids(JobId job, std::int32_t supervisor_pid, std::int32_t job_pid,
                     std::optional<store::WallTime> started,
                     const std::optional<store::Event>& event) override {
    return inner_.record_pids(job, supervisor_pid, job_pid, started, event);
  }
  Status record_run_peaks(std::span<const std::pair<JobId, Bytes>> peaks) override {
    if (failed_peak_writes_left > 0) {
      --failed_peak_writes_left;
      return io_error("database is locked (a test's store)");
    }
    return inner_.record_run_peaks(peaks);
  }
  Status record_end(JobId job, const store::JobEnd& end) override {
    return inner_.record_end(job, end);
  }
  std::vector<Status> record_starts(
      std::span<const std::pair<JobId, store::JobStart>> starts) override {
    if (before_starts) before_starts();
    batch_sizes.push_back({"starts", starts.size()});
    return inner_.record_starts(starts);
  }
  std::vector<Status> record_pids_of(std::span<const store::JobPids> pids) override {
    batch_sizes.push_back({"pids", pids.size()});
    return inner_.record_pids_of(pids);
  }
  std::vector<Status> record_ends(std::span<const std::pair<JobId, store::JobEnd>> ends) override {
    batch_sizes.push_back({"ends", ends.size()});
    return inner_.record_ends(ends);
  }
  Status change_queued(JobId job, const store::QueuedJobChange& change) override {
    return inner_.change_queued(job, change);
  }
  Status change_running_limit(JobId job, std::optional<std::int64_t> time_limit_s,
                              std::optional<store::Event> event) override {
    return inner_.change_running_limit(job, time_limit_s, std::move(event));
  }
  Result<store::JobRecord> get_job(JobId job) override {
    ++job_reads;
    if (failed_job_reads_left > 0) {
      --failed_job_reads_left;
      return io_error("database is locked (a test's store)");
    }
    return inner_.get_job(job);
  }
  Result<std::vector<store::JobRecord>> list_jobs(const store::JobFilter& filter) override {
    ++job_reads;
    return inner_.list_jobs(filter);
  }
  Result<std::vector<JobId>> resubmissions_of(JobId job) override {
    return inner_.resubmissions_of(job);
  }
  Result<std::vector<JobId>> list_job_ids(const store::JobFilter& filter) override {
    ++job_reads;
    return inner_.list_job_ids(filter);
  }
  Result<std::map<store::JobState, std::uint64_t>> count_jobs_by_state() override {
    ++job_reads;
    return inner_.count_jobs_by_state();
  }
  Result<std::map<store::JobState, std::uint64_t>> count_state_entries() override {
    ++job_reads;
    return inner_.count_state_entries();
  }
  Result<bool> skip_ids_through(JobId last) override { return inner_.skip_ids_through(last); }
  Status copy_to(const std::string& path) override { return inner_.copy_to(path); }
  Result<std::vector<store::Transition>> transitions(JobId job) override {
    ++job_reads;
    return inner_.transitions(job);
  }
  Result<std::int64_t> append_event(const store::Event& event) override {
    return inner_.append_event(event);
  }
  Result<std::vector<store::Event>> events_since(std::int64_t after_seq,
                                                 std::size_t limit) override {
    return inner_.events_since(after_seq, limit);
  }
  Result<std::vector<store::Event>> events_of_running_jobs(
      std::span<const std::string> kinds) override {
    return inner_.events_of_running_jobs(kinds);
  }
  Status append_samples(std::span<const store::Sample> samples) override {
    return inner_.append_samples(samples);
  }
  Result<std::vector<store::Sample>> samples_between(store::WallTime from,
                                                     store::WallTime to) override {
    return inner_.samples_between(from, to);
  }
  Result<std::uint64_t> prune_samples(store::WallTime before, std::size_t limit) override {
    return inner_.prune_samples(before, limit);
  }
  Result<store::Purged> purge_ended(const store::JobFilter& filter, std::size_t limit) override {
    return inner_.purge_ended(filter, limit);
  }
  Result<std::vector<store::HistoryEntry>> history(std::string_view signature,
                                                   std::size_t limit) override {
    return inner_.history(signature, limit);
  }

  std::uint64_t job_reads = 0;
  // Each call of record_starts, record_pids_of and record_ends: its kind and its items.
  std::vector<std::pair<std::string, std::size_t>> batch_sizes;
  std::function<void()> before_starts;  // run before record_starts() forwards
  int failed_peak_writes_left = 0;      // record_run_peaks() fails this many times first
  int failed_job_reads_left = 0;        // get_job() fails this many times first

 private:
  store::StateStore& inner_;
};

}  // namespace fastgpu::engine::testing
