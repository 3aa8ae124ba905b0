// One turn of the loop: read the GPUs, record ended runs, end jobs whose dependencies
// failed, sample, schedule, apply.
#include <fmt/chrono.h>
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "engine/convert.h"
#include "engine/engine_impl.h"
#include "fastgpu/sched/scheduler.h"

namespace fastgpu::engine {

using nlohmann::json;
using store::JobRecord;
using store::JobState;

namespace {

// Why an after-ok dependant of `dependency`, which ended `state` (not COMPLETED), is
// cancelled: what became of it in words, then its state. A cancelled or timed-out parent
// read "dependency 13 failed: it ended CANCELLED", as if it had failed.
// `its_reason`: the dependency's own end reason. When it was itself cancelled for a
// dependency, the chain's first failure is added, so that the end of a chain says what
// began it: "dependency 2 was cancelled: it ended CANCELLED (because job 1 failed: it ended
// FAILED)", where it named only the nearest link, and finding the cause took a `show` per
// link.
std::string dependency_end_reason(JobId dependency, JobState state, const std::string& its_reason) {
  const char* what = state == JobState::kCancelled ? "was cancelled"
                     : state == JobState::kTimeout ? "timed out"
                                                   : "failed";
  std::string reason = "dependency " + to_string(dependency) + " " + what + ": it ended " +
                       std::string(store::job_state_name(state));
  constexpr std::string_view kBecause = " (because ";
  constexpr std::string_view kLink = "dependency ";
  if (const std::size_t root = its_reason.find(kBecause); root != std::string::npos) {
    reason += its_reason.substr(root);  // the chain's first failure, carried down
  } else if (state == JobState::kCancelled && its_reason.starts_with(kLink)) {
    reason += std::string(kBecause) + "job " + its_reason.substr(kLink.size()) + ")";
  }
  return reason;
}

}  // namespace

Result<TickReport> EngineImpl::tick() {
  TickReport report;
  report.notes = std::move(recovery_notes_);
  recovery_notes_.clear();
  now_ = options_.clock->now();
  read_probe(report);
  collect_launches(report);  // before the ends: a job's end comes after its start
  collect_finished(report);
  FASTGPU_RETURN_IF_ERROR(queued_.refresh(*options_.store, to_seconds(now_)));
  FASTGPU_RETURN_IF_ERROR(running_.refresh(*options_.store, to_seconds(now_)));
  FASTGPU_RETURN_IF_ERROR(end_unrunnable_dependents(report));
  queued_.park_waiting(
      [this](JobId job) { return unended_state(job, queued_, running_) != nullptr; });
  sample_if_due(report);
  purge_ended_if_due(report);
  Result<KeptSchedule::Decided> decided =
      schedule_.decide({options_, reading_, meter_, now_, queued_, running_, history_, &moving_});
  if (!decided.ok()) {
    warn(report, "schedule.error", std::nullopt,
         "the scheduler refused this tick's snapshot: " + decided.status().to_string());
    return report;
  }
  note_withheld(decided->withheld, report);
  report.schedule_rebuilt = std::move(decided->rebuilt);
  if (!decided->diverged.empty())
    warn(report, "schedule.diverged", std::nullopt, decided->diverged);
  apply(decided->decisions, report);
  return report;
}

// A failed read keeps the last reading: jobs keep their places and nothing new is placed
// on stale figures beyond what the ledger already allows.
void EngineImpl::read_probe(TickReport& report) {
  Result<GpuReading> reading = options_.probe->read();
  if (reading.ok()) {
    reading_ = std::move(reading).value();
    reading_at_ = now_;
    return;
  }
  warn(report, "gpu.read_error", std::nullopt,
       "could not read the GPUs (" + options_.probe->describe() +
           "), keeping the last reading: " + reading.status().to_string());
}

// The tick's ends share one commit (StateStore::record_ends).
void EngineImpl::collect_finished(TickReport& report) {
  std::vector<exec::Finished> ended = std::move(unrecorded_);
  unrecorded_.clear();
  for (exec::Finished& finished : options_.launcher->poll()) ended.push_back(std::move(finished));
  std::vector<EndingRun> ending;
  std::vector<std::pair<JobId, store::JobEnd>> records;
  for (exec::Finished& finished : ended) {
    std::optional<EndingRun> run = end_of(finished, report);
    if (!run) continue;  // unknown to the store: warned of, or kept for the next tick
    records.emplace_back(run->finished.job, run->record);
    ending.push_back(std::move(*run));
  }
  if (records.empty()) return;
  const std::vector<Status> statuses = options_.store->record_ends(records);
  for (std::size_t i = 0; i < ending.size(); ++i) {
    if (!ended_recorded(ending[i], statuses[i], report)) {
      unrecorded_.push_back(std::move(ending[i].finished));
    }
  }
}

namespace {

bool transient(const Status& status) {
  return status.code() == ErrorCode::kUnavailable || status.code() == ErrorCode::kIoError;
}

}  // namespace

std::optional<EngineImpl::EndingRun> EngineImpl::end_of(exec::Finished& finished,
                                                        TickReport& report) {
  // The mirror first: the store's copy costs a read and a parse of the job's spec.
  const JobRecord* mirrored = running_.find(finished.job);
  Result<JobRecord> job =
      mirrored != nullptr ? Result<JobRecord>(*mirrored) : options_.store->get_job(finished.job);
  if (!job.ok()) {
    if (transient(job.status())) {
      unrecorded_.push_back(std::move(finished));
      return std::nullopt;
    }
    warn(report, "job.end_unknown", std::nullopt,
         "the launcher reported job " + to_string(finished.job) +
             " ended, but the store cannot find it: " + job.status().to_string());
    return std::nullopt;
  }
  const auto asked = stops_.find(finished.job);
  const bool was_asked = asked != stops_.end();
  RunEnd end = run_end_of(finished.outcome, was_asked ? asked->second.intent : StopIntent::kNone,
                          job->spec.time_limit_s, was_asked ? asked->second.by_name : std::nullopt);
  name_the_limit(end, job->spec.limits, finished.usage);
  store::JobEnd record{end.state,
                       finished.ended == store::WallTime{} ? now_ : finished.ended,
                       end.exit_code,
                       end.signal,
                       {},
                       end.reason,
                       std::nullopt};
  const store::WallTime started = finished.started != store::WallTime{}
                                      ? finished.started
                                      : job->start_time.value_or(record.at);
  const double ran = to_seconds(record.at) - to_seconds(started);
  record.accounting = meter_.finish(finished.job, job->placed_gpus.size(), ran,
                                    to_seconds(record.at), reading_, to_seconds(reading_at_));
  // A launch that failed (its folder, its program) ran nothing: it used nothing, and it
  // reads as a job that never started (it was listed as a run of 0.0003 s, `logs` exit 0).
  if (std::holds_alternative<exec::LaunchFailed>(finished.outcome)) {
    record.never_ran = true;
    record.accounting = {};
  }
  record.event = store::Event{
      0, options_.clock->now(), "job.end", finished.job,
      json{{"state", store::job_state_name(end.state)}, {"reason", end.reason}}.dump()};
  return EndingRun{std::move(finished), std::move(job).value(), std::move(record)};
}

bool EngineImpl::ended_recorded(EndingRun& run, const Status& recorded, TickReport& report) {
  const JobId id = run.finished.job;
  (void)after_end(id, run.job.spec.signature, run.record, recorded);
  if (!recorded.ok()) {
    if (transient(recorded)) return false;
    warn(report, "job.end_error", id,
         "could not record the end of job " + to_string(id) + ": " + recorded.to_string());
    return true;
  }
  stops_.erase(id);
  std::string requeue_why;
  if (auto why = requeue_whys_.extract(id)) requeue_why = std::move(why.mapped());
  memory_warned_.erase(id);
  report.ended.push_back(id);
  std::optional<MovingJob> move;
  if (auto moving = moving_.extract(id)) move = std::move(moving.mapped());
  if (run.record.state == JobState::kPreempted) {
    run.job.state = JobState::kPreempted;
    requeue_preempted(run.job, run.record.at, report, std::move(move), requeue_why);
  }
  return true;
}

// A preempted restartable job goes back to the queue; its earlier run time stays in its
// transitions, where las and srtf read it as attained service.
void EngineImpl::requeue_preempted(const JobRecord& job, store::WallTime stopped,
                                   TickReport& report, std::optional<MovingJob> move,
                                   const std::string& why) {
  const store::WallTime now = options_.clock->now();
  Status moved = job.spec.restartable
                     ? options_.store->transition(
                           job.id, JobState::kPreempted, JobState::kQueued, now,
                           why.empty() ? "requeued after preemption" : "requeued: " + why)
                     : options_.store->transition(job.id, JobState::kPreempted, JobState::kFailed,
                                                  now, "preempted, and not restartable");
  if (moved.ok() && job.spec.restartable) {
    queued_.add(*options_.store, job.id);
    // A moved job starts again where it was moved to, which the scheduler holds for it.
    if (move && restart_moved(job.id, *move, report)) return;
    schedule_.requeued(job.id, stopped);
  } else if (moved.ok()) {
    schedule_.ended(job.id, JobState::kFailed, now);
  } else {
    schedule_.invalidate();  // the store holds it PREEMPTED; the scheduler, running
    warn(report, "job.requeue_error", job.id,
         "could not requeue preempted job " + to_string(job.id) + ": " + moved.to_string());
  }
}

bool EngineImpl::restart_moved(JobId job, const MovingJob& move, TickReport& report) {
  sched::Start start{job, {move.to.begin(), move.to.end()}, move.bytes_per_gpu.value_or(0)};
  const sched::Start* starts[] = {&start};
  const std::vector<Claimed> claimed = claim(starts, report);
  if (claimed.empty()) return false;
  launch_claimed(claimed, report);
  queued_.remove(job);
  return true;
}

// A queued job with an after-ok dependency that ended any other way than COMPLETED can
// never start; end it so that waiting for everything terminates. Repeats so that a chain
// of such jobs ends in one tick.
// Looks at each job that queued jobs wait to succeed, not at each waiting job: only one
// neither queued nor running, nor known to have completed, is read from the store. Until
// 2026-12-05 every waiting job's dependency was read at every tick: 10,000 jobs waiting on
// one running job cost the daemon 80 ms of CPU a tick on the development VM.
Status EngineImpl::end_unrunnable_dependents(TickReport& report) {
  if (queued_.awaited().empty()) {
    completed_dependencies_.clear();
    return {};
  }
  for (bool changed = true; changed;) {
    changed = false;
    // The awaited jobs that ended otherwise than COMPLETED, with their state.
    struct Failed {
      JobId job;
      JobState state;
      std::string reason;  // its own end reason
    };
    std::vector<Failed> failed;
    for (const auto& [awaited, dependents] : queued_.awaited()) {
      if (unended_state(awaited, queued_, running_) != nullptr) continue;
      if (completed_dependencies_.contains(awaited)) continue;
      Result<JobRecord> target = options_.store->get_job(awaited);
      if (!target.ok()) return target.status();
      if (target->state == JobState::kCompleted) completed_dependencies_.insert(awaited);
      if (!store::is_terminal(target->state) || target->state == JobState::kCompleted) continue;
      failed.push_back({awaited, target->state, target->end_reason});
    }
    for (const auto& [awaited, state, its_reason] : failed) {
      // A copy: ending a job takes it out of the index (and one waiting on two failed jobs
      // is ended once, for the first).
      const auto found = queued_.awaited().find(awaited);
      if (found == queued_.awaited().end()) continue;
      const std::vector<JobId> dependents(found->second.begin(), found->second.end());
      const std::string reason = dependency_end_reason(awaited, state, its_reason);
      for (JobId id : dependents) {
        FASTGPU_RETURN_IF_ERROR(
            options_.store->transition(id, JobState::kQueued, JobState::kCancelled, now_, reason));
        report.ended.push_back(id);
        (void)event("job.dependency_failed", id, json{{"reason", reason}}.dump());
        queued_.remove(id);
        schedule_.cancelled(id, now_);
        changed = true;  // a job it ended may be another's dependency
      }
    }
  }
  return {};
}

void EngineImpl::prune_samples_if_due(TickReport& report) {
  constexpr double kPruneEverySeconds = 3600.0;
  constexpr std::size_t kPruneRows = 10'000;  // a short transaction: the tick goes on
  if (options_.sample_retention_s <= 0.0) return;
  if (last_prune_ && to_seconds(now_) - to_seconds(*last_prune_) < kPruneEverySeconds) return;
  const store::WallTime before =
      now_ - std::chrono::duration_cast<store::WallTime::duration>(
                 std::chrono::duration<double>(options_.sample_retention_s));
  const Result<std::uint64_t> pruned = options_.store->prune_samples(before, kPruneRows);
  if (!pruned.ok()) {
    warn(report, "samples.error", std::nullopt,
         "could not delete GPU samples past their retention: " + pruned.status().to_string());
  }
  // A full delete leaves more behind: the next sample goes on with them.
  if (pruned.ok() && *pruned >= kPruneRows) {
    last_prune_.reset();
  } else {
    last_prune_ = now_;
  }
}

void EngineImpl::purge_ended_if_due(TickReport& report) {
  constexpr double kPurgeEverySeconds = 3600.0;
  // As `fastgpu purge` deletes them: the tick waits for one such transaction at most.
  constexpr std::size_t kPurgeJobs = 5000;
  if (options_.job_retention_s <= 0.0) return;
  if (last_job_purge_ && to_seconds(now_) - to_seconds(*last_job_purge_) < kPurgeEverySeconds) {
    return;
  }
  store::JobFilter filter;  // every user's
  filter.ended_before = now_ - std::chrono::duration_cast<store::WallTime::duration>(
                                   std::chrono::duration<double>(options_.job_retention_s));
  const Result<store::Purged> purged =
      store::purge_ended_with_logs(*options_.store, filter, kPurgeJobs);
  if (!purged.ok()) {
    warn(report, "jobs.purge_error", std::nullopt,
         "could not forget the jobs past their retention: " + purged.status().to_string());
    last_job_purge_ = now_;  // tried again in an hour, not at every tick
    return;
  }
  if (!purged->jobs.empty()) {
    this->purged(*filter.ended_before);
    const std::string before = fmt::format(
        "{:%Y-%m-%d %H:%M:%S} UTC", std::chrono::floor<std::chrono::seconds>(*filter.ended_before));
    json body = {{"purged", purged->jobs.size()},
                 {"ended_before_us", filter.ended_before->time_since_epoch().count()},
                 {"kept_waited_on", purged->kept_waited_on}};
    if (auto failed = event("jobs.purged", std::nullopt, body.dump())) {
      report.warnings.push_back(*failed);
    }
    report.notes.push_back(fmt::format(
        "forgot {} jobs that ended before {} (--job-retention){}", purged->jobs.size(), before,
        purged->kept_waited_on > 0
            ? fmt::format("; kept {} that unended jobs wait on", purged->kept_waited_on)
            : std::string()));
  }
  if (purged->logs_not_removed > 0) {
    warn(report, "jobs.purge_error", std::nullopt,
         fmt::format("could not delete {} log files of purged jobs, {}", purged->logs_not_removed,
                     purged->log_error));
  }
  // A full part leaves more behind: the next tick goes on with them.
  if (purged->jobs.size() >= kPurgeJobs) {
    last_job_purge_.reset();
  } else {
    last_job_purge_ = now_;
  }
}

void EngineImpl::sample_if_due(TickReport& report) {
  if (last_sample_ && to_seconds(now_) - to_seconds(*last_sample_) < options_.sample_interval_s) {
    return;
  }
  last_sample_ = now_;
  meter_.sample(reading_, to_seconds(reading_at_),
                bind_supervisors(running_, options_.attribute_pid));
  std::vector<store::Sample> samples;
  for (const GpuDevice& device : reading_.devices) {
    store::Sample sample{now_,         device.index,       device.memory_used_bytes,
                         std::nullopt, device.power_watts, device.energy_millijoules};
    if (device.gpu_utilization_percent) sample.util_percent = *device.gpu_utilization_percent;
    samples.push_back(sample);
  }
  const Status stored = options_.store->append_samples(samples);
  if (!stored.ok()) {
    warn(report, "samples.error", std::nullopt,
         "could not record GPU samples: " + stored.to_string());
  }
  prune_samples_if_due(report);
  // Kept in the store, so that a daemon restarted before the job ends goes on from them.
  const std::vector<std::pair<JobId, Bytes>> peaks = meter_.take_raised_peaks();
  const Status kept = options_.store->record_run_peaks(peaks);
  if (!kept.ok()) {
    // Tried again at the next sample, not only when a peak rises again: a job that ends
    // while no daemon runs would otherwise read "peak GPU mem: n/a".
    meter_.keep_raised(peaks);
    warn(report, "samples.error", std::nullopt,
         "could not record the running jobs' peak GPU memory: " + kept.to_string() +
             "; trying again at the next sample");
  }
}

void EngineImpl::note_withheld(const std::vector<Withheld>& withheld, TickReport& report) {
  for (const Withheld& job : withheld) {
    if (!withheld_noted_.insert(job.job).second) continue;
    warn(report, "job.unfit", job.job,
         "job " + to_string(job.job) + " waits: it does not fit the GPUs seen now: " + job.why);
  }
}

}  // namespace fastgpu::engine
