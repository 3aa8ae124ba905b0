#include "engine/recent_ends.h"

#include <cmath>
#include <utility>

#include "engine/convert.h"
#include "engine/snapshot_builder.h"

namespace fastgpu::engine {

using store::JobRecord;
using store::JobState;

namespace {

bool weighed(const JobRecord& job, double oldest_s) {
  return store::is_terminal(job.state) && job.end_time && to_seconds(*job.end_time) >= oldest_s;
}

}  // namespace

Status RecentEnds::refresh(store::StateStore& store, double oldest_s) {
  if (stale_) {
    store::JobFilter filter;
    filter.states = {JobState::kCompleted, JobState::kFailed, JobState::kCancelled,
                     JobState::kTimeout};
    // Only the window, through the store's end index: a daemon's first tick read every job
    // that ever ended (docs/benchmarks.md, "A long past"). weighed() still decides.
    if (oldest_s > 0.0) filter.ended_from = from_seconds(std::floor(oldest_s));
    Result<std::vector<JobRecord>> jobs = store.list_jobs(filter);
    if (!jobs.ok()) return jobs.status().with_context("reading the ended jobs");
    jobs_.clear();
    by_end_.clear();
    for (const JobRecord& job : *jobs) {
      if (weighed(job, oldest_s)) put(finished_job(job));
    }
    pending_.clear();
    stale_ = false;
    ++reads_;
    return {};
  }
  for (JobId id : pending_) {
    Result<JobRecord> job = store.get_job(id);
    // Purged since it ended (`fastgpu purge --before now`): nothing of it is left to weigh.
    if (!job.ok() && job.status().code() == ErrorCode::kNotFound) continue;
    if (!job.ok()) {
      invalidate();
      return job.status().with_context("reading ended job " + to_string(id));
    }
    if (weighed(*job, oldest_s)) put(finished_job(*job));
  }
  pending_.clear();
  while (!by_end_.empty() && by_end_.begin()->first < oldest_s) {
    jobs_.erase(by_end_.begin()->second);
    by_end_.erase(by_end_.begin());
  }
  return {};
}

void RecentEnds::put(sched::FinishedJob done) {
  auto [at, added] = jobs_.try_emplace(done.id, done);
  if (!added) {  // told twice: its end as read last
    auto [first, last] = by_end_.equal_range(at->second.end_time_s);
    for (auto it = first; it != last; ++it) {
      if (it->second == done.id) {
        by_end_.erase(it);
        break;
      }
    }
    at->second = done;
  }
  by_end_.emplace(done.end_time_s, done.id);
}

}  // namespace fastgpu::engine
