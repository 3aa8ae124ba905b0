#include "fastgpu/core/brief_model.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace fastgpu::model {
namespace {

using ::testing::HasSubstr;

constexpr double kExact = 1e-9;  // the brief's figures are exact decimal arithmetic

// The brief's worked example, as DESIGN.md section 6 gives it: 4 tasks, 2 GPUs, no task
// placed on a particular GPU (so every task counts on both), the table's priorities.
TaskTable brief_example() {
  TaskTable table;
  table.gpus = {{"gpu1", 0.6}, {"gpu2", 0.4}};
  const double u[] = {0.6, 0.4, 0.5, 0.3};
  for (int j = 0; j < 4; ++j) {
    ModelTask task;
    task.name = "t" + std::to_string(j + 1);
    task.utilization_share = u[j];
    task.utilization_cap = 0.8;
    task.load = u[j];  // the brief's L equals its u
    task.priority = j + 1;
    table.tasks.push_back(task);
  }
  table.tasks[0].memory_bytes = 100e6;  // 100 MB
  table.tasks[0].memory_unit = "MB";
  table.tasks[0].memory_unit_bytes = 1e6;
  table.tasks[0].time_limit_seconds = 10;
  return table;
}

TEST(BriefModelFormulas, OccupancySumsUTimesR) {
  const std::vector<OccupancyTerm> terms = {{0.6, 0.8}, {0.4, 0.8}, {0.5, 0.8}, {0.3, 0.8}};
  EXPECT_NEAR(occupancy(terms), 1.44, kExact);
  EXPECT_EQ(occupancy({}), 0.0);
}

TEST(BriefModelFormulas, LoadValueSumsLoadTimesPriority) {
  const std::vector<LoadTerm> table_priorities = {{0.6, 1}, {0.4, 2}, {0.5, 3}, {0.3, 4}};
  const std::vector<LoadTerm> unit_priorities = {{0.6, 1}, {0.4, 1}, {0.5, 1}, {0.3, 1}};
  EXPECT_NEAR(load_value(table_priorities), 4.1, kExact);
  EXPECT_NEAR(load_value(unit_priorities), 1.8, kExact);
}

TEST(BriefModelFormulas, EstimatedTimeIsWeightedOccupancyCappedByTheLimit) {
  const std::vector<double> weights = {0.6, 0.4};
  const std::vector<double> occupancies = {1.44, 1.44};
  EXPECT_NEAR(*estimated_time(weights, occupancies, 10.0), 1.44, kExact);
  EXPECT_NEAR(*estimated_time(weights, occupancies, 1.0), 1.0, kExact);
  EXPECT_NEAR(*estimated_time(weights, occupancies, std::nullopt), 1.44, kExact);
  const Result<double> mismatched = estimated_time(weights, std::vector<double>{1.44}, 10.0);
  ASSERT_FALSE(mismatched.ok());
  EXPECT_THAT(mismatched.status().message(), HasSubstr("2 weights for 1 GPUs"));
}

TEST(BriefModelFormulas, MemoryIsMTimesCOverR) {
  EXPECT_NEAR(*memory_estimate(100e6, 10, 1.44) / 1e6, 1000.0 / 1.44, kExact);
  const Result<double> zero = memory_estimate(100e6, 10, 0);
  ASSERT_FALSE(zero.ok());
  EXPECT_THAT(zero.status().message(), HasSubstr("R_j = 0"));
  EXPECT_FALSE(memory_estimate(-1, 10, 1.44).ok());
  EXPECT_FALSE(memory_estimate(100, 0, 1.44).ok());
}

TEST(BriefModelExample, ReproducesTheBriefsFigures) {
  const Result<ModelFigures> figures = evaluate(brief_example());
  ASSERT_TRUE(figures.ok()) << figures.status().to_string();
  ASSERT_EQ(figures->gpus.size(), 2u);
  for (const GpuFigures& gpu : figures->gpus) {
    EXPECT_NEAR(gpu.occupancy, 1.44, kExact);                // R_1 = R_2 = all four tasks' u*r
    EXPECT_NEAR(gpu.load_value, 4.1, kExact);                // the table's P = (1, 2, 3, 4)
    EXPECT_NEAR(gpu.load_value_unit_priority, 1.8, kExact);  // the brief's arithmetic, P = 1
  }
  const TaskFigures& t1 = figures->tasks[0];
  EXPECT_NEAR(t1.occupancy, 1.44, kExact);
  EXPECT_NEAR(t1.estimated_time_seconds, 1.44, kExact);  // min(0.6*1.44 + 0.4*1.44, 10)
  EXPECT_FALSE(t1.capped_by_time_limit);
  ASSERT_TRUE(t1.memory_bytes.has_value());
  EXPECT_NEAR(*t1.memory_bytes / 1e6, 694.444444444444, kExact);  // 100 MB * 10 s / 1.44
}

TEST(BriefModelExample, TasksWithoutMemoryOrLimitGetTimeButNoMemory) {
  const Result<ModelFigures> figures = evaluate(brief_example());
  ASSERT_TRUE(figures.ok());
  for (std::size_t j = 1; j < 4; ++j) {
    EXPECT_NEAR(figures->tasks[j].estimated_time_seconds, 1.44, kExact);
    EXPECT_FALSE(figures->tasks[j].memory_bytes.has_value());
  }
}

// Hand-computed: three GPUs, tasks placed on GPUs, one time limit that caps T_j, one idle GPU.
//   R_a = 1.0*0.5 + 0.25*1.0 = 0.75   R_b = 0.5*0.5 = 0.25   R_c = 0
//   sum p*R = 0.5*0.75 + 0.3*0.25 + 0.2*0 = 0.45
//   T_x = min(0.45, 100) = 0.45   T_y = min(0.45, 0.25) = 0.25   T_z = min(0.45, 60) = 0.45
//   M_x = 3000*100/0.75 = 400000   M_y = 1000*0.25/0.75 = 333.33...   M_z = 3e6*60/0.25 = 7.2e8
//   LB_a = 2*3 + 1*2 = 8 (P=1: 3)   LB_b = 4*0.5 = 2 (P=1: 4)   LB_c = 0
TaskTable placed_table() {
  TaskTable table;
  table.gpus = {{"a", 0.5}, {"b", 0.3}, {"c", 0.2}};
  table.tasks = {
      {"x", 1.0, 0.5, 3000.0, "B", 1, 100.0, 2, 3, 0},
      {"y", 0.25, 1.0, 1000.0, "B", 1, 0.25, 1, 2, 0},
      {"z", 0.5, 0.5, 3e6, "B", 1, 60.0, 4, 0.5, 1},
  };
  return table;
}

TEST(BriefModelPlaced, SumsOnlyEachGpusOwnTasks) {
  const Result<ModelFigures> figures = evaluate(placed_table());
  ASSERT_TRUE(figures.ok()) << figures.status().to_string();
  const std::vector<double> occupancy = {0.75, 0.25, 0};
  const std::vector<double> load = {8, 2, 0};
  const std::vector<double> load_unit = {3, 4, 0};
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_NEAR(figures->gpus[i].occupancy, occupancy[i], kExact) << "GPU " << i;
    EXPECT_NEAR(figures->gpus[i].load_value, load[i], kExact) << "GPU " << i;
    EXPECT_NEAR(figures->gpus[i].load_value_unit_priority, load_unit[i], kExact) << "GPU " << i;
  }
}

