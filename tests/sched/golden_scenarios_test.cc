// Golden scenario tests: every tests/scenarios/*.yaml runs through the scenario driver and
// its trace must equal tests/scenarios/expected/<name>.txt. FASTGPU_UPDATE_GOLDEN=1 rewrites
// the expected files (read each one before committing it).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "fastgpu/sched/scenario.h"
#include "fastgpu_test_paths.h"

namespace fastgpu::sched {
namespace {

namespace fs = std::filesystem;

fs::path scenario_dir() { return fs::path(FASTGPU_SOURCE_DIR) / "tests" / "scenarios"; }

std::string read(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// Both sides, line by line, with the differing lines marked.
std::string side_by_side(const std::string& expected, const std::string& actual) {
  const auto want = lines(expected);
  const auto got = lines(actual);
  std::ostringstream out;
  for (std::size_t i = 0; i < std::max(want.size(), got.size()); ++i) {
    const std::string a = i < want.size() ? want[i] : "<missing>";
    const std::string b = i < got.size() ? got[i] : "<missing>";
    out << (a == b ? "    " : "!!  ") << "expected: " << a << "\n";
    if (a != b) out << "!!    actual: " << b << "\n";
  }
  return out.str();
}

std::vector<std::string> scenario_names() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(scenario_dir())) {
    if (entry.path().extension() == ".yaml") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

class GoldenScenario : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenScenario, TraceMatchesExpected) {
  const fs::path yaml = scenario_dir() / (GetParam() + ".yaml");
  const fs::path expected_path = scenario_dir() / "expected" / (GetParam() + ".txt");
  auto trace = run_scenario(read(yaml));
  ASSERT_TRUE(trace.ok()) << trace.status().to_string();
  const char* update = std::getenv("FASTGPU_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    std::ofstream(expected_path) << *trace;
    GTEST_SKIP() << "rewrote " << expected_path;
  }
  ASSERT_TRUE(fs::exists(expected_path)) << "no expected trace; run with FASTGPU_UPDATE_GOLDEN=1";
  const std::string expected = read(expected_path);
  EXPECT_EQ(expected, *trace) << GetParam() << ":\n" << side_by_side(expected, *trace);
}

INSTANTIATE_TEST_SUITE_P(Scenarios, GoldenScenario, ::testing::ValuesIn(scenario_names()),
                         [](const auto& param_info) { return param_info.param; });

TEST(GoldenScenarios, AtLeastTwentyCoverEveryPolicyAndStrategy) {
  const auto names = scenario_names();
  EXPECT_GE(names.size(), 20u);
  std::string all;
  for (const std::string& name : names) all += read(scenario_dir() / (name + ".yaml"));
  for (const char* policy : {"fifo", "priority", "sjf", "srtf", "edf", "las", "fair"}) {
    EXPECT_NE(all.find(std::string("policy: ") + policy), std::string::npos) << policy;
  }
  for (const char* strategy : {"pack", "spread"}) {
    EXPECT_NE(all.find(std::string("strategy: ") + strategy), std::string::npos) << strategy;
  }
}

TEST(ScenarioDriver, BadScenarioIsAnErrorNotACrash) {
  EXPECT_FALSE(run_scenario("gpus: [{memory: 20X}]").ok());
  EXPECT_FALSE(run_scenario("gpus: [").ok());
  auto trace = run_scenario("policy: lottery\ngpus: [{memory: 80G}]\njobs: [{id: 1}]\n");
  ASSERT_TRUE(trace.ok());
  EXPECT_NE(trace->find("error: unknown policy 'lottery'"), std::string::npos);
}

}  // namespace
}  // namespace fastgpu::sched
