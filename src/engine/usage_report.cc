// The usage report: ended jobs summed up by name or by user (docs/cli.md, `fastgpu report`).
#include "fastgpu/engine/usage_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "engine/report_table.h"
#include "fastgpu/core/text.h"
#include "fastgpu/core/units.h"
#include "fastgpu/engine/report.h"

namespace fastgpu::engine {
namespace {

using Json = nlohmann::ordered_json;
using store::JobState;

constexpr const char* kMissing = "n/a";
constexpr const char* kNotApplicable = "-";
constexpr Bytes kGiB = Bytes{1} << 30;
// A suggestion leaves this much room above the largest run seen (memory and time).
constexpr double kSuggestedMemoryRoom = 1.2;
constexpr double kSuggestedTimeRoom = 1.5;

template <typename T>
Json or_null(const std::optional<T>& value) {
  return value ? Json(*value) : Json(nullptr);
}

std::optional<double> ratio_percent(double part, double whole, std::uint64_t jobs) {
  if (jobs == 0 || whole <= 0.0) return std::nullopt;
  return 100.0 * part / whole;
}

void add_to(UsageGroup& group, const store::JobRecord& record, const JobReport& job) {
  ++group.jobs;
  switch (record.state) {
    case JobState::kCompleted: ++group.completed; break;
    case JobState::kFailed: ++group.failed; break;
    case JobState::kTimeout: ++group.timeout; break;
    default: ++group.cancelled; break;
  }
  if (!job.started) return;
  ++group.started;
  group.wait_s += job.wait_s.value_or(0.0);
  group.run_s += job.run_s.value_or(0.0);
  group.gpu_seconds += job.gpu_seconds.value_or(0.0);
  if (job.gpus > 0) ++group.gpu_jobs;
  if (job.energy_joules) {
    group.energy_joules = group.energy_joules.value_or(0.0) + *job.energy_joules;
    ++group.energy_jobs;
    group.energy_is_estimate = group.energy_is_estimate || job.energy_is_estimate;
  }
  if (job.gpus > 0 && job.peak_gpu_mem && record.placed_bytes_per_gpu &&
      *record.placed_bytes_per_gpu > 0) {
    ++group.memory_jobs;
    group.peak_bytes += static_cast<double>(*job.peak_gpu_mem);
    group.reserved_bytes += static_cast<double>(*record.placed_bytes_per_gpu);
    group.largest_peak = std::max(group.largest_peak, *job.peak_gpu_mem);
    group.largest_reserved = std::max(group.largest_reserved, *record.placed_bytes_per_gpu);
  }
  if (record.spec.time_limit_s && job.run_s) {
    ++group.time_jobs;
    group.limited_run_s += *job.run_s;
    group.limit_s += static_cast<double>(*record.spec.time_limit_s);
    group.longest_limited_run_s = std::max(group.longest_limited_run_s, *job.run_s);
    group.longest_limit_s = std::max(group.longest_limit_s, *record.spec.time_limit_s);
  }
}

// The --gpu-mem to ask instead: the largest peak with room, in whole GiB; nullopt when the
// runs used enough of what they reserved, or the suggestion would not be less.
std::optional<Bytes> suggested_gpu_mem(const UsageGroup& group) {
  const std::optional<double> used = group.memory_used_percent();
  if (!used || *used >= kUsageHintBelowPercent) return std::nullopt;
  const double wanted = static_cast<double>(group.largest_peak) * kSuggestedMemoryRoom;
  const Bytes gib = std::max<Bytes>(1, static_cast<Bytes>(std::ceil(wanted / kGiB)));
  if (gib * kGiB >= group.largest_reserved) return std::nullopt;
  return gib * kGiB;
}

// The --time to ask instead: the longest run with room, in whole minutes; nullopt as above.
std::optional<std::int64_t> suggested_time_limit(const UsageGroup& group) {
  const std::optional<double> used = group.time_used_percent();
  if (!used || *used >= kUsageHintBelowPercent) return std::nullopt;
  const double wanted = group.longest_limited_run_s * kSuggestedTimeRoom;
  const auto minutes = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(wanted / 60)));
  if (minutes * 60 >= group.longest_limit_s) return std::nullopt;
  return minutes * 60;
}

// The group as the table shows it: "-" for jobs with neither a name nor a command (an API
// client may send none); a long command cut to kLongestLabel bytes, on a character's start.
constexpr std::size_t kLongestLabel = 40;
std::string key_label(const UsageGroup& group) {
  if (group.key.empty()) return kNotApplicable;
  std::string label = printable(group.key);
  if (label.size() <= kLongestLabel) return label;
  std::size_t cut = kLongestLabel - 3;
  while (cut > 0 && (static_cast<unsigned char>(label[cut]) & 0xC0) == 0x80) --cut;
  return label.substr(0, cut) + "...";
}

