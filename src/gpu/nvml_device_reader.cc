#include "gpu/nvml_device_reader.h"

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <string_view>
#include <utility>

namespace fastgpu::nvml {
namespace {

// A process list is re-read at most this many times when it grows between the size query
// and the read (processes start all the time on a busy GPU).
constexpr int kProcessReadAttempts = 4;
// Room for processes that start between two calls, so one grow usually suffices.
constexpr unsigned int kProcessHeadroom = 8;
constexpr std::size_t kInitialProcessCapacity = 16;

// Errors after which nothing more can be read from the GPU.
bool is_device_fatal(Return code) { return code == kErrorGpuIsLost || code == kErrorResetRequired; }

std::string fatal_reason(const NvmlLibrary& library, Return code) {
  if (code == kErrorGpuIsLost) return "GPU is lost (NVML_ERROR_GPU_IS_LOST)";
  if (code == kErrorResetRequired) return "GPU needs a reset (NVML_ERROR_RESET_REQUIRED)";
  return library.describe_error(code);
}

std::string field_reason(const NvmlLibrary& library, Return code) {
  if (code == kErrorNotSupported) return "not supported (NVML_ERROR_NOT_SUPPORTED)";
  if (code == kErrorNoPermission) return "no permission (NVML_ERROR_NO_PERMISSION)";
  return library.describe_error(code);
}

template <typename Fn>
std::string missing_reason(const Symbol<Fn>& symbol) {
  return "function not found in the driver (" + symbol.name + ")";
}

// Reads one GPU. Each read_* method fills a group of fields; `call` runs one NVML function
// and decides what its failure means, so the readers stay about the values.
class DeviceReader {
 public:
  DeviceReader(const NvmlLibrary& library, DeviceSlot& slot, const ReadOptions& options)
      : library_(library), s_(library.symbols()), slot_(slot), options_(options) {
    device_.index = slot.index;
  }

  GpuDevice read() && {
    read_identity();
    read_memory();
    read_utilization();
    read_power();
    read_temperature_and_clocks();
    read_processes();
    read_health();
    if (lost_) record_remaining_as_lost();
    return std::move(device_);
  }

 private:
  // Runs `symbol` on the GPU. On failure records why each of `fields` is absent (health
  // inputs pass no fields) and returns false.
  template <typename Fn, typename... Args>
  bool call(std::initializer_list<std::string_view> fields, const Symbol<Fn>& symbol,
            Args... args) {
    if (lost_) return false;
    if (!symbol) {
      record(fields, missing_reason(symbol));
      return false;
    }
    Return code = symbol.fn(slot_.handle, args...);
    if (code == kSuccess) {
      read_fields_.insert(read_fields_.end(), fields.begin(), fields.end());
      return true;
    }
    fail(fields, code);
    return false;
  }

  void fail(std::initializer_list<std::string_view> fields, Return code) {
    if (is_device_fatal(code)) {
      mark_lost(fatal_reason(library_, code));
      return;
    }
    record(fields, field_reason(library_, code));
  }

  void record(std::initializer_list<std::string_view> fields, const std::string& reason) {
    for (std::string_view field : fields) {
      device_.unreadable_fields.push_back({std::string(field), reason});
    }
  }

  void mark_lost(std::string reason) {
    lost_ = true;
    lost_reason_ = reason;
    device_.health.healthy = false;
    device_.health.reasons.push_back(std::move(reason));
  }

  // A lost GPU still lists every field it could not read, with the reason.
  void record_remaining_as_lost() {
    for (const std::string& field : all_device_fields()) {
      bool read = std::find(read_fields_.begin(), read_fields_.end(), field) != read_fields_.end();
      bool listed = std::any_of(device_.unreadable_fields.begin(), device_.unreadable_fields.end(),
                                [&](const UnreadableField& u) { return u.field == field; });
      if (!read && !listed) device_.unreadable_fields.push_back({field, lost_reason_});
    }
  }

  // Name, UUID and PCI bus id: read until they succeed once, then served from the slot.
  void read_identity() {
    if (!slot_.identity_read) read_identity_from_driver();
    device_.name = slot_.name;
    device_.uuid = slot_.uuid;
    device_.pci_bus_id = slot_.pci_bus_id;
    for (const auto& entry : slot_.identity_unreadable) device_.unreadable_fields.push_back(entry);
    if (slot_.name) read_fields_.push_back("name");
    if (slot_.uuid) read_fields_.push_back("uuid");
    if (slot_.pci_bus_id) read_fields_.push_back("pci_bus_id");
  }

