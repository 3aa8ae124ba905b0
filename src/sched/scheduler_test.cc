#include "fastgpu/sched/scheduler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>

#include "sched/sched_builders.h"

namespace fastgpu::sched {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::kGiB;
using testing::make_gpu;
using testing::make_job;
using testing::make_node;
using testing::make_running;
using testing::started_ids;
using testing::starts;

ScheduleResult run(const Snapshot& snapshot, const SchedulerConfig& config = {}) {
  auto result = schedule(snapshot, config);
  EXPECT_TRUE(result.ok()) << result.status().to_string();
  return result.ok() ? *result : ScheduleResult{};
}

std::string error_of(const Snapshot& snapshot, const SchedulerConfig& config = {}) {
  auto result = schedule(snapshot, config);
  return result.ok() ? "" : result.status().message();
}

TEST(ScheduleValidation, UnknownPolicyAndStrategyNameTheChoices) {
  Snapshot snapshot;
  SchedulerConfig config;
  config.policy = "lottery";
  EXPECT_THAT(error_of(snapshot, config), HasSubstr("unknown policy 'lottery'; use one of fifo"));
  config.policy = "fifo";
  config.strategy = "random";
  EXPECT_THAT(error_of(snapshot, config), HasSubstr("unknown placement strategy 'random'"));
}

TEST(ScheduleValidation, MoreGpusThanTheLargestNode) {
  Snapshot snapshot;
  snapshot.gpus = make_node("big", 4);
  snapshot.queue = {make_job(7, 8)};
  EXPECT_THAT(error_of(snapshot),
              HasSubstr("job 7 asks for 8 GPUs on one node, but the largest node (big) has 4"));
}

TEST(ScheduleValidation, AbsurdMemoryNamesTheLargestGpu) {
  Snapshot snapshot;
  snapshot.gpus = make_node("n0", 2, 0, 80 * kGiB);
  snapshot.queue = {make_job(3, 1, 200 * kGiB)};
  EXPECT_THAT(error_of(snapshot), HasSubstr("job 3 declares 200 GiB per GPU, more than the "
                                            "largest GPU's 80.0 GiB; declare at most 80G"));
}

TEST(ScheduleValidation, NegativeGpusAndBadShares) {
  Snapshot snapshot;
  snapshot.gpus = make_node("n0", 1);
  snapshot.queue = {make_job(1, -1)};
  EXPECT_THAT(error_of(snapshot), HasSubstr("job 1 asks for -1 GPUs"));
  snapshot.queue = {make_job(1, 1, kGiB, 0.0)};
  EXPECT_THAT(error_of(snapshot), HasSubstr("utilization share 0.0"));
  snapshot.queue = {make_job(1, 1, kGiB, 1.5)};
  EXPECT_THAT(error_of(snapshot), HasSubstr("use a share in (0, 1]"));
}

TEST(ScheduleValidation, ATimeLimitThatIsNotAPositiveFiniteDurationIsNamedAsGiven) {
  Snapshot snapshot;
  snapshot.gpus = make_node("n0", 1);
  snapshot.queue = {make_job(1, 1)};
  snapshot.queue[0].time_limit_s = std::numeric_limits<double>::infinity();
  EXPECT_THAT(error_of(snapshot),
              HasSubstr("job 1 has time limit inf s; give a positive, finite duration, or none "
                        "for no limit"));
  snapshot.queue[0].time_limit_s = 0.0;
  EXPECT_THAT(error_of(snapshot), HasSubstr("job 1 has time limit 0 s;"));
  snapshot.queue[0].time_limit_s = -2.5;
  EXPECT_THAT(error_of(snapshot), HasSubstr("job 1 has time limit -2.5 s;"));
}

TEST(ScheduleValidation, DependencyCycleIsNamed) {
  Snapshot snapshot;
  snapshot.gpus = make_node("n0", 1);
  snapshot.queue = {make_job(1), make_job(2), make_job(3)};
  snapshot.queue[0].dependencies = {{JobId{3}, DependencyKind::kAfterOk}};
  snapshot.queue[1].dependencies = {{JobId{1}, DependencyKind::kAfterAny}};
  snapshot.queue[2].dependencies = {{JobId{2}, DependencyKind::kAfterOk}};
  EXPECT_THAT(error_of(snapshot), HasSubstr("dependency cycle: 1 -> 3 -> 2 -> 1"));
}

TEST(ScheduleValidation, UnknownDependencyAndDuplicateIds) {
  Snapshot snapshot;
  snapshot.gpus = make_node("n0", 1);
  snapshot.queue = {make_job(1)};
  snapshot.queue[0].dependencies = {{JobId{9}, DependencyKind::kAfterOk}};
  EXPECT_THAT(error_of(snapshot), HasSubstr("job 1 depends on job 9, which is not queued"));
  snapshot.queue = {make_job(4), make_job(2), make_job(4)};
  EXPECT_THAT(error_of(snapshot), HasSubstr("job id 4 appears twice"));
}

TEST(Schedule, FifoStartsInSubmitOrderWhileJobsFit) {
  Snapshot snapshot;
  snapshot.gpus = make_node("n0", 2);
  for (std::uint64_t id : {3, 1, 2}) {
    Job job = make_job(id);
    job.submit_time_s = static_cast<double>(id);
    snapshot.queue.push_back(job);
  }
  EXPECT_THAT(started_ids(run(snapshot)), ElementsAre(1, 2));
}

TEST(Schedule, FractionalJobsShareOneGpuUpToMemoryAndCompute) {
  Snapshot snapshot;
  snapshot.gpus = make_node("n0", 1, 0, 40 * kGiB);
  snapshot.queue = {make_job(1, 1, 15 * kGiB, 0.4), make_job(2, 1, 15 * kGiB, 0.4),
                    make_job(3, 1, 15 * kGiB, 0.2)};  // memory: 45G > 40G
  SchedulerConfig config;
  config.backfill = false;
  EXPECT_THAT(started_ids(run(snapshot, config)), ElementsAre(1, 2));
}

TEST(Schedule, CpuOnlyJobsStartWithoutGpus) {
  Snapshot snapshot;
  snapshot.gpus = make_node("n0", 1);
  snapshot.queue = {make_job(1), make_job(2, 0), make_job(3)};
  const ScheduleResult result = run(snapshot);
  ASSERT_EQ(starts(result).size(), 2u);
  EXPECT_EQ(starts(result)[1].job, JobId{2});
  EXPECT_TRUE(starts(result)[1].gpus.empty());
}

// A GPU job that no reservation can be promised to (the running jobs have no time limit)
// ended the walk, and the CPU-only jobs after it waited as long as those ran: they take no
// GPU and cannot delay it. With backfill and without.
TEST(Schedule, CpuOnlyJobsStartPastAGpuJobNothingMayPass) {
  Snapshot snapshot;
  snapshot.gpus = make_node("n0", 2);
  snapshot.running = {make_running(make_job(9), {0})};  // no time limit
  snapshot.queue = {make_job(1, 2), make_job(2, 0), make_job(3), make_job(4, 0)};
  SchedulerConfig config;
  config.policy = "fifo";
  for (const bool backfill : {true, false}) {
    config.backfill = backfill;
    EXPECT_THAT(started_ids(run(snapshot, config)), ElementsAre(2, 4)) << backfill;
  }
}

TEST(Schedule, DependenciesWaitForTheRightEnd) {
  Snapshot snapshot;
  snapshot.gpus = make_node("n0", 4);
  snapshot.finished = {{JobId{10}, EndState::kFailed, "alice", 0, 0}};
  snapshot.queue = {make_job(1), make_job(2), make_job(3)};
  snapshot.queue[0].dependencies = {{JobId{10}, DependencyKind::kAfterOk}};   // never
  snapshot.queue[1].dependencies = {{JobId{10}, DependencyKind::kAfterAny}};  // now
  snapshot.queue[2].dependencies = {{JobId{2}, DependencyKind::kAfterAny}};   // later
  EXPECT_THAT(started_ids(run(snapshot)), ElementsAre(2));
}

TEST(Schedule, StrictOrderWithoutBackfill) {
  Snapshot snapshot;
  snapshot.gpus = make_node("n0", 2);
  snapshot.running = {make_running(make_job(9), {0})};
  snapshot.queue = {make_job(1, 2), make_job(2, 1)};
  SchedulerConfig config;
  config.backfill = false;
  EXPECT_TRUE(starts(run(snapshot, config)).empty());
}

TEST(Schedule, EasyBackfillStartsOnlyJobsThatCannotDelayTheReservation) {
  Snapshot snapshot;
  snapshot.now_s = 0;
  snapshot.gpus = make_node("n0", 3);
  Job long_runner = make_job(9);
  long_runner.time_limit_s = 100;
  snapshot.running = {make_running(long_runner, {0})};
  Job wide = make_job(1, 3);  // needs all three GPUs: reserved at t = 100
  Job short_job = make_job(2);
  short_job.time_limit_s = 50;  // ends before 100: may backfill
  Job long_job = make_job(3);
  long_job.time_limit_s = 500;  // would delay job 1
  for (Job* job : {&wide, &short_job, &long_job})
    job->submit_time_s = static_cast<double>(job->id.value());
  snapshot.queue = {wide, short_job, long_job};
  const ScheduleResult result = run(snapshot);
  EXPECT_THAT(started_ids(result), ElementsAre(2));
  ASSERT_TRUE(result.reservation.has_value());
  EXPECT_EQ(result.reservation->job, JobId{1});
  EXPECT_DOUBLE_EQ(result.reservation->start_s, 100.0);
  EXPECT_THAT(result.reservation->gpus, ElementsAre(0, 1, 2));
}

TEST(Schedule, BackfillUsesGpusOutsideTheReservation) {
  Snapshot snapshot;
  snapshot.gpus = make_node("a", 2, 0);
  auto more = make_node("b", 1, 2);
  snapshot.gpus.insert(snapshot.gpus.end(), more.begin(), more.end());
  Job runner = make_job(9);
  runner.time_limit_s = 100;
  snapshot.running = {make_running(runner, {0})};
  Job wide = make_job(1, 2);
  wide.submit_time_s = 1;
  Job no_limit = make_job(2);
  no_limit.submit_time_s = 2;
  snapshot.queue = {wide, no_limit};
  const ScheduleResult result = run(snapshot);
  ASSERT_EQ(starts(result).size(), 1u);
  EXPECT_THAT(starts(result)[0].gpus, ElementsAre(2));  // node b, never node a's gpu 1
}

TEST(Schedule, NoTimeLimitsMeansNoBackfillPastTheBlockedJob) {
  Snapshot snapshot;
  snapshot.gpus = make_node("n0", 2);
  snapshot.running = {make_running(make_job(9), {0})};  // no limit: its end is unknown
  Job wide = make_job(1, 2);
  wide.submit_time_s = 1;
  Job small = make_job(2);
  small.time_limit_s = 10;
  small.submit_time_s = 2;
  snapshot.queue = {wide, small};
  const ScheduleResult result = run(snapshot);
  EXPECT_TRUE(starts(result).empty());
  EXPECT_FALSE(result.reservation.has_value());
}

TEST(Schedule, JobThatNeverFitsDoesNotBlockTheQueue) {
  Snapshot snapshot;
  snapshot.gpus = make_node("n0", 2);
  snapshot.gpus[1].healthy = false;
  snapshot.queue = {make_job(1, 2), make_job(2)};
  SchedulerConfig config;
  config.backfill = false;
  EXPECT_THAT(started_ids(run(snapshot, config)), ElementsAre(2));
}

TEST(Schedule, UnhealthyGpusGetNothingNew) {
  Snapshot snapshot;
  snapshot.gpus = make_node("n0", 3);
  snapshot.gpus[0].healthy = false;
  snapshot.queue = {make_job(1), make_job(2), make_job(3)};
  const ScheduleResult result = run(snapshot);
  ASSERT_EQ(starts(result).size(), 2u);
  for (const Start& start : starts(result)) EXPECT_NE(start.gpus.front(), 0);
}

TEST(Schedule, AutoMemoryUsesHistoryOrTheWholeGpu) {
  Snapshot snapshot;
  snapshot.gpus = make_node("n0", 1, 0, 80 * kGiB);
  Job learned = make_job(1, 1, 0, 0.5);
  learned.gpu_mem.reset();
  learned.signature = "train";
  snapshot.history["train"].peak_bytes = {10 * kGiB, 20 * kGiB};
  Job unknown = make_job(2, 1, 0, 0.5);
  unknown.gpu_mem.reset();
  unknown.signature = "new";
  snapshot.queue = {learned, unknown};
  const ScheduleResult result = run(snapshot);
  ASSERT_EQ(starts(result).size(), 1u);
  EXPECT_EQ(starts(result)[0].bytes_per_gpu, 22 * kGiB);  // p95 = 20G, + 10%
}

TEST(Schedule, PreemptiveSrtfEvictsALongerRestartableJob) {
  Snapshot snapshot;
  snapshot.now_s = 1000;
  snapshot.gpus = make_node("n0", 1);
  Job running = make_job(9);
  running.restartable = true;
  running.oracle_duration_s = 5000;
  snapshot.running = {make_running(running, {0}, 0)};
  Job short_job = make_job(1);
  short_job.oracle_duration_s = 60;
  snapshot.queue = {short_job};
  SchedulerConfig config;
  config.policy = "srtf";
  const ScheduleResult result = run(snapshot, config);
  ASSERT_EQ(result.decisions.size(), 1u);
  EXPECT_EQ(to_string(result.decisions[0]), "preempt job 9: srtf: queued job 1 ranks ahead of it");
  EXPECT_EQ(result.reservation->job, JobId{1});
}

TEST(Schedule, PreemptionSparesJobsThatAreNotRestartableOrJustStarted) {
  Snapshot snapshot;
  snapshot.now_s = 1000;
  snapshot.gpus = make_node("n0", 2);
  Job fixed = make_job(8);
  fixed.oracle_duration_s = 5000;
  Job fresh = make_job(9);
  fresh.restartable = true;
  fresh.oracle_duration_s = 5000;
  snapshot.running = {make_running(fixed, {0}, 0), make_running(fresh, {1}, 990)};
  Job short_job = make_job(1);
  short_job.oracle_duration_s = 60;
  snapshot.queue = {short_job};
  SchedulerConfig config;
  config.policy = "srtf";
  EXPECT_TRUE(run(snapshot, config).decisions.empty());
}

TEST(Schedule, SameInputSameDecisions) {
  Snapshot snapshot;
  snapshot.gpus = make_node("n0", 4);
  for (std::uint64_t id = 1; id <= 20; ++id) {
    snapshot.queue.push_back(make_job(id, 1, id * kGiB, 0.25));
  }
  const ScheduleResult a = run(snapshot);
  const ScheduleResult b = run(snapshot);
  ASSERT_EQ(a.decisions.size(), b.decisions.size());
  for (std::size_t i = 0; i < a.decisions.size(); ++i) {
    EXPECT_EQ(to_string(a.decisions[i]), to_string(b.decisions[i]));
  }
}

}  // namespace
}  // namespace fastgpu::sched
