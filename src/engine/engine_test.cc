// The engine loop over a simulated probe, a fake launcher, an in-memory store and a
// manual clock: placement, packing, ends, cancel, dependencies, arrays, preemption,
// launch failures, foreign memory and memory pressure.
#include "fastgpu/engine/engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <random>

#include "engine/engine_test_util.h"
#include "fastgpu/gpu/simulated_probe.h"

namespace fastgpu::engine {
namespace {

using store::JobRecord;
using store::JobSpec;
using store::JobState;
using ::testing::Contains;
using ::testing::ElementsAre;
using testing::FakeLauncher;
using ::testing::HasSubstr;
using testing::ManualClock;
using ::testing::Not;
using testing::TempDir;

constexpr Bytes kGiB = Bytes{1} << 30;

JobSpec job_spec(const std::string& name, int gpus, std::optional<Bytes> gpu_mem,
                 double share = 1.0) {
  JobSpec spec;
  spec.name = name;
  spec.argv = {"/bin/true", name};
  spec.working_dir = "/tmp";
  spec.gpus = gpus;
  spec.gpu_mem = gpu_mem;
  spec.util_share = share;
  spec.uid = 1000;
  spec.user = "ada";
  return spec;
}

class EngineTest : public ::testing::Test {
 protected:
  void open(const std::string& devices = "4xH100-80G") {
    probe_ = std::move(make_simulated_probe(devices)).value();
    options_.probe = probe_.get();
    options_.launcher = &launcher_;
    options_.store = store_.get();
    options_.clock = &clock_;
    options_.state_dir = dir_.path();
    options_.check_schedule = true;  // every tick: the kept scheduler against the pure one
    options_.attribute_pid = [this](std::uint32_t pid,
                                    const SupervisorJobs&) -> std::optional<JobId> {
      for (const exec::LaunchRequest& request : launcher_.launches) {
        if (launcher_.runs(request.job) &&
            static_cast<std::uint32_t>(launcher_.job_pid(request.job)) == pid) {
          return request.job;
        }
      }
      return std::nullopt;
    };
    auto engine = Engine::open(options_);
    ASSERT_TRUE(engine.ok()) << engine.status().to_string();
    engine_ = std::move(engine).value();
  }

  std::vector<JobId> submit(const std::vector<JobSpec>& specs) {
    auto ids = engine_->submit(specs);
    EXPECT_TRUE(ids.ok()) << ids.status().to_string();
    return ids.ok() ? *ids : std::vector<JobId>{};
  }
  JobId submit_one(const JobSpec& spec) { return submit({spec}).at(0); }

  TickReport tick() {
    auto report = engine_->tick();
    EXPECT_TRUE(report.ok()) << report.status().to_string();
    if (!report.ok()) return TickReport{};
    for (const std::string& warning : report->warnings) {
      EXPECT_THAT(warning, Not(HasSubstr("the kept scheduler decided")));
    }
    return *report;
  }

  JobRecord record(JobId id) {
    auto job = store_->get_job(id);
    EXPECT_TRUE(job.ok()) << job.status().to_string();
    return job.ok() ? *job : JobRecord{};
  }
  JobState state(JobId id) { return record(id).state; }
  std::string last_reason(JobId id) {
    auto transitions = store_->transitions(id);
    return transitions.ok() && !transitions->empty() ? transitions->back().reason : "";
  }

  GpuDevice& device(std::uint32_t index) { return probe_->devices().at(index); }
  // Starts a job holding `gpus` GPUs at half share and 40 GiB each for the next hour.
  JobId start_half_share_for_an_hour(int gpus) {
    JobSpec hour = job_spec("hour", gpus, 40 * kGiB, 0.5);
    hour.time_limit_s = 3600;
    const JobId running = submit_one(hour);
    tick();
    EXPECT_EQ(state(running), JobState::kRunning);
    return running;
  }
  std::vector<JobId> start_two_packed_restartable_jobs();

