// The NVML shared library, opened with dlopen, and the table of functions resolved from it.
//
// Each entry is tried under its newest versioned name first, then under older names (as old
// drivers export them). An entry none of whose names exists stays null; the probe then
// reports the fields that depend on it as unreadable. Only nvmlInit, nvmlDeviceGetCount and
// nvmlDeviceGetHandleByIndex (in some version) are required.
//
// Ownership: NvmlLibrary owns the dlopen handle and dlcloses it when destroyed; the function
// pointers are valid only while it lives. Not thread-safe (nor need it be: see GpuProbe).
#pragma once

#include <memory>
#include <string>

#include "fastgpu/core/result.h"
#include "gpu/nvml_api.h"

namespace fastgpu::nvml {

// One resolved function: the pointer (null when absent) and the name it was found under,
// or, when absent, every name that was tried ("nvmlDeviceGetPowerUsage").
template <typename Fn>
struct Symbol {
  Fn fn = nullptr;
  std::string name;
  explicit operator bool() const { return fn != nullptr; }
};

struct Symbols {
  // Required.
  Symbol<InitFn> init;                      // nvmlInit_v2 → nvmlInit
  Symbol<DeviceCountFn> device_count;       // nvmlDeviceGetCount_v2 → nvmlDeviceGetCount
  Symbol<HandleByIndexFn> handle_by_index;  // nvmlDeviceGetHandleByIndex_v2 → unversioned

  // Optional: the probe copes with each one missing.
  Symbol<ShutdownFn> shutdown;
  Symbol<ErrorStringFn> error_string;
  Symbol<SystemStringFn> driver_version;
  Symbol<SystemStringFn> nvml_version;
  Symbol<SystemIntFn> cuda_driver_version;  // _v2 → unversioned
  Symbol<DeviceStringFn> name;
  Symbol<DeviceStringFn> uuid;
  Symbol<PciInfoFn> pci_info;  // _v3 → _v2 → unversioned (see pci_info_is_legacy)
  Symbol<MemoryInfoV2Fn> memory_info_v2;
  Symbol<MemoryInfoFn> memory_info;  // used only when memory_info_v2 is absent
  Symbol<UtilizationFn> utilization;
  Symbol<DeviceUintFn> power_usage;   // milliwatts
  Symbol<DeviceUintFn> power_limit;   // milliwatts; enforced → management limit
  Symbol<DeviceUllFn> total_energy;   // millijoules
  Symbol<TemperatureFn> temperature;  // °C
  Symbol<ClockInfoFn> clock_info;     // MHz
  Symbol<TotalEccErrorsFn> total_ecc_errors;
  Symbol<DeviceUllFn> clocks_event_reasons;  // ClocksEventReasons → ClocksThrottleReasons
  Symbol<ProcessesV2Fn> processes_v2;        // _v3 → _v2
  Symbol<ProcessesV1Fn> processes_v1;        // unversioned; used when processes_v2 is absent

  // True when pci_info is the unversioned call, which fills only the legacy 16-byte bus id.
  bool pci_info_is_legacy = false;
};

class NvmlLibrary {
 public:
  // Opens `path` (a file name searched the usual way, or a path) and resolves the symbols.
  // Fails with kFailedPrecondition when the library cannot be loaded (no driver), and with
  // kUnsupported when a required function is missing.
  static Result<std::unique_ptr<NvmlLibrary>> open(const std::string& path);

  ~NvmlLibrary();
  NvmlLibrary(const NvmlLibrary&) = delete;
  NvmlLibrary& operator=(const NvmlLibrary&) = delete;

  const Symbols& symbols() const { return symbols_; }
  const std::string& path() const { return path_; }

  // "Not Supported (NVML_ERROR_NOT_SUPPORTED)": the driver's text and the code's name.
  std::string describe_error(Return code) const;

 private:
  NvmlLibrary(void* handle, std::string path) : handle_(handle), path_(std::move(path)) {}

  void* handle_;
  std::string path_;
  Symbols symbols_;
};

// The message every "no driver" failure carries, so users learn how to go on without GPUs.
inline constexpr const char* kSimulatedGpuHint =
    "To try FastGPU without GPUs, use simulated GPUs: fastgpu status --devices 4xH100-80G, "
    "or FASTGPU_DEVICES=4xH100-80G for every command";

}  // namespace fastgpu::nvml
