#include "cli/run_progress.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

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
    }
  }
  return progress;
}

std::string progress_text(const BatchProgress& progress, std::size_t total, double elapsed_s) {
  // The reasons most jobs wait for first; ties by name.
  std::vector<std::pair<std::string, std::size_t>> reasons(progress.waiting.begin(),
                                                           progress.waiting.end());
  std::stable_sort(reasons.begin(), reasons.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string why;
  for (const auto& [reason, jobs] : reasons) {
    why += fmt::format("{}{} {}", why.empty() ? " (" : ", ", jobs, reason);
  }
  if (!why.empty()) why += ")";
  return fmt::format("{}/{} done ({} failed), {} running, {} queued{}, {:.0f}s", progress.done(),
                     total, progress.failed, progress.running, progress.queued, why, elapsed_s);
}

}  // namespace fastgpu::cli
