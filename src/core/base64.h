// Base64 (RFC 4648, with padding) for carrying raw bytes in JSON: a job's log may hold
// bytes that are not UTF-8, which a JSON string cannot carry unchanged.
#pragma once

#include <string>
#include <string_view>

#include "fastgpu/core/result.h"

namespace fastgpu {

std::string base64_encode(std::string_view bytes);
// The same, appended to `out` (a log chunk goes straight into its answer's text).
void base64_append(std::string& out, std::string_view bytes);
// Refuses text that is not base64 (a character outside the alphabet, a length that is not
// a multiple of 4, padding anywhere but the end), naming the first bad place.
Result<std::string> base64_decode(std::string_view text);

}  // namespace fastgpu
