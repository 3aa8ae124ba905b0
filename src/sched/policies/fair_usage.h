// The fair policy's arithmetic, shared by FairPolicy::rank (fair.cc) and the kept
// scheduler's FairKeys (fair_keys.h), so that both give every job the same key to the last
// bit whatever order the jobs, runs and ends reached them in.
//
// A queued job's key is its user's usage plus the expected GPU time of that user's queued
// jobs submitted before it, in milliseconds of GPU time:
// - finished jobs: their GPU-seconds, halved every fair_half_life_s in kStepsPerHalfLife
//   steps (usage ending in one step decays as one amount); usage older than kHorizonSteps
//   counts as none;
// - running jobs: GPUs times the time they have run;
// - a queued job expects GPUs x share x its time limit (fair_default_job_gpu_s without one).
// Everything but the decay is an integer sum, which no order changes; the decayed amounts
// are summed oldest step first.
#pragma once

#include <cmath>
#include <cstdint>
#include <iterator>
#include <map>

#include "fastgpu/sched/config.h"
#include "fastgpu/sched/job.h"
#include "fastgpu/sched/snapshot.h"

namespace fastgpu::sched::fair {

inline constexpr int kStepsPerHalfLife = 16;
inline constexpr std::int64_t kHorizonSteps = 64 * kStepsPerHalfLife;

inline std::int64_t millis(double seconds) { return std::llround(seconds * 1000.0); }

inline std::int64_t expected_ms(const Job& job, const SchedulerConfig& config) {
  if (job.gpus <= 0) return 0;
  return millis(job.gpus * job.util_share *
                job.time_limit_s.value_or(config.fair_default_job_gpu_s));
}

inline std::int64_t step_of(double time_s, const SchedulerConfig& config) {
  return static_cast<std::int64_t>(
      std::floor(time_s / (config.fair_half_life_s / kStepsPerHalfLife)));
}

// One user's finished usage by the step it ended in.
class FinishedUsage {
 public:
  void add(std::int64_t step, std::int64_t ms) {
    if (ms == 0) return;  // adds nothing to any sum
    if (!by_step_.empty() && std::prev(by_step_.end())->first == step) {
      std::prev(by_step_.end())->second += ms;  // only the last term changes: prefix holds
      return;
    }
    by_step_[step] += ms;
    prefix_valid_ = false;
  }

  // The decayed sum at now_step, oldest step first. The sum of every step but the last is
  // kept while neither now_step nor those steps change (ends land in the newest step).
  double decayed(std::int64_t now_step) {
    if (by_step_.empty()) return 0.0;
    const auto last = std::prev(by_step_.end());
    if (!prefix_valid_ || prefix_step_ != now_step) {
      prefix_ = 0.0;
      for (auto it = by_step_.lower_bound(now_step - kHorizonSteps);
           it != by_step_.end() && it != last; ++it) {
        prefix_ += term(it->second, now_step - it->first);
      }
      prefix_valid_ = true;
      prefix_step_ = now_step;
    }
    if (now_step - last->first > kHorizonSteps) return prefix_;
    return prefix_ + term(last->second, now_step - last->first);
  }

 private:
  static double term(std::int64_t ms, std::int64_t steps_ago) {
    return static_cast<double>(ms) * std::exp2(-static_cast<double>(steps_ago) / kStepsPerHalfLife);
  }
  std::map<std::int64_t, std::int64_t> by_step_;
  double prefix_ = 0.0;
  bool prefix_valid_ = false;
  std::int64_t prefix_step_ = 0;
};

// One user's running jobs: GPUs times run time is gpus x now - sum(gpus x start).
struct RunningUsage {
  std::int64_t gpus = 0;
  std::int64_t gpu_start_ms = 0;
  void add(std::int64_t job_gpus, double start_s, int sign) {
    gpus += sign * job_gpus;
    gpu_start_ms += sign * job_gpus * millis(start_s);
  }
  std::int64_t at(double now_s) const { return gpus * millis(now_s) - gpu_start_ms; }
};

// One user's usage: what their finished and running jobs used, fixed at one time by
// settle() and read by key().
struct UserUsage {
  FinishedUsage finished;
  RunningUsage running;
  double decayed_ms = 0.0;
  std::int64_t running_ms = 0;
  void add_finished(const FinishedJob& done, const SchedulerConfig& config) {
    finished.add(step_of(done.end_time_s, config), millis(done.gpu_seconds));
  }
  void change_running(const RunningJob& job, int sign) {
    running.add(static_cast<std::int64_t>(job.gpus.size()), job.start_time_s, sign);
  }
  void settle(double now_s, const SchedulerConfig& config) {
    decayed_ms = finished.decayed(step_of(now_s, config));
    running_ms = running.at(now_s);
  }
  // The key of a queued job whose user's earlier queued jobs expect before_ms.
  double key(std::int64_t before_ms) const {
    return decayed_ms + static_cast<double>(running_ms + before_ms);
  }
};

}  // namespace fastgpu::sched::fair
