// `fastgpu alloc`: a command run here, at the user's terminal, on GPUs the scheduler gave its
// job, as Slurm's salloc. Real daemon, real processes; the fake NVML for the GPU memory the
// command holds.

#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "daemon/daemon_harness.h"

namespace fastgpu {
namespace {

using nlohmann::json;
using test_support::CliRun;
using test_support::contains;
using test_support::DaemonHarness;

// The job of the newest allocation.
json newest_job(const DaemonHarness& daemon, const std::string& listing) {
  const json jobs = daemon.fastgpu_json(listing)["jobs"];
  return jobs.empty() ? json() : jobs.back();
}

TEST(AllocE2E, RunsTheCommandHereWithTheGpusAndVariablesOfItsJobAndExitsAsItDid) {
  DaemonHarness daemon;
  const std::uint64_t other = daemon.submit("--gpus 1 --gpu-mem 80G --name other -- sleep 60");
  daemon.wait_for_launch(other);
  const CliRun run = daemon.fastgpu(
      "alloc --gpus 1 --gpu-mem 10G --env NOTE=given -- sh -c 'echo "
      "\"gpus=$CUDA_VISIBLE_DEVICES job=$FASTGPU_JOB_ID quota=$FASTGPU_GPU_MEM_QUOTA "
      "note=$NOTE in=$(pwd)\"; exit 3'");
  EXPECT_EQ(run.exit_code, 3) << run.output;
  const json job = newest_job(daemon, "history");
  ASSERT_TRUE(job.is_object()) << run.output;
  const std::string id = std::to_string(job["id"].get<std::uint64_t>());
  EXPECT_EQ(job["spec"]["name"], "alloc");
  // Its program is the holder; the command it holds the GPUs for is named after it.
  const json argv = job["spec"]["argv"];
  ASSERT_EQ(argv.size(), 7u) << job.dump();
  EXPECT_EQ(argv[1], "alloc");
  EXPECT_TRUE(argv[2].get<std::string>().starts_with("--hold-for=")) << job.dump();
  EXPECT_EQ(argv[3], "--");
  EXPECT_EQ(argv[4], "sh");
  EXPECT_EQ(argv[5], "-c");
  EXPECT_EQ(job["placed_gpus"], json::array({1})) << job.dump();  // GPU 0 is the other job's
  EXPECT_TRUE(contains(run.output, "gpus=1 job=" + id + " quota=10737418240 note=given in=" +
                                       daemon.work().string() + "\n"))
      << run.output;
  EXPECT_TRUE(contains(run.output, "fastgpu alloc: job " + id +
                                       " holds GPU 1 for sh until it "
                                       "exits"))
      << run.output;
  // Its job ends with the command: the GPU is free for the next.
  EXPECT_EQ(daemon.wait_for_state(std::stoull(id), "COMPLETED")["state"], "COMPLETED");
  EXPECT_TRUE(contains(daemon.log_of(std::stoull(id)), "the allocation ends"));
}

// While the job waits for GPUs the client says why, and Ctrl-C cancels it: no allocation is
// left behind for a person who gave up.
TEST(AllocE2E, SaysWhyItWaitsAndCtrlCWhileItWaitsCancelsTheJob) {
  DaemonHarness daemon;
  const std::uint64_t busy = daemon.submit("--gpus 2 --name busy -- sleep 60");
  daemon.wait_for_launch(busy);
  const CliRun run = daemon.fastgpu_under("timeout -s INT 5", "alloc --gpus 1 -- true");
  EXPECT_EQ(run.exit_code, 124) << run.output;  // timeout's, for a command it signalled
  const json job = newest_job(daemon, "history");
  ASSERT_TRUE(job.is_object()) << run.output;
  EXPECT_EQ(job["state"], "CANCELLED") << job.dump();
  const std::string id = std::to_string(job["id"].get<std::uint64_t>());
  EXPECT_TRUE(contains(run.output, "fastgpu alloc: job " + id + " waits: ")) << run.output;
  EXPECT_TRUE(contains(run.output, "interrupted; job " + id + " cancelled")) << run.output;
}

// A job that ends before its command (the time limit here, or `fastgpu cancel`) hangs the
// command up: the GPUs are no longer its own.
TEST(AllocE2E, ACommandOutlivingItsJobIsHungUp) {
  DaemonHarness daemon;
  const auto started = std::chrono::steady_clock::now();
  // Long enough for the holder to start and hand its variables over on a loaded machine (the
  // sanitizer build's program takes most of a second to start).
  const CliRun run = daemon.fastgpu("alloc --gpus 1 --time 8s -- sleep 60");
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(40));
  EXPECT_EQ(run.exit_code, 128 + SIGHUP) << run.output;
  EXPECT_TRUE(contains(run.output, "TIMEOUT")) << run.output;
  EXPECT_TRUE(contains(run.output, "the GPUs are no longer this command's: sleep gets SIGHUP"))
      << run.output;
}

// A client killed outright (kill -9, a lost session) ends its allocation: its job waits on
// the client's process, not on a request that never comes.
TEST(AllocE2E, AKilledClientEndsItsJob) {
  DaemonHarness daemon;
  // In the background, its output to a file: the shell returns at once.
  const CliRun started = daemon.shell(
      "sh -c " +
      DaemonHarness::quoted(DaemonHarness::quoted(FASTGPU_CLI_PATH) +
                            " alloc --gpus 1 -- sh -c 'echo $$ > command.pid; exec sleep 60' > "
                            "alloc.out 2>&1 & echo $! > client.pid"));
  ASSERT_EQ(started.exit_code, 0) << started.output;
  json job;
  for (int tries = 0; tries < 300 && !std::filesystem::exists(daemon.work() / "command.pid");
       ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  job = newest_job(daemon, "queue");
  ASSERT_TRUE(job.is_object());
  ASSERT_EQ(job["state"], "RUNNING") << job.dump();
  pid_t client = 0;
  pid_t command = 0;
  std::ifstream(daemon.work() / "client.pid") >> client;
  std::ifstream(daemon.work() / "command.pid") >> command;
  ASSERT_GT(client, 0);
  ASSERT_GT(command, 0);
  ::kill(client, SIGKILL);
  const json ended = daemon.wait_for_state(job["id"].get<std::uint64_t>(), "COMPLETED");
  ::kill(command, SIGKILL);
  EXPECT_EQ(ended["state"], "COMPLETED") << ended.dump();
}

// One killed while its job waited ends the job as soon as it starts: nothing holds GPUs for
// a client that is gone.
TEST(AllocE2E, AClientKilledWhileItsJobWaitsEndsItAtItsStart) {
  DaemonHarness daemon;
  const std::uint64_t busy = daemon.submit("--gpus 2 --name busy -- sleep 60");
  daemon.wait_for_launch(busy);
  const CliRun started = daemon.shell(
      "sh -c " + DaemonHarness::quoted(DaemonHarness::quoted(FASTGPU_CLI_PATH) +
                                       " alloc --gpus 1 -- true > alloc.out 2>&1 & echo $! > "
                                       "client.pid"));
  ASSERT_EQ(started.exit_code, 0) << started.output;
  json job;
  for (int tries = 0; tries < 300; ++tries) {
    job = newest_job(daemon, "queue");
    if (job.is_object() && job["id"] != busy) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(job.is_object() && job["id"] != busy) << job.dump();
  ASSERT_EQ(job["state"], "QUEUED") << job.dump();
  pid_t client = 0;
  std::ifstream(daemon.work() / "client.pid") >> client;
  ASSERT_GT(client, 0);
  ::kill(client, SIGKILL);
  ASSERT_EQ(daemon.fastgpu("cancel " + std::to_string(busy)).exit_code, 0);
  const std::uint64_t id = job["id"].get<std::uint64_t>();
  EXPECT_EQ(daemon.wait_for_state(id, "COMPLETED")["state"], "COMPLETED");
  EXPECT_TRUE(contains(daemon.log_of(id), "exited before it started; nothing to hold"))
      << daemon.log_of(id);
}

// Through the real NVML loading code and the fake NVML: the command's GPU memory is its
// job's (peak memory, not memory of no job), though the command is no process of the job's
// tree: FASTGPU_JOB_ID in its environment ties it.
TEST(AllocE2E, TheCommandsGpuMemoryIsItsJobs) {
  DaemonHarness daemon("");
  const std::filesystem::path state = daemon.work() / "nvml-state.json";
  const std::filesystem::path pid_file = daemon.work() / "command.pid";
  std::ofstream(state) << R"({"driver_version": "580.65.06", "gpus": [
    {"name": "NVIDIA H100 80GB HBM3", "uuid": "GPU-0", "pci_bus_id": "00000000:18:00.0",
     "memory_total": 85520809984, "memory_reserved": 559939584, "memory_used": 5368709120,
     "memory_free": 79592161280, "utilization_gpu": 50, "temperature_c": 50,
     "processes": [{"pid_file": ")"
                       << pid_file.string() << R"(", "used_memory": 5368709120}]}]})";
  ASSERT_EQ(::setenv("FASTGPU_NVML_LIBRARY", FASTGPU_FAKE_NVML_PATH, 1), 0);
  ASSERT_EQ(::setenv("FASTGPU_FAKE_NVML_STATE", state.c_str(), 1), 0);
  const CliRun run = daemon.fastgpu(
      "alloc --gpus 1 --gpu-mem 10G -- sh -c 'echo $$ > command.pid; sleep 4; rm command.pid'");
  ::unsetenv("FASTGPU_NVML_LIBRARY");
  ::unsetenv("FASTGPU_FAKE_NVML_STATE");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const json job = newest_job(daemon, "history");
  ASSERT_TRUE(job.is_object()) << run.output;
  const json ended = daemon.wait_for_state(job["id"].get<std::uint64_t>(), "COMPLETED");
  EXPECT_EQ(ended["accounting"]["peak_gpu_mem"], 5368709120) << ended.dump();
}