std::string percent_cell(const std::optional<double>& percent, bool applies) {
  if (!applies) return kNotApplicable;
  if (!percent) return kMissing;
  return fmt::format("{:.0f} %", *percent);
}

std::string energy_cell(const UsageGroup& group) {
  if (group.gpu_jobs == 0) return kNotApplicable;
  if (!group.energy_joules) return kMissing;
  std::string text = format_energy(*group.energy_joules) + (group.energy_is_estimate ? "*" : "");
  if (group.energy_jobs < group.gpu_jobs) {
    text += fmt::format(" ({} of {})", group.energy_jobs, group.gpu_jobs);
  }
  return text;
}

std::string mean_cell(const std::optional<double>& seconds) {
  return seconds ? format_duration(Seconds(*seconds)) : std::string(kNotApplicable);
}

std::vector<std::string> group_row(const UsageGroup& group, const std::string& label) {
  return {label,
          std::to_string(group.jobs),
          std::to_string(group.completed),
          std::to_string(group.failed),
          std::to_string(group.timeout),
          std::to_string(group.cancelled),
          mean_cell(group.mean_wait_s()),
          mean_cell(group.mean_run_s()),
          group.started == 0 ? std::string(kNotApplicable)
                             : format_duration(Seconds(group.gpu_seconds)),
          energy_cell(group),
          percent_cell(group.memory_used_percent(), group.gpu_jobs > 0),
          percent_cell(group.time_used_percent(), group.time_jobs > 0)};
}

// What the group's runs left unused, and what to ask instead; empty when nothing.
std::vector<std::string> hints(const UsageGroup& group, UsageKey key) {
  std::vector<std::string> lines;
  const std::string who = key_label(group);
  const std::optional<double> memory = group.memory_used_percent();
  if (memory && *memory < kUsageHintBelowPercent) {
    std::string line = fmt::format(
        "{}: the runs used {:.0f} % of the GPU memory they reserved (largest peak {} per GPU, "
        "largest reservation {}, {} runs measured); ",
        who, *memory, format_bytes(group.largest_peak), format_bytes(group.largest_reserved),
        group.memory_jobs);
    const std::optional<Bytes> ask = suggested_gpu_mem(group);
    if (key == UsageKey::kName && ask) {
      line += fmt::format("--gpu-mem {} (or auto) would let more jobs share a GPU",
                          format_bytes_exact(*ask));
    } else {
      line += "a smaller --gpu-mem (or auto) would let more jobs share a GPU";
      if (key == UsageKey::kUser) line += "; `fastgpu report --by name` shows which jobs";
    }
    lines.push_back(std::move(line));
  }
  const std::optional<double> time = group.time_used_percent();
  if (time && *time < kUsageHintBelowPercent) {
    std::string line = fmt::format(
        "{}: the runs took {:.0f} % of their time limits (longest run {}, longest limit {}); ", who,
        *time, format_duration(Seconds(group.longest_limited_run_s)),
        format_duration(Seconds(static_cast<double>(group.longest_limit_s))));
    const std::optional<std::int64_t> ask = suggested_time_limit(group);
    if (key == UsageKey::kName && ask) {
      line += fmt::format("--time {} would let backfill start them sooner",
                          format_duration_exact(Seconds(static_cast<double>(*ask))));
    } else {
      line += "a --time nearer the run would let backfill start them sooner";
    }
    lines.push_back(std::move(line));
  }
  return lines;
}

Json group_json(const UsageGroup& group, const char* key_field) {
  Json out;
  if (key_field != nullptr) out[key_field] = group.key;
  out["jobs"] = group.jobs;
  out["states"] = Json{{"COMPLETED", group.completed},
                       {"FAILED", group.failed},
                       {"TIMEOUT", group.timeout},
                       {"CANCELLED", group.cancelled}};
  out["started"] = group.started;
  out["mean_wait_seconds"] = or_null(group.mean_wait_s());
  out["mean_run_seconds"] = or_null(group.mean_run_s());
  out["wait_seconds_total"] = group.wait_s;
  out["run_seconds_total"] = group.run_s;
  out["gpu_seconds"] = group.gpu_seconds;
  out["gpu_hours"] = group.gpu_seconds / 3600.0;
  out["gpu_jobs"] = group.gpu_jobs;
  out["energy_joules"] = or_null(group.energy_joules);
  out["energy_is_estimate"] = group.energy_is_estimate;
  out["energy_jobs"] = group.energy_jobs;
  out["memory_jobs"] = group.memory_jobs;
  out["memory_used_percent"] = or_null(group.memory_used_percent());
  out["peak_bytes_total"] = group.peak_bytes;
  out["reserved_bytes_total"] = group.reserved_bytes;
  out["largest_peak_bytes"] = group.memory_jobs > 0 ? Json(group.largest_peak) : Json(nullptr);
  out["largest_reserved_bytes"] =
      group.memory_jobs > 0 ? Json(group.largest_reserved) : Json(nullptr);
  out["time_jobs"] = group.time_jobs;
  out["time_used_percent"] = or_null(group.time_used_percent());
  out["limited_run_seconds_total"] = group.limited_run_s;
  out["limit_seconds_total"] = group.limit_s;
  out["longest_limited_run_seconds"] =
      group.time_jobs > 0 ? Json(group.longest_limited_run_s) : Json(nullptr);
  out["longest_limit_seconds"] = group.time_jobs > 0 ? Json(group.longest_limit_s) : Json(nullptr);
  out["suggested_gpu_mem_bytes"] = or_null(suggested_gpu_mem(group));
  out["suggested_time_limit_seconds"] = or_null(suggested_time_limit(group));
  return out;
}

