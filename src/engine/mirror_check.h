// The rule both mirrors of the store (QueuedJobs, RunningJobs) follow to decide when to
// read all their jobs back: when stale (never read, or a change they could not apply),
// and once a minute when the store no longer lists exactly their jobs in their state.
// The minute's check reads only ids (an index scan): reading 100,000 queued jobs back
// with their specs every minute took the daemon about two seconds.
#pragma once

#include <map>

#include "fastgpu/core/result.h"
#include "fastgpu/store/state_store.h"

namespace fastgpu::engine {

// Whether the mirror holding `jobs` must read the store again now. `checked_at_s` is when
// it last read or checked; a check that finds the same ids moves it to `now_s`.
Result<bool> must_read_again(store::StateStore& store, store::JobState state,
                             const std::map<JobId, store::JobRecord>& jobs, bool stale,
                             double& checked_at_s, double now_s);

inline constexpr double kMirrorCheckSeconds = 60.0;

}  // namespace fastgpu::engine
