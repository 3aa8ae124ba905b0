#include "fake_nvml_state.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <utility>

namespace fake_nvml {
namespace {

using nlohmann::json;

// A mistake in a state file is reported, never guessed around: tests rely on what they wrote.
[[noreturn]] void bad(const std::string& message) { throw std::runtime_error(message); }

template <typename T>
Sequence<T> sequence_of(const json& value, const std::string& key,
                        const std::function<T(const json&)>& convert) {
  Sequence<T> sequence;
  if (value.is_array()) {
    if (value.empty()) bad("'" + key + "' is an empty list; give a value or leave it out");
    for (const json& element : value) sequence.values.push_back(convert(element));
  } else {
    sequence.values.push_back(convert(value));
  }
  return sequence;
}

unsigned long long to_number(const json& value, const std::string& key) {
  if (!value.is_number_unsigned()) bad("'" + key + "' must be a non-negative integer");
  return value.get<unsigned long long>();
}

nvmlReturn_t to_code(const json& value, const std::string& key) {
  if (!value.is_string()) bad("'" + key + "' must be an NVML error name such as NOT_SUPPORTED");
  auto code = parse_return_code(value.get<std::string>());
  if (!code) bad("'" + key + "': unknown NVML error name '" + value.get<std::string>() + "'");
  return *code;
}

std::string to_string(const json& value, const std::string& key) {
  if (!value.is_string()) bad("'" + key + "' must be a string");
  return value.get<std::string>();
}

Sequence<unsigned long long> numbers(const json& value, const std::string& key) {
  return sequence_of<unsigned long long>(
      value, key, [&](const json& element) { return to_number(element, key); });
}

std::vector<Process> parse_processes(const json& value) {
  if (!value.is_array()) bad("'processes' must be a list of {\"pid\": N, \"used_memory\": BYTES}");
  std::vector<Process> processes;
  for (const json& entry : value) {
    if (!entry.is_object() || (!entry.contains("pid") && !entry.contains("pid_file"))) {
      bad("every process needs a 'pid' (or a 'pid_file' to read it from)");
    }
    Process process;
    if (entry.contains("pid_file")) {
      if (!entry.at("pid_file").is_string()) bad("'pid_file' must be a path");
      process.pid_file = entry.at("pid_file").get<std::string>();
    } else {
      process.pid = static_cast<unsigned int>(to_number(entry.at("pid"), "pid"));
    }
    if (entry.contains("used_memory")) {
      process.used_memory = to_number(entry.at("used_memory"), "used_memory");
    }
    processes.push_back(process);
  }
  return processes;
}

// The names an 'errors' entry may use: the functions without their _vN suffix.
bool is_device_function(const std::string& name) {
  static constexpr const char* kFunctions[] = {
      "nvmlDeviceGetName",
      "nvmlDeviceGetUUID",
      "nvmlDeviceGetPciInfo",
      "nvmlDeviceGetMemoryInfo",
      "nvmlDeviceGetUtilizationRates",
      "nvmlDeviceGetPowerUsage",
      "nvmlDeviceGetEnforcedPowerLimit",
      "nvmlDeviceGetPowerManagementLimit",
      "nvmlDeviceGetTotalEnergyConsumption",
      "nvmlDeviceGetTemperature",
      "nvmlDeviceGetClockInfo",
      "nvmlDeviceGetTotalEccErrors",
      "nvmlDeviceGetCurrentClocksEventReasons",
      "nvmlDeviceGetComputeRunningProcesses",
  };
  for (const char* function : kFunctions) {
    if (name == function) return true;
  }
  return false;
}

std::map<std::string, Sequence<nvmlReturn_t>> parse_errors(const json& value) {
  if (!value.is_object()) bad("'errors' must map function names to NVML error names");
  std::map<std::string, Sequence<nvmlReturn_t>> errors;
  for (const auto& item : value.items()) {
    const std::string& function = item.key();
    if (!is_device_function(function)) {
      bad("'errors': unknown function '" + function +
          "' (use the name without _v2/_v3, e.g. nvmlDeviceGetMemoryInfo)");
    }
    errors[function] = sequence_of<nvmlReturn_t>(
        item.value(), function, [&](const json& element) { return to_code(element, function); });
  }
  return errors;
}

// Every GPU key and where it goes; an unknown key is an error (it is usually a typo).
Gpu parse_gpu(const json& value) {
  if (!value.is_object()) bad("every entry of 'gpus' must be an object");
  Gpu gpu;
  const std::map<std::string, Sequence<unsigned long long>*> number_fields = {
      {"memory_total", &gpu.memory_total},
      {"memory_reserved", &gpu.memory_reserved},
      {"memory_used", &gpu.memory_used},
      {"memory_free", &gpu.memory_free},
      {"utilization_gpu", &gpu.utilization_gpu},
      {"utilization_memory", &gpu.utilization_memory},
      {"power_mw", &gpu.power_mw},
      {"power_limit_mw", &gpu.power_limit_mw},
      {"energy_mj", &gpu.energy_mj},
      {"temperature_c", &gpu.temperature_c},
      {"sm_clock_mhz", &gpu.sm_clock_mhz},
      {"mem_clock_mhz", &gpu.mem_clock_mhz},
      {"ecc_uncorrected_volatile", &gpu.ecc_uncorrected_volatile},
      {"clocks_event_reasons", &gpu.clocks_event_reasons},
  };
  for (const auto& [key, field] : value.items()) {
    if (auto it = number_fields.find(key); it != number_fields.end()) {
      *it->second = numbers(field, key);
    } else if (key == "name") {
      gpu.name = to_string(field, key);
    } else if (key == "uuid") {
      gpu.uuid = to_string(field, key);
    } else if (key == "pci_bus_id") {
      gpu.pci_bus_id = to_string(field, key);
    } else if (key == "processes") {
      gpu.processes = parse_processes(field);
    } else if (key == "lost") {
      if (!field.is_boolean()) bad("'lost' must be true or false");
      gpu.lost = field.get<bool>();
    } else if (key == "handle_error") {
      gpu.handle_error = to_code(field, key);
    } else if (key == "errors") {
      gpu.errors = parse_errors(field);
    } else {
      bad("unknown GPU key '" + key + "'");
    }
  }
  return gpu;
}

State parse_state(const json& root) {
  if (!root.is_object()) bad("the top level must be an object with a 'gpus' list");
  State state;
  for (const auto& [key, field] : root.items()) {
    if (key == "driver_version") {
      state.driver_version = to_string(field, key);
    } else if (key == "nvml_version") {
      state.nvml_version = to_string(field, key);
    } else if (key == "cuda_driver_version") {
      state.cuda_driver_version = static_cast<int>(to_number(field, key));
    } else if (key == "init_error") {
      state.init_error = to_code(field, key);
    } else if (key == "gpus") {
      if (!field.is_array()) bad("'gpus' must be a list");
      for (const json& gpu : field) state.gpus.push_back(parse_gpu(gpu));
    } else {
      bad("unknown top-level key '" + key + "'");
    }
  }
  return state;
}

}  // namespace

std::optional<State> load_state(const std::string& path, std::string& error) {
  std::ifstream file(path);
  if (!file) {
    error = "cannot read state file '" + path + "': " + std::strerror(errno);
    return std::nullopt;
  }
  std::stringstream text;
  text << file.rdbuf();
  try {
    return parse_state(json::parse(text.str()));
  } catch (const std::exception& e) {
    error = "malformed state file '" + path + "': " + e.what();
    return std::nullopt;
  }
}

std::optional<nvmlReturn_t> parse_return_code(const std::string& name) {
  static const std::map<std::string, nvmlReturn_t> codes = {
      {"SUCCESS", NVML_SUCCESS},
      {"UNINITIALIZED", NVML_ERROR_UNINITIALIZED},
      {"INVALID_ARGUMENT", NVML_ERROR_INVALID_ARGUMENT},
      {"NOT_SUPPORTED", NVML_ERROR_NOT_SUPPORTED},
      {"NO_PERMISSION", NVML_ERROR_NO_PERMISSION},
      {"NOT_FOUND", NVML_ERROR_NOT_FOUND},
      {"INSUFFICIENT_SIZE", NVML_ERROR_INSUFFICIENT_SIZE},
      {"DRIVER_NOT_LOADED", NVML_ERROR_DRIVER_NOT_LOADED},
      {"TIMEOUT", NVML_ERROR_TIMEOUT},
      {"LIBRARY_NOT_FOUND", NVML_ERROR_LIBRARY_NOT_FOUND},
      {"CORRUPTED_INFOROM", NVML_ERROR_CORRUPTED_INFOROM},
      {"GPU_IS_LOST", NVML_ERROR_GPU_IS_LOST},
      {"RESET_REQUIRED", NVML_ERROR_RESET_REQUIRED},
      {"LIB_RM_VERSION_MISMATCH", NVML_ERROR_LIB_RM_VERSION_MISMATCH},
      {"NO_DATA", NVML_ERROR_NO_DATA},
      {"UNKNOWN", NVML_ERROR_UNKNOWN},
  };
  std::string bare = name.rfind("NVML_ERROR_", 0) == 0 ? name.substr(11) : name;
  if (bare == "NVML_SUCCESS") bare = "SUCCESS";
  auto it = codes.find(bare);
  if (it == codes.end()) return std::nullopt;
  return it->second;
}

const char* error_text(nvmlReturn_t code) {
  switch (code) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_NO_PERMISSION: return "Insufficient Permissions";
    case NVML_ERROR_NOT_FOUND: return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case NVML_ERROR_TIMEOUT: return "Timeout";
    case NVML_ERROR_LIBRARY_NOT_FOUND: return "NVML Shared Library Not Found";
    case NVML_ERROR_CORRUPTED_INFOROM: return "Corrupted infoROM";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    case NVML_ERROR_RESET_REQUIRED: return "GPU requires restart";
    case NVML_ERROR_LIB_RM_VERSION_MISMATCH: return "RM has detected an NVML/RM version mismatch";
    case NVML_ERROR_NO_DATA: return "No data";
    default: return "Unknown Error";
  }
}

}  // namespace fake_nvml
