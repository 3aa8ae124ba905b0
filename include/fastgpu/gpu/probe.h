// Resource assessment: what a GPU probe reports about every GPU it sees.
//
// Every measured field is std::optional: a field the driver could not read (NOT_SUPPORTED,
// no permission, an old driver without the call) is absent, never 0, and its name is listed
// in `unreadable_fields` with the reason. A GPU whose calls fail as a whole (e.g. it fell off
// the bus) is still listed, with health.healthy = false and the reason.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fastgpu/core/result.h"

namespace fastgpu {

struct GpuProcess {
  std::uint32_t pid = 0;
  std::optional<std::uint64_t> used_memory_bytes;  // absent when the driver withholds it
};

struct GpuHealth {
  bool healthy = true;
  // Why the GPU is unhealthy or degraded: "GPU is lost (NVML_ERROR_GPU_IS_LOST)",
  // "3 uncorrected ECC errors", "throttled: hardware slowdown". Empty when all is well.
  std::vector<std::string> reasons;
};

struct UnreadableField {
  std::string field;   // the JSON field name, e.g. "power_watts"
  std::string reason;  // e.g. "not supported", "function not found in the driver"
};

struct GpuDevice {
  std::uint32_t index = 0;
  std::optional<std::string> name;
  std::optional<std::string> uuid;
  std::optional<std::string> pci_bus_id;

  std::optional<std::uint64_t> memory_total_bytes;
  std::optional<std::uint64_t> memory_used_bytes;
  std::optional<std::uint64_t> memory_free_bytes;
  std::optional<std::uint64_t> memory_reserved_bytes;  // held by the driver and firmware

  std::optional<std::uint32_t> gpu_utilization_percent;     // SM busy time, last sample period
  std::optional<std::uint32_t> memory_utilization_percent;  // memory-controller busy time

  std::optional<double> power_watts;
  std::optional<double> power_limit_watts;
  std::optional<std::uint64_t> energy_millijoules;  // total since the driver loaded

  std::optional<std::uint32_t> temperature_celsius;
  std::optional<std::uint32_t> sm_clock_mhz;
  std::optional<std::uint32_t> memory_clock_mhz;

  // Compute processes; absent when the list itself could not be read.
  std::optional<std::vector<GpuProcess>> processes;

  GpuHealth health;
  std::vector<UnreadableField> unreadable_fields;
};

struct GpuReading {
  std::string source;  // "nvml" or "simulated"
  std::optional<std::string> driver_version;
  std::optional<std::string> nvml_version;
  std::optional<int> cuda_driver_version;  // e.g. 13000 for CUDA 13.0
  std::vector<GpuDevice> devices;
};

// Thread-safety: an implementation need not be thread-safe; the engine calls read() from
// one thread.
class GpuProbe {
 public:
  virtual ~GpuProbe() = default;

  // Reads every GPU once. A failure of one GPU is reported in that GPU's health, not here;
  // an error Status means nothing could be read at all (e.g. the driver is gone).
  virtual Result<GpuReading> read() = 0;

  // A short description for users, e.g. "NVML 12.580.159 (libnvidia-ml.so.1)".
  virtual std::string describe() const = 0;
};

}  // namespace fastgpu
