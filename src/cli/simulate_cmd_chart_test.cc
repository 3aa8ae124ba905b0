// `fastgpu simulate --chart` and `--protocol fgd`, run as a user would, on small files
// written into a fresh folder per test.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "cli_run.h"

namespace fastgpu::cli {
namespace {

using fastgpu::test_support::CliRun;
using fastgpu::test_support::run_cli;
using ::testing::HasSubstr;
using ::testing::Not;

// A mkdtemp folder, removed at the end of the test.
class TempFolder {
 public:
  TempFolder() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "fastgpu_chart_XXXXXX").string();
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempFolder() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  TempFolder(const TempFolder&) = delete;
  TempFolder& operator=(const TempFolder&) = delete;

  std::string write(const std::string& name, const std::string& content) const {
    const std::string file = path(name);
    std::ofstream(file) << content;
    return file;
  }
  std::string path(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

std::string read(const std::string& path) {
  std::stringstream text;
  text << std::ifstream(path).rdbuf();
  return text.str();
}

std::string three_jobs(const TempFolder& dir) {
  return dir.write("jobs.csv", "id,submit,duration,gpus\nA,0,3600,2\nB,60,7200,2\nC,120,600,2\n");
}

// Two 2-GPU nodes and six tasks: fractional, whole, a 2-GPU one and a CPU-only one.
std::string openb_nodes(const TempFolder& dir) {
  return dir.write("nodes.csv",
                   "sn,cpu_milli,memory_mib,gpu,model\n"
                   "n0,32000,262144,2,T4\nn1,32000,262144,2,T4\nn2,16000,65536,0,\n");
}
std::string openb_tasks(const TempFolder& dir) {
  return dir.write("openb_pod_list_small.csv",
                   "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,"
                   "creation_time,deletion_time,scheduled_time\n"
                   "p0,4000,1024,1,500,,LS,Running,0,10,0\n"
                   "p1,4000,1024,1,300,,LS,Running,1,10,1\n"
                   "p2,4000,1024,1,1000,,LS,Running,2,10,2\n"
                   "p3,8000,1024,2,1000,,BE,Running,3,10,3\n"
                   "p4,2000,1024,0,0,,BE,Running,4,10,4\n"
                   "p5,4000,1024,1,200,,LS,Running,5,10,5\n");
}

TEST(SimulateChart, ReplayChartHasBothChartsAndEveryPolicy) {
  const TempFolder dir;
  const std::string chart = dir.path("replay.svg");
  const CliRun run =
      run_cli("simulate --trace 'generic:" + three_jobs(dir) +
                  "' --cluster spec:1x2 --policy fifo,sjf-oracle --chart '" + chart + "'",
              true);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const std::string svg = read(chart);
  EXPECT_THAT(svg, HasSubstr("<svg"));
  EXPECT_THAT(svg, HasSubstr("JCT CDF"));
  EXPECT_THAT(svg, HasSubstr("GPU utilization over time"));
  EXPECT_THAT(svg, HasSubstr("data-series=\"fifo\""));
  EXPECT_THAT(svg, HasSubstr("data-series=\"sjf-oracle\""));
}

// A chart that cannot be written is refused before the replay, with the system's reason; and
// one that fails only while it is written (/dev/full behind the name) keeps the printed
// results, exit 1.
TEST(SimulateChart, UnwritableChartFailsEarlyAndNeverLosesTheResults) {
  const TempFolder dir;
  const std::string trace = "'generic:" + three_jobs(dir) + "' --cluster spec:1x2";
  CliRun run =
      run_cli("simulate --trace " + trace + " --chart '" + dir.path("no/x.svg") + "'", true);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.output, HasSubstr("cannot write there: folder '" + dir.path("no") +
                                    "': No such file or directory"));
  EXPECT_THAT(run.output, Not(HasSubstr("avg JCT")));  // refused before the replay

  const std::string full = dir.path("full.svg");
  std::filesystem::create_symlink("/dev/full", full);
  run = run_cli("simulate --trace " + trace + " --chart '" + full + "'", true);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.output, HasSubstr("avg JCT"));
  EXPECT_THAT(run.output,
              HasSubstr("cannot write the chart file '" + full + "': No space left on device"));
}

TEST(SimulateChart, BadChartNameIsUsageError) {
  const TempFolder dir;
  const CliRun run = run_cli("simulate --trace 'generic:" + three_jobs(dir) +
                                 "' --cluster spec:1x2 --chart '" + dir.path("out.png") + "'",
                             true);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.output, HasSubstr(".svg or .html"));
  EXPECT_FALSE(std::filesystem::exists(dir.path("out.png")));
}

