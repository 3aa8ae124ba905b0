// The charts of `fastgpu run FILE --chart`: the batch's jobs and GPUs over its time.
#pragma once

#include <cstdint>
#include <vector>

#include "fastgpu/sim/chart.h"
#include "fastgpu/store/state_store.h"

namespace fastgpu::cli {

// Two charts over the time since the batch's first submission (in seconds, minutes or hours,
// by its length): the jobs running and waiting, and the GPUs allocated (each running job's
// GPUs times its compute share, as the report's GPU utilization counts them) against the
// GPUs there are (`cluster_gpus`; none drawn when 0). A job's latest run is drawn (a job
// preempted and run again shows waiting until its last start). Empty for a batch that has
// no job.
std::vector<sim::LineChart> batch_charts(const std::vector<store::JobRecord>& jobs,
                                         std::uint32_t cluster_gpus);

}  // namespace fastgpu::cli
