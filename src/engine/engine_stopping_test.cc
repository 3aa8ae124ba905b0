// Engine::stopping: a running job asked to stop (a cancel, the time limit, memory pressure)
// says so, with when SIGTERM went out and when SIGKILL follows, until it has ended; a
// restarted engine knows what the one before it asked of the runs it left; and a running
// job's time limit, changed, reaches its supervisor.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>

#include "engine/engine_test_util.h"
#include "fastgpu/engine/engine.h"
#include "fastgpu/gpu/simulated_probe.h"

namespace fastgpu::engine {
namespace {

using store::JobRecord;
using store::JobSpec;
using store::JobState;
using testing::FakeLauncher;
using ::testing::HasSubstr;
using testing::ManualClock;
using testing::TempDir;

constexpr Bytes kGiB = Bytes{1} << 30;
constexpr double kGrace = 10.0;

JobSpec job_spec(const std::string& name) {
  JobSpec spec;
  spec.name = name;
  spec.argv = {"/bin/true", name};
  spec.working_dir = "/tmp";
  spec.gpus = 1;
  spec.gpu_mem = 20 * kGiB;
  spec.uid = 1000;
  spec.user = "ada";
  return spec;
}

JobSpec limited(const std::string& name, std::int64_t time_limit_s) {
  JobSpec spec = job_spec(name);
  spec.time_limit_s = time_limit_s;
  return spec;
}

// One engine's worth of seams over a store that outlives it (a daemon and its restart).
struct Seams {
  Seams(ManualClock& clock, store::StateStore& store, const std::filesystem::path& dir)
      : launcher(clock), probe(std::move(make_simulated_probe("H100-80G")).value()) {
    options.probe = probe.get();
    options.launcher = &launcher;
    options.store = &store;
    options.clock = &clock;
    options.state_dir = dir;
    options.kill_grace_s = kGrace;
    options.check_schedule = true;  // every tick: the kept scheduler against the pure one
    // A GPU process is the job whose process the fake launcher started with its pid.
    options.attribute_pid = [this](std::uint32_t pid,
                                   const SupervisorJobs&) -> std::optional<JobId> {
      for (const exec::LaunchRequest& request : launcher.launches) {
        if (launcher.runs(request.job) &&
            static_cast<std::uint32_t>(launcher.job_pid(request.job)) == pid) {
          return request.job;
        }
      }
      return std::nullopt;
    };
  }
  std::unique_ptr<Engine> open() {
    auto engine = Engine::open(options);
    if (!engine.ok()) throw std::runtime_error(engine.status().to_string());
    return std::move(engine).value();
  }
  FakeLauncher launcher;
  std::unique_ptr<SimulatedProbe> probe;
  EngineOptions options;
};

class EngineStoppingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(store::open_sqlite_store((dir_.path() / "fastgpu.db").string())).value();
    seams_ = std::make_unique<Seams>(clock_, *store_, dir_.path());
  }
  void open() { engine_ = seams_->open(); }
  // The daemon dies (kill -9: nothing said to the launcher) and another starts over the
  // same store; the jobs' runs go on.
  void restart() {
    engine_.reset();
    seams_ = std::make_unique<Seams>(clock_, *store_, dir_.path());
    engine_ = seams_->open();
  }
  JobId start(const JobSpec& spec) {
    auto ids = engine_->submit(std::vector<JobSpec>{spec});
    EXPECT_TRUE(ids.ok()) << ids.status().to_string();
    tick();
    EXPECT_EQ(record(ids->at(0)).state, JobState::kRunning);
    return ids->at(0);
  }
  void tick() {
    auto report = engine_->tick();
    ASSERT_TRUE(report.ok()) << report.status().to_string();
  }
  // A restartable job started, then stopped by the memory check (memory-action requeue):
  // its process holds 60 GiB on a GPU it declared 20 GiB of, seen 2 s after its start.
  JobId start_and_stop_for_memory() {
    seams_->options.scheduler.memory_action = sched::MemoryActionKind::kRequeue;
    open();
    JobSpec spec = job_spec("greedy");
    spec.restartable = true;
    const JobId id = start(spec);
    const auto pid = static_cast<std::uint32_t>(seams_->launcher.job_pid(id));
    seams_->probe->devices().at(0).processes = std::vector<GpuProcess>{{pid, 60 * kGiB}};
    seams_->probe->devices().at(0).memory_used_bytes = 60 * kGiB;
    clock_.advance(2);
    tick();
    return id;
  }
  JobRecord record(JobId id) { return *store_->get_job(id); }
  std::optional<Stopping> stopping(JobId id) { return engine_->stopping(record(id)); }
  static WallTime after(WallTime from, double seconds) {
    return from + std::chrono::microseconds(std::llround(seconds * 1e6));
  }

  TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<store::StateStore> store_;
  std::unique_ptr<Seams> seams_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineStoppingTest, ACancelledRunningJobIsStoppingUntilItHasEnded) {
  open();
  const JobId id = start(job_spec("long"));
  EXPECT_FALSE(stopping(id));
  clock_.advance(5);
  const WallTime cancelled = clock_.now();
  ASSERT_TRUE(engine_->cancel(id, 1000).ok());
  clock_.advance(3);

  const std::optional<Stopping> stop = stopping(id);
  ASSERT_TRUE(stop);
  EXPECT_EQ(stop->cause, "cancelled");
  EXPECT_EQ(stop->by_uid, 1000u);
  EXPECT_EQ(stop->since, cancelled);
  EXPECT_EQ(stop->kill_at, after(cancelled, kGrace));
  // A second cancel (root's, now) changes who, not when: SIGTERM went out once.
  ASSERT_TRUE(engine_->cancel(id, 0).ok());
  EXPECT_EQ(stopping(id)->since, cancelled);

  seams_->launcher.finish(id, exec::Signaled{SIGTERM});
  tick();
  EXPECT_EQ(record(id).state, JobState::kCancelled);
  EXPECT_FALSE(stopping(id));
}

// A job's own grace (`grace: 5m`) goes to its supervisor with its launch, and SIGKILL is
// told at the end of it, not of the daemon's 10 s.
TEST_F(EngineStoppingTest, AJobsOwnGraceIsItsSupervisorsAndItsStoppingsToo) {
  open();
  JobSpec spec = job_spec("checkpoints");
  spec.kill_grace_s = 300;
  const JobId id = start(spec);
  ASSERT_EQ(seams_->launcher.launches.size(), 1u);
  EXPECT_EQ(seams_->launcher.launches[0].kill_grace_s, 300.0);
  const JobId plain = [&] {
    auto ids = engine_->submit(std::vector<JobSpec>{job_spec("plain")});
    EXPECT_TRUE(ids.ok());
    return ids->at(0);
  }();
  clock_.advance(5);
  const WallTime cancelled = clock_.now();
  ASSERT_TRUE(engine_->cancel(id, 1000).ok());
  EXPECT_EQ(stopping(id)->kill_at, after(cancelled, 300));
  seams_->launcher.finish(id, exec::Signaled{SIGTERM});
  tick();
  // The next job, without one, gets the daemon's.
  ASSERT_EQ(seams_->launcher.launches.size(), 2u);
  EXPECT_EQ(seams_->launcher.launches[1].job, plain);
  EXPECT_EQ(seams_->launcher.launches[1].kill_grace_s, kGrace);
}

// The supervisor alone enforces the time limit; the engine knows it sent SIGTERM when the
// job's start plus its limit has passed and the job still runs.
TEST_F(EngineStoppingTest, AJobPastItsTimeLimitIsStoppingFromItsStartPlusTheLimit) {
  open();
  const JobId id = start(limited("limited", 60));
  const WallTime started = *record(id).start_time;
  clock_.advance(59);
  EXPECT_FALSE(stopping(id));
  clock_.advance(1);
  std::optional<Stopping> stop = stopping(id);
  ASSERT_TRUE(stop);
  EXPECT_EQ(stop->cause, "time limit");
  EXPECT_EQ(stop->by_uid, std::nullopt);
  EXPECT_EQ(stop->since, after(started, 60));
  EXPECT_EQ(stop->kill_at, after(started, 60 + kGrace));
  // A cancel in the grace period changes nothing: the supervisor keeps the first SIGTERM,
  // and the job ends TIMEOUT.
  clock_.advance(2);
  ASSERT_TRUE(engine_->cancel(id, 1000).ok());
  EXPECT_EQ(stopping(id)->cause, "time limit");
  EXPECT_EQ(stopping(id)->since, after(started, 60));
}

// Cancelled before its time limit: the cancel's SIGTERM is the one its grace runs from.
TEST_F(EngineStoppingTest, ACancelBeforeTheTimeLimitStaysTheCause) {
  open();
  const JobId id = start(limited("limited", 60));
  clock_.advance(55);
  const WallTime cancelled = clock_.now();
  ASSERT_TRUE(engine_->cancel(id, 1000).ok());
  clock_.advance(8);  // past the time limit, in the cancel's grace period
  const std::optional<Stopping> stop = stopping(id);
  ASSERT_TRUE(stop);
  EXPECT_EQ(stop->cause, "cancelled");
  EXPECT_EQ(stop->since, cancelled);
}

