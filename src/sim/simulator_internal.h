// Pieces of the simulator shared by its source files; not part of the public API.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fastgpu/sched/job.h"
#include "fastgpu/sched/snapshot.h"
#include "fastgpu/sim/simulator.h"

namespace fastgpu::sim::detail {

// The largest per-GPU memory any job of the trace declares (0 when none does).
std::uint64_t largest_declared_memory(const Trace& trace);

// The scheduler's view of trace job `index`: id = index, submit time and deadline scaled,
// the trace duration as the oracle duration.
sched::Job to_sched_job(const TraceJob& source, std::size_t index, const SimOptions& options);

// Answers "can this job ever run on this cluster?" once per distinct (GPUs, bytes) shape.
class NodeFit {
 public:
  // multi_node: a job larger than any node may take several (SchedulerConfig::multi_node).
  NodeFit(const std::vector<sched::GpuState>& gpus, bool multi_node);
  // nullopt when the job can run on some node; else why it never can.
  std::optional<std::string> why_never_runs(const TraceJob& source, const sched::Job& job);

 private:
  const std::vector<sched::GpuState>* node_for(int gpus, Bytes bytes) const;
  std::string reject_reason(const sched::Job& job) const;

  std::vector<std::vector<sched::GpuState>> nodes_;  // GPUs grouped by node
  std::vector<sched::GpuState> all_;                 // every GPU, for multi-node jobs
  bool multi_node_ = false;
  std::map<std::pair<int, Bytes>, const std::vector<sched::GpuState>*> memo_;
};

}  // namespace fastgpu::sim::detail
