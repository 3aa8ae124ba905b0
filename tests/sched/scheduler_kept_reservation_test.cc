// A kept Scheduler keeps its backfill reservation between calls and reuses it while the
// search would provably find it again (src/sched/kept_reservation.h): the same blocked job
// and demand, the same placer options, no node that held the demand at the reserved moment
// changed, and no changed node holds it at that moment now. The pure schedule() searches
// afresh at every call, so holding the kept scheduler to it at every step checks the rule:
// a change the logs missed (a start, a move's new GPUs, an end, a requeue, a GPU report),
// a changed node that now holds the demand earlier or where the placer would prefer it, or
// options that moved would show as a reservation (or a backfilled start) that differs.
// The streams keep a large job blocked behind a full cluster and change it in every way
// a caller can, while most calls still reuse the reservation (the test checks they do).
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>

#include "fastgpu/sched/scheduler.h"
#include "sched/sched_builders.h"
#include "sched/scheduler_state.h"

namespace fastgpu::sched {
namespace {

using testing::kGiB;

class BusyStream : public testing::RandomStream {
 public:
  using RandomStream::RandomStream;

  // Four to eight nodes of 4 or 8 GPUs, 24, 40 or 80 GiB; now and then a GPU capped at
  // r = 0.8. Enough nodes that most changes touch nodes that cannot hold the blocked job.
  std::vector<GpuState> cluster() {
    const Bytes sizes[] = {24 * kGiB, 40 * kGiB, 80 * kGiB};
    return RandomStream::cluster(
        4, 8, [this] { return pick(0, 2) == 0 ? 4 : 8; }, [&] { return sizes[pick(0, 2)]; }, 10,
        true);
  }

