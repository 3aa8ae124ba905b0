#include "fastgpu/core/resource_limits.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>

namespace fastgpu {
namespace {

using ::testing::ElementsAre;

TEST(ResourceLimits, OwnLimitsAreTheProcesssInTheCarriedOrder) {
  const ResourceLimits own = own_resource_limits();
  ASSERT_EQ(own.size(), carried_limit_names().size());
  for (std::size_t i = 0; i < own.size(); ++i) {
    EXPECT_EQ(own[i].name, carried_limit_names()[i]);
    rlimit value{};
    ASSERT_EQ(::getrlimit(static_cast<__rlimit_resource_t>(*rlimit_resource(own[i].name)), &value),
              0);
    EXPECT_EQ(own[i].soft.value_or(RLIM_INFINITY), value.rlim_cur) << own[i].name;
    EXPECT_EQ(own[i].hard.value_or(RLIM_INFINITY), value.rlim_max) << own[i].name;
  }
}

TEST(ResourceLimits, NamesAreSlurmsListAsPrlimitSpellsThem) {
  EXPECT_THAT(carried_limit_names(), ElementsAre("as", "core", "cpu", "data", "fsize", "memlock",
                                                 "nofile", "nproc", "rss", "stack"));
  EXPECT_EQ(rlimit_resource("stack"), RLIMIT_STACK);
  EXPECT_EQ(rlimit_resource("nice"), std::nullopt);  // not carried, as under Slurm
  EXPECT_EQ(rlimit_resource("STACK"), std::nullopt);
}

TEST(ResourceLimits, FormatsInEachLimitsUnitExactly) {
  EXPECT_EQ(format_limit({"stack", 8u << 20, std::nullopt}), "stack 8M (hard unlimited)");
  EXPECT_EQ(format_limit({"nofile", 1024, 524288}), "nofile 1024 (hard 524288)");
  EXPECT_EQ(format_limit({"cpu", 3600, 3600}), "cpu 3600 s");
  EXPECT_EQ(format_limit({"as", 4096000000, 4096000000}), "as 4000000K");  // ulimit -v 4000000
  EXPECT_EQ(format_limit({"core", std::nullopt, std::nullopt}), "core unlimited");
}

TEST(ResourceLimits, AboveTreatsNoValueAsUnlimited) {
  EXPECT_TRUE(limit_above(std::nullopt, 10));
  EXPECT_FALSE(limit_above(10, std::nullopt));
  EXPECT_FALSE(limit_above(std::nullopt, std::nullopt));
  EXPECT_TRUE(limit_above(11, 10));
  EXPECT_FALSE(limit_above(10, 10));
}

// The hard limits a `ulimit` meant for a job leaves (below a Linux login's), which a daemon
// started from that shell would keep for every job: each with the option that set it.
TEST(ResourceLimits, JobSizedHardLimitsAreThoseBelowALoginsAndNameTheirUlimitOption) {
  const ResourceLimits shell = {
      {"as", 4096000000, 4096000000},   // ulimit -v 4000000
      {"core", 0, 0},                   // a hardened login's own
      {"cpu", 60, 60},                  // ulimit -t 60
      {"memlock", 8u << 20, 8u << 20},  // a login's own
      {"nofile", 1024, 4096},           // a login's own
      {"nproc", 95000, 95000},          // a login's own
      {"stack", 8u << 20, std::nullopt},
  };
  const ResourceLimits kept = job_sized_hard_limits(shell);
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(format_hard_limits(kept), "as 4000000K (ulimit -v), cpu 60 s (ulimit -t)");
  EXPECT_EQ(format_hard_limits(job_sized_hard_limits({{"nofile", 32, 32}})),
            "nofile 32 (ulimit -n)");
  EXPECT_TRUE(job_sized_hard_limits({{"nofile", 1024, 1024}}).empty());
  EXPECT_EQ(ulimit_option("stack"), "-s");
  EXPECT_EQ(ulimit_option("rss"), "-m");
  EXPECT_EQ(ulimit_option("nice"), "");
}

}  // namespace
}  // namespace fastgpu
