#include "fastgpu/core/text.h"

#include <gtest/gtest.h>
#include <stdio.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fastgpu {
namespace {

// What /bin/sh makes of `text`: its words, one per line.
std::string words_by_shell(const std::string& text) {
  const std::string command = "for w in " + text + "; do printf '%s\\n' \"$w\"; done";
  FILE* pipe = ::popen(("/bin/sh -c " + shell_quote(command)).c_str(), "r");
  if (pipe == nullptr) return "<popen failed>";
  std::string out;
  char buffer[256];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) out += buffer;
  ::pclose(pipe);
  return out;
}

TEST(SplitCommas, TheNamesBetweenCommasAndNoEmptyOne) {
  using Parts = std::vector<std::string_view>;
  EXPECT_EQ(split_commas("train"), Parts{"train"});
  EXPECT_EQ(split_commas("train,eval,a b"), (Parts{"train", "eval", "a b"}));
  for (const char* bad : {"", ",", "a,", ",a", "a,,b"})
    EXPECT_EQ(split_commas(bad), std::nullopt) << bad;
}

TEST(ShellQuote, PlainWordsStayAsTheyAre) {
  EXPECT_EQ(shell_quote("python3"), "python3");
  EXPECT_EQ(shell_quote("--lr=0.1"), "--lr=0.1");
  EXPECT_EQ(shell_quote("/data/run_1,2:3@x%y+z"), "/data/run_1,2:3@x%y+z");
}

TEST(ShellQuote, EveryOtherWordComesBackWholeThroughTheShell) {
  for (const std::string word : {"echo hi; sleep 1", "", "it's", "'", "a\"b", "$HOME", "*", "a\\b",
                                 "two  spaces", "tab\there", "!x", "`id`", "semi;colon"}) {
    EXPECT_EQ(words_by_shell(shell_quote(word)), word + "\n") << "word: " << word;
  }
  EXPECT_EQ(words_by_shell(shell_quote("a b") + " " + shell_quote("c'd")), "a b\nc'd\n");
}

TEST(Printable, ControlCharactersAreWrittenOutAndTheRestKept) {
  EXPECT_EQ(printable("train-resnet50"), "train-resnet50");
  EXPECT_EQ(printable("\x1b[31mred\x1b[0m"), "\\x1b[31mred\\x1b[0m");
  EXPECT_EQ(printable("a\nb\tc\rd\x07\x7f"), "a\\nb\\tc\\rd\\x07\\x7f");
  EXPECT_EQ(printable(std::string("nul\0here", 8)), "nul\\x00here");
  // UTF-8 letters stay; the C1 control U+009B (CSI, 0xC2 0x9B) does not.
  EXPECT_EQ(printable("d\xc3\xa9j\xc3\xa0 \xe5\xad\xa6"), "d\xc3\xa9j\xc3\xa0 \xe5\xad\xa6");
  EXPECT_EQ(printable("x\xc2\x9b"
                      "2J"),
            "x\\u009b2J");
}

}  // namespace
}  // namespace fastgpu
