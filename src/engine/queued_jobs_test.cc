// The queue mirror's admission view: jobs that wait for a job not yet ended are parked out
// of what a tick walks to fill CPU slots and arrays' %N, and come back when it ends.
#include "engine/queued_jobs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace fastgpu::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

store::JobRecord job(std::uint64_t id, std::vector<std::uint64_t> after = {}) {
  store::JobRecord record;
  record.id = JobId(id);
  record.state = store::JobState::kQueued;
  record.spec.argv = {"true"};
  record.spec.gpus = 0;
  for (std::uint64_t awaited : after) {
    record.spec.dependencies.push_back(
        {JobId(awaited), store::DependencyKind::kAfterAny, std::nullopt});
  }
  return record;
}

store::JobRecord member(std::uint64_t id, std::uint32_t index, std::vector<std::uint64_t> after) {
  store::JobRecord record = job(id, std::move(after));
  record.spec.gpus = 1;
  record.spec.array = store::ArrayMember{7, index, 2};  // array 7, %2
  return record;
}

std::vector<std::uint64_t> cpu_ids(const QueuedJobs& queued) {
  std::vector<std::uint64_t> ids;
  for (const auto& [priority, id] : queued.cpu_jobs_to_admit()) ids.push_back(id.value());
  return ids;
}

class QueuedJobsTest : public ::testing::Test {
 protected:
  void park() {
    queued_.park_waiting([this](JobId job) { return unended_.contains(job.value()); });
  }

  QueuedJobs queued_;
  std::set<std::uint64_t> unended_;  // the jobs that have not ended
};

TEST_F(QueuedJobsTest, AJobWaitingForARunningJobIsParkedUntilItEnds) {
  unended_ = {100, 101};
  queued_.add_batch({job(1), job(2, {100}), job(3, {200}), job(4, {100, 101})});
  EXPECT_THAT(cpu_ids(queued_), ElementsAre(1, 2, 3, 4));  // not looked at yet
  park();
  EXPECT_THAT(cpu_ids(queued_), ElementsAre(1, 3));  // 200 has ended
  EXPECT_EQ(queued_.parked(), 2u);
  EXPECT_EQ(queued_.cpu_jobs().size(), 4u);  // every queued job is still listed

  unended_ = {101};  // 100 ends: job 2 comes back, job 4 waits on for 101
  park();
  EXPECT_THAT(cpu_ids(queued_), ElementsAre(1, 2, 3));
  EXPECT_EQ(queued_.parked(), 1u);
  unended_.clear();
  park();
  EXPECT_THAT(cpu_ids(queued_), ElementsAre(1, 2, 3, 4));
  EXPECT_EQ(queued_.parked(), 0u);
}

// Held jobs are counted (fastgpu_jobs_held) as they come, change and go.
TEST_F(QueuedJobsTest, HeldJobsAreCounted) {
  store::JobRecord held = job(1);
  held.spec.held_by = 1000u;
  queued_.add_batch({held, job(2)});
  EXPECT_EQ(queued_.held(), 1u);
  queued_.add_batch({job(1)});  // released: the job as stored now
  EXPECT_EQ(queued_.held(), 0u);
  store::JobRecord by_root = job(2);
  by_root.spec.held_by = 0u;
  queued_.add_batch({by_root, held});
  EXPECT_EQ(queued_.held(), 2u);
  queued_.remove(JobId(2));
  EXPECT_EQ(queued_.held(), 1u);
  queued_.remove(JobId(7));  // not queued
  EXPECT_EQ(queued_.held(), 1u);
}

TEST_F(QueuedJobsTest, AParkedJobThatLeavesTheQueueLeavesNoTrace) {
  unended_ = {100};
  queued_.add_batch({job(1, {100}), job(2, {100})});
  park();
  EXPECT_THAT(cpu_ids(queued_), IsEmpty());
  queued_.remove(JobId(1));  // cancelled while it waited
  EXPECT_EQ(queued_.parked(), 1u);
  unended_.clear();
  park();
  EXPECT_THAT(cpu_ids(queued_), ElementsAre(2));
  EXPECT_EQ(queued_.jobs().size(), 1u);
}

TEST_F(QueuedJobsTest, AnArraysWaitingMembersAreParkedAndTheArrayLeavesTheWalkWhenAllAre) {
  unended_ = {100};
  queued_.add_batch({member(1, 0, {100}), member(2, 1, {100}), member(3, 2, {})});
  park();
  ASSERT_EQ(queued_.arrays_to_admit().count(7), 1u);
  EXPECT_THAT(queued_.arrays_to_admit().at(7), ElementsAre(Pair(2, JobId(3))));
  queued_.remove(JobId(3));
  EXPECT_THAT(queued_.arrays_to_admit(), IsEmpty());
  EXPECT_EQ(queued_.limited_arrays().at(7).size(), 2u);
  unended_.clear();
  park();
  EXPECT_EQ(queued_.arrays_to_admit().at(7).size(), 2u);
}

}  // namespace
}  // namespace fastgpu::engine
