// The Engine's implementation, split over engine.cc (open, recovery, submit, cancel),
// tick.cc (the loop) and apply.cc (decisions). Private to src/engine.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/accounting.h"
#include "engine/kept_schedule.h"
#include "engine/outcome.h"
#include "engine/queued_jobs.h"
#include "engine/running_jobs.h"
#include "engine/snapshot_builder.h"
#include "fastgpu/engine/engine.h"
#include "fastgpu/sched/decision.h"

namespace fastgpu::engine {

class EngineImpl final : public Engine {
 public:
  EngineImpl(EngineOptions options, GpuReading reading)
      : options_(std::move(options)),
        reading_(std::move(reading)),
        reading_at_(options_.clock->now()),
        schedule_(options_.rebuild_scheduler_after_ends) {}

  // Re-adopts RUNNING jobs and requeues PREEMPTED ones a previous engine left behind.
  Status recover();

  using Engine::submit;
  Result<std::vector<JobId>> submit(std::span<const store::JobSpec> jobs,
                                    std::vector<Status> refused_by_caller) override;
  using Engine::cancel;
  Status cancel(JobId job, std::uint32_t uid, std::string_view by) override;
  Status change_job(JobId job, std::uint32_t uid, store::QueuedJobChange change) override;
  Result<TickReport> tick() override;
  std::optional<WaitingReason> why_waiting(JobId job, bool with_detail) const override;
  std::optional<Stopping> stopping(const store::JobRecord& job) const override;
  Status set_scheduler_config(const sched::SchedulerConfig& config) override;
  const GpuReading& last_reading() const override { return reading_; }
  std::vector<GpuLedger> gpu_ledger() const override;
  std::size_t held_jobs() const override { return queued_.held(); }
  std::optional<RunningUsage> running_usage(JobId job) const override { return meter_.so_far(job); }
  void purged(store::WallTime ended_before) override;

 private:
  // A running job the engine asked to stop: what for, and since when.
  struct StopRequest {
    StopIntent intent = StopIntent::kNone;
    std::string cause;                    // Stopping::cause
    std::string detail;                   // Stopping::detail
    store::WallTime at{};                 // when the launcher was asked: SIGTERM went out then
    std::optional<std::uint32_t> by_uid;  // who cancelled it
    // Set when this request replaced an earlier one, whose SIGTERM stands (note_stop).
    std::optional<Stopping::Earlier> sigterm_for;
    std::optional<store::WallTime> asked;
    // What its end reason calls who cancelled it: "ana", "uid 1000"; set with by_uid.
    std::optional<std::string> by_name = std::nullopt;
  };

  // engine.cc
  // index: the job's place in its batch of batch_size jobs (named in a refusal). Adds each
  // refusal of the job to `refusals`; an error that is no refusal (the store failed) is
  // returned.
  Status check_job(const store::JobSpec& spec, std::size_t index, std::size_t batch_size,
                   std::vector<Status>& refusals) const;
  // With the batch refused here, adds what the store would refuse of it too (a dependency
  // on a job that does not exist), so that every refusal is told at once.
  void add_store_refusals(std::span<const store::JobSpec> batch,
                          std::vector<Status>& refusals) const;
  // Adds a refusal for each limit of the GPUs here the job passes.
  void check_against_cluster(const store::JobSpec& spec, std::size_t index, std::size_t batch_size,
                             std::vector<Status>& refusals) const;
  Status check_array(const store::JobSpec& spec, std::size_t index, std::size_t batch_size) const;
  Status adopt(const store::JobRecord& job);
  Status cancel_running(const store::JobRecord& job, std::uint32_t uid, std::string_view by);
  Status change_queued(const store::JobRecord& job, std::uint32_t uid,
                       store::QueuedJobChange change);
  // A running job's new time limit, `change` holding nothing else (change_job's rules).
  Status change_running_limit(const store::JobRecord& job, std::uint32_t uid,
                              const store::QueuedJobChange& change);
  // Tells the job's supervisor its time limit where it has another: after a change made
  // while the job was starting, and to each adopted run (the engine before may have died
  // between recording a change and telling the supervisor). What went wrong, in words; nullopt
  // when it was told, or when the run has ended or never took changes (an earlier version's
  // supervisor, whose limit no change reached).
  std::optional<std::string> tell_limit(JobId job, std::optional<std::int64_t> time_limit_s);
  // What the engine before this one asked of the runs it left (its job.cancel, job.preempt
  // and job.kill events), so that they end as they would have under it ("cancelled by
  // ana", not "cancelled") and show as stopping meanwhile.
  Status recover_stops();
  // Records a request to stop a running job; a later one (a cancel after a preemption)
  // replaces what it asks, not when SIGTERM went out.
  void note_stop(JobId job, StopRequest request);
  // Every end the engine records goes through here, or (a tick's ends, written together)
  // through after_end(). An end adds a history entry for the
  // job's signature, so the tick's cached history of it is forgotten (all of it when the
  // signature is not at hand).
  Status record_end(JobId job, std::optional<std::string_view> signature, const store::JobEnd& end);
  // record_end()'s bookkeeping once the store answered `recorded`; returns it.
  Status after_end(JobId job, std::optional<std::string_view> signature, const store::JobEnd& end,
                   const Status& recorded);
  // Appends an event; a failure to record it is returned as a warning text, not an error.
  // `at`: when it happened; the clock's now when not given.
  std::optional<std::string> event(const std::string& kind, std::optional<JobId> job,
                                   const std::string& message_json,
                                   std::optional<store::WallTime> at = std::nullopt);
  void warn(TickReport& report, const std::string& kind, std::optional<JobId> job,
            const std::string& message);

