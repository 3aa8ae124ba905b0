// Runs the built `fastgpu status` as a user would and checks what it prints and returns.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "fastgpu_test_paths.h"

namespace {

constexpr std::uint64_t kGiB = std::uint64_t{1} << 30;

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string read_file(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

std::string temp_path(const std::string& name) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir && *dir ? dir : "/tmp") + "/fastgpu_status_test_" +
         std::to_string(getpid()) + "_" + name;
}

// Starts `fastgpu ARGS` with `env` added ("NAME=value"); stdout goes to `out_fd`, stderr to
// `err_fd`. Returns the child's pid.
pid_t spawn(const std::vector<std::string>& args, const std::vector<std::string>& env, int out_fd,
            int err_fd) {
  const pid_t pid = fork();
  if (pid != 0) return pid;
  dup2(out_fd, STDOUT_FILENO);
  dup2(err_fd, STDERR_FILENO);
  for (const std::string& entry : env) putenv(const_cast<char*>(entry.c_str()));
  std::vector<char*> argv = {const_cast<char*>(FASTGPU_CLI_PATH)};
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  execv(argv[0], argv.data());
  _exit(127);
}

int wait_exit_code(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

RunResult run(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
  const std::string out_path = temp_path("out");
  const std::string err_path = temp_path("err");
  const int out_fd = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  const int err_fd = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  const pid_t pid = spawn(args, env, out_fd, err_fd);
  close(out_fd);
  close(err_fd);
  RunResult result{wait_exit_code(pid), read_file(out_path), read_file(err_path)};
  std::remove(out_path.c_str());
  std::remove(err_path.c_str());
  return result;
}

TEST(StatusCommand, SimulatedDevicesAsJson) {
  const RunResult result = run({"status", "--devices", "2xA100-40G,2xT4-16G", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json document = nlohmann::json::parse(result.out);
  EXPECT_EQ(document["schema_version"], 1);
  EXPECT_EQ(document["source"], "simulated");
  const nlohmann::json& devices = document["devices"];
  ASSERT_EQ(devices.size(), 4u);
  const std::uint64_t expected_memory[] = {40 * kGiB, 40 * kGiB, 16 * kGiB, 16 * kGiB};
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(devices[i]["index"], i);
    EXPECT_EQ(devices[i]["memory_total_bytes"], expected_memory[i]);
    EXPECT_EQ(devices[i]["memory_used_bytes"], 0);
    EXPECT_NE(devices[i]["name"].get<std::string>().find("simulated"), std::string::npos);
    EXPECT_TRUE(devices[i]["processes"].is_array());
  }
}

TEST(StatusCommand, SimulatedDevicesAsTableSayTheyAreSimulated) {
  const RunResult result = run({"status", "--devices", "4xH100-80G"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("simulated GPUs"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("[3] NVIDIA H100 (simulated)"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("0.0 / 80.0 GiB"), std::string::npos) << result.out;
  // Not a terminal: no color codes that would litter a file or a pipe.
  EXPECT_EQ(result.out.find('\x1b'), std::string::npos);
}

TEST(StatusCommand, BadDeviceSpecIsBadUsageNamingTheSpec) {
  const RunResult result = run({"status", "--devices", "4xH100"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_TRUE(result.out.empty()) << result.out;
  EXPECT_NE(result.err.find("'4xH100'"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("4xH100-80G"), std::string::npos) << result.err;
}

TEST(StatusCommand, NoDriverFailsAndPointsToSimulatedDevices) {
  const RunResult result =
      run({"status"}, {"FASTGPU_NVML_LIBRARY=/nonexistent/libnvidia-ml.so.1", "FASTGPU_DEVICES="});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_TRUE(result.out.empty()) << result.out;
  EXPECT_NE(result.err.find("--devices"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("FASTGPU_DEVICES=4xH100-80G"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("/nonexistent/libnvidia-ml.so.1"), std::string::npos) << result.err;
}

// FASTGPU_DEVICES chooses simulated GPUs as --devices does, and the flag wins; a bad spec
// in the variable is a failure (1) naming it, as for the daemon.
TEST(StatusCommand, FastgpuDevicesChoosesSimulatedGpusUnlessDevicesIsGiven) {
  const std::string no_driver = "FASTGPU_NVML_LIBRARY=/nonexistent/libnvidia-ml.so.1";
  RunResult result = run({"status", "--json"}, {no_driver, "FASTGPU_DEVICES=3xT4-16G"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(nlohmann::json::parse(result.out)["devices"].size(), 3u);

  result =
      run({"status", "--json", "--devices", "1xH100-80G"}, {no_driver, "FASTGPU_DEVICES=3xT4-16G"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(nlohmann::json::parse(result.out)["devices"].size(), 1u);

  result = run({"status"}, {no_driver, "FASTGPU_DEVICES=4xH100"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("FASTGPU_DEVICES '4xH100': "), std::string::npos) << result.err;
}

TEST(StatusCommand, WatchIntervalMustBePositive) {
  for (const char* interval : {"0", "-1", "abc"}) {
    const RunResult result = run({"status", "--devices", "H100-80G", "--watch", interval});
    EXPECT_EQ(result.exit_code, 2) << interval;
    EXPECT_NE(result.err.find("--watch"), std::string::npos) << result.err;
  }
}

// Reads lines from the pipe until `count` complete lines have arrived.
std::vector<std::string> read_lines(int fd, std::size_t count) {
  std::vector<std::string> lines;
  std::string pending;
  char buffer[4096];
  while (lines.size() < count) {
    const ssize_t got = read(fd, buffer, sizeof(buffer));
    if (got <= 0) break;
    pending.append(buffer, static_cast<std::size_t>(got));
    for (std::size_t end; (end = pending.find('\n')) != std::string::npos;) {
      lines.push_back(pending.substr(0, end));
      pending.erase(0, end + 1);
    }
  }
  return lines;
}

TEST(StatusCommand, WatchJsonPrintsOneDocumentPerLineUntilInterrupted) {
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  const int err_fd = open("/dev/null", O_WRONLY);
  const pid_t pid = spawn({"status", "--devices", "2xL4-24G", "--json", "--watch", "0.05"}, {},
                          pipe_fds[1], err_fd);
  close(pipe_fds[1]);
  close(err_fd);
  // Blocks until the command has printed three readings; no timing is assumed.
  const std::vector<std::string> lines = read_lines(pipe_fds[0], 3);
  kill(pid, SIGINT);
  // The pipe stays open until the child has gone, so a last write cannot die of SIGPIPE.
  EXPECT_EQ(wait_exit_code(pid), 0);
  close(pipe_fds[0]);
  ASSERT_EQ(lines.size(), 3u);
  for (const std::string& line : lines) {
    const nlohmann::json document = nlohmann::json::parse(line);
    EXPECT_EQ(document["devices"].size(), 2u);
  }
}

}  // namespace
