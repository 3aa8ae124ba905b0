// Reads one GPU through NVML into a GpuDevice: every field on its own, so one failing call
// costs only the fields it feeds. Never fails as a whole: what could not be read is listed
// in the device's unreadable_fields, and a GPU that is lost is marked unhealthy.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fastgpu/gpu/probe.h"
#include "gpu/nvml_api.h"
#include "gpu/nvml_library.h"

namespace fastgpu::nvml {

// What the probe keeps about one GPU between reads. Not thread-safe.
struct DeviceSlot {
  unsigned int index = 0;
  Device handle = nullptr;          // opened once; null until a nvmlDeviceGetHandleByIndex works
  std::string handle_error;         // why the handle could not be opened, when it could not
  bool identity_read = false;       // name, UUID and PCI bus id never change: read them once
  std::optional<std::string> name;  // cached identity (absent when unreadable)
  std::optional<std::string> uuid;
  std::optional<std::string> pci_bus_id;
  std::vector<UnreadableField> identity_unreadable;
  // Process buffers, kept so steady-state reads do not allocate; they grow on demand.
  std::vector<ProcessInfoV2> processes_v2;
  std::vector<ProcessInfoV1> processes_v1;
  // The last energy counter read and when, for ReadOptions::energy_refresh_interval.
  std::optional<std::uint64_t> energy_millijoules;
  std::chrono::steady_clock::time_point energy_read_at;
};

struct ReadOptions {
  std::chrono::steady_clock::time_point now;
  // Reuse the slot's energy reading when it is younger than this (zero: never).
  std::chrono::milliseconds energy_refresh_interval{0};
};

// Opens the slot's handle if it is not open yet; records the error otherwise.
void open_device_handle(const NvmlLibrary& library, DeviceSlot& slot);

// Reads every field of the slot's GPU.
GpuDevice read_device(const NvmlLibrary& library, DeviceSlot& slot, const ReadOptions& options);

// The JSON names of every field a GpuDevice can carry, in report order.
const std::vector<std::string>& all_device_fields();

}  // namespace fastgpu::nvml
