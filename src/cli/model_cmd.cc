// `fastgpu model FILE [--json]`: the product brief's four formulas for a task table.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/display_width.h"
#include "fastgpu/core/brief_model.h"

namespace fastgpu::cli {
namespace {

using model::ModelFigures;
using model::TaskTable;

struct ModelOptions {
  std::string file;
  bool json = false;
};

// Two decimals, trailing zeros dropped: 1.44, 1.8, 694.44, 10. --json keeps full precision.
// From 1e15 on, three significant digits (1.23e+20): a weight of 1e300 took 300 digits.
std::string figure(double value) {
  constexpr double kLongest = 1e15;
  if (std::fabs(value) >= kLongest) return fmt::format("{:.3g}", value);
  std::string text = fmt::format("{:.2f}", value);
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text == "-0" ? "0" : text;
}

std::string in_unit(double bytes, const model::ModelTask& task) {
  return figure(bytes / task.memory_unit_bytes) + " " + task.memory_unit;
}

bool any_task_placed(const TaskTable& table) {
  return std::any_of(table.tasks.begin(), table.tasks.end(),
                     [](const model::ModelTask& task) { return task.gpu.has_value(); });
}

std::string gpu_of(const TaskTable& table, const model::ModelTask& task) {
  return task.gpu ? table.gpus[*task.gpu].name : "all";
}

// Every column left-aligned, figures as names.
std::string aligned(const std::vector<std::vector<std::string>>& rows) {
  return aligned_columns(rows, std::numeric_limits<std::size_t>::max());
}

std::string gpu_rows(const TaskTable& table, const ModelFigures& figures) {
  std::vector<std::vector<std::string>> rows = {
      {"GPU", "p_i", "R_i = sum u*r", "LB_i (table P)", "LB_i (P = 1)"}};
  for (std::size_t i = 0; i < table.gpus.size(); ++i) {
    const model::GpuFigures& gpu = figures.gpus[i];
    rows.push_back({table.gpus[i].name, figure(table.gpus[i].allocation_weight),
                    figure(gpu.occupancy), figure(gpu.load_value),
                    figure(gpu.load_value_unit_priority)});
  }
  return aligned(rows);
}

std::string task_rows(const TaskTable& table, const ModelFigures& figures) {
  std::vector<std::vector<std::string>> rows = {
      {"task", "GPU", "R_j", "C_j", "T_j = min(sum p*R, C)", "m_j", "M_j = m*C/R"}};
  for (std::size_t j = 0; j < table.tasks.size(); ++j) {
    const model::ModelTask& task = table.tasks[j];
    const model::TaskFigures& out = figures.tasks[j];
    const std::string time =
        figure(out.estimated_time_seconds) + " s" + (out.capped_by_time_limit ? " (= C_j)" : "");
    rows.push_back({task.name, gpu_of(table, task), figure(out.occupancy),
                    task.time_limit_seconds ? figure(*task.time_limit_seconds) + " s" : "-", time,
                    task.memory_bytes ? in_unit(*task.memory_bytes, task) : "-",
                    out.memory_bytes ? in_unit(*out.memory_bytes, task) : "-"});
  }
  return aligned(rows);
}

// "1 GPU", "2 GPUs".
std::string counted(std::size_t count, const char* noun) {
  return fmt::format("{} {}{}", count, noun, count == 1 ? "" : "s");
}

void print_text(const ModelOptions& options, const TaskTable& table, const ModelFigures& figures) {
  std::string text = fmt::format(
      "Model {}: {}, {}; {}.\nFigures rounded to 2 decimals (--json: full "
      "precision).\n\n",
      options.file, counted(table.gpus.size(), "GPU"), counted(table.tasks.size(), "task"),
      any_task_placed(table) ? "each task counts on the GPU it names"
                             : "no task names a GPU, so every task counts on every GPU");
  text += gpu_rows(table, figures) + "\n" + task_rows(table, figures) + "\n";
  text +=
      "LB_i (table P) = sum L_j*P_j with the file's P column; LB_i (P = 1) = sum L_j, the\n"
      "brief's own arithmetic, which counts every task with priority 1. T_j and C_j in\n"
      "seconds; M_j in the unit m_j was given in.\n";
  std::fputs(text.c_str(), stdout);
}

nlohmann::ordered_json optional_json(const std::optional<double>& value) {
  return value ? nlohmann::ordered_json(*value) : nlohmann::ordered_json(nullptr);
}

nlohmann::ordered_json task_json(const TaskTable& table, std::size_t j,
                                 const ModelFigures& figures) {
  const model::ModelTask& task = table.tasks[j];
  const model::TaskFigures& out = figures.tasks[j];
  nlohmann::ordered_json json = {
      {"name", task.name},
      {"gpu", task.gpu ? nlohmann::ordered_json(table.gpus[*task.gpu].name)
                       : nlohmann::ordered_json(nullptr)},
      {"u", task.utilization_share},
      {"r", task.utilization_cap},
      {"L", task.load},
      {"P", task.priority},
      {"C_seconds", optional_json(task.time_limit_seconds)},
      {"m_bytes", optional_json(task.memory_bytes)},
      {"R", out.occupancy},
      {"T_seconds", out.estimated_time_seconds},
      {"T_capped_by_C", out.capped_by_time_limit},
      {"M_bytes", optional_json(out.memory_bytes)},
      {"M_unit", out.memory_bytes ? nlohmann::ordered_json(task.memory_unit)
                                  : nlohmann::ordered_json(nullptr)},
      {"M", out.memory_bytes ? nlohmann::ordered_json(*out.memory_bytes / task.memory_unit_bytes)
                             : nlohmann::ordered_json(nullptr)}};
  return json;
}

void print_json(const ModelOptions& options, const TaskTable& table, const ModelFigures& figures) {
  nlohmann::ordered_json json = {{"file", options.file},
                                 {"every_task_on_every_gpu", !any_task_placed(table)},
                                 {"gpus", nlohmann::ordered_json::array()},
                                 {"tasks", nlohmann::ordered_json::array()}};
  for (std::size_t i = 0; i < table.gpus.size(); ++i) {
    json["gpus"].push_back({{"name", table.gpus[i].name},
                            {"p", table.gpus[i].allocation_weight},
                            {"R", figures.gpus[i].occupancy},
                            {"LB", figures.gpus[i].load_value},
                            {"LB_priority_1", figures.gpus[i].load_value_unit_priority}});
  }
  for (std::size_t j = 0; j < table.tasks.size(); ++j) {
    json["tasks"].push_back(task_json(table, j, figures));
  }
  std::fputs((json.dump(2) + "\n").c_str(), stdout);
}

Status run_model(const ModelOptions& options) {
  const Result<TaskTable> table = model::load_task_table(options.file);
  FASTGPU_RETURN_IF_ERROR(table.status());
  const Result<ModelFigures> figures = model::evaluate(*table);
  if (!figures.ok()) return figures.status().with_context(options.file);
  if (options.json) {
    print_json(options, *table, *figures);
  } else {
    print_text(options, *table, *figures);
  }
  return {};
}

// Every failure here is the file's (missing, unreadable, malformed): the user can fix it.
int exit_code_for(const Status& status) {
  if (status.ok()) return kExitOk;
  std::fprintf(stderr, "fastgpu model: %s\n", status.message().c_str());
  return kExitFailure;
}

}  // namespace

void add_model_command(CLI::App& app, CommandOutcome& outcome) {
  auto options = std::make_shared<ModelOptions>();
  CLI::App* command = app.add_subcommand(
      "model",
      "Print the product brief's formulas (R_i, T_j, M_j, LB_i) for a task table; see "
      "docs/model.md");
  command->add_option("FILE", options->file, "model file (CSV), e.g. examples/seed-model.csv")
      ->required();
  command->add_flag("--json", options->json, "print the figures as JSON");
  command->callback(
      [options, &outcome] { outcome.exit_code = exit_code_for(run_model(*options)); });
}

}  // namespace fastgpu::cli
