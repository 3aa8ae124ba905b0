// A request class that failed to place leaves a record (src/sched/known_failures.h); a
// kept Scheduler keeps it between calls and skips the class's short job past the
// reservation while no GPU that gained room since could hold the class. The pure
// schedule() starts with no record at every call, so holding the kept scheduler to it at
// every step checks the rule: a gain the log missed (an end, a requeue, a move, a GPU
// reported anew) or a reserved GPU freed from one call to the next would show as a job
// the kept scheduler failed to start. The streams keep queues blocked (many classes
// failing at every call) and then make room in every way a caller can: jobs ending before
// their limits, requeues, cancels of the blocked job, GPUs turning healthy or unhealthy,
// foreign memory coming and going, utilization caps changing, and the balancer moving
// jobs. A gain matters to the rule only where a short job could use it on a reserved GPU;
// the streams rarely make a GPU report or a move do that, so each has its own case below,
// as has the record made within a call (which a pure call uses as much as a kept one).
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <variant>

#include "fastgpu/sched/scheduler.h"
#include "sched/known_failures.h"
#include "sched/sched_builders.h"

namespace fastgpu::sched {
namespace {

using testing::describe;
using testing::kGiB;

class BlockedStream : public testing::RandomStream {
 public:
  using RandomStream::RandomStream;

  // Two to four nodes of 2 to 8 GPUs (the last node may be small, so multi-GPU jobs fit
  // only on some), 24 or 40 GiB each.
  std::vector<GpuState> cluster() {
    return RandomStream::cluster(
        2, 4, [this] { return pick(2, 8); },
        [this] { return static_cast<Bytes>(pick(0, 1) == 0 ? 24 : 40) * kGiB; }, 0, false);
  }

