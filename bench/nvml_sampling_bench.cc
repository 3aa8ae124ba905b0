// The cost of sampling GPUs through the NVML probe, as a fraction of one core at 1 Hz.
//
// By default it reads 8 GPUs with 4 processes each through the fake NVML library built
// under tests/fake_nvml; set FASTGPU_NVML_LIBRARY=libnvidia-ml.so.1 to read the real driver's
// GPUs instead. Three measurements, all over the same library:
//   probe_read        one GpuProbe::read() of every GPU (handles kept open): FastGPU.
//   bare_nvml_calls   the same NVML calls made directly through dlsym'd pointers into fixed
//                     buffers, with no GpuDevice, strings or bookkeeping: the floor any NVML
//                     sampler pays. The ratio probe/bare is the probe's overhead.
//   reopen_each_read  open_nvml_probe + read + close for every sample, as a tool that starts
//                     afresh each time (nvidia-smi in a loop) does. Through the fake this is
//                     mostly dlopen and JSON parsing; through the driver it is nvmlInit,
//                     which is what keeping handles open saves.
// plus probe_read_energy_cached (see energy_refresh_interval) and bare_call/N, each bare
// call alone on the first GPU.
// `--show-reading` prints the GPUs read first, to check what is being measured.
#include <benchmark/benchmark.h>
#include <dlfcn.h>
#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fastgpu/gpu/nvml_probe.h"
#include "gpu/nvml_api.h"

namespace {

using fastgpu::GpuProbe;
namespace nvml = fastgpu::nvml;

constexpr int kGpus = 8;
constexpr int kProcessesPerGpu = 4;

std::string library_path() {
  const char* from_env = std::getenv(fastgpu::kNvmlLibraryEnv);
  if (from_env != nullptr && *from_env != '\0') return from_env;
#ifdef FASTGPU_FAKE_NVML_PATH
  return FASTGPU_FAKE_NVML_PATH;
#else
  std::fprintf(stderr, "set %s to an NVML library\n", fastgpu::kNvmlLibraryEnv);
  std::exit(2);
#endif
}

nlohmann::json gpu_state(int index) {
  nlohmann::json processes = nlohmann::json::array();
  for (int p = 0; p < kProcessesPerGpu; ++p) {
    processes.push_back({{"pid", 10000 + index * 100 + p}, {"used_memory", (p + 1ULL) << 30U}});
  }
  return {{"name", "NVIDIA H100 80GB HBM3"},
          {"uuid", "GPU-bench-" + std::to_string(index)},
          {"pci_bus_id", "00000000:1" + std::to_string(index) + ":00.0"},
          {"memory_total", 85520809984ULL},
          {"memory_reserved", 559939584ULL},
          {"memory_used", 25769803776ULL},
          {"memory_free", 59191066624ULL},
          {"utilization_gpu", 87},
          {"utilization_memory", 41},
          {"power_mw", 512340},
          {"power_limit_mw", 700000},
          {"energy_mj", 8123456789ULL},
          {"temperature_c", 61},
          {"sm_clock_mhz", 1980},
          {"mem_clock_mhz", 2619},
          {"ecc_uncorrected_volatile", 0},
          {"clocks_event_reasons", 0},
          {"processes", processes}};
}

// Writes the 8-GPU state for the fake library (ignored by the real driver).
void write_fake_state() {
  nlohmann::json gpus = nlohmann::json::array();
  for (int i = 0; i < kGpus; ++i) gpus.push_back(gpu_state(i));
  nlohmann::json state = {{"driver_version", "580.65.06"},
                          {"nvml_version", "13.580.65.06"},
                          {"cuda_driver_version", 13000},
                          {"gpus", gpus}};
  std::string path =
      (std::filesystem::temp_directory_path() / "fastgpu-nvml-bench-state.json").string();
  std::ofstream(path) << state.dump();
  setenv("FASTGPU_FAKE_NVML_STATE", path.c_str(), 1);
}

std::unique_ptr<GpuProbe> open_probe(
    std::chrono::milliseconds energy_refresh_interval = std::chrono::milliseconds(0)) {
  fastgpu::NvmlProbeOptions options;
  options.library_path = library_path();
  options.energy_refresh_interval = energy_refresh_interval;
  auto probe = fastgpu::open_nvml_probe(options);
  if (!probe.ok()) {
    std::fprintf(stderr, "%s\n", probe.status().to_string().c_str());
    std::exit(1);
  }
  return std::move(*probe);
}

void probe_read(benchmark::State& state) {
  auto probe = open_probe();
  for (auto _ : state) {
    auto reading = probe->read();
    benchmark::DoNotOptimize(reading);
  }
}
BENCHMARK(probe_read);

// As probe_read, with the energy counter refreshed at most every 10 s: at 1 Hz, one read
// in ten asks the driver for it, so 1/10 of its cost is added to the read of the other
// fields (measured here: probe_read_energy_cached, every read served from the cache).
void probe_read_energy_cached(benchmark::State& state) {
  auto probe = open_probe(std::chrono::seconds(10));
  for (auto _ : state) {
    auto reading = probe->read();
    benchmark::DoNotOptimize(reading);
  }
}
BENCHMARK(probe_read_energy_cached);

// The baseline: the probe's per-read NVML calls, straight through dlsym'd pointers.
class BareNvml {
 public:
  BareNvml() : handle_(dlopen(library_path().c_str(), RTLD_NOW | RTLD_LOCAL)) {
    if (handle_ == nullptr || sym<nvml::InitFn>("nvmlInit_v2")() != nvml::kSuccess) {
      std::fprintf(stderr, "bare NVML: cannot load or initialise %s\n", library_path().c_str());
      std::exit(1);
    }
    unsigned int count = 0;
    sym<nvml::DeviceCountFn>("nvmlDeviceGetCount_v2")(&count);
    auto by_index = sym<nvml::HandleByIndexFn>("nvmlDeviceGetHandleByIndex_v2");
    devices_.resize(count);
    for (unsigned int i = 0; i < count; ++i) by_index(i, &devices_[i]);
  }
  ~BareNvml() {
    sym<nvml::ShutdownFn>("nvmlShutdown")();
    dlclose(handle_);
  }

