#include "fastgpu/gpu/nvml_probe.h"

#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gpu/nvml_api.h"
#include "gpu/nvml_device_reader.h"
#include "gpu/nvml_library.h"

namespace fastgpu {
namespace {

using nvml::NvmlLibrary;

constexpr const char* kDefaultNvmlLibrary = "libnvidia-ml.so.1";

// Driver-wide facts: they do not change while the driver is loaded, so they are read once.
struct DriverInfo {
  std::optional<std::string> driver_version;
  std::optional<std::string> nvml_version;
  std::optional<int> cuda_driver_version;
};

std::string choose_library_path(const NvmlProbeOptions& options) {
  if (!options.library_path.empty()) return options.library_path;
  const char* from_env = std::getenv(kNvmlLibraryEnv);
  if (from_env != nullptr && *from_env != '\0') return from_env;
  return kDefaultNvmlLibrary;
}

std::optional<std::string> read_system_string(const nvml::Symbol<nvml::SystemStringFn>& symbol) {
  if (!symbol) return std::nullopt;
  std::string buffer(nvml::kSystemVersionBufferSize, '\0');
  if (symbol.fn(buffer.data(), nvml::kSystemVersionBufferSize) != nvml::kSuccess) {
    return std::nullopt;
  }
  buffer.resize(buffer.find('\0'));
  return buffer;
}

DriverInfo read_driver_info(const nvml::Symbols& s) {
  DriverInfo info;
  info.driver_version = read_system_string(s.driver_version);
  info.nvml_version = read_system_string(s.nvml_version);
  int cuda = 0;
  if (s.cuda_driver_version && s.cuda_driver_version.fn(&cuda) == nvml::kSuccess) {
    info.cuda_driver_version = cuda;
  }
  return info;
}

Status initialize(const NvmlLibrary& library) {
  nvml::Return code = library.symbols().init.fn();
  if (code == nvml::kSuccess) return Status::ok_status();
  std::string message = library.symbols().init.name + " failed in " + library.path() + ": " +
                        library.describe_error(code) + ". ";
  if (code == nvml::kErrorDriverNotLoaded) {
    message = std::string(kNoNvidiaDriver) + ": the kernel driver is not loaded (" + message + ") ";
  }
  return failed_precondition(message + nvml::kSimulatedGpuHint);
}

Result<unsigned int> count_devices(const NvmlLibrary& library) {
  unsigned int count = 0;
  nvml::Return code = library.symbols().device_count.fn(&count);
  if (code == nvml::kSuccess) return count;
  return unavailable(library.symbols().device_count.name +
                     " failed: " + library.describe_error(code) +
                     "; the driver is loaded but cannot list its GPUs (check dmesg and "
                     "nvidia-smi)");
}

// Owns the library, NVML's initialisation and one slot per GPU. Destroying the probe shuts
// NVML down before the library is unloaded.
class NvmlProbe final : public GpuProbe {
 public:
  NvmlProbe(std::unique_ptr<NvmlLibrary> library, unsigned int count,
            const NvmlProbeOptions& options)
      : library_(std::move(library)),
        driver_(read_driver_info(library_->symbols())),
        energy_refresh_interval_(options.energy_refresh_interval) {
    slots_.resize(count);
    for (unsigned int i = 0; i < count; ++i) {
      slots_[i].index = i;
      nvml::open_device_handle(*library_, slots_[i]);
    }
  }

  ~NvmlProbe() override {
    if (library_->symbols().shutdown) library_->symbols().shutdown.fn();
  }

  NvmlProbe(const NvmlProbe&) = delete;
  NvmlProbe& operator=(const NvmlProbe&) = delete;

  Result<GpuReading> read() override {
    GpuReading reading;
    reading.source = "nvml";
    reading.driver_version = driver_.driver_version;
    reading.nvml_version = driver_.nvml_version;
    reading.cuda_driver_version = driver_.cuda_driver_version;
    reading.devices.reserve(slots_.size());
    nvml::ReadOptions options{std::chrono::steady_clock::now(), energy_refresh_interval_};
    for (nvml::DeviceSlot& slot : slots_) {
      reading.devices.push_back(nvml::read_device(*library_, slot, options));
    }
    return reading;
  }

  std::string describe() const override {
    return "NVML " + driver_.nvml_version.value_or("(version unknown)") + ", driver " +
           driver_.driver_version.value_or("(version unknown)") + " (" + library_->path() + ")";
  }

 private:
  std::unique_ptr<NvmlLibrary> library_;
  DriverInfo driver_;
  std::chrono::milliseconds energy_refresh_interval_;
  std::vector<nvml::DeviceSlot> slots_;
};

}  // namespace

bool is_no_nvidia_driver(const Status& failed) {
  return !failed.ok() && failed.message().starts_with(kNoNvidiaDriver);
}

Result<std::unique_ptr<GpuProbe>> open_nvml_probe(const NvmlProbeOptions& options) {
  auto library = NvmlLibrary::open(choose_library_path(options));
  if (!library.ok()) return library.status();
  FASTGPU_RETURN_IF_ERROR(initialize(**library));
  auto count = count_devices(**library);
  if (!count.ok()) {
    if ((*library)->symbols().shutdown) (*library)->symbols().shutdown.fn();
    return count.status();
  }
  return std::unique_ptr<GpuProbe>(new NvmlProbe(std::move(*library), *count, options));
}

}  // namespace fastgpu
