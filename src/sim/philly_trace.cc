// Philly per-job CSV as the Pollux and Sia artifacts ship it:
//   timestamp,duration,num_gpus,gpu_time,cluster
// `timestamp` is the submit time as a zone-less calendar date; it becomes seconds after the
// earliest job. `cluster` is the VC id, which matches `vc` in philly_vc.csv.
#include <algorithm>
#include <limits>

#include "sim/civil_time.h"
#include "sim/trace_reader.h"

namespace fastgpu::sim {
namespace {

constexpr std::int64_t kMaxGpus = 65536;

void parse_philly_row(CsvRow& row, TraceJob& job) {
  const std::string_view timestamp = row.text("timestamp");
  const std::optional<std::int64_t> submit = parse_civil_seconds(timestamp);
  if (!submit) row.fail("timestamp", timestamp, "is not a date 'YYYY-MM-DD HH:MM:SS'");
  job.submit_s = static_cast<double>(submit.value_or(0));
  job.duration_s = row.number("duration");
  if (*job.duration_s < 0) row.fail("duration", row.text("duration"), "is negative");
  job.gpu_count = static_cast<int>(row.integer("num_gpus", 0, kMaxGpus));
  job.user = std::string(row.text("cluster"));
  if (job.user.empty()) row.fail("cluster", "", "is empty; a VC id is required");
}

// Makes submit times relative to the earliest job, so the trace starts at 0.
void rebase_to_first_job(std::vector<TraceJob>& jobs) {
  double first = std::numeric_limits<double>::infinity();
  for (const TraceJob& job : jobs) first = std::min(first, job.submit_s);
  for (TraceJob& job : jobs) job.submit_s -= first;
}

}  // namespace

Result<Trace> read_philly_trace(const std::string& path, const ReaderOptions& options) {
  std::size_t row_index = 0;
  const CsvRowParser parse = [&row_index](CsvRow& row, TraceJob& job) {
    job.id = std::to_string(row_index++);
    parse_philly_row(row, job);
  };
  CsvFormat format;
  format.name = "philly";
  format.required = {"timestamp", "duration", "num_gpus", "cluster"};
  format.parse_row = parse;
  format.finish = rebase_to_first_job;
  return read_csv_trace(path, format, options);
}

}  // namespace fastgpu::sim
