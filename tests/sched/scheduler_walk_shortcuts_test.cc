// The walk over the class heads takes shortcuts past the backfill reservation
// (src/sched/scheduler.cc, Round::consider): a class that a failure of the round on any
// GPU dominates is settled at once, without the memo of failures off the reserved GPUs,
// a proof, the placer or its short job; and a proof reads each gained node's open slots
// of the round (NodeRooms) instead of asking the ledger of each slot. A pure call with
// State::plain_walk set walks without them. These streams hold a kept Scheduler (shortcuts on,
// records and kept reservations from earlier calls) to that plain pure call at every step,
// decisions and reservation alike: a shortcut that settled a class that could still start, or that
// dropped a short job that could use a reserved GPU, would start fewer jobs in the kept
// scheduler than in the plain one.
#include <gtest/gtest.h>

#include <string>

#include "fastgpu/sched/scheduler.h"
#include "sched/plain_schedule.h"
#include "sched/sched_builders.h"
#include "sched/scheduler_state.h"

namespace fastgpu::sched {
namespace {

using testing::kGiB;

// The pure schedule() of the snapshot, walking without the shortcuts.
Result<ScheduleResult> plain_walk_schedule(const Snapshot& snapshot,
                                           const SchedulerConfig& config) {
  return testing::plain_schedule(snapshot, config, &Scheduler::State::plain_walk);
}

class WalkStream : public testing::RandomStream {
 public:
  using RandomStream::RandomStream;

  // Three to seven nodes of 4 or 8 GPUs (the first of 8, so an 8-GPU job fits), 24, 40
  // or 80 GiB; now and then a GPU capped.
  std::vector<GpuState> cluster() {
    const Bytes sizes[] = {24 * kGiB, 40 * kGiB, 80 * kGiB};
    int nodes = 0;
    return RandomStream::cluster(
        3, 7, [&] { return nodes++ == 0 || pick(0, 1) == 0 ? 8 : 4; },
        [&] { return sizes[pick(0, 2)]; }, 12, true);
  }

