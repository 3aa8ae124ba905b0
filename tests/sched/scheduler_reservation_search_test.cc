// The backfill reservation search (Round::reserve_earliest) releases running jobs what-if
// in the order their limits end them until the blocked job fits. It asks the placer only
// after a release that touched a node now holding demand.gpus fitting GPUs, within a
// ledger trial whose indexes are brought up to date only on such nodes. The plain search
// asks the placer after every release on an exactly indexed ledger. These streams hold a
// kept Scheduler (pruned search) to a pure call on the same snapshot that searches the
// plain way, at every step, decisions and reservation alike: a release that made room
// without the search asking, a node left unsynced whose stale entries moved the placer's
// choice, or a trial that did not put the ledger back would show as a difference.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "fastgpu/sched/scheduler.h"
#include "sched/plain_schedule.h"
#include "sched/sched_builders.h"
#include "sched/scheduler_state.h"

namespace fastgpu::sched {
namespace {

using testing::describe;
using testing::kGiB;

// The pure schedule() of the snapshot, with the plain reservation search.
Result<ScheduleResult> plain_search_schedule(const Snapshot& snapshot,
                                             const SchedulerConfig& config) {
  return testing::plain_schedule(snapshot, config, &Scheduler::State::plain_reservation_search);
}

class ReservationStream : public testing::RandomStream {
 public:
  using RandomStream::RandomStream;

  // Three to eight nodes of 2 to 8 GPUs, 24, 40 or 80 GiB each: many nodes, so most
  // releases touch nodes that cannot hold the blocked job, and a gang fits only on some.
  std::vector<GpuState> cluster() {
    const Bytes sizes[] = {24 * kGiB, 40 * kGiB, 80 * kGiB};
    return RandomStream::cluster(
        3, 8, [this] { return pick(2, 8); }, [&] { return sizes[pick(0, 2)]; }, 8, true);
  }