  ManualClock clock_;
  FakeLauncher launcher_{clock_};
  std::unique_ptr<store::StateStore> store_ =
      std::move(store::open_sqlite_store(":memory:")).value();
  TempDir dir_;
  std::unique_ptr<SimulatedProbe> probe_;
  EngineOptions options_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineTest, PlacementReachesTheLauncher) {
  open();
  JobSpec spec = job_spec("train", 2, 20 * kGiB);
  spec.environment = {"DATA=/data", "SEED=3"};
  spec.time_limit_s = 3600;
  const JobId id = submit_one(spec);

  const TickReport report = tick();
  EXPECT_THAT(report.started, ElementsAre(id));
  const exec::LaunchRequest* launch = launcher_.launch_of(id);
  ASSERT_NE(launch, nullptr);
  EXPECT_EQ(launch->argv, spec.argv);
  EXPECT_EQ(launch->working_dir, "/tmp");
  EXPECT_EQ(launch->environment, spec.environment);
  ASSERT_EQ(launch->gpus.size(), 2u);
  EXPECT_NE(launch->gpus[0], launch->gpus[1]);
  EXPECT_EQ(launch->gpu_mem_quota, 20 * kGiB);
  EXPECT_EQ(launch->time_limit_s, 3600.0);
  EXPECT_FALSE(launch->array_index.has_value());
  EXPECT_FALSE(launch->uid.has_value());
  EXPECT_EQ(launch->log_path, dir_.path() / "logs" / (to_string(id) + ".log"));
  EXPECT_EQ(launch->run_file, dir_.path() / "runs" / (to_string(id) + ".1.jsonl"));

  const JobRecord job = record(id);
  EXPECT_EQ(job.state, JobState::kRunning);
  EXPECT_EQ(job.placed_gpus, launch->gpus);
  EXPECT_EQ(job.placed_bytes_per_gpu, 20 * kGiB);
  EXPECT_EQ(job.supervisor_pid, 1000);  // the fake's first pids
  EXPECT_EQ(job.job_pid, 1001);
  EXPECT_EQ(job.attempts, 1u);
  EXPECT_EQ(tick().started.size(), 0u);  // nothing is launched twice
  EXPECT_EQ(launcher_.launch_count(id), 1u);
}

TEST_F(EngineTest, CpuOnlyJobGetsNoGpusAndNoQuota) {
  open();
  const JobId id = submit_one(job_spec("prep", 0, std::nullopt));
  tick();
  const exec::LaunchRequest* launch = launcher_.launch_of(id);
  ASSERT_NE(launch, nullptr);
  EXPECT_TRUE(launch->gpus.empty());
  EXPECT_FALSE(launch->gpu_mem_quota.has_value());
  EXPECT_FALSE(record(id).placed_bytes_per_gpu.has_value());
}

TEST_F(EngineTest, PacksTwoJobsOnOneGpuButNeverOverCommits) {
  open("H100-80G");
  const std::vector<JobId> ids =
      submit({job_spec("a", 1, 20 * kGiB, 0.3), job_spec("b", 1, 20 * kGiB, 0.3),
              job_spec("c", 1, 50 * kGiB, 0.3)});
  tick();
  EXPECT_EQ(state(ids[0]), JobState::kRunning);
  EXPECT_EQ(state(ids[1]), JobState::kRunning);
  EXPECT_EQ(state(ids[2]), JobState::kQueued);  // 20G + 20G + 50G > 80G
  EXPECT_EQ(launcher_.launch_of(ids[0])->gpus, launcher_.launch_of(ids[1])->gpus);

  launcher_.finish(ids[0], exec::Exited{0});
  clock_.advance(5);
  const TickReport report = tick();
  EXPECT_THAT(report.ended, ElementsAre(ids[0]));
  EXPECT_THAT(report.started, ElementsAre(ids[2]));  // 20G + 50G fits
  EXPECT_EQ(state(ids[0]), JobState::kCompleted);
}

TEST_F(EngineTest, TimedOutRunEndsTimeout) {
  open();
  JobSpec spec = job_spec("slow", 1, 10 * kGiB);
  spec.time_limit_s = 60;
  const JobId id = submit_one(spec);
  tick();
  clock_.advance(60);
  launcher_.finish(id, exec::TimedOut{SIGTERM, std::nullopt});
  tick();
  EXPECT_EQ(state(id), JobState::kTimeout);
  EXPECT_THAT(last_reason(id), HasSubstr("time limit of 60 s"));
  EXPECT_EQ(record(id).signal, SIGTERM);
  EXPECT_EQ(record(id).end_reason, "terminated by SIGTERM at its time limit of 60 s");
}

TEST_F(EngineTest, FailedRunRecordsExitCodeAndReason) {
  open();
  const JobId id = submit_one(job_spec("bad", 1, 10 * kGiB));
  tick();
  launcher_.finish(id, exec::Exited{3});
  tick();
  const JobRecord job = record(id);
  EXPECT_EQ(job.state, JobState::kFailed);
  EXPECT_EQ(job.exit_code, 3);
  EXPECT_THAT(last_reason(id), HasSubstr("exited with status 3"));
}

TEST_F(EngineTest, LaunchFailureEndsTheJobFailedWithTheMessage) {
  open();
  launcher_.fail_next_launch = "cannot exec /no/such/program";
  const JobId id = submit_one(job_spec("typo", 1, 10 * kGiB));
  const TickReport report = tick();
  EXPECT_EQ(state(id), JobState::kFailed);
  EXPECT_THAT(last_reason(id), HasSubstr("cannot exec /no/such/program"));
  EXPECT_THAT(record(id).end_reason, HasSubstr("could not be launched: "));
  // In the user's words: no status name ("io error: "), nothing else.
  EXPECT_EQ(record(id).end_reason, "could not be launched: cannot exec /no/such/program");
  EXPECT_THAT(record(id).end_reason, HasSubstr("cannot exec /no/such/program"));
  EXPECT_TRUE(record(id).end_time.has_value());
  EXPECT_THAT(report.ended, Contains(id));
  EXPECT_FALSE(report.warnings.empty());
  // Its GPU is free again for the next job.
  const JobId next = submit_one(job_spec("next", 4, 10 * kGiB));
  tick();
  EXPECT_EQ(state(next), JobState::kRunning);
}

TEST_F(EngineTest, CancelQueuedJobNeverLaunchesIt) {
  open("H100-80G");
  const std::vector<JobId> ids =
      submit({job_spec("first", 1, 10 * kGiB), job_spec("second", 1, 10 * kGiB)});
  tick();
  ASSERT_EQ(state(ids[1]), JobState::kQueued);
  ASSERT_TRUE(engine_->cancel(ids[1], 1000).ok());
  EXPECT_EQ(state(ids[1]), JobState::kCancelled);
  launcher_.finish(ids[0], exec::Exited{0});
  tick();
  tick();
  EXPECT_EQ(launcher_.launch_count(ids[1]), 0u);
}

TEST_F(EngineTest, CancelRunningJobStopsItAndItEndsCancelled) {
  open();
  const JobId id = submit_one(job_spec("long", 1, 10 * kGiB));
  tick();
  ASSERT_TRUE(engine_->cancel(id, 1000).ok());
  ASSERT_EQ(launcher_.stops.size(), 1u);
  EXPECT_EQ(launcher_.stops[0].job, id);
  EXPECT_EQ(launcher_.stops[0].reason, exec::StopReason::kCancel);
  EXPECT_EQ(state(id), JobState::kRunning);  // until the launcher reports it gone

  launcher_.finish(id, exec::Signaled{15});  // died of the SIGTERM
  const TickReport report = tick();
  EXPECT_THAT(report.ended, ElementsAre(id));
  EXPECT_EQ(state(id), JobState::kCancelled);
  EXPECT_EQ(last_reason(id), "cancelled by uid 1000 (killed by SIGTERM)");
}

// Its reason names who cancelled it, as a queued job's does: root is not its user.
TEST_F(EngineTest, ARunningJobRootCancelsSaysSo) {
  open();
  const JobId id = submit_one(job_spec("long", 1, 10 * kGiB));
  tick();
  ASSERT_TRUE(engine_->cancel(id, 0, "root").ok());
  launcher_.finish(id, exec::Signaled{15});
  tick();
  EXPECT_EQ(state(id), JobState::kCancelled);
  EXPECT_EQ(last_reason(id), "cancelled by root (killed by SIGTERM)");
}

TEST_F(EngineTest, AQueuedJobsReasonNamesWhoCancelledIt) {
  open();
  const JobId id = submit_one(job_spec("queued", 1, 10 * kGiB));  // no tick: it waits
  ASSERT_TRUE(engine_->cancel(id, 1000, "ana").ok());
  EXPECT_EQ(state(id), JobState::kCancelled);
  EXPECT_EQ(last_reason(id), "cancelled by ana");
}

TEST_F(EngineTest, CancelChecksTheOwnerAndTheState) {
  open();
  const JobId id = submit_one(job_spec("mine", 1, 10 * kGiB));
  const Status other = engine_->cancel(id, 1001);
  EXPECT_FALSE(other.ok());
  EXPECT_THAT(other.message(), HasSubstr("'ada' (uid 1000)"));
  EXPECT_EQ(state(id), JobState::kQueued);

  ASSERT_TRUE(engine_->cancel(id, 0).ok());  // root may
  const Status again = engine_->cancel(id, 1000);
  EXPECT_FALSE(again.ok());
  EXPECT_THAT(again.message(), HasSubstr("already ended: it is CANCELLED"));
  EXPECT_EQ(engine_->cancel(JobId(999), 0).code(), ErrorCode::kNotFound);
}

TEST_F(EngineTest, AfterOkDependencyWaitsForItsParent) {
  open();
  JobSpec parent = job_spec("parent", 1, 10 * kGiB);
  JobSpec child = job_spec("child", 1, 10 * kGiB);
  child.dependencies = {{JobId(0), store::DependencyKind::kAfterOk, 0}};
  const std::vector<JobId> ids = submit({parent, child});
  tick();
  EXPECT_EQ(state(ids[0]), JobState::kRunning);
  EXPECT_EQ(state(ids[1]), JobState::kQueued);
  tick();
  EXPECT_EQ(state(ids[1]), JobState::kQueued);

  launcher_.finish(ids[0], exec::Exited{0});
  tick();
  EXPECT_EQ(state(ids[1]), JobState::kRunning);
}

TEST_F(EngineTest, FailedParentEndsItsWholeChainOfDependents) {
  open();
  JobSpec child = job_spec("child", 1, 10 * kGiB);
  child.dependencies = {{JobId(0), store::DependencyKind::kAfterOk, 0}};
  JobSpec grandchild = job_spec("grandchild", 1, 10 * kGiB);
  grandchild.dependencies = {{JobId(0), store::DependencyKind::kAfterOk, 1}};
  JobSpec cleanup = job_spec("cleanup", 1, 10 * kGiB);
  cleanup.dependencies = {{JobId(0), store::DependencyKind::kAfterAny, 0}};
  JobSpec great = job_spec("great-grandchild", 1, 10 * kGiB);
  great.dependencies = {{JobId(0), store::DependencyKind::kAfterOk, 2}};
  const std::vector<JobId> ids =
      submit({job_spec("parent", 1, 10 * kGiB), child, grandchild, cleanup, great});
  tick();
  launcher_.finish(ids[0], exec::Exited{1});
  const TickReport report = tick();

  EXPECT_EQ(state(ids[1]), JobState::kCancelled);
  EXPECT_THAT(last_reason(ids[1]), HasSubstr("dependency " + to_string(ids[0]) + " failed"));
  // What show reads: why, and when, though it never ran.
  EXPECT_EQ(record(ids[1]).end_reason,
            "dependency " + to_string(ids[0]) + " failed: it ended FAILED");
  EXPECT_EQ(record(ids[1]).end_time, clock_.now());
  EXPECT_EQ(state(ids[2]), JobState::kCancelled);
  // The child was cancelled, not failed ("dependency N failed: it ended CANCELLED"), and
  // what began the chain is said too (it took a `show` per link to find).
  const std::string root = " (because job " + to_string(ids[0]) + " failed: it ended FAILED)";
  EXPECT_EQ(record(ids[2]).end_reason,
            "dependency " + to_string(ids[1]) + " was cancelled: it ended CANCELLED" + root);
  // Further down, the same first failure, not a nest of every link.
  EXPECT_EQ(record(ids[4]).end_reason,
            "dependency " + to_string(ids[2]) + " was cancelled: it ended CANCELLED" + root);
  EXPECT_EQ(state(ids[3]), JobState::kRunning);  // afterany runs however the parent ended
  EXPECT_EQ(launcher_.launch_count(ids[1]) + launcher_.launch_count(ids[2]), 0u);
  EXPECT_THAT(report.ended, Contains(ids[2]));
}

// A parent cancelled or timed out did not fail: its dependants' reason says what became of
// it (both read "dependency N failed: it ended ...").
TEST_F(EngineTest, ADependantSaysItsParentWasCancelledOrTimedOutNotFailed) {
  open();
  JobSpec timed = job_spec("timed", 1, 10 * kGiB);
  timed.time_limit_s = 5;
  JobSpec after_cancelled = job_spec("after-cancelled", 1, 10 * kGiB);
  after_cancelled.dependencies = {{JobId(0), store::DependencyKind::kAfterOk, 0}};
  JobSpec after_timed = job_spec("after-timed", 1, 10 * kGiB);
  after_timed.dependencies = {{JobId(0), store::DependencyKind::kAfterOk, 2}};
  const std::vector<JobId> ids =
      submit({job_spec("cancelled", 1, 10 * kGiB), after_cancelled, timed, after_timed});
  tick();
  ASSERT_TRUE(engine_->cancel(ids[0], 1000).ok());
  launcher_.finish(ids[0], exec::Signaled{15});  // died of the cancel's SIGTERM
  launcher_.finish(ids[2], exec::TimedOut{15, std::nullopt});
  tick();

  ASSERT_EQ(state(ids[0]), JobState::kCancelled);
  EXPECT_EQ(record(ids[1]).end_reason,
            "dependency " + to_string(ids[0]) + " was cancelled: it ended CANCELLED");
  ASSERT_EQ(state(ids[2]), JobState::kTimeout);
  EXPECT_EQ(record(ids[3]).end_reason,
            "dependency " + to_string(ids[2]) + " timed out: it ended TIMEOUT");
}

TEST_F(EngineTest, ArrayRunsAtMostItsLimitAtOnce) {
  open();
  std::vector<JobSpec> members;
  for (std::uint32_t i = 0; i < 6; ++i) {
    JobSpec spec = job_spec("sweep", 1, 10 * kGiB);
    spec.array = store::ArrayMember{0, i, 2};
    members.push_back(spec);
  }
  const std::vector<JobId> ids = submit(members);
  tick();
  ASSERT_EQ(launcher_.launches.size(), 2u);  // 4 GPUs free, but %2
  EXPECT_EQ(launcher_.launches[0].array_index, 0u);
  EXPECT_EQ(launcher_.launches[1].array_index, 1u);
  tick();
  EXPECT_EQ(launcher_.launches.size(), 2u);

  launcher_.finish(ids[0], exec::Exited{0});
  tick();
  ASSERT_EQ(launcher_.launches.size(), 3u);
  EXPECT_EQ(launcher_.launches[2].array_index, 2u);
}

// An unknown array id made an array of one that no limit or listing knew; another user's
// array is not joined either.
TEST_F(EngineTest, AJobJoinsOnlyAnArrayThatExistsAndIsItsOwners) {
  open();
  JobSpec first = job_spec("sweep", 1, 10 * kGiB);
  first.array = store::ArrayMember{0, 0, 2};
  const JobId started = submit({first}).front();
  const std::uint64_t array = store_->get_job(started).value().spec.array->array_id;
  JobSpec joining = job_spec("sweep", 1, 10 * kGiB);
  joining.array = store::ArrayMember{array, 1, 2};
  EXPECT_TRUE(engine_->submit(std::vector<JobSpec>{joining}).ok());
  JobSpec unknown = joining;
  unknown.array->array_id = 99999;
  Result<std::vector<JobId>> refused = engine_->submit(std::vector<JobSpec>{unknown});
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("array 99999 does not exist"));
  JobSpec someone_else = joining;
  someone_else.uid = joining.uid + 1;
  refused = engine_->submit(std::vector<JobSpec>{someone_else});
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("does not exist among your jobs"));
}

