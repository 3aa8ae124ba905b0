#include "fastgpu/exec/process_tree.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
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

  // The process's real uid (its status file's Uid: line), and the variables of its
  // environment ("NAME=VALUE" each).
  void set_identity(pid_t pid, std::uint32_t uid, const std::vector<std::string>& environment) {
    std::ofstream(root_ / std::to_string(pid) / "status")
        << "Name:\tx\nUmask:\t0022\nState:\tS (sleeping)\nUid:\t" << uid << "\t" << uid << "\t"
        << uid << "\t" << uid << "\nGid:\t100\t100\t100\t100\n";
    std::ofstream file(root_ / std::to_string(pid) / "environ", std::ios::binary);
    for (const std::string& entry : environment) file << entry << '\0';
  }
  void set_children(pid_t pid, const std::string& children) {
    const std::filesystem::path task = root_ / std::to_string(pid) / "task" / std::to_string(pid);
    std::filesystem::create_directories(task);
    std::ofstream(task / "children") << children;
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

// A `fastgpu alloc` command runs from the user's terminal, outside its job's session and
// tree: its FASTGPU_JOB_ID ties it to the job, only while that job runs and only when it is
// the job's user's. Another user setting the variable lays nothing on someone else's job.
TEST_F(FakeProc, AnAllocationsCommandIsItsJobsByTheVariableWhenItIsTheJobsUsers) {
  add(100, "fastgpu-supervisor", 1, 100, 100);  // job 7's supervisor, run by root
  set_identity(100, 0, {});
  set_children(100, "101 ");
  add(101, "fastgpu", 100, 101, 100);  // the holder, as the job's user
  set_identity(101, 1000, {"FASTGPU_JOB_ID=7"});
  add(400, "python", 350, 400, 350);  // the command, in the user's terminal session
  set_identity(400, 1000, {"HOME=/home/ana", "FASTGPU_JOB_ID=7", "CUDA_VISIBLE_DEVICES=0"});
  add(401, "python", 380, 401, 380);  // another user's, with the variable set by hand
  set_identity(401, 1001, {"FASTGPU_JOB_ID=7"});
  add(402, "python", 380, 402, 380);  // a job that has ended
  set_identity(402, 1000, {"FASTGPU_JOB_ID=6"});
  add(403, "python", 380, 403, 380);  // a value that is not a job id
  set_identity(403, 1000, {"FASTGPU_JOB_ID=7x"});
  add(404, "python", 380, 404, 380);  // the name inside another variable's value
  set_identity(404, 1000, {"NOTE=FASTGPU_JOB_ID=7"});

  const std::unordered_map<pid_t, JobId> supervisors = {{100, JobId(7)}};
  const std::unordered_map<pid_t, JobId> jobs =
      attribute_pids({400, 401, 402, 403, 404}, supervisors, root_);
  EXPECT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs.at(400), JobId(7));
}

// The same through the real /proc: the supervisor's children file and the command's environ.
TEST(RealProc, AProcessOutsideTheTreeIsItsJobsByTheVariable) {
  std::vector<pid_t> started;
  auto spawn = [&started](std::vector<std::string> args, std::vector<std::string> environment) {
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (std::string& entry : environment) envp.push_back(entry.data());
    envp.push_back(nullptr);
    pid_t pid = 0;
    EXPECT_EQ(::posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), envp.data()), 0);
    started.push_back(pid);
    return pid;
  };
  const pid_t supervisor = spawn({"/bin/sh", "-c", "/bin/sleep 30 & wait"}, {});
  const pid_t command = spawn({"/bin/sleep", "30"}, {"HOME=/", "FASTGPU_JOB_ID=7"});
  const std::string folder = std::to_string(supervisor);
  const std::filesystem::path children =
      std::filesystem::path("/proc") / folder / "task" / folder / "children";
  pid_t job_process = 0;
  for (int tries = 0; tries < 500 && job_process == 0; ++tries) {
    std::ifstream(children) >> job_process;
    if (job_process == 0) ::usleep(10'000);
  }
  // posix_spawn returns once the exec has begun, before the kernel has laid out the new
  // environment: until then the environ file reads empty.
  const std::filesystem::path environ_file =
      std::filesystem::path("/proc") / std::to_string(command) / "environ";
  for (int tries = 0; tries < 500; ++tries) {
    std::ifstream file(environ_file);
    if (file.peek() != std::ifstream::traits_type::eof()) break;
    ::usleep(10'000);
  }
  const std::unordered_map<pid_t, JobId> jobs = attribute_pids({command}, {{supervisor, JobId(7)}});
  const std::unordered_map<pid_t, JobId> none = attribute_pids({command}, {{supervisor, JobId(8)}});
  if (job_process > 0) ::kill(job_process, SIGKILL);  // the shell's, reaped by the shell
  for (const pid_t pid : started) ::kill(pid, SIGKILL);
  for (const pid_t pid : started) ::waitpid(pid, nullptr, 0);
  ASSERT_GT(job_process, 0) << children;
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs.at(command), JobId(7));
  EXPECT_TRUE(none.empty());
}

TEST_F(FakeProc, ParentLoopsEndTheWalk) {
  add(50, "a", 51, 50, 50);
  add(51, "b", 50, 51, 51);  // a cycle, as a broken /proc snapshot could show
  EXPECT_TRUE(attribute_pids({50}, {{100, JobId(1)}}, root_).empty());
}

}  // namespace
}  // namespace fastgpu::exec
