// The real NVML probe against the fake NVML library (tests/fake_nvml): every field and its
// units, old and cut-down drivers, lost GPUs, unsupported fields, process lists, values that
// change, and every way opening can fail. Each test writes its own state file.
#include "fastgpu/gpu/nvml_probe.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "fastgpu_test_paths.h"

namespace fastgpu {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr const char* kStateEnv = "FASTGPU_FAKE_NVML_STATE";
constexpr unsigned long long kGiB = 1ULL << 30;

// A GPU with every field the fake can report; `index` keeps the GPUs apart.
json full_gpu(int index) {
  return {
      {"name", "NVIDIA H100 80GB HBM3"},
      {"uuid", "GPU-0000000" + std::to_string(index) + "-aaaa-bbbb-cccc-dddddddddddd"},
      {"pci_bus_id", "00000000:1" + std::to_string(index) + ":00.0"},
      {"memory_total", 80 * kGiB},
      {"memory_reserved", 1 * kGiB},
      {"memory_used", 20 * kGiB},
      {"memory_free", 59 * kGiB},
      {"utilization_gpu", 87},
      {"utilization_memory", 41},
      {"power_mw", 251500},
      {"power_limit_mw", 700000},
      {"energy_mj", 123456789},
      {"temperature_c", 64},
      {"sm_clock_mhz", 1980},
      {"mem_clock_mhz", 2619},
      {"ecc_uncorrected_volatile", 0},
      {"clocks_event_reasons", 0},
      {"processes",
       {{{"pid", 4242}, {"used_memory", 12 * kGiB}}, {{"pid", 4343}, {"used_memory", 8 * kGiB}}}},
  };
}

json state_with(json gpus) {
  return {{"driver_version", "580.65.06"},
          {"nvml_version", "13.580.65.06"},
          {"cuda_driver_version", 13000},
          {"gpus", std::move(gpus)}};
}

std::optional<std::string> unreadable_reason(const GpuDevice& device, const std::string& field) {
  for (const UnreadableField& entry : device.unreadable_fields) {
    if (entry.field == field) return entry.reason;
  }
  return std::nullopt;
}

std::string joined(const std::vector<std::string>& parts) {
  std::string text;
  for (const std::string& part : parts) text += part + "; ";
  return text;
}

class NvmlProbeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "fastgpu-nvml-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    unsetenv(kNvmlLibraryEnv);  // the tests choose the library themselves
  }

  void TearDown() override {
    unsetenv(kStateEnv);
    unsetenv(kNvmlLibraryEnv);
    std::filesystem::remove_all(dir_);
  }

  // Writes the state file and points the fake at it.
  void use_state_text(const std::string& text) {
    std::string path = (dir_ / "state.json").string();
    std::ofstream(path) << text;
    setenv(kStateEnv, path.c_str(), 1);
  }
  void use_state(const json& state) { use_state_text(state.dump(2)); }

  Result<std::unique_ptr<GpuProbe>> open(const std::string& library = FASTGPU_FAKE_NVML_PATH) {
    NvmlProbeOptions options;
    options.library_path = library;
    return open_nvml_probe(options);
  }

  // Opens the probe and reads once; fails the test if either fails.
  GpuReading open_and_read(const std::string& library = FASTGPU_FAKE_NVML_PATH) {
    auto probe = open(library);
    EXPECT_TRUE(probe.ok()) << probe.status().to_string();
    if (!probe.ok()) return {};
    auto reading = (*probe)->read();
    EXPECT_TRUE(reading.ok()) << reading.status().to_string();
    return reading.ok() ? *reading : GpuReading{};
  }

  std::filesystem::path dir_;
};

