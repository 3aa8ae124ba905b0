#include "core/huge_pages.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace fastgpu {
namespace {

// The kernel's setting, e.g. "always [madvise] never"; empty where the file is missing.
std::string transparent_huge_pages_mode() {
  std::ifstream file("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string mode;
  std::getline(file, mode);
  return mode;
}

// AnonHugePages (kB) of the mapping of this process that holds `address`; -1 if none does.
long huge_kb_of_mapping_at(const void* address) {
  const auto at = reinterpret_cast<std::uintptr_t>(address);
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    std::uintptr_t from = 0;
    std::uintptr_t to = 0;
    char dash = 0;
    std::istringstream range(line);
    if (range >> std::hex >> from >> dash >> to && dash == '-') {
      inside = from <= at && at < to;
      continue;
    }
    if (inside && line.rfind("AnonHugePages:", 0) == 0) {
      return std::stol(line.substr(std::strlen("AnonHugePages:")));
    }
  }
  return -1;
}

// The daemon and the simulator ask for huge pages before they build their state: a large
// block allocated after the ask, and touched, is mapped (at least in part) on 2 MiB pages.
TEST(HugePages, ABlockAllocatedAfterTheAskLiesOnHugePages) {
  if (!running_on_mimalloc()) GTEST_SKIP() << "built without mimalloc (a sanitizer's allocator)";
  const std::string mode = transparent_huge_pages_mode();
  if (mode.empty() || mode.find("[never]") != std::string::npos) {
    GTEST_SKIP() << "the kernel offers no transparent huge pages ('" << mode << "')";
  }
  if (::getenv("MIMALLOC_LARGE_OS_PAGES") != nullptr) {
    GTEST_SKIP() << "MIMALLOC_LARGE_OS_PAGES is set: the user chose";
  }
  ASSERT_TRUE(prefer_huge_pages());
  constexpr std::size_t kBytes = std::size_t{64} << 20;
  const auto block = std::make_unique<char[]>(kBytes);
  std::memset(block.get(), 1, kBytes);
  EXPECT_GT(huge_kb_of_mapping_at(block.get() + kBytes / 2), 0) << "kernel setting: " << mode;
  // Small blocks too, those of the heap the allocator set up before the ask among them:
  // 16 MiB of job-sized ones.
  std::vector<std::unique_ptr<char[]>> small(65536);
  for (auto& one : small) {
    one = std::make_unique<char[]>(256);
    std::memset(one.get(), 1, 256);
  }
  EXPECT_GT(huge_kb_of_mapping_at(small.front().get()), 0) << "kernel setting: " << mode;
  EXPECT_GT(huge_kb_of_mapping_at(small.back().get()), 0) << "kernel setting: " << mode;
}

// MIMALLOC_LARGE_OS_PAGES is the user's choice, either way: it is left as it is.
TEST(HugePages, TheUsersOwnChoiceIsKept) {
  ::setenv("MIMALLOC_LARGE_OS_PAGES", "0", 1);
  EXPECT_FALSE(prefer_huge_pages());
  ::unsetenv("MIMALLOC_LARGE_OS_PAGES");
}

}  // namespace
}  // namespace fastgpu
