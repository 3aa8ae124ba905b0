// Units users type and read: memory sizes and durations.
//
// Memory: "20G", "20GB", "20GiB", "512MiB", "1.5GB", "4096" (bytes), "80g". FastGPU follows
// the convention of nvidia-smi, Slurm and PyTorch users: K/M/G/T and KiB/MiB/GiB/TiB are
// binary (1G = 2^30 bytes); KB/MB/GB/TB with the explicit "B" are decimal (1GB = 10^9).
// Durations: "90s", "15m", "2h30m", "1d", "1.5h", plain seconds "3600", and Slurm's
// "MM:SS", "HH:MM:SS", "D-HH", "D-HH:MM", "D-HH:MM:SS". A bare number is always seconds, so
// Slurm's bare "MM" form (a number of minutes) must be written "MM:00" or "MMm" here.
// In the Slurm forms the leading field is unbounded ("90:00" is 90 minutes) and every later
// field must stay below its carry limit (hours < 24 after a day, minutes and seconds < 60).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "fastgpu/core/result.h"

namespace fastgpu {

using Bytes = std::uint64_t;
using Seconds = std::chrono::duration<double>;

// Parses a memory size. A fraction rounds to the nearest byte ("0.1K" is 102); a plain byte
// count must be whole. Sizes above 2^64 - 1 bytes, signs, exponents and unknown units are
// errors that name the text and show a valid example. Surrounding whitespace is ignored.
Result<Bytes> parse_bytes(std::string_view text);

// Formats bytes with a binary unit and at most one decimal: "20.0 GiB", "512 MiB", "0 B".
// Values of 100 or more in their unit print without a decimal (three significant digits).
std::string format_bytes(Bytes bytes);

// Formats bytes as the shortest exact form parse_bytes reads back: "20G", "512M", "1536".
std::string format_bytes_exact(Bytes bytes);

// Parses a duration in the formats above. Errors name the text and show valid examples.
Result<Seconds> parse_duration(std::string_view text);

// Formats a duration compactly: "45s", "2m05s", "2h30m", "1d04h"; under 10 s to a tenth,
// shown only when it is not zero ("2.5s", "2s", "0s" for anything under 0.05 s).
std::string format_duration(Seconds duration);

// Formats a duration as the shortest exact form parse_duration reads back, for settings
// written as a user writes them: "90s" is "1m30s", 3600 s "1h", 93600 s "1d2h", 0.5 s "0.5s"
// (fractions of a second to the millisecond); "0s" for zero or less.
std::string format_duration_exact(Seconds duration);

}  // namespace fastgpu
