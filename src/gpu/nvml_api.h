// FastGPU's own declarations of the part of NVML it uses: types, constants and function
// pointer types, written from NVIDIA's published NVML API reference (no NVIDIA header is used
// or needed). Nothing links against NVML; the probe resolves these functions with dlsym.
//
// The struct layouts and constant values must match the driver's ABI exactly; the
// static_asserts below pin the sizes the reference documents.
#pragma once

#include <cstdint>

namespace fastgpu::nvml {

// nvmlReturn_t is a C enum: an int in the ABI.
using Return = int;

inline constexpr Return kSuccess = 0;
inline constexpr Return kErrorUninitialized = 1;
inline constexpr Return kErrorInvalidArgument = 2;
inline constexpr Return kErrorNotSupported = 3;
inline constexpr Return kErrorNoPermission = 4;
inline constexpr Return kErrorAlreadyInitialized = 5;
inline constexpr Return kErrorNotFound = 6;
inline constexpr Return kErrorInsufficientSize = 7;
inline constexpr Return kErrorInsufficientPower = 8;
inline constexpr Return kErrorDriverNotLoaded = 9;
inline constexpr Return kErrorTimeout = 10;
inline constexpr Return kErrorIrqIssue = 11;
inline constexpr Return kErrorLibraryNotFound = 12;
inline constexpr Return kErrorFunctionNotFound = 13;
inline constexpr Return kErrorCorruptedInforom = 14;
inline constexpr Return kErrorGpuIsLost = 15;
inline constexpr Return kErrorResetRequired = 16;
inline constexpr Return kErrorOperatingSystem = 17;
inline constexpr Return kErrorLibRmVersionMismatch = 18;
inline constexpr Return kErrorInUse = 19;
inline constexpr Return kErrorMemory = 20;
inline constexpr Return kErrorNoData = 21;
inline constexpr Return kErrorUnknown = 999;

// "NVML_ERROR_GPU_IS_LOST" for 15; "NVML_ERROR_<code>" spelled as a number when unknown to us.
const char* return_code_name(Return code);

// nvmlDevice_t: an opaque handle owned by the driver, valid until nvmlShutdown.
using Device = struct nvmlDevice_st*;

// Buffer sizes from the reference (large enough for every current driver).
inline constexpr unsigned kDeviceNameBufferSize = 96;     // NVML_DEVICE_NAME_V2_BUFFER_SIZE
inline constexpr unsigned kDeviceUuidBufferSize = 96;     // NVML_DEVICE_UUID_V2_BUFFER_SIZE
inline constexpr unsigned kSystemVersionBufferSize = 80;  // NVML_SYSTEM_*_VERSION_BUFFER_SIZE
inline constexpr unsigned kPciBusIdBufferSize = 32;       // NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE
inline constexpr unsigned kPciBusIdLegacySize = 16;       // NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE

// NVML_VALUE_NOT_AVAILABLE, as an unsigned long long field holds it.
inline constexpr unsigned long long kValueNotAvailable = ~0ULL;

// nvmlPciInfo_t as nvmlDeviceGetPciInfo_v2/_v3 fill it. The unversioned nvmlDeviceGetPciInfo
// of old drivers wrote a smaller struct whose 16-byte busId sits where busIdLegacy is, and
// whose domain/bus/device/ids have the same offsets; it fits inside this one.
struct PciInfo {
  char bus_id_legacy[kPciBusIdLegacySize];
  unsigned int domain;
  unsigned int bus;
  unsigned int device;
  unsigned int pci_device_id;
  unsigned int pci_subsystem_id;
  char bus_id[kPciBusIdBufferSize];
};
static_assert(sizeof(PciInfo) == 68);

// nvmlMemory_t (nvmlDeviceGetMemoryInfo): bytes.
struct Memory {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};
static_assert(sizeof(Memory) == 24);

// nvmlMemory_v2_t (nvmlDeviceGetMemoryInfo_v2): bytes; `version` must be kMemoryV2Version.
struct MemoryV2 {
  unsigned int version;
  unsigned long long total;
  unsigned long long reserved;  // held by the driver and firmware
  unsigned long long free;
  unsigned long long used;
};
static_assert(sizeof(MemoryV2) == 40);

// NVML_STRUCT_VERSION(Memory, 2): the struct size in the low bits, the version in the top byte.
inline constexpr unsigned int kMemoryV2Version =
    static_cast<unsigned int>(sizeof(MemoryV2)) | (2U << 24U);

// nvmlUtilization_t: percent of the last sample period.
struct Utilization {
  unsigned int gpu;
  unsigned int memory;
};

// nvmlProcessInfo_v1_t (unversioned nvmlDeviceGetComputeRunningProcesses).
struct ProcessInfoV1 {
  unsigned int pid;
  unsigned long long used_gpu_memory;  // bytes, or kValueNotAvailable
};
static_assert(sizeof(ProcessInfoV1) == 16);

// nvmlProcessInfo_v2_t / nvmlProcessInfo_t (the _v2 and _v3 calls).
struct ProcessInfoV2 {
  unsigned int pid;
  unsigned long long used_gpu_memory;  // bytes, or kValueNotAvailable
  unsigned int gpu_instance_id;        // 0xFFFFFFFF unless MIG
  unsigned int compute_instance_id;
};
static_assert(sizeof(ProcessInfoV2) == 24);

// nvmlTemperatureSensors_t, nvmlClockType_t, nvmlMemoryErrorType_t, nvmlEccCounterType_t.
inline constexpr int kTemperatureGpu = 0;
inline constexpr int kClockSm = 1;
inline constexpr int kClockMem = 2;
inline constexpr int kMemoryErrorUncorrected = 1;
inline constexpr int kEccCounterVolatile = 0;

// nvmlClocksEventReason* (formerly nvmlClocksThrottleReason*) bits that mean the hardware or
// the driver protects the GPU, as opposed to ordinary clock management (idle, power cap).
inline constexpr unsigned long long kClocksEventHwSlowdown = 0x8ULL;
inline constexpr unsigned long long kClocksEventSwThermalSlowdown = 0x20ULL;
inline constexpr unsigned long long kClocksEventHwThermalSlowdown = 0x40ULL;
inline constexpr unsigned long long kClocksEventHwPowerBrakeSlowdown = 0x80ULL;

// Function pointer types, one per signature.
using InitFn = Return (*)();
using ShutdownFn = Return (*)();
using ErrorStringFn = const char* (*)(Return);
using SystemStringFn = Return (*)(char* buffer, unsigned int length);
using SystemIntFn = Return (*)(int* value);
using DeviceCountFn = Return (*)(unsigned int* count);
using HandleByIndexFn = Return (*)(unsigned int index, Device* device);
using DeviceStringFn = Return (*)(Device device, char* buffer, unsigned int length);
using PciInfoFn = Return (*)(Device device, PciInfo* pci);
using MemoryInfoFn = Return (*)(Device device, Memory* memory);
using MemoryInfoV2Fn = Return (*)(Device device, MemoryV2* memory);
using UtilizationFn = Return (*)(Device device, Utilization* utilization);
using DeviceUintFn = Return (*)(Device device, unsigned int* value);
using DeviceUllFn = Return (*)(Device device, unsigned long long* value);
using TemperatureFn = Return (*)(Device device, int sensor, unsigned int* celsius);
using ClockInfoFn = Return (*)(Device device, int clock_type, unsigned int* mhz);
using TotalEccErrorsFn = Return (*)(Device device, int error_type, int counter_type,
                                    unsigned long long* count);
using ProcessesV1Fn = Return (*)(Device device, unsigned int* count, ProcessInfoV1* infos);
using ProcessesV2Fn = Return (*)(Device device, unsigned int* count, ProcessInfoV2* infos);

}  // namespace fastgpu::nvml
