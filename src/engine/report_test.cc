// The batch report on hand-made job records whose figures are worked out here by hand.
#include "fastgpu/engine/report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>

namespace fastgpu::engine {
namespace {

using store::JobRecord;
using store::JobState;
using store::WallTime;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr Bytes kGiB = Bytes{1} << 30;

WallTime at(int seconds) { return WallTime(std::chrono::seconds(1'800'000'000 + seconds)); }

JobRecord record(std::uint64_t id, const std::string& name, JobState state) {
  JobRecord job;
  job.id = JobId(id);
  job.spec.name = name;
  job.spec.argv = {"x"};
  job.spec.submit_time = at(0);
  job.state = state;
  return job;
}

void ran(JobRecord& job, int start, int end, std::vector<std::uint32_t> gpus) {
  job.start_time = at(start);
  job.end_time = at(end);
  job.placed_gpus = std::move(gpus);
}

// Five jobs submitted at t = 0 on a 4-GPU machine:
//   1 prep      GPU 0     0..100   measured 100 GPU-s, 2 GiB, 50 %, 20 kJ
//   2 train[0]  GPUs 0,1  100..400 no GPU-s recorded (300 s x 2 GPUs = 600), 10 GiB, 80 %,
//                                  90 kJ apportioned (an estimate)
//   3 train[1]  GPU 2     100..300 measured 200 GPU-s; memory, utilization, energy unread
//   4 cancelled never ran (asked for 1 GPU)
//   5 cpu       no GPU    50..150  (0 GPU-s)
std::vector<JobRecord> batch() {
  JobRecord prep = record(1, "prep", JobState::kCompleted);
  ran(prep, 0, 100, {0});
  prep.accounting = {2 * kGiB, 100.0, 20'000.0, false, 50.0};
  JobRecord first = record(2, "train", JobState::kCompleted);
  first.spec.array = store::ArrayMember{2, 0, 0};
  ran(first, 100, 400, {0, 1});
  first.accounting = {10 * kGiB, std::nullopt, 90'000.0, true, 80.0};
  JobRecord second = record(3, "train", JobState::kFailed);
  second.spec.array = store::ArrayMember{2, 1, 0};
  ran(second, 100, 300, {2});
  second.accounting.gpu_seconds = 200.0;
  JobRecord cancelled = record(4, "", JobState::kCancelled);
  JobRecord cpu = record(5, "cpu", JobState::kCompleted);
  cpu.spec.gpus = 0;
  ran(cpu, 50, 150, {});
  // Out of order on purpose: the report sorts by id.
  return {cpu, second, prep, cancelled, first};
}

TEST(BatchReport, PerJobFiguresAndMissingStaysMissing) {
  const BatchReport report = make_batch_report(batch(), 4);
  ASSERT_EQ(report.jobs.size(), 5u);
  const JobReport& prep = report.jobs[0];
  EXPECT_EQ(prep.id, JobId(1));
  EXPECT_EQ(prep.wait_s, 0.0);
  EXPECT_EQ(prep.run_s, 100.0);
  EXPECT_EQ(prep.gpus, 1);
  EXPECT_EQ(prep.gpu_seconds, 100.0);
  EXPECT_EQ(prep.peak_gpu_mem, 2 * kGiB);
  EXPECT_EQ(prep.energy_joules, 20'000.0);

  const JobReport& first = report.jobs[1];
  EXPECT_EQ(first.array_index, 0u);
  EXPECT_EQ(first.wait_s, 100.0);
  EXPECT_EQ(first.run_s, 300.0);
  EXPECT_EQ(first.gpus, 2);
  EXPECT_EQ(first.gpu_seconds, 600.0) << "no accounting: run time x GPUs held";
  EXPECT_TRUE(first.energy_is_estimate);

  const JobReport& second = report.jobs[2];
  EXPECT_EQ(second.state, JobState::kFailed);
  EXPECT_EQ(second.gpu_seconds, 200.0);
  EXPECT_EQ(second.peak_gpu_mem, std::nullopt);
  EXPECT_EQ(second.mean_util_percent, std::nullopt);
  EXPECT_EQ(second.energy_joules, std::nullopt);

  const JobReport& cancelled = report.jobs[3];
  EXPECT_EQ(cancelled.wait_s, std::nullopt);
  EXPECT_EQ(cancelled.run_s, std::nullopt);
  EXPECT_EQ(cancelled.gpu_seconds, std::nullopt);
  EXPECT_EQ(cancelled.gpus, 1) << "never ran: the GPUs it asked for";

  const JobReport& cpu = report.jobs[4];
  EXPECT_EQ(cpu.gpus, 0);
  EXPECT_EQ(cpu.gpu_seconds, 0.0) << "a CPU job used no GPU time; that is a figure, not a gap";
  EXPECT_EQ(cpu.wait_s, 50.0);
}

// A running job's GPU time is not known yet; a queued one has used none.
TEST(BatchReport, GpuTimeCountsQueuedJobsAsZeroAndLeavesARunningJobsOut) {
  JobRecord done = record(1, "done", JobState::kCompleted);
  ran(done, 0, 100, {0});
  JobRecord running = record(2, "running", JobState::kRunning);
  running.start_time = at(50);
  running.placed_gpus = {1};
  JobRecord queued = record(3, "queued", JobState::kQueued);
  const BatchSummary s = make_batch_report({done, running, queued}, 2).summary;
  EXPECT_EQ(s.busy_gpu_seconds, 100.0);
  EXPECT_EQ(s.gpu_seconds_jobs, 2u);
}

TEST(BatchReport, SummaryMakespanUtilizationAndSpeedup) {
  const BatchSummary s = make_batch_report(batch(), 4).summary;
  EXPECT_EQ(s.jobs, 5u);
  EXPECT_TRUE(s.finished);
  EXPECT_EQ(s.makespan_s, 400.0);        // first submit (0) to last end (400)
  EXPECT_EQ(s.busy_gpu_seconds, 900.0);  // 100 + 600 + 200 + 0
  EXPECT_EQ(s.gpu_seconds_jobs, 5u);     // the cancelled job never started: a known 0
  EXPECT_DOUBLE_EQ(*s.gpu_hours, 0.25);
  EXPECT_DOUBLE_EQ(*s.utilization_percent, 56.25);  // 900 / (4 GPUs x 400 s)
  EXPECT_EQ(s.energy_joules, 110'000.0);
  EXPECT_EQ(s.energy_jobs, 2u);
  EXPECT_TRUE(s.energy_is_estimate);
  EXPECT_EQ(s.sequential_s, 700.0);  // 100 + 300 + 200 + 100
  EXPECT_EQ(s.run_time_jobs, 4u);
  EXPECT_DOUBLE_EQ(*s.speedup, 1.75);  // 700 / 400
  EXPECT_THAT(s.state_counts,
              ElementsAre(std::pair{JobState::kQueued, 0u}, std::pair{JobState::kRunning, 0u},
                          std::pair{JobState::kCompleted, 3u}, std::pair{JobState::kFailed, 1u},
                          std::pair{JobState::kCancelled, 1u}, std::pair{JobState::kTimeout, 0u},
                          std::pair{JobState::kPreempted, 0u}));
}

TEST(BatchReport, UnknownClusterSizeOrNothingEndedLeavesRatiosMissing) {
  const BatchSummary unknown = make_batch_report(batch(), 0).summary;
  EXPECT_EQ(unknown.utilization_percent, std::nullopt);
  EXPECT_DOUBLE_EQ(*unknown.speedup, 1.75) << "speedup does not need the cluster size";

  JobRecord queued = record(1, "q", JobState::kQueued);
  JobRecord running = record(2, "r", JobState::kRunning);
  running.start_time = at(10);
  running.placed_gpus = {0};
  const BatchSummary pending = make_batch_report({queued, running}, 4).summary;
  EXPECT_FALSE(pending.finished);
  EXPECT_EQ(pending.makespan_s, std::nullopt);
  EXPECT_EQ(pending.busy_gpu_seconds, 0.0) << "the queued job's 0; the running one's unknown";
  EXPECT_EQ(pending.gpu_seconds_jobs, 1u);
  EXPECT_EQ(pending.utilization_percent, std::nullopt);
  EXPECT_EQ(pending.energy_joules, std::nullopt);
  EXPECT_EQ(pending.sequential_s, std::nullopt);
  EXPECT_EQ(pending.speedup, std::nullopt);

  const BatchReport empty = make_batch_report({}, 4);
  EXPECT_EQ(empty.summary.jobs, 0u);
  EXPECT_EQ(empty.summary.makespan_s, std::nullopt);
}

TEST(BatchReport, TableShowsHumanUnitsAndNaForMissing) {
  const std::string table = render_batch_report_table(make_batch_report(batch(), 4));
  EXPECT_THAT(table, HasSubstr("ID  NAME      STATE       WAIT    RUN  GPUS  GPU-TIME  PEAK MEM  "
                               "UTIL    ENERGY\n"));
  // A CPU-only job's GPU figures do not apply: "-" as in `show`, not "n/a" (not measured).
  EXPECT_THAT(table, HasSubstr(" 5  cpu       COMPLETED    50s  1m40s     0        0s         -  "
                               "   -         -\n"));
  EXPECT_THAT(table, HasSubstr(" 2  train[0]  COMPLETED  1m40s  5m00s     2    10m00s  10.0 GiB  "
                               "80 %  90.0 kJ*\n"));
  EXPECT_THAT(table, HasSubstr(" 3  train[1]  FAILED     1m40s  3m20s     1     3m20s       n/a  "
                               " n/a       n/a\n"));
  // Never started: nothing applies, as `show` says ("-"); "n/a" is for what went unmeasured.
  EXPECT_THAT(table, HasSubstr(" 4  -         CANCELLED      -      -     1         -         -  "
                               "   -         -\n"));
  EXPECT_THAT(table,
              HasSubstr("* energy an estimate: apportioned among jobs sharing a GPU, or prorated "
                        "over the sample intervals a job started and ended in\n"));
  EXPECT_THAT(table, HasSubstr("jobs        5: 3 COMPLETED, 1 FAILED, 1 CANCELLED\n"));
  EXPECT_THAT(table, HasSubstr("makespan    6m40s (first submit to last end)\n"));
  EXPECT_THAT(table, HasSubstr("GPU time    15m00s = 0.25 GPU-hours\n"))
      << "the job that never started used no GPU time: a figure, not a gap";
  EXPECT_THAT(table, HasSubstr("GPU util    56.2 % of 4 GPUs allocated over the makespan\n"));
  EXPECT_THAT(table, HasSubstr("energy      110.0 kJ (estimate) (2 of 5 jobs)\n"));
  EXPECT_THAT(table, HasSubstr("sequential  11m40s (the run times one after another) (4 of 5"));
  EXPECT_THAT(table, HasSubstr("speedup     1.75x (sequential / makespan)\n"));
  EXPECT_THAT(table, Not(HasSubstr("not finished")));
}

// A job whose GPU 1 energy counter could not be read: ">=510 J" and a line naming the GPU;
// its 510 J stays out of the batch's energy (20 kJ, 1 of 2 jobs), as a missing figure does.
// It read "510 J", added to the batch's energy as if measured.
TEST(BatchReport, ALowerBoundOnEnergyIsMarkedAndLeftOutOfTheSum) {
  JobRecord prep = record(1, "prep", JobState::kCompleted);
  ran(prep, 0, 100, {0});
  prep.accounting = {2 * kGiB, 100.0, 20'000.0, false, 50.0};
  JobRecord wide = record(2, "wide", JobState::kCompleted);
  ran(wide, 0, 100, {0, 1});
  wide.accounting = {2 * kGiB, 200.0, std::nullopt, false, 50.0};
  wide.accounting.energy_at_least_joules = 510.0;
  wide.accounting.energy_unread_gpus = {1};
  const BatchReport report = make_batch_report({prep, wide}, 2);
  EXPECT_EQ(report.summary.energy_joules, 20'000.0);
  EXPECT_EQ(report.summary.energy_jobs, 1u);
  const std::string table = render_batch_report_table(report);
  EXPECT_THAT(table, HasSubstr(">=510 J\n"));
  EXPECT_THAT(table,
              HasSubstr(">= energy a lower bound, job 2: GPU 1's energy counter unreadable\n"));
  EXPECT_THAT(table, HasSubstr("energy      20.0 kJ (1 of 2 jobs)\n"));
  const nlohmann::ordered_json json = batch_report_json(report);
  EXPECT_TRUE(json["jobs"][1]["energy_joules"].is_null());
  EXPECT_EQ(json["jobs"][1]["energy_at_least_joules"], 510.0);
  EXPECT_EQ(json["jobs"][1]["energy_unread_gpus"], nlohmann::ordered_json::array({1}));
}

// `fastgpu history --all-users`: the same per-job columns with who submitted each job, and
// no batch summary (a history is not one batch).
TEST(BatchReport, JobTableCanNameEachJobsUser) {
  std::vector<JobRecord> jobs = batch();
  for (JobRecord& job : jobs) job.spec.user = job.id.value() % 2 == 0 ? "alice" : "bob";
  std::vector<JobReport> reports;
  for (const JobRecord& job : jobs) reports.push_back(make_job_report(job));
  const std::string table = render_job_report_table(reports, /*with_user=*/true);
  EXPECT_THAT(table, HasSubstr("ID  NAME      USER   STATE       WAIT    RUN  GPUS  GPU-TIME  "
                               "PEAK MEM  UTIL    ENERGY\n"));
  EXPECT_THAT(table, HasSubstr(" 2  train[0]  alice  COMPLETED  1m40s  5m00s     2    10m00s  "
                               "10.0 GiB  80 %  90.0 kJ*\n"));
  EXPECT_THAT(table, HasSubstr(" 5  cpu       bob    COMPLETED    50s  1m40s     0        0s"));
  EXPECT_THAT(table,
              HasSubstr("* energy an estimate: apportioned among jobs sharing a GPU, or prorated "
                        "over the sample intervals a job started and ended in\n"));
  EXPECT_THAT(table, Not(HasSubstr("makespan")));
  EXPECT_THAT(render_job_report_table(reports, /*with_user=*/false), Not(HasSubstr("alice")));
}

// `count` jobs submitted at 0 that start 100 ms later and run `run_ms` each; with on_gpus,
// job N on GPU N-1.
std::vector<JobRecord> instant_jobs(std::uint64_t count, int run_ms, bool on_gpus) {
  std::vector<JobRecord> jobs;
  for (std::uint64_t id = 1; id <= count; ++id) {
    JobRecord job = record(id, "instant", JobState::kCompleted);
    job.start_time = at(0) + std::chrono::milliseconds(100);
    job.end_time = *job.start_time + std::chrono::milliseconds(run_ms);
    if (on_gpus) job.placed_gpus = {static_cast<std::uint32_t>(id - 1)};
    jobs.push_back(job);
  }
  return jobs;
}

// A batch of instant jobs read "makespan 0.0s ... speedup 0.65x": measured right, but a
// ratio of two latencies. Under a second, the report says it is too short to compare.
TEST(BatchReport, NoSpeedupForABatchTooShortToCompare) {
  std::vector<JobRecord> jobs = instant_jobs(3, 30, /*on_gpus=*/false);
  const BatchReport report = make_batch_report(jobs, 2);
  EXPECT_EQ(report.summary.speedup, std::nullopt);
  const std::string reason =
      "too short to compare: makespan 0.1s, run times added up 0.1s (a ratio needs both to be 1s "
      "or more)";
  EXPECT_EQ(report.summary.speedup_missing_reason, reason);
  EXPECT_THAT(render_batch_report_table(report), HasSubstr("speedup     n/a (" + reason + ")\n"));
  const nlohmann::ordered_json json = batch_report_json(report);
  EXPECT_TRUE(json["summary"]["speedup"].is_null());
  EXPECT_EQ(json["summary"]["speedup_missing_reason"], reason);
  EXPECT_EQ(json["summary"]["makespan_seconds"], 0.13) << "the figures themselves stay";

  // Instant jobs that waited 3 s: a makespan long enough, run times that are not.
  for (JobRecord& job : jobs) {
    job.start_time = at(3);
    job.end_time = at(3) + std::chrono::milliseconds(30);
  }
  EXPECT_EQ(make_batch_report(jobs, 2).summary.speedup, std::nullopt);
  EXPECT_THAT(make_batch_report(jobs, 2).summary.speedup_missing_reason,
              HasSubstr("makespan 3s, run times added up 0.1s"));
}

// The same batch read "GPU util 43.9 % of 2 GPUs allocated over the makespan" beside
// "makespan 0s": a share of a span that is the daemon's latencies.
TEST(BatchReport, NoUtilizationForAMakespanTooShortToMeasure) {
  std::vector<JobRecord> jobs = instant_jobs(2, 300, /*on_gpus=*/true);
  const BatchReport report = make_batch_report(jobs, 2);
  EXPECT_EQ(report.summary.utilization_percent, std::nullopt);
  const std::string reason = "too short to measure: makespan 0.4s (a share of it needs 1s or more)";
  EXPECT_EQ(report.summary.utilization_missing_reason, reason);
  EXPECT_THAT(render_batch_report_table(report), HasSubstr("GPU util    n/a (" + reason + ")\n"));
  const nlohmann::ordered_json json = batch_report_json(report);
  EXPECT_TRUE(json["summary"]["gpu_utilization_percent"].is_null());
  EXPECT_EQ(json["summary"]["gpu_utilization_missing_reason"], reason);
  EXPECT_EQ(json["summary"]["allocated_gpu_seconds"], 0.6) << "the figures themselves stay";

  for (JobRecord& job : jobs) job.end_time = *job.start_time + std::chrono::seconds(2);
  const BatchReport longer = make_batch_report(jobs, 2);
  ASSERT_TRUE(longer.summary.utilization_percent.has_value());
  EXPECT_TRUE(longer.summary.utilization_missing_reason.empty());
}

TEST(BatchReport, JsonHasEveryFigureAndNullForMissing) {
  const nlohmann::ordered_json json = batch_report_json(make_batch_report(batch(), 4));
  ASSERT_EQ(json["jobs"].size(), 5u);
  const auto& first = json["jobs"][1];
  EXPECT_EQ(first["id"], 2);
  EXPECT_EQ(first["name"], "train");
  EXPECT_EQ(first["array_index"], 0);
  EXPECT_EQ(first["state"], "COMPLETED");
  EXPECT_EQ(first["wait_seconds"], 100.0);
  EXPECT_EQ(first["run_seconds"], 300.0);
  EXPECT_EQ(first["gpus"], 2);
  EXPECT_EQ(first["gpu_indices"], nlohmann::json::array({0, 1}));
  EXPECT_EQ(first["gpu_seconds"], 600.0);
  EXPECT_EQ(first["peak_gpu_memory_bytes"], 10 * kGiB);
  EXPECT_EQ(first["mean_gpu_utilization_percent"], 80.0);
  EXPECT_EQ(first["energy_joules"], 90'000.0);
  EXPECT_EQ(first["energy_is_estimate"], true);
  const auto& second = json["jobs"][2];
  EXPECT_TRUE(second["peak_gpu_memory_bytes"].is_null());
  EXPECT_TRUE(second["energy_joules"].is_null());
  EXPECT_TRUE(json["jobs"][3]["wait_seconds"].is_null());
  EXPECT_TRUE(json["jobs"][0]["array_index"].is_null());

  const auto& summary = json["summary"];
  EXPECT_EQ(summary["makespan_seconds"], 400.0);
  EXPECT_EQ(summary["busy_gpu_seconds"], 900.0);
  EXPECT_EQ(summary["gpu_utilization_percent"], 56.25);
  EXPECT_EQ(summary["sequential_seconds"], 700.0);
  EXPECT_EQ(summary["speedup"], 1.75);
  EXPECT_TRUE(summary["speedup_missing_reason"].is_null());
  EXPECT_EQ(summary["states"]["FAILED"], 1);
  EXPECT_EQ(summary["states"]["TIMEOUT"], 0);
  EXPECT_EQ(summary["finished"], true);
}

TEST(BatchReport, EnergyUnits) {
  EXPECT_EQ(format_energy(350.0), "350 J");
  EXPECT_EQ(format_energy(12'345.0), "12.3 kJ");
  EXPECT_EQ(format_energy(4.5e6), "4.5 MJ");
  EXPECT_EQ(format_energy(2.0e9), "2.0 GJ");
}

}  // namespace
}  // namespace fastgpu::engine

namespace fastgpu::engine {
namespace {

// Two jobs at share 0.5 packed on the one GPU for the same 100 s hold that GPU exactly once:
// 200 GPU-seconds of GPU time, 100 allocated, 100 % utilization (not 200 %).
TEST(BatchReport, PackedJobsCountTheirShareOfTheGpu) {
  std::vector<store::JobRecord> jobs;
  for (std::uint64_t id : {1, 2}) {
    store::JobRecord job;
    job.id = JobId(id);
    job.spec.argv = {"x"};
    job.spec.util_share = 0.5;
    job.spec.submit_time = store::WallTime(std::chrono::seconds(1'800'000'000));
    job.state = store::JobState::kCompleted;
    job.start_time = job.spec.submit_time;
    job.end_time = job.spec.submit_time + std::chrono::seconds(100);
    job.placed_gpus = {0};
    jobs.push_back(job);
  }
  const BatchReport report = make_batch_report(jobs, 1);
  EXPECT_DOUBLE_EQ(report.summary.busy_gpu_seconds.value_or(0), 200.0);
  EXPECT_DOUBLE_EQ(report.summary.allocated_gpu_seconds.value_or(0), 100.0);
  EXPECT_DOUBLE_EQ(report.summary.utilization_percent.value_or(0), 100.0);
  EXPECT_DOUBLE_EQ(report.summary.speedup.value_or(0), 2.0);
  // They ran side by side on GPU 0, so the 2.0x is an upper bound and the report says so.
  EXPECT_EQ(report.summary.shared_gpu_jobs, 2u);
  EXPECT_THAT(render_batch_report_table(report),
              HasSubstr("2.00x (sequential / makespan); at most: 2 of 2 jobs shared a GPU as "
                        "they ran, which lengthens run times"));
  const nlohmann::ordered_json json = batch_report_json(report);
  EXPECT_EQ(json["summary"]["shared_gpu_jobs"], 2);
  EXPECT_EQ(json["summary"]["speedup_is_upper_bound"], true);
}

TEST(BatchReport, OnlyJobsThatOverlapOnAGpuCountAsSharing) {
  // GPU 0: a 0..100, b 100..200 (back to back: no sharing), c 150..160 (inside b);
  // GPU 1: d 0..300 beside nothing; e on GPUs 1 and 2 after d.
  JobRecord a = record(1, "a", JobState::kCompleted);
  ran(a, 0, 100, {0});
  JobRecord b = record(2, "b", JobState::kCompleted);
  ran(b, 100, 200, {0});
  JobRecord c = record(3, "c", JobState::kCompleted);
  ran(c, 150, 160, {0});
  JobRecord d = record(4, "d", JobState::kCompleted);
  ran(d, 0, 300, {1});
  JobRecord e = record(5, "e", JobState::kCompleted);
  ran(e, 300, 400, {1, 2});
  const BatchReport report = make_batch_report({a, b, c, d, e}, 3);
  EXPECT_EQ(report.summary.shared_gpu_jobs, 2u);  // b and c
  // The batch at the top of this file runs its jobs side by side on different GPUs only.
  const BatchReport apart = make_batch_report(batch(), 4);
  EXPECT_EQ(apart.summary.shared_gpu_jobs, 0u);
  EXPECT_THAT(render_batch_report_table(apart), HasSubstr("1.75x (sequential / makespan)\n"));
  EXPECT_EQ(batch_report_json(apart)["summary"]["speedup_is_upper_bound"], false);
}

}  // namespace
}  // namespace fastgpu::engine
