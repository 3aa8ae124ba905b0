#include "cli/display_width.h"

#include <gtest/gtest.h>

#include <string>

namespace fastgpu::cli {
namespace {

TEST(DisplayWidth, CountsColumnsNotBytes) {
  EXPECT_EQ(display_width(""), 0u);
  EXPECT_EQ(display_width("alice"), 5u);
  EXPECT_EQ(display_width("é"), 1u);         // two bytes, one column
  EXPECT_EQ(display_width("日本"), 4u);      // wide: two columns each
  EXPECT_EQ(display_width("한국"), 4u);      // Hangul syllables
  EXPECT_EQ(display_width("\xe5\x90"), 2u);  // a cut character: a column per byte
}

// The queue's NAME column is cut to 20 columns: between characters, never inside one.
TEST(DisplayWidth, ACutKeepsWholeCharactersWithinTheWidth) {
  EXPECT_EQ(fit_to_width("short", 10), "short");
  EXPECT_EQ(fit_to_width("a-name-longer-than-twenty", 20), "a-name-longer-than-+");
  // 9 wide characters are 18 columns; a tenth would make 21 with the '+'.
  EXPECT_EQ(fit_to_width("日本語の長い名前のジョブ", 20), "日本語の長い名前の+");
  std::string accented;
  for (int i = 0; i < 22; ++i) accented += "é";
  const std::string cut = fit_to_width(accented, 20);  // 19 of them and '+'
  EXPECT_EQ(cut, accented.substr(0, 19 * 2) + "+");
  EXPECT_EQ(display_width(fit_to_width("日本語の長い名前のジョブ", 20)), 19u);
}

TEST(DisplayWidth, PaddingFillsToTheColumnsNotTheBytes) {
  EXPECT_EQ(pad_to_width("日本", 6), "日本  ");
  EXPECT_EQ(pad_to_width("é", 3), "é  ");
  EXPECT_EQ(pad_to_width("toolong", 3), "toolong");
}

}  // namespace
}  // namespace fastgpu::cli
