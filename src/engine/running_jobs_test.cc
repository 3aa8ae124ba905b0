// The running-jobs mirror holds each job exactly as the store does after the same change:
// a tick builds its snapshot from it, and an end reads its job from it, instead of SQLite.
#include "engine/running_jobs.h"

#include <gtest/gtest.h>

#include "engine/mirror_check.h"
#include "engine/queued_jobs.h"

namespace fastgpu::engine {
namespace {

using store::JobRecord;
using store::JobState;

store::WallTime at(double seconds) {
  return store::WallTime(std::chrono::microseconds(static_cast<std::int64_t>(seconds * 1e6)));
}

class RunningJobsTest : public ::testing::Test {
 protected:
  JobId submit(std::uint32_t gpus) {
    store::JobSpec spec;
    spec.argv = {"train", "--lr", "0.1"};
    spec.working_dir = "/tmp";
    spec.environment = {"HOME=/root", "PATH=/usr/bin"};
    spec.gpus = gpus;
    if (gpus > 0) spec.gpu_mem = Bytes{3} << 30;
    spec.restartable = true;
    spec.submit_time = at(1);
    return store_->submit(std::span(&spec, 1)).value().at(0);
  }

  // Claims the job as the engine does: the store first, then the mirror from the job as
  // the queue mirror held it.
  void claim(JobId job, const store::JobStart& start) {
    QueuedJobs queued;
    ASSERT_TRUE(queued.refresh(*store_, 0.0).ok());
    ASSERT_TRUE(queued.jobs().contains(job));
    ASSERT_TRUE(store_->record_start(job, start).ok());
    mirror_.claimed(queued.jobs().at(job), start);
  }

  void expect_mirror_is_the_store(JobId job) {
    const JobRecord* mirrored = mirror_.find(job);
    ASSERT_NE(mirrored, nullptr);
    EXPECT_EQ(*mirrored, store_->get_job(job).value());
  }

  std::unique_ptr<store::StateStore> store_ =
      std::move(store::open_sqlite_store(":memory:")).value();
  RunningJobs mirror_;
};

TEST_F(RunningJobsTest, AClaimAndALaunchLeaveTheJobAsTheStoreHasIt) {
  ASSERT_TRUE(mirror_.refresh(*store_, 0.0).ok());
  const JobId job = submit(2);
  claim(job, {{0, 3}, at(5), "/state/logs/1.log", std::nullopt, std::nullopt, Bytes{3} << 30});
  expect_mirror_is_the_store(job);

  // The supervisor's report: pids and the moment the job really started.
  ASSERT_TRUE(store_->record_pids(job, 100, 101, at(5.25), std::nullopt).ok());
  mirror_.launched(job, 100, 101, at(5.25));
  expect_mirror_is_the_store(job);
}

TEST_F(RunningJobsTest, ASecondRunResetsTheEndAndCountsTheAttempt) {
  ASSERT_TRUE(mirror_.refresh(*store_, 0.0).ok());
  const JobId job = submit(1);
  claim(job, {{1}, at(5), "/state/logs/1.log", 7, 8, Bytes{3} << 30});
  store::JobEnd end;
  end.state = JobState::kPreempted;
  end.at = at(9);
  end.signal = 15;
  end.accounting.gpu_seconds = 4.0;
  ASSERT_TRUE(store_->record_end(job, end).ok());
  mirror_.remove(job);
  EXPECT_EQ(mirror_.find(job), nullptr);
  ASSERT_TRUE(
      store_->transition(job, JobState::kPreempted, JobState::kQueued, at(10), "requeued").ok());

  // The second claim starts from the queued record, which still carries the first run's
  // end, signal and accounting.
  claim(job, {{0}, at(12), "/state/logs/1.log", std::nullopt, std::nullopt, Bytes{3} << 30});
  expect_mirror_is_the_store(job);
  EXPECT_EQ(mirror_.find(job)->attempts, 2u);
}

TEST_F(RunningJobsTest, ACpuJobHasNoPlacedBytes) {
  ASSERT_TRUE(mirror_.refresh(*store_, 0.0).ok());
  const JobId job = submit(0);
  claim(job, {{}, at(2), "/state/logs/1.log", std::nullopt, std::nullopt, std::nullopt});
  expect_mirror_is_the_store(job);
}

TEST_F(RunningJobsTest, AStaleMirrorAnswersNothingUntilItReadsTheStoreAgain) {
  const JobId job = submit(1);
  EXPECT_EQ(mirror_.find(job), nullptr);  // never read
  ASSERT_TRUE(store_->record_start(job, {{0}, at(3), "", 1, 2, Bytes{1} << 30}).ok());
  ASSERT_TRUE(mirror_.refresh(*store_, 0.0).ok());
  expect_mirror_is_the_store(job);

  // A launch the mirror never saw claimed (it missed a change) makes it stale.
  mirror_.launched(JobId(job.value() + 1), 5, 6, at(4));
  EXPECT_EQ(mirror_.find(job), nullptr);
  ASSERT_TRUE(mirror_.refresh(*store_, 1.0).ok());
  expect_mirror_is_the_store(job);

  // And the minute's check reads the store again when it holds other jobs: here one the
  // engine never told it of.
  const JobId other = submit(1);
  ASSERT_TRUE(store_->record_start(other, {{1}, at(6), "", 3, 4, Bytes{1} << 30}).ok());
  ASSERT_TRUE(mirror_.refresh(*store_, 30.0).ok());
  EXPECT_FALSE(mirror_.jobs().contains(other));
  ASSERT_TRUE(mirror_.refresh(*store_, 1.0 + kMirrorCheckSeconds).ok());
  expect_mirror_is_the_store(other);
}

// The minute's check reads only ids: a mirror that still holds the store's jobs is not
// read again (each whole read makes the engine rebuild its kept scheduler), one that
// does not is.
TEST_F(RunningJobsTest, TheMinutesCheckReadsTheStoreAgainOnlyWhenItsJobsDiffer) {
  const JobId job = submit(1);
  ASSERT_TRUE(store_->record_start(job, {{0}, at(3), "", 1, 2, Bytes{1} << 30}).ok());
  ASSERT_TRUE(mirror_.refresh(*store_, 0.0).ok());
  EXPECT_EQ(mirror_.reads(), 1u);
  ASSERT_TRUE(mirror_.refresh(*store_, 1.0 + kMirrorCheckSeconds).ok());
  EXPECT_EQ(mirror_.reads(), 1u);
  expect_mirror_is_the_store(job);

  const JobId other = submit(1);
  ASSERT_TRUE(store_->record_start(other, {{1}, at(6), "", 3, 4, Bytes{1} << 30}).ok());
  ASSERT_TRUE(mirror_.refresh(*store_, 2.0 + kMirrorCheckSeconds).ok());
  EXPECT_EQ(mirror_.reads(), 1u);  // checked a second ago
  ASSERT_TRUE(mirror_.refresh(*store_, 2.0 + 2 * kMirrorCheckSeconds).ok());
  EXPECT_EQ(mirror_.reads(), 2u);
  expect_mirror_is_the_store(other);
}

}  // namespace
}  // namespace fastgpu::engine
