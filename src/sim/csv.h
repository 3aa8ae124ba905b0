// CSV rows for the trace readers: field splitting, a header's column index, and typed field
// access that records the first bad field instead of throwing.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fastgpu::sim {

// One split CSV line. The views point into the line, or into this object for quoted fields
// that held "" escapes; both must outlive the views.
class CsvFields {
 public:
  // Splits `line`, replacing what was here. Handles RFC 4180 quoting: a field in double
  // quotes may hold commas, and "" inside it is one quote. Surrounding spaces of unquoted
  // fields are trimmed. Returns false for an unterminated quote.
  bool split(std::string_view line);

  const std::vector<std::string_view>& views() const { return views_; }
  std::size_t size() const { return views_.size(); }

 private:
  std::vector<std::string_view> views_;
  std::deque<std::string> unescaped_;  // a deque: growing it never moves the strings
};

// Column name → position, from a header row. Names are trimmed; lookups are exact. A linear
// scan: trace headers have about a dozen columns, and it needs no allocation per lookup.
class ColumnIndex {
 public:
  explicit ColumnIndex(const std::vector<std::string_view>& header);
  explicit ColumnIndex(const std::vector<std::string>& header);

  std::optional<std::size_t> find(std::string_view name) const;
  std::size_t size() const { return size_; }

 private:
  std::vector<std::string> names_;
  std::size_t size_ = 0;
};

// RowError::column of a problem with the whole row (its number of fields, its quoting).
inline constexpr const char* kWholeRow = "(row)";

// What was wrong with a row: the column, its text, and why.
struct RowError {
  std::string column;   // header name; kWholeRow for whole-row problems
  std::string value;    // the offending text, possibly empty
  std::string message;  // "is not a number", "must be between 0 and 1000"

  // "column 'num_gpu': value 'x' is not a whole number"; for the whole row
  // "the row 'a,b' has 2 fields where 7 are expected".
  std::string describe() const;
};

// RowError::message of a row with the wrong number of fields: "has 3 fields where 7 are
// expected, one per header column".
std::string field_count_message(std::size_t fields, std::size_t expected);

// Typed access to one CSV row. Each accessor returns a fallback when the field is bad and
// keeps the first error, so a reader parses a whole row and checks error() once.
class CsvRow {
 public:
  CsvRow(const ColumnIndex& columns, const std::vector<std::string_view>& fields)
      : columns_(columns), fields_(fields) {}

  // The field's text; "" when the column is absent from the header.
  std::string_view text(std::string_view column) const;
  bool has_column(std::string_view column) const { return columns_.find(column).has_value(); }

  // A required finite number (a non-empty field).
  double number(std::string_view column);
  // A required integer within [min, max]; "8.0" is accepted, "8.5" is not.
  std::int64_t integer(std::string_view column, std::int64_t min, std::int64_t max);
  // Like number() / integer(), but an empty field or absent column gives nullopt.
  std::optional<double> optional_number(std::string_view column);
  std::optional<std::int64_t> optional_integer(std::string_view column, std::int64_t min,
                                               std::int64_t max);

  void fail(std::string_view column, std::string_view value, std::string message);
  const std::optional<RowError>& error() const { return error_; }

 private:
  const ColumnIndex& columns_;
  const std::vector<std::string_view>& fields_;
  std::optional<RowError> error_;
};

// Strict number parsing (the whole text must be consumed). nullopt when it is not one.
std::optional<double> parse_double(std::string_view text);
std::optional<std::int64_t> parse_int(std::string_view text);

std::string_view trim(std::string_view text);

}  // namespace fastgpu::sim