TEST_F(NvmlProbeTest, ReadsEveryFieldInFastGpuUnits) {
  use_state(state_with({full_gpu(0)}));
  GpuReading reading = open_and_read();

  EXPECT_EQ(reading.source, "nvml");
  EXPECT_EQ(reading.driver_version, "580.65.06");
  EXPECT_EQ(reading.nvml_version, "13.580.65.06");
  EXPECT_EQ(reading.cuda_driver_version, 13000);
  ASSERT_EQ(reading.devices.size(), 1U);
  const GpuDevice& gpu = reading.devices[0];
  EXPECT_EQ(gpu.index, 0U);
  EXPECT_EQ(gpu.name, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(gpu.uuid, "GPU-00000000-aaaa-bbbb-cccc-dddddddddddd");
  EXPECT_EQ(gpu.pci_bus_id, "00000000:10:00.0");
  EXPECT_EQ(gpu.memory_total_bytes, 80 * kGiB);
  EXPECT_EQ(gpu.memory_used_bytes, 20 * kGiB);
  EXPECT_EQ(gpu.memory_free_bytes, 59 * kGiB);
  EXPECT_EQ(gpu.memory_reserved_bytes, 1 * kGiB);
  EXPECT_EQ(gpu.gpu_utilization_percent, 87U);
  EXPECT_EQ(gpu.memory_utilization_percent, 41U);
  EXPECT_EQ(gpu.power_watts, 251.5);  // from 251500 mW
  EXPECT_EQ(gpu.power_limit_watts, 700.0);
  EXPECT_EQ(gpu.energy_millijoules, 123456789U);
  EXPECT_EQ(gpu.temperature_celsius, 64U);
  EXPECT_EQ(gpu.sm_clock_mhz, 1980U);
  EXPECT_EQ(gpu.memory_clock_mhz, 2619U);
  ASSERT_TRUE(gpu.processes.has_value());
  ASSERT_EQ(gpu.processes->size(), 2U);
  EXPECT_EQ((*gpu.processes)[0].pid, 4242U);
  EXPECT_EQ((*gpu.processes)[0].used_memory_bytes, 12 * kGiB);
  EXPECT_EQ((*gpu.processes)[1].pid, 4343U);
  EXPECT_TRUE(gpu.health.healthy);
  EXPECT_TRUE(gpu.health.reasons.empty()) << joined(gpu.health.reasons);
  EXPECT_TRUE(gpu.unreadable_fields.empty()) << gpu.unreadable_fields.front().field;
}

TEST_F(NvmlProbeTest, DescribeNamesNvmlVersionDriverAndLibrary) {
  use_state(state_with({full_gpu(0)}));
  auto probe = open();
  ASSERT_TRUE(probe.ok()) << probe.status().to_string();
  std::string description = (*probe)->describe();
  EXPECT_THAT(description, HasSubstr("13.580.65.06"));
  EXPECT_THAT(description, HasSubstr("580.65.06"));
  EXPECT_THAT(description, HasSubstr(FASTGPU_FAKE_NVML_PATH));
}

TEST_F(NvmlProbeTest, OldDriverWithoutVersionedSymbolsStillReadsEveryFieldItHas) {
  json gpu = full_gpu(0);
  gpu["clocks_event_reasons"] = 0x40;  // hardware thermal slowdown, via ClocksThrottleReasons
  use_state(state_with({gpu}));
  GpuReading reading = open_and_read(FASTGPU_FAKE_NVML_OLD_PATH);

  ASSERT_EQ(reading.devices.size(), 1U);
  const GpuDevice& device = reading.devices[0];
  EXPECT_EQ(reading.cuda_driver_version, 13000);    // nvmlSystemGetCudaDriverVersion
  EXPECT_EQ(device.pci_bus_id, "0000:10:00.0");     // the old call's legacy bus id
  EXPECT_EQ(device.memory_total_bytes, 80 * kGiB);  // nvmlDeviceGetMemoryInfo
  EXPECT_EQ(device.memory_used_bytes, 21 * kGiB);   // old drivers count reserved as used
  EXPECT_EQ(device.memory_free_bytes, 59 * kGiB);
  EXPECT_EQ(device.power_limit_watts, 700.0);  // nvmlDeviceGetPowerManagementLimit
  EXPECT_EQ(device.energy_millijoules, 123456789U);
  ASSERT_TRUE(device.processes.has_value());  // the v1 process struct
  ASSERT_EQ(device.processes->size(), 2U);
  EXPECT_EQ((*device.processes)[1].pid, 4343U);
  EXPECT_EQ((*device.processes)[1].used_memory_bytes, 8 * kGiB);
  EXPECT_THAT(joined(device.health.reasons), HasSubstr("hardware thermal slowdown"));

  // Only the reserved figure needs a versioned call, and the reason says which.
  EXPECT_FALSE(device.memory_reserved_bytes.has_value());
  ASSERT_EQ(device.unreadable_fields.size(), 1U);
  EXPECT_EQ(device.unreadable_fields[0].field, "memory_reserved_bytes");
  EXPECT_THAT(device.unreadable_fields[0].reason, HasSubstr("nvmlDeviceGetMemoryInfo_v2"));
}

TEST_F(NvmlProbeTest, DriverWithoutOptionalCallsListsThemAsNotFound) {
  json gpu = full_gpu(0);
  gpu["ecc_uncorrected_volatile"] = 5;  // cannot be seen: the ECC call is missing
  use_state(state_with({gpu}));
  GpuReading reading = open_and_read(FASTGPU_FAKE_NVML_MINIMAL_PATH);

  ASSERT_EQ(reading.devices.size(), 1U);
  const GpuDevice& device = reading.devices[0];
  EXPECT_FALSE(reading.nvml_version.has_value());
  EXPECT_FALSE(reading.cuda_driver_version.has_value());
  EXPECT_EQ(reading.driver_version, "580.65.06");
  EXPECT_FALSE(device.energy_millijoules.has_value());
  EXPECT_FALSE(device.power_limit_watts.has_value());
  EXPECT_THAT(unreadable_reason(device, "energy_millijoules").value_or(""),
              HasSubstr("function not found in the driver (nvmlDeviceGetTotalEnergyConsumption)"));
  EXPECT_THAT(unreadable_reason(device, "power_limit_watts").value_or(""),
              HasSubstr("nvmlDeviceGetEnforcedPowerLimit / nvmlDeviceGetPowerManagementLimit"));
  EXPECT_EQ(device.power_watts, 251.5);  // everything else is still read
  EXPECT_EQ(device.memory_reserved_bytes, 1 * kGiB);
  EXPECT_TRUE(device.health.healthy);
  EXPECT_EQ(device.unreadable_fields.size(), 2U);
}

TEST_F(NvmlProbeTest, MissingRequiredSymbolFailsOpenNamingIt) {
  use_state(state_with({full_gpu(0)}));
  auto probe = open(FASTGPU_FAKE_NVML_NO_HANDLES_PATH);
  ASSERT_FALSE(probe.ok());
  EXPECT_EQ(probe.status().code(), ErrorCode::kUnsupported);
  EXPECT_THAT(probe.status().message(),
              HasSubstr("nvmlDeviceGetHandleByIndex_v2 / nvmlDeviceGetHandleByIndex"));
}

TEST_F(NvmlProbeTest, LibraryThatIsNotNvmlFailsOpenNamingNvmlInit) {
  auto probe = open("libm.so.6");
  ASSERT_FALSE(probe.ok());
  EXPECT_EQ(probe.status().code(), ErrorCode::kUnsupported);
  EXPECT_THAT(probe.status().message(), HasSubstr("does not export nvmlInit_v2 / nvmlInit"));
}

TEST_F(NvmlProbeTest, OneLostGpuOfFourIsUnhealthyAndTheOthersAreReadFully) {
  json lost = full_gpu(2);
  lost["lost"] = true;
  use_state(state_with({full_gpu(0), full_gpu(1), lost, full_gpu(3)}));
  GpuReading reading = open_and_read();

  ASSERT_EQ(reading.devices.size(), 4U);
  for (unsigned int i : {0U, 1U, 3U}) {
    const GpuDevice& device = reading.devices[i];
    EXPECT_EQ(device.index, i);
    EXPECT_TRUE(device.health.healthy) << "GPU " << i;
    EXPECT_TRUE(device.unreadable_fields.empty()) << "GPU " << i;
    EXPECT_EQ(device.memory_used_bytes, 20 * kGiB) << "GPU " << i;
    EXPECT_EQ(device.uuid, "GPU-0000000" + std::to_string(i) + "-aaaa-bbbb-cccc-dddddddddddd");
  }
  const GpuDevice& gpu = reading.devices[2];
  EXPECT_EQ(gpu.index, 2U);
  EXPECT_FALSE(gpu.health.healthy);
  EXPECT_THAT(joined(gpu.health.reasons), HasSubstr("GPU is lost (NVML_ERROR_GPU_IS_LOST)"));
  EXPECT_FALSE(gpu.memory_used_bytes.has_value());
  EXPECT_FALSE(gpu.power_watts.has_value());
  EXPECT_FALSE(gpu.processes.has_value());
  EXPECT_EQ(gpu.unreadable_fields.size(), 16U);  // every field, each with the reason
  EXPECT_THAT(unreadable_reason(gpu, "temperature_celsius").value_or(""), HasSubstr("lost"));
}

TEST_F(NvmlProbeTest, GpuWhoseHandleCannotBeOpenedIsListedUnhealthy) {
  json broken = full_gpu(1);
  broken["handle_error"] = "GPU_IS_LOST";
  use_state(state_with({full_gpu(0), broken}));
  GpuReading reading = open_and_read();

  ASSERT_EQ(reading.devices.size(), 2U);
  EXPECT_TRUE(reading.devices[0].health.healthy);
  EXPECT_EQ(reading.devices[1].index, 1U);
  EXPECT_FALSE(reading.devices[1].health.healthy);
  EXPECT_THAT(joined(reading.devices[1].health.reasons),
              HasSubstr("could not open the GPU: GPU is lost (NVML_ERROR_GPU_IS_LOST"));
  EXPECT_FALSE(reading.devices[1].name.has_value());
}

TEST_F(NvmlProbeTest, GpuLostBetweenReadsKeepsItsIdentityAndTurnsUnhealthy) {
  json gpu = full_gpu(0);
  gpu["errors"] = {{"nvmlDeviceGetMemoryInfo", {"SUCCESS", "GPU_IS_LOST"}}};
  use_state(state_with({gpu}));
  auto probe = open();
  ASSERT_TRUE(probe.ok()) << probe.status().to_string();

  auto first = (*probe)->read();
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->devices[0].health.healthy);
  auto second = (*probe)->read();
  ASSERT_TRUE(second.ok());
  const GpuDevice& device = second->devices[0];
  EXPECT_FALSE(device.health.healthy);
  EXPECT_EQ(device.uuid, "GPU-00000000-aaaa-bbbb-cccc-dddddddddddd");  // read once, kept
  EXPECT_FALSE(device.memory_total_bytes.has_value());
  EXPECT_FALSE(device.sm_clock_mhz.has_value());  // nothing after the loss is asked for
  EXPECT_FALSE(unreadable_reason(device, "uuid").has_value());
}

