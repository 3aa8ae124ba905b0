// How a run's outcome becomes a job state: the one table that maps exec::Outcome (and what
// the engine had asked of the job) to the state, exit code, signal and reason it ends with.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "fastgpu/core/resource_limits.h"
#include "fastgpu/exec/launcher.h"
#include "fastgpu/store/state_store.h"

namespace fastgpu::engine {

// Why the engine asked a running job to stop, if it did. The launcher only knows "cancel"
// or "preempt"; the engine remembers the finer reason until the run ends.
enum class StopIntent {
  kNone,
  kCancel,      // its user cancelled it
  kPreempt,     // the scheduler preempted or moved it, or memory pressure requeued it
  kMemoryKill,  // it exceeded its declared GPU memory and the policy is to kill
};

struct RunEnd {
  store::JobState state = store::JobState::kCompleted;
  std::optional<int> exit_code;
  std::optional<int> signal;
  std::string reason;
};

// Exited 0 -> COMPLETED; Exited n, Signaled, LaunchFailed, Lost -> FAILED; TimedOut ->
// TIMEOUT; Stopped -> CANCELLED or PREEMPTED. A job the engine asked to stop that then
// ends by a signal or a non-zero exit ends as asked (CANCELLED, PREEMPTED, or FAILED for
// the memory kill); one that exits 0 before the stop takes effect completed.
// cancelled_by: who cancelled the job (StopIntent::kCancel), as the reason names them
// ("ana", "uid 1000").
RunEnd run_end_of(const exec::Outcome& outcome, StopIntent intent,
                  std::optional<std::int64_t> time_limit_s,
                  const std::optional<std::string>& cancelled_by = std::nullopt);

// A run the kernel killed at one of its resource limits says which, after "killed by SIG...":
// SIGXCPU (the soft cpu limit) and SIGXFSZ (the file size limit) come only so, and SIGKILL
// does at the hard cpu limit, which is named when the job's CPU time (`usage`) reached it.
// `limits`: the job's as submitted (empty: the daemon's, unknown here; the job may also have
// set its own), so a value is said to be the submitted one. Only a FAILED end is changed.
void name_the_limit(RunEnd& end, const ResourceLimits& limits, const exec::Usage& usage);

// "SIGKILL" style name for a signal number, or "signal N".
std::string signal_name(int signal);

}  // namespace fastgpu::engine
