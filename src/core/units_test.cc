#include "fastgpu/core/units.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace fastgpu {
namespace {

constexpr Bytes kKiB = 1024;
constexpr Bytes kMiB = kKiB * 1024;
constexpr Bytes kGiB = kMiB * 1024;
constexpr Bytes kTiB = kGiB * 1024;

Bytes bytes_of(const std::string& text) {
  const Result<Bytes> parsed = parse_bytes(text);
  EXPECT_TRUE(parsed.ok()) << text << ": " << parsed.status().to_string();
  return parsed.value_or(0);
}

double seconds_of(const std::string& text) {
  const Result<Seconds> parsed = parse_duration(text);
  EXPECT_TRUE(parsed.ok()) << text << ": " << parsed.status().to_string();
  return parsed.ok() ? parsed->count() : -1;
}

TEST(ParseBytes, BinaryUnitsWithoutB) {
  EXPECT_EQ(bytes_of("20G"), 20 * kGiB);
  EXPECT_EQ(bytes_of("80g"), 80 * kGiB);
  EXPECT_EQ(bytes_of("512M"), 512 * kMiB);
  EXPECT_EQ(bytes_of("4K"), 4 * kKiB);
  EXPECT_EQ(bytes_of("2T"), 2 * kTiB);
}

TEST(ParseBytes, IecUnitsAreBinary) {
  EXPECT_EQ(bytes_of("20GiB"), 20 * kGiB);
  EXPECT_EQ(bytes_of("512MiB"), 512 * kMiB);
  EXPECT_EQ(bytes_of("1KiB"), kKiB);
  EXPECT_EQ(bytes_of("3gib"), 3 * kGiB);
  EXPECT_EQ(bytes_of("16Gi"), 16 * kGiB);
}

TEST(ParseBytes, UnitsWithExplicitBAreDecimal) {
  EXPECT_EQ(bytes_of("20GB"), 20'000'000'000u);
  EXPECT_EQ(bytes_of("1.5GB"), 1'500'000'000u);
  EXPECT_EQ(bytes_of("512MB"), 512'000'000u);
  EXPECT_EQ(bytes_of("1kb"), 1000u);
}

TEST(ParseBytes, PlainNumbersAreBytes) {
  EXPECT_EQ(bytes_of("4096"), 4096u);
  EXPECT_EQ(bytes_of("0"), 0u);
  EXPECT_EQ(bytes_of("0G"), 0u);
  EXPECT_EQ(bytes_of("100B"), 100u);
  EXPECT_EQ(bytes_of("18446744073709551615"), UINT64_MAX);
}

TEST(ParseBytes, FractionsAndSpaces) {
  EXPECT_EQ(bytes_of("1.5G"), 3 * kGiB / 2);
  EXPECT_EQ(bytes_of("0.5MiB"), 512 * kKiB);
  EXPECT_EQ(bytes_of(".5K"), 512u);
  EXPECT_EQ(bytes_of(" 20 GiB "), 20 * kGiB);
  EXPECT_EQ(bytes_of("20.0 GiB"), 20 * kGiB);
  EXPECT_EQ(bytes_of("1.0B"), 1u);
  // 0.1 KiB is 102.4 bytes: rounded to the nearest byte.
  EXPECT_EQ(bytes_of("0.1K"), 102u);
}

TEST(ParseBytes, BadInputNamesTheTextAndShowsAnExample) {
  const std::vector<std::string> bad = {
      "",    "20X", "-5G",    "abc",   "1e400G", "20000000T", "18446744073709551616",
      "1.5", "G",   "20 G B", "1..5G", "20GiBs"};
  for (const std::string& text : bad) {
    const Result<Bytes> parsed = parse_bytes(text);
    ASSERT_FALSE(parsed.ok()) << "'" << text << "' parsed as " << parsed.value_or(0);
    EXPECT_EQ(parsed.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find("'" + text + "'"), std::string::npos)
        << parsed.status().message();
    EXPECT_NE(parsed.status().message().find("20G"), std::string::npos)
        << parsed.status().message();
  }
}

TEST(ParseBytes, ErrorsSayWhatIsWrong) {
  EXPECT_NE(parse_bytes("20X").status().message().find("unknown unit 'X'"), std::string::npos);
  EXPECT_NE(parse_bytes("-5G").status().message().find("negative"), std::string::npos);
  EXPECT_NE(parse_bytes("20000000T").status().message().find("largest"), std::string::npos);
}

TEST(FormatBytes, BinaryUnitWithAtMostOneDecimal) {
  EXPECT_EQ(format_bytes(0), "0 B");
  EXPECT_EQ(format_bytes(1023), "1023 B");
  EXPECT_EQ(format_bytes(kKiB), "1.0 KiB");
  EXPECT_EQ(format_bytes(20 * kGiB), "20.0 GiB");
  EXPECT_EQ(format_bytes(512 * kMiB), "512 MiB");
  EXPECT_EQ(format_bytes(3 * kGiB / 2), "1.5 GiB");
  EXPECT_EQ(format_bytes(80'000'000'000u), "74.5 GiB");
  // Just under 1 GiB would print "1024 MiB"; it moves up a unit instead.
  EXPECT_EQ(format_bytes(kGiB - 1), "1.0 GiB");
  EXPECT_EQ(format_bytes(UINT64_MAX), "16.0 EiB");
}

TEST(FormatBytes, ReadsBackWithinTheShownPrecision) {
  for (const Bytes bytes : {kGiB, 20 * kGiB, 512 * kMiB, 3 * kGiB / 2, 80 * kGiB}) {
    EXPECT_EQ(bytes_of(format_bytes(bytes)), bytes) << format_bytes(bytes);
  }
}

TEST(FormatBytesExact, ShortestExactForm) {
  EXPECT_EQ(format_bytes_exact(0), "0");
  EXPECT_EQ(format_bytes_exact(20 * kGiB), "20G");
  EXPECT_EQ(format_bytes_exact(512 * kMiB), "512M");
  EXPECT_EQ(format_bytes_exact(1536), "1536");
  EXPECT_EQ(format_bytes_exact(3 * kGiB / 2), "1536M");
  EXPECT_EQ(format_bytes_exact(1'500'000'000), "1500000000");
  EXPECT_EQ(format_bytes_exact(kTiB), "1T");
}

TEST(FormatBytesExact, RoundTripsEveryValue) {
  const std::vector<Bytes> values = {0,
                                     1,
                                     1023,
                                     1024,
                                     1025,
                                     4096,
                                     3 * kGiB / 2,
                                     20 * kGiB,
                                     80 * kGiB,
                                     kTiB * 7,
                                     UINT64_MAX,
                                     UINT64_MAX - 1023,
                                     Bytes{1} << 63};
  for (const Bytes bytes : values) {
    EXPECT_EQ(bytes_of(format_bytes_exact(bytes)), bytes) << format_bytes_exact(bytes);
  }
}

TEST(ParseDuration, UnitForms) {
  EXPECT_DOUBLE_EQ(seconds_of("90s"), 90);
  EXPECT_DOUBLE_EQ(seconds_of("15m"), 900);
  EXPECT_DOUBLE_EQ(seconds_of("2h30m"), 9000);
  EXPECT_DOUBLE_EQ(seconds_of("1d"), 86400);
  EXPECT_DOUBLE_EQ(seconds_of("1.5h"), 5400);
  EXPECT_DOUBLE_EQ(seconds_of("1d4h"), 100800);
  EXPECT_DOUBLE_EQ(seconds_of("2H30M"), 9000);
  EXPECT_DOUBLE_EQ(seconds_of("1h 30m"), 5400);
  EXPECT_DOUBLE_EQ(seconds_of("0.5s"), 0.5);
}

TEST(ParseDuration, BareNumbersAreSeconds) {
  EXPECT_DOUBLE_EQ(seconds_of("3600"), 3600);
  EXPECT_DOUBLE_EQ(seconds_of("0"), 0);
  EXPECT_DOUBLE_EQ(seconds_of("2.5"), 2.5);
}

TEST(ParseDuration, UnitsMayBeWords) {
  const std::vector<std::pair<std::string, double>> cases = {
      {"2hours", 7200},     {"2 hours 30 min", 9000},  {"1day 4hrs", 100800},
      {"90 Minutes", 5400}, {"1hr30mins15secs", 5415}, {"45 seconds", 45},
      {"1 h 1 s", 3601}};
  for (const auto& [text, seconds] : cases) EXPECT_DOUBLE_EQ(seconds_of(text), seconds) << text;
  // A word that is no unit is named whole.
  EXPECT_NE(parse_duration("90ms").status().message().find("unknown unit 'ms'"), std::string::npos);
  EXPECT_NE(parse_duration("2 weeks").status().message().find("unknown unit 'weeks'"),
            std::string::npos);
  EXPECT_FALSE(parse_duration("2 hours hours").ok());
}

TEST(ParseDuration, SlurmForms) {
  EXPECT_DOUBLE_EQ(seconds_of("05:30"), 330);                   // MM:SS
  EXPECT_DOUBLE_EQ(seconds_of("90:00"), 5400);                  // MM:SS, leading field unbounded
  EXPECT_DOUBLE_EQ(seconds_of("02:30:00"), 9000);               // HH:MM:SS
  EXPECT_DOUBLE_EQ(seconds_of("25:00:00"), 90000);              // HH:MM:SS, leading field unbounded
  EXPECT_DOUBLE_EQ(seconds_of("1-00:00:00"), 86400);            // D-HH:MM:SS
  EXPECT_DOUBLE_EQ(seconds_of("2-12"), 2 * 86400 + 12 * 3600);  // D-HH
  EXPECT_DOUBLE_EQ(seconds_of("1-02:30"), 86400 + 2 * 3600 + 30 * 60);  // D-HH:MM
  EXPECT_DOUBLE_EQ(seconds_of("0-00:00:01"), 1);
}

TEST(ParseDuration, BadInputNamesTheTextAndShowsAnExample) {
  const std::vector<std::string> bad = {
      "",      "abc", "-5m",  "2h30",   "25:99:00", "1-24",  "1-", "1:2:3:4",
      "30m2h", "5x",  "1e5s", "1.5:00", "1h1h",     "10:60", "s",  "1-00:00:60"};
  for (const std::string& text : bad) {
    const Result<Seconds> parsed = parse_duration(text);
    ASSERT_FALSE(parsed.ok()) << "'" << text << "' parsed as " << parsed->count();
    EXPECT_EQ(parsed.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find("'" + text + "'"), std::string::npos)
        << parsed.status().message();
    EXPECT_NE(parsed.status().message().find("2h30m"), std::string::npos)
        << parsed.status().message();
  }
}

TEST(ParseDuration, ErrorsSayWhatIsWrong) {
  EXPECT_NE(parse_duration("2h30").status().message().find("no unit"), std::string::npos);
  EXPECT_NE(parse_duration("25:99:00").status().message().find("'99'"), std::string::npos);
  EXPECT_NE(parse_duration("5x").status().message().find("unknown unit"), std::string::npos);
}

TEST(ParseDuration, NumbersBeyondDoubleRangeAreTooLarge) {
  const std::string huge(400, '9');
  for (const std::string& text : {huge, huge + "s", huge + "d"}) {
    const Result<Seconds> parsed = parse_duration(text);
    ASSERT_FALSE(parsed.ok()) << text.substr(0, 10);
    EXPECT_NE(parsed.status().message().find("too large"), std::string::npos);
  }
}

TEST(FormatDuration, CompactForms) {
  EXPECT_EQ(format_duration(Seconds(0)), "0s");
  EXPECT_EQ(format_duration(Seconds(45)), "45s");
  EXPECT_EQ(format_duration(Seconds(125)), "2m05s");
  EXPECT_EQ(format_duration(Seconds(9000)), "2h30m");
  EXPECT_EQ(format_duration(Seconds(100800)), "1d04h");
  EXPECT_EQ(format_duration(Seconds(1.5)), "1.5s");
  EXPECT_EQ(format_duration(Seconds(59.6)), "1m00s");
  EXPECT_EQ(format_duration(Seconds(-45)), "-45s");
}

// `history` printed a 0.03 s wait as 0.0s beside a GPU time of 0s in one row.
TEST(FormatDuration, AValueReadsTheSameHoweverCloseToWholeItWas) {
  EXPECT_EQ(format_duration(Seconds(0.03)), "0s");
  EXPECT_EQ(format_duration(Seconds(-0.03)), "0s");
  EXPECT_EQ(format_duration(Seconds(2.04)), "2s");
  EXPECT_EQ(format_duration(Seconds(2.06)), "2.1s");
  EXPECT_EQ(format_duration(Seconds(9.96)), "10s");
  EXPECT_EQ(format_duration(Seconds(-1.5)), "-1.5s");
}

TEST(FormatDuration, RoundTripsValuesItShowsExactly) {
  for (const double seconds : {0.0, 1.5, 45.0, 125.0, 3600.0, 9000.0, 86400.0, 100800.0}) {
    const std::string text = format_duration(Seconds(seconds));
    EXPECT_DOUBLE_EQ(seconds_of(text), seconds) << text;
  }
}

// Settings are shown as the user writes them: "1h", not "1h00m"; and nothing rounded away.
TEST(FormatDurationExact, ShortestFormThatReadsBackTheSameValue) {
  EXPECT_EQ(format_duration_exact(Seconds(0)), "0s");
  EXPECT_EQ(format_duration_exact(Seconds(90)), "1m30s");
  EXPECT_EQ(format_duration_exact(Seconds(3600)), "1h");
  EXPECT_EQ(format_duration_exact(Seconds(93600)), "1d2h");
  EXPECT_EQ(format_duration_exact(Seconds(86401)), "1d1s");
  EXPECT_EQ(format_duration_exact(Seconds(0.5)), "0.5s");
  EXPECT_EQ(format_duration_exact(Seconds(61.25)), "1m1.25s");
  for (const double seconds : {1.0, 59.5, 90.0, 3661.0, 36000.0, 86400.0, 90061.125, 1e9}) {
    const std::string text = format_duration_exact(Seconds(seconds));
    EXPECT_DOUBLE_EQ(seconds_of(text), seconds) << text;
  }
}

}  // namespace
}  // namespace fastgpu
