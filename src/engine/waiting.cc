// Engine::why_waiting: why a queued job has not started, in the user's terms.
#include "engine/convert.h"
#include "engine/engine_impl.h"

namespace fastgpu::engine {

using store::JobRecord;

namespace {

// "waits for job 9 (RUNNING) to succeed and for job 8 (QUEUED) to end", or nullopt when
// every job it depends on has ended.
std::optional<std::string> dependency_wait(const JobRecord& job, const QueuedJobs& queued,
                                           const RunningJobs& running) {
  std::string text;
  for (const store::Dependency& dependency : job.spec.dependencies) {
    const char* state = unended_state(dependency.job, queued, running);
    if (state == nullptr) continue;
    text += (text.empty() ? "waits for job " : " and for job ") + to_string(dependency.job) + " (" +
            state + ") to " +
            (dependency.kind == store::DependencyKind::kAfterOk ? "succeed" : "end");
  }
  if (text.empty()) return std::nullopt;
  return text;
}

// Queued members of the job's array before it, counted up to `cap`: they take its %N
// first. (Capped: a listing asks this of every member of a 10,000-job array.)
std::size_t members_before(const QueuedJobs& queued, const JobRecord& job, std::size_t cap) {
  auto found = queued.limited_arrays().find(job.spec.array->array_id);
  if (found == queued.limited_arrays().end()) return 0;
  std::size_t before = 0;
  for (const auto& [index, id] : found->second) {
    if (id == job.id || before == cap) break;
    ++before;
  }
  return before;
}

// "1 member" or "2 members".
std::string count_of(std::size_t count, const std::string& one, const std::string& many) {
  return std::to_string(count) + " " + (count == 1 ? one : many);
}

}  // namespace

WaitingReason EngineImpl::engine_limit(const JobRecord& job) const {
  if (job.spec.array && job.spec.array->max_running > 0) {
    const std::uint64_t array = job.spec.array->array_id;
    const std::size_t limit = job.spec.array->max_running;
    std::size_t members = 0;
    for (const auto& [id, running] : running_.jobs()) {
      if (running.spec.array && running.spec.array->array_id == array) ++members;
    }
    const std::string at_most = "at most " + count_of(limit, "member", "members") + " at once (%" +
                                std::to_string(limit) + ")";
    if (members >= limit) {
      return {"array limit",
              count_of(members, "member of its array runs", "members of its array run") +
                  ", and it runs " + at_most};
    }
    if (members + members_before(queued_, job, limit - members) >= limit) {
      return {"array limit", "its array runs " + at_most + ", earlier members first"};
    }
  }
  if (job.spec.gpus == 0 && options_.cpu_slots > 0) {
    std::size_t cpu_jobs = 0;
    for (const auto& [id, running] : running_.jobs()) cpu_jobs += running.spec.gpus == 0 ? 1 : 0;
    return {"cpu slots", count_of(cpu_jobs, "CPU-only job runs", "CPU-only jobs run") +
                             " in the daemon's " +
                             count_of(options_.cpu_slots, "CPU slot", "CPU slots") +
                             "; jobs before it (by priority, then submission) take the next "
                             "free one (`fastgpu daemon run --cpu-slots N` or FASTGPU_CPU_SLOTS "
                             "sets how many)"};
  }
  return {"next pass", "its limit has room: the next scheduling pass considers it"};
}

std::optional<WaitingReason> EngineImpl::why_waiting(JobId id, bool with_detail) const {
  auto found = queued_.jobs().find(id);
  if (found == queued_.jobs().end()) return std::nullopt;
  const JobRecord& job = found->second;
  if (job.spec.held_by) {
    const bool by_owner = *job.spec.held_by == job.spec.uid;
    return WaitingReason{
        "held", by_owner ? "held by its user: `fastgpu release " + to_string(id) + "` lets it start"
                         : "held by uid " + std::to_string(*job.spec.held_by) +
                               (*job.spec.held_by == 0 ? " (root), who alone releases it" : "") +
                               ": `fastgpu release " + to_string(id) + "` lets it start"};
  }
  if (std::optional<std::string> waits = dependency_wait(job, queued_, running_)) {
    return WaitingReason{"dependency", std::move(*waits)};
  }
  if (schedule_.unseen(id)) {
    return WaitingReason{"next pass",
                         "submitted since the last scheduling pass, which comes within a "
                         "second"};
  }
  Result<sched::WaitReason> why = schedule_.why_waiting(id, with_detail);
  if (!why.ok()) {
    if (engine_limited(options_, job)) return engine_limit(job);
    // Not in the scheduler: withheld from it, as it does not fit the GPUs seen now.
    std::vector<Status> unfit;
    check_against_cluster(job.spec, 0, 1, unfit);
    if (!unfit.empty()) {
      return WaitingReason{"unfit",
                           "it does not fit the GPUs seen now: " + unfit.front().message() +
                               "; it waits for them to come back"};
    }
    return WaitingReason{"next pass", "the next scheduling pass, within a second, considers it"};
  }
  switch (why->kind) {
    case sched::WaitReason::Kind::kHeld: return engine_limit(job);
    case sched::WaitReason::Kind::kNextPass:
      return WaitingReason{"next pass", why->detail + " (within a second)"};
    default: return WaitingReason{sched::wait_kind_name(why->kind), why->detail};
  }
}

}  // namespace fastgpu::engine
