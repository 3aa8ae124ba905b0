// The engine across restarts, at its edges (bad options, bad jobs, a failing probe) and
// its accounting of GPU-seconds, peak memory, utilization and energy.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

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
using ::testing::StartsWith;
using testing::TempDir;

constexpr Bytes kGiB = Bytes{1} << 30;

JobSpec job_spec(const std::string& name, int gpus, std::optional<Bytes> gpu_mem,
                 double share = 1.0) {
  JobSpec spec;
  spec.name = name;
  spec.argv = {"/bin/true"};
  spec.working_dir = "/tmp";
  spec.gpus = gpus;
  spec.gpu_mem = gpu_mem;
  spec.util_share = share;
  spec.uid = 1000;
  spec.user = "ada";
  return spec;
}

std::unique_ptr<store::StateStore> open_store(const std::string& path) {
  auto store = store::open_sqlite_store(path);
  if (!store.ok()) throw std::runtime_error(store.status().to_string());
  return std::move(store).value();
}

// One engine's worth of seams over a shared state folder and store.
struct Seams {
  Seams(ManualClock& clock, store::StateStore& store, const std::filesystem::path& dir,
        const std::string& devices = "4xH100-80G")
      : launcher(clock), probe(std::move(make_simulated_probe(devices)).value()) {
    options.probe = probe.get();
    options.launcher = &launcher;
    options.store = &store;
    options.clock = &clock;
    options.state_dir = dir;
    options.check_schedule = true;  // every tick: the kept scheduler against the pure one
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

TEST(EngineRecoveryTest, SecondEngineAdoptsRunningJobsAndNeverLaunchesThemTwice) {
  TempDir dir;
  ManualClock clock;
  auto store = open_store((dir.path() / "fastgpu.db").string());
  std::vector<JobId> ids;
  pid_t first_supervisor = 0;
  {
    Seams first(clock, *store, dir.path());
    auto engine = first.open();
    auto submitted = engine->submit(
        std::vector<JobSpec>{job_spec("a", 1, 10 * kGiB), job_spec("b", 1, 10 * kGiB)});
    ASSERT_TRUE(submitted.ok());
    ids = *submitted;
    ASSERT_TRUE(engine->tick().ok());
    ASSERT_EQ(first.launcher.launches.size(), 2u);
    first_supervisor = static_cast<pid_t>(*store->get_job(ids[0])->supervisor_pid);
    // A third job is claimed, and the daemon dies before it launches it.
    auto third = engine->submit(std::vector<JobSpec>{job_spec("c", 1, 10 * kGiB)});
    ASSERT_TRUE(third.ok());
    ids.push_back(third->at(0));
    ASSERT_TRUE(store->record_start(ids[2], {{3}, clock.now(), "", {}, {}, 10 * kGiB}).ok());
  }

  clock.advance(30);
  Seams second(clock, *store, dir.path());
  second.launcher.adopt_answers[ids[2]] = not_found("no pid file and no outcome");
  auto engine = second.open();

  ASSERT_EQ(second.launcher.adopts.size(), 3u);
  EXPECT_EQ(second.launcher.adopts[0].job, ids[0]);
  EXPECT_EQ(second.launcher.adopts[0].supervisor_pid, first_supervisor);
  EXPECT_EQ(second.launcher.adopts[0].run_file,
            dir.path() / "runs" / (to_string(ids[0]) + ".1.jsonl"));
  EXPECT_EQ(second.launcher.adopts[2].supervisor_pid, 0);  // never recorded
  EXPECT_EQ(store->get_job(ids[0])->state, JobState::kRunning);
  EXPECT_EQ(store->get_job(ids[2])->state, JobState::kQueued);
  EXPECT_EQ(store->transitions(ids[2])->back().reason,
            "requeued: never started before the daemon stopped");

  auto report = engine->tick();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(second.launcher.launch_count(ids[0]), 0u);
  EXPECT_EQ(second.launcher.launch_count(ids[1]), 0u);
  EXPECT_EQ(second.launcher.launch_count(ids[2]), 1u);
  // The adopted jobs still hold their GPUs: the requeued one went to a free GPU.
  const std::vector<std::uint32_t> held = {store->get_job(ids[0])->placed_gpus[0],
                                           store->get_job(ids[1])->placed_gpus[0]};
  EXPECT_THAT(held, ::testing::Not(::testing::Contains(second.launcher.launches[0].gpus[0])));
  EXPECT_EQ(second.launcher.launches[0].run_file,
            dir.path() / "runs" / (to_string(ids[2]) + ".2.jsonl"));

  // An adopted job's end is recorded like any other.
  second.launcher.finish(ids[0], exec::Exited{0});
  ASSERT_TRUE(engine->tick().ok());
  EXPECT_EQ(store->get_job(ids[0])->state, JobState::kCompleted);
}

// A daemon restarted with fewer GPUs (another --devices, a GPU lost meanwhile) adopted a
// job on a GPU it no longer has and said nothing of it.
TEST(EngineRecoveryTest, AJobOnAGpuNoLongerListedIsAdoptedAndTheLogSaysSo) {
  TempDir dir;
  ManualClock clock;
  auto store = open_store((dir.path() / "fastgpu.db").string());
  JobId id;
  {
    Seams first(clock, *store, dir.path());
    auto engine = first.open();
    auto submitted = engine->submit(std::vector<JobSpec>{job_spec("a", 1, 10 * kGiB)});
    ASSERT_TRUE(submitted.ok());
    id = submitted->at(0);
    ASSERT_TRUE(store->record_start(id, {{3}, clock.now(), "", 10, 11, 10 * kGiB}).ok());
  }
  clock.advance(30);
  Seams second(clock, *store, dir.path(), "2xH100-80G");
  auto engine = second.open();
  ASSERT_EQ(second.launcher.adopts.size(), 1u);
  auto report = engine->tick();
  ASSERT_TRUE(report.ok());
  EXPECT_THAT(report->notes,
              ::testing::Contains(fmt::format(
                  "job {} runs on GPU 3, which this machine does not list now (2 GPUs here); it "
                  "holds it until it ends, and nothing new goes there",
                  id.value())));
  EXPECT_EQ(store->get_job(id)->state, JobState::kRunning);
  // Said once, not at every tick.
  report = engine->tick();
  ASSERT_TRUE(report.ok());
  EXPECT_THAT(report->notes, ::testing::Not(::testing::Contains(HasSubstr("GPU 3"))));
}

// A daemon upgraded while jobs run: the runs it started before kept a folder each
// (runs/<id>/<attempt>/), and those are what it must adopt, not a record that does not exist.
// As exec::attribute_pids by parent: the fake launcher's job pid is its supervisor's + 1.
std::optional<JobId> child_of_supervisor(std::uint32_t pid, const SupervisorJobs& supervisors) {
  const auto found = supervisors.find(static_cast<pid_t>(pid) - 1);
  if (found == supervisors.end()) return std::nullopt;
  return found->second;
}

// The peak measured before a restart was in the daemon's memory only: a job that ended
// while no daemon ran (or before the next one's first sample) read "peak GPU mem: n/a",
// and one that used less afterwards read the smaller figure.
TEST(EngineRecoveryTest, PeakMeasuredBeforeARestartIsKept) {
  TempDir dir;
  ManualClock clock;
  auto store = open_store((dir.path() / "fastgpu.db").string());
  JobId ended_while_down, used_less_after;
  {
    Seams first(clock, *store, dir.path(), "2xH100-80G");
    first.options.attribute_pid = child_of_supervisor;
    auto engine = first.open();
    auto ids = engine->submit(
        std::vector<JobSpec>{job_spec("a", 1, 20 * kGiB), job_spec("b", 1, 20 * kGiB)});
    ASSERT_TRUE(ids.ok());
    ended_while_down = ids->at(0);
    used_less_after = ids->at(1);
    ASSERT_TRUE(engine->tick().ok());
    for (JobId job : *ids) {
      const std::uint32_t gpu = first.launcher.launch_of(job)->gpus.at(0);
      first.probe->devices().at(gpu).processes = std::vector<GpuProcess>{
          {static_cast<std::uint32_t>(first.launcher.job_pid(job)), 12 * kGiB}};
    }
    clock.advance(10);
    ASSERT_TRUE(engine->tick().ok());  // samples 12 GiB for each
  }

  clock.advance(10);
  Seams second(clock, *store, dir.path(), "2xH100-80G");
  second.options.attribute_pid = child_of_supervisor;
  auto engine = second.open();
  second.launcher.finish(ended_while_down, exec::Exited{0});
  const std::uint32_t gpu = store->get_job(used_less_after)->placed_gpus.at(0);
  second.probe->devices().at(gpu).processes = std::vector<GpuProcess>{
      {static_cast<std::uint32_t>(second.launcher.job_pid(used_less_after)), 5 * kGiB}};
  ASSERT_TRUE(engine->tick().ok());  // records the first's end, then samples 5 GiB
  clock.advance(10);
  second.launcher.finish(used_less_after, exec::Exited{0});
  ASSERT_TRUE(engine->tick().ok());

  EXPECT_EQ(store->get_job(ended_while_down)->accounting.peak_gpu_mem, 12 * kGiB);
  EXPECT_EQ(store->get_job(used_less_after)->accounting.peak_gpu_mem, 12 * kGiB);
}

// A peak whose write failed was written only when it rose again: a job that kept its first
// peak and ended while no daemon ran read "peak GPU mem: n/a".
TEST(EngineRecoveryTest, APeakWhoseWriteFailedIsWrittenAtTheNextSample) {
  TempDir dir;
  ManualClock clock;
  auto store = open_store((dir.path() / "fastgpu.db").string());
  testing::CountingStore flaky(*store);
  JobId job;
  {
    Seams first(clock, flaky, dir.path(), "1xH100-80G");
    first.options.attribute_pid = child_of_supervisor;
    auto engine = first.open();
    auto ids = engine->submit(std::vector<JobSpec>{job_spec("a", 1, 20 * kGiB)});
    ASSERT_TRUE(ids.ok());
    job = ids->at(0);
    ASSERT_TRUE(engine->tick().ok());
    first.probe->devices().at(0).processes = std::vector<GpuProcess>{
        {static_cast<std::uint32_t>(first.launcher.job_pid(job)), 12 * kGiB}};
    flaky.failed_peak_writes_left = 1;
    clock.advance(10);
    Result<TickReport> failed = engine->tick();  // samples 12 GiB; its write fails
    ASSERT_TRUE(failed.ok());
    ASSERT_EQ(flaky.failed_peak_writes_left, 0);
    EXPECT_EQ(store->get_job(job)->run_peak_gpu_mem, std::nullopt);
    clock.advance(10);
    ASSERT_TRUE(engine->tick().ok());  // the same 12 GiB: not a rise, written all the same
    EXPECT_EQ(store->get_job(job)->run_peak_gpu_mem, 12 * kGiB);
  }

  clock.advance(10);
  Seams second(clock, *store, dir.path(), "1xH100-80G");
  auto engine = second.open();
  second.launcher.finish(job, exec::Exited{0});  // it ended while no daemon ran
  ASSERT_TRUE(engine->tick().ok());
  EXPECT_EQ(store->get_job(job)->accounting.peak_gpu_mem, 12 * kGiB);
}

TEST(EngineRecoveryTest, RunStartedByAnEarlierVersionIsAdoptedFromItsFolder) {
  TempDir dir;
  ManualClock clock;
  auto store = open_store((dir.path() / "fastgpu.db").string());
  std::vector<JobId> ids;
  {
    Seams first(clock, *store, dir.path());
    auto engine = first.open();
    auto submitted = engine->submit(
        std::vector<JobSpec>{job_spec("old", 1, 10 * kGiB), job_spec("new", 1, 10 * kGiB)});
    ASSERT_TRUE(submitted.ok());
    ids = *submitted;
    ASSERT_TRUE(engine->tick().ok());
  }
  std::filesystem::create_directories(dir.path() / "runs" / to_string(ids[0]) / "1");
  Seams second(clock, *store, dir.path());
  auto engine = second.open();
  ASSERT_EQ(second.launcher.adopts.size(), 2u);
  EXPECT_EQ(second.launcher.adopts[0].run_file, dir.path() / "runs" / to_string(ids[0]) / "1");
  EXPECT_EQ(second.launcher.adopts[1].run_file,
            dir.path() / "runs" / (to_string(ids[1]) + ".1.jsonl"));
}

TEST(EngineRecoveryTest, RunThatCannotBeAdoptedEndsFailedAndFreesItsGpu) {
  TempDir dir;
  ManualClock clock;
  auto store = open_store(":memory:");
  Seams first(clock, *store, dir.path(), "H100-80G");
  auto engine = first.open();
  auto ids = engine->submit(std::vector<JobSpec>{job_spec("a", 1, 10 * kGiB)});
  ASSERT_TRUE(ids.ok());
  ASSERT_TRUE(engine->tick().ok());
  engine.reset();

  Seams second(clock, *store, dir.path(), "H100-80G");
  second.launcher.adopt_answers[ids->at(0)] = io_error("run folder unreadable");
  auto reopened = second.open();
  EXPECT_EQ(store->get_job(ids->at(0))->state, JobState::kFailed);
  EXPECT_THAT(store->transitions(ids->at(0))->back().reason, HasSubstr("run folder unreadable"));
}

TEST(EngineOpenTest, NullSeamsAndBadSettingsAreRefused) {
  TempDir dir;
  ManualClock clock;
  auto store = open_store(":memory:");
  Seams seams(clock, *store, dir.path());
  EngineOptions options = seams.options;
  options.launcher = nullptr;
  auto engine = Engine::open(options);
  ASSERT_FALSE(engine.ok());
  EXPECT_THAT(engine.status().message(), HasSubstr("EngineOptions::launcher is null"));

  options = seams.options;
  options.state_dir.clear();
  EXPECT_THAT(Engine::open(options).status().message(), HasSubstr("state_dir is empty"));

  options = seams.options;
  options.scheduler.policy = "lottery";
  EXPECT_THAT(Engine::open(options).status().message(), HasSubstr("unknown policy 'lottery'"));
}

// A fresh engine over an empty store on the default simulated GPUs (4xH100-80G), for the
// checks at submit.
class EngineSubmitTest : public ::testing::Test {
 protected:
  TempDir dir;
  ManualClock clock;
  std::unique_ptr<store::StateStore> store = open_store(":memory:");
  Seams seams{clock, *store, dir.path()};
  std::unique_ptr<Engine> engine = seams.open();
};

TEST_F(EngineSubmitTest, JobsThatCanNeverFitAreRefusedWithTheLimit) {
  auto too_many = engine->submit(
      std::vector<JobSpec>{job_spec("fine", 1, 10 * kGiB), job_spec("wide", 8, 10 * kGiB)});
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(too_many.status().message(),
              HasSubstr("job 1 of the batch ('wide') asks for 8 GPUs"));
  EXPECT_THAT(too_many.status().message(), HasSubstr("at most 4"));
  // Which job, said as data too (the API's batch_index and problem): `fastgpu run` read it
  // back out of the words.
  ASSERT_TRUE(too_many.status().batch_job().has_value());
  EXPECT_EQ(too_many.status().batch_job()->index, 1u);
  EXPECT_EQ(too_many.status().batch_job()->problem,
            "asks for 8 GPUs, but this machine has 4; ask for at most 4");

  auto too_big = engine->submit(std::vector<JobSpec>{job_spec("huge", 1, 100 * kGiB)});
  ASSERT_FALSE(too_big.ok());
  EXPECT_THAT(too_big.status().message(),
              HasSubstr("the job ('huge') declares 100 GiB of GPU memory per GPU"));
  EXPECT_THAT(too_big.status().message(), HasSubstr("80"));

  // `submit --gpus 9 -- cmd`: one unnamed job, named neither by a batch place nor by "".
  auto unnamed = engine->submit(std::vector<JobSpec>{job_spec("", 9, 10 * kGiB)});
  ASSERT_FALSE(unnamed.ok());
  EXPECT_THAT(unnamed.status().message(),
              StartsWith("the job asks for 9 GPUs, but this machine has 4"));

  // An array's members are named by their array index.
  std::vector<JobSpec> array;
  for (std::uint32_t index : {3u, 4u}) {
    array.push_back(job_spec("sweep", 6, 10 * kGiB));
    array.back().array = store::ArrayMember{0, index, 0};
  }
  auto too_wide_array = engine->submit(array);
  ASSERT_FALSE(too_wide_array.ok());
  EXPECT_THAT(too_wide_array.status().message(),
              StartsWith("array member 3 ('sweep') asks for 6 GPUs"));

  auto bad_share = engine->submit(std::vector<JobSpec>{job_spec("odd", 1, 10 * kGiB, 1.5)});
  ASSERT_FALSE(bad_share.ok());
  EXPECT_THAT(bad_share.status().message(), HasSubstr("1.5"));
  ASSERT_TRUE(bad_share.status().batch_job().has_value());
  EXPECT_EQ(bad_share.status().batch_job()->index, 0u);
  EXPECT_THAT(bad_share.status().batch_job()->problem, StartsWith("util share 1.5"));

  EXPECT_FALSE(engine->submit(std::vector<JobSpec>{}).ok());
  EXPECT_TRUE(store->list_jobs({})->empty());  // nothing of a refused batch is stored
}

// A batch with several impossible jobs was refused at the first: the user fixed it, sent
// the batch again and learnt of the next. Every refused job is told at once.
TEST_F(EngineSubmitTest, EveryImpossibleJobOfABatchIsToldAtOnce) {
  auto refused = engine->submit(
      std::vector<JobSpec>{job_spec("ok1", 1, 10 * kGiB), job_spec("wide", 8, 10 * kGiB),
                           job_spec("huge", 1, 100 * kGiB), job_spec("ok2", 2, 10 * kGiB),
                           job_spec("odd", 1, 10 * kGiB, 1.5)});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), ErrorCode::kInvalidArgument);
  const Status status = refused.status();
  const std::vector<BatchJobError>& jobs = status.batch_jobs();
  ASSERT_EQ(jobs.size(), 3u) << refused.status().message();
  EXPECT_EQ(jobs[0].index, 1u);
  EXPECT_EQ(jobs[0].field, "gpus");
  EXPECT_EQ(jobs[0].problem, "asks for 8 GPUs, but this machine has 4; ask for at most 4");
  EXPECT_EQ(jobs[0].message, "job 1 of the batch ('wide') " + jobs[0].problem);
  EXPECT_EQ(jobs[1].index, 2u);
  EXPECT_EQ(jobs[1].field, "gpu_mem");
  EXPECT_THAT(jobs[1].message, StartsWith("job 2 of the batch ('huge') declares 100 GiB"));
  EXPECT_EQ(jobs[2].index, 4u);
  EXPECT_THAT(jobs[2].problem, StartsWith("util share 1.5"));
  // The message tells each on its own line, under one that counts them.
  const std::string& message = status.message();
  EXPECT_THAT(message, StartsWith("3 jobs of the batch are refused; nothing was submitted (a "
                                  "batch is taken whole or not at all):\n" +
                                  jobs[0].message + "\n" + jobs[1].message + "\n"));
  EXPECT_THAT(message, HasSubstr("\njob 4 of the batch ('odd'): util share 1.5"));
  EXPECT_TRUE(store->list_jobs({})->empty());  // nothing of a refused batch is stored

