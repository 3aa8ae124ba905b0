#include "fastgpu/core/resource_limits.h"

#include <sys/resource.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <fstream>
#include <sstream>

#include "fastgpu/core/units.h"

namespace fastgpu {
namespace {

enum class Unit { kBytes, kSeconds, kCount };

// The least hard limit a Linux login has: none at all for most; 1024 open files (the usual
// soft value; hard ones are 4096 and up); none known for memlock and nproc, nor for core,
// which hardened systems set to 0 for every login (CIS benchmarks' `* hard core 0`).
constexpr std::uint64_t kNoFloor = 0;
constexpr std::uint64_t kUnlimited = ~std::uint64_t{0};

struct Carried {
  std::string_view name;
  int resource;
  Unit unit;
  std::string_view proc_label;  // its line in /proc/PID/limits: "Max open files   1024   ..."
  std::string_view ulimit_option;
  std::uint64_t login_floor;  // a hard limit below it was set for a job (job_sized_hard_limits)
};

constexpr std::array<Carried, 10> kCarried = {{
    {"as", RLIMIT_AS, Unit::kBytes, "Max address space", "-v", kUnlimited},
    {"core", RLIMIT_CORE, Unit::kBytes, "Max core file size", "-c", kNoFloor},
    {"cpu", RLIMIT_CPU, Unit::kSeconds, "Max cpu time", "-t", kUnlimited},
    {"data", RLIMIT_DATA, Unit::kBytes, "Max data size", "-d", kUnlimited},
    {"fsize", RLIMIT_FSIZE, Unit::kBytes, "Max file size", "-f", kUnlimited},
    {"memlock", RLIMIT_MEMLOCK, Unit::kBytes, "Max locked memory", "-l", kNoFloor},
    {"nofile", RLIMIT_NOFILE, Unit::kCount, "Max open files", "-n", 1024},
    {"nproc", RLIMIT_NPROC, Unit::kCount, "Max processes", "-u", kNoFloor},
    {"rss", RLIMIT_RSS, Unit::kBytes, "Max resident set", "-m", kUnlimited},
    {"stack", RLIMIT_STACK, Unit::kBytes, "Max stack size", "-s", kUnlimited},
}};

constexpr std::array<std::string_view, kCarried.size()> kNames = [] {
  std::array<std::string_view, kCarried.size()> names{};
  for (std::size_t i = 0; i < kCarried.size(); ++i) names[i] = kCarried[i].name;
  return names;
}();

const Carried* find(std::string_view name) {
  for (const Carried& carried : kCarried) {
    if (carried.name == name) return &carried;
  }
  return nullptr;
}

std::optional<std::optional<std::uint64_t>> proc_value(std::istringstream& words) {
  std::string word;
  if (!(words >> word)) return std::nullopt;
  if (word == "unlimited") return std::optional<std::uint64_t>();
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(word.data(), word.data() + word.size(), value);
  if (error != std::errc() || end != word.data() + word.size()) return std::nullopt;
  return std::optional<std::uint64_t>(value);
}

std::optional<ResourceLimit> limit_in_proc(int pid, const Carried& carried) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/limits");
  const std::string_view label = carried.proc_label;
  for (std::string line; std::getline(file, line);) {
    // The label, then spaces: "Max processes" is not "Max processes per user".
    if (!line.starts_with(label) || line.size() <= label.size() || line[label.size()] != ' ') {
      continue;
    }
    std::istringstream words(line.substr(label.size()));
    const auto soft = proc_value(words);
    const auto hard = proc_value(words);
    if (!soft || !hard) break;
    return ResourceLimit{std::string(carried.name), *soft, *hard};
  }
  errno = ESRCH;  // gone, or a kernel that writes the file otherwise
  return std::nullopt;
}

}  // namespace

std::optional<std::uint64_t> from_rlim(rlim_t value) {
  if (value == RLIM_INFINITY) return std::nullopt;
  return static_cast<std::uint64_t>(value);
}

rlim_t to_rlim(std::optional<std::uint64_t> value) {
  return value ? static_cast<rlim_t>(*value) : RLIM_INFINITY;
}

std::span<const std::string_view> carried_limit_names() { return kNames; }

std::optional<int> rlimit_resource(std::string_view name) {
  const Carried* carried = find(name);
  if (carried == nullptr) return std::nullopt;
  return carried->resource;
}

ResourceLimits own_resource_limits() {
  ResourceLimits limits;
  for (const Carried& carried : kCarried) {
    // Never fails for our own process and these resources.
    if (auto limit = process_resource_limit(0, carried.name)) limits.push_back(std::move(*limit));
  }
  return limits;
}

std::optional<ResourceLimit> process_resource_limit(int pid, std::string_view name) {
  const Carried* carried = find(name);
  if (carried == nullptr) return std::nullopt;
  rlimit value{};
  if (::prlimit(pid, static_cast<__rlimit_resource>(carried->resource), nullptr, &value) == 0) {
    return ResourceLimit{std::string(name), from_rlim(value.rlim_cur), from_rlim(value.rlim_max)};
  }
  if (errno != EPERM) return std::nullopt;
  return limit_in_proc(pid, *carried);
}

std::string format_limit_value(std::string_view name, std::optional<std::uint64_t> value) {
  if (!value) return "unlimited";
  const Carried* carried = find(name);
  const Unit unit = carried != nullptr ? carried->unit : Unit::kCount;
  if (unit == Unit::kBytes) return format_bytes_exact(*value);
  if (unit == Unit::kSeconds) return std::to_string(*value) + " s";
  return std::to_string(*value);
}

std::string format_limit(const ResourceLimit& limit) {
  std::string text = limit.name + " " + format_limit_value(limit.name, limit.soft);
  if (limit.soft != limit.hard)
    text += " (hard " + format_limit_value(limit.name, limit.hard) + ")";
  return text;
}

bool limit_above(std::optional<std::uint64_t> value, std::optional<std::uint64_t> bound) {
  if (!bound) return false;
  return !value || *value > *bound;
}

std::string_view ulimit_option(std::string_view name) {
  const Carried* carried = find(name);
  return carried != nullptr ? carried->ulimit_option : "";
}

ResourceLimits job_sized_hard_limits(const ResourceLimits& limits) {
  ResourceLimits lowered;
  for (const ResourceLimit& limit : limits) {
    const Carried* carried = find(limit.name);
    if (carried == nullptr || !limit.hard) continue;
    const bool below = carried->login_floor == kUnlimited || *limit.hard < carried->login_floor;
    if (below) lowered.push_back(limit);
  }
  return lowered;
}

std::string format_hard_limits(const ResourceLimits& limits) {
  std::string text;
  for (const ResourceLimit& limit : limits) {
    if (!text.empty()) text += ", ";
    text += limit.name + " " + format_limit_value(limit.name, limit.hard);
    if (const std::string_view option = ulimit_option(limit.name); !option.empty()) {
      text += " (ulimit " + std::string(option) + ")";
    }
  }
  return text;
}

}  // namespace fastgpu
