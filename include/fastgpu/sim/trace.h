// Job traces for the simulator: one neutral record type, and readers for the public GPU
// cluster traces (Philly, Alibaba openb, Chronus, Tiresias) and FastGPU's generic format.
//
// Contract shared by every reader:
// - Times are seconds on the trace's own clock, counted from the trace's start (the
//   earliest submit time for traces that carry calendar dates, or the trace's own zero).
// - Input may be plain or gzip-compressed; compression is detected from the content, not
//   from the file name.
// - A malformed row never crashes the reader and never throws. With the default
//   MalformedRows::kSkip it is counted and reported with its line number; with kFatal the
//   first one ends the read with an error Status naming the file, line, column and value.
// - Jobs come out sorted by submit time; the sort is stable, so ties keep file order.
// Thread-safety: the functions are reentrant; a Trace is a plain value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fastgpu/core/result.h"

namespace fastgpu::sim {

// One step of a soft deadline: finishing by `deadline_s` is worth `value`. Chronus's soft
// jobs have several such steps, each later one worth less.
struct DeadlineStep {
  double deadline_s = 0;  // seconds from trace start (absolute, not relative to submit)
  double value = 0;
};

struct TraceJob {
  std::string id;       // unique within the trace when the source has ids; else row index
  double submit_s = 0;  // seconds from trace start
  std::optional<double> duration_s;  // run time when alone on its GPUs; absent if unknown
  int gpu_count = 0;                 // GPUs the job needs (0 for CPU-only tasks)
  int gpu_milli = 1000;              // share of each of those GPUs, 1..1000 (1000 = whole GPU)
  std::optional<std::uint64_t> gpu_mem_bytes;  // per GPU; absent when the trace has none
  std::vector<std::string> gpu_models;         // allowed GPU models; empty = any
  std::optional<double> deadline_s;            // seconds from trace start (absolute); absent = none
  std::vector<DeadlineStep> deadline_steps;    // soft-deadline ladder; empty unless given
  std::string user;             // user or virtual cluster (Philly VC id without "vc_" prefix)
  std::optional<int> priority;  // larger is more important; absent when the trace has none
  std::string job_class;        // openb qos (LS, BE, ...), Chronus job_type (strict, soft, best)
  std::string signature;        // groups repeated jobs (model name for Chronus and Tiresias)
  std::optional<std::int64_t> cpu_milli;      // CPU request in millicores
  std::optional<std::uint64_t> memory_bytes;  // host memory request
  std::size_t line = 0;  // 1-based line in the source file (the header is line 1)

  // GPUs the job occupies in whole-GPU units: gpu_count × gpu_milli / 1000.
  double gpu_demand() const { return gpu_count * (gpu_milli / 1000.0); }
};

// One row a reader could not use.
struct SkippedRow {
  std::size_t line = 0;  // 1-based line number in the source file
  std::string reason;    // "column 'duration': 'abc' is not a number"
};

struct ReadReport {
  std::size_t rows_read = 0;          // data rows seen (header and blank lines not counted)
  std::size_t rows_skipped = 0;       // malformed rows left out; rows_read - rows_skipped = jobs
  std::vector<SkippedRow> skipped;    // the first ReaderOptions::max_reasons_kept of them
  std::vector<std::string> warnings;  // e.g. columns the generic reader ignored

  // "13737 rows read, 2 skipped (line 5: ...; line 9: ...)".
  std::string summary() const;
};

struct Trace {
  std::string name;            // the format and file name, e.g. "philly:philly_dev.csv.gz"
  std::string format;          // "philly", "openb", "chronus", "tiresias" or "generic"
  std::vector<TraceJob> jobs;  // sorted by submit_s, stable
  ReadReport report;
};

enum class MalformedRows {
  kSkip,   // count the row, keep its line number and reason, go on
  kFatal,  // stop at the first malformed row with an error naming file, line, column, value
};

struct ReaderOptions {
  MalformedRows on_malformed = MalformedRows::kSkip;
  std::size_t max_reasons_kept = 20;  // SkippedRow entries kept in the report
  // In fatal mode, the other fix the error names beside fixing the row: how the caller's
  // user asks for malformed rows to be skipped (fastgpu simulate: leave out --strict).
  std::string skip_hint = "read with malformed rows skipped";
};

// Format names read_trace accepts, in a stable order.
const std::vector<std::string>& trace_format_names();

// Reads `path` as the trace format `format` (one of trace_format_names()).
// Errors: unknown format (the message lists the known ones), a missing or unreadable file,
// a missing required column, a corrupt gzip stream, or (kFatal) a malformed row.
Result<Trace> read_trace(std::string_view format, const std::string& path,
                         const ReaderOptions& options = {});

// Parses "FORMAT:PATH" (e.g. "philly:jobs.csv.gz") and reads it.
Result<Trace> read_trace_spec(std::string_view spec, const ReaderOptions& options = {});

// The jobs of one user or VC, in the same order, with the same report.
Trace filter_by_user(const Trace& trace, std::string_view user);

}  // namespace fastgpu::sim
