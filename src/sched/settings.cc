#include "fastgpu/sched/settings.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

#include "core/yaml_text.h"
#include "fastgpu/core/text.h"
#include "fastgpu/core/units.h"
#include "fastgpu/sched/decision.h"
#include "fastgpu/sched/scheduler.h"

namespace fastgpu::sched {
namespace {

// One value of the file, with where it stands, turned into what a setting holds.
class Value {
 public:
  Value(std::string key, const YAML::Node& node) : key_(std::move(key)), node_(node) {}

  // "line 4: memory-action: 'kil' is not an action; write warn, requeue or kill".
  Status error(std::string_view problem) const {
    return invalid_argument(fmt::format("line {}: {}: {}", node_.Mark().line + 1, key_, problem));
  }

  Result<std::string> text() const {
    if (!node_.IsScalar()) {
      return error(node_.IsNull() ? "no value; write one after the colon, or leave the key out"
                                  : "a list or a map; it takes one value");
    }
    return std::string(trim(node_.Scalar()));
  }

  Result<bool> boolean() const {
    Result<std::string> word = text();
    if (!word.ok()) return word.status();
    const std::string lower = ascii_lower(*word);
    if (lower == "true" || lower == "yes" || lower == "on") return true;
    if (lower == "false" || lower == "no" || lower == "off") return false;
    return error(fmt::format("'{}' is not true or false; write true or false", *word));
  }

  // A finite number from `low` up (above it when `open_low`) to `high`.
  Result<double> number(double low, bool open_low, double high, std::string_view example) const {
    Result<std::string> word = text();
    if (!word.ok()) return word.status();
    double parsed = 0.0;
    const char* end = word->data() + word->size();
    auto [after, problem] = std::from_chars(word->data(), end, parsed);
    if (problem != std::errc{} || after != end || !std::isfinite(parsed)) {
      return error(fmt::format("'{}' is not a number; write one such as {}", *word, example));
    }
    const bool above_low = open_low ? parsed > low : parsed >= low;
    if (!above_low || parsed > high) {
      const std::string range =
          std::isinf(high) ? fmt::format("{} {}", open_low ? "above" : "at least", low)
                           : fmt::format("{} {} to {}", open_low ? "above" : "from", low, high);
      return error(
          fmt::format("{} is out of range; write a number {}, such as {}", *word, range, example));
    }
    return parsed;
  }

  Result<double> seconds(const YAML::Node& node, bool positive) const {
    if (!node.IsScalar()) return error("a list or a map; it takes one duration, such as 1h");
    Result<Seconds> parsed = parse_duration(node.Scalar());
    if (!parsed.ok()) return error(parsed.status().message());
    if (positive && parsed->count() <= 0.0) {
      return error(fmt::format("'{}' must be longer than zero, e.g. 1d", node.Scalar()));
    }
    return parsed->count();
  }
  Result<double> seconds(bool positive) const { return seconds(node_, positive); }

  Result<Bytes> bytes() const {
    Result<std::string> word = text();
    if (!word.ok()) return word.status();
    Result<Bytes> parsed = parse_bytes(*word);
    if (!parsed.ok()) return error(parsed.status().message());
    return *parsed;
  }

  // A list of durations, in increasing order.
  Result<std::vector<double>> increasing_seconds() const {
    if (node_.IsNull()) return text().status();
    if (!node_.IsSequence()) {
      return error("not a list; it takes a list of GPU-time thresholds, such as [1h, 10h]");
    }
    std::vector<double> thresholds;
    std::string previous;  // as written
    for (const YAML::Node& item : node_) {
      Result<double> threshold = seconds(item, true);
      if (!threshold.ok()) return threshold.status();
      if (!thresholds.empty() && *threshold <= thresholds.back()) {
        return error(
            fmt::format("{} comes after {}; write the thresholds in increasing "
                        "order, e.g. [1h, 10h]",
                        item.Scalar(), previous));
      }
      thresholds.push_back(*threshold);
      previous = item.Scalar();
    }
    return thresholds;
  }