  // Returns a checksum so the compiler keeps every call.
  unsigned long long read_all() {
    unsigned long long sum = 0;
    for (nvml::Device device : devices_) sum += read_one(device);
    return sum;
  }

 private:
  template <typename Fn>
  Fn sym(const char* name) {
    return reinterpret_cast<Fn>(dlsym(handle_, name));
  }

  unsigned long long read_one(nvml::Device device) {
    unsigned long long sum = 0;
    for (int call = 0; call < kCalls; ++call) sum += read_call(call, device);
    return sum;
  }

 public:
  static constexpr int kCalls = 11;
  static constexpr const char* kCallNames[kCalls] = {
      "MemoryInfo_v2",      "UtilizationRates",         "PowerUsage",
      "EnforcedPowerLimit", "TotalEnergyConsumption",   "Temperature",
      "ClockInfo(SM)",      "ClockInfo(MEM)",           "ComputeRunningProcesses_v3",
      "TotalEccErrors",     "CurrentClocksEventReasons"};

  nvml::Device first_device() const { return devices_.empty() ? nullptr : devices_[0]; }

  // One of the calls a read makes, by number (kCallNames), for the per-call breakdown.
  unsigned long long read_call(int call, nvml::Device device) {
    unsigned int value = 0;
    unsigned long long wide = 0;
    switch (call) {
      case 0: {
        nvml::MemoryV2 memory{};
        memory.version = nvml::kMemoryV2Version;
        memory_(device, &memory);
        return memory.used;
      }
      case 1: {
        nvml::Utilization utilization{};
        utilization_(device, &utilization);
        return utilization.gpu;
      }
      case 2: power_(device, &value); return value;
      case 3: limit_(device, &value); return value;
      case 4: energy_(device, &wide); return wide;
      case 5: temperature_(device, nvml::kTemperatureGpu, &value); return value;
      case 6: clock_(device, nvml::kClockSm, &value); return value;
      case 7: clock_(device, nvml::kClockMem, &value); return value;
      case 8: {
        value = static_cast<unsigned int>(process_buffer_.size());
        processes_(device, &value, process_buffer_.data());
        return value;
      }
      case 9:
        ecc_(device, nvml::kMemoryErrorUncorrected, nvml::kEccCounterVolatile, &wide);
        return wide;
      default: reasons_(device, &wide); return wide;
    }
  }

