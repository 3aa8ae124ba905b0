#include "sim/csv.h"

#include <charconv>
#include <cmath>
#include <utility>

namespace fastgpu::sim {
namespace {

// Reads the quoted field whose opening quote is at line[pos]. Sets `field` to its text and
// `escaped` when it held "" (so the caller must unescape it). Returns the position after the
// closing quote, or npos when the quote never closes.
std::size_t read_quoted(std::string_view line, std::size_t pos, std::string_view& field,
                        bool& escaped) {
  const std::size_t begin = pos + 1;
  escaped = false;
  for (pos = begin; pos < line.size(); ++pos) {
    if (line[pos] != '"') continue;
    if (pos + 1 < line.size() && line[pos + 1] == '"') {
      escaped = true;
      ++pos;
      continue;
    }
    field = line.substr(begin, pos - begin);
    return pos + 1;
  }
  return std::string_view::npos;
}

std::string unescape_quotes(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    out.push_back(text[i]);
    if (text[i] == '"') ++i;  // "" → "
  }
  return out;
}

}  // namespace

// Hand-written: find_first_not_of(" \t") calls memchr once per character it tests.
std::string_view trim(std::string_view text) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t'; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

bool CsvFields::split(std::string_view line) {
  views_.clear();
  unescaped_.clear();
  std::size_t pos = 0;
  for (;;) {
    std::size_t start = pos;
    while (start < line.size() && (line[start] == ' ' || line[start] == '\t')) ++start;
    std::string_view field;
    if (start < line.size() && line[start] == '"') {
      bool escaped = false;
      pos = read_quoted(line, start, field, escaped);
      if (pos == std::string_view::npos) return false;
      if (escaped) field = unescaped_.emplace_back(unescape_quotes(field));
      pos = line.find(',', pos);  // text between the closing quote and the comma is dropped
    } else {
      pos = line.find(',', pos);
      field = trim(line.substr(start, pos == std::string_view::npos ? line.npos : pos - start));
    }
    views_.push_back(field);
    if (pos == std::string_view::npos) return true;
    ++pos;
  }
}

ColumnIndex::ColumnIndex(const std::vector<std::string_view>& header) : size_(header.size()) {
  names_.reserve(header.size());
  for (const std::string_view name : header) names_.emplace_back(trim(name));
}

ColumnIndex::ColumnIndex(const std::vector<std::string>& header)
    : ColumnIndex(std::vector<std::string_view>(header.begin(), header.end())) {}

std::optional<std::size_t> ColumnIndex::find(std::string_view name) const {
  for (std::size_t i = 0; i < names_.size(); ++i) {
    if (names_[i] == name) return i;
  }
  return std::nullopt;
}

std::string RowError::describe() const {
  if (column == kWholeRow) return "the row " + (value.empty() ? "" : "'" + value + "' ") + message;
  return "column '" + column + "': value '" + value + "' " + message;
}

std::string field_count_message(std::size_t fields, std::size_t expected) {
  return "has " + std::to_string(fields) + (fields == 1 ? " field" : " fields") + " where " +
         std::to_string(expected) + " are expected, one per header column";
}

std::optional<double> parse_double(std::string_view text) {
  text = trim(text);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  double value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

std::optional<std::int64_t> parse_int(std::string_view text) {
  text = trim(text);
  std::int64_t whole = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, whole);
  if (!text.empty() && ec == std::errc() && ptr == end) return whole;
  // "8.0" and "1e3" are whole numbers too. Integers up to 2^53 survive the trip through
  // double; traces stay far below.
  const std::optional<double> value = parse_double(text);
  if (!value || std::trunc(*value) != *value || std::fabs(*value) > 9.0e15) return std::nullopt;
  return static_cast<std::int64_t>(*value);
}

std::string_view CsvRow::text(std::string_view column) const {
  const std::optional<std::size_t> pos = columns_.find(column);
  if (!pos || *pos >= fields_.size()) return {};
  return fields_[*pos];
}

void CsvRow::fail(std::string_view column, std::string_view value, std::string message) {
  if (error_) return;
  error_ = RowError{std::string(column), std::string(value), std::move(message)};
}

double CsvRow::number(std::string_view column) {
  const std::string_view field = text(column);
  const std::optional<double> value = parse_double(field);
  if (!value)
    fail(column, field, field.empty() ? "is empty; a number is required" : "is not a number");
  return value.value_or(0);
}

std::int64_t CsvRow::integer(std::string_view column, std::int64_t min, std::int64_t max) {
  const std::string_view field = text(column);
  const std::optional<std::int64_t> value = parse_int(field);
  if (!value) {
    fail(column, field,
         field.empty() ? "is empty; a whole number is required" : "is not a whole number");
    return min;
  }
  if (*value < min || *value > max) {
    fail(column, field,
         "is out of range; it must be between " + std::to_string(min) + " and " +
             std::to_string(max));
    return min;
  }
  return *value;
}

std::optional<double> CsvRow::optional_number(std::string_view column) {
  if (trim(text(column)).empty()) return std::nullopt;
  return number(column);
}

std::optional<std::int64_t> CsvRow::optional_integer(std::string_view column, std::int64_t min,
                                                     std::int64_t max) {
  if (trim(text(column)).empty()) return std::nullopt;
  return integer(column, min, max);
}

}  // namespace fastgpu::sim
