// A private FastGPU installation per test: a temp state folder and socket, the
// built `fastgpu` binary run as a user would, and a teardown that cancels what
// is left and stops the daemon, so tests run side by side (ctest -j2) without
// meeting. Each daemon checks its kept scheduler against the pure one at every tick
// (FASTGPU_CHECK_SCHEDULE=1); a tick where they differed fails the test at teardown.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli_run.h"
#include "fastgpu/api/client.h"
#include "fastgpu/store/state_store.h"
#include "fastgpu_test_paths.h"

namespace fastgpu::test_support {

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// How many times `part` occurs in `text` (not overlapping).
inline int count_of(const std::string& text, const std::string& part) {
  int count = 0;
  for (std::size_t at = text.find(part); at != std::string::npos;
       at = text.find(part, at + part.size())) {
    ++count;
  }
  return count;
}

class DaemonHarness {
 public:
  explicit DaemonHarness(std::string devices = "2xH100-80G") : devices_(std::move(devices)) {
    char pattern[] = "/tmp/fgd-XXXXXX";
    const char* made = ::mkdtemp(pattern);
    EXPECT_NE(made, nullptr);
    root_ = made == nullptr ? std::filesystem::path("/tmp/fgd-failed") : made;
    work_ = root_ / "work";
    std::filesystem::create_directories(work_);
  }
  ~DaemonHarness() { stop(); }

  DaemonHarness(const DaemonHarness&) = delete;
  DaemonHarness& operator=(const DaemonHarness&) = delete;

  // Runs `fastgpu ARGS` (already shell-quoted) in the work folder with this
  // test's state.
  CliRun fastgpu(const std::string& args, bool with_stderr = true) const {
    return run_cli_in(environment() + " " + quoted(FASTGPU_CLI_PATH) + " " + args, with_stderr);
  }

  // A shell command line (already shell-quoted) run in the work folder with this test's
  // environment; its stdout is the output.
  CliRun shell(const std::string& command) const {
    return run_shell(environment() + " " + command);
  }

  // `fastgpu ARGS` run by another program (`timeout -s INT 3`, already shell-quoted).
  CliRun fastgpu_under(const std::string& wrapper, const std::string& args) const {
    return run_cli_in(environment() + " " + wrapper + " " + quoted(FASTGPU_CLI_PATH) + " " + args,
                      true);
  }

  // The same with more environment variables (`NAME=value ...`, already shell-quoted).
  CliRun fastgpu_with(const std::string& variables, const std::string& args) const {
    return run_cli_in(environment() + " " + variables + " " + quoted(FASTGPU_CLI_PATH) + " " + args,
                      true);
  }

  // Runs `fastgpu ARGS` with its stdout into the file `out` and its stderr into `errors`,
  // which a test can read while it runs (from another thread); returns its exit code.
  int fastgpu_into(const std::string& args, const std::filesystem::path& out,
                   const std::filesystem::path& errors) const {
    return run_shell(environment() + " " + quoted(FASTGPU_CLI_PATH) + " " + args + " >" +
                     quoted(out.string()) + " 2>" + quoted(errors.string()))
        .exit_code;
  }

  // The parsed --json output of `fastgpu ARGS --json`; null when it is not
  // JSON.
  nlohmann::json fastgpu_json(const std::string& args) const {
    const CliRun run = fastgpu(args + " --json", /*with_stderr=*/false);
    return nlohmann::json::parse(run.output, nullptr, false);
  }

  // Submits and returns the first id printed (0 on failure, with the output in
  // `output`).
  std::uint64_t submit(const std::string& args, std::string* output = nullptr) const {
    const CliRun run = fastgpu("submit " + args);
    if (output != nullptr) *output = run.output;
    EXPECT_EQ(run.exit_code, 0) << run.output;
    std::istringstream lines(run.output);
    for (std::string line; std::getline(lines, line);) {
      if (!line.empty() && std::isdigit(static_cast<unsigned char>(line[0]))) {
        return std::stoull(line);
      }
    }
    return 0;
  }

  // Submits a batch straight through the API ({"jobs": [...]}, as docs/api.md), starting
  // the daemon first; returns the ids, empty on failure.
  std::vector<std::uint64_t> submit_api(const nlohmann::json& batch) const {
    const CliRun started = fastgpu("daemon start");
    EXPECT_EQ(started.exit_code, 0) << started.output;
    const api::ApiClient client(socket());
    const Result<api::Json> reply = client.post("/v1/jobs", api::Json::parse(batch.dump()));
    EXPECT_TRUE(reply.ok()) << reply.status().to_string();
    if (!reply.ok()) return {};
    return (*reply)["ids"].get<std::vector<std::uint64_t>>();
  }

  nlohmann::json job(std::uint64_t id) const { return fastgpu_json("show " + std::to_string(id)); }

  // Polls until the job reaches `state` (or any terminal state when `state` is
  // empty).
  nlohmann::json wait_for_state(std::uint64_t id, const std::string& state,
                                std::chrono::seconds timeout = std::chrono::seconds(60)) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    nlohmann::json last;
    while (std::chrono::steady_clock::now() < deadline) {
      last = job(id);
      if (last.is_object() && last["state"] == state) return last;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "job " << id << " never reached " << state << "; last: " << last.dump();
    return last;
  }

