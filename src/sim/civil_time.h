// Calendar timestamps without time zones, as trace files write them.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace fastgpu::sim {

// Parses "YYYY-MM-DD HH:MM:SS" (also with 'T' between date and time, and an optional
// trailing 'Z') into seconds since 1970-01-01 00:00:00 of the same, unnamed, zone. No zone
// is applied: a trace's local times stay local, and only differences matter. Rejects
// impossible dates (2017-02-30) and times (24:00:00). nullopt when the text is not one.
std::optional<std::int64_t> parse_civil_seconds(std::string_view text);

// Days from 1970-01-01 to the given proleptic Gregorian date (negative before 1970).
std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day);

}  // namespace fastgpu::sim
