#include "gpu/nvml_library.h"

#include <dlfcn.h>

#include <initializer_list>
#include <string>
#include <utility>

#include "fastgpu/gpu/nvml_probe.h"

namespace fastgpu::nvml {
namespace {

// Tries each name in turn; the first one the library exports wins.
template <typename Fn>
Symbol<Fn> resolve(void* handle, std::initializer_list<const char*> names) {
  Symbol<Fn> symbol;
  for (const char* name : names) {
    if (void* address = dlsym(handle, name)) {
      symbol.fn = reinterpret_cast<Fn>(address);
      symbol.name = name;
      return symbol;
    }
  }
  // Absent: keep the names tried, so a report can say what the driver lacks.
  for (const char* name : names) {
    if (!symbol.name.empty()) symbol.name += " / ";
    symbol.name += name;
  }
  return symbol;
}

void resolve_required(void* handle, Symbols& s) {
  s.init = resolve<InitFn>(handle, {"nvmlInit_v2", "nvmlInit"});
  s.device_count = resolve<DeviceCountFn>(handle, {"nvmlDeviceGetCount_v2", "nvmlDeviceGetCount"});
  s.handle_by_index = resolve<HandleByIndexFn>(
      handle, {"nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex"});
}

void resolve_system(void* handle, Symbols& s) {
  s.shutdown = resolve<ShutdownFn>(handle, {"nvmlShutdown"});
  s.error_string = resolve<ErrorStringFn>(handle, {"nvmlErrorString"});
  s.driver_version = resolve<SystemStringFn>(handle, {"nvmlSystemGetDriverVersion"});
  s.nvml_version = resolve<SystemStringFn>(handle, {"nvmlSystemGetNVMLVersion"});
  s.cuda_driver_version = resolve<SystemIntFn>(
      handle, {"nvmlSystemGetCudaDriverVersion_v2", "nvmlSystemGetCudaDriverVersion"});
}

void resolve_identity(void* handle, Symbols& s) {
  s.name = resolve<DeviceStringFn>(handle, {"nvmlDeviceGetName"});
  s.uuid = resolve<DeviceStringFn>(handle, {"nvmlDeviceGetUUID"});
  s.pci_info = resolve<PciInfoFn>(
      handle, {"nvmlDeviceGetPciInfo_v3", "nvmlDeviceGetPciInfo_v2", "nvmlDeviceGetPciInfo"});
  s.pci_info_is_legacy = s.pci_info.name == "nvmlDeviceGetPciInfo";
}

void resolve_metrics(void* handle, Symbols& s) {
  s.memory_info_v2 = resolve<MemoryInfoV2Fn>(handle, {"nvmlDeviceGetMemoryInfo_v2"});
  s.memory_info = resolve<MemoryInfoFn>(handle, {"nvmlDeviceGetMemoryInfo"});
  s.utilization = resolve<UtilizationFn>(handle, {"nvmlDeviceGetUtilizationRates"});
  s.power_usage = resolve<DeviceUintFn>(handle, {"nvmlDeviceGetPowerUsage"});
  s.power_limit = resolve<DeviceUintFn>(
      handle, {"nvmlDeviceGetEnforcedPowerLimit", "nvmlDeviceGetPowerManagementLimit"});
  s.total_energy = resolve<DeviceUllFn>(handle, {"nvmlDeviceGetTotalEnergyConsumption"});
  s.temperature = resolve<TemperatureFn>(handle, {"nvmlDeviceGetTemperature"});
  s.clock_info = resolve<ClockInfoFn>(handle, {"nvmlDeviceGetClockInfo"});
}

void resolve_health_and_processes(void* handle, Symbols& s) {
  s.total_ecc_errors = resolve<TotalEccErrorsFn>(handle, {"nvmlDeviceGetTotalEccErrors"});
  s.clocks_event_reasons = resolve<DeviceUllFn>(
      handle,
      {"nvmlDeviceGetCurrentClocksEventReasons", "nvmlDeviceGetCurrentClocksThrottleReasons"});
  s.processes_v2 = resolve<ProcessesV2Fn>(handle, {"nvmlDeviceGetComputeRunningProcesses_v3",
                                                   "nvmlDeviceGetComputeRunningProcesses_v2"});
  s.processes_v1 = resolve<ProcessesV1Fn>(handle, {"nvmlDeviceGetComputeRunningProcesses"});
}

template <typename Fn>
Status require(const Symbol<Fn>& symbol, const std::string& path) {
  if (symbol) return Status::ok_status();
  return unsupported("the NVML library '" + path + "' does not export " + symbol.name +
                     ", which FastGPU needs; it is not a usable NVML (a wrong file, or a "
                     "driver older than FastGPU supports). Set FASTGPU_NVML_LIBRARY to the "
                     "driver's libnvidia-ml.so.1, or update the NVIDIA driver.");
}

std::string load_failure_message(const std::string& path) {
  const char* reason = dlerror();
  return std::string(fastgpu::kNoNvidiaDriver) + ": could not load " + path + " (" +
         (reason != nullptr ? reason : "unknown dlopen error") + "). " + kSimulatedGpuHint;
}

}  // namespace

Result<std::unique_ptr<NvmlLibrary>> NvmlLibrary::open(const std::string& path) {
  // RTLD_LOCAL keeps NVML's symbols out of the global namespace; RTLD_NOW fails here, not at
  // the first call, if the library is incomplete.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) return failed_precondition(load_failure_message(path));

  std::unique_ptr<NvmlLibrary> library(new NvmlLibrary(handle, path));
  Symbols& s = library->symbols_;
  resolve_required(handle, s);
  resolve_system(handle, s);
  resolve_identity(handle, s);
  resolve_metrics(handle, s);
  resolve_health_and_processes(handle, s);
  FASTGPU_RETURN_IF_ERROR(require(s.init, path));
  FASTGPU_RETURN_IF_ERROR(require(s.device_count, path));
  FASTGPU_RETURN_IF_ERROR(require(s.handle_by_index, path));
  return library;
}

NvmlLibrary::~NvmlLibrary() { dlclose(handle_); }

std::string NvmlLibrary::describe_error(Return code) const {
  std::string text;
  if (symbols_.error_string) {
    const char* driver_text = symbols_.error_string.fn(code);
    if (driver_text != nullptr) text = driver_text;
  }
  if (text.empty()) text = "NVML error";
  return text + " (" + return_code_name(code) + ", code " + std::to_string(code) + ")";
}

}  // namespace fastgpu::nvml
