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

// ---- Random streams: the kept scheduler with holds against the pure call on snapshot()

struct HoldFigures {
  std::size_t decisions = 0;
  std::size_t holds = 0;
  std::size_t released_starts = 0;    // starts of jobs that were held earlier
  std::size_t hidden_dependents = 0;  // per step, jobs out of snapshot() for a held dependency
  std::uint64_t kept_fair_keys = 0;   // calls under fair that kept their keys with jobs held
};

// A stream's changes, with the jobs it holds (the scheduler forgets a hold when the job
// leaves the queue; held jobs leave it only by cancel).
class HoldStream {
 public:
  // dependencies false: arrivals come without dependencies.
  HoldStream(std::uint64_t seed, Scheduler& scheduler, bool dependencies = true)
      : draws_(seed), scheduler_(scheduler), dependencies_(dependencies) {}

  testing::MixedStream& draws() { return draws_; }
  const std::set<JobId>& held() const { return held_; }
  const std::set<JobId>& ever_held() const { return ever_held_; }

  // One change, chosen at random: arrivals, an end, a cancel (held jobs included), a
  // requeue, a new history, a hold refused, or a hold or release of a queued job.
  void change(double now, HoldFigures& figures) {
    const int what = draws_.pick(0, 13);
    const Snapshot state = scheduler_.snapshot();
    if (what <= 2 || (what <= 5 && state.running.empty())) {
      // Dependencies on unknown ids are refused; that is part of what is tested.
      for (int n = draws_.pick(1, 4); n > 0; --n) {
        Job job = draws_.job(now);
        if (!dependencies_) job.dependencies.clear();
        (void)scheduler_.enqueue(std::move(job));
      }
    } else if (what <= 4) {
      const RunningJob& done = draws_.pick_from(state.running);
      const EndState end = draws_.pick(0, 3) == 0 ? EndState::kFailed : EndState::kSucceeded;
      EXPECT_TRUE(scheduler_.finish(done.job.id, end, now).ok());
    } else if (what == 5) {
      EXPECT_TRUE(scheduler_.requeue(draws_.pick_from(state.running).job.id, now).ok());
    } else if (what == 6) {
      cancel_one(now);
    } else if (what == 7) {
      SignatureHistory history;
      history.peak_bytes = {static_cast<Bytes>(draws_.pick(1, 20)) * kGiB};
      history.run_seconds = {60.0 * draws_.pick(1, 20)};
      scheduler_.set_history("sig" + std::to_string(draws_.pick(0, 5)), history);
    } else if (what == 8) {
      refuse_running(state);
    } else {
      toggle_one(figures);
    }
  }

