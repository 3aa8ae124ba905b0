// A fixture for tests of LocalLauncher with real processes: a private temp folder, the
// built supervisor, requests that run a shell line in that folder, and waits that poll
// (generous timeouts, never a fixed sleep).
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "exec/run_files.h"
#include "fastgpu/exec/launcher.h"
#include "fastgpu/exec/local_launcher.h"
#include "fastgpu_test_paths.h"

namespace fastgpu::exec::testing {

inline constexpr std::chrono::seconds kPatience{30};

// Polls `done` every 20 ms until it holds or `patience` passes; returns whether it held.
inline bool eventually(const std::function<bool()>& done,
                       std::chrono::seconds patience = kPatience) {
  const auto give_up = std::chrono::steady_clock::now() + patience;
  while (!done()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// True once the process is gone or a zombie (its parent has not reaped it yet).
inline bool process_ended(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  if (!in) return true;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::size_t close = text.rfind(')');
  return close != std::string::npos && close + 2 < text.size() && text[close + 2] == 'Z';
}

class LauncherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "fastgpu-exec-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    launcher_ = make_launcher();
    ASSERT_NE(launcher_, nullptr);
  }

  // Stops whatever a failed test left running: each supervisor still our child gets
  // SIGTERM (it stops its job within the 1 s grace) and is reaped.
  void TearDown() override {
    launcher_.reset();
    for (pid_t pid : supervisors_) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == 0) {
        ::kill(pid, SIGTERM);
        ::waitpid(pid, &status, 0);
      }
    }
    std::error_code error;
    std::filesystem::remove_all(dir_, error);
  }

  static std::unique_ptr<Launcher> make_launcher() {
    Result<std::unique_ptr<Launcher>> made =
        make_local_launcher(LocalLauncherOptions{FASTGPU_SUPERVISOR_PATH, 30.0});
    EXPECT_TRUE(made.ok()) << made.status().to_string();
    return made.ok() ? std::move(*made) : nullptr;
  }

  LaunchRequest shell_request(std::uint64_t id, const std::string& command) const {
    LaunchRequest request;
    request.job = JobId(id);
    request.shell_command = command;
    request.working_dir = dir_.string();
    request.environment = {"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C"};
    request.kill_grace_s = 1.0;
    request.log_path = log_path(id);
    request.run_file = run_file(id);
    return request;
  }

  std::filesystem::path log_path(std::uint64_t id) const {
    return dir_ / ("job-" + std::to_string(id) + ".log");
  }
  std::filesystem::path run_file(std::uint64_t id) const {
    return dir_ / ("run-" + std::to_string(id) + ".jsonl");
  }
  // True once the job's supervisor has written its outcome to the run record.
  bool has_outcome(std::uint64_t id) const {
    Result<RunRecord> record = read_run_record(run_file(id));
    return record.ok() && record->outcome.has_value();
  }
  std::string log(std::uint64_t id) const { return read_text(log_path(id)); }

  // Launches and remembers the supervisor for TearDown. Fails the test on an error.
  Launched launch(Launcher& launcher, const LaunchRequest& request) {
    Result<Launched> launched = launcher.launch(request);
    EXPECT_TRUE(launched.ok()) << launched.status().to_string();
    if (!launched.ok()) return {};
    supervisors_.push_back(launched->supervisor_pid);
    return *launched;
  }
  Launched launch(const LaunchRequest& request) { return launch(*launcher_, request); }

  // Polls until `job` is reported; fails the test after 30 s. Every report is kept, so a
  // test can check that a job was reported only once.
  Finished wait_for(Launcher& launcher, JobId job) {
    std::optional<Finished> found;
    eventually([&] {
      for (Finished& finished : launcher.poll()) {
        ++reports_[finished.job];
        if (finished.job == job) found = std::move(finished);
      }
      return found.has_value();
    });
    EXPECT_TRUE(found.has_value()) << "job " << job << " was not reported within 30 s";
    return found ? std::move(*found) : Finished{job, Lost{"test: never reported"}, {}, {}, {}};
  }
  Finished wait_for(JobId job) { return wait_for(*launcher_, job); }

  std::filesystem::path dir_;
  std::unique_ptr<Launcher> launcher_;
  std::vector<pid_t> supervisors_;
  std::map<JobId, int> reports_;
};

}  // namespace fastgpu::exec::testing
