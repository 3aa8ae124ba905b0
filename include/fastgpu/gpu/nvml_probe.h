// The NVML probe: reads real NVIDIA GPUs through the driver's libnvidia-ml.so.1, opened with
// dlopen at run time (nothing links against NVML, and no NVIDIA header is used).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "fastgpu/core/result.h"
#include "fastgpu/gpu/probe.h"

namespace fastgpu {

// The environment variable that, when set, names the NVML library file to open (the tests
// point it at the fake NVML library built in the tree).
inline constexpr const char* kNvmlLibraryEnv = "FASTGPU_NVML_LIBRARY";

struct NvmlProbeOptions {
  // The library to dlopen. Empty: $FASTGPU_NVML_LIBRARY if set, else "libnvidia-ml.so.1"
  // through the normal library search (so LD_LIBRARY_PATH applies).
  std::string library_path;

  // The total-energy counter can cost far more to read than every other field together (on
  // an H100 with driver 580: 4 ms of CPU per GPU, against about 20 µs for the rest; see
  // docs/benchmarks.md). Within this interval of a GPU's last energy read, read() reports
  // that last value again instead of asking the driver. Zero: read it every time.
  std::chrono::milliseconds energy_refresh_interval{0};
};

// Loads NVML, initializes it and opens a handle to every GPU once; the handles are kept for
// the probe's lifetime. Fails with kFailedPrecondition when no driver can be loaded, with a
// message that says so plainly and tells how to use simulated GPUs instead.
Result<std::unique_ptr<GpuProbe>> open_nvml_probe(const NvmlProbeOptions& options = {});

// How open_nvml_probe's message begins when the machine has no NVIDIA driver: its library
// cannot be loaded, or its kernel module is not loaded.
inline constexpr std::string_view kNoNvidiaDriver = "no NVIDIA driver found";

// Whether open_nvml_probe failed for want of a driver, rather than from a driver that is
// there and failed (a library of another version than the kernel module after an upgrade,
// a device node this user may not open, a GPU the driver lost).
bool is_no_nvidia_driver(const Status& failed);

}  // namespace fastgpu
