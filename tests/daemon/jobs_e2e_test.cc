// End-to-end: the built `fastgpu` binary, a real daemon on a private socket,
// real job processes, simulated GPUs. Every test waits by polling with generous
// timeouts.

#include <fmt/format.h>
#include <grp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <fstream>
#include <iterator>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "daemon/daemon_harness.h"

namespace fastgpu {
namespace {

using nlohmann::json;
using test_support::contains;
using test_support::DaemonHarness;

// A job's shell command, quoted, that runs `then` once the file `go` is in its folder (a
// minute at most): its end comes after what the test does before writing it.
std::string once_go_is_written(const std::string& then) {
  return DaemonHarness::quoted(
      "n=0; while [ ! -e go ] && [ $n -lt 1200 ]; do sleep 0.05; n=$((n+1)); done; " + then);
}

std::size_t job_count(const DaemonHarness& daemon) {
  const json queue = daemon.fastgpu_json("queue");
  const json history = daemon.fastgpu_json("history");
  return queue["jobs"].size() + history["jobs"].size();
}

TEST(JobsE2E, SubmitAutoStartsTheDaemonAndTheLogShowsThePlacement) {
  DaemonHarness daemon;
  std::string output;
  const std::uint64_t id =
      daemon.submit("--gpus 1 --gpu-mem 10G --wrap 'echo CVD=$CUDA_VISIBLE_DEVICES'", &output);
  ASSERT_GT(id, 0u) << output;
  EXPECT_TRUE(contains(output, "started a daemon")) << output;
  const json job = daemon.wait_for_state(id, "COMPLETED");
  ASSERT_EQ(job["placed_gpus"].size(), 1u) << job.dump();
  EXPECT_EQ(daemon.log_of(id), "CVD=" + job["placed_gpus"][0].dump() + "\n");
  EXPECT_EQ(job["exit_code"], 0);
}

// A script keeps its own flags (`#FASTGPU`, as `#SBATCH`): `fastgpu submit ./train.sh` runs it
// as they ask, the command line's flags winning; a bad line is refused with its place, and
// nothing is queued.
TEST(JobsE2E, AScriptsFastgpuLinesAreItsSubmitFlags) {
  DaemonHarness daemon;
  daemon.write_file("train.sh",
                    "#!/bin/sh\n"
                    "#FASTGPU --name scripted --gpus 2 --gpu-mem 10G\n"
                    "#FASTGPU --time 30m --env EPOCHS=3\n"
                    "echo \"epochs=$EPOCHS args=$* gpus=$CUDA_VISIBLE_DEVICES\"\n");
  std::filesystem::permissions(daemon.work() / "train.sh", std::filesystem::perms::owner_exec,
                               std::filesystem::perm_options::add);
  const std::uint64_t id = daemon.submit("--time 5m -- ./train.sh a b");
  const json job = daemon.wait_for_state(id, "COMPLETED");
  EXPECT_EQ(job["spec"]["name"], "scripted");
  EXPECT_EQ(job["spec"]["gpus"], 2);
  EXPECT_EQ(job["spec"]["time_limit_s"], 300) << "the command line's --time wins";
  EXPECT_EQ(daemon.log_of(id), "epochs=3 args=a b gpus=0,1\n");
  // The same through an interpreter.
  const std::uint64_t again = daemon.submit("-- sh train.sh");
  EXPECT_EQ(daemon.wait_for_state(again, "COMPLETED")["spec"]["time_limit_s"], 1800);

  daemon.write_file("bad.sh", "#!/bin/sh\n#FASTGPU --gpus 1\n#FASTGPU --gpu-memory 10G\ntrue\n");
  const test_support::CliRun refused = daemon.fastgpu("submit -- sh bad.sh");
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_TRUE(contains(refused.output,
                       "fastgpu submit: bad.sh:3: #FASTGPU --gpu-memory 10G: '--gpu-memory' is "
                       "not a flag of `fastgpu submit`"))
      << refused.output;
  EXPECT_EQ(daemon.fastgpu_json("history")["jobs"].size(), 2u) << "nothing more was queued";

  // A Slurm script: what means something here is read, the rest said and left out.
  daemon.write_file("slurm.sh",
                    "#!/bin/bash\n#SBATCH --job-name=from-slurm --partition=gpu\n"
                    "#SBATCH --gres=gpu:1 --time=00:10:00 --output=slurm-%j.out\ntrue\n");
  const test_support::CliRun slurm = daemon.fastgpu("submit -W -- bash slurm.sh");
  EXPECT_EQ(slurm.exit_code, 0) << slurm.output;
  EXPECT_TRUE(contains(slurm.output,
                       "fastgpu submit: slurm.sh: #SBATCH options that mean nothing here were "
                       "left out: --partition gpu, --output slurm-%j.out (the job's output goes "
                       "to its log: `fastgpu logs ID`)\n"))
      << slurm.output;
  const json slurm_job = daemon.fastgpu_json("history")["jobs"][2];
  EXPECT_EQ(slurm_job["spec"]["name"], "from-slurm");
  EXPECT_EQ(slurm_job["spec"]["time_limit_s"], 600);
}

// `submit -- pyhton3 train.py` was queued, waited its turn (hours, on a busy box) and then
// failed with exit 127. A program that is not there, as the job will look for it (its PATH,
// from its folder), is refused at submit, naming it and the PATH; a job that waits for
// another (or is held) is not checked, since the program may be made by then.
TEST(JobsE2E, AProgramThatIsNotThereIsRefusedAtSubmit) {
  DaemonHarness daemon;
  const test_support::CliRun typo = daemon.fastgpu("submit --gpus 0 -- pyhton3 -c 1");
  EXPECT_EQ(typo.exit_code, 2) << typo.output;
  EXPECT_TRUE(
      contains(typo.output, "fastgpu submit: 'pyhton3' is not a program in the job's PATH ("))
      << typo.output;
  EXPECT_TRUE(contains(typo.output,
                       "): check the name, or give its path (./pyhton3 for one in the job's "
                       "folder) (nothing was submitted)"))
      << typo.output;
  const test_support::CliRun path =
      daemon.fastgpu("submit --gpus 0 --env PATH=/nonexistent:bin -- tool");
  EXPECT_EQ(path.exit_code, 2) << path.output;
  // The daemon puts its own folder first, where fastgpu-burn-cpu is found by name.
  EXPECT_TRUE(contains(path.output,
                       "'tool' is not a program in the job's PATH (" +
                           std::filesystem::path(FASTGPU_CLI_PATH).parent_path().string() + ":"))
      << path.output;
  EXPECT_TRUE(contains(path.output, ":/nonexistent:bin): check the name")) << path.output;
  const test_support::CliRun relative = daemon.fastgpu("submit --gpus 0 -- ./missing.sh");
  EXPECT_EQ(relative.exit_code, 2) << relative.output;
  EXPECT_TRUE(contains(relative.output, "'./missing.sh' does not exist (in the job's folder " +
                                            daemon.work().string() +
                                            "): check the path, or submit with --after the job "
                                            "that makes it"))
      << relative.output;
  EXPECT_EQ(daemon.fastgpu("submit --gpus 0 --array 0-99 -- /nonexistent/tool").exit_code, 2);
  EXPECT_EQ(daemon.fastgpu_json("history")["jobs"].size(), 0u) << "nothing was queued";
  EXPECT_EQ(daemon.fastgpu_json("queue")["jobs"].size(), 0u) << "nothing was queued";
  const std::uint64_t burn = daemon.submit(
      "--gpus 0 --env PATH=/nonexistent -- fastgpu-burn-cpu --mem 1M --size 8 --time 0.1s");
  EXPECT_EQ(daemon.wait_for_state(burn, "COMPLETED")["exit_code"], 0);

  // Found as the job finds it: on the job's own PATH, a relative folder of it read from the
  // job's folder, and a path read from a --workdir.
  std::filesystem::create_directories(daemon.work() / "bin");
  std::filesystem::create_directories(daemon.work() / "sub");
  daemon.write_file("bin/tool", "#!/bin/sh\necho tool ran in \"${PWD##*/}\"\n");
  daemon.write_file("sub/step.sh", "#!/bin/sh\necho step ran\n");
  for (const char* script : {"bin/tool", "sub/step.sh"}) {
    std::filesystem::permissions(daemon.work() / script, std::filesystem::perms::owner_exec,
                                 std::filesystem::perm_options::add);
  }
  const std::uint64_t tool = daemon.submit("--gpus 0 --env PATH=/nonexistent:bin -- tool");
  EXPECT_EQ(daemon.wait_for_state(tool, "COMPLETED")["exit_code"], 0);
  EXPECT_EQ(daemon.log_of(tool), "tool ran in work\n");
  const std::uint64_t step = daemon.submit("--gpus 0 --workdir sub -- ./step.sh");
  EXPECT_EQ(daemon.wait_for_state(step, "COMPLETED")["exit_code"], 0);
  // Run again once its script is gone: told at once, as at submit.
  std::filesystem::remove(daemon.work() / "sub" / "step.sh");
  const test_support::CliRun again = daemon.fastgpu("resubmit " + std::to_string(step));
  EXPECT_EQ(again.exit_code, 1) << again.output;
  EXPECT_TRUE(contains(again.output, "fastgpu resubmit: job " + std::to_string(step) +
                                         " again: './step.sh' does not exist (in the job's "
                                         "folder " +
                                         (daemon.work() / "sub").string() + ")"))
      << again.output;
  // Held: queued, unchecked, for the program to be made before its release.
  const std::uint64_t held = daemon.submit("--gpus 0 --hold -- ./made-later.sh");
  EXPECT_EQ(daemon.job(held)["state"], "QUEUED");
  daemon.fastgpu("cancel " + std::to_string(held));

  // A job file: refused whole, at the job's place.
  daemon.write_file("jobs.yaml",
                    "jobs:\n  - {name: a, gpus: 0, command: [true]}\n"
                    "  - {name: b, gpus: 0, command: [tpyo, x]}\n");
  const test_support::CliRun ran = daemon.fastgpu("run jobs.yaml");
  EXPECT_EQ(ran.exit_code, 1) << ran.output;
  EXPECT_TRUE(contains(ran.output,
                       "fastgpu run: jobs.yaml:3:5: job 2 'b': 'tpyo' is not a program "
                       "in the job's PATH ("))
      << ran.output;
  EXPECT_EQ(daemon.fastgpu_json("history")["jobs"].size(), 4u) << "none of the file's jobs ran";
}

// `fastgpu run` takes a script in place of a job file: one job, its lines read as submit
// reads them, named after the script; one without an x bit runs through its #! line; the
// words after it are its arguments.
TEST(JobsE2E, RunTakesAScriptAsOneJobWithItsLines) {
  DaemonHarness daemon;
  daemon.write_file("train.sh",
                    "#!/bin/sh\n"
                    "#FASTGPU --gpus 2 --time 30m --env EPOCHS=3\n"
                    "#SBATCH --partition=gpu\n"
                    "echo \"epochs=$EPOCHS gpus=$CUDA_VISIBLE_DEVICES\"\n");
  const test_support::CliRun ran = daemon.fastgpu("run train.sh");
  EXPECT_EQ(ran.exit_code, 0) << ran.output;
  EXPECT_TRUE(contains(ran.output,
                       "fastgpu run: train.sh: #SBATCH options that mean nothing here were left "
                       "out: --partition gpu\n"))
      << ran.output;
  EXPECT_TRUE(contains(ran.output, "jobs        1: 1 COMPLETED")) << ran.output;
  const json job = daemon.fastgpu_json("history")["jobs"][0];
  EXPECT_EQ(job["spec"]["name"], "train.sh");
  EXPECT_EQ(job["spec"]["gpus"], 2);
  EXPECT_EQ(job["spec"]["time_limit_s"], 1800);
  EXPECT_EQ(job["spec"]["argv"][0], "/bin/sh") << "no x bit: through its #! line";
  EXPECT_EQ(daemon.log_of(job["id"].get<std::uint64_t>()), "epochs=3 gpus=0,1\n");

  // Its arguments after it, as sbatch passes them; those starting with - after --.
  daemon.write_file("args.sh", "#!/bin/sh\n#FASTGPU --gpus 0\nprintf '[%s]' \"$@\"\n");
  ASSERT_EQ(daemon.fastgpu("run args.sh a 'b c'").exit_code, 0);
  ASSERT_EQ(daemon.fastgpu("run args.sh --json -- --lr 0.1").exit_code, 0);
  const json runs = daemon.fastgpu_json("history --name args.sh");
  ASSERT_EQ(runs["jobs"].size(), 2u) << runs;
  EXPECT_EQ(daemon.log_of(runs["jobs"][0]["id"].get<std::uint64_t>()), "[a][b c]");
  EXPECT_EQ(daemon.log_of(runs["jobs"][1]["id"].get<std::uint64_t>()), "[--lr][0.1]");
  const test_support::CliRun flag = daemon.fastgpu("run args.sh --lr 0.1");
  EXPECT_EQ(flag.exit_code, 2) << flag.output;
  EXPECT_TRUE(contains(flag.output,
                       "'--lr' is not an option of this command; arguments for a "
                       "batch script go after --: `fastgpu run SCRIPT -- --lr ...`"))
      << flag.output;
  daemon.write_file("one.yaml", "name: one\ngpus: 0\ncommand: [true]\n");
  const test_support::CliRun file_args = daemon.fastgpu("run one.yaml extra");
  EXPECT_EQ(file_args.exit_code, 1) << file_args.output;
  EXPECT_TRUE(contains(file_args.output,
                       "fastgpu run: 'one.yaml' is a job file, and the words after it (extra) are "
                       "arguments for a batch script (a file starting with #!): give each job its "
                       "arguments in its `command`"))
      << file_args.output;

  daemon.write_file("bad.sh", "#!/bin/sh\n#FASTGPU --gpus two\ntrue\n");
  const test_support::CliRun refused = daemon.fastgpu("run bad.sh");
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_TRUE(contains(refused.output, "fastgpu run: bad.sh:2: #FASTGPU --gpus two: "))
      << refused.output;
  EXPECT_EQ(daemon.fastgpu_json("history")["jobs"].size(), 3u) << "nothing more was queued";
}

// alice submitted under umask 027 and her job ran with the daemon's 0022: what it made was
// open to every user. `submit` and `run FILE.yaml` give a job their caller's umask; a job
// sent through the API without one has the daemon's.
TEST(JobsE2E, AJobRunsWithItsSubmittersUmask) {
  DaemonHarness daemon;
  ASSERT_EQ(daemon.fastgpu_under(R"(sh -c 'umask 022; exec "$0" "$@"')", "daemon start").exit_code,
            0);
  const std::string as_027 = R"(sh -c 'umask 027; exec "$0" "$@"')";
  const test_support::CliRun submitted =
      daemon.fastgpu_under(as_027, "submit --gpus 0 --wrap 'umask; touch made; stat -c %a made'");
  ASSERT_EQ(submitted.exit_code, 0) << submitted.output;
  const std::uint64_t id = std::stoull(submitted.output);
  EXPECT_EQ(daemon.wait_for_state(id, "COMPLETED")["spec"]["umask"], "0027");
  EXPECT_EQ(daemon.log_of(id), "0027\n640\n");

  daemon.write_file("jobs.yaml", "name: filed\ngpus: 0\ncommand: umask\n");
  const test_support::CliRun ran = daemon.fastgpu_under(as_027, "run jobs.yaml --json");
  ASSERT_EQ(ran.exit_code, 0) << ran.output;
  const json queue = daemon.fastgpu_json("history");
  ASSERT_EQ(queue["jobs"].size(), 2u) << queue.dump();
  EXPECT_EQ(daemon.log_of(queue["jobs"][1]["id"].get<std::uint64_t>()), "0027\n");

  const std::vector<std::uint64_t> sent =
      daemon.submit_api({{"jobs", json::array({{{"shell_command", "umask"},
                                                {"working_dir", daemon.work().string()},
                                                {"gpus", 0}}})}});
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(daemon.wait_for_state(sent[0], "COMPLETED")["spec"]["umask"].is_null());
  EXPECT_EQ(daemon.log_of(sent[0]), "0022\n");  // the daemon's
}

// `ulimit -s unlimited; fastgpu submit ./solver` ran the solver with the daemon's stack, set
// when the first command started it: a code with large arrays on the stack crashed here and
// ran under Slurm. `submit` and `run FILE.yaml` give a job their caller's limits, `show`
// lists them; a job sent through the API without any has the daemon's.
TEST(JobsE2E, AJobRunsWithItsSubmittersLimits) {
  DaemonHarness daemon;
  ASSERT_EQ(daemon
                .fastgpu_under(R"(sh -c 'ulimit -S -s 8192; ulimit -S -n 1000; exec "$0" "$@"')",
                               "daemon start")
                .exit_code,
            0);
  const std::string limited = R"(sh -c 'ulimit -S -s 4096; ulimit -S -n 333; exec "$0" "$@"')";
  const test_support::CliRun submitted =
      daemon.fastgpu_under(limited, "submit --gpus 0 --wrap 'ulimit -S -s; ulimit -S -n'");
  ASSERT_EQ(submitted.exit_code, 0) << submitted.output;
  const std::uint64_t id = std::stoull(submitted.output);
  const json limits = daemon.wait_for_state(id, "COMPLETED")["spec"]["limits"];
  EXPECT_EQ(limits["stack"]["soft"], 4096 * 1024) << limits.dump();
  EXPECT_EQ(limits["nofile"]["soft"], 333) << limits.dump();
  EXPECT_EQ(daemon.log_of(id), "4096\n333\n");
  const test_support::CliRun shown = daemon.fastgpu("show " + std::to_string(id));
  EXPECT_TRUE(contains(shown.output, "nofile 333 (hard ")) << shown.output;
  EXPECT_TRUE(contains(shown.output, "stack 4M")) << shown.output;

  daemon.write_file("jobs.yaml", "name: filed\ngpus: 0\ncommand: ulimit -S -n\n");
  const test_support::CliRun ran = daemon.fastgpu_under(limited, "run jobs.yaml --json");
  ASSERT_EQ(ran.exit_code, 0) << ran.output;
  const json queue = daemon.fastgpu_json("history");
  ASSERT_EQ(queue["jobs"].size(), 2u) << queue.dump();
  EXPECT_EQ(daemon.log_of(queue["jobs"][1]["id"].get<std::uint64_t>()), "333\n");

  const std::vector<std::uint64_t> sent =
      daemon.submit_api({{"jobs", json::array({{{"shell_command", "ulimit -S -s; ulimit -S -n"},
                                                {"working_dir", daemon.work().string()},
                                                {"gpus", 0}}})}});
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(daemon.wait_for_state(sent[0], "COMPLETED")["spec"]["limits"].is_null());
  EXPECT_EQ(daemon.log_of(sent[0]), "8192\n1000\n");  // the daemon's
}

// A job the kernel stops at its submitter's `ulimit -t` says so, where it said only "killed
// by SIGXCPU" and left the user to guess at the daemon, the GPU or the program.
TEST(JobsE2E, AJobKilledAtItsCpuLimitSaysWhichLimit) {
  DaemonHarness daemon;
  ASSERT_EQ(daemon.fastgpu("daemon start").exit_code, 0);
  // The client runs under the limit too, and the sanitizer build's client spends most of a CPU
  // second relocating itself before main: 3 s leaves it room on a loaded machine.
  const test_support::CliRun submitted = daemon.fastgpu_under(
      R"(sh -c 'ulimit -S -t 3; exec "$0" "$@"')", "submit --gpus 0 --wrap 'while :; do :; done'");
  ASSERT_EQ(submitted.exit_code, 0) << submitted.output;
  const json job = daemon.wait_for_state(std::stoull(submitted.output), "FAILED");
  EXPECT_EQ(job["end_reason"],
            "killed by SIGXCPU: its CPU time reached its limit (ulimit -t; 3 s as submitted)")
      << job.dump();
  // `wait` says it too, where "(signal 24)" alone left the user to guess.
  const std::string id = std::to_string(job["id"].get<std::uint64_t>());
  const test_support::CliRun waited = daemon.fastgpu("wait " + id);
  EXPECT_TRUE(contains(waited.output, "job " + id + ": FAILED (signal " + std::to_string(SIGXCPU) +
                                          "): killed by SIGXCPU: its CPU time reached its limit"))
      << waited.output;
}

// What root's shared daemon answers a POST of `body` to /v1/jobs from a process of uid 1001
// whose nofile hard limit is `hard`: "STATUS BODY", or why it could not be asked.
std::string submit_as_uid_1001(const std::filesystem::path& socket, const std::string& body,
                               rlim_t hard) {
  int answer[2];
  if (::pipe(answer) != 0) return "no pipe";
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(answer[0]);
    std::string said = "cannot become uid 1001 with the nofile hard limit";
    const rlimit files{hard, hard};
    if (::setrlimit(RLIMIT_NOFILE, &files) == 0 && ::setgroups(0, nullptr) == 0 &&
        ::setgid(1001) == 0 && ::setuid(1001) == 0) {
      const Result<api::ApiReply> reply = api::ApiClient(socket).exchange("POST", "/v1/jobs", body);
      said = reply.ok() ? std::to_string(reply->status) + " " + reply->body.dump()
                        : reply.status().to_string();
    }
    const ssize_t written = ::write(answer[1], said.data(), said.size());
    ::_exit(written == static_cast<ssize_t>(said.size()) ? 0 : 1);
  }
  ::close(answer[1]);
  std::string said;
  char buffer[4096];
  for (ssize_t got = 0; (got = ::read(answer[0], buffer, sizeof buffer)) > 0;)
    said.append(buffer, got);
  ::close(answer[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  return said;
}

// Root's shared daemon sets a job's limits as root, before the job becomes its user: a user
// who sent {"nofile": {"hard": ...}} above their own would have got, through the daemon,
// more than the system gives them. The daemon reads the caller's process's own limits
// through the socket's SO_PEERCRED and refuses any above them.
TEST(JobsE2E, ASharedDaemonRefusesAUserLimitsAboveTheirOwn) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root, to run a shared daemon and another user";
  DaemonHarness daemon;
  ASSERT_EQ(::chmod(daemon.socket().parent_path().c_str(), 0755), 0);
  ASSERT_EQ(daemon.fastgpu("daemon start --shared").exit_code, 0);
  const auto batch = [](int soft, int hard) {
    return json{
        {"jobs", json::array({{{"shell_command", "ulimit -n"},
                               {"working_dir", "/tmp"},
                               {"gpus", 0},
                               {"limits", {{"nofile", {{"soft", soft}, {"hard", hard}}}}}}})}}
        .dump();
  };
  const std::string refused = submit_as_uid_1001(daemon.socket(), batch(100, 2000), 1000);
  EXPECT_TRUE(refused.starts_with("403 ")) << refused;
  EXPECT_TRUE(
      contains(refused, "the job asks for a nofile hard limit of 2000, above your own (1000)"))
      << refused;
  EXPECT_EQ(daemon.fastgpu_json("history --all-users")["jobs"].size(), 0u);

  const std::string taken = submit_as_uid_1001(daemon.socket(), batch(100, 1000), 1000);
  ASSERT_TRUE(taken.starts_with("201 ")) << taken;
  const std::uint64_t id = json::parse(taken.substr(4))["ids"][0].get<std::uint64_t>();
  const json job = daemon.job(id);
  EXPECT_EQ(job["uid"], 1001) << job.dump();
  EXPECT_EQ(job["spec"]["limits"]["nofile"], (json{{"soft", 100}, {"hard", 1000}})) << job.dump();
  // A job that names no limit has the user's own, not root's.
  const std::string bare = submit_as_uid_1001(
      daemon.socket(),
      json{{"jobs",
            json::array({{{"shell_command", "true"}, {"working_dir", "/tmp"}, {"gpus", 0}}})}}
          .dump(),
      1000);
  ASSERT_TRUE(bare.starts_with("201 ")) << bare;
  const json none = daemon.job(json::parse(bare.substr(4))["ids"][0].get<std::uint64_t>());
  EXPECT_EQ(none["spec"]["limits"]["nofile"], (json{{"soft", 1000}, {"hard", 1000}}))
      << none.dump();
}

// Root sees a user's job on its shared daemon but does not run it again: resubmitted by
// root, it would run that user's command as root.
TEST(JobsE2E, RootDoesNotResubmitAnotherUsersJob) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root, to run a shared daemon and another user";
  DaemonHarness daemon;
  ASSERT_EQ(::chmod(daemon.socket().parent_path().c_str(), 0755), 0);
  ASSERT_EQ(daemon.fastgpu("daemon start --shared").exit_code, 0);
  const std::string taken = submit_as_uid_1001(
      daemon.socket(),
      json{{"jobs",
            json::array({{{"shell_command", "true"}, {"working_dir", "/tmp"}, {"gpus", 0}}})}}
          .dump(),
      1000);
  ASSERT_TRUE(taken.starts_with("201 ")) << taken;
  const std::uint64_t id = json::parse(taken.substr(4))["ids"][0].get<std::uint64_t>();
  const test_support::CliRun again = daemon.fastgpu("resubmit " + std::to_string(id));
  EXPECT_EQ(again.exit_code, 1) << again.output;
  EXPECT_TRUE(contains(again.output,
                       "(uid 1001), not to you (uid 0): resubmitted by you it "
                       "would run their command as you; its owner may resubmit it"))
      << again.output;
  const test_support::CliRun range =
      daemon.fastgpu("resubmit " + std::to_string(id) + "-" + std::to_string(id));
  EXPECT_EQ(range.exit_code, 1) << range.output;
  EXPECT_EQ(daemon.fastgpu_json("history --all-users")["jobs"].size(), 1u);
}

TEST(JobsE2E, TwoFortyGigJobsShareAnEightyGigGpuAndAThirdWaits) {
  DaemonHarness daemon("1xH100-80G");
  const std::uint64_t first = daemon.submit("--gpu-mem 40G --share 0.5 -- sleep 60");
  const std::uint64_t second = daemon.submit("--gpu-mem 40G --share 0.5 -- sleep 60");
  const std::uint64_t third = daemon.submit("--gpu-mem 40G --share 0.5 -- true");
  const json a = daemon.wait_for_state(first, "RUNNING");
  const json b = daemon.wait_for_state(second, "RUNNING");
  EXPECT_EQ(a["placed_gpus"], json::array({0}));
  EXPECT_EQ(b["placed_gpus"], json::array({0}));
  EXPECT_EQ(daemon.job(third)["state"], "QUEUED");
  ASSERT_EQ(daemon.fastgpu("cancel " + std::to_string(first)).exit_code, 0);
  daemon.wait_for_state(first, "CANCELLED");
  daemon.wait_for_state(third, "COMPLETED");
}

TEST(JobsE2E, ADependentJobStartsAfterItsDependencyEnded) {
  DaemonHarness daemon;
  const std::uint64_t first = daemon.submit("--gpus 0 -- sleep 1");
  const std::uint64_t second =
      daemon.submit("--gpus 0 --after " + std::to_string(first) + " -- true");
  const json a = daemon.wait_for_state(first, "COMPLETED");
  const json b = daemon.wait_for_state(second, "COMPLETED");
  EXPECT_GE(b["start_time_us"].get<std::int64_t>(), a["end_time_us"].get<std::int64_t>());
}

TEST(JobsE2E, ArrayWithLimitNeverRunsMoreThanTheLimitAtOnce) {
  DaemonHarness daemon("4xH100-80G");
  std::string output;
  daemon.submit(
      "--array 0-5%2 --gpu-mem 1G --wrap 'echo "
      "index=$FASTGPU_ARRAY_INDEX; sleep 1'",
      &output);
  // The members' ids as submit printed them, one per line (the queue would list only
  // those not ended yet: on a loaded machine the first two may be done by then).
  std::vector<std::uint64_t> ids;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && std::isdigit(static_cast<unsigned char>(line[0]))) {
      ids.push_back(std::stoull(line));
    }
  }
  ASSERT_EQ(ids.size(), 6u) << output;
  std::vector<std::pair<std::int64_t, std::int64_t>> runs;
  std::set<std::string> logs;
  for (const std::uint64_t id : ids) {
    const json job = daemon.wait_for_state(id, "COMPLETED");
    runs.emplace_back(job["start_time_us"].get<std::int64_t>(),
                      job["end_time_us"].get<std::int64_t>());
    logs.insert(daemon.log_of(id));
  }
  EXPECT_EQ(logs.size(), 6u);  // every index printed its own line
  for (const auto& [start, end] : runs) {
    // Members running at this one's start, itself included.
    const auto overlapping =
        std::count_if(runs.begin(), runs.end(), [start = start](const auto& other) {
          return other.first <= start && start < other.second;
        });
    EXPECT_LE(overlapping, 2);
  }
}

