// The fake NVML's state: what its GPUs report, read from the JSON file named by
// $FASTGPU_FAKE_NVML_STATE when nvmlInit is called. The format is in docs/nvml.md.
//
// Parsed once per initialisation into plain structs, so a call costs a few loads, not a
// JSON lookup: the benchmark measures the probe, not the fake.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fake_nvml_abi.h"

namespace fake_nvml {

inline constexpr const char* kStateEnv = "FASTGPU_FAKE_NVML_STATE";

// A value that may change between calls: JSON gives a scalar or a list; each call returns the
// next element of the list and then keeps returning the last one. Absent: NOT_SUPPORTED.
template <typename T>
struct Sequence {
  std::vector<T> values;
  std::size_t next = 0;

  bool present() const { return !values.empty(); }
  // REQUIRES: present().
  T take() {
    T value = values[next];
    if (next + 1 < values.size()) ++next;
    return value;
  }
};

struct Process {
  unsigned int pid = 0;
  std::optional<unsigned long long> used_memory;  // absent: NVML_VALUE_NOT_AVAILABLE
  // The pid read from this file at each call, for a process a test starts after the daemon
  // (a `fastgpu alloc` command's); not listed while the file is missing or holds no pid.
  std::optional<std::string> pid_file;
};

struct Gpu {
  std::optional<std::string> name;
  std::optional<std::string> uuid;
  std::optional<std::string> pci_bus_id;  // "00000000:18:00.0"
  Sequence<unsigned long long> memory_total, memory_reserved, memory_used, memory_free;
  Sequence<unsigned long long> utilization_gpu, utilization_memory;
  Sequence<unsigned long long> power_mw, power_limit_mw, energy_mj, temperature_c;
  Sequence<unsigned long long> sm_clock_mhz, mem_clock_mhz;
  Sequence<unsigned long long> ecc_uncorrected_volatile, clocks_event_reasons;
  std::vector<Process> processes;
  bool lost = false;                                     // every call: GPU_IS_LOST
  nvmlReturn_t handle_error = NVML_SUCCESS;              // nvmlDeviceGetHandleByIndex fails
  std::map<std::string, Sequence<nvmlReturn_t>> errors;  // by function name, no _vN suffix
};

struct State {
  std::optional<std::string> driver_version;
  std::optional<std::string> nvml_version;
  std::optional<int> cuda_driver_version;
  nvmlReturn_t init_error = NVML_SUCCESS;
  std::vector<Gpu> gpus;
};

// Reads and parses `path`. On failure returns nullopt and sets `error` to a message naming
// the file and what is wrong with it.
std::optional<State> load_state(const std::string& path, std::string& error);

// "NOT_SUPPORTED" / "NVML_ERROR_NOT_SUPPORTED" / "SUCCESS" → the code; nullopt if unknown.
std::optional<nvmlReturn_t> parse_return_code(const std::string& name);

// The text nvmlErrorString gives for a code.
const char* error_text(nvmlReturn_t code);

}  // namespace fake_nvml
