// What the scheduler decides. The engine applies decisions; the scheduler never acts.
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "fastgpu/core/units.h"
#include "fastgpu/sched/job.h"

namespace fastgpu::sched {

// Start a queued job on these GPUs, with this many declared bytes per GPU ("auto" already
// resolved). The engine sets the job's memory quota to bytes_per_gpu.
struct Start {
  JobId job;
  std::vector<int> gpus;
  Bytes bytes_per_gpu = 0;
};

// Signal a running restartable job and requeue it (its attained service is kept).
struct Preempt {
  JobId job;
  std::string reason;
};

// Move a running restartable job: preempt it, then start it on `to` (the ledger already
// holds room there for it in this round's decisions).
struct Move {
  JobId job;
  std::vector<int> from;
  std::vector<int> to;
  std::string reason;
};

enum class MemoryActionKind { kWarn, kRequeue, kKill };

// A GPU's measured memory exceeds what its ledger allows; `job` overruns its declaration.
struct MemoryAction {
  JobId job;
  MemoryActionKind action = MemoryActionKind::kWarn;
  std::string reason;
};

using Decision = std::variant<Start, Preempt, Move, MemoryAction>;

// One line per decision, stable for golden traces: "start job 3 on gpu 0,1 (20G/gpu)".
std::string to_string(const Decision& decision);
const char* memory_action_name(MemoryActionKind kind);

}  // namespace fastgpu::sched
