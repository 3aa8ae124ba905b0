// Applying the scheduler's decisions: claim, then launch; stop for preemption, moves and
// memory pressure.
#include <nlohmann/json.hpp>
#include <system_error>

#include "engine/convert.h"
#include "engine/engine_impl.h"

namespace fastgpu::engine {

using nlohmann::json;
using store::JobRecord;
using store::JobState;

namespace {

std::string gpu_list(const std::vector<int>& gpus) {
  std::string text;
  for (int gpu : gpus) text += (text.empty() ? "" : ",") + std::to_string(gpu);
  return text;
}

}  // namespace

void EngineImpl::apply(const std::vector<sched::Decision>& decisions, TickReport& report) {
  std::vector<const sched::Start*> starts;
  for (const sched::Decision& decision : decisions) {
    if (const auto* start_job = std::get_if<sched::Start>(&decision)) {
      starts.push_back(start_job);
    } else if (const auto* preempt = std::get_if<sched::Preempt>(&decision)) {
      stop(preempt->job, StopIntent::kPreempt, "preempted", preempt->reason, report,
           "preempted by the scheduler (" + preempt->reason + ")");
    } else if (const auto* move = std::get_if<sched::Move>(&decision)) {
      // The job is stopped and started again on `to` when its run ends (restart_moved());
      // meanwhile the scheduler has it on `to` already (MovingJob), so nothing else gets
      // those GPUs and the strategy does not place it back where it was.
      const store::JobRecord* running = running_.find(move->job);
      if (running == nullptr) continue;  // ended since the snapshot
      moving_[move->job] =
          MovingJob{{move->to.begin(), move->to.end()}, now_, running->placed_bytes_per_gpu};
      const std::string moving = "moving from gpu " + gpu_list(move->from) + " to gpu " +
                                 gpu_list(move->to) + ": " + move->reason;
      stop(move->job, StopIntent::kPreempt, "moving", moving, report,
           "stopped by the balancer, " + moving);
    } else {
      memory_action(std::get<sched::MemoryAction>(decision), report);
    }
  }
  const std::vector<Claimed> claimed = claim(starts, report);
  launch_claimed(claimed, report);
  for (const Claimed& job : claimed) queued_.remove(job.job->id);
}

exec::LaunchRequest EngineImpl::launch_request(const JobRecord& job,
                                               const sched::Start& decision) const {
  exec::LaunchRequest request;
  request.job = job.id;
  request.argv = job.spec.argv;
  request.shell_command = job.spec.shell_command;
  request.working_dir = job.spec.working_dir;
  request.environment = job.spec.environment;
  for (int gpu : decision.gpus) request.gpus.push_back(static_cast<std::uint32_t>(gpu));
  if (!decision.gpus.empty()) request.gpu_mem_quota = decision.bytes_per_gpu;
  if (job.spec.array) request.array_index = job.spec.array->index;
  if (job.spec.time_limit_s) request.time_limit_s = static_cast<double>(*job.spec.time_limit_s);
  request.kill_grace_s = kill_grace_of(job);
  request.log_path = log_path_of(options_.state_dir, job.id);
  request.run_file = run_file_of(options_.state_dir, job.id, job.attempts + 1);
  if (job.spec.umask) request.umask = static_cast<mode_t>(*job.spec.umask);
  request.limits = job.spec.limits;
  // The launcher looks up the owner's group and groups (a user that does not exist
  // fails the launch, naming the uid).
  if (options_.run_jobs_as_owner) request.uid = job.spec.uid;
  return request;
}

// Claim first (QUEUED -> RUNNING, compare-and-set), then launch: a daemon killed in
// between finds the job RUNNING and asks the launcher whether it ever started. The tick's
// claims share one commit; a job is launched only once its claim is committed.
std::vector<EngineImpl::Claimed> EngineImpl::claim(std::span<const sched::Start* const> decisions,
                                                   TickReport& report) {
  std::vector<Claimed> candidates;
  std::vector<std::pair<JobId, store::JobStart>> starts;
  candidates.reserve(decisions.size());
  starts.reserve(decisions.size());
  for (const sched::Start* decision : decisions) {
    auto found = queued_.jobs().find(decision->job);
    if (found == queued_.jobs().end()) {
      warn(report, "schedule.error", decision->job,
           "the scheduler started job " + to_string(decision->job) + ", which is not queued");
      schedule_.invalidate();
      continue;
    }
    const JobRecord& job = found->second;
    exec::LaunchRequest request = launch_request(job, *decision);
    store::JobStart start{
        request.gpus, now_,         log_path_of(options_.state_dir, job.id).string(),
        std::nullopt, std::nullopt, std::nullopt};
    if (!decision->gpus.empty()) start.bytes_per_gpu = decision->bytes_per_gpu;
    candidates.push_back(Claimed{&job, std::move(request), start.bytes_per_gpu});
    starts.emplace_back(job.id, std::move(start));
  }
  if (starts.empty()) return {};
  const std::vector<Status> statuses = options_.store->record_starts(starts);
  std::vector<Claimed> claimed;
  claimed.reserve(candidates.size());
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const JobRecord& job = *candidates[i].job;
    if (!statuses[i].ok()) {
      warn(report, "job.claim_error", job.id,
           "could not claim job " + to_string(job.id) + ": " + statuses[i].to_string());
      queued_.invalidate();  // the store may know better than the mirrors what the job is now
      running_.invalidate();
      continue;
    }
    running_.claimed(job, starts[i].second);
    claimed.push_back(std::move(candidates[i]));
  }
  return claimed;
}

