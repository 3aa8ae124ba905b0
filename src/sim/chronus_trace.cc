// Chronus's Philly-derived deadline traces (trace_job_Philly_{SLO,MIX1,MIX2}.csv):
//   job_id,user,num_gpu,submit_time,iterations,model_name,duration,interval,
//   expect_time_list,expect_value_list,best_effort,job_type
// Deadlines follow Chronus (time_aware_with_lease.py): deadline = submit_time + expect_time.
// expect_time_list / expect_value_list are '-'-separated; soft jobs have several steps,
// strict jobs one. Best-effort jobs (best_effort = 1) have no deadline. `user` is the VC
// ("vc_6214e9"); the "vc_" prefix is dropped so it matches philly_vc.csv and Philly traces.
#include "sim/trace_reader.h"

namespace fastgpu::sim {
namespace {

// Splits "159-189-229" into numbers; nullopt when a part is not a number.
std::optional<std::vector<double>> split_numbers(std::string_view text) {
  std::vector<double> numbers;
  for (;;) {
    const std::size_t dash = text.find('-');
    const std::optional<double> number = parse_double(text.substr(0, dash));
    if (!number) return std::nullopt;
    numbers.push_back(*number);
    if (dash == std::string_view::npos) return numbers;
    text.remove_prefix(dash + 1);
  }
}

void parse_deadlines(CsvRow& row, TraceJob& job) {
  const auto times = split_numbers(row.text("expect_time_list"));
  const auto values = split_numbers(row.text("expect_value_list"));
  if (!times) {
    return row.fail("expect_time_list", row.text("expect_time_list"),
                    "is not a '-'-separated list of seconds");
  }
  if (!values || values->size() != times->size()) {
    return row.fail("expect_value_list", row.text("expect_value_list"),
                    "does not have one value per expect_time_list entry");
  }
  for (std::size_t i = 0; i < times->size(); ++i) {
    job.deadline_steps.push_back({job.submit_s + (*times)[i], (*values)[i]});
  }
  job.deadline_s = job.deadline_steps.front().deadline_s;
}

void parse_chronus_row(CsvRow& row, TraceJob& job) {
  job.id = std::string(row.text("job_id"));
  if (job.id.empty()) row.fail("job_id", "", "is empty; a job id is required");
  std::string_view user = row.text("user");
  if (user.starts_with("vc_")) user.remove_prefix(3);
  job.user = std::string(user);
  job.gpu_count = static_cast<int>(row.integer("num_gpu", 0, 65536));
  job.submit_s = row.number("submit_time");
  job.duration_s = row.number("duration");
  if (*job.duration_s < 0) row.fail("duration", row.text("duration"), "is negative");
  job.signature = std::string(row.text("model_name"));
  job.job_class = std::string(row.text("job_type"));
  const bool best_effort = row.integer("best_effort", 0, 1) == 1;
  if (!best_effort) parse_deadlines(row, job);
}

}  // namespace

Result<Trace> read_chronus_trace(const std::string& path, const ReaderOptions& options) {
  CsvFormat format;
  format.name = "chronus";
  format.required = {"job_id",
                     "user",
                     "num_gpu",
                     "submit_time",
                     "duration",
                     "expect_time_list",
                     "expect_value_list",
                     "best_effort",
                     "job_type"};
  format.parse_row = parse_chronus_row;
  return read_csv_trace(path, format, options);
}

}  // namespace fastgpu::sim