  // Polls until the job's process exists (RUNNING with its pid recorded): a job claimed
  // RUNNING whose launch has not settled yet is cancelled at once, not stopped.
  nlohmann::json wait_for_launch(std::uint64_t id,
                                 std::chrono::seconds timeout = std::chrono::seconds(60)) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    nlohmann::json last;
    while (std::chrono::steady_clock::now() < deadline) {
      last = job(id);
      if (last.is_object() && last["state"] == "RUNNING" && !last["job_pid"].is_null()) {
        return last;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "job " << id << " never launched; last: " << last.dump();
    return last;
  }

  // The pid of the daemon that answers on the socket; nullopt when none does. (Read from a
  // status without one, `status["pid"]` on a const object was undefined: a garbage pid.)
  std::optional<pid_t> answering_pid() const {
    const nlohmann::json status = fastgpu_json("daemon status");
    if (!status.is_object() || !status.contains("pid") || !status["pid"].is_number_integer()) {
      return std::nullopt;
    }
    return status["pid"].get<pid_t>();
  }

  // The last lines of the daemon's log, for a failure's message.
  std::string daemon_log_tail(std::size_t lines = 20) const {
    std::ifstream file(state_dir() / "daemon.log");
    std::vector<std::string> kept;
    for (std::string line; std::getline(file, line);) {
      kept.push_back(line);
      if (kept.size() > lines) kept.erase(kept.begin());
    }
    std::string text;
    for (const std::string& line : kept) text += line + "\n";
    return text;
  }

  std::string log_of(std::uint64_t id) const {
    return fastgpu("logs " + std::to_string(id), /*with_stderr=*/false).output;
  }

  // Cancels every job still queued or running, then stops the daemon.
  void stop() {
    if (stopped_) return;
    stopped_ = true;
    // Only a daemon that runs: a job verb here would start one.
    if (fastgpu("daemon status").exit_code == 0) {
      const nlohmann::json queue = fastgpu_json("queue");
      if (queue.is_object()) {
        for (const auto& job : queue["jobs"]) {
          fastgpu("cancel " + std::to_string(job["id"].get<std::uint64_t>()));
        }
        for (const auto& job : queue["jobs"]) wait_for_state_any(job["id"].get<std::uint64_t>());
      }
      fastgpu("daemon stop");
    }
    expect_no_divergence();
    std::error_code ignored;
    std::filesystem::remove_all(root_, ignored);
  }

  const std::filesystem::path& work() const { return work_; }
  std::filesystem::path state_dir() const { return root_ / "state"; }
  std::filesystem::path socket() const { return root_ / "fastgpu.sock"; }

  void write_file(const std::string& name, const std::string& text) const {
    std::ofstream(work_ / name) << text;
  }

  static std::string quoted(const std::string& text) {
    std::string out = "'";
    for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
  }

 private:
  void wait_for_state_any(std::uint64_t id) const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      const nlohmann::json record = job(id);
      if (!record.is_object()) return;
      const std::string state = record["state"];
      if (state != "QUEUED" && state != "RUNNING" && state != "PREEMPTED") return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  // Every tick's decisions of the kept scheduler were those of the pure schedule(): the
  // daemon recorded no "schedule.diverged" event (docs/engine.md, step 6).
  void expect_no_divergence() const {
    const std::filesystem::path database = state_dir() / "fastgpu.db";
    if (!std::filesystem::exists(database)) return;
    Result<std::unique_ptr<store::StateStore>> opened = store::open_sqlite_store(database.string());
    ASSERT_TRUE(opened.ok()) << opened.status().to_string();
    Result<std::vector<store::Event>> events = (*opened)->events_since(0, 1'000'000);
    ASSERT_TRUE(events.ok()) << events.status().to_string();
    for (const store::Event& event : *events) {
      EXPECT_NE(event.kind, "schedule.diverged") << event.message_json;
    }
  }

  std::string environment() const {
    return "cd " + quoted(work_.string()) +
           " && env FASTGPU_STATE_DIR=" + quoted(state_dir().string()) +
           " FASTGPU_SOCKET=" + quoted(socket().string()) + " FASTGPU_DEVICES=" + quoted(devices_) +
           " XDG_CONFIG_HOME=" + quoted((work_ / "config").string()) + " FASTGPU_CHECK_SCHEDULE=1";
  }

  static CliRun run_cli_in(const std::string& command, bool with_stderr) {
    return run_shell(command + (with_stderr ? " 2>&1" : " 2>/dev/null"));
  }

  // Runs a shell command line; its stdout is the output.
  static CliRun run_shell(const std::string& command) {
    CliRun result;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) return result;
    char buffer[4096];
    std::size_t got = 0;
    while ((got = std::fread(buffer, 1, sizeof buffer, pipe)) > 0)
      result.output.append(buffer, got);
    const int status = ::pclose(pipe);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
  }

  std::string devices_;
  std::filesystem::path root_;
  std::filesystem::path work_;
  bool stopped_ = false;
};

}  // namespace fastgpu::test_support