TEST(JobsE2E, BadSubmitFlagAndImpossibleRequestAreRefusedAndNothingIsStored) {
  DaemonHarness daemon("2xH100-80G");
  test_support::CliRun bad = daemon.fastgpu("submit --gpu-mem 20X -- true");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_TRUE(contains(bad.output, "20X")) << bad.output;
  bad = daemon.fastgpu("submit --gpus 3 -- true");
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_TRUE(contains(bad.output, "3")) << bad.output;
  bad = daemon.fastgpu("submit --gpu-mem 100G -- true");
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_EQ(job_count(daemon), 0u);
}

TEST(JobsE2E, BadJobFilesAreRefusedWithTheirMessageAndNothingIsStored) {
  DaemonHarness daemon;
  daemon.write_file("broken.yaml", "jobs:\n  - name: a\n    command: [true\n");
  test_support::CliRun run = daemon.fastgpu("run broken.yaml");
  EXPECT_NE(run.exit_code, 0) << run.output;
  EXPECT_TRUE(contains(run.output, "broken.yaml")) << run.output;
  daemon.write_file("unknown.yaml", "- name: a\n  command: [\"true\"]\n  gpu-memory: 5G\n");
  run = daemon.fastgpu("run unknown.yaml");
  EXPECT_NE(run.exit_code, 0) << run.output;
  EXPECT_TRUE(contains(run.output, "gpu-memory")) << run.output;
  daemon.write_file("huge.yaml", "- name: a\n  command: [\"true\"]\n  gpus: 1\n  gpu-mem: 500G\n");
  run = daemon.fastgpu("run huge.yaml");
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_TRUE(contains(run.output, "huge.yaml:1:3: job 1 'a': declares 500 GiB of GPU memory"))
      << run.output;
  EXPECT_EQ(job_count(daemon), 0u);
}