TEST_F(EngineTest, LasPreemptsARestartableJobAndRequeuesIt) {
  options_.scheduler.policy = "las";
  options_.scheduler.las_thresholds_gpu_s = {10.0};
  options_.scheduler.min_run_before_preempt_s = 0.0;
  open("H100-80G");
  JobSpec old_spec = job_spec("old", 1, 60 * kGiB);
  old_spec.restartable = true;
  const JobId old_job = submit_one(old_spec);
  tick();
  ASSERT_EQ(state(old_job), JobState::kRunning);

  clock_.advance(100);
  const JobId fresh = submit_one(job_spec("fresh", 1, 60 * kGiB));
  TickReport report = tick();
  EXPECT_THAT(report.preempted, ElementsAre(old_job));
  ASSERT_EQ(launcher_.stops.size(), 1u);
  EXPECT_EQ(launcher_.stops[0].reason, exec::StopReason::kPreempt);

  launcher_.finish(old_job, exec::Stopped{true});
  report = tick();
  EXPECT_EQ(state(old_job), JobState::kQueued);
  // The requeue names why it was stopped (show printed "was preempted" for any requeue).
  EXPECT_EQ(last_reason(old_job), "requeued: preempted by the scheduler (las: queued job " +
                                      to_string(fresh) + " ranks ahead of it)");
  EXPECT_EQ(state(fresh), JobState::kRunning);

  // Once the GPU is free again the preempted job restarts, in a new run folder.
  launcher_.finish(fresh, exec::Exited{0});
  tick();
  EXPECT_EQ(state(old_job), JobState::kRunning);
  EXPECT_EQ(launcher_.launch_count(old_job), 2u);
  EXPECT_EQ(launcher_.launches.back().run_file,
            dir_.path() / "runs" / (to_string(old_job) + ".2.jsonl"));
}

