#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fastgpu/sched/scheduler.h"
#include "sched/sched_builders.h"

namespace fastgpu::sched {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::kGiB;
using testing::make_job;
using testing::make_node;
using testing::make_running;
using testing::started_ids;

using Kind = WaitReason::Kind;

std::unique_ptr<Scheduler> kept(const Snapshot& snapshot, const SchedulerConfig& config = {}) {
  auto scheduler = Scheduler::from_snapshot(snapshot, config);
  EXPECT_TRUE(scheduler.ok()) << scheduler.status().to_string();
  return scheduler.ok() ? std::move(*scheduler) : nullptr;
}

// Asked with the detail; asked without it (as a listing asks), all but the detail agree.
WaitReason why(const Scheduler& scheduler, std::uint64_t job) {
  auto reason = scheduler.why_waiting(JobId{job});
  EXPECT_TRUE(reason.ok()) << reason.status().to_string();
  if (!reason.ok()) return WaitReason{};
  auto brief = scheduler.why_waiting(JobId{job}, /*with_detail=*/false);
  EXPECT_TRUE(brief.ok());
  if (brief.ok()) {
    EXPECT_EQ(brief->kind, reason->kind);
    EXPECT_EQ(brief->jobs, reason->jobs);
    EXPECT_EQ(brief->reservation.has_value(), reason->reservation.has_value());
  }
  return *reason;
}

Job submitted(Job job, double at_s) {
  job.submit_time_s = at_s;
  return job;
}

// Two 80 GiB GPUs; GPU 0 runs a whole-GPU job for the next hour. Queued in this order:
// job 1 wants both GPUs to itself (blocked: reserved for when the hour is up), job 2 a
// quarter of a GPU with no time limit (fits GPU 1 now, but would still hold it in an
// hour), job 3 half a GPU for ten minutes (backfills onto GPU 1).
Snapshot one_gpu_busy_for_an_hour() {
  Snapshot snapshot;
  snapshot.gpus = make_node("n0", 2);
  Job runner = make_job(9, 1, 80 * kGiB);
  runner.time_limit_s = 3600;
  snapshot.running = {make_running(runner, {0})};
  snapshot.queue = {submitted(make_job(1, 2, 40 * kGiB), 1),
                    submitted(make_job(2, 1, 10 * kGiB, 0.25), 2)};
  Job brief = submitted(make_job(3, 1, 10 * kGiB, 0.5), 3);
  brief.time_limit_s = 600;
  snapshot.queue.push_back(brief);
  return snapshot;
}

// On a full machine the walk settled before it met a job: the job first in line showed
// "resources", with no reservation, though the running job's time limit says when.
TEST(WhyWaiting, OnAFullMachineTheFirstJobIsStillNextInLineWithItsReservation) {
  Snapshot snapshot;
  snapshot.gpus = make_node("n0", 1);
  Job runner = make_job(9, 1, 80 * kGiB);
  runner.time_limit_s = 60;
  snapshot.running = {make_running(runner, {0})};
  snapshot.queue = {submitted(make_job(1, 1, 80 * kGiB), 1),
                    submitted(make_job(2, 1, 80 * kGiB), 2)};
  auto scheduler = kept(snapshot);
  auto result = scheduler->schedule(0.0);
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->decisions.empty());
  const WaitReason first = why(*scheduler, 1);
  EXPECT_EQ(first.kind, Kind::kReserved);
  ASSERT_TRUE(first.reservation.has_value());
  EXPECT_THAT(first.reservation->gpus, ElementsAre(0));
  EXPECT_THAT(first.detail, HasSubstr("it gets GPU 0 in about 1m00s"));
  EXPECT_EQ(why(*scheduler, 2).kind, Kind::kResources);
}

