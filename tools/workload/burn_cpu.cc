// fastgpu-burn-cpu: the CPU stand-in for fastgpu-burn, with the same command line and the
// same summary, for machines without a GPU (examples with simulated GPUs, CI). It holds the
// requested host memory (touched, so it is resident) and multiplies float matrices on one
// core until the time is up. See docs/workload.md.
#include <sys/resource.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "burn_common.h"

namespace {

using namespace fastgpu::workload;

constexpr std::uint64_t kPageBytes = 4096;
constexpr std::uint64_t kRowBlock = 32;  // rows of C between two stop checks

std::uint64_t physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page_size <= 0) return 0;
  return static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page_size);
}

std::uint64_t peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<std::uint64_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

// Writes one byte per page through a volatile pointer, so the compiler cannot drop the
// stores and the kernel must back every page with real memory.
void touch(unsigned char* bytes, std::uint64_t count) {
  volatile unsigned char* pages = bytes;
  for (std::uint64_t offset = 0; offset < count; offset += kPageBytes) pages[offset] = 0xA5;
}

void fill(std::vector<float>& matrix, std::uint64_t seed) {
  // Multiples of 1/8 in [-0.75, 0.75]: small products whose sums stay exact in float.
  for (std::uint64_t i = 0; i < matrix.size(); ++i) {
    matrix[i] = static_cast<float>(static_cast<int>((i * 7 + seed) % 13) - 6) / 8.0f;
  }
}

// C = A * B for n x n row-major matrices, i-k-j order so the inner loop vectorizes. Returns
// false, leaving C partial, when `should_stop` says so between two blocks of rows.
template <typename ShouldStop>
bool matmul(const std::vector<float>& a, const std::vector<float>& b, std::vector<float>& c,
            std::uint64_t n, ShouldStop should_stop) {
  for (std::uint64_t row0 = 0; row0 < n; row0 += kRowBlock) {
    if (should_stop()) return false;
    const std::uint64_t row_end = row0 + kRowBlock < n ? row0 + kRowBlock : n;
    for (std::uint64_t i = row0; i < row_end; ++i) {
      float* c_row = &c[i * n];
      for (std::uint64_t j = 0; j < n; ++j) c_row[j] = 0.0f;
      for (std::uint64_t k = 0; k < n; ++k) {
        const float a_ik = a[i * n + k];
        const float* b_row = &b[k * n];
        for (std::uint64_t j = 0; j < n; ++j) c_row[j] += a_ik * b_row[j];
      }
    }
  }
  return true;
}

// Checks matmul against a double-precision reference on a small product with exact sums.
bool self_check() {
  constexpr std::uint64_t kN = 48;
  std::vector<float> a(kN * kN), b(kN * kN), c(kN * kN);
  fill(a, 1);
  fill(b, 5);
  matmul(a, b, c, kN, [] { return false; });
  for (std::uint64_t i = 0; i < kN; ++i) {
    for (std::uint64_t j = 0; j < kN; ++j) {
      double expected = 0.0;
      for (std::uint64_t k = 0; k < kN; ++k) expected += double{a[i * kN + k]} * b[k * kN + j];
      if (static_cast<double>(c[i * kN + j]) != expected) return false;
    }
  }
  return true;
}

int refuse_memory(const BurnOptions& options, std::uint64_t cap) {
  std::fprintf(stderr,
               "fastgpu-burn-cpu: --mem %s is more than the stand-in's cap of %s (half of this "
               "machine's %s of RAM); ask for less\n",
               human_bytes(options.mem_bytes).c_str(), human_bytes(cap).c_str(),
               human_bytes(2 * cap).c_str());
  return kExitOutOfMemory;
}

int run(const BurnOptions& options) {
  const std::uint64_t cap = physical_memory_bytes() / 2;
  if (options.mem_bytes > cap) return refuse_memory(options, cap);
  const std::uint64_t n = options.size;
  const std::uint64_t ballast_bytes = options.mem_bytes - matrix_bytes(n);
  std::unique_ptr<unsigned char[]> ballast(new (std::nothrow) unsigned char[ballast_bytes]);
  if (ballast == nullptr && ballast_bytes > 0) {
    std::fprintf(stderr, "fastgpu-burn-cpu: out of host memory allocating %s\n",
                 human_bytes(ballast_bytes).c_str());
    return kExitOutOfMemory;
  }
  touch(ballast.get(), ballast_bytes);
  std::vector<float> a(n * n), b(n * n), c(n * n);
  fill(a, 1);
  fill(b, 5);

  BurnSummary summary;
  summary.program = "fastgpu-burn-cpu";
  summary.device = "cpu (stand-in)";
  summary.size = n;
  summary.bytes_requested = options.mem_bytes;
  summary.bytes_allocated = ballast_bytes + matrix_bytes(n);
  summary.verified = self_check();
  if (!summary.verified) {
    std::fprintf(stderr, "fastgpu-burn-cpu: the matrix product gave wrong results\n");
    return kExitDeviceError;
  }
  say(options.json, "fastgpu-burn-cpu: holding " + human_bytes(summary.bytes_allocated) +
                        ", multiplying " + std::to_string(n) + "x" + std::to_string(n) +
                        " float matrices on one core");

  ProgressPrinter progress(summary.program, options.json, n);
  const Clock::time_point start = Clock::now();
  const auto should_stop = [&] {
    return stop_requested() || work_done(options, seconds_since(start), summary.matmuls);
  };
  const std::uint64_t step = options.step > 0 ? options.step : 1;
  idle_before_step(options, summary);
  while (matmul(a, b, c, n, should_stop)) {
    ++summary.matmuls;
    if (summary.matmuls % step == 0 && !should_stop()) idle_before_step(options, summary);
    progress.maybe_print(seconds_since(start), summary.matmuls);
  }
  summary.seconds = seconds_since(start);
  summary.peak_memory_bytes = peak_rss_bytes();
  return finish_run(options, summary);
}

}  // namespace

int main(int argc, char** argv) {
  const BurnDefaults defaults{"fastgpu-burn-cpu",
                              "fastgpu-burn-cpu: hold host memory and multiply matrices on one "
                              "core (CPU stand-in for fastgpu-burn)",
                              "64M", 512};
  BurnOptions options;
  int exit_code = kExitOk;
  if (!parse_burn_args(argc, argv, defaults, &options, &exit_code)) return exit_code;
  install_stop_handlers();
  return run(options);
}
