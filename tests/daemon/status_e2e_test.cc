// `fastgpu status` beside a running daemon: under each GPU, the daemon's ledger (the jobs
// that hold it and what a job starting now may still ask), read through GET /v1/gpus; and
// the plain reading, with no such line, when no daemon runs or it uses other GPUs.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "daemon/daemon_harness.h"

namespace fastgpu::test_support {
namespace {

// The line of `text` that holds `needle`; empty when none does.
std::string line_with(const std::string& text, const std::string& needle) {
  const std::size_t at = text.find(needle);
  if (at == std::string::npos) return "";
  const std::size_t start = text.rfind('\n', at);
  const std::size_t end = text.find('\n', at);
  return text.substr(start == std::string::npos ? 0 : start + 1,
                     end == std::string::npos ? std::string::npos
                                              : end - (start == std::string::npos ? 0 : start + 1));
}

TEST(StatusE2E, EachGpuShowsTheJobsThatHoldItAndWhatIsFree) {
  DaemonHarness daemon;  // two simulated H100s, 80 GiB each
  // Without a daemon: the GPUs alone, and none is started for it.
  const CliRun before = daemon.fastgpu("status");
  ASSERT_EQ(before.exit_code, 0) << before.output;
  EXPECT_FALSE(contains(before.output, "fastgpu:")) << before.output;
  EXPECT_FALSE(daemon.answering_pid().has_value()) << "status started a daemon";

  const std::uint64_t whole = daemon.submit("--gpus 1 --gpu-mem 30G --name train -- sleep 60");
  const std::uint64_t half =
      daemon.submit("--gpus 1 --gpu-mem 20G --share 0.5 --name half -- sleep 60");
  daemon.wait_for_launch(whole);
  daemon.wait_for_launch(half);
  const std::string whole_gpu = std::to_string(daemon.job(whole)["placed_gpus"][0].get<int>());
  const std::string half_gpu = std::to_string(daemon.job(half)["placed_gpus"][0].get<int>());
  ASSERT_NE(whole_gpu, half_gpu);

  const CliRun table = daemon.fastgpu("status", /*with_stderr=*/false);
  ASSERT_EQ(table.exit_code, 0) << table.output;
  const std::string on_whole = line_with(table.output, "fastgpu: job " + std::to_string(whole));
  EXPECT_EQ(on_whole, "    fastgpu: job " + std::to_string(whole) +
                          " train 30.0 GiB, the whole GPU; free: nothing until it ends")
      << table.output;
  const std::string on_half = line_with(table.output, "fastgpu: job " + std::to_string(half));
  EXPECT_EQ(on_half, "    fastgpu: job " + std::to_string(half) +
                         " half 20.0 GiB at share 0.5; free: 60.0 GiB at share up to 0.5")
      << table.output;
  // Each under its own GPU's line.
  EXPECT_LT(table.output.find("[" + whole_gpu + "]"), table.output.find(on_whole));
  EXPECT_LT(table.output.find("[" + half_gpu + "]"), table.output.find(on_half));

  const nlohmann::json json = daemon.fastgpu_json("status");
  ASSERT_TRUE(json.is_object()) << json;
  for (const nlohmann::json& device : json["devices"]) {
    const nlohmann::json& ledger = device["ledger"];
    ASSERT_TRUE(ledger.is_object()) << device;
    ASSERT_EQ(ledger["jobs"].size(), 1u) << ledger;
    const bool holds_whole = ledger["jobs"][0]["job"] == whole;
    EXPECT_EQ(ledger["free_share"], holds_whole ? 0.0 : 0.5) << ledger;
    EXPECT_EQ(ledger["free_bytes"], (holds_whole ? 50ull : 60ull) << 30) << ledger;
  }

  // Asked of other GPUs than the daemon's, status does not lay the daemon's ledger on them.
  const CliRun other = daemon.fastgpu("status --devices 2xA100-40G", /*with_stderr=*/false);
  ASSERT_EQ(other.exit_code, 0) << other.output;
  EXPECT_FALSE(contains(other.output, "fastgpu:")) << other.output;

  // A job that ends gives its GPU back at once.
  ASSERT_EQ(daemon.fastgpu("cancel " + std::to_string(whole)).exit_code, 0);
  daemon.wait_for_state(whole, "CANCELLED");
  const CliRun after = daemon.fastgpu("status", /*with_stderr=*/false);
  EXPECT_TRUE(contains(after.output, "    fastgpu: no job; free: 80.0 GiB, the whole GPU\n"))
      << after.output;
}

// On real GPUs (the fake NVML library here, read through the real loading code), each GPU
// process is named by its job, found as the daemon attributes it (the job's process tree);
// one of no job says so, and its memory, with memory in use no listed process accounts
// for, is "held outside FastGPU" and not free.
TEST(StatusE2E, EachGpuProcessIsNamedByItsJob) {
  DaemonHarness daemon("");
  const std::filesystem::path state = daemon.work() / "nvml-state.json";
  const std::filesystem::path pid_file = daemon.work() / "job.pid";
  // 6 GiB of the job's process, 1 GiB of pid 1 (no job's), 1 GiB of no listed process.
  std::ofstream(state) << R"({"driver_version": "580.65.06", "gpus": [
    {"name": "NVIDIA H100 80GB HBM3", "uuid": "GPU-0", "pci_bus_id": "00000000:18:00.0",
     "memory_total": 85899345920, "memory_reserved": 0, "memory_used": 8589934592,
     "memory_free": 77309411328, "utilization_gpu": 50, "temperature_c": 50,
     "processes": [{"pid_file": ")"
                       << pid_file.string() << R"(", "used_memory": 6442450944},
                   {"pid": 1, "used_memory": 1073741824}]}]})";
  ASSERT_EQ(::setenv("FASTGPU_NVML_LIBRARY", FASTGPU_FAKE_NVML_PATH, 1), 0);
  ASSERT_EQ(::setenv("FASTGPU_FAKE_NVML_STATE", state.c_str(), 1), 0);
  const std::uint64_t id = daemon.submit(
      "--gpus 1 --gpu-mem 10G --share 0.5 --name train -- sh -c 'echo $$ > job.pid; "
      "sleep 60'");
  daemon.wait_for_launch(id);
  const std::string job_line = "  job " + std::to_string(id) + "\n";
  std::string shown;
  for (int tries = 0; tries < 100 && !contains(shown, job_line); ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    shown = daemon.fastgpu("status", /*with_stderr=*/false).output;
  }
  ::unsetenv("FASTGPU_NVML_LIBRARY");
  ::unsetenv("FASTGPU_FAKE_NVML_STATE");
  EXPECT_TRUE(contains(shown, "6.0 GiB  job " + std::to_string(id) + "\n")) << shown;
  EXPECT_TRUE(contains(shown, "1.0 GiB  no FastGPU job\n")) << shown;
  EXPECT_TRUE(contains(shown, "    fastgpu: job " + std::to_string(id) +
                                  " train 10.0 GiB at share 0.5; free: 68.0 GiB at share up to "
                                  "0.5 (2.0 GiB held outside FastGPU)\n"))
      << shown;
  daemon.fastgpu("cancel " + std::to_string(id));
}