  // Many request classes: fractional shares, 1 to 4 whole GPUs, sizes that fit only some
  // GPUs, most with a time limit (backfill), a few without.
  Job job(double now) {
    const int kind = pick(0, 9);
    const int gpus = kind < 4 ? 1 : kind < 7 ? 1 : kind < 9 ? 2 : 4;
    const double share = kind < 4 ? 0.1 * pick(2, 6) : 1.0;
    Job job = testing::make_job(next_id(), gpus, static_cast<Bytes>(pick(2, 20)) * kGiB, share);
    job.signature = "sig" + std::to_string(pick(0, 3));
    job.user = "user" + std::to_string(pick(0, 2));
    job.priority = pick(0, 3);
    job.submit_time_s = now;
    if (pick(0, 5) != 0) job.time_limit_s = 300.0 * pick(1, 12);
    job.restartable = pick(0, 1) == 0;
    job.oracle_duration_s = 60.0 * pick(1, 40);
    return job;
  }
};

struct Figures {
  std::size_t decisions = 0;
  std::size_t blocked_calls = 0;  // calls that left jobs waiting while some GPU had room
  std::size_t gpu_changes = 0;
  std::size_t early_ends = 0;
};

// One random change between calls.
void change(BlockedStream& stream, Scheduler& scheduler, std::vector<GpuState>& gpus, double now,
            Figures& figures) {
  const Snapshot state = scheduler.snapshot();
  const int what = stream.pick(0, 11);
  if (what <= 2 || state.running.empty()) {
    for (int n = stream.pick(1, 5); n > 0; --n) (void)scheduler.enqueue(stream.job(now));
  } else if (what <= 6) {
    // Jobs end, mostly before their limits (what frees GPUs in a real cluster).
    for (int n = stream.pick(1, 2); n > 0 && !scheduler.snapshot().running.empty(); --n) {
      const Snapshot current = scheduler.snapshot();
      const RunningJob& running = stream.pick_from(current.running);
      const bool early =
          !running.job.time_limit_s || now < running.start_time_s + *running.job.time_limit_s;
      if (early) ++figures.early_ends;
      ASSERT_TRUE(scheduler.finish(running.job.id, EndState::kSucceeded, now).ok());
    }
  } else if (what == 7) {
    const RunningJob& running = stream.pick_from(state.running);
    ASSERT_TRUE(scheduler.requeue(running.job.id, now).ok());
  } else if (what == 8 && !state.queue.empty()) {
    // Often the blocked job itself: the first waiting job by id is an old one.
    ASSERT_TRUE(scheduler.cancel(state.queue.front().id, now).ok());
  } else {
    // What the probe says of a GPU changes: health, foreign memory, cap, utilization.
    GpuState& gpu = stream.pick_from(gpus);
    const int kind = stream.pick(0, 3);
    if (kind == 0) gpu.healthy = !gpu.healthy;
    if (kind == 1) gpu.foreign_bytes = static_cast<Bytes>(stream.pick(0, 2) * 8) * kGiB;
    if (kind == 2) gpu.util_cap = stream.pick(0, 1) == 0 ? 0.8 : 1.0;
    gpu.utilization = 0.25 * stream.pick(0, 4);
    ASSERT_TRUE(scheduler.update_gpu(gpu).ok());
    ++figures.gpu_changes;
  }
}

Figures run_blocked_stream(const SchedulerConfig& config, std::uint64_t seed, int steps) {
  Figures figures;
  BlockedStream stream(seed);
  std::vector<GpuState> gpus = stream.cluster();
  const auto scheduler = testing::kept_scheduler(config, gpus);
  if (!scheduler) return figures;
  for (int n = 0; n < 40; ++n) (void)scheduler->enqueue(stream.job(0.0));
  const std::string name = testing::stream_name(config) + (config.backfill ? " backfill" : "");
  testing::run_kept_calls(*scheduler, config, schedule, name, seed, steps,
                          [&](const ScheduleResult& kept, double& now) {
                            figures.decisions += kept.decisions.size();
                            if (scheduler->queued() > 0 && scheduler->running() > 0) {
                              ++figures.blocked_calls;
                            }
                            now += 60.0 * stream.pick(0, 4);
                            change(stream, *scheduler, gpus, now, figures);
                          });
  return figures;
}

class KnownFailureEquivalence : public ::testing::TestWithParam<std::string> {};

TEST_P(KnownFailureEquivalence, SkippedClassesDecideAsThePureSchedulerOnEveryStep) {
  for (const char* strategy : {"pack", "spread"}) {
    for (bool backfill : {true, false}) {
      SchedulerConfig config;
      config.policy = GetParam();
      config.strategy = strategy;
      config.backfill = backfill;
      config.balance = !backfill;  // the balancer's moves free GPUs too
      config.min_run_before_preempt_s = 60.0;
      config.min_run_before_move_s = 60.0;
      Figures total;
      for (std::uint64_t seed = 1; seed <= 4; ++seed) {
        const Figures figures = run_blocked_stream(config, seed * 6151 + (backfill ? 1 : 0), 80);
        if (::testing::Test::HasFailure()) return;
        total.decisions += figures.decisions;
        total.blocked_calls += figures.blocked_calls;
        total.gpu_changes += figures.gpu_changes;
        total.early_ends += figures.early_ends;
      }
      // The streams must start jobs between blocked calls, end jobs early and change GPUs,
      // or they test nothing of the rule.
      const std::string name = config.policy + "/" + strategy + (backfill ? " backfill" : "");
      EXPECT_GT(total.decisions, 150u) << name;
      EXPECT_GT(total.blocked_calls, 200u) << name;
      EXPECT_GT(total.early_ends, 50u) << name;
      EXPECT_GT(total.gpu_changes, 30u) << name;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(EveryPolicy, KnownFailureEquivalence,
                         ::testing::Values("fifo", "priority", "sjf", "srtf", "edf", "las",
                                           "fair"));

// A balancing move frees share on its source GPU. The class below failed everywhere in
// call 1 (its short job was skipped on that record); after the move its short job fits on
// the source, which is reserved for the blocked job but ends in time: call 2 must try it.
TEST(KnownFailureScheduler, AMoveFreesItsSourceForAClassThatFailedThere) {
  SchedulerConfig config;  // fifo, pack, backfill
  config.balance = true;
  Snapshot snapshot;
  snapshot.gpus = {testing::make_gpu(0, "n0", 80 * kGiB), testing::make_gpu(1, "n0", 24 * kGiB)};
  snapshot.gpus[0].utilization = 0.99;  // overloaded by its two jobs
  snapshot.gpus[1].utilization = 0.0;   // idle
  for (std::uint64_t id : {1, 2}) {
    Job job = testing::make_job(id, 1, 8 * kGiB, 0.4);
    job.priority = 4;
    job.restartable = true;
    job.time_limit_s = 1000.0;
    snapshot.running.push_back(testing::make_running(job, {0}));
  }
  Job whole = testing::make_job(3, 1, 60 * kGiB);  // GPU 0 alone: reserved for t = 1000
  whole.time_limit_s = 600.0;
  Job long_one = testing::make_job(4, 1, 60 * kGiB, 0.5);  // kept off GPU 0
  long_one.time_limit_s = 5000.0;
  Job short_one = testing::make_job(5, 1, 60 * kGiB, 0.5);  // ends in time; 0.8 + 0.5 > 1
  short_one.time_limit_s = 300.0;
  snapshot.queue = {whole, long_one, short_one};
  snapshot.now_s = 400.0;
  auto kept = Scheduler::from_snapshot(snapshot, config);
  ASSERT_TRUE(kept.ok()) << kept.status().to_string();
  Scheduler& scheduler = **kept;

  auto first = scheduler.schedule(400.0);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->decisions.size(), 1u) << describe(*first);
  ASSERT_TRUE(std::holds_alternative<Move>(first->decisions[0])) << describe(*first);

  Snapshot after = scheduler.snapshot();
  after.now_s = 500.0;
  auto pure = schedule(after, config);
  auto second = scheduler.schedule(500.0);
  ASSERT_TRUE(pure.ok() && second.ok());
  EXPECT_EQ(testing::started_ids(*pure), std::vector<std::uint64_t>{5}) << describe(*pure);
  EXPECT_EQ(describe(*pure), describe(*second));
}

// Within a call the record of a class that just failed off the reserved GPUs decides
// whether its short job is tried at all; the reserved GPUs must count as room for it (a
// pure call uses the rule as much as a kept one, so only the expected decision shows it).
// Two GPUs of `total` bytes; job 1 runs on GPU 1 until t = 1000. Queued: job 2 needs both
// GPUs (reserved for t = 1000), then jobs 3 (ends after 1000: kept off GPU 0) and 4 (ends by
// 1000: may use GPU 0), one class of `bytes` each.
Snapshot reserved_pair_and_one_class(Bytes total, Bytes bytes) {
  Snapshot snapshot;
  snapshot.gpus = testing::make_node("n0", 2, 0, total);
  Job running = testing::make_job(1);
  running.time_limit_s = 1000.0;
  snapshot.running.push_back(testing::make_running(running, {1}));
  Job pair = testing::make_job(2, 2);
  pair.time_limit_s = 600.0;
  Job long_one = testing::make_job(3, 1, bytes);
  long_one.time_limit_s = 5000.0;
  Job short_one = testing::make_job(4, 1, bytes);
  short_one.time_limit_s = 300.0;
  snapshot.queue = {pair, long_one, short_one};
  return snapshot;
}

TEST(KnownFailureScheduler, AShortJobStillStartsOnAFreeReservedGpu) {
  SchedulerConfig config;  // fifo, pack, backfill
  Snapshot snapshot = reserved_pair_and_one_class(80 * kGiB, 10 * kGiB);
  for (Job& job : snapshot.queue) job.signature = "same";
  auto pure = schedule(snapshot, config);
  ASSERT_TRUE(pure.ok()) << pure.status().to_string();
  EXPECT_EQ(testing::started_ids(*pure), std::vector<std::uint64_t>{4}) << describe(*pure);
  ASSERT_TRUE(pure->reservation.has_value());
  EXPECT_EQ(pure->reservation->job, JobId{2});
  auto kept = Scheduler::from_snapshot(snapshot, config);
  ASSERT_TRUE(kept.ok());
  auto decided = (*kept)->schedule(0.0);
  ASSERT_TRUE(decided.ok());
  EXPECT_EQ(describe(*pure), describe(*decided));
}

// A class's short job skipped because the class could not fit anywhere (its record of
// call 1) must be tried again once a GPU is reported with room for it (call 2), even when
// that GPU is reserved for the blocked job: the short job ends in time to use it.
TEST(KnownFailureScheduler, AGpuReportedWithRoomIsSeenByAnOlderFailure) {
  SchedulerConfig config;  // fifo, pack, backfill
  Snapshot snapshot = reserved_pair_and_one_class(40 * kGiB, 30 * kGiB);
  snapshot.gpus[0].foreign_bytes = 20 * kGiB;  // 20 GiB usable: job 4 (30 GiB) does not fit
  auto kept = Scheduler::from_snapshot(snapshot, config);
  ASSERT_TRUE(kept.ok());
  Scheduler& scheduler = **kept;
  auto first = scheduler.schedule(0.0);
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(testing::started_ids(*first).empty()) << describe(*first);

  GpuState freed = snapshot.gpus[0];
  freed.foreign_bytes = 0;  // the other process left: 40 GiB usable
  ASSERT_TRUE(scheduler.update_gpu(freed).ok());
  Snapshot after = scheduler.snapshot();
  after.now_s = 10.0;
  auto pure = schedule(after, config);
  auto second = scheduler.schedule(10.0);
  ASSERT_TRUE(pure.ok() && second.ok());
  EXPECT_EQ(testing::started_ids(*pure), std::vector<std::uint64_t>{4}) << describe(*pure);
  EXPECT_EQ(describe(*pure), describe(*second));
}

// A GPU reported with a new utilization cap while our jobs run there: they hold u_j * r_i
// at the new r_i, as the pure scheduler counts them from the snapshot (the kept one kept
// the old share until this was fixed; the stream above found it).
TEST(KeptSchedulerGpuChange, ANewCapRecountsTheJobsRunningThere) {
  SchedulerConfig config;
  Snapshot snapshot;
  snapshot.gpus = {testing::make_gpu(0)};
  snapshot.running.push_back(testing::make_running(testing::make_job(1, 1, 10 * kGiB, 0.6), {0}));
  snapshot.queue.push_back(testing::make_job(2, 1, 10 * kGiB, 0.6));
  auto kept = Scheduler::from_snapshot(snapshot, config);
  ASSERT_TRUE(kept.ok());
  Scheduler& scheduler = **kept;
  auto before = scheduler.schedule(0.0);
  ASSERT_TRUE(before.ok());
  EXPECT_TRUE(testing::started_ids(*before).empty());  // 0.6 + 0.6 > 1

  GpuState capped = snapshot.gpus[0];
  capped.util_cap = 0.8;  // each job now holds 0.48 of it: both fit
  ASSERT_TRUE(scheduler.update_gpu(capped).ok());
  Snapshot after = scheduler.snapshot();
  after.now_s = 10.0;
  auto pure = schedule(after, config);
  auto decided = scheduler.schedule(10.0);
  ASSERT_TRUE(pure.ok() && decided.ok());
  EXPECT_EQ(testing::started_ids(*pure), std::vector<std::uint64_t>{2});
  EXPECT_EQ(describe(*pure), describe(*decided));
}

// ---- The proof itself, on a ledger.

Demand whole_gpus(int gpus, Bytes bytes) {
  Demand demand;
  demand.gpus = gpus;
  demand.bytes = bytes;
  return demand;
}

Snapshot two_nodes_full() {
  Snapshot snapshot;
  snapshot.gpus = testing::make_node("a", 2, 0);
  for (GpuState& gpu : testing::make_node("b", 2, 2)) snapshot.gpus.push_back(gpu);
  for (int g = 0; g < 4; ++g) {
    snapshot.running.push_back(
        testing::make_running(testing::make_job(static_cast<std::uint64_t>(g + 1)), {g}));
  }
  return snapshot;
}

TEST(KnownFailure, HoldsUntilAGainedNodeCanTakeTheDemand) {
  const Snapshot snapshot = two_nodes_full();
  Ledger ledger(snapshot);
  GainLog gains;
  NodeRooms rooms;
  KnownFailure failure;
  const Demand two = whole_gpus(2, 10 * kGiB);
  EXPECT_FALSE(still_fails(failure, two, nullptr, ledger, gains, rooms));  // nothing recorded yet
  record_failure(failure, two, {}, gains);
  EXPECT_TRUE(still_fails(failure, two, nullptr, ledger, gains, rooms));

  // One GPU of node b frees: b still cannot hold two GPUs, so the failure stands.
  Demand one = whole_gpus(1, 10 * kGiB);
  ledger.release({ledger.slot_of(2)}, one, 10 * kGiB);
  gains.add(ledger.slot(ledger.slot_of(2)).node);
  EXPECT_TRUE(still_fails(failure, two, nullptr, ledger, gains, rooms));
  // A one-GPU demand recorded before that gain fits there now.
  KnownFailure one_failed;
  one_failed.valid = true;
  one_failed.stamp = 0;
  one_failed.demand = one;
  EXPECT_FALSE(still_fails(one_failed, one, nullptr, ledger, gains, rooms));

  // The second GPU of b frees: b holds the pair now.
  ledger.release({ledger.slot_of(3)}, one, 10 * kGiB);
  gains.add(ledger.slot(ledger.slot_of(3)).node);
  EXPECT_FALSE(still_fails(failure, two, nullptr, ledger, gains, rooms));
  // ...unless those GPUs are kept off for a reservation.
  std::vector<char> reserved(ledger.slots().size(), 0);
  reserved[static_cast<std::size_t>(ledger.slot_of(3))] = 1;
  EXPECT_TRUE(still_fails(failure, two, &reserved, ledger, gains, rooms));
  // A smaller demand than the one that failed proves nothing.
  EXPECT_FALSE(still_fails(failure, whole_gpus(2, 5 * kGiB), &reserved, ledger, gains, rooms));
}

TEST(KnownFailure, AReservedGpuNoLongerReservedCountsAsRoom) {
  Snapshot snapshot = two_nodes_full();
  snapshot.running.pop_back();  // GPU 3 (node b) is free
  Ledger ledger(snapshot);
  GainLog gains;
  NodeRooms rooms;
  std::vector<char> reserved(ledger.slots().size(), 0);
  const int free_slot = ledger.slot_of(3);
  reserved[static_cast<std::size_t>(free_slot)] = 1;
  const Demand one = whole_gpus(1, 10 * kGiB);
  KnownFailure failure;
  record_failure(failure, one, {free_slot}, gains);  // failed while GPU 3 was reserved
  EXPECT_TRUE(still_fails(failure, one, &reserved, ledger, gains, rooms));
  EXPECT_FALSE(still_fails(failure, one, nullptr, ledger, gains, rooms));  // reservation gone
}

TEST(KnownFailure, AStampOlderThanTheLogProvesNothing) {
  const Snapshot snapshot = two_nodes_full();
  const Ledger ledger(snapshot);
  GainLog gains;
  NodeRooms rooms;
  KnownFailure failure;
  const Demand two = whole_gpus(2, 10 * kGiB);
  record_failure(failure, two, {}, gains);
  // Many gains on a node that cannot hold the demand: past the log's reach, the record
  // no longer answers (it cannot tell where the ledger gained).
  for (int n = 0; n < 5000; ++n) gains.add(0);
  EXPECT_FALSE(gains.since(failure.stamp).has_value());
  EXPECT_FALSE(still_fails(failure, two, nullptr, ledger, gains, rooms));
  record_failure(failure, two, {}, gains);
  EXPECT_TRUE(still_fails(failure, two, nullptr, ledger, gains, rooms));
}

// A whole-memory gang over GPUs of unequal free memory holds each GPU's usable bytes while
// its round runs and the smallest of them from the round's end (its Start's bytes): the
// larger GPU gains room then, after the round's failures were recorded. Call 1: the short
// job of a class fails everywhere (the gang fills GPU 1); call 2: a longer job of the class
// comes first and is kept off GPU 1 (reserved for the blocked gang), and the short job may
// use GPU 1's new room. The gain must be logged, or call 1's record proves it fails.
TEST(KnownFailureScheduler, AWholeMemoryGangsRecordedBytesAreAGain) {
  SchedulerConfig config;  // fifo, pack, backfill
  std::vector<GpuState> gpus = testing::make_node("n0", 2, 0, 80 * kGiB);
  gpus[0].foreign_bytes = 16 * kGiB;  // usable 64 GiB against GPU 1's 80
  for (const GpuState& gpu : testing::make_node("n1", 2, 2, 80 * kGiB)) gpus.push_back(gpu);
  Snapshot snapshot;
  snapshot.gpus = gpus;
  for (std::uint64_t id : {10, 11}) {  // n1 is busy until t = 3000
    Job busy = testing::make_job(id, 1, 10 * kGiB);
    busy.time_limit_s = 3000.0;
    snapshot.running.push_back(testing::make_running(busy, {static_cast<int>(id) - 8}));
  }
  Job gang = testing::make_job(1, 2, 0, 0.5);
  gang.gpu_mem.reset();  // the whole memory: 64 GiB recorded on each GPU
  gang.time_limit_s = 1000.0;
  gang.submit_time_s = 0.0;
  Job blocked = testing::make_job(2, 2, 60 * kGiB, 0.5);  // waits for n0 at t = 1000
  blocked.time_limit_s = 1000.0;
  blocked.submit_time_s = 1.0;
  Job short_one = testing::make_job(3, 1, 10 * kGiB, 0.3);
  short_one.time_limit_s = 500.0;
  short_one.submit_time_s = 2.0;
  snapshot.queue = {gang, blocked, short_one};
  auto created = Scheduler::from_snapshot(snapshot, config);
  ASSERT_TRUE(created.ok()) << created.status().to_string();
  Scheduler& scheduler = **created;

  auto first = scheduler.schedule(0.0);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(testing::started_ids(*first), std::vector<std::uint64_t>{1}) << describe(*first);

  Job long_one = testing::make_job(4, 1, 10 * kGiB, 0.3);  // same class, ranked first
  long_one.time_limit_s = 5000.0;
  long_one.submit_time_s = 1.5;
  ASSERT_TRUE(scheduler.enqueue(long_one).ok());
  Snapshot after = scheduler.snapshot();
  after.now_s = 10.0;
  auto pure = schedule(after, config);
  auto second = scheduler.schedule(10.0);
  ASSERT_TRUE(pure.ok() && second.ok());
  EXPECT_EQ(testing::started_ids(*pure), std::vector<std::uint64_t>{3}) << describe(*pure);
  EXPECT_EQ(describe(*pure), describe(*second));
}

}  // namespace
}  // namespace fastgpu::sched
