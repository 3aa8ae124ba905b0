// Scheduler::hold(): a queued job the caller keeps from starting (its own CPU slots, an
// array's %N) stays queued, keeps its rank and holds its dependents back, but no call
// starts it until it is released. The unit cases check each promise of the contract; the
// streams hold the kept scheduler, with random holds and releases, to the pure schedule()
// on snapshot() (which leaves held jobs and their dependents out) at every step.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "fastgpu/sched/scheduler.h"
#include "sched/sched_builders.h"
#include "sched/scheduler_state.h"

namespace fastgpu::sched {
namespace {

using testing::kGiB;
using testing::make_job;
using testing::make_node;
using testing::started_ids;
using Ids = std::vector<std::uint64_t>;

std::unique_ptr<Scheduler> make_scheduler(int gpus, const std::string& policy = "fifo") {
  SchedulerConfig config;
  config.policy = policy;
  auto created = Scheduler::create(config, make_node("n0", gpus));
  EXPECT_TRUE(created.ok()) << created.status().to_string();
  return created.ok() ? std::move(*created) : nullptr;
}

Job job_at(std::uint64_t id, double submit_s) {
  Job job = make_job(id);
  job.submit_time_s = submit_s;
  return job;
}

Job depending_on(std::uint64_t id, std::uint64_t target,
                 DependencyKind kind = DependencyKind::kAfterAny) {
  Job job = make_job(id);
  job.dependencies.push_back({JobId{target}, kind});
  return job;
}

Ids start_now(Scheduler& scheduler, double now_s) {
  auto result = scheduler.schedule(now_s);
  EXPECT_TRUE(result.ok()) << result.status().to_string();
  return result.ok() ? started_ids(*result) : Ids{};
}

Ids queued_ids(const Snapshot& snapshot) {
  Ids ids;
  for (const Job& job : snapshot.queue) ids.push_back(job.id.value());
  return ids;
}

TEST(SchedulerHold, AHeldJobDoesNotStartWhileItFitsAndStartsOnceReleased) {
  auto scheduler = make_scheduler(2);
  ASSERT_TRUE(scheduler->enqueue(make_job(1)).ok());
  ASSERT_TRUE(scheduler->hold(JobId{1}, true).ok());
  EXPECT_TRUE(start_now(*scheduler, 0.0).empty());
  EXPECT_TRUE(start_now(*scheduler, 1.0).empty());
  EXPECT_EQ(scheduler->queued(), 1u);
  ASSERT_TRUE(scheduler->hold(JobId{1}, false).ok());
  EXPECT_EQ(start_now(*scheduler, 2.0), (Ids{1}));
}

// Holding twice needs one release; releasing a job not held changes nothing.
TEST(SchedulerHold, HoldAndReleaseAreIdempotent) {
  auto scheduler = make_scheduler(2);
  ASSERT_TRUE(scheduler->enqueue(make_job(1)).ok());
  ASSERT_TRUE(scheduler->enqueue(make_job(2)).ok());
  ASSERT_TRUE(scheduler->hold(JobId{1}, true).ok());
  ASSERT_TRUE(scheduler->hold(JobId{1}, true).ok());
  ASSERT_TRUE(scheduler->hold(JobId{2}, false).ok());
  EXPECT_EQ(start_now(*scheduler, 0.0), (Ids{2}));
  ASSERT_TRUE(scheduler->hold(JobId{1}, false).ok());
  EXPECT_EQ(start_now(*scheduler, 1.0), (Ids{1}));
}

// While job 1 is held, job 2 behind it starts; released, job 1 goes before job 3, which
// arrived after it: it kept its rank.
TEST(SchedulerHold, AReleasedJobKeepsItsRank) {
  auto scheduler = make_scheduler(1);
  ASSERT_TRUE(scheduler->enqueue(job_at(1, 0.0)).ok());
  ASSERT_TRUE(scheduler->enqueue(job_at(2, 1.0)).ok());
  ASSERT_TRUE(scheduler->hold(JobId{1}, true).ok());
  EXPECT_EQ(start_now(*scheduler, 2.0), (Ids{2}));
  ASSERT_TRUE(scheduler->enqueue(job_at(3, 3.0)).ok());
  ASSERT_TRUE(scheduler->finish(JobId{2}, EndState::kSucceeded, 4.0).ok());
  ASSERT_TRUE(scheduler->hold(JobId{1}, false).ok());
  EXPECT_EQ(start_now(*scheduler, 4.0), (Ids{1}));
}

// Job 2 waits on held job 1 and job 3 on job 2: snapshot() leaves all three out, and
// neither call starts them until job 1 is released and then ends.
TEST(SchedulerHold, ItsDependentsWaitAndLeaveTheSnapshotWithIt) {
  auto scheduler = make_scheduler(4);
  ASSERT_TRUE(scheduler->enqueue(make_job(1)).ok());
  ASSERT_TRUE(scheduler->enqueue(depending_on(2, 1)).ok());
  ASSERT_TRUE(scheduler->enqueue(depending_on(3, 2)).ok());
  ASSERT_TRUE(scheduler->enqueue(make_job(4)).ok());
  ASSERT_TRUE(scheduler->hold(JobId{1}, true).ok());
  EXPECT_EQ(queued_ids(scheduler->snapshot()), (Ids{4}));
  EXPECT_EQ(start_now(*scheduler, 0.0), (Ids{4}));
  EXPECT_TRUE(start_now(*scheduler, 1.0).empty());

  ASSERT_TRUE(scheduler->hold(JobId{1}, false).ok());
  EXPECT_EQ(queued_ids(scheduler->snapshot()), (Ids{1, 2, 3}));
  EXPECT_EQ(start_now(*scheduler, 2.0), (Ids{1}));
  ASSERT_TRUE(scheduler->finish(JobId{1}, EndState::kSucceeded, 3.0).ok());
  EXPECT_EQ(start_now(*scheduler, 3.0), (Ids{2}));
}

// fair ranks the whole queue on every call, and a new history ranks it again under any
// policy: neither may let a held job back in.
TEST(SchedulerHold, AHoldSurvivesTheQueueRankedAgain) {
  for (const char* policy : {"fair", "fifo", "sjf"}) {
    auto scheduler = make_scheduler(2, policy);
    ASSERT_TRUE(scheduler->enqueue(make_job(1)).ok());
    ASSERT_TRUE(scheduler->enqueue(make_job(2)).ok());
    ASSERT_TRUE(scheduler->hold(JobId{1}, true).ok());
    EXPECT_EQ(start_now(*scheduler, 0.0), (Ids{2})) << policy;
    SignatureHistory history;
    history.run_seconds = {60.0};
    scheduler->set_history("sig1", history);  // job 1's signature: its key may move
    EXPECT_TRUE(start_now(*scheduler, 1.0).empty()) << policy;
    EXPECT_TRUE(start_now(*scheduler, 2.0).empty()) << policy;
    ASSERT_TRUE(scheduler->hold(JobId{1}, false).ok());
    EXPECT_EQ(start_now(*scheduler, 3.0), (Ids{1})) << policy;
  }
}

// Job 2 waits on running job 1 and is held: job 1's end must not let it join.
TEST(SchedulerHold, AHoldSurvivesItsDependencyEnding) {
  auto scheduler = make_scheduler(2);
  ASSERT_TRUE(scheduler->enqueue(make_job(1)).ok());
  ASSERT_EQ(start_now(*scheduler, 0.0), (Ids{1}));
  ASSERT_TRUE(scheduler->enqueue(depending_on(2, 1)).ok());
  ASSERT_TRUE(scheduler->hold(JobId{2}, true).ok());
  ASSERT_TRUE(scheduler->finish(JobId{1}, EndState::kSucceeded, 1.0).ok());
  EXPECT_TRUE(start_now(*scheduler, 1.0).empty());
  ASSERT_TRUE(scheduler->hold(JobId{2}, false).ok());
  EXPECT_EQ(start_now(*scheduler, 2.0), (Ids{2}));
}

// Released while its dependency still runs, a job waits for that end as any other does.
TEST(SchedulerHold, AJobReleasedBeforeItsDependencyEndsWaitsForIt) {
  auto scheduler = make_scheduler(2);
  ASSERT_TRUE(scheduler->enqueue(make_job(1)).ok());
  ASSERT_EQ(start_now(*scheduler, 0.0), (Ids{1}));
  ASSERT_TRUE(scheduler->enqueue(depending_on(2, 1)).ok());
  ASSERT_TRUE(scheduler->hold(JobId{2}, true).ok());
  ASSERT_TRUE(scheduler->hold(JobId{2}, false).ok());
  EXPECT_TRUE(start_now(*scheduler, 1.0).empty());
  ASSERT_TRUE(scheduler->finish(JobId{1}, EndState::kSucceeded, 2.0).ok());
  EXPECT_EQ(start_now(*scheduler, 2.0), (Ids{2}));
}

TEST(SchedulerHold, RefusesAJobThatIsNotQueued) {
  auto scheduler = make_scheduler(1);
  ASSERT_TRUE(scheduler->enqueue(make_job(1)).ok());
  ASSERT_EQ(start_now(*scheduler, 0.0), (Ids{1}));
  for (const bool on_hold : {true, false}) {
    const Status unknown = scheduler->hold(JobId{99}, on_hold);
    EXPECT_EQ(unknown.code(), ErrorCode::kNotFound);
    EXPECT_NE(unknown.message().find("job 99 is not waiting"), std::string::npos)
        << unknown.message();
    const Status running = scheduler->hold(JobId{1}, on_hold);
    EXPECT_EQ(running.code(), ErrorCode::kNotFound);
    EXPECT_NE(running.message().find("job 1 is not waiting"), std::string::npos)
        << running.message();
  }
}

// A held job is cancelled like any queued one: after-any dependents become ready, after-ok
// ones never will; the hold is gone with it.
TEST(SchedulerHold, CancellingAHeldJobReleasesItsAfterAnyDependents) {
  auto scheduler = make_scheduler(4);
  ASSERT_TRUE(scheduler->enqueue(make_job(1)).ok());
  ASSERT_TRUE(scheduler->enqueue(depending_on(2, 1, DependencyKind::kAfterAny)).ok());
  ASSERT_TRUE(scheduler->enqueue(depending_on(3, 1, DependencyKind::kAfterOk)).ok());
  ASSERT_TRUE(scheduler->hold(JobId{1}, true).ok());
  EXPECT_TRUE(start_now(*scheduler, 0.0).empty());
  ASSERT_TRUE(scheduler->cancel(JobId{1}, 1.0).ok());
  EXPECT_EQ(scheduler->hold(JobId{1}, false).code(), ErrorCode::kNotFound);
  EXPECT_EQ(queued_ids(scheduler->snapshot()), (Ids{2, 3}));
  EXPECT_EQ(start_now(*scheduler, 1.0), (Ids{2}));
  EXPECT_TRUE(scheduler->state().on_hold.empty());
}

// A job requeued from running comes back unheld, even one held before it first started.
TEST(SchedulerHold, ARequeuedJobComesBackUnheld) {
  auto scheduler = make_scheduler(1);
  ASSERT_TRUE(scheduler->enqueue(make_job(1)).ok());
  ASSERT_TRUE(scheduler->hold(JobId{1}, true).ok());
  ASSERT_TRUE(scheduler->hold(JobId{1}, false).ok());
  ASSERT_EQ(start_now(*scheduler, 0.0), (Ids{1}));
  ASSERT_TRUE(scheduler->requeue(JobId{1}, 1.0).ok());
  EXPECT_EQ(start_now(*scheduler, 1.0), (Ids{1}));
}

}  // namespace
}  // namespace fastgpu::sched
