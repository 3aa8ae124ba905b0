#include "burn_common.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>

#include "fastgpu/core/units.h"

namespace fastgpu::workload {
namespace {

// Written from a signal handler, so a lock-free atomic and nothing else.
std::atomic<int> g_stop_signal{0};

extern "C" void on_stop_signal(int signal_number) { g_stop_signal.store(signal_number); }

bool fail_usage(const std::string& message, int* exit_code) {
  std::fprintf(stderr, "%s\n", message.c_str());
  *exit_code = kExitUsage;
  return false;
}

}  // namespace

bool parse_burn_args(int argc, char** argv, const BurnDefaults& defaults, BurnOptions* options,
                     int* exit_code) {
  CLI::App app{defaults.description, defaults.program};
  std::string mem_text = defaults.mem;
  std::string time_text = "10s";
  std::uint64_t size = defaults.size;
  std::uint64_t products = 0;
  std::uint64_t step = 0;
  std::string idle_text = "0s";
  std::string jitter_text = "0s";
  app.add_option("--mem", mem_text, "memory to allocate and touch, matrices included (e.g. 8G)")
      ->capture_default_str();
  app.add_option("--time", time_text, "how long to run matrix products (e.g. 30s, 2m)")
      ->capture_default_str();
  app.add_option("--products", products,
                 "run exactly this many products, however long they take (fixed work, instead "
                 "of --time)");
  app.add_option("--step", step,
                 "products per step (default: as many as take about 0.2 s on the GPU, 1 on the "
                 "CPU)");
  app.add_option("--idle", idle_text,
                 "idle this long before each step, as a job waiting on its input (e.g. 0.6s)")
      ->capture_default_str();
  app.add_option("--idle-jitter", jitter_text,
                 "make each idle --idle plus or minus up to this, at random (e.g. 0.3s)")
      ->capture_default_str();
  app.add_option("--size", size, "matrix dimension N (N x N floats)")->capture_default_str();
  app.add_flag("--json", options->json, "print one JSON line on stdout at the end");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    *exit_code = code == 0 ? kExitOk : kExitUsage;
    return false;
  }
  const Result<Bytes> mem = parse_bytes(mem_text);
  if (!mem.ok()) return fail_usage(fmt::format("--mem: {}", mem.status().message()), exit_code);
  const Result<Seconds> duration = parse_duration(time_text);
  if (!duration.ok()) {
    return fail_usage(fmt::format("--time: {}", duration.status().message()), exit_code);
  }
  if (app.count("--products") > 0 && app.count("--time") > 0) {
    return fail_usage(fmt::format("--products {} and --time {}: give one of them (--products runs "
                                  "a fixed number of products, --time for a fixed time)",
                                  products, time_text),
                      exit_code);
  }
  if (app.count("--products") > 0 && products == 0) {
    return fail_usage("--products 0: give the number of products to run, at least 1", exit_code);
  }
  if (app.count("--step") > 0 && step == 0) {
    return fail_usage("--step 0: give the number of products in a step, at least 1", exit_code);
  }
  const Result<Seconds> idle = parse_duration(idle_text);
  if (!idle.ok()) return fail_usage(fmt::format("--idle: {}", idle.status().message()), exit_code);
  const Result<Seconds> jitter = parse_duration(jitter_text);
  if (!jitter.ok()) {
    return fail_usage(fmt::format("--idle-jitter: {}", jitter.status().message()), exit_code);
  }
  if (jitter->count() > idle->count()) {
    return fail_usage(fmt::format("--idle-jitter {} is more than --idle {}: an idle cannot be "
                                  "shorter than 0; give at most {}",
                                  jitter_text, idle_text, idle_text),
                      exit_code);
  }
  if (size == 0) return fail_usage("--size 0: the matrix dimension must be at least 1", exit_code);
  if (matrix_bytes(size) > *mem) {
    return fail_usage(fmt::format("--mem {}: the three {}x{} matrices alone need {}; raise --mem "
                                  "or lower --size",
                                  mem_text, size, size, format_bytes(matrix_bytes(size))),
                      exit_code);
  }
  options->mem_bytes = *mem;
  options->seconds = duration->count();
  options->size = size;
  options->products = products;
  options->step = step;
  options->idle_seconds = idle->count();
  options->idle_jitter_seconds = jitter->count();
  return true;
}

bool work_done(const BurnOptions& options, double elapsed_seconds, std::uint64_t matmuls) {
  if (options.products > 0) return matmuls >= options.products;
  return elapsed_seconds >= options.seconds;
}

std::uint64_t next_batch(const BurnOptions& options, std::uint64_t batch, std::uint64_t matmuls) {
  if (options.products == 0) return batch;
  const std::uint64_t left = options.products > matmuls ? options.products - matmuls : 0;
  return batch < left ? batch : left;
}

