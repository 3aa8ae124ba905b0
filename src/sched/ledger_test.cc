#include "fastgpu/sched/ledger.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace fastgpu::sched
