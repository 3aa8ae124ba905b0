// Simulated GPUs, for machines without GPUs and for the simulator.
//
// A spec string lists groups "COUNTxMODEL-MEMORY", comma-separated: "4xH100-80G",
// "2xA100-40G,2xT4-16G", "H100-80G" (count 1). MEMORY uses parse_bytes units.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fastgpu/core/result.h"
#include "fastgpu/core/units.h"
#include "fastgpu/gpu/probe.h"

namespace fastgpu {

struct SimulatedGpuSpec {
  std::string model;  // "H100"
  Bytes memory_bytes = 0;
};

// Parses a spec string into one entry per GPU, in index order. Errors name the bad group
// and show a valid example.
Result<std::vector<SimulatedGpuSpec>> parse_device_spec(std::string_view spec);

// A probe over simulated GPUs: idle devices with the given models and memory and plausible
// static fields (power limit, clocks), whose dynamic state a caller (the simulator, a test)
// may set through the returned object.
class SimulatedProbe : public GpuProbe {
 public:
  explicit SimulatedProbe(std::vector<SimulatedGpuSpec> gpus);

  Result<GpuReading> read() override;
  std::string describe() const override;

  // The devices as read() will report them; callers mutate these to simulate load.
  std::vector<GpuDevice>& devices() { return devices_; }

 private:
  std::vector<GpuDevice> devices_;
};

Result<std::unique_ptr<SimulatedProbe>> make_simulated_probe(std::string_view spec);

}  // namespace fastgpu
