// The per-job accounting of energy: each GPU's counter difference between two readings is
// spread evenly over the time between them; a job gets the part it ran through (prorated
// at its start and end), split by compute share with the other jobs running then. A GPU
// whose counter could not be read across the run leaves only a lower bound. Every figure
// below is worked out by hand in the comments.
#include "engine/accounting.h"

#include <gtest/gtest.h>

namespace fastgpu::engine {
namespace {

// GPUs 0, 1, ... whose energy counters read these joules; nullopt: unreadable.
GpuReading reading_at(std::vector<std::optional<double>> joules) {
  GpuReading reading;
  for (std::size_t i = 0; i < joules.size(); ++i) {
    GpuDevice device;
    device.index = static_cast<std::uint32_t>(i);
    if (joules[i]) device.energy_millijoules = static_cast<std::uint64_t>(*joules[i] * 1000.0);
    reading.devices.push_back(device);
  }
  return reading;
}
GpuReading reading_at(double joules) {
  return reading_at(std::vector<std::optional<double>>{joules});
}

const JobId kAlone{1};
const JobId kVisitor{2};

TEST(UsageMeter, AJobAloneThroughEveryIntervalHasExactEnergy) {
  UsageMeter meter;
  meter.start(kAlone, {0}, 1.0, 0.0);
  meter.sample(reading_at(0.0), 0.0, {});
  meter.sample(reading_at(100.0), 1.0, {});
  meter.sample(reading_at(250.0), 2.0, {});
  // Ended at the last sample: 100 + 150 J, nothing prorated.
  const store::JobAccounting use = meter.finish(kAlone, 1, 2.0, 2.0, reading_at(250.0), 2.0);
  EXPECT_DOUBLE_EQ(*use.energy_joules, 250.0);
  EXPECT_FALSE(use.energy_is_estimate);
  EXPECT_FALSE(use.energy_at_least_joules.has_value());
}

// Samples every 10 s; the job runs from 4 s to 7 s, within one interval. The reading at its
// end (7 s, 1350 J) closes it: 350 J over 0..7 s is 50 J/s, of which 4..7 s is the job's:
// 3 s x 50 J/s = 150 J. It read no energy at all before.
// While a job runs, what it used so far: its energy up to the last sample (prorated at its
// start), and nothing until its counter was read across the run. Samples every 10 s; the
// job starts at 4 s: at 10 s it has 6 s of 0..10 s's 600 J, 360 J; at 20 s, 500 J more.
TEST(UsageMeter, SoFarIsTheRunUpToTheLastSample) {
  UsageMeter meter;
  meter.sample(reading_at(0.0), 0.0, {});
  meter.start(kAlone, {0}, 1.0, 4.0);
  ASSERT_TRUE(meter.so_far(kAlone).has_value());
  EXPECT_FALSE(meter.so_far(kAlone)->energy_joules.has_value());  // no interval closed
  meter.sample(reading_at(600.0), 10.0, {});
  EXPECT_DOUBLE_EQ(*meter.so_far(kAlone)->energy_joules, 360.0);
  meter.sample(reading_at(1100.0), 20.0, {});
  EXPECT_DOUBLE_EQ(*meter.so_far(kAlone)->energy_joules, 860.0);
  // A job on a GPU whose counter cannot be read has no figure, not a lower bound.
  meter.start(kVisitor, {1}, 1.0, 20.0);
  meter.sample(reading_at({1200.0, std::nullopt}), 30.0, {});
  EXPECT_FALSE(meter.so_far(kVisitor)->energy_joules.has_value());
  (void)meter.finish(kAlone, 1, 26.0, 30.0, reading_at(1200.0), 30.0);
  EXPECT_FALSE(meter.so_far(kAlone).has_value());  // no longer metered
}

TEST(UsageMeter, AJobShorterThanOneIntervalGetsItsProratedPart) {
  UsageMeter meter;
  meter.sample(reading_at(1000.0), 0.0, {});
  meter.start(kAlone, {0}, 1.0, 4.0);
  const store::JobAccounting use = meter.finish(kAlone, 1, 3.0, 7.0, reading_at(1350.0), 7.0);
  ASSERT_TRUE(use.energy_joules.has_value());
  EXPECT_DOUBLE_EQ(*use.energy_joules, 150.0);
  EXPECT_TRUE(use.energy_is_estimate);
}

// Samples every 10 s; the job runs from 4 s to 23 s. Its edges: 0..10 s read 600 J (60 J/s),
// of which 4..10 s is the job's, 360 J; 10..20 s, 500 J, all its own; 20..23 s read at its
// end, 90 J, all its own. 360 + 500 + 90 = 950 J. Before: only the 500 J between two
// samples taken while it ran.
TEST(UsageMeter, TheIntervalsAJobStartsAndEndsInAreProrated) {
  UsageMeter meter;
  meter.sample(reading_at(0.0), 0.0, {});
  meter.start(kAlone, {0}, 1.0, 4.0);
  meter.sample(reading_at(600.0), 10.0, {});
  meter.sample(reading_at(1100.0), 20.0, {});
  const store::JobAccounting use = meter.finish(kAlone, 1, 19.0, 23.0, reading_at(1190.0), 23.0);
  EXPECT_DOUBLE_EQ(*use.energy_joules, 950.0);
  EXPECT_TRUE(use.energy_is_estimate);
  // The sample after the end, at the same moment as the reading at the end, counts nothing
  // twice (and there is no job left to give it to).
  meter.sample(reading_at(1190.0), 23.0, {});
}

// A job that starts within an interval shares it from its start on. Interval 1..2 s read
// 100 J (100 J/s): 1..1.5 s is the first job's alone, 50 J; 1.5..2 s, 50 J, is split 1 : 0.5,
// 33.33 J and 16.67 J. The first job: 100 (0..1 s) + 50 + 33.33 = 183.33 J, an estimate;
// before, it got all 200 J and the visitor nothing.
TEST(UsageMeter, AJobStartingWithinAnIntervalSharesItFromItsStartOn) {
  UsageMeter meter;
  meter.start(kAlone, {0}, 1.0, 0.0);
  meter.sample(reading_at(0.0), 0.0, {});
  meter.sample(reading_at(100.0), 1.0, {});
  meter.start(kVisitor, {0}, 0.5, 1.5);
  meter.sample(reading_at(200.0), 2.0, {});
  const store::JobAccounting visitor = meter.finish(kVisitor, 1, 0.5, 2.0, reading_at(200.0), 2.0);
  EXPECT_NEAR(*visitor.energy_joules, 50.0 / 3.0, 1e-9);
  EXPECT_TRUE(visitor.energy_is_estimate);
  const store::JobAccounting alone = meter.finish(kAlone, 1, 2.0, 2.0, reading_at(200.0), 2.0);
  EXPECT_NEAR(*alone.energy_joules, 100.0 + 50.0 + 100.0 / 3.0, 1e-9);
  EXPECT_TRUE(alone.energy_is_estimate);
}

// A job that ends within an interval is counted up to its end, read then. 0..0.5 s read
// 40 J, split 1 : 0.5 between both: 26.67 J and 13.33 J. After it, 60 J (0.5..1 s) and 50 J
// (1..2 s) are the first job's alone: 26.67 + 60 + 50 = 136.67 J.
TEST(UsageMeter, AJobEndingWithinAnIntervalIsCountedUpToItsEnd) {
  UsageMeter meter;
  meter.start(kAlone, {0}, 1.0, 0.0);
  meter.start(kVisitor, {0}, 0.5, 0.0);
  meter.sample(reading_at(0.0), 0.0, {});
  const store::JobAccounting visitor = meter.finish(kVisitor, 1, 0.5, 0.5, reading_at(40.0), 0.5);
  EXPECT_NEAR(*visitor.energy_joules, 40.0 / 3.0, 1e-9);
  EXPECT_TRUE(visitor.energy_is_estimate);
  meter.sample(reading_at(100.0), 1.0, {});
  meter.sample(reading_at(150.0), 2.0, {});
  const store::JobAccounting alone = meter.finish(kAlone, 1, 2.0, 2.0, reading_at(150.0), 2.0);
  EXPECT_NEAR(*alone.energy_joules, 80.0 / 3.0 + 60.0 + 50.0, 1e-9);
  EXPECT_TRUE(alone.energy_is_estimate);
}

// A counter unreadable at one sample: the next reading spans the gap, nothing is lost.
// 0..2 s read 300 J, all the job's; before, both intervals next to the gap counted nothing.
TEST(UsageMeter, AReadingMissedOnceLosesNothing) {
  UsageMeter meter;
  meter.start(kAlone, {0}, 1.0, 0.0);
  meter.sample(reading_at(0.0), 0.0, {});
  meter.sample(reading_at(std::vector<std::optional<double>>{std::nullopt}), 1.0, {});
  meter.sample(reading_at(300.0), 2.0, {});
  const store::JobAccounting use = meter.finish(kAlone, 1, 2.0, 2.0, reading_at(300.0), 2.0);
  EXPECT_DOUBLE_EQ(*use.energy_joules, 300.0);
  EXPECT_FALSE(use.energy_is_estimate);
}

// A job on GPUs 0 and 1 whose GPU 1 counter is never readable: GPU 0 read 100 + 150 J, but
// the job's energy is not 250 J; it is at least 250 J, GPU 1 unread.
TEST(UsageMeter, AGpuWhoseCounterCannotBeReadLeavesALowerBound) {
  UsageMeter meter;
  meter.start(kAlone, {0, 1}, 1.0, 0.0);
  meter.sample(reading_at({0.0, std::nullopt}), 0.0, {});
  meter.sample(reading_at({100.0, std::nullopt}), 1.0, {});
  const store::JobAccounting use =
      meter.finish(kAlone, 2, 2.0, 2.0, reading_at({250.0, std::nullopt}), 2.0);
  EXPECT_FALSE(use.energy_joules.has_value());
  ASSERT_TRUE(use.energy_at_least_joules.has_value());
  EXPECT_DOUBLE_EQ(*use.energy_at_least_joules, 250.0);
  EXPECT_EQ(use.energy_unread_gpus, std::vector<std::uint32_t>{1});
}

// GPU 1's counter read at the start but not at the end (lost mid-run): its 40 J of 0..1 s
// are counted, the rest is not known. At least 100 + 150 + 40 = 290 J.
TEST(UsageMeter, ACounterLostBeforeTheEndLeavesALowerBound) {
  UsageMeter meter;
  meter.start(kAlone, {0, 1}, 1.0, 0.0);
  meter.sample(reading_at({0.0, 0.0}), 0.0, {});
  meter.sample(reading_at({100.0, 40.0}), 1.0, {});
  const store::JobAccounting use =
      meter.finish(kAlone, 2, 2.0, 2.0, reading_at({250.0, std::nullopt}), 2.0);
  EXPECT_FALSE(use.energy_joules.has_value());
  EXPECT_DOUBLE_EQ(*use.energy_at_least_joules, 290.0);
  EXPECT_EQ(use.energy_unread_gpus, std::vector<std::uint32_t>{1});
}

// No reading before the job's start (the counter could not be read then): the part from
// its start (0 s) to the first reading (1 s) cannot be prorated. The 200 J of 1..2 s are
// counted and the figure is a lower bound, GPU 0 named.
TEST(UsageMeter, NoReadingBeforeTheStartLeavesALowerBound) {
  UsageMeter meter;
  meter.start(kAlone, {0}, 1.0, 0.0);
  meter.sample(reading_at(std::vector<std::optional<double>>{std::nullopt}), 0.0, {});
  meter.sample(reading_at(1000.0), 1.0, {});
  const store::JobAccounting use = meter.finish(kAlone, 1, 2.0, 2.0, reading_at(1200.0), 2.0);
  EXPECT_FALSE(use.energy_joules.has_value());
  EXPECT_DOUBLE_EQ(*use.energy_at_least_joules, 200.0);
  EXPECT_EQ(use.energy_unread_gpus, std::vector<std::uint32_t>{0});
}

// A run adopted after a restart is metered from the first reading on: not a lower bound
// for want of a reading before its (unknown) start. 1..2 s: 200 J.
TEST(UsageMeter, AnAdoptedRunCountsFromTheFirstReading) {
  UsageMeter meter;
  meter.start(kAlone, {0}, 1.0, std::nullopt);
  meter.sample(reading_at(1000.0), 1.0, {});
  const store::JobAccounting use = meter.finish(kAlone, 1, 2.0, 2.0, reading_at(1200.0), 2.0);
  EXPECT_DOUBLE_EQ(*use.energy_joules, 200.0);
  EXPECT_FALSE(use.energy_is_estimate);
}

// No GPU read at all: unknown ("n/a"), not a lower bound of 0 J.
TEST(UsageMeter, NoCounterReadAtAllIsUnknown) {
  UsageMeter meter;
  meter.start(kAlone, {0}, 1.0, 0.0);
  meter.sample(reading_at(std::vector<std::optional<double>>{std::nullopt}), 0.0, {});
  const store::JobAccounting use = meter.finish(
      kAlone, 1, 2.0, 2.0, reading_at(std::vector<std::optional<double>>{std::nullopt}), 2.0);
  EXPECT_FALSE(use.energy_joules.has_value());
  EXPECT_FALSE(use.energy_at_least_joules.has_value());
  EXPECT_TRUE(use.energy_unread_gpus.empty());
}

}  // namespace
}  // namespace fastgpu::engine
