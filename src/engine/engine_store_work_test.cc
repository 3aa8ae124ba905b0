// What a tick asks of the store: its claims, its launches' pids and its ends each go in one
// call (one commit), a job whose write fails is told of alone while the others go on, and
// jobs waiting on another cost no reads while it runs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/engine_test_util.h"
#include "fastgpu/engine/engine.h"
#include "fastgpu/gpu/simulated_probe.h"

namespace fastgpu::engine {
namespace {

using store::JobSpec;
using store::JobState;
using testing::CountingStore;
using ::testing::ElementsAre;
using testing::FakeLauncher;
using ::testing::HasSubstr;
using testing::ManualClock;
using ::testing::Pair;
using testing::TempDir;

JobSpec cpu_job(int n) {
  JobSpec spec;
  spec.name = "step" + std::to_string(n);
  spec.argv = {"/bin/true"};
  spec.gpus = 0;
  spec.working_dir = "/tmp";
  spec.uid = 1000;
  spec.user = "ada";
  return spec;
}

class EngineStoreWorkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    probe_ = std::move(make_simulated_probe("2xH100-80G")).value();
    options_.probe = probe_.get();
    options_.launcher = &launcher_;
    options_.store = &counted_;
    options_.clock = &clock_;
    options_.state_dir = dir_.path();
    options_.cpu_slots = 8;
    engine_ = std::move(Engine::open(options_)).value();
  }

  std::vector<JobId> submit(int count, std::vector<store::Dependency> after = {}) {
    std::vector<JobSpec> specs;
    for (int n = 0; n < count; ++n) {
      specs.push_back(cpu_job(n));
      specs.back().dependencies = after;
    }
    return engine_->submit(specs).value();
  }

  // The store reads of one tick in which nothing starts or ends.
  std::uint64_t reads_of_a_quiet_tick() {
    const std::uint64_t before = counted_.job_reads;
    tick();
    return counted_.job_reads - before;
  }

  TickReport tick() {
    clock_.advance(1.0);
    auto report = engine_->tick();
    EXPECT_TRUE(report.ok()) << report.status().to_string();
    return report.ok() ? *report : TickReport{};
  }

  JobState state_of(JobId job) { return std::move(store_->get_job(job)).value().state; }

  ManualClock clock_;
  FakeLauncher launcher_{clock_};
  std::unique_ptr<store::StateStore> store_ =
      std::move(store::open_sqlite_store(":memory:")).value();
  CountingStore counted_{*store_};
  TempDir dir_;
  std::unique_ptr<SimulatedProbe> probe_;
  EngineOptions options_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineStoreWorkTest, ATicksClaimsPidsAndEndsGoToTheStoreInOneCallEach) {
  const std::vector<JobId> jobs = submit(4);
  tick();  // claims and launches the four
  tick();  // records their pids
  for (JobId job : jobs) EXPECT_EQ(state_of(job), JobState::kRunning);
  for (JobId job : jobs) launcher_.finish(job, exec::Exited{0});
  const TickReport ended = tick();
  EXPECT_EQ(ended.ended.size(), 4u);
  for (JobId job : jobs) EXPECT_EQ(state_of(job), JobState::kCompleted);
  EXPECT_THAT(counted_.batch_sizes,
              ElementsAre(Pair("starts", 4u), Pair("pids", 4u), Pair("ends", 4u)));
  // Each job has its own start and end events, as when each was written alone.
  std::size_t starts = 0;
  std::size_t ends = 0;
  const Result<std::vector<store::Event>> events = store_->events_since(0, 100);
  ASSERT_TRUE(events.ok());
  for (const store::Event& event : *events) {
    starts += event.kind == "job.start" ? 1 : 0;
    ends += event.kind == "job.end" ? 1 : 0;
  }
  EXPECT_EQ(starts, 4u);
  EXPECT_EQ(ends, 4u);
}

// A claim the store refuses (the job was cancelled behind the engine's back) is warned of;
// the tick's other claims are launched all the same, and the refused job is not.
TEST_F(EngineStoreWorkTest, AClaimRefusedInABatchLeavesTheOthersLaunched) {
  const std::vector<JobId> jobs = submit(3);
  counted_.before_starts = [&] {
    ASSERT_TRUE(store_
                    ->transition(jobs[1], JobState::kQueued, JobState::kCancelled, clock_.now(),
                                 "cancelled elsewhere")
                    .ok());
  };
  const TickReport report = tick();
  counted_.before_starts = nullptr;
  EXPECT_EQ(launcher_.launch_count(jobs[0]), 1u);
  EXPECT_EQ(launcher_.launch_count(jobs[1]), 0u);
  EXPECT_EQ(launcher_.launch_count(jobs[2]), 1u);
  std::string warnings;
  for (const std::string& warning : report.warnings) warnings += warning + "\n";
  EXPECT_THAT(warnings, HasSubstr("could not claim job " + to_string(jobs[1])));
  tick();
  EXPECT_EQ(state_of(jobs[0]), JobState::kRunning);
  EXPECT_EQ(state_of(jobs[1]), JobState::kCancelled);
  EXPECT_EQ(state_of(jobs[2]), JobState::kRunning);
  for (JobId job : {jobs[0], jobs[2]}) launcher_.finish(job, exec::Exited{0});
  tick();
  EXPECT_EQ(state_of(jobs[0]), JobState::kCompleted);
  EXPECT_EQ(state_of(jobs[2]), JobState::kCompleted);
}

// Every job waiting to succeed on a running job read that job from the store at every tick:
// 10,000 such jobs cost the daemon 80 ms of CPU a tick. A job known to have completed is
// read once.
TEST_F(EngineStoreWorkTest, JobsWaitingOnAnotherCostATickNoStoreReads) {
  const JobId first = submit(1).at(0);
  const JobId second = submit(1).at(0);
  tick();
  tick();
  ASSERT_EQ(state_of(first), JobState::kRunning);
  const std::uint64_t alone = reads_of_a_quiet_tick();

  const store::Dependency after_first{first, store::DependencyKind::kAfterOk, std::nullopt};
  const store::Dependency after_second{second, store::DependencyKind::kAfterOk, std::nullopt};
  const std::vector<JobId> waiting = submit(50, {after_first, after_second});
  tick();
  EXPECT_EQ(reads_of_a_quiet_tick(), alone) << "with 50 jobs waiting on two running ones";

  launcher_.finish(first, exec::Exited{0});
  tick();  // records the end; the waiting jobs still wait on the second
  ASSERT_EQ(state_of(first), JobState::kCompleted);
  tick();  // reads the completed job once
  EXPECT_EQ(reads_of_a_quiet_tick(), alone);
  for (JobId job : waiting) EXPECT_EQ(state_of(job), JobState::kQueued);

  // The second fails: all fifty are cancelled at once, naming it.
  launcher_.finish(second, exec::Exited{3});
  tick();
  tick();
  for (JobId job : waiting) EXPECT_EQ(state_of(job), JobState::kCancelled);
  const Result<std::vector<store::Transition>> log = store_->transitions(waiting.back());
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log->back().reason, "dependency " + to_string(second) + " failed: it ended FAILED");
}

}  // namespace
}  // namespace fastgpu::engine
