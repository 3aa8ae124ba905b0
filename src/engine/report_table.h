// The reports' text tables and JSON (the batch report, `history`, the usage report): what
// they print alike; private to src/engine.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace fastgpu::engine {

// A figure that applies but was not measured, and one that does not apply (a job that never
// ran; a CPU-only job's GPU figures).
inline constexpr const char* kMissing = "n/a";
inline constexpr const char* kNotApplicable = "-";
// Why an energy figure is an estimate.
inline constexpr const char* kEstimateWhy =
    "apportioned among jobs sharing a GPU, or prorated over the sample intervals a job "
    "started and ended in";

// The line under a table with an estimated energy (`*`).
inline std::string estimate_footnote() {
  return std::string("* energy an estimate: ") + kEstimateWhy + "\n";
}

// A figure in JSON: null when missing, never 0.
template <typename T>
nlohmann::ordered_json or_null(const std::optional<T>& value) {
  return value ? nlohmann::ordered_json(*value) : nlohmann::ordered_json(nullptr);
}

// Columns padded to their widest cell; text columns (`left`: NAME, USER, STATE) to the
// left, figures to the right, so numbers line up. Trailing spaces are cut.
std::string render_rows(const std::vector<std::vector<std::string>>& rows,
                        const std::vector<bool>& left);

}  // namespace fastgpu::engine
