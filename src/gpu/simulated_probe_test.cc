#include "fastgpu/gpu/simulated_probe.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace fastgpu {
namespace {

constexpr Bytes kGiB = Bytes{1} << 30;

std::vector<SimulatedGpuSpec> parse_ok(const std::string& spec) {
  Result<std::vector<SimulatedGpuSpec>> parsed = parse_device_spec(spec);
  EXPECT_TRUE(parsed.ok()) << spec << ": " << parsed.status().to_string();
  return parsed.ok() ? std::move(parsed).value() : std::vector<SimulatedGpuSpec>{};
}

GpuReading read_ok(const std::string& spec) {
  Result<std::unique_ptr<SimulatedProbe>> probe = make_simulated_probe(spec);
  EXPECT_TRUE(probe.ok()) << probe.status().to_string();
  if (!probe.ok()) return {};
  Result<GpuReading> reading = (*probe)->read();
  EXPECT_TRUE(reading.ok());
  return reading.ok() ? std::move(reading).value() : GpuReading{};
}

TEST(ParseDeviceSpec, CountTimesModelAndMemory) {
  const std::vector<SimulatedGpuSpec> gpus = parse_ok("4xH100-80G");
  ASSERT_EQ(gpus.size(), 4u);
  for (const SimulatedGpuSpec& gpu : gpus) {
    EXPECT_EQ(gpu.model, "H100");
    EXPECT_EQ(gpu.memory_bytes, 80 * kGiB);
  }
}

TEST(ParseDeviceSpec, SeveralGroupsInIndexOrder) {
  const std::vector<SimulatedGpuSpec> gpus = parse_ok("2xA100-40G,2xT4-16G");
  ASSERT_EQ(gpus.size(), 4u);
  EXPECT_EQ(gpus[0].model, "A100");
  EXPECT_EQ(gpus[1].model, "A100");
  EXPECT_EQ(gpus[2].model, "T4");
  EXPECT_EQ(gpus[3].memory_bytes, 16 * kGiB);
}

TEST(ParseDeviceSpec, MemoryUpToTheLimitIsTaken) {
  EXPECT_EQ(parse_ok("H100-16T").front().memory_bytes, 16 * 1024 * kGiB);
}

TEST(ParseDeviceSpec, CountDefaultsToOneAndWhitespaceIsIgnored) {
  ASSERT_EQ(parse_ok("H100-80G").size(), 1u);
  const std::vector<SimulatedGpuSpec> gpus = parse_ok(" 1x H100 - 80GB , 3X L4-24GiB ");
  ASSERT_EQ(gpus.size(), 4u);
  EXPECT_EQ(gpus[0].model, "H100");
  EXPECT_EQ(gpus[0].memory_bytes, 80'000'000'000u);
  EXPECT_EQ(gpus[3].model, "L4");
  EXPECT_EQ(gpus[3].memory_bytes, 24 * kGiB);
}

TEST(ParseDeviceSpec, BadSpecsNameTheGroupAndShowAnExample) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"0xH100-80G", "count"},
      {"4xH100", "memory size is missing"},
      {"4xH100-80X", "unknown unit"},
      {"", "empty"},
      {"4x-80G", "model"},
      {"H100-0G", "above 0"},
      {"4xH100-80", "'80' is 80 bytes; give its unit, e.g. 80G (GiB) or 80GB"},
      {"-1xH100-80G", "count must be 1 to"},
      {"H100-512K", "'512K' is below 1 MiB"},
      // 80 TiB was taken: GPUs no job could fill.
      {"4xH100-80T", "the memory size '80T' is 80.0 TiB, more than the limit of 16.0 TiB per GPU"},
      {"2xA100-40G,,1xT4-16G", "empty group"},
      {"4xH!00-80G", "model"},
      {"99999xH100-80G", "count"}};
  for (const auto& [spec, problem] : cases) {
    const Result<std::vector<SimulatedGpuSpec>> parsed = parse_device_spec(spec);
    ASSERT_FALSE(parsed.ok()) << "'" << spec << "' parsed";
    const std::string message = parsed.status().message();
    EXPECT_EQ(parsed.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(message.find(problem), std::string::npos) << message;
    EXPECT_NE(message.find("4xH100-80G"), std::string::npos) << message;
    if (!spec.empty()) {
      EXPECT_NE(message.find(spec.substr(0, 4)), std::string::npos) << message;
    }
  }
}

