// Small text helpers shared by the parsers of user input (sizes and durations, job files,
// simulated-device specs).
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace fastgpu {

// `text` without leading and trailing white space (std::isspace in the "C" locale).
std::string_view trim(std::string_view text);

// `text` with the ASCII letters in lower case; other bytes unchanged.
std::string ascii_lower(std::string_view text);

}  // namespace fastgpu
