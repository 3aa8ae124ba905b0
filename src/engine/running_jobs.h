// The store's RUNNING jobs, kept in memory between ticks. Every tick read them all back
// from SQLite (with each job's JSON spec: argv, environment), and every end read its job
// again: a fifth of the daemon's CPU when it runs short jobs.
//
// As for QueuedJobs, the engine is the only writer of job states and tells the mirror of
// every change it makes: a claim adds the job as the store records it, a launch sets its
// pids and start, an end removes it. A change the store refused, or one the engine could
// not mirror exactly, marks the mirror stale, and the next refresh() reads the store again;
// so does the minute's check when the store's RUNNING jobs are not the mirror's
// (src/engine/mirror_check.h).
// Thread-safety: none; the engine's callers serialize (one engine mutex).
#pragma once

#include <cstdint>
#include <map>
#include <optional>

#include "engine/convert.h"
#include "fastgpu/core/result.h"
#include "fastgpu/engine/engine.h"
#include "fastgpu/store/state_store.h"

namespace fastgpu::engine {

class RunningJobs {
 public:
  // Reads every RUNNING job when the mirror is stale (never read, invalidated) or, once a
  // minute (kMirrorCheckSeconds), the store's RUNNING jobs are not the mirror's.
  Status refresh(store::StateStore& store, double now_s);
  // `queued` was claimed: the store now holds it RUNNING with `start` recorded, as
  // StateStore::record_start writes it.
  void claimed(const store::JobRecord& queued, const store::JobStart& start);
  // StateStore::record_pids succeeded for this job.
  void launched(JobId job, std::int32_t supervisor_pid, std::int32_t job_pid,
                std::optional<store::WallTime> started);
  // StateStore::change_running_limit succeeded for this job.
  void limit_changed(JobId job, std::optional<std::int64_t> time_limit_s);
  // The job's end was recorded: it no longer runs.
  void remove(JobId job) { jobs_.erase(job); }
  void invalidate() { stale_ = true; }

  // nullptr when the mirror does not hold the job, or is stale.
  const store::JobRecord* find(JobId job) const;
  const std::map<JobId, store::JobRecord>& jobs() const { return jobs_; }

  // How many times the mirror was read whole from the store. The engine's kept scheduler
  // is rebuilt after each: the changes it was told no longer account for the mirror.
  std::uint64_t reads() const { return reads_; }

 private:
  std::map<JobId, store::JobRecord> jobs_;
  bool stale_ = true;
  double read_at_s_ = 0.0;
  std::uint64_t reads_ = 0;
};

// EngineOptions::attribute_pid told the supervisor pids of the jobs `running` holds now,
// asked once per pid (later asks get the first answer); empty when `attribute` is. Bound
// after refresh() for the tick's snapshot and again for its sample: the sample asks about
// a GPU's processes once per job on that GPU, and when the daemon's attribution read the
// RUNNING jobs itself, each ask was a store query (550 a tick for 50 jobs on 8 GPUs).
PidAttribution bind_supervisors(const RunningJobs& running,
                                const decltype(EngineOptions::attribute_pid)& attribute);

}  // namespace fastgpu::engine
