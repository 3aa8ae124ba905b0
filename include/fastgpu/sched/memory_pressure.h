// Memory pressure: a GPU whose measured memory use exceeds what its ledger allows
// (driver-reserved + foreign + our jobs' declared bytes + a tolerance). The job named is
// the one overrunning its own declaration the most, by its measured use; when no job has a
// measurement and exactly one of ours runs on the GPU, that one. The action follows
// SchedulerConfig::memory_action: warn; requeue (only a restartable job, otherwise warn);
// kill. A job on several pressured GPUs is named once.
#pragma once

#include <vector>

#include "fastgpu/sched/config.h"
#include "fastgpu/sched/decision.h"
#include "fastgpu/sched/snapshot.h"

namespace fastgpu::sched {

std::vector<MemoryAction> memory_pressure_actions(const Snapshot& snapshot,
                                                  const SchedulerConfig& config);

}  // namespace fastgpu::sched