  // A job asking for too many GPUs and too much memory is told both.
  auto both = engine->submit(std::vector<JobSpec>{job_spec("", 9, 100 * kGiB)});
  ASSERT_FALSE(both.ok());
  EXPECT_EQ(both.status().batch_jobs().size(), 2u);
  EXPECT_THAT(both.status().message(),
              StartsWith("1 job of the batch is refused, for 2 problems; nothing was submitted"));
  EXPECT_THAT(both.status().message(), HasSubstr("\nthe job asks for 9 GPUs"));
  EXPECT_THAT(both.status().message(), HasSubstr("\nthe job declares 100 GiB"));

  // An array's members share their refusal: told once, naming the others.
  std::vector<JobSpec> array;
  for (std::uint32_t index = 0; index < 8; ++index) {
    array.push_back(job_spec("sweep", 6, 10 * kGiB));
    array.back().array = store::ArrayMember{0, index, 0};
  }
  auto sweep = engine->submit(array);
  ASSERT_FALSE(sweep.ok());
  EXPECT_EQ(sweep.status().message(),
            "array member 0 ('sweep') asks for 6 GPUs, but this machine has 4; ask for at most 4 "
            "(array members 1, 2, 3, 4, 5 and 2 more too)");
  ASSERT_EQ(sweep.status().batch_jobs().size(), 1u);
  EXPECT_EQ(sweep.status().batch_job()->index, 0u);
  EXPECT_TRUE(store->list_jobs({})->empty());

