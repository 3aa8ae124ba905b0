#include "fastgpu/sim/fragmentation.h"

#include <algorithm>
#include <map>
#include <string_view>
#include <tuple>

namespace fastgpu::sim {

TaskShape shape_of(const TraceJob& job) {
  TaskShape shape;
  shape.cpu_milli = job.cpu_milli.value_or(0);
  shape.memory_mib = static_cast<std::int64_t>(job.memory_bytes.value_or(0) >> 20);
  shape.gpu_count = job.gpu_count;
  if (job.gpu_count == 1) {
    shape.gpu_milli = std::clamp<std::int64_t>(job.gpu_milli, 1, kMilliPerGpu);
  } else if (job.gpu_count > 1) {
    shape.gpu_milli = kMilliPerGpu;  // multi-GPU tasks take whole GPUs
  }
  for (const std::string& model : job.gpu_models) {
    shape.models += (shape.models.empty() ? "" : "|") + model;
  }
  return shape;
}

std::int64_t NodeState::gpu_left_total() const {
  std::int64_t total = 0;
  for (std::int64_t left : gpu_left) total += left;
  return total;
}

int NodeState::fully_free_gpus() const {
  return static_cast<int>(std::count(gpu_left.begin(), gpu_left.end(), kMilliPerGpu));
}

bool model_allowed(const NodeState& node, const TaskShape& task) {
  if (task.gpu_count == 0 || task.models.empty()) return true;
  std::string_view rest = task.models;
  while (true) {
    const std::size_t bar = rest.find('|');
    if (rest.substr(0, bar) == node.model) return true;
    if (bar == std::string_view::npos) return false;
    rest.remove_prefix(bar + 1);
  }
}

namespace {

// True when `count` GPUs of the node each have at least `milli` free.
bool enough_gpus(const NodeState& node, std::int64_t milli, int count) {
  if (count <= 0) return true;
  int found = 0;
  for (std::int64_t left : node.gpu_left) {
    if (left >= milli && ++found >= count) return true;
  }
  return false;
}

}  // namespace

bool fits(const NodeState& node, const TaskShape& task) {
  return model_allowed(node, task) && node.cpu_left >= task.cpu_milli &&
         node.memory_left_mib >= task.memory_mib &&
         enough_gpus(node, task.gpu_milli, task.gpu_count);
}

std::int64_t fragment_for(const NodeState& node, const TaskShape& task) {
  const std::int64_t idle = node.gpu_left_total();
  // CPU-only tasks use no GPU; a node the task cannot take leaves all of it unusable.
  // Memory is left out on purpose: FGD's measure looks at CPU and GPU only.
  if (task.gpu_milli == 0 || !model_allowed(node, task) || node.cpu_left < task.cpu_milli ||
      !enough_gpus(node, task.gpu_milli, task.gpu_count)) {
    return idle;
  }
  std::int64_t fragment = 0;
  for (std::int64_t left : node.gpu_left) {
    if (left < task.gpu_milli) fragment += left;
  }
  return fragment;
}

double node_fragmentation(const NodeState& node, const std::vector<TypicalTask>& workload) {
  if (node.gpu_left_total() == 0) return 0;
  double expected = 0;
  for (const TypicalTask& typical : workload) {
    expected += typical.weight * static_cast<double>(fragment_for(node, typical.shape));
  }
  return expected;
}

std::vector<TypicalTask> typical_tasks(const std::vector<TraceJob>& jobs, double popularity) {
  using Key = std::tuple<std::int64_t, std::int64_t, int, std::string>;  // cpu, milli, count
  std::map<Key, std::size_t> counts;
  std::map<Key, TaskShape> shapes;
  for (const TraceJob& job : jobs) {
    const TaskShape shape = shape_of(job);
    const Key key{shape.cpu_milli, shape.gpu_milli, shape.gpu_count, shape.models};
    ++counts[key];
    shapes.emplace(key, shape);
  }
  std::vector<std::pair<Key, std::size_t>> ranked(counts.begin(), counts.end());
  // Most frequent first; equal counts put the larger shape first, as FGD's simulator does
  // (a reversed ascending sort on count, then CPU, GPU share, count, models).
  std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    if (a.second != b.second) return a.second > b.second;
    return a.first > b.first;
  });
  const double total = static_cast<double>(jobs.size());
  std::vector<TypicalTask> out;
  double covered = 0;
  for (const auto& [key, count] : ranked) {
    if (covered >= popularity * total) break;
    covered += static_cast<double>(count);
    TaskShape shape = shapes.at(key);
    shape.memory_mib = 0;  // a typical shape stands for tasks with different memory
    out.push_back({std::move(shape), static_cast<double>(count)});
  }
  for (TypicalTask& typical : out) typical.weight /= covered;
  return out;
}

}  // namespace fastgpu::sim
