#include "core/batch_error.h"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <string>

namespace fastgpu {

Status located_in_batch(const Status& refused, std::size_t index, std::string_view lead) {
  std::string_view problem = refused.message();
  if (problem.starts_with(lead)) problem.remove_prefix(lead.size());
  return refused.with_batch_job(index, std::string(problem));
}

std::size_t distinct_jobs(const std::vector<BatchJobError>& jobs) {
  std::vector<std::size_t> indexes;
  indexes.reserve(jobs.size());
  for (const BatchJobError& job : jobs) indexes.push_back(job.index);
  std::sort(indexes.begin(), indexes.end());
  return static_cast<std::size_t>(std::unique(indexes.begin(), indexes.end()) - indexes.begin());
}

Status refused_jobs(const std::vector<Status>& refusals, std::size_t jobs_refused) {
  assert(!refusals.empty() && "refused_jobs needs a refusal");
  if (refusals.size() == 1) return refusals.front();
  std::vector<BatchJobError> jobs;
  std::vector<std::string> lines;
  for (const Status& refusal : refusals) {
    for (const BatchJobError& job : refusal.batch_jobs()) {
      jobs.push_back(job);
      lines.push_back(job.message.empty() ? refusal.message() : job.message);
    }
    if (refusal.batch_jobs().empty()) lines.push_back(refusal.message());
  }
  const std::size_t refused = jobs_refused > 0 ? jobs_refused : distinct_jobs(jobs);
  // Worded as a job file's errors are (engine/job_file_yaml.cc), so `submit` and the API
  // read as `run` does.
  const std::string head = fmt::format(
      "{} job{} of the batch {} refused{}; nothing was submitted (a batch is taken whole or "
      "not at all):",
      refused, refused == 1 ? "" : "s", refused == 1 ? "is" : "are",
      refused == lines.size() ? std::string() : fmt::format(", for {} problems", lines.size()));
  const std::string text =
      told_one_a_line(head, lines, "refusal", "submit the batch again", [&](std::size_t last) {
        return jobs.size() == lines.size()
                   ? fmt::format(" after job {} of the batch", jobs[last].index)
                   : std::string();
      });
  const Status told(refusals.front().code(), text);
  return jobs.empty() ? told : told.with_batch_jobs(std::move(jobs));
}

std::string told_one_a_line(std::string head, const std::vector<std::string>& lines,
                            std::string_view noun, std::string_view then,
                            const std::function<std::string(std::size_t)>& after) {
  const std::size_t shown = std::min(lines.size(), kMaxBatchErrorsTold);
  for (std::size_t i = 0; i < shown; ++i) head += "\n" + lines[i];
  if (shown < lines.size()) {
    const std::size_t more = lines.size() - shown;
    head += fmt::format("\nand {} more {}{}{}; fix these and {}", more, noun, more == 1 ? "" : "s",
                        after(shown - 1), then);
  }
  return head;
}

}  // namespace fastgpu
