// What fastgpu-burn (CUDA) and fastgpu-burn-cpu (its CPU stand-in) share: the command line,
// the exit codes, the stop signal, progress lines and the final summary.
//
// This header is compiled by nvcc as C++17 as well as by the C++ compiler, so it uses no
// C++20 features. Not thread-safe unless a function says otherwise; both programs run one
// thread of control.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace fastgpu::workload {

// Exit codes a job log and the engine can count on.
inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 2;        // a bad flag or value; the message names it
inline constexpr int kExitOutOfMemory = 3;  // the requested memory could not be had
inline constexpr int kExitDeviceError = 4;  // any other CUDA or device error
inline constexpr int kExitSigint = 130;     // stopped by SIGINT, summary printed
inline constexpr int kExitSigterm = 143;    // stopped by SIGTERM, summary printed

struct BurnOptions {
  std::uint64_t mem_bytes = 0;  // everything the program allocates, matrices included
  double seconds = 10.0;        // how long to run matrix products, unless products is set
  std::uint64_t products = 0;   // when not 0: run exactly this many products, however long
  std::uint64_t step = 0;       // products per step; 0: as many as take about 0.2 s (GPU), 1 (CPU)
  double idle_seconds = 0.0;    // the device idles this long before each step (its input)
  double idle_jitter_seconds = 0.0;  // each idle is idle_seconds plus or minus up to this
  std::uint64_t size = 0;            // matrix dimension N (N x N floats)
  bool json = false;                 // one JSON line on stdout at the end, text on stderr
};

struct BurnDefaults {
  const char* program;      // "fastgpu-burn"
  const char* description;  // one line for --help
  const char* mem;          // default --mem, e.g. "1G"
  std::uint64_t size;       // default --size
};

// Parses argv. On --help prints usage and returns kExitOk in *exit_code with false; on a bad
// flag or value prints a message naming it to stderr, sets *exit_code to kExitUsage and
// returns false. Returns true when the program should run.
bool parse_burn_args(int argc, char** argv, const BurnDefaults& defaults, BurnOptions* options,
                     int* exit_code);

// Installs SIGTERM and SIGINT handlers that only set a flag; the loops poll it, so the
// program stops between two matrix products and still prints its summary.
void install_stop_handlers();
bool stop_requested();
// kExitSigterm, kExitSigint, or kExitOk when no signal arrived.
int stop_exit_code();

// Whether the loop is done: the time is up, or --products many are done.
bool work_done(const BurnOptions& options, double elapsed_seconds, std::uint64_t matmuls);
// How many of `batch` products to launch next, so --products is not overshot.
std::uint64_t next_batch(const BurnOptions& options, std::uint64_t batch, std::uint64_t matmuls);
// Before a step: sleeps --idle (plus or minus up to --idle-jitter, at random, so that jobs
// started together drift apart as real ones do), as a job waiting on its input leaves its
// device idle, and
// adds the time slept to summary.idle_seconds. Returns early on SIGTERM or SIGINT.
struct BurnSummary;
void idle_before_step(const BurnOptions& options, BurnSummary& summary);

// Bytes of the three N x N float matrices (A, B and C).
std::uint64_t matrix_bytes(std::uint64_t size);

struct BurnSummary {
  std::string program;
  std::string device;     // "NVIDIA H100 80GB HBM3" or "cpu (stand-in)"
  int device_index = -1;  // CUDA ordinal as the process sees it; -1 on the CPU
  std::uint64_t size = 0;
  std::uint64_t bytes_requested = 0;
  std::uint64_t bytes_allocated = 0;  // what the program holds (matrices included)
  std::uint64_t peak_memory_bytes = 0;
  double seconds = 0.0;             // time spent in the matrix-product loop
  std::uint64_t matmuls = 0;        // completed N x N x N products
  bool verified = false;            // the kernel matched a reference on a small product
  double idle_seconds = 0.0;        // of `seconds`, the time idled before steps (--idle)
  std::string stopped_by = "time";  // "time", "products", "SIGTERM" or "SIGINT"
};

// 2 N^3 floating-point operations per product.
double flops_per_matmul(std::uint64_t size);
double flop_per_second(const BurnSummary& summary);

// One JSON object on one line, no trailing newline.
std::string summary_json(const BurnSummary& summary);
// A few human-readable lines.
std::string summary_text(const BurnSummary& summary);

// Prints a progress line at most every few seconds; call after each batch of products.
class ProgressPrinter {
 public:
  ProgressPrinter(std::string program, bool to_stderr, std::uint64_t size);
  void maybe_print(double elapsed_seconds, std::uint64_t matmuls);

 private:
  std::string program_;
  bool to_stderr_;
  std::uint64_t size_;
  double next_print_seconds_ = 5.0;
};

// The end of a run: says why the loop ended in summary.stopped_by (a signal, --products
// done, else the time), prints the summary (and the JSON line with --json) and returns the
// exit code. REQUIRES: summary.matmuls is the products done.
int finish_run(const BurnOptions& options, BurnSummary& summary);

// Prints a line to stdout (or stderr when --json keeps stdout for the JSON) and flushes,
// so job logs written to files show it at once.
void say(bool to_stderr, const std::string& line);

// Human forms from fastgpu/core/units.h, re-exported so the CUDA file needs no more headers.
std::string human_bytes(std::uint64_t bytes);

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start);

}  // namespace fastgpu::workload
