// fastgpu-burn-cpu, the CPU stand-in for the GPU workload, run as a real process: its exit
// codes, its JSON summary and its clean stop on SIGTERM are what job files and the engine's
// tests rely on.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "fastgpu_test_paths.h"

namespace {

struct BurnRun {
  int exit_code = -1;
  std::string output;
};

// Runs the stand-in through the shell with `args` (and any redirections) appended.
BurnRun run_burn(const std::string& args) {
  const std::string command = std::string(FASTGPU_BURN_CPU_PATH) + " " + args;
  BurnRun run;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  std::array<char, 4096> buffer{};
  size_t count = 0;
  while ((count = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
    run.output.append(buffer.data(), count);
  }
  const int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

nlohmann::json last_json_line(const std::string& output) {
  const std::string trimmed = output.substr(0, output.find_last_not_of('\n') + 1);
  return nlohmann::json::parse(trimmed.substr(trimmed.find_last_of('\n') + 1));
}

TEST(WorkloadCpu, RunsForTheGivenTimeAndReportsJson) {
  const BurnRun run = run_burn("--mem 16M --time 1s --size 64 --json 2>/dev/null");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const nlohmann::json summary = last_json_line(run.output);
  EXPECT_EQ(summary["device"], "cpu (stand-in)");
  EXPECT_EQ(summary["bytes_requested"], 16u << 20);
  EXPECT_EQ(summary["bytes_allocated"], 16u << 20);
  EXPECT_GE(summary["peak_memory_bytes"].get<double>(), 16u << 20);  // touched, so resident
  EXPECT_GE(summary["seconds"].get<double>(), 1.0);
  EXPECT_GE(summary["matmuls"].get<int>(), 1);
  EXPECT_GT(summary["gflop_per_s"].get<double>(), 0.0);
  EXPECT_EQ(summary["size"], 64);
  EXPECT_EQ(summary["verified"], true);
  EXPECT_EQ(summary["stopped_by"], "time");
}

TEST(WorkloadCpu, JsonModeKeepsStdoutToTheJsonLine) {
  const BurnRun run = run_burn("--mem 4M --time 0.2s --size 32 --json 2>/dev/null");
  ASSERT_EQ(run.exit_code, 0);
  EXPECT_EQ(run.output.find('\n'), run.output.size() - 1) << run.output;
  EXPECT_TRUE(nlohmann::json::accept(run.output)) << run.output;
}

TEST(WorkloadCpu, TextModePrintsASummary) {
  const BurnRun run = run_burn("--mem 4M --time 0.2s --size 32");
  ASSERT_EQ(run.exit_code, 0);
  EXPECT_NE(run.output.find("fastgpu-burn-cpu: done (time) on cpu (stand-in)"), std::string::npos)
      << run.output;
}

TEST(WorkloadCpu, BadMemIsUsageErrorNamingTheValue) {
  const BurnRun run = run_burn("--mem 8X --time 1s 2>&1");
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.output.find("--mem"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("8X"), std::string::npos) << run.output;
}

TEST(WorkloadCpu, ProductsRunsExactlyThatManyHoweverLongTheyTake) {
  const BurnRun run = run_burn("--mem 4M --size 64 --products 7 --json 2>/dev/null");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const nlohmann::json summary = last_json_line(run.output);
  EXPECT_EQ(summary["matmuls"], 7);
  EXPECT_EQ(summary["stopped_by"], "products");
  EXPECT_EQ(summary["idle_seconds"], 0.0);
}

TEST(WorkloadCpu, IdleWaitsBeforeEachStep) {
  // Six products in steps of two: three steps, each after 0.1 s idle, as a job waiting on
  // its input between steps.
  const BurnRun run =
      run_burn("--mem 4M --size 64 --products 6 --step 2 --idle 0.1s --json 2>/dev/null");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const nlohmann::json summary = last_json_line(run.output);
  EXPECT_EQ(summary["matmuls"], 6);
  const double idle = summary["idle_seconds"].get<double>();
  EXPECT_GE(idle, 0.3) << run.output;
  EXPECT_GE(summary["seconds"].get<double>(), idle) << run.output;
  // With jitter each idle is 0.1 s plus or minus up to 0.05 s.
  const BurnRun jittered = run_burn(
      "--mem 4M --size 64 --products 6 --step 2 --idle 0.1s --idle-jitter 0.05s --json "
      "2>/dev/null");
  ASSERT_EQ(jittered.exit_code, 0) << jittered.output;
  EXPECT_GE(last_json_line(jittered.output)["idle_seconds"].get<double>(), 3 * 0.05)
      << jittered.output;
  const BurnRun text = run_burn("--mem 4M --size 64 --products 2 --idle 0.05s");
  ASSERT_EQ(text.exit_code, 0) << text.output;
  EXPECT_NE(text.output.find("before the steps (--idle)"), std::string::npos) << text.output;
}

TEST(WorkloadCpu, BadProductsStepOrIdleIsUsageErrorNamingTheValue) {
  const std::pair<std::string, std::string> cases[] = {
      {"--products 0", "--products 0"},
      {"--step 0", "--step 0"},
      {"--idle soon", "soon"},
      {"--idle 1s --idle-jitter 2s", "--idle-jitter 2s is more than --idle 1s"}};
  for (const auto& [args, named] : cases) {
    const BurnRun run = run_burn("--mem 4M " + args + " 2>&1");
    EXPECT_EQ(run.exit_code, 2) << args << ": " << run.output;
    EXPECT_NE(run.output.find(named), std::string::npos) << args << ": " << run.output;
  }
  const BurnRun both = run_burn("--mem 4M --products 3 --time 1s 2>&1");
  EXPECT_EQ(both.exit_code, 2) << both.output;
  EXPECT_NE(both.output.find("--products 3 and --time 1s: give one of them"), std::string::npos)
      << both.output;
}

TEST(WorkloadCpu, BadTimeIsUsageErrorNamingTheValue) {
  const BurnRun run = run_burn("--mem 4M --time soon 2>&1");
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.output.find("soon"), std::string::npos) << run.output;
}

TEST(WorkloadCpu, MemorySmallerThanTheMatricesIsUsageError) {
  const BurnRun run = run_burn("--mem 1M --size 512 --time 1s 2>&1");  // matrices need 3 MiB
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.output.find("--size"), std::string::npos) << run.output;
}

TEST(WorkloadCpu, MoreThanHalfOfRamIsRefusedAsOutOfMemory) {
  const BurnRun run = run_burn("--mem 1000T --time 1s 2>&1");
  EXPECT_EQ(run.exit_code, 3);
  EXPECT_NE(run.output.find("half of this machine"), std::string::npos) << run.output;
}

TEST(WorkloadCpu, SigtermStopsCleanlyWithSummaryAndExit143) {
  int out[2];
  ASSERT_EQ(pipe(out), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    close(out[1]);
    execl(FASTGPU_BURN_CPU_PATH, FASTGPU_BURN_CPU_PATH, "--mem", "4M", "--time", "60s", "--size",
          "64", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  FILE* stream = fdopen(out[0], "r");
  ASSERT_NE(stream, nullptr);
  std::array<char, 512> line{};
  // The first line says the memory is held and the loop starts; then stop it.
  ASSERT_NE(fgets(line.data(), line.size(), stream), nullptr);
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  std::string rest;
  while (fgets(line.data(), line.size(), stream) != nullptr) rest += line.data();
  fclose(stream);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 143);
  EXPECT_NE(rest.find("done (SIGTERM)"), std::string::npos) << rest;
}

}  // namespace
