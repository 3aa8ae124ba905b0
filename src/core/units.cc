#include "fastgpu/core/units.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "fastgpu/core/text.h"

namespace fastgpu {
namespace {

// 128-bit arithmetic lets a fraction times a unit be computed exactly before the overflow
// check; __extension__ keeps -Wpedantic quiet about the GCC/Clang type.
__extension__ using Wide = unsigned __int128;

constexpr std::string_view kBytesExample = "use a size such as 20G, 512MiB, 1.5GB or 4096 (bytes)";
constexpr std::string_view kDurationExample =
    "use a duration such as 90s, 15m, 2h30m, 1.5h, 1d, 3600 (seconds) or Slurm's 1-00:00:00";

// Fraction digits beyond this many cannot change a whole-byte result and would overflow.
constexpr std::size_t kMaxFractionDigits = 18;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// A decimal number split into its digit strings: "1.5" -> {"1", "5"}.
struct DecimalText {
  std::string_view whole;
  std::string_view fraction;
};

// Reads "123", "1.5" or ".5" from the front of `text` and advances past it.
std::optional<DecimalText> take_decimal(std::string_view& text) {
  std::size_t pos = 0;
  while (pos < text.size() && is_digit(text[pos])) ++pos;
  DecimalText number{text.substr(0, pos), {}};
  if (pos < text.size() && text[pos] == '.') {
    const std::size_t start = ++pos;
    while (pos < text.size() && is_digit(text[pos])) ++pos;
    number.fraction = text.substr(start, pos - start);
  }
  if (number.whole.empty() && number.fraction.empty()) return std::nullopt;
  text.remove_prefix(pos);
  return number;
}

// ---- memory sizes -------------------------------------------------------------------------

std::optional<Bytes> byte_multiplier(std::string_view unit_text) {
  const std::string unit = ascii_lower(unit_text);
  if (unit.empty() || unit == "b") return 1;
  constexpr std::string_view kPrefixes = "kmgtpe";
  const std::size_t power = kPrefixes.find(unit[0]);
  if (power == std::string_view::npos) return std::nullopt;
  const std::string_view suffix = std::string_view(unit).substr(1);
  // K, Ki and KiB are binary (as nvidia-smi and Slurm print them); KB is decimal.
  if (suffix.empty() || suffix == "i" || suffix == "ib") return Bytes{1} << (10 * (power + 1));
  if (suffix == "b") {
    Bytes multiplier = 1;
    for (std::size_t i = 0; i <= power; ++i) multiplier *= 1000;
    return multiplier;
  }
  return std::nullopt;
}

std::optional<Wide> digits_value(std::string_view digits) {
  Wide value = 0;
  for (char c : digits) {
    value = value * 10 + static_cast<unsigned>(c - '0');
    if (value > std::numeric_limits<Bytes>::max()) return std::nullopt;
  }
  return value;
}

Wide power_of_ten(std::size_t exponent) {
  Wide value = 1;
  for (std::size_t i = 0; i < exponent; ++i) value *= 10;
  return value;
}

Status bytes_error(std::string_view text, std::string_view problem) {
  return invalid_argument(fmt::format("memory size '{}': {}; {}", text, problem, kBytesExample));
}

// whole * multiplier + fraction * multiplier, rounded to the nearest byte, or nullopt on
// overflow beyond 2^64 - 1.
std::optional<Bytes> scale(const DecimalText& number, Bytes multiplier) {
  const std::optional<Wide> whole = digits_value(number.whole);
  if (!whole) return std::nullopt;
  Wide total = *whole * multiplier;
  const std::string_view fraction =
      number.fraction.substr(0, std::min(number.fraction.size(), kMaxFractionDigits));
  if (!fraction.empty()) {
    const Wide denominator = power_of_ten(fraction.size());
    total += (*digits_value(fraction) * multiplier + denominator / 2) / denominator;
  }
  if (total > std::numeric_limits<Bytes>::max()) return std::nullopt;
  return static_cast<Bytes>(total);
}

bool has_nonzero_digit(std::string_view digits) {
  return digits.find_first_not_of('0') != std::string_view::npos;
}

// ---- durations ----------------------------------------------------------------------------

Status duration_error(std::string_view text, std::string_view problem) {
  return invalid_argument(fmt::format("duration '{}': {}; {}", text, problem, kDurationExample));
}

double decimal_to_double(const DecimalText& number) {
  // Only digits and one '.' reach here, so strtod cannot fail; it may only overflow to inf.
  const std::string text = fmt::format("{}.{}0", number.whole, number.fraction);
  return std::strtod(text.c_str(), nullptr);
}

// A unit as written: its letter, or a word for it ("hours", "min", "secs"), any case.
std::optional<double> unit_seconds(std::string_view word) {
  struct Unit {
    double seconds;
    std::array<std::string_view, 5> names;
  };
  static constexpr std::array<Unit, 4> kUnits = {{
      {86400.0, {"d", "day", "days", "", ""}},
      {3600.0, {"h", "hr", "hrs", "hour", "hours"}},
      {60.0, {"m", "min", "mins", "minute", "minutes"}},
      {1.0, {"s", "sec", "secs", "second", "seconds"}},
  }};
  const std::string lower = ascii_lower(word);
  for (const Unit& unit : kUnits) {
    for (std::string_view name : unit.names) {
      if (!name.empty() && lower == name) return unit.seconds;
    }
  }
  return std::nullopt;
}

// "2h30m", "1.5h", "90s", "1d4h": numbers with units, largest unit first, each at most once.
Result<Seconds> parse_unit_duration(std::string_view original, std::string_view text) {
  double total = 0;
  double previous_unit = std::numeric_limits<double>::infinity();
  while (!text.empty()) {
    const std::optional<DecimalText> number = take_decimal(text);
    if (!number) return duration_error(original, fmt::format("expected a number at '{}'", text));
    text = trim(text);
    if (text.empty()) {
      return duration_error(original, "the last number has no unit (add d, h, m or s, e.g. 2h30m)");
    }
    std::size_t letters = 0;
    while (letters < text.size() && std::isalpha(static_cast<unsigned char>(text[letters]))) {
      ++letters;
    }
    const std::optional<double> unit = unit_seconds(text.substr(0, letters));
    if (!unit) {
      return duration_error(
          original, letters == 0 ? fmt::format("unknown unit at '{}'", text)
                                 : fmt::format("unknown unit '{}'", text.substr(0, letters)));
    }
    if (*unit >= previous_unit) {
      return duration_error(original, "units must go from largest to smallest, each once");
    }
    previous_unit = *unit;
    total += decimal_to_double(*number) * *unit;
    text = trim(text.substr(letters));
  }
  if (!std::isfinite(total)) return duration_error(original, "too large");
  return Seconds(total);
}

// Parses one whole-number Slurm field; `limit` 0 means unbounded.
std::optional<std::uint64_t> slurm_field(std::string_view digits, std::uint64_t limit) {
  if (digits.empty() || digits.size() > 12) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : digits) {
    if (!is_digit(c)) return std::nullopt;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (limit != 0 && value >= limit) return std::nullopt;
  return value;
}

// Splits "a:b:c" into at most three fields; nullopt when there are more.
std::optional<std::array<std::string_view, 3>> split_colons(std::string_view text,
                                                            std::size_t& count) {
  std::array<std::string_view, 3> fields{};
  count = 0;
  while (true) {
    if (count == fields.size()) return std::nullopt;
    const std::size_t colon = text.find(':');
    fields[count++] = text.substr(0, colon);
    if (colon == std::string_view::npos) return fields;
    text.remove_prefix(colon + 1);
  }
}

// Slurm's forms: "MM:SS", "HH:MM:SS", "D-HH", "D-HH:MM", "D-HH:MM:SS". The leading field is
// unbounded (Slurm accepts "90:00"); every later field must stay below its carry limit.
Result<Seconds> parse_slurm_duration(std::string_view original, std::string_view text) {
  std::uint64_t days = 0;
  const std::size_t dash = text.find('-');
  const bool has_days = dash != std::string_view::npos;
  if (has_days) {
    const std::optional<std::uint64_t> parsed = slurm_field(text.substr(0, dash), 0);
    if (!parsed) return duration_error(original, "the days before '-' must be a whole number");
    days = *parsed;
    text.remove_prefix(dash + 1);
  }
  std::size_t count = 0;
  const auto fields = split_colons(text, count);
  if (!fields) return duration_error(original, "too many ':' fields");
  // Without days, "MM:SS" and "HH:MM:SS"; with days, "HH", "HH:MM" and "HH:MM:SS".
  static constexpr std::uint64_t kUnitSeconds[] = {3600, 60, 1};
  static constexpr std::uint64_t kLimits[] = {24, 60, 60};
  const std::size_t first = (!has_days && count == 2) ? 1 : 0;
  std::uint64_t total = days * 86400;
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t slot = first + i;
    const std::uint64_t limit = (i == 0 && !has_days) ? 0 : kLimits[slot];
    const std::optional<std::uint64_t> value = slurm_field((*fields)[i], limit);
    if (!value) {
      return duration_error(original,
                            fmt::format("field '{}' is not a whole number{}", (*fields)[i],
                                        limit ? fmt::format(" below {}", limit) : ""));
    }
    total += *value * kUnitSeconds[slot];
  }
  return Seconds(static_cast<double>(total));
}

bool is_unit_free_number(std::string_view text) {
  return !text.empty() && text.find_first_not_of("0123456789.") == std::string_view::npos &&
         text.find('.') == text.rfind('.');
}

std::string format_one_decimal(double value, std::string_view unit) {
  if (value >= 100) return fmt::format("{:.0f} {}", value, unit);
  return fmt::format("{:.1f} {}", value, unit);
}

}  // namespace