 private:
  void* handle_;
  std::vector<nvml::Device> devices_;
  std::vector<nvml::ProcessInfoV2> process_buffer_ = std::vector<nvml::ProcessInfoV2>(64);
  nvml::MemoryInfoV2Fn memory_ = sym<nvml::MemoryInfoV2Fn>("nvmlDeviceGetMemoryInfo_v2");
  nvml::UtilizationFn utilization_ = sym<nvml::UtilizationFn>("nvmlDeviceGetUtilizationRates");
  nvml::DeviceUintFn power_ = sym<nvml::DeviceUintFn>("nvmlDeviceGetPowerUsage");
  nvml::DeviceUintFn limit_ = sym<nvml::DeviceUintFn>("nvmlDeviceGetEnforcedPowerLimit");
  nvml::DeviceUllFn energy_ = sym<nvml::DeviceUllFn>("nvmlDeviceGetTotalEnergyConsumption");
  nvml::TemperatureFn temperature_ = sym<nvml::TemperatureFn>("nvmlDeviceGetTemperature");
  nvml::ClockInfoFn clock_ = sym<nvml::ClockInfoFn>("nvmlDeviceGetClockInfo");
  nvml::ProcessesV2Fn processes_ =
      sym<nvml::ProcessesV2Fn>("nvmlDeviceGetComputeRunningProcesses_v3");
  nvml::TotalEccErrorsFn ecc_ = sym<nvml::TotalEccErrorsFn>("nvmlDeviceGetTotalEccErrors");
  nvml::DeviceUllFn reasons_ = sym<nvml::DeviceUllFn>("nvmlDeviceGetCurrentClocksEventReasons");
};

void bare_nvml_calls(benchmark::State& state) {
  BareNvml bare;
  for (auto _ : state) benchmark::DoNotOptimize(bare.read_all());
}
BENCHMARK(bare_nvml_calls);

// The bare calls one at a time on the first GPU: which ones the driver makes expensive.
void bare_call(benchmark::State& state) {
  BareNvml bare;
  auto call = static_cast<int>(state.range(0));
  state.SetLabel(BareNvml::kCallNames[call]);
  for (auto _ : state) benchmark::DoNotOptimize(bare.read_call(call, bare.first_device()));
}
BENCHMARK(bare_call)->DenseRange(0, BareNvml::kCalls - 1);

void reopen_each_read(benchmark::State& state) {
  for (auto _ : state) {
    auto reading = open_probe()->read();
    benchmark::DoNotOptimize(reading);
  }
}
BENCHMARK(reopen_each_read);

// Keeps each benchmark's CPU seconds per iteration, for the derived figures.
class RecordingReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    // One figure per benchmark: the single run, or the median of repetitions.
    for (const Run& run : runs) {
      if (run.run_type == Run::RT_Iteration && run.iterations > 0) {
        cpu_seconds[run.run_name.function_name] =
            run.cpu_accumulated_time / static_cast<double>(run.iterations);
      } else if (run.run_type == Run::RT_Aggregate && run.aggregate_name == "median") {
        cpu_seconds[run.run_name.function_name] =
            run.GetAdjustedCPUTime() / benchmark::GetTimeUnitMultiplier(run.time_unit);
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
  std::map<std::string, double> cpu_seconds;
};

void print_derived(const std::map<std::string, double>& cpu_seconds) {
  auto find = [&](const char* name) {
    auto it = cpu_seconds.find(name);
    return it == cpu_seconds.end() ? 0.0 : it->second;
  };
  double probe = find("probe_read");
  double bare = find("bare_nvml_calls");
  double reopen = find("reopen_each_read");
  double cached = find("probe_read_energy_cached");
  if (probe <= 0) return;
  std::printf("\nlibrary: %s\n", library_path().c_str());
  std::printf("one read of every GPU: %.2f us CPU\n", probe * 1e6);
  std::printf("fraction of one core at 1 Hz: %.5f %%\n", probe * 1.0 * 100.0);
  if (bare > 0) std::printf("probe / bare NVML calls: %.2fx\n", probe / bare);
  if (reopen > 0) std::printf("reopen each read / probe: %.1fx\n", reopen / probe);
  if (cached > 0) {
    // At 1 Hz with a 10 s energy interval: nine cached reads and one full read per 10 s.
    double per_second = (9 * cached + probe) / 10;
    std::printf("fraction of one core at 1 Hz, energy every 10 s: %.5f %%\n", per_second * 100);
  }
}

void show_reading() {
  auto probe = open_probe();
  auto reading = probe->read();
  if (!reading.ok()) return;
  std::printf("%s\n", probe->describe().c_str());
  for (const auto& gpu : reading->devices) {
    std::printf(
        "GPU %u %s %s %s mem total=%llu used=%llu free=%llu reserved=%llu util=%u/%u "
        "power=%.1fW limit=%.1fW energy=%llumJ temp=%uC sm=%u mem=%uMHz healthy=%d "
        "processes=%zu unreadable=%zu\n",
        gpu.index, gpu.name.value_or("?").c_str(), gpu.uuid.value_or("?").c_str(),
        gpu.pci_bus_id.value_or("?").c_str(),
        static_cast<unsigned long long>(gpu.memory_total_bytes.value_or(0)),
        static_cast<unsigned long long>(gpu.memory_used_bytes.value_or(0)),
        static_cast<unsigned long long>(gpu.memory_free_bytes.value_or(0)),
        static_cast<unsigned long long>(gpu.memory_reserved_bytes.value_or(0)),
        gpu.gpu_utilization_percent.value_or(0), gpu.memory_utilization_percent.value_or(0),
        gpu.power_watts.value_or(-1), gpu.power_limit_watts.value_or(-1),
        static_cast<unsigned long long>(gpu.energy_millijoules.value_or(0)),
        gpu.temperature_celsius.value_or(0), gpu.sm_clock_mhz.value_or(0),
        gpu.memory_clock_mhz.value_or(0), gpu.health.healthy ? 1 : 0,
        gpu.processes ? gpu.processes->size() : 0, gpu.unreadable_fields.size());
    if (gpu.processes) {
      for (const auto& process : *gpu.processes) {
        std::printf("  process %u used=%s\n", process.pid,
                    process.used_memory_bytes ? std::to_string(*process.used_memory_bytes).c_str()
                                              : "(not available)");
      }
    }
    for (const auto& field : gpu.unreadable_fields) {
      std::printf("  unreadable %s: %s\n", field.field.c_str(), field.reason.c_str());
    }
    for (const auto& reason : gpu.health.reasons) std::printf("  health: %s\n", reason.c_str());
  }
}

int run(int argc, char** argv) {
  write_fake_state();
  bool show = false;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--show-reading") == 0) {
      show = true;
    } else {
      args.push_back(argv[i]);
    }
  }
  if (show) show_reading();
  int count = static_cast<int>(args.size());
  benchmark::Initialize(&count, args.data());
  RecordingReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  print_derived(reporter.cpu_seconds);
  benchmark::Shutdown();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nvml_sampling_bench: %s\n", e.what());
    return 1;
  }
}
