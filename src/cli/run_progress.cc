#include "cli/run_progress.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "cli/display_width.h"

namespace fastgpu::cli {

BatchProgress count_progress(const std::vector<api::Json>& jobs) {
  BatchProgress progress;
  for (const api::Json& job : jobs) {
    const std::string state = job["state"].get<std::string>();
    if (state == "QUEUED" || state == "PREEMPTED") {
      ++progress.queued;
      const auto waiting = job.find("waiting");
      if (waiting != job.end() && waiting->is_object()) {
        ++progress.waiting[waiting->value("reason", std::string("?"))];
      }
    } else if (state == "RUNNING") {
      ++progress.running;
    } else if (state == "COMPLETED") {
      ++progress.completed;
    } else {
      ++progress.failed;
      ++progress.ended_otherwise[state];
    }
  }
  return progress;
}

namespace {

std::string line_text(const BatchProgress& progress, std::size_t total, double elapsed_s,
                      bool with_reasons) {
  // The reasons most jobs wait for first; ties by name.
  std::vector<std::pair<std::string, std::size_t>> reasons;
  if (with_reasons) reasons.assign(progress.waiting.begin(), progress.waiting.end());
  std::stable_sort(reasons.begin(), reasons.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string why;
  for (const auto& [reason, jobs] : reasons) {
    why += fmt::format("{}{} {}", why.empty() ? " (" : ", ", jobs, reason);
  }
  if (!why.empty()) why += ")";
  // "0 failed" while nothing ended otherwise; then each other end, in the report's words.
  std::string ends;
  for (const auto& [state, words] :
       {std::pair{"FAILED", "failed"}, {"CANCELLED", "cancelled"}, {"TIMEOUT", "timed out"}}) {
    const auto counted = progress.ended_otherwise.find(state);
    const std::size_t jobs = counted == progress.ended_otherwise.end() ? 0 : counted->second;
    if (jobs > 0 || (ends.empty() && progress.failed == 0)) {
      ends += fmt::format("{}{} {}", ends.empty() ? "" : ", ", jobs, words);
    }
  }
  for (const auto& [state, jobs] : progress.ended_otherwise) {  // a state of a newer daemon
    if (state != "FAILED" && state != "CANCELLED" && state != "TIMEOUT") {
      ends += fmt::format("{}{} {}", ends.empty() ? "" : ", ", jobs, state);
    }
  }
  return fmt::format("{}/{} done ({}), {} running, {} queued{}, {:.0f}s", progress.done(), total,
                     ends, progress.running, progress.queued, why, elapsed_s);
}

}  // namespace

std::string progress_text(const BatchProgress& progress, std::size_t total, double elapsed_s) {
  return line_text(progress, total, elapsed_s, true);
}

std::string progress_line(const BatchProgress& progress, std::size_t total, double elapsed_s,
                          std::size_t columns) {
  std::string line = line_text(progress, total, elapsed_s, true);
  if (columns == 0 || display_width(line) <= columns) return line;
  line = line_text(progress, total, elapsed_s, false);
  return display_width(line) <= columns ? line : fit_to_width(line, columns);
}

}  // namespace fastgpu::cli
