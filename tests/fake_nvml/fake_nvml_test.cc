// The fake NVML library itself, called directly: it must behave like the driver where the
// probe depends on it, or the probe's tests would prove nothing about real GPUs.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "fake_nvml/fake_nvml_abi.h"
#include "fastgpu_test_paths.h"

namespace {

using InitFn = nvmlReturn_t (*)();
using HandleFn = nvmlReturn_t (*)(unsigned int, nvmlDevice_t*);
using ProcessesFn = nvmlReturn_t (*)(nvmlDevice_t, unsigned int*, nvmlProcessInfo_t*);
using MemoryV2Fn = nvmlReturn_t (*)(nvmlDevice_t, nvmlMemory_v2_t*);
using PciFn = nvmlReturn_t (*)(nvmlDevice_t, void*);

class FakeNvmlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "fastgpu-fake-nvml-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    std::string state = (dir_ / "state.json").string();
    std::ofstream(state) << R"({"gpus": [{"pci_bus_id": "00000000:18:00.0",
        "memory_total": 100, "memory_used": 10, "memory_free": 90,
        "processes": [{"pid": 1}, {"pid": 2}, {"pid": 3}]}]})";
    setenv("FASTGPU_FAKE_NVML_STATE", state.c_str(), 1);
  }
  void TearDown() override {
    if (library_ != nullptr) {
      if (auto shutdown = sym<InitFn>("nvmlShutdown")) shutdown();
      dlclose(library_);
    }
    unsetenv("FASTGPU_FAKE_NVML_STATE");
    std::filesystem::remove_all(dir_);
  }

  void load(const char* path) {
    library_ = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(library_, nullptr) << dlerror();
  }
  template <typename Fn>
  Fn sym(const char* name) {
    return reinterpret_cast<Fn>(dlsym(library_, name));
  }
  nvmlDevice_t init_and_open_gpu0() {
    EXPECT_EQ(sym<InitFn>("nvmlInit_v2")(), NVML_SUCCESS);
    nvmlDevice_t device = nullptr;
    EXPECT_EQ(sym<HandleFn>("nvmlDeviceGetHandleByIndex_v2")(0, &device), NVML_SUCCESS);
    return device;
  }

  std::filesystem::path dir_;
  void* library_ = nullptr;
};

TEST_F(FakeNvmlTest, CallsBeforeInitAreUninitialized) {
  load(FASTGPU_FAKE_NVML_PATH);
  nvmlDevice_t device = nullptr;
  EXPECT_EQ(sym<HandleFn>("nvmlDeviceGetHandleByIndex_v2")(0, &device), NVML_ERROR_UNINITIALIZED);
}

TEST_F(FakeNvmlTest, TooSmallProcessBufferGetsInsufficientSizeAndTheCountNeeded) {
  load(FASTGPU_FAKE_NVML_PATH);
  nvmlDevice_t device = init_and_open_gpu0();
  auto processes = sym<ProcessesFn>("nvmlDeviceGetComputeRunningProcesses_v3");
  unsigned int count = 0;
  EXPECT_EQ(processes(device, &count, nullptr), NVML_ERROR_INSUFFICIENT_SIZE);
  EXPECT_EQ(count, 3U);
  nvmlProcessInfo_t infos[3] = {};
  EXPECT_EQ(processes(device, &count, infos), NVML_SUCCESS);
  EXPECT_EQ(infos[2].pid, 3U);
  EXPECT_EQ(infos[2].usedGpuMemory, FAKE_NVML_VALUE_NOT_AVAILABLE);
}

TEST_F(FakeNvmlTest, MemoryV2WithoutItsStructVersionIsRejected) {
  load(FASTGPU_FAKE_NVML_PATH);
  nvmlDevice_t device = init_and_open_gpu0();
  nvmlMemory_v2_t memory{};
  EXPECT_EQ(sym<MemoryV2Fn>("nvmlDeviceGetMemoryInfo_v2")(device, &memory),
            NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
  memory.version = FAKE_NVML_MEMORY_V2_VERSION;
  EXPECT_EQ(memory.version, 0x02000028U);  // NVML_STRUCT_VERSION(Memory, 2)
  EXPECT_EQ(sym<MemoryV2Fn>("nvmlDeviceGetMemoryInfo_v2")(device, &memory), NVML_SUCCESS);
  EXPECT_EQ(memory.total, 100U);
}

TEST_F(FakeNvmlTest, UnversionedPciInfoWritesOnlyTheOldStruct) {
  load(FASTGPU_FAKE_NVML_PATH);
  nvmlDevice_t device = init_and_open_gpu0();
  unsigned char buffer[sizeof(nvmlPciInfo_t)];
  std::memset(buffer, 0xAB, sizeof(buffer));
  ASSERT_EQ(sym<PciFn>("nvmlDeviceGetPciInfo")(device, buffer), NVML_SUCCESS);
  EXPECT_STREQ(reinterpret_cast<const char*>(buffer), "0000:18:00.0");
  for (std::size_t i = sizeof(nvmlPciInfoV1_t); i < sizeof(buffer); ++i) {
    ASSERT_EQ(buffer[i], 0xAB) << "byte " << i << " written past the old struct";
  }
}

TEST_F(FakeNvmlTest, OldDriverVariantLacksEveryVersionedSymbol) {
  load(FASTGPU_FAKE_NVML_OLD_PATH);
  for (const char* name :
       {"nvmlInit_v2", "nvmlDeviceGetCount_v2", "nvmlDeviceGetHandleByIndex_v2",
        "nvmlDeviceGetPciInfo_v3", "nvmlDeviceGetPciInfo_v2", "nvmlDeviceGetMemoryInfo_v2",
        "nvmlDeviceGetComputeRunningProcesses_v3", "nvmlDeviceGetComputeRunningProcesses_v2",
        "nvmlSystemGetCudaDriverVersion_v2", "nvmlDeviceGetCurrentClocksEventReasons"}) {
    EXPECT_EQ(dlsym(library_, name), nullptr) << name;
  }
  for (const char* name :
       {"nvmlInit", "nvmlDeviceGetCount", "nvmlDeviceGetHandleByIndex", "nvmlDeviceGetMemoryInfo",
        "nvmlDeviceGetCurrentClocksThrottleReasons"}) {
    EXPECT_NE(dlsym(library_, name), nullptr) << name;
  }
}

}  // namespace
