// The Tiresias simulator's job CSV (60_job.csv):
//   job_id,num_gpu,submit_time,iterations,model_name,duration,interval
// Times are seconds. model_name becomes the signature; iterations and interval (the gap to
// the next submission) are not needed.
#include "sim/trace_reader.h"

namespace fastgpu::sim {
namespace {

void parse_tiresias_row(CsvRow& row, TraceJob& job) {
  job.id = std::string(row.text("job_id"));
  if (job.id.empty()) row.fail("job_id", "", "is empty; a job id is required");
  job.gpu_count = static_cast<int>(row.integer("num_gpu", 0, 65536));
  job.submit_s = row.number("submit_time");
  job.duration_s = row.number("duration");
  if (*job.duration_s < 0) row.fail("duration", row.text("duration"), "is negative");
  job.signature = std::string(row.text("model_name"));
}

}  // namespace

Result<Trace> read_tiresias_trace(const std::string& path, const ReaderOptions& options) {
  CsvFormat format;
  format.name = "tiresias";
  format.required = {"job_id", "num_gpu", "submit_time", "duration"};
  format.parse_row = parse_tiresias_row;
  return read_csv_trace(path, format, options);
}

}  // namespace fastgpu::sim
