#include "fastgpu/exec/process_tree.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>

namespace fastgpu::exec {
namespace {

// A fake /proc: <root>/<pid>/stat files with just the fields that matter.
class FakeProc : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "fastgpu-proc-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  void add(pid_t pid, const std::string& name, pid_t parent, pid_t group, pid_t session,
           std::uint64_t start = 1000) {
    std::filesystem::create_directories(root_ / std::to_string(pid));
    std::ofstream(root_ / std::to_string(pid) / "stat")
        << pid << " (" << name << ") S " << parent << " " << group << " " << session
        << " 34816 1234 4194304 100 0 0 0 5 3 0 0 20 0 1 0 " << start
        << " 1000000 200 18446744073709551615\n";
  }

  std::filesystem::path root_;
};

TEST(ParseProcStat, ReadsTheFieldsAfterACommandNameWithSpacesAndParentheses) {
  std::optional<ProcStat> stat = parse_proc_stat(
      "4242 (my (odd) prog) R 17 4242 17 34816 1234 4194304 100 0 0 0 5 3 0 0 20 0 1 0 987654 "
      "1000000 200");
  ASSERT_TRUE(stat.has_value());
  EXPECT_EQ(stat->pid, 4242);
  EXPECT_EQ(stat->state, 'R');
  EXPECT_EQ(stat->parent_pid, 17);
  EXPECT_EQ(stat->process_group, 4242);
  EXPECT_EQ(stat->session, 17);
  EXPECT_EQ(stat->start_time_ticks, 987654u);
}

TEST(ParseProcStat, RejectsMalformedText) {
  EXPECT_FALSE(parse_proc_stat("").has_value());
  EXPECT_FALSE(parse_proc_stat("abc (x) S 1 2 3").has_value());
  EXPECT_FALSE(parse_proc_stat("12 (x) S 1 2 3 4 5").has_value());  // cut short
  EXPECT_FALSE(parse_proc_stat("12 no-parenthesis S 1 2 3").has_value());
  EXPECT_FALSE(parse_proc_stat("12 (x) S 1 two 3 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 5").has_value());
}

TEST(ReadProcStat, ReadsOurOwnProcess) {
  std::optional<ProcStat> self = read_proc_stat(::getpid());
  ASSERT_TRUE(self.has_value());
  EXPECT_EQ(self->pid, ::getpid());
  EXPECT_EQ(self->parent_pid, ::getppid());
  EXPECT_EQ(self->session, ::getsid(0));
  EXPECT_EQ(session_of(::getpid()), ::getsid(0));
}

TEST_F(FakeProc, MissingOrBrokenEntriesAreSimplyAbsent) {
  EXPECT_FALSE(read_proc_stat(77, root_).has_value());
  EXPECT_FALSE(session_of(77, root_).has_value());
  std::filesystem::create_directories(root_ / "78");
  std::ofstream(root_ / "78" / "stat") << "garbage";
  EXPECT_FALSE(read_proc_stat(78, root_).has_value());
}

TEST_F(FakeProc, ListsOnlyNumericEntries) {
  add(10, "a", 1, 10, 10);
  add(20, "b", 1, 20, 20);
  std::filesystem::create_directories(root_ / "self");
  std::filesystem::create_directories(root_ / "12abc");
  std::vector<pid_t> pids = list_pids(root_);
  std::sort(pids.begin(), pids.end());
  EXPECT_EQ(pids, (std::vector<pid_t>{10, 20}));
}

TEST_F(FakeProc, AttributesBySessionThenByParentsAndSkipsTheRest) {
  add(100, "fastgpu-supervisor", 1, 100, 100);  // job 1's supervisor
  add(101, "python", 100, 101, 100);            // its job
  add(102, "worker", 101, 101, 100);            // a child in the session
  add(103, "daemonized", 1, 103, 103);          // left the session, orphaned to init
  add(104, "escaped", 100, 104, 104);           // left the session, re-parented to 100
  add(105, "grandchild", 104, 104, 104);        // below the one that escaped
  add(200, "fastgpu-supervisor", 1, 200, 200);  // job 2's supervisor
  add(201, "train", 200, 201, 200);
  add(300, "Xorg", 1, 300, 300);  // not a job

  const std::unordered_map<pid_t, JobId> supervisors = {{100, JobId(1)}, {200, JobId(2)}};
  std::unordered_map<pid_t, JobId> jobs =
      attribute_pids({101, 102, 103, 104, 105, 201, 300, 999, 200}, supervisors, root_);
  EXPECT_EQ(jobs.at(101), JobId(1));
  EXPECT_EQ(jobs.at(102), JobId(1));
  EXPECT_EQ(jobs.at(104), JobId(1));
  EXPECT_EQ(jobs.at(105), JobId(1));
  EXPECT_EQ(jobs.at(201), JobId(2));
  EXPECT_EQ(jobs.at(200), JobId(2));  // the supervisor itself
  EXPECT_FALSE(jobs.contains(103));   // nothing ties it to a job any more
  EXPECT_FALSE(jobs.contains(300));
  EXPECT_FALSE(jobs.contains(999));  // gone between NVML's list and our read
  EXPECT_EQ(jobs.size(), 6u);
}

TEST_F(FakeProc, ParentLoopsEndTheWalk) {
  add(50, "a", 51, 50, 50);
  add(51, "b", 50, 51, 51);  // a cycle, as a broken /proc snapshot could show
  EXPECT_TRUE(attribute_pids({50}, {{100, JobId(1)}}, root_).empty());
}

}  // namespace
}  // namespace fastgpu::exec
