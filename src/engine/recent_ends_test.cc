#include "engine/recent_ends.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <vector>

#include "engine/engine_test_util.h"

namespace fastgpu::engine {
namespace {

using store::JobState;
using ::testing::ElementsAre;

class RecentEndsTest : public ::testing::Test {
 protected:
  // Queues `count` jobs of user ada.
  std::vector<JobId> submit(int count) {
    std::vector<store::JobSpec> specs(static_cast<std::size_t>(count));
    for (store::JobSpec& spec : specs) {
      spec.argv = {"/bin/true"};
      spec.working_dir = "/tmp";
      spec.user = "ada";
      spec.uid = 1000;
    }
    return std::move(store_->submit(specs)).value();
  }
  void cancel_at(JobId job, double at_s) {
    const store::WallTime at{std::chrono::microseconds(static_cast<std::int64_t>(at_s * 1e6))};
    ASSERT_TRUE(store_->transition(job, JobState::kQueued, JobState::kCancelled, at, "test").ok());
  }
  std::vector<JobId> ids() const {
    std::vector<JobId> out;
    for (const auto& [id, done] : ends_.jobs()) out.push_back(id);
    return out;
  }

  std::unique_ptr<store::StateStore> store_ =
      std::move(store::open_sqlite_store(":memory:")).value();
  RecentEnds ends_;
};

// A job purged between its end and the next tick (`fastgpu purge --before now`) is not
// weighed, and the tick goes on: it failed, "no job N in the state database".
TEST_F(RecentEndsTest, AnEndPurgedBeforeItIsReadIsLeftOut) {
  const std::vector<JobId> jobs = submit(2);
  ASSERT_TRUE(ends_.refresh(*store_, 0).ok());
  cancel_at(jobs[0], 100);
  cancel_at(jobs[1], 200);
  ends_.ended(jobs[0]);
  ends_.ended(jobs[1]);
  store::JobFilter first;
  first.ended_before = store::WallTime(std::chrono::seconds(150));
  ASSERT_EQ(store_->purge_ended(first, 10).value().jobs.size(), 1u);
  ASSERT_TRUE(ends_.refresh(*store_, 0).ok());
  EXPECT_THAT(ids(), ElementsAre(jobs[1]));
  EXPECT_EQ(ends_.reads(), 1U);  // read whole once, at the start; not again
}

TEST_F(RecentEndsTest, ReadsTheStoreWholeOnceThenEachEndItIsTold) {
  const std::vector<JobId> jobs = submit(4);
  cancel_at(jobs[0], 100);
  cancel_at(jobs[1], 200);
  ASSERT_TRUE(ends_.refresh(*store_, 0).ok());
  EXPECT_THAT(ids(), ElementsAre(jobs[0], jobs[1]));
  EXPECT_EQ(ends_.jobs().at(jobs[1]).user, "ada");
  EXPECT_EQ(ends_.jobs().at(jobs[1]).end_time_s, 200);

  cancel_at(jobs[2], 300);
  ends_.ended(jobs[2]);
  cancel_at(jobs[3], 400);  // not told: a mirror trusts what it is told
  ASSERT_TRUE(ends_.refresh(*store_, 0).ok());
  EXPECT_THAT(ids(), ElementsAre(jobs[0], jobs[1], jobs[2]));
  EXPECT_EQ(ends_.reads(), 1U);

  ends_.invalidate();
  ASSERT_TRUE(ends_.refresh(*store_, 0).ok());
  EXPECT_THAT(ids(), ElementsAre(jobs[0], jobs[1], jobs[2], jobs[3]));
  EXPECT_EQ(ends_.reads(), 2U);
}

TEST_F(RecentEndsTest, ForgetsTheEndsBeforeTheOldestTime) {
  const std::vector<JobId> jobs = submit(3);
  cancel_at(jobs[0], 100);
  cancel_at(jobs[1], 200);
  ASSERT_TRUE(ends_.refresh(*store_, 150).ok());
  EXPECT_THAT(ids(), ElementsAre(jobs[1]));
  cancel_at(jobs[2], 300);
  ends_.ended(jobs[2]);
  ends_.ended(jobs[2]);  // told twice: kept once
  ASSERT_TRUE(ends_.refresh(*store_, 250).ok());
  EXPECT_THAT(ids(), ElementsAre(jobs[2]));
  ends_.ended(jobs[2]);
  ASSERT_TRUE(ends_.refresh(*store_, 250).ok());
  ASSERT_TRUE(ends_.refresh(*store_, 350).ok());
  EXPECT_TRUE(ends_.jobs().empty());
}

TEST_F(RecentEndsTest, AJobStillQueuedIsNoEnd) {
  const std::vector<JobId> jobs = submit(1);
  ASSERT_TRUE(ends_.refresh(*store_, 0).ok());
  ends_.ended(jobs[0]);  // told too early: the store does not say it ended
  ASSERT_TRUE(ends_.refresh(*store_, 0).ok());
  EXPECT_TRUE(ends_.jobs().empty());
}

TEST_F(RecentEndsTest, AFailedReadReadsTheStoreWholeNextTime) {
  const std::vector<JobId> jobs = submit(1);
  ASSERT_TRUE(ends_.refresh(*store_, 0).ok());
  cancel_at(jobs[0], 100);
  ends_.ended(jobs[0]);
  testing::CountingStore failing(*store_);
  failing.failed_job_reads_left = 1;
  const Status failed = ends_.refresh(failing, 0);
  EXPECT_FALSE(failed.ok());
  EXPECT_THAT(failed.message(), ::testing::HasSubstr("reading ended job " + to_string(jobs[0]) +
                                                     ": database is locked"));
  ASSERT_TRUE(ends_.refresh(*store_, 0).ok());
  EXPECT_THAT(ids(), ElementsAre(jobs[0]));
  EXPECT_EQ(ends_.reads(), 2U);
}

}  // namespace
}  // namespace fastgpu::engine
