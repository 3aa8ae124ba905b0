#include "api/daemon_parts.h"

#include <fmt/format.h>
#include <unistd.h>

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

}  // namespace

Result<DaemonParts> open_daemon_parts(const DaemonConfig& config) {
  DaemonParts parts;
  FASTGPU_RETURN_IF_ERROR(open_probe(config, parts));
  Result<std::unique_ptr<store::StateStore>> store =
      store::open_sqlite_store(config.paths.database.string());
  if (!store.ok()) return store.status();
  parts.store = std::move(store).value();
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
