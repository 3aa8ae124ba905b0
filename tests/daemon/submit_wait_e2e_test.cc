// End-to-end: `fastgpu submit --wait` and `--follow`, the job run as if it ran here: the
// command stays until it ends, exits as it did, prints its output (--follow), and cancels it
// when stopped.

#include <fstream>
#include <iterator>
#include <regex>
#include <string>

#include "daemon/daemon_harness.h"

namespace fastgpu {
namespace {

using nlohmann::json;
using test_support::contains;
using test_support::DaemonHarness;

std::string text_of(const std::filesystem::path& path) {
  std::ifstream file(path);
  return std::string(std::istreambuf_iterator<char>(file), {});
}

std::size_t job_count(const DaemonHarness& daemon) {
  return daemon.fastgpu_json("queue")["jobs"].size() +
         daemon.fastgpu_json("history")["jobs"].size();
}

// A script ran `fastgpu submit ... && fastgpu logs -f ID` and parsed the id between them;
// `submit --follow` is one command whose output is the job's and whose exit status is its.
TEST(SubmitWaitE2E, FollowPrintsTheJobsOutputAloneAndExitsAsTheJobDid) {
  DaemonHarness daemon;
  const std::filesystem::path out = daemon.work() / "out";
  const std::filesystem::path errors = daemon.work() / "errors";
  const int followed = daemon.fastgpu_into(
      "submit --gpus 0 --follow --wrap 'echo out; echo err >&2; exit 3'", out, errors);
  EXPECT_EQ(followed, 3) << text_of(errors);
  // stdout is the job's log (its output, then the supervisor's line on how it ended): no id.
  EXPECT_TRUE(text_of(out).starts_with("out\nerr\nfastgpu: job ")) << text_of(out);
  const std::regex submitted(R"(fastgpu submit: job (\d+) submitted; its output follows)");
  std::smatch found;
  const std::string said = text_of(errors);
  ASSERT_TRUE(std::regex_search(said, found, submitted)) << said;
  const std::string id = found[1].str();
  EXPECT_TRUE(contains(said, "fastgpu submit: job " + id +
                                 " did not complete: it ended FAILED: exited with status 3\n"))
      << said;
  EXPECT_EQ(daemon.job(std::stoull(id))["state"], "FAILED");

  const int completed = daemon.fastgpu_into("submit --gpus 0 -f -- echo fine", out, errors);
  EXPECT_EQ(completed, 0) << text_of(errors);
  EXPECT_EQ(text_of(out), "fine\n");
}

TEST(SubmitWaitE2E, WaitPrintsTheIdsAndExitsWithTheJobsStatus) {
  DaemonHarness daemon;
  const test_support::CliRun done = daemon.fastgpu("submit --gpus 0 -W -- true", false);
  EXPECT_EQ(done.exit_code, 0);
  EXPECT_TRUE(std::regex_match(done.output, std::regex(R"(\d+\n)"))) << done.output;
  // Killed by a signal: 128 + its number, as a shell reports the command.
  const test_support::CliRun killed = daemon.fastgpu("submit --gpus 0 --wait --wrap 'kill -9 $$'");
  EXPECT_EQ(killed.exit_code, 137) << killed.output;
  EXPECT_TRUE(contains(killed.output, ": FAILED (signal 9)")) << killed.output;
  // A program that could not be run: 127 when it is not there, 126 when it cannot run, as a
  // shell reports the command (it was 1, and a script could not tell a typo from a failure).
  // (A job that waits for another is not checked for its program at submit: the other may
  // make it.)
  const test_support::CliRun typo =
      daemon.fastgpu("submit --gpus 0 -W --after " + done.output.substr(0, done.output.size() - 1) +
                     " -- fastgpu-no-such-prog");
  EXPECT_EQ(typo.exit_code, 127) << typo.output;
  EXPECT_TRUE(contains(typo.output,
                       ": FAILED (exit 127): could not be started: cannot run "
                       "'fastgpu-no-such-prog'"))
      << typo.output;
  daemon.write_file("not-executable.sh", "#!/bin/sh\necho hi\n");
  const test_support::CliRun not_runnable =
      daemon.fastgpu("submit --gpus 0 -W -- ./not-executable.sh");
  EXPECT_EQ(not_runnable.exit_code, 126) << not_runnable.output;
  // An array: the highest of its members' statuses (sbatch --wait's), each failure named.
  const test_support::CliRun array =
      daemon.fastgpu("submit --gpus 0 --wait --array 0-2 --wrap 'exit $FASTGPU_ARRAY_INDEX'");
  EXPECT_EQ(array.exit_code, 2) << array.output;
  EXPECT_TRUE(contains(array.output, "3 job(s) ended: 1 completed; did not complete:\n"))
      << array.output;
  EXPECT_TRUE(contains(array.output, ": FAILED (exit 2)\n")) << array.output;
  // --json: one document, how each job ended.
  const json ended = daemon.fastgpu_json("submit --gpus 0 --wait --array 0-1 --wrap 'exit 0'");
  ASSERT_TRUE(ended.is_object()) << ended;
  EXPECT_EQ(ended["ids"].size(), 2U);
  EXPECT_EQ(ended["all_completed"], true);
  EXPECT_EQ(ended["jobs"][1]["state"], "COMPLETED");
}

// A job in the foreground that waits says why (srun's "queued and waiting for resources"),
// then where it started: a silent terminal read as a hung command.
TEST(SubmitWaitE2E, AWaitingJobSaysWhyItWaitsAndWhenItStarts) {
  DaemonHarness daemon;
  const std::uint64_t blocker = daemon.submit("--gpus 2 --gpu-mem 1G -- sleep 3");
  daemon.wait_for_state(blocker, "RUNNING");
  const test_support::CliRun waited = daemon.fastgpu("submit -W --gpu-mem 1G -- true");
  EXPECT_EQ(waited.exit_code, 0) << waited.output;
  const std::string id = std::to_string(blocker + 1);
  EXPECT_TRUE(contains(waited.output, "fastgpu submit: job " + id + " waits: next in line: "))
      << waited.output;
  EXPECT_TRUE(std::regex_search(
      waited.output, std::regex("job " + id + R"( started on GPU [01] after [0-9.]+s\n)")))
      << waited.output;
  // One that starts at once is not told.
  const test_support::CliRun at_once = daemon.fastgpu("submit -W --gpu-mem 1G -- true");
  EXPECT_FALSE(contains(at_once.output, " waits: ")) << at_once.output;
  EXPECT_FALSE(contains(at_once.output, " started ")) << at_once.output;
}

// --follow prints one job's output, as text: with an array or --json it is refused before
// anything is submitted.
TEST(SubmitWaitE2E, FollowOfAnArrayOrAsJsonIsRefusedAndNothingIsSubmitted) {
  DaemonHarness daemon;
  (void)daemon.submit("--gpus 0 -- true");
  const std::size_t before = job_count(daemon);
  const test_support::CliRun array = daemon.fastgpu("submit --gpus 0 -f --array 0-3 -- true");
  EXPECT_EQ(array.exit_code, 2);
  EXPECT_TRUE(contains(array.output, "--follow prints one job's output, and --array makes 4 jobs"))
      << array.output;
  const test_support::CliRun as_json = daemon.fastgpu("submit --gpus 0 -f --json -- true");
  EXPECT_EQ(as_json.exit_code, 2);
  EXPECT_TRUE(contains(as_json.output, "--follow prints the job's output, not JSON"))
      << as_json.output;
  EXPECT_EQ(job_count(daemon), before);
}

// A shell function for the scripts below that signal a job's command as the job gets on:
// `until_there FILE` waits for the job to make FILE (in the work folder), 2 minutes at most.
constexpr const char* kUntilThere =
    "until_there() { i=0; while [ ! -e $1 ] && [ $i -lt 1200 ]; do sleep 0.1; "
    "i=$((i + 1)); done; }\n";

// Ctrl-C stops a job run in the foreground, as it stops a program run here: the job is
// cancelled (SIGTERM, its grace period), its last output still printed, then 130. The
// signal comes once the job runs (sent after a fixed 3 s, it came before the job started
// when the sanitizers slowed the start), twice at once, as GNU timeout sends it to the
// command and then to its process group: one stop.
TEST(SubmitWaitE2E, CtrlCCancelsTheJobAndWaitsForItsEnd) {
  DaemonHarness daemon;
  daemon.write_file("interrupt.sh", std::string(kUntilThere) +
                                        "\"$@\" & pid=$!\n"
                                        "until_there ready; kill -INT $pid; kill -INT $pid\n"
                                        "wait $pid\n");
  const test_support::CliRun run = daemon.fastgpu_under(
      "sh interrupt.sh",
      "submit --gpus 0 --follow --wrap 'trap \"echo saving; exit 5\" TERM; echo started; "
      "touch ready; while true; do sleep 0.1; done'");
  EXPECT_EQ(run.exit_code, 130) << run.output;
  const std::regex cancelling(R"(interrupted; cancelling job (\d+) )");
  std::smatch found;
  ASSERT_TRUE(std::regex_search(run.output, found, cancelling)) << run.output;
  EXPECT_TRUE(contains(run.output, "started\n")) << run.output;
  EXPECT_TRUE(contains(run.output, "saving\n")) << run.output;
  // It waited for the end: the job has ended by the time the command exits.
  EXPECT_EQ(daemon.job(std::stoull(found[1].str()))["state"], "CANCELLED");
}

// A second Ctrl-C, a moment later, stops waiting for a job that takes its time to stop; the
// job is still being cancelled, and the note says so. The script signals as the job gets on,
// not after fixed sleeps: two Ctrl-Cs that both come while the submit is still being sent are
// one pending signal (a slow start under the sanitizers merged them).
TEST(SubmitWaitE2E, ASecondCtrlCStopsWaitingWhileTheJobIsStopped) {
  DaemonHarness daemon;
  daemon.write_file("twice.sh", std::string(kUntilThere) +
                                    "\"$@\" & pid=$!\n"
                                    "until_there ready; kill -INT $pid\n"
                                    "until_there stopping; sleep 1; kill -INT $pid\n"
                                    "wait $pid\n");
  const test_support::CliRun run =
      daemon.fastgpu_under("sh twice.sh",
                           "submit --gpus 0 -W --grace 30s --wrap 'trap \"touch stopping; sleep "
                           "6\" TERM; touch ready; while true; do sleep 0.1; done'");
  EXPECT_EQ(run.exit_code, 130) << run.output;
  const std::regex note(R"(stopped waiting; job (\d+) is being cancelled)");
  std::smatch found;
  ASSERT_TRUE(std::regex_search(run.output, found, note)) << run.output;
  const std::uint64_t id = std::stoull(found[1].str());
  EXPECT_TRUE(daemon.job(id)["stopping"].is_object()) << daemon.job(id).dump();
  EXPECT_EQ(daemon.fastgpu("cancel " + std::to_string(id)).exit_code, 0);
}

}  // namespace
}  // namespace fastgpu
