// The progress line of `fastgpu run`: how many of the batch's jobs ended, run and wait, and
// why the waiting ones wait ("8 queued (6 resources, 2 dependency)").
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "fastgpu/api/job_json.h"

namespace fastgpu::cli {

struct BatchProgress {
  std::size_t queued = 0, running = 0, completed = 0,
              failed = 0;  // failed: any other end
  // The other ends by state (FAILED, CANCELLED, TIMEOUT): the line names each, as the
  // report does, where "13 failed" read as if none was cancelled.
  std::map<std::string, std::size_t> ended_otherwise;
  // Queued jobs by why they wait (the daemon's "waiting" reason), for the line alone:
  // two progresses with the same counts are the same progress.
  std::map<std::string, std::size_t> waiting;
  bool operator==(const BatchProgress& other) const {
    return queued == other.queued && running == other.running && completed == other.completed &&
           failed == other.failed;
  }
  std::size_t done() const { return completed + failed; }
};

// The batch's jobs (GET /v1/jobs records) counted by state.
BatchProgress count_progress(const std::vector<api::Json>& jobs);

// "3/14 done (0 failed), 4 running, 7 queued (5 resources, 2 dependency), 12s";
// "14/14 done (12 failed, 1 cancelled, 1 timed out), 0 running, 0 queued, 40s".
std::string progress_text(const BatchProgress& progress, std::size_t total, double elapsed_s);

// The same line in at most `columns` terminal columns, for a line redrawn in place (a longer
// one wraps, and the redraw clears only its last row: an 80-column terminal kept a trail of
// 94-column lines). The reasons go first, then the line is cut ("...+"). 0: no limit.
std::string progress_line(const BatchProgress& progress, std::size_t total, double elapsed_s,
                          std::size_t columns);

}  // namespace fastgpu::cli
