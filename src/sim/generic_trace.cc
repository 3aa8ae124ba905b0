// FastGPU's generic trace format (docs/trace-format.md), for users' own job histories:
// CSV with a header, or JSON Lines (one object per line). Both carry the same fields:
//   id, submit, duration, gpus, gpu_mem, gpu_model, user, priority, deadline, signature
// The form is chosen by the first non-blank, non-comment line: '{' means JSON Lines.
// Lines starting with '#' are comments in both forms.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "fastgpu/core/units.h"
#include "sim/civil_time.h"
#include "sim/text_file.h"
#include "sim/trace_reader.h"

namespace fastgpu::sim {
namespace {

const std::vector<std::string>& generic_fields() {
  static const std::vector<std::string> fields = {"id",        "submit",   "duration", "gpus",
                                                  "gpu_mem",   "user",     "priority", "deadline",
                                                  "signature", "gpu_model"};
  return fields;
}

// Whether the file's times are calendar dates (shifted to the earliest submit at the end)
// or seconds (kept as written). The first row with a submit time decides.
enum class TimeForm { kUnknown, kSeconds, kCalendar };

struct GenericState {
  TimeForm form = TimeForm::kUnknown;
  std::size_t row_index = 0;
};

std::optional<double> parse_time(CsvRow& row, std::string_view column, GenericState& state) {
  const std::string_view text = row.text(column);
  const std::optional<double> seconds = parse_double(text);
  const std::optional<std::int64_t> calendar = seconds ? std::nullopt : parse_civil_seconds(text);
  if (!seconds && !calendar) {
    row.fail(column, text, "is neither seconds nor a date 'YYYY-MM-DD HH:MM:SS'");
    return std::nullopt;
  }
  // Epoch seconds are about 1.7e9; milliseconds or microseconds read as seconds put a job
  // thousands of years away, and the replay's makespan with it (submit 1e300 gave a makespan
  // of 2.8e296 hours).
  constexpr double kLatestSeconds = 1e11;  // about 3,170 years
  if (seconds && std::fabs(*seconds) > kLatestSeconds) {
    row.fail(column, text,
             "is more than 1e11 s (about 3,170 years) from 0; write seconds (milliseconds or "
             "microseconds since the epoch would read as that)");
    return std::nullopt;
  }
  const TimeForm form = seconds ? TimeForm::kSeconds : TimeForm::kCalendar;
  if (state.form == TimeForm::kUnknown) state.form = form;
  if (form != state.form) {
    row.fail(column, text, "mixes dates and seconds; write every time in one form");
    return std::nullopt;
  }
  return seconds ? *seconds : static_cast<double>(*calendar);
}

// "2" → 2 whole GPUs; "0.25" → one GPU at 250 milli-GPU; "0" → CPU-only.
void parse_gpus(CsvRow& row, TraceJob& job) {
  const std::string_view text = row.text("gpus");
  const double gpus = row.number("gpus");
  if (row.error()) return;
  if (gpus < 0 || gpus > 65536) return row.fail("gpus", text, "must be between 0 and 65536");
  if (gpus >= 1) {
    if (std::trunc(gpus) != gpus) {
      return row.fail("gpus", text, "is fractional above 1; use a whole count or a share < 1");
    }
    job.gpu_count = static_cast<int>(gpus);
    return;
  }
  if (gpus == 0) return;
  job.gpu_count = 1;
  job.gpu_milli = static_cast<int>(std::lround(gpus * 1000));
  if (job.gpu_milli < 1) row.fail("gpus", text, "is below one milli-GPU (0.001)");
}

void parse_optional_units(CsvRow& row, TraceJob& job) {
  if (const std::string_view text = row.text("duration"); !trim(text).empty()) {
    const Result<Seconds> duration = parse_duration(trim(text));
    if (!duration.ok())
      return row.fail("duration", text, "is not valid: " + duration.status().message());
    job.duration_s = duration->count();
  }
  if (const std::string_view text = row.text("gpu_mem"); !trim(text).empty()) {
    const Result<Bytes> bytes = parse_bytes(trim(text));
    if (!bytes.ok()) return row.fail("gpu_mem", text, "is not valid: " + bytes.status().message());
    job.gpu_mem_bytes = *bytes;
  }
}

void parse_generic_row(CsvRow& row, TraceJob& job, GenericState& state) {
  job.id = std::string(row.text("id"));
  if (job.id.empty()) job.id = std::to_string(state.row_index);
  ++state.row_index;
  job.submit_s = parse_time(row, "submit", state).value_or(0);
  parse_gpus(row, job);
  parse_optional_units(row, job);
  job.user = std::string(row.text("user"));
  const auto priority = row.optional_integer("priority", std::numeric_limits<int>::min(),
                                             std::numeric_limits<int>::max());
  if (priority) job.priority = static_cast<int>(*priority);
  if (!trim(row.text("deadline")).empty()) job.deadline_s = parse_time(row, "deadline", state);
  job.signature = std::string(row.text("signature"));
  std::string_view models = row.text("gpu_model");
  while (!models.empty()) {
    const std::size_t bar = models.find('|');
    if (const auto model = trim(models.substr(0, bar)); !model.empty()) {
      job.gpu_models.emplace_back(model);
    }
    if (bar == std::string_view::npos) break;
    models.remove_prefix(bar + 1);
  }
}

void rebase_calendar(std::vector<TraceJob>& jobs, const GenericState& state) {
  if (state.form != TimeForm::kCalendar || jobs.empty()) return;
  double first = std::numeric_limits<double>::infinity();
  for (const TraceJob& job : jobs) first = std::min(first, job.submit_s);
  for (TraceJob& job : jobs) {
    job.submit_s -= first;
    if (job.deadline_s) *job.deadline_s -= first;
  }
}

bool is_comment(std::string_view line) {
  const std::string_view text = trim(line);
  return text.empty() || text.front() == '#';
}

// JSON value → the text a CSV field would hold; nullopt for arrays and objects.
std::optional<std::string> json_field_text(const nlohmann::json& value) {
  if (value.is_null()) return std::string();
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_float()) {
    // Fixed notation: a JSON writer may give a short duration as 1e-05, which the
    // duration and number parsers, shared with CSV, do not read.
    char text[400];  // the longest fixed form of a double is about 330 characters
    const auto [end, error] = std::to_chars(std::begin(text), std::end(text), value.get<double>(),
                                            std::chars_format::fixed);
    if (error == std::errc{}) return std::string(std::begin(text), end);
  }
  if (value.is_number() || value.is_boolean()) return value.dump();
  return std::nullopt;
}

// Fills `fields` (one per generic_fields() entry) from one JSON object.
std::optional<RowError> json_to_fields(std::string_view line, const ColumnIndex& columns,
                                       std::vector<std::string>& fields,
                                       std::set<std::string>& unknown_keys) {
  const nlohmann::json object = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded() || !object.is_object()) {
    return RowError{kWholeRow, std::string(line.substr(0, 80)), "is not a JSON object"};
  }
  fields.assign(columns.size(), std::string());
  for (const auto& [key, value] : object.items()) {
    const std::optional<std::size_t> pos = columns.find(key);
    if (!pos) {
      unknown_keys.insert(key);
      continue;
    }
    std::optional<std::string> text = json_field_text(value);
    if (!text) return RowError{key, value.dump(), "must be a string or a number"};
    fields[*pos] = std::move(*text);
  }
  return std::nullopt;
}

