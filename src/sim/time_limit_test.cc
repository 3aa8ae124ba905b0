// Rounded time limits: what the simulator gives jobs with --round-time-limits.
#include <gtest/gtest.h>

#include "fastgpu/sim/simulator.h"

namespace fastgpu::sim {
namespace {

constexpr double kHour = 3600;

TEST(RoundedTimeLimit, RoundsUpToWhatPeopleType) {
  EXPECT_DOUBLE_EQ(rounded_time_limit(60), 1 * kHour);
  EXPECT_DOUBLE_EQ(rounded_time_limit(1 * kHour), 1 * kHour);  // exact values stay
  EXPECT_DOUBLE_EQ(rounded_time_limit(1 * kHour + 1), 2 * kHour);
  EXPECT_DOUBLE_EQ(rounded_time_limit(9 * kHour), 12 * kHour);
  EXPECT_DOUBLE_EQ(rounded_time_limit(13 * kHour), 24 * kHour);
  EXPECT_DOUBLE_EQ(rounded_time_limit(50 * kHour), 72 * kHour);
  EXPECT_DOUBLE_EQ(rounded_time_limit(100 * kHour), 168 * kHour);
  EXPECT_DOUBLE_EQ(rounded_time_limit(169 * kHour), 336 * kHour);  // whole weeks beyond
}

}  // namespace
}  // namespace fastgpu::sim
