// Opening the engine, recovery after a restart, submit and cancel.
#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <system_error>
#include <utility>

#include "core/batch_error.h"
#include "engine/convert.h"
#include "engine/engine_impl.h"
#include "fastgpu/sched/scheduler.h"

namespace fastgpu::engine {

using nlohmann::json;
using store::JobRecord;
using store::JobState;

namespace {

Status check_options(const EngineOptions& options) {
  const char* missing = options.probe == nullptr      ? "probe"
                        : options.launcher == nullptr ? "launcher"
                        : options.store == nullptr    ? "store"
                        : options.clock == nullptr    ? "clock"
                                                      : nullptr;
  if (missing != nullptr) {
    return invalid_argument(std::string("EngineOptions::") + missing +
                            " is null; pass the engine a " + missing);
  }
  if (options.state_dir.empty()) {
    return invalid_argument("EngineOptions::state_dir is empty; pass the state folder");
  }
  if (!(options.sample_interval_s >= 0.0) || !(options.kill_grace_s >= 0.0) ||
      !(options.sample_retention_s >= 0.0) || !(options.job_retention_s >= 0.0)) {
    return invalid_argument(
        "sample_interval_s, kill_grace_s, sample_retention_s and job_retention_s must be >= 0 "
        "seconds, not " +
        std::to_string(options.sample_interval_s) + ", " + std::to_string(options.kill_grace_s) +
        ", " + std::to_string(options.sample_retention_s) + " and " +
        std::to_string(options.job_retention_s));
  }
  return sched::validate_config(options.scheduler).with_context("scheduler config");
}

Status make_dirs(const std::filesystem::path& state_dir) {
  for (const char* sub : {"logs", "runs"}) {
    Status made = store::ensure_private_dir(state_dir / sub);
    if (!made.ok())
      return made.with_context("creating the engine's " + std::string(sub) + " folder");
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<Engine>> Engine::open(EngineOptions options) {
  FASTGPU_RETURN_IF_ERROR(check_options(options));
  FASTGPU_RETURN_IF_ERROR(make_dirs(options.state_dir));
  Result<GpuReading> reading = options.probe->read();
  if (!reading.ok()) {
    return reading.status().with_context("reading the GPUs (" + options.probe->describe() + ")");
  }
  auto engine = std::make_unique<EngineImpl>(std::move(options), std::move(reading).value());
  FASTGPU_RETURN_IF_ERROR(engine->recover());
  return std::unique_ptr<Engine>(std::move(engine));
}

std::optional<std::string> EngineImpl::event(const std::string& kind, std::optional<JobId> job,
                                             const std::string& message_json,
                                             std::optional<store::WallTime> at) {
  Result<std::int64_t> seq = options_.store->append_event(
      {0, at.value_or(options_.clock->now()), kind, job, message_json});
  if (seq.ok()) return std::nullopt;
  return "could not record event " + kind + ": " + seq.status().to_string();
}

void EngineImpl::warn(TickReport& report, const std::string& kind, std::optional<JobId> job,
                      const std::string& message) {
  report.warnings.push_back(message);
  json body = {{"message", message}};
  if (auto failed = event(kind, job, body.dump())) report.warnings.push_back(*failed);
}

// ---- recovery ----

Status EngineImpl::recover() {
  now_ = options_.clock->now();
  store::JobFilter running;
  running.states = {JobState::kRunning};
  Result<std::vector<JobRecord>> jobs = options_.store->list_jobs(running);
  if (!jobs.ok()) return jobs.status().with_context("listing running jobs to re-adopt");
  for (const JobRecord& job : *jobs) FASTGPU_RETURN_IF_ERROR(adopt(job));
  FASTGPU_RETURN_IF_ERROR(recover_stops());

  // A daemon that died between recording a preemption and requeueing leaves PREEMPTED.
  store::JobFilter preempted;
  preempted.states = {JobState::kPreempted};
  jobs = options_.store->list_jobs(preempted);
  if (!jobs.ok()) return jobs.status().with_context("listing preempted jobs to requeue");
  TickReport ignored;
  for (const JobRecord& job : *jobs) requeue_preempted(job, job.end_time.value_or(now_), ignored);
  return {};
}

Status EngineImpl::adopt(const JobRecord& job) {
  // A run started by a daemon of an earlier version, upgraded meanwhile, kept a folder.
  std::filesystem::path run = run_file_of(options_.state_dir, job.id, job.attempts);
  const std::filesystem::path legacy = legacy_run_dir_of(options_.state_dir, job.id, job.attempts);
  std::error_code ignored;
  if (!std::filesystem::exists(run, ignored) && std::filesystem::is_directory(legacy, ignored)) {
    run = legacy;
  }
  const Status adopted = options_.launcher->adopt(job.id, job.supervisor_pid.value_or(0), run);
  if (adopted.ok()) {
    meter_.start(job.id, job.placed_gpus, job.spec.util_share, std::nullopt, job.run_peak_gpu_mem);
    if (std::optional<std::string> problem = tell_limit(job.id, job.spec.time_limit_s)) {
      recovery_notes_.push_back("after the restart, " + *problem);
    }
    // Placed by a daemon that had more GPUs (another --devices, a GPU lost meanwhile): the
    // job keeps them until it ends, and the log says so, where it had said nothing.
    std::vector<std::uint32_t> gone;
    for (std::uint32_t gpu : job.placed_gpus) {
      const bool listed = std::any_of(reading_.devices.begin(), reading_.devices.end(),
                                      [&](const GpuDevice& device) { return device.index == gpu; });
      if (!listed) gone.push_back(gpu);
    }
    json body{{"supervisor_pid", job.supervisor_pid.value_or(0)}};
    if (!gone.empty()) {
      body["gone_gpus"] = gone;
      recovery_notes_.push_back(fmt::format(
          "job {} runs on GPU{} {}, which this machine does not list now ({} GPU{} here); it "
          "holds {} until it ends, and nothing new goes there",
          job.id.value(), gone.size() == 1 ? "" : "s", fmt::join(gone, ", "),
          reading_.devices.size(), reading_.devices.size() == 1 ? "" : "s",
          gone.size() == 1 ? "it" : "them"));
    }
    (void)event("job.adopt", job.id, body.dump());
    return {};
  }
  if (adopted.code() == ErrorCode::kNotFound) {
    return options_.store->transition(job.id, JobState::kRunning, JobState::kQueued, now_,
                                      "requeued: never started before the daemon stopped");
  }
  // The launcher cannot tell us about this run ever again: end it rather than let it hold
  // its GPUs in the ledger forever.
  store::JobEnd end;
  end.state = JobState::kFailed;
  end.at = now_;
  end.reason = "lost: could not re-adopt it after a restart: " + adopted.to_string();
  return record_end(job.id, job.spec.signature, end);
}

Status EngineImpl::record_end(JobId job, std::optional<std::string_view> signature,
                              const store::JobEnd& end) {
  return after_end(job, signature, end, options_.store->record_end(job, end));
}

Status EngineImpl::after_end(JobId job, std::optional<std::string_view> signature,
                             const store::JobEnd& end, const Status& recorded) {
  if (recorded.ok()) {
    running_.remove(job);
    if (end.state != JobState::kPreempted) schedule_.ended(job, end.state, end.at);
  } else {
    running_.invalidate();  // the store says what the job is now
  }
  if (signature) {
    history_.erase(std::string(*signature));
  } else {
    history_.clear();
  }
  schedule_.history_changed(signature);
  return recorded;
}

// ---- submit ----

namespace {

// How a refusal names the job: a single job needs no place in a batch, an array member is
// named by its array index, and an unnamed job gets no empty quotes.
std::string job_in_batch(const store::JobSpec& spec, std::size_t index, std::size_t batch_size) {
  std::string who = spec.array        ? "array member " + std::to_string(spec.array->index)
                    : batch_size == 1 ? std::string("the job")
                                      : "job " + std::to_string(index) + " of the batch";
  if (!spec.name.empty()) who += " ('" + spec.name + "')";
  return who;
}

// A refusal of one job of the batch: `problem` after the job's name (`separator` between),
// and, for `fastgpu run` to point at the job in its file, the job's index and the problem.
Status refuse_job(const store::JobSpec& spec, std::size_t index, std::size_t batch_size,
                  std::string_view separator, const std::string& problem, std::string field = {}) {
  return invalid_argument(job_in_batch(spec, index, batch_size) + std::string(separator) + problem)
      .with_batch_job(index, problem, std::move(field));
}

// The members of an array are one job file entry or one `submit --array`, so a refusal that
// several members share is told once, at the first, naming the others: a 100-member array
// asking for 9 GPUs is one line, not 100 of the same words.
std::vector<Status> fold_array_members(const std::vector<store::JobSpec>& batch,
                                       const std::vector<Status>& refusals) {
  struct Folded {
    Status first;
    std::vector<std::uint32_t> others;
  };
  std::vector<Folded> folded;
  for (const Status& refusal : refusals) {
    const std::optional<BatchJobError> job = refusal.batch_job();
    const std::optional<store::ArrayMember>& member =
        job ? batch[job->index].array : std::optional<store::ArrayMember>();
    // Only an array's member is folded (a batch of 10,000 plain jobs is not searched).
    auto same = !member
                    ? folded.end()
                    : std::find_if(folded.begin(), folded.end(), [&](const Folded& earlier) {
                        const std::optional<BatchJobError> first = earlier.first.batch_job();
                        return first && batch[first->index].array && first->problem == job->problem;
                      });
    if (same == folded.end()) {
      folded.push_back({refusal, {}});
    } else {
      same->others.push_back(member->index);
    }
  }
  std::vector<Status> told;
  for (const Folded& each : folded) {
    if (each.others.empty()) {
      told.push_back(each.first);
      continue;
    }
    constexpr std::size_t kMembersNamed = 5;
    const std::size_t named = std::min(each.others.size(), kMembersNamed);
    std::string members;
    for (std::size_t i = 0; i < named; ++i) {
      const bool last = i + 1 == each.others.size();
      members += (i == 0 ? "" : last ? " and " : ", ") + std::to_string(each.others[i]);
    }
    if (named < each.others.size()) {
      members += fmt::format(" and {} more", each.others.size() - named);
    }
    const std::string also =
        fmt::format(" (array member{} {} too)", each.others.size() == 1 ? "" : "s", members);
    const BatchJobError job = *each.first.batch_job();
    told.push_back(Status(each.first.code(), each.first.message() + also)
                       .with_batch_job(job.index, job.problem + also, job.field));
  }
  return told;
}

}  // namespace

// Every refusal of one job: what the store needs, else each limit it passes (a job asking
// for too many GPUs and too much memory is told both), else the array it joins.
Status EngineImpl::check_job(const store::JobSpec& spec, std::size_t index, std::size_t batch_size,
                             std::vector<Status>& refusals) const {
  if (Status valid = store::validate_job_spec(spec, index); !valid.ok()) {
    if (!valid.batch_job()) return valid;  // not about the job: the batch cannot be checked
    refusals.push_back(std::move(valid));
    return {};
  }
  const std::size_t before = refusals.size();
  check_against_cluster(spec, index, batch_size, refusals);
  if (refusals.size() > before) return {};
  Status array = check_array(spec, index, batch_size);
  if (array.ok()) return {};
  if (!array.batch_job()) return array;  // the store could not say
  refusals.push_back(std::move(array));
  return {};
}

void EngineImpl::check_against_cluster(const store::JobSpec& spec, std::size_t index,
                                       std::size_t batch_size,
                                       std::vector<Status>& refusals) const {
  std::size_t gpus = reading_.devices.size();
  Bytes largest_usable = 0;
  for (const GpuDevice& device : reading_.devices) {
    const Bytes total = device.memory_total_bytes.value_or(0);
    const Bytes reserved = std::min(total, device.memory_reserved_bytes.value_or(0));
    largest_usable = std::max(largest_usable, total - reserved);
  }
  const std::size_t before = refusals.size();
  if (spec.gpus > 0 && static_cast<std::size_t>(spec.gpus) > gpus) {
    // In words, not as a flag: a job file gives the same field as `gpus:`.
    refusals.push_back(refuse_job(spec, index, batch_size, " ",
                                  "asks for " + std::to_string(spec.gpus) + " GPUs, but " +
                                      (gpus == 0 ? std::string("this machine has no GPU")
                                                 : "this machine has " + std::to_string(gpus)) +
                                      "; ask for at most " + std::to_string(gpus),
                                  "gpus"));
  }
  if (spec.gpus > 0 && spec.gpu_mem && *spec.gpu_mem > largest_usable) {
    refusals.push_back(refuse_job(spec, index, batch_size, " ",
                                  "declares " + format_bytes(*spec.gpu_mem) +
                                      " of GPU memory per GPU, more than the largest GPU's "
                                      "usable " +
                                      format_bytes(largest_usable) + "; declare at most " +
                                      format_bytes_exact(largest_usable),
                                  "gpu_mem"));
  }
  if (refusals.size() > before) return;
  const Status fits = sched::validate_job(to_sched_job(JobId(0), spec, 0.0),
                                          gpu_states(reading_, options_.node_name));
  if (!fits.ok()) refusals.push_back(refuse_job(spec, index, batch_size, ": ", fits.message()));
}

// A job joins an array that exists and is its owner's (array_id 0 starts a new one): an
// unknown id made an array of one that no limit or listing knew.
Status EngineImpl::check_array(const store::JobSpec& spec, std::size_t index,
                               std::size_t batch_size) const {
  if (!spec.array || spec.array->array_id == 0) return {};
  store::JobFilter filter;
  filter.array_id = spec.array->array_id;
  filter.limit = 1;
  Result<std::vector<JobRecord>> members = options_.store->list_jobs(filter);
  if (!members.ok()) return members.status();
  if (members->empty() || (spec.uid != 0 && members->front().spec.uid != spec.uid)) {
    return refuse_job(
        spec, index, batch_size, ": ",
        fmt::format("array {} does not exist{}; leave array_id out (or 0) to start a new array",
                    spec.array->array_id, members->empty() ? "" : " among your jobs"));
  }
  return {};
}

void EngineImpl::add_store_refusals(std::span<const store::JobSpec> batch,
                                    std::vector<Status>& refusals) const {
  // The store checks every spec before any dependency and stops at the first bad one, which
  // check_job has told already: such a job stands in as a plain one, keeping its place in
  // the batch for the others' references, so that their dependencies are checked too.
  std::vector<store::JobSpec> to_check(batch.begin(), batch.end());
  for (std::size_t i = 0; i < to_check.size(); ++i) {
    if (store::validate_job_spec(to_check[i], i).ok()) continue;
    store::JobSpec stand_in;
    stand_in.argv = {"true"};
    stand_in.working_dir = "/";
    stand_in.submit_time = to_check[i].submit_time;
    to_check[i] = std::move(stand_in);
  }
  const Status checked = options_.store->check_records(to_check);
  // A store that fails to check (not a refusal) leaves the refusals here as they are. Every
  // spec it checks passes, so what it refuses is what only it checks: dependencies.
  if (checked.ok() || checked.batch_jobs().empty()) return;
  for (const BatchJobError& job : checked.batch_jobs()) {
    refusals.push_back(
        Status(checked.code(), job.message).with_batch_job(job.index, job.problem, job.field));
  }
  // In batch order, as refused_jobs() tells them; a job's own refusals keep their order.
  std::stable_sort(refusals.begin(), refusals.end(), [](const Status& a, const Status& b) {
    return a.batch_job()->index < b.batch_job()->index;
  });
}

Result<std::vector<JobId>> EngineImpl::submit(std::span<const store::JobSpec> jobs,
                                              std::vector<Status> refused_by_caller) {
  if (jobs.empty()) return invalid_argument("no jobs to submit; give at least one job");
  std::vector<store::JobSpec> batch(jobs.begin(), jobs.end());
  const store::WallTime now = options_.clock->now();
  // Every job is checked, and every refusal told at once (a 40-job batch with 5 jobs asking
  // too much is fixed in one go); nothing is stored unless none is refused.
  std::vector<Status> refusals;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    FASTGPU_RETURN_IF_ERROR(check_job(batch[i], i, batch.size(), refusals));
    if (batch[i].submit_time == store::WallTime{}) batch[i].submit_time = now;
  }
  // The caller's go in batch order with the others (add_store_refusals sorts them all).
  for (Status& refusal : refused_by_caller) {
    if (refusal.batch_job()) refusals.push_back(std::move(refusal));
  }
  if (!refusals.empty()) {
    add_store_refusals(batch, refusals);
    // Counted before an array's members are folded into one line: "10 jobs of the batch are
    // refused" for a 10-member array asking too much twice over (it read "1 job").
    std::vector<BatchJobError> refused;
    for (const Status& refusal : refusals) {
      refused.insert(refused.end(), refusal.batch_jobs().begin(), refusal.batch_jobs().end());
    }
    return refused_jobs(fold_array_members(batch, refusals), distinct_jobs(refused));
  }
  Result<std::vector<store::JobRecord>> stored = options_.store->submit_records(batch);
  if (!stored.ok()) return stored.status();
  std::vector<JobId> ids;
  ids.reserve(stored->size());
  for (const store::JobRecord& job : *stored) ids.push_back(job.id);
  queued_.add_batch(std::move(stored).value());
  schedule_.submitted(ids);
  return ids;
}

// ---- settings ----

Status EngineImpl::set_scheduler_config(const sched::SchedulerConfig& config) {
  FASTGPU_RETURN_IF_ERROR(sched::validate_config(config));
  options_.scheduler = config;
  schedule_.invalidate();  // the next tick builds it afresh under the new settings
  return {};
}

void EngineImpl::purged(store::WallTime ended_before) {
  // Only the fair policy weighs ended jobs, and only those within its window.
  if (options_.scheduler.policy != "fair") return;
  const store::WallTime now = options_.clock->now();
  if (to_seconds(ended_before) <= fair_oldest_end_s(options_, now)) return;
  schedule_.ended_jobs_purged();
}

// ---- cancel ----

namespace {

// Refuses `uid` another user's job, unless `uid` is root's: "... only its owner or root can
// `verb` it".
Status owner_or_root(const JobRecord& job, std::uint32_t uid, std::string_view verb) {
  if (uid == 0 || uid == job.spec.uid) return {};
  return failed_precondition(
      fmt::format("job {} belongs to user '{}' (uid {}); only its owner or root can {} it",
                  job.id.value(), job.spec.user, job.spec.uid, verb));
}

}  // namespace

Status EngineImpl::cancel(JobId id, std::uint32_t uid, std::string_view by) {
  Result<JobRecord> job = options_.store->get_job(id);
  if (!job.ok()) return job.status();
  FASTGPU_RETURN_IF_ERROR(owner_or_root(*job, uid, "cancel"));
  const store::WallTime now = options_.clock->now();
  const std::string reason = fmt::format("cancelled by {}", by);
  switch (job->state) {
    case JobState::kQueued:
    case JobState::kPreempted: {
      Status cancelled =
          options_.store->transition(id, job->state, JobState::kCancelled, now, reason);
      if (cancelled.ok()) {
        queued_.remove(id);
        schedule_.cancelled(id, now);
      }
      return cancelled;
    }
    case JobState::kRunning: return cancel_running(*job, uid, by);
    default:
      return failed_precondition("job " + to_string(id) + " already ended: it is " +
                                 std::string(store::job_state_name(job->state)) +
                                 "; there is nothing to cancel");
  }
}

Status EngineImpl::change_job(JobId id, std::uint32_t uid, store::QueuedJobChange change) {
  Result<JobRecord> job = options_.store->get_job(id);
  if (!job.ok()) return job.status();
  FASTGPU_RETURN_IF_ERROR(owner_or_root(*job, uid, "change"));
  if (job->state == JobState::kRunning) return change_running_limit(*job, uid, change);
  if (job->state != JobState::kQueued) {
    return failed_precondition("job " + to_string(id) + " is " +
                               std::string(store::job_state_name(job->state)) +
                               ": only a queued job can be held or changed, and a running "
                               "one's time limit");
  }
  return change_queued(*job, uid, std::move(change));
}

Status EngineImpl::change_queued(const JobRecord& job, std::uint32_t uid,
                                 store::QueuedJobChange change) {
  const JobId id = job.id;
  // Root's hold stays root's when its user holds the job too: else the user could release it.
  if (change.held_by && change.held_by->has_value() && job.spec.held_by == 0u) {
    change.held_by = std::optional<std::uint32_t>(0);
  }
  const bool releases = change.held_by && !change.held_by->has_value();
  if (releases && job.spec.held_by == 0u && uid != 0) {
    return failed_precondition("job " + to_string(id) +
                               " was held by root, and only root releases it");
  }
  json what{{"uid", uid}};
  if (change.held_by) what["held"] = change.held_by->has_value();
  if (change.priority) what["priority"] = *change.priority;
  const auto or_null = [](const std::optional<std::int64_t>& value) {
    return value ? json(*value) : json();
  };
  if (change.time_limit_s) what["time_limit_s"] = or_null(*change.time_limit_s);
  if (change.kill_grace_s) what["grace_s"] = or_null(*change.kill_grace_s);
  if (change.deadline) {
    what["deadline_us"] = change.deadline->has_value()
                              ? json((*change.deadline)->time_since_epoch().count())
                              : json();
  }
  change.event = store::Event{0, options_.clock->now(), "job.change", id, what.dump()};
  FASTGPU_RETURN_IF_ERROR(options_.store->change_queued(id, change));
  // The mirror takes the job as stored now (a grace is read from it at the launch). A hold
  // or a release is told to the kept scheduler; a new priority, time limit or deadline moves
  // the job in the orders it keeps, so it is built again from the mirror at the next tick
  // (0.2 s of CPU at 100,000 queued jobs: docs/benchmarks.md).
  queued_.add(*options_.store, id);
  if (change.priority || change.time_limit_s || change.deadline) {
    schedule_.invalidate();
  } else if (change.held_by) {
    schedule_.user_held(id, change.held_by->has_value());
  }
  return {};
}

Status EngineImpl::cancel_running(const JobRecord& job, std::uint32_t uid, std::string_view by) {
  const Status stopped = options_.launcher->stop(job.id, exec::StopReason::kCancel);
  if (stopped.ok()) {
    const store::WallTime now = options_.clock->now();
    note_stop(job.id, {StopIntent::kCancel,
                       "cancelled",
                       {},
                       now,
                       uid,
                       std::nullopt,
                       std::nullopt,
                       std::string(by)});
    // Read back by the next daemon when this one dies before the job ends (recover_stops).
    (void)event("job.cancel", job.id, json{{"uid", uid}, {"by", by}}.dump(), now);
    return {};
  }
  if (stopped.code() != ErrorCode::kNotFound)
    return stopped.with_context("stopping job " + to_string(job.id));
  // The launcher no longer knows the run: nothing will report its end, so record it now.
  store::JobEnd end;
  end.state = JobState::kCancelled;
  end.at = options_.clock->now();
  end.reason = fmt::format("cancelled by {} (the launcher had no such run)", by);
  const double ran = to_seconds(end.at) - to_seconds(job.start_time.value_or(end.at));
  end.accounting = meter_.finish(job.id, job.placed_gpus.size(), ran, to_seconds(end.at), reading_,
                                 to_seconds(reading_at_));
  stops_.erase(job.id);
  requeue_whys_.erase(job.id);
  return record_end(job.id, job.spec.signature, end);
}

}  // namespace fastgpu::engine
