// The outcome table: how each way a run can end becomes a job state and reason.
#include "engine/outcome.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>

namespace fastgpu::engine {
namespace {

using store::JobState;
using ::testing::HasSubstr;

TEST(RunEndTest, ExitStatusDecidesCompletedOrFailed) {
  const RunEnd ok = run_end_of(exec::Exited{0}, StopIntent::kNone, std::nullopt);
  EXPECT_EQ(ok.state, JobState::kCompleted);
  EXPECT_EQ(ok.exit_code, 0);
  const RunEnd bad = run_end_of(exec::Exited{2}, StopIntent::kNone, std::nullopt);
  EXPECT_EQ(bad.state, JobState::kFailed);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(bad.reason, "exited with status 2");
}

TEST(RunEndTest, SignalLaunchFailureAndLossAreFailuresThatSayWhich) {
  const RunEnd killed = run_end_of(exec::Signaled{SIGKILL}, StopIntent::kNone, std::nullopt);
  EXPECT_EQ(killed.state, JobState::kFailed);
  EXPECT_EQ(killed.signal, SIGKILL);
  EXPECT_EQ(killed.reason, "killed by SIGKILL");
  const RunEnd unstarted =
      run_end_of(exec::LaunchFailed{"exec: no such file"}, StopIntent::kNone, std::nullopt);
  EXPECT_EQ(unstarted.state, JobState::kFailed);
  EXPECT_THAT(unstarted.reason, HasSubstr("could not be started: exec: no such file"));
  EXPECT_EQ(unstarted.exit_code, std::nullopt);  // the folder, a limit: no program's status
  const RunEnd not_found =
      run_end_of(exec::LaunchFailed{"cannot run 'tpyo'", 127}, StopIntent::kNone, std::nullopt);
  EXPECT_EQ(not_found.state, JobState::kFailed);
  EXPECT_EQ(not_found.exit_code, 127);
  const RunEnd lost = run_end_of(exec::Lost{"supervisor vanished"}, StopIntent::kNone, {});
  EXPECT_EQ(lost.state, JobState::kFailed);
  EXPECT_THAT(lost.reason, HasSubstr("lost: supervisor vanished"));
}

// A job the kernel killed at one of its limits says which: the job's own `ulimit` (or its
// submitter's, carried) ended it, not the daemon, the GPU or a bug.
TEST(RunEndTest, AKillAtAResourceLimitNamesTheLimit) {
  const ResourceLimits limits = {{"cpu", 30, 60}, {"fsize", 1u << 20, 1u << 20}};
  const exec::Usage busy{58.0, 3.5, std::nullopt};
  RunEnd xcpu = run_end_of(exec::Signaled{SIGXCPU}, StopIntent::kNone, std::nullopt);
  name_the_limit(xcpu, limits, busy);
  EXPECT_EQ(xcpu.reason,
            "killed by SIGXCPU: its CPU time reached its limit (ulimit -t; 30 s as submitted)");
  RunEnd xfsz = run_end_of(exec::Signaled{SIGXFSZ}, StopIntent::kNone, std::nullopt);
  name_the_limit(xfsz, {}, busy);  // sent without limits: no value to tell
  EXPECT_EQ(xfsz.reason, "killed by SIGXFSZ: a file it wrote reached its size limit (ulimit -f)");
  RunEnd hard = run_end_of(exec::Signaled{SIGKILL}, StopIntent::kNone, std::nullopt);
  name_the_limit(hard, limits, busy);
  EXPECT_EQ(hard.reason,
            "killed by SIGKILL, the kernel's signal at the hard cpu limit of 60 s (ulimit -t), "
            "which its CPU time (61.5 s) had reached");

  // rusage reads a little below the time the kernel killed at (1.9968 s at a 2 s limit).
  RunEnd just_below = run_end_of(exec::Signaled{SIGKILL}, StopIntent::kNone, std::nullopt);
  name_the_limit(just_below, {{"cpu", 2, 2}}, exec::Usage{1.9968, 0.0, std::nullopt});
  EXPECT_EQ(just_below.reason,
            "killed by SIGKILL, the kernel's signal at the hard cpu limit of 2 s (ulimit -t), "
            "which its CPU time (2.0 s) had reached");

  // A SIGKILL before the job's CPU time reached the limit (the OOM killer, kill -9) is not it.
  RunEnd other = run_end_of(exec::Signaled{SIGKILL}, StopIntent::kNone, std::nullopt);
  name_the_limit(other, limits, exec::Usage{2.0, 0.1, std::nullopt});
  EXPECT_EQ(other.reason, "killed by SIGKILL");
  // Nor is a run the engine asked to stop, which ends as asked.
  RunEnd cancelled = run_end_of(exec::Signaled{SIGKILL}, StopIntent::kCancel, std::nullopt, "root");
  const std::string before = cancelled.reason;
  name_the_limit(cancelled, limits, busy);
  EXPECT_EQ(cancelled.reason, before);
}

TEST(RunEndTest, TimeLimitIsTimeout) {
  const RunEnd end = run_end_of(exec::TimedOut{SIGKILL, std::nullopt}, StopIntent::kNone, 90);
  EXPECT_EQ(end.state, JobState::kTimeout);
  EXPECT_EQ(end.reason,
            "killed by SIGKILL at its time limit of 90 s: it had not ended within the grace "
            "period after SIGTERM");
  EXPECT_EQ(end.signal, SIGKILL);  // the grace period ran out
  EXPECT_FALSE(end.exit_code.has_value());
  // A job that caught the SIGTERM and exited keeps the status it exited with.
  EXPECT_EQ(run_end_of(exec::TimedOut{std::nullopt, 143}, StopIntent::kNone, 90).exit_code, 143);
}

// The reason said "killed at its time limit" also for a job that the SIGTERM ended within
// the grace period; it now says what happened.
TEST(RunEndTest, TimeLimitReasonSaysHowTheJobEnded) {
  EXPECT_EQ(run_end_of(exec::TimedOut{SIGTERM, std::nullopt}, StopIntent::kNone, 90).reason,
            "terminated by SIGTERM at its time limit of 90 s");
  EXPECT_EQ(run_end_of(exec::TimedOut{std::nullopt, 0}, StopIntent::kNone, 90).reason,
            "stopped at its time limit of 90 s: exited with status 0 on SIGTERM");
  EXPECT_EQ(run_end_of(exec::TimedOut{}, StopIntent::kNone, std::nullopt).reason,
            "stopped at its time limit");
}

TEST(RunEndTest, StoppedFollowsWhatTheEngineAskedFor) {
  EXPECT_EQ(run_end_of(exec::Stopped{false}, StopIntent::kNone, {}).state, JobState::kCancelled);
  EXPECT_EQ(run_end_of(exec::Stopped{true}, StopIntent::kNone, {}).state, JobState::kPreempted);
  EXPECT_EQ(run_end_of(exec::Stopped{true}, StopIntent::kCancel, {}).state, JobState::kCancelled);
  EXPECT_EQ(run_end_of(exec::Stopped{false}, StopIntent::kCancel, {}, "root").reason,
            "cancelled by root (stopped on request)");
  // How the process ended, when the supervisor says: the signal, or the status it exited with.
  const RunEnd by_term =
      run_end_of(exec::Stopped{false, SIGTERM, std::nullopt}, StopIntent::kCancel, {}, "uid 1000");
  EXPECT_EQ(by_term.reason, "cancelled by uid 1000 (killed by SIGTERM)");
  EXPECT_EQ(by_term.signal, SIGTERM);
  const RunEnd caught = run_end_of(exec::Stopped{true, std::nullopt, 3}, StopIntent::kPreempt, {});
  EXPECT_EQ(caught.state, JobState::kPreempted);
  EXPECT_EQ(caught.exit_code, 3);
  EXPECT_EQ(caught.reason, "preempted (exited with status 3 when asked to stop)");
  // Asked by a daemon before a restart: the supervisor's word for what was asked.
  EXPECT_EQ(run_end_of(exec::Stopped{false, SIGKILL, std::nullopt}, StopIntent::kNone, {}).reason,
            "cancelled (killed by SIGKILL)");
  const RunEnd memory = run_end_of(exec::Stopped{false}, StopIntent::kMemoryKill, {});
  EXPECT_EQ(memory.state, JobState::kFailed);
  EXPECT_THAT(memory.reason, HasSubstr("exceeded its declared GPU memory"));
}

TEST(RunEndTest, AJobAskedToStopThatDiesOfItEndsAsAsked) {
  EXPECT_EQ(run_end_of(exec::Signaled{SIGTERM}, StopIntent::kCancel, {}).state,
            JobState::kCancelled);
  EXPECT_EQ(run_end_of(exec::Exited{143}, StopIntent::kPreempt, {}).state, JobState::kPreempted);
  EXPECT_EQ(run_end_of(exec::Signaled{SIGKILL}, StopIntent::kMemoryKill, {}).state,
            JobState::kFailed);
  // One that finished before the stop reached it completed.
  EXPECT_EQ(run_end_of(exec::Exited{0}, StopIntent::kCancel, {}).state, JobState::kCompleted);
}

TEST(RunEndTest, UnknownSignalNumberIsStillNamed) {
  EXPECT_EQ(signal_name(SIGTERM), "SIGTERM");
  EXPECT_EQ(signal_name(1000), "signal 1000");
}

}  // namespace
}  // namespace fastgpu::engine
