// The usage report on hand-made job records whose sums are worked out here by hand.
#include "fastgpu/engine/usage_report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>

namespace fastgpu::engine {
namespace {

using store::JobRecord;
using store::JobState;
using store::WallTime;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr Bytes kGiB = Bytes{1} << 30;

WallTime at(int seconds) { return WallTime(std::chrono::seconds(1'800'000'000 + seconds)); }

JobRecord ended(std::uint64_t id, const std::string& name, const std::string& user,
                JobState state) {
  JobRecord job;
  job.id = JobId(id);
  job.spec.name = name;
  job.spec.user = user;
  job.spec.argv = {"x"};
  job.spec.submit_time = at(0);
  job.state = state;
  job.end_time = at(10);
  return job;
}

// Ran on `gpus` GPUs from `start` to `end` (seconds after submission), reserving
// `reserved` per GPU; `peak` per GPU when measured.
JobRecord ran(JobRecord job, int start, int end, std::vector<std::uint32_t> gpus,
              std::optional<Bytes> reserved = std::nullopt,
              std::optional<Bytes> peak = std::nullopt) {
  job.start_time = at(start);
  job.end_time = at(end);
  job.placed_gpus = std::move(gpus);
  job.placed_bytes_per_gpu = reserved;
  job.accounting.peak_gpu_mem = peak;
  return job;
}

UsageReport tally(UsageKey key, const std::vector<JobRecord>& jobs) {
  UsageTally counting(key);
  for (const JobRecord& job : jobs) counting.add(job);
  return std::move(counting).finish();
}

const UsageGroup& group_named(const UsageReport& report, const std::string& key) {
  for (const UsageGroup& group : report.groups) {
    if (group.key == key) return group;
  }
  ADD_FAILURE() << "no group " << key;
  return report.total;
}

// train: three runs on 1 GPU of 100, 200 and 300 s after waits of 10, 20 and 30 s, and one
// cancelled while queued; eval: one 2-GPU run of 50 s that failed; prep: a CPU job.
std::vector<JobRecord> three_names() {
  std::vector<JobRecord> jobs;
  jobs.push_back(ran(ended(1, "train", "alice", JobState::kCompleted), 10, 110, {0}));
  jobs.push_back(ran(ended(2, "train", "alice", JobState::kCompleted), 20, 220, {1}));
  jobs.push_back(ran(ended(3, "train", "bob", JobState::kTimeout), 30, 330, {0}));
  jobs.push_back(ended(4, "train", "bob", JobState::kCancelled));
  JobRecord eval = ran(ended(5, "eval", "bob", JobState::kFailed), 0, 50, {0, 1});
  eval.spec.gpus = 2;
  jobs.push_back(eval);
  JobRecord prep = ran(ended(6, "prep", "alice", JobState::kCompleted), 0, 40, {});
  prep.spec.gpus = 0;
  jobs.push_back(prep);
  return jobs;
}

TEST(UsageReport, SumsEachNamesJobsAndListsTheLargestGpuTimeFirst) {
  const UsageReport report = tally(UsageKey::kName, three_names());
  ASSERT_EQ(report.groups.size(), 3u);
  EXPECT_EQ(report.groups[0].key, "train");  // 600 GPU-s
  EXPECT_EQ(report.groups[1].key, "eval");   // 100 GPU-s
  EXPECT_EQ(report.groups[2].key, "prep");   // 0
  const UsageGroup& train = report.groups[0];
  EXPECT_EQ(train.jobs, 4u);
  EXPECT_EQ(train.completed, 2u);
  EXPECT_EQ(train.timeout, 1u);
  EXPECT_EQ(train.cancelled, 1u);
  EXPECT_EQ(train.started, 3u);
  EXPECT_DOUBLE_EQ(*train.mean_wait_s(), 20.0);  // the cancelled job waited, but never ran
  EXPECT_DOUBLE_EQ(*train.mean_run_s(), 200.0);
  EXPECT_DOUBLE_EQ(train.gpu_seconds, 600.0);
  EXPECT_DOUBLE_EQ(report.groups[1].gpu_seconds, 100.0);  // 2 GPUs x 50 s
  EXPECT_EQ(report.groups[1].failed, 1u);
  EXPECT_EQ(report.total.jobs, 6u);
  EXPECT_DOUBLE_EQ(report.total.gpu_seconds, 700.0);
  EXPECT_EQ(report.total.gpu_jobs, 4u);

  const std::string table = render_usage_table(report);
  EXPECT_THAT(table, HasSubstr("NAME   JOBS  COMPLETED  FAILED  TIMEOUT  CANCELLED"));
  // Mean wait and run over the jobs that ran; prep ran no GPU, so its GPU figures do not
  // apply ("-"); train's were not measured ("n/a"); no job had a time limit.
  EXPECT_THAT(table,
              HasSubstr("\ntrain     4          2       0        1          1        20s     "
                        "3m20s    10m00s     n/a       n/a          -\n"));
  EXPECT_THAT(table,
              HasSubstr("\nprep      1          1       0        0          0         0s     "
                        "  40s        0s       -         -          -\n"));
  EXPECT_THAT(table,
              HasSubstr("\n(all)     6          3       1        1          1        12s     "
                        "2m18s    11m40s"));
}

TEST(UsageReport, GroupsByUserWhenAsked) {
  const UsageReport report = tally(UsageKey::kUser, three_names());
  ASSERT_EQ(report.groups.size(), 2u);
  EXPECT_EQ(group_named(report, "alice").jobs, 3u);
  EXPECT_EQ(group_named(report, "bob").jobs, 3u);
  EXPECT_DOUBLE_EQ(group_named(report, "bob").gpu_seconds, 400.0);  // 300 + 2 x 50
  EXPECT_EQ(report.groups[0].key, "bob");
  EXPECT_THAT(render_usage_table(report), HasSubstr("USER   JOBS"));
  EXPECT_EQ(usage_json(report)["groups"][0]["user"], "bob");
}

TEST(UsageReport, AJobWithoutANameGoesByItsCommand) {
  JobRecord unnamed = ended(1, "", "a", JobState::kCompleted);
  unnamed.spec.signature = "python3 train.py --epochs 3";
  JobRecord same = ended(2, "", "a", JobState::kFailed);
  same.spec.signature = "python3 train.py --epochs 3";
  JobRecord named = ended(3, "eval", "a", JobState::kCompleted);
  named.spec.signature = "eval";
  JobRecord longer = ended(4, "", "a", JobState::kCompleted);
  longer.spec.signature = "python3 -c 'print(\"a command longer than forty characters\")'";
  const UsageReport report = tally(UsageKey::kName, {unnamed, same, named, longer});
  EXPECT_EQ(group_named(report, "python3 train.py --epochs 3").jobs, 2u);
  EXPECT_EQ(group_named(report, "eval").jobs, 1u);
  const std::string table = render_usage_table(report);
  EXPECT_THAT(table, HasSubstr("\npython3 train.py --epochs 3                  2"));
  EXPECT_THAT(table, HasSubstr("\npython3 -c 'print(\"a command longer t...     1"));
  // No GPU time anywhere: by key. JSON keeps the whole command.
  EXPECT_EQ(usage_json(report)["groups"][1]["name"], longer.spec.signature);
}

TEST(UsageReport, LeavesOutJobsThatHaveNotEnded) {
  std::vector<JobRecord> jobs = three_names();
  jobs.push_back(ended(7, "train", "alice", JobState::kQueued));
  jobs.push_back(ran(ended(8, "train", "alice", JobState::kRunning), 0, 5, {0}));
  jobs.push_back(ran(ended(9, "train", "alice", JobState::kPreempted), 0, 5, {0}));
  EXPECT_EQ(tally(UsageKey::kName, jobs).total.jobs, 6u);
}

TEST(UsageReport, MemoryUsedIsThePeaksAgainstTheReservationsAndSuggestsASmallerAsk) {
  // Peaks of 2, 4 and 6 GiB per GPU against 20 GiB reserved: 12 / 60 = 20 %.
  std::vector<JobRecord> jobs;
  jobs.push_back(
      ran(ended(1, "train", "a", JobState::kCompleted), 0, 10, {0}, 20 * kGiB, 2 * kGiB));
  jobs.push_back(
      ran(ended(2, "train", "a", JobState::kCompleted), 0, 10, {0}, 20 * kGiB, 4 * kGiB));
  jobs.push_back(
      ran(ended(3, "train", "a", JobState::kCompleted), 0, 10, {0}, 20 * kGiB, 6 * kGiB));
  // Unmeasured: counted nowhere in the memory figures.
  jobs.push_back(ran(ended(4, "train", "a", JobState::kCompleted), 0, 10, {0}, 20 * kGiB));
  // eval used 9 of 10 GiB: no hint.
  jobs.push_back(ran(ended(5, "eval", "a", JobState::kCompleted), 0, 10, {1}, 10 * kGiB, 9 * kGiB));
  const UsageReport report = tally(UsageKey::kName, jobs);
  const UsageGroup& train = group_named(report, "train");
  EXPECT_EQ(train.memory_jobs, 3u);
  EXPECT_DOUBLE_EQ(*train.memory_used_percent(), 20.0);
  EXPECT_EQ(train.largest_peak, 6 * kGiB);
  EXPECT_DOUBLE_EQ(*group_named(report, "eval").memory_used_percent(), 90.0);

  const std::string table = render_usage_table(report);
  EXPECT_THAT(table, HasSubstr("20 %"));
  EXPECT_THAT(table, HasSubstr("90 %"));
  // 6 GiB with a fifth more room is 7.2 GiB: 8G in whole GiB.
  EXPECT_THAT(table, HasSubstr("train: the runs used 20 % of the GPU memory they reserved "
                               "(largest peak 6.0 GiB per GPU, largest reservation 20.0 GiB, 3 "
                               "runs measured); --gpu-mem 8G (or auto) would let more jobs "
                               "share a GPU"));
  EXPECT_THAT(table, Not(HasSubstr("eval:")));
  const auto json = usage_json(report);
  EXPECT_EQ(json["groups"][0]["name"], "train");
  EXPECT_EQ(json["groups"][0]["suggested_gpu_mem_bytes"], 8 * kGiB);
  EXPECT_EQ(json["groups"][0]["largest_reserved_bytes"], 20 * kGiB);
  EXPECT_TRUE(json["groups"][1]["suggested_gpu_mem_bytes"].is_null());
  EXPECT_DOUBLE_EQ(json["total"]["memory_used_percent"].get<double>(), 100.0 * 21 / 70);
}

TEST(UsageReport, TimeUsedIsTheRunsAgainstTheirLimitsAndSuggestsAShorterOne) {
  // Runs of 10 and 20 minutes under 2 h limits: 30 / 240 = 12.5 %.
  std::vector<JobRecord> jobs;
  for (std::uint64_t id : {1, 2}) {
    JobRecord job =
        ran(ended(id, "sweep", "a", JobState::kCompleted), 0, static_cast<int>(id) * 600, {0});
    job.spec.time_limit_s = 7200;
    jobs.push_back(job);
  }
  jobs.push_back(ran(ended(3, "sweep", "a", JobState::kCompleted), 0, 99999, {0}));  // no limit
  const UsageReport report = tally(UsageKey::kName, jobs);
  const UsageGroup& sweep = report.groups.at(0);
  EXPECT_EQ(sweep.time_jobs, 2u);
  EXPECT_DOUBLE_EQ(*sweep.time_used_percent(), 12.5);
  const std::string table = render_usage_table(report);
  EXPECT_THAT(table, HasSubstr("       12 %\n"));
  // The longest run, 20 min, with half again: 30 min.
  EXPECT_THAT(table, HasSubstr("sweep: the runs took 12 % of their time limits (longest run "
                               "20m00s, longest limit 2h00m); --time 30m would let backfill "
                               "start them sooner"));
  const auto json = usage_json(report);
  EXPECT_EQ(json["groups"][0]["suggested_time_limit_seconds"], 1800);
  // The line itself, for a page to show as the table says it; none for the total.
  ASSERT_EQ(json["groups"][0]["advice"].size(), 1u) << json.dump();
  EXPECT_THAT(json["groups"][0]["advice"][0].get<std::string>(),
              HasSubstr("sweep: the runs took 12 % of their time limits"));
  EXPECT_THAT(table, HasSubstr(json["groups"][0]["advice"][0].get<std::string>() + "\n"));
  EXPECT_EQ(json["total"]["advice"], nlohmann::ordered_json::array());
}

// Twelve names of short jobs under 5-minute limits: six lines of advice, the most GPU time
// first, and the rest counted.
TEST(UsageReport, AtMostSixLinesOfAdviceTheRestCounted) {
  std::vector<JobRecord> jobs;
  for (int i = 1; i <= 12; ++i) {
    JobRecord job = ran(ended(static_cast<std::uint64_t>(i), "pack-" + std::to_string(i), "a",
                              JobState::kCompleted),
                        0, i, {0});
    job.spec.time_limit_s = 300;
    jobs.push_back(job);
  }
  const std::string table = render_usage_table(tally(UsageKey::kName, jobs));
  EXPECT_THAT(table, HasSubstr("\npack-12: the runs took 4 %"));
  EXPECT_THAT(table, HasSubstr("\npack-7: the runs took 2 %"));
  EXPECT_THAT(table, Not(HasSubstr("\npack-6: the runs")));
  EXPECT_THAT(table, HasSubstr("\n... and 6 more such lines; `fastgpu report --json` gives every "
                               "group's suggested_gpu_mem_bytes and "
                               "suggested_time_limit_seconds\n"));
}

TEST(UsageReport, ByUserTheHintNamesNoSizeAndPointsToTheNames) {
  std::vector<JobRecord> jobs;
  jobs.push_back(
      ran(ended(1, "a", "alice", JobState::kCompleted), 0, 10, {0}, 40 * kGiB, 1 * kGiB));
  const std::string table = render_usage_table(tally(UsageKey::kUser, jobs));
  EXPECT_THAT(table, HasSubstr("alice: the runs used 2 % of the GPU memory they reserved"));
  EXPECT_THAT(table, HasSubstr("a smaller --gpu-mem (or auto) would let more jobs share a GPU; "
                               "`fastgpu report --by name` shows which jobs"));
}

TEST(UsageReport, MissingFiguresAreNullNeverZero) {
  std::vector<JobRecord> jobs = {ended(1, "", "a", JobState::kCancelled)};
  const UsageReport report = tally(UsageKey::kName, jobs);
  const auto json = usage_json(report);
  const auto& group = json["groups"][0];
  EXPECT_EQ(group["name"], "");
  EXPECT_EQ(group["jobs"], 1);
  EXPECT_EQ(group["states"]["CANCELLED"], 1);
  EXPECT_TRUE(group["mean_wait_seconds"].is_null());
  EXPECT_TRUE(group["energy_joules"].is_null());
  EXPECT_TRUE(group["memory_used_percent"].is_null());
  EXPECT_TRUE(group["time_used_percent"].is_null());
  EXPECT_TRUE(group["largest_peak_bytes"].is_null());
  EXPECT_FALSE(json["total"].contains("name"));
  // One group: no total line; a job without a name is "-".
  const std::string table = render_usage_table(report);
  EXPECT_THAT(table, Not(HasSubstr("(all)")));
  EXPECT_THAT(table, HasSubstr("\n-        1"));
}

TEST(UsageReport, EnergySaysHowManyJobsItCoversAndWhenItIsAnEstimate) {
  std::vector<JobRecord> jobs;
  JobRecord measured = ran(ended(1, "t", "a", JobState::kCompleted), 0, 10, {0});
  measured.accounting.energy_joules = 1500.0;
  measured.accounting.energy_is_estimate = true;
  jobs.push_back(measured);
  jobs.push_back(ran(ended(2, "t", "a", JobState::kCompleted), 0, 10, {0}));
  const UsageReport report = tally(UsageKey::kName, jobs);
  EXPECT_DOUBLE_EQ(*report.groups[0].energy_joules, 1500.0);
  EXPECT_EQ(report.groups[0].energy_jobs, 1u);
  const std::string table = render_usage_table(report);
  EXPECT_THAT(table, HasSubstr("1.5 kJ* (1 of 2)"));
  EXPECT_THAT(table, HasSubstr("* energy an estimate"));
}

TEST(UsageReport, NoEndedJobsSaysSo) {
  EXPECT_EQ(render_usage_table(tally(UsageKey::kName, {})), "No ended jobs.\n");
  EXPECT_EQ(usage_json(tally(UsageKey::kName, {}))["groups"].size(), 0u);
}

TEST(UsageReport, AKeyOtherThanNameUserGpuOrDayIsRefusedNamingThem) {
  EXPECT_EQ(*parse_usage_key("user"), UsageKey::kUser);
  EXPECT_EQ(*parse_usage_key("gpu"), UsageKey::kGpu);
  EXPECT_EQ(*parse_usage_key("day"), UsageKey::kDay);
  const Result<UsageKey> bad = parse_usage_key("host");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("'host'"));
  EXPECT_THAT(bad.status().message(), HasSubstr("name, user, gpu or day"));
}

// By the day the jobs ended, in the caller's time zone: every day from the first to the
// last, the idle ones too, in order; no advice (a day's jobs are many names').
// Across a change to summer time each job's day is read with the offset in force when it
// ended: the one offset of the report's moment put a summer night's job, ended at 00:30 on
// the clock, on the day before.
TEST(UsageReport, ByDayReadsEachEndWithTheOffsetInForceThen) {
  const auto utc = [](std::chrono::sys_days day, int hour, int minute) {
    return WallTime(std::chrono::duration_cast<WallTime::duration>(
        day.time_since_epoch() + std::chrono::hours(hour) + std::chrono::minutes(minute)));
  };
  using std::chrono::March;
  const std::chrono::sys_days eve = std::chrono::year(2027) / March / 27;
  JobRecord winter = ended(1, "winter", "a", JobState::kCompleted);
  winter.end_time = utc(eve, 22, 30);  // 23:30 at UTC+1
  JobRecord summer = ended(2, "summer", "a", JobState::kCompleted);
  summer.end_time = utc(eve + std::chrono::days(1), 22, 30);  // 00:30 the next day at UTC+2
  // Central Europe: UTC+1, then UTC+2 from 01:00 UTC on the last Sunday of March.
  const UtcOffsets europe{3600, {{utc(eve + std::chrono::days(1), 1, 0), 7200}}};
  const auto days = [&](const UtcOffsets& offsets) {
    UsageTally counting(UsageKey::kDay, offsets);
    counting.add(winter);
    counting.add(summer);
    std::vector<std::pair<std::string, std::size_t>> out;
    for (const UsageGroup& group : std::move(counting).finish().groups) {
      out.emplace_back(group.key, group.jobs);
    }
    return out;
  };
  EXPECT_EQ(days(europe), (std::vector<std::pair<std::string, std::size_t>>{
                              {"2027-03-27", 1}, {"2027-03-28", 0}, {"2027-03-29", 1}}));
  EXPECT_EQ(days(UtcOffsets{3600, {}}), (std::vector<std::pair<std::string, std::size_t>>{
                                            {"2027-03-27", 1}, {"2027-03-28", 1}}));
  EXPECT_EQ(europe.at(utc(eve + std::chrono::days(1), 0, 59)), 3600);
  EXPECT_EQ(europe.at(utc(eve + std::chrono::days(1), 1, 0)), 7200);
}

TEST(UsageReport, ByDayListsEveryDayInOrderInTheCallersTimeZone) {
  // at(0) is 2027-01-15 08:00 UTC.
  std::vector<JobRecord> jobs;
  JobRecord late = ran(ended(1, "late", "a", JobState::kCompleted), 0, 15 * 3600, {0});
  late.spec.time_limit_s = 100 * 3600;  // 15 % of it used: advice by name, none by day
  jobs.push_back(late);
  jobs.push_back(ended(2, "queued", "a", JobState::kCancelled));  // ended at 08:00:10
  jobs.push_back(ran(ended(3, "later", "a", JobState::kFailed), 0, 3 * 86400, {0, 1}));
  JobRecord unended_record = ended(4, "odd", "a", JobState::kFailed);
  unended_record.end_time.reset();  // an API client's record without an end: a group last
  jobs.push_back(unended_record);

  const auto days = [&jobs](std::int64_t offset) {
    UsageTally counting(UsageKey::kDay, UtcOffsets{offset, {}});
    for (const JobRecord& job : jobs) counting.add(job);
    return std::move(counting).finish();
  };
  const auto keys = [](const UsageReport& report) {
    std::vector<std::string> out;
    for (const UsageGroup& group : report.groups) out.push_back(group.key);
    return out;
  };
  const UsageReport utc = days(0);
  EXPECT_EQ(keys(utc),
            (std::vector<std::string>{"2027-01-15", "2027-01-16", "2027-01-17", "2027-01-18", ""}));
  EXPECT_EQ(utc.groups[0].jobs, 2u);  // late (23:00) and queued
  EXPECT_EQ(utc.groups[1].jobs, 0u);
  EXPECT_EQ(utc.groups[3].failed, 1u);
  EXPECT_DOUBLE_EQ(utc.groups[3].gpu_seconds, 2.0 * 3 * 86400);  // whole, not split
  EXPECT_EQ(utc.total.jobs, 4u);
  // An hour east of UTC, 23:00 is the next day's midnight.
  const UsageReport east = days(3600);
  EXPECT_EQ(east.groups[0].key, "2027-01-15");
  EXPECT_EQ(east.groups[0].jobs, 1u);
  EXPECT_EQ(east.groups[1].key, "2027-01-16");
  EXPECT_EQ(east.groups[1].jobs, 1u);
  // Nine hours west, 08:00:10 is the day before, and 2027-01-18 08:00 the 17th.
  EXPECT_EQ(keys(days(-9 * 3600)),
            (std::vector<std::string>{"2027-01-14", "2027-01-15", "2027-01-16", "2027-01-17", ""}));

  const std::string table = render_usage_table(utc);
  EXPECT_THAT(table, HasSubstr("DAY         JOBS"));
  EXPECT_THAT(table, HasSubstr("\n2027-01-16     0          0       0        0          0     "
                               "     -         -         -       -         -          -\n"));
  EXPECT_THAT(table, HasSubstr("\n-              1"));
  EXPECT_THAT(table, HasSubstr("\n(all)          4"));
  EXPECT_THAT(table, Not(HasSubstr("would let")));
  EXPECT_THAT(render_usage_table(tally(UsageKey::kName, jobs)), HasSubstr("would let"));
  const auto json = usage_json(utc);
  EXPECT_EQ(json["by"], "day");
  EXPECT_EQ(json["groups"][1]["day"], "2027-01-16");
  EXPECT_TRUE(json["groups"][4]["day"].is_null());
  EXPECT_TRUE(json["groups"][0]["suggested_time_limit_seconds"].is_null());
  const Result<UsageReport> read = usage_report_from_json(json);
  ASSERT_TRUE(read.ok()) << read.status().message();
  EXPECT_EQ(render_usage_table(*read), table);
  // Days years apart (a clock set wrong once) are listed without every day between.
  jobs.push_back(ran(ended(5, "far", "a", JobState::kCompleted), 0, 3650 * 86400, {0}));
  EXPECT_EQ(keys(days(0)),
            (std::vector<std::string>{"2027-01-15", "2027-01-18", "2037-01-12", ""}));
}

// How the load fell on each GPU: a job counts on every GPU its run held, with its share of
// the GPU time and energy there; jobs that held none are a group of their own, last.
TEST(UsageReport, ByGpuSplitsAJobsGpuTimeOverItsGpus) {
  std::vector<JobRecord> jobs;
  JobRecord wide =
      ran(ended(1, "wide", "a", JobState::kCompleted), 0, 100, {0, 1}, 10 * kGiB, 2 * kGiB);
  wide.accounting.energy_joules = 1000.0;
  jobs.push_back(wide);
  jobs.push_back(ran(ended(2, "one", "a", JobState::kFailed), 0, 50, {1}, 10 * kGiB, 8 * kGiB));
  jobs.push_back(ran(ended(3, "eleven", "a", JobState::kCompleted), 0, 10, {11}));
  JobRecord cpu = ran(ended(4, "cpu", "a", JobState::kCompleted), 0, 10, {});
  cpu.spec.gpus = 0;
  jobs.push_back(cpu);
  jobs.push_back(ended(5, "never", "a", JobState::kCancelled));
  UsageTally counting(UsageKey::kGpu);
  counting.include_gpu(1);
  counting.include_gpu(2);  // idle: listed with nothing
  for (const JobRecord& job : jobs) counting.add(job);
  const UsageReport report = std::move(counting).finish();
  ASSERT_EQ(report.groups.size(), 5u);
  EXPECT_EQ(report.groups[0].key, "0");
  EXPECT_EQ(report.groups[1].key, "1");
  EXPECT_EQ(report.groups[2].key, "2");
  EXPECT_EQ(report.groups[2].jobs, 0u);
  EXPECT_EQ(report.groups[3].key, "11");  // by index, not as text
  EXPECT_EQ(report.groups[4].key, "");
  EXPECT_EQ(report.groups[0].jobs, 1u);
  EXPECT_DOUBLE_EQ(report.groups[0].gpu_seconds, 100.0);  // half of wide's 200
  EXPECT_DOUBLE_EQ(*report.groups[0].energy_joules, 500.0);
  EXPECT_TRUE(report.groups[0].energy_is_estimate);  // split evenly: an estimate
  EXPECT_EQ(report.groups[1].jobs, 2u);
  EXPECT_DOUBLE_EQ(report.groups[1].gpu_seconds, 150.0);
  EXPECT_DOUBLE_EQ(*report.groups[1].memory_used_percent(), 50.0);  // 2 + 8 of 10 + 10 GiB
  EXPECT_EQ(report.groups[4].jobs, 2u);  // the CPU job and the one that never ran
  // The total counts each job once, with its whole GPU time.
  EXPECT_EQ(report.total.jobs, 5u);
  EXPECT_DOUBLE_EQ(report.total.gpu_seconds, 260.0);

  const std::string table = render_usage_table(report);
  EXPECT_THAT(table, HasSubstr("GPU    JOBS"));
  EXPECT_THAT(table, HasSubstr("\n2         0          0       0        0          0          -"));
  EXPECT_THAT(table, HasSubstr("\n11        1"));
  EXPECT_THAT(table, HasSubstr("\n-         2"));
  EXPECT_THAT(table, HasSubstr("\n(all)     5"));
  EXPECT_THAT(table, Not(HasSubstr("would let")));  // no advice by GPU
  const auto json = usage_json(report);
  EXPECT_EQ(json["by"], "gpu");
  EXPECT_EQ(json["groups"][3]["gpu"], 11);
  EXPECT_TRUE(json["groups"][4]["gpu"].is_null());
  // GPU 0 used 20 % of what wide reserved there, but what to ask is said by name.
  EXPECT_TRUE(json["groups"][0]["suggested_gpu_mem_bytes"].is_null());
  EXPECT_EQ(json["groups"][0]["advice"], nlohmann::ordered_json::array());
  // What the CLI reads back is what the daemon summed up.
  const Result<UsageReport> read = usage_report_from_json(json);
  ASSERT_TRUE(read.ok()) << read.status().message();
  EXPECT_EQ(render_usage_table(*read), table);
}

TEST(UsageReport, TheJsonReadsBackAsTheSameReport) {
  const UsageReport report = tally(UsageKey::kName, three_names());
  const Result<UsageReport> read = usage_report_from_json(usage_json(report));
  ASSERT_TRUE(read.ok()) << read.status().message();
  EXPECT_EQ(render_usage_table(*read), render_usage_table(report));
  nlohmann::ordered_json broken = usage_json(report);
  broken["groups"][0].erase("gpu_seconds");
  const Result<UsageReport> refused = usage_report_from_json(broken);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("gpu_seconds"));
}

}  // namespace
}  // namespace fastgpu::engine
