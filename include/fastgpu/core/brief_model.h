// The product brief's four formulas (DESIGN.md section 6), as pure functions.
//
//   occupancy of GPU i:    R_i  = Σ_j u_j · r_j            (over the tasks on GPU i)
//   estimated time of j:   T_j  = min(Σ_i p_i · R_i, C_j)  (over every GPU i)
//   memory of task j:      M_j  = m_j · C_j / R_j          (R_j: R_i of the GPU task j is on)
//   load value of GPU i:   LB_i = Σ_j L_j · P_j            (over the tasks on GPU i)
//
// Which tasks are "on GPU i": a task table may name a GPU for each task (then R_i and LB_i
// sum only that GPU's tasks) or name none (then every task counts on every GPU, which is
// how the brief's worked example reads: R_1 = R_2 = 0.6·0.8 + 0.4·0.8 + 0.5·0.8 + 0.3·0.8
// = 1.44, the u·r of all four tasks). Mixing the two is rejected, because R_j would then be
// ambiguous for an unplaced task.
//
// Units, as the brief uses them: u, r, p, L and P are plain numbers; C_j is in seconds;
// T_j is reported in seconds (the brief reads Σ_i p_i·R_i as seconds); m_j is in bytes and
// M_j = m_j·C_j/R_j is reported in bytes too (the brief writes 100 MB · 10 s / 1.44 as
// 694.44 MB). Callers that want the brief's MB divide by 10^6.
//
// Everything here is pure and thread-compatible: no I/O except load_task_table, no state.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fastgpu/core/result.h"

namespace fastgpu::model {

// ---- The formulas on plain numbers (what the scheduler calls) -----------------------------

// One task's contribution to R_i.
struct OccupancyTerm {
  double utilization_share = 0;  // u_j, 0..1
  double utilization_cap = 1;    // r_j, > 0 and <= 1
};

// One task's contribution to LB_i.
struct LoadTerm {
  double load = 0;      // L_j, >= 0
  double priority = 1;  // P_j, >= 0
};

// R_i = Σ u_j·r_j over the tasks on one GPU. An empty span gives 0.
double occupancy(std::span<const OccupancyTerm> tasks_on_gpu);

// LB_i = Σ L_j·P_j over the tasks on one GPU. An empty span gives 0.
double load_value(std::span<const LoadTerm> tasks_on_gpu);

// T_j = min(Σ_i p_i·R_i, C_j), in seconds. `time_limit_seconds` absent means no limit, so
// T_j = Σ_i p_i·R_i. Errors when the two spans differ in length.
Result<double> estimated_time(std::span<const double> allocation_weights,
                              std::span<const double> occupancies,
                              std::optional<double> time_limit_seconds);

// M_j = m_j·C_j/R_j, in the unit of m_j (bytes here). Errors when R_j <= 0 (the formula
// divides by it) or when an input is negative or not finite.
Result<double> memory_estimate(double memory_bytes, double time_limit_seconds,
                               double occupancy_of_task);

// ---- A task table: the brief's example and any other ------------------------------------

struct ModelGpu {
  std::string name;              // unique within the table, e.g. "gpu1"
  double allocation_weight = 0;  // p_i, >= 0
};

struct ModelTask {
  std::string name;                          // unique within the table, e.g. "t1"
  double utilization_share = 0;              // u_j, 0..1
  double utilization_cap = 1;                // r_j, > 0 and <= 1
  std::optional<double> memory_bytes;        // m_j, >= 0; absent: M_j is not computed
  std::string memory_unit = "B";             // the unit m_j was written in ("MB", "GiB", "B")
  double memory_unit_bytes = 1;              // bytes in one memory_unit
  std::optional<double> time_limit_seconds;  // C_j, > 0; absent: no limit and no M_j
  double load = 0;                           // L_j, >= 0
  double priority = 1;                       // P_j, >= 0
  std::optional<std::size_t> gpu;            // index into TaskTable::gpus; absent: all GPUs
};

struct TaskTable {
  std::vector<ModelGpu> gpus;
  std::vector<ModelTask> tasks;
};

// The numeric fields of a task table, by the brief's symbols.
enum class ModelField {
  kAllocationWeight,  // p_i, >= 0
  kUtilizationShare,  // u_j, 0..1
  kUtilizationCap,    // r_j, > 0 and <= 1
  kMemory,            // m_j in bytes, >= 0
  kTimeLimit,         // C_j in seconds, > 0
  kLoad,              // L_j, >= 0
  kPriority,          // P_j, >= 0
};

// The brief's symbol for a field: "p", "u", "r", "m", "C", "L", "P".
std::string_view field_symbol(ModelField field);

// Checks one value against its field's range (finite, and the bounds above). The message
// reads "u = -0.5 is out of range; give a utilization share u between 0 and 1".
Status check_value(ModelField field, double value);

// Checks every value against the ranges above, names unique, GPU indexes in range, and
// either every task or no task placed. Messages name the task or GPU, the field and the fix.
Status validate(const TaskTable& table);

// Whether task `task` counts on GPU `gpu` (placed there, or placed nowhere).
// REQUIRES: both indexes in range.
bool task_is_on_gpu(const TaskTable& table, std::size_t task, std::size_t gpu);

// R_i for GPU `gpu`. REQUIRES: validate(table).ok() and gpu < table.gpus.size().
double gpu_occupancy(const TaskTable& table, std::size_t gpu);

// LB_i for GPU `gpu`, with the table's priorities, or with P = 1 for every task when
// `unit_priority` (the brief's own arithmetic for LB_1). REQUIRES: as gpu_occupancy.
double gpu_load_value(const TaskTable& table, std::size_t gpu, bool unit_priority = false);

// R_j: the occupancy of the GPU task j is on. For a table that places no task every GPU
// holds every task, so all R_i are equal and R_j is that value.
// REQUIRES: validate(table).ok(), table.gpus non-empty, task < table.tasks.size().
double task_occupancy(const TaskTable& table, std::size_t task);

struct GpuFigures {
  double occupancy = 0;                 // R_i
  double load_value = 0;                // LB_i with the table's priorities P_j
  double load_value_unit_priority = 0;  // LB_i with P_j = 1 for every task
};

struct TaskFigures {
  double occupancy = 0;                // R_j
  double estimated_time_seconds = 0;   // T_j
  bool capped_by_time_limit = false;   // whether T_j = C_j (the limit was the smaller term)
  std::optional<double> memory_bytes;  // M_j; absent when m_j or C_j is absent
};

struct ModelFigures {
  std::vector<GpuFigures> gpus;    // same order as TaskTable::gpus
  std::vector<TaskFigures> tasks;  // same order as TaskTable::tasks
};

// All four formulas for a table. Errors: validate() fails, no GPU or no task, or R_j = 0
// for a task whose M_j is asked for (it has m_j and C_j).
Result<ModelFigures> evaluate(const TaskTable& table);

// ---- The task-table file (docs/model.md) ------------------------------------------------

// Parses a model file: CSV with two tables, each starting with its header row,
//   gpu,p                      one row per GPU
//   task,u,r,m,C,L,P[,gpu]     one row per task; m and C may be empty
// '#' starts a comment line; blank lines are ignored; cells are trimmed; no quoting.
// `file_name` only labels errors, which read "FILE:LINE:COLUMN: what is wrong; the fix".
Result<TaskTable> parse_task_table(std::string_view text, std::string_view file_name);

// Reads and parses a model file. Errors name the file (not found, unreadable, malformed).
Result<TaskTable> load_task_table(const std::filesystem::path& path);

}  // namespace fastgpu::model
