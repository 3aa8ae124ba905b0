// Test doubles for the engine's seams: a launcher that records what it is asked and lets
// the test end runs with any Outcome, and a clock the test moves by hand.
#pragma once

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "fastgpu/engine/engine.h"
#include "fastgpu/exec/launcher.h"

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
  std::vector<AdoptCall> adopts;
  std::map<JobId, Status> adopt_answers;  // adopt() returns these errors; others succeed
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

}  // namespace fastgpu::engine::testing