TEST_F(EngineTest, ForeignMemoryLowersWhatFits) {
  open("H100-80G");
  device(0).processes = std::vector<GpuProcess>{{4242, 50 * kGiB}};  // not ours
  device(0).memory_used_bytes = 50 * kGiB;
  const std::vector<JobId> ids =
      submit({job_spec("small", 1, 20 * kGiB, 0.5), job_spec("big", 1, 40 * kGiB, 0.5)});
  tick();
  EXPECT_EQ(state(ids[0]), JobState::kRunning);
  EXPECT_EQ(state(ids[1]), JobState::kQueued);  // 50G foreign + 20G + 40G > 80G

  device(0).processes = std::vector<GpuProcess>{};  // the other program exits
  device(0).memory_used_bytes = 0;
  tick();
  EXPECT_EQ(state(ids[1]), JobState::kRunning);
}

// "auto" memory is learnt from the runs of the same name. The tick keeps each name's
// history between ticks; a run that ends while the name waits must still count at once.
TEST_F(EngineTest, AutoMemoryLearnsFromARunThatEndedWhileItsNameWaited) {
  open("H100-80G");
  JobSpec first = job_spec("train", 1, 40 * kGiB);
  first.signature = "train";
  const JobId a = submit_one(first);
  tick();
  JobSpec second = job_spec("train", 1, std::nullopt);
  second.signature = "train";
  second.dependencies = {{a, store::DependencyKind::kAfterAny, std::nullopt}};
  const JobId b = submit_one(second);
  tick();  // b waits for a; the tick has read train's history (empty)
  device(0).processes =
      std::vector<GpuProcess>{{static_cast<std::uint32_t>(launcher_.job_pid(a)), 30 * kGiB}};
  device(0).memory_used_bytes = 30 * kGiB;
  clock_.advance(2);
  tick();  // sampled: a's peak is 30 GiB
  launcher_.finish(a, exec::Exited{0});
  tick();  // a ends and b starts in the same tick
  ASSERT_EQ(state(b), JobState::kRunning);
  // 30 GiB plus the 10% margin, not the whole GPU that an empty history would give.
  ASSERT_TRUE(record(b).placed_bytes_per_gpu.has_value());
  EXPECT_GE(*record(b).placed_bytes_per_gpu, 33 * kGiB);
  EXPECT_LT(*record(b).placed_bytes_per_gpu, 40 * kGiB);
}

// The engine gives the scheduler a signature's history only where a decision can use it;
// under sjf that is every job, declared memory or not.
TEST_F(EngineTest, SjfRanksByLearnedRunTimesOfJobsWithDeclaredMemory) {
  options_.scheduler.policy = "sjf";
  open("H100-80G");
  auto named = [](const std::string& name) {
    JobSpec spec = job_spec(name, 1, 70 * kGiB);
    spec.signature = name;
    return spec;
  };
  for (const auto& [name, seconds] : {std::pair{"slow", 100.0}, std::pair{"quick", 1.0}}) {
    const JobId learn = submit_one(named(name));
    tick();
    clock_.advance(seconds);
    launcher_.finish(learn, exec::Exited{0});
    tick();
    ASSERT_EQ(state(learn), JobState::kCompleted);
  }
  const JobId blocker = submit_one(named("blocker"));
  tick();
  const std::vector<JobId> waiting = submit({named("slow"), named("quick")});
  tick();
  launcher_.finish(blocker, exec::Exited{0});
  tick();
  EXPECT_EQ(state(waiting[1]), JobState::kRunning);  // quick, submitted second, goes first
  EXPECT_EQ(state(waiting[0]), JobState::kQueued);
}

// With the balancer on and moves allowed after 60 s: two restartable half-GPU jobs, started
// (packed onto one of two GPUs).
std::vector<JobId> EngineTest::start_two_packed_restartable_jobs() {
  options_.scheduler.balance = true;
  options_.scheduler.min_run_before_move_s = 60;
  open("2xH100-80G");
  JobSpec first = job_spec("a", 1, 20 * kGiB, 0.5);
  JobSpec second = job_spec("b", 1, 20 * kGiB, 0.5);
  first.restartable = true;
  second.restartable = true;
  const std::vector<JobId> ids = submit({first, second});
  tick();
  return ids;
}

// With the balancer on (`balance: true`), a restartable job on an overloaded GPU moves to
// an idle one: stopped, then started again on the GPU the scheduler chose, not placed back
// by pack where it was; and nothing moves it back (hysteresis) or takes its new GPU while
// it winds down. Every tick checks the kept scheduler against the pure one.
TEST_F(EngineTest, TheBalancerMovesARestartableJobToTheIdleGpuAndItStaysThere) {
  const std::vector<JobId> ids = start_two_packed_restartable_jobs();
  ASSERT_EQ(state(ids[0]), JobState::kRunning);
  ASSERT_EQ(state(ids[1]), JobState::kRunning);
  ASSERT_EQ(record(ids[0]).placed_gpus, record(ids[1]).placed_gpus);  // packed together
  const std::uint32_t busy = record(ids[0]).placed_gpus.at(0);
  const std::uint32_t idle = 1 - busy;
  device(busy).gpu_utilization_percent = 100;
  device(idle).gpu_utilization_percent = 0;
  clock_.advance(120);
  tick();
  ASSERT_EQ(launcher_.stops.size(), 1u);
  EXPECT_EQ(launcher_.stops[0].reason, exec::StopReason::kPreempt);
  const JobId moved = launcher_.stops[0].job;
  const JobId stayed = moved == ids[0] ? ids[1] : ids[0];

  // While it winds down, a job that fits only on the GPU it goes to waits.
  const JobId newcomer = submit_one(job_spec("c", 1, 70 * kGiB));
  clock_.advance(1);
  tick();
  EXPECT_EQ(state(newcomer), JobState::kQueued);
  EXPECT_EQ(launcher_.stops.size(), 1u);  // asked once

  launcher_.finish(moved, exec::Signaled{15});
  clock_.advance(1);
  tick();
  EXPECT_EQ(state(moved), JobState::kRunning);
  EXPECT_EQ(record(moved).placed_gpus, std::vector<std::uint32_t>{idle});
  EXPECT_EQ(record(moved).attempts, 2u);
  EXPECT_EQ(record(stayed).placed_gpus, std::vector<std::uint32_t>{busy});
  EXPECT_EQ(state(newcomer), JobState::kQueued);

  // Both GPUs busy alike now: nothing moves again, however long they run.
  device(busy).gpu_utilization_percent = 50;
  device(idle).gpu_utilization_percent = 50;
  for (int i = 0; i < 5; ++i) {
    clock_.advance(600);
    tick();
  }
  EXPECT_EQ(launcher_.stops.size(), 1u);
  EXPECT_EQ(state(moved), JobState::kRunning);
}