TEST(BriefModelPlaced, TimeAndMemoryUseTheTasksOwnGpu) {
  const Result<ModelFigures> figures = evaluate(placed_table());
  ASSERT_TRUE(figures.ok());
  const auto& tasks = figures->tasks;
  EXPECT_NEAR(tasks[0].estimated_time_seconds, 0.45, kExact);
  EXPECT_NEAR(tasks[1].estimated_time_seconds, 0.25, kExact);
  EXPECT_TRUE(tasks[1].capped_by_time_limit);
  EXPECT_NEAR(tasks[2].estimated_time_seconds, 0.45, kExact);
  EXPECT_NEAR(tasks[2].occupancy, 0.25, kExact);
  EXPECT_NEAR(*tasks[0].memory_bytes, 400000, 1e-6);
  EXPECT_NEAR(*tasks[1].memory_bytes, 1000.0 / 3.0, kExact);
  EXPECT_NEAR(*tasks[2].memory_bytes, 7.2e8, 1e-3);
}

TEST(BriefModelValidation, RejectsOutOfRangeValuesNamingTaskAndField) {
  TaskTable table = brief_example();
  table.tasks[1].utilization_share = -0.1;
  Status status = validate(table);
  EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("task 2 ('t2')"));
  EXPECT_THAT(status.message(), HasSubstr("u = -0.1 is out of range"));

  table = brief_example();
  table.tasks[2].utilization_cap = 0;
  EXPECT_THAT(validate(table).message(), HasSubstr("r = 0 is out of range"));

  table = brief_example();
  table.gpus[1].allocation_weight = -1;
  EXPECT_THAT(validate(table).message(), HasSubstr("GPU 2 ('gpu2')"));
}

