// End-to-end: a running job asked to stop (cancelled, or past its time limit) is shown as
// stopping in `queue`, `show` and their --json until it has ended, across a daemon killed
// with SIGKILL too. The jobs are real processes that catch SIGTERM and stay in their grace
// period until the test lets them go, so what the daemon says can be looked at meanwhile.

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "api/login_name.h"
#include "daemon/daemon_harness.h"
#include "fastgpu/core/units.h"

namespace fastgpu {
namespace {

using nlohmann::json;
using test_support::contains;
using test_support::DaemonHarness;

// Says it is up once SIGTERM is caught; on SIGTERM says so, and exits 0 once `release`
// exists (or is killed by the SIGKILL at the end of the grace period).
constexpr const char* kCatchesTerm =
    "--gpus 1 --gpu-mem 10G --wrap 'trap \"touch term; while [ ! -f release ]; do sleep 0.05; "
    "done; exit 0\" TERM; touch up; while :; do sleep 0.05; done'";

constexpr std::int64_t kGraceUs = 10'000'000;  // the daemon's grace period (docs/cli.md)

// Polls until the file exists in the test's work folder (a job's working folder).
bool wait_for_file(const DaemonHarness& daemon, const std::string& name) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (std::filesystem::exists(daemon.work() / name)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

void release(const DaemonHarness& daemon) { daemon.write_file("release", ""); }

TEST(StoppingE2E, ACancelledJobIsStoppingInQueueAndShowUntilItHasEnded) {
  DaemonHarness daemon;
  const std::uint64_t id = daemon.submit(kCatchesTerm);
  ASSERT_TRUE(wait_for_file(daemon, "up"));
  EXPECT_TRUE(daemon.job(id)["stopping"].is_null()) << daemon.job(id).dump();

  const test_support::CliRun cancel = daemon.fastgpu("cancel " + std::to_string(id));
  ASSERT_EQ(cancel.exit_code, 0) << cancel.output;
  EXPECT_TRUE(contains(cancel.output, "job " + std::to_string(id) +
                                          ": stopping (SIGTERM sent): cancelled by you at "))
      << cancel.output;
  EXPECT_TRUE(contains(cancel.output, " if still running; `fastgpu wait ")) << cancel.output;
  ASSERT_TRUE(wait_for_file(daemon, "term"));  // it got SIGTERM, and keeps running
  const json job = daemon.job(id);
  EXPECT_EQ(job["state"], "RUNNING");
  const json& stopping = job["stopping"];
  ASSERT_TRUE(stopping.is_object()) << job.dump();
  EXPECT_EQ(stopping["cause"], "cancelled");
  EXPECT_EQ(stopping["by_uid"], ::geteuid());
  EXPECT_EQ(stopping["kill_at_us"].get<std::int64_t>() - stopping["since_us"].get<std::int64_t>(),
            kGraceUs);
  EXPECT_TRUE(stopping["since"].is_string());
  EXPECT_TRUE(stopping["kill_at"].is_string());

  const json listed = daemon.fastgpu_json("queue");
  ASSERT_EQ(listed["jobs"].size(), 1u);
  EXPECT_EQ(listed["jobs"][0]["stopping"]["since_us"], stopping["since_us"]);
  const test_support::CliRun queue = daemon.fastgpu("queue");
  EXPECT_TRUE(contains(queue.output, "STOPPING")) << queue.output;
  EXPECT_TRUE(contains(queue.output, "(cancelled, SIGKILL ")) << queue.output;
  const test_support::CliRun running_only = daemon.fastgpu("queue -t running");
  EXPECT_TRUE(contains(running_only.output, "STOPPING")) << running_only.output;
  const test_support::CliRun show = daemon.fastgpu("show " + std::to_string(id));
  EXPECT_TRUE(contains(show.output, "stopping:      cancelled by you at ")) << show.output;
  EXPECT_TRUE(contains(show.output, "SIGKILL ")) << show.output;
  // Cancelled again: no new SIGTERM, and SIGKILL still comes when the first cancel said.
  const test_support::CliRun again = daemon.fastgpu("cancel " + std::to_string(id));
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_TRUE(contains(again.output,
                       "job " + std::to_string(id) + ": already stopping: cancelled by you at "))
      << again.output;
  EXPECT_EQ(daemon.job(id)["stopping"]["kill_at_us"], stopping["kill_at_us"]);

  release(daemon);
  const json ended = daemon.wait_for_state(id, "CANCELLED");
  EXPECT_FALSE(ended.contains("stopping")) << ended.dump();
  EXPECT_FALSE(contains(daemon.fastgpu("queue").output, "STOPPING"));
}

// The supervisor sends the time limit's SIGTERM on its own; the daemon shows it all the same.
TEST(StoppingE2E, AJobPastItsTimeLimitIsStoppingFromItsStartPlusTheLimit) {
  DaemonHarness daemon;
  const std::uint64_t id = daemon.submit(std::string("--time 1s ") + kCatchesTerm);
  ASSERT_TRUE(wait_for_file(daemon, "term"));
  const json job = daemon.job(id);
  ASSERT_EQ(job["state"], "RUNNING") << job.dump();
  const json& stopping = job["stopping"];
  ASSERT_TRUE(stopping.is_object()) << job.dump();
  EXPECT_EQ(stopping["cause"], "time limit");
  EXPECT_TRUE(stopping["by_uid"].is_null());
  EXPECT_EQ(stopping["since_us"].get<std::int64_t>(),
            job["start_time_us"].get<std::int64_t>() + 1'000'000);
  EXPECT_EQ(stopping["kill_at_us"].get<std::int64_t>() - stopping["since_us"].get<std::int64_t>(),
            kGraceUs);
  const test_support::CliRun queue = daemon.fastgpu("queue");
  EXPECT_TRUE(contains(queue.output, "(time limit, SIGKILL ")) << queue.output;
  const test_support::CliRun show = daemon.fastgpu("show " + std::to_string(id));
  EXPECT_TRUE(contains(show.output, "stopping:      reached its time limit at ")) << show.output;
  // A cancel in the time limit's grace period changes nothing, and says so (it said
  // "SIGTERM now", and the job then ended TIMEOUT).
  const test_support::CliRun cancel = daemon.fastgpu("cancel " + std::to_string(id));
  EXPECT_EQ(cancel.exit_code, 0) << cancel.output;
  EXPECT_TRUE(contains(cancel.output, "job " + std::to_string(id) +
                                          ": already stopping: reached its time limit at "))
      << cancel.output;
  EXPECT_TRUE(contains(cancel.output, "; it ends TIMEOUT, not CANCELLED;")) << cancel.output;

  release(daemon);
  EXPECT_EQ(daemon.wait_for_state(id, "TIMEOUT")["end_reason"],
            "stopped at its time limit of 1 s: exited with status 0 on SIGTERM");
}

// scontrol update TimeLimit= of a running job: its supervisor takes the new limit, counted
// from the job's start. One job's limit is cut from 1h to a few seconds past what it has
// run, and it is stopped there, TIMEOUT, its log saying why; another's is raised by an hour
// (`--time +1h`, Slurm's TimeLimit=+60), and it runs to its end. Of a running job nothing else
// changes, and a job being stopped keeps its end.
TEST(StoppingE2E, UpdateChangesARunningJobsTimeLimitThroughItsSupervisor) {
  DaemonHarness daemon("2xH100-80G");
  const std::uint64_t raised = daemon.submit("--gpus 0 --time 8s -- sleep 10");
  const std::uint64_t cut = daemon.submit(std::string("--time 1h ") + kCatchesTerm);
  const std::uint64_t unlimited = daemon.submit("--gpus 0 -- sleep 60");
  daemon.wait_for_state(raised, "RUNNING");
  const test_support::CliRun raise =
      daemon.fastgpu("update " + std::to_string(raised) + " --time +1h");
  ASSERT_EQ(raise.exit_code, 0) << raise.output;
  EXPECT_TRUE(contains(
      raise.output, "job " + std::to_string(raised) + ": time limit 1h00m (running: SIGTERM in "))
      << raise.output;
  EXPECT_EQ(daemon.job(raised)["spec"]["time_limit_s"], 3608);
  const test_support::CliRun none =
      daemon.fastgpu("update " + std::to_string(unlimited) + " --time +1h");
  EXPECT_EQ(none.exit_code, 1) << none.output;
  EXPECT_TRUE(contains(none.output, "job " + std::to_string(unlimited) +
                                        " has no time limit to move by +1h00m; give a whole one"))
      << none.output;
  const test_support::CliRun below =
      daemon.fastgpu("update " + std::to_string(raised) + " --time=-2h");
  EXPECT_NE(below.exit_code, 0) << below.output;
  EXPECT_TRUE(contains(below.output, "moved by -2h00m leaves none")) << below.output;
  EXPECT_EQ(daemon.fastgpu("update " + std::to_string(raised) + " --time +later").exit_code, 2);
  ASSERT_EQ(daemon.fastgpu("cancel " + std::to_string(unlimited)).exit_code, 0);

  // Cut to a few seconds past what the job has run so far: the requests above may take
  // seconds on a busy machine, under a sanitizer.
  ASSERT_TRUE(wait_for_file(daemon, "up"));
  const std::int64_t started_us = daemon.job(cut)["start_time_us"].get<std::int64_t>();
  const std::int64_t now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  const std::int64_t limit_s = (now_us - started_us) / 1'000'000 + 5;
  const test_support::CliRun shorten =
      daemon.fastgpu("update " + std::to_string(cut) + " --time " + std::to_string(limit_s) + "s");
  ASSERT_EQ(shorten.exit_code, 0) << shorten.output;
  EXPECT_EQ(daemon.job(cut)["spec"]["time_limit_s"], limit_s);

  const test_support::CliRun priority =
      daemon.fastgpu("update " + std::to_string(cut) + " --priority 3");
  EXPECT_EQ(priority.exit_code, 1) << priority.output;
  EXPECT_TRUE(contains(priority.output, "of a running job only the time limit can be changed"))
      << priority.output;

  ASSERT_TRUE(wait_for_file(daemon, "term"));  // SIGTERM at the new limit, not the old
  const json job = daemon.job(cut);
  ASSERT_TRUE(job["stopping"].is_object()) << job.dump();
  EXPECT_EQ(job["stopping"]["cause"], "time limit");
  EXPECT_EQ(job["stopping"]["since_us"].get<std::int64_t>(), started_us + limit_s * 1'000'000);
  const test_support::CliRun late = daemon.fastgpu("update " + std::to_string(cut) + " --time 2h");
  EXPECT_EQ(late.exit_code, 1) << late.output;
  EXPECT_TRUE(contains(late.output, "is being stopped (time limit)")) << late.output;
  release(daemon);
  EXPECT_EQ(daemon.wait_for_state(cut, "TIMEOUT")["end_reason"],
            "stopped at its time limit of " + std::to_string(limit_s) +
                " s: exited with status 0 on SIGTERM");
  EXPECT_TRUE(
      contains(daemon.log_of(cut), "time limit changed from 1h00m to " +
                                       format_duration(Seconds(static_cast<double>(limit_s))) +
                                       ", counted from its start"))
      << daemon.log_of(cut);

  const json ran = daemon.wait_for_state(raised, "COMPLETED");
  EXPECT_EQ(ran["spec"]["time_limit_s"], 3608);
  EXPECT_TRUE(contains(daemon.log_of(raised), "time limit changed from 8s to 1h00m"))
      << daemon.log_of(raised);
}

// A daemon killed with SIGKILL in a cancelled job's grace period: the next one said nothing
// of the stop, and the job ended "cancelled (...)" without who cancelled it.
TEST(StoppingE2E, AfterADaemonKillNineTheCancelIsStillShownAndTheEndSaysWho) {
  DaemonHarness daemon;
  const std::uint64_t id = daemon.submit(kCatchesTerm);
  ASSERT_TRUE(wait_for_file(daemon, "up"));
  ASSERT_EQ(daemon.fastgpu("cancel " + std::to_string(id)).exit_code, 0);
  ASSERT_TRUE(wait_for_file(daemon, "term"));
  const json before = daemon.job(id)["stopping"];
  ASSERT_TRUE(before.is_object());
  const std::optional<pid_t> pid = daemon.answering_pid();
  ASSERT_TRUE(pid) << daemon.daemon_log_tail();
  ASSERT_EQ(::kill(*pid, SIGKILL), 0);

  const test_support::CliRun started = daemon.fastgpu("daemon start");
  ASSERT_EQ(started.exit_code, 0) << started.output;
  const json job = daemon.job(id);
  // The grace period may have run out meanwhile on a slow machine: the job then ended.
  if (job["state"] == "RUNNING") {
    EXPECT_EQ(job["stopping"], before) << job.dump();
  }
  release(daemon);
  const json ended = daemon.wait_for_state(id, "CANCELLED");
  const std::string reason = ended["end_reason"];
  EXPECT_EQ(reason.rfind("cancelled by " + api::user_name(::getuid()) + " (", 0), 0u) << reason;
}

}  // namespace
}  // namespace fastgpu
