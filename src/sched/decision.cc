#include "fastgpu/sched/decision.h"

namespace fastgpu::sched {

namespace {

std::string gpu_list(const std::vector<int>& gpus) {
  std::string text;
  for (int gpu : gpus) text += (text.empty() ? "" : ",") + std::to_string(gpu);
  return text;
}

std::string describe(const Start& start) {
  if (start.gpus.empty()) return "start job " + to_string(start.job) + " (no gpu)";
  return "start job " + to_string(start.job) + " on gpu " + gpu_list(start.gpus) + " (" +
         format_bytes_exact(start.bytes_per_gpu) + "/gpu)";
}

std::string describe(const Preempt& preempt) {
  return "preempt job " + to_string(preempt.job) + ": " + preempt.reason;
}

std::string describe(const Move& move) {
  return "move job " + to_string(move.job) + " from gpu " + gpu_list(move.from) + " to gpu " +
         gpu_list(move.to) + ": " + move.reason;
}

std::string describe(const MemoryAction& action) {
  return std::string("memory ") + memory_action_name(action.action) + " job " +
         to_string(action.job) + ": " + action.reason;
}

}  // namespace

const char* memory_action_name(MemoryActionKind kind) {
  switch (kind) {
    case MemoryActionKind::kWarn: return "warn";
    case MemoryActionKind::kRequeue: return "requeue";
    case MemoryActionKind::kKill: return "kill";
  }
  return "unknown";
}

std::string to_string(const Decision& decision) {
  return std::visit([](const auto& d) { return describe(d); }, decision);
}

}  // namespace fastgpu::sched
