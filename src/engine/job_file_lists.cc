// The two list-valued fields: array (Slurm's --array syntax) and after (Slurm's
// --dependency syntax, restricted to what the store can express: all-of, ok or any).
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>
#include <set>
#include <string>

#include "engine/job_file_internal.h"
#include "fastgpu/core/text.h"

namespace fastgpu::engine::internal {
namespace {

using store::DependencyKind;

constexpr std::string_view kArrayExample =
    "use indices such as 0-15, 1,3,5, 0-15:2 (every 2nd), with %4 to run at most 4 at once";
constexpr std::string_view kAfterExample =
    "use a job id (42), afterok:ID[:ID...] (after they complete), afterany:ID (after it ends, "
    "however), or in a job file an earlier job's name";

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  while (true) {
    const std::size_t at = text.find(separator);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return parts;
    text.remove_prefix(at + 1);
  }
}

std::optional<std::uint64_t> unsigned_number(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

Status array_error(std::string_view text, std::string_view problem) {
  return invalid_argument(fmt::format("array '{}': {}; {}", text, problem, kArrayExample));
}

std::optional<std::uint32_t> array_index(std::string_view text) {
  const std::optional<std::uint64_t> value = unsigned_number(trim(text));
  if (!value || *value > std::numeric_limits<std::uint32_t>::max()) return std::nullopt;
  return static_cast<std::uint32_t>(*value);
}

// One comma-separated part: "7", "0-15" or "0-15:2", added to `indices`.
Status add_array_part(std::string_view original, std::string_view part,
                      std::set<std::uint32_t>& indices) {
  std::uint64_t step = 1;
  const std::size_t colon = part.find(':');
  if (colon != std::string_view::npos) {
    const std::optional<std::uint64_t> parsed = unsigned_number(trim(part.substr(colon + 1)));
    if (!parsed || *parsed == 0 || *parsed > std::numeric_limits<std::uint32_t>::max()) {
      return array_error(original,
                         fmt::format("step '{}' must be a whole number from 1 to 4294967295",
                                     part.substr(colon + 1)));
    }
    step = *parsed;
    part = part.substr(0, colon);
  }
  const std::size_t dash = part.find('-');
  const std::optional<std::uint32_t> first = array_index(part.substr(0, dash));
  const std::optional<std::uint32_t> last =
      dash == std::string_view::npos ? first : array_index(part.substr(dash + 1));
  if (!first || !last) {
    const std::string_view bad = trim(!first ? part.substr(0, dash) : part.substr(dash + 1));
    if (!bad.empty() && bad.find_first_not_of("0123456789") == std::string_view::npos) {
      return array_error(original, fmt::format("index {} is above the largest, {}", bad,
                                               std::numeric_limits<std::uint32_t>::max()));
    }
    return array_error(original, fmt::format("'{}' is not an index (a whole number >= 0) or a "
                                             "range FIRST-LAST",
                                             trim(part)));
  }
  if (*first > *last) {
    return array_error(original, fmt::format("range '{}' ends before it starts", trim(part)));
  }
  for (std::uint64_t index = *first; index <= *last; index += step) {
    if (!indices.insert(static_cast<std::uint32_t>(index)).second) {
      return array_error(original, fmt::format("index {} is listed twice", index));
    }
    if (indices.size() > kMaxArrayMembers) {
      return array_error(original, fmt::format("more than {} members", kMaxArrayMembers));
    }
  }
  return {};
}

Status after_error(std::string_view text, std::string_view problem) {
  return invalid_argument(fmt::format("after '{}': {}; {}", text, problem, kAfterExample));
}

Result<AfterTarget> after_target(std::string_view original, std::string_view text,
                                 DependencyKind kind) {
  text = trim(text);
  if (text.empty()) return after_error(original, "a job id or name is missing");
  if (text.find_first_not_of("0123456789") == std::string_view::npos) {
    const std::optional<std::uint64_t> id = unsigned_number(text);
    if (!id || *id == 0) {
      return after_error(original, fmt::format("'{}' is not a job id (ids start at 1)", text));
    }
    return AfterTarget{kind, JobId(*id), {}};
  }
  if (text.find('_') != std::string_view::npos &&
      std::all_of(text.begin(), text.end(), [](char c) { return std::isdigit(c) || c == '_'; })) {
    return after_error(original, fmt::format("'{}' is Slurm's JOB_TASK form; write the array "
                                             "member's own job id",
                                             text));
  }
  FASTGPU_RETURN_IF_ERROR(
      store::check_job_name(text).with_context(fmt::format("after '{}'", original)));
  return AfterTarget{kind, std::nullopt, std::string(text)};
}

Result<DependencyKind> after_kind(std::string_view original, std::string_view type) {
  if (type == "afterok") return DependencyKind::kAfterOk;
  if (type == "afterany") return DependencyKind::kAfterAny;
  return after_error(original, fmt::format("dependency type '{}' is not supported", type));
}

// One comma-separated item: "12", "prep", "afterok:12:13".
Status add_after_item(std::string_view original, std::string_view item,
                      std::vector<AfterTarget>& targets) {
  std::vector<std::string_view> fields = split(trim(item), ':');
  // Slurm's --dependency=singleton (one job of a name at a time) has no target; read as a
  // name, it was told "not a job id" as if a job called singleton were meant.
  if (fields.size() == 1 && trim(fields.front()) == "singleton") {
    return after_error(original, "dependency type 'singleton' is not supported");
  }
  DependencyKind kind = DependencyKind::kAfterOk;  // a bare target waits for success
  if (fields.size() > 1) {
    Result<DependencyKind> parsed = after_kind(original, trim(fields.front()));
    if (!parsed.ok()) return parsed.status();
    kind = *parsed;
    fields.erase(fields.begin());
  }
  for (std::string_view field : fields) {
    Result<AfterTarget> target = after_target(original, field, kind);
    if (!target.ok()) return target.status();
    if (std::find(targets.begin(), targets.end(), *target) == targets.end()) {
      targets.push_back(*std::move(target));
    }
  }
  return {};
}

}  // namespace

Result<ArrayIndices> parse_array(std::string_view original) {
  std::string_view text = trim(original);
  ArrayIndices array;
  const std::size_t percent = text.find('%');
  if (percent != std::string_view::npos) {
    const std::optional<std::uint64_t> limit = unsigned_number(trim(text.substr(percent + 1)));
    if (!limit || *limit == 0 || *limit > std::numeric_limits<std::uint32_t>::max()) {
      return array_error(text, fmt::format("the limit after '%' ('{}') is not a whole number "
                                           "above 0",
                                           text.substr(percent + 1)));
    }
    array.max_running = static_cast<std::uint32_t>(*limit);
    text = trim(text.substr(0, percent));
  }
  if (text.empty()) return array_error(original, "no indices");
  std::set<std::uint32_t> indices;
  for (std::string_view part : split(text, ',')) {
    if (trim(part).empty()) return array_error(original, "an empty item between commas");
    FASTGPU_RETURN_IF_ERROR(add_array_part(trim(original), part, indices));
  }
  array.indices.assign(indices.begin(), indices.end());
  return array;
}

Result<std::vector<AfterTarget>> parse_after(std::string_view original) {
  const std::string_view text = trim(original);
  if (text.empty()) return after_error(text, "empty");
  if (text.find('?') != std::string_view::npos) {
    return after_error(text,
                       "FastGPU waits for all listed jobs; Slurm's '?' (any of) is not "
                       "supported");
  }
  std::vector<AfterTarget> targets;
  for (std::string_view item : split(text, ',')) {
    FASTGPU_RETURN_IF_ERROR(add_after_item(text, item, targets));
  }
  return targets;
}

}  // namespace fastgpu::engine::internal
