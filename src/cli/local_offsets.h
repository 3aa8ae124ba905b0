// This machine's time zone (TZ, or the system's) as `report --by day` sends it to the daemon:
// its offsets from UTC over a span, each change to or from summer time to the second, so that
// a report's days are those `history` shows each job's end on.
#pragma once

#include <ctime>
#include <string>

#include "fastgpu/engine/usage_report.h"

namespace fastgpu::cli {

// The offsets in force from `from` to `to`: the one at `from`, then each change. Read a day at
// a time (7,300 localtime_r calls for 20 years, about a millisecond), each change found within
// its day by halving; two changes within one day would be missed (no zone has them).
engine::UtcOffsets local_utc_offsets(std::time_t from, std::time_t to);

// GET /v1/usage's query for them: "&utc_offset_s=3600", then "&utc_offset_changes=AT_US:S,..."
// when there is a change (docs/api.md).
std::string utc_offsets_query(const engine::UtcOffsets& offsets);

}  // namespace fastgpu::cli