TEST_F(NvmlProbeTest, UnsupportedFieldsAreAbsentNotZeroAndSayWhy) {
  json gpu = full_gpu(0);
  gpu.erase("utilization_gpu");  // the fake answers NOT_SUPPORTED for a value it lacks
  gpu["errors"] = {{"nvmlDeviceGetPowerUsage", "NOT_SUPPORTED"},
                   {"nvmlDeviceGetTemperature", "NO_PERMISSION"},
                   {"nvmlDeviceGetComputeRunningProcesses", "NOT_SUPPORTED"}};
  use_state(state_with({gpu}));
  GpuReading reading = open_and_read();

  const GpuDevice& device = reading.devices.at(0);
  EXPECT_FALSE(device.power_watts.has_value());
  EXPECT_FALSE(device.temperature_celsius.has_value());
  EXPECT_FALSE(device.gpu_utilization_percent.has_value());
  EXPECT_FALSE(device.memory_utilization_percent.has_value());
  EXPECT_FALSE(device.processes.has_value());
  EXPECT_THAT(unreadable_reason(device, "power_watts").value_or(""),
              HasSubstr("not supported (NVML_ERROR_NOT_SUPPORTED)"));
  EXPECT_THAT(unreadable_reason(device, "temperature_celsius").value_or(""),
              HasSubstr("no permission"));
  EXPECT_THAT(unreadable_reason(device, "gpu_utilization_percent").value_or(""),
              HasSubstr("not supported"));
  EXPECT_THAT(unreadable_reason(device, "processes").value_or(""), HasSubstr("not supported"));
  EXPECT_EQ(device.unreadable_fields.size(), 5U);
  EXPECT_TRUE(device.health.healthy);  // unsupported is not unhealthy
  EXPECT_EQ(device.power_limit_watts, 700.0);
}

