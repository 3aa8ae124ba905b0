#include "api/daemon_parts.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "fastgpu/exec/local_launcher.h"
#include "fastgpu/exec/process_tree.h"
#include "fastgpu/gpu/nvml_probe.h"
#include "fastgpu/gpu/simulated_probe.h"

namespace fastgpu::api {
namespace {

Status open_simulated(const std::string& devices, DaemonParts& parts) {
  Result<std::unique_ptr<SimulatedProbe>> probe = make_simulated_probe(devices);
  if (!probe.ok()) {
    return invalid_argument(
        fmt::format("--devices / FASTGPU_DEVICES: {}", probe.status().message()));
  }
  parts.probe = std::move(probe).value();
  parts.gpus_source = "simulated";
  return {};
}

// The real GPUs through NVML; where there is no driver,
// kDefaultSimulatedDevices, said plainly.
Status open_probe(const DaemonConfig& config, DaemonParts& parts) {
  if (!config.devices.empty()) {
    FASTGPU_RETURN_IF_ERROR(open_simulated(config.devices, parts));
    parts.gpus_note =
        fmt::format("simulated GPUs ({}) from --devices / FASTGPU_DEVICES", config.devices);
    return {};
  }
  Result<std::unique_ptr<GpuProbe>> nvml = open_nvml_probe();
  if (nvml.ok()) {
    parts.probe = std::move(nvml).value();
    parts.gpus_source = "nvml";
    parts.gpus_note = "real GPUs: " + parts.probe->describe();
    return {};
  }
  // Why NVML could not be used, without its hint to simulate (which what follows gives): on
  // a machine with GPUs, a driver that fails to start (a library of another version, a
  // device node it may not open) must be told apart from no driver at all.
  std::string why = nvml.status().message();
  if (const auto hint = why.find(". To try FastGPU"); hint != std::string::npos) why.resize(hint);
  if (!is_no_nvidia_driver(nvml.status())) {
    // Simulated GPUs here would place jobs on GPUs the machine does not have (four H100s on
    // a one-GPU machine), while its real GPUs went unseen.
    return failed_precondition(fmt::format(
        "the NVIDIA driver is here but cannot be used, so the daemon does not start: {}. Fix "
        "the driver (nvidia-smi shows the same error; after a driver upgrade, reboot or reload "
        "the nvidia kernel module), or choose simulated GPUs: --devices {} or FASTGPU_DEVICES={}",
        why, kDefaultSimulatedDevices, kDefaultSimulatedDevices));
  }
  FASTGPU_RETURN_IF_ERROR(open_simulated(kDefaultSimulatedDevices, parts));
  parts.gpus_note = fmt::format(
      "no NVIDIA driver: simulated GPUs ({}); --devices or "
      "FASTGPU_DEVICES choose others (NVML: {})",
      kDefaultSimulatedDevices, why);
  return {};
}

// Maps a GPU process to its job through the supervisors of the running jobs (exec's
// /proc attribution); the engine passes them from its mirror. Only for real GPUs:
// simulated ones list made-up pids.
std::optional<JobId> pid_attribution(std::uint32_t pid, const engine::SupervisorJobs& supervisors) {
  const auto attributed = exec::attribute_pids({static_cast<pid_t>(pid)}, supervisors);
  if (attributed.empty()) return std::nullopt;
  return attributed.begin()->second;
}

// The highest job id that names a file in the state folder's logs/ (`12.log`) or runs/
// (`12.1.jsonl`, `12/`); 0 when none does.
std::uint64_t highest_id_of_job_files(const std::filesystem::path& state_dir) {
  std::uint64_t highest = 0;
  for (const char* folder : {"logs", "runs"}) {
    std::error_code error;
    for (std::filesystem::directory_iterator entry(state_dir / folder, error), end;
         !error && entry != end; entry.increment(error)) {
      const std::string name = entry->path().filename().string();
      std::uint64_t id = 0;
      const auto [after, problem] = std::from_chars(name.data(), name.data() + name.size(), id);
      if (problem == std::errc{} && after != name.data()) highest = std::max(highest, id);
    }
  }
  return highest;
}

// A database made anew (deleted under a daemon, or moved away) in a state folder that holds
// earlier jobs' logs and run records: its first ids were theirs, and a new job 1 appended to
// job 1's log and read job 1's outcome as its own. Its ids now start past them. Looked for
// only while the database has never had a job, so a long past costs nothing at start.
Status skip_ids_of_earlier_files(const DaemonConfig& config, DaemonParts& parts) {
  Result<std::map<store::JobState, std::uint64_t>> entered = parts.store->count_state_entries();
  if (!entered.ok()) return entered.status();
  if (!entered->empty()) return {};
  const std::uint64_t highest = highest_id_of_job_files(config.paths.state_dir);
  if (highest == 0) return {};
  Result<bool> skipped = parts.store->skip_ids_through(JobId(highest));
  if (!skipped.ok()) return skipped.status();
  if (*skipped) {
    parts.start_notes.push_back(fmt::format(
        "warning: the state database {} holds no job, but {} holds the logs and run records "
        "of jobs up to {} (was the database deleted or replaced?): new jobs are numbered from "
        "{}, so that none writes into an earlier job's files",
        config.paths.database.string(), config.paths.state_dir.string(), highest, highest + 1));
  }
  return {};
}

}  // namespace

Result<DaemonParts> open_daemon_parts(const DaemonConfig& config) {
  DaemonParts parts;
  FASTGPU_RETURN_IF_ERROR(open_probe(config, parts));
  Result<std::unique_ptr<store::StateStore>> store =
      store::open_sqlite_store(config.paths.database.string());
  if (!store.ok()) return store.status();
  parts.store = std::move(store).value();
  FASTGPU_RETURN_IF_ERROR(skip_ids_of_earlier_files(config, parts));
  Result<std::unique_ptr<exec::Launcher>> launcher = exec::make_local_launcher();
  if (!launcher.ok()) return launcher.status();
  parts.launcher = std::move(launcher).value();
  parts.clock = engine::make_system_clock();

  engine::EngineOptions options;
  options.probe = parts.probe.get();
  options.launcher = parts.launcher.get();
  options.store = parts.store.get();
  options.clock = parts.clock.get();
  options.state_dir = config.paths.state_dir;
  options.cpu_slots = config.cpu_slots;
  options.sample_interval_s = config.sample_interval_s;
  options.sample_retention_s = config.sample_retention_s;
  options.job_retention_s = config.job_retention_s;
  options.scheduler = config.scheduler;
  options.check_schedule = config.check_schedule;
  if (parts.gpus_source == "nvml") options.attribute_pid = pid_attribution;
  // A root daemon serving every user runs each job as its owner.
  options.run_jobs_as_owner = config.shared && ::geteuid() == 0;
  Result<std::unique_ptr<engine::Engine>> opened = engine::Engine::open(std::move(options));
  if (!opened.ok()) return opened.status().with_context("cannot start the engine");
  parts.engine = std::move(opened).value();
  return parts;
}

}  // namespace fastgpu::api