  void read_identity_from_driver() {
    std::size_t unreadable_before = device_.unreadable_fields.size();
    slot_.name = read_string("name", s_.name, kDeviceNameBufferSize);
    slot_.uuid = read_string("uuid", s_.uuid, kDeviceUuidBufferSize);
    slot_.pci_bus_id = read_pci_bus_id();
    if (lost_) return;  // try again next time: the GPU may come back after a reset
    slot_.identity_unreadable.assign(
        device_.unreadable_fields.begin() + static_cast<std::ptrdiff_t>(unreadable_before),
        device_.unreadable_fields.end());
    device_.unreadable_fields.resize(unreadable_before);
    slot_.identity_read = true;
  }

  std::optional<std::string> read_string(std::string_view field,
                                         const Symbol<DeviceStringFn>& symbol, unsigned int size) {
    std::string buffer(size, '\0');
    if (!call({field}, symbol, buffer.data(), size)) return std::nullopt;
    buffer.resize(buffer.find('\0'));
    return buffer;
  }

  std::optional<std::string> read_pci_bus_id() {
    PciInfo pci{};
    if (!call({"pci_bus_id"}, s_.pci_info, &pci)) return std::nullopt;
    // The unversioned call fills only the legacy 16-byte id ("0000:18:00.0").
    const char* id = s_.pci_info_is_legacy ? pci.bus_id_legacy : pci.bus_id;
    std::size_t limit = s_.pci_info_is_legacy ? kPciBusIdLegacySize : kPciBusIdBufferSize;
    return std::string(id, strnlen(id, limit));
  }

  void read_memory() {
    if (s_.memory_info_v2) {
      MemoryV2 memory{};
      memory.version = kMemoryV2Version;
      if (!call({"memory_total_bytes", "memory_used_bytes", "memory_free_bytes",
                 "memory_reserved_bytes"},
                s_.memory_info_v2, &memory)) {
        return;
      }
      device_.memory_total_bytes = memory.total;
      device_.memory_used_bytes = memory.used;
      device_.memory_free_bytes = memory.free;
      device_.memory_reserved_bytes = memory.reserved;
      return;
    }
    record({"memory_reserved_bytes"}, missing_reason(s_.memory_info_v2));
    Memory memory{};
    if (!call({"memory_total_bytes", "memory_used_bytes", "memory_free_bytes"}, s_.memory_info,
              &memory)) {
      return;
    }
    device_.memory_total_bytes = memory.total;
    device_.memory_used_bytes = memory.used;
    device_.memory_free_bytes = memory.free;
  }

  void read_utilization() {
    Utilization utilization{};
    if (!call({"gpu_utilization_percent", "memory_utilization_percent"}, s_.utilization,
              &utilization)) {
      return;
    }
    device_.gpu_utilization_percent = utilization.gpu;
    device_.memory_utilization_percent = utilization.memory;
  }

  void read_power() {
    unsigned int milliwatts = 0;
    if (call({"power_watts"}, s_.power_usage, &milliwatts)) {
      device_.power_watts = milliwatts / 1000.0;
    }
    unsigned int limit_milliwatts = 0;
    if (call({"power_limit_watts"}, s_.power_limit, &limit_milliwatts)) {
      device_.power_limit_watts = limit_milliwatts / 1000.0;
    }
    read_energy();
  }

  void read_energy() {
    bool fresh_enough = slot_.energy_millijoules &&
                        options_.now - slot_.energy_read_at < options_.energy_refresh_interval;
    if (fresh_enough && !lost_) {
      device_.energy_millijoules = slot_.energy_millijoules;
      read_fields_.push_back("energy_millijoules");
      return;
    }
    unsigned long long millijoules = 0;
    if (call({"energy_millijoules"}, s_.total_energy, &millijoules)) {
      device_.energy_millijoules = millijoules;
      slot_.energy_millijoules = millijoules;
      slot_.energy_read_at = options_.now;
    }
  }

  void read_temperature_and_clocks() {
    unsigned int value = 0;
    if (call({"temperature_celsius"}, s_.temperature, kTemperatureGpu, &value)) {
      device_.temperature_celsius = value;
    }
    if (call({"sm_clock_mhz"}, s_.clock_info, kClockSm, &value)) device_.sm_clock_mhz = value;
    if (call({"memory_clock_mhz"}, s_.clock_info, kClockMem, &value)) {
      device_.memory_clock_mhz = value;
    }
  }

  void read_processes() {
    if (lost_) return;
    if (s_.processes_v2) {
      device_.processes = read_process_list(s_.processes_v2, slot_.processes_v2);
    } else if (s_.processes_v1) {
      device_.processes = read_process_list(s_.processes_v1, slot_.processes_v1);
    } else {
      record({"processes"}, missing_reason(s_.processes_v1));
    }
    if (device_.processes) read_fields_.push_back("processes");
  }