TEST(BriefModelValidation, RejectsMixedPlacementAndDuplicateNames) {
  TaskTable table = brief_example();
  table.tasks[0].gpu = 0;
  EXPECT_THAT(validate(table).message(), HasSubstr("name a GPU for every task, or for none"));

  table = brief_example();
  table.tasks[3].name = "t1";
  EXPECT_THAT(validate(table).message(), HasSubstr("task name 't1' appears twice"));
}

TEST(BriefModelValidation, MemoryNeedsANonZeroOccupancy) {
  TaskTable table = placed_table();
  table.tasks[2].utilization_share = 0;  // z is alone on GPU b: R_b = 0, and z asks for M_z
  const Result<ModelFigures> figures = evaluate(table);
  ASSERT_FALSE(figures.ok());
  EXPECT_THAT(figures.status().message(), HasSubstr("task 3 ('z')"));
  EXPECT_THAT(figures.status().message(), HasSubstr("R_j = 0"));
}

// Finite inputs whose sums or products are not are refused, naming the figure and the fix;
// LB_i was inf in the table and null (read: not given) in --json.
TEST(BriefModelValidation, FiguresTooLargeToComputeAreRefused) {
  TaskTable table = brief_example();
  table.tasks[0].load = 1e200;
  table.tasks[0].priority = 1e200;
  EXPECT_EQ(evaluate(table).status().message(),
            "GPU 1 ('gpu1'): LB_i = sum L_j * P_j is too large to compute (above 1.8e308); give "
            "its tasks smaller loads L or priorities P");

  table = brief_example();
  table.gpus[0].allocation_weight = 1e308;
  table.gpus[1].allocation_weight = 1e308;
  // t1 has a limit (T_1 = C_1 = 10 s); t2 has none, so its T_j is the overflowing sum.
  EXPECT_EQ(evaluate(table).status().message(),
            "task 2 ('t2'): T_j = sum p_i * R_i is too large to compute (above 1.8e308); give "
            "the GPUs smaller allocation weights p, or the task a time limit C");

  table = brief_example();
  for (ModelTask& task : table.tasks) task.utilization_share = 1e-310;
  EXPECT_THAT(evaluate(table).status().message(),
              HasSubstr("task 1 ('t1'): M_j = m_j * C_j / R_j is too large to compute"));
}

TEST(BriefModelValidation, NeedsAGpuAndATask) {
  TaskTable table = brief_example();
  table.tasks.clear();
  EXPECT_FALSE(evaluate(table).ok());
  table = brief_example();
  table.gpus.clear();
  EXPECT_FALSE(evaluate(table).ok());
}

}  // namespace
}  // namespace fastgpu::model