TEST_F(NvmlProbeTest, ProcessesWithoutUsedMemoryHaveItAbsent) {
  json gpu = full_gpu(0);
  gpu["processes"] = {{{"pid", 10}, {"used_memory", 512ULL << 20}}, {{"pid", 11}}};
  use_state(state_with({gpu}));
  GpuReading reading = open_and_read();

  const auto& processes = reading.devices.at(0).processes.value();
  ASSERT_EQ(processes.size(), 2U);
  EXPECT_EQ(processes[0].used_memory_bytes, 512ULL << 20);
  EXPECT_EQ(processes[1].pid, 11U);
  EXPECT_FALSE(processes[1].used_memory_bytes.has_value());  // NVML_VALUE_NOT_AVAILABLE
}

TEST_F(NvmlProbeTest, ProcessBufferGrowsToHoldEveryProcess) {
  json gpu = full_gpu(0);
  json processes = json::array();
  for (int pid = 1000; pid < 1040; ++pid) processes.push_back({{"pid", pid}, {"used_memory", pid}});
  gpu["processes"] = processes;
  use_state(state_with({gpu}));
  auto probe = open();
  ASSERT_TRUE(probe.ok()) << probe.status().to_string();

  for (int round = 0; round < 2; ++round) {  // the second read reuses the grown buffer
    auto reading = (*probe)->read();
    ASSERT_TRUE(reading.ok());
    const auto& read = reading->devices.at(0).processes.value();
    ASSERT_EQ(read.size(), 40U);
    EXPECT_EQ(read.front().pid, 1000U);
    EXPECT_EQ(read.back().pid, 1039U);
    EXPECT_EQ(read.back().used_memory_bytes, 1039U);
  }
}