// Five jobs, three of which ask for more than the daemon's two 80 GB GPUs hold. The daemon
// refused the first alone: the user fixed it, ran the file again and learnt of the next.
constexpr const char* kThreeImpossibleOfFive =
    "- name: fine\n  command: [\"true\"]\n"
    "- name: wide\n  command: [\"true\"]\n  gpus: 3\n"
    "- name: huge\n  command: [\"true\"]\n  gpus: 1\n  gpu-mem: 500G\n"
    "- name: also-fine\n  command: [\"true\"]\n"
    "- name: wider\n  command: [\"true\"]\n  gpus: 4\n";

TEST(JobsE2E, TheApiNamesEveryRefusedJobOfABatchAndStoresNothing) {
  DaemonHarness daemon;
  ASSERT_EQ(daemon.fastgpu("daemon start").exit_code, 0);
  json batch = {{"jobs", json::array()}};
  for (const auto& [name, gpus] : std::vector<std::pair<std::string, int>>{
           {"fine", 0}, {"wide", 3}, {"huge", 1}, {"also-fine", 0}, {"wider", 4}}) {
    json job = {{"name", name}, {"argv", {"true"}}, {"working_dir", "/"}, {"gpus", gpus}};
    if (name == "huge") job["gpu_mem"] = 500LL << 30;
    batch["jobs"].push_back(job);
  }
  const Result<api::ApiReply> reply =
      api::ApiClient(daemon.socket()).exchange("POST", "/v1/jobs", batch.dump());
  ASSERT_TRUE(reply.ok()) << reply.status().to_string();
  EXPECT_EQ(reply->status, 400) << reply->body.dump();
  const json& refused = reply->body["refused"];
  ASSERT_EQ(refused.size(), 3u) << reply->body.dump();
  EXPECT_EQ(refused[0]["batch_index"], 1);
  EXPECT_EQ(refused[0]["field"], "gpus");
  EXPECT_EQ(refused[0]["problem"], "asks for 3 GPUs, but this machine has 2; ask for at most 2");
  EXPECT_EQ(refused[0]["error"],
            "job 1 of the batch ('wide') asks for 3 GPUs, but this machine has 2; ask for at "
            "most 2");
  EXPECT_EQ(refused[1]["batch_index"], 2);
  EXPECT_EQ(refused[1]["field"], "gpu_mem");
  EXPECT_EQ(refused[2]["batch_index"], 4);
  // Old clients read the first, as before, and a message that names all three.
  EXPECT_EQ(reply->body["batch_index"], 1);
  EXPECT_EQ(reply->body["problem"], refused[0]["problem"]);
  const std::string error = reply->body["error"].get<std::string>();
  EXPECT_TRUE(contains(error, "3 jobs of the batch are refused; nothing was submitted")) << error;
  EXPECT_TRUE(contains(error, "\njob 2 of the batch ('huge') declares 500 GiB")) << error;
  EXPECT_TRUE(contains(error, "\njob 4 of the batch ('wider') asks for 4 GPUs")) << error;
  EXPECT_EQ(job_count(daemon), 0u);
}

