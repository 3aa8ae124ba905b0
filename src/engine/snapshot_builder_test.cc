// The scheduler's input built from a real (in-memory) store: the GPU service a job already
// attained in its earlier, ended runs, which las and srtf rank by, running or queued.
#include "engine/snapshot_builder.h"

#include <gtest/gtest.h>

#include "engine/convert.h"
#include "fastgpu/gpu/simulated_probe.h"

namespace fastgpu::engine {
namespace {

using store::JobState;

store::WallTime at(double seconds) {
  return store::WallTime(std::chrono::microseconds(static_cast<std::int64_t>(seconds * 1e6)));
}

class SnapshotBuilderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    reading_ = make_simulated_probe("2xH100-80G").value()->read().value();
    options_.store = store_.get();
    options_.scheduler.policy = "las";
  }

  JobId submit() {
    store::JobSpec spec;
    spec.argv = {"train"};
    spec.working_dir = "/tmp";
    spec.gpus = 1;
    spec.gpu_mem = Bytes{1} << 30;
    spec.restartable = true;
    spec.submit_time = at(0);
    return store_->submit(std::span(&spec, 1)).value().at(0);
  }

  void start(JobId job, double when, std::uint32_t gpu = 0) {
    ASSERT_TRUE(store_->record_start(job, {{gpu}, at(when), "", 1, 2, Bytes{1} << 30}).ok());
  }

  void preempt_and_requeue(JobId job, double when) {
    store::JobEnd end;
    end.state = JobState::kPreempted;
    end.at = at(when);
    ASSERT_TRUE(store_->record_end(job, end).ok());
    ASSERT_TRUE(
        store_->transition(job, JobState::kPreempted, JobState::kQueued, at(when), "requeued")
            .ok());
  }

  // The attained run time the snapshot gives each job, running or queued.
  std::map<JobId, double> attained(double now) {
    QueuedJobs queued;  // read afresh: the test moves jobs in the store behind its back
    EXPECT_TRUE(queued.refresh(*store_, now).ok());
    RunningJobs runs;
    EXPECT_TRUE(runs.refresh(*store_, now).ok());
    Result<TickInput> input =
        build_tick_input({options_, reading_, meter_, at(now), queued, runs, history_});
    EXPECT_TRUE(input.ok()) << input.status().to_string();
    std::map<JobId, double> by_job;
    if (!input.ok()) return by_job;
    for (const sched::RunningJob& running : input->snapshot.running) {
      by_job[running.job.id] = running.job.attained_run_s;
    }
    for (const sched::Job& job : input->snapshot.queue) by_job[job.id] = job.attained_run_s;
    return by_job;
  }

  std::unique_ptr<store::StateStore> store_ =
      std::move(store::open_sqlite_store(":memory:")).value();
  GpuReading reading_;
  EngineOptions options_;
  UsageMeter meter_;
  HistoryCache history_;
};

TEST_F(SnapshotBuilderTest, AttainedServiceCountsEarlierRunsOnly) {
  const JobId fresh = submit();
  const JobId restarted = submit();
  start(fresh, 10.0, 0);
  start(restarted, 0.0, 1);
  preempt_and_requeue(restarted, 100.0);  // ran 100 s
  EXPECT_EQ(attained(150.0), (std::map<JobId, double>{{fresh, 0.0}, {restarted, 100.0}}));

  start(restarted, 200.0, 1);  // its second run: the first still counts, the current not
  EXPECT_EQ(attained(250.0), (std::map<JobId, double>{{fresh, 0.0}, {restarted, 100.0}}));

  preempt_and_requeue(restarted, 230.0);  // ran 30 s more
  EXPECT_EQ(attained(300.0), (std::map<JobId, double>{{fresh, 0.0}, {restarted, 130.0}}));
}