  // The benchmark's mix: fractional, 1-, 2-, 4- and 8-GPU jobs, most with a time limit,
  // a few without one or taking the whole memory.
  Job job(double now) {
    const int kind = pick(0, 99);
    int gpus = 1;
    double share = 1.0;
    if (kind < 40) {
      share = 0.1 * pick(1, 5);
    } else {
      gpus = kind < 70 ? 1 : kind < 85 ? 2 : kind < 95 ? 4 : 8;
    }
    Job job = testing::make_job(next_id(), gpus, static_cast<Bytes>(pick(2, 30)) * kGiB, share);
    if (pick(0, 29) == 0) job.gpu_mem.reset();  // "auto" with no history: the whole memory
    job.user = "user" + std::to_string(pick(0, 3));
    job.signature = "sig" + std::to_string(pick(0, 3));
    job.priority = pick(0, 3);
    job.submit_time_s = now;
    if (pick(0, 11) != 0) job.time_limit_s = 300.0 * pick(1, 12);
    job.restartable = pick(0, 1) == 0;
    return job;
  }
};

struct Figures {
  std::size_t reservations = 0;
  std::size_t reuses = 0;
  std::size_t proven = 0;  // classes past the reservation proven to fail, placer not asked
  std::size_t starts = 0;
};

// One change a caller may report between calls, chosen at random.
void change(Scheduler& scheduler, BusyStream& stream, std::vector<GpuState>& gpus, double now) {
  const Snapshot state = scheduler.snapshot();
  const int what = stream.pick(0, 19);
  if (what < 8 && !state.running.empty()) {  // a job ends, most before its limit
    const RunningJob& done = stream.pick_from(state.running);
    EXPECT_TRUE(scheduler.finish(done.job.id, EndState::kSucceeded, now).ok());
  } else if (what < 13) {  // arrivals, some ranked before the blocked job
    for (int n = stream.pick(1, 3); n > 0; --n) {
      EXPECT_TRUE(scheduler.enqueue(stream.job(now)).ok());
    }
  } else if (what < 15 && !state.queue.empty()) {  // a cancel, the blocked job's included
    const Job& gone = stream.pick_from(state.queue);
    EXPECT_TRUE(scheduler.cancel(gone.id, now).ok());
  } else if (what == 15 && !state.running.empty()) {
    EXPECT_TRUE(scheduler.requeue(state.running.back().job.id, now).ok());
  } else {  // a GPU report: foreign memory, health, cap, load
    GpuState& gpu = stream.pick_from(gpus);
    gpu.foreign_bytes = static_cast<Bytes>(stream.pick(0, 2) * 6) * kGiB;
    gpu.healthy = stream.pick(0, 9) != 0;
    gpu.util_cap = stream.pick(0, 4) == 0 ? 0.8 : 1.0;
    gpu.utilization = 0.25 * stream.pick(0, 4);
    EXPECT_TRUE(scheduler.update_gpu(gpu).ok());
  }
}

Figures run_stream(const SchedulerConfig& config, std::uint64_t seed, int steps) {
  Figures figures;
  BusyStream stream(seed);
  std::vector<GpuState> gpus = stream.cluster();
  const auto scheduler = testing::kept_scheduler(config, gpus);
  if (!scheduler) return figures;
  for (int n = 0; n < 150; ++n) EXPECT_TRUE(scheduler->enqueue(stream.job(0.0)).ok());
  testing::run_kept_calls(*scheduler, config, schedule, testing::stream_name(config), seed, steps,
                          [&](const ScheduleResult& kept, double& now) {
                            if (kept.reservation) ++figures.reservations;
                            figures.starts += testing::starts(kept).size();
                            // Time moves on at most calls; several changes may come
                            // between two calls.
                            if (stream.pick(0, 2) != 0) now += 30.0 * stream.pick(1, 10);
                            for (int n = stream.pick(1, 3); n > 0; --n) {
                              change(*scheduler, stream, gpus, now);
                            }
                          });
  figures.reuses = scheduler->state().reservation_reuses;
  figures.proven = scheduler->state().placements_proven;
  return figures;
}

class KeptReservation : public ::testing::TestWithParam<std::string> {};

TEST_P(KeptReservation, ReusedReservationsDecideAsThePureSchedulerOnEveryStep) {
  for (const char* strategy : {"pack", "spread"}) {
    for (const bool balance : {false, true}) {
      SchedulerConfig config;
      config.policy = GetParam();
      config.strategy = strategy;
      config.balance = balance;
      config.min_run_before_preempt_s = 60.0;
      Figures total;
      for (std::uint64_t seed = 1; seed <= 2; ++seed) {
        const Figures figures = run_stream(config, seed * 104729, 80);
        if (::testing::Test::HasFailure()) return;
        total.reservations += figures.reservations;
        total.reuses += figures.reuses;
        total.starts += figures.starts;
      }
      // The streams must block jobs behind reservations and reuse many of them, and must
      // search afresh often too, or they test nothing.
      const std::string name = config.policy + "/" + strategy + (balance ? "/balance" : "");
      EXPECT_GT(total.reservations, 100u) << name;
      EXPECT_GT(total.reuses, 20u) << name;
      EXPECT_LT(total.reuses, total.reservations) << name;
      EXPECT_GT(total.starts, 100u) << name;
    }
  }
}

// Past the reservation, a class whose recorded failure proves it fails on any GPU is not
// tried off the reserved GPUs, and its short job does not join the walk (Round::
// fails_everywhere). The pure call has no records from earlier calls, so it asks the
// placer for each such class and each short job: a proof that held where a GPU had room,
// or a class skipped whose short job could use a reserved GPU, would start fewer jobs in
// the kept scheduler than in the pure one.
TEST_P(KeptReservation, ClassesProvenToFailDecideAsThePureSchedulerOnEveryStep) {
  for (const char* strategy : {"pack", "spread"}) {
    SchedulerConfig config;
    config.policy = GetParam();
    config.strategy = strategy;
    config.min_run_before_preempt_s = 60.0;
    Figures total;
    for (std::uint64_t seed = 11; seed <= 14; ++seed) {
      const Figures figures = run_stream(config, seed * 7907, 70);
      if (::testing::Test::HasFailure()) return;
      total.proven += figures.proven;
      total.starts += figures.starts;
    }
    // Under fair too: its classes (one user's jobs each) and their records are kept.
    EXPECT_GT(total.proven, 500u) << config.policy << "/" << strategy;
    EXPECT_GT(total.starts, 150u) << config.policy << "/" << strategy;
  }
}

INSTANTIATE_TEST_SUITE_P(EveryPolicy, KeptReservation,
                         ::testing::Values("fifo", "priority", "sjf", "srtf", "edf", "las",
                                           "fair"));

Job limited(std::uint64_t id, int gpus, double limit_s, int priority = 0) {
  Job job = testing::make_job(id, gpus);
  job.time_limit_s = limit_s;
  job.priority = priority;
  return job;
}

// Two nodes of two 80 GiB GPUs (n1: 0 and 1, n2: 2 and 3) under `priority`, with a blocked
// job that needs both GPUs of one of them: the setting of the cases below.
Snapshot two_busy_nodes() {
  Snapshot snapshot;
  snapshot.gpus = testing::make_node("n1", 2);
  for (GpuState& gpu : testing::make_node("n2", 2, 2)) snapshot.gpus.push_back(gpu);
  return snapshot;
}

SchedulerConfig by_priority() {
  SchedulerConfig config;
  config.policy = "priority";
  return config;
}

// A kept scheduler on `snapshot` whose first call reserves for the blocked job at
// `start_s`; nullptr (and a failure) otherwise.
std::unique_ptr<Scheduler> reserving_at(const Snapshot& snapshot, double start_s) {
  auto created = Scheduler::from_snapshot(snapshot, by_priority());
  EXPECT_TRUE(created.ok()) << created.status().to_string();
  if (!created.ok()) return nullptr;
  auto first = (*created)->schedule(0.0);
  EXPECT_TRUE(first.ok()) << first.status().to_string();
  if (!first.ok()) return nullptr;
  EXPECT_TRUE(first->reservation) << testing::describe(*first);
  if (!first->reservation) return nullptr;
  EXPECT_EQ(first->reservation->start_s, start_s);
  return std::move(*created);
}

// At now_s, the pure call on the kept scheduler's snapshot reserves at `start_s`, and the
// kept scheduler decides as it does.
void expect_kept_reserves_as_pure(Scheduler& scheduler, double now_s, double start_s,
                                  const std::string& what) {
  Snapshot now = scheduler.snapshot();
  now.now_s = now_s;
  const auto pure = schedule(now, by_priority());
  ASSERT_TRUE(pure.ok() && pure->reservation);
  EXPECT_EQ(pure->reservation->start_s, start_s);
  testing::kept_matches(pure, scheduler.schedule(now_s), what);
}

// A job started in the call, ahead of the blocked one, on a changed node: it ends before
// the kept moment, and once it has, that node holds the blocked job earlier. The check
// must release it with the running jobs.
TEST(KeptReservationCheck, AJobStartedInTheCallIsReleasedAtItsEnd) {
  Snapshot snapshot = two_busy_nodes();
  // A small free GPU: with no GPU free at all, a call reserves nothing.
  snapshot.gpus.push_back(testing::make_gpu(4, "n3", 24 * kGiB));
  Job unlimited = testing::make_job(3);
  snapshot.running = {testing::make_running(limited(1, 1, 1000.0), {0}),
                      testing::make_running(limited(2, 1, 500.0), {1}),
                      testing::make_running(unlimited, {2}),
                      testing::make_running(limited(4, 1, 200.0), {3})};
  snapshot.queue = {testing::make_job(5, 2)};  // blocked: both GPUs of one node
  const std::unique_ptr<Scheduler> scheduler = reserving_at(snapshot, 1000.0);  // on n1
  ASSERT_NE(scheduler, nullptr);
  // Job 3 ends; job 6, ranked first, starts on its GPU and ends at 150, before job 4.
  // Only n2 changed, and it did not hold the blocked job at 1000 (job 3 had no limit).
  ASSERT_TRUE(scheduler->finish(JobId{3}, EndState::kSucceeded, 100.0).ok());
  Job ahead = limited(6, 1, 50.0, 3);
  ahead.gpu_mem = 30 * kGiB;  // not on n3
  ASSERT_TRUE(scheduler->enqueue(ahead).ok());
  // On n2, once jobs 6 and 4 ended.
  expect_kept_reserves_as_pure(*scheduler, 100.0, 200.0, "after job 6 started");
}

// A running job on GPUs of two nodes, ending before the kept moment, on a node that changed
// since: once it has ended (counted in the check with the node's own jobs), that node holds
// the blocked job earlier. The state lists such jobs apart from each node's (ends_across).
TEST(KeptReservationCheck, AJobAcrossNodesEndingFirstIsReleased) {
  Snapshot snapshot = two_busy_nodes();
  // Two small GPUs: one under the job across nodes, one free (with no GPU free at all, a
  // call reserves nothing).
  for (GpuState& gpu : testing::make_node("n3", 2, 4, 24 * kGiB)) snapshot.gpus.push_back(gpu);
  snapshot.running = {testing::make_running(limited(1, 1, 1000.0), {0}),
                      testing::make_running(limited(2, 1, 500.0), {1}),
                      testing::make_running(testing::make_job(3), {2}),      // no limit
                      testing::make_running(limited(4, 2, 200.0), {3, 4})};  // n2 and n3
  snapshot.queue = {testing::make_job(5, 2, 30 * kGiB)};  // both GPUs of n1 or n2, not n3
  // On n1: job 3 has no limit.
  const std::unique_ptr<Scheduler> scheduler = reserving_at(snapshot, 1000.0);
  ASSERT_NE(scheduler, nullptr);
  // Job 3 ends: only n2 changed, and it did not hold the blocked job at 1000 then.
  ASSERT_TRUE(scheduler->finish(JobId{3}, EndState::kSucceeded, 100.0).ok());
  // On n2, once job 4 ended.
  expect_kept_reserves_as_pure(*scheduler, 100.0, 200.0, "after job 3 ended");
}

// Pack weighs a fractional job's leftovers against the queue's smallest share: the same
// GPUs, free at the same moment, are chosen otherwise once that share changes, and a
// cancel changes it without touching any GPU.
TEST(KeptReservationCheck, ThePlacersOptionsMustBeTheSame) {
  SchedulerConfig config;
  config.policy = "fifo";
  config.strategy = "pack";
  Snapshot snapshot;
  snapshot.gpus = testing::make_node("n1", 2);
  Job gang = testing::make_job(3, 2, 10 * kGiB, 0.4);
  gang.time_limit_s = 100.0;
  snapshot.running = {testing::make_running(testing::make_job(1, 1, 10 * kGiB, 0.2), {0}),
                      testing::make_running(testing::make_job(2, 1, 10 * kGiB, 0.3), {1}),
                      testing::make_running(gang, {0, 1})};
  // Job 10 waits for the gang's end (then 0.3 of GPU 0 or 0.2 of GPU 1 is left); jobs 11
  // and 12 fit nowhere before it, and set the smallest share to 0.1, then to 0.25.
  Job blocked = testing::make_job(10, 1, 10 * kGiB, 0.5);
  blocked.submit_time_s = 0.0;
  Job smallest = testing::make_job(11, 1, 70 * kGiB, 0.1);
  smallest.submit_time_s = 1.0;
  Job next = testing::make_job(12, 1, 70 * kGiB, 0.25);
  next.submit_time_s = 2.0;
  snapshot.queue = {blocked, smallest, next};
  auto created = Scheduler::from_snapshot(snapshot, config);
  ASSERT_TRUE(created.ok()) << created.status().to_string();
  Scheduler& scheduler = **created;
  auto first = scheduler.schedule(0.0);
  ASSERT_TRUE(first.ok() && first->reservation);
  ASSERT_TRUE(scheduler.cancel(JobId{11}, 10.0).ok());
  Snapshot now = scheduler.snapshot();
  now.now_s = 10.0;
  const auto pure = schedule(now, config);
  ASSERT_TRUE(pure.ok() && pure->reservation);
  EXPECT_NE(pure->reservation->gpus, first->reservation->gpus);  // the case is what it says
  testing::kept_matches(pure, scheduler.schedule(10.0), "after the cancel");
}

}  // namespace
}  // namespace fastgpu::sched
