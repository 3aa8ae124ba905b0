#include "engine/kept_schedule.h"

#include <algorithm>
#include <utility>

#include "engine/convert.h"

namespace fastgpu::engine {

using store::JobRecord;

void KeptSchedule::submitted(std::span<const JobId> jobs) {
  for (JobId job : jobs) {
    changes_.push_back({Change::Kind::kSubmitted, job});
    if (!first_unseen_ || job < *first_unseen_) first_unseen_ = job;
  }
}

void KeptSchedule::cancelled(JobId job, store::WallTime at) {
  changes_.push_back({Change::Kind::kCancelled, job, sched::EndState::kCancelled, to_seconds(at)});
  recent_ends_.ended(job);
}

void KeptSchedule::ended(JobId job, store::JobState state, store::WallTime at) {
  changes_.push_back({Change::Kind::kEnded, job, end_state_of(state), to_seconds(at)});
  recent_ends_.ended(job);
}

void KeptSchedule::requeued(JobId job, store::WallTime stopped) {
  changes_.push_back(
      {Change::Kind::kRequeued, job, sched::EndState::kSucceeded, to_seconds(stopped)});
}

void KeptSchedule::user_held(JobId job, bool held) {
  changes_.push_back({held ? Change::Kind::kHeld : Change::Kind::kReleased, job});
}

void KeptSchedule::history_changed(std::optional<std::string_view> signature) {
  if (signature) {
    history_changed_.emplace(*signature);
  } else {
    every_history_changed_ = true;
  }
}

void KeptSchedule::invalidate() { kept_.reset(); }

void KeptSchedule::ended_jobs_purged() {
  recent_ends_.invalidate();
  kept_.reset();
}

bool KeptSchedule::unseen(JobId job) const {
  // Ids only grow, so every job submitted since is at or after the first one submitted.
  return first_unseen_ && job >= *first_unseen_;
}

Result<sched::WaitReason> KeptSchedule::why_waiting(JobId job, bool with_detail) const {
  if (kept_ == nullptr) return unavailable("the scheduler has not run yet");
  return kept_->why_waiting(job, with_detail);
}

void KeptSchedule::forget_changes() {
  changes_.clear();
  first_unseen_.reset();
  history_changed_.clear();
  every_history_changed_ = false;
}

Result<KeptSchedule::Decided> KeptSchedule::decide(const TickSources& given) {
  TickSources sources = given;
  if (sources.options.scheduler.policy == "fair") {
    const Status read = read_recent_ends(sources);
    if (!read.ok()) {
      kept_.reset();
      forget_changes();
      return read;
    }
    sources.recent_ends = &recent_ends_;
  }
  if (std::optional<std::string> why = untrusted(sources)) return rebuild(sources, *why);
  const Status fed = feed(sources);
  forget_changes();
  if (!fed.ok()) return rebuild(sources, fed.message());
  return run(sources, Decided{});
}

Result<KeptSchedule::Decided> KeptSchedule::decide_pure(const TickSources& sources) const {
  Result<TickInput> input = build_tick_input(sources);
  if (!input.ok()) return input.status().with_context("building the scheduler's snapshot");
  Result<sched::ScheduleResult> result =
      sched::schedule(input->snapshot, sources.options.scheduler);
  if (!result.ok()) return result.status();
  Decided decided;
  decided.decisions = std::move(result->decisions);
  decided.withheld = std::move(input->withheld);
  return decided;
}

// Under fair: the ended jobs it weighs, brought up to date. A mirror of the store read whole
// again means something drifted: they are read whole too.
Status KeptSchedule::read_recent_ends(const TickSources& sources) {
  if (sources.queued.reads() != ends_queued_reads_ ||
      sources.running.reads() != ends_running_reads_) {
    recent_ends_.invalidate();
    ends_queued_reads_ = sources.queued.reads();
    ends_running_reads_ = sources.running.reads();
  }
  const Status read =
      recent_ends_.refresh(*sources.options.store, fair_oldest_end_s(sources.options, sources.now));
  return read.ok() ? read : read.with_context("building the scheduler's snapshot");
}

std::optional<std::string> KeptSchedule::untrusted(const TickSources& sources) const {
  if (kept_ == nullptr) return "not built yet, or invalidated";
  if (sources.queued.reads() != queued_reads_) return "the queue was read again from the store";
  if (sources.running.reads() != running_reads_) {
    return "the running jobs were read again from the store";
  }
  if (ends_ >= ends_before_rebuild_) {
    return std::to_string(ends_) + " jobs ended since it was built; it forgets them";
  }
  return std::nullopt;
}

// The mirrors are what the store holds now: every change told before is in them.
Result<KeptSchedule::Decided> KeptSchedule::rebuild(const TickSources& sources, std::string why) {
  kept_.reset();
  forget_changes();
  Result<TickInput> input = build_tick_input(sources, QueueSelection::kAll);
  if (!input.ok()) return input.status().with_context("building the scheduler's snapshot");
  Result<std::unique_ptr<sched::Scheduler>> kept =
      sched::Scheduler::from_snapshot(input->snapshot, sources.options.scheduler);
  if (!kept.ok()) return kept.status();
  for (JobId job : input->on_hold) FASTGPU_RETURN_IF_ERROR((*kept)->hold(job, true));
  released_.clear();
  for (const sched::Job& job : input->snapshot.queue) {
    const JobRecord& record = sources.queued.jobs().at(job.id);
    if (engine_limited(sources.options, record)) released_.insert(job.id);
  }
  for (JobId job : input->on_hold) released_.erase(job);
  every_signature_ = policy_reads_run_estimates(sources.options.scheduler.policy);
  signatures_.clear();
  for (const auto& [signature, history] : input->snapshot.history) signatures_.insert(signature);
  gpus_ = std::move(input->snapshot.gpus);
  ends_ = 0;
  queued_reads_ = sources.queued.reads();
  running_reads_ = sources.running.reads();
  kept_ = std::move(kept).value();
  Decided decided;
  decided.withheld = std::move(input->withheld);
  decided.rebuilt = std::move(why);
  return run(sources, std::move(decided));
}

Status KeptSchedule::feed(const TickSources& sources) {
  std::set<JobId> gone;  // submitted, and out of the queue again before this tick
  for (const Change& change : changes_) {
    FASTGPU_RETURN_IF_ERROR(apply_change(sources, change, gone));
  }
  FASTGPU_RETURN_IF_ERROR(update_gpus(sources));
  if (kept_->running() != sources.running.jobs().size()) {
    return failed_precondition("it holds " + std::to_string(kept_->running()) +
                               " running jobs, the engine " +
                               std::to_string(sources.running.jobs().size()));
  }
  for (const auto& [id, job] : sources.running.jobs()) {
    // A moving job's measurement is of where it was (the snapshot leaves it out too).
    const std::optional<Bytes> used =
        sources.move_of(id) == nullptr ? sources.meter.peak_bytes(id) : std::nullopt;
    FASTGPU_RETURN_IF_ERROR(kept_->set_used_bytes(id, used));
  }
  FASTGPU_RETURN_IF_ERROR(refresh_history(sources));
  return update_holds(sources);
}

namespace {

// What makes a GPU another one for the scheduler (and for which jobs fit at all): the
// rest is a reading, which update_gpu() takes.
bool same_gpu(const sched::GpuState& a, const sched::GpuState& b) {
  return a.index == b.index && a.node == b.node && a.total_bytes == b.total_bytes;
}

}  // namespace

Status KeptSchedule::update_gpus(const TickSources& sources) {
  std::vector<sched::GpuState> gpus = tick_gpus(sources);
  if (!std::equal(gpus.begin(), gpus.end(), gpus_.begin(), gpus_.end(), same_gpu)) {
    return failed_precondition("the GPUs changed");
  }
  for (std::size_t i = 0; i < gpus.size(); ++i) {
    if (gpus[i] != gpus_[i]) FASTGPU_RETURN_IF_ERROR(kept_->update_gpu(gpus[i]));
  }
  gpus_ = std::move(gpus);
  return {};
}

Status KeptSchedule::apply_change(const TickSources& sources, const Change& change,
                                  std::set<JobId>& gone) {
  switch (change.kind) {
    case Change::Kind::kSubmitted: {
      auto found = sources.queued.jobs().find(change.job);
      if (found == sources.queued.jobs().end()) {  // cancelled since: a later change says so
        gone.insert(change.job);
        return {};
      }
      const sched::Job job = to_sched_job(change.job, found->second.spec, 0.0);
      FASTGPU_RETURN_IF_ERROR(add_ended_targets(sources, job));
      FASTGPU_RETURN_IF_ERROR(give_history(sources, job));
      FASTGPU_RETURN_IF_ERROR(kept_->enqueue(job));
      return entered(sources.options, found->second);
    }
    case Change::Kind::kCancelled: {
      if (gone.contains(change.job)) return {};
      ++ends_;
      const sched::FinishedJob* recorded = recorded_end(sources, change.job);
      if (recorded == nullptr) return kept_->cancel(change.job, change.at_s);
      return kept_->cancel(change.job, recorded->end_time_s, recorded->gpu_seconds);
    }
    case Change::Kind::kEnded: {
      ++ends_;
      const sched::FinishedJob* recorded = recorded_end(sources, change.job);
      if (recorded == nullptr) return kept_->finish(change.job, change.end, change.at_s);
      return kept_->finish(change.job, change.end, recorded->end_time_s, recorded->gpu_seconds);
    }
    case Change::Kind::kRequeued: {
      auto found = sources.queued.jobs().find(change.job);
      if (found == sources.queued.jobs().end()) {
        return failed_precondition("job " + to_string(change.job) +
                                   " is not in the engine's queue");
      }
      // Back in the queue, it waits on its dependencies again: those that ended before the
      // scheduler was built (built while the job ran, it was not told of them) are told now,
      // or it waited for them for ever ("waits for job 3 to end", job 3 long COMPLETED).
      FASTGPU_RETURN_IF_ERROR(
          add_ended_targets(sources, to_sched_job(change.job, found->second.spec, 0.0)));
      FASTGPU_RETURN_IF_ERROR(kept_->requeue(change.job, change.at_s));
      return entered(sources.options, found->second);
    }
    case Change::Kind::kHeld:
    case Change::Kind::kReleased: return apply_user_hold(sources, change);
  }
  return {};
}

// A job the kept scheduler does not hold (withheld when it was built, or out of the queue
// since: a later change says so) is left alone. A released job under a limit of the
// engine's own stays held until update_holds() finds its limit has room.
Status KeptSchedule::apply_user_hold(const TickSources& sources, const Change& change) {
  const auto found = sources.queued.jobs().find(change.job);
  if (found == sources.queued.jobs().end()) return {};
  const JobRecord& job = found->second;
  // The mirror has the job as it is now: a later change, held again or released, follows.
  const bool held = job.spec.held_by.has_value();
  if (held != (change.kind == Change::Kind::kHeld)) return {};
  if (held) released_.erase(job.id);
  if (!held && engine_limited(sources.options, job)) return {};
  const Status told = kept_->hold(job.id, held);
  return told.code() == ErrorCode::kNotFound ? Status{} : told;
}

// Under fair, the job's end as the store records it (the GPU time its runs used, by the
// supervisor's clock), which the snapshot of a rebuild gives the pure schedule() too; the
// scheduler's own account differs (it counts the share and every run). Null otherwise.
const sched::FinishedJob* KeptSchedule::recorded_end(const TickSources& sources, JobId job) const {
  if (sources.recent_ends == nullptr) return nullptr;
  auto found = sources.recent_ends->jobs().find(job);
  return found == sources.recent_ends->jobs().end() ? nullptr : &found->second;
}

Status KeptSchedule::entered(const EngineOptions& options, const JobRecord& job) {
  released_.erase(job.id);
  if (!job.spec.held_by && !engine_limited(options, job)) return {};
  return kept_->hold(job.id, true);
}

// The jobs `job` depends on that ended before the kept scheduler was built (it knows only
// those the queue named then), told to it from the store's records.
Status KeptSchedule::add_ended_targets(const TickSources& sources, const sched::Job& job) {
  for (const sched::Dependency& dependency : job.dependencies) {
    if (kept_->knows(dependency.job)) continue;
    Result<JobRecord> target = sources.options.store->get_job(dependency.job);
    if (!target.ok()) return target.status();
    if (!store::is_terminal(target->state)) continue;  // the enqueue refuses it: rebuilt
    FASTGPU_RETURN_IF_ERROR(kept_->add_finished(finished_job(*target)));
  }
  return {};
}

// The history of a signature a decision reads, given before the first job with it.
Status KeptSchedule::give_history(const TickSources& sources, const sched::Job& job) {
  if (!reads_history(job, every_signature_) || signatures_.contains(job.signature)) return {};
  Result<sched::SignatureHistory> history =
      cached_history(*sources.options.store, sources.history, job.signature);
  if (!history.ok()) return history.status();
  kept_->set_history(job.signature, std::move(history).value());
  signatures_.insert(job.signature);
  return {};
}

// The histories it holds that grew, read again (the engine's cache forgot them).
Status KeptSchedule::refresh_history(const TickSources& sources) {
  for (const std::string& signature : signatures_) {
    if (!every_history_changed_ && !history_changed_.contains(signature)) continue;
    Result<sched::SignatureHistory> history =
        cached_history(*sources.options.store, sources.history, signature);
    if (!history.ok()) return history.status();
    kept_->set_history(signature, std::move(history).value());
  }
  return {};
}

// Holds the engine-limited jobs admitted_limited() no longer lets through and releases
// those it now does. A job that left the queue, or never reached the kept scheduler
// (withheld when it was built), is not_found there and simply forgotten.
Status KeptSchedule::update_holds(const TickSources& sources) {
  std::set<JobId> admitted;
  for (const JobRecord* job : admitted_limited(sources)) admitted.insert(job->id);
  for (JobId job : released_) {
    if (admitted.contains(job)) continue;
    const Status held = kept_->hold(job, true);
    if (!held.ok() && held.code() != ErrorCode::kNotFound) return held;
  }
  std::set<JobId> released;
  for (JobId job : admitted) {
    const Status freed = kept_->hold(job, false);
    if (freed.ok()) {
      released.insert(job);
    } else if (freed.code() != ErrorCode::kNotFound) {
      return freed;
    }
  }
  released_ = std::move(released);
  return {};
}

Result<KeptSchedule::Decided> KeptSchedule::run(const TickSources& sources, Decided decided) {
  Result<sched::ScheduleResult> result = kept_->schedule(to_seconds(sources.now));
  if (!result.ok()) {
    kept_.reset();
    return result.status();
  }
  // A Move is applied as the scheduler holds it: the job is on `to` from now on (the
  // engine's MovingJobs until its stopped run ends, then its run there).
  decided.decisions = std::move(result->decisions);
  if (sources.options.check_schedule) check(sources, decided);
  return decided;
}

namespace {

std::string lines(const std::vector<sched::Decision>& decisions) {
  std::string text;
  for (const sched::Decision& decision : decisions) text += "\n  " + sched::to_string(decision);
  return text.empty() ? "\n  (none)" : text;
}

}  // namespace

// The pure schedule() on the tick's snapshot; when it decides otherwise, its decisions
// are the tick's and the kept scheduler is rebuilt at the next one.
void KeptSchedule::check(const TickSources& sources, Decided& decided) {
  Result<Decided> pure = decide_pure(sources);
  if (!pure.ok()) {
    decided.diverged = "the pure schedule() failed: " + pure.status().to_string();
    return;
  }
  const std::string kept = lines(decided.decisions);
  const std::string expected = lines(pure->decisions);
  if (kept == expected) return;
  decided.diverged = "the kept scheduler decided:" + kept +
                     "\nthe pure schedule() decided:" + expected +
                     (decided.rebuilt.empty() ? "" : "\n(rebuilt: " + decided.rebuilt + ")");
  decided.decisions = std::move(pure->decisions);
  kept_.reset();
}

}  // namespace fastgpu::engine