TEST(JobsE2E, RunListsEveryJobTheDaemonRefusesAtItsPlaceInTheFile) {
  DaemonHarness daemon;
  daemon.write_file("five.yaml", kThreeImpossibleOfFive);
  const test_support::CliRun run = daemon.fastgpu("run five.yaml");
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_TRUE(contains(run.output,
                       "fastgpu run: the daemon refused 3 of five.yaml's jobs; nothing was "
                       "submitted (a job file is taken whole or not at all):\n"
                       "five.yaml:3:3: job 2 'wide': asks for 3 GPUs, but this machine has 2; "
                       "ask for at most 2\n"
                       "five.yaml:6:3: job 3 'huge': declares 500 GiB of GPU memory per GPU"))
      << run.output;
  EXPECT_TRUE(contains(run.output,
                       "\nfive.yaml:12:3: job 5 'wider': asks for 4 GPUs, but this machine has 2; "
                       "ask for at most 2"))
      << run.output;
  EXPECT_EQ(job_count(daemon), 0u);

  // One refused job reads as it always did.
  daemon.write_file("one.yaml",
                    "- name: fine\n  command: [\"true\"]\n"
                    "- name: wide\n  command: [\"true\"]\n  gpus: 3\n");
  const test_support::CliRun one = daemon.fastgpu("run one.yaml");
  EXPECT_EQ(one.exit_code, 1) << one.output;
  EXPECT_TRUE(contains(one.output,
                       "fastgpu run: one.yaml:3:3: job 2 'wide': asks for 3 GPUs, "
                       "but this machine has 2; ask for at most 2\n"))
      << one.output;

  // `submit --array`: the members' shared refusal is one line.
  const test_support::CliRun array = daemon.fastgpu("submit --array 0-9 --gpus 3 -- true");
  EXPECT_EQ(array.exit_code, 1) << array.output;
  EXPECT_TRUE(contains(array.output,
                       "fastgpu submit: array member 0 asks for 3 GPUs, but this machine has 2; "
                       "ask for at most 2 (array members 1, 2, 3, 4, 5 and 4 more too)\n"))
      << array.output;
  EXPECT_EQ(job_count(daemon), 0u);
}

TEST(JobsE2E, RunPrintsTheBatchReport) {
  DaemonHarness daemon;
  daemon.write_file("batch.yaml",
                    "- name: one\n  command: [\"sleep\", \"1\"]\n  gpu-mem: 10G\n"
                    "- name: two\n  command: [\"sleep\", \"1\"]\n  gpu-mem: 10G\n");
  const test_support::CliRun run = daemon.fastgpu("run batch.yaml");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(contains(run.output, "GPUs are simulated")) << run.output;
  EXPECT_TRUE(contains(run.output, "makespan")) << run.output;
  EXPECT_TRUE(contains(run.output, "one")) << run.output;
  EXPECT_TRUE(contains(run.output, "two")) << run.output;
}