// The tick's launches begin together and settle as their supervisors report (usually by
// the next tick), so the loop never waits for a process to start.
void EngineImpl::launch_claimed(const std::vector<Claimed>& claimed, TickReport& report) {
  if (claimed.empty()) return;
  std::vector<exec::LaunchRequest> requests;
  requests.reserve(claimed.size());
  for (const Claimed& job : claimed) {
    requests.push_back(job.request);
    launching_[job.job->id] = {job.request.gpus, job.bytes_per_gpu, job.job->spec.util_share};
  }
  settle_launches(options_.launcher->begin_launches(requests), report);
  collect_launches(report);
}

void EngineImpl::collect_launches(TickReport& report) {
  settle_launches(options_.launcher->poll_launches(), report);
}

// The launches' pids, and their job.start events, share one commit.
void EngineImpl::settle_launches(const std::vector<exec::LaunchResult>& results,
                                 TickReport& report) {
  std::vector<store::JobPids> pids;
  std::vector<Launching> settled;  // what each of `pids` launched with
  for (const exec::LaunchResult& result : results) {
    const auto found = launching_.find(result.job);
    if (found == launching_.end()) continue;  // not ours to settle (settled once already)
    Launching launch = std::move(found->second);
    launching_.erase(found);
    if (!result.launched.ok()) {
      fail_launch(result.job, result.launched.status().message(), report);
      continue;
    }
    const exec::Launched& run = *result.launched;
    std::optional<store::WallTime> started;
    if (run.started != store::WallTime{}) started = run.started;
    store::Event started_event{0, options_.clock->now(), "job.start", result.job,
                               json{{"gpus", launch.gpus},
                                    {"bytes_per_gpu", launch.bytes_per_gpu.value_or(0)},
                                    {"supervisor_pid", run.supervisor_pid}}
                                   .dump()};
    pids.push_back(
        {result.job, run.supervisor_pid, run.job_pid, started, std::move(started_event)});
    settled.push_back(std::move(launch));
  }
  if (pids.empty()) return;
  const std::vector<Status> statuses = options_.store->record_pids_of(pids);
  for (std::size_t i = 0; i < settled.size(); ++i) {
    const store::JobPids& job = pids[i];
    if (statuses[i].ok()) {
      running_.launched(job.job, job.supervisor_pid, job.job_pid, job.started);
    } else {
      running_.invalidate();
      (void)options_.store->append_event(*job.event);  // the start happened all the same
      warn(report, "job.pids_error", job.job,
           "could not record the pids of job " + to_string(job.job) + ": " +
               statuses[i].to_string());
    }
    const Launching& launch = settled[i];
    meter_.start(job.job, launch.gpus, launch.util_share,
                 to_seconds(job.started.value_or(options_.clock->now())));
    report.started.push_back(job.job);
    if (launch.changed_limit_s) {
      if (std::optional<std::string> problem = tell_limit(job.job, *launch.changed_limit_s)) {
        warn(report, "job.limit_error", job.job, *problem);
      }
    }
  }
}

void EngineImpl::fail_launch(JobId job, const std::string& message, TickReport& report) {
  store::JobEnd end;
  end.state = JobState::kFailed;
  end.at = now_;
  // The launcher's words, without the job it names again ("job 1: ...", "job 1 could not
  // start: ..."): the reason is the job's own, and the log line names it once.
  std::string_view why = message;
  const std::string own = "job " + to_string(job);
  for (const std::string& prefix : {own + ": ", own + " could not start: "}) {
    if (why.starts_with(prefix)) why.remove_prefix(prefix.size());
  }
  end.reason = "could not be launched: " + std::string(why);
  end.never_ran = true;
  const Status recorded = record_end(job, std::nullopt, end);  // rare: no signature at hand
  report.ended.push_back(job);
  warn(report, "job.launch_failed", job,
       "job " + to_string(job) + " " + end.reason +
           (recorded.ok() ? "" : " (and its end was not recorded: " + recorded.to_string() + ")"));
}

// Stops a running job once; the outcome poll() reports is read against `intent`.
void EngineImpl::stop(JobId job, StopIntent intent, const std::string& cause,
                      const std::string& why, TickReport& report, const std::string& requeue_why) {
  if (stops_.count(job)) return;  // already stopping
  const Status stopped = options_.launcher->stop(
      job, intent == StopIntent::kPreempt ? exec::StopReason::kPreempt : exec::StopReason::kCancel);
  if (!stopped.ok()) {
    warn(report, "job.stop_error", job,
         "could not stop job " + to_string(job) + " (" + why + "): " + stopped.to_string());
    return;
  }
  const store::WallTime now = options_.clock->now();
  note_stop(job, {intent, cause, why, now, std::nullopt, std::nullopt, std::nullopt});
  json message = {{"reason", why}, {"cause", cause}};
  if (intent == StopIntent::kPreempt) {
    report.preempted.push_back(job);
    requeue_whys_[job] = requeue_why.empty() ? why : requeue_why;
    message["requeue_why"] = requeue_whys_[job];
  }
  // Read back by the next daemon when this one dies before the job ends (recover_stops).
  (void)event(intent == StopIntent::kPreempt ? "job.preempt" : "job.kill", job, message.dump(),
              now);
}

void EngineImpl::memory_action(const sched::MemoryAction& action, TickReport& report) {
  switch (action.action) {
    case sched::MemoryActionKind::kWarn:
      if (memory_warned_.insert(action.job).second) {
        warn(report, "memory.warn", action.job, action.reason);
      }
      return;
    case sched::MemoryActionKind::kRequeue:
      return stop(action.job, StopIntent::kPreempt, "memory", "memory pressure: " + action.reason,
                  report, "memory pressure (memory-action requeue): " + action.reason);
    case sched::MemoryActionKind::kKill:
      return stop(action.job, StopIntent::kMemoryKill, "memory",
                  "memory pressure: " + action.reason, report);
  }
}

}  // namespace fastgpu::engine