  // The driver answers INSUFFICIENT_SIZE with the count it needs; grow and ask again.
  template <typename Fn, typename Info>
  std::optional<std::vector<GpuProcess>> read_process_list(const Symbol<Fn>& symbol,
                                                           std::vector<Info>& buffer) {
    if (buffer.empty()) buffer.resize(kInitialProcessCapacity);
    for (int attempt = 0; attempt < kProcessReadAttempts; ++attempt) {
      auto count = static_cast<unsigned int>(buffer.size());
      Return code = symbol.fn(slot_.handle, &count, buffer.data());
      if (code == kErrorInsufficientSize) {
        buffer.resize(std::max<std::size_t>(count + kProcessHeadroom, buffer.size() * 2));
        continue;
      }
      if (code != kSuccess) {
        fail({"processes"}, code);
        return std::nullopt;
      }
      return to_processes(buffer, std::min<std::size_t>(count, buffer.size()));
    }
    record({"processes"}, "the process list kept growing while it was read");
    return std::nullopt;
  }

  template <typename Info>
  static std::vector<GpuProcess> to_processes(const std::vector<Info>& infos, std::size_t count) {
    std::vector<GpuProcess> processes(count);
    for (std::size_t i = 0; i < count; ++i) {
      processes[i].pid = infos[i].pid;
      // NVML_VALUE_NOT_AVAILABLE: the driver withholds it (e.g. in a container, or on WDDM).
      if (infos[i].used_gpu_memory != kValueNotAvailable) {
        processes[i].used_memory_bytes = infos[i].used_gpu_memory;
      }
    }
    return processes;
  }

  // Health inputs: not fields of their own, so an unsupported one just goes unchecked.
  void read_health() {
    unsigned long long uncorrected = 0;
    if (call({}, s_.total_ecc_errors, kMemoryErrorUncorrected, kEccCounterVolatile, &uncorrected) &&
        uncorrected > 0) {
      device_.health.healthy = false;
      device_.health.reasons.push_back(std::to_string(uncorrected) +
                                       " uncorrected ECC errors since the driver loaded");
    }
    unsigned long long reasons = 0;
    if (call({}, s_.clocks_event_reasons, &reasons)) add_slowdown_reasons(reasons);
  }

  // Slowdowns degrade a GPU but leave it usable: reasons, not unhealthy.
  void add_slowdown_reasons(unsigned long long bits) {
    static constexpr std::pair<unsigned long long, const char*> kSlowdowns[] = {
        {kClocksEventHwSlowdown, "throttled: hardware slowdown"},
        {kClocksEventSwThermalSlowdown, "throttled: thermal slowdown (driver)"},
        {kClocksEventHwThermalSlowdown, "throttled: hardware thermal slowdown"},
        {kClocksEventHwPowerBrakeSlowdown, "throttled: hardware power brake"},
    };
    for (const auto& [bit, reason] : kSlowdowns) {
      if ((bits & bit) != 0) device_.health.reasons.emplace_back(reason);
    }
  }

  const NvmlLibrary& library_;
  const Symbols& s_;
  DeviceSlot& slot_;
  const ReadOptions& options_;
  GpuDevice device_;
  bool lost_ = false;
  std::string lost_reason_;
  std::vector<std::string_view> read_fields_;
};

}  // namespace

void open_device_handle(const NvmlLibrary& library, DeviceSlot& slot) {
  if (slot.handle != nullptr) return;
  Device handle = nullptr;
  Return code = library.symbols().handle_by_index.fn(slot.index, &handle);
  if (code == kSuccess && handle != nullptr) {
    slot.handle = handle;
    slot.handle_error.clear();
    return;
  }
  slot.handle_error = "could not open the GPU: " + library.describe_error(code);
}

GpuDevice read_device(const NvmlLibrary& library, DeviceSlot& slot, const ReadOptions& options) {
  open_device_handle(library, slot);
  if (slot.handle == nullptr) {
    GpuDevice device;
    device.index = slot.index;
    device.health.healthy = false;
    device.health.reasons.push_back(slot.handle_error);
    for (const std::string& field : all_device_fields()) {
      device.unreadable_fields.push_back({field, slot.handle_error});
    }
    return device;
  }
  return DeviceReader(library, slot, options).read();
}

const std::vector<std::string>& all_device_fields() {
  static const std::vector<std::string> fields = {
      "name",
      "uuid",
      "pci_bus_id",
      "memory_total_bytes",
      "memory_used_bytes",
      "memory_free_bytes",
      "memory_reserved_bytes",
      "gpu_utilization_percent",
      "memory_utilization_percent",
      "power_watts",
      "power_limit_watts",
      "energy_millijoules",
      "temperature_celsius",
      "sm_clock_mhz",
      "memory_clock_mhz",
      "processes",
  };
  return fields;
}

}  // namespace fastgpu::nvml