Result<Bytes> parse_bytes(std::string_view original) {
  std::string_view text = trim(original);
  if (text.empty()) return bytes_error(original, "empty");
  if (text.front() == '-') return bytes_error(original, "a size cannot be negative");
  if (text.front() == '+') text.remove_prefix(1);
  const std::optional<DecimalText> number = take_decimal(text);
  if (!number) return bytes_error(original, "expected a number");
  const std::string_view unit = trim(text);
  const std::optional<Bytes> multiplier = byte_multiplier(unit);
  if (!multiplier) {
    return bytes_error(original, fmt::format("unknown unit '{}' (K, M, G, T, KiB, MiB, GiB, TiB "
                                             "are binary; KB, MB, GB, TB are decimal)",
                                             unit));
  }
  if (*multiplier == 1 && has_nonzero_digit(number->fraction)) {
    return bytes_error(original, "a byte count must be a whole number");
  }
  const std::optional<Bytes> bytes = scale(*number, *multiplier);
  if (!bytes) return bytes_error(original, "larger than the largest size, 16 EiB (2^64 - 1 bytes)");
  return *bytes;
}

std::string format_bytes(Bytes bytes) {
  static constexpr std::string_view kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return fmt::format("{} B", bytes);
  double value = static_cast<double>(bytes) / 1024;
  std::size_t unit = 0;
  // Move up while the value would print as 1024 or more (so 1023.99 MiB prints 1.0 GiB).
  while (unit + 1 < std::size(kUnits) && std::round(value) >= 1024) {
    value /= 1024;
    ++unit;
  }
  return format_one_decimal(value, kUnits[unit]);
}

