#include "fastgpu/core/text.h"

#include <gtest/gtest.h>
#include <stdio.h>

#include <string>

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

}  // namespace
}  // namespace fastgpu
