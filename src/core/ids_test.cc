#include "fastgpu/core/ids.h"

#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <type_traits>
#include <unordered_set>

namespace fastgpu {
namespace {

using GpuTag = Id<struct GpuTestTag>;

TEST(Id, ComparesByValue) {
  EXPECT_EQ(JobId(7), JobId(7));
  EXPECT_NE(JobId(7), JobId(8));
  EXPECT_LT(JobId(7), JobId(8));
  EXPECT_GT(JobId(9), JobId(8));
  EXPECT_EQ(JobId().value(), 0u);
}

TEST(Id, HashesAndOrdersInContainers) {
  std::unordered_set<JobId> seen = {JobId(1), JobId(2), JobId(1)};
  EXPECT_EQ(seen.size(), 2u);
  EXPECT_TRUE(seen.contains(JobId(2)));
  std::map<JobId, int> ordered = {{JobId(3), 0}, {JobId(1), 0}};
  EXPECT_EQ(ordered.begin()->first, JobId(1));
}

TEST(Id, PrintsAsItsNumber) {
  EXPECT_EQ(to_string(JobId(42)), "42");
  std::ostringstream out;
  out << JobId(18446744073709551615u);
  EXPECT_EQ(out.str(), "18446744073709551615");
}

TEST(Id, DistinctTagsAreDistinctTypesAndNoImplicitConversion) {
  static_assert(!std::is_same_v<JobId, GpuTag>);
  static_assert(!std::is_convertible_v<std::uint64_t, JobId>);
  static_assert(!std::is_convertible_v<GpuTag, JobId>);
  EXPECT_EQ(JobId(5).value(), GpuTag(5).value());
}

}  // namespace
}  // namespace fastgpu