TEST(JobsE2E, RunDrawsTheBatchsChartsAfterItsReport) {
  DaemonHarness daemon;
  daemon.write_file("batch.yaml",
                    "- name: one\n  command: [\"sleep\", \"1\"]\n  gpu-mem: 10G\n"
                    "- name: two\n  command: [\"true\"]\n  gpus: 0\n");
  // A chart that cannot be written is refused before anything is submitted (no daemon is
  // even started for it).
  test_support::CliRun run = daemon.fastgpu("run batch.yaml --chart batch.png");
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_TRUE(contains(run.output, "--chart 'batch.png': name the file .svg or .html"))
      << run.output;
  run = daemon.fastgpu("run batch.yaml --chart no/such/batch.svg");
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_TRUE(contains(run.output, "cannot write there")) << run.output;
  EXPECT_EQ(daemon.fastgpu("daemon status").exit_code, 1) << "nothing was started";

  run = daemon.fastgpu("run batch.yaml --chart batch.html");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(contains(run.output, "makespan")) << run.output;
  std::ifstream file(daemon.work() / "batch.html");
  const std::string html((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(contains(html, "fastgpu run batch.yaml")) << html;
  EXPECT_TRUE(contains(html, "<svg")) << html;
  EXPECT_TRUE(contains(html, ">Jobs<")) << html;
  EXPECT_TRUE(contains(html, ">GPUs there are<")) << html;

  // The same charts for any stretch of history: the jobs it lists.
  run = daemon.fastgpu("history --chart history.svg --json");
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_TRUE(contains(run.output, "--chart draws beside the table")) << run.output;
  run = daemon.fastgpu("history -n 1 --chart history.svg");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  // The last to end: `one` slept a second, `two` (submitted after it) ended at once.
  EXPECT_TRUE(contains(run.output, "one")) << run.output;
  EXPECT_FALSE(contains(run.output, "two")) << run.output;
  std::ifstream svg_file(daemon.work() / "history.svg");
  const std::string svg((std::istreambuf_iterator<char>(svg_file)),
                        std::istreambuf_iterator<char>());
  EXPECT_TRUE(contains(svg, "<svg xmlns=")) << svg;
  EXPECT_TRUE(contains(svg, ">GPUs allocated (GPUs x compute share)<")) << svg;
  EXPECT_FALSE(contains(svg, ">GPUs there are<")) << "history does not know the GPUs of then";
}

// The progress line once said "2/2 done (1 failed)" for a cancelled job too, and nothing
// said where to read why a job failed.
TEST(JobsE2E, RunNamesTheJobsThatDidNotCompleteAndWhereToReadWhy) {
  DaemonHarness daemon;
  daemon.write_file("batch.yaml",
                    "- {name: fine, command: [\"true\"], gpus: 0}\n"
                    "- {name: broken, command: [\"false\"], gpus: 0}\n");
  test_support::CliRun run = daemon.fastgpu("run batch.yaml");
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_TRUE(contains(run.output, "2/2 done (1 failed)")) << run.output;
  const std::regex note(
      R"(1 job\(s\) did not complete: (\d+) \(FAILED\); `fastgpu show ID` says how each ended, )"
      R"(`fastgpu logs ID` shows its output, and `fastgpu (resubmit (\d+)-(\d+) --state failed)` )"
      R"(runs them again\n)");
  std::smatch found;
  ASSERT_TRUE(std::regex_search(run.output, found, note)) << run.output;
  EXPECT_EQ(std::stoull(found[4].str()), std::stoull(found[1].str()));
  EXPECT_EQ(std::stoull(found[3].str()) + 1, std::stoull(found[1].str()));
  // What it says runs the failed job again, alone; show says so too.
  const std::uint64_t broken = std::stoull(found[1].str());
  EXPECT_TRUE(contains(daemon.fastgpu("show " + found[1].str()).output,
                       "run again:     `fastgpu resubmit " + found[1].str() + "` (as submitted"));
  const json again = daemon.fastgpu_json(found[2].str());
  ASSERT_TRUE(again.is_object()) << again.dump();
  ASSERT_EQ(again["jobs"].size(), 1u) << again.dump();
  EXPECT_EQ(again["jobs"][0]["from"], broken);
  daemon.wait_for_state(again["jobs"][0]["id"].get<std::uint64_t>(), "FAILED");
  daemon.write_file("one.yaml", "{name: single, command: [\"true\"], gpus: 0}\n");
  run = daemon.fastgpu("run one.yaml");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(
      std::regex_search(run.output, std::regex(R"(submitted 1 job from one.yaml: id \d+\n)")))
      << run.output;
  EXPECT_FALSE(contains(run.output, "did not complete")) << run.output;
  run = daemon.fastgpu("run .");
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_TRUE(contains(run.output, "'.' is a folder, not a job file")) << run.output;
}

// `logs` was the one verb that prints without --json.
TEST(JobsE2E, LogsJsonHasTheWholeOutputAndFollowWritesALinePerPiece) {
  DaemonHarness daemon;
  const std::uint64_t id = daemon.submit("--gpus 0 -- sh -c 'echo one; echo two'");
  daemon.wait_for_state(id, "COMPLETED");
  const json whole = daemon.fastgpu_json("logs " + std::to_string(id));
  ASSERT_TRUE(whole.is_object());
  EXPECT_EQ(whole["data"], "one\ntwo\n");
  EXPECT_EQ(whole["offset"], 0);
  EXPECT_EQ(whole["done"], true);
  EXPECT_EQ(whole["state"], "COMPLETED");
  const test_support::CliRun followed =
      daemon.fastgpu("logs -f --json " + std::to_string(id), /*with_stderr=*/false);
  EXPECT_EQ(followed.exit_code, 0);
  std::string data;
  std::istringstream lines(followed.output);
  bool done = false;
  for (std::string line; std::getline(lines, line);) {
    const json piece = json::parse(line, nullptr, false);
    ASSERT_TRUE(piece.is_object()) << line;
    data += piece["data"].get<std::string>();
    done = piece["done"].get<bool>();
  }
  EXPECT_EQ(data, "one\ntwo\n");
  EXPECT_TRUE(done);
}

// `logs -n N` prints the last N lines, as `tail -n`, read from the log's end: here from a
// log of 1.3 MB, more than one answer of the API holds, whose last line has no newline.
TEST(JobsE2E, LogsTailPrintsTheLastLines) {
  DaemonHarness daemon;
  const std::uint64_t id = daemon.submit("--gpus 0 --wrap 'seq 1 200000; printf tail-end'");
  daemon.wait_for_state(id, "COMPLETED");
  const std::string job = " " + std::to_string(id);
  EXPECT_EQ(daemon.fastgpu("logs -n 3" + job, false).output, "199999\n200000\ntail-end");
  EXPECT_EQ(daemon.fastgpu("logs --tail 0" + job, false).output, "");
  const json tail = daemon.fastgpu_json("logs -n 2" + job);
  EXPECT_EQ(tail["data"], "200000\ntail-end");
  EXPECT_EQ(tail["offset"], 1288903 - 15) << "the byte where the lines start";
  // A log that ends with its newline, and fewer lines than asked: all of them.
  const std::uint64_t two = daemon.submit("--gpus 0 --wrap 'echo a; echo b'");
  daemon.wait_for_state(two, "COMPLETED");
  EXPECT_EQ(daemon.fastgpu("logs -n 1 " + std::to_string(two), false).output, "b\n");
  EXPECT_EQ(daemon.fastgpu("logs -n 5 " + std::to_string(two), false).output, "a\nb\n");
  const test_support::CliRun negative = daemon.fastgpu("logs -n -1" + job);
  EXPECT_EQ(negative.exit_code, 2) << negative.output;
  EXPECT_TRUE(contains(negative.output, "--tail -1 is negative")) << negative.output;
}

// `logs -f ID && next-step` ran the next step after a job that failed: -f exited 0 however
// the followed job ended. Now its exit status says so, as `wait`'s; plain `logs` still only
// prints the log (exit 0).
TEST(JobsE2E, LogsFollowExitsOneWhenTheJobDidNotComplete) {
  DaemonHarness daemon;
  const std::uint64_t id = daemon.submit(
      "--gpus 0 --wrap 'echo started; while [ ! -e stop ]; do sleep 0.1; done; exit 3'");
  daemon.wait_for_state(id, "RUNNING");
  const std::filesystem::path out = daemon.work() / "followed.out";
  const std::filesystem::path errors = daemon.work() / "followed.err";
  int followed = -1;
  std::thread follower(
      [&] { followed = daemon.fastgpu_into("logs -f " + std::to_string(id), out, errors); });
  for (int i = 0; i < 100 && daemon.log_of(id).empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  daemon.write_file("stop", "");
  follower.join();
  const auto text = [](const std::filesystem::path& path) {
    std::ifstream file(path);
    return std::string(std::istreambuf_iterator<char>(file), {});
  };
  EXPECT_EQ(followed, 1) << text(errors);
  EXPECT_TRUE(contains(text(out), "started\n")) << text(out);
  EXPECT_EQ(text(errors), "fastgpu logs: job " + std::to_string(id) +
                              " did not complete: it ended FAILED: exited with status 3\n");
  const test_support::CliRun logs = daemon.fastgpu("logs " + std::to_string(id), false);
  EXPECT_EQ(logs.exit_code, 0) << logs.output;
  EXPECT_TRUE(contains(logs.output, "started\n")) << logs.output;
  // A job that completed: exit 0 with -f too.
  const std::uint64_t done = daemon.submit("--gpus 0 -- echo fine");
  daemon.wait_for_state(done, "COMPLETED");
  EXPECT_EQ(daemon.fastgpu("logs -f " + std::to_string(done)).exit_code, 0);
  EXPECT_EQ(daemon.fastgpu("logs -f -n 1 " + std::to_string(done), false).output, "fine\n");
}

// `logs` prints the bytes the job wrote, UTF-8 or not (they reached it as U+FFFD).
TEST(JobsE2E, LogsPrintsBytesThatAreNotUtf8AsTheJobWroteThem) {
  DaemonHarness daemon;
  const std::uint64_t id = daemon.submit("--gpus 0 -- printf 'caf\\351 \\377\\n'");
  daemon.wait_for_state(id, "COMPLETED");
  const test_support::CliRun logs =
      daemon.fastgpu("logs " + std::to_string(id), /*with_stderr=*/false);
  EXPECT_EQ(logs.exit_code, 0);
  EXPECT_EQ(logs.output, "caf\xe9 \xff\n");
}

// A log deleted after the job wrote it printed nothing and exited 0, as for a job that
// printed nothing; `logs -f` of a running job waited to its end for output that could not come.
TEST(JobsE2E, LogsOfADeletedLogSaysItIsGone) {
  DaemonHarness daemon;
  const std::uint64_t id =
      daemon.submit("--gpus 0 --wrap 'echo started; while [ ! -e stop ]; do sleep 0.1; done'");
  daemon.wait_for_state(id, "RUNNING");
  const std::filesystem::path log = daemon.state_dir() / "logs" / (std::to_string(id) + ".log");
  for (int i = 0; i < 100 && daemon.log_of(id).empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::filesystem::remove(log);
  const std::string gone = "job " + std::to_string(id) + "'s log " + log.string() +
                           " is not there: it was deleted after the job began writing it";
  // Under a timeout: before, it followed the job to its end, which waits for this test.
  const test_support::CliRun followed =
      daemon.fastgpu_under("timeout 30", "logs -f " + std::to_string(id));
  EXPECT_EQ(followed.exit_code, 1) << followed.output;
  EXPECT_TRUE(contains(followed.output, gone)) << followed.output;
  daemon.write_file("stop", "");
  daemon.wait_for_state(id, "COMPLETED");
  const test_support::CliRun logs = daemon.fastgpu("logs " + std::to_string(id));
  EXPECT_EQ(logs.exit_code, 1) << logs.output;
  EXPECT_TRUE(contains(logs.output, gone)) << logs.output;
  EXPECT_TRUE(
      contains(daemon.fastgpu("show " + std::to_string(id)).output, log.string() + " (deleted: "));
}

// Ctrl-C left the jobs running with nothing said; it now says how to follow or cancel them.
TEST(JobsE2E, CtrlCDuringRunSaysTheJobsGoOnAndHowToCancelThem) {
  DaemonHarness daemon;
  daemon.write_file("long.yaml", "- {name: long, command: [sleep, '60'], gpus: 0}\n");
  const test_support::CliRun run =
      daemon.fastgpu_under("timeout -s INT --preserve-status 3", "run long.yaml");
  EXPECT_EQ(run.exit_code, 130) << run.output;
  const std::regex note(R"(stopped following; the batch's jobs go on .*`fastgpu cancel (\d+)`)");
  std::smatch found;
  ASSERT_TRUE(std::regex_search(run.output, found, note)) << run.output;
  EXPECT_EQ(daemon.job(std::stoull(found[1].str()))["state"], "RUNNING");
}

// SIGTERM (`timeout`, a CI runner's cancel) and SIGHUP ended `run` with nothing said, and
// `run --json` stopped by any of them left stdout empty for its `| jq`.
TEST(JobsE2E, SigtermDuringRunSaysTheSameAndJsonGetsADocument) {
  DaemonHarness daemon;
  daemon.write_file("long.yaml", "- {name: long, command: [sleep, '60'], gpus: 0}\n");
  const test_support::CliRun run =
      daemon.fastgpu_under("timeout -s TERM --preserve-status 3", "run long.yaml --json");
  EXPECT_EQ(run.exit_code, 143) << run.output;
  const std::regex note(R"(stopped following; the batch's jobs go on .*`fastgpu cancel (\d+)`)");
  std::smatch found;
  ASSERT_TRUE(std::regex_search(run.output, found, note)) << run.output;
  const std::uint64_t id = std::stoull(found[1].str());
  const std::size_t document = run.output.find("{\"ids\"");
  ASSERT_NE(document, std::string::npos) << run.output;
  const json stopped =
      json::parse(run.output.substr(document, run.output.find('\n', document) - document));
  EXPECT_EQ(stopped["finished"], false);
  EXPECT_EQ(stopped["ids"], json::array({id}));
  EXPECT_EQ(daemon.job(id)["state"], "RUNNING");
}

// Every progress line of `run` accounts for each queued job with a reason: the listing
// reads the jobs and asks why they wait under the engine's lock, so no job it reads as
// QUEUED has started by the time it is asked.
TEST(JobsE2E, RunGivesEveryQueuedJobAReasonOnEveryProgressLine) {
  DaemonHarness daemon("1xH100-80G");
  daemon.write_file("batch.yaml",
                    "defaults: {share: 0.25}\n"
                    "jobs:\n"
                    "  - {name: first, gpu-mem: 10G, command: [sleep, '0.5']}\n"
                    "  - {name: then, gpu-mem: 10G, after: first, command: [sleep, '0.2']}\n"
                    "  - {name: wide, gpu-mem: 70G, share: 1, command: [sleep, '0.3']}\n"
                    "  - {name: sweep, array: 0-5%2, gpu-mem: 5G, command: [sleep, '0.2']}\n");
  const test_support::CliRun run = daemon.fastgpu("run batch.yaml");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const std::regex line(R"((\d+) queued(?: \(([^)]*)\))?, \d+s)");
  const std::regex reason(R"((\d+) [a-z ]+)");
  int lines = 0;
  for (auto it = std::sregex_iterator(run.output.begin(), run.output.end(), line);
       it != std::sregex_iterator(); ++it, ++lines) {
    const std::string reasons = (*it)[2];
    int explained = 0;
    for (auto r = std::sregex_iterator(reasons.begin(), reasons.end(), reason);
         r != std::sregex_iterator(); ++r) {
      explained += std::stoi((*r)[1]);
    }
    EXPECT_EQ(explained, std::stoi((*it)[1])) << it->str() << "\n" << run.output;
  }
  EXPECT_GT(lines, 1) << run.output;
}

// The issue's loop from history to simulation: the jobs that ran here, exported with
// `history --trace`, replay in `simulate` as the same jobs (count, shares, run times).
// What a job cost, where a user looks for it: `show` and `history` print the accounting
// the daemon recorded at the job's end, in the batch report's units.
TEST(JobsE2E, ShowAndHistoryTellWhatEachJobCost) {
  DaemonHarness daemon("2xH100-80G");
  const std::uint64_t id = daemon.submit("--gpus 2 --gpu-mem 10G --name costly -- sleep 0.5");
  const json job = daemon.wait_for_state(id, "COMPLETED");
  const double gpu_seconds = job["accounting"]["gpu_seconds"].get<double>();
  EXPECT_GE(gpu_seconds, 2 * 0.5) << job.dump();

  const test_support::CliRun show = daemon.fastgpu("show " + std::to_string(id), false);
  ASSERT_EQ(show.exit_code, 0) << show.output;
  EXPECT_TRUE(contains(show.output, "waited:")) << show.output;
  EXPECT_TRUE(contains(show.output, "GPU-hours)")) << show.output;
  // Simulated GPUs have no energy counter: n/a, not 0 J.
  EXPECT_TRUE(contains(show.output, "energy:        n/a\n")) << show.output;

  const test_support::CliRun history = daemon.fastgpu("history", false);
  ASSERT_EQ(history.exit_code, 0) << history.output;
  EXPECT_TRUE(contains(history.output, "GPU-TIME")) << history.output;
  EXPECT_TRUE(contains(history.output, "costly")) << history.output;
  EXPECT_TRUE(contains(history.output, "COMPLETED")) << history.output;

  // --json: the daemon's record of the job, every field, as `show --json` gives it, but for
  // the jobs that ran it again, which show alone reads (an index look-up a job).
  const json listed = daemon.fastgpu_json("history");
  ASSERT_EQ(listed["jobs"].size(), 1u) << listed.dump();
  json shown = daemon.job(id);
  EXPECT_EQ(shown["resubmitted_as"], json::array());
  shown.erase("resubmitted_as");
  EXPECT_EQ(listed["jobs"][0], shown) << listed.dump();
}

// sacct's -S/-E and --name, squeue's -n: which ended jobs, by when they ended and by name,
// and which waiting jobs by name, asked of a real daemon.
TEST(JobsE2E, HistoryAndQueueNarrowByEndTimeAndName) {
  DaemonHarness daemon;
  // One after the other: submitted together, the two ran at once and the second could end
  // first, which the end-time windows below would then read the other way round.
  const std::uint64_t first = daemon.submit("--gpus 0 --name train -- true");
  daemon.wait_for_state(first, "COMPLETED");
  const std::uint64_t second =
      daemon.submit("--gpus 0 --name " + DaemonHarness::quoted("a&b") + " -- true");
  const json ended = daemon.wait_for_state(second, "COMPLETED");
  const std::uint64_t running = daemon.submit("--gpus 0 --name train -- sleep 60");
  daemon.wait_for_state(running, "RUNNING");

  auto ids = [&daemon](const std::string& args) {
    const json reply = daemon.fastgpu_json(args);  // kept: the loop reads into it
    std::vector<std::uint64_t> listed;
    for (const json& job : reply["jobs"]) listed.push_back(job["id"].get<std::uint64_t>());
    return listed;
  };
  using Ids = std::vector<std::uint64_t>;
  EXPECT_EQ(ids("history --since 1h"), (Ids{first, second}));
  EXPECT_EQ(ids("history --until 1h"), Ids{});
  EXPECT_EQ(ids("history -S 1d -E now"), (Ids{first, second}));
  EXPECT_EQ(ids("history --name train"), Ids{first});
  EXPECT_EQ(ids("history --name " + DaemonHarness::quoted("a&b")), Ids{second});
  EXPECT_EQ(ids("history -n 1 --name " + DaemonHarness::quoted("train,a&b")), Ids{second});
  // The second job's own end, to the microsecond: at it counts for --since, not --until.
  const std::string end = ended["end_time"].get<std::string>();
  EXPECT_EQ(ids("history --since " + end), Ids{second});
  EXPECT_EQ(ids("history --until " + end), Ids{first});
  EXPECT_EQ(ids("queue --name train"), Ids{running});
  EXPECT_EQ(ids("queue -n " + DaemonHarness::quoted("a&b")), Ids{});

  const test_support::CliRun backwards = daemon.fastgpu("history --since 1h --until 2h");
  EXPECT_EQ(backwards.exit_code, 2);
  EXPECT_TRUE(contains(backwards.output, "--since '1h' is not before --until '2h'"))
      << backwards.output;
  // The same moment twice is no window either: each was read against a now of its own, a
  // few microseconds apart, and the pair was taken.
  const test_support::CliRun same = daemon.fastgpu("history --since 1m --until 1m");
  EXPECT_EQ(same.exit_code, 2) << same.output;
  EXPECT_TRUE(contains(same.output, "--since '1m' is not before --until '1m'")) << same.output;
  const test_support::CliRun no_unit = daemon.fastgpu("history --since 3");
  EXPECT_EQ(no_unit.exit_code, 2);
  EXPECT_TRUE(contains(no_unit.output, "'3' has no unit")) << no_unit.output;
  const test_support::CliRun empty_name = daemon.fastgpu("queue --name train,");
  EXPECT_EQ(empty_name.exit_code, 2);
  EXPECT_TRUE(contains(empty_name.output, "has an empty name")) << empty_name.output;
}

// sreport for one box: `fastgpu report` sums up the caller's ended jobs by name (a job
// without one by its command), asked of a real daemon through the CLI, and says what to ask
// instead of a time limit the runs used little of.
TEST(JobsE2E, ReportSumsUpEndedJobsByNameAndSaysWhatTheyUsedOfTheirLimits) {
  DaemonHarness daemon("2xH100-80G");
  const std::uint64_t done =
      daemon.submit("--gpus 1 --gpu-mem 4G --time 1h --name train -- sleep 0.3");
  const std::uint64_t failed =
      daemon.submit("--gpus 1 --gpu-mem 4G --time 1h --name train -- false");
  const std::uint64_t unnamed = daemon.submit("--gpus 0 -- true");
  const std::uint64_t running = daemon.submit("--gpus 0 --name later -- sleep 60");
  daemon.wait_for_state(done, "COMPLETED");
  daemon.wait_for_state(failed, "FAILED");
  daemon.wait_for_state(unnamed, "COMPLETED");
  daemon.wait_for_state(running, "RUNNING");

  const test_support::CliRun report = daemon.fastgpu("report", false);
  ASSERT_EQ(report.exit_code, 0) << report.output;
  EXPECT_TRUE(contains(report.output, "\ntrain     2          1       1        0          0"))
      << report.output;
  EXPECT_TRUE(contains(report.output, "\ntrue      1          1       0        0          0"))
      << report.output;
  EXPECT_TRUE(contains(report.output, "\n(all)     3")) << report.output;
  EXPECT_FALSE(contains(report.output, "later")) << "a running job is not summed up yet";
  // Simulated GPUs measure no memory: n/a, not 0 %. The runs took seconds of their hour.
  EXPECT_TRUE(contains(report.output, "n/a        0 %\n")) << report.output;
  EXPECT_TRUE(contains(report.output, "train: the runs took 0 % of their time limits"))
      << report.output;
  EXPECT_TRUE(contains(report.output, "--time 1m would let backfill start them sooner"))
      << report.output;

  const json summed = daemon.fastgpu_json("report");
  ASSERT_EQ(summed["groups"].size(), 2u) << summed.dump();
  EXPECT_EQ(summed["groups"][0]["name"], "train");
  EXPECT_EQ(summed["groups"][0]["states"]["FAILED"], 1);
  EXPECT_EQ(summed["groups"][0]["suggested_time_limit_seconds"], 60);
  EXPECT_TRUE(summed["groups"][0]["memory_used_percent"].is_null());
  EXPECT_EQ(summed["groups"][1]["name"], "true");
  EXPECT_EQ(summed["total"]["jobs"], 3);
  EXPECT_EQ(daemon.fastgpu_json("report --by user")["groups"].size(), 1u);
  // By GPU: the two train jobs on the GPUs, the CPU job in the group without one (last).
  const json by_gpu = daemon.fastgpu_json("report --by gpu");
  ASSERT_GE(by_gpu["groups"].size(), 2u) << by_gpu.dump();
  EXPECT_TRUE(by_gpu["groups"].back()["gpu"].is_null()) << by_gpu.dump();
  EXPECT_EQ(by_gpu["groups"].back()["jobs"], 1);
  EXPECT_EQ(by_gpu["total"]["jobs"], 3);
  // By day, in the caller's time zone: the three ended today, which is tomorrow in UTC+14
  // for most of the day.
  const auto day_at = [](std::chrono::hours east) {
    const std::chrono::year_month_day day{
        std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now() + east)};
    return fmt::format("{:04}-{:02}-{:02}", static_cast<int>(day.year()),
                       static_cast<unsigned>(day.month()), static_cast<unsigned>(day.day()));
  };
  for (const auto& [zone, east] : {std::pair{"UTC0", 0}, std::pair{"'<+14>-14'", 14}}) {
    const std::string today = day_at(std::chrono::hours(east));
    const test_support::CliRun by_day =
        daemon.fastgpu_with(std::string("TZ=") + zone, "report --by day");
    EXPECT_EQ(by_day.exit_code, 0) << by_day.output;
    EXPECT_TRUE(contains(by_day.output, "DAY         JOBS")) << by_day.output;
    EXPECT_TRUE(contains(by_day.output, "\n" + today + "     3  "))
        << zone << ": " << by_day.output;
  }
  EXPECT_EQ(daemon.fastgpu_json("report --name train --state failed")["total"]["jobs"], 1);
  // A job without a name is picked by its command, as the table lists it.
  EXPECT_EQ(daemon.fastgpu_json("report --name true")["total"]["jobs"], 1);
  EXPECT_EQ(daemon.fastgpu_json("report --name true,train")["total"]["jobs"], 3);
  EXPECT_EQ(daemon.fastgpu_json("report --until 1h")["total"]["jobs"], 0);
  const test_support::CliRun none = daemon.fastgpu("report --until 1h --name train", false);
  EXPECT_EQ(none.exit_code, 0) << none.output;
  EXPECT_EQ(none.output, "No job of yours ended that matches --until 1h --name train.\n");

  for (const auto& [args, says] : std::vector<std::pair<std::string, std::string>>{
           {"report --by host", "cannot sum jobs up by 'host'; use name, user, gpu or day"},
           {"report --state running", "report sums up jobs that have ended"},
           {"report --since 1h --until 2h", "--since '1h' is not before --until '2h'"}}) {
    const test_support::CliRun bad = daemon.fastgpu(args);
    EXPECT_EQ(bad.exit_code, 2) << args << ": " << bad.output;
    EXPECT_TRUE(contains(bad.output, says)) << args << ": " << bad.output;
  }
}

// scancel --name: every unfinished job of those names, queued and running, and nothing else;
// a name that matches nothing is an error, not a silent success.
TEST(JobsE2E, CancelByNameStopsThoseJobsAlone) {
  DaemonHarness daemon("1xH100-80G");
  const std::uint64_t running = daemon.submit("--gpus 1 --gpu-mem 80G --name sweep -- sleep 60");
  const std::uint64_t queued = daemon.submit("--gpus 1 --gpu-mem 80G --name sweep -- sleep 60");
  const std::uint64_t other = daemon.submit("--gpus 0 --name keep -- sleep 60");
  daemon.wait_for_state(running, "RUNNING");
  daemon.wait_for_state(other, "RUNNING");

  const test_support::CliRun cancel = daemon.fastgpu("cancel --name sweep,absent");
  EXPECT_EQ(cancel.exit_code, 0) << cancel.output;
  EXPECT_TRUE(contains(cancel.output, "job " + std::to_string(queued) + ": CANCELLED"))
      << cancel.output;
  daemon.wait_for_state(running, "CANCELLED");
  EXPECT_EQ(daemon.job(queued)["start_time"], nullptr) << "the queued one went first";
  EXPECT_EQ(daemon.job(other)["state"], "RUNNING");

  const test_support::CliRun none = daemon.fastgpu("cancel --name sweep");
  EXPECT_EQ(none.exit_code, 1) << none.output;
  EXPECT_TRUE(contains(none.output, "no job of yours named sweep is queued or running"))
      << none.output;
  const test_support::CliRun both = daemon.fastgpu("cancel --name keep " + std::to_string(other));
  EXPECT_EQ(both.exit_code, 2) << both.output;
  EXPECT_TRUE(contains(both.output, "fastgpu cancel --name sweep")) << both.output;
  EXPECT_EQ(daemon.fastgpu("cancel --name keep,").exit_code, 2);
  EXPECT_EQ(daemon.job(other)["state"], "RUNNING");
  EXPECT_EQ(daemon.fastgpu("cancel --name keep").exit_code, 0);
  daemon.wait_for_state(other, "CANCELLED");
}

// scontrol hold / release / update: a job submitted held waits, shown `(held)`, while the
// jobs after it run; released, it runs. A queued job's priority and time limit change in
// place; a running job's are refused.
TEST(JobsE2E, HoldReleaseAndUpdateChangeQueuedJobsInPlace) {
  DaemonHarness daemon("1xH100-80G");
  const std::uint64_t held = daemon.submit("--hold --gpus 0 --name first -- true");
  const std::uint64_t blocker = daemon.submit("--gpus 1 --gpu-mem 80G -- sleep 60");
  const std::uint64_t waiting = daemon.submit("--gpus 1 --gpu-mem 80G --time 5 -- true");
  daemon.wait_for_state(blocker, "RUNNING");
  const test_support::CliRun queue = daemon.fastgpu("queue");
  EXPECT_TRUE(contains(queue.output, "(held)")) << queue.output;
  const test_support::CliRun show = daemon.fastgpu("show " + std::to_string(held));
  EXPECT_TRUE(contains(show.output, "held: held by its user: `fastgpu release " +
                                        std::to_string(held) + "` lets it start"))
      << show.output;
  EXPECT_EQ(daemon.job(held)["held_by"], ::getuid());

  const test_support::CliRun update =
      daemon.fastgpu("update " + std::to_string(waiting) + " --priority 7 --time 2h");
  ASSERT_EQ(update.exit_code, 0) << update.output;
  EXPECT_TRUE(
      contains(update.output, "job " + std::to_string(waiting) + ": priority 7, time limit 2h00m"))
      << update.output;
  const json changed = daemon.job(waiting);
  EXPECT_EQ(changed["spec"]["priority"], 7);
  EXPECT_EQ(changed["spec"]["time_limit_s"], 7200);
  EXPECT_EQ(daemon.fastgpu("update " + std::to_string(waiting) + " --time 4x").exit_code, 2);
  EXPECT_EQ(daemon.fastgpu("update " + std::to_string(waiting)).exit_code, 2);

  const test_support::CliRun running = daemon.fastgpu("hold " + std::to_string(blocker));
  EXPECT_EQ(running.exit_code, 1) << running.output;
  EXPECT_TRUE(contains(running.output, "is RUNNING: only a queued job can be held"))
      << running.output;

  EXPECT_EQ(daemon.job(held)["state"], "QUEUED");
  const test_support::CliRun release = daemon.fastgpu("release --name first");
  ASSERT_EQ(release.exit_code, 0) << release.output;
  EXPECT_TRUE(contains(release.output, "job " + std::to_string(held) + ": released"))
      << release.output;
  daemon.wait_for_state(held, "COMPLETED");

  ASSERT_EQ(daemon.fastgpu("hold " + std::to_string(waiting)).exit_code, 0);
  ASSERT_EQ(daemon.fastgpu("cancel " + std::to_string(blocker)).exit_code, 0);
  daemon.wait_for_state(blocker, "CANCELLED");
  EXPECT_EQ(daemon.job(waiting)["state"], "QUEUED");
  ASSERT_EQ(daemon.fastgpu("release " + std::to_string(waiting)).exit_code, 0);
  const json ran = daemon.wait_for_state(waiting, "COMPLETED");
  EXPECT_EQ(ran["spec"]["time_limit_s"], 7200);
}

// A pipeline whose first job failed runs again, fixed, as it was submitted: each job with
// what resubmit's flags change, the second waiting for the new first. The old jobs stay as
// they ended; bad requests send nothing.
TEST(JobsE2E, ResubmitRunsJobsAgainAsSubmittedWithTheFlagsChanges) {
  DaemonHarness daemon;
  // prep fails (no "fixed" yet) once train is queued behind it: a job waiting to succeed on
  // one that failed already is refused at submit.
  const std::uint64_t prep =
      daemon.submit("--gpus 0 --name prep --env COLOR=blue --time 10m --wrap " +
                    once_go_is_written("echo color=$COLOR; test -e fixed"));
  const std::uint64_t train =
      daemon.submit("--gpus 0 --name train --after " + std::to_string(prep) + " -- echo trained");
  daemon.write_file("go", "go\n");
  daemon.wait_for_state(train, "CANCELLED");
  ASSERT_EQ(daemon.job(prep)["state"], "FAILED");
  const std::size_t jobs_before = job_count(daemon);

  // Nothing is sent for a bad flag, an unknown job, or a job not in --state.
  EXPECT_EQ(daemon.fastgpu("resubmit " + std::to_string(prep) + " --time 4x").exit_code, 2);
  EXPECT_EQ(daemon.fastgpu("resubmit").exit_code, 2);
  const test_support::CliRun unknown =
      daemon.fastgpu("resubmit " + std::to_string(prep) + " 99999");
  EXPECT_EQ(unknown.exit_code, 1) << unknown.output;
  const test_support::CliRun other_state =
      daemon.fastgpu("resubmit " + std::to_string(prep) + " --state completed");
  EXPECT_EQ(other_state.exit_code, 1) << other_state.output;
  EXPECT_TRUE(contains(other_state.output,
                       "job " + std::to_string(prep) + " is FAILED, not COMPLETED as --state asks"))
      << other_state.output;
  EXPECT_EQ(job_count(daemon), jobs_before);

  daemon.write_file("fixed", "");
  const test_support::CliRun again =
      daemon.fastgpu("resubmit " + std::to_string(train) + " " + std::to_string(prep) +
                         " --time 20m --env COLOR=green",
                     /*with_stderr=*/false);
  ASSERT_EQ(again.exit_code, 0) << again.output;
  std::istringstream lines(again.output);
  std::uint64_t new_prep = 0;
  std::uint64_t new_train = 0;
  lines >> new_prep >> new_train;
  ASSERT_GT(new_prep, train);
  ASSERT_GT(new_train, new_prep);

  const json ran = daemon.wait_for_state(new_train, "COMPLETED");
  EXPECT_EQ(ran["spec"]["dependencies"],
            json::parse(R"([{"job": )" + std::to_string(new_prep) + R"(, "kind": "afterok"}])"));
  EXPECT_EQ(ran["spec"]["time_limit_s"], 1200);
  const json prepared = daemon.job(new_prep);
  EXPECT_EQ(prepared["state"], "COMPLETED");
  EXPECT_EQ(prepared["spec"]["name"], "prep");
  EXPECT_EQ(prepared["spec"]["time_limit_s"], 1200);
  EXPECT_TRUE(contains(daemon.log_of(new_prep), "color=green")) << daemon.log_of(new_prep);
  EXPECT_EQ(daemon.job(prep)["state"], "FAILED");
  EXPECT_EQ(daemon.job(train)["state"], "CANCELLED");
  // Each names the other: show of the new job says which it ran again, and of the old one
  // which jobs ran it again (instead of how to: it has been).
  EXPECT_EQ(prepared["spec"]["resubmitted_from"], prep);
  const std::string old_shown = daemon.fastgpu("show " + std::to_string(prep)).output;
  EXPECT_TRUE(contains(old_shown, "run again as:  " + std::to_string(new_prep) + " ("))
      << old_shown;
  EXPECT_FALSE(contains(old_shown, "`fastgpu resubmit")) << old_shown;
  EXPECT_TRUE(contains(daemon.fastgpu("show " + std::to_string(new_prep)).output,
                       "resubmitted:   from job " + std::to_string(prep) + " ("));

  // A range takes the jobs of --state among it, and says what it left out.
  const json failed_only = daemon.fastgpu_json("resubmit " + std::to_string(prep) + "-" +
                                               std::to_string(train) + " --state failed");
  ASSERT_TRUE(failed_only.is_object()) << failed_only.dump();
  ASSERT_EQ(failed_only["jobs"].size(), 1u) << failed_only.dump();
  EXPECT_EQ(failed_only["jobs"][0]["from"], prep);
  EXPECT_EQ(failed_only["left_out"], 1);
  daemon.wait_for_state(failed_only["jobs"][0]["id"].get<std::uint64_t>(), "COMPLETED");
}

// A job file's `hold: true` job waits for its release, and `run` says so at once instead of
// seeming to wait for nothing; released, the batch ends and the report follows.
TEST(JobsE2E, RunSaysWhichJobsTheFileHoldsAndWaitsForTheirRelease) {
  DaemonHarness daemon;
  daemon.write_file("held.yaml",
                    "- {name: first, command: [true], gpus: 0}\n"
                    "- {name: gate, hold: true, after: first, command: [true], gpus: 0}\n");
  std::thread releaser([&daemon] {
    for (int i = 0; i < 400; ++i) {
      const json queue = daemon.fastgpu_json("queue");
      const json& jobs = queue.is_object() ? queue["jobs"] : json::array();
      const bool held = std::any_of(jobs.begin(), jobs.end(), [](const json& job) {
        return job["spec"]["name"] == "gate" && job["held_by"].is_number();
      });
      // Released once it is queued held and the job before it has ended.
      if (held && jobs.size() == 1) {
        daemon.fastgpu("release --name gate");
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  const test_support::CliRun run = daemon.fastgpu("run held.yaml");
  releaser.join();
  EXPECT_EQ(run.exit_code, 0) << run.output;
  const std::regex note(
      R"(held \(hold: true\): (\d+); `fastgpu release (\d+)` lets it start, and run waits for it)");
  std::smatch found;
  ASSERT_TRUE(std::regex_search(run.output, found, note)) << run.output;
  EXPECT_EQ(found[1].str(), found[2].str());
  EXPECT_EQ(daemon.job(std::stoull(found[1].str()))["state"], "COMPLETED");
}

// A job that never ran says why it ended wherever a user looks: show, show --json, history
// --json, and logs, which fails (exit 1) with the reason instead of printing nothing.
TEST(JobsE2E, AJobCancelledByItsFailedDependencySaysWhyInShowAndLogs) {
  DaemonHarness daemon;
  // The parent fails only once the child is queued: a job waiting to succeed on one that
  // failed already is refused at submit.
  const std::uint64_t parent = daemon.submit("--gpus 0 --wrap " + once_go_is_written("false"));
  const std::uint64_t child =
      daemon.submit("--gpus 0 --after " + std::to_string(parent) + " -- echo never");
  daemon.write_file("go", "go\n");
  const std::string reason = "dependency " + std::to_string(parent) + " failed: it ended FAILED";
  const json job = daemon.wait_for_state(child, "CANCELLED");
  EXPECT_EQ(job["end_reason"], reason) << job.dump();
  EXPECT_TRUE(job["end_time_us"].is_number_integer()) << job.dump();
  EXPECT_TRUE(job["start_time_us"].is_null()) << job.dump();
  EXPECT_EQ(daemon.job(parent)["end_reason"], "exited with status 1");

  const test_support::CliRun show = daemon.fastgpu("show " + std::to_string(child), false);
  EXPECT_TRUE(contains(show.output, "reason:        " + reason + "\n")) << show.output;
  EXPECT_FALSE(contains(show.output, "ended:         -\n")) << show.output;

  const test_support::CliRun logs = daemon.fastgpu("logs " + std::to_string(child));
  EXPECT_EQ(logs.exit_code, 1) << logs.output;
  EXPECT_EQ(logs.output,
            "fastgpu logs: job " + std::to_string(child) + " never started: " + reason + "\n");
  // wait says why too (it printed "job N: CANCELLED"); a failure's exit status is its why.
  const test_support::CliRun waited =
      daemon.fastgpu("wait " + std::to_string(parent) + " " + std::to_string(child), false);
  EXPECT_EQ(waited.exit_code, 1) << waited.output;
  EXPECT_TRUE(contains(waited.output, "job " + std::to_string(parent) + ": FAILED (exit 1)\n"))
      << waited.output;
  EXPECT_TRUE(
      contains(waited.output, "job " + std::to_string(child) + ": CANCELLED: " + reason + "\n"))
      << waited.output;
  const json waited_json = daemon.fastgpu_json("wait " + std::to_string(child));
  ASSERT_EQ(waited_json["jobs"].size(), 1u) << waited_json.dump();
  EXPECT_EQ(waited_json["jobs"][0]["end_reason"], reason);
  // The parent ran: its log (the supervisor's line on how it ended) is a success to print.
  const test_support::CliRun parent_logs = daemon.fastgpu("logs " + std::to_string(parent));
  EXPECT_EQ(parent_logs.exit_code, 0) << parent_logs.output;
  EXPECT_TRUE(contains(parent_logs.output, "exited with code 1")) << parent_logs.output;

  const json history = daemon.fastgpu_json("history --state CANCELLED");
  ASSERT_EQ(history["jobs"].size(), 1u) << history.dump();
  EXPECT_EQ(history["jobs"][0]["end_reason"], reason);
}

// `wait` says how each job ended, in its lines and in --json alike: a job killed by a
// signal once read `job 9: FAILED (signal 11)` but {"exit_code": null} alone in --json.
TEST(JobsE2E, WaitJsonSaysHowEachJobEndedAsItsLinesDo) {
  DaemonHarness daemon;
  const std::uint64_t killed = daemon.submit("--gpus 0 --wrap 'kill -SEGV $$'");
  const std::uint64_t failed = daemon.submit("--gpus 0 -- sh -c 'exit 3'");
  const std::string ids = std::to_string(killed) + " " + std::to_string(failed);
  const test_support::CliRun lines = daemon.fastgpu("wait " + ids);
  EXPECT_EQ(lines.exit_code, 1) << lines.output;
  EXPECT_TRUE(contains(lines.output, "job " + std::to_string(killed) + ": FAILED (signal 11)\n"))
      << lines.output;
  const json waited = daemon.fastgpu_json("wait " + ids);
  ASSERT_EQ(waited["jobs"].size(), 2u) << waited.dump();
  EXPECT_EQ(waited["jobs"][0]["signal"], 11) << waited.dump();
  EXPECT_TRUE(waited["jobs"][0]["exit_code"].is_null()) << waited.dump();
  EXPECT_EQ(waited["jobs"][1]["exit_code"], 3) << waited.dump();
  EXPECT_TRUE(waited["jobs"][1]["signal"].is_null()) << waited.dump();
  EXPECT_EQ(waited["all_completed"], false);
}

// `wait --timeout` names the jobs that had not ended, on stderr and in --json (which said
// only {"jobs": [], "all_completed": false}).
TEST(JobsE2E, WaitTimeoutNamesTheJobsThatHadNotEnded) {
  DaemonHarness daemon;
  const std::uint64_t quick = daemon.submit("--gpus 0 -- true");
  const std::uint64_t slow = daemon.submit("--gpus 0 -- sleep 30");
  const std::string ids = std::to_string(quick) + " " + std::to_string(slow);
  const test_support::CliRun text = daemon.fastgpu("wait --timeout 1s " + ids);
  EXPECT_EQ(text.exit_code, 1) << text.output;
  EXPECT_TRUE(contains(text.output,
                       "1 of 2 job(s) had not ended (queued or running) at the "
                       "--timeout: " +
                           std::to_string(slow) + "\n"))
      << text.output;
  const test_support::CliRun as_json = daemon.fastgpu("wait --json --timeout 1s " + ids, false);
  EXPECT_EQ(as_json.exit_code, 1);
  const json waited = json::parse(as_json.output);
  EXPECT_EQ(waited["not_ended"], json::array({slow})) << waited.dump();
  EXPECT_EQ(waited["jobs"].size(), 1u) << waited.dump();
  EXPECT_EQ(waited["all_completed"], false);
  EXPECT_EQ(daemon.fastgpu("cancel " + std::to_string(slow)).exit_code, 0);
}

// A job the launcher could not start (its working folder is no absolute path) has the
// launcher's message as its reason, and no log to print.
// (A relative folder is refused at submit now; a folder that does not exist is found
// only when the job starts.)
TEST(JobsE2E, AJobThatCouldNotBeLaunchedSaysWhyInShowAndLogs) {
  DaemonHarness daemon;
  const std::string missing = (daemon.work() / "no-such-folder").string();
  const std::vector<std::uint64_t> ids = daemon.submit_api(
      {{"jobs",
        json::array({{{"argv", json::array({"true"})}, {"working_dir", missing}, {"gpus", 0}}})}});
  ASSERT_EQ(ids.size(), 1u);
  const json job = daemon.wait_for_state(ids[0], "FAILED");
  const std::string reason = job["end_reason"].is_string() ? job["end_reason"] : "";
  EXPECT_TRUE(
      contains(reason, "could not be started: cannot enter the working folder '" + missing + "'"))
      << job.dump();
  EXPECT_TRUE(job["end_time_us"].is_number_integer()) << job.dump();
  const test_support::CliRun shown = daemon.fastgpu("show " + std::to_string(ids[0]));
  EXPECT_TRUE(contains(shown.output, "reason:        " + reason)) << shown.output;

  const test_support::CliRun logs = daemon.fastgpu("logs " + std::to_string(ids[0]));
  EXPECT_TRUE(contains(logs.output, "cannot enter the working folder")) << logs.output;
  // It never ran: no start, no pid, no GPU time, exit 1 from logs (it said 0, printing the
  // supervisor's line), and no run of 0.0003 s in the trace that simulate replays.
  EXPECT_EQ(logs.exit_code, 1) << logs.output;
  EXPECT_TRUE(contains(logs.output, "never started")) << logs.output;
  EXPECT_TRUE(job["start_time"].is_null()) << job.dump();
  EXPECT_TRUE(job["job_pid"].is_null()) << job.dump();
  EXPECT_TRUE(job["accounting"]["gpu_seconds"].is_null()) << job.dump();
  const test_support::CliRun trace = daemon.fastgpu("history --trace", /*with_stderr=*/false);
  EXPECT_EQ(trace.exit_code, 0);
  EXPECT_EQ(trace.output, "") << trace.output;
}

TEST(JobsE2E, HistoryExportsATraceThatSimulateReplays) {
  DaemonHarness daemon("4xH100-80G");
  const std::uint64_t half = daemon.submit("--gpus 1 --gpu-mem 10G --share 0.5 -- sleep 0.3");
  const std::uint64_t cpu = daemon.submit("--gpus 0 --priority 3 -- true");
  daemon.wait_for_state(half, "COMPLETED");
  daemon.wait_for_state(cpu, "COMPLETED");
  const test_support::CliRun exported = daemon.fastgpu("history --trace", /*with_stderr=*/false);
  ASSERT_EQ(exported.exit_code, 0) << exported.output;
  std::vector<json> lines;
  std::istringstream text(exported.output);
  for (std::string line; std::getline(text, line);) lines.push_back(json::parse(line));
  ASSERT_EQ(lines.size(), 2u) << exported.output;
  EXPECT_EQ(lines[0]["id"], std::to_string(half));
  EXPECT_EQ(lines[0]["gpus"], 0.5);
  EXPECT_EQ(lines[0]["gpu_mem"], std::to_string(10LL << 30));
  EXPECT_GE(lines[0]["duration"].get<double>(), 0.3);
  EXPECT_EQ(lines[1]["gpus"], 0);
  EXPECT_EQ(lines[1]["priority"], 3);

  daemon.write_file("trace.jsonl", exported.output);
  const json replay = json::parse(daemon
                                      .fastgpu("simulate --trace generic:trace.jsonl --cluster "
                                               "spec:1x4xH100-80G --policy fifo --json",
                                               /*with_stderr=*/false)
                                      .output,
                                  nullptr, false);
  ASSERT_TRUE(replay.is_object());
  EXPECT_EQ(replay["runs"][0]["jobs"], 2);
  EXPECT_EQ(replay["runs"][0]["completed"], 2);
  EXPECT_EQ(replay["rows_skipped"], 0);
}

}  // namespace
}  // namespace fastgpu
