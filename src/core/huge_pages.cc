#include "core/huge_pages.h"

#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#if __has_include(<mimalloc.h>)
#include <mimalloc.h>
// Resolved only in a program linked with mimalloc (fastgpu_use_allocator): the library
// itself does not link it, so that a program on glibc's malloc (sched_bench_glibc, the
// sanitizers' builds) links and finds it null.
#pragma weak mi_option_set_enabled
#define FASTGPU_MIMALLOC_HEADER 1
#endif

namespace fastgpu {
namespace {

constexpr std::uintptr_t kHugePage = std::uintptr_t{2} << 20;

// Asks for huge pages over the whole 2 MiB pages of the mapping that holds `address` (from
// /proc/self/maps): the heap the allocator set up before main(), which the option does not
// reach (mimalloc's first 32 MiB of small blocks: 8,000 page faults at 100,000 jobs).
void advise_mapping_holding(const void* address) {
  const auto at = reinterpret_cast<std::uintptr_t>(address);
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    std::istringstream range(line);
    std::uintptr_t from = 0;
    std::uintptr_t to = 0;
    char dash = 0;
    if (!(range >> std::hex >> from >> dash >> to) || dash != '-' || at < from || at >= to) {
      continue;
    }
    const std::uintptr_t first = (from + kHugePage - 1) & ~(kHugePage - 1);
    const std::uintptr_t last = to & ~(kHugePage - 1);
    if (first < last) {
      // Advice only: where the kernel refuses it, the pages stay as they were.
      (void)::madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
    }
    return;
  }
}

}  // namespace

bool running_on_mimalloc() {
#ifdef FASTGPU_MIMALLOC_HEADER
  return &mi_option_set_enabled != nullptr;
#else
  return false;
#endif
}

bool prefer_huge_pages() {
#ifdef FASTGPU_MIMALLOC_HEADER
  if (!running_on_mimalloc() || std::getenv("MIMALLOC_LARGE_OS_PAGES") != nullptr) return false;
  mi_option_set_enabled(mi_option_large_os_pages, true);
  const auto probe = std::make_unique<char>(0);  // a small block: where the heap is now
  advise_mapping_holding(probe.get());
  return true;
#else
  return false;
#endif
}

}  // namespace fastgpu
