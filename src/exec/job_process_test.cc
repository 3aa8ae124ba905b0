#include "exec/job_process.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>

namespace fastgpu::exec {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

rlimit own_files() {
  rlimit own{};
  EXPECT_EQ(::getrlimit(RLIMIT_NOFILE, &own), 0);
  return own;
}

// A daemon started from a shell with `ulimit -n 4096` (which lowers the hard limit too)
// cannot give a later job the 524288 its submitter had: the job gets the daemon's, and its
// log says so and how to fix it, instead of the launch failing.
TEST(PlanLimits, AHardLimitAboveOursIsLoweredToOursAndTold) {
  const rlimit own = own_files();
  ASSERT_NE(own.rlim_max, RLIM_INFINITY);
  const std::uint64_t above = own.rlim_max + 10;
  std::vector<std::string> notes;
  const std::vector<JobLimit> planned =
      plan_limits({{"core", 0, 0}, {"nofile", above, above}}, /*may_raise=*/false, notes);
  ASSERT_EQ(planned.size(), 2u);
  EXPECT_EQ(planned[0].resource, RLIMIT_CORE);
  EXPECT_EQ(planned[0].value.rlim_cur, 0u);
  EXPECT_EQ(planned[0].value.rlim_max, 0u);
  EXPECT_EQ(planned[1].name, "nofile");
  EXPECT_EQ(planned[1].value.rlim_max, own.rlim_max);
  EXPECT_EQ(planned[1].value.rlim_cur, own.rlim_max);  // the soft one lowered with it
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_THAT(notes[0], HasSubstr("the job's nofile hard limit is " + std::to_string(own.rlim_max) +
                                  ", not " + std::to_string(above) + " as submitted"));
  EXPECT_THAT(notes[0], HasSubstr("fastgpu daemon stop"));
}

// Root raises any limit (the API checked the submitter had it): nothing is lowered.
TEST(PlanLimits, RootKeepsTheLimitsAsSubmitted) {
  const rlimit own = own_files();
  ASSERT_NE(own.rlim_max, RLIM_INFINITY);
  std::vector<std::string> notes;
  const std::vector<JobLimit> planned =
      plan_limits({{"nofile", 100, own.rlim_max + 10}, {"stack", std::nullopt, std::nullopt}},
                  /*may_raise=*/true, notes);
  ASSERT_EQ(planned.size(), 2u);
  EXPECT_EQ(planned[0].value.rlim_cur, 100u);
  EXPECT_EQ(planned[0].value.rlim_max, own.rlim_max + 10);
  EXPECT_EQ(planned[1].resource, RLIMIT_STACK);
  EXPECT_EQ(planned[1].value.rlim_cur, RLIM_INFINITY);
  EXPECT_EQ(planned[1].value.rlim_max, RLIM_INFINITY);
  EXPECT_THAT(notes, IsEmpty());
}

TEST(PlanLimits, NoLimitsPlanNothing) {
  std::vector<std::string> notes;
  EXPECT_THAT(plan_limits({}, false, notes), IsEmpty());
  EXPECT_THAT(notes, IsEmpty());
}

}  // namespace
}  // namespace fastgpu::exec
