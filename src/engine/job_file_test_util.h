// Helpers for the job-file tests: one client context, and the two ways in (flags, YAML).
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "fastgpu/engine/job_file.h"

namespace fastgpu::engine::testing {

// 2027-01-15T08:00:00Z, a fixed "now" for submit times and relative deadlines.
inline store::WallTime submit_time() {
  return store::WallTime(std::chrono::seconds(1'800'000'000));
}

inline SubmitContext alice() {
  SubmitContext context;
  context.working_dir = "/home/alice/project";
  context.environment = {"HOME=/home/alice", "PATH=/usr/bin:/bin", "LANG=C.UTF-8"};
  context.uid = 1000;
  context.user = "alice";
  context.submit_time = submit_time();
  return context;
}

// `fastgpu submit ARGS...` as the CLI will parse it; a CLI11 parse error becomes a Status.
inline Result<std::vector<store::JobSpec>> from_flags(const std::vector<std::string>& args,
                                                      const SubmitContext& context = alice()) {
  CLI::App app("submit");
  SubmitOptions options;
  add_submit_flags(app, options);
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& error) {
    return invalid_argument(std::string("flags: ") + error.what());
  }
  return build_job_specs(options, context);
}

inline Result<std::vector<store::JobSpec>> from_yaml(const std::string& text,
                                                     const std::string& file = "jobs.yaml",
                                                     const SubmitContext& context = alice()) {
  return parse_job_file(text, file, context);
}

// The message of a failed result ("" when it did not fail, so a matcher shows the miss).
template <typename T>
std::string error_of(const Result<T>& result) {
  return result.ok() ? std::string() : result.status().message();
}

}  // namespace fastgpu::engine::testing
