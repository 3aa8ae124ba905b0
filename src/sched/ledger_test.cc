#include "fastgpu/sched/ledger.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>

#include "sched/sched_builders.h"

namespace fastgpu::sched {
namespace {

using testing::kGiB;
using testing::make_gpu;
using testing::make_job;
using testing::make_running;

Demand demand(Bytes bytes, double share, int gpus = 1) {
  Demand d;
  d.gpus = gpus;
  d.bytes = bytes;
  d.share = share;
  d.load = share;
  return d;
}

// The ledger's share units must round as std::llround does: a kept scheduler and one
// built afresh sum the same units, and the golden traces were made with llround.
TEST(Ledger, ShareUnitsRoundAsLlroundDoes) {
  const double unit = 1.0 / static_cast<double>(kUnitsPerShare);
  std::vector<double> values = {0.0,        -0.0,       0.5 * unit,  -0.5 * unit,
                                1.5 * unit, 2.5 * unit, -2.5 * unit, 0.49999999999999994 * unit,
                                0.25,       1.0 / 3.0,  0.1 * 0.7,   1.0,
                                4.0e6,      -4.0e6,     9.0e9,       1.0e300};
  std::mt19937_64 random(7);
  std::uniform_real_distribution<double> share(-2.0, 2.0);
  std::uniform_int_distribution<std::int64_t> units(-4'000'000'000, 4'000'000'000);
  for (int i = 0; i < 100'000; ++i) {
    values.push_back(share(random));
    // Exact halves and their neighbours, where rounding differs if done wrong.
    const double half = (static_cast<double>(units(random)) + 0.5) * unit;
    values.push_back(half);
    values.push_back(std::nextafter(half, 0.0));
    values.push_back(std::nextafter(half, 10.0));
  }
  for (double value : values) {
    ASSERT_EQ(to_units(value), std::llround(value * static_cast<double>(kUnitsPerShare)))
        << "value " << value;
  }
}

TEST(Ledger, CountsReservedAndForeignMemoryAgainstTotal) {
  Snapshot snapshot;
  GpuState gpu = make_gpu(0, "n0", 80 * kGiB);
  gpu.reserved_bytes = 1 * kGiB;
  gpu.foreign_bytes = 9 * kGiB;
  snapshot.gpus = {gpu};
  const Ledger ledger(snapshot);
  EXPECT_EQ(ledger.slot(0).usable_bytes, 70 * kGiB);
  EXPECT_TRUE(ledger.fits(0, demand(70 * kGiB, 0.5)));
  EXPECT_FALSE(ledger.fits(0, demand(70 * kGiB + 1, 0.5)));
}

TEST(Ledger, RunningJobsFillMemoryAndShare) {
  Snapshot snapshot;
  snapshot.gpus = {make_gpu(0)};
  snapshot.running = {make_running(make_job(1, 1, 30 * kGiB, 0.5), {0})};
  const Ledger ledger(snapshot);
  EXPECT_EQ(ledger.slot(0).declared_bytes, 30 * kGiB);
  EXPECT_DOUBLE_EQ(ledger.slot(0).share, 0.5);
  EXPECT_TRUE(ledger.fits(0, demand(50 * kGiB, 0.5)));
  EXPECT_FALSE(ledger.fits(0, demand(50 * kGiB + 1, 0.5)));  // memory
  EXPECT_FALSE(ledger.fits(0, demand(1 * kGiB, 0.6)));       // compute
}

TEST(Ledger, ShareIsScaledByTheGpuUtilizationCap) {
  // R_i = sum u_j * r_i: with r = 0.5, shares 0.8 + 0.8 + 0.4 add up to exactly 1.
  Snapshot snapshot;
  GpuState gpu = make_gpu(0);
  gpu.util_cap = 0.5;
  snapshot.gpus = {gpu};
  Ledger ledger(snapshot);
  ledger.commit({0}, demand(kGiB, 0.8));
  ledger.commit({0}, demand(kGiB, 0.8));
  EXPECT_DOUBLE_EQ(ledger.slot(0).share, 0.8);
  EXPECT_TRUE(ledger.fits(0, demand(kGiB, 0.4)));
  EXPECT_FALSE(ledger.fits(0, demand(kGiB, 0.5)));
}

TEST(Ledger, ExclusiveJobsNeverShare) {
  Snapshot snapshot;
  snapshot.gpus = {make_gpu(0), make_gpu(1)};
  Ledger ledger(snapshot);
  ledger.commit({0}, demand(kGiB, 1.0));
  EXPECT_FALSE(ledger.fits(0, demand(kGiB, 0.1)));
  ledger.commit({1}, demand(kGiB, 0.1));
  EXPECT_FALSE(ledger.fits(1, demand(kGiB, 1.0)));
}

TEST(Ledger, UnhealthyGpuFitsNothing) {
  Snapshot snapshot;
  GpuState gpu = make_gpu(0);
  gpu.healthy = false;
  snapshot.gpus = {gpu};
  const Ledger ledger(snapshot);
  EXPECT_FALSE(ledger.fits(0, demand(kGiB, 0.1)));
  EXPECT_FALSE(ledger.any_capacity());
}

TEST(Ledger, ReleaseUndoesCommit) {
  Snapshot snapshot;
  snapshot.gpus = {make_gpu(0)};
  Ledger ledger(snapshot);
  ledger.commit({0}, demand(10 * kGiB, 0.3));
  ledger.release({0}, demand(10 * kGiB, 0.3), 10 * kGiB);
  EXPECT_EQ(ledger.slot(0).declared_bytes, 0u);
  EXPECT_EQ(ledger.slot(0).jobs, 0);
  EXPECT_TRUE(ledger.fits(0, demand(80 * kGiB, 1.0)));
}

TEST(Ledger, IndexesTrackEmptyGpusPerNode) {
  Snapshot snapshot;
  snapshot.gpus = {make_gpu(0, "a"), make_gpu(1, "a"), make_gpu(2, "b")};
  Ledger ledger(snapshot);
  EXPECT_EQ(ledger.empty_count(0), 2);
  ledger.commit({0}, demand(kGiB, 0.5));
  EXPECT_EQ(ledger.empty_count(0), 1);
  ASSERT_EQ(ledger.partial_by_free_share().size(), 1u);
  EXPECT_EQ(ledger.partial_by_free_share().begin()->second, 0);
}

TEST(Ledger, WholeMemoryDemandTakesAllUsableBytes) {
  Snapshot snapshot;
  snapshot.gpus = {make_gpu(0, "n0", 40 * kGiB)};
  Ledger ledger(snapshot);
  Demand whole = demand(0, 0.5);
  whole.whole_memory = true;
  ASSERT_TRUE(ledger.fits(0, whole));
  ledger.commit({0}, whole);
  EXPECT_EQ(ledger.slot(0).free_bytes(), 0u);
  EXPECT_FALSE(ledger.fits(0, demand(1, 0.1)));
}

// The indexes are kept by small updates (a node's entry moves only when its count of empty
// GPUs changes; the load order is built on first use). After any stream of commits and
// releases they must equal the indexes of a ledger built afresh from the same jobs.
TEST(Ledger, IndexesKeptByUpdatesEqualThoseBuiltAfresh) {
  std::mt19937_64 rng(5);
  auto pick = [&](int low, int high) { return std::uniform_int_distribution<int>(low, high)(rng); };
  Snapshot snapshot;
  for (int i = 0; i < 12; ++i) {
    GpuState gpu =
        make_gpu(i, "n" + std::to_string(i / 4), static_cast<Bytes>(i % 3 + 1) * 20 * kGiB);
    gpu.util_cap = i % 5 == 0 ? 0.8 : 1.0;
    gpu.healthy = i != 5;  // one drained GPU; its node still takes jobs on the others
    snapshot.gpus.push_back(gpu);
  }
  snapshot.gpus.push_back(make_gpu(12, "n3"));  // a node whose only GPU is drained
  snapshot.gpus.back().healthy = false;
  Ledger ledger(snapshot);
  std::vector<RunningJob> running;
  std::uint64_t next_id = 1;
  int commits = 0;
  int releases = 0;
  for (int step = 0; step < 400; ++step) {
    if (step == 150) (void)ledger.by_load();  // from here on the load order is kept
    if (running.empty() || pick(0, 2) != 0) {
      const int gpus = pick(1, 2);
      Job job = make_job(next_id++, gpus, static_cast<Bytes>(pick(1, 8)) * 5 * kGiB,
                         pick(0, 2) == 0 ? 1.0 : 0.1 * pick(1, 9));
      job.priority = pick(0, 3);
      const Demand wanted{gpus, *job.gpu_mem, false, job.util_share,
                          job.util_share * priority_weight(job.priority)};
      const int node = pick(0, 2);
      std::vector<int> slots;
      for (int s : ledger.node_slots(node)) {
        if (static_cast<int>(slots.size()) < gpus && ledger.fits(s, wanted)) slots.push_back(s);
      }
      if (static_cast<int>(slots.size()) < gpus) continue;
      ledger.commit(slots, wanted);
      ++commits;
      std::vector<int> indexes;
      indexes.reserve(slots.size());
      for (int s : slots) indexes.push_back(ledger.slot(s).gpu_index);
      running.push_back(make_running(job, indexes));
    } else {
      const auto at = static_cast<std::size_t>(pick(0, static_cast<int>(running.size()) - 1));
      const RunningJob& done = running[at];
      std::vector<int> slots;
      for (int gpu : done.gpus) slots.push_back(ledger.slot_of(gpu));
      const Demand held{static_cast<int>(done.gpus.size()), done.declared_bytes, false,
                        done.job.util_share,
                        done.job.util_share * priority_weight(done.job.priority)};
      ledger.release(slots, held, done.declared_bytes);
      ++releases;
      running.erase(running.begin() + static_cast<std::ptrdiff_t>(at));
    }
    Snapshot now = snapshot;
    now.running = running;
    const Ledger fresh(now);
    ASSERT_EQ(ledger.nodes_by_empty(), fresh.nodes_by_empty()) << "step " << step;
    ASSERT_EQ(ledger.partial_by_free_share(), fresh.partial_by_free_share()) << "step " << step;
    ASSERT_EQ(ledger.any_capacity(), fresh.any_capacity()) << "step " << step;
    if (step >= 150) {
      ASSERT_EQ(ledger.by_load(), fresh.by_load()) << "step " << step;
    }
  }
  // The stream must both fill and drain GPUs, or it tests nothing.
  EXPECT_GT(commits, 100);
  EXPECT_GT(releases, 50);
}

// A trial (the reservation search) releases jobs without touching the indexes except on
// the nodes synced since; once every node is synced the indexes must be those of a ledger
// built afresh without the released jobs, and after end_trial() every slot and index must
// be as before the trial, bit for bit, whichever nodes were synced and whether the load
// order was first built within the trial.
TEST(Ledger, TrialReleasesAreUndoneAndSyncedNodesIndexedExactly) {
  std::mt19937_64 rng(9);
  auto pick = [&](int low, int high) { return std::uniform_int_distribution<int>(low, high)(rng); };
  Snapshot snapshot;
  for (int i = 0; i < 16; ++i) {
    GpuState gpu =
        make_gpu(i, "n" + std::to_string(i / 4), static_cast<Bytes>(i % 3 + 1) * 20 * kGiB);
    gpu.util_cap = i % 5 == 0 ? 0.8 : 1.0;
    gpu.healthy = i != 6;
    snapshot.gpus.push_back(gpu);
  }
  std::uint64_t next_id = 1;
  int checked = 0;
  for (int round = 0; round < 60; ++round) {
    // Fill the GPUs at random.
    std::vector<RunningJob> running;
    for (int n = 0; n < 30; ++n) {
      const int gpus = pick(1, 2);
      Job job = make_job(next_id++, gpus, static_cast<Bytes>(pick(1, 6)) * 5 * kGiB,
                         pick(0, 2) == 0 ? 1.0 : 0.1 * pick(1, 9));
      const int node = pick(0, 3);
      Snapshot now = snapshot;
      now.running = running;
      const Ledger current(now);
      const Demand wanted{gpus, *job.gpu_mem, false, job.util_share, job.util_share};
      std::vector<int> indexes;
      for (int s : current.node_slots(node)) {
        if (static_cast<int>(indexes.size()) < gpus && current.fits(s, wanted)) {
          indexes.push_back(current.slot(s).gpu_index);
        }
      }
      if (static_cast<int>(indexes.size()) == gpus) running.push_back(make_running(job, indexes));
    }
    Snapshot full = snapshot;
    full.running = running;
    Ledger ledger(full);
    const bool load_before = round % 3 == 0;
    if (load_before) (void)ledger.by_load();
    const std::vector<GpuSlot> slots_before = ledger.slots();
    const auto nodes_before = ledger.nodes_by_empty();
    const auto partial_before = ledger.partial_by_free_share();

    ledger.begin_trial();
    std::vector<RunningJob> kept;
    for (const RunningJob& job : running) {
      if (pick(0, 1) == 0) {
        kept.push_back(job);
        continue;
      }
      std::vector<int> slots;
      for (int gpu : job.gpus) slots.push_back(ledger.slot_of(gpu));
      const Demand held{static_cast<int>(job.gpus.size()), job.declared_bytes, false,
                        job.job.util_share, job.job.util_share};
      ledger.trial_release(slots, held, job.declared_bytes);
      if (pick(0, 3) == 0) ledger.sync_node(pick(0, 3));
    }
    if (round % 3 == 1) (void)ledger.by_load();  // built within the trial
    const bool sync_all = round % 2 == 0;
    if (sync_all) {
      for (int node = 0; node < ledger.node_count(); ++node) ledger.sync_node(node);
      Snapshot rest = snapshot;
      rest.running = kept;
      const Ledger fresh(rest);
      ASSERT_EQ(ledger.nodes_by_empty(), fresh.nodes_by_empty()) << "round " << round;
      ASSERT_EQ(ledger.partial_by_free_share(), fresh.partial_by_free_share()) << round;
      ASSERT_EQ(ledger.any_capacity(), fresh.any_capacity()) << "round " << round;
      if (round % 3 != 2) {
        ASSERT_EQ(ledger.by_load(), fresh.by_load()) << "round " << round;
      }
      ++checked;
    }
    ledger.end_trial();
    const Ledger fresh(full);
    ASSERT_EQ(ledger.nodes_by_empty(), nodes_before) << "round " << round;
    ASSERT_EQ(ledger.nodes_by_empty(), fresh.nodes_by_empty()) << "round " << round;
    ASSERT_EQ(ledger.partial_by_free_share(), partial_before) << "round " << round;
    ASSERT_EQ(ledger.any_capacity(), fresh.any_capacity()) << "round " << round;
    if (round % 3 != 2) {
      ASSERT_EQ(ledger.by_load(), fresh.by_load()) << "round " << round;
    }
    for (std::size_t s = 0; s < slots_before.size(); ++s) {
      ASSERT_EQ(ledger.slot(static_cast<int>(s)).share_units, slots_before[s].share_units);
      ASSERT_EQ(ledger.slot(static_cast<int>(s)).declared_bytes, slots_before[s].declared_bytes);
      ASSERT_EQ(ledger.slot(static_cast<int>(s)).jobs, slots_before[s].jobs);
      ASSERT_EQ(ledger.slot(static_cast<int>(s)).load_units, slots_before[s].load_units);
    }
    // The ledger takes ordinary commits and releases again afterwards.
    if (!running.empty()) {
      const RunningJob& job = running.front();
      std::vector<int> slots;
      for (int gpu : job.gpus) slots.push_back(ledger.slot_of(gpu));
      const Demand held{static_cast<int>(job.gpus.size()), job.declared_bytes, false,
                        job.job.util_share, job.job.util_share};
      ledger.release(slots, held, job.declared_bytes);
      Snapshot rest = full;
      rest.running.erase(rest.running.begin());
      const Ledger after(rest);
      ASSERT_EQ(ledger.nodes_by_empty(), after.nodes_by_empty()) << "round " << round;
      ASSERT_EQ(ledger.partial_by_free_share(), after.partial_by_free_share()) << round;
    }
  }
  EXPECT_GE(checked, 30);
}

}  // namespace
}  // namespace fastgpu::sched
