// The reports' text tables (the batch report, `history`, the usage report); private to
// src/engine.
#pragma once

#include <string>
#include <vector>

namespace fastgpu::engine {

// Columns padded to their widest cell; text columns (`left`: NAME, USER, STATE) to the
// left, figures to the right, so numbers line up. Trailing spaces are cut.
std::string render_rows(const std::vector<std::vector<std::string>>& rows,
                        const std::vector<bool>& left);

}  // namespace fastgpu::engine