TEST_F(EngineStoppingTest, AJobOverItsMemoryIsStoppingForMemoryWithTheReason) {
  seams_->options.scheduler.memory_action = sched::MemoryActionKind::kKill;
  open();
  const JobId id = start(job_spec("greedy"));
  const auto pid = static_cast<std::uint32_t>(seams_->launcher.job_pid(id));
  seams_->probe->devices().at(0).processes = std::vector<GpuProcess>{{pid, 60 * kGiB}};
  seams_->probe->devices().at(0).memory_used_bytes = 60 * kGiB;
  clock_.advance(2);
  tick();
  ASSERT_EQ(seams_->launcher.stops.size(), 1u);
  const std::optional<Stopping> stop = stopping(id);
  ASSERT_TRUE(stop);
  EXPECT_EQ(stop->cause, "memory");
  EXPECT_THAT(stop->detail, HasSubstr("memory pressure: "));
  EXPECT_EQ(stop->since, clock_.now());
}

// A daemon killed in a job's grace period lost who cancelled it: the job then ended
// "cancelled (killed by SIGTERM)", and showed nothing while stopping.
TEST_F(EngineStoppingTest, AfterARestartACancelledJobIsStillStoppingAndEndsSayingWhoCancelled) {
  open();
  const JobId id = start(job_spec("long"));
  clock_.advance(5);
  const WallTime cancelled = clock_.now();
  ASSERT_TRUE(engine_->cancel(id, 1000, "ana").ok());
  clock_.advance(2);
  restart();

  const std::optional<Stopping> stop = stopping(id);
  ASSERT_TRUE(stop);
  EXPECT_EQ(stop->cause, "cancelled");
  EXPECT_EQ(stop->by_uid, 1000u);
  EXPECT_EQ(stop->since, cancelled);
  EXPECT_EQ(stop->kill_at, after(cancelled, kGrace));

  // The supervisor reports the stop; the new launcher never heard of it.
  seams_->launcher.finish(id, exec::Stopped{false, SIGTERM, std::nullopt});
  tick();
  EXPECT_EQ(record(id).state, JobState::kCancelled);
  EXPECT_EQ(record(id).end_reason, "cancelled by ana (killed by SIGTERM)");
}

// A daemon before 2026-12-07 wrote the cancel's event with the uid alone: the job ends named
// by its uid, as that daemon would have named it.
TEST_F(EngineStoppingTest, AnOlderDaemonsCancelIsToldByItsUid) {
  open();
  const JobId id = start(job_spec("long"));
  store::Event asked;
  asked.kind = "job.cancel";
  asked.job = id;
  asked.at = clock_.now();
  asked.message_json = R"({"uid": 1000})";
  ASSERT_TRUE(store_->append_event(asked).ok());
  restart();
  EXPECT_EQ(stopping(id)->by_uid, 1000u);
  seams_->launcher.finish(id, exec::Stopped{false, SIGTERM, std::nullopt});
  tick();
  EXPECT_EQ(record(id).end_reason, "cancelled by uid 1000 (killed by SIGTERM)");
}

// A cancel after the engine had stopped the job (here for its memory, to requeue it): the
// job ends cancelled and its SIGTERM's moment stands, but the cancel keeps its own moment and
// what sent the SIGTERM is kept beside it, across a restart too. The cancel was told at the
// preemption's moment.
TEST_F(EngineStoppingTest, ACancelAfterAPreemptionKeepsItsOwnMomentAndWhatSentSigterm) {
  const JobId id = start_and_stop_for_memory();
  const WallTime sigterm = clock_.now();
  ASSERT_EQ(stopping(id)->cause, "memory");
  EXPECT_FALSE(stopping(id)->asked);
  EXPECT_FALSE(stopping(id)->sigterm_for);
  clock_.advance(3);
  const WallTime cancelled = clock_.now();
  ASSERT_TRUE(engine_->cancel(id, 1000).ok());

  for (int round = 0; round < 2; ++round) {  // as asked, then after a restart
    SCOPED_TRACE(round == 0 ? "before the restart" : "after the restart");
    const std::optional<Stopping> stop = stopping(id);
    ASSERT_TRUE(stop);
    EXPECT_EQ(stop->cause, "cancelled");
    EXPECT_EQ(stop->by_uid, 1000u);
    EXPECT_EQ(stop->since, sigterm);
    EXPECT_EQ(stop->kill_at, after(sigterm, kGrace));
    EXPECT_EQ(stop->asked, cancelled);
    ASSERT_TRUE(stop->sigterm_for);
    EXPECT_EQ(stop->sigterm_for->cause, "memory");
    EXPECT_FALSE(stop->sigterm_for->by_uid);
    if (round == 0) {
      clock_.advance(1);
      restart();
    }
  }
  seams_->launcher.finish(id, exec::Stopped{false, SIGTERM, std::nullopt});
  tick();
  EXPECT_EQ(record(id).state, JobState::kCancelled);
}

