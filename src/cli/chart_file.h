// The file a --chart flag names (`simulate --chart`, `run --chart`): checked before the
// work whose charts it will hold, so that nothing runs for a chart that cannot be written.
#pragma once

#include <optional>
#include <string>

namespace fastgpu::cli {

// A failure with the exit code it maps to (docs/cli.md: 1 fixable, 2 bad usage).
struct Failure {
  int exit_code;
  std::string message;
};

// When `path` is set: a usage failure (2) when it is not named .svg, .html or .htm, and a
// failure (1) with the system's reason when it cannot be written (no such folder, no
// permission). The file is not created.
std::optional<Failure> check_chart_path(const std::string& path);

// Prints `failure` as `verb`'s error on stderr; its exit code.
int report_failure(const std::string& verb, const Failure& failure);

}  // namespace fastgpu::cli