  // The benchmark's mix, with many request classes (sizes and shares vary) and time
  // limits from 5 minutes to 2 hours, so that many classes have a job that ends before
  // the reservation (a short job) and many fail past it.
  Job job(double now) {
    const int kind = pick(0, 19);
    int gpus = 1;
    double share = 1.0;
    if (kind < 8) {
      share = 0.1 * pick(1, 6);
    } else {
      gpus = kind < 13 ? 1 : kind < 16 ? 2 : kind < 19 ? 4 : 8;
    }
    Bytes bytes = static_cast<Bytes>(pick(2, 30)) * kGiB;
    // Now and then the smallest job of the mix in every dimension, as the benchmark's
    // queue has one: a round may then prove that the queue's smallest demands fail and
    // end its walk early (Round::prove_smallest_fail).
    if (pick(0, 9) == 0) {
      gpus = 1;
      share = 0.1;
      bytes = 2 * kGiB;
    }
    Job job = testing::make_job(next_id(), gpus, bytes, share);
    if (pick(0, 24) == 0) job.gpu_mem.reset();  // "auto" with no history: the whole memory
    job.signature = "sig" + std::to_string(pick(0, 3));
    job.user = "user" + std::to_string(pick(0, 2));
    job.priority = pick(0, 3);
    job.submit_time_s = now;
    if (pick(0, 9) != 0) job.time_limit_s = 300.0 * pick(1, 24);
    job.restartable = pick(0, 1) == 0;
    job.oracle_duration_s = 60.0 * pick(1, 60);
    return job;
  }
};

struct Figures {
  std::size_t reservations = 0;
  std::size_t starts = 0;
  std::uint64_t shortcuts = 0;
  std::uint64_t smallest_stops = 0;  // walks ended by proving the smallest demands fail
};

// Jobs end (most before their limits), arrive, are cancelled or requeued; GPUs report.
void change(Scheduler& scheduler, WalkStream& stream, std::vector<GpuState>& gpus, double now) {
  const Snapshot state = scheduler.snapshot();
  const int what = stream.pick(0, 9);
  if (what < 4 && !state.running.empty()) {
    const RunningJob& done = stream.pick_from(state.running);
    EXPECT_TRUE(scheduler.finish(done.job.id, EndState::kSucceeded, now).ok());
  } else if (what < 7) {
    for (int n = stream.pick(1, 3); n > 0; --n) {
      const Status status = scheduler.enqueue(stream.job(now));
      EXPECT_TRUE(status.ok()) << status.to_string();
    }
  } else if (what == 7 && !state.queue.empty()) {
    const Job& gone = stream.pick_from(state.queue);
    EXPECT_TRUE(scheduler.cancel(gone.id, now).ok());
  } else if (what == 8 && !state.running.empty()) {
    EXPECT_TRUE(scheduler.requeue(state.running.front().job.id, now).ok());
  } else {
    GpuState& gpu = stream.pick_from(gpus);
    gpu.foreign_bytes = static_cast<Bytes>(stream.pick(0, 2) * 6) * kGiB;
    gpu.healthy = stream.pick(0, 11) != 0;
    gpu.utilization = 0.25 * stream.pick(0, 4);
    const Status status = scheduler.update_gpu(gpu);
    EXPECT_TRUE(status.ok()) << status.to_string();
  }
}

Figures run_stream(const SchedulerConfig& config, std::uint64_t seed, int steps) {
  Figures figures;
  WalkStream stream(seed);
  std::vector<GpuState> gpus = stream.cluster();
  const auto scheduler = testing::kept_scheduler(config, gpus);
  if (!scheduler) return figures;
  for (int n = 0; n < 120; ++n) {
    const Status status = scheduler->enqueue(stream.job(0.0));
    EXPECT_TRUE(status.ok()) << status.to_string();
  }
  testing::run_kept_calls(*scheduler, config, plain_walk_schedule, testing::stream_name(config),
                          seed, steps, [&](const ScheduleResult& kept, double& now) {
                            if (kept.reservation) ++figures.reservations;
                            figures.starts += testing::starts(kept).size();
                            if (stream.pick(0, 2) != 0) now += 60.0 * stream.pick(1, 10);
                            for (int n = stream.pick(1, 3); n > 0; --n) {
                              change(*scheduler, stream, gpus, now);
                            }
                          });
  figures.shortcuts = scheduler->state().walk_shortcuts;
  figures.smallest_stops = scheduler->state().smallest_proven_stops;
  return figures;
}

class WalkShortcuts : public ::testing::TestWithParam<std::string> {};

TEST_P(WalkShortcuts, DecideAsThePlainWalkOnEveryStep) {
  std::uint64_t smallest_stops = 0;
  for (const char* strategy : {"pack", "spread"}) {
    SchedulerConfig config;
    config.policy = GetParam();
    config.strategy = strategy;
    config.min_run_before_preempt_s = 60.0;
    Figures total;
    for (std::uint64_t seed = 1; seed <= 4; ++seed) {
      const Figures figures = run_stream(config, seed * 6151, 70);
      if (::testing::Test::HasFailure()) return;
      total.reservations += figures.reservations;
      total.starts += figures.starts;
      total.shortcuts += figures.shortcuts;
      total.smallest_stops += figures.smallest_stops;
    }
    // The streams must block jobs behind reservations and take the shortcuts often, or
    // they test nothing.
    const std::string name = config.policy + "/" + strategy;
    EXPECT_GT(total.reservations, 150u) << name;
    EXPECT_GT(total.starts, 150u) << name;
    EXPECT_GT(total.shortcuts, 1000u) << name;
    smallest_stops += total.smallest_stops;
  }
  // Rounds that proved the queue's smallest demands fail and ended their walk: mostly
  // under pack (spread leaves room for small jobs on more GPUs). Under fair each user's
  // jobs are classes of their own, so no one class asks the queue's smallest demands and
  // the proof is not tried there.
  if (GetParam() != "fair") {
    EXPECT_GT(smallest_stops, 40u) << GetParam();
  }
}

INSTANTIATE_TEST_SUITE_P(EveryPolicy, WalkShortcuts,
                         ::testing::Values("fifo", "priority", "sjf", "srtf", "edf", "las",
                                           "fair"));

}  // namespace
}  // namespace fastgpu::sched
