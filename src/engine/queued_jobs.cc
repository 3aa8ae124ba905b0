#include "engine/queued_jobs.h"

#include "engine/mirror_check.h"

namespace fastgpu::engine {

using store::JobRecord;
using store::JobState;

Status QueuedJobs::refresh(store::StateStore& store, double now_s) {
  Result<bool> read = must_read_again(store, JobState::kQueued, jobs_, stale_, read_at_s_, now_s);
  if (!read.ok()) return read.status().with_context("checking the queue");
  if (!*read) return {};
  store::JobFilter filter;
  filter.states = {JobState::kQueued};
  Result<std::vector<JobRecord>> jobs = store.list_jobs(filter);
  if (!jobs.ok()) return jobs.status().with_context("reading the queue");
  jobs_.clear();
  limited_arrays_.clear();
  cpu_jobs_.clear();
  gpu_jobs_.clear();
  held_ = 0;
  awaited_.clear();
  cpu_to_admit_.clear();
  arrays_to_admit_.clear();
  parked_.clear();
  parked_under_.clear();
  unchecked_.clear();
  for (JobRecord& job : *jobs) put(std::move(job));
  stale_ = false;
  read_at_s_ = now_s;
  ++reads_;
  return {};
}

void QueuedJobs::add_batch(std::vector<JobRecord> jobs) {
  for (JobRecord& job : jobs) put(std::move(job));
}

void QueuedJobs::add(store::StateStore& store, JobId job) {
  Result<JobRecord> record = store.get_job(job);
  if (!record.ok() || record->state != JobState::kQueued) {
    stale_ = true;
    return;
  }
  put(std::move(record).value());
}

void QueuedJobs::remove(JobId job) {
  const auto found = jobs_.find(job);
  if (found == jobs_.end()) return;
  unindex(found->second);
  jobs_.erase(found);
}

void QueuedJobs::put(JobRecord job) {
  const auto found = jobs_.find(job.id);
  if (found != jobs_.end()) {
    unindex(found->second);
    found->second = std::move(job);
    index(found->second);
    return;
  }
  const JobId id = job.id;
  index(jobs_.emplace(id, std::move(job)).first->second);
}

namespace {

// Takes an array member out of its array's set, and the array out once it has none.
void erase_member(std::map<std::uint64_t, QueuedJobs::ArrayMembers>& arrays, const JobRecord& job) {
  const auto array = arrays.find(job.spec.array->array_id);
  if (array == arrays.end()) return;
  array->second.erase({job.spec.array->index, job.id});
  if (array->second.empty()) arrays.erase(array);
}

}  // namespace

void QueuedJobs::index(const JobRecord& job) {
  for (const store::Dependency& dependency : job.spec.dependencies) {
    if (dependency.kind == store::DependencyKind::kAfterOk) awaited_[dependency.job].insert(job.id);
  }
  if (job.spec.held_by) {  // held: in no index a start is chosen from
    ++held_;
    return;
  }
  if (in_limited_array(job)) {
    limited_arrays_[job.spec.array->array_id].emplace(job.spec.array->index, job.id);
  } else if (job.spec.gpus == 0) {
    cpu_jobs_.emplace(-job.spec.priority, job.id);
  } else {
    gpu_jobs_.insert(job.id);
  }
  if (in_limited_array(job) || job.spec.gpus == 0) {
    add_to_admit(job);
    if (!job.spec.dependencies.empty()) unchecked_.insert(job.id);
  }
}

void QueuedJobs::unindex(const JobRecord& job) {
  if (job.spec.held_by) --held_;
  if (in_limited_array(job)) {
    erase_member(limited_arrays_, job);
  } else if (job.spec.gpus == 0) {
    cpu_jobs_.erase({-job.spec.priority, job.id});
  } else {
    gpu_jobs_.erase(job.id);
  }
  remove_to_admit(job);
  unchecked_.erase(job.id);
  if (const auto under = parked_under_.find(job.id); under != parked_under_.end()) {
    const auto parked = parked_.find(under->second);
    parked->second.erase(job.id);
    if (parked->second.empty()) parked_.erase(parked);
    parked_under_.erase(under);
  }
  for (const store::Dependency& dependency : job.spec.dependencies) {
    if (dependency.kind != store::DependencyKind::kAfterOk) continue;
    const auto awaited = awaited_.find(dependency.job);
    if (awaited == awaited_.end()) continue;
    awaited->second.erase(job.id);
    if (awaited->second.empty()) awaited_.erase(awaited);
  }
}

void QueuedJobs::add_to_admit(const JobRecord& job) {
  if (in_limited_array(job)) {
    arrays_to_admit_[job.spec.array->array_id].emplace(job.spec.array->index, job.id);
  } else if (job.spec.gpus == 0) {
    cpu_to_admit_.emplace(-job.spec.priority, job.id);
  }
}

void QueuedJobs::remove_to_admit(const JobRecord& job) {
  if (in_limited_array(job)) {
    erase_member(arrays_to_admit_, job);
  } else if (job.spec.gpus == 0) {
    cpu_to_admit_.erase({-job.spec.priority, job.id});
  }
}

void QueuedJobs::park_waiting(const std::function<bool(JobId)>& unended) {
  for (auto parked = parked_.begin(); parked != parked_.end();) {
    if (unended(parked->first)) {
      ++parked;
      continue;
    }
    for (JobId id : parked->second) {
      parked_under_.erase(id);
      add_to_admit(jobs_.at(id));
      unchecked_.insert(id);  // it may wait for another job still
    }
    parked = parked_.erase(parked);
  }
  for (JobId id : unchecked_) {
    const JobRecord& job = jobs_.at(id);
    for (const store::Dependency& dependency : job.spec.dependencies) {
      if (!unended(dependency.job)) continue;
      remove_to_admit(job);
      parked_[dependency.job].insert(id);
      parked_under_[id] = dependency.job;
      break;
    }
  }
  unchecked_.clear();
}

}  // namespace fastgpu::engine
