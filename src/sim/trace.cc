#include "fastgpu/sim/trace.h"

#include <array>
#include <utility>

#include "sim/trace_reader.h"

namespace fastgpu::sim {
namespace {

using ReaderFn = Result<Trace> (*)(const std::string&, const ReaderOptions&);

struct NamedReader {
  std::string_view name;
  ReaderFn read;
};

constexpr std::array<NamedReader, 5> kReaders = {{
    {"philly", read_philly_trace},
    {"openb", read_openb_trace},
    {"chronus", read_chronus_trace},
    {"tiresias", read_tiresias_trace},
    {"generic", read_generic_trace},
}};

std::string known_formats() {
  std::string names;
  for (const NamedReader& reader : kReaders) {
    if (!names.empty()) names += ", ";
    names += reader.name;
  }
  return names;
}

}  // namespace

std::string ReadReport::summary() const {
  std::string text =
      std::to_string(rows_read) + " rows read, " + std::to_string(rows_skipped) + " skipped";
  if (skipped.empty()) return text;
  text += " (";
  for (std::size_t i = 0; i < skipped.size(); ++i) {
    if (i > 0) text += "; ";
    text += "line " + std::to_string(skipped[i].line) + ": " + skipped[i].reason;
  }
  if (skipped.size() < rows_skipped) text += "; ...";
  return text + ")";
}

const std::vector<std::string>& trace_format_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> list;
    list.reserve(kReaders.size());
    for (const NamedReader& reader : kReaders) list.emplace_back(reader.name);
    return list;
  }();
  return names;
}

Result<Trace> read_trace(std::string_view format, const std::string& path,
                         const ReaderOptions& options) {
  for (const NamedReader& reader : kReaders) {
    if (reader.name == format) return reader.read(path, options);
  }
  return invalid_argument("unknown trace format '" + std::string(format) +
                          "'; use one of: " + known_formats());
}

Result<Trace> read_trace_spec(std::string_view spec, const ReaderOptions& options) {
  const std::size_t colon = spec.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == spec.size()) {
    return invalid_argument(
        "trace '" + std::string(spec) +
        "' is not FORMAT:PATH; write e.g. philly:jobs.csv.gz (formats: " + known_formats() + ")");
  }
  return read_trace(spec.substr(0, colon), std::string(spec.substr(colon + 1)), options);
}

Trace filter_by_user(const Trace& trace, std::string_view user) {
  Trace filtered;
  filtered.name = trace.name + "#" + std::string(user);
  filtered.format = trace.format;
  filtered.report = trace.report;
  for (const TraceJob& job : trace.jobs) {
    if (job.user == user) filtered.jobs.push_back(job);
  }
  return filtered;
}

}  // namespace fastgpu::sim
