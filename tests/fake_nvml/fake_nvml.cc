// A fake libnvidia-ml.so.1: the NVML functions FastGPU's probe uses, with the driver's names
// and signatures, answering from the JSON state file named by $FASTGPU_FAKE_NVML_STATE (see
// docs/nvml.md). It behaves like the driver where the probe depends on it: calls before
// nvmlInit fail with UNINITIALIZED, a too-small process buffer gets INSUFFICIENT_SIZE and the
// count needed, nvmlMemory_v2_t must carry its struct version, and the unversioned calls
// write the old, smaller structs.
//
// Build variants leave symbols out, so that dlsym really fails as it does on such drivers:
//   FAKE_NVML_OLD_DRIVER  no _v2/_v3 symbol, no ClocksEventReasons, no EnforcedPowerLimit
//   FAKE_NVML_MINIMAL     no optional calls: energy, ECC, power limits, clock reasons,
//                         NVML and CUDA versions
//   FAKE_NVML_NO_HANDLES  no nvmlDeviceGetHandleByIndex in any version
//
// Not thread-safe: the probe calls it from one thread.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "fake_nvml_abi.h"
#include "fake_nvml_state.h"

#define FAKE_NVML_EXPORT extern "C" __attribute__((visibility("default")))

namespace fake_nvml {
namespace {

using Number = unsigned long long;
using NumberField = Sequence<Number> Gpu::*;

struct Library {
  int init_count = 0;
  State state;
  std::string last_error;  // why the last nvmlInit failed; nvmlErrorString(UNKNOWN) gives it
};

Library& library() {
  static Library instance;
  return instance;
}

nvmlReturn_t fail_init(std::string message) {
  std::fprintf(stderr, "fake NVML: %s\n", message.c_str());
  library().last_error = "fake NVML: " + std::move(message);
  return NVML_ERROR_UNKNOWN;
}

nvmlReturn_t init() {
  Library& lib = library();
  if (lib.init_count > 0) {
    ++lib.init_count;  // NVML counts nested initialisations
    return NVML_SUCCESS;
  }
  const char* path = std::getenv(kStateEnv);
  if (path == nullptr || *path == '\0') {
    return fail_init(std::string(kStateEnv) + " is not set; point it at a JSON state file");
  }
  std::string error;
  std::optional<State> state = load_state(path, error);
  if (!state) return fail_init(error);
  if (state->init_error != NVML_SUCCESS) return state->init_error;
  lib.state = std::move(*state);
  lib.last_error.clear();
  lib.init_count = 1;
  return NVML_SUCCESS;
}

nvmlReturn_t shutdown() {
  Library& lib = library();
  if (lib.init_count == 0) return NVML_ERROR_UNINITIALIZED;
  if (--lib.init_count == 0) lib.state = State{};
  return NVML_SUCCESS;
}

// A handle is the address of the GPU's entry in the state.
Gpu* gpu_of(nvmlDevice_t device) {
  for (Gpu& gpu : library().state.gpus) {
    if (reinterpret_cast<nvmlDevice_t>(&gpu) == device) return &gpu;
  }
  return nullptr;
}

// Every device call starts here: NVML initialised, a handle of ours, no fault injected.
nvmlReturn_t enter(nvmlDevice_t device, const char* function, Gpu*& gpu) {
  if (library().init_count == 0) return NVML_ERROR_UNINITIALIZED;
  gpu = gpu_of(device);
  if (gpu == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  if (gpu->lost) return NVML_ERROR_GPU_IS_LOST;
  if (gpu->errors.empty()) return NVML_SUCCESS;
  auto it = gpu->errors.find(function);
  return it == gpu->errors.end() ? NVML_SUCCESS : it->second.take();
}

template <typename Out>
nvmlReturn_t read_number(nvmlDevice_t device, const char* function, NumberField field, Out* out) {
  if (out == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  Gpu* gpu = nullptr;
  if (nvmlReturn_t code = enter(device, function, gpu); code != NVML_SUCCESS) return code;
  Sequence<Number>& value = gpu->*field;
  if (!value.present()) return NVML_ERROR_NOT_SUPPORTED;
  *out = static_cast<Out>(value.take());
  return NVML_SUCCESS;
}

nvmlReturn_t copy_string(const std::optional<std::string>& value, char* buffer,
                         unsigned int length) {
  if (!value) return NVML_ERROR_NOT_SUPPORTED;
  if (buffer == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  if (value->size() + 1 > length) return NVML_ERROR_INSUFFICIENT_SIZE;
  std::memcpy(buffer, value->c_str(), value->size() + 1);
  return NVML_SUCCESS;
}

nvmlReturn_t device_string(nvmlDevice_t device, const char* function,
                           std::optional<std::string> Gpu::*field, char* buffer,
                           unsigned int length) {
  Gpu* gpu = nullptr;
  if (nvmlReturn_t code = enter(device, function, gpu); code != NVML_SUCCESS) return code;
  return copy_string(gpu->*field, buffer, length);
}

nvmlReturn_t system_string(const std::optional<std::string>& value, char* buffer,
                           unsigned int length) {
  if (library().init_count == 0) return NVML_ERROR_UNINITIALIZED;
  return copy_string(value, buffer, length);
}

// "00000000:18:00.0" (the current 8-digit domain) → "0000:18:00.0" (the legacy form).
std::string legacy_bus_id(const std::string& bus_id) {
  std::size_t colon = bus_id.find(':');
  return colon == 8 ? bus_id.substr(4) : bus_id;
}

template <typename Pci>
void fill_pci_numbers(const std::string& bus_id, Pci* pci) {
  unsigned int function = 0;
  if (std::sscanf(bus_id.c_str(), "%x:%x:%x.%x", &pci->domain, &pci->bus, &pci->device,
                  &function) != 4) {
    pci->domain = pci->bus = pci->device = 0;
  }
}

void copy_truncated(const std::string& value, char* buffer, std::size_t size) {
  std::size_t length = std::min(value.size(), size - 1);
  std::memcpy(buffer, value.data(), length);
  buffer[length] = '\0';
}

[[maybe_unused]] nvmlReturn_t pci_info(nvmlDevice_t device, nvmlPciInfo_t* pci) {
  if (pci == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  Gpu* gpu = nullptr;
  if (nvmlReturn_t code = enter(device, "nvmlDeviceGetPciInfo", gpu); code != NVML_SUCCESS) {
    return code;
  }
  if (!gpu->pci_bus_id) return NVML_ERROR_NOT_SUPPORTED;
  *pci = nvmlPciInfo_t{};
  copy_truncated(*gpu->pci_bus_id, pci->busId, sizeof(pci->busId));
  copy_truncated(legacy_bus_id(*gpu->pci_bus_id), pci->busIdLegacy, sizeof(pci->busIdLegacy));
  fill_pci_numbers(*gpu->pci_bus_id, pci);
  return NVML_SUCCESS;
}

// The old call writes only the old struct: 52 bytes, the bus id in the legacy form.
nvmlReturn_t pci_info_v1(nvmlDevice_t device, nvmlPciInfoV1_t* pci) {
  if (pci == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  Gpu* gpu = nullptr;
  if (nvmlReturn_t code = enter(device, "nvmlDeviceGetPciInfo", gpu); code != NVML_SUCCESS) {
    return code;
  }
  if (!gpu->pci_bus_id) return NVML_ERROR_NOT_SUPPORTED;
  *pci = nvmlPciInfoV1_t{};
  copy_truncated(legacy_bus_id(*gpu->pci_bus_id), pci->busId, sizeof(pci->busId));
  fill_pci_numbers(*gpu->pci_bus_id, pci);
  return NVML_SUCCESS;
}

bool has_memory(const Gpu& gpu) {
  return gpu.memory_total.present() && gpu.memory_used.present() && gpu.memory_free.present();
}

[[maybe_unused]] nvmlReturn_t memory_v2(nvmlDevice_t device, nvmlMemory_v2_t* memory) {
  if (memory == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  if (memory->version != FAKE_NVML_MEMORY_V2_VERSION) {
    return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
  }
  Gpu* gpu = nullptr;
  if (nvmlReturn_t code = enter(device, "nvmlDeviceGetMemoryInfo", gpu); code != NVML_SUCCESS) {
    return code;
  }
  if (!has_memory(*gpu)) return NVML_ERROR_NOT_SUPPORTED;
  memory->total = gpu->memory_total.take();
  memory->reserved = gpu->memory_reserved.present() ? gpu->memory_reserved.take() : 0;
  memory->used = gpu->memory_used.take();
  memory->free = gpu->memory_free.take();
  return NVML_SUCCESS;
}

// The old call has no reserved figure; like the driver, it counts reserved memory as used.
nvmlReturn_t memory_v1(nvmlDevice_t device, nvmlMemory_t* memory) {
  if (memory == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  Gpu* gpu = nullptr;
  if (nvmlReturn_t code = enter(device, "nvmlDeviceGetMemoryInfo", gpu); code != NVML_SUCCESS) {
    return code;
  }
  if (!has_memory(*gpu)) return NVML_ERROR_NOT_SUPPORTED;
  Number reserved = gpu->memory_reserved.present() ? gpu->memory_reserved.take() : 0;
  memory->total = gpu->memory_total.take();
  memory->used = gpu->memory_used.take() + reserved;
  memory->free = gpu->memory_free.take();
  return NVML_SUCCESS;
}

nvmlReturn_t utilization(nvmlDevice_t device, nvmlUtilization_t* rates) {
  if (rates == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  Gpu* gpu = nullptr;
  if (nvmlReturn_t code = enter(device, "nvmlDeviceGetUtilizationRates", gpu);
      code != NVML_SUCCESS) {
    return code;
  }
  if (!gpu->utilization_gpu.present() || !gpu->utilization_memory.present()) {
    return NVML_ERROR_NOT_SUPPORTED;
  }
  rates->gpu = static_cast<unsigned int>(gpu->utilization_gpu.take());
  rates->memory = static_cast<unsigned int>(gpu->utilization_memory.take());
  return NVML_SUCCESS;
}

nvmlReturn_t clock_info(nvmlDevice_t device, int type, unsigned int* mhz) {
  if (type < 0 || type > 3) return NVML_ERROR_INVALID_ARGUMENT;
  if (type != 1 && type != 2) return NVML_ERROR_NOT_SUPPORTED;  // graphics, video: not modelled
  NumberField field = type == 1 ? &Gpu::sm_clock_mhz : &Gpu::mem_clock_mhz;
  return read_number(device, "nvmlDeviceGetClockInfo", field, mhz);
}

[[maybe_unused]] nvmlReturn_t ecc_errors(nvmlDevice_t device, int error_type, int counter_type,
                                         Number* count) {
  if (error_type < 0 || error_type > 1 || counter_type < 0 || counter_type > 1) {
    return NVML_ERROR_INVALID_ARGUMENT;
  }
  if (error_type != 1 || counter_type != 0) return NVML_ERROR_NOT_SUPPORTED;  // not modelled
  return read_number(device, "nvmlDeviceGetTotalEccErrors", &Gpu::ecc_uncorrected_volatile, count);
}

void fill_process(const Process& process, nvmlProcessInfo_v1_t& info) {
  info.pid = process.pid;
  info.usedGpuMemory = process.used_memory.value_or(FAKE_NVML_VALUE_NOT_AVAILABLE);
}

[[maybe_unused]] void fill_process(const Process& process, nvmlProcessInfo_t& info) {
  info.pid = process.pid;
  info.usedGpuMemory = process.used_memory.value_or(FAKE_NVML_VALUE_NOT_AVAILABLE);
  info.gpuInstanceId = 0xFFFFFFFFU;  // not a MIG instance
  info.computeInstanceId = 0xFFFFFFFFU;
}

// As the driver: *count too small → INSUFFICIENT_SIZE and *count set to the number needed
// (so *count == 0 with infos == NULL asks for the count).
template <typename Info>
nvmlReturn_t processes(nvmlDevice_t device, unsigned int* count, Info* infos) {
  if (count == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  Gpu* gpu = nullptr;
  if (nvmlReturn_t code = enter(device, "nvmlDeviceGetComputeRunningProcesses", gpu);
      code != NVML_SUCCESS) {
    return code;
  }
  std::vector<Process> listed;
  for (Process process : gpu->processes) {
    if (process.pid_file) {
      std::FILE* file = std::fopen(process.pid_file->c_str(), "r");
      if (file == nullptr) continue;
      const int read = std::fscanf(file, "%u", &process.pid);
      std::fclose(file);
      if (read != 1) continue;
    }
    listed.push_back(process);
  }
  auto needed = static_cast<unsigned int>(listed.size());
  if (*count < needed) {
    *count = needed;
    return NVML_ERROR_INSUFFICIENT_SIZE;
  }
  if (needed > 0 && infos == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  for (unsigned int i = 0; i < needed; ++i) fill_process(listed[i], infos[i]);
  *count = needed;
  return NVML_SUCCESS;
}

nvmlReturn_t device_count(unsigned int* count) {
  if (count == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  if (library().init_count == 0) return NVML_ERROR_UNINITIALIZED;
  *count = static_cast<unsigned int>(library().state.gpus.size());
  return NVML_SUCCESS;
}

[[maybe_unused]] nvmlReturn_t handle_by_index(unsigned int index, nvmlDevice_t* device) {
  if (device == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  if (library().init_count == 0) return NVML_ERROR_UNINITIALIZED;
  auto& gpus = library().state.gpus;
  if (index >= gpus.size()) return NVML_ERROR_INVALID_ARGUMENT;
  if (gpus[index].handle_error != NVML_SUCCESS) return gpus[index].handle_error;
  *device = reinterpret_cast<nvmlDevice_t>(&gpus[index]);
  return NVML_SUCCESS;
}

[[maybe_unused]] nvmlReturn_t cuda_driver_version(int* version) {
  if (version == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  if (library().init_count == 0) return NVML_ERROR_UNINITIALIZED;
  if (!library().state.cuda_driver_version) return NVML_ERROR_NOT_SUPPORTED;
  *version = *library().state.cuda_driver_version;
  return NVML_SUCCESS;
}

}  // namespace
}  // namespace fake_nvml

using namespace fake_nvml;  // NOLINT(google-build-using-namespace): the exports below only

// The exports carry NVML's names, whatever FastGPU's naming rules say.
// NOLINTBEGIN(readability-identifier-naming)

// ---- Exported in every variant ----------------------------------------------------------

FAKE_NVML_EXPORT nvmlReturn_t nvmlInit() { return init(); }
FAKE_NVML_EXPORT nvmlReturn_t nvmlShutdown() { return fake_nvml::shutdown(); }
FAKE_NVML_EXPORT const char* nvmlErrorString(nvmlReturn_t code) {
  if (code == NVML_ERROR_UNKNOWN && !library().last_error.empty()) {
    return library().last_error.c_str();
  }
  return error_text(code);
}
FAKE_NVML_EXPORT nvmlReturn_t nvmlSystemGetDriverVersion(char* version, unsigned int length) {
  return system_string(library().state.driver_version, version, length);
}
FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetCount(unsigned int* count) {
  return device_count(count);
}
FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char* name,
                                                unsigned int length) {
  return device_string(device, "nvmlDeviceGetName", &Gpu::name, name, length);
}
FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char* uuid,
                                                unsigned int length) {
  return device_string(device, "nvmlDeviceGetUUID", &Gpu::uuid, uuid, length);
}
FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetPciInfo(nvmlDevice_t device, nvmlPciInfoV1_t* pci) {
  return pci_info_v1(device, pci);
}
FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t* memory) {
  return memory_v1(device, memory);
}
FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device,
                                                            nvmlUtilization_t* rates) {
  return utilization(device, rates);
}
FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int* mw) {
  return read_number(device, "nvmlDeviceGetPowerUsage", &Gpu::power_mw, mw);
}
FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device, int sensor,
                                                       unsigned int* celsius) {
  if (sensor != 0) return NVML_ERROR_INVALID_ARGUMENT;  // only NVML_TEMPERATURE_GPU exists
  return read_number(device, "nvmlDeviceGetTemperature", &Gpu::temperature_c, celsius);
}
FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t device, int type,
                                                     unsigned int* mhz) {
  return clock_info(device, type, mhz);
}
FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses(nvmlDevice_t device,
                                                                   unsigned int* count,
                                                                   nvmlProcessInfo_v1_t* infos) {
  return processes(device, count, infos);
}

// ---- Handles (left out by FAKE_NVML_NO_HANDLES) -----------------------------------------

#if !defined(FAKE_NVML_NO_HANDLES)
FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t* device) {
  return handle_by_index(index, device);
}
#if !defined(FAKE_NVML_OLD_DRIVER)
FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index,
                                                            nvmlDevice_t* device) {
  return handle_by_index(index, device);
}
#endif
#endif

// ---- Versioned symbols (left out by FAKE_NVML_OLD_DRIVER) -------------------------------

#if !defined(FAKE_NVML_OLD_DRIVER)
FAKE_NVML_EXPORT nvmlReturn_t nvmlInit_v2() { return init(); }
FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int* count) {
  return device_count(count);
}
FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v2(nvmlDevice_t device, nvmlPciInfo_t* pci) {
  return pci_info(device, pci);
}
FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t* pci) {
  return pci_info(device, pci);
}
FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device,
                                                         nvmlMemory_v2_t* memory) {
  return memory_v2(device, memory);
}
FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t device,
                                                                      unsigned int* count,
                                                                      nvmlProcessInfo_t* infos) {
  return processes(device, count, infos);
}
FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device,
                                                                      unsigned int* count,
                                                                      nvmlProcessInfo_t* infos) {
  return processes(device, count, infos);
}
#endif