// `exec` runs a command on a running job's GPUs with its variables (a second shell in an
// allocation, nvidia-smi beside a training run), and hangs it up when the job ends.
TEST(AllocE2E, ExecRunsACommandOnARunningJobsGpusUntilTheJobEnds) {
  DaemonHarness daemon;
  const std::uint64_t other = daemon.submit("--gpus 1 --gpu-mem 80G -- sleep 60");
  daemon.wait_for_launch(other);
  const std::uint64_t id =
      daemon.submit("--gpus 1 --gpu-mem 20G --array 3 --name train -- sleep 60");
  daemon.wait_for_launch(id);
  const CliRun run =
      daemon.fastgpu("exec " + std::to_string(id) +
                     " -- sh -c 'echo \"gpus=$CUDA_VISIBLE_DEVICES job=$FASTGPU_JOB_ID "
                     "index=$FASTGPU_ARRAY_INDEX quota=$FASTGPU_GPU_MEM_QUOTA\"; exit 5'");
  EXPECT_EQ(run.exit_code, 5) << run.output;
  EXPECT_TRUE(
      contains(run.output, "gpus=1 job=" + std::to_string(id) + " index=3 quota=21474836480\n"))
      << run.output;
  EXPECT_TRUE(contains(run.output, "fastgpu exec: sh runs on GPU 1 of job " + std::to_string(id) +
                                       " (train) until it exits"))
      << run.output;
  // The job goes on: the command only shared its GPU. When the job ends (cancelled here, once
  // the command runs), a command still running is hung up.
  EXPECT_EQ(daemon.job(id)["state"], "RUNNING");
  std::thread canceller([&daemon, id] {
    for (int tries = 0; tries < 600 && !std::filesystem::exists(daemon.work() / "exec.pid");
         ++tries) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    daemon.fastgpu("cancel " + std::to_string(id));
  });
  const CliRun outlived = daemon.fastgpu("exec " + std::to_string(id) +
                                         " -- sh -c 'echo $$ > exec.pid; exec sleep 60'");
  canceller.join();
  EXPECT_EQ(outlived.exit_code, 128 + SIGHUP) << outlived.output;
  EXPECT_TRUE(contains(outlived.output, "CANCELLED")) << outlived.output;
  EXPECT_TRUE(contains(outlived.output, "the GPUs are no longer this command's: sh gets SIGHUP"))
      << outlived.output;

  const CliRun ended = daemon.fastgpu("exec " + std::to_string(id) + " -- true");
  EXPECT_EQ(ended.exit_code, 1) << ended.output;
  EXPECT_TRUE(contains(ended.output, "has ended (CANCELLED)")) << ended.output;
  const std::uint64_t queued = daemon.submit("--gpus 2 -- true");
  const CliRun waiting = daemon.fastgpu("exec " + std::to_string(queued) + " -- true");
  EXPECT_EQ(waiting.exit_code, 1) << waiting.output;
  EXPECT_TRUE(contains(waiting.output, "is queued, not running")) << waiting.output;
  const CliRun unknown = daemon.fastgpu("exec 9999 -- true");
  EXPECT_EQ(unknown.exit_code, 1) << unknown.output;
  const CliRun both = daemon.fastgpu("exec --wrap true " + std::to_string(queued) + " -- true");
  EXPECT_EQ(both.exit_code, 2) << both.output;
  EXPECT_TRUE(contains(both.output, "not both")) << both.output;
  const CliRun bad = daemon.fastgpu("exec twelve -- true");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_TRUE(contains(bad.output, "twelve")) << bad.output;
}