// The group usage_json wrote; the error names the field that is missing or of another type.
Result<UsageGroup> group_from_json(const Json& json, const char* key_field) {
  UsageGroup group;
  try {
    if (key_field != nullptr) group.key = json.at(key_field).get<std::string>();
    group.jobs = json.at("jobs").get<std::uint64_t>();
    const Json& states = json.at("states");
    group.completed = states.at("COMPLETED").get<std::uint64_t>();
    group.failed = states.at("FAILED").get<std::uint64_t>();
    group.timeout = states.at("TIMEOUT").get<std::uint64_t>();
    group.cancelled = states.at("CANCELLED").get<std::uint64_t>();
    group.started = json.at("started").get<std::uint64_t>();
    group.wait_s = json.at("wait_seconds_total").get<double>();
    group.run_s = json.at("run_seconds_total").get<double>();
    group.gpu_seconds = json.at("gpu_seconds").get<double>();
    group.gpu_jobs = json.at("gpu_jobs").get<std::uint64_t>();
    if (!json.at("energy_joules").is_null()) {
      group.energy_joules = json.at("energy_joules").get<double>();
    }
    group.energy_is_estimate = json.at("energy_is_estimate").get<bool>();
    group.energy_jobs = json.at("energy_jobs").get<std::uint64_t>();
    group.memory_jobs = json.at("memory_jobs").get<std::uint64_t>();
    group.peak_bytes = json.at("peak_bytes_total").get<double>();
    group.reserved_bytes = json.at("reserved_bytes_total").get<double>();
    if (group.memory_jobs > 0) {
      group.largest_peak = json.at("largest_peak_bytes").get<Bytes>();
      group.largest_reserved = json.at("largest_reserved_bytes").get<Bytes>();
    }
    group.time_jobs = json.at("time_jobs").get<std::uint64_t>();
    group.limited_run_s = json.at("limited_run_seconds_total").get<double>();
    group.limit_s = json.at("limit_seconds_total").get<double>();
    if (group.time_jobs > 0) {
      group.longest_limited_run_s = json.at("longest_limited_run_seconds").get<double>();
      group.longest_limit_s = json.at("longest_limit_seconds").get<std::int64_t>();
    }
  } catch (const Json::exception& error) {
    return invalid_argument(
        fmt::format("a usage group is not as docs/api.md has it: {}", error.what()));
  }
  return group;
}

void merge_into(UsageGroup& total, const UsageGroup& group) {
  total.jobs += group.jobs;
  total.completed += group.completed;
  total.failed += group.failed;
  total.timeout += group.timeout;
  total.cancelled += group.cancelled;
  total.started += group.started;
  total.wait_s += group.wait_s;
  total.run_s += group.run_s;
  total.gpu_seconds += group.gpu_seconds;
  total.gpu_jobs += group.gpu_jobs;
  if (group.energy_joules) {
    total.energy_joules = total.energy_joules.value_or(0.0) + *group.energy_joules;
  }
  total.energy_jobs += group.energy_jobs;
  total.energy_is_estimate = total.energy_is_estimate || group.energy_is_estimate;
  total.memory_jobs += group.memory_jobs;
  total.peak_bytes += group.peak_bytes;
  total.reserved_bytes += group.reserved_bytes;
  total.largest_peak = std::max(total.largest_peak, group.largest_peak);
  total.largest_reserved = std::max(total.largest_reserved, group.largest_reserved);
  total.time_jobs += group.time_jobs;
  total.limited_run_s += group.limited_run_s;
  total.limit_s += group.limit_s;
  total.longest_limited_run_s = std::max(total.longest_limited_run_s, group.longest_limited_run_s);
  total.longest_limit_s = std::max(total.longest_limit_s, group.longest_limit_s);
}

}  // namespace

Result<UsageKey> parse_usage_key(std::string_view text) {
  if (text == "name") return UsageKey::kName;
  if (text == "user") return UsageKey::kUser;
  return invalid_argument(
      fmt::format("cannot sum jobs up by '{}'; use name or user (e.g. --by user)", text));
}

