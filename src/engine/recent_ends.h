// The ended jobs the fair policy weighs (those that ended within ten half-lives), kept in
// memory between ticks. The fair policy ranks users by the GPU time of their recent jobs;
// reading every one of them back from SQLite at each tick made a fair daemon with 10,000
// ended jobs spend all of its CPU on that listing, too busy to answer its clients
// (docs/benchmarks.md).
//
// The store is read whole at the first refresh(), and again after a read failed or after
// invalidate() (the engine's queue or running mirror was read again: something drifted).
// From then on each end the engine records is told by its id (ended()) and read alone at
// the next refresh().
// Thread-safety: none; the engine's callers serialize.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "fastgpu/core/result.h"
#include "fastgpu/sched/snapshot.h"
#include "fastgpu/store/state_store.h"

namespace fastgpu::engine {

class RecentEnds {
 public:
  // The store recorded the job's end (any end state): it is read at the next refresh().
  void ended(JobId job) {
    if (!stale_) pending_.push_back(job);
  }
  // Reads the store whole at the next refresh().
  void invalidate() {
    stale_ = true;
    pending_.clear();
  }
  // Brings the mirror up to date and forgets the jobs that ended before oldest_s (and
  // those with no end time, which the fair policy cannot weigh). After an error the next
  // refresh() reads the store whole.
  Status refresh(store::StateStore& store, double oldest_s);

  // The ended jobs, by id, as finished_job() gives them.
  const std::map<JobId, sched::FinishedJob>& jobs() const { return jobs_; }
  // How many times the store was read whole.
  std::uint64_t reads() const { return reads_; }

 private:
  void put(sched::FinishedJob done);

  bool stale_ = true;
  std::vector<JobId> pending_;
  std::map<JobId, sched::FinishedJob> jobs_;
  // The same jobs by end time, so that forgetting the old ones costs what they are, not a
  // pass over all of them at every tick.
  std::multimap<double, JobId> by_end_;
  std::uint64_t reads_ = 0;
};

}  // namespace fastgpu::engine