TEST(SimulateChart, ProtocolRunsEveryStrategyAndSeedAsJson) {
  const TempFolder dir;
  const std::string chart = dir.path("alloc.html");
  const CliRun run = run_cli("simulate --protocol fgd --trace 'openb:" + openb_tasks(dir) +
                                 "' --cluster 'openb:" + openb_nodes(dir) +
                                 "' --strategy bestfit,fgd,pack --seeds 42-44 --tune 1.0 --json "
                                 "--chart '" +
                                 chart + "'",
                             true);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const nlohmann::json json = nlohmann::json::parse(run.output);
  EXPECT_EQ(json["protocol"], "fgd");
  ASSERT_EQ(json["runs"].size(), 9u);  // 3 strategies x 3 seeds
  ASSERT_EQ(json["means"].size(), 3u);
  for (const auto& one : json["runs"]) {
    EXPECT_EQ(one["gpus"], 4);
    EXPECT_EQ(one["allocation_pct_at_arrived_pct"].size(), 131u);
    EXPECT_LE(one["allocated_gpu_milli"].get<int>(), one["arrived_gpu_milli"].get<int>());
    EXPECT_LE(one["arrived_gpu_milli"].get<int>(), 4000);  // tuned to 1.0 x capacity
    EXPECT_GE(one["fragmentation_ratio"].get<double>(), 0);
  }
  const std::string html = read(chart);
  EXPECT_THAT(html, HasSubstr("GPU allocation ratio vs arrived GPU requests"));
  EXPECT_THAT(html, HasSubstr("FastGPU pack"));
}

TEST(SimulateChart, ProtocolTableShowsTheReferenceRows) {
  const TempFolder dir;
  std::string header = "workload,sc_policy,tune,seed,total_gpus";
  std::string row = "openb_pod_list_small,05-BestFit,1.3,42,4";
  for (int k = 0; k <= 130; ++k) {
    header += "," + std::to_string(k);
    row += "," + std::to_string(k * 0.5);
  }
  const std::string reference = dir.write("ref.csv", header + "\n" + row + "\n");
  const CliRun run = run_cli("simulate --protocol fgd --trace 'openb:" + openb_tasks(dir) +
                                 "' --cluster 'openb:" + openb_nodes(dir) +
                                 "' --strategy bestfit --seeds 42 --reference '" + reference + "'",
                             true);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("FGD paper: 05-BestFit"));
  EXPECT_THAT(run.output, HasSubstr("50.00"));  // the reference at 100 %: 100 x 0.5
  EXPECT_THAT(run.output, HasSubstr("alloc@130 %"));
}

TEST(SimulateChart, ProtocolBadFlagsAreUsageErrors) {
  const TempFolder dir;
  const std::string base = "simulate --protocol fgd --trace 'openb:" + openb_tasks(dir) +
                           "' --cluster 'openb:" + openb_nodes(dir) + "'";
  CliRun run = run_cli(base + " --seeds 51-42", true);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.output, HasSubstr("runs backwards"));
  run = run_cli(base + " --seeds forty", true);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.output, HasSubstr("'forty' is not a seed"));
  run = run_cli(base + " --strategy worstfit", true);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.output, HasSubstr("bestfit, fgd, pack, spread"));
  run = run_cli(base + " --tune 0", true);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.output, HasSubstr("--tune 0"));
  run = run_cli(base + " --reference '" + dir.path("missing.csv") + "'", true);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.output, HasSubstr("missing.csv"));
  // Options only a replay reads would be ignored: refused, each named.
  for (const std::string option :
       {"--policy sjf", "--backfill", "--time-scale 4", "--time-limit-factor 2",
        "--round-time-limits", "--vc a", "--one-cluster", "--config x.yaml"}) {
    run = run_cli(base + " " + option, true);
    EXPECT_EQ(run.exit_code, 2) << option;
    EXPECT_THAT(run.output, HasSubstr(option.substr(0, option.find(' ')) +
                                      " applies only to a replay; FGD's experiment places each "
                                      "task once and runs nothing"));
  }
  run = run_cli(
      "simulate --protocol nosuch --trace 'openb:" + openb_tasks(dir) + "' --cluster spec:1x2",
      true);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.output, HasSubstr("the only protocol is fgd"));
  run = run_cli(
      "simulate --trace 'openb:" + openb_tasks(dir) + "' --cluster spec:1x2 --strategy fgd", true);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.output, HasSubstr("need --protocol fgd"));
}

}  // namespace
}  // namespace fastgpu::cli
