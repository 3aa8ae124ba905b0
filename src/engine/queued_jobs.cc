#include "engine/queued_jobs.h"

namespace fastgpu::engine {

using store::JobRecord;
using store::JobState;

Status QueuedJobs::refresh(store::StateStore& store, double now_s) {
  if (!stale_ && now_s - read_at_s_ < kResyncSeconds) return {};
  store::JobFilter filter;
  filter.states = {JobState::kQueued};
  Result<std::vector<JobRecord>> jobs = store.list_jobs(filter);
  if (!jobs.ok()) return jobs.status().with_context("reading the queue");
  jobs_.clear();
  for (JobRecord& job : *jobs) {
    const JobId id = job.id;
    jobs_.emplace(id, std::move(job));
  }
  stale_ = false;
  read_at_s_ = now_s;
  return {};
}

void QueuedJobs::add_batch(store::StateStore& store, JobId first, std::size_t count) {
  if (count == 0) return;
  store::JobFilter filter;
  filter.states = {JobState::kQueued};
  if (first.value() > 0) filter.after = JobId(first.value() - 1);
  filter.limit = count;
  Result<std::vector<JobRecord>> jobs = store.list_jobs(filter);
  if (!jobs.ok()) {
    stale_ = true;
    return;
  }
  for (JobRecord& job : *jobs) {
    if (job.id.value() >= first.value() + count) break;
    const JobId id = job.id;
    jobs_.insert_or_assign(id, std::move(job));
  }
}

void QueuedJobs::add(store::StateStore& store, JobId job) {
  Result<JobRecord> record = store.get_job(job);
  if (!record.ok() || record->state != JobState::kQueued) {
    stale_ = true;
    return;
  }
  jobs_.insert_or_assign(job, std::move(record).value());
}

}  // namespace fastgpu::engine
