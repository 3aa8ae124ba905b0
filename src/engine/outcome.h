// How a run's outcome becomes a job state: the one table that maps exec::Outcome (and what
// the engine had asked of the job) to the state, exit code, signal and reason it ends with.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

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
// cancelled_by: the uid that cancelled the job (StopIntent::kCancel), named in the reason.
RunEnd run_end_of(const exec::Outcome& outcome, StopIntent intent,
                  std::optional<std::int64_t> time_limit_s,
                  std::optional<std::uint32_t> cancelled_by = std::nullopt);

// "SIGKILL" style name for a signal number, or "signal N".
std::string signal_name(int signal);

}  // namespace fastgpu::engine