  // Asking too much twice over, the members are two lines, and counted as the 8 jobs they
  // are (it read "1 job of the batch is refused").
  for (JobSpec& member : array) member.gpu_mem = 100 * kGiB;
  auto twice = engine->submit(array);
  ASSERT_FALSE(twice.ok());
  EXPECT_THAT(twice.status().message(),
              StartsWith("8 jobs of the batch are refused, for 2 problems; nothing was submitted"));
  EXPECT_EQ(twice.status().batch_jobs().size(), 2u);
}

// The store's refusals (a dependency on a job that does not exist) came only after the
// GPU checks passed: a batch with both kinds was told the GPU ones, fixed, sent again, and
// told the other. Both kinds are told at once, in batch order.
TEST_F(EngineSubmitTest, AnUnknownDependencyIsToldBesideTheGpuRefusals) {
  JobSpec orphan = job_spec("orphan", 1, 10 * kGiB);
  orphan.dependencies.push_back({JobId(9999), store::DependencyKind::kAfterOk, std::nullopt});
  JobSpec wide_orphan = job_spec("wide-orphan", 8, 10 * kGiB);
  wide_orphan.dependencies = orphan.dependencies;
  auto refused = engine->submit(std::vector<JobSpec>{job_spec("ok", 1, 10 * kGiB), orphan,
                                                     job_spec("wide", 8, 10 * kGiB), wide_orphan});
  ASSERT_FALSE(refused.ok());
  const Status status = refused.status();
  const std::vector<BatchJobError>& jobs = status.batch_jobs();
  ASSERT_EQ(jobs.size(), 4u) << status.message();
  EXPECT_EQ(jobs[0].index, 1u);
  EXPECT_THAT(jobs[0].problem, HasSubstr("depends on job 9999, which does not exist"));
  EXPECT_EQ(jobs[1].index, 2u);
  EXPECT_THAT(jobs[1].problem, StartsWith("asks for 8 GPUs"));
  EXPECT_EQ(jobs[2].index, 3u);  // a job refused both ways is told both ways
  EXPECT_THAT(jobs[2].problem, StartsWith("asks for 8 GPUs"));
  EXPECT_EQ(jobs[3].index, 3u);
  EXPECT_THAT(jobs[3].problem, HasSubstr("depends on job 9999, which does not exist"));
  EXPECT_THAT(status.message(), StartsWith("3 jobs of the batch are refused"));
  EXPECT_TRUE(store->list_jobs({})->empty());  // nothing of a refused batch is stored
  // A job whose spec is refused (a share over 1) does not hide the others' dependencies.
  JobSpec odd = job_spec("odd", 1, 10 * kGiB, 1.5);
  auto with_odd = engine->submit(std::vector<JobSpec>{odd, orphan});
  ASSERT_FALSE(with_odd.ok());
  ASSERT_EQ(with_odd.status().batch_jobs().size(), 2u) << with_odd.status().message();
  EXPECT_THAT(with_odd.status().batch_jobs()[0].problem, StartsWith("util share 1.5"));
  EXPECT_EQ(with_odd.status().batch_jobs()[1].index, 1u);
  EXPECT_THAT(with_odd.status().batch_jobs()[1].problem,
              HasSubstr("depends on job 9999, which does not exist"));
  // A batch the GPUs take, with an unknown dependency alone, is refused as before.
  auto alone = engine->submit(std::vector<JobSpec>{orphan});
  ASSERT_FALSE(alone.ok());
  EXPECT_THAT(alone.status().message(), HasSubstr("depends on job 9999, which does not exist"));
  EXPECT_TRUE(store->list_jobs({})->empty());
}