TEST(WhyWaiting, TheBlockedJobHasTheReservationAndTheJobBehindItWouldDelayIt) {
  auto scheduler = kept(one_gpu_busy_for_an_hour());
  auto result = scheduler->schedule(0.0);
  ASSERT_TRUE(result.ok());
  EXPECT_THAT(started_ids(*result), ElementsAre(3));

  const WaitReason blocked = why(*scheduler, 1);
  EXPECT_EQ(blocked.kind, Kind::kReserved);
  ASSERT_TRUE(blocked.reservation.has_value());
  EXPECT_THAT(blocked.reservation->gpus, ElementsAre(0, 1));
  EXPECT_THAT(blocked.detail, HasSubstr("first in the order; it gets GPUs 0,1 in about 1h00m, when "
                                        "running jobs reach their time limits; needs"));
  EXPECT_THAT(blocked.detail, HasSubstr("needs 2 GPUs on one node"));

  const WaitReason behind = why(*scheduler, 2);
  EXPECT_EQ(behind.kind, Kind::kPriority);
  EXPECT_THAT(behind.jobs, ElementsAre(JobId{1}));
  EXPECT_EQ(behind.detail,
            "fits now, but job 1 comes first in the fifo order: it gets GPUs 0,1 in about "
            "1h00m, when running jobs reach their time limits, and starting this one would "
            "delay it (it has no time limit); with one under 1h00m it could start now, as "
            "backfill (`fastgpu update 2 --time 54m00s`)");

  EXPECT_EQ(scheduler->why_waiting(JobId{3}).status().code(), ErrorCode::kNotFound);  // running
  EXPECT_EQ(scheduler->why_waiting(JobId{77}).status().code(), ErrorCode::kNotFound);
}

// The limit the detail offers does what it says: given it, the job starts now, ahead of the
// blocked one, as backfill; a limit that runs past the reservation is named.
TEST(WhyWaiting, TheTimeLimitOfferedToAJobThatWouldDelayTheReservationLetsItStart) {
  Snapshot too_long = one_gpu_busy_for_an_hour();
  too_long.queue[1].time_limit_s = 4 * 3600;
  auto scheduler = kept(too_long);
  ASSERT_TRUE(scheduler->schedule(0.0).ok());
  EXPECT_THAT(why(*scheduler, 2).detail,
              HasSubstr("would delay it (its time limit of 4h00m runs past then); with one "
                        "under 1h00m it could start now, as backfill (`fastgpu update 2 "
                        "--time 54m00s`)"));

  Snapshot offered = one_gpu_busy_for_an_hour();
  offered.queue[1].time_limit_s = 54 * 60;
  auto shorter = kept(offered);
  auto result = shorter->schedule(0.0);
  ASSERT_TRUE(result.ok());
  EXPECT_THAT(started_ids(*result), ElementsAre(2, 3));

  // Without backfill a shorter limit would not help, and none is offered.
  SchedulerConfig strict;
  strict.backfill = false;
  auto no_backfill = kept(one_gpu_busy_for_an_hour(), strict);
  ASSERT_TRUE(no_backfill->schedule(0.0).ok());
  EXPECT_THAT(why(*no_backfill, 2).detail, ::testing::Not(HasSubstr("fastgpu update")));
}

TEST(WhyWaiting, AJobThatDoesNotFitNowSaysWhatItNeedsAndWhatTheGpusHave) {
  Snapshot snapshot = one_gpu_busy_for_an_hour();
  snapshot.queue.push_back(submitted(make_job(4, 1, 75 * kGiB, 0.5), 4));
  auto scheduler = kept(snapshot);
  ASSERT_TRUE(scheduler->schedule(0.0).ok());  // job 3 takes GPU 1
  const WaitReason big = why(*scheduler, 4);
  EXPECT_EQ(big.kind, Kind::kResources);
  EXPECT_EQ(big.detail,
            "needs a GPU with 75.0 GiB free and 50% of its compute; no GPU has that much "
            "memory free now (the most: 70.0 GiB on GPU 1)");
}

TEST(WhyWaiting, ExclusiveJobsAskForAGpuToThemselves) {
  Snapshot snapshot;
  snapshot.gpus = make_node("n0", 1);
  snapshot.running = {make_running(make_job(9, 1, 10 * kGiB, 0.25), {0})};
  snapshot.queue = {submitted(make_job(1), 1), submitted(make_job(2), 2)};
  auto scheduler = kept(snapshot);
  ASSERT_TRUE(scheduler->schedule(0.0).ok());
  // Job 1 is blocked with no reservation (the running job has no time limit); job 2 is
  // after it and does not fit either.
  const WaitReason first = why(*scheduler, 1);
  EXPECT_EQ(first.kind, Kind::kReserved);
  EXPECT_FALSE(first.reservation.has_value());
  EXPECT_EQ(first.detail,
            "first in the order; needs a GPU to itself with 10.0 GiB free; every GPU with that "
            "memory free runs other jobs now");
  EXPECT_EQ(why(*scheduler, 2).kind, Kind::kResources);
}

