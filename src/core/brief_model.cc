#include "fastgpu/core/brief_model.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

namespace fastgpu::model {
namespace {

struct FieldRule {
  std::string_view symbol;
  double low;
  bool low_inclusive;
  double high;
  std::string_view fix;
};

// Indexed by ModelField; the order must match the enum.
constexpr FieldRule kFieldRules[] = {
    {"p", 0, true, HUGE_VAL, "give an allocation weight p >= 0 (e.g. 0.6)"},
    {"u", 0, true, 1, "give a utilization share u between 0 and 1 (e.g. 0.6)"},
    {"r", 0, false, 1, "give a utilization cap r > 0 and <= 1 (e.g. 0.8)"},
    {"m", 0, true, HUGE_VAL, "give a memory size >= 0 (e.g. 100MB)"},
    {"C", 0, false, HUGE_VAL, "give a time limit > 0 (e.g. 10s)"},
    {"L", 0, true, HUGE_VAL, "give a load L >= 0 (e.g. 0.6)"},
    {"P", 0, true, HUGE_VAL, "give a priority P >= 0 (e.g. 1)"},
};

const FieldRule& rule_for(ModelField field) { return kFieldRules[static_cast<std::size_t>(field)]; }

Status check_optional(ModelField field, const std::optional<double>& value) {
  return value ? check_value(field, *value) : Status{};
}

Status check_task(const ModelTask& task, std::size_t index, std::size_t gpu_count) {
  const std::string who = fmt::format("task {} ('{}')", index + 1, task.name);
  const Status status = [&]() -> Status {
    FASTGPU_RETURN_IF_ERROR(check_value(ModelField::kUtilizationShare, task.utilization_share));
    FASTGPU_RETURN_IF_ERROR(check_value(ModelField::kUtilizationCap, task.utilization_cap));
    FASTGPU_RETURN_IF_ERROR(check_optional(ModelField::kMemory, task.memory_bytes));
    FASTGPU_RETURN_IF_ERROR(check_optional(ModelField::kTimeLimit, task.time_limit_seconds));
    FASTGPU_RETURN_IF_ERROR(check_value(ModelField::kLoad, task.load));
    return check_value(ModelField::kPriority, task.priority);
  }();
  if (!status.ok()) return status.with_context(who);
  if (task.gpu && *task.gpu >= gpu_count) {
    return invalid_argument(
        fmt::format("{} is on GPU index {}, but the table has {} GPUs", who, *task.gpu, gpu_count));
  }
  return {};
}

template <typename Item>
Status check_unique_names(const std::vector<Item>& items, std::string_view kind) {
  std::set<std::string_view> seen;
  for (const Item& item : items) {
    if (!seen.insert(item.name).second) {
      return invalid_argument(fmt::format("{} name '{}' appears twice; give each {} its own name",
                                          kind, item.name, kind));
    }
  }
  return {};
}

Status check_placement_is_all_or_none(const TaskTable& table) {
  const auto placed = std::count_if(table.tasks.begin(), table.tasks.end(),
                                    [](const ModelTask& task) { return task.gpu.has_value(); });
  if (placed == 0 || static_cast<std::size_t>(placed) == table.tasks.size()) return {};
  return invalid_argument(
      "some tasks name a GPU and some do not; name a GPU for every task, or for none (then "
      "every task counts on every GPU, as in the brief's example)");
}

Result<TaskFigures> evaluate_task(const TaskTable& table, std::size_t index,
                                  double uncapped_time_seconds) {
  const ModelTask& task = table.tasks[index];
  TaskFigures out;
  out.occupancy = task_occupancy(table, index);
  out.estimated_time_seconds = uncapped_time_seconds;
  if (task.time_limit_seconds && *task.time_limit_seconds < uncapped_time_seconds) {
    out.estimated_time_seconds = *task.time_limit_seconds;
    out.capped_by_time_limit = true;
  }
  if (!task.memory_bytes || !task.time_limit_seconds) return out;
  const Result<double> memory =
      memory_estimate(*task.memory_bytes, *task.time_limit_seconds, out.occupancy);
  if (!memory.ok()) {
    return memory.status().with_context(fmt::format("task {} ('{}')", index + 1, task.name));
  }
  out.memory_bytes = *memory;
  return out;
}

constexpr std::string_view kTooLarge = "is too large to compute (above 1.8e308)";

// Every input is finite, but sums and products of large ones need not be: LB_i of L = 1e200
// and P = 1e200 was printed as inf, and as null in --json, which says "not given".
Status check_finite(const TaskTable& table, const ModelFigures& figures) {
  for (std::size_t i = 0; i < figures.gpus.size(); ++i) {
    const GpuFigures& gpu = figures.gpus[i];
    if (std::isfinite(gpu.load_value) && std::isfinite(gpu.load_value_unit_priority)) continue;
    return invalid_argument(fmt::format(
        "GPU {} ('{}'): LB_i = sum L_j * P_j {}; give its tasks smaller loads L or priorities P",
        i + 1, table.gpus[i].name, kTooLarge));
  }
  for (std::size_t j = 0; j < figures.tasks.size(); ++j) {
    const TaskFigures& task = figures.tasks[j];
    const std::string who = fmt::format("task {} ('{}')", j + 1, table.tasks[j].name);
    if (!std::isfinite(task.estimated_time_seconds)) {
      return invalid_argument(
          fmt::format("{}: T_j = sum p_i * R_i {}; give the GPUs smaller allocation weights p, "
                      "or the task a time limit C",
                      who, kTooLarge));
    }
    if (task.memory_bytes && !std::isfinite(*task.memory_bytes)) {
      return invalid_argument(fmt::format(
          "{}: M_j = m_j * C_j / R_j {}; give it a smaller m or C, or a larger utilization "
          "share u",
          who, kTooLarge));
    }
  }
  return {};
}

}  // namespace

std::string_view field_symbol(ModelField field) { return rule_for(field).symbol; }

Status check_value(ModelField field, double value) {
  const FieldRule& rule = rule_for(field);
  const bool above_low = rule.low_inclusive ? value >= rule.low : value > rule.low;
  if (std::isfinite(value) && above_low && value <= rule.high) return {};
  return invalid_argument(fmt::format("{} = {} is out of range; {}", rule.symbol, value, rule.fix));
}

double occupancy(std::span<const OccupancyTerm> tasks_on_gpu) {
  double sum = 0;
  for (const OccupancyTerm& term : tasks_on_gpu) {
    sum += term.utilization_share * term.utilization_cap;
  }
  return sum;
}

double load_value(std::span<const LoadTerm> tasks_on_gpu) {
  double sum = 0;
  for (const LoadTerm& term : tasks_on_gpu) sum += term.load * term.priority;
  return sum;
}

Result<double> estimated_time(std::span<const double> allocation_weights,
                              std::span<const double> occupancies,
                              std::optional<double> time_limit_seconds) {
  if (allocation_weights.size() != occupancies.size()) {
    return invalid_argument(fmt::format(
        "T_j needs one allocation weight per GPU: got {} weights for {} GPUs; give p_i for "
        "every GPU",
        allocation_weights.size(), occupancies.size()));
  }
  double weighted = 0;
  for (std::size_t i = 0; i < occupancies.size(); ++i) {
    weighted += allocation_weights[i] * occupancies[i];
  }
  if (!time_limit_seconds) return weighted;
  return std::min(weighted, *time_limit_seconds);
}

Result<double> memory_estimate(double memory_bytes, double time_limit_seconds,
                               double occupancy_of_task) {
  FASTGPU_RETURN_IF_ERROR(check_value(ModelField::kMemory, memory_bytes));
  FASTGPU_RETURN_IF_ERROR(check_value(ModelField::kTimeLimit, time_limit_seconds));
  if (!std::isfinite(occupancy_of_task) || occupancy_of_task <= 0) {
    return invalid_argument(fmt::format(
        "R_j = {}: M_j = m_j * C_j / R_j divides by the occupancy of the task's GPU, which "
        "must be > 0; give that GPU's tasks a utilization share u > 0",
        occupancy_of_task));
  }
  return memory_bytes * time_limit_seconds / occupancy_of_task;
}

Status validate(const TaskTable& table) {
  for (std::size_t i = 0; i < table.gpus.size(); ++i) {
    const Status status =
        check_value(ModelField::kAllocationWeight, table.gpus[i].allocation_weight);
    if (!status.ok()) {
      return status.with_context(fmt::format("GPU {} ('{}')", i + 1, table.gpus[i].name));
    }
  }
  for (std::size_t j = 0; j < table.tasks.size(); ++j) {
    FASTGPU_RETURN_IF_ERROR(check_task(table.tasks[j], j, table.gpus.size()));
  }
  FASTGPU_RETURN_IF_ERROR(check_unique_names(table.gpus, "GPU"));
  FASTGPU_RETURN_IF_ERROR(check_unique_names(table.tasks, "task"));
  return check_placement_is_all_or_none(table);
}

bool task_is_on_gpu(const TaskTable& table, std::size_t task, std::size_t gpu) {
  const std::optional<std::size_t>& placed = table.tasks[task].gpu;
  return !placed || *placed == gpu;
}

double gpu_occupancy(const TaskTable& table, std::size_t gpu) {
  std::vector<OccupancyTerm> terms;
  for (std::size_t j = 0; j < table.tasks.size(); ++j) {
    if (!task_is_on_gpu(table, j, gpu)) continue;
    terms.push_back({table.tasks[j].utilization_share, table.tasks[j].utilization_cap});
  }
  return occupancy(terms);
}

double gpu_load_value(const TaskTable& table, std::size_t gpu, bool unit_priority) {
  std::vector<LoadTerm> terms;
  for (std::size_t j = 0; j < table.tasks.size(); ++j) {
    if (!task_is_on_gpu(table, j, gpu)) continue;
    terms.push_back({table.tasks[j].load, unit_priority ? 1.0 : table.tasks[j].priority});
  }
  return load_value(terms);
}

double task_occupancy(const TaskTable& table, std::size_t task) {
  // An unplaced task is on every GPU, and then so is every other task: all R_i are equal.
  return gpu_occupancy(table, table.tasks[task].gpu.value_or(0));
}

Result<ModelFigures> evaluate(const TaskTable& table) {
  FASTGPU_RETURN_IF_ERROR(validate(table));
  if (table.gpus.empty() || table.tasks.empty()) {
    return invalid_argument("the model needs at least one GPU and one task; add a row to each");
  }
  ModelFigures figures;
  std::vector<double> weights;
  std::vector<double> occupancies;
  for (std::size_t i = 0; i < table.gpus.size(); ++i) {
    figures.gpus.push_back(
        {gpu_occupancy(table, i), gpu_load_value(table, i, false), gpu_load_value(table, i, true)});
    weights.push_back(table.gpus[i].allocation_weight);
    occupancies.push_back(figures.gpus.back().occupancy);
  }
  // Σ_i p_i·R_i is the same for every task; only the cap C_j differs.
  const Result<double> uncapped_time = estimated_time(weights, occupancies, std::nullopt);
  FASTGPU_RETURN_IF_ERROR(uncapped_time.status());
  for (std::size_t j = 0; j < table.tasks.size(); ++j) {
    Result<TaskFigures> task = evaluate_task(table, j, *uncapped_time);
    FASTGPU_RETURN_IF_ERROR(task.status());
    figures.tasks.push_back(*task);
  }
  FASTGPU_RETURN_IF_ERROR(check_finite(table, figures));
  return figures;
}

}  // namespace fastgpu::model
