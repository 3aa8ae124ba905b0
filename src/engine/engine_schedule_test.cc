// The scheduler the engine keeps between ticks (src/engine/kept_schedule.h) against the
// pure schedule() on the snapshot the engine builds each tick, over random runs of the
// engine: submits (GPU and CPU jobs, "auto" memory, dependencies, %N arrays, restartable
// jobs), cancels, ends, preemptions and a moving clock, under each policy. With
// EngineOptions::check_schedule every tick compares the two and warns when they differ;
// no run may warn, and the kept scheduler must be fed, not rebuilt, at most ticks.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "engine/engine_test_util.h"
#include "fastgpu/engine/engine.h"
#include "fastgpu/gpu/simulated_probe.h"

namespace fastgpu::engine {
namespace {

using store::JobSpec;
using store::JobState;
using testing::FakeLauncher;
using testing::ManualClock;
using testing::TempDir;

constexpr Bytes kGiB = Bytes{1} << 30;

class RandomEngineRun {
 public:
  RandomEngineRun(const std::string& policy, std::uint64_t seed,
                  std::size_t rebuild_after_ends = 50'000)
      : random_(seed) {
    probe_ = std::move(make_simulated_probe("2xH100-80G,2xA100-40G")).value();
    options_.probe = probe_.get();
    options_.launcher = &launcher_;
    options_.store = store_.get();
    options_.clock = &clock_;
    options_.state_dir = dir_.path();
    options_.scheduler.policy = policy;
    options_.scheduler.min_run_before_preempt_s = 0.0;
    options_.scheduler.las_thresholds_gpu_s = {10.0, 60.0};  // preempts within a run
    options_.cpu_slots = 2;
    options_.check_schedule = true;
    options_.rebuild_scheduler_after_ends = rebuild_after_ends;
    engine_ = std::move(Engine::open(options_)).value();
  }

  // One random step: a submit, a cancel, an end, the clock moving on, or a tick.
  void step() {
    const int action = pick(0, 99);
    if (action < 30) return submit();
    if (action < 38) return cancel();
    if (action < 60) return end_one();
    if (action < 70) return clock_.advance(pick(1, 20));
    tick();
  }

  void tick() {
    Result<TickReport> report = engine_->tick();
    ASSERT_TRUE(report.ok()) << report.status().to_string();
    ++ticks_;
    if (!report->schedule_rebuilt.empty()) ++rebuilds_;
    if (report->schedule_rebuilt.find("ended since it was built") != std::string::npos) {
      ++forgetting_rebuilds_;
    }
    preempted_ += report->preempted.size();
    for (const std::string& warning : report->warnings) {
      EXPECT_THAT(warning, ::testing::Not(::testing::HasSubstr("the kept scheduler decided")))
          << "tick " << ticks_;
    }
    for (JobId job : report->started) running_.push_back(job);
  }

  int ticks() const { return ticks_; }
  int rebuilds() const { return rebuilds_; }
  int forgetting_rebuilds() const { return forgetting_rebuilds_; }
  std::size_t submitted() const { return submitted_.size(); }
  std::size_t preempted() const { return preempted_; }

 private:
  int pick(int low, int high) { return std::uniform_int_distribution<int>(low, high)(random_); }

  JobSpec spec() {
    JobSpec spec;
    spec.name = "job-" + std::to_string(pick(0, 5));  // a few signatures, for "auto"
    spec.argv = {"/bin/true"};
    spec.working_dir = "/tmp";
    spec.uid = 1000;
    spec.user = pick(0, 1) == 0 ? "ada" : "grace";
    spec.signature = spec.name;
    spec.gpus = pick(0, 3) == 0 ? 0 : pick(1, 2);
    if (spec.gpus > 0) {
      const Bytes sizes[] = {10 * kGiB, 30 * kGiB, 38 * kGiB};
      if (pick(0, 4) != 0) spec.gpu_mem = sizes[pick(0, 2)];
      const double shares[] = {1.0, 0.5, 0.25};
      spec.util_share = shares[pick(0, 2)];
    }
    spec.priority = pick(0, 3);
    if (pick(0, 1) == 0) spec.time_limit_s = pick(30, 600);
    if (pick(0, 2) == 0) spec.deadline = clock_.now() + std::chrono::seconds(pick(10, 900));
    spec.restartable = pick(0, 1) == 0;
    if (!submitted_.empty() && pick(0, 3) == 0) {
      const JobId target =
          submitted_[static_cast<std::size_t>(pick(0, static_cast<int>(submitted_.size()) - 1))];
      store::Dependency dependency;
      dependency.job = target;
      dependency.kind =
          pick(0, 1) == 0 ? store::DependencyKind::kAfterOk : store::DependencyKind::kAfterAny;
      // Waiting to succeed on a job that ended otherwise is refused at submit; a target
      // that fails after the submit still cancels its dependents.
      if (Result<store::JobRecord> record = store_->get_job(target);
          record.ok() && store::is_terminal(record->state) &&
          record->state != store::JobState::kCompleted) {
        dependency.kind = store::DependencyKind::kAfterAny;
      }
      spec.dependencies.push_back(dependency);
    }
    return spec;
  }

  void submit() {
    std::vector<JobSpec> batch;
    if (pick(0, 4) == 0) {  // an array, often with a running limit
      const std::uint32_t limit = static_cast<std::uint32_t>(pick(0, 2));
      const JobSpec member = spec();
      for (std::uint32_t i = 0; i < static_cast<std::uint32_t>(pick(2, 5)); ++i) {
        batch.push_back(member);
        batch.back().array = store::ArrayMember{0, i, limit};
      }
    } else {
      batch.push_back(spec());
    }
    Result<std::vector<JobId>> ids = engine_->submit(batch);
    ASSERT_TRUE(ids.ok()) << ids.status().to_string();
    submitted_.insert(submitted_.end(), ids->begin(), ids->end());
  }

  void cancel() {
    if (submitted_.empty()) return;
    const JobId job =
        submitted_[static_cast<std::size_t>(pick(0, static_cast<int>(submitted_.size()) - 1))];
    (void)engine_->cancel(job, 0);  // refused when it already ended: fine
  }

  // Ends one run the launcher holds: a stop the engine asked for as stopped, any other
  // run with exit code 0 or 1.
  void end_one() {
    std::erase_if(running_, [this](JobId job) { return !launcher_.runs(job); });
    if (running_.empty()) return;
    const std::size_t at = static_cast<std::size_t>(pick(0, static_cast<int>(running_.size()) - 1));
    const JobId job = running_[at];
    bool stopping = false;
    bool preempted = false;
    for (const FakeLauncher::StopCall& stop : launcher_.stops) {
      if (stop.job != job) continue;
      stopping = true;
      preempted = stop.reason == exec::StopReason::kPreempt;
    }
    if (stopping) {
      launcher_.finish(job, exec::Stopped{preempted});
    } else {
      launcher_.finish(job, exec::Exited{pick(0, 3) == 0 ? 1 : 0});
    }
    launcher_.stops.erase(
        std::remove_if(launcher_.stops.begin(), launcher_.stops.end(),
                       [job](const FakeLauncher::StopCall& stop) { return stop.job == job; }),
        launcher_.stops.end());
    running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(at));
  }

