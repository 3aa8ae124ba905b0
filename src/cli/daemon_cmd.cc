// `fastgpu daemon run|start|stop|status`: the daemon's life, in the foreground or detached.

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <thread>

#include "cli/daemon_client.h"
#include "fastgpu/api/daemon.h"
#include "fastgpu/core/units.h"

namespace fastgpu::cli {
namespace {

struct DaemonOptions {
  DaemonFlags flags;
  bool shared = false;
  int tick_ms = 500;
  int stop_timeout_s = 30;
  std::optional<std::int64_t> cpu_slots;  // --cpu-slots; else FASTGPU_CPU_SLOTS; else CPUs
};

// How many CPU-only jobs run at once: the flag, else FASTGPU_CPU_SLOTS (so a daemon started
// on first use gets it too), else one per CPU.
Result<std::size_t> cpu_slots_option(const DaemonOptions& options) {
  std::optional<std::int64_t> slots = options.cpu_slots;
  std::string source = "--cpu-slots";
  if (!slots) {
    const char* value = std::getenv("FASTGPU_CPU_SLOTS");
    if (value == nullptr || *value == '\0') {
      return static_cast<std::size_t>(std::max(1u, std::thread::hardware_concurrency()));
    }
    source = "FASTGPU_CPU_SLOTS";
    std::int64_t parsed = 0;
    const char* end = value + std::strlen(value);
    auto [after, error] = std::from_chars(value, end, parsed);
    if (error != std::errc{} || after != end) {
      return invalid_argument(fmt::format(
          "FASTGPU_CPU_SLOTS='{}' is not a whole number; set it to the number of CPU-only jobs "
          "to run at once (0: no limit)",
          value));
    }
    slots = parsed;
  }
  if (*slots < 0 || *slots > 100000) {
    return invalid_argument(
        fmt::format("{} {} is out of range; give 0 (no limit) to 100000 CPU-only jobs at once",
                    source, *slots));
  }
  return static_cast<std::size_t>(*slots);
}

// FASTGPU_CHECK_SCHEDULE=1: the engine checks its kept scheduler against the pure one at
// every tick (EngineOptions::check_schedule), for tests.
Result<bool> check_schedule_option() {
  const char* value = std::getenv("FASTGPU_CHECK_SCHEDULE");
  const std::string text = value == nullptr ? "" : value;
  if (text.empty() || text == "0") return false;
  if (text == "1") return true;
  return invalid_argument(
      fmt::format("FASTGPU_CHECK_SCHEDULE='{}' is not 0 or 1; set it to 1 to check every tick's "
                  "decisions against the pure scheduler, or unset it",
                  text));
}

std::string devices_option(const DaemonOptions& options) {
  if (!options.flags.devices.empty()) return options.flags.devices;
  const char* value = std::getenv("FASTGPU_DEVICES");
  return value == nullptr ? "" : value;
}

// The folder of the fastgpu binary, and in a build tree the folder of the workload
// programs (tools/workload), so jobs find fastgpu-burn-cpu by name.
std::vector<std::filesystem::path> job_path_prefix(const std::filesystem::path& executable) {
  const std::filesystem::path folder = executable.parent_path();
  std::vector<std::filesystem::path> prefix{folder};
  std::error_code ignored;
  if (std::filesystem::is_directory(folder / "tools" / "workload", ignored)) {
    prefix.push_back(folder / "tools" / "workload");
  }
  return prefix;
}

int run_foreground(const DaemonOptions& options) {
  if (options.tick_ms < 10 || options.tick_ms > 60000) {
    return usage_error("daemon run", fmt::format("--tick-ms {} is out of range; use 10 to 60000",
                                                 options.tick_ms));
  }
  Result<std::size_t> cpu_slots = cpu_slots_option(options);
  if (!cpu_slots.ok()) return fail("daemon run", cpu_slots.status());
  Result<bool> check_schedule = check_schedule_option();
  if (!check_schedule.ok()) return fail("daemon run", check_schedule.status());
  Result<api::DaemonPaths> paths = api::daemon_paths_from_environment();
  if (!paths.ok()) return fail("daemon run", paths.status());
  Result<std::filesystem::path> executable = api::own_executable();
  if (!executable.ok()) return fail("daemon run", executable.status());
  api::DaemonConfig config;
  config.paths = *paths;
  config.devices = devices_option(options);
  config.shared = options.shared;
  config.tick_interval = std::chrono::milliseconds(options.tick_ms);
  config.cpu_slots = *cpu_slots;
  config.check_schedule = *check_schedule;
  config.job_path_prefix = job_path_prefix(*executable);
  const Status status = api::run_daemon(config);
  if (!status.ok()) return fail("daemon run", status);
  return kExitOk;
}

int start_detached(const DaemonOptions& options) {
  Result<api::DaemonPaths> paths = api::daemon_paths_from_environment();
  if (!paths.ok()) return fail("daemon start", paths.status());
  Result<std::optional<pid_t>> running = api::running_daemon_pid(*paths);
  if (!running.ok()) return fail("daemon start", running.status());
  if (*running) {
    print_text(
        fmt::format("a daemon already runs (pid {}) on {}\n", **running, paths->socket.string()));
    return kExitOk;
  }
  Result<std::filesystem::path> executable = api::own_executable();
  if (!executable.ok()) return fail("daemon start", executable.status());
  Result<pid_t> pid =
      api::start_daemon(*paths, {*executable, devices_option(options), std::chrono::seconds(30)});
  if (!pid.ok()) return fail("daemon start", pid.status());
  print_text(fmt::format("daemon started (pid {}) on {}; its log: {}\n", *pid,
                         paths->socket.string(), paths->log_file.string()));
  return kExitOk;
}

int stop(const DaemonOptions& options) {
  Result<api::DaemonPaths> paths = api::daemon_paths_from_environment();
  if (!paths.ok()) return fail("daemon stop", paths.status());
  Result<std::optional<pid_t>> stopped =
      api::stop_daemon(*paths, std::chrono::seconds(options.stop_timeout_s));
  if (!stopped.ok()) return fail("daemon stop", stopped.status());
  if (!*stopped) {
    print_text(fmt::format("no daemon runs on {}\n", paths->state_dir.string()));
  } else {
    print_text(
        fmt::format("daemon (pid {}) stopped; running jobs go on under their "
                    "supervisors\n",
                    **stopped));
  }
  return kExitOk;
}

std::string status_text(const api::Json& info) {
  std::string counts;
  for (const auto& [state, count] : info["jobs"].items()) {
    if (count.get<int>() == 0) continue;
    counts += fmt::format("{}{} {}", counts.empty() ? "" : ", ", count.get<int>(), state);
  }
  return fmt::format(
      "pid:       {}\nuptime:    {}\nsocket:    {}\nstate dir: {}\nGPUs:      {} ({})\njobs:      "
      "{}\n",
      info["pid"].get<std::int64_t>(), format_duration(Seconds(info["uptime_s"].get<double>())),
      info["socket"].get<std::string>(), info["state_dir"].get<std::string>(),
      info["gpus_source"].get<std::string>(), info["gpus_note"].get<std::string>(),
      counts.empty() ? "none" : counts);
}

int status(const DaemonOptions& options) {
  Result<api::DaemonPaths> paths = api::daemon_paths_from_environment();
  if (!paths.ok()) return fail("daemon status", paths.status());
  Result<api::Json> info = api::ApiClient(paths->socket).get("/v1/daemon");
  if (!info.ok()) {
    if (options.flags.json) print_json({{"running", false}, {"socket", paths->socket.string()}});
    return fail("daemon status", unavailable(fmt::format(
                                     "no daemon answers on {}; `fastgpu daemon start` starts one",
                                     paths->socket.string())));
  }
  (*info)["running"] = true;
  if (options.flags.json) {
    print_json(*info);
  } else {
    print_text(status_text(*info));
  }
  return kExitOk;
}

}  // namespace

void add_daemon_command(CLI::App& app, CommandOutcome& outcome) {
  auto options = std::make_shared<DaemonOptions>();
  CLI::App* daemon = app.add_subcommand("daemon", "Run, start, stop or inspect the FastGPU daemon");
  daemon->require_subcommand(1);

  CLI::App* run =
      daemon->add_subcommand("run", "Run the daemon in the foreground until SIGTERM/Ctrl-C");
  add_daemon_flags(*run, options->flags, /*with_json=*/false);
  run->add_flag("--shared", options->shared,
                "Let every local user connect (socket mode 0666); for a root daemon that runs "
                "each job as its owner");
  run->add_option("--tick-ms", options->tick_ms, "Milliseconds between engine ticks (default 500)");
  run->add_option("--cpu-slots", options->cpu_slots,
                  "CPU-only jobs (gpus 0) that run at once; 0: no limit (default: one per CPU, "
                  "or FASTGPU_CPU_SLOTS)");
  run->callback([options, &outcome] { outcome.exit_code = run_foreground(*options); });

  CLI::App* start = daemon->add_subcommand("start", "Start the daemon in the background");
  add_daemon_flags(*start, options->flags, /*with_json=*/false);
  start->callback([options, &outcome] { outcome.exit_code = start_detached(*options); });

  CLI::App* stop_command = daemon->add_subcommand("stop", "Stop the daemon (jobs keep running)");
  stop_command->add_option("--timeout", options->stop_timeout_s, "Seconds to wait (default 30)");
  stop_command->callback([options, &outcome] { outcome.exit_code = stop(*options); });

  CLI::App* status_command =
      daemon->add_subcommand("status", "Pid, uptime, socket, state folder, GPUs and job counts");
  status_command->add_flag("--json", options->flags.json, "Print JSON (docs/api.md)");
  status_command->callback([options, &outcome] { outcome.exit_code = status(*options); });
}

}  // namespace fastgpu::cli