TEST(WhyWaiting, WithoutBackfillAJobThatFitsWaitsBehindTheBlockedOne) {
  SchedulerConfig config;
  config.backfill = false;
  auto scheduler = kept(one_gpu_busy_for_an_hour(), config);
  auto result = scheduler->schedule(0.0);
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(started_ids(*result).empty());
  const WaitReason brief = why(*scheduler, 3);
  EXPECT_EQ(brief.kind, Kind::kPriority);
  EXPECT_THAT(brief.detail, HasSubstr("job 1 comes first in the fifo order and waits for GPUs, "
                                      "and backfill is off"));
  EXPECT_FALSE(why(*scheduler, 1).reservation.has_value());
}

TEST(WhyWaiting, DependenciesAndHoldsComeFirst) {
  Snapshot snapshot;
  snapshot.gpus = make_node("n0", 2);
  snapshot.running = {make_running(make_job(9), {0}), make_running(make_job(8), {1})};
  Job after = submitted(make_job(1), 1);
  after.dependencies = {{JobId{9}, DependencyKind::kAfterOk},
                        {JobId{8}, DependencyKind::kAfterAny}};
  snapshot.queue = {after, submitted(make_job(2), 2)};
  auto scheduler = kept(snapshot);
  ASSERT_TRUE(scheduler->schedule(0.0).ok());
  WaitReason waits = why(*scheduler, 1);
  EXPECT_EQ(waits.kind, Kind::kDependency);
  EXPECT_THAT(waits.jobs, ElementsAre(JobId{9}, JobId{8}));
  EXPECT_EQ(waits.detail, "waits for job 9 to succeed and for job 8 to end");

  ASSERT_TRUE(scheduler->finish(JobId{8}, EndState::kFailed, 5.0).ok());
  waits = why(*scheduler, 1);
  EXPECT_THAT(waits.jobs, ElementsAre(JobId{9}));
  EXPECT_EQ(waits.detail, "waits for job 9 to succeed");

  ASSERT_TRUE(scheduler->hold(JobId{2}, true).ok());
  EXPECT_EQ(why(*scheduler, 2).kind, Kind::kHeld);
}

TEST(WhyWaiting, AJobTheLastPassDidNotSeeWaitsForTheNext) {
  Snapshot snapshot;
  snapshot.gpus = make_node("n0", 1);
  auto scheduler = kept(snapshot);
  ASSERT_TRUE(scheduler->schedule(0.0).ok());
  ASSERT_TRUE(scheduler->enqueue(submitted(make_job(1), 1)).ok());
  const WaitReason next = why(*scheduler, 1);
  EXPECT_EQ(next.kind, Kind::kNextPass);
  EXPECT_EQ(next.detail, "fits now: the next scheduling pass starts it");
  auto result = scheduler->schedule(1.0);
  ASSERT_TRUE(result.ok());
  EXPECT_THAT(started_ids(*result), ElementsAre(1));
}

TEST(WhyWaiting, UnhealthyGpusAreNamed) {
  Snapshot snapshot;
  snapshot.gpus = make_node("n0", 2);
  snapshot.gpus[1].healthy = false;
  snapshot.queue = {submitted(make_job(1, 2), 1)};
  auto scheduler = kept(snapshot);
  ASSERT_TRUE(scheduler->schedule(0.0).ok());
  const WaitReason wide = why(*scheduler, 1);
  EXPECT_EQ(wide.kind, Kind::kResources);
  EXPECT_EQ(wide.detail,
            "needs 2 GPUs on one node, each to itself with 10.0 GiB free; only 1 GPU has that "
            "now; 1 GPU is unhealthy and takes nothing new; it fits no node even with every "
            "job ended (too few healthy GPUs)");
}

// A GPU kept only for a job placed there before a restart with fewer GPUs was called
// unhealthy, while `fastgpu status` listed every GPU as ok.
TEST(WhyWaiting, AGoneGpuIsNotCalledUnhealthy) {
  Snapshot snapshot;
  snapshot.gpus = make_node("n0", 2);
  snapshot.gpus[1].healthy = false;
  snapshot.gpus[1].gone = true;
  snapshot.queue = {submitted(make_job(1, 2), 1)};
  auto scheduler = kept(snapshot);
  ASSERT_TRUE(scheduler->schedule(0.0).ok());
  EXPECT_EQ(why(*scheduler, 1).detail,
            "needs 2 GPUs on one node, each to itself with 10.0 GiB free; only 1 GPU has that "
            "now; 1 GPU is no longer among this machine's GPUs (a running job placed there "
            "before a restart holds it); it fits no node even with every job ended (too few "
            "healthy GPUs)");
}

}  // namespace
}  // namespace fastgpu::sched
