// Queue policies: each orders the queue by one key, smaller first; ties go to the earlier
// submit time, then the smaller id. One small class per policy (src/sched/policies/),
// registered by name in policy_registry.cc.
//
// Adding a policy: write src/sched/policies/<name>.cc with a class deriving from Policy and
// a make_<name>_policy() factory, declare the factory in src/sched/policies/policies.h and
// add one line to the table in src/sched/policy_registry.cc.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fastgpu/sched/config.h"
#include "fastgpu/sched/history.h"
#include "fastgpu/sched/snapshot.h"

namespace fastgpu::sched {

// What a policy may read. References stay valid for one schedule() call.
struct PolicyContext {
  const Snapshot& snapshot;
  const SchedulerConfig& config;
  const EstimateCache& estimates;
};

class Policy {
 public:
  virtual ~Policy() = default;
  virtual std::string_view name() const = 0;

  // Writes one key per job into keys (same length as jobs); smaller keys run first.
  virtual void rank(std::span<const Job* const> jobs, const PolicyContext& context,
                    std::span<double> keys) const = 0;

  // True when a queued job's key depends only on the job, the config and the history of
  // its signature: not on the time, nor on other jobs. A Scheduler kept between calls
  // then ranks each job once, when it arrives, instead of the whole queue on every call.
  virtual bool stable_keys() const { return true; }

  // True for fair alone: a key is the user's usage plus the expected GPU time of that
  // user's earlier queued jobs (src/sched/policies/fair_usage.h), so a user's jobs keep
  // their submit order and only the users' offsets move. A kept Scheduler then keeps the
  // keys itself (FairKeys) and orders only each request class's first job on every call.
  virtual bool keys_from_user_usage() const { return false; }

  // A preemptive policy may evict a running restartable job whose running_key is larger
  // than a blocked queued job's key. The scale is the one rank() uses.
  virtual bool preemptive() const { return false; }
  virtual double running_key(const RunningJob& running, const PolicyContext& context) const;

  // True when rank() reads the learned run times (EstimateCache::run_seconds). Otherwise
  // a signature's history matters only to jobs whose GPU memory is "auto", so a caller
  // may leave the history of every other signature out of the snapshot.
  virtual bool reads_run_estimates() const { return false; }
  // True when this job's key reads its signature's learned run time, now or once there is
  // one (sjf, unless the job's true duration orders it in oracle mode): a kept Scheduler
  // ranks the queue again when that estimate moves only while such a job waits.
  virtual bool reads_run_estimate(const Job& job, const SchedulerConfig& config) const {
    (void)job;
    (void)config;
    return reads_run_estimates();
  }
  // True when this job's key is exactly its signature's learned run time whenever there is
  // one (sjf): the waiting jobs of one signature then share a key, and a kept Scheduler
  // keeps it once for all of them (a median that moves re-keys that signature's classes).
  // REQUIRES: reads_run_estimate() is true of the same jobs.
  virtual bool key_is_run_estimate(const Job& job, const SchedulerConfig& config) const {
    (void)job;
    (void)config;
    return false;
  }
};

// The policy registered under `name`, or nullptr when there is none.
std::unique_ptr<Policy> make_policy(std::string_view name);
// Every registered name, in registration order.
std::vector<std::string> policy_names();

}  // namespace fastgpu::sched
