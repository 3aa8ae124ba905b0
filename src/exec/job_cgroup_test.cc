#include "exec/job_cgroup.h"

#include <gtest/gtest.h>

namespace fastgpu::exec {
namespace {

TEST(JobCgroup, NameRoundTripsThroughAProcCgroupFile) {
  const std::string name = job_cgroup_name("42.3", 1234);
  EXPECT_EQ(name, "fastgpu-42.3-1234");
  const std::optional<CgroupRun> run =
      run_of_cgroup_file("12:pids:/\n0::/system.slice/fastgpu.service/" + name + "\n");
  ASSERT_TRUE(run.has_value());
  EXPECT_EQ(run->job, JobId(42));
  EXPECT_EQ(run->supervisor, 1234);
}

TEST(JobCgroup, ACgroupTheJobMadeInsideItsRunsStillNamesTheRun) {
  const std::optional<CgroupRun> run = run_of_cgroup_file("0::/fastgpu-7.1-99/workers/a\n");
  ASSERT_TRUE(run.has_value());
  EXPECT_EQ(run->job, JobId(7));
  EXPECT_EQ(run->supervisor, 99);
}

TEST(JobCgroup, OtherCgroupsNameNoRun) {
  EXPECT_FALSE(run_of_cgroup_file("0::/\n").has_value());
  EXPECT_FALSE(run_of_cgroup_file("0::/user.slice/user-1000.slice\n").has_value());
  EXPECT_FALSE(run_of_cgroup_file("4:memory:/fastgpu-7.1-99\n").has_value());  // v1 only
  EXPECT_FALSE(run_of_cgroup_file("0::/fastgpu-run-6-99\n").has_value());      // no attempt
  EXPECT_FALSE(run_of_cgroup_file("0::/fastgpu-7.1-x\n").has_value());
  EXPECT_FALSE(run_of_cgroup_file("0::/fastgpu-7.1-0\n").has_value());
  EXPECT_FALSE(run_of_cgroup_file("").has_value());
}

constexpr const char* kHybridMounts =
    "35 24 0:30 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n"
    "36 35 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
    "41 35 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

TEST(JobCgroup, OwnCgroupIsFoundUnderTheCgroup2Mount) {
  EXPECT_EQ(own_cgroup_dir(kHybridMounts, "4:memory:/x\n0::/\n"),
            std::filesystem::path("/sys/fs/cgroup/unified"));
  EXPECT_EQ(own_cgroup_dir(kHybridMounts, "0::/user.slice/session-3.scope\n"),
            std::filesystem::path("/sys/fs/cgroup/unified/user.slice/session-3.scope"));
}

TEST(JobCgroup, AMountOfASubtreeShowsOurPathBelowItsRoot) {
  const char* mounts = "50 40 0:40 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
  EXPECT_EQ(own_cgroup_dir(mounts, "0::/docker/abc/app\n"),
            std::filesystem::path("/sys/fs/cgroup/app"));
  EXPECT_FALSE(own_cgroup_dir(mounts, "0::/docker/abcdef\n").has_value());  // not below it
  EXPECT_FALSE(own_cgroup_dir(mounts, "0::/elsewhere\n").has_value());
}

TEST(JobCgroup, NoCgroup2MountOrNoUnifiedLineIsNoCgroup) {
  EXPECT_FALSE(
      own_cgroup_dir("36 35 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw\n", "0::/\n")
          .has_value());
  EXPECT_FALSE(own_cgroup_dir(kHybridMounts, "4:memory:/x\n").has_value());
}

}  // namespace
}  // namespace fastgpu::exec
