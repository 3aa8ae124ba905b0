#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "fastgpu/core/brief_model.h"
#include "fastgpu_test_paths.h"

namespace fastgpu::model {
namespace {

using ::testing::HasSubstr;

constexpr std::string_view kGpus = "gpu,p\ngpu1,0.6\ngpu2,0.4\n";

std::string error_of(std::string_view text) {
  const Result<TaskTable> table = parse_task_table(text, "f.csv");
  return table.ok() ? "(parsed)" : table.status().message();
}

TEST(BriefModelFile, ReadsTheShippedSeedExample) {
  const Result<TaskTable> table =
      load_task_table(std::string(FASTGPU_SOURCE_DIR) + "/examples/seed-model.csv");
  ASSERT_TRUE(table.ok()) << table.status().to_string();
  ASSERT_EQ(table->gpus.size(), 2u);
  ASSERT_EQ(table->tasks.size(), 4u);
  EXPECT_EQ(table->gpus[1].name, "gpu2");
  EXPECT_DOUBLE_EQ(table->gpus[0].allocation_weight, 0.6);
  const ModelTask& t1 = table->tasks[0];
  EXPECT_DOUBLE_EQ(*t1.memory_bytes, 100e6);  // "100MB" is decimal, as units.h reads it
  EXPECT_EQ(t1.memory_unit, "MB");
  EXPECT_DOUBLE_EQ(*t1.time_limit_seconds, 10);
  EXPECT_DOUBLE_EQ(table->tasks[3].priority, 4);
  EXPECT_FALSE(table->tasks[1].memory_bytes.has_value());
  EXPECT_FALSE(table->tasks[0].gpu.has_value());
}

TEST(BriefModelFile, ColumnsMayComeInAnyOrderAndNameAGpu) {
  const std::string text = std::string(kGpus) +
                           "task,gpu,P,L,C,m,r,u\n"
                           "a, gpu2 ,2,0.5,2h30m,1GiB,0.8,0.5\r\n"
                           "b,gpu1,1,1,,,1,1\n";
  const Result<TaskTable> table = parse_task_table(text, "f.csv");
  ASSERT_TRUE(table.ok()) << table.status().to_string();
  EXPECT_EQ(table->tasks[0].gpu, std::optional<std::size_t>(1));
  EXPECT_DOUBLE_EQ(*table->tasks[0].time_limit_seconds, 9000);
  EXPECT_DOUBLE_EQ(*table->tasks[0].memory_bytes, 1073741824.0);
  EXPECT_EQ(table->tasks[0].memory_unit, "GiB");
  EXPECT_DOUBLE_EQ(table->tasks[0].priority, 2);
}

TEST(BriefModelFile, NonNumericCellNamesLineAndColumn) {
  const std::string text = std::string(kGpus) + "task,u,r,m,C,L,P\nt1,0.6,high,,,0.6,1\n";
  EXPECT_THAT(error_of(text), HasSubstr("f.csv:5:8: column r: 'high' is not a number"));
}

TEST(BriefModelFile, OutOfRangeCellNamesLineColumnAndFix) {
  const std::string text = std::string(kGpus) + "task,u,r,m,C,L,P\nt1,-0.6,0.8,,,0.6,1\n";
  const std::string error = error_of(text);
  EXPECT_THAT(error, HasSubstr("f.csv:5:4: column u: u = -0.6 is out of range"));
  EXPECT_THAT(error, HasSubstr("between 0 and 1"));
  // A time limit out of range names its column as every other cell does.
  EXPECT_EQ(error_of(std::string(kGpus) + "task,u,r,m,C,L,P\nt1,0.6,0.8,,0s,0.6,1\n"),
            "f.csv:5:13: column C: C = 0 is out of range; give a time limit > 0 (e.g. 10s)");
}

TEST(BriefModelFile, MissingOrUnknownColumnsAreNamed) {
  EXPECT_THAT(error_of(std::string(kGpus) + "task,u,r,m,L,P\n"),
              HasSubstr("f.csv:4:1: missing column 'C'"));
  EXPECT_THAT(error_of(std::string(kGpus) + "task,u,r,m,C,L,P,colour\n"),
              HasSubstr("f.csv:4:18: column 'colour' is unknown"));
}

TEST(BriefModelFile, RowShapeAndOrderErrors) {
  EXPECT_THAT(error_of(std::string(kGpus) + "task,u,r,m,C,L,P\nt1,0.6,0.8\n"),
              HasSubstr("f.csv:5:1: this row has 3 cells but the header names 7 columns"));
  EXPECT_THAT(error_of("# comment\nt1,0.6\n"),
              HasSubstr("f.csv:2:1: a data row before any header"));
  EXPECT_THAT(error_of(kGpus), HasSubstr("f.csv: no task rows"));
  EXPECT_THAT(error_of("task,u,r,m,C,L,P\nt1,0.6,0.8,,,0.6,1\n"), HasSubstr("no GPU rows"));
}

// Excel's "CSV UTF-8" starts the file with a byte-order mark.
TEST(BriefModelFile, AUtf8ByteOrderMarkIsNotPartOfTheFirstCell) {
  const Result<TaskTable> table = parse_task_table(
      "\xEF\xBB\xBF" + std::string(kGpus) + "task,u,r,m,C,L,P\nt1,0.6,0.8,,,0.6,1\n", "f.csv");
  ASSERT_TRUE(table.ok()) << table.status().message();
  EXPECT_EQ(table->gpus.size(), 2u);
}

// R_j = 0 for a task whose M_j is asked for is the task's u cell, with its place.
TEST(BriefModelFile, ZeroOccupancyForMemoryNamesTheTasksUCell) {
  EXPECT_THAT(error_of(std::string(kGpus) + "task,u,r,m,C,L,P\nt1,0,0.8,100MB,10s,0.6,1\n"),
              HasSubstr("f.csv:5:4: task 't1': R_j = 0, and M_j = m_j * C_j / R_j divides by it"));
}

TEST(BriefModelFile, BadUnitsAndGpuNamesAreNamed) {
  EXPECT_THAT(error_of(std::string(kGpus) + "task,u,r,m,C,L,P\nt1,0.6,0.8,100XB,,0.6,1\n"),
              HasSubstr("f.csv:5:12: column m:"));
  EXPECT_THAT(error_of(std::string(kGpus) + "task,u,r,m,C,L,P\nt1,0.6,0.8,,soon,0.6,1\n"),
              HasSubstr("f.csv:5:13: column C:"));
  EXPECT_THAT(error_of(std::string(kGpus) + "task,u,r,m,C,L,P,gpu\nt1,0.6,0.8,,,0.6,1,gpu9\n"),
              HasSubstr("f.csv:5:20: task 't1' is on GPU 'gpu9'"));
}

TEST(BriefModelFile, DuplicateNamesAndMixedPlacementNameTheLine) {
  EXPECT_THAT(error_of("gpu,p\ngpu1,0.6\ngpu1,0.4\ntask,u,r,m,C,L,P\nt1,0.6,0.8,,,0.6,1\n"),
              HasSubstr("f.csv:3:1: GPU name 'gpu1' appears twice"));
  EXPECT_THAT(error_of(std::string(kGpus) + "task,u,r,m,C,L,P\nt1,1,1,,,1,1\nt1,1,1,,,1,1\n"),
              HasSubstr("f.csv:6:1: task name 't1' appears twice"));
  EXPECT_THAT(
      error_of(std::string(kGpus) + "task,u,r,m,C,L,P,gpu\nt1,1,1,,,1,1,gpu1\nt2,1,1,,,1,1,\n"),
      HasSubstr("f.csv:6:1: task 't2' names no GPU but task 't1' does"));
}

TEST(BriefModelFile, MissingFileIsNotFoundAndNamed) {
  const Result<TaskTable> table = load_task_table("no/such/model.csv");
  ASSERT_FALSE(table.ok());
  EXPECT_EQ(table.status().code(), ErrorCode::kNotFound);
  EXPECT_THAT(table.status().message(), HasSubstr("no/such/model.csv: no such file"));
}

}  // namespace
}  // namespace fastgpu::model
