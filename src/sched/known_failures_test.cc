// NodeRooms' open slots answer as the ledger does: a slot fits a demand by its OpenSlot
// exactly when Ledger::fits says so, a slot left out fits nothing, and after a commit or a
// release (the node's stamp moves) the node's slots are read again.
#include "sched/known_failures.h"

#include <gtest/gtest.h>

#include <vector>

#include "sched/sched_builders.h"

namespace fastgpu::sched {
namespace {

using testing::kGiB;

Demand random_demand(testing::RandomStream& stream) {
  Demand demand;
  demand.gpus = stream.pick(1, 2);
  demand.share = 0.1 * stream.pick(1, 10);
  demand.whole_memory = stream.pick(0, 7) == 0;
  demand.bytes = static_cast<Bytes>(stream.pick(1, 30)) * kGiB;
  return demand;
}

// Two nodes of four GPUs, some capped, some unhealthy, some with foreign memory, and
// jobs of random shares and sizes on them (exclusive ones too).
Snapshot random_cluster(testing::RandomStream& stream) {
  Snapshot snapshot;
  snapshot.gpus = stream.cluster(
      2, 2, [] { return 4; }, [&] { return static_cast<Bytes>(stream.pick(1, 2)) * 40 * kGiB; }, 3,
      false);
  for (GpuState& gpu : snapshot.gpus) {
    gpu.healthy = stream.pick(0, 9) != 0;
    gpu.foreign_bytes = static_cast<Bytes>(stream.pick(0, 1) * 10) * kGiB;
  }
  std::uint64_t id = 1;
  for (const GpuState& gpu : snapshot.gpus) {
    for (int n = stream.pick(0, 2); n > 0; --n) {
      const double share = stream.pick(0, 5) == 0 ? 1.0 : 0.1 * stream.pick(1, 4);
      Job job = testing::make_job(id++, 1, static_cast<Bytes>(stream.pick(1, 12)) * kGiB, share);
      snapshot.running.push_back(testing::make_running(job, {gpu.index}));
      if (share >= 1.0) break;
    }
  }
  return snapshot;
}

void expect_open_slots_fit_as_the_ledger(const Ledger& ledger, NodeRooms& rooms,
                                         const Demand& demand, std::uint64_t seed) {
  for (int node = 0; node < ledger.node_count(); ++node) {
    std::vector<char> listed(ledger.slots().size(), 0);
    for (const OpenSlot& open : rooms.open_slots(ledger, node)) {
      listed[static_cast<std::size_t>(open.slot)] = 1;
      const std::int64_t need = to_units(demand.share * open.r);
      EXPECT_EQ(open.fits(demand, need), ledger.fits(open.slot, demand)) << "seed " << seed;
    }
    for (int s : ledger.node_slots(node)) {
      if (listed[static_cast<std::size_t>(s)] == 0) {
        EXPECT_FALSE(ledger.fits(s, demand)) << "seed " << seed;
      }
    }
  }
}

TEST(NodeRooms, OpenSlotsFitAsTheLedgerDoes) {
  for (std::uint64_t seed = 1; seed <= 200; ++seed) {
    testing::RandomStream stream(seed);
    const Snapshot snapshot = random_cluster(stream);
    Ledger ledger(snapshot);
    NodeRooms rooms;
    std::vector<std::pair<int, Demand>> committed;
    for (int step = 0; step < 12; ++step) {
      const Demand demand = random_demand(stream);
      expect_open_slots_fit_as_the_ledger(ledger, rooms, demand, seed);
      // A commit, as a start makes it, or a release of an earlier one, as an end does.
      if (!committed.empty() && stream.pick(0, 2) == 0) {
        const auto [s, one] = committed.back();
        committed.pop_back();
        ledger.release({s}, one, ledger.bytes_on(s, one));
        continue;
      }
      const int s = stream.pick(0, static_cast<int>(ledger.slots().size()) - 1);
      Demand one = random_demand(stream);
      one.gpus = 1;
      one.whole_memory = false;
      if (!ledger.fits(s, one)) continue;
      ledger.commit({s}, one);
      committed.emplace_back(s, one);
    }
  }
}

}  // namespace
}  // namespace fastgpu::sched
