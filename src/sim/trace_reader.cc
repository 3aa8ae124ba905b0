#include "sim/trace_reader.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <filesystem>
#include <utility>

#include "fastgpu/core/text.h"
#include "sim/csv.h"
#include "sim/text_file.h"

namespace fastgpu::sim {

TraceBuilder::TraceBuilder(std::string_view format, const std::string& path,
                           const ReaderOptions& options)
    : path_(path), options_(options) {
  trace_.format = std::string(format);
  trace_.name = trace_.format + ":" + std::filesystem::path(path).filename().string();
}

Status TraceBuilder::reject(std::size_t line, const RowError& error) {
  if (options_.on_malformed == MalformedRows::kFatal) {
    return invalid_argument(trace_.format + " trace '" + path_ + "', line " + std::to_string(line) +
                            ": " + error.describe() + "; fix the row, or " + options_.skip_hint);
  }
  ReadReport& report = trace_.report;
  ++report.rows_skipped;
  if (report.skipped.size() < options_.max_reasons_kept) {
    report.skipped.push_back({line, error.describe()});
  }
  return {};
}

void TraceBuilder::warn_unknown(std::string_view kind, std::string_view name,
                                const std::vector<std::string>& known) {
  const std::optional<std::string> near = nearest_name(name, known);
  warn("ignored unknown " + std::string(kind) + " '" + std::string(name) + "'" +
       (near ? " (did you mean " + *near + "?)" : std::string()));
}

Status TraceBuilder::file_error(const std::string& message) const {
  return invalid_argument(trace_.format + " trace '" + path_ + "': " + message);
}

// A TraceJob is a few hundred bytes, so sort small (time, index) keys and move each job
// once, rather than letting a merge sort move jobs log(n) times.
Trace TraceBuilder::finish() {
  std::vector<TraceJob>& jobs = trace_.jobs;
  const auto by_time = [](const TraceJob& a, const TraceJob& b) { return a.submit_s < b.submit_s; };
  if (std::is_sorted(jobs.begin(), jobs.end(), by_time)) return std::move(trace_);
  std::vector<std::pair<double, std::size_t>> keys;
  keys.reserve(jobs.size());
  for (std::size_t i = 0; i < jobs.size(); ++i) keys.emplace_back(jobs[i].submit_s, i);
  std::stable_sort(keys.begin(), keys.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<TraceJob> sorted;
  sorted.reserve(jobs.size());
  for (const auto& key : keys) sorted.push_back(std::move(jobs[key.second]));
  jobs = std::move(sorted);
  return std::move(trace_);
}

namespace {

Status check_columns(TraceBuilder& builder, const ColumnIndex& columns,
                     const std::vector<std::string_view>& header, const CsvFormat& format) {
  for (const std::string_view name : format.required) {
    if (columns.find(name)) continue;
    // What the header has beside what the format needs: the fix is a renamed column or
    // another FORMAT: prefix, and the user must see both to tell which.
    // Printable and cut: the first line of a file that is not CSV (a binary file) was
    // written raw to the terminal.
    const std::string joined = fmt::format("{}", fmt::join(header, ", "));
    constexpr std::size_t kShown = 300;
    const std::string has = printable(std::string_view(joined).substr(0, kShown)) +
                            (joined.size() > kShown ? "..." : "");
    return builder.file_error(fmt::format(
        "the header has no column '{}'; a {} trace needs the columns {} (the header has {}); "
        "rename the column, or give the trace's own format (docs/trace-format.md)",
        name, format.name, fmt::join(format.required, ", "), has));
  }
  if (format.known.empty()) return {};
  const std::vector<std::string> known(format.known.begin(), format.known.end());
  for (const std::string_view name : header) {
    if (std::find(format.known.begin(), format.known.end(), name) == format.known.end()) {
      builder.warn_unknown("column", name, known);
    }
  }
  return {};
}

bool skippable(std::string_view line, const CsvFormat& format) {
  if (is_blank(line)) return true;
  return format.comments && trim(line).starts_with("#");
}

// Parses one data row into a job, or explains why it cannot.
std::optional<RowError> parse_row_fields(std::string_view line, const ColumnIndex& columns,
                                         CsvFields& fields, const CsvRowParser& parse_row,
                                         TraceJob& job) {
  if (!fields.split(line)) return RowError{kWholeRow, "", "has an unterminated quote"};
  if (fields.size() != columns.size()) {
    return RowError{kWholeRow, std::string(line),
                    field_count_message(fields.size(), columns.size())};
  }
  CsvRow row(columns, fields.views());
  parse_row(row, job);
  return row.error();
}

}  // namespace

Result<Trace> read_csv_trace(const std::string& path, const CsvFormat& format,
                             const ReaderOptions& options) {
  Result<std::string> text = read_text_file(path);
  if (!text.ok()) return text.status();
  return parse_csv_trace(path, *text, format, options);
}

Result<Trace> parse_csv_trace(const std::string& path, std::string_view text,
                              const CsvFormat& format, const ReaderOptions& options) {
  TraceBuilder builder(format.name, path, options);
  // One job per line at most: reserving once spares growing a vector of large records.
  builder.jobs().reserve(static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1);
  LineCursor cursor(text);
  std::string_view line;
  bool have_header = false;
  while (!have_header && cursor.next(line)) have_header = !skippable(line, format);
  if (!have_header) return builder.file_error("the file is empty; a header row is expected");
  CsvFields fields;
  if (!fields.split(line)) return builder.file_error("the header has an unterminated quote");
  const ColumnIndex columns(fields.views());
  FASTGPU_RETURN_IF_ERROR(check_columns(builder, columns, fields.views(), format));
  while (cursor.next(line)) {
    if (skippable(line, format)) continue;
    builder.count_row();
    TraceJob job;
    job.line = cursor.line_number();
    const auto error = parse_row_fields(line, columns, fields, format.parse_row, job);
    if (error) {
      FASTGPU_RETURN_IF_ERROR(builder.reject(job.line, *error));
      continue;
    }
    builder.add(std::move(job));
  }
  if (format.finish) format.finish(builder.jobs());
  return builder.finish();
}

}  // namespace fastgpu::sim
