// The kept Scheduler against the pure schedule() on long queues under EASY backfill: few
// request classes, many time limits, and changes that hit every part of the kept queue:
// jobs ranked together in one pass (a class's ordered run) and cancelled from its middle,
// later arrivals that rank before them, short jobs joining the walk past a reservation,
// histories that make the whole queue ranked again. After every step both must decide the
// same, line by line, reservation included.
#include <gtest/gtest.h>

#include <string>

#include "fastgpu/sched/scheduler.h"
#include "sched/sched_builders.h"

namespace fastgpu::sched {
namespace {

using testing::describe;
using testing::kGiB;

class LongQueue : public testing::RandomStream {
 public:
  using RandomStream::RandomStream;

  // Four request classes (a quarter GPU, one, two and four whole GPUs), twelve time limits
  // and no limit, three priorities.
  Job job(double now) {
    const int kind = pick(0, 3);
    const int gpus = kind == 0 ? 1 : kind == 1 ? 1 : kind == 2 ? 2 : 4;
    Job job =
        testing::make_job(next_id(), gpus, (kind == 0 ? 10 : 30) * kGiB, kind == 0 ? 0.25 : 1.0);
    job.signature = "sig" + std::to_string(kind);
    job.priority = pick(0, 2);
    job.submit_time_s = now;
    if (pick(0, 5) != 0) job.time_limit_s = 600.0 * pick(1, 12);
    job.oracle_duration_s = 300.0 * pick(1, 20);
    return job;
  }
};

struct StreamFigures {
  std::size_t decisions = 0;
  std::size_t reservations = 0;
  std::size_t cancels = 0;
};

StreamFigures run_long_queue(const SchedulerConfig& config, std::uint64_t seed) {
  StreamFigures figures;
  LongQueue stream(seed);
  std::vector<GpuState> gpus;
  for (int node = 0; node < 3; ++node) {
    for (const GpuState& gpu : testing::make_node("node" + std::to_string(node), 4, node * 4)) {
      gpus.push_back(gpu);
    }
  }
  const auto kept_scheduler = testing::kept_scheduler(config, gpus);
  if (!kept_scheduler) return figures;
  Scheduler& scheduler = *kept_scheduler;
  for (int i = 0; i < 300; ++i) EXPECT_TRUE(scheduler.enqueue(stream.job(0.0)).ok());
  double now = 0.0;
  for (int step = 0; step < 120; ++step) {
    Snapshot state = scheduler.snapshot();
    const int what = stream.pick(0, 9);
    if (what <= 3 && !state.running.empty()) {
      const auto& done = stream.pick_from(state.running);
      EXPECT_TRUE(scheduler.finish(done.job.id, EndState::kSucceeded, now).ok());
    } else if (what <= 6 && !state.queue.empty()) {
      // Any queued job, most often one from the middle of its class.
      const auto& gone = stream.pick_from(state.queue);
      EXPECT_TRUE(scheduler.cancel(gone.id, now).ok());
      ++figures.cancels;
    } else if (what == 7 && !state.running.empty()) {
      EXPECT_TRUE(scheduler.requeue(state.running.front().job.id, now).ok());
    } else if (what == 8) {
      SignatureHistory history;
      history.run_seconds = {60.0 * stream.pick(1, 60)};
      scheduler.set_history("sig" + std::to_string(stream.pick(0, 3)), history);
    } else {
      for (int n = stream.pick(1, 3); n > 0; --n) {
        EXPECT_TRUE(scheduler.enqueue(stream.job(now)).ok());
      }
    }
    Snapshot snapshot = scheduler.snapshot();
    snapshot.now_s = now;
    auto pure = schedule(snapshot, config);
    auto kept = scheduler.schedule(now);
    EXPECT_TRUE(pure.ok() && kept.ok()) << "seed " << seed << " step " << step;
    if (!pure.ok() || !kept.ok()) return figures;
    EXPECT_EQ(describe(*pure), describe(*kept))
        << config.policy << "/" << config.strategy << " seed " << seed << " step " << step;
    if (describe(*pure) != describe(*kept)) return figures;
    figures.decisions += kept->decisions.size();
    if (kept->reservation) ++figures.reservations;
    now += 60.0 * stream.pick(0, 5);
  }
  return figures;
}

class KeptBackfillEquivalence : public ::testing::TestWithParam<std::string> {};

TEST_P(KeptBackfillEquivalence, LongQueueDecidesAsThePureSchedulerOnEveryStep) {
  for (const char* strategy : {"pack", "spread"}) {
    SchedulerConfig config;
    config.policy = GetParam();
    config.strategy = strategy;
    config.backfill = true;
    config.min_run_before_preempt_s = 60.0;
    StreamFigures total;
    for (std::uint64_t seed = 1; seed <= 3; ++seed) {
      const StreamFigures figures = run_long_queue(config, seed * 104729);
      if (::testing::Test::HasFailure()) return;
      total.decisions += figures.decisions;
      total.reservations += figures.reservations;
      total.cancels += figures.cancels;
    }
    // The streams must start jobs, hold reservations and cancel from the queue, or they
    // compare nothing of what this test is for.
    EXPECT_GT(total.decisions, 100u) << config.policy << "/" << strategy;
    EXPECT_GT(total.reservations, 100u) << config.policy << "/" << strategy;
    EXPECT_GT(total.cancels, 50u) << config.policy << "/" << strategy;
  }
}

INSTANTIATE_TEST_SUITE_P(StableAndMovingKeys, KeptBackfillEquivalence,
                         ::testing::Values("fifo", "priority", "sjf", "las"));

}  // namespace
}  // namespace fastgpu::sched