TEST_F(NvmlProbeTest, ValuesChangeBetweenReads) {
  json gpu = full_gpu(0);
  gpu["power_mw"] = {100000, 250000};
  gpu["memory_used"] = {10 * kGiB, 30 * kGiB};
  gpu["utilization_gpu"] = {5, 95};
  gpu["energy_mj"] = {1000, 2000};
  use_state(state_with({gpu}));
  auto probe = open();
  ASSERT_TRUE(probe.ok()) << probe.status().to_string();

  auto first = (*probe)->read();
  auto second = (*probe)->read();
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->devices[0].power_watts, 100.0);
  EXPECT_EQ(second->devices[0].power_watts, 250.0);
  EXPECT_EQ(first->devices[0].memory_used_bytes, 10 * kGiB);
  EXPECT_EQ(second->devices[0].memory_used_bytes, 30 * kGiB);
  EXPECT_EQ(first->devices[0].gpu_utilization_percent, 5U);
  EXPECT_EQ(second->devices[0].gpu_utilization_percent, 95U);
  EXPECT_EQ(second->devices[0].energy_millijoules, 2000U);
}

TEST_F(NvmlProbeTest, EnergyRefreshIntervalReusesTheLastEnergyReading) {
  json gpu = full_gpu(0);
  gpu["energy_mj"] = {1000, 2000, 3000};
  gpu["power_mw"] = {100000, 200000};
  use_state(state_with({gpu}));
  NvmlProbeOptions options;
  options.library_path = FASTGPU_FAKE_NVML_PATH;
  options.energy_refresh_interval = std::chrono::hours(1);  // never reached by this test
  auto probe = open_nvml_probe(options);
  ASSERT_TRUE(probe.ok()) << probe.status().to_string();

  auto first = (*probe)->read();
  auto second = (*probe)->read();
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->devices[0].energy_millijoules, 1000U);
  EXPECT_EQ(second->devices[0].energy_millijoules, 1000U);  // reused, not asked again
  EXPECT_EQ(second->devices[0].power_watts, 200.0);         // every other field is fresh
  EXPECT_TRUE(second->devices[0].unreadable_fields.empty());
}

TEST_F(NvmlProbeTest, EccErrorsMakeAGpuUnhealthyAndSlowdownsDegradeIt) {
  json ecc = full_gpu(0);
  ecc["ecc_uncorrected_volatile"] = 3;
  json throttled = full_gpu(1);
  throttled["clocks_event_reasons"] = 0x8 | 0x80 | 0x4;  // hw slowdown, power brake, power cap
  use_state(state_with({ecc, throttled}));
  GpuReading reading = open_and_read();

  EXPECT_FALSE(reading.devices.at(0).health.healthy);
  EXPECT_THAT(joined(reading.devices[0].health.reasons), HasSubstr("3 uncorrected ECC errors"));
  const GpuHealth& health = reading.devices.at(1).health;
  EXPECT_TRUE(health.healthy);
  EXPECT_THAT(health.reasons, ::testing::ElementsAre("throttled: hardware slowdown",
                                                     "throttled: hardware power brake"));
}