// A job asked to move that ends on its own meanwhile simply ends; its GPUs go to others.
TEST_F(EngineTest, AMovingJobThatEndsOnItsOwnIsNotStartedAgain) {
  const std::vector<JobId> ids = start_two_packed_restartable_jobs();
  const std::uint32_t busy = record(ids[0]).placed_gpus.at(0);
  device(busy).gpu_utilization_percent = 100;
  device(1 - busy).gpu_utilization_percent = 0;
  clock_.advance(120);
  tick();
  ASSERT_EQ(launcher_.stops.size(), 1u);
  const JobId moved = launcher_.stops[0].job;
  launcher_.finish(moved, exec::Exited{0});
  clock_.advance(1);
  tick();
  EXPECT_EQ(state(moved), JobState::kCompleted);
  EXPECT_EQ(launcher_.launch_count(moved), 1u);
  const JobId next = submit_one(job_spec("c", 1, 70 * kGiB));
  tick();
  EXPECT_EQ(state(next), JobState::kRunning);
  EXPECT_EQ(record(next).placed_gpus, std::vector<std::uint32_t>{1 - busy});
}

TEST_F(EngineTest, MemoryOverrunIsKilledWhenThePolicySaysKill) {
  options_.scheduler.memory_action = sched::MemoryActionKind::kKill;
  open("H100-80G");
  const JobId id = submit_one(job_spec("greedy", 1, 20 * kGiB));
  tick();
  const auto pid = static_cast<std::uint32_t>(launcher_.job_pid(id));
  device(0).processes = std::vector<GpuProcess>{{pid, 60 * kGiB}};
  device(0).memory_used_bytes = 60 * kGiB;
  clock_.advance(2);
  tick();
  ASSERT_EQ(launcher_.stops.size(), 1u);
  EXPECT_EQ(launcher_.stops[0].reason, exec::StopReason::kCancel);

  launcher_.finish(id, exec::Signaled{9});
  tick();
  EXPECT_EQ(state(id), JobState::kFailed);
  EXPECT_THAT(last_reason(id), HasSubstr("exceeded its declared GPU memory"));
  EXPECT_EQ(record(id).accounting.peak_gpu_mem, 60 * kGiB);
}

TEST_F(EngineTest, MemoryOverrunOnlyWarnsOnceWhenThePolicySaysWarn) {
  options_.scheduler.memory_action = sched::MemoryActionKind::kWarn;
  open("H100-80G");
  const JobId id = submit_one(job_spec("greedy", 1, 20 * kGiB));
  tick();
  const auto pid = static_cast<std::uint32_t>(launcher_.job_pid(id));
  device(0).processes = std::vector<GpuProcess>{{pid, 60 * kGiB}};
  device(0).memory_used_bytes = 60 * kGiB;
  clock_.advance(2);
  EXPECT_EQ(tick().warnings.size(), 1u);
  clock_.advance(2);
  EXPECT_TRUE(tick().warnings.empty());
  EXPECT_TRUE(launcher_.stops.empty());
  EXPECT_EQ(state(id), JobState::kRunning);
}

TEST_F(EngineTest, MemoryOverrunOfARestartableJobRequeuesIt) {
  options_.scheduler.memory_action = sched::MemoryActionKind::kRequeue;
  open("H100-80G");
  JobSpec spec = job_spec("greedy", 1, 20 * kGiB);
  spec.restartable = true;
  const JobId id = submit_one(spec);
  tick();
  const auto pid = static_cast<std::uint32_t>(launcher_.job_pid(id));
  device(0).processes = std::vector<GpuProcess>{{pid, 60 * kGiB}};
  device(0).memory_used_bytes = 60 * kGiB;
  clock_.advance(2);
  EXPECT_THAT(tick().preempted, ElementsAre(id));
  ASSERT_EQ(launcher_.stops.size(), 1u);
  EXPECT_EQ(launcher_.stops[0].reason, exec::StopReason::kPreempt);
  tick();
  EXPECT_EQ(launcher_.stops.size(), 1u);  // asked once, not every tick

  device(0).processes = std::vector<GpuProcess>{};
  device(0).memory_used_bytes = 0;
  launcher_.finish(id, exec::Signaled{15});
  tick();
  const auto transitions = store_->transitions(id);
  ASSERT_TRUE(transitions.ok());
  ASSERT_GE(transitions->size(), 4u);
  EXPECT_EQ(transitions->at(2).to, JobState::kPreempted);
  EXPECT_EQ(transitions->at(3).to, JobState::kQueued);
  EXPECT_THAT(transitions->at(3).reason,
              HasSubstr("requeued: memory pressure (memory-action requeue): gpu 0 uses 60.0 GiB"));
}

TEST_F(EngineTest, QueuedJobThatNoLongerFitsWaitsWithOneWarning) {
  open("2xH100-80G");
  const JobId blocker = submit_one(job_spec("blocker", 2, 10 * kGiB));
  const JobId wide = submit_one(job_spec("wide", 2, 10 * kGiB));
  tick();
  ASSERT_EQ(state(blocker), JobState::kRunning);
  probe_->devices().pop_back();  // a GPU falls off the bus and out of the listing
  clock_.advance(1);
  tick();
  EXPECT_EQ(state(blocker), JobState::kRunning);  // still holds its GPUs, the lost one too
  EXPECT_EQ(state(wide), JobState::kQueued);

  launcher_.finish(blocker, exec::Exited{0});
  const TickReport report = tick();
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_THAT(report.warnings[0], HasSubstr("job " + to_string(wide) + " waits"));
  EXPECT_TRUE(tick().warnings.empty());
  EXPECT_EQ(state(wide), JobState::kQueued);
  EXPECT_EQ(launcher_.launch_count(wide), 0u);
}

}  // namespace
}  // namespace fastgpu::engine

