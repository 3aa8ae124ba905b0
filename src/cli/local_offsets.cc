#include "cli/local_offsets.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdint>

namespace fastgpu::cli {
namespace {

// Seconds east of UTC in this process's time zone at `moment`.
std::int64_t offset_at(std::time_t moment) {
  std::tm local{};
  if (::localtime_r(&moment, &local) == nullptr) return 0;
  return local.tm_gmtoff;
}

store::WallTime wall_time(std::time_t seconds) {
  return store::WallTime(std::chrono::seconds(seconds));
}

}  // namespace

engine::UtcOffsets local_utc_offsets(std::time_t from, std::time_t to) {
  constexpr std::time_t kDay = 86400;
  engine::UtcOffsets offsets{offset_at(from), {}};
  std::int64_t offset = offsets.initial;
  for (std::time_t day = from; day < to;) {
    const std::time_t next = day + kDay;
    if (offset_at(next) == offset) {
      day = next;
      continue;
    }
    // The first second in (day, next] with another offset.
    std::time_t before = day;
    std::time_t after = next;
    while (after - before > 1) {
      const std::time_t middle = before + (after - before) / 2;
      (offset_at(middle) == offset ? before : after) = middle;
    }
    offset = offset_at(after);
    offsets.changes.emplace_back(wall_time(after), offset);
    day = after;
  }
  return offsets;
}

std::string utc_offsets_query(const engine::UtcOffsets& offsets) {
  std::string query = fmt::format("&utc_offset_s={}", offsets.initial);
  for (std::size_t i = 0; i < offsets.changes.size(); ++i) {
    const auto& [at, offset] = offsets.changes[i];
    query += fmt::format(
        "{}{}:{}", i == 0 ? "&utc_offset_changes=" : ",",
        std::chrono::duration_cast<std::chrono::microseconds>(at.time_since_epoch()).count(),
        offset);
  }
  return query;
}

}  // namespace fastgpu::cli
