#include "fastgpu/sched/settings.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fastgpu_test_paths.h"

namespace fastgpu::sched {
namespace {

using json = nlohmann::ordered_json;

// The error's message, or a note that there was none.
std::string error_of(std::string_view yaml) {
  Result<SchedulerConfig> parsed = parse_settings(yaml);
  return parsed.ok() ? std::string("(no error)") : parsed.status().message();
}

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

TEST(Settings, AnEmptyFileKeepsEveryDefault) {
  for (std::string_view text : {"", "\n", "# only a comment\n"}) {
    Result<SchedulerConfig> parsed = parse_settings(text);
    ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
    EXPECT_EQ(settings_json(*parsed), settings_json(SchedulerConfig{})) << text;
  }
}

// A second document was dropped without a word, with an unknown key in it.
TEST(Settings, ASecondDocumentIsRefusedNotDropped) {
  EXPECT_EQ(error_of("backfill: true\n---\npolicy: sjf\nbogus-key: 1\n"),
            "line 3: a second YAML document begins here (after '---'); the settings are one "
            "document: remove the '---' and write each key once");
  EXPECT_EQ(error_of("---\npolicy: sjf\n"), "(no error)");
}

TEST(Settings, EveryKeySetsItsSettingInTheUnitsTheCliReads) {
  Result<SchedulerConfig> parsed = parse_settings(R"(
policy: priority
strategy: spread
backfill: false
aging-per-hour: 2.5
fair-half-life: 12h
fair-default-job-gpu-time: 30m
las-thresholds: [10m, 2h, 1d]
min-run-before-preempt: 90s
memory-action: kill
memory-tolerance: 512M
balance: yes
overload-utilization: 0.9
idle-utilization: 0.05
balance-min-gain: 0.25
min-run-before-move: 10m
auto-percentile: 0.99
auto-margin: 0.2
)");
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  const SchedulerConfig& config = *parsed;
  EXPECT_EQ(config.policy, "priority");
  EXPECT_EQ(config.strategy, "spread");
  EXPECT_FALSE(config.backfill);
  EXPECT_DOUBLE_EQ(config.aging_per_hour, 2.5);
  EXPECT_DOUBLE_EQ(config.fair_half_life_s, 12 * 3600.0);
  EXPECT_DOUBLE_EQ(config.fair_default_job_gpu_s, 1800.0);
  EXPECT_EQ(config.las_thresholds_gpu_s, (std::vector<double>{600.0, 7200.0, 86400.0}));
  EXPECT_DOUBLE_EQ(config.min_run_before_preempt_s, 90.0);
  EXPECT_EQ(config.memory_action, MemoryActionKind::kKill);
  EXPECT_EQ(config.memory_tolerance_bytes, Bytes{512} << 20);
  EXPECT_TRUE(config.balance);
  EXPECT_DOUBLE_EQ(config.overload_utilization, 0.9);
  EXPECT_DOUBLE_EQ(config.idle_utilization, 0.05);
  EXPECT_DOUBLE_EQ(config.balance_min_gain, 0.25);
  EXPECT_DOUBLE_EQ(config.min_run_before_move_s, 600.0);
  EXPECT_DOUBLE_EQ(config.auto_percentile, 0.99);
  EXPECT_DOUBLE_EQ(config.auto_margin, 0.2);

  // Every key the file takes is one the JSON prints (with '_' for '-'), and no other.
  const json printed = settings_json(config);
  EXPECT_EQ(printed.size(), settings_keys().size());
  for (std::string_view key : settings_keys()) {
    std::string json_key(key);
    std::replace(json_key.begin(), json_key.end(), '-', '_');
    EXPECT_TRUE(printed.contains(json_key)) << key;
  }
}

// examples/config.yaml sets every key to its default, as its comments say.
TEST(Settings, TheExampleFileSetsEveryKeyToItsDefault) {
  const std::filesystem::path example =
      std::filesystem::path(FASTGPU_SOURCE_DIR) / "examples" / "config.yaml";
  Result<SchedulerConfig> read = read_settings(example);
  ASSERT_TRUE(read.ok()) << read.status().to_string();
  EXPECT_EQ(settings_json(*read), settings_json(SchedulerConfig{}));
  std::ifstream in(example);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (std::string_view key : settings_keys()) {
    EXPECT_TRUE(contains(text, "\n" + std::string(key) + ": ")) << key;
  }
}

TEST(Settings, ABaseKeepsWhatTheFileDoesNotSet) {
  SchedulerConfig base;
  base.policy = "fair";
  base.memory_action = MemoryActionKind::kWarn;
  Result<SchedulerConfig> parsed = parse_settings("balance: true\n", base);
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  EXPECT_EQ(parsed->policy, "fair");
  EXPECT_EQ(parsed->memory_action, MemoryActionKind::kWarn);
  EXPECT_TRUE(parsed->balance);
}

// What `daemon reload` says changed is written as the file writes it: its keys, its units,
// and each value reads back as the value it names.
TEST(Settings, ChangesAreSaidInTheFilesKeysAndUnits) {
  SchedulerConfig before;
  std::vector<std::string> keys;
  Result<SchedulerConfig> after = parse_settings(
      "policy: srtf\nmemory-tolerance: 2G\nmin-run-before-preempt: 90s\n"
      "las-thresholds: [30m, 2h]\nfair-half-life: 1d2h\naging-per-hour: 2.5\n",
      before, &keys);
  ASSERT_TRUE(after.ok()) << after.status().to_string();
  std::vector<std::string> said;
  for (const SettingChange& change :
       setting_changes(settings_json(before), settings_json(*after))) {
    said.push_back(fmt::format("{}: {} -> {}", change.key, change.from, change.to));
    // Each new value, written back into a file, sets what it says.
    Result<SchedulerConfig> again = parse_settings(change.key + ": " + change.to + "\n", before);
    ASSERT_TRUE(again.ok()) << change.key << ": " << change.to;
  }
  EXPECT_EQ(said, (std::vector<std::string>{
                      "policy: fifo -> srtf", "aging-per-hour: 1 -> 2.5",
                      "fair-half-life: 1d -> 1d2h", "las-thresholds: [1h, 10h] -> [30m, 2h]",
                      "min-run-before-preempt: 1m -> 1m30s", "memory-tolerance: 0 -> 2G"}));
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys,
            (std::vector<std::string>{"aging-per-hour", "fair-half-life", "las-thresholds",
                                      "memory-tolerance", "min-run-before-preempt", "policy"}));
}

// `fastgpu daemon status --json` prints the settings; saved, they read back as the same.
TEST(Settings, ThePrintedJsonReadsBackAsTheSameSettings) {
  SchedulerConfig config;
  config.policy = "las";
  config.backfill = false;
  config.fair_half_life_s = 1234.5;
  config.las_thresholds_gpu_s = {60.0, 600.0};
  config.memory_action = MemoryActionKind::kKill;
  config.memory_tolerance_bytes = 123456789;
  config.idle_utilization = 0.2;
  config.auto_margin = 0.33;
  const json printed = settings_json(config);
  Result<SchedulerConfig> read = parse_settings(printed.dump(2));
  ASSERT_TRUE(read.ok()) << read.status().to_string() << "\n" << printed.dump(2);
  EXPECT_EQ(settings_json(*read), printed);
  // Keys written with '_' (as the JSON has them) or in capitals read as the same keys.
  Result<SchedulerConfig> underscored = parse_settings("Memory_Action: warn\n");
  ASSERT_TRUE(underscored.ok()) << underscored.status().to_string();
  EXPECT_EQ(underscored->memory_action, MemoryActionKind::kWarn);
}

TEST(Settings, AnUnknownKeyIsRefusedWithItsLineTheNearestKeyAndTheKeys) {
  const std::string message = error_of("policy: fifo\nmemory-acton: kill\n");
  EXPECT_TRUE(contains(message, "line 2: unknown setting 'memory-acton'")) << message;
  EXPECT_TRUE(contains(message, "did you mean memory-action?")) << message;
  EXPECT_TRUE(contains(message, "the settings are policy, strategy, backfill")) << message;
  const std::string far = error_of("colour: blue\n");
  EXPECT_TRUE(contains(far, "unknown setting 'colour'")) << far;
  EXPECT_FALSE(contains(far, "did you mean")) << far;
}

TEST(Settings, ABadValueIsRefusedNamingTheKeyTheValueAndTheFix) {
  struct Case {
    const char* yaml;
    const char* expected;
  };
  const Case cases[] = {
      {"policy: fiar", "line 1: policy: unknown policy 'fiar'; use one of fifo, priority"},
      {"strategy: spred", "strategy: unknown placement strategy 'spred'; use one of pack, spread"},
      {"backfill: maybe", "backfill: 'maybe' is not true or false; write true or false"},
      {"aging-per-hour: fast", "aging-per-hour: 'fast' is not a number; write one such as 1"},
      {"aging-per-hour: -1", "aging-per-hour: -1 is out of range; write a number at least 0"},
      {"overload-utilization: 1.5",
       "overload-utilization: 1.5 is out of range; write a number "
       "from 0 to 1"},
      {"auto-percentile: 0", "auto-percentile: 0 is out of range; write a number above 0 to 1"},
      {"fair-half-life: soon", "fair-half-life: "},
      {"fair-half-life: 0", "fair-half-life: '0' must be longer than zero"},
      {"memory-action: kil", "memory-action: 'kil' is not an action; write warn, requeue or kill"},
      {"memory-tolerance: 5X", "memory-tolerance: "},
      {"memory-action:", "memory-action: no value; write one after the colon"},
      {"memory-action: [warn, kill]", "memory-action: a list or a map; it takes one value"},
      {"las-thresholds: 1h", "las-thresholds: not a list; it takes a list of GPU-time thresholds"},
      {"las-thresholds: [10h, 1h]",
       "las-thresholds: 1h comes after 10h; write the thresholds in "
       "increasing order"},
      {"las-thresholds: [1h, 0]", "las-thresholds: '0' must be longer than zero"},
      {"idle-utilization: 0.97", "idle-utilization 0.97 must be below overload-utilization 0.95"},
      {"balance: true\nbalance: false", "line 2: balance is set twice (first on line 1)"},
      {"- policy: fifo", "the settings are a map of `key: value` lines"},
      {"policy: [fifo", "not valid YAML"},
  };
  for (const Case& c : cases) {
    const std::string message = error_of(c.yaml);
    EXPECT_TRUE(contains(message, c.expected)) << c.yaml << "\n  gave: " << message;
  }
  // A duration or size the CLI's parser refuses keeps that parser's explanation.
  EXPECT_TRUE(contains(error_of("fair-half-life: soon"), "soon"))
      << error_of("fair-half-life: soon");
  EXPECT_TRUE(contains(error_of("memory-tolerance: 5X"), "5X")) << error_of("memory-tolerance: 5X");
}

// A file with three mistakes was refused at the first: three rounds to fix it.
TEST(Settings, EveryMistakeIsToldAtOnceAndTheFileIsRefusedWhole) {
  const std::string message = error_of(
      "policy: priority\n"
      "memory-action: kil\n"
      "backfil: true\n"
      "aging-per-hour: fast\n"
      "policy: fifo\n");
  EXPECT_TRUE(contains(message,
                       "4 mistakes (the whole file is refused until each is fixed):\n"
                       "  line 2: memory-action: 'kil' is not an action; write warn, "
                       "requeue or kill\n"
                       "  line 3: unknown setting 'backfil' (did you mean backfill?)"))
      << message;
  EXPECT_TRUE(contains(message, "\n  line 4: aging-per-hour: 'fast' is not a number")) << message;
  EXPECT_TRUE(contains(message, "\n  line 5: policy is set twice (first on line 1); keep one"))
      << message;
  // The two thresholds are compared only when each was read: a bad one is not blamed twice.
  const std::string thresholds = error_of("overload-utilization: 2\nidle-utilization: 0.97\n");
  EXPECT_TRUE(contains(thresholds, "line 1: overload-utilization: 2 is out of range"))
      << thresholds;
  EXPECT_FALSE(contains(thresholds, "must be below")) << thresholds;
  EXPECT_TRUE(contains(error_of("backfill: maybe\nidle-utilization: 0.97\n"), "2 mistakes"));
  // One mistake reads as before.
  EXPECT_EQ(error_of("backfill: maybe\n").find("line 1: backfill: 'maybe'"), 0u);
}

TEST(Settings, AFileIsReadAndItsErrorsNameIt) {
  const std::filesystem::path folder =
      std::filesystem::temp_directory_path() /
      ("fastgpu-settings-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
       "-" + std::to_string(::getpid()));
  std::filesystem::create_directories(folder);
  const std::filesystem::path good = folder / "good.yaml";
  const std::filesystem::path bad = folder / "bad.yaml";
  std::ofstream(good) << "policy: sjf\nmemory-action: warn\n";
  std::ofstream(bad) << "policy: sjf\nballance: true\n";

  Result<SchedulerConfig> read = read_settings(good);
  ASSERT_TRUE(read.ok()) << read.status().to_string();
  EXPECT_EQ(read->policy, "sjf");
  EXPECT_EQ(read->memory_action, MemoryActionKind::kWarn);

  Result<SchedulerConfig> refused = read_settings(bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(contains(refused.status().message(), bad.string() + ": line 2: unknown setting "
                                                                  "'ballance' (did you mean "
                                                                  "balance?)"))
      << refused.status().message();

  Result<SchedulerConfig> missing = read_settings(folder / "none.yaml");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(contains(missing.status().message(), (folder / "none.yaml").string()))
      << missing.status().message();

  // A folder reads as an empty stream: it was taken for a file that sets nothing.
  Result<SchedulerConfig> not_a_file = read_settings(folder);
  ASSERT_FALSE(not_a_file.ok());
  EXPECT_EQ(not_a_file.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(contains(not_a_file.status().message(),
                       folder.string() + ": is a folder, not a settings file"))
      << not_a_file.status().message();
  std::filesystem::remove_all(folder);
}

}  // namespace
}  // namespace fastgpu::sched
