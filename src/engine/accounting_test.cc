// The per-job accounting of energy on a GPU that other jobs of ours shared for part of an
// interval: the whole delta goes to the job that ran through it, so its figure is an
// estimate (the others' draw is in it).
#include "engine/accounting.h"

#include <gtest/gtest.h>

namespace fastgpu::engine {
namespace {

// One GPU (index 0) whose energy counter reads `joules`.
GpuReading reading_at(double joules) {
  GpuDevice device;
  device.index = 0;
  device.energy_millijoules = static_cast<std::uint64_t>(joules * 1000.0);
  GpuReading reading;
  reading.devices.push_back(device);
  return reading;
}

const JobId kAlone{1};
const JobId kVisitor{2};

TEST(UsageMeter, AJobAloneThroughEveryIntervalHasExactEnergy) {
  UsageMeter meter;
  meter.start(kAlone, {0}, 1.0);
  meter.sample(reading_at(0.0), {});
  meter.sample(reading_at(100.0), {});
  meter.sample(reading_at(250.0), {});
  const store::JobAccounting use = meter.finish(kAlone, 1, 3.0);
  EXPECT_DOUBLE_EQ(*use.energy_joules, 250.0);
  EXPECT_FALSE(use.energy_is_estimate);
}

// A job that started within an interval gets none of its delta, which it drew from too.
TEST(UsageMeter, AnIntervalAnotherJobStartedInMakesTheEnergyAnEstimate) {
  UsageMeter meter;
  meter.start(kAlone, {0}, 1.0);
  meter.sample(reading_at(0.0), {});
  meter.sample(reading_at(100.0), {});
  meter.start(kVisitor, {0}, 0.5);
  meter.sample(reading_at(200.0), {});  // the visitor ran for part of this one
  const store::JobAccounting use = meter.finish(kAlone, 1, 3.0);
  EXPECT_DOUBLE_EQ(*use.energy_joules, 200.0);
  EXPECT_TRUE(use.energy_is_estimate);
}

// Likewise one that ended within an interval (before the sample that closes it).
TEST(UsageMeter, AnIntervalAnotherJobEndedInMakesTheEnergyAnEstimate) {
  UsageMeter meter;
  meter.start(kAlone, {0}, 1.0);
  meter.start(kVisitor, {0}, 0.5);
  meter.sample(reading_at(0.0), {});
  (void)meter.finish(kVisitor, 1, 1.0);
  meter.sample(reading_at(100.0), {});  // the visitor ran for part of this one
  meter.sample(reading_at(150.0), {});
  const store::JobAccounting use = meter.finish(kAlone, 1, 3.0);
  EXPECT_DOUBLE_EQ(*use.energy_joules, 150.0);
  EXPECT_TRUE(use.energy_is_estimate);
}

}  // namespace
}  // namespace fastgpu::engine
