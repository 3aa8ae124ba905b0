// The store's QUEUED jobs, kept in memory between ticks so that a tick does not read the
// whole queue back from SQLite (10,000 queued jobs took tens of milliseconds per tick).
//
// The engine is the only writer of job states, and tells the mirror of every change it
// makes: submit adds, a claim or a cancel removes, a requeue adds. When a change cannot be
// applied (a store read failed) or a minute has passed, the next tick reads the whole queue
// again, so a mirror that drifted is repaired instead of trusted forever.
// Thread-safety: none; the engine's callers serialize (one engine mutex).
#pragma once

#include <map>

#include "fastgpu/core/result.h"
#include "fastgpu/store/state_store.h"

namespace fastgpu::engine {

class QueuedJobs {
 public:
  // Reads the whole queue when the mirror is stale (never read, a failed update, or read
  // longer than kResyncSeconds before `now_s`).
  Status refresh(store::StateStore& store, double now_s);
  // Adds `count` jobs with consecutive ids from `first` (one submitted batch).
  void add_batch(store::StateStore& store, JobId first, std::size_t count);
  // Adds one job that went back to the queue.
  void add(store::StateStore& store, JobId job);
  void remove(JobId job) { jobs_.erase(job); }
  // Forces a full read at the next refresh().
  void invalidate() { stale_ = true; }

  const std::map<JobId, store::JobRecord>& jobs() const { return jobs_; }

  static constexpr double kResyncSeconds = 60.0;

 private:
  std::map<JobId, store::JobRecord> jobs_;
  bool stale_ = true;
  double read_at_s_ = 0.0;
};

}  // namespace fastgpu::engine
