// Test doubles for the API tests: a fixed clock and an engine that stores what is
// submitted and cancels queued jobs, as the real engine does, without a scheduler or
// processes.
#pragma once

#include <algorithm>
#include <map>
#include <mutex>

#include "core/batch_error.h"
#include "fastgpu/engine/engine.h"
#include "fastgpu/store/state_store.h"

namespace fastgpu::api::testing {

class FixedClock final : public engine::Clock {
 public:
  store::WallTime now() override {
    return store::WallTime(std::chrono::microseconds(1'700'000'000'000'000));
  }
};

class FakeEngine final : public engine::Engine {
 public:
  explicit FakeEngine(store::StateStore& store) : store_(store) {
    reading_.source = "simulated";
    reading_.devices.resize(2);
  }
  using engine::Engine::submit;
  // Refuses a job asking more than 2 GPUs, as the engine does, told with the caller's
  // refusals in batch order.
  Result<std::vector<JobId>> submit(std::span<const store::JobSpec> jobs,
                                    std::vector<Status> refused_by_caller) override {
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      if (jobs[i].gpus <= 2) continue;
      const std::string problem = "asks for more GPUs than the 2 there are";
      refused_by_caller.push_back(invalid_argument("job " + std::to_string(i) + " " + problem)
                                      .with_batch_job(i, problem, "gpus"));
    }
    if (!refused_by_caller.empty()) {
      std::stable_sort(refused_by_caller.begin(), refused_by_caller.end(),
                       [](const Status& a, const Status& b) {
                         return a.batch_job()->index < b.batch_job()->index;
                       });
      return refused_jobs(refused_by_caller);
    }
    last_batch.assign(jobs.begin(), jobs.end());
    return store_.submit(jobs);
  }
  using Engine::cancel;
  Status cancel(JobId job, std::uint32_t /*uid*/, std::string_view by) override {
    last_cancel_by = by;
    return store_.transition(job, store::JobState::kQueued, store::JobState::kCancelled,
                             FixedClock().now(), "cancelled");
  }
  // Ownership and root's hold are the API's to check first; the store refuses the rest.
  Status change_job(JobId job, std::uint32_t /*uid*/, store::QueuedJobChange change) override {
    return store_.change_queued(job, change);
  }
  Result<engine::TickReport> tick() override { return engine::TickReport{}; }
  const GpuReading& last_reading() const override { return reading_; }
  std::size_t held_jobs() const override { return 0; }
  std::vector<engine::GpuLedger> gpu_ledger() const override { return ledger; }
  std::optional<engine::RunningUsage> running_usage(JobId job) const override {
    const auto found = usage.find(job);
    return found == usage.end() ? std::nullopt : std::optional(found->second);
  }
  Status set_scheduler_config(const sched::SchedulerConfig& config) override {
    scheduler = config;
    return {};
  }
  std::optional<engine::WaitingReason> why_waiting(JobId job, bool /*with_detail*/) const override {
    auto found = waiting.find(job);
    if (found == waiting.end()) return std::nullopt;
    return found->second;
  }
  void purged(store::WallTime ended_before) override { purges.push_back(ended_before); }
  std::optional<engine::Stopping> stopping(const store::JobRecord& job) const override {
    auto found = stopping_jobs.find(job.id);
    if (found == stopping_jobs.end()) return std::nullopt;
    return found->second;
  }

  std::vector<store::JobSpec> last_batch;           // the latest batch handed to submit()
  std::string last_cancel_by;                       // who the latest cancel() was told asked
  std::map<JobId, engine::RunningUsage> usage;      // what running_usage() answers
  std::map<JobId, engine::WaitingReason> waiting;   // what why_waiting() answers
  std::map<JobId, engine::Stopping> stopping_jobs;  // what stopping() answers
  std::optional<sched::SchedulerConfig> scheduler;  // the last set_scheduler_config()
  std::vector<store::WallTime> purges;              // each purged() moment
  std::vector<engine::GpuLedger> ledger;            // what gpu_ledger() answers

 private:
  store::StateStore& store_;
  GpuReading reading_;
};

}  // namespace fastgpu::api::testing
