// The heap on the kernel's transparent huge pages (2 MiB) for the programs that hold large
// state: the daemon and the simulator. On a virtual machine a first touch of a 4 KiB page
// can cost 10 us or more (11 us measured on the 2-core Debian 12 VM, 2026-12-05), and a
// queue of 100,000 jobs touches about 19,000 of them; one huge page maps 512 at once.
#pragma once

namespace fastgpu {

// From now on, asks the allocator to place new heap memory on transparent huge pages,
// where the program runs on mimalloc (FASTGPU_MIMALLOC, the default) and the user has not
// chosen otherwise with MIMALLOC_LARGE_OS_PAGES (0 keeps 4 KiB pages). The kernel decides
// in the end: /sys/kernel/mm/transparent_hugepage/enabled "never" gives none. Returns
// whether it asked.
bool prefer_huge_pages();

// Whether this program's malloc is mimalloc's.
bool running_on_mimalloc();

}  // namespace fastgpu
