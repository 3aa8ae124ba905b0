// Runs the built `fastgpu` binary, as a user would, on the shipped seed example and on
// broken files.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli_run.h"
#include "fastgpu_test_paths.h"

namespace fastgpu::cli {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;

constexpr double kExact = 1e-9;

using RunResult = fastgpu::test_support::CliRun;
using fastgpu::test_support::run_cli;

std::string seed_path() { return std::string(FASTGPU_SOURCE_DIR) + "/examples/seed-model.csv"; }

TEST(ModelCommand, JsonReproducesTheBriefsWorkedExample) {
  const RunResult run = run_cli("model '" + seed_path() + "' --json", false);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const nlohmann::json json = nlohmann::json::parse(run.output);
  ASSERT_EQ(json["gpus"].size(), 2u);
  for (const auto& gpu : json["gpus"]) {
    EXPECT_NEAR(gpu["R"].get<double>(), 1.44, kExact);
    EXPECT_NEAR(gpu["LB"].get<double>(), 4.1, kExact);             // the table's P = (1,2,3,4)
    EXPECT_NEAR(gpu["LB_priority_1"].get<double>(), 1.8, kExact);  // the brief's arithmetic
  }
  const auto& t1 = json["tasks"][0];
  EXPECT_EQ(t1["name"], "t1");
  EXPECT_NEAR(t1["R"].get<double>(), 1.44, kExact);
  EXPECT_NEAR(t1["T_seconds"].get<double>(), 1.44, kExact);
  EXPECT_EQ(t1["M_unit"], "MB");
  EXPECT_NEAR(t1["M"].get<double>(), 1000.0 / 1.44, kExact);  // 694.44 MB
  EXPECT_TRUE(json["tasks"][1]["M"].is_null());
  EXPECT_TRUE(json["every_task_on_every_gpu"].get<bool>());
}

TEST(ModelCommand, TextTableShowsFiguresWithUnits) {
  const RunResult run = run_cli("model '" + seed_path() + "'", false);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("LB_i (table P)"));
  EXPECT_THAT(run.output, HasSubstr("LB_i (P = 1)"));
  EXPECT_THAT(run.output, HasSubstr("1.44 s"));
  EXPECT_THAT(run.output, HasSubstr("694.44 MB"));
  // GPU, p_i, R_i, LB_i (table P), LB_i (P = 1)
  EXPECT_THAT(run.output, ContainsRegex("gpu1 +0\\.6 +1\\.44 +4\\.1 +1\\.8\n"));
  EXPECT_THAT(run.output, ContainsRegex("gpu2 +0\\.4 +1\\.44 +4\\.1 +1\\.8\n"));
}

TEST(ModelCommand, MalformedFileExitsOneNamingLineAndColumn) {
  const std::filesystem::path file =
      std::filesystem::path(testing::TempDir()) / "fastgpu-model-bad.csv";
  std::ofstream(file) << "gpu,p\ngpu1,1\ntask,u,r,m,C,L,P\nt1,0.5,lots,,,1,1\n";
  const RunResult run = run_cli("model '" + file.string() + "'", true);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.output, HasSubstr("fastgpu-model-bad.csv:4:8: column r: 'lots' is not a number"));
  std::filesystem::remove(file);
}

TEST(ModelCommand, ZeroOccupancyForMemoryExitsOneNamingTheTask) {
  const std::filesystem::path file =
      std::filesystem::path(testing::TempDir()) / "fastgpu-model-zero.csv";
  std::ofstream(file) << "gpu,p\ngpu1,1\ntask,u,r,m,C,L,P\nidle,0,1,1MB,10,1,1\n";
  const RunResult run = run_cli("model '" + file.string() + "' --json", true);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.output, HasSubstr("fastgpu-model-zero.csv:4:6: task 'idle': R_j = 0"));
  std::filesystem::remove(file);
}

// One GPU and one task are counted in the singular.
TEST(ModelCommand, OneGpuAndOneTaskAreSingular) {
  const std::filesystem::path file =
      std::filesystem::path(testing::TempDir()) / "fastgpu-model-one.csv";
  std::ofstream(file) << "gpu,p\ngpu1,1\ntask,u,r,m,C,L,P\nt1,0.5,1,,,1,1\n";
  const RunResult run = run_cli("model '" + file.string() + "'", false);
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr(": 1 GPU, 1 task; "));
  std::filesystem::remove(file);
}

// Very large figures are shown in three significant digits (a weight of 1e300 took 300
// digits), and a figure too large to compute is refused, naming the file and the fix (LB_i
// was printed as inf, and as null in --json).
TEST(ModelCommand, HugeFiguresAreShortAndOverflowIsRefused) {
  const std::filesystem::path file =
      std::filesystem::path(testing::TempDir()) / "fastgpu-model-huge.csv";
  std::ofstream(file) << "gpu,p\ngpu1,1e300\ntask,u,r,m,C,L,P\nt1,1,1,,,2e20,1\n";
  RunResult run = run_cli("model '" + file.string() + "'", false);
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, ContainsRegex("gpu1 +1e\\+300 +1 +2e\\+20 +2e\\+20\n"));
  EXPECT_THAT(run.output, HasSubstr(" 1e+300 s "));

  std::ofstream(file) << "gpu,p\ngpu1,1\ntask,u,r,m,C,L,P\nt1,1,1,,,1e200,1e200\n";
  run = run_cli("model '" + file.string() + "' --json", true);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.output, HasSubstr("fastgpu-model-huge.csv: GPU 1 ('gpu1'): LB_i = sum L_j * P_j "
                                    "is too large to compute"));
  std::filesystem::remove(file);
}

TEST(ModelCommand, MissingFileExitsOneAndBadUsageExitsTwo) {
  const RunResult missing = run_cli("model no-such-model.csv", true);
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.output, HasSubstr("no-such-model.csv: no such file"));
  EXPECT_EQ(run_cli("model", true).exit_code, 2);
  EXPECT_EQ(run_cli("model '" + seed_path() + "' --frobnicate", true).exit_code, 2);
}

}  // namespace
}  // namespace fastgpu::cli
