// Attributing GPU processes to jobs: the engine hands EngineOptions::attribute_pid the
// supervisors of its running jobs from its mirror, so a tick's store reads do not grow
// with the GPU processes, and a job started since the last tick is attributed.
#include <gtest/gtest.h>

#include "engine/engine_test_util.h"
#include "fastgpu/engine/engine.h"
#include "fastgpu/gpu/simulated_probe.h"

namespace fastgpu::engine {
namespace {

using store::JobSpec;
using store::JobState;
using testing::CountingStore;
using testing::FakeLauncher;
using testing::ManualClock;
using testing::TempDir;

constexpr Bytes kGiB = Bytes{1} << 30;
constexpr int kJobs = 50;

JobSpec small_job(int n) {
  JobSpec spec;
  spec.name = "small" + std::to_string(n);
  spec.argv = {"/bin/true"};
  spec.working_dir = "/tmp";
  spec.gpus = 1;
  spec.gpu_mem = 1 * kGiB;
  spec.util_share = 0.1;
  spec.uid = 1000;
  spec.user = "ada";
  return spec;
}

class EngineAttributionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    probe_ = std::move(make_simulated_probe("8xH100-80G")).value();
    options_.probe = probe_.get();
    options_.launcher = &launcher_;
    options_.store = &counted_;
    options_.clock = &clock_;
    options_.state_dir = dir_.path();
    // As exec::attribute_pids by parent: the fake launcher's job pid is its supervisor's + 1.
    options_.attribute_pid = [this](std::uint32_t pid,
                                    const SupervisorJobs& supervisors) -> std::optional<JobId> {
      ++asked_;
      last_supervisors_ = supervisors.size();
      const auto found = supervisors.find(static_cast<pid_t>(pid) - 1);
      if (found == supervisors.end()) return std::nullopt;
      return found->second;
    };
    engine_ = std::move(Engine::open(options_)).value();
  }

  JobId submit(const JobSpec& spec) {
    const std::vector<JobSpec> specs{spec};
    return engine_->submit(specs).value().at(0);
  }

  TickReport tick() {
    clock_.advance(1.0);  // a sample at every tick
    auto report = engine_->tick();
    EXPECT_TRUE(report.ok()) << report.status().to_string();
    return report.ok() ? *report : TickReport{};
  }

  // Each running job's process on its GPU, holding `bytes`.
  void show_processes(const std::vector<JobId>& jobs, Bytes bytes) {
    for (GpuDevice& device : probe_->devices()) device.processes = std::vector<GpuProcess>{};
    for (JobId job : jobs) {
      const store::JobRecord record = std::move(store_->get_job(job)).value();
      ASSERT_EQ(record.placed_gpus.size(), 1u);
      probe_->devices()
          .at(record.placed_gpus[0])
          .processes->push_back({static_cast<std::uint32_t>(launcher_.job_pid(job)), bytes});
    }
  }

  ManualClock clock_;
  FakeLauncher launcher_{clock_};
  std::unique_ptr<store::StateStore> store_ =
      std::move(store::open_sqlite_store(":memory:")).value();
  CountingStore counted_{*store_};
  TempDir dir_;
  std::unique_ptr<SimulatedProbe> probe_;
  EngineOptions options_;
  std::unique_ptr<Engine> engine_;
  std::size_t asked_ = 0;
  std::size_t last_supervisors_ = 0;
};

// The daemon's attribution read every RUNNING job from the store at each ask: once per GPU
// process for the snapshot's foreign memory, and once per process and job on its GPU for
// the sample's peaks (550 reads a tick here). A tick now reads the same whatever the
// processes, and asks about each process once for the snapshot and once for the sample.
TEST_F(EngineAttributionTest, ATicksStoreReadsDoNotGrowWithTheGpuProcesses) {
  std::vector<JobId> jobs;
  for (int n = 0; n < kJobs; ++n) jobs.push_back(submit(small_job(n)));
  tick();  // claims and launches them
  tick();  // records their pids
  for (JobId job : jobs)
    ASSERT_EQ(std::move(store_->get_job(job)).value().state, JobState::kRunning);

  show_processes({}, 0);
  const std::uint64_t before_quiet = counted_.job_reads;
  tick();
  const std::uint64_t quiet = counted_.job_reads - before_quiet;

  show_processes(jobs, 2 * kGiB);
  asked_ = 0;
  const std::uint64_t before_busy = counted_.job_reads;
  tick();
  const std::uint64_t busy = counted_.job_reads - before_busy;

  EXPECT_EQ(asked_, 2u * kJobs);
  EXPECT_EQ(last_supervisors_, static_cast<std::size_t>(kJobs));
  EXPECT_EQ(busy, quiet) << "store reads in a tick with " << kJobs << " GPU processes";
}

// The supervisors are the mirror's at this tick: a job launched at the last tick (its pids
// recorded at this one) is attributed now, and one that ended is no longer.
TEST_F(EngineAttributionTest, AJobStartedSinceTheLastTickIsAttributed) {
  const JobId first = submit(small_job(1));
  tick();
  tick();
  const JobId second = submit(small_job(2));
  tick();  // claims and launches the second
  show_processes({first, second}, 3 * kGiB);
  tick();  // records its pids, then samples
  launcher_.finish(second, exec::Exited{0});
  tick();
  EXPECT_EQ(std::move(store_->get_job(second)).value().accounting.peak_gpu_mem, 3 * kGiB);

  // The second's process lingers on its GPU after its end: nobody's now, so foreign.
  last_supervisors_ = 0;
  tick();
  EXPECT_EQ(last_supervisors_, 1u) << "only the first job still runs";
  launcher_.finish(first, exec::Exited{0});
  tick();
  EXPECT_EQ(std::move(store_->get_job(first)).value().accounting.peak_gpu_mem, 3 * kGiB);
}

}  // namespace
}  // namespace fastgpu::engine