// A daemon that listens but gives no answer (stopped with SIGSTOP, its disk hung): status
// shows the GPUs after a short wait, not the client's usual 30 s, and says why the jobs'
// line is missing instead of leaving it out silently.
TEST(StatusE2E, AWedgedDaemonIsSaidAndTheGpusAreShownWithoutItsLedger) {
  DaemonHarness daemon;
  // A socket that takes connections into its backlog and never reads them.
  const int listener = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string path = daemon.socket().string();
  ASSERT_LT(path.size(), sizeof address.sun_path);
  std::copy(path.begin(), path.end(), address.sun_path);
  ASSERT_EQ(::bind(listener, reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(listener, 16), 0);

  const CliRun table = daemon.fastgpu("status", /*with_stderr=*/false);
  const nlohmann::json json = daemon.fastgpu_json("status");
  // Gone before the harness's teardown asks it for a daemon.
  ::close(listener);
  std::filesystem::remove(daemon.socket());

  EXPECT_EQ(table.exit_code, 0) << table.output;
  EXPECT_TRUE(contains(table.output, "[1] NVIDIA H100")) << table.output;
  EXPECT_FALSE(contains(table.output, "    fastgpu:")) << table.output;
  const std::string note = "the daemon on " + path +
                           " gave no answer within 3 s, so what its jobs hold of each GPU is "
                           "left out; `fastgpu daemon status` says whether it runs";
  EXPECT_TRUE(contains(table.output, "\nfastgpu: " + note + "\n")) << table.output;
  ASSERT_TRUE(json.is_object()) << json;
  EXPECT_EQ(json["ledger_note"], note);
  for (const nlohmann::json& device : json["devices"]) EXPECT_TRUE(device["ledger"].is_null());

  // With no daemon at all, nothing is said: there is nothing to wait for.
  const nlohmann::json quiet = daemon.fastgpu_json("status");
  ASSERT_TRUE(quiet.is_object()) << quiet;
  EXPECT_TRUE(quiet["ledger_note"].is_null()) << quiet;
}

}  // namespace
}  // namespace fastgpu::test_support
