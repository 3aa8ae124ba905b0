#include "sim/csv.h"

#include <charconv>
#include <cmath>
#include <utility>

namespace fastgpu::sim {
namespace {

// Appends one quoted field starting at line[pos] == '"'; returns the position after the
// closing quote, or npos when the quote never closes.
std::size_t read_quoted(std::string_view line, std::size_t pos, std::string& out) {
  for (++pos; pos < line.size(); ++pos) {
    if (line[pos] != '"') {
      out.push_back(line[pos]);
    } else if (pos + 1 < line.size() && line[pos + 1] == '"') {
      out.push_back('"');
      ++pos;
    } else {
      return pos + 1;
    }
  }
  return std::string_view::npos;
}

}  // namespace

std::string_view trim(std::string_view text) {
  const std::size_t begin = text.find_first_not_of(" \t");
  if (begin == std::string_view::npos) return {};
  const std::size_t end = text.find_last_not_of(" \t");
  return text.substr(begin, end - begin + 1);
}

bool split_csv(std::string_view line, std::vector<std::string>& fields) {
  fields.clear();
  std::size_t pos = 0;
  for (;;) {
    std::string& field = fields.emplace_back();
    const std::size_t start = line.find_first_not_of(" \t", pos);
    if (start != std::string_view::npos && line[start] == '"') {
      pos = read_quoted(line, start, field);
      if (pos == std::string_view::npos) return false;
      pos = line.find(',', pos);  // text between the closing quote and the comma is dropped
    } else {
      const std::size_t comma = line.find(',', pos);
      field.assign(
          trim(line.substr(pos, comma == std::string_view::npos ? line.npos : comma - pos)));
      pos = comma;
    }
    if (pos == std::string_view::npos) return true;
    ++pos;
  }
}

ColumnIndex::ColumnIndex(const std::vector<std::string>& header) : size_(header.size()) {
  for (std::size_t i = 0; i < header.size(); ++i) {
    positions_.emplace(std::string(trim(header[i])), i);
  }
}

std::optional<std::size_t> ColumnIndex::find(std::string_view name) const {
  const auto it = positions_.find(std::string(name));
  if (it == positions_.end()) return std::nullopt;
  return it->second;
}

std::string RowError::describe() const {
  return "column '" + column + "': value '" + value + "' " + message;
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
  const std::optional<double> value = parse_double(text);
  // Exact integers up to 2^53 survive the round trip through double; traces stay far below.
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
