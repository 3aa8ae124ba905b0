// One parser per submit field, shared by `fastgpu submit` flags and YAML job files, so a
// value fails with the same message whichever way it was written.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <string>

#include "engine/job_file_internal.h"
#include "fastgpu/core/text.h"

namespace fastgpu::engine::internal {
namespace {

constexpr Bytes kMinGpuMem = Bytes{1} << 20;

// The whole of `text` as an integer (with an optional sign), or nullopt.
std::optional<std::int64_t> whole_number(std::string_view text) {
  if (text.size() > 1 && text.front() == '+' && text[1] != '-') text.remove_prefix(1);
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

std::optional<double> decimal_number(std::string_view text) {
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() ||
      !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

bool is_bare_number(std::string_view text) {
  return !text.empty() && text.find_first_not_of("0123456789.") == std::string_view::npos &&
         text.find('.') == text.rfind('.') && text != ".";
}

// units.h's message is "duration 'X': PROBLEM; use a duration such as ... 3600 (seconds)";
// the example contradicts --time's minutes, so keep only PROBLEM.
std::string duration_problem(const std::string& message) {
  const std::size_t start = message.find("': ");
  const std::size_t end = message.rfind("; use a duration");
  if (start == std::string::npos || end == std::string::npos || end <= start + 3) return message;
  return message.substr(start + 3, end - start - 3);
}

Status time_error(std::string_view text, std::string_view problem) {
  return invalid_argument(fmt::format(
      "time '{}': {}; use a limit such as 90m, 2h, 1h30m, 1-00:00:00 (Slurm's D-HH:MM:SS), a "
      "bare number of minutes (90), or unlimited",
      text, problem));
}

// Names users bring from Slurm, Kubernetes and shell scripts; only suggested, never accepted.
std::optional<std::string> synonym(const std::string& text) {
  static const std::vector<std::pair<std::vector<std::string>, std::string>> kSynonyms = {
      {{"mem", "memory", "gpu-memory", "gpumem", "mem-per-gpu", "vram"}, "gpu-mem"},
      {{"gpu", "num-gpus", "ngpus", "gres"}, "gpus"},
      {{"time-limit", "timelimit", "walltime", "timeout", "t"}, "time"},
      {{"depends", "depends-on", "dependency", "dependencies", "needs"}, "after"},
      {{"cmd", "script", "run", "exec", "wrap", "args", "argv"}, "command"},
      {{"cwd", "chdir", "dir", "working-dir", "workdir-path", "directory"}, "workdir"},
      {{"environment", "export", "vars"}, "env"},
      {{"job-name", "j", "title"}, "name"},
      {{"nice", "prio"}, "priority"},
      {{"requeue", "restart", "preemptible"}, "restartable"},
      {{"held", "hold-until-released", "user-hold"}, "hold"},
      {{"util-share", "util", "fraction"}, "share"},
      {{"begin-before", "due"}, "deadline"},
      {{"kill-grace", "grace-period", "kill-wait", "killwait", "termination-grace"}, "grace"},
  };
  for (const auto& [aliases, field] : kSynonyms) {
    if (std::find(aliases.begin(), aliases.end(), text) != aliases.end()) return field;
  }
  return std::nullopt;
}

}  // namespace

Result<int> parse_gpus(std::string_view original) {
  const std::string_view text = trim(original);
  const std::optional<std::int64_t> value = whole_number(text);
  constexpr std::string_view kFix = "use 0 for a CPU-only job or a count such as 2";
  if (!value)
    return invalid_argument(fmt::format("gpus '{}' is not a whole number; {}", text, kFix));
  if (*value < 0) return invalid_argument(fmt::format("gpus '{}' is negative; {}", text, kFix));
  if (*value > std::numeric_limits<int>::max()) {
    return invalid_argument(fmt::format("gpus '{}' is too large; {}", text, kFix));
  }
  return static_cast<int>(*value);
}

Result<std::optional<Bytes>> parse_gpu_mem(std::string_view original) {
  const std::string_view text = trim(original);
  if (ascii_lower(text) == "auto") return std::optional<Bytes>();
  Result<Bytes> bytes = parse_bytes(text);
  if (!bytes.ok()) {
    return invalid_argument(fmt::format("gpu-mem: {}; or auto to learn it from earlier runs",
                                        bytes.status().message()));
  }
  if (*bytes == 0) {
    return invalid_argument(fmt::format(
        "gpu-mem '{}' is zero; declare the most memory the job uses on each GPU (e.g. 20G), "
        "or auto to learn it from earlier runs",
        text));
  }
  // A bare number is bytes, as for every size: `gpu-mem: 16` is surely 16G, and placed as
  // 16 bytes it would let jobs overfill a GPU. No job needs less than a mebibyte (a CUDA
  // context alone takes hundreds).
  if (*bytes < kMinGpuMem) {
    const bool bare = std::all_of(text.begin(), text.end(), [](char c) {
      return std::isdigit(static_cast<unsigned char>(c));
    });
    if (bare) {
      return invalid_argument(fmt::format(
          "gpu-mem '{}' is {} bytes; give its unit, e.g. {}G (GiB) or {}GB, or auto to learn it "
          "from earlier runs",
          text, *bytes, text, text));
    }
    return invalid_argument(fmt::format(
        "gpu-mem '{}' is below 1 MiB, less than any job uses on a GPU (its CUDA context alone "
        "takes hundreds of MiB); declare the most it uses, e.g. 20G, or auto",
        text));
  }
  return std::optional<Bytes>(*bytes);
}

Result<std::optional<std::int64_t>> parse_grace(std::string_view original) {
  const std::string_view text = trim(original);
  const auto grace_error = [&](std::string_view problem) {
    return invalid_argument(fmt::format(
        "grace '{}': {}; give the time a stopped job may take to save and exit after SIGTERM "
        "before SIGKILL, such as 30s, 5m or 300 (seconds), at most 1d (default 10s)",
        text, problem));
  };
  double seconds = 0;
  if (is_bare_number(text)) {
    const std::optional<double> bare = decimal_number(text);
    if (!bare) return grace_error("not a number");
    seconds = *bare;  // seconds, as every duration but --time
  } else {
    Result<Seconds> parsed = parse_duration(text);
    if (!parsed.ok()) return grace_error(duration_problem(parsed.status().message()));
    seconds = parsed->count();
  }
  if (!(seconds >= 0)) return grace_error("a grace cannot be negative");
  if (seconds > static_cast<double>(store::kMaxKillGraceSeconds)) {
    return grace_error("longer than a day");
  }
  return std::optional<std::int64_t>(static_cast<std::int64_t>(std::ceil(seconds)));
}

Result<std::optional<std::int64_t>> parse_time_limit(std::string_view original) {
  const std::string_view text = trim(original);
  const std::string word = ascii_lower(text);
  if (word == "unlimited" || word == "infinite") return std::optional<std::int64_t>();
  double seconds = 0;
  if (is_bare_number(text)) {
    const std::optional<double> minutes = decimal_number(text);
    if (!minutes) return time_error(text, "not a number");
    seconds = *minutes * 60.0;  // Slurm's --time reads a bare number as minutes
  } else {
    Result<Seconds> parsed = parse_duration(text);
    if (!parsed.ok()) return time_error(text, duration_problem(parsed.status().message()));
    seconds = parsed->count();
  }
  if (!(seconds > 0)) return time_error(text, "a time limit must be above 0");
  if (seconds > static_cast<double>(store::kMaxTimeLimitSeconds))
    return time_error(text, "longer than a year");
  // Rounded up: a limit is never shorter than the user asked for.
  return std::optional<std::int64_t>(static_cast<std::int64_t>(std::ceil(seconds)));
}

Result<int> parse_priority(std::string_view original) {
  const std::string_view text = trim(original);
  const std::optional<std::int64_t> value = whole_number(text);
  if (!value || *value < std::numeric_limits<int>::min() ||
      *value > std::numeric_limits<int>::max()) {
    return invalid_argument(fmt::format(
        "priority '{}' is not a whole number in the range of an int; use an integer such as 5 "
        "(larger runs first; the default is 0)",
        text));
  }
  return static_cast<int>(*value);
}

namespace {

// true/yes/on/1 or false/no/off/0, in any case; nullopt for another word.
std::optional<bool> boolean_word(std::string_view original) {
  const std::string word = ascii_lower(trim(original));
  if (word == "true" || word == "yes" || word == "on" || word == "1") return true;
  if (word == "false" || word == "no" || word == "off" || word == "0") return false;
  return std::nullopt;
}

}  // namespace

Result<bool> parse_restartable(std::string_view original) {
  if (const std::optional<bool> value = boolean_word(original)) return *value;
  return invalid_argument(
      fmt::format("restartable '{}' is not true or false; write restartable: true (the job may "
                  "be stopped and started again from the beginning) or false",
                  trim(original)));
}

Result<bool> parse_hold(std::string_view original) {
  if (const std::optional<bool> value = boolean_word(original)) return *value;
  return invalid_argument(
      fmt::format("hold '{}' is not true or false; write hold: true (the job is queued held, "
                  "and starts once released: fastgpu release ID) or false",
                  trim(original)));
}

Result<double> parse_share(std::string_view original) {
  std::string_view text = trim(original);
  const bool percent = !text.empty() && text.back() == '%';
  if (percent) text.remove_suffix(1);
  std::optional<double> value = decimal_number(trim(text));
  constexpr std::string_view kFix =
      "use the fraction of one GPU's compute the job needs, e.g. 0.5 or 50%, or 1 for a GPU of "
      "its own";
  if (!value) {
    return invalid_argument(fmt::format("share '{}' is not a number; {}", trim(original), kFix));
  }
  if (percent) *value /= 100.0;
  if (!(*value > 0.0 && *value <= 1.0)) {
    return invalid_argument(fmt::format("share '{}' is outside (0, 1]; {}", trim(original), kFix));
  }
  return *value;
}

Result<std::string> resolve_workdir(std::string_view original, const std::filesystem::path& base,
                                    const std::vector<std::string>& environment) {
  const std::string_view text = trim(original);
  if (text.empty()) {
    return invalid_argument("workdir is empty; give a folder, e.g. workdir: /data/run1");
  }
  std::filesystem::path path(text);
  if (text == "~" || text.starts_with("~/")) {
    const auto home = std::find_if(environment.begin(), environment.end(),
                                   [](const std::string& e) { return e.starts_with("HOME="); });
    if (home == environment.end() || home->size() == 5) {
      return invalid_argument(fmt::format(
          "workdir '{}': HOME is not set, so '~' has no meaning; write the full path", text));
    }
    path = std::filesystem::path(home->substr(5)) /
           std::string(text.substr(std::min<std::size_t>(2, text.size())));
  } else if (path.is_relative()) {
    path = base / path;
  }
  std::string normal = path.lexically_normal().string();
  if (normal.size() > 1 && normal.back() == '/') normal.pop_back();
  return normal;
}

Status check_env_key(std::string_view key) {
  constexpr std::string_view kFix = "use a name such as CUDA_CACHE_PATH";
  if (key.empty())
    return invalid_argument(fmt::format("env: a variable has an empty name; {}", kFix));
  if (key.find('=') != std::string_view::npos) {
    return invalid_argument(fmt::format("env: variable name '{}' contains '='; {}", key, kFix));
  }
  for (char c : key) {
    if (c == '\0' || std::isspace(static_cast<unsigned char>(c))) {
      return invalid_argument(
          fmt::format("env: variable name '{}' contains a space or NUL; {}", key, kFix));
    }
  }
  return {};
}

Result<std::vector<std::string>> merge_environment(
    const std::vector<std::string>& inherited,
    const std::vector<std::pair<std::string, std::string>>& overrides) {
  std::vector<std::string> merged = inherited;
  for (const auto& [key, value] : overrides) {
    FASTGPU_RETURN_IF_ERROR(check_env_key(key));
    const std::string prefix = key + "=";
    const auto same_key = [&](const std::string& entry) { return entry.starts_with(prefix); };
    const auto existing = std::find_if(merged.begin(), merged.end(), same_key);
    if (existing != merged.end()) {
      *existing = prefix + value;
    } else {
      merged.push_back(prefix + value);
    }
  }
  return merged;
}

std::optional<std::string> closest_name(std::string_view text,
                                        const std::vector<std::string>& known) {
  std::string normal = ascii_lower(text);
  std::replace(normal.begin(), normal.end(), '_', '-');
  if (std::optional<std::string> field = synonym(normal)) {
    if (std::find(known.begin(), known.end(), *field) != known.end()) return field;
  }
  return nearest_name(normal, known);
}

}  // namespace fastgpu::engine::internal