namespace fastgpu::engine {
namespace {

TEST_F(EngineTest, CpuSlotsLimitCpuOnlyJobsHigherPriorityFirst) {
  options_.cpu_slots = 2;
  open();
  JobSpec urgent = job_spec("urgent", 0, std::nullopt);
  urgent.priority = 5;
  const std::vector<JobId> ids =
      submit({job_spec("first", 0, std::nullopt), urgent, job_spec("third", 0, std::nullopt),
              job_spec("gpu", 1, 10 * kGiB)});
  const TickReport report = tick();
  // Two CPU slots: the urgent job and the first by submission; the GPU job is not counted.
  EXPECT_THAT(report.started, ::testing::UnorderedElementsAre(ids[0], ids[1], ids[3]));
  EXPECT_EQ(state(ids[2]), JobState::kQueued);

  launcher_.finish(ids[0], exec::Exited{0});
  tick();  // records the end; the freed slot goes to the job that waited
  EXPECT_EQ(state(ids[0]), JobState::kCompleted);
  EXPECT_EQ(state(ids[2]), JobState::kRunning);
}

// The slots go to the best CPU jobs of the whole queue, whether they wait loose or in an
// array with a running limit, and a cancelled job's place goes to the next one.
TEST_F(EngineTest, CpuSlotsGoByPriorityAcrossLimitedArraysAndLooseJobs) {
  options_.cpu_slots = 2;
  open();
  std::vector<JobSpec> specs;
  for (std::uint32_t i = 0; i < 3; ++i) {
    JobSpec member = job_spec("sweep", 0, std::nullopt);
    member.priority = 5;
    member.array = store::ArrayMember{0, i, 1};
    specs.push_back(member);
  }
  for (const char* name : {"loose-a", "loose-b", "loose-c"}) {
    specs.push_back(job_spec(name, 0, std::nullopt));
  }
  specs[4].priority = 1;  // loose-b goes before loose-a
  const std::vector<JobId> ids = submit(specs);
  // Sweep %1 admits one member; it and loose-b outrank the rest.
  EXPECT_THAT(tick().started, ::testing::UnorderedElementsAre(ids[0], ids[4]));

  ASSERT_TRUE(engine_->cancel(ids[3], 1000).ok());  // loose-a, next in line, leaves
  launcher_.finish(ids[4], exec::Exited{0});
  tick();  // records the end; sweep's %1 is still taken, so the slot goes to loose-c
  EXPECT_EQ(state(ids[1]), JobState::kQueued);
  EXPECT_EQ(state(ids[5]), JobState::kRunning);

  launcher_.finish(ids[0], exec::Exited{0});
  tick();
  EXPECT_EQ(state(ids[1]), JobState::kRunning);  // the array's limit is free again
  EXPECT_EQ(state(ids[2]), JobState::kQueued);
}

// A CPU job that waits on a running GPU job takes no CPU slot, even when it comes first:
// the slot goes to a job that can start now (it had waited until the GPU job ended).
TEST_F(EngineTest, ACpuJobWaitingOnADependencyTakesNoCpuSlot) {
  options_.cpu_slots = 1;
  open("1xH100-80G");
  const JobId gpu_job = start_half_share_for_an_hour(1);
  JobSpec after = job_spec("after", 0, std::nullopt);
  after.priority = 5;
  after.dependencies = {{gpu_job, store::DependencyKind::kAfterOk, std::nullopt}};
  const JobId waits = submit_one(after);
  const JobId free = submit_one(job_spec("free", 0, std::nullopt));
  EXPECT_THAT(tick().started, ElementsAre(free));
  EXPECT_EQ(engine_->why_waiting(waits, true)->reason, "dependency");

  // Once the GPU job has ended, the waiting job takes the slot when it is free again.
  launcher_.finish(gpu_job, exec::Exited{0});
  launcher_.finish(free, exec::Exited{0});
  tick();  // records both ends
  EXPECT_EQ(state(waits), JobState::kRunning);
}

// The engine keeps the queue in memory; a job that reached the store some other way (a
// second writer, an edit by hand) is still found by the periodic full read.
TEST_F(EngineTest, QueueMirrorPicksUpJobsTheEngineDidNotSubmitWithinAMinute) {
  open();
  tick();
  auto ids = store_->submit(std::vector<JobSpec>{job_spec("outside", 1, 10 * kGiB)});
  ASSERT_TRUE(ids.ok()) << ids.status().to_string();
  EXPECT_TRUE(tick().started.empty());
  clock_.advance(61.0);
  EXPECT_THAT(tick().started, ElementsAre(ids->at(0)));
}

// What `fastgpu show` says of each queued job: every reason the engine and the scheduler
// can give, on two GPUs that a half-share job holds for the next hour.
TEST_F(EngineTest, AQueuedJobSaysWhyItWaits) {
  options_.cpu_slots = 1;
  open("2xH100-80G");
  const JobId running = start_half_share_for_an_hour(2);

  const JobId wide = submit_one(job_spec("wide", 2, 40 * kGiB));
  const JobId beside = submit_one(job_spec("beside", 1, 10 * kGiB, 0.25));
  const JobId big = submit_one(job_spec("big", 1, 50 * kGiB, 0.25));
  JobSpec after = job_spec("after", 1, 10 * kGiB, 0.25);
  after.dependencies = {{running, store::DependencyKind::kAfterOk, std::nullopt}};
  const JobId waits = submit_one(after);
  std::vector<JobSpec> sweep(2, job_spec("sweep", 0, std::nullopt));
  for (std::uint32_t i = 0; i < 2; ++i) sweep[i].array = store::ArrayMember{0, i, 1};
  const std::vector<JobId> members = submit(sweep);
  const JobId cpu = submit_one(job_spec("cpu", 0, std::nullopt));
  ASSERT_EQ(engine_->why_waiting(cpu, true)->reason, "next pass");  // no tick since its submit
  tick();
  ASSERT_EQ(state(members[0]), JobState::kRunning);  // the one CPU slot

  // A listing asks without the detail; the reason is the same.
  auto why = [&](JobId job) {
    const WaitingReason full = engine_->why_waiting(job, true).value_or(WaitingReason{});
    EXPECT_EQ(engine_->why_waiting(job, false).value_or(WaitingReason{}).reason, full.reason);
    return full;
  };
  EXPECT_FALSE(engine_->why_waiting(running, true).has_value());
  EXPECT_EQ(why(wide).reason, "next in line");
  EXPECT_THAT(why(wide).detail, HasSubstr("it gets GPUs 0,1 in about 1h00m"));
  EXPECT_EQ(why(beside).reason, "priority");
  EXPECT_THAT(why(beside).detail, HasSubstr("job " + to_string(wide) + " comes first"));
  EXPECT_EQ(why(big).reason, "resources");
  EXPECT_THAT(why(big).detail, HasSubstr("the most: 40.0 GiB on GPU 0"));
  EXPECT_EQ(why(waits).reason, "dependency");
  EXPECT_EQ(why(waits).detail, "waits for job " + to_string(running) + " (RUNNING) to succeed");
  EXPECT_EQ(why(members[1]).reason, "array limit");
  EXPECT_THAT(why(members[1]).detail, HasSubstr("1 member of its array runs"));
  EXPECT_EQ(why(cpu).reason, "cpu slots");
  EXPECT_THAT(why(cpu).detail, HasSubstr("1 CPU-only job runs in the daemon's 1 CPU slot"));
}

// Under fair the engine does not keep its scheduler between ticks; the last tick's answers
// why all the same.
TEST_F(EngineTest, UnderFairAQueuedJobSaysWhyItWaitsToo) {
  options_.scheduler.policy = "fair";
  open("1xH100-80G");
  start_half_share_for_an_hour(1);
  const JobId whole = submit_one(job_spec("whole", 1, 60 * kGiB));
  const JobId quarter = submit_one(job_spec("quarter", 1, 10 * kGiB, 0.25));
  tick();
  EXPECT_EQ(engine_->why_waiting(whole, true)->reason, "next in line");
  EXPECT_THAT(engine_->why_waiting(whole, true)->detail, HasSubstr("it gets GPU 0 in about 1h00m"));
  EXPECT_EQ(engine_->why_waiting(quarter, true)->reason, "priority");
}

// Under fair the user whose jobs used the GPUs least lately goes first. The engine keeps the
// ended jobs in memory: those that ended before it opened are read from the store once,
// and each later end when it is recorded.
TEST_F(EngineTest, UnderFairTheUserWhoUsedTheGpusLeastGoesFirst) {
  options_.scheduler.policy = "fair";
  open("1xH100-80G");
  auto of = [](const char* user, std::uint32_t uid) {
    JobSpec spec = job_spec(user, 1, 80 * kGiB);
    spec.user = user;
    spec.uid = uid;
    return spec;
  };
  const JobId ada_first = submit_one(of("ada", 1001));
  tick();
  clock_.advance(3600);
  launcher_.finish(ada_first, exec::Exited{0});
  tick();
  ASSERT_EQ(state(ada_first), JobState::kCompleted);

  open("1xH100-80G");  // a restart: ada's hour is in the store only
  const JobId ada_next = submit_one(of("ada", 1001));
  const JobId bob_first = submit_one(of("bob", 1002));
  tick();
  EXPECT_EQ(state(bob_first), JobState::kRunning);
  EXPECT_EQ(state(ada_next), JobState::kQueued);

  // Bob's two hours, ended since, now outweigh ada's one.
  const JobId bob_next = submit_one(of("bob", 1002));
  clock_.advance(7200);
  launcher_.finish(bob_first, exec::Exited{0});
  tick();
  EXPECT_EQ(state(bob_first), JobState::kCompleted);
  EXPECT_EQ(state(ada_next), JobState::kRunning);
  EXPECT_EQ(state(bob_next), JobState::kQueued);
}

// An array whose %N holds a member back while none of it runs yet: its earlier members
// come first.
TEST_F(EngineTest, AnArrayMemberBehindItsEarlierMembersSaysSo) {
  open("1xH100-80G");
  const JobId blocker = submit_one(job_spec("blocker", 1, 80 * kGiB));
  tick();
  std::vector<JobSpec> sweep(2, job_spec("sweep", 1, 10 * kGiB, 0.25));
  for (std::uint32_t i = 0; i < 2; ++i) sweep[i].array = store::ArrayMember{0, i, 1};
  const std::vector<JobId> members = submit(sweep);
  tick();
  ASSERT_EQ(state(blocker), JobState::kRunning);
  // Nothing fits while the blocker holds the one GPU whole; the first member is first in
  // line all the same (no reservation: the blocker has no time limit).
  EXPECT_EQ(engine_->why_waiting(members[0], true)->reason, "next in line");
  const std::optional<WaitingReason> second = engine_->why_waiting(members[1], true);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->reason, "array limit");
  EXPECT_EQ(second->detail, "its array runs at most 1 member at once (%1), earlier members first");
}

store::QueuedJobChange held_by(std::optional<std::uint32_t> uid) {
  store::QueuedJobChange change;
  change.held_by = uid;
  return change;
}

// A held job keeps its place: released, it starts before the jobs submitted after it.
TEST_F(EngineTest, AHeldJobWaitsUntilReleasedAndKeepsItsPlace) {
  open("H100-80G");
  JobSpec held = job_spec("held", 1, 10 * kGiB);
  held.held_by = 1000;
  const std::vector<JobId> ids =
      submit({held, job_spec("second", 1, 10 * kGiB), job_spec("third", 1, 10 * kGiB)});
  tick();
  EXPECT_EQ(state(ids[0]), JobState::kQueued);
  EXPECT_EQ(state(ids[1]), JobState::kRunning);
  const std::optional<WaitingReason> why = engine_->why_waiting(ids[0], true);
  ASSERT_TRUE(why.has_value());
  EXPECT_EQ(why->reason, "held");
  EXPECT_EQ(why->detail,
            "held by its user: `fastgpu release " + to_string(ids[0]) + "` lets it start");

  ASSERT_TRUE(engine_->change_job(ids[0], 1000, held_by(std::nullopt)).ok());
  EXPECT_FALSE(record(ids[0]).spec.held_by.has_value());
  launcher_.finish(ids[1], exec::Exited{0});
  tick();
  EXPECT_EQ(state(ids[0]), JobState::kRunning);
  EXPECT_EQ(state(ids[2]), JobState::kQueued);
}

// Held after the scheduler had it in line, a job is passed over, and so are the jobs that
// wait for it; a CPU-only job held takes no CPU slot.
TEST_F(EngineTest, HoldingAQueuedJobPassesItOverAndTheJobsWaitingForIt) {
  options_.cpu_slots = 1;
  open("H100-80G");
  const JobId running = submit_one(job_spec("running", 1, 10 * kGiB));
  tick();
  const JobId next = submit_one(job_spec("next", 1, 10 * kGiB));
  JobSpec child = job_spec("child", 0, std::nullopt);
  child.dependencies = {{next, store::DependencyKind::kAfterAny, std::nullopt}};
  const JobId waits = submit_one(child);
  const JobId later = submit_one(job_spec("later", 1, 10 * kGiB));
  JobSpec cpu = job_spec("cpu", 0, std::nullopt);
  cpu.held_by = 1000;
  const JobId cpu_held = submit_one(cpu);
  const JobId cpu_free = submit_one(job_spec("cpu-free", 0, std::nullopt));
  tick();
  EXPECT_EQ(state(cpu_held), JobState::kQueued);
  EXPECT_EQ(state(cpu_free), JobState::kRunning);  // the one slot

  ASSERT_TRUE(engine_->change_job(next, 1000, held_by(1000)).ok());
  launcher_.finish(running, exec::Exited{0});
  // Told to the kept scheduler, which is not built again for it.
  EXPECT_EQ(tick().schedule_rebuilt, "");
  EXPECT_EQ(state(next), JobState::kQueued);
  EXPECT_EQ(state(later), JobState::kRunning);
  EXPECT_EQ(engine_->why_waiting(waits, false)->reason, "dependency");

  launcher_.finish(later, exec::Exited{0});
  tick();
  EXPECT_EQ(state(next), JobState::kQueued);
  ASSERT_TRUE(engine_->change_job(next, 1000, held_by(std::nullopt)).ok());
  EXPECT_EQ(tick().schedule_rebuilt, "");
  EXPECT_EQ(state(next), JobState::kRunning);
}

TEST_F(EngineTest, UpdatingAQueuedJobsPriorityMovesItInLine) {
  options_.scheduler.policy = "priority";
  open("H100-80G");
  const JobId running = submit_one(job_spec("running", 1, 10 * kGiB));
  tick();
  const JobId first = submit_one(job_spec("first", 1, 10 * kGiB));
  const JobId urgent = submit_one(job_spec("urgent", 1, 10 * kGiB));
  tick();
  store::QueuedJobChange change;
  change.priority = 10;
  change.time_limit_s = std::optional<std::int64_t>(600);
  ASSERT_TRUE(engine_->change_job(urgent, 1000, change).ok());
  EXPECT_EQ(record(urgent).spec.priority, 10);
  EXPECT_EQ(engine_->why_waiting(urgent, true)->reason, "next pass");  // until the next tick
  // A new priority moves the job in the kept scheduler's orders: it is built again.
  EXPECT_NE(tick().schedule_rebuilt, "");
  EXPECT_EQ(engine_->why_waiting(urgent, true)->reason, "next in line");

  launcher_.finish(running, exec::Exited{0});
  tick();
  EXPECT_EQ(state(urgent), JobState::kRunning);
  EXPECT_EQ(state(first), JobState::kQueued);
  ASSERT_FALSE(launcher_.launches.empty());
  EXPECT_EQ(launcher_.launches.back().time_limit_s, std::optional<double>(600.0));
}

TEST_F(EngineTest, OnlyItsOwnerOrRootChangesAQueuedJobAndOnlyRootReleasesRootsHold) {
  open("H100-80G");
  const JobId running = submit_one(job_spec("running", 1, 10 * kGiB));
  tick();
  const JobId id = submit_one(job_spec("mine", 1, 10 * kGiB));

  const Status other = engine_->change_job(id, 1001, held_by(1001));
  EXPECT_EQ(other.code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(other.message(), HasSubstr("belongs to user 'ada' (uid 1000)"));

  ASSERT_TRUE(engine_->change_job(id, 0, held_by(0)).ok());
  // Its user holding it too leaves root's hold, which the user cannot release.
  ASSERT_TRUE(engine_->change_job(id, 1000, held_by(1000)).ok());
  EXPECT_EQ(record(id).spec.held_by, std::optional<std::uint32_t>(0));
  const Status release = engine_->change_job(id, 1000, held_by(std::nullopt));
  EXPECT_EQ(release.code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(release.message(), HasSubstr("held by root, and only root releases it"));
  EXPECT_THAT(engine_->why_waiting(id, true)->detail, HasSubstr("(root), who alone releases it"));
  ASSERT_TRUE(engine_->change_job(id, 0, held_by(std::nullopt)).ok());

  store::QueuedJobChange bad;
  bad.time_limit_s = std::optional<std::int64_t>(-5);
  EXPECT_EQ(engine_->change_job(id, 1000, bad).code(), ErrorCode::kInvalidArgument);

  const Status started = engine_->change_job(running, 1000, held_by(1000));
  EXPECT_EQ(started.code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(started.message(),
              HasSubstr("is RUNNING: only a queued job can be held or released"));
  EXPECT_EQ(engine_->change_job(JobId(999), 0, held_by(0)).code(), ErrorCode::kNotFound);
}

// Holds, releases and updates at random among ticks and ends, under each policy, with CPU
// slots and an array's %N: no job starts while held, and the kept scheduler (told a hold or a
// release, built again for an update) decides as the pure one at every tick (the fixture's
// check_schedule; tick() fails on a divergence).
TEST_F(EngineTest, RandomHoldsReleasesAndUpdatesKeepTheKeptSchedulerExact) {
  for (const char* policy : {"fifo", "priority", "sjf", "edf", "las", "fair"}) {
    SCOPED_TRACE(policy);
    clock_ = ManualClock();
    launcher_.launches.clear();
    store_ = std::move(store::open_sqlite_store(":memory:")).value();
    options_.scheduler.policy = policy;
    options_.cpu_slots = 2;
    open("2xH100-80G");
    std::mt19937 random(42);
    std::vector<JobSpec> specs;
    for (int i = 0; i < 24; ++i) {
      JobSpec spec = job_spec("j" + std::to_string(i), i % 4 == 0 ? 0 : 1,
                              i % 4 == 0 ? std::nullopt : std::optional<Bytes>((10 + i) * kGiB),
                              i % 3 == 0 ? 0.5 : 1.0);
      spec.priority = i % 5;
      spec.time_limit_s = 600 + 60 * i;
      spec.restartable = i % 6 == 0;
      if (i % 7 == 3) spec.held_by = 1000;
      if (i >= 20) spec.array = store::ArrayMember{0, static_cast<std::uint32_t>(i - 20), 2};
      specs.push_back(spec);
    }
    std::vector<JobId> ids = submit({specs.begin(), specs.begin() + 20});
    const std::vector<JobId> members = submit({specs.begin() + 20, specs.end()});
    ids.insert(ids.end(), members.begin(), members.end());
    std::size_t holds = 0;
    std::size_t releases = 0;
    for (int step = 0; step < 200; ++step) {
      const JobId id = ids[random() % ids.size()];
      const auto pick = random() % 10;
      if (pick < 4) {
        holds += engine_->change_job(id, 1000, held_by(1000)).ok() ? 1 : 0;
      } else if (pick < 7) {
        releases += engine_->change_job(id, 1000, held_by(std::nullopt)).ok() ? 1 : 0;
      } else if (pick < 8) {
        store::QueuedJobChange change;
        change.priority = static_cast<int>(random() % 9) - 4;
        change.time_limit_s = std::optional<std::int64_t>(300 + random() % 3000);
        (void)engine_->change_job(id, 1000, change);
      } else {
        std::vector<JobId> running;
        for (JobId each : ids) {
          if (launcher_.runs(each)) running.push_back(each);
        }
        if (!running.empty()) launcher_.finish(running[random() % running.size()], exec::Exited{0});
      }
      std::map<JobId, bool> held_before;
      for (JobId each : ids) held_before[each] = record(each).spec.held_by.has_value();
      clock_.advance(30);
      const TickReport report = tick();
      for (JobId started : report.started) {
        EXPECT_FALSE(held_before[started]) << "job " << to_string(started) << " started held";
      }
    }
    EXPECT_GT(holds, 10u);
    EXPECT_GT(releases, 10u);
    engine_.reset();
  }
}

// Under fair the engine asks the pure scheduler every tick: a hold holds there too.
TEST_F(EngineTest, UnderFairAHeldJobWaitsUntilReleased) {
  options_.scheduler.policy = "fair";
  open("H100-80G");
  JobSpec held = job_spec("held", 1, 10 * kGiB);
  held.held_by = 1000;
  const std::vector<JobId> ids = submit({held, job_spec("second", 1, 10 * kGiB)});
  tick();
  EXPECT_EQ(state(ids[0]), JobState::kQueued);
  EXPECT_EQ(state(ids[1]), JobState::kRunning);
  launcher_.finish(ids[1], exec::Exited{0});
  tick();
  tick();
  EXPECT_EQ(state(ids[0]), JobState::kQueued);
  ASSERT_TRUE(engine_->change_job(ids[0], 1000, held_by(std::nullopt)).ok());
  tick();
  EXPECT_EQ(state(ids[0]), JobState::kRunning);
}

}  // namespace
}  // namespace fastgpu::engine
