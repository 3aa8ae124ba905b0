// Writing a file whole or not at all.
#pragma once

#include <filesystem>
#include <string_view>

#include "fastgpu/core/result.h"

namespace fastgpu {

// Writes `text` to a file beside `path` (".NAME.PID.partial") and renames it over `path`, so
// a reader of `path` finds the old file or the new one whole, never half of one. On a
// failure the partial file is removed and `path` is left as it was; the error
// (kFailedPrecondition) names the file and the cause.
Status write_whole_file(const std::filesystem::path& path, std::string_view text);

}  // namespace fastgpu