 private:
  // Every queued job, held ones and their dependents included, in id order.
  std::vector<JobId> queued() const {
    std::vector<JobId> ids;
    for (const auto& [id, job] : scheduler_.state().queue) ids.push_back(id);
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  void cancel_one(double now) {
    const std::vector<JobId> ids = queued();
    if (ids.empty()) return;
    const JobId gone = draws_.pick_from(ids);
    EXPECT_TRUE(scheduler_.cancel(gone, now).ok());
    held_.erase(gone);
  }

  // Holds a queued job not held, or releases a held one; now and then asks again for
  // what is already so, which changes nothing.
  void toggle_one(HoldFigures& figures) {
    const std::vector<JobId> ids = queued();
    if (ids.empty()) return;
    const JobId id = draws_.pick_from(ids);
    const bool held = held_.count(id) != 0;
    const bool on_hold = draws_.pick(0, 5) == 0 ? held : !held;
    EXPECT_TRUE(scheduler_.hold(id, on_hold).ok());
    if (!on_hold) {
      held_.erase(id);
      return;
    }
    if (held_.insert(id).second) ++figures.holds;
    ever_held_.insert(id);
  }

  // A running job is not queued: holding or releasing it is refused, and changes nothing.
  void refuse_running(const Snapshot& state) {
    if (state.running.empty()) return;
    const Status refused = scheduler_.hold(draws_.pick_from(state.running).job.id, true);
    EXPECT_EQ(refused.code(), ErrorCode::kNotFound) << refused.message();
  }

  testing::MixedStream draws_;
  Scheduler& scheduler_;
  bool dependencies_;
  std::set<JobId> held_;
  std::set<JobId> ever_held_;
};

// The kept call against the pure call on snapshot(); no held job may start.
bool step_matches(Scheduler& scheduler, const HoldStream& stream, const SchedulerConfig& config,
                  double now, const std::string& where, HoldFigures& figures) {
  Snapshot snapshot = scheduler.snapshot();
  snapshot.now_s = now;
  for (const Job& job : snapshot.queue) {
    EXPECT_EQ(stream.held().count(job.id), 0u) << where << ": held job " << job.id;
  }
  figures.hidden_dependents += scheduler.queued() - snapshot.queue.size() - stream.held().size();
  auto pure = schedule(snapshot, config);
  auto kept = scheduler.schedule(now);
  if (!testing::kept_matches(pure, kept, where)) return false;
  for (const Start& start : testing::starts(*kept)) {
    EXPECT_EQ(stream.held().count(start.job), 0u) << where << ": started held job " << start.job;
    if (stream.ever_held().count(start.job) != 0) ++figures.released_starts;
  }
  figures.decisions += kept->decisions.size();
  return !::testing::Test::HasFailure();
}

HoldFigures run_hold_stream(const SchedulerConfig& config, std::uint64_t seed, int steps,
                            bool dependencies = true) {
  HoldFigures figures;
  auto created = Scheduler::create(config, testing::MixedStream(seed).cluster());
  EXPECT_TRUE(created.ok()) << created.status().to_string();
  if (!created.ok()) return figures;
  Scheduler& scheduler = **created;
  HoldStream stream(seed + 1, scheduler, dependencies);
  double now = 0.0;
  for (int step = 0; step < steps; ++step) {
    now += 30.0 * stream.draws().pick(0, 4);
    for (int n = stream.draws().pick(1, 3); n > 0; --n) stream.change(now, figures);
    if (::testing::Test::HasFailure()) return figures;
    const std::string where = testing::stream_step(config, seed, step);
    if (!step_matches(scheduler, stream, config, now, where, figures)) return figures;
    figures.kept_fair_keys = scheduler.state().fair_keyed_holding;
  }
  return figures;
}

class HoldEquivalence : public ::testing::TestWithParam<std::string> {};

TEST_P(HoldEquivalence, DecidesAsThePureSchedulerOnTheSnapshotOnEveryStep) {
  for (const char* strategy : {"pack", "spread"}) {
    for (const bool backfill : {false, true}) {
      const SchedulerConfig config = testing::mixed_stream_config(GetParam(), strategy, backfill);
      HoldFigures total;
      for (std::uint64_t seed = 1; seed <= 6; ++seed) {
        const HoldFigures figures = run_hold_stream(config, seed * 6151 + (backfill ? 1 : 0), 120);
        if (::testing::Test::HasFailure()) return;
        total.decisions += figures.decisions;
        total.holds += figures.holds;
        total.released_starts += figures.released_starts;
        total.hidden_dependents += figures.hidden_dependents;
      }
      // The streams must start jobs, hold many, hide jobs behind held ones and start some
      // after their release, or they compare nothing of what this test is for.
      const std::string where = config.policy + "/" + strategy;
      EXPECT_GT(total.decisions, 200u) << where;
      EXPECT_GT(total.holds, 150u) << where;
      EXPECT_GT(total.hidden_dependents, 100u) << where;
      EXPECT_GT(total.released_starts, 20u) << where;
    }
  }
}

// Under fair, while no queued job has dependencies, the held jobs are exactly what
// snapshot() leaves out: the kept scheduler keeps its keys with them held (FairKeys without
// them: an array's %N, CPU slots) instead of ranking the whole queue on every call, and
// decides as the pure call on snapshot() does.
TEST(FairHoldEquivalence, KeepsItsKeysWhileJobsAreHeldAndDecidesAsThePureScheduler) {
  for (const char* strategy : {"pack", "spread"}) {
    for (const bool backfill : {false, true}) {
      const SchedulerConfig config = testing::mixed_stream_config("fair", strategy, backfill);
      HoldFigures total;
      for (std::uint64_t seed = 1; seed <= 6; ++seed) {
        const HoldFigures figures =
            run_hold_stream(config, seed * 7207 + (backfill ? 1 : 0), 120, false);
        if (::testing::Test::HasFailure()) return;
        total.decisions += figures.decisions;
        total.holds += figures.holds;
        total.released_starts += figures.released_starts;
        total.kept_fair_keys += figures.kept_fair_keys;
      }
      const std::string where = std::string(strategy) + (backfill ? ", backfill" : "");
      EXPECT_GT(total.decisions, 200u) << where;
      EXPECT_GT(total.holds, 150u) << where;
      EXPECT_GT(total.released_starts, 20u) << where;
      EXPECT_GT(total.kept_fair_keys, 500u) << where;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(EveryPolicy, HoldEquivalence,
                         ::testing::Values("fifo", "priority", "sjf", "srtf", "edf", "las",
                                           "fair"));

}  // namespace
}  // namespace fastgpu::sched