TEST(SimulatedProbe, ReportsIdleDevicesMarkedSimulated) {
  const GpuReading reading = read_ok("2xA100-40G,2xT4-16G");
  EXPECT_EQ(reading.source, "simulated");
  ASSERT_EQ(reading.devices.size(), 4u);
  for (std::uint32_t i = 0; i < 4; ++i) {
    const GpuDevice& device = reading.devices[i];
    EXPECT_EQ(device.index, i);
    ASSERT_TRUE(device.name.has_value());
    EXPECT_NE(device.name->find("(simulated)"), std::string::npos) << *device.name;
    EXPECT_EQ(device.memory_used_bytes, 0u);
    EXPECT_EQ(device.memory_free_bytes, device.memory_total_bytes);
    // Nothing on it to measure: n/a, not a 0 that reads as an idle GPU.
    EXPECT_FALSE(device.gpu_utilization_percent.has_value());
    EXPECT_FALSE(device.memory_utilization_percent.has_value());
    ASSERT_TRUE(device.processes.has_value());
    EXPECT_TRUE(device.processes->empty());
    EXPECT_TRUE(device.health.healthy);
    // No energy counter, said so: jobs on it report no energy rather than 0 J.
    EXPECT_FALSE(device.energy_millijoules.has_value());
    ASSERT_EQ(device.unreadable_fields.size(), 3u);
    EXPECT_EQ(device.unreadable_fields[0].field, "energy_millijoules");
    EXPECT_EQ(device.unreadable_fields[1].field, "gpu_utilization_percent");
    EXPECT_EQ(device.unreadable_fields[2].field, "memory_utilization_percent");
  }
  EXPECT_EQ(reading.devices[0].memory_total_bytes, 40 * kGiB);
  EXPECT_EQ(reading.devices[3].memory_total_bytes, 16 * kGiB);
}

TEST(SimulatedProbe, KnownModelsGetTheirStaticFields) {
  const GpuReading reading = read_ok("H100-80G,T4-16G,rtx4090-24G");
  ASSERT_EQ(reading.devices.size(), 3u);
  EXPECT_EQ(reading.devices[0].name.value_or(""), std::string("NVIDIA H100 (simulated)"));
  EXPECT_EQ(reading.devices[0].power_limit_watts, 700.0);
  EXPECT_EQ(reading.devices[0].sm_clock_mhz, 1980u);
  EXPECT_EQ(reading.devices[1].name.value_or(""), std::string("Tesla T4 (simulated)"));
  EXPECT_EQ(reading.devices[1].power_limit_watts, 70.0);
  EXPECT_EQ(reading.devices[2].name.value_or(""),
            std::string("NVIDIA GeForce RTX 4090 (simulated)"));
  // Idle power sits well under the limit.
  EXPECT_LT(*reading.devices[0].power_watts, *reading.devices[0].power_limit_watts);
}

TEST(SimulatedProbe, UnknownModelsWorkWithDefaults) {
  const GpuReading reading = read_ok("2xMI300X-192G");
  ASSERT_EQ(reading.devices.size(), 2u);
  EXPECT_EQ(reading.devices[0].name.value_or(""), std::string("MI300X (simulated)"));
  EXPECT_EQ(reading.devices[0].memory_total_bytes, 192 * kGiB);
  EXPECT_TRUE(reading.devices[0].power_limit_watts.has_value());
}

TEST(SimulatedProbe, UuidsAreDeterministicAndUnique) {
  const GpuReading first = read_ok("4xH100-80G");
  const GpuReading second = read_ok("4xH100-80G");
  std::set<std::string> uuids;
  for (std::size_t i = 0; i < first.devices.size(); ++i) {
    ASSERT_TRUE(first.devices[i].uuid.has_value());
    EXPECT_EQ(first.devices[i].uuid, second.devices[i].uuid);
    EXPECT_EQ(first.devices[i].uuid->rfind("GPU-sim-", 0), 0u) << *first.devices[i].uuid;
    uuids.insert(*first.devices[i].uuid);
  }
  EXPECT_EQ(uuids.size(), 4u);
}

TEST(SimulatedProbe, CallersCanSetDynamicState) {
  Result<std::unique_ptr<SimulatedProbe>> probe = make_simulated_probe("2xH100-80G");
  ASSERT_TRUE(probe.ok());
  GpuDevice& device = (*probe)->devices()[1];
  device.memory_used_bytes = 10 * kGiB;
  device.processes->push_back({4242, 10 * kGiB});
  const Result<GpuReading> reading = (*probe)->read();
  ASSERT_TRUE(reading.ok());
  EXPECT_EQ(reading->devices[1].memory_used_bytes, 10 * kGiB);
  ASSERT_EQ(reading->devices[1].processes->size(), 1u);
  EXPECT_EQ(reading->devices[1].processes->front().pid, 4242u);
  EXPECT_EQ(reading->devices[0].memory_used_bytes, 0u);
}

TEST(SimulatedProbe, DescribeSaysSimulated) {
  Result<std::unique_ptr<SimulatedProbe>> probe = make_simulated_probe("4xH100-80G");
  ASSERT_TRUE(probe.ok());
  EXPECT_NE((*probe)->describe().find("simulated"), std::string::npos);
  EXPECT_NE((*probe)->describe().find('4'), std::string::npos);
}

}  // namespace
}  // namespace fastgpu