// ---- Optional calls (left out by FAKE_NVML_MINIMAL) -------------------------------------

#if !defined(FAKE_NVML_MINIMAL)
FAKE_NVML_EXPORT nvmlReturn_t nvmlSystemGetNVMLVersion(char* version, unsigned int length) {
  return system_string(library().state.nvml_version, version, length);
}
FAKE_NVML_EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion(int* version) {
  return cuda_driver_version(version);
}
FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetPowerManagementLimit(nvmlDevice_t device,
                                                                unsigned int* mw) {
  return read_number(device, "nvmlDeviceGetPowerManagementLimit", &Gpu::power_limit_mw, mw);
}
FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t device,
                                                                  unsigned long long* mj) {
  return read_number(device, "nvmlDeviceGetTotalEnergyConsumption", &Gpu::energy_mj, mj);
}
FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetTotalEccErrors(nvmlDevice_t device, int error_type,
                                                          int counter_type,
                                                          unsigned long long* count) {
  return ecc_errors(device, error_type, counter_type, count);
}
FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t device,
                                                                        unsigned long long* bits) {
  return read_number(device, "nvmlDeviceGetCurrentClocksEventReasons", &Gpu::clocks_event_reasons,
                     bits);
}
#if !defined(FAKE_NVML_OLD_DRIVER)
FAKE_NVML_EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int* version) {
  return cuda_driver_version(version);
}
FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t device,
                                                              unsigned int* mw) {
  return read_number(device, "nvmlDeviceGetEnforcedPowerLimit", &Gpu::power_limit_mw, mw);
}
FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t device,
                                                                     unsigned long long* bits) {
  return read_number(device, "nvmlDeviceGetCurrentClocksEventReasons", &Gpu::clocks_event_reasons,
                     bits);
}
#endif
#endif

// NOLINTEND(readability-identifier-naming)