  std::mt19937_64 random_;
  ManualClock clock_;
  FakeLauncher launcher_{clock_};
  std::unique_ptr<store::StateStore> store_ =
      std::move(store::open_sqlite_store(":memory:")).value();
  TempDir dir_;
  std::unique_ptr<SimulatedProbe> probe_;
  EngineOptions options_;
  std::unique_ptr<Engine> engine_;
  std::vector<JobId> submitted_;
  std::vector<JobId> running_;  // started by the engine; some ended since
  int ticks_ = 0;
  int rebuilds_ = 0;
  int forgetting_rebuilds_ = 0;
  std::size_t preempted_ = 0;
};

class KeptScheduleEquivalence : public ::testing::TestWithParam<std::string> {};

TEST_P(KeptScheduleEquivalence, DecidesAsThePureScheduleAtEveryTick) {
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    RandomEngineRun run(GetParam(), seed);
    for (int i = 0; i < 400; ++i) {
      run.step();
      if (::testing::Test::HasFailure()) return;
    }
    run.tick();
    EXPECT_GT(run.submitted(), 50u) << "seed " << seed;
    if (GetParam() == "las") {
      EXPECT_GT(run.preempted(), 0u) << "seed " << seed;
    }
    // Fed, not rebuilt, at almost every tick: a rebuild at the first tick, and when a
    // mirror of the store was read again (an end that lost its race with a cancel).
    EXPECT_GT(run.ticks(), 60) << "seed " << seed;
    EXPECT_LT(run.rebuilds(), run.ticks() / 10) << "seed " << seed;
  }
}

// Rebuilt every few ends to forget the ended jobs, the kept scheduler still decides as the
// pure one: a job that depends on a forgotten one is told of it again from the store.
TEST_P(KeptScheduleEquivalence, DecidesAsThePureScheduleAfterForgettingEndedJobs) {
  RandomEngineRun run(GetParam(), 7, /*rebuild_after_ends=*/5);
  for (int i = 0; i < 400 && !::testing::Test::HasFailure(); ++i) run.step();
  run.tick();
  EXPECT_GT(run.forgetting_rebuilds(), 3);
}

// fair too: the GPU time of each end comes from the store's record, as in the snapshot.
INSTANTIATE_TEST_SUITE_P(Policies, KeptScheduleEquivalence,
                         ::testing::Values("fifo", "priority", "sjf", "las", "edf", "fair"));

}  // namespace
}  // namespace fastgpu::engine