void idle_before_step(const BurnOptions& options, BurnSummary& summary) {
  if (options.idle_seconds <= 0.0) return;
  static std::mt19937_64 random(std::random_device{}());
  std::uniform_real_distribution<double> jitter(-options.idle_jitter_seconds,
                                                options.idle_jitter_seconds);
  const double seconds = options.idle_seconds + jitter(random);
  const Clock::time_point start = Clock::now();
  const Clock::time_point until =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  // Short sleeps, so a SIGTERM is seen within a tenth of a second.
  while (!stop_requested()) {
    const Clock::duration left = until - Clock::now();
    if (left <= Clock::duration::zero()) break;
    std::this_thread::sleep_for(std::min<Clock::duration>(left, std::chrono::milliseconds(100)));
  }
  summary.idle_seconds += seconds_since(start);
}

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
}

bool stop_requested() { return g_stop_signal.load() != 0; }

int stop_exit_code() {
  switch (g_stop_signal.load()) {
    case SIGTERM: return kExitSigterm;
    case SIGINT: return kExitSigint;
    default: return kExitOk;
  }
}

std::uint64_t matrix_bytes(std::uint64_t size) { return 3 * size * size * sizeof(float); }

double flops_per_matmul(std::uint64_t size) {
  const auto n = static_cast<double>(size);
  return 2.0 * n * n * n;
}

double flop_per_second(const BurnSummary& summary) {
  if (summary.seconds <= 0.0) return 0.0;
  return static_cast<double>(summary.matmuls) * flops_per_matmul(summary.size) / summary.seconds;
}

std::string summary_json(const BurnSummary& summary) {
  const double rate = flop_per_second(summary);
  nlohmann::json out = {
      {"program", summary.program},
      {"device", summary.device},
      {"device_index", summary.device_index},
      {"size", summary.size},
      {"bytes_requested", summary.bytes_requested},
      {"bytes_allocated", summary.bytes_allocated},
      {"peak_memory_bytes", summary.peak_memory_bytes},
      {"seconds", summary.seconds},
      {"matmuls", summary.matmuls},
      {"tflop_per_s", rate / 1e12},
      {"gflop_per_s", rate / 1e9},
      {"verified", summary.verified},
      {"idle_seconds", summary.idle_seconds},
      {"stopped_by", summary.stopped_by},
  };
  return out.dump();
}

std::string summary_text(const BurnSummary& summary) {
  const double rate = flop_per_second(summary);
  return fmt::format(
      "{}: done ({}) on {}: {} products of {}x{} in {:.2f} s, {:.2f} TFLOP/s ({:.1f} GFLOP/s); "
      "allocated {}, peak {}; kernel check {}{}",
      summary.program, summary.stopped_by, summary.device, summary.matmuls, summary.size,
      summary.size, summary.seconds, rate / 1e12, rate / 1e9, human_bytes(summary.bytes_allocated),
      human_bytes(summary.peak_memory_bytes), summary.verified ? "passed" : "not run",
      summary.idle_seconds > 0.0
          ? fmt::format("; idle {:.2f} s of it before the steps (--idle)", summary.idle_seconds)
          : "");
}

ProgressPrinter::ProgressPrinter(std::string program, bool to_stderr, std::uint64_t size)
    : program_(std::move(program)), to_stderr_(to_stderr), size_(size) {}

void ProgressPrinter::maybe_print(double elapsed_seconds, std::uint64_t matmuls) {
  if (elapsed_seconds < next_print_seconds_) return;
  // Sparse on purpose: a job log should show life, not one line per product.
  next_print_seconds_ = elapsed_seconds + (elapsed_seconds < 60.0 ? 5.0 : 60.0);
  const double rate = static_cast<double>(matmuls) * flops_per_matmul(size_) / elapsed_seconds;
  // The CPU stand-in is far below a TFLOP/s, so it reads in GFLOP/s.
  const bool tera = rate >= 1e11;
  say(to_stderr_,
      fmt::format("{}: {:.0f} s, {} products, {:.2f} {}FLOP/s", program_, elapsed_seconds, matmuls,
                  tera ? rate / 1e12 : rate / 1e9, tera ? "T" : "G"));
}

int finish_run(const BurnOptions& options, BurnSummary& summary) {
  const int exit_code = stop_exit_code();
  if (exit_code != kExitOk) {
    summary.stopped_by = exit_code == kExitSigterm ? "SIGTERM" : "SIGINT";
  } else if (options.products > 0 && summary.matmuls >= options.products) {
    summary.stopped_by = "products";
  }
  say(options.json, summary_text(summary));
  if (options.json) say(false, summary_json(summary));
  return exit_code;
}

void say(bool to_stderr, const std::string& line) {
  std::FILE* stream = to_stderr ? stderr : stdout;
  std::fprintf(stream, "%s\n", line.c_str());
  std::fflush(stream);
}

std::string human_bytes(std::uint64_t bytes) { return format_bytes(bytes); }

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace fastgpu::workload
