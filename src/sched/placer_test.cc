#include "fastgpu/sched/placer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sched/sched_builders.h"

namespace fastgpu::sched {
namespace {

using ::testing::ElementsAre;
using testing::kGiB;
using testing::make_gpu;
using testing::make_job;
using testing::make_node;
using testing::make_running;

Demand demand(int gpus, Bytes bytes, double share) {
  Demand d;
  d.gpus = gpus;
  d.bytes = bytes;
  d.share = share;
  d.load = share;
  return d;
}

std::vector<int> gpus_of(const Ledger& ledger, const std::optional<std::vector<int>>& slots) {
  std::vector<int> gpus;
  if (slots) {
    for (int s : *slots) gpus.push_back(ledger.slot(s).gpu_index);
  }
  return gpus;
}

std::vector<int> place(const std::string& strategy, const Snapshot& snapshot, const Demand& d) {
  const Ledger ledger(snapshot);
  return gpus_of(ledger, make_placer(strategy)->place(ledger, d, {}));
}

TEST(Pack, FractionalJobJoinsAPartlyUsedGpuAndKeepsWholeGpusFree) {
  Snapshot snapshot;
  snapshot.gpus = make_node("n0", 3);
  snapshot.running = {make_running(make_job(9, 1, 10 * kGiB, 0.5), {2})};
  EXPECT_THAT(place("pack", snapshot, demand(1, 10 * kGiB, 0.5)), ElementsAre(2));
}

TEST(Pack, BestFitPrefersTheFullerGpu) {
  Snapshot snapshot;
  snapshot.gpus = make_node("n0", 2);
  snapshot.running = {make_running(make_job(8, 1, 10 * kGiB, 0.25), {0}),
                      make_running(make_job(9, 1, 10 * kGiB, 0.75), {1})};
  EXPECT_THAT(place("pack", snapshot, demand(1, 10 * kGiB, 0.25)), ElementsAre(1));
}

TEST(Pack, AvoidsLeavingAFragmentNoJobCanUse) {
  // gpu 0 would keep 0.1 share (below the smallest demand 0.3: a fragment); gpu 1 ends
  // exactly full. Best fit by share alone would also pick gpu 1, so give gpu 0 less free.
  Snapshot snapshot;
  snapshot.gpus = make_node("n0", 2);
  snapshot.running = {make_running(make_job(8, 1, 10 * kGiB, 0.6), {0}),
                      make_running(make_job(9, 1, 10 * kGiB, 0.5), {1})};
  const Ledger ledger(snapshot);
  PlaceOptions options;
  options.min_share = 0.3;
  const auto slots = make_placer("pack")->place(ledger, demand(1, kGiB, 0.3), options);
  // gpu 0: 0.4 free -> 0.1 left (fragment); gpu 1: 0.5 free -> 0.2 left (fragment too);
  // both fragment, the smaller fragment wins.
  EXPECT_THAT(gpus_of(ledger, slots), ElementsAre(0));
  options.min_share = 0.1;  // now 0.1 and 0.2 are both usable: best fit, gpu 0
  EXPECT_THAT(gpus_of(ledger, make_placer("pack")->place(ledger, demand(1, kGiB, 0.3), options)),
              ElementsAre(0));
  options.min_share = 0.15;  // gpu 0 leaves 0.1 (unusable), gpu 1 leaves 0.2 (usable)
  EXPECT_THAT(gpus_of(ledger, make_placer("pack")->place(ledger, demand(1, kGiB, 0.3), options)),
              ElementsAre(1));
}

TEST(Pack, WholeGpuJobGoesToTheNodeWithFewestFreeGpus) {
  Snapshot snapshot;
  snapshot.gpus = make_node("a", 4, 0);
  auto b = make_node("b", 4, 4);
  snapshot.gpus.insert(snapshot.gpus.end(), b.begin(), b.end());
  snapshot.running = {make_running(make_job(9), {4}), make_running(make_job(10), {5})};
  EXPECT_THAT(place("pack", snapshot, demand(1, kGiB, 1.0)), ElementsAre(6));
  EXPECT_THAT(place("pack", snapshot, demand(4, kGiB, 1.0)), ElementsAre(0, 1, 2, 3));
}

TEST(Gang, StaysOnOneNode) {
  Snapshot snapshot;
  snapshot.gpus = make_node("a", 2, 0);
  auto b = make_node("b", 2, 2);
  snapshot.gpus.insert(snapshot.gpus.end(), b.begin(), b.end());
  snapshot.running = {make_running(make_job(9), {0}), make_running(make_job(10), {2})};
  for (const char* strategy : {"pack", "spread"}) {
    EXPECT_TRUE(place(strategy, snapshot, demand(2, kGiB, 1.0)).empty()) << strategy;
  }
}

TEST(Gang, PrefersOneNvlinkGroupThenOnePcieSwitch) {
  Snapshot snapshot;
  snapshot.gpus = make_node("n0", 8);
  for (int i = 0; i < 8; ++i) {
    snapshot.gpus[i].nvlink_group = i < 4 ? 0 : 1;
    snapshot.gpus[i].pcie_switch = i / 2;
  }
  // Group 0 keeps 2 free GPUs (0, 3), group 1 keeps 3 (4, 6, 7).
  snapshot.running = {make_running(make_job(9), {1}), make_running(make_job(10), {2}),
                      make_running(make_job(11), {5})};
  for (const char* strategy : {"pack", "spread"}) {
    EXPECT_THAT(place(strategy, snapshot, demand(3, kGiB, 1.0)), ElementsAre(4, 6, 7));
    EXPECT_THAT(place(strategy, snapshot, demand(2, kGiB, 1.0)), ElementsAre(0, 3));
  }
  for (auto& gpu : snapshot.gpus) gpu.nvlink_group = -1;  // no NVLink: one switch
  EXPECT_THAT(place("pack", snapshot, demand(2, kGiB, 1.0)), ElementsAre(6, 7));
}

// Among NVLink groups that hold the gang equally tightly the lower group id wins, and the
// group's GPUs come in the strategy's order; GPUs with no group never form one.
TEST(Gang, EqualGroupsGoToTheLowerGroupId) {
  Snapshot snapshot;
  snapshot.gpus = make_node("n0", 8);
  const int groups[] = {3, 3, 1, -1, 1, -1, 2, 2};
  for (int i = 0; i < 8; ++i) {
    snapshot.gpus[i].nvlink_group = groups[i];
    snapshot.gpus[i].pcie_switch = -1;
  }
  for (const char* strategy : {"pack", "spread"}) {
    EXPECT_THAT(place(strategy, snapshot, demand(2, kGiB, 1.0)), ElementsAre(2, 4)) << strategy;
  }
  // Group 1 loses a GPU: groups 2 and 3 hold two each, and 2 is the lower id.
  snapshot.running = {make_running(make_job(9), {4})};
  EXPECT_THAT(place("pack", snapshot, demand(2, kGiB, 1.0)), ElementsAre(6, 7));
  // No group holds three: the first three candidates.
  EXPECT_THAT(place("pack", snapshot, demand(3, kGiB, 1.0)), ElementsAre(0, 1, 2));
}

TEST(Spread, LeastLoadedThenUtilizationThenTemperature) {
  Snapshot snapshot;
  snapshot.gpus = make_node("n0", 3);
  snapshot.gpus[0].utilization = 0.5;
  snapshot.gpus[1].utilization = 0.2;
  snapshot.gpus[2].utilization = 0.2;
  snapshot.gpus[1].temperature_c = 70;
  snapshot.gpus[2].temperature_c = 60;
  EXPECT_THAT(place("spread", snapshot, demand(1, kGiB, 0.5)), ElementsAre(2));
  Job busy = make_job(9, 1, kGiB, 0.2);
  busy.priority = 3;  // LB = 0.2 * 3 = 0.6
  snapshot.running = {make_running(busy, {2})};
  EXPECT_THAT(place("spread", snapshot, demand(1, kGiB, 0.5)), ElementsAre(1));
}

TEST(Spread, WholeGpuJobsGoToTheEmptiestNode) {
  Snapshot snapshot;
  snapshot.gpus = make_node("a", 2, 0);
  auto b = make_node("b", 3, 2);
  snapshot.gpus.insert(snapshot.gpus.end(), b.begin(), b.end());
  snapshot.running = {make_running(make_job(9), {2})};  // a and b both keep 2 empty
  EXPECT_THAT(place("spread", snapshot, demand(1, kGiB, 1.0)), ElementsAre(0));
  snapshot.running.clear();  // b has 3 empty: the emptiest node
  EXPECT_THAT(place("spread", snapshot, demand(1, kGiB, 1.0)), ElementsAre(2));
}

TEST(Placer, ForbiddenSlotsAreSkipped) {
  Snapshot snapshot;
  snapshot.gpus = make_node("n0", 2);
  const Ledger ledger(snapshot);
  std::vector<char> forbidden = {1, 0};
  PlaceOptions options;
  options.forbidden = &forbidden;
  for (const char* strategy : {"pack", "spread"}) {
    EXPECT_THAT(
        gpus_of(ledger, make_placer(strategy)->place(ledger, demand(1, kGiB, 1.0), options)),
        ElementsAre(1));
  }
}

}  // namespace
}  // namespace fastgpu::sched
