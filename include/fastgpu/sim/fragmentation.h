// GPU fragmentation as FGD defines it (Weng et al., "Beware of Fragmentation", ATC'23).
//
// A node's free GPU capacity is a *fragment* for a task when that task cannot use it:
// - the task asks for no GPU (CPU-only): all of the node's free GPU capacity;
// - the node cannot take the task at all (GPU model not allowed, too few GPUs with enough
//   free capacity, or too little CPU left): all of the node's free GPU capacity;
// - the task fits: the free capacity of each GPU with less free than the task asks of one
//   GPU (a shared 0.5-GPU task cannot use a GPU with 0.3 left; a whole-GPU task cannot
//   use any partly used GPU).
// The node's fragmentation for a *target workload* is the expected fragment over the
// workload's task shapes weighted by how often each occurs: F_n = sum_m p_m F_n(m). The
// cluster's is the sum over nodes. Units: milli-GPU (1000 = one GPU). FGD places each task
// where this expectation grows least ("fragmentation gradient descent").
//
// The target workload follows FGD's simulator: every task's shape (CPU, milli-GPU per GPU,
// GPU count, allowed models) counted once, CPU-only tasks included, and the most popular
// shapes kept until they cover `popularity` (95%) of the tasks, then renormalized.
// Thread-safety: reentrant; plain values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fastgpu/sim/trace.h"

namespace fastgpu::sim {

inline constexpr std::int64_t kMilliPerGpu = 1000;

// What one task asks of a node.
struct TaskShape {
  std::int64_t cpu_milli = 0;
  std::int64_t memory_mib = 0;  // host memory; checked for fit, not part of the shape key
  std::int64_t gpu_milli = 0;   // per GPU, 1..1000; 0 for a CPU-only task
  int gpu_count = 0;
  std::string models;  // allowed GPU models joined by '|'; "" = any

  std::int64_t total_gpu_milli() const { return gpu_milli * gpu_count; }
  // Shapes are equal for the target workload when CPU, GPU share, count and models match.
  bool same_kind(const TaskShape& other) const {
    return cpu_milli == other.cpu_milli && gpu_milli == other.gpu_milli &&
           gpu_count == other.gpu_count && models == other.models;
  }
};

// The shape of a trace task, as FGD's simulator reads it: milli-GPU per GPU for a single
// GPU task (values above 1000 already capped by the reader), 1000 for multi-GPU tasks,
// 0 for CPU-only tasks.
TaskShape shape_of(const TraceJob& job);

// One node's free resources.
struct NodeState {
  std::string model;                   // GPU model; "" for a CPU-only node
  std::int64_t cpu_left = 0;           // millicores
  std::int64_t memory_left_mib = 0;    // host memory
  std::vector<std::int64_t> gpu_left;  // free milli-GPU of each GPU, 0..1000

  std::int64_t gpu_left_total() const;
  int fully_free_gpus() const;
};

// True when the task's model list allows the node's GPU model (always for CPU-only tasks
// and for tasks without a model list).
bool model_allowed(const NodeState& node, const TaskShape& task);
// True when the task fits the node now: model, CPU, memory, and enough GPUs with at least
// task.gpu_milli free each.
bool fits(const NodeState& node, const TaskShape& task);

struct TypicalTask {
  TaskShape shape;
  double weight = 0;  // probability in the target workload; weights sum to 1
};

// The target workload of `jobs` (see the file comment). `popularity` in (0, 1].
std::vector<TypicalTask> typical_tasks(const std::vector<TraceJob>& jobs, double popularity = 0.95);

// F_n(m): milli-GPU of `node` that task `task` cannot use (see the file comment).
std::int64_t fragment_for(const NodeState& node, const TaskShape& task);
// F_n = sum_m p_m F_n(m), in milli-GPU.
double node_fragmentation(const NodeState& node, const std::vector<TypicalTask>& workload);

}  // namespace fastgpu::sim
