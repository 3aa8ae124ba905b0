#include "sim/csv.h"

#include <gtest/gtest.h>

#include "sim/civil_time.h"
#include "sim/text_file.h"

namespace fastgpu::sim {
namespace {

TEST(SplitCsv, TrimsUnquotedAndUnquotesQuoted) {
  CsvFields fields;
  ASSERT_TRUE(fields.split(R"(a, b ,"c,d","say ""hi""", "x""y""z" ,)"));
  EXPECT_EQ(fields.views(),
            (std::vector<std::string_view>{"a", "b", "c,d", "say \"hi\"", "x\"y\"z", ""}));
}

TEST(SplitCsv, RejectsUnterminatedQuote) {
  CsvFields fields;
  EXPECT_FALSE(fields.split(R"(a,"open)"));
}

TEST(ParseNumbers, AreStrict) {
  EXPECT_EQ(parse_double("2240194.0"), 2240194.0);
  EXPECT_EQ(parse_double(" 1e3 "), 1000.0);
  EXPECT_FALSE(parse_double("12abc"));
  EXPECT_FALSE(parse_double(""));
  EXPECT_FALSE(parse_double("nan"));
  EXPECT_EQ(parse_int("8.0"), 8);
  EXPECT_FALSE(parse_int("8.5"));
}

TEST(CsvRow, KeepsFirstErrorWithColumnAndValue) {
  const ColumnIndex columns(std::vector<std::string>{"a", "b"});
  const std::vector<std::string_view> fields = {"x", "70"};
  CsvRow row(columns, fields);
  EXPECT_EQ(row.number("a"), 0);
  EXPECT_EQ(row.integer("b", 0, 64), 0);  // out of range, but the first error is kept
  ASSERT_TRUE(row.error());
  EXPECT_EQ(row.error()->describe(), "column 'a': value 'x' is not a number");
}

TEST(CivilTime, CountsDaysFromEpoch) {
  EXPECT_EQ(days_from_civil(1970, 1, 1), 0);
  EXPECT_EQ(days_from_civil(2000, 3, 1), 11017);
  EXPECT_EQ(days_from_civil(1969, 12, 31), -1);
  EXPECT_EQ(parse_civil_seconds("2017-09-04 10:30:41"), 1504521041);
  EXPECT_EQ(parse_civil_seconds("2017-09-04T10:30:41Z"), 1504521041);
  // Crossing a month and a leap day.
  EXPECT_EQ(
      *parse_civil_seconds("2016-03-01 00:00:00") - *parse_civil_seconds("2016-02-28 00:00:00"),
      2 * 86400);
}

TEST(CivilTime, RejectsImpossibleDates) {
  EXPECT_FALSE(parse_civil_seconds("2017-02-29 00:00:00"));
  EXPECT_FALSE(parse_civil_seconds("2017-13-01 00:00:00"));
  EXPECT_FALSE(parse_civil_seconds("2017-09-04 24:00:00"));
  EXPECT_FALSE(parse_civil_seconds("2017-09-04"));
  EXPECT_FALSE(parse_civil_seconds("2017/09/04 10:30:41"));
}

TEST(LineCursor, NumbersLinesAndDropsCarriageReturns) {
  LineCursor cursor("a\r\n\nb");
  std::string_view line;
  ASSERT_TRUE(cursor.next(line));
  EXPECT_EQ(line, "a");
  ASSERT_TRUE(cursor.next(line));
  EXPECT_EQ(line, "");
  ASSERT_TRUE(cursor.next(line));
  EXPECT_EQ(line, "b");
  EXPECT_EQ(cursor.line_number(), 3U);
  EXPECT_FALSE(cursor.next(line));
}

}  // namespace
}  // namespace fastgpu::sim