TEST_F(NvmlProbeTest, MissingLibraryIsFailedPreconditionWithTheSimulatedGpuHint) {
  std::string missing = (dir_ / "no-driver" / "libnvidia-ml.so.1").string();
  auto probe = open(missing);
  ASSERT_FALSE(probe.ok());
  EXPECT_EQ(probe.status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(probe.status().message(), HasSubstr("no NVIDIA driver found: could not load"));
  EXPECT_THAT(probe.status().message(), HasSubstr(missing));
  EXPECT_THAT(probe.status().message(), HasSubstr("No such file"));  // dlerror's text
  EXPECT_THAT(probe.status().message(), HasSubstr("fastgpu status --devices 4xH100-80G"));
}

TEST_F(NvmlProbeTest, LibraryComesFromTheEnvironmentUnlessTheOptionNamesOne) {
  use_state(state_with({full_gpu(0)}));
  setenv(kNvmlLibraryEnv, FASTGPU_FAKE_NVML_PATH, 1);
  auto from_env = open_nvml_probe();
  ASSERT_TRUE(from_env.ok()) << from_env.status().to_string();
  EXPECT_THAT((*from_env)->describe(), HasSubstr(FASTGPU_FAKE_NVML_PATH));
  from_env = Status(ErrorCode::kInternal, "closed");  // unload before the next open

  setenv(kNvmlLibraryEnv, (dir_ / "absent.so").c_str(), 1);
  EXPECT_FALSE(open_nvml_probe().ok());
  EXPECT_TRUE(open(FASTGPU_FAKE_NVML_PATH).ok());  // the option wins over the environment
}

TEST_F(NvmlProbeTest, DriverNotLoadedAtInitIsFailedPreconditionWithTheHint) {
  json state = state_with({full_gpu(0)});
  state["init_error"] = "DRIVER_NOT_LOADED";
  use_state(state);
  auto probe = open();
  ASSERT_FALSE(probe.ok());
  EXPECT_EQ(probe.status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(probe.status().message(), HasSubstr("no NVIDIA driver found"));
  EXPECT_THAT(probe.status().message(), HasSubstr("NVML_ERROR_DRIVER_NOT_LOADED"));
  EXPECT_THAT(probe.status().message(), HasSubstr("--devices 4xH100-80G"));
}

TEST_F(NvmlProbeTest, UnreadableStateFileFailsOpenSayingWhichFile) {
  std::string path = (dir_ / "missing-state.json").string();
  setenv(kStateEnv, path.c_str(), 1);
  auto probe = open();
  ASSERT_FALSE(probe.ok());
  EXPECT_EQ(probe.status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(probe.status().message(), HasSubstr("cannot read state file '" + path + "'"));
  EXPECT_THAT(probe.status().message(), HasSubstr("NVML_ERROR_UNKNOWN"));
}

TEST_F(NvmlProbeTest, MalformedStateFileFailsOpenWithTheParseError) {
  use_state_text("{\"gpus\": [ {\"name\": \"H100\", ");
  auto probe = open();
  ASSERT_FALSE(probe.ok());
  EXPECT_THAT(probe.status().message(), HasSubstr("malformed state file"));
  EXPECT_THAT(probe.status().message(), HasSubstr("parse error"));
}

TEST_F(NvmlProbeTest, MisspelledStateKeyFailsOpenNamingTheKey) {
  json gpu = full_gpu(0);
  gpu["powr_mw"] = 5;
  use_state(state_with({gpu}));
  auto probe = open();
  ASSERT_FALSE(probe.ok());
  EXPECT_THAT(probe.status().message(), HasSubstr("unknown GPU key 'powr_mw'"));
}

TEST_F(NvmlProbeTest, ExampleStateFilesLoad) {
  std::filesystem::path examples =
      std::filesystem::path(FASTGPU_SOURCE_DIR) / "tests" / "fake_nvml" / "examples";
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(examples)) {
    setenv(kStateEnv, entry.path().c_str(), 1);
    auto probe = open();
    ASSERT_TRUE(probe.ok()) << entry.path() << ": " << probe.status().to_string();
    auto reading = (*probe)->read();
    ASSERT_TRUE(reading.ok());
    EXPECT_FALSE(reading->devices.empty()) << entry.path();
    ++count;
  }
  EXPECT_GE(count, 2);
}

}  // namespace
}  // namespace fastgpu
