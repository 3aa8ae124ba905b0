#include "fastgpu/gpu/simulated_probe.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "fastgpu/core/text.h"

namespace fastgpu {
namespace {

constexpr std::string_view kSpecExample = "e.g. 4xH100-80G or 2xA100-40G,2xT4-16G";
// The smallest GPU memory a spec may give; less is a size written without its unit.
constexpr Bytes kMinGpuMemory = Bytes{1} << 20;
// The largest: 16 TiB. The biggest GPUs have under 300 GB, so this leaves room for many
// generations to come; more is a unit slip ("80T" for 80G) that would show GPUs no
// placement ever fills, and memory totals that overflow when added up across GPUs.
constexpr Bytes kMaxGpuMemory = Bytes{16} << 40;

// More GPUs than any one server holds; a larger count is almost surely a typo.
constexpr std::uint32_t kMaxGpusPerGroup = 1024;

// Static fields of a model, from the vendors' public data sheets (board power limit, maximum
// SM and memory clocks). Close enough to make simulated power and clocks look plausible.
struct ModelInfo {
  std::string_view model;
  std::string_view vendor_name;  // the name nvidia-smi prints, without the memory size
  double power_limit_watts;
  std::uint32_t max_sm_clock_mhz;
  std::uint32_t max_memory_clock_mhz;
};

constexpr ModelInfo kKnownModels[] = {
    {"H100", "NVIDIA H100", 700, 1980, 2619},
    {"H200", "NVIDIA H200", 700, 1980, 3201},
    {"B200", "NVIDIA B200", 1000, 1965, 3996},
    {"A100", "NVIDIA A100", 400, 1410, 1593},
    {"A40", "NVIDIA A40", 300, 1740, 7251},
    {"A10", "NVIDIA A10", 150, 1695, 6251},
    {"L40S", "NVIDIA L40S", 350, 2520, 9001},
    {"L40", "NVIDIA L40", 300, 2490, 9001},
    {"L4", "NVIDIA L4", 72, 2040, 6251},
    {"T4", "Tesla T4", 70, 1590, 5001},
    {"V100", "Tesla V100", 300, 1530, 877},
    {"RTX4090", "NVIDIA GeForce RTX 4090", 450, 2520, 10501},
    {"RTX3090", "NVIDIA GeForce RTX 3090", 350, 2100, 9751},
};

// Defaults for a model not in the table: a mid-range data-centre card.
constexpr double kDefaultPowerLimitWatts = 300;
constexpr std::uint32_t kDefaultSmClockMhz = 1500;
constexpr std::uint32_t kDefaultMemoryClockMhz = 1500;
// An idle GPU draws about a tenth of its limit and sits near room temperature.
constexpr double kIdlePowerFraction = 0.1;
constexpr std::uint32_t kIdleTemperatureCelsius = 30;

std::string upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

const ModelInfo* find_model(std::string_view model) {
  const std::string wanted = upper(model);
  for (const ModelInfo& info : kKnownModels) {
    if (info.model == wanted) return &info;
  }
  return nullptr;
}

Status group_error(std::string_view group, std::string_view problem) {
  return invalid_argument(fmt::format("device spec group '{}': {}; write COUNTxMODEL-MEMORY, {}",
                                      group, problem, kSpecExample));
}

bool valid_model_name(std::string_view model) {
  return !model.empty() && std::all_of(model.begin(), model.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

// Reads "4x" from the front of `text` and advances past it; 1 when there is no count.
Result<std::uint32_t> take_count(std::string_view group, std::string_view& text) {
  // "-1xH100-80G" would otherwise read as one GPU of a model named "-1xH100".
  if (text.size() > 1 && text[0] == '-' && std::isdigit(static_cast<unsigned char>(text[1]))) {
    return group_error(group, fmt::format("the count must be 1 to {}", kMaxGpusPerGroup));
  }
  std::size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0 || digits >= text.size() || (text[digits] != 'x' && text[digits] != 'X')) {
    return 1u;
  }
  if (digits > 4) return group_error(group, "the count is too large");
  const std::uint32_t count =
      static_cast<std::uint32_t>(std::stoul(std::string(text.substr(0, digits))));
  if (count == 0 || count > kMaxGpusPerGroup) {
    return group_error(group, fmt::format("the count must be 1 to {}", kMaxGpusPerGroup));
  }
  text.remove_prefix(digits + 1);
  return count;
}

Status parse_group(std::string_view group, std::vector<SimulatedGpuSpec>& gpus) {
  std::string_view text = group;
  const Result<std::uint32_t> count = take_count(group, text);
  if (!count.ok()) return count.status();
  const std::size_t dash = text.rfind('-');
  if (dash == std::string_view::npos) return group_error(group, "the memory size is missing");
  const std::string_view model = trim(text.substr(0, dash));
  if (!valid_model_name(model)) return group_error(group, "the model name is missing or invalid");
  const Result<Bytes> memory = parse_bytes(text.substr(dash + 1));
  if (!memory.ok()) return group_error(group, memory.status().message());
  if (*memory == 0) return group_error(group, "the memory size must be above 0");
  // A bare number is bytes, as for every size flag: "H100-80" is an 80-byte GPU, surely
  // meant as 80G. No GPU has less than a mebibyte.
  if (*memory < kMinGpuMemory) {
    const std::string_view typed = trim(text.substr(dash + 1));
    const bool bare = std::all_of(typed.begin(), typed.end(), [](char c) {
      return std::isdigit(static_cast<unsigned char>(c));
    });
    return group_error(group, bare ? fmt::format("the memory size '{}' is {} bytes; give its "
                                                 "unit, e.g. {}G (GiB) or {}GB",
                                                 typed, *memory, typed, typed)
                                   : fmt::format("the memory size '{}' is below 1 MiB", typed));
  }
  if (*memory > kMaxGpuMemory) {
    const std::string_view typed = trim(text.substr(dash + 1));
    return group_error(group,
                       fmt::format("the memory size '{}' is {}, more than the limit of "
                                   "{} per GPU (the largest GPUs have under 300 GB); "
                                   "check its unit (G for GiB, T for TiB)",
                                   typed, format_bytes(*memory), format_bytes(kMaxGpuMemory)));
  }
  for (std::uint32_t i = 0; i < *count; ++i) gpus.push_back({std::string(model), *memory});
  return {};
}

GpuDevice idle_device(std::uint32_t index, const SimulatedGpuSpec& spec) {
  const ModelInfo* info = find_model(spec.model);
  GpuDevice device;
  device.index = index;
  const std::string vendor_name = info ? std::string(info->vendor_name) : spec.model;
  device.name = fmt::format("{} (simulated)", vendor_name);
  device.uuid = fmt::format("GPU-sim-{:04}-{}", index, upper(spec.model));
  device.pci_bus_id = fmt::format("00000000:{:02X}:00.0", index + 1);
  device.memory_total_bytes = spec.memory_bytes;
  device.memory_used_bytes = 0;
  device.memory_free_bytes = spec.memory_bytes;
  device.memory_reserved_bytes = 0;
  // Nothing runs on a simulated GPU to be measured: its utilization is "n/a" too, not a 0
  // that reads as an idle GPU (the jobs placed on it are busy CPU processes).
  device.gpu_utilization_percent = std::nullopt;
  device.memory_utilization_percent = std::nullopt;
  const double limit = info ? info->power_limit_watts : kDefaultPowerLimitWatts;
  device.power_limit_watts = limit;
  device.power_watts = std::round(limit * kIdlePowerFraction);
  // No counter to read: a job's energy on a simulated GPU is "n/a", not a made-up 0 J.
  device.energy_millijoules = std::nullopt;
  for (const char* field :
       {"energy_millijoules", "gpu_utilization_percent", "memory_utilization_percent"}) {
    device.unreadable_fields.push_back({field, "a simulated GPU measures none of these"});
  }
  device.temperature_celsius = kIdleTemperatureCelsius;
  device.sm_clock_mhz = info ? info->max_sm_clock_mhz : kDefaultSmClockMhz;
  device.memory_clock_mhz = info ? info->max_memory_clock_mhz : kDefaultMemoryClockMhz;
  device.processes = std::vector<GpuProcess>{};
  return device;
}

}  // namespace

Result<std::vector<SimulatedGpuSpec>> parse_device_spec(std::string_view spec) {
  if (trim(spec).empty()) {
    return invalid_argument(fmt::format("device spec '{}' is empty; {}", spec, kSpecExample));
  }
  std::vector<SimulatedGpuSpec> gpus;
  while (true) {
    const std::size_t comma = spec.find(',');
    const std::string_view group = trim(spec.substr(0, comma));
    if (group.empty()) {
      return invalid_argument(fmt::format("device spec '{}' has an empty group between commas; {}",
                                          spec, kSpecExample));
    }
    FASTGPU_RETURN_IF_ERROR(parse_group(group, gpus));
    if (comma == std::string_view::npos) return gpus;
    spec.remove_prefix(comma + 1);
  }
}

SimulatedProbe::SimulatedProbe(std::vector<SimulatedGpuSpec> gpus) {
  devices_.reserve(gpus.size());
  for (std::size_t i = 0; i < gpus.size(); ++i) {
    devices_.push_back(idle_device(static_cast<std::uint32_t>(i), gpus[i]));
  }
}

Result<GpuReading> SimulatedProbe::read() {
  GpuReading reading;
  reading.source = "simulated";
  reading.devices = devices_;
  return reading;
}

std::string SimulatedProbe::describe() const {
  return fmt::format("simulated GPUs ({} device{})", devices_.size(),
                     devices_.size() == 1 ? "" : "s");
}

Result<std::unique_ptr<SimulatedProbe>> make_simulated_probe(std::string_view spec) {
  Result<std::vector<SimulatedGpuSpec>> gpus = parse_device_spec(spec);
  if (!gpus.ok()) return gpus.status();
  return std::make_unique<SimulatedProbe>(std::move(gpus).value());
}

}  // namespace fastgpu
