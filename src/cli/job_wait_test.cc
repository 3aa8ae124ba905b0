#include "cli/job_wait.h"

#include <gtest/gtest.h>

namespace fastgpu::cli {
namespace {

api::Json ended(const char* state, api::Json exit_code, api::Json signal) {
  return {{"id", 7}, {"state", state}, {"exit_code", exit_code}, {"signal", signal}};
}

// `submit --wait` exits as the job did: a script's `&&` must never read a job that did not
// complete as a success, whatever status it left.
TEST(ExitStatusOf, IsTheJobsOwnAndNeverZeroForAJobThatDidNotComplete) {
  EXPECT_EQ(exit_status_of(ended("COMPLETED", 0, nullptr)), 0);
  EXPECT_EQ(exit_status_of(ended("FAILED", 3, nullptr)), 3);
  EXPECT_EQ(exit_status_of(ended("FAILED", nullptr, 9)), 137);
  EXPECT_EQ(exit_status_of(ended("TIMEOUT", nullptr, 15)), 143);
  // It caught SIGTERM at its time limit and exited 0; cancelled before it ran.
  EXPECT_EQ(exit_status_of(ended("TIMEOUT", 0, nullptr)), 1);
  EXPECT_EQ(exit_status_of(ended("CANCELLED", nullptr, nullptr)), 1);
}

}  // namespace
}  // namespace fastgpu::cli
