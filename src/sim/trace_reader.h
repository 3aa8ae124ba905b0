// Machinery the per-format trace readers share: collecting jobs and malformed rows under
// ReaderOptions, and a CSV driver. Internal to src/sim.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "fastgpu/core/result.h"
#include "fastgpu/sim/trace.h"
#include "sim/csv.h"

namespace fastgpu::sim {

// Collects one read's jobs and report.
class TraceBuilder {
 public:
  TraceBuilder(std::string_view format, const std::string& path, const ReaderOptions& options);

  void count_row() { ++trace_.report.rows_read; }
  void add(TraceJob job) { trace_.jobs.push_back(std::move(job)); }

  // Records a malformed row. In fatal mode returns the error that ends the read (naming the
  // file, line, column and value); in skip mode counts it and returns ok.
  Status reject(std::size_t line, const RowError& error);
  void warn(std::string warning) { trace_.report.warnings.push_back(std::move(warning)); }
  // Warns that column or field `name` (`kind`) is not one the format reads, naming the
  // nearest of `known` when it looks like a typo of it ("gpu_memory": did you mean gpu_mem?).
  void warn_unknown(std::string_view kind, std::string_view name,
                    const std::vector<std::string>& known);

  // An error about the file as a whole (e.g. a missing column), naming format and path.
  Status file_error(const std::string& message) const;

  std::vector<TraceJob>& jobs() { return trace_.jobs; }

  // Sorts the jobs by submit time (stable) and hands the trace over.
  Trace finish();

 private:
  Trace trace_;
  std::string path_;
  ReaderOptions options_;
};

// Fills `job` from one row; problems go to row.fail(). The line number is already set.
using CsvRowParser = std::function<void(CsvRow& row, TraceJob& job)>;

// How one CSV format is read.
struct CsvFormat {
  std::string_view name;                   // "philly"
  std::vector<std::string_view> required;  // columns the header must have
  std::vector<std::string_view> known;     // if non-empty, other columns draw a warning
  CsvRowParser parse_row;
  // Runs after the last row, before the stable sort (e.g. to make times relative).
  std::function<void(std::vector<TraceJob>&)> finish;
  bool comments = false;  // lines starting with '#' are skipped
};

// Reads a CSV trace whose first non-blank line is a header with format.required columns.
// Each later non-blank line is split, checked against the header's field count, and parsed.
Result<Trace> read_csv_trace(const std::string& path, const CsvFormat& format,
                             const ReaderOptions& options);
// The same on text already read from `path`.
Result<Trace> parse_csv_trace(const std::string& path, std::string_view text,
                              const CsvFormat& format, const ReaderOptions& options);

// Per-format readers, registered by name in trace.cc.
Result<Trace> read_philly_trace(const std::string& path, const ReaderOptions& options);
Result<Trace> read_openb_trace(const std::string& path, const ReaderOptions& options);
Result<Trace> read_chronus_trace(const std::string& path, const ReaderOptions& options);
Result<Trace> read_tiresias_trace(const std::string& path, const ReaderOptions& options);
Result<Trace> read_generic_trace(const std::string& path, const ReaderOptions& options);

}  // namespace fastgpu::sim