// A second cancel of a stopping job changes nothing: the first cancel's moment, who asked,
// and no "SIGTERM went out earlier" (it was the same request), across a restart too.
TEST_F(EngineStoppingTest, ASecondCancelKeepsTheFirstOnesMomentAndSaysNothingEarlier) {
  open();
  const JobId id = start(job_spec("long"));
  clock_.advance(1);
  const WallTime cancelled = clock_.now();
  ASSERT_TRUE(engine_->cancel(id, 1000).ok());
  clock_.advance(2);
  ASSERT_TRUE(engine_->cancel(id, 0).ok());

  for (int round = 0; round < 2; ++round) {  // as asked, then after a restart
    SCOPED_TRACE(round == 0 ? "before the restart" : "after the restart");
    const std::optional<Stopping> stop = stopping(id);
    ASSERT_TRUE(stop);
    EXPECT_EQ(stop->cause, "cancelled");
    EXPECT_EQ(stop->by_uid, 1000u);
    EXPECT_EQ(stop->since, cancelled);
    EXPECT_EQ(stop->kill_at, after(cancelled, kGrace));
    EXPECT_FALSE(stop->asked);
    EXPECT_FALSE(stop->sigterm_for);
    if (round == 0) restart();
  }
}

// What an earlier run was asked is not asked of the run going on now: a job stopped for
// its memory and queued again runs again unasked after a restart.
TEST_F(EngineStoppingTest, AfterARestartAStopOfAnEarlierRunIsNotThisRunsStop) {
  const JobId id = start_and_stop_for_memory();
  ASSERT_EQ(stopping(id)->cause, "memory");
  seams_->probe->devices().at(0).processes = std::vector<GpuProcess>{};
  seams_->probe->devices().at(0).memory_used_bytes = 0;
  seams_->launcher.finish(id, exec::Signaled{SIGTERM});
  clock_.advance(1);
  tick();  // ends and requeues it
  clock_.advance(1);
  tick();  // starts it again
  ASSERT_EQ(record(id).state, JobState::kRunning);
  ASSERT_EQ(record(id).attempts, 2u);
  EXPECT_FALSE(stopping(id));

  clock_.advance(1);
  restart();
  EXPECT_FALSE(stopping(id));
  seams_->launcher.finish(id, exec::Exited{0});
  tick();
  EXPECT_EQ(record(id).state, JobState::kCompleted);
}

store::QueuedJobChange time_limit(std::optional<std::int64_t> seconds) {
  store::QueuedJobChange change;
  change.time_limit_s = seconds;
  return change;
}

