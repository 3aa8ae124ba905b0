// End-to-end: the built `fastgpu` binary as a daemon on a private socket and state folder,
// real job processes, simulated GPUs. Jobs are submitted through the HTTP API here; the
// CLI's submit and run verbs are tested in jobs_e2e_test.cc.

#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "api/login_name.h"
#include "daemon/daemon_harness.h"

namespace fastgpu {
namespace {

using nlohmann::json;
using test_support::contains;
using test_support::count_of;
using test_support::DaemonHarness;

json shell_job(const std::string& command, const std::string& work, int gpus = 1,
               std::int64_t gpu_mem = 10LL << 30) {
  return {{"shell_command", command},
          {"working_dir", work},
          {"environment", json::array({"PATH=/usr/bin:/bin"})},
          {"gpus", gpus},
          {"gpu_mem", gpus == 0 ? json(nullptr) : json(gpu_mem)}};
}

// Without --devices and with no usable NVML, the daemon simulates GPUs and says why NVML
// failed: on a machine with GPUs, a broken driver must not read as no driver at all.
TEST(DaemonLifecycle, ADaemonWithoutNvmlSaysWhyItSimulates) {
  DaemonHarness daemon("");
  const std::string library = (daemon.work() / "no-such-libnvidia-ml.so.1").string();
  ASSERT_EQ(::setenv("FASTGPU_NVML_LIBRARY", library.c_str(), 1), 0);
  const test_support::CliRun started = daemon.fastgpu("daemon start");
  ::unsetenv("FASTGPU_NVML_LIBRARY");
  ASSERT_EQ(started.exit_code, 0) << started.output;
  const json status = daemon.fastgpu_json("daemon status");
  ASSERT_TRUE(status.is_object()) << daemon.fastgpu("daemon status").output;
  EXPECT_EQ(status["gpus_source"], "simulated");
  const std::string note = status["gpus_note"].get<std::string>();
  EXPECT_TRUE(contains(note, "no NVIDIA driver: simulated GPUs (4xH100-80G)")) << note;
  EXPECT_TRUE(contains(note, "(NVML: no NVIDIA driver found: could not load " + library)) << note;
  EXPECT_FALSE(contains(note, "To try FastGPU")) << note;  // the hint is the note itself
}

// A driver that is there but fails (NVML's library of another version than the kernel
// module, as after a driver upgrade without a reboot) is not "no driver": the daemon ran on
// four simulated H100s, placing jobs on GPUs the machine did not have. It refuses to start,
// naming the error and both ways on; simulated GPUs asked for by name still start.
TEST(DaemonLifecycle, ADriverThatFailsStopsTheDaemonInsteadOfSimulating) {
  DaemonHarness daemon("");
  const std::filesystem::path state = daemon.work() / "nvml-state.json";
  std::ofstream(state) << R"({"init_error": "LIB_RM_VERSION_MISMATCH", "gpus": []})";
  ASSERT_EQ(::setenv("FASTGPU_NVML_LIBRARY", FASTGPU_FAKE_NVML_PATH, 1), 0);
  ASSERT_EQ(::setenv("FASTGPU_FAKE_NVML_STATE", state.c_str(), 1), 0);
  const test_support::CliRun refused = daemon.fastgpu("daemon start");
  const test_support::CliRun simulated = daemon.fastgpu("daemon start --devices 1xH100-80G");
  ::unsetenv("FASTGPU_NVML_LIBRARY");
  ::unsetenv("FASTGPU_FAKE_NVML_STATE");
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_TRUE(contains(refused.output,
                       "the NVIDIA driver is here but cannot be used, so the "
                       "daemon does not start"))
      << refused.output;
  EXPECT_TRUE(contains(refused.output, "NVML_ERROR_LIB_RM_VERSION_MISMATCH")) << refused.output;
  EXPECT_TRUE(contains(refused.output, "--devices 4xH100-80G or FASTGPU_DEVICES=4xH100-80G"))
      << refused.output;
  EXPECT_EQ(simulated.exit_code, 0) << simulated.output;
  const json status = daemon.fastgpu_json("daemon status");
  ASSERT_TRUE(status.is_object());
  EXPECT_EQ(status["gpus_source"], "simulated");
  EXPECT_EQ(status["devices"], "1xH100-80G");
}

// The engine samples the GPUs only at a tick; a sample interval shorter than the tick must
// still be kept (with a minute's tick and nothing to do, the daemon sampled once a minute).
TEST(DaemonLifecycle, ASampleIntervalShorterThanTheTickIsKept) {
  DaemonHarness daemon;
  std::thread running([&daemon] {
    daemon.fastgpu_into("daemon run --tick-ms 60000 --sample-interval 0.1s",
                        daemon.work() / "daemon.out", daemon.work() / "daemon.err");
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!daemon.answering_pid() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(daemon.answering_pid().has_value()) << daemon.daemon_log_tail();
  // At least five sampling moments, each a tick, long before the first minute's tick.
  std::set<store::WallTime> moments;
  {
    auto store = store::open_sqlite_store((daemon.state_dir() / "fastgpu.db").string());
    ASSERT_TRUE(store.ok()) << store.status().to_string();
    while (moments.size() < 5 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      auto samples = (*store)->samples_between(store::WallTime{}, store::WallTime::max());
      ASSERT_TRUE(samples.ok()) << samples.status().to_string();
      for (const store::Sample& sample : *samples) moments.insert(sample.at);
    }
  }
  daemon.fastgpu("daemon stop");
  running.join();
  EXPECT_GE(moments.size(), 5u) << "the daemon sampled at " << moments.size() << " moment(s)";
}

TEST(DaemonLifecycle, StartStatusSecondDaemonRefusedAndStop) {
  DaemonHarness daemon;
  const test_support::CliRun started = daemon.fastgpu("daemon start");
  ASSERT_EQ(started.exit_code, 0) << started.output;
  const json status = daemon.fastgpu_json("daemon status");
  ASSERT_TRUE(status.is_object()) << daemon.fastgpu("daemon status").output;
  EXPECT_EQ(status["running"], true);
  EXPECT_EQ(status["gpus_source"], "simulated");
  EXPECT_EQ(status["socket"], daemon.socket().string());
  EXPECT_EQ(status["state_dir"], daemon.state_dir().string());
  EXPECT_GT(status["pid"].get<int>(), 0);
  EXPECT_EQ(status["sample_interval_s"], 1.0);  // the default

  struct stat info {};
  ASSERT_EQ(::stat(daemon.socket().c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);

  const test_support::CliRun second = daemon.fastgpu("daemon run");
  EXPECT_EQ(second.exit_code, 1) << second.output;
  EXPECT_TRUE(contains(second.output, "already runs")) << second.output;
  EXPECT_EQ(daemon.fastgpu("daemon start").exit_code, 0);  // says so, starts nothing

  const test_support::CliRun stopped = daemon.fastgpu("daemon stop");
  EXPECT_EQ(stopped.exit_code, 0) << stopped.output;
  EXPECT_EQ(daemon.fastgpu("daemon status").exit_code, 1);
}

// `daemon start` and `daemon stop` print what they did as JSON with --json (both refused the
// flag, exit 2, so a script had to read the pid out of a sentence).
TEST(DaemonLifecycle, StartAndStopSayWhatTheyDidAsJson) {
  DaemonHarness daemon;
  const json started = daemon.fastgpu_json("daemon start");
  ASSERT_TRUE(started.is_object()) << daemon.fastgpu("daemon start --json").output;
  EXPECT_EQ(started["started"], true);
  EXPECT_GT(started["pid"].get<int>(), 0);
  EXPECT_EQ(started["socket"], daemon.socket().string());
  EXPECT_EQ(started["state_dir"], daemon.state_dir().string());
  EXPECT_EQ(started["log"], (daemon.state_dir() / "daemon.log").string());

  const json again = daemon.fastgpu_json("daemon start");
  ASSERT_TRUE(again.is_object());
  EXPECT_EQ(again["started"], false);  // it found the first one
  EXPECT_EQ(again["pid"], started["pid"]);

  const json stopped = daemon.fastgpu_json("daemon stop");
  ASSERT_TRUE(stopped.is_object()) << daemon.fastgpu("daemon stop --json").output;
  EXPECT_EQ(stopped["stopped"], true);
  EXPECT_EQ(stopped["pid"], started["pid"]);
  const json none = daemon.fastgpu_json("daemon stop");
  ASSERT_TRUE(none.is_object());
  EXPECT_EQ(none["stopped"], false);
  EXPECT_TRUE(none["pid"].is_null());
}

// A stop timeout out of range is refused before anything is sent: it said "did not stop
// within -1 s" and to kill -9 it (exit 1), of a daemon it had just sent SIGTERM.
TEST(DaemonLifecycle, AStopTimeoutOutOfRangeIsRefusedBeforeAnythingIsSent) {
  DaemonHarness daemon;
  ASSERT_EQ(daemon.fastgpu("daemon start").exit_code, 0);
  for (const char* timeout : {"-1", "0"}) {
    const test_support::CliRun refused =
        daemon.fastgpu(std::string("daemon stop --timeout ") + timeout);
    EXPECT_EQ(refused.exit_code, 2) << refused.output;
    EXPECT_TRUE(contains(refused.output, std::string("--timeout ") + timeout +
                                             " is out of range; give the seconds to wait"))
        << refused.output;
  }
  EXPECT_EQ(daemon.fastgpu("daemon status").exit_code, 0);  // still running
}

// How often the GPUs are read for the jobs' accounting was EngineOptions' alone (1 s): no
// flag, variable or setting reached it.
TEST(DaemonLifecycle, TheSampleIntervalIsChosenAtStartAndStatusShowsIt) {
  DaemonHarness daemon;
  const test_support::CliRun zero = daemon.fastgpu("daemon start --sample-interval 0");
  EXPECT_EQ(zero.exit_code, 2) << zero.output;
  EXPECT_TRUE(contains(zero.output, "--sample-interval '0' is out of range")) << zero.output;
  const test_support::CliRun unreadable =
      daemon.fastgpu_with("FASTGPU_SAMPLE_INTERVAL=abc", "daemon start");
  EXPECT_EQ(unreadable.exit_code, 1) << unreadable.output;
  EXPECT_TRUE(contains(unreadable.output, "FASTGPU_SAMPLE_INTERVAL: duration 'abc'"))
      << unreadable.output;
  EXPECT_EQ(daemon.fastgpu("daemon status").exit_code, 1);  // neither started one

  ASSERT_EQ(daemon.fastgpu("daemon start --sample-interval 2s").exit_code, 0);
  const json status = daemon.fastgpu_json("daemon status");
  ASSERT_TRUE(status.is_object());
  EXPECT_EQ(status["sample_interval_s"], 2.0);
  EXPECT_TRUE(contains(daemon.fastgpu("daemon status").output, "sampling:  every 2s, kept "));
  const test_support::CliRun other = daemon.fastgpu("daemon start --sample-interval 5s");
  EXPECT_EQ(other.exit_code, 1) << other.output;
  EXPECT_TRUE(contains(other.output, "sample interval 5s, not 2s")) << other.output;
}

// A retention flag below its range is a usage error (exit 2) that names it and says the
// range; its variable given something that is no duration fails the start (exit 1), named.
void expect_retention_refused(DaemonHarness& daemon, const std::string& flag,
                              const std::string& variable, const std::string& range_says) {
  const test_support::CliRun short_one = daemon.fastgpu("daemon start " + flag + " 10m");
  EXPECT_EQ(short_one.exit_code, 2) << short_one.output;
  EXPECT_TRUE(contains(short_one.output, flag + " '10m' is out of range")) << short_one.output;
  EXPECT_TRUE(contains(short_one.output, range_says)) << short_one.output;
  const test_support::CliRun unreadable = daemon.fastgpu_with(variable + "=month", "daemon start");
  EXPECT_EQ(unreadable.exit_code, 1) << unreadable.output;
  EXPECT_TRUE(contains(unreadable.output, variable + ": duration 'month'")) << unreadable.output;
}

// GPU samples past --sample-retention are deleted by the daemon; status says how long
// they are kept.
TEST(DaemonLifecycle, SamplesPastTheRetentionChosenAtStartAreDeleted) {
  DaemonHarness daemon;
  expect_retention_refused(daemon, "--sample-retention", "FASTGPU_SAMPLE_RETENTION",
                           "or for ever (0)");

  // Samples of three days ago and of a minute ago, in the daemon's database before it starts.
  const auto now =
      std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
  const store::WallTime old_sample = now - std::chrono::hours(72);
  const store::WallTime new_sample = now - std::chrono::minutes(1);
  {
    std::filesystem::create_directories(daemon.state_dir());
    ::chmod(daemon.state_dir().c_str(), 0700);
    auto opened = store::open_sqlite_store((daemon.state_dir() / "fastgpu.db").string());
    ASSERT_TRUE(opened.ok()) << opened.status().to_string();
    std::vector<store::Sample> samples(2);
    samples[0].at = old_sample;
    samples[1].at = new_sample;
    ASSERT_TRUE((*opened)->append_samples(samples).ok());
  }
  ASSERT_EQ(daemon.fastgpu("daemon start --sample-retention 2d").exit_code, 0);
  const json status = daemon.fastgpu_json("daemon status");
  ASSERT_TRUE(status.is_object());
  EXPECT_EQ(status["sample_retention_s"], 2 * 86400.0);
  EXPECT_TRUE(contains(daemon.fastgpu("daemon status").output, ", kept 2d00h\n"));
  const test_support::CliRun other = daemon.fastgpu("daemon start --sample-retention 0");
  EXPECT_EQ(other.exit_code, 1) << other.output;
  EXPECT_TRUE(contains(other.output, "samples kept for ever, not 2d00h")) << other.output;

  // The first tick deletes the old sample and keeps the new one.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::vector<store::Sample> left;
  while (std::chrono::steady_clock::now() < deadline) {
    auto opened = store::open_sqlite_store((daemon.state_dir() / "fastgpu.db").string());
    ASSERT_TRUE(opened.ok()) << opened.status().to_string();
    auto read = (*opened)->samples_between(old_sample - std::chrono::hours(1),
                                           new_sample + std::chrono::seconds(1));
    ASSERT_TRUE(read.ok()) << read.status().to_string();
    left = *read;
    if (left.size() == 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left.front().at, new_sample);
}

// Jobs that ended before --job-retention are forgotten by the daemon, their logs with
// them; status says how long ended jobs are kept, and a start asking otherwise is refused.
TEST(DaemonLifecycle, JobsPastTheRetentionChosenAtStartAreForgotten) {
  DaemonHarness daemon;
  expect_retention_refused(daemon, "--job-retention", "FASTGPU_JOB_RETENTION",
                           "or for ever (0, the default)");

  // A job that ended three days ago, with its log, and one that ended a minute ago, in the
  // daemon's database before it starts.
  const auto now =
      std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
  const std::filesystem::path old_log = daemon.state_dir() / "logs" / "old.log";
  JobId old_job;
  JobId new_job;
  {
    std::filesystem::create_directories(daemon.state_dir() / "logs");
    ::chmod(daemon.state_dir().c_str(), 0700);
    std::ofstream(old_log) << "what the old job printed\n";
    auto opened = store::open_sqlite_store((daemon.state_dir() / "fastgpu.db").string());
    ASSERT_TRUE(opened.ok()) << opened.status().to_string();
    store::StateStore& db = **opened;
    store::JobSpec spec;
    spec.argv = {"true"};
    spec.working_dir = "/tmp";
    spec.uid = ::getuid();
    spec.user = "me";
    spec.gpus = 0;
    Result<std::vector<JobId>> ids = db.submit(std::vector<store::JobSpec>{spec, spec});
    ASSERT_TRUE(ids.ok()) << ids.status().to_string();
    old_job = ids->at(0);
    new_job = ids->at(1);
    const store::WallTime ended = now - std::chrono::hours(72);
    ASSERT_TRUE(db.record_start(old_job,
                                {{}, ended - std::chrono::seconds(5), old_log.string(), {}, {}, {}})
                    .ok());
    ASSERT_TRUE(
        db.record_end(old_job, {store::JobState::kCompleted, ended, 0, {}, {}, "", {}}).ok());
    ASSERT_TRUE(db.transition(new_job, store::JobState::kQueued, store::JobState::kCancelled,
                              now - std::chrono::minutes(1), "user")
                    .ok());
  }
  ASSERT_EQ(daemon.fastgpu("daemon start --job-retention 2d").exit_code, 0);
  const json status = daemon.fastgpu_json("daemon status");
  ASSERT_TRUE(status.is_object());
  EXPECT_EQ(status["job_retention_s"], 2 * 86400.0);
  EXPECT_TRUE(
      contains(daemon.fastgpu("daemon status").output, "history:   ended jobs kept 2d00h\n"));
  const test_support::CliRun other = daemon.fastgpu("daemon start --job-retention 0");
  EXPECT_EQ(other.exit_code, 1) << other.output;
  EXPECT_TRUE(contains(other.output, "ended jobs kept for ever, not 2d00h")) << other.output;

  // The first tick forgets the old job and deletes its log; the new one stays.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline &&
         daemon.fastgpu("show " + std::to_string(old_job.value())).exit_code == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const test_support::CliRun gone = daemon.fastgpu("show " + std::to_string(old_job.value()));
  EXPECT_NE(gone.exit_code, 0) << gone.output;
  EXPECT_TRUE(contains(gone.output, "no job " + std::to_string(old_job.value()))) << gone.output;
  EXPECT_FALSE(std::filesystem::exists(old_log));
  EXPECT_EQ(daemon.fastgpu("show " + std::to_string(new_job.value())).exit_code, 0);
  EXPECT_TRUE(contains(daemon.daemon_log_tail(), "forgot 1 jobs that ended before"))
      << daemon.daemon_log_tail();
  EXPECT_TRUE(contains(daemon.daemon_log_tail(),
                       "ended jobs are forgotten 2d00h after they end (--job-retention)"))
      << daemon.daemon_log_tail();
}

// Two starts at the same moment: one daemon runs, and only the start whose daemon won says
// it started it (the other said "daemon started" too, with the winner's pid).
TEST(DaemonLifecycle, OfTwoStartsAtOnceOnlyTheOneThatStartedTheDaemonSaysSo) {
  DaemonHarness daemon;
  for (int round = 0; round < 3; ++round) {
    const test_support::CliRun both =
        daemon.fastgpu_under(R"(sh -c '"$0" "$@" & "$0" "$@"; wait')", "daemon start");
    EXPECT_EQ(count_of(both.output, "daemon started (pid "), 1) << both.output;
    EXPECT_EQ(count_of(both.output, "a daemon already runs (pid "), 1) << both.output;
    ASSERT_EQ(daemon.fastgpu("daemon stop").exit_code, 0);
  }
}

// A user of a daemon that keeps its state elsewhere (root's, serving every user) was told
// "no daemon runs" by `daemon stop` (exit 0, the daemon went on) and by `daemon reload`.
TEST(DaemonLifecycle, StopAndReloadOfADaemonWithItsStateElsewhereSayWhoseItIs) {
  DaemonHarness daemon;
  ASSERT_EQ(daemon.fastgpu("daemon start").exit_code, 0);
  const std::string elsewhere = "FASTGPU_STATE_DIR=" + (daemon.work() / "mine").string();
  const test_support::CliRun stop = daemon.fastgpu_with(elsewhere, "daemon stop");
  EXPECT_EQ(stop.exit_code, 1) << stop.output;
  EXPECT_TRUE(contains(stop.output, "keeps its state in " + daemon.state_dir().string() +
                                        ", not in " + (daemon.work() / "mine").string()))
      << stop.output;
  EXPECT_EQ(daemon.fastgpu("daemon status").exit_code, 0);  // still there
  const test_support::CliRun reload = daemon.fastgpu_with(elsewhere, "daemon reload");
  EXPECT_EQ(reload.exit_code, 0) << reload.output;  // its own user may: it is asked
  EXPECT_TRUE(contains(reload.output, "read its settings again")) << reload.output;
}

// Two state folders sharing one FASTGPU_SOCKET: the second daemon removed the first one's
// live socket and served there; the first ran on, out of reach. It is refused now, naming
// the socket, the daemon on it and the fix, and the first still answers.
TEST(DaemonLifecycle, ASecondStateFolderOnALiveSocketIsRefusedAndTheFirstKeepsIt) {
  DaemonHarness daemon;
  ASSERT_EQ(daemon.fastgpu("daemon start").exit_code, 0);
  const std::string pid = daemon.fastgpu_json("daemon status")["pid"].dump();
  const std::filesystem::path mine = daemon.work() / "mine";
  const std::string elsewhere = "FASTGPU_STATE_DIR=" + mine.string();
  const test_support::CliRun start = daemon.fastgpu_with(elsewhere, "daemon start");
  EXPECT_EQ(start.exit_code, 1) << start.output;
  EXPECT_TRUE(contains(start.output, "the socket '" + daemon.socket().string() +
                                         "' is in use: the daemon on it (pid " + pid +
                                         ") keeps its state in " + daemon.state_dir().string() +
                                         ", not in " + mine.string()))
      << start.output;
  EXPECT_TRUE(contains(start.output, "socket of its own with FASTGPU_SOCKET")) << start.output;
  const test_support::CliRun run = daemon.fastgpu_with(elsewhere, "daemon run");
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_TRUE(contains(run.output, "the socket '" + daemon.socket().string() + "' is in use: pid " +
                                       pid + " listens on it"))
      << run.output;
  const json status = daemon.fastgpu_json("daemon status");
  EXPECT_EQ(status["pid"].dump(), pid);
  EXPECT_EQ(status["state_dir"], daemon.state_dir().string());
}

// The daemon works from /: a relative FASTGPU_STATE_DIR or FASTGPU_SOCKET was read there
// (`FASTGPU_STATE_DIR=state`: /state, made by root's daemon), and the command waited for a
// socket the daemon never opened. A trailing slash and a symlink still name the same daemon.
TEST(DaemonLifecycle, RelativeSlashedAndLinkedStatePathsNameTheSameDaemon) {
  DaemonHarness daemon;
  const std::string relative = "FASTGPU_STATE_DIR=../" + daemon.state_dir().filename().string() +
                               "/ FASTGPU_SOCKET=./../" + daemon.socket().filename().string();
  const test_support::CliRun started = daemon.fastgpu_with(relative, "daemon start");
  ASSERT_EQ(started.exit_code, 0) << started.output;
  const json status = daemon.fastgpu_json("daemon status");
  ASSERT_TRUE(status.is_object()) << daemon.fastgpu("daemon status").output;
  EXPECT_EQ(status["state_dir"], daemon.state_dir().string());
  EXPECT_EQ(status["socket"], daemon.socket().string());
  const std::string pid = status["pid"].dump();

  const std::filesystem::path link = daemon.work() / "link";
  std::filesystem::create_directory_symlink(daemon.state_dir(), link);
  for (const std::string& other : {"FASTGPU_STATE_DIR=" + daemon.state_dir().string() + "/",
                                   "FASTGPU_STATE_DIR=" + link.string()}) {
    const test_support::CliRun again = daemon.fastgpu_with(other, "daemon start");
    EXPECT_EQ(again.exit_code, 0) << other << ": " << again.output;
    EXPECT_TRUE(contains(again.output, "a daemon already runs (pid " + pid + ")"))
        << other << ": " << again.output;
  }
  const test_support::CliRun submitted = daemon.fastgpu_with(relative, "submit --wrap true");
  ASSERT_EQ(submitted.exit_code, 0) << submitted.output;
  const std::uint64_t id = std::stoull(submitted.output);
  EXPECT_EQ(daemon.wait_for_state(id, "COMPLETED")["state"], "COMPLETED");
  EXPECT_EQ(daemon.fastgpu_json("daemon status")["pid"].dump(), pid);
}

// A user who pointed FASTGPU_SOCKET at root's shared daemon and started a daemon was told to
// "stop that one first" (`FASTGPU_STATE_DIR=/var/lib/fastgpu fastgpu daemon stop`), which
// they may not do: they are told whose it is and what they can do. Root runs the commands as
// uid 1001 for this.
TEST(DaemonLifecycle, AStartOnAnotherUsersDaemonsSocketOffersWhatTheUserCanDo) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root, to run a shared daemon and another user";
  const std::string as_user = "setpriv --reuid=1001 --regid=1001 --clear-groups";
  if (std::system(("command -v setpriv >/dev/null && " + as_user + " test -x " +
                   DaemonHarness::quoted(FASTGPU_CLI_PATH))
                      .c_str()) != 0) {
    GTEST_SKIP() << "uid 1001 cannot run " << FASTGPU_CLI_PATH << " here";
  }
  DaemonHarness daemon;
  ASSERT_EQ(::chmod(daemon.socket().parent_path().c_str(), 0755), 0);
  ASSERT_EQ(daemon.fastgpu("daemon start --shared").exit_code, 0);
  const std::string pid = daemon.fastgpu_json("daemon status")["pid"].dump();
  const std::filesystem::path mine = daemon.work() / "state-1001";  // the user's own
  std::filesystem::create_directories(mine);
  ASSERT_EQ(::chown(mine.c_str(), 1001, 1001), 0);
  ASSERT_EQ(::chmod(mine.c_str(), 0700), 0);
  const std::string user = "HOME=/tmp FASTGPU_STATE_DIR=" + mine.string() + " " + as_user;
  const test_support::CliRun start = daemon.fastgpu_under(user, "daemon start");
  EXPECT_EQ(start.exit_code, 1) << start.output;
  EXPECT_TRUE(contains(start.output,
                       "fastgpu daemon start: the socket '" + daemon.socket().string() +
                           "' is in use: root (uid 0)'s daemon (pid " + pid + ", its state in " +
                           daemon.state_dir().string() +
                           ") serves on it, and only its owner or root may stop it; use it as it "
                           "is (your job verbs already reach it"))
      << start.output;
  EXPECT_TRUE(contains(start.output, "unset FASTGPU_SOCKET, or set it to a path of yours"))
      << start.output;
  EXPECT_FALSE(contains(start.output, "stop that one first")) << start.output;
  const test_support::CliRun run = daemon.fastgpu_under(user, "daemon run");
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_TRUE(contains(run.output, "fastgpu daemon run: the socket '" + daemon.socket().string() +
                                       "' is in use: pid " + pid +
                                       ", root (uid 0)'s, listens on it, and only its owner or "
                                       "root may stop it; use that daemon as it is"))
      << run.output;
  EXPECT_FALSE(contains(run.output, "kill " + pid)) << run.output;
  // Their job verbs do reach it, as it says.
  EXPECT_EQ(daemon.fastgpu_under(user, "queue").exit_code, 0);
  EXPECT_EQ(daemon.fastgpu_json("daemon status")["pid"].dump(), pid);  // still there
}

// Two state folders given one FASTGPU_SOCKET: a job verb of the second folder talked to the
// first folder's daemon, which stored its jobs there. It is refused now, naming the socket,
// both folders and the fix, and nothing reaches that daemon.
TEST(DaemonLifecycle, AJobVerbOfAnotherStateFolderIsRefusedByTheDaemonOnItsSocket) {
  DaemonHarness daemon;
  ASSERT_EQ(daemon.fastgpu("daemon start").exit_code, 0);
  const std::string pid = daemon.fastgpu_json("daemon status")["pid"].dump();
  const std::filesystem::path mine = daemon.work() / "mine";
  const std::string elsewhere = "FASTGPU_STATE_DIR=" + mine.string();
  for (const char* verb : {"submit -- true", "queue", "show 1", "cancel 1", "history"}) {
    const test_support::CliRun refused = daemon.fastgpu_with(elsewhere, verb);
    EXPECT_EQ(refused.exit_code, 1) << verb << ": " << refused.output;
    EXPECT_TRUE(
        contains(refused.output, "the daemon on the socket '" + daemon.socket().string() +
                                     "' (FASTGPU_SOCKET) (pid " + pid + ") keeps its state in " +
                                     daemon.state_dir().string() +
                                     ", not in this command's state "
                                     "folder " +
                                     mine.string() +
                                     " (from FASTGPU_STATE_DIR); nothing "
                                     "was sent to it. To use that daemon, run the command with "
                                     "FASTGPU_STATE_DIR=" +
                                     daemon.state_dir().string()))
        << verb << ": " << refused.output;
  }
  EXPECT_EQ(daemon.fastgpu_json("history")["jobs"].size(), 0u) << "the job was not submitted";
  // The same folder written another way is the same folder.
  EXPECT_EQ(daemon.fastgpu_with("FASTGPU_STATE_DIR=" + daemon.state_dir().string() + "/", "queue")
                .exit_code,
            0);
}

// Root's shared daemon serves callers of any state folder: root's own profile points its
// commands at it with FASTGPU_SOCKET alone, as every user's does (docs/api.md).
TEST(DaemonLifecycle, ASharedDaemonServesAJobVerbOfAnyStateFolder) {
  if (::geteuid() != 0) GTEST_SKIP() << "--shared is root's";
  DaemonHarness daemon;
  ASSERT_EQ(::chmod(daemon.socket().parent_path().c_str(), 0755), 0);
  ASSERT_EQ(daemon.fastgpu("daemon start --shared").exit_code, 0);
  const std::string elsewhere = "FASTGPU_STATE_DIR=" + (daemon.work() / "root-home").string();
  const test_support::CliRun submitted = daemon.fastgpu_with(elsewhere, "submit -- true");
  EXPECT_EQ(submitted.exit_code, 0) << submitted.output;
  EXPECT_EQ(daemon.fastgpu_with(elsewhere, "queue").exit_code, 0);
}

// `daemon start` takes --shared and --cpu-slots as `daemon run` does (only run had them);
// status reports both, and a start asking for other slots is refused naming them.
TEST(DaemonLifecycle, StartTakesSharedAndCpuSlotsAndStatusShowsThem) {
  DaemonHarness daemon;
  if (::geteuid() != 0)
    GTEST_SKIP() << "--shared is root's (CliUsage.ASharedDaemonOfAUserIsRefused)";
  // Every user must reach a shared socket: its folder open to them (a private one is refused).
  ASSERT_EQ(::chmod(daemon.socket().parent_path().c_str(), 0755), 0);
  const test_support::CliRun started = daemon.fastgpu("daemon start --shared --cpu-slots 3");
  ASSERT_EQ(started.exit_code, 0) << started.output;
  struct stat info {};
  ASSERT_EQ(::stat(daemon.socket().c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0666u);
  const json status = daemon.fastgpu_json("daemon status");
  EXPECT_EQ(status["cpu_slots"], 3) << status.dump();
  EXPECT_EQ(status["shared"], true) << status.dump();
  const test_support::CliRun other = daemon.fastgpu("daemon start --cpu-slots 5");
  EXPECT_EQ(other.exit_code, 1) << other.output;
  EXPECT_TRUE(contains(other.output, "cpu_slots 5, not 3")) << other.output;
  EXPECT_EQ(daemon.fastgpu("daemon start --cpu-slots -1").exit_code, 2);
}

// A state folder made by hand, open to all (0755), let every user read every job's
// command and environment in the database: the daemon now refuses it, naming the fix.
TEST(DaemonLifecycle, AStateFolderOthersMayReadIsRefused) {
  DaemonHarness daemon;
  std::filesystem::create_directories(daemon.state_dir());
  ASSERT_EQ(::chmod(daemon.state_dir().c_str(), 0755), 0);
  const test_support::CliRun run = daemon.fastgpu("daemon run");
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_TRUE(contains(run.output, "the state folder '" + daemon.state_dir().string() +
                                       "' is mode 0755: other users could read every job's "
                                       "command, environment and log in it; make it private "
                                       "(`chmod 700 " +
                                       daemon.state_dir().string() + "`)"))
      << run.output;
}

// A daemon that could not bind its socket (a folder it may not write) started its loop
// first, and at times launched a queued job before it exited with the error: the job ran on
// with no daemon. The socket is bound before any tick now; the job waits for a daemon that
// serves. (/proc: a folder where no one may make a socket, root or not.)
TEST(DaemonLifecycle, ADaemonThatCannotBindItsSocketStartsNoJob) {
  DaemonHarness daemon;
  const std::filesystem::path go = daemon.work() / "go";
  const std::uint64_t first = daemon.submit(
      "-G 2 --gpu-mem 1G --wrap " +
      DaemonHarness::quoted("while [ ! -e " + go.string() + " ]; do sleep 0.05; done"));
  const std::uint64_t waiting = daemon.submit("-G 2 --gpu-mem 1G -- true");
  daemon.wait_for_launch(first);
  ASSERT_EQ(daemon.fastgpu("daemon stop").exit_code, 0);
  // The first job ends with no daemon; its GPUs are free for the next one to start.
  std::ofstream(go) << "\n";
  const std::filesystem::path first_run =
      daemon.state_dir() / "runs" / (std::to_string(first) + ".1.jsonl");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    std::ifstream file(first_run);
    const std::string text{std::istreambuf_iterator<char>(file), {}};
    if (contains(text, "\"outcome\"")) break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "job " << first << " never ended";
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const std::filesystem::path waiting_run =
      daemon.state_dir() / "runs" / (std::to_string(waiting) + ".1.jsonl");
  // Several tries: the old order launched the job in some of them, not all.
  for (int attempt = 0; attempt < 20; ++attempt) {
    const test_support::CliRun run =
        daemon.fastgpu_with("FASTGPU_SOCKET=/proc/fastgpu-test.sock", "daemon run");
    EXPECT_EQ(run.exit_code, 1) << run.output;
    EXPECT_TRUE(contains(run.output,
                         "fastgpu daemon run: cannot listen on the socket "
                         "'/proc/fastgpu-test.sock': "))
        << run.output;
    EXPECT_TRUE(contains(run.output,
                         "set FASTGPU_SOCKET to another path (the daemon did not "
                         "start, and started no job)"))
        << run.output;
    ASSERT_FALSE(std::filesystem::exists(waiting_run))
        << "attempt " << attempt << ": " << run.output;
  }
  // Nothing lost: a daemon that serves runs it.
  EXPECT_EQ(daemon.wait_for_state(waiting, "COMPLETED")["state"], "COMPLETED");
}

// A daemon keeps the hard limits of the shell that started it, and only root raises one
// again: a `ulimit -t` meant for one job holds every later job to it. The command that
// started it says so, and so does the daemon's log.
TEST(DaemonLifecycle, ADaemonStartedUnderAJobsUlimitSaysWhatItKeeps) {
  DaemonHarness daemon;
  const std::string job_limits = R"(sh -c 'ulimit -t 36000; ulimit -H -s 65536; exec "$0" "$@"')";
  const test_support::CliRun submitted =
      daemon.fastgpu_under(job_limits, "submit --gpus 0 -- true");
  ASSERT_EQ(submitted.exit_code, 0) << submitted.output;
  EXPECT_TRUE(contains(submitted.output,
                       "fastgpu submit: the daemon keeps this shell's hard limits, cpu 36000 s "
                       "(ulimit -t), stack 64M (ulimit -s), and only root raises a hard limit: "
                       "every job it runs is held to them"))
      << submitted.output;
  EXPECT_TRUE(contains(submitted.output,
                       "`fastgpu daemon stop` (running jobs go on), then "
                       "`fastgpu daemon start` from a shell without them"))
      << submitted.output;
  EXPECT_TRUE(contains(daemon.daemon_log_tail(),
                       "hard limits kept from the shell that started it, to which every job it "
                       "runs is held (only root raises a hard limit): cpu 36000 s (ulimit -t), "
                       "stack 64M (ulimit -s)"))
      << daemon.daemon_log_tail();
  // A command that found the daemon running says nothing of its own limits.
  const test_support::CliRun again = daemon.fastgpu_under(job_limits, "submit --gpus 0 -- true");
  EXPECT_FALSE(contains(again.output, "hard limits")) << again.output;
  ASSERT_EQ(daemon.fastgpu("daemon stop").exit_code, 0);

  const test_support::CliRun started = daemon.fastgpu_under(job_limits, "daemon start");
  ASSERT_EQ(started.exit_code, 0) << started.output;
  EXPECT_TRUE(contains(started.output,
                       "fastgpu daemon start: the daemon keeps this shell's hard "
                       "limits, cpu 36000 s (ulimit -t), stack 64M (ulimit -s)"))
      << started.output;
  ASSERT_EQ(daemon.fastgpu("daemon stop").exit_code, 0);
  const test_support::CliRun plain = daemon.fastgpu("daemon start");
  ASSERT_EQ(plain.exit_code, 0) << plain.output;
  EXPECT_FALSE(contains(plain.output, "hard limits")) << plain.output;
}

#if !defined(__SANITIZE_ADDRESS__)  // ASan's shadow memory needs terabytes of address space
// A daemon whose address space leaves no room for its threads says which limit, and where it
// came from; it ended with "terminate called after throwing an instance of
// 'std::system_error' what(): Resource temporarily unavailable".
TEST(DaemonLifecycle, ADaemonWithTooLittleAddressSpaceForItsThreadsNamesTheLimit) {
  DaemonHarness daemon;
  const test_support::CliRun started =
      daemon.fastgpu_under(R"(sh -c 'ulimit -v 200000; exec "$0" "$@"')", "daemon start");
  EXPECT_EQ(started.exit_code, 1) << started.output;
  EXPECT_TRUE(contains(started.output, "was refused by the system (")) << started.output;
  EXPECT_TRUE(contains(started.output, "200000K of address space (ulimit -v)")) << started.output;
  EXPECT_TRUE(contains(started.output,
                       "A daemon keeps the limits of the shell that started it: start it from a "
                       "shell without such limits"))
      << started.output;
  EXPECT_FALSE(contains(started.output, "terminate called")) << started.output;
}
#endif

TEST(DaemonLifecycle, BadDevicesSpecIsAStartUpErrorNamingIt) {
  DaemonHarness daemon("4xH100-80Q");
  const test_support::CliRun started = daemon.fastgpu("daemon start");
  EXPECT_EQ(started.exit_code, 1) << started.output;
  EXPECT_TRUE(contains(started.output, "80Q")) << started.output;
}

// The daemon orders its queue by the policy it was started with: under `priority` the
// job of higher priority starts first, though submitted after the other.
// Holds the one GPU with a job, queues a priority-1 job and then a priority-9 one (each
// wanting the whole GPU); `between` runs while they wait. Then frees the GPU and returns
// whether the priority-9 job started first, as a priority policy starts them.
bool higher_priority_starts_first(DaemonHarness& daemon,
                                  const std::function<void()>& between = {}) {
  const std::uint64_t blocker = daemon.submit("--gpu-mem 70G -- sleep 60");
  daemon.wait_for_state(blocker, "RUNNING");
  const std::uint64_t low = daemon.submit("--gpu-mem 70G --priority 1 -- true");
  const std::uint64_t high = daemon.submit("--gpu-mem 70G --priority 9 -- true");
  if (between) between();
  EXPECT_EQ(daemon.fastgpu("cancel " + std::to_string(blocker)).exit_code, 0);  // the GPU frees
  const json low_job = daemon.wait_for_state(low, "COMPLETED");
  const json high_job = daemon.wait_for_state(high, "COMPLETED");
  return high_job["start_time_us"].get<std::int64_t>() <
         low_job["start_time_us"].get<std::int64_t>();
}

TEST(DaemonLifecycle, ThePolicyItStartsWithOrdersTheQueueAndStatusSaysIt) {
  DaemonHarness daemon("1xH100-80G");
  const test_support::CliRun started = daemon.fastgpu("daemon start --policy priority");
  ASSERT_EQ(started.exit_code, 0) << started.output;
  const json status = daemon.fastgpu_json("daemon status");
  EXPECT_EQ(status["policy"], "priority") << status.dump();
  EXPECT_EQ(status["strategy"], "pack") << status.dump();
  EXPECT_TRUE(contains(daemon.fastgpu("daemon status").output, "policy:    priority"));

  EXPECT_TRUE(higher_priority_starts_first(daemon));

  // A second start asking for another policy is not what was asked for: refused.
  const test_support::CliRun again = daemon.fastgpu("daemon start --policy fair");
  EXPECT_EQ(again.exit_code, 1) << again.output;
  EXPECT_TRUE(contains(again.output, "with policy priority")) << again.output;
  EXPECT_EQ(daemon.fastgpu("daemon start --policy priority").exit_code, 0);
  // So is one whose environment asks for what the daemon does not do: an exported
  // FASTGPU_METRICS_LISTEN was taken as served, and nothing listened.
  const test_support::CliRun variables = daemon.fastgpu_with(
      "FASTGPU_METRICS_LISTEN=127.0.0.1:1 FASTGPU_CPU_SLOTS=12345", "daemon start");
  EXPECT_EQ(variables.exit_code, 1) << variables.output;
  EXPECT_TRUE(contains(variables.output, "cpu_slots 12345, not ")) << variables.output;
  EXPECT_TRUE(contains(variables.output,
                       "; metrics on 127.0.0.1:1, not no TCP port (as FASTGPU_ variables of your "
                       "environment ask)"))
      << variables.output;
  EXPECT_EQ(daemon.fastgpu_with("FASTGPU_POLICY=priority", "daemon start").exit_code, 0);
}

// An unknown policy or placement is refused before any daemon starts, naming the value, where
// it came from and the names that exist; a daemon started on first use reads FASTGPU_POLICY.
TEST(DaemonLifecycle, AnUnknownPolicyIsRefusedWithTheKnownNames) {
  DaemonHarness daemon;
  const test_support::CliRun flag = daemon.fastgpu("daemon start --policy fiar");
  EXPECT_EQ(flag.exit_code, 2) << flag.output;
  EXPECT_TRUE(contains(flag.output, "--policy: unknown policy 'fiar'")) << flag.output;
  EXPECT_TRUE(contains(flag.output, "fifo, priority, sjf")) << flag.output;
  const test_support::CliRun placement = daemon.fastgpu("daemon run --strategy spred");
  EXPECT_EQ(placement.exit_code, 2) << placement.output;
  EXPECT_TRUE(contains(placement.output, "'spred'; use one of pack, spread")) << placement.output;
  const test_support::CliRun variable = daemon.fastgpu_with("FASTGPU_POLICY=bogus", "daemon start");
  EXPECT_EQ(variable.exit_code, 1) << variable.output;
  EXPECT_TRUE(contains(variable.output, "FASTGPU_POLICY: unknown policy 'bogus'"))
      << variable.output;
  EXPECT_NE(daemon.fastgpu("daemon status").exit_code, 0);  // nothing started

  const test_support::CliRun submitted =
      daemon.fastgpu_with("FASTGPU_POLICY=sjf", "submit --gpus 0 -- true");
  EXPECT_EQ(submitted.exit_code, 0) << submitted.output;
  EXPECT_EQ(daemon.fastgpu_json("daemon status")["policy"], "sjf");
}

// The settings file (~/.config/fastgpu/config.yaml, here under the harness's
// XDG_CONFIG_HOME) tunes the scheduler of a daemon that starts: its policy orders the queue,
// and status shows every setting and the file. A start with another file is refused.
TEST(DaemonLifecycle, TheSettingsFileTunesTheSchedulerAndStatusShowsIt) {
  DaemonHarness daemon("1xH100-80G");
  std::filesystem::create_directories(daemon.work() / "config" / "fastgpu");
  const std::filesystem::path file = daemon.work() / "config" / "fastgpu" / "config.yaml";
  std::ofstream(file) << "policy: priority\nbackfill: false\nmemory-action: kill\n"
                         "memory-tolerance: 1G\nbalance: on\n";
  const test_support::CliRun started = daemon.fastgpu("daemon start");
  ASSERT_EQ(started.exit_code, 0) << started.output;
  const json status = daemon.fastgpu_json("daemon status");
  EXPECT_EQ(status["settings_file"], file.string()) << status.dump();
  EXPECT_EQ(status["policy"], "priority") << status.dump();
  EXPECT_EQ(status["scheduler"]["backfill"], false) << status.dump();
  EXPECT_EQ(status["scheduler"]["memory_action"], "kill") << status.dump();
  EXPECT_EQ(status["scheduler"]["memory_tolerance"], 1LL << 30) << status.dump();
  EXPECT_EQ(status["scheduler"]["balance"], true) << status.dump();
  EXPECT_EQ(status["scheduler"]["aging_per_hour"], 1.0) << status.dump();  // not in the file
  const std::string text = daemon.fastgpu("daemon status").output;
  EXPECT_TRUE(contains(text, "policy:    priority (placement: pack, backfill off)")) << text;
  EXPECT_TRUE(contains(text, "a job over its declared GPU memory: kill (tolerance 1.0 GiB)"))
      << text;
  EXPECT_TRUE(contains(text,
                       "balancer:  on (moves restartable jobs from GPUs at 95% "
                       "utilization to GPUs at 10%)"))
      << text;
  EXPECT_TRUE(contains(text, "settings:  " + file.string())) << text;

  EXPECT_TRUE(higher_priority_starts_first(daemon));

  // Another file asks for other settings than the daemon runs with: refused, naming them.
  daemon.write_file("warn.yaml", "policy: priority\nmemory-action: warn\n");
  const test_support::CliRun other = daemon.fastgpu("daemon start --config warn.yaml");
  EXPECT_EQ(other.exit_code, 1) << other.output;
  EXPECT_TRUE(contains(other.output, "backfill true, not false; memory-action warn, not kill"))
      << other.output;
  const test_support::CliRun same = daemon.fastgpu("daemon start --config " + file.string());
  EXPECT_EQ(same.exit_code, 0) << same.output;
}

// `daemon reload` and SIGHUP read the settings file again: a bad file is refused naming
// its line and changes nothing; a good one takes effect at once, and status shows it.
TEST(DaemonLifecycle, ReloadReadsTheSettingsFileAgainAndABadOneChangesNothing) {
  DaemonHarness daemon("1xH100-80G");
  daemon.write_file("settings.yaml", "policy: fifo\n");
  ASSERT_EQ(daemon.fastgpu("daemon start --config settings.yaml").exit_code, 0);
  // The queue waits behind a blocker while the file changes: under fifo the priority-1
  // job, submitted first, would start first.
  EXPECT_TRUE(higher_priority_starts_first(daemon, [&daemon] {
    daemon.write_file("settings.yaml", "policy: priority\nbackfil: false\n");
    const test_support::CliRun bad = daemon.fastgpu("daemon reload");
    EXPECT_EQ(bad.exit_code, 1) << bad.output;
    EXPECT_TRUE(contains(bad.output, "line 2: unknown setting 'backfil' (did you mean backfill?)"))
        << bad.output;
    EXPECT_TRUE(contains(bad.output, "nothing changed")) << bad.output;
    // Named as the file, not as the variable `daemon start --config` handed the daemon.
    EXPECT_TRUE(contains(bad.output,
                         "fastgpu daemon reload: nothing changed, the daemon keeps its "
                         "settings: " +
                             (daemon.work() / "settings.yaml").string() + ": line 2"))
        << bad.output;
    EXPECT_FALSE(contains(bad.output, "FASTGPU_CONFIG")) << bad.output;
    EXPECT_EQ(daemon.fastgpu_json("daemon status")["policy"], "fifo");

    daemon.write_file("settings.yaml", "policy: priority\nbackfill: false\n");
    const test_support::CliRun good = daemon.fastgpu("daemon reload");
    EXPECT_EQ(good.exit_code, 0) << good.output;
    EXPECT_TRUE(contains(good.output, "  policy: fifo -> priority\n  backfill: true -> false\n"))
        << good.output;
    EXPECT_EQ(daemon.fastgpu_json("daemon status")["policy"], "priority");
  }));
  // The changes in the file's words and units; the reload in the daemon's log.
  daemon.write_file("settings.yaml",
                    "policy: priority\nbackfill: false\nmemory-tolerance: 2G\n"
                    "min-run-before-preempt: 90s\n");
  const test_support::CliRun units = daemon.fastgpu("daemon reload");
  EXPECT_EQ(units.exit_code, 0) << units.output;
  EXPECT_TRUE(contains(units.output,
                       "  min-run-before-preempt: 1m -> 1m30s\n  memory-tolerance: 0 -> 2G\n"))
      << units.output;
  EXPECT_TRUE(contains(daemon.daemon_log_tail(),
                       "settings read again (`fastgpu daemon reload` of uid " +
                           std::to_string(::getuid()) + "): min-run-before-preempt: 1m -> 1m30s"))
      << daemon.daemon_log_tail();

  daemon.write_file("settings.yaml", "policy: sjf\n");
  const json status = daemon.fastgpu_json("daemon status");
  ASSERT_EQ(::kill(static_cast<pid_t>(status["pid"].get<std::int64_t>()), SIGHUP), 0);
  bool reloaded = false;
  for (int i = 0; i < 100 && !reloaded; ++i) {
    reloaded = daemon.fastgpu_json("daemon status")["policy"] == "sjf";
    if (!reloaded) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(reloaded);
}

// A file's policy that the daemon's --policy overrides is said on reload: the user who sees
// backfill change must not believe the file's policy took effect too.
TEST(DaemonLifecycle, AReloadSaysWhichOfTheFilesSettingsTheStartFlagsOverride) {
  DaemonHarness daemon;
  daemon.write_file("settings.yaml", "policy: fair\n");
  ASSERT_EQ(daemon.fastgpu("daemon start --config settings.yaml --policy priority").exit_code, 0);
  daemon.write_file("settings.yaml", "policy: sjf\nbackfill: false\n");
  const test_support::CliRun reloaded = daemon.fastgpu("daemon reload");
  EXPECT_EQ(reloaded.exit_code, 0) << reloaded.output;
  EXPECT_TRUE(contains(reloaded.output,
                       "  backfill: true -> false\n  policy: sjf in the file is not used: the "
                       "daemon was started with --policy priority (or FASTGPU_POLICY)"))
      << reloaded.output;
  EXPECT_EQ(daemon.fastgpu_json("daemon status")["policy"], "priority");
  // A file that agrees with the flag, or leaves the policy out, gets no such line.
  daemon.write_file("settings.yaml", "backfill: true\n");
  const test_support::CliRun quiet = daemon.fastgpu("daemon reload");
  EXPECT_EQ(quiet.exit_code, 0) << quiet.output;
  EXPECT_FALSE(contains(quiet.output, "not used")) << quiet.output;
}

// A settings file that cannot be read, or holds a bad setting, is refused before any daemon
// starts, naming the file, the line and the fix; a relative FASTGPU_CONFIG reaches a daemon
// started on first use (which runs in /) as the file it names.
TEST(DaemonLifecycle, ABadSettingsFileIsRefusedNamingItsLine) {
  DaemonHarness daemon;
  daemon.write_file("bad.yaml", "policy: fair\nballance: true\n");
  const test_support::CliRun bad = daemon.fastgpu_with("FASTGPU_CONFIG=bad.yaml", "daemon start");
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_TRUE(contains(bad.output, "FASTGPU_CONFIG " + (daemon.work() / "bad.yaml").string() +
                                       ": line 2: unknown setting 'ballance' (did you mean "
                                       "balance?)"))
      << bad.output;
  const test_support::CliRun missing = daemon.fastgpu("daemon start --config none.yaml");
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_TRUE(contains(missing.output, "none.yaml: cannot read the settings file"))
      << missing.output;
  const test_support::CliRun bad_first_use =
      daemon.fastgpu_with("FASTGPU_CONFIG=bad.yaml", "submit --gpus 0 -- true");
  EXPECT_EQ(bad_first_use.exit_code, 1) << bad_first_use.output;
  EXPECT_TRUE(contains(bad_first_use.output, "unknown setting 'ballance'")) << bad_first_use.output;
  daemon.write_file("fair.yaml", "policy: fair\nfair-half-life: 2h\n");
  const test_support::CliRun submitted =
      daemon.fastgpu_with("FASTGPU_CONFIG=fair.yaml", "submit --gpus 0 -- true");
  EXPECT_EQ(submitted.exit_code, 0) << submitted.output;
  const json status = daemon.fastgpu_json("daemon status");
  EXPECT_EQ(status["settings_file"], (daemon.work() / "fair.yaml").string()) << status.dump();
  EXPECT_EQ(status["scheduler"]["fair_half_life"], 7200.0) << status.dump();
  EXPECT_EQ(status["policy"], "fair") << status.dump();
}

// A state database deleted (or moved away) while the folder keeps its jobs' logs and run
// records: the new database's first job was job 1 again, appended to job 1's log and read
// job 1's outcome as its own. Its jobs are numbered past them now, and the log says why.
TEST(DaemonLifecycle, ANewDatabaseBesideEarlierJobsFilesNumbersItsJobsPastThem) {
  DaemonHarness daemon;
  const std::vector<std::uint64_t> first = daemon.submit_api(
      {{"jobs", json::array({shell_job("echo OLD-OUTPUT; exit 3", daemon.work().string(), 0)})}});
  ASSERT_EQ(first.size(), 1u);
  daemon.wait_for_state(first[0], "FAILED");
  ASSERT_EQ(daemon.fastgpu("daemon stop").exit_code, 0);
  for (const char* file : {"fastgpu.db", "fastgpu.db-wal", "fastgpu.db-shm"}) {
    std::filesystem::remove(daemon.state_dir() / file);
  }
  const std::vector<std::uint64_t> next = daemon.submit_api(
      {{"jobs", json::array({shell_job("echo NEW-OUTPUT", daemon.work().string(), 0)})}});
  ASSERT_EQ(next.size(), 1u);
  EXPECT_GT(next[0], first[0]);
  daemon.wait_for_state(next[0], "COMPLETED");
  EXPECT_EQ(daemon.log_of(next[0]), "NEW-OUTPUT\n");
  EXPECT_TRUE(contains(daemon.daemon_log_tail(),
                       "new jobs are numbered from " + std::to_string(first[0] + 1)))
      << daemon.daemon_log_tail();
}

// The database deleted under a running daemon (`rm fastgpu.db*`): the daemon writes it back
// from its open file and stops; the next command's daemon has every job, and takes the
// running one back, which ends once, COMPLETED. Before, the daemon went on writing to the
// deleted file, and its next start had an empty history and a running job it did not know.
TEST(DaemonLifecycle, ADatabaseDeletedUnderTheDaemonIsWrittenBackAndNothingIsLost) {
  DaemonHarness daemon;
  const std::vector<std::uint64_t> ids = daemon.submit_api(
      {{"jobs", json::array({shell_job("echo done", daemon.work().string(), 0),
                             shell_job("sleep 4; echo slept", daemon.work().string(), 0)})}});
  ASSERT_EQ(ids.size(), 2u);
  daemon.wait_for_state(ids[0], "COMPLETED");
  daemon.wait_for_launch(ids[1]);
  const std::optional<pid_t> before = daemon.answering_pid();
  ASSERT_TRUE(before.has_value());
  for (const char* file : {"fastgpu.db", "fastgpu.db-wal", "fastgpu.db-shm"}) {
    std::filesystem::remove(daemon.state_dir() / file);
  }
  bool stopped = false;
  for (int i = 0; i < 200 && !stopped; ++i) {
    stopped = ::kill(*before, 0) != 0;
    if (!stopped) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(stopped) << daemon.daemon_log_tail();
  EXPECT_TRUE(contains(daemon.daemon_log_tail(), "was written back from the open database"))
      << daemon.daemon_log_tail();
  ASSERT_TRUE(std::filesystem::exists(daemon.state_dir() / "fastgpu.db"));
  EXPECT_EQ(daemon.job(ids[0])["state"], "COMPLETED");  // a new daemon, the same jobs
  daemon.wait_for_state(ids[1], "COMPLETED");
  EXPECT_EQ(daemon.log_of(ids[1]), "slept\n");
  EXPECT_EQ(daemon.fastgpu_json("history")["jobs"].size(), 2u);
}

TEST(DaemonLifecycle, AJobsLogShowsTheGpusItWasPlacedOn) {
  DaemonHarness daemon("2xH100-80G");
  const std::vector<std::uint64_t> ids = daemon.submit_api(
      {{"jobs",
        json::array({shell_job("echo CVD=$CUDA_VISIBLE_DEVICES", daemon.work().string())})}});
  ASSERT_EQ(ids.size(), 1u);
  const json job = daemon.wait_for_state(ids[0], "COMPLETED");
  ASSERT_EQ(job["placed_gpus"].size(), 1u) << job.dump();
  EXPECT_EQ(daemon.log_of(ids[0]), "CVD=" + job["placed_gpus"][0].dump() + "\n");
}

TEST(DaemonLifecycle, QueueShowCancelAndHistoryThroughTheCli) {
  DaemonHarness daemon("1xH100-80G");
  const std::vector<std::uint64_t> ids = daemon.submit_api(
      {{"jobs", json::array({shell_job("sleep 60", daemon.work().string(), 1, 80LL << 30),
                             shell_job("true", daemon.work().string(), 1, 80LL << 30)})}});
  ASSERT_EQ(ids.size(), 2u);
  daemon.wait_for_launch(ids[0]);  // so that its cancel stops it (below)
  const test_support::CliRun queue = daemon.fastgpu("queue");
  EXPECT_EQ(queue.exit_code, 0);
  EXPECT_TRUE(contains(queue.output, "RUNNING")) << queue.output;
  EXPECT_TRUE(contains(queue.output, "QUEUED")) << queue.output;
  EXPECT_EQ(daemon.job(ids[1])["state"], "QUEUED");  // the GPU's 80G are taken
  const test_support::CliRun no_log = daemon.fastgpu("logs " + std::to_string(ids[1]));
  EXPECT_EQ(no_log.exit_code, 0);
  EXPECT_TRUE(contains(no_log.output, "has not started yet (QUEUED")) << no_log.output;

  const test_support::CliRun cancel =
      daemon.fastgpu("cancel " + std::to_string(ids[1]) + " " + std::to_string(ids[0]) + " " +
                     std::to_string(ids[1]));
  EXPECT_EQ(cancel.exit_code, 0) << cancel.output;  // the repeated id is asked once
  EXPECT_TRUE(contains(cancel.output, "job " + std::to_string(ids[1]) + ": CANCELLED\n"))
      << cancel.output;
  EXPECT_TRUE(contains(cancel.output, "job " + std::to_string(ids[0]) + ": stopping (SIGTERM"))
      << cancel.output;
  EXPECT_EQ(daemon.wait_for_state(ids[1], "CANCELLED")["start_time"], nullptr);
  // How the running one ended is recorded, with who cancelled it (it read "stopped on
  // request", the signal null).
  const json stopped = daemon.wait_for_state(ids[0], "CANCELLED");
  EXPECT_EQ(stopped["signal"], SIGTERM);
  EXPECT_EQ(stopped["end_reason"],
            "cancelled by " + api::user_name(::getuid()) + " (killed by SIGTERM)");
  const test_support::CliRun again = daemon.fastgpu("cancel " + std::to_string(ids[1]));
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_TRUE(contains(again.output, "already ended")) << again.output;
  EXPECT_EQ(daemon.fastgpu("cancel twelve").exit_code, 2);
  EXPECT_EQ(daemon.fastgpu("show 999").exit_code, 1);
  EXPECT_EQ(daemon.fastgpu_json("history")["jobs"].size(), 2u);
  // The last to end, not the highest id: the running one ended after its SIGTERM, once the
  // queued one (submitted after it) was already cancelled.
  const json last = daemon.fastgpu_json("history -n 1")["jobs"];
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0]["id"], ids[0]);
  EXPECT_EQ(daemon.fastgpu_json("history --last 5")["jobs"].size(), 2u);
  EXPECT_EQ(daemon.fastgpu("history -n -3").exit_code, 2);
  const test_support::CliRun unknown_state = daemon.fastgpu("queue -t done");
  EXPECT_EQ(unknown_state.exit_code, 2);
  EXPECT_TRUE(contains(unknown_state.output, "unknown state 'done'")) << unknown_state.output;
  // history checks its states as queue does (it exited 1 on the daemon's answer).
  EXPECT_EQ(daemon.fastgpu_json("history --state cancelled")["jobs"].size(), 2u);
  const test_support::CliRun not_ended = daemon.fastgpu("history --state running");
  EXPECT_EQ(not_ended.exit_code, 2);
  EXPECT_TRUE(contains(not_ended.output, "`fastgpu queue -t RUNNING` lists them"))
      << not_ended.output;
  EXPECT_EQ(daemon.fastgpu("history --state bogus").exit_code, 2);
  EXPECT_EQ(daemon.fastgpu("wait " + std::to_string(ids[0])).exit_code, 1);  // cancelled

  // purge: only with a moment; the ended jobs before it go, their logs with them.
  const test_support::CliRun no_moment = daemon.fastgpu("purge");
  EXPECT_EQ(no_moment.exit_code, 2);
  EXPECT_TRUE(contains(no_moment.output, "give --before TIME")) << no_moment.output;
  EXPECT_EQ(daemon.fastgpu("purge --before yesterday").exit_code, 2);
  EXPECT_EQ(daemon.fastgpu("purge --before 1h --state running").exit_code, 2);
  const std::string log = daemon.job(ids[0])["log_path"].get<std::string>();
  ASSERT_TRUE(std::filesystem::exists(log));
  const test_support::CliRun earlier = daemon.fastgpu("purge --before 1h");
  EXPECT_EQ(earlier.exit_code, 0) << earlier.output;
  EXPECT_TRUE(contains(earlier.output, "no job of yours that ended before '1h'")) << earlier.output;
  // A filter that matches nothing is named, or the line read as if nothing had ended; the
  // JSON gives the moment --before was read as.
  const test_support::CliRun unnamed = daemon.fastgpu("purge --before now --name nosuch");
  EXPECT_EQ(unnamed.exit_code, 0) << unnamed.output;
  EXPECT_TRUE(contains(unnamed.output, "no job of yours named nosuch that ended before 'now'"))
      << unnamed.output;
  const json nothing = daemon.fastgpu_json("purge --before 1h --state failed");
  EXPECT_EQ(nothing["purged"], 0) << nothing.dump();
  EXPECT_TRUE(nothing["ended_before"].is_string()) << nothing.dump();
  EXPECT_TRUE(nothing["ended_before_us"].is_number_integer()) << nothing.dump();
  const test_support::CliRun purged = daemon.fastgpu("purge --before now");
  EXPECT_EQ(purged.exit_code, 0) << purged.output;
  EXPECT_TRUE(contains(purged.output, "purged 2 job(s) of yours that ended before 'now'"))
      << purged.output;
  EXPECT_EQ(daemon.fastgpu_json("history")["jobs"].size(), 0u);
  EXPECT_FALSE(std::filesystem::exists(log));
  EXPECT_EQ(daemon.fastgpu("show " + std::to_string(ids[0])).exit_code, 1);
}

TEST(DaemonLifecycle, CancelTakesTheRangeTheQueueShowsForAnArray) {
  DaemonHarness daemon("1xH100-80G");
  const std::vector<std::uint64_t> done =
      daemon.submit_api({{"jobs", json::array({shell_job("true", daemon.work().string(), 0)})}});
  daemon.wait_for_state(done.at(0), "COMPLETED");
  const test_support::CliRun submitted =
      daemon.fastgpu("submit --name sweep --gpus 1 --gpu-mem 80G --array 0-3 -- sleep 60",
                     /*with_stderr=*/false);
  ASSERT_EQ(submitted.exit_code, 0) << submitted.output;
  const std::uint64_t first = std::stoull(submitted.output);
  const std::uint64_t last = first + 3;
  daemon.wait_for_state(first, "RUNNING");
  // The first waiting member is next in line; the others wait alike and share a line.
  const std::string queue = daemon.fastgpu("queue").output;
  EXPECT_TRUE(contains(queue, fmt::format("{}-{}", first + 2, last))) << queue;
  EXPECT_TRUE(contains(queue, "(next in line)")) << queue;
  const test_support::CliRun running = daemon.fastgpu("queue -t running");
  EXPECT_TRUE(contains(running.output, "RUNNING")) << running.output;
  EXPECT_FALSE(contains(running.output, "QUEUED")) << running.output;
  const test_support::CliRun ended = daemon.fastgpu("queue --state completed");
  EXPECT_EQ(ended.exit_code, 2);
  EXPECT_TRUE(contains(ended.output, "fastgpu history --state COMPLETED")) << ended.output;

  // From the job that ended to past the last one: what can be cancelled is; the rest is
  // counted, not an error.
  const test_support::CliRun cancel =
      daemon.fastgpu(fmt::format("cancel {}-{}", done.at(0), last + 2));
  EXPECT_EQ(cancel.exit_code, 0) << cancel.output;
  // (The running one says "stopping", or CANCELLED when its launch had not settled yet.)
  EXPECT_TRUE(contains(cancel.output, fmt::format("job {}: ", first))) << cancel.output;
  EXPECT_TRUE(contains(cancel.output, fmt::format("job {}: CANCELLED", last))) << cancel.output;
  EXPECT_TRUE(contains(cancel.output,
                       "1 job(s) had already ended or are not yours and 2 do not exist; "
                       "those were left as they are"))
      << cancel.output;
  for (std::uint64_t id = first; id <= last; ++id) daemon.wait_for_state(id, "CANCELLED");
  // The queued members went first, so none was started when the running one freed the GPU.
  for (std::uint64_t id = first + 1; id <= last; ++id) {
    EXPECT_EQ(daemon.job(id)["start_time"], nullptr) << "job " << id << " was started";
  }
  EXPECT_EQ(daemon.job(done.at(0))["state"], "COMPLETED");
  // --all: every unfinished job of the caller's, none of the ended ones.
  const test_support::CliRun more =
      daemon.fastgpu("submit --gpus 1 --gpu-mem 80G --array 0-2 -- sleep 60", false);
  ASSERT_EQ(more.exit_code, 0) << more.output;
  const std::uint64_t second = std::stoull(more.output);
  daemon.wait_for_state(second, "RUNNING");
  EXPECT_EQ(daemon.fastgpu("cancel --all 3").exit_code, 2);
  const test_support::CliRun all = daemon.fastgpu("cancel --all");
  EXPECT_EQ(all.exit_code, 0) << all.output;
  for (std::uint64_t id = second; id <= second + 2; ++id) {
    daemon.wait_for_state(id, "CANCELLED");
    if (id > second) {
      EXPECT_EQ(daemon.job(id)["start_time"], nullptr) << "job " << id;
    }
  }
  EXPECT_EQ(daemon.job(done.at(0))["state"], "COMPLETED");
  // A single id that ended is still an error.
  EXPECT_EQ(daemon.fastgpu(fmt::format("cancel {}", done.at(0))).exit_code, 1);
  EXPECT_EQ(daemon.fastgpu("cancel 9-3").exit_code, 2);
  // A range with no job at all cancelled nothing: an error, as a single unknown id is (it
  // exited 0).
  const test_support::CliRun nothing =
      daemon.fastgpu(fmt::format("cancel {}-{}", last + 100, last + 104));
  EXPECT_EQ(nothing.exit_code, 1) << nothing.output;
  EXPECT_TRUE(
      contains(nothing.output, "fastgpu cancel: none of the 5 job id(s) in the ranges exists"))
      << nothing.output;
  EXPECT_EQ(daemon.fastgpu(fmt::format("wait {}-{}", first, last)).exit_code, 1);  // cancelled
  // A range past the last job waits for the jobs there are and counts the rest, as cancel
  // does (it stopped at the first missing id and reported only that one).
  const std::uint64_t newest = second + 2;  // the last job of this test
  const test_support::CliRun past = daemon.fastgpu(fmt::format("wait {}-{}", first, newest + 3));
  EXPECT_EQ(past.exit_code, 1) << past.output;  // cancelled, still
  EXPECT_TRUE(contains(past.output, fmt::format("job {}: CANCELLED", newest))) << past.output;
  EXPECT_TRUE(contains(past.output, "in the ranges, 3 job(s) do not exist or are not yours"))
      << past.output;
  // A single id that does not exist is still an error.
  const test_support::CliRun unknown = daemon.fastgpu(fmt::format("wait {}", newest + 3));
  EXPECT_EQ(unknown.exit_code, 1) << unknown.output;
  EXPECT_TRUE(contains(unknown.output, "no job")) << unknown.output;
  // So is a range that holds none of the caller's jobs: it exited 0 ("waited for the
  // others", of which there were none), as if every job had completed.
  const test_support::CliRun none =
      daemon.fastgpu(fmt::format("wait {}-{}", newest + 3, newest + 9));
  EXPECT_EQ(none.exit_code, 1) << none.output;
  EXPECT_EQ(none.output,
            "fastgpu wait: none of the 7 job id(s) in the ranges is a job of yours; `fastgpu "
            "queue` and `fastgpu history` list them\n");
}

TEST(DaemonLifecycle, TimeLimitEndsAJobAsTimeout) {
  DaemonHarness daemon;
  json job = shell_job("sleep 60", daemon.work().string(), 0);
  job["time_limit_s"] = 1;
  const std::vector<std::uint64_t> ids = daemon.submit_api({{"jobs", json::array({job})}});
  ASSERT_EQ(ids.size(), 1u);
  const json ended = daemon.wait_for_state(ids[0], "TIMEOUT");
  // `sleep` dies of the SIGTERM sent at the limit, well within the grace period.
  EXPECT_EQ(ended["signal"], SIGTERM) << ended.dump();
  EXPECT_TRUE(ended["exit_code"].is_null()) << ended.dump();
  EXPECT_EQ(ended["end_reason"], "terminated by SIGTERM at its time limit of 1 s") << ended.dump();
  const test_support::CliRun show = daemon.fastgpu("show " + std::to_string(ids[0]), false);
  EXPECT_TRUE(contains(show.output, "signal:        15 (SIGTERM)\n")) << show.output;
  EXPECT_TRUE(
      contains(show.output, "reason:        terminated by SIGTERM at its time limit of 1 s\n"))
      << show.output;
}

// `--grace` reaches the job's supervisor: a job that ignores SIGTERM is killed a second
// after its limit, not after the daemon's 10 s.
TEST(DaemonLifecycle, AJobsOwnGraceIsWhenSigkillFollowsSigterm) {
  DaemonHarness daemon;
  const std::uint64_t id =
      daemon.submit("--gpus 0 --time 1s --grace 1 --wrap \"trap '' TERM; sleep 30\"");
  const json ended = daemon.wait_for_state(id, "TIMEOUT");
  EXPECT_EQ(ended["signal"], SIGKILL) << ended.dump();
  EXPECT_EQ(ended["spec"]["grace_s"], 1) << ended.dump();
  EXPECT_TRUE(
      contains(daemon.log_of(id), "timed out after 1s; sent SIGTERM, then SIGKILL after 1s"))
      << daemon.log_of(id);
  EXPECT_TRUE(contains(daemon.fastgpu("show " + std::to_string(id), false).output,
                       "grace:         1s from SIGTERM to SIGKILL\n"));
}

TEST(DaemonLifecycle, AnImpossibleBatchIsRefusedWholeWithTheEnginesMessage) {
  DaemonHarness daemon("2xH100-80G");
  ASSERT_EQ(daemon.fastgpu("daemon start").exit_code, 0);
  const api::ApiClient client(daemon.socket());
  const json batch = {{"jobs", json::array({shell_job("true", daemon.work().string()),
                                            shell_job("true", daemon.work().string(), 3)})}};
  const Result<api::ApiReply> reply = client.exchange("POST", "/v1/jobs", batch.dump());
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->status, 400) << reply->body.dump();
  EXPECT_EQ(daemon.fastgpu_json("queue")["jobs"].size(), 0u);
}

// A daemon killed with SIGKILL came back on first use with the default GPUs and policy;
// it now comes back as it was started, and a clean stop forgets that.
TEST(DaemonLifecycle, ARestartAfterACrashKeepsTheStartsChoicesAndACleanStopForgetsThem) {
  DaemonHarness daemon;
  // The harness gives every command FASTGPU_DEVICES; these commands leave it empty, as a
  // user's shell would.
  const std::string unset = "FASTGPU_DEVICES=";
  ASSERT_EQ(
      daemon.fastgpu("daemon start --devices 3xH100-80G --policy priority --job-retention 30d")
          .exit_code,
      0);
  const json before = daemon.fastgpu_json("daemon status");
  ASSERT_TRUE(before.is_object());
  EXPECT_EQ(before["devices"], "3xH100-80G");
  test_support::CliRun asked_other = daemon.fastgpu("daemon start --devices 1xH100-80G");
  EXPECT_EQ(asked_other.exit_code, 1) << asked_other.output;
  EXPECT_TRUE(contains(asked_other.output, "devices 1xH100-80G, not 3xH100-80G"))
      << asked_other.output;
  ASSERT_EQ(::kill(before["pid"].get<pid_t>(), SIGKILL), 0);
  ASSERT_EQ(daemon.fastgpu_with(unset, "queue").exit_code, 0);
  const json after =
      json::parse(daemon.fastgpu_with(unset, "daemon status --json").output, nullptr, false);
  ASSERT_TRUE(after.is_object());
  EXPECT_NE(after["pid"], before["pid"]);
  EXPECT_EQ(after["devices"], "3xH100-80G");
  EXPECT_EQ(after["policy"], "priority");
  EXPECT_EQ(after["job_retention_s"], 30 * 86400.0);
  ASSERT_EQ(daemon.fastgpu("daemon stop").exit_code, 0);
  ASSERT_EQ(daemon.fastgpu_with(unset, "queue").exit_code, 0);
  const json fresh =
      json::parse(daemon.fastgpu_with(unset, "daemon status --json").output, nullptr, false);
  ASSERT_TRUE(fresh.is_object());
  // The default: the machine's own GPUs, or 4xH100-80G without a driver.
  EXPECT_NE(fresh["devices"], "3xH100-80G") << fresh.dump();
  if (fresh["gpus_source"] == "simulated") {
    EXPECT_EQ(fresh["devices"], "4xH100-80G");
  }
  EXPECT_EQ(fresh["policy"], "fifo");
  EXPECT_EQ(fresh["job_retention_s"], 0.0);  // kept for ever, the default
  EXPECT_EQ(daemon.fastgpu("daemon start --devices 4xH100").exit_code, 2);
}

TEST(DaemonLifecycle, KillNineMidRunThenRestartRunsEveryJobExactlyOnceWithCompleteLogs) {
  DaemonHarness daemon("4xH100-80G");
  const std::string marker = (daemon.work() / "ran.txt").string();
  json jobs = json::array();
  for (int i = 0; i < 6; ++i) {
    jobs.push_back(
        shell_job("echo begin; echo $FASTGPU_JOB_ID >> " + marker + "; sleep 2; echo end",
                  daemon.work().string(), 1, 20LL << 30));
  }
  const std::vector<std::uint64_t> ids = daemon.submit_api({{"jobs", jobs}});
  ASSERT_EQ(ids.size(), 6u);
  daemon.wait_for_state(ids.front(), "RUNNING");
  const std::optional<pid_t> pid = daemon.answering_pid();
  ASSERT_TRUE(pid) << "no daemon answers; the end of its log:\n" << daemon.daemon_log_tail();
  ASSERT_EQ(::kill(*pid, SIGKILL), 0);
  // The next command finds no daemon and starts a new one, which re-adopts the jobs.
  std::string list;
  for (std::uint64_t id : ids) list += std::to_string(id) + " ";
  const test_support::CliRun waited = daemon.fastgpu("wait --timeout 120s " + list);
  EXPECT_EQ(waited.exit_code, 0) << waited.output;
  std::multiset<std::string> ran;
  std::ifstream file(marker);
  for (std::string line; std::getline(file, line);) ran.insert(line);
  for (std::uint64_t id : ids) {
    EXPECT_EQ(ran.count(std::to_string(id)), 1u) << "job " << id;
    const json job = daemon.job(id);
    EXPECT_EQ(job["state"], "COMPLETED") << job.dump();
    // A job the killed daemon had claimed but not yet launched is claimed again after the
    // restart (attempts 2) and still runs once: the marker file and the log are what count.
    EXPECT_GE(job["attempts"].get<int>(), 1) << job.dump();
    EXPECT_LE(job["attempts"].get<int>(), 2) << job.dump();
    EXPECT_EQ(daemon.log_of(id), "begin\nend\n") << "job " << id;
  }
}

// The issue's crash test: a 200-job run (GPU jobs packed 8 to a GPU, CPU-only jobs, short and
// longer ones) with the daemon killed with SIGKILL at random moments (fixed seed) while it
// launches and ends jobs; each time the next command starts a new daemon. Every job must
// have run exactly once (its id appears once in a file each run appends to), completed,
// and have its whole log.
TEST(DaemonLifecycle, TwoHundredJobsSurviveRepeatedKillNineAtRandomMoments) {
  DaemonHarness daemon("4xH100-80G");
  const std::string marker = (daemon.work() / "ran.txt").string();
  std::mt19937 random(20261201);
  json jobs = json::array();
  for (int i = 0; i < 200; ++i) {
    const int tenths = std::uniform_int_distribution<int>(1, 8)(random);
    const bool cpu_only = i % 5 == 4;
    jobs.push_back(shell_job("echo begin; echo $FASTGPU_JOB_ID >> " + marker + "; sleep 0." +
                                 std::to_string(tenths) + "; echo end",
                             daemon.work().string(), cpu_only ? 0 : 1, 10LL << 30));
  }
  const std::vector<std::uint64_t> ids = daemon.submit_api({{"jobs", jobs}});
  ASSERT_EQ(ids.size(), 200u);

  auto ended = [&] {
    const json counts = daemon.fastgpu_json("daemon status");
    if (!counts.is_object() || !counts.contains("jobs")) return false;
    return counts["jobs"].value("QUEUED", 0) + counts["jobs"].value("RUNNING", 0) +
               counts["jobs"].value("PREEMPTED", 0) ==
           0;
  };
  int kills = 0;
  for (; kills < 5 && !ended(); ++kills) {
    const std::optional<pid_t> pid = daemon.answering_pid();
    ASSERT_TRUE(pid) << "no daemon answers; the end of its log:\n" << daemon.daemon_log_tail();
    const int pause_ms = std::uniform_int_distribution<int>(100, 1500)(random);
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
    ASSERT_EQ(::kill(*pid, SIGKILL), 0);
    // Until a command starts the next one, nothing schedules: running jobs go on alone.
    const test_support::CliRun restarted = daemon.fastgpu("daemon start");
    ASSERT_EQ(restarted.exit_code, 0) << restarted.output;
  }
  EXPECT_GE(kills, 2) << "the run ended before the daemon was killed twice";

  const test_support::CliRun waited = daemon.fastgpu("wait --all --timeout 300s");
  EXPECT_EQ(waited.exit_code, 0) << waited.output;
  std::multiset<std::string> ran;
  std::ifstream file(marker);
  for (std::string line; std::getline(file, line);) ran.insert(line);
  EXPECT_EQ(ran.size(), ids.size());
  const json history = daemon.fastgpu_json("history");
  ASSERT_TRUE(history.is_object());
  std::map<std::uint64_t, json> by_id;
  for (const json& job : history["jobs"]) by_id[job["id"].get<std::uint64_t>()] = job;
  for (std::uint64_t id : ids) {
    EXPECT_EQ(ran.count(std::to_string(id)), 1u) << "job " << id;
    EXPECT_EQ(by_id[id]["state"], "COMPLETED") << by_id[id].dump();
    std::ifstream log(daemon.state_dir() / "logs" / (std::to_string(id) + ".log"));
    const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    EXPECT_EQ(text, "begin\nend\n") << "job " << id;
  }
}

}  // namespace
}  // namespace fastgpu
