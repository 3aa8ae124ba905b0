// The usage report: ended jobs summed up by name, user or GPU (docs/cli.md, `fastgpu report`).
#include "fastgpu/engine/usage_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <utility>

#include "engine/report_table.h"
#include "fastgpu/core/text.h"
#include "fastgpu/core/units.h"
#include "fastgpu/engine/report.h"

namespace fastgpu::engine {
namespace {

using Json = nlohmann::ordered_json;
using store::JobState;

constexpr Bytes kGiB = Bytes{1} << 30;
// A suggestion leaves this much room above the largest run seen (memory and time).
constexpr double kSuggestedMemoryRoom = 1.2;
constexpr double kSuggestedTimeRoom = 1.5;
// By day, the idle days between the first and the last are listed up to this span.
constexpr std::chrono::days kMostFilledDays{3 * 366};

// What to ask instead is said by name or user: a GPU's or a day's jobs are many names'.
bool gives_advice(std::optional<UsageKey> key) {
  return key == UsageKey::kName || key == UsageKey::kUser;
}

// The day `moment` falls on, `utc_offset_s` east of UTC.
std::chrono::sys_days day_of(store::WallTime moment, std::int64_t utc_offset_s) {
  return std::chrono::floor<std::chrono::days>(moment + std::chrono::seconds(utc_offset_s));
}

// "2026-12-07".
std::string day_key(std::chrono::sys_days day) {
  const std::chrono::year_month_day date{day};
  return fmt::format("{:04}-{:02}-{:02}", static_cast<int>(date.year()),
                     static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()));
}

std::optional<double> ratio_percent(double part, double whole, std::uint64_t jobs) {
  if (jobs == 0 || whole <= 0.0) return std::nullopt;
  return 100.0 * part / whole;
}

// `share`: of the job's GPU time and energy that the group gets (a GPU's group, of a job
// on several GPUs, gets 1/N of each); 1 for a name's or a user's.
void add_to(UsageGroup& group, const store::JobRecord& record, const JobReport& job,
            double share = 1.0) {
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
  group.gpu_seconds += job.gpu_seconds.value_or(0.0) * share;
  if (job.gpus > 0) ++group.gpu_jobs;
  if (job.energy_joules) {
    group.energy_joules = group.energy_joules.value_or(0.0) + *job.energy_joules * share;
    ++group.energy_jobs;
    // A job's energy split evenly over its GPUs is an estimate of each one's.
    group.energy_is_estimate = group.energy_is_estimate || job.energy_is_estimate || share < 1.0;
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

// `key`: the report's; nullopt for the total, which has no key field. A GPU's index is a
// number, null for the group of jobs that held no GPU.
Json group_json(const UsageGroup& group, std::optional<UsageKey> key) {
  Json out;
  if (key == UsageKey::kGpu) {
    out["gpu"] = group.key.empty() ? Json(nullptr) : Json(std::stoull(group.key));
  } else if (key == UsageKey::kDay) {
    out["day"] = group.key.empty() ? Json(nullptr) : Json(group.key);
  } else if (key) {
    out[std::string(usage_key_name(*key))] = group.key;
  }
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
  // What to ask instead, by name or user; a GPU's or a day's jobs and the total are many
  // names'.
  const bool suggests = gives_advice(key);
  out["suggested_gpu_mem_bytes"] = suggests ? or_null(suggested_gpu_mem(group)) : Json(nullptr);
  out["suggested_time_limit_seconds"] =
      suggests ? or_null(suggested_time_limit(group)) : Json(nullptr);
  // The lines `fastgpu report` prints under its table, so a page shows them as said there.
  out["advice"] = suggests ? Json(hints(group, *key)) : Json::array();
  return out;
}

// The group usage_json wrote; the error names the field that is missing or of another type.
Result<UsageGroup> group_from_json(const Json& json, std::optional<UsageKey> key) {
  UsageGroup group;
  try {
    if (key == UsageKey::kGpu) {
      const Json& gpu = json.at("gpu");
      if (!gpu.is_null()) group.key = std::to_string(gpu.get<std::uint64_t>());
    } else if (key == UsageKey::kDay) {
      const Json& day = json.at("day");
      if (!day.is_null()) group.key = day.get<std::string>();
    } else if (key) {
      group.key = json.at(std::string(usage_key_name(*key))).get<std::string>();
    }
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

}  // namespace

std::int64_t UtcOffsets::at(store::WallTime moment) const {
  // The last change at or before `moment`.
  const auto after = std::upper_bound(
      changes.begin(), changes.end(), moment,
      [](store::WallTime at, const std::pair<store::WallTime, std::int64_t>& change) {
        return at < change.first;
      });
  return after == changes.begin() ? initial : std::prev(after)->second;
}

Result<UsageKey> parse_usage_key(std::string_view text) {
  if (text == "name") return UsageKey::kName;
  if (text == "user") return UsageKey::kUser;
  if (text == "gpu") return UsageKey::kGpu;
  if (text == "day") return UsageKey::kDay;
  return invalid_argument(
      fmt::format("cannot sum jobs up by '{}'; use name, user, gpu or day (e.g. --by user)", text));
}

std::string_view usage_key_name(UsageKey key) {
  switch (key) {
    case UsageKey::kUser: return "user";
    case UsageKey::kGpu: return "gpu";
    case UsageKey::kDay: return "day";
    default: return "name";
  }
}

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
  if (!store::is_terminal(job.state)) return;
  const JobReport report = make_job_report(job);
  add_to(total_, job, report);
  if (key_ == UsageKey::kGpu) {
    // Each GPU the job's latest run held, with its share of the GPU time; a job that held
    // none (CPU-only, or never ran) goes to the group without a GPU ("").
    if (!report.started || report.gpu_indices.empty()) {
      add_to(group(""), job, report);
      return;
    }
    const double share = 1.0 / static_cast<double>(report.gpu_indices.size());
    for (std::uint32_t gpu : report.gpu_indices) {
      add_to(group(std::to_string(gpu)), job, report, share);
    }
    return;
  }
  if (key_ == UsageKey::kDay) {
    if (!job.end_time) {
      add_to(group(""), job, report);  // an API client's record without an end
      return;
    }
    const std::chrono::sys_days day = day_of(*job.end_time, offsets_.at(*job.end_time));
    auto [it, added] = days_.try_emplace(day);
    if (added) it->second.key = day_key(day);
    add_to(it->second, job, report);
    return;
  }
  // A job without a name goes by its command (its signature), as `auto` memory learns it.
  add_to(group(key_ == UsageKey::kUser ? job.spec.user
               : job.spec.name.empty() ? job.spec.signature
                                       : job.spec.name),
         job, report);
}

void UsageTally::include_gpu(std::uint32_t index) {
  if (key_ == UsageKey::kGpu) group(std::to_string(index));
}

UsageGroup& UsageTally::group(const std::string& key) {
  auto [it, added] = groups_.try_emplace(key);
  if (added) it->second.key = key;
  return it->second;
}

UsageReport UsageTally::finish() && {
  UsageReport report;
  report.key = key_;
  report.total = std::move(total_);
  if (key_ == UsageKey::kDay) {
    // Every day from the first to the last, a day nothing ended on too (a trend read with
    // its idle days left out would look busier), unless they are years apart (a clock set
    // wrong once would make a line per day since); the jobs without an end last.
    const bool fill =
        !days_.empty() && days_.rbegin()->first - days_.begin()->first <= kMostFilledDays;
    std::optional<std::chrono::sys_days> next;
    for (auto& [day, group] : days_) {
      for (; fill && next && *next < day; *next += std::chrono::days(1)) {
        UsageGroup idle;
        idle.key = day_key(*next);
        report.groups.push_back(std::move(idle));
      }
      report.groups.push_back(std::move(group));
      next = day + std::chrono::days(1);
    }
    if (auto none = groups_.find(""); none != groups_.end()) {
      report.groups.push_back(std::move(none->second));
    }
    return report;
  }
  for (auto& [key, group] : groups_) report.groups.push_back(std::move(group));
  if (key_ == UsageKey::kGpu) {
    // By index, the group without a GPU last.
    const auto index = [](const UsageGroup& group) {
      return group.key.empty() ? std::numeric_limits<std::uint64_t>::max() : std::stoull(group.key);
    };
    std::sort(report.groups.begin(), report.groups.end(),
              [&](const UsageGroup& a, const UsageGroup& b) { return index(a) < index(b); });
  } else {
    std::stable_sort(
        report.groups.begin(), report.groups.end(),
        [](const UsageGroup& a, const UsageGroup& b) { return a.gpu_seconds > b.gpu_seconds; });
  }
  return report;
}

std::string render_usage_table(const UsageReport& report) {
  if (report.groups.empty()) return "No ended jobs.\n";
  const std::string header = report.key == UsageKey::kUser  ? "USER"
                             : report.key == UsageKey::kGpu ? "GPU"
                             : report.key == UsageKey::kDay ? "DAY"
                                                            : "NAME";
  std::vector<std::vector<std::string>> rows = {{header, "JOBS", "COMPLETED", "FAILED", "TIMEOUT",
                                                 "CANCELLED", "MEAN WAIT", "MEAN RUN", "GPU-TIME",
                                                 "ENERGY", "MEM USED", "TIME USED"}};
  const std::vector<bool> left = {true,  false, false, false, false, false,
                                  false, false, false, false, false, false};
  for (const UsageGroup& group : report.groups) rows.push_back(group_row(group, key_label(group)));
  if (report.groups.size() > 1) rows.push_back(group_row(report.total, "(all)"));
  std::string out = render_rows(rows, left);
  if (report.total.energy_is_estimate) out += estimate_footnote();
  std::vector<std::string> advice;
  // A GPU's or a day's jobs are many names' and users': what to ask instead is said by name
  // or user.
  for (const UsageGroup& group : report.groups) {
    if (!gives_advice(report.key)) break;
    for (std::string& line : hints(group, report.key)) advice.push_back(std::move(line));
  }
  if (!advice.empty()) {
    out +=
        "\nMEM USED is each run's peak per GPU against the memory it reserved per GPU; TIME "
        "USED its run time against its time limit.\n";
    // The groups with the most GPU time first: past kMostHints lines, the rest are counted.
    const std::size_t shown = std::min(advice.size(), kMostHints);
    for (std::size_t i = 0; i < shown; ++i) out += advice[i] + "\n";
    if (advice.size() > shown) {
      out += fmt::format(
          "... and {} more such lines; `fastgpu report --json` gives every group's "
          "suggested_gpu_mem_bytes and suggested_time_limit_seconds\n",
          advice.size() - shown);
    }
  }
  return out;
}

nlohmann::ordered_json usage_json(const UsageReport& report) {
  Json groups = Json::array();
  for (const UsageGroup& group : report.groups) groups.push_back(group_json(group, report.key));
  Json out;
  out["by"] = std::string(usage_key_name(report.key));
  out["groups"] = std::move(groups);
  out["total"] = group_json(report.total, std::nullopt);
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
  for (const Json& entry : json["groups"]) {
    Result<UsageGroup> group = group_from_json(entry, report.key);
    if (!group.ok()) return group.status();
    report.groups.push_back(std::move(*group));
  }
  Result<UsageGroup> total = group_from_json(json["total"], std::nullopt);
  if (!total.ok()) return total.status();
  report.total = std::move(*total);
  return report;
}

}  // namespace fastgpu::engine