std::string_view usage_key_name(UsageKey key) { return key == UsageKey::kUser ? "user" : "name"; }

std::optional<double> UsageGroup::mean_wait_s() const {
  return started == 0 ? std::nullopt : std::optional<double>(wait_s / static_cast<double>(started));
}

std::optional<double> UsageGroup::mean_run_s() const {
  return started == 0 ? std::nullopt : std::optional<double>(run_s / static_cast<double>(started));
}

std::optional<double> UsageGroup::memory_used_percent() const {
  return ratio_percent(peak_bytes, reserved_bytes, memory_jobs);
}

std::optional<double> UsageGroup::time_used_percent() const {
  return ratio_percent(limited_run_s, limit_s, time_jobs);
}

void UsageTally::add(const store::JobRecord& job) {
  switch (job.state) {
    case JobState::kCompleted:
    case JobState::kFailed:
    case JobState::kTimeout:
    case JobState::kCancelled: break;
    default: return;
  }
  // A job without a name goes by its command (its signature), as `auto` memory learns it.
  const std::string& key = key_ == UsageKey::kUser ? job.spec.user
                           : job.spec.name.empty() ? job.spec.signature
                                                   : job.spec.name;
  auto [it, added] = groups_.try_emplace(key);
  if (added) it->second.key = key;
  add_to(it->second, job, make_job_report(job));
}

UsageReport UsageTally::finish() && {
  UsageReport report;
  report.key = key_;
  for (auto& [key, group] : groups_) {
    merge_into(report.total, group);
    report.groups.push_back(std::move(group));
  }
  std::stable_sort(
      report.groups.begin(), report.groups.end(),
      [](const UsageGroup& a, const UsageGroup& b) { return a.gpu_seconds > b.gpu_seconds; });
  return report;
}

std::string render_usage_table(const UsageReport& report) {
  if (report.groups.empty()) return "No ended jobs.\n";
  std::string header = report.key == UsageKey::kUser ? "USER" : "NAME";
  std::vector<std::vector<std::string>> rows = {{header, "JOBS", "COMPLETED", "FAILED", "TIMEOUT",
                                                 "CANCELLED", "MEAN WAIT", "MEAN RUN", "GPU-TIME",
                                                 "ENERGY", "MEM USED", "TIME USED"}};
  const std::vector<bool> left = {true,  false, false, false, false, false,
                                  false, false, false, false, false, false};
  for (const UsageGroup& group : report.groups) rows.push_back(group_row(group, key_label(group)));
  if (report.groups.size() > 1) rows.push_back(group_row(report.total, "(all)"));
  std::string out = render_rows(rows, left);
  if (report.total.energy_is_estimate) {
    out +=
        "* energy an estimate: apportioned among jobs sharing a GPU, or prorated over the "
        "sample intervals a job started and ended in\n";
  }
  std::vector<std::string> advice;
  for (const UsageGroup& group : report.groups) {
    for (std::string& line : hints(group, report.key)) advice.push_back(std::move(line));
  }
  if (!advice.empty()) {
    out +=
        "\nMEM USED is each run's peak per GPU against the memory it reserved per GPU; TIME "
        "USED its run time against its time limit.\n";
    for (const std::string& line : advice) out += line + "\n";
  }
  return out;
}

nlohmann::ordered_json usage_json(const UsageReport& report) {
  const char* key_field = report.key == UsageKey::kUser ? "user" : "name";
  Json groups = Json::array();
  for (const UsageGroup& group : report.groups) groups.push_back(group_json(group, key_field));
  Json out;
  out["by"] = std::string(usage_key_name(report.key));
  out["groups"] = std::move(groups);
  out["total"] = group_json(report.total, nullptr);
  return out;
}

Result<UsageReport> usage_report_from_json(const nlohmann::ordered_json& json) {
  UsageReport report;
  if (!json.is_object() || !json.contains("by") || !json["by"].is_string() ||
      !json.contains("groups") || !json["groups"].is_array() || !json.contains("total")) {
    return invalid_argument("a usage report needs by, groups and total (docs/api.md)");
  }
  Result<UsageKey> key = parse_usage_key(json["by"].get<std::string>());
  if (!key.ok()) return key.status();
  report.key = *key;
  const char* key_field = report.key == UsageKey::kUser ? "user" : "name";
  for (const Json& entry : json["groups"]) {
    Result<UsageGroup> group = group_from_json(entry, key_field);
    if (!group.ok()) return group.status();
    report.groups.push_back(std::move(*group));
  }
  Result<UsageGroup> total = group_from_json(json["total"], nullptr);
  if (!total.ok()) return total.status();
  report.total = std::move(*total);
  return report;
}

}  // namespace fastgpu::engine