 private:
  std::string key_;
  YAML::Node node_;
};

// Sets `field` from a Result, or returns its error from the enclosing function.
#define FASTGPU_SET_OR_RETURN(field, result)  \
  do {                                        \
    auto value_ = (result);                   \
    if (!value_.ok()) return value_.status(); \
    (field) = *value_;                        \
  } while (false)

constexpr double kUnbounded = std::numeric_limits<double>::infinity();

Status apply(std::string_view key, const Value& value, SchedulerConfig& config) {
  if (key == "policy" || key == "strategy") {
    Result<std::string> name = value.text();
    if (!name.ok()) return name.status();
    SchedulerConfig checked = config;
    (key == "policy" ? checked.policy : checked.strategy) = *name;
    if (Status valid = validate_config(checked); !valid.ok()) return value.error(valid.message());
    config = checked;
    return {};
  }
  if (key == "backfill")
    FASTGPU_SET_OR_RETURN(config.backfill, value.boolean());
  else if (key == "aging-per-hour") {
    FASTGPU_SET_OR_RETURN(config.aging_per_hour, value.number(0, false, kUnbounded, "1"));
  } else if (key == "fair-half-life") {
    FASTGPU_SET_OR_RETURN(config.fair_half_life_s, value.seconds(true));
  } else if (key == "fair-default-job-gpu-time") {
    FASTGPU_SET_OR_RETURN(config.fair_default_job_gpu_s, value.seconds(false));
  } else if (key == "las-thresholds") {
    FASTGPU_SET_OR_RETURN(config.las_thresholds_gpu_s, value.increasing_seconds());
  } else if (key == "min-run-before-preempt") {
    FASTGPU_SET_OR_RETURN(config.min_run_before_preempt_s, value.seconds(false));
  } else if (key == "memory-action") {
    Result<std::string> word = value.text();
    if (!word.ok()) return word.status();
    const std::string name = ascii_lower(*word);
    bool known = false;
    for (MemoryActionKind kind :
         {MemoryActionKind::kWarn, MemoryActionKind::kRequeue, MemoryActionKind::kKill}) {
      if (name != memory_action_name(kind)) continue;
      config.memory_action = kind;
      known = true;
    }
    if (!known) {
      return value.error(fmt::format("'{}' is not an action; write warn, requeue or kill", *word));
    }
  } else if (key == "memory-tolerance") {
    FASTGPU_SET_OR_RETURN(config.memory_tolerance_bytes, value.bytes());
  } else if (key == "balance") {
    FASTGPU_SET_OR_RETURN(config.balance, value.boolean());
  } else if (key == "overload-utilization") {
    FASTGPU_SET_OR_RETURN(config.overload_utilization, value.number(0, false, 1, "0.95"));
  } else if (key == "idle-utilization") {
    FASTGPU_SET_OR_RETURN(config.idle_utilization, value.number(0, false, 1, "0.1"));
  } else if (key == "balance-min-gain") {
    FASTGPU_SET_OR_RETURN(config.balance_min_gain, value.number(0, false, kUnbounded, "0.5"));
  } else if (key == "min-run-before-move") {
    FASTGPU_SET_OR_RETURN(config.min_run_before_move_s, value.seconds(false));
  } else if (key == "auto-percentile") {
    FASTGPU_SET_OR_RETURN(config.auto_percentile, value.number(0, true, 1, "0.95"));
  } else if (key == "auto-margin") {
    FASTGPU_SET_OR_RETURN(config.auto_margin, value.number(0, false, kUnbounded, "0.1"));
  }
  return {};
}

#undef FASTGPU_SET_OR_RETURN

}  // namespace

const std::vector<std::string_view>& settings_keys() {
  static const std::vector<std::string_view> kKeys = {
      "policy",
      "strategy",
      "backfill",
      "aging-per-hour",
      "fair-half-life",
      "fair-default-job-gpu-time",
      "las-thresholds",
      "min-run-before-preempt",
      "memory-action",
      "memory-tolerance",
      "balance",
      "overload-utilization",
      "idle-utilization",
      "balance-min-gain",
      "min-run-before-move",
      "auto-percentile",
      "auto-margin",
  };
  return kKeys;
}

Result<SchedulerConfig> parse_settings(std::string_view yaml, SchedulerConfig base,
                                       std::vector<std::string>* keys_set) {
  YamlText text;
  try {
    text = load_yaml_text(std::string(yaml));
  } catch (const YAML::Exception& error) {
    return invalid_argument(
        fmt::format("line {}: not valid YAML: {}; write one `key: value` per line, e.g. "
                    "`policy: priority`",
                    error.mark.line + 1, error.msg));
  }
  if (text.second_document) {
    return invalid_argument(
        fmt::format("line {}: a second YAML document begins here (after '---'); the settings "
                    "are one document: remove the '---' and write each key once",
                    text.second_document->line + 1));
  }
  const YAML::Node& root = text.root;
  if (root.IsNull()) return base;  // an empty file: every default
  if (!root.IsMap()) {
    return invalid_argument(
        fmt::format("line {}: the settings are a map of `key: value` lines, e.g. `policy: "
                    "priority`, not a list or a single value",
                    root.Mark().line + 1));
  }
  // Every bad line is told at once, so a file with three mistakes takes one round to fix,
  // not three; any of them refuses the whole file.
  const std::vector<std::string_view>& keys = settings_keys();
  std::map<std::string, int> seen;  // key -> its line
  std::vector<std::string> problems;
  bool utilization_read = true;  // both thresholds as the file gives them (or defaults)
  for (const auto& item : root) {
    const int line = item.first.Mark().line + 1;
    std::string key = item.first.IsScalar() ? ascii_lower(trim(item.first.Scalar())) : "";
    std::replace(key.begin(), key.end(), '_', '-');  // the JSON form's keys read back too
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
      const std::vector<std::string> known(keys.begin(), keys.end());
      const std::optional<std::string> near = nearest_name(key, known);
      problems.push_back(fmt::format("line {}: unknown setting '{}'{}; the settings are {}", line,
                                     item.first.IsScalar() ? item.first.Scalar() : "?",
                                     near ? fmt::format(" (did you mean {}?)", *near) : "",
                                     fmt::join(keys, ", ")));
      continue;
    }
    if (auto [earlier, added] = seen.emplace(key, line); !added) {
      problems.push_back(fmt::format("line {}: {} is set twice (first on line {}); keep one", line,
                                     key, earlier->second));
      continue;
    }
    if (Status applied = apply(key, Value(key, item.second), base); !applied.ok()) {
      problems.push_back(applied.message());
      if (key == "idle-utilization" || key == "overload-utilization") utilization_read = false;
    }
  }
  if (utilization_read && base.idle_utilization >= base.overload_utilization) {
    problems.push_back(fmt::format(
        "idle-utilization {} must be below overload-utilization {}: a GPU cannot be both idle "
        "and overloaded; lower idle-utilization or raise overload-utilization",
        base.idle_utilization, base.overload_utilization));
  }
  if (problems.size() == 1) return invalid_argument(problems.front());
  if (problems.empty() && keys_set != nullptr) {
    for (const auto& [key, line] : seen) keys_set->push_back(key);
  }
  if (!problems.empty()) {
    return invalid_argument(
        fmt::format("{} mistakes (the whole file is refused until each is fixed):\n  {}",
                    problems.size(), fmt::join(problems, "\n  ")));
  }
  return base;
}