// scontrol update TimeLimit= of a running job: the store, the supervisor (asked first
// whether it can take a change) and the engine's own view of when SIGTERM goes out all take
// the new limit, counted from the job's start; nothing else of a running job changes.
TEST_F(EngineStoppingTest, ARunningJobsTimeLimitChangesInTheStoreAndItsSupervisor) {
  open();
  const JobId id = start(limited("long", 3600));
  const WallTime started = *record(id).start_time;
  clock_.advance(600);
  FakeLauncher& launcher = seams_->launcher;

  ASSERT_TRUE(engine_->change_job(id, 1000, time_limit(1800)).ok());
  EXPECT_EQ(record(id).spec.time_limit_s, 1800);
  ASSERT_EQ(launcher.limit_changes.size(), 2u);
  EXPECT_EQ(launcher.limit_changes[0].time_limit_s, 3600.0);  // can it take a change?
  EXPECT_EQ(launcher.limit_changes[1].time_limit_s, 1800.0);
  const auto events = store_->events_since(0, 1000);
  ASSERT_TRUE(events.ok());
  ASSERT_FALSE(events->empty());
  EXPECT_EQ(events->back().job, id);
  EXPECT_EQ(events->back().kind, "job.change");
  EXPECT_EQ(events->back().message_json,
            R"({"running":true,"time_limit_s":1800,"uid":1000,"was_s":3600})");

  const Status past = engine_->change_job(id, 1000, time_limit(300));
  EXPECT_EQ(past.code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(past.message(), HasSubstr("job " + to_string(id) +
                                        " has run for 10m00s: a time limit of 5m00s would end "
                                        "it at once; give one longer than that, or `fastgpu "
                                        "cancel " +
                                        to_string(id) + "` stops it now"));
  store::QueuedJobChange priority;
  priority.priority = 3;
  EXPECT_THAT(engine_->change_job(id, 1000, priority).message(),
              HasSubstr("is RUNNING: of a running job only the time limit can be changed"));
  store::QueuedJobChange hold;
  hold.held_by = std::optional<std::uint32_t>(1000);
  EXPECT_THAT(engine_->change_job(id, 1000, hold).message(),
              HasSubstr("is RUNNING: only a queued job can be held or released"));
  EXPECT_THAT(engine_->change_job(id, 1001, time_limit(7200)).message(),
              HasSubstr("only its owner or root can change it"));
  // The same limit again changes nothing, and asks nothing of the supervisor.
  ASSERT_TRUE(engine_->change_job(id, 1000, time_limit(1800)).ok());
  EXPECT_EQ(launcher.limit_changes.size(), 2u);

  clock_.advance(1300);  // 1,900 s in: past the new limit, well before the old
  const std::optional<Stopping> stop = stopping(id);
  ASSERT_TRUE(stop);
  EXPECT_EQ(stop->cause, "time limit");
  EXPECT_EQ(stop->since, after(started, 1800));
  const Status late = engine_->change_job(id, 1000, time_limit(7200));
  EXPECT_EQ(late.code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(late.message(), HasSubstr("is being stopped (time limit)"));
}

// A supervisor that cannot take a change (an earlier version's) leaves the store as it was.
TEST_F(EngineStoppingTest, ALimitTheSupervisorCannotTakeIsNotRecorded) {
  open();
  const JobId id = start(limited("old", 3600));
  seams_->launcher.limit_answer = failed_precondition("its supervisor is of an earlier version");
  const Status refused = engine_->change_job(id, 1000, time_limit(7200));
  EXPECT_EQ(refused.code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(refused.message(), HasSubstr("changing job " + to_string(id) +
                                           "'s time limit: its supervisor is of an earlier"));
  EXPECT_EQ(record(id).spec.time_limit_s, 3600);
}

// As Slurm lets only an operator raise a running job's limit: under a daemon of several
// users a user may only shorten their job's limit; root may do anything.
TEST_F(EngineStoppingTest, UnderADaemonOfSeveralUsersOnlyRootLengthensARunningJobsLimit) {
  seams_->options.run_jobs_as_owner = true;
  open();
  const JobId id = start(limited("shared", 3600));
  for (const std::optional<std::int64_t> longer :
       {std::optional<std::int64_t>(7200), std::optional<std::int64_t>()}) {
    const Status refused = engine_->change_job(id, 1000, time_limit(longer));
    EXPECT_EQ(refused.code(), ErrorCode::kFailedPrecondition);
    EXPECT_THAT(refused.message(), HasSubstr("only root may lengthen a running job's time limit"));
  }
  EXPECT_THAT(engine_->change_job(id, 1000, time_limit(7200)).message(),
              HasSubstr("(from 1h00m to 2h00m)"));
  ASSERT_TRUE(engine_->change_job(id, 1000, time_limit(1800)).ok());
  ASSERT_TRUE(engine_->change_job(id, 0, time_limit(std::nullopt)).ok());
  EXPECT_EQ(record(id).spec.time_limit_s, std::nullopt);
}

// A daemon killed after it recorded a new limit and before it told the supervisor: the
// next one tells it, from the store, once it has adopted the run.
TEST_F(EngineStoppingTest, ARestartedEngineTellsTheSupervisorTheLimitTheStoreHolds) {
  open();
  const JobId id = start(limited("long", 3600));
  JobSpec other = job_spec("other");
  other.gpus = 0;
  other.gpu_mem.reset();
  const JobId untouched = start(other);
  ASSERT_TRUE(store_->change_running_limit(id, 900, std::nullopt).ok());
  restart();
  // Each adopted run is told its limit (a no-op for a supervisor that has it already).
  ASSERT_EQ(seams_->launcher.limit_changes.size(), 2u);
  for (const FakeLauncher::LimitCall& call : seams_->launcher.limit_changes) {
    EXPECT_EQ(call.time_limit_s, call.job == id ? std::optional(900.0) : std::nullopt);
  }
  EXPECT_EQ(record(untouched).state, JobState::kRunning);
}

}  // namespace
}  // namespace fastgpu::engine
