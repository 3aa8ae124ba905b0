// The store's QUEUED jobs, kept in memory between ticks so that a tick does not read the
// whole queue back from SQLite (10,000 queued jobs took tens of milliseconds per tick).
//
// The engine is the only writer of job states, and tells the mirror of every change it
// makes: submit adds, a claim or a cancel removes, a requeue adds. When a change cannot be
// applied (a store read failed), or the minute's check finds that the store's queue holds
// other jobs (src/engine/mirror_check.h), the next tick reads the whole queue again, so a
// mirror that drifted is repaired instead of trusted forever.
// Thread-safety: none; the engine's callers serialize (one engine mutex).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <utility>

#include "fastgpu/core/result.h"
#include "fastgpu/store/state_store.h"

namespace fastgpu::engine {

// Whether the job is a member of an array with a running limit (--array 0-15%4).
inline bool in_limited_array(const store::JobRecord& job) {
  return job.spec.array && job.spec.array->max_running > 0;
}

class QueuedJobs {
 public:
  // Reads the whole queue when the mirror is stale (never read, a failed update) or, once
  // a minute (kMirrorCheckSeconds), the store's QUEUED jobs are not the mirror's.
  Status refresh(store::StateStore& store, double now_s);
  // Adds a submitted batch, as StateStore::submit_records returned it.
  void add_batch(std::vector<store::JobRecord> jobs);
  // Adds one job that went back to the queue.
  void add(store::StateStore& store, JobId job);
  void remove(JobId job);
  // Forces a full read at the next refresh().
  void invalidate() { stale_ = true; }

  const std::map<JobId, store::JobRecord>& jobs() const { return jobs_; }

  // Indexes over jobs(), so that a tick picks what may start without walking the whole
  // queue (a 10,000-job array on two CPU slots walked 10,000 jobs to start two).
  // A job is in exactly one of the three: a member of an array with a running limit
  // (`limited_arrays`), else a CPU job (no GPUs) or a GPU job; a held job (`fastgpu hold`)
  // is in none of them, nor among the jobs to admit, until it is released.
  using ArrayMembers = std::set<std::pair<std::int64_t, JobId>>;  // by (array index, id)
  const std::map<std::uint64_t, ArrayMembers>& limited_arrays() const { return limited_arrays_; }
  // By (-priority, id): the order in which CPU slots are handed out.
  const std::set<std::pair<int, JobId>>& cpu_jobs() const { return cpu_jobs_; }
  const std::set<JobId>& gpu_jobs() const { return gpu_jobs_; }
  // How many of jobs() are held.
  std::size_t held() const { return held_; }
  // What the admission of engine-limited jobs walks (admitted_limited): cpu_jobs() and
  // limited_arrays() less the jobs parked by park_waiting() because a job they wait for
  // had not ended, so that 10,000 jobs waiting on one running job are not walked at every
  // tick. A job not yet looked at by park_waiting() is here.
  const std::set<std::pair<int, JobId>>& cpu_jobs_to_admit() const { return cpu_to_admit_; }
  const std::map<std::uint64_t, ArrayMembers>& arrays_to_admit() const { return arrays_to_admit_; }
  // Parks each job to admit that waits for a job `unended` says has not ended, under that
  // job, and brings back the jobs parked under a job that has ended since. Looks at a job
  // when it joins the queue or comes back, and at each job waited for once per call.
  void park_waiting(const std::function<bool(JobId)>& unended);
  // How many jobs are parked (for tests).
  std::size_t parked() const { return parked_under_.size(); }

  // The jobs waiting for each job to succeed (an after-ok dependency), by that job: a tick
  // looks at each awaited job once, not at each of its dependents (10,000 jobs waiting on
  // one were 10,000 lookups a tick).
  const std::map<JobId, std::set<JobId>>& awaited() const { return awaited_; }

  // How many times the mirror was read whole from the store. The engine's kept scheduler
  // is rebuilt after each: the changes it was told no longer account for the mirror.
  std::uint64_t reads() const { return reads_; }

 private:
  void put(store::JobRecord job);
  void index(const store::JobRecord& job);
  void unindex(const store::JobRecord& job);
  void add_to_admit(const store::JobRecord& job);
  void remove_to_admit(const store::JobRecord& job);

  std::map<JobId, store::JobRecord> jobs_;
  std::map<std::uint64_t, ArrayMembers> limited_arrays_;
  std::set<std::pair<int, JobId>> cpu_jobs_;
  std::set<JobId> gpu_jobs_;
  std::size_t held_ = 0;
  std::map<JobId, std::set<JobId>> awaited_;
  std::set<std::pair<int, JobId>> cpu_to_admit_;
  std::map<std::uint64_t, ArrayMembers> arrays_to_admit_;
  std::map<JobId, std::set<JobId>> parked_;  // by the job they wait for
  std::map<JobId, JobId> parked_under_;      // each parked job: the job it waits for
  std::set<JobId> unchecked_;                // to admit, with dependencies, not looked at yet
  bool stale_ = true;
  double read_at_s_ = 0.0;
  std::uint64_t reads_ = 0;
};

}  // namespace fastgpu::engine