Result<SchedulerConfig> read_settings(const std::filesystem::path& file, SchedulerConfig base,
                                      std::vector<std::string>* keys_set) {
  // A folder opens as a stream that reads as empty: it was taken for a file of defaults.
  std::error_code error;
  if (std::filesystem::is_directory(file, error)) {
    return invalid_argument(fmt::format(
        "{}: is a folder, not a settings file; give a YAML file such as examples/config.yaml",
        file.string()));
  }
  std::ifstream in(file);
  if (!in) {
    return not_found(fmt::format("{}: cannot read the settings file ({}); check the path",
                                 file.string(), std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return unavailable(
        fmt::format("{}: cannot read the settings file ({})", file.string(), std::strerror(errno)));
  }
  Result<SchedulerConfig> parsed = parse_settings(text.str(), std::move(base), keys_set);
  if (!parsed.ok()) return parsed.status().with_context(file.string());
  return parsed;
}

std::string setting_text(std::string_view key, const nlohmann::ordered_json& value) {
  const auto duration = [](const nlohmann::ordered_json& seconds) {
    return seconds.is_number() ? format_duration_exact(Seconds(seconds.get<double>()))
                               : seconds.dump();
  };
  if (value.is_string()) return value.get<std::string>();
  if ((key == "fair_half_life" || key == "fair_default_job_gpu_time" ||
       key == "min_run_before_preempt" || key == "min_run_before_move") &&
      value.is_number()) {
    return duration(value);
  }
  if (key == "las_thresholds" && value.is_array()) {
    std::vector<std::string> thresholds;
    for (const auto& threshold : value) thresholds.push_back(duration(threshold));
    return fmt::format("[{}]", fmt::join(thresholds, ", "));
  }
  if (key == "memory_tolerance" && value.is_number_unsigned()) {
    return format_bytes_exact(value.get<Bytes>());
  }
  if (value.is_number_float()) return fmt::format("{}", value.get<double>());  // 1, not 1.0
  return value.dump();
}

std::vector<SettingChange> setting_changes(const nlohmann::ordered_json& from,
                                           const nlohmann::ordered_json& to) {
  std::vector<SettingChange> changes;
  for (const auto& [key, value] : to.items()) {
    const auto old = from.find(key);
    if (old == from.end() || *old == value) continue;
    std::string file_key = key;
    std::replace(file_key.begin(), file_key.end(), '_', '-');
    changes.push_back({file_key, setting_text(key, *old), setting_text(key, value)});
  }
  return changes;
}

nlohmann::ordered_json settings_json(const SchedulerConfig& config) {
  return {
      {"policy", config.policy},
      {"strategy", config.strategy},
      {"backfill", config.backfill},
      {"aging_per_hour", config.aging_per_hour},
      {"fair_half_life", config.fair_half_life_s},
      {"fair_default_job_gpu_time", config.fair_default_job_gpu_s},
      {"las_thresholds", config.las_thresholds_gpu_s},
      {"min_run_before_preempt", config.min_run_before_preempt_s},
      {"memory_action", memory_action_name(config.memory_action)},
      {"memory_tolerance", config.memory_tolerance_bytes},
      {"balance", config.balance},
      {"overload_utilization", config.overload_utilization},
      {"idle_utilization", config.idle_utilization},
      {"balance_min_gain", config.balance_min_gain},
      {"min_run_before_move", config.min_run_before_move_s},
      {"auto_percentile", config.auto_percentile},
      {"auto_margin", config.auto_margin},
  };
}

}  // namespace fastgpu::sched