  // tick.cc
  void read_probe(TickReport& report);
  void collect_finished(TickReport& report);
  // An ended run and the end the store is to record for it.
  struct EndingRun {
    exec::Finished finished;
    store::JobRecord job;
    store::JobEnd record;
  };
  // The end to record for `finished`; nullopt when there is none to record now (the job
  // unknown to the store, warned of; or the store unreadable, and `finished` kept in
  // unrecorded_ for the next tick).
  std::optional<EndingRun> end_of(exec::Finished& finished, TickReport& report);
  // What follows the store's answer for `run`; false when the store could not take it
  // (transient): retried next tick.
  bool ended_recorded(EndingRun& run, const Status& recorded, TickReport& report);
  // `stopped`: when its run ended.
  // `why`: what the engine stopped it for (requeue_whys_), empty when not known (stopped by
  // an earlier daemon); the requeue's transition names it, and `show` prints that.
  void requeue_preempted(const store::JobRecord& job, store::WallTime stopped, TickReport& report,
                         std::optional<MovingJob> move = std::nullopt, const std::string& why = {});
  // Starts a moved job on the GPUs it was moved to; false when it could not be claimed.
  bool restart_moved(JobId job, const MovingJob& move, TickReport& report);
  Status end_unrunnable_dependents(TickReport& report);
  void sample_if_due(TickReport& report);
  // Deletes GPU samples past options_.sample_retention_s, at most once an hour (sooner while
  // a backlog remains).
  void prune_samples_if_due(TickReport& report);
  // Forgets the jobs that ended past options_.job_retention_s, at the first tick and then
  // hourly (at every tick while a backlog remains), a part of them a tick.
  void purge_ended_if_due(TickReport& report);
  void note_withheld(const std::vector<Withheld>& withheld, TickReport& report);

  // waiting.cc
  // Why an engine-limited job is held: its array's %N, or the CPU slots.
  WaitingReason engine_limit(const store::JobRecord& job) const;

  // apply.cc
  void apply(const std::vector<sched::Decision>& decisions, TickReport& report);
  // A job claimed in the store (RUNNING), with its launch request, not yet launched.
  struct Claimed {
    const store::JobRecord* job;  // in queued_, which apply() changes only at its end
    exec::LaunchRequest request;
    std::optional<Bytes> bytes_per_gpu;
  };
  // The jobs whose claims were committed, in order; the others are warned of.
  std::vector<Claimed> claim(std::span<const sched::Start* const> decisions, TickReport& report);
  void launch_claimed(const std::vector<Claimed>& claimed, TickReport& report);
  // Between SIGTERM and SIGKILL: the job's own grace, else the daemon's.
  double kill_grace_of(const store::JobRecord& job) const {
    return job.spec.kill_grace_s ? static_cast<double>(*job.spec.kill_grace_s)
                                 : options_.kill_grace_s;
  }
  exec::LaunchRequest launch_request(const store::JobRecord& job,
                                     const sched::Start& decision) const;
  void fail_launch(JobId job, const std::string& message, TickReport& report);
  // What a begun launch needs once it settles.
  struct Launching {
    std::vector<std::uint32_t> gpus;
    std::optional<Bytes> bytes_per_gpu;
    double util_share = 1.0;
    // The time limit it was given since the launch began (change_running_limit): its
    // supervisor is told once the launch settles.
    std::optional<std::optional<std::int64_t>> changed_limit_s = std::nullopt;
  };
  void collect_launches(TickReport& report);
  void settle_launches(const std::vector<exec::LaunchResult>& results, TickReport& report);
  // `cause`: Stopping::cause. `requeue_why`: for a stop to requeue the job (kPreempt), why,
  // as its requeue names it.
  void stop(JobId job, StopIntent intent, const std::string& cause, const std::string& why,
            TickReport& report, const std::string& requeue_why = {});
  void memory_action(const sched::MemoryAction& action, TickReport& report);

  EngineOptions options_;
  GpuReading reading_;
  store::WallTime reading_at_;  // when reading_ was read (a failed read keeps the last one)
  store::WallTime now_{};
  // What recover() found for the daemon's log, said by the first tick (recover() has no
  // report): a re-adopted job on GPUs this machine no longer lists.
  std::vector<std::string> recovery_notes_;
  UsageMeter meter_;
  QueuedJobs queued_;                          // the store's QUEUED jobs
  RunningJobs running_;                        // the store's RUNNING jobs
  HistoryCache history_;                       // per signature, forgotten when a job ends
  KeptSchedule schedule_;                      // told every change of queued_ and running_
  std::map<JobId, Launching> launching_;       // claimed and launched, not yet settled
  std::map<JobId, StopRequest> stops_;         // running jobs the engine asked to stop
  std::map<JobId, std::string> requeue_whys_;  // why running jobs are stopped to be requeued
  MovingJobs moving_;                          // stopped to start again on other GPUs
  std::set<JobId> memory_warned_;              // running jobs already warned about (once per run)
  std::set<JobId> withheld_noted_;             // queued jobs already reported as not fitting
  std::vector<exec::Finished> unrecorded_;     // ends the store could not take yet
  // Dependencies of queued after-ok jobs known to have COMPLETED (a final state), so that
  // end_unrunnable_dependents() reads each from the store once, not at every tick; emptied
  // when no queued job waits to succeed.
  std::set<JobId> completed_dependencies_;
  std::optional<store::WallTime> last_sample_;
  // When samples past the retention were last deleted; a delete that hit its row limit
  // leaves it unset, so that the next sample deletes more.
  std::optional<store::WallTime> last_prune_;
  // The same for ended jobs past their retention.
  std::optional<store::WallTime> last_job_purge_;
};

}  // namespace fastgpu::engine