TEST(AllocE2E, WhatCannotBeAnAllocationIsRefusedNamingTheFix) {
  DaemonHarness daemon;
  const CliRun array = daemon.fastgpu("alloc --array 0-3 -- true");
  EXPECT_EQ(array.exit_code, 2) << array.output;
  EXPECT_TRUE(contains(array.output, "--array 0-3 makes many jobs")) << array.output;
  EXPECT_TRUE(contains(array.output, "fastgpu submit --array")) << array.output;
  const CliRun restartable = daemon.fastgpu("alloc --restartable -- true");
  EXPECT_EQ(restartable.exit_code, 2) << restartable.output;
  EXPECT_TRUE(contains(restartable.output, "leave it out")) << restartable.output;
  const CliRun too_big = daemon.fastgpu("alloc --gpus 3 -- true");
  EXPECT_EQ(too_big.exit_code, 1) << too_big.output;
  EXPECT_TRUE(contains(too_big.output, "fastgpu alloc: ")) << too_big.output;
  const CliRun missing = daemon.fastgpu("alloc --gpus 0 -- no-such-program-here");
  EXPECT_EQ(missing.exit_code, 127) << missing.output;
  EXPECT_TRUE(contains(missing.output, "cannot run 'no-such-program-here'")) << missing.output;
  const CliRun by_hand = daemon.fastgpu("alloc --hold-for=12");
  EXPECT_EQ(by_hand.exit_code, 2) << by_hand.output;
  EXPECT_TRUE(contains(by_hand.output, "not for use by hand")) << by_hand.output;
  // Of the four, only the last made a job.
  const json jobs = daemon.fastgpu_json("history")["jobs"];
  EXPECT_EQ(jobs.size() + daemon.fastgpu_json("queue")["jobs"].size(), 1u) << jobs.dump();
}

}  // namespace
}  // namespace fastgpu