std::string format_bytes_exact(Bytes bytes) {
  static constexpr std::string_view kUnits = "EPTGMK";
  if (bytes == 0) return "0";
  for (std::size_t i = 0; i < kUnits.size(); ++i) {
    const unsigned shift = static_cast<unsigned>(10 * (kUnits.size() - i));
    const Bytes unit = Bytes{1} << shift;
    if (bytes % unit == 0) return fmt::format("{}{}", bytes >> shift, kUnits[i]);
  }
  return fmt::format("{}", bytes);
}

Result<Seconds> parse_duration(std::string_view original) {
  const std::string_view text = trim(original);
  if (text.empty()) return duration_error(original, "empty");
  if (text.front() == '-' || text.front() == '+') {
    return duration_error(original, "write a duration without a sign");
  }
  if (is_unit_free_number(text)) {
    // A bare number is seconds (unlike Slurm's --time, which reads a bare number as minutes).
    std::string_view rest = text;
    const std::optional<DecimalText> number = take_decimal(rest);
    if (!number) return duration_error(original, "expected a number");
    const double seconds = decimal_to_double(*number);
    if (!std::isfinite(seconds)) return duration_error(original, "too large");
    return Seconds(seconds);
  }
  if (text.find_first_of(":-") != std::string_view::npos) {
    return parse_slurm_duration(original, text);
  }
  return parse_unit_duration(original, text);
}

std::string format_duration(Seconds duration) {
  if (!std::isfinite(duration.count())) return "inf";
  // Rounded to what is shown before choosing the form, so one value always reads the same:
  // 0.03 s and 0 s are both "0s" (0.03 s was "0.0s"), 9.96 s is "10s" (was "10.0s").
  const double seconds = std::round(std::fabs(duration.count()) * 10) / 10;
  const char* sign = duration.count() < 0 && seconds > 0 ? "-" : "";
  if (seconds < 10 && seconds != std::floor(seconds)) {
    return fmt::format("{}{:.1f}s", sign, seconds);
  }
  const double rounded = std::round(seconds);
  if (rounded > 9.0e15) return fmt::format("{}{:.0f}s", sign, rounded);
  const auto whole = static_cast<std::uint64_t>(rounded);
  if (whole < 60) return fmt::format("{}{}s", sign, whole);
  if (whole < 3600) return fmt::format("{}{}m{:02}s", sign, whole / 60, whole % 60);
  if (whole < 86400) return fmt::format("{}{}h{:02}m", sign, whole / 3600, whole % 3600 / 60);
  return fmt::format("{}{}d{:02}h", sign, whole / 86400, whole % 86400 / 3600);
}

std::string format_duration_exact(Seconds duration) {
  if (!std::isfinite(duration.count())) return "inf";
  const double milliseconds = std::round(duration.count() * 1000);
  if (milliseconds <= 0) return "0s";
  if (milliseconds > 9.0e15) return fmt::format("{:.0f}s", milliseconds / 1000);
  auto rest = static_cast<std::uint64_t>(milliseconds);
  std::string text;
  for (const auto& [unit, name] :
       {std::pair<std::uint64_t, char>{86'400'000, 'd'}, {3'600'000, 'h'}, {60'000, 'm'}}) {
    if (rest >= unit) text += fmt::format("{}{}", rest / unit, name);
    rest %= unit;
  }
  if (rest % 1000 != 0) {
    std::string fraction = fmt::format("{:03}", rest % 1000);
    while (fraction.back() == '0') fraction.pop_back();
    text += fmt::format("{}.{}s", rest / 1000, fraction);
  } else if (rest > 0) {
    text += fmt::format("{}s", rest / 1000);
  }
  return text;
}

}  // namespace fastgpu
