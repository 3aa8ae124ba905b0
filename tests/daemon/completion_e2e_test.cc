// `fastgpu completion bash` in a real bash: the script it prints completes verbs, flags, the
// words some flags take, and the ids of the daemon's jobs, without ever starting a daemon.

#include <algorithm>
#include <string>
#include <vector>

#include "daemon/daemon_harness.h"

namespace fastgpu {
namespace {

using test_support::DaemonHarness;

// What bash offers for the words of `line` (the last one being completed, "" for a new
// word), one per line, in the harness's environment: COMPREPLY after the script's function.
std::string offered(const DaemonHarness& daemon, const std::vector<std::string>& words) {
  std::string array = DaemonHarness::quoted(FASTGPU_CLI_PATH);
  for (const std::string& word : words) array += " " + DaemonHarness::quoted(word);
  const std::string script = "source <(" + DaemonHarness::quoted(FASTGPU_CLI_PATH) +
                             " completion bash) || exit 9; COMP_WORDS=(" + array +
                             "); COMP_CWORD=" + std::to_string(words.size()) +
                             "; _fastgpu; printf '%s\\n' \"${COMPREPLY[@]}\" | sort";
  const test_support::CliRun run = daemon.shell("bash -c " + DaemonHarness::quoted(script));
  EXPECT_EQ(run.exit_code, 0) << run.output;
  return run.output;
}

TEST(CompletionE2E, BashCompletesVerbsFlagsAndTheirWords) {
  DaemonHarness daemon;
  EXPECT_EQ(offered(daemon, {"sub"}), "submit\n");
  EXPECT_EQ(offered(daemon, {"daemon", "st"}), "start\nstatus\nstop\n");
  EXPECT_EQ(offered(daemon, {"submit", "--gpu-"}), "--gpu-mem\n");
  EXPECT_EQ(offered(daemon, {"daemon", "start", "--polic"}), "--policy\n");
  EXPECT_EQ(offered(daemon, {"report", "--by", ""}), "day\ngpu\nname\nuser\n");
  EXPECT_EQ(offered(daemon, {"daemon", "run", "--policy", "f"}), "fair\nfifo\n");
  EXPECT_EQ(offered(daemon, {"ls", "--st"}), "--state\n");
  // A flag's words by its verb: `queue` lists what waits or runs, `history` what ended.
  EXPECT_EQ(offered(daemon, {"queue", "-t", ""}), "queued\nrunning\n");
  EXPECT_EQ(offered(daemon, {"history", "--state", "f"}), "failed\n");
  EXPECT_EQ(offered(daemon, {"submit", "--restartable", ""}), "false\ntrue\n");
  // A flag's value that is not a known word, and the job's own command after --: bash's
  // own (files), nothing of ours.
  EXPECT_EQ(offered(daemon, {"submit", "--gpu-mem", ""}), "\n");
  EXPECT_EQ(offered(daemon, {"submit", "--", "--gp"}), "\n");
}

// Each verb is offered the jobs it takes: `release` the held ones, `hold` those queued and
// not held, `cancel` those queued or running, `show` those too and the last that ended.
TEST(CompletionE2E, JobIdsComeFromARunningDaemonAndNoneIsStartedForThem) {
  DaemonHarness daemon;
  EXPECT_EQ(offered(daemon, {"cancel", ""}), "\n");
  EXPECT_NE(daemon.fastgpu("daemon status").exit_code, 0) << "completion started a daemon";
  const std::string held = std::to_string(daemon.submit("--hold --gpus 0 -- true"));
  const std::uint64_t ended = daemon.submit("--gpus 0 -- true");
  daemon.wait_for_state(ended, "COMPLETED");
  const std::string waiting =
      std::to_string(daemon.submit("--gpus 0 --after " + held + " -- true"));
  const auto lines = [](std::vector<std::string> ids) {
    std::sort(ids.begin(), ids.end());
    std::string text;
    for (const std::string& id : ids) text += id + "\n";
    return text;
  };
  EXPECT_EQ(offered(daemon, {"show", ""}), lines({held, std::to_string(ended), waiting}));
  EXPECT_EQ(offered(daemon, {"resubmit", ""}), lines({held, std::to_string(ended), waiting}));
  EXPECT_EQ(offered(daemon, {"release", ""}), lines({held}));
  EXPECT_EQ(offered(daemon, {"hold", ""}), lines({waiting}));
  EXPECT_EQ(offered(daemon, {"cancel", ""}), lines({held, waiting}));
  EXPECT_EQ(offered(daemon, {"wait", ""}), lines({held, waiting}));
  daemon.fastgpu("cancel " + held + " " + waiting);
}

TEST(CompletionE2E, AnotherShellIsRefused) {
  DaemonHarness daemon;
  const test_support::CliRun run = daemon.fastgpu("completion zsh");
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_NE(run.output.find("zsh"), std::string::npos) << run.output;
}

}  // namespace
}  // namespace fastgpu