Result<Trace> read_jsonl(const std::string& path, std::string_view text,
                         const ReaderOptions& options) {
  TraceBuilder builder("generic", path, options);
  const ColumnIndex columns(generic_fields());
  GenericState state;
  std::set<std::string> unknown_keys;
  std::vector<std::string> fields;
  LineCursor cursor(text);
  std::string_view line;
  while (cursor.next(line)) {
    if (is_comment(line)) continue;
    builder.count_row();
    TraceJob job;
    job.line = cursor.line_number();
    std::optional<RowError> error = json_to_fields(line, columns, fields, unknown_keys);
    if (!error) {
      const std::vector<std::string_view> views(fields.begin(), fields.end());
      CsvRow row(columns, views);
      if (trim(row.text("submit")).empty()) row.fail("submit", "", "is missing; it is required");
      if (trim(row.text("gpus")).empty()) row.fail("gpus", "", "is missing; it is required");
      parse_generic_row(row, job, state);
      error = row.error();
    }
    if (error) {
      FASTGPU_RETURN_IF_ERROR(builder.reject(job.line, *error));
      continue;
    }
    builder.add(std::move(job));
  }
  for (const std::string& key : unknown_keys) builder.warn_unknown("field", key, generic_fields());
  rebase_calendar(builder.jobs(), state);
  return builder.finish();
}

Result<Trace> read_generic_csv(const std::string& path, std::string_view text,
                               const ReaderOptions& options) {
  GenericState state;
  CsvFormat format;
  format.name = "generic";
  format.required = {"submit", "gpus"};
  format.parse_row = [&state](CsvRow& row, TraceJob& job) { parse_generic_row(row, job, state); };
  format.finish = [&state](std::vector<TraceJob>& jobs) { rebase_calendar(jobs, state); };
  format.comments = true;
  for (const std::string& field : generic_fields()) format.known.emplace_back(field);
  return parse_csv_trace(path, text, format, options);
}

}  // namespace

Result<Trace> read_generic_trace(const std::string& path, const ReaderOptions& options) {
  Result<std::string> text = read_text_file(path);
  if (!text.ok()) return text.status();
  LineCursor cursor(*text);
  std::string_view line;
  while (cursor.next(line) && is_comment(line)) {
  }
  if (trim(line).starts_with("{")) return read_jsonl(path, *text, options);
  return read_generic_csv(path, *text, options);
}

}  // namespace fastgpu::sim
