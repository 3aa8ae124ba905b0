#include "engine/running_jobs.h"

#include "engine/mirror_check.h"

namespace fastgpu::engine {

using store::JobRecord;
using store::JobState;

Status RunningJobs::refresh(store::StateStore& store, double now_s) {
  Result<bool> read = must_read_again(store, JobState::kRunning, jobs_, stale_, read_at_s_, now_s);
  if (!read.ok()) return read.status().with_context("checking the running jobs");
  if (!*read) return {};
  store::JobFilter filter;
  filter.states = {JobState::kRunning};
  Result<std::vector<JobRecord>> jobs = store.list_jobs(filter);
  if (!jobs.ok()) return jobs.status().with_context("reading the running jobs");
  jobs_.clear();
  for (JobRecord& job : *jobs) {
    const JobId id = job.id;
    jobs_.emplace(id, std::move(job));
  }
  stale_ = false;
  read_at_s_ = now_s;
  ++reads_;
  return {};
}

// The fields record_start sets; the rest (spec, accounting of an earlier run) stay.
void RunningJobs::claimed(const JobRecord& queued, const store::JobStart& start) {
  JobRecord job = queued;
  job.state = JobState::kRunning;
  job.placed_gpus = start.gpus;
  job.start_time = start.at;
  job.log_path = start.log_path;
  job.supervisor_pid = start.supervisor_pid;
  job.job_pid = start.job_pid;
  job.placed_bytes_per_gpu = start.bytes_per_gpu;
  job.end_time.reset();
  job.exit_code.reset();
  job.signal.reset();
  ++job.attempts;
  jobs_.insert_or_assign(job.id, std::move(job));
}

void RunningJobs::launched(JobId job, std::int32_t supervisor_pid, std::int32_t job_pid,
                           std::optional<store::WallTime> started) {
  const auto found = jobs_.find(job);
  if (found == jobs_.end()) {
    stale_ = true;
    return;
  }
  found->second.supervisor_pid = supervisor_pid;
  found->second.job_pid = job_pid;
  if (started) found->second.start_time = *started;
}

void RunningJobs::limit_changed(JobId job, std::optional<std::int64_t> time_limit_s) {
  const auto found = jobs_.find(job);
  if (found == jobs_.end()) {
    stale_ = true;
    return;
  }
  found->second.spec.time_limit_s = time_limit_s;
}

const JobRecord* RunningJobs::find(JobId job) const {
  if (stale_) return nullptr;  // what it holds may be out of date
  const auto found = jobs_.find(job);
  return found == jobs_.end() ? nullptr : &found->second;
}

PidAttribution bind_supervisors(const RunningJobs& running,
                                const decltype(EngineOptions::attribute_pid)& attribute) {
  if (!attribute) return {};
  SupervisorJobs supervisors;
  for (const auto& [id, job] : running.jobs()) {
    if (job.supervisor_pid) supervisors[*job.supervisor_pid] = id;
  }
  // Each answer is kept: the sample asks about a GPU's processes once per job on that GPU.
  return [attribute, supervisors = std::move(supervisors),
          answers = std::map<std::uint32_t, std::optional<JobId>>()](
             std::uint32_t pid) mutable -> std::optional<JobId> {
    auto [answer, asked] = answers.try_emplace(pid);
    if (asked) answer->second = attribute(pid, supervisors);
    return answer->second;
  };
}

}  // namespace fastgpu::engine
