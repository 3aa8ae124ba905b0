// The deadline field: an ISO 8601 date and time (local, or with an explicit offset), or a
// time relative to the submission ("now+6h"); and the moments `fastgpu history --since` and
// `--until` take, read the same way, or as a time ago ("2h", "now-2h").
#include <fmt/format.h>

#include <cctype>
#include <chrono>
#include <ctime>
#include <string>

#include "engine/job_file_internal.h"
#include "fastgpu/core/text.h"

namespace fastgpu::engine::internal {
namespace {

using std::chrono::duration_cast;
using std::chrono::microseconds;

// What an error about a time names: the field or option, and an example of what it takes.
struct TimeWords {
  std::string_view what;
  std::string_view example;
};

constexpr TimeWords kDeadlineWords{
    "deadline",
    "use a date and time such as 2026-12-01T18:00 (local time), 2026-12-01T18:00:00Z (UTC), "
    "2026-12-01T18:00+01:00, or now+6h"};

constexpr auto kMaxAhead = std::chrono::seconds(store::kMaxDeadlineAheadSeconds);

Status time_error(const TimeWords& words, std::string_view text, std::string_view problem) {
  return invalid_argument(fmt::format("{} '{}': {}; {}", words.what, text, problem, words.example));
}

Status deadline_error(std::string_view text, std::string_view problem) {
  return time_error(kDeadlineWords, text, problem);
}

// Reads exactly `digits` decimal digits from the front of `text`.
std::optional<int> take_digits(std::string_view& text, std::size_t digits) {
  if (text.size() < digits) return std::nullopt;
  int value = 0;
  for (std::size_t i = 0; i < digits; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return std::nullopt;
    value = value * 10 + (text[i] - '0');
  }
  text.remove_prefix(digits);
  return value;
}

bool take_char(std::string_view& text, char c) {
  if (text.empty() || text.front() != c) return false;
  text.remove_prefix(1);
  return true;
}

struct CivilTime {
  std::chrono::year_month_day date;
  int hour = 0;
  int minute = 0;
  int second = 0;
  int micros = 0;  // a fraction of the second, as the API's times carry one
};

// "YYYY-MM-DD" then "T" or " " and "HH:MM[:SS]"; advances `text` past what it read. With
// date_alone, a date with nothing after it is its midnight.
Result<CivilTime> take_civil_time(const TimeWords& words, std::string_view original,
                                  std::string_view& text, bool date_alone = false) {
  const std::optional<int> year = take_digits(text, 4);
  const bool dash1 = take_char(text, '-');
  const std::optional<int> month = take_digits(text, 2);
  const bool dash2 = take_char(text, '-');
  const std::optional<int> day = take_digits(text, 2);
  if (!year || !month || !day || !dash1 || !dash2) {
    return time_error(words, original, "expected a date YYYY-MM-DD");
  }
  CivilTime civil{std::chrono::year(*year) / std::chrono::month(static_cast<unsigned>(*month)) /
                      std::chrono::day(static_cast<unsigned>(*day)),
                  0, 0, 0};
  if (!civil.date.ok()) return time_error(words, original, "no such date");
  if (text.empty() && date_alone) return civil;
  if (text.empty()) return time_error(words, original, "the time of day is missing (e.g. T18:00)");
  if (!take_char(text, 'T') && !take_char(text, 't') && !take_char(text, ' ')) {
    return time_error(words, original, "expected 'T' between the date and the time");
  }
  const std::optional<int> hour = take_digits(text, 2);
  const bool colon = take_char(text, ':');
  const std::optional<int> minute = take_digits(text, 2);
  if (!hour || !colon || !minute) return time_error(words, original, "expected a time HH:MM");
  civil.hour = *hour;
  civil.minute = *minute;
  if (take_char(text, ':')) {
    const std::optional<int> second = take_digits(text, 2);
    if (!second) return time_error(words, original, "expected seconds after HH:MM:");
    civil.second = *second;
    if (take_char(text, '.')) {
      // Up to microseconds (a time the API printed, pasted back); further digits are cut.
      int digits = 0;
      while (!text.empty() && std::isdigit(static_cast<unsigned char>(text.front()))) {
        if (digits < 6) civil.micros = civil.micros * 10 + (text.front() - '0');
        ++digits;
        text.remove_prefix(1);
      }
      if (digits == 0) return time_error(words, original, "expected digits after the seconds' '.'");
      for (int i = digits; i < 6; ++i) civil.micros *= 10;
    }
  }
  if (civil.hour > 23 || civil.minute > 59 || civil.second > 59) {
    return time_error(words, original, "no such time of day");
  }
  return civil;
}

// "Z", "+HH:MM", "-HHMM", "+HH" as seconds east of UTC; nullopt when `text` is empty.
Result<std::optional<int>> take_offset(const TimeWords& words, std::string_view original,
                                       std::string_view text) {
  if (text.empty()) return std::optional<int>();
  if (text == "Z" || text == "z") return std::optional<int>(0);
  const int sign = text.front() == '-' ? -1 : 1;
  if (!take_char(text, '+') && !take_char(text, '-')) {
    return time_error(words, original, fmt::format("unexpected '{}' after the time", text));
  }
  const std::optional<int> hours = take_digits(text, 2);
  take_char(text, ':');
  const std::optional<int> minutes = text.empty() ? std::optional<int>(0) : take_digits(text, 2);
  if (!hours || !minutes || !text.empty() || *hours > 23 || *minutes > 59) {
    return time_error(words, original, "the UTC offset must read +HH:MM, -HH:MM or Z");
  }
  return std::optional<int>(sign * (*hours * 3600 + *minutes * 60));
}

store::WallTime utc_time(const CivilTime& civil, int offset_seconds) {
  const std::chrono::sys_seconds seconds =
      std::chrono::sys_days(civil.date) + std::chrono::hours(civil.hour) +
      std::chrono::minutes(civil.minute) + std::chrono::seconds(civil.second - offset_seconds);
  return store::WallTime(duration_cast<microseconds>(seconds.time_since_epoch()) +
                         microseconds(civil.micros));
}

// The client's local time zone (TZ, else /etc/localtime), as mktime reads it.
Result<store::WallTime> local_time(const TimeWords& words, std::string_view original,
                                   const CivilTime& civil) {
  std::tm fields{};
  fields.tm_year = static_cast<int>(civil.date.year()) - 1900;
  fields.tm_mon = static_cast<int>(static_cast<unsigned>(civil.date.month())) - 1;
  fields.tm_mday = static_cast<int>(static_cast<unsigned>(civil.date.day()));
  fields.tm_hour = civil.hour;
  fields.tm_min = civil.minute;
  fields.tm_sec = civil.second;
  fields.tm_isdst = -1;  // let the zone's rules say whether summer time applies
  const std::time_t seconds = std::mktime(&fields);
  if (seconds == static_cast<std::time_t>(-1)) {
    return time_error(words, original, "not a time this machine's time zone can represent");
  }
  return store::WallTime(duration_cast<microseconds>(std::chrono::seconds(seconds)) +
                         microseconds(civil.micros));
}

// A date and time as take_civil_time reads it (with date_alone, a date may stand alone),
// at the UTC offset written after it, else in local time.
Result<store::WallTime> absolute_time(const TimeWords& words, std::string_view text,
                                      bool date_alone = false) {
  std::string_view rest = text;
  Result<CivilTime> civil = take_civil_time(words, text, rest, date_alone);
  if (!civil.ok()) return civil.status();
  Result<std::optional<int>> offset = take_offset(words, text, rest);
  if (!offset.ok()) return offset.status();
  return offset->has_value() ? Result<store::WallTime>(utc_time(*civil, **offset))
                             : local_time(words, text, *civil);
}

Result<store::WallTime> relative_deadline(std::string_view text, std::string_view duration,
                                          store::WallTime now) {
  if (!duration.empty() && duration.find_first_not_of("0123456789.") == std::string_view::npos) {
    return deadline_error(text, fmt::format("'{}' has no unit; write now+{}m or now+{}s", duration,
                                            duration, duration));
  }
  Result<Seconds> parsed = parse_duration(duration);
  if (!parsed.ok()) {
    return deadline_error(text,
                          fmt::format("'{}' is not a duration such as 6h or 2h30m", duration));
  }
  // Also keeps the conversion to integer microseconds from overflowing.
  if (parsed->count() > static_cast<double>(store::kMaxDeadlineAheadSeconds)) {
    return deadline_error(text, "more than 100 years away");
  }
  return now + duration_cast<microseconds>(*parsed);
}

}  // namespace

Result<store::WallTime> parse_deadline(std::string_view original, store::WallTime now) {
  const std::string_view text = trim(original);
  Result<store::WallTime> deadline = deadline_error(text, "empty");
  if (text.starts_with("now+")) {
    deadline = relative_deadline(text, text.substr(4), now);
  } else if (!text.empty()) {
    deadline = absolute_time(kDeadlineWords, text);
    if (!deadline.ok()) return deadline.status();
  }
  if (deadline.ok() && *deadline <= now) {
    return deadline_error(text, "it is already past at submission");
  }
  // The store refuses these too; said here in the words of the field as written.
  if (deadline.ok() && *deadline > now + kMaxAhead) {
    return deadline_error(text, "more than 100 years away");
  }
  return deadline;
}

// A moment for `fastgpu history --since/--until` (engine::parse_moment).
Result<store::WallTime> moment(std::string_view original, store::WallTime now,
                               std::string_view option) {
  const std::string example(
      "use a time ago such as 2h, 30m or now-1d, a date such as 2026-12-01 (from its "
      "midnight, local time), or a date and time such as 2026-12-01T18:00 (local), "
      "2026-12-01T18:00Z (UTC) or 2026-12-01T18:00+01:00");
  const TimeWords words{option, example};
  const std::string_view text = trim(original);
  if (text.empty()) return time_error(words, original, "empty");
  if (text == "now") return now;
  const bool ago = text.starts_with("now-");
  const std::string_view duration = ago ? text.substr(4) : text;
  // A date begins YYYY-; anything else is a time ago.
  const bool date = text.size() > 4 && text[4] == '-' &&
                    text.substr(0, 4).find_first_not_of("0123456789") == std::string_view::npos;
  if (!date) {
    // A time ago: a duration with its unit (a bare number would be minutes for a time
    // limit, and is too easily a year here).
    if (!duration.empty() && duration.find_first_not_of("0123456789.") == std::string_view::npos) {
      return time_error(words, original,
                        fmt::format("'{}' has no unit; write {}h, {}m or {}d", duration, duration,
                                    duration, duration));
    }
    Result<Seconds> parsed = parse_duration(duration);
    if (!parsed.ok()) {
      return time_error(words, original,
                        fmt::format("'{}' is not a time ago such as 2h or 1d12h", duration));
    }
    if (parsed->count() > static_cast<double>(store::kMaxDeadlineAheadSeconds)) {
      return time_error(words, original, "more than 100 years ago");
    }
    return now - std::chrono::duration_cast<std::chrono::microseconds>(*parsed);
  }
  return absolute_time(words, text, /*date_alone=*/true);
}

}  // namespace fastgpu::engine::internal

namespace fastgpu::engine {

Result<store::WallTime> parse_moment(std::string_view text, store::WallTime now,
                                     std::string_view option) {
  return internal::moment(text, now, option);
}

}  // namespace fastgpu::engine
