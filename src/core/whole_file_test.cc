#include "core/whole_file.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <sstream>

namespace fastgpu {
namespace {

std::string read(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(WholeFile, ReplacesTheFileAndLeavesNothingBeside) {
  char pattern[] = "/tmp/whole-file-XXXXXX";
  const std::filesystem::path dir = ::mkdtemp(pattern);
  const std::filesystem::path file = dir / "out.prom";
  ASSERT_TRUE(write_whole_file(file, "old\n").ok());
  ASSERT_TRUE(write_whole_file(file, "new\n").ok());
  EXPECT_EQ(read(file), "new\n");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), {}), 1);
  // A folder that cannot take it: the error names the file, and the old one stays.
  const Status failed = write_whole_file(dir / "no" / "out.prom", "x");
  EXPECT_FALSE(failed.ok());
  EXPECT_NE(failed.message().find(".out.prom."), std::string::npos) << failed.message();
  EXPECT_EQ(read(file), "new\n");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace fastgpu
