// JSON text handled as text: for a daemon's answer too large to parse into a Json tree
// only to print it again (`fastgpu queue --json` with 100,000 jobs is 250 MB).
#pragma once

#include <string>
#include <string_view>

#include "fastgpu/core/result.h"

namespace fastgpu::api {

// `compact` (JSON without whitespace between tokens, as Json::dump() writes it) laid out
// as Json::dump(2) would lay out the same value, byte for byte: the tokens are copied, so
// strings keep their escapes and numbers their digits. Fails (kInvalidArgument) on text
// whose brackets or strings do not close, or with whitespace between tokens; it checks no
// more than that, so `compact` must come from a JSON serializer.
Result<std::string> indent_compact_json(std::string_view compact);

}  // namespace fastgpu::api