// The caller's refusals (the API's: a dependency on another user's job) are told with the
// engine's own, in batch order; alone, they still refuse the batch.
TEST_F(EngineSubmitTest, TheCallersRefusalsAreToldWithTheEnginesOwn) {
  const auto not_yours = [](std::size_t index) {
    return failed_precondition("waits for another user's job")
        .with_batch_job(index, "waits for another user's job", "after");
  };
  const std::vector<JobSpec> batch{job_spec("wide", 8, 10 * kGiB), job_spec("ok", 1, 10 * kGiB)};
  auto refused = engine->submit(batch, {not_yours(1)});
  ASSERT_FALSE(refused.ok());
  const Status status = refused.status();
  const std::vector<BatchJobError>& jobs = status.batch_jobs();
  ASSERT_EQ(jobs.size(), 2u) << status.message();
  EXPECT_EQ(jobs[0].index, 0u);
  EXPECT_THAT(jobs[0].problem, StartsWith("asks for 8 GPUs"));
  EXPECT_EQ(jobs[1].index, 1u);
  EXPECT_EQ(jobs[1].field, "after");
  EXPECT_THAT(status.message(), StartsWith("2 jobs of the batch are refused"));
  auto alone = engine->submit(std::vector<JobSpec>{job_spec("ok", 1, 10 * kGiB)}, {not_yours(0)});
  ASSERT_FALSE(alone.ok());
  EXPECT_EQ(alone.status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(alone.status().message(), HasSubstr("waits for another user's job"));
  EXPECT_TRUE(store->list_jobs({})->empty());
}

TEST_F(EngineSubmitTest, SubmitTimeDefaultsToTheClock) {
  auto ids = engine->submit(std::vector<JobSpec>{job_spec("a", 1, std::nullopt)});
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(store->get_job(ids->at(0))->spec.submit_time, clock.now());
}

// A probe that fails on demand and otherwise forwards to a simulated one.
class FlakyProbe final : public GpuProbe {
 public:
  explicit FlakyProbe(GpuProbe& real) : real_(real) {}
  Result<GpuReading> read() override {
    if (fail) return unavailable("driver went away");
    return real_.read();
  }
  std::string describe() const override { return "flaky " + real_.describe(); }
  bool fail = false;

 private:
  GpuProbe& real_;
};

TEST(EngineTickTest, ProbeFailureIsAWarningAndTheLastReadingStays) {
  TempDir dir;
  ManualClock clock;
  auto store = open_store(":memory:");
  Seams seams(clock, *store, dir.path());
  FlakyProbe flaky(*seams.probe);
  seams.options.probe = &flaky;
  auto engine = seams.open();
  auto ids = engine->submit(std::vector<JobSpec>{job_spec("a", 1, 10 * kGiB)});
  ASSERT_TRUE(ids.ok());

  flaky.fail = true;
  auto report = engine->tick();
  ASSERT_TRUE(report.ok()) << report.status().to_string();
  ASSERT_EQ(report->warnings.size(), 1u);
  EXPECT_THAT(report->warnings[0], HasSubstr("driver went away"));
  EXPECT_EQ(engine->last_reading().devices.size(), 4u);
  EXPECT_EQ(engine->last_reading().source, "simulated");
  EXPECT_EQ(store->get_job(ids->at(0))->state, JobState::kRunning);  // on the last reading
}

// Two jobs share GPU s (u = 0.25 and 0.75), one has GPU a alone. Samples are fed by hand.
TEST(EngineAccountingTest, GpuSecondsPeakMemoryUtilizationAndApportionedEnergy) {
  TempDir dir;
  ManualClock clock;
  auto store = open_store(":memory:");
  Seams seams(clock, *store, dir.path(), "2xH100-80G");
  FakeLauncher& launcher = seams.launcher;
  seams.options.attribute_pid = [&launcher](std::uint32_t pid,
                                            const SupervisorJobs&) -> std::optional<JobId> {
    for (const exec::LaunchRequest& request : launcher.launches) {
      if (launcher.runs(request.job) && launcher.job_pid(request.job) == static_cast<pid_t>(pid))
        return request.job;
    }
    return std::nullopt;
  };
  auto engine = seams.open();
  auto ids = engine->submit(std::vector<JobSpec>{job_spec("alone", 1, 40 * kGiB),
                                                 job_spec("small", 1, 20 * kGiB, 0.25),
                                                 job_spec("large", 1, 20 * kGiB, 0.75)});
  ASSERT_TRUE(ids.ok());
  const JobId alone = ids->at(0), small = ids->at(1), large = ids->at(2);
  // Counters read at the first tick, before the jobs start: their energy is measured from
  // their starts on.
  for (GpuDevice& device : seams.probe->devices()) device.energy_millijoules = 0;
  ASSERT_TRUE(engine->tick().ok());
  ASSERT_EQ(launcher.launches.size(), 3u);
  const std::uint32_t a = launcher.launch_of(alone)->gpus.at(0);
  const std::uint32_t s = launcher.launch_of(small)->gpus.at(0);
  ASSERT_EQ(launcher.launch_of(large)->gpus.at(0), s);
  ASSERT_NE(a, s);

  auto pid = [&](JobId job) { return static_cast<std::uint32_t>(launcher.job_pid(job)); };
  auto set = [&](std::uint32_t gpu, std::vector<GpuProcess> processes, std::uint32_t util,
                 std::uint64_t energy_mj) {
    GpuDevice& device = seams.probe->devices().at(gpu);
    device.processes = std::move(processes);
    device.gpu_utilization_percent = util;
    device.energy_millijoules = energy_mj;
  };
  // First interval (the jobs started at its beginning): no energy drawn.
  set(s, {{pid(small), 10 * kGiB}, {pid(large), 15 * kGiB}}, 40, 0);
  set(a, {{pid(alone), 30 * kGiB}}, 80, 0);
  clock.advance(10);
  ASSERT_TRUE(engine->tick().ok());
  // Second interval: 400 J on s, 900 J on a.
  set(s, {{pid(small), 12 * kGiB}, {pid(large), 5 * kGiB}}, 60, 400'000);
  set(a, {{pid(alone), 20 * kGiB}}, 100, 900'000);
  clock.advance(10);
  ASSERT_TRUE(engine->tick().ok());

  // The last 5 s, read at the jobs' ends: no energy drawn.
  clock.advance(5);
  for (JobId job : {alone, small, large}) launcher.finish(job, exec::Exited{0});
  ASSERT_TRUE(engine->tick().ok());

  const store::JobAccounting alone_use = store->get_job(alone)->accounting;
  EXPECT_DOUBLE_EQ(*alone_use.gpu_seconds, 25.0);  // 1 GPU x 25 s
  EXPECT_EQ(alone_use.peak_gpu_mem, 30 * kGiB);
  EXPECT_DOUBLE_EQ(*alone_use.mean_util_percent, 90.0);
  EXPECT_DOUBLE_EQ(*alone_use.energy_joules, 900.0);
  EXPECT_FALSE(alone_use.energy_is_estimate);

  const store::JobAccounting small_use = store->get_job(small)->accounting;
  EXPECT_EQ(small_use.peak_gpu_mem, 12 * kGiB);
  EXPECT_DOUBLE_EQ(*small_use.mean_util_percent, 50.0);
  EXPECT_DOUBLE_EQ(*small_use.energy_joules, 100.0);  // 400 J x 0.25 / (0.25 + 0.75)
  EXPECT_TRUE(small_use.energy_is_estimate);

  const store::JobAccounting large_use = store->get_job(large)->accounting;
  EXPECT_EQ(large_use.peak_gpu_mem, 15 * kGiB);
  EXPECT_DOUBLE_EQ(*large_use.energy_joules, 300.0);
  EXPECT_TRUE(large_use.energy_is_estimate);

  // GPU samples went to the store at every tick (three sample times x two GPUs, plus the
  // last tick's).
  auto samples =
      store->samples_between(ManualClock::seconds(0), clock.now() + std::chrono::seconds(1));
  ASSERT_TRUE(samples.ok());
  EXPECT_EQ(samples->size(), 8u);
}

// The samples table grew for ever (8 rows a second on 8 GPUs): samples older than the
// retention are deleted, at most once an hour, and a backlog over several ticks.
TEST(EngineAccountingTest, SamplesPastTheRetentionAreDeleted) {
  TempDir dir;
  ManualClock clock;
  auto store = open_store(":memory:");
  Seams seams(clock, *store, dir.path(), "H100-80G");
  seams.options.sample_retention_s = 2 * 3600.0;
  const store::WallTime start = clock.now();
  // A backlog older than the retention, as an upgraded daemon finds: 25,000 rows.
  constexpr int kOldSamples = 25'000;
  std::vector<store::Sample> old;
  old.reserve(kOldSamples);
  for (int i = 0; i < kOldSamples; ++i) {
    old.push_back({start - std::chrono::hours(3) + std::chrono::milliseconds(i), 0, 0, std::nullopt,
                   std::nullopt, std::nullopt});
  }
  ASSERT_TRUE(store->append_samples(old).ok());
  auto engine = seams.open();
  const auto count = [&] {
    return store
        ->samples_between(start - std::chrono::hours(24), clock.now() + std::chrono::seconds(1))
        ->size();
  };
  ASSERT_TRUE(engine->tick().ok());  // deletes 10,000 and samples once
  EXPECT_EQ(count(), 15'001u);
  for (int i = 0; i < 2; ++i) {  // the rest, one delete a sample
    clock.advance(1);
    ASSERT_TRUE(engine->tick().ok());
  }
  EXPECT_EQ(count(), 3u);  // only this daemon's three samples are left
  // An hour after that delete, the next (nothing is past 2 h yet).
  clock.advance(3600);
  ASSERT_TRUE(engine->tick().ok());
  EXPECT_EQ(count(), 4u);
  // Within the hour after it nothing is deleted, though the first sample is past 2 h...
  clock.advance(3599);
  ASSERT_TRUE(engine->tick().ok());
  EXPECT_EQ(count(), 5u);
  // ...and at the hour the first two samples go (those before now - 2 h).
  clock.advance(1);
  ASSERT_TRUE(engine->tick().ok());
  EXPECT_EQ(count(), 4u);
}

// A daemon that runs for months kept every job that ended: with a job retention, those
// that ended before now - retention are forgotten at the first tick and then hourly, and
// their logs with them; a job that an unended job still waits on is kept until it is not.
TEST(EngineAccountingTest, JobsPastTheRetentionAreForgottenWithTheirLogs) {
  TempDir dir;
  ManualClock clock;
  auto store = open_store(":memory:");
  Seams seams(clock, *store, dir.path());
  seams.options.job_retention_s = 2 * 3600.0;
  auto engine = seams.open();
  JobSpec waiting = job_spec("waiting", 1, 10 * kGiB);
  waiting.dependencies = {{JobId(0), store::DependencyKind::kAfterOk, 1},
                          {JobId(0), store::DependencyKind::kAfterOk, 2}};
  auto ids = engine->submit(std::vector<JobSpec>{job_spec("old", 1, 10 * kGiB),
                                                 job_spec("waited_on", 1, 10 * kGiB),
                                                 job_spec("long", 1, 10 * kGiB), waiting});
  ASSERT_TRUE(ids.ok());
  const JobId old = ids->at(0);
  const JobId waited_on = ids->at(1);
  const JobId long_one = ids->at(2);
  const JobId waiter = ids->at(3);
  ASSERT_TRUE(engine->tick().ok());  // the first purge finds nothing
  ASSERT_EQ(seams.launcher.launches.size(), 3u);
  const auto log_of = [&](JobId id) { return dir.path() / "logs" / (to_string(id) + ".log"); };
  for (JobId id : {old, waited_on, long_one}) {
    std::ofstream(log_of(id)) << "a line\n";
  }
  seams.launcher.finish(old, exec::Exited{0});
  seams.launcher.finish(waited_on, exec::Exited{0});
  ASSERT_TRUE(engine->tick().ok());
  ASSERT_EQ(store->get_job(old)->state, JobState::kCompleted);

  // Three hours on, both ended past the retention: `old` goes, `waited_on` stays (`waiting`
  // waits on it and on `long`, which still runs).
  clock.advance(3 * 3600);
  Result<TickReport> report = engine->tick();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(store->get_job(old).status().code(), ErrorCode::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(log_of(old)));
  EXPECT_EQ(store->get_job(waited_on)->state, JobState::kCompleted);
  EXPECT_TRUE(std::filesystem::exists(log_of(waited_on)));
  ASSERT_THAT(report->notes, ::testing::ElementsAre(HasSubstr("forgot 1 jobs that ended before")));
  EXPECT_THAT(report->notes[0], HasSubstr("kept 1 that unended jobs wait on"));
  Result<std::vector<store::Event>> events = store->events_since(0, 1000);
  ASSERT_TRUE(events.ok());
  ASSERT_FALSE(events->empty());
  EXPECT_EQ(events->back().kind, "jobs.purged");
  EXPECT_THAT(events->back().message_json, HasSubstr("\"purged\":1"));

  // `long` and then `waiting` end; within the hour after the last purge nothing goes...
  seams.launcher.finish(long_one, exec::Exited{0});
  ASSERT_TRUE(engine->tick().ok());
  seams.launcher.finish(waiter, exec::Exited{0});
  ASSERT_TRUE(engine->tick().ok());
  ASSERT_EQ(store->get_job(waiter)->state, JobState::kCompleted);
  clock.advance(3599);
  report = engine->tick();
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->notes.empty());
  EXPECT_TRUE(store->get_job(waited_on).ok());
  // ...and at the hour `waited_on` goes, while the two that ended an hour ago stay.
  clock.advance(1);
  report = engine->tick();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(store->get_job(waited_on).status().code(), ErrorCode::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(log_of(waited_on)));
  EXPECT_TRUE(store->get_job(long_one).ok());
  EXPECT_TRUE(std::filesystem::exists(log_of(long_one)));
  EXPECT_TRUE(store->get_job(waiter).ok());
}

// The fair policy weighs each user's recent GPU time. A job purged from the store is no
// longer weighed, in this daemon as in one started afresh: the engine told of the purge
// reads the ended jobs again. Here alice's hour of GPU time is purged, so that her job,
// submitted before bob's, runs first; without the purge bob's runs first.
TEST(EngineAccountingTest, UnderFairAPurgedJobIsNoLongerWeighed) {
  for (const bool purge : {false, true}) {
    SCOPED_TRACE(purge ? "purged" : "kept");
    TempDir dir;
    ManualClock clock;
    auto store = open_store(":memory:");
    Seams seams(clock, *store, dir.path(), "H100-80G");
    seams.options.scheduler.policy = "fair";
    auto engine = seams.open();
    const auto as = [](const std::string& name, const std::string& user, std::uint32_t uid) {
      JobSpec spec = job_spec(name, 1, 10 * kGiB);
      spec.user = user;
      spec.uid = uid;
      return spec;
    };
    auto first = engine->submit(std::vector<JobSpec>{as("hour", "alice", 1001)});
    ASSERT_TRUE(first.ok());
    ASSERT_TRUE(engine->tick().ok());
    clock.advance(3600);
    seams.launcher.finish(first->at(0), exec::Exited{0});
    ASSERT_TRUE(engine->tick().ok());
    // carol's job holds the only GPU while alice and bob queue one each.
    auto holder = engine->submit(std::vector<JobSpec>{as("hold", "carol", 1003)});
    ASSERT_TRUE(holder.ok());
    ASSERT_TRUE(engine->tick().ok());
    auto queued =
        engine->submit(std::vector<JobSpec>{as("next", "alice", 1001), as("next", "bob", 1002)});
    ASSERT_TRUE(queued.ok());
    clock.advance(60);
    ASSERT_TRUE(engine->tick().ok());  // the kept scheduler weighs alice's hour
    if (purge) {
      store::JobFilter filter;
      filter.ended_before = clock.now();
      Result<store::Purged> purged = store->purge_ended(filter, 100);
      ASSERT_TRUE(purged.ok());
      ASSERT_EQ(purged->jobs.size(), 1u);
      engine->purged(clock.now());
    }
    clock.advance(60);
    seams.launcher.finish(holder->at(0), exec::Exited{0});
    Result<TickReport> report = engine->tick();
    ASSERT_TRUE(report.ok());
    ASSERT_EQ(report->started.size(), 1u);
    EXPECT_EQ(report->started[0], purge ? queued->at(0) : queued->at(1));
  }
}

// Without a retention (the default) nothing that ended is forgotten, however old.
TEST(EngineAccountingTest, WithoutARetentionEndedJobsAreKept) {
  TempDir dir;
  ManualClock clock;
  auto store = open_store(":memory:");
  Seams seams(clock, *store, dir.path());
  auto engine = seams.open();
  auto ids = engine->submit(std::vector<JobSpec>{job_spec("a", 1, 10 * kGiB)});
  ASSERT_TRUE(ids.ok());
  ASSERT_TRUE(engine->tick().ok());
  seams.launcher.finish(ids->at(0), exec::Exited{0});
  ASSERT_TRUE(engine->tick().ok());
  clock.advance(400 * 86400.0);
  Result<TickReport> report = engine->tick();
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->notes.empty());
  EXPECT_EQ(store->get_job(ids->at(0))->state, JobState::kCompleted);
}

// A retention below zero (or not a number) is refused when the engine opens.
TEST(EngineAccountingTest, ANegativeJobRetentionIsRefused) {
  TempDir dir;
  ManualClock clock;
  auto store = open_store(":memory:");
  Seams seams(clock, *store, dir.path());
  seams.options.job_retention_s = -1.0;
  Result<std::unique_ptr<Engine>> engine = Engine::open(seams.options);
  ASSERT_FALSE(engine.ok());
  EXPECT_THAT(engine.status().message(), HasSubstr("job_retention_s"));
}

TEST(EngineAccountingTest, WithoutAttributionPeakMemoryIsUnknownNotZero) {
  TempDir dir;
  ManualClock clock;
  auto store = open_store(":memory:");
  Seams seams(clock, *store, dir.path(), "H100-80G");
  auto engine = seams.open();
  auto ids = engine->submit(std::vector<JobSpec>{job_spec("a", 1, 10 * kGiB)});
  ASSERT_TRUE(ids.ok());
  ASSERT_TRUE(engine->tick().ok());
  seams.probe->devices().at(0).processes = std::vector<GpuProcess>{
      {static_cast<std::uint32_t>(seams.launcher.job_pid(ids->at(0))), 5 * kGiB}};
  clock.advance(4);
  ASSERT_TRUE(engine->tick().ok());
  seams.launcher.finish(ids->at(0), exec::Exited{0});
  ASSERT_TRUE(engine->tick().ok());
  const store::JobAccounting use = store->get_job(ids->at(0))->accounting;
  EXPECT_FALSE(use.peak_gpu_mem.has_value());
  EXPECT_DOUBLE_EQ(*use.gpu_seconds, 4.0);
}

}  // namespace
}  // namespace fastgpu::engine
