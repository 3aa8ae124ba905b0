// The Scheduler kept between calls must decide exactly as the pure schedule() does on the
// same state. Random clusters and random streams of arrivals, ends, cancellations and
// requeues, every policy and strategy, with and without backfill and balancing; after
// every step both are asked and their decisions and reservations compared line by line.
#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <string>
#include <variant>

#include "fastgpu/sched/scheduler.h"
#include "sched/sched_builders.h"
#include "sched/scheduler_state.h"

namespace fastgpu::sched {
namespace {

using testing::describe;
using testing::kGiB;

// Applies one random change; the scheduler refuses what it must refuse (never crashes).
// some_without_oracle: a third of the jobs come without their true duration (sjf's oracle
// mode orders those by the learned run time).
void random_change(testing::MixedStream& stream, Scheduler& scheduler, double now,
                   bool some_without_oracle) {
  const Snapshot state = scheduler.snapshot();
  const int what = stream.pick(0, 9);
  if (what <= 4 || state.running.empty()) {
    for (int n = stream.pick(1, 4); n > 0; --n) {
      Job job = stream.job(now);
      if (some_without_oracle && job.id.value() % 3 == 0) job.oracle_duration_s.reset();
      // Dependencies on unknown ids are refused; that is part of what is tested.
      (void)scheduler.enqueue(std::move(job));
    }
    return;
  }
  const RunningJob& running = state.running[static_cast<std::size_t>(
      stream.pick(0, static_cast<int>(state.running.size()) - 1))];
  if (what <= 7) {
    const EndState end = stream.pick(0, 3) == 0 ? EndState::kFailed : EndState::kSucceeded;
    ASSERT_TRUE(scheduler.finish(running.job.id, end, now).ok());
  } else if (what == 8 && !state.queue.empty()) {
    ASSERT_TRUE(scheduler.cancel(state.queue.front().id, now).ok());
  } else {
    ASSERT_TRUE(scheduler.requeue(running.job.id, now).ok());
  }
}

// The pure schedule() of the snapshot with every job keyed on its own, as the policy ranks
// the whole queue (State::plain_keys): no signature groups under sjf, and under fair no
// kept keys and no walk that brings in each user's classes as it goes.
Result<ScheduleResult> plain_keys_schedule(const Snapshot& snapshot,
                                           const SchedulerConfig& config) {
  auto state = state_from_snapshot(snapshot, config);
  if (!state.ok()) return state.status();
  (*state)->plain_keys = true;
  return schedule_held(**state, snapshot.now_s);
}

// Returns how many decisions the stream produced, so a caller can check it did something.
std::size_t run_stream(const SchedulerConfig& config, std::uint64_t seed, int steps) {
  std::size_t decisions = 0;
  testing::MixedStream stream(seed);
  auto created = Scheduler::create(config, stream.cluster());
  EXPECT_TRUE(created.ok()) << created.status().to_string();
  if (!created.ok()) return 0;
  Scheduler& scheduler = **created;
  double now = 0.0;
  for (int step = 0; step < steps; ++step) {
    now += 30.0 * stream.pick(0, 4);
    random_change(stream, scheduler, now, config.sjf_oracle);
    if (::testing::Test::HasFatalFailure()) return decisions;
    if (stream.pick(0, 4) == 0) {  // a history given whole, changed in one part or both
      const std::string signature = "sig" + std::to_string(stream.pick(0, 5));
      SignatureHistory history = scheduler.snapshot().history[signature];
      const int changed = stream.pick(0, 2);  // 0: the peaks, 1: the run times, 2: both
      if (changed != 1) history.peak_bytes = {static_cast<Bytes>(stream.pick(1, 20)) * kGiB};
      if (changed != 0) history.run_seconds = {60.0 * stream.pick(1, 20)};
      scheduler.set_history(signature, history);
    }
    if (stream.pick(0, 2) == 0) {  // one more run, as the simulator and the engine add them
      const int measured = stream.pick(0, 2);  // 0: a peak, 1: a run time, 2: both
      std::optional<Bytes> peak;
      std::optional<double> ran;
      if (measured != 1) peak = static_cast<Bytes>(stream.pick(1, 20)) * kGiB;
      if (measured != 0) ran = 60.0 * stream.pick(1, 20);
      scheduler.add_run("sig" + std::to_string(stream.pick(0, 5)), peak, ran);
    }
    Snapshot snapshot = scheduler.snapshot();
    snapshot.now_s = now;
    auto pure = schedule(snapshot, config);
    auto plain = plain_keys_schedule(snapshot, config);
    auto kept = scheduler.schedule(now);
    EXPECT_EQ(pure.ok(), kept.ok()) << "seed " << seed << " step " << step;
    if (!pure.ok() || !kept.ok() || !plain.ok()) continue;
    EXPECT_EQ(describe(*pure), describe(*kept))
        << config.policy << "/" << config.strategy << " seed " << seed << " step " << step;
    EXPECT_EQ(describe(*plain), describe(*kept))
        << config.policy << "/" << config.strategy << " seed " << seed << " step " << step
        << ": against every job keyed on its own";
    if (describe(*pure) != describe(*kept) || describe(*plain) != describe(*kept)) {
      return decisions;
    }
    decisions += kept->decisions.size();
  }
  return decisions;
}

class IncrementalEquivalence : public ::testing::TestWithParam<std::string> {};

TEST_P(IncrementalEquivalence, DecidesAsThePureSchedulerOnEveryStep) {
  for (const char* strategy : {"pack", "spread"}) {
    for (bool backfill : {false, true}) {
      // "sjf-oracle": sjf ordering by the jobs' true durations, as the simulator runs it.
      const bool oracle = GetParam() == "sjf-oracle";
      SchedulerConfig config =
          testing::mixed_stream_config(oracle ? "sjf" : GetParam(), strategy, backfill);
      config.sjf_oracle = oracle;
      std::size_t decisions = 0;
      for (std::uint64_t seed = 1; seed <= 6; ++seed) {
        decisions += run_stream(config, seed * 7919 + (backfill ? 1 : 0), 60);
        if (::testing::Test::HasFailure()) return;
      }
      // The streams must exercise the scheduler, not compare empty answers.
      EXPECT_GT(decisions, 100u) << config.policy << "/" << strategy;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(EveryPolicy, IncrementalEquivalence,
                         ::testing::Values("fifo", "priority", "sjf", "sjf-oracle", "srtf", "edf",
                                           "las", "fair"));

TEST(IncrementalScheduler, StartedJobsRunAndTheirEndFreesTheGpu) {
  auto created = Scheduler::create(SchedulerConfig{}, testing::make_node("n0", 1));
  ASSERT_TRUE(created.ok());
  Scheduler& scheduler = **created;
  ASSERT_TRUE(scheduler.enqueue(testing::make_job(1)).ok());
  ASSERT_TRUE(scheduler.enqueue(testing::make_job(2)).ok());
  auto first = scheduler.schedule(0.0);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(testing::started_ids(*first), (std::vector<std::uint64_t>{1}));
  EXPECT_EQ(scheduler.running(), 1u);
  EXPECT_EQ(scheduler.queued(), 1u);
  EXPECT_TRUE(testing::started_ids(*scheduler.schedule(1.0)).empty());
  ASSERT_TRUE(scheduler.finish(JobId{1}, EndState::kSucceeded, 2.0).ok());
  EXPECT_EQ(testing::started_ids(*scheduler.schedule(2.0)), (std::vector<std::uint64_t>{2}));
}

// A run changes a waiting job's place only through what its signature's history teaches:
// the median run time (sjf's key) and the "auto" bytes. A run that leaves both where they
// were ranks nothing again (a backlogged replay adds one at every completion); a median
// that moves re-keys only that signature's request classes under sjf (its jobs share the
// key) and nothing elsewhere (fifo, and sjf's oracle mode, do not read it); "auto" bytes
// that move rank the queue again.
TEST(IncrementalScheduler, ARunThatTeachesNothingNewRanksNothingAgain) {
  for (const char* policy : {"sjf", "fifo", "sjf-oracle"}) {
    SCOPED_TRACE(policy);
    const bool oracle = std::string(policy) == "sjf-oracle";
    SchedulerConfig config;
    config.policy = oracle ? "sjf" : policy;
    config.sjf_oracle = oracle;
    auto created = Scheduler::create(config, testing::make_node("n0", 1));
    ASSERT_TRUE(created.ok());
    Scheduler& scheduler = **created;
    scheduler.set_history("train", SignatureHistory{{8 * kGiB}, {10.0, 20.0, 30.0}});
    for (std::uint64_t id = 1; id <= 4; ++id) {
      Job job = testing::make_job(id);
      job.signature = "train";
      job.gpu_mem.reset();  // "auto": 8 GiB and the margin
      job.oracle_duration_s = 100.0 * static_cast<double>(id);
      ASSERT_TRUE(scheduler.enqueue(job).ok());
    }
    auto first = scheduler.schedule(0.0);
    ASSERT_TRUE(first.ok());
    ASSERT_EQ(testing::started_ids(*first).size(), 1u);  // one holds the GPU, three wait
    const std::uint64_t ranked = scheduler.state().orders_rebuilt;

    scheduler.add_run("train", 8 * kGiB, 20.0);  // median 20 s, peaks' estimate the same
    scheduler.add_run("train", std::nullopt, 40.0);
    scheduler.add_run("elsewhere", 60 * kGiB, 5.0);                         // no job of it waits
    scheduler.set_history("train", scheduler.snapshot().history["train"]);  // the same
    ASSERT_TRUE(scheduler.schedule(1.0).ok());
    EXPECT_EQ(scheduler.state().orders_rebuilt, ranked);

    scheduler.add_run("train", std::nullopt, 50.0);  // median 20 -> 25 s
    ASSERT_TRUE(scheduler.schedule(2.0).ok());
    EXPECT_EQ(scheduler.state().orders_rebuilt, ranked);

    scheduler.add_run("train", 16 * kGiB, std::nullopt);  // the peaks' estimate moves
    ASSERT_TRUE(scheduler.schedule(3.0).ok());
    EXPECT_EQ(scheduler.state().orders_rebuilt, ranked + 1);
  }
}

// On a GPU that runs one job at a time: the kept scheduler starts one job at `now`, as the
// pure one does on its snapshot, and the job ends 10 s later (now moves on). Its id, or 0.
std::uint64_t start_the_next_one(Scheduler& scheduler, const SchedulerConfig& config, double& now) {
  Snapshot snapshot = scheduler.snapshot();
  snapshot.now_s = now;
  auto pure = schedule(snapshot, config);
  auto kept = scheduler.schedule(now);
  EXPECT_TRUE(pure.ok() && kept.ok());
  if (!pure.ok() || !kept.ok()) return 0;
  EXPECT_EQ(describe(*pure), describe(*kept));
  const std::vector<std::uint64_t> started = testing::started_ids(*kept);
  EXPECT_EQ(started.size(), 1u) << describe(*kept);
  if (started.size() != 1) return 0;
  now += 10.0;
  EXPECT_TRUE(scheduler.finish(JobId{started[0]}, EndState::kSucceeded, now).ok());
  return started[0];
}

// A signature's first median moves its waiting jobs into its group (one key for them all)
// without ranking the queue again, and they start in the order it gives them.
TEST(IncrementalScheduler, AFirstMedianMovesItsJobsWithoutRankingTheQueueAgain) {
  SchedulerConfig config;
  config.policy = "sjf";
  auto created = Scheduler::create(config, testing::make_node("n0", 1));
  ASSERT_TRUE(created.ok());
  Scheduler& scheduler = **created;
  scheduler.set_history("slow", SignatureHistory{{}, {100.0}});
  for (std::uint64_t id = 1; id <= 4; ++id) {
    Job job = testing::make_job(id, 1, 70 * kGiB);  // one at a time on the GPU
    job.signature = id == 1 || id == 4 ? "slow" : "new";
    ASSERT_TRUE(scheduler.enqueue(job).ok());
  }
  double now = 0.0;
  auto next = [&] { return start_the_next_one(scheduler, config, now); };
  EXPECT_EQ(next(), 1u);  // slow (100 s) before the new signature's jobs (no estimate)
  const std::uint64_t ranked = scheduler.state().orders_rebuilt;
  scheduler.add_run("new", std::nullopt, 10.0);  // its first median: 10 s
  EXPECT_EQ(next(), 2u);
  EXPECT_EQ(scheduler.state().orders_rebuilt, ranked);
  EXPECT_EQ(next(), 3u);
  EXPECT_EQ(next(), 4u);
}

// Under sjf the jobs of one signature share its median as their key, kept once for them
// all: when it moves, they move past the other signatures' jobs as one, whether it moves
// while they wait or while none of them does.
TEST(IncrementalScheduler, SjfJobsMoveWithTheirSignaturesMedian) {
  SchedulerConfig config;
  config.policy = "sjf";
  auto created = Scheduler::create(config, testing::make_node("n0", 1));
  ASSERT_TRUE(created.ok());
  Scheduler& scheduler = **created;
  scheduler.set_history("quick", SignatureHistory{{}, {10.0}});
  scheduler.set_history("slow", SignatureHistory{{}, {100.0}});
  ASSERT_TRUE(scheduler.enqueue(testing::make_job(1, 1, 70 * kGiB)).ok());  // no history
  for (std::uint64_t id = 2; id <= 7; ++id) {
    Job job = testing::make_job(id, 1, 70 * kGiB);  // one at a time on the GPU
    job.signature = id % 2 == 0 ? "slow" : "quick";
    ASSERT_TRUE(scheduler.enqueue(job).ok());
  }
  std::vector<std::uint64_t> order;
  double now = 0.0;
  auto next = [&] { return start_the_next_one(scheduler, config, now); };
  EXPECT_EQ(next(), 3u);  // quick (10 s) before slow (100 s) before job 1 (no estimate)
  scheduler.add_run("quick", std::nullopt, 1000.0);  // quick's median: 505 s
  scheduler.add_run("quick", std::nullopt, 1000.0);  // 1000 s
  EXPECT_EQ(next(), 2u);
  EXPECT_EQ(next(), 4u);
  scheduler.add_run("slow", std::nullopt, 5000.0);
  scheduler.add_run("slow", std::nullopt, 5000.0);  // slow's median: 5000 s
  EXPECT_EQ(next(), 5u);
  // Its last job gone, slow's median moves while none of its jobs waits; a new one of it
  // arrives with the median it has then.
  EXPECT_EQ(next(), 7u);
  EXPECT_EQ(next(), 6u);
  scheduler.add_run("slow", std::nullopt, 1.0);
  scheduler.add_run("slow", std::nullopt, 1.0);
  scheduler.add_run("slow", std::nullopt, 1.0);  // 1, 1, 1, 100, 5000, 5000: 50.5 s
  Job late = testing::make_job(8, 1, 70 * kGiB);
  late.signature = "slow";
  ASSERT_TRUE(scheduler.enqueue(late).ok());
  Job quick = testing::make_job(9, 1, 70 * kGiB);
  quick.signature = "quick";
  ASSERT_TRUE(scheduler.enqueue(quick).ok());
  EXPECT_EQ(next(), 8u);  // 50.5 s before quick's 1000 s
  EXPECT_EQ(next(), 9u);
  EXPECT_EQ(next(), 1u);
}

TEST(IncrementalScheduler, RefusesBadChangesAndKeepsItsState) {
  auto created = Scheduler::create(SchedulerConfig{}, testing::make_node("n0", 2));
  ASSERT_TRUE(created.ok());
  Scheduler& scheduler = **created;
  ASSERT_TRUE(scheduler.enqueue(testing::make_job(1)).ok());

  const Status duplicate = scheduler.enqueue(testing::make_job(1));
  EXPECT_NE(duplicate.message().find("job id 1 is already known"), std::string::npos);
  Job orphan = testing::make_job(2);
  orphan.dependencies.push_back({JobId{99}, DependencyKind::kAfterOk});
  EXPECT_NE(scheduler.enqueue(orphan).message().find("depends on job 99"), std::string::npos);
  EXPECT_NE(scheduler.enqueue(testing::make_job(3, 4)).message().find("at most 2"),
            std::string::npos);
  EXPECT_EQ(scheduler.finish(JobId{1}, EndState::kSucceeded, 0).code(), ErrorCode::kNotFound);
  EXPECT_EQ(scheduler.requeue(JobId{7}, 0).code(), ErrorCode::kNotFound);
  EXPECT_EQ(scheduler.cancel(JobId{7}, 0).code(), ErrorCode::kNotFound);
  GpuState stranger = testing::make_gpu(5, "elsewhere");
  EXPECT_EQ(scheduler.update_gpu(stranger).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(scheduler.queued(), 1u);
  EXPECT_EQ(testing::started_ids(*scheduler.schedule(0.0)), (std::vector<std::uint64_t>{1}));
}

TEST(IncrementalScheduler, ForeignMemoryReportedLaterShrinksWhatFits) {
  auto created = Scheduler::create(SchedulerConfig{}, testing::make_node("n0", 1));
  ASSERT_TRUE(created.ok());
  Scheduler& scheduler = **created;
  GpuState busy = testing::make_gpu(0);
  busy.foreign_bytes = 75 * kGiB;  // another user's process holds most of the GPU
  ASSERT_TRUE(scheduler.update_gpu(busy).ok());
  ASSERT_TRUE(scheduler.enqueue(testing::make_job(1, 1, 10 * kGiB, 0.5)).ok());
  EXPECT_TRUE(testing::started_ids(*scheduler.schedule(0.0)).empty());
  busy.foreign_bytes = 0;
  ASSERT_TRUE(scheduler.update_gpu(busy).ok());
  EXPECT_EQ(testing::started_ids(*scheduler.schedule(1.0)), (std::vector<std::uint64_t>{1}));
}

// A job without a memory declaration or history takes each GPU's whole usable memory
// while it is placed, and then runs holding its Start's bytes_per_gpu on every GPU: the
// smallest of them. On a gang over GPUs of unequal free memory the kept ledger must hold
// that too, as the pure scheduler's ledger built from the snapshot does: a small job fits
// beside it on the larger GPU, and its end frees exactly what it held.
TEST(IncrementalScheduler, AWholeMemoryGangHoldsWhatItsStartSays) {
  SchedulerConfig config;  // fifo, pack
  std::vector<GpuState> gpus = testing::make_node("n0", 2, 0, 80 * kGiB);
  gpus[0].foreign_bytes = 16 * kGiB;
  auto created = Scheduler::create(config, gpus);
  ASSERT_TRUE(created.ok());
  Scheduler& scheduler = **created;
  Job whole = testing::make_job(1, 2, 0, 0.5);
  whole.gpu_mem.reset();
  ASSERT_TRUE(scheduler.enqueue(whole).ok());
  auto first = scheduler.schedule(0.0);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(testing::starts(*first).size(), 1u) << describe(*first);
  EXPECT_EQ(testing::starts(*first)[0].bytes_per_gpu, 64 * kGiB);

  ASSERT_TRUE(scheduler.enqueue(testing::make_job(2, 1, 10 * kGiB, 0.3)).ok());
  Snapshot snapshot = scheduler.snapshot();
  snapshot.now_s = 10.0;
  auto pure = schedule(snapshot, config);
  auto kept = scheduler.schedule(10.0);
  ASSERT_TRUE(pure.ok() && kept.ok());
  EXPECT_EQ(testing::started_ids(*kept), std::vector<std::uint64_t>{2}) << describe(*kept);
  EXPECT_EQ(describe(*pure), describe(*kept));

  // Its end frees what it held: a job asking for the rest of GPU 1 fits again.
  ASSERT_TRUE(scheduler.finish(JobId{1}, EndState::kSucceeded, 20.0).ok());
  ASSERT_TRUE(scheduler.enqueue(testing::make_job(3, 1, 70 * kGiB, 0.5)).ok());
  snapshot = scheduler.snapshot();
  snapshot.now_s = 20.0;
  pure = schedule(snapshot, config);
  kept = scheduler.schedule(20.0);
  ASSERT_TRUE(pure.ok() && kept.ok());
  EXPECT_EQ(testing::started_ids(*kept), std::vector<std::uint64_t>{3}) << describe(*kept);
  EXPECT_EQ(describe(*pure), describe(*kept));
}

}  // namespace
}  // namespace fastgpu::sched