  // Fractional, 1-, 2-, 4- and 8-GPU jobs (an 8-GPU job fits only on a full node), most
  // with a time limit; now and then one without, or one taking the whole memory.
  Job job(double now) {
    const int kind = pick(0, 19);
    const int gpus = kind < 8 ? 1 : kind < 13 ? 1 : kind < 16 ? 2 : kind < 19 ? 4 : 8;
    const double share = kind < 8 ? 0.1 * pick(1, 7) : 1.0;
    Job job = testing::make_job(next_id(), gpus, static_cast<Bytes>(pick(2, 36)) * kGiB, share);
    if (pick(0, 15) == 0) job.gpu_mem.reset();  // "auto" with no history: the whole memory
    job.signature = "sig" + std::to_string(pick(0, 3));
    job.user = "user" + std::to_string(pick(0, 2));
    job.priority = pick(0, 3);
    job.submit_time_s = now;
    if (pick(0, 7) != 0) job.time_limit_s = 300.0 * pick(1, 12);
    job.restartable = pick(0, 1) == 0;
    job.oracle_duration_s = 60.0 * pick(1, 40);
    return job;
  }
};

struct Figures {
  std::size_t reservations = 0;  // calls that reserved for a blocked job
  std::size_t starts = 0;
};

Figures run_stream(const SchedulerConfig& config, std::uint64_t seed, int steps) {
  Figures figures;
  ReservationStream stream(seed);
  std::vector<GpuState> gpus = stream.cluster();
  const auto scheduler = testing::kept_scheduler(config, gpus);
  if (!scheduler) return figures;
  for (int n = 0; n < 60; ++n) (void)scheduler->enqueue(stream.job(0.0));
  testing::run_kept_calls(*scheduler, config, plain_search_schedule, testing::stream_name(config),
                          seed, steps, [&](const ScheduleResult& kept, double& now) {
                            if (kept.reservation) ++figures.reservations;
                            figures.starts += testing::starts(kept).size();
                            now += 60.0 * stream.pick(0, 5);
                            // Jobs end, most before their limits; new ones arrive; now and then a
                            // GPU changes.
                            const Snapshot state = scheduler->snapshot();
                            for (int n = stream.pick(0, 3); n > 0 && !state.running.empty(); --n) {
                              const RunningJob& running = stream.pick_from(state.running);
                              (void)scheduler->finish(running.job.id, EndState::kSucceeded, now);
                            }
                            for (int n = stream.pick(0, 3); n > 0; --n)
                              (void)scheduler->enqueue(stream.job(now));
                            if (stream.pick(0, 9) == 0) {
                              GpuState& gpu = stream.pick_from(gpus);
                              gpu.foreign_bytes = static_cast<Bytes>(stream.pick(0, 2) * 8) * kGiB;
                              gpu.utilization = 0.25 * stream.pick(0, 4);
                              EXPECT_TRUE(scheduler->update_gpu(gpu).ok());
                            }
                          });
  return figures;
}

class ReservationSearch : public ::testing::TestWithParam<std::string> {};

TEST_P(ReservationSearch, PrunedSearchReservesAsThePlainSearchOnEveryStep) {
  for (const char* strategy : {"pack", "spread"}) {
    SchedulerConfig config;
    config.policy = GetParam();
    config.strategy = strategy;
    config.min_run_before_preempt_s = 60.0;
    Figures total;
    for (std::uint64_t seed = 1; seed <= 5; ++seed) {
      const Figures figures = run_stream(config, seed * 7919, 70);
      if (::testing::Test::HasFailure()) return;
      total.reservations += figures.reservations;
      total.starts += figures.starts;
    }
    // The streams must keep jobs blocked behind reservations, or they test nothing.
    EXPECT_GT(total.reservations, 150u) << config.policy << "/" << strategy;
    EXPECT_GT(total.starts, 200u) << config.policy << "/" << strategy;
  }
}

INSTANTIATE_TEST_SUITE_P(EveryPolicy, ReservationSearch,
                         ::testing::Values("fifo", "priority", "sjf", "srtf", "edf", "las",
                                           "fair"));

// A reservation found on the second node a release touched: the first release frees one
// GPU on node a (too few for the gang), the second frees two on node b. The pruned search
// must still reserve node b at the second job's end, as the plain one does.
TEST(ReservationSearchScheduler, ReservesWhereTheReleaseThatMadeRoomRan) {
  SchedulerConfig config;  // fifo, pack, backfill
  Snapshot snapshot;
  for (const GpuState& gpu : testing::make_node("a", 2, 0)) snapshot.gpus.push_back(gpu);
  for (const GpuState& gpu : testing::make_node("b", 2, 2)) snapshot.gpus.push_back(gpu);
  Job early = testing::make_job(1, 1, 60 * kGiB);
  early.time_limit_s = 100.0;
  Job other = testing::make_job(2, 1, 60 * kGiB, 0.5);  // GPU 1 keeps some room
  other.time_limit_s = 900.0;
  Job gang_holder = testing::make_job(3, 2, 60 * kGiB);
  gang_holder.time_limit_s = 500.0;
  snapshot.running = {testing::make_running(early, {0}), testing::make_running(other, {1}),
                      testing::make_running(gang_holder, {2, 3})};
  Job blocked = testing::make_job(4, 2, 60 * kGiB);
  blocked.time_limit_s = 300.0;
  snapshot.queue = {blocked};
  auto plain = plain_search_schedule(snapshot, config);
  auto pruned = schedule(snapshot, config);
  ASSERT_TRUE(plain.ok() && pruned.ok());
  ASSERT_TRUE(pruned->reservation.has_value()) << describe(*pruned);
  EXPECT_EQ(pruned->reservation->start_s, 500.0);
  EXPECT_EQ(pruned->reservation->gpus, (std::vector<int>{2, 3}));
  EXPECT_EQ(describe(*plain), describe(*pruned));
}

}  // namespace
}  // namespace fastgpu::sched