// A job's process on a GPU the job was not placed on (it ignored CUDA_VISIBLE_DEVICES)
// holds memory the ledger must not offer: it is foreign there. It counted as nobody's, so
// that GPU looked free, and the memory check blamed the jobs placed there for its bytes.
TEST_F(SnapshotBuilderTest, AJobsMemoryOnAGpuItWasNotPlacedOnIsForeignThere) {
  const JobId job = submit();
  start(job, 10.0, 0);
  reading_.devices.at(0).processes = std::vector<GpuProcess>{{4243, Bytes{5} << 30}};
  reading_.devices.at(1).processes =
      std::vector<GpuProcess>{{4242, Bytes{10} << 30}, {4244, Bytes{3} << 30}};
  options_.attribute_pid = [job](std::uint32_t pid, const SupervisorJobs&) -> std::optional<JobId> {
    if (pid == 4242 || pid == 4243) return job;
    return std::nullopt;  // 4244: nobody's
  };
  QueuedJobs queued;
  ASSERT_TRUE(queued.refresh(*store_, 20.0).ok());
  RunningJobs runs;
  ASSERT_TRUE(runs.refresh(*store_, 20.0).ok());
  Result<TickInput> input =
      build_tick_input({options_, reading_, meter_, at(20.0), queued, runs, history_});
  ASSERT_TRUE(input.ok()) << input.status().to_string();
  std::map<int, Bytes> foreign;
  for (const sched::GpuState& gpu : input->snapshot.gpus) foreign[gpu.index] = gpu.foreign_bytes;
  EXPECT_EQ(foreign[0], 0);                // the job's own, where it was placed
  EXPECT_EQ(foreign[1], Bytes{13} << 30);  // its stray 10 GiB and nobody's 3 GiB
}

// Memory in use that no listed process accounts for (a graphics process, which the compute
// list leaves out) counted as free: the ledger offered it and a job placed there could run
// out of memory. It is foreign now, except where a listed process's memory is unknown: that
// one may be our job's, whose declaration the ledger holds already.
TEST_F(SnapshotBuilderTest, MemoryInUseThatNoListedProcessAccountsForIsForeign) {
  constexpr Bytes kGiB = Bytes{1} << 30;
  const JobId job = submit();
  start(job, 10.0, 0);
  reading_.devices.at(0).processes = std::vector<GpuProcess>{{4242, 6 * kGiB}};
  reading_.devices.at(0).memory_used_bytes = 15 * kGiB;  // 9 GiB of no listed process
  reading_.devices.at(1).processes = std::vector<GpuProcess>{};
  reading_.devices.at(1).memory_used_bytes = 20 * kGiB;  // all of it
  options_.attribute_pid = [job](std::uint32_t pid, const SupervisorJobs&) -> std::optional<JobId> {
    if (pid == 4242) return job;
    return std::nullopt;
  };
  auto foreign = [this] {
    QueuedJobs queued;
    EXPECT_TRUE(queued.refresh(*store_, 20.0).ok());
    RunningJobs runs;
    EXPECT_TRUE(runs.refresh(*store_, 20.0).ok());
    std::map<int, Bytes> by_gpu;
    for (const sched::GpuState& gpu :
         tick_gpus({options_, reading_, meter_, at(20.0), queued, runs, history_})) {
      by_gpu[gpu.index] = gpu.foreign_bytes;
    }
    return by_gpu;
  };
  EXPECT_EQ(foreign()[0], 9 * kGiB);
  EXPECT_EQ(foreign()[1], 20 * kGiB);

  // A listed process whose memory the driver withholds: the rest is not guessed at.
  reading_.devices.at(0).processes = std::vector<GpuProcess>{{4242, std::nullopt}};
  EXPECT_EQ(foreign()[0], 0);
  // Nor without a reading of the memory in use.
  reading_.devices.at(1).memory_used_bytes.reset();
  EXPECT_EQ(foreign()[1], 0);

  // A process list that could not be read: what is in use beyond the jobs' declarations
  // (the job declared 1 GiB on GPU 0) is another's.
  reading_.devices.at(0).processes.reset();
  reading_.devices.at(0).memory_used_bytes = 6 * kGiB;
  EXPECT_EQ(foreign()[0], 5 * kGiB);
  reading_.devices.at(0).memory_used_bytes = kGiB / 2;
  EXPECT_EQ(foreign()[0], 0);
  reading_.devices.at(1).processes.reset();
  reading_.devices.at(1).memory_used_bytes = 20 * kGiB;
  EXPECT_EQ(foreign()[1], 20 * kGiB);
}

}  // namespace
}  // namespace fastgpu::engine
