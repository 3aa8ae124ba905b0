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

const GpuLedger& row_of(const std::vector<GpuLedger>& ledger, std::uint32_t index) {
  for (const GpuLedger& row : ledger) {
    if (row.index == index) return row;
  }
  ADD_FAILURE() << "no ledger row for GPU " << index;
  return ledger.front();
}

// `fastgpu status` shows each GPU's ledger: whose jobs hold what, memory held outside
// FastGPU, and what a job starting now may ask. What it calls free is what the next
// scheduling pass finds free: a job asking exactly that starts there, one asking a byte more
// does not.
TEST_F(EngineAttributionTest, TheLedgerSaysWhatEachGpuHoldsAndWhatAJobMayStillAsk) {
  JobSpec half = small_job(1);
  half.gpu_mem = 20 * kGiB;
  half.util_share = 0.5;
  JobSpec whole = small_job(2);
  whole.gpu_mem = 30 * kGiB;
  whole.util_share = 1.0;
  whole.uid = 1001;
  const JobId shared = submit(half);
  const JobId alone = submit(whole);
  tick();
  tick();
  const store::JobRecord shared_job = std::move(store_->get_job(shared)).value();
  const store::JobRecord alone_job = std::move(store_->get_job(alone)).value();
  ASSERT_EQ(shared_job.state, JobState::kRunning);
  ASSERT_EQ(alone_job.state, JobState::kRunning);
  const std::uint32_t gpu = shared_job.placed_gpus.at(0);
  // A process of no job's on the shared job's GPU, beside the job's own.
  const auto job_pid = static_cast<std::uint32_t>(launcher_.job_pid(shared));
  probe_->devices().at(gpu).processes =
      std::vector<GpuProcess>{{424242, 8 * kGiB}, {job_pid, 2 * kGiB}};
  tick();

  const std::vector<GpuLedger> ledger = engine_->gpu_ledger();
  ASSERT_EQ(ledger.size(), 8u);
  const GpuLedger& row = row_of(ledger, gpu);
  const Bytes total = *probe_->devices().at(gpu).memory_total_bytes;
  const Bytes reserved = probe_->devices().at(gpu).memory_reserved_bytes.value_or(0);
  EXPECT_TRUE(row.open);
  EXPECT_EQ(row.foreign_bytes, 8 * kGiB);
  EXPECT_EQ(row.usable_bytes, total - reserved - 8 * kGiB);
  EXPECT_EQ(row.declared_bytes, 20 * kGiB);
  EXPECT_EQ(row.free_bytes, row.usable_bytes - 20 * kGiB);
  EXPECT_DOUBLE_EQ(row.share_used, 0.5);
  EXPECT_DOUBLE_EQ(row.free_share, 0.5);
  ASSERT_EQ(row.jobs.size(), 1u);
  EXPECT_EQ(row.jobs[0].job, shared);
  EXPECT_EQ(row.jobs[0].uid, 1000u);
  EXPECT_EQ(row.jobs[0].name, "small1");
  EXPECT_EQ(row.jobs[0].command, "/bin/true");
  EXPECT_EQ(row.jobs[0].bytes, 20 * kGiB);
  EXPECT_DOUBLE_EQ(row.jobs[0].share, 0.5);
  ASSERT_EQ(row.processes.size(), 1u) << "only the job's process is a job's";
  EXPECT_EQ(row.processes[0].pid, job_pid);
  EXPECT_EQ(row.processes[0].job, shared);
  EXPECT_EQ(row.processes[0].uid, 1000u);

  const GpuLedger& held = row_of(ledger, alone_job.placed_gpus.at(0));
  EXPECT_DOUBLE_EQ(held.free_share, 0.0) << "a job holds the GPU whole";
  ASSERT_EQ(held.jobs.size(), 1u);
  EXPECT_EQ(held.jobs[0].uid, 1001u);
  for (const GpuLedger& idle : ledger) {
    if (idle.index == gpu || idle.index == alone_job.placed_gpus.at(0)) continue;
    EXPECT_TRUE(idle.jobs.empty());
    EXPECT_DOUBLE_EQ(idle.free_share, 1.0);
    EXPECT_EQ(idle.free_bytes, idle.usable_bytes);
  }

  // A byte more than is free there goes elsewhere; exactly what is free goes there.
  JobSpec too_big = small_job(3);
  too_big.gpu_mem = row.free_bytes + 1;
  too_big.util_share = 0.5;
  const JobId elsewhere = submit(too_big);
  tick();
  tick();
  const store::JobRecord elsewhere_job = std::move(store_->get_job(elsewhere)).value();
  ASSERT_EQ(elsewhere_job.state, JobState::kRunning);
  EXPECT_NE(elsewhere_job.placed_gpus.at(0), gpu);

  JobSpec exact = small_job(4);
  exact.gpu_mem = row.free_bytes;
  exact.util_share = row.free_share;
  const JobId fits = submit(exact);
  tick();
  tick();
  const store::JobRecord fits_job = std::move(store_->get_job(fits)).value();
  ASSERT_EQ(fits_job.state, JobState::kRunning);
  EXPECT_EQ(fits_job.placed_gpus.at(0), gpu);
  const GpuLedger after = row_of(engine_->gpu_ledger(), gpu);
  EXPECT_EQ(after.free_bytes, 0u);
  EXPECT_DOUBLE_EQ(after.free_share, 0.0);
  EXPECT_EQ(after.jobs.size(), 2u);
}

}  // namespace
}  // namespace fastgpu::engine
