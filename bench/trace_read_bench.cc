// Trace reading speed: the Philly dev slice (gzip) and the openb default pod list (plain),
// each read by FastGPU's reader and by a floor baseline in the same run: zlib decompression
// of the same file plus splitting it into lines, which any reader must at least do.
// Prints jobs/s and the reader/floor time ratio after the Google Benchmark table.
//
// The traces are found in $FASTGPU_TRACES_DIR, else in shared/traces or ../shared/traces
// seen from the current folder or any folder above it (run it from the repository).
#include <benchmark/benchmark.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bench_traces.h"
#include "fastgpu/sim/trace.h"

namespace {

namespace fs = std::filesystem;

using fastgpu::bench::find_traces_dir;

struct Input {
  std::string label;   // "philly" or "openb"
  std::string format;  // reader format name
  std::string path;
};

// The floor: gzread the file in 64 KiB chunks and count the lines. Returns the line count.
std::size_t zlib_lines(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) return 0;
  std::vector<char> chunk(1U << 16);
  std::size_t lines = 0;
  int got = 0;
  while ((got = gzread(file, chunk.data(), static_cast<unsigned>(chunk.size()))) > 0) {
    for (int i = 0; i < got; ++i) lines += chunk[static_cast<std::size_t>(i)] == '\n' ? 1 : 0;
  }
  gzclose(file);
  return lines;
}

void bm_floor(benchmark::State& state, const Input& input) {
  std::size_t lines = 0;
  for (auto _ : state) {
    lines = zlib_lines(input.path);
    benchmark::DoNotOptimize(lines);
  }
  // Data rows: the lines less the header, so items/s compares with the reader's jobs/s.
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * (lines - 1)));
}

void bm_reader(benchmark::State& state, const Input& input) {
  std::size_t jobs = 0;
  for (auto _ : state) {
    fastgpu::Result<fastgpu::sim::Trace> trace = fastgpu::sim::read_trace(input.format, input.path);
    if (!trace.ok()) {
      state.SkipWithError(trace.status().to_string().c_str());
      return;
    }
    jobs = trace->jobs.size();
    benchmark::DoNotOptimize(trace->jobs.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * jobs));
  state.counters["jobs"] = static_cast<double>(jobs);
}

// Keeps each run's real and CPU time per iteration (milliseconds, the unit every benchmark
// here uses) and its items/s, to print ratios at the end. The ratio uses CPU time, which a
// busy shared machine disturbs less than wall time.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  struct Figures {
    double real_ms = 0;
    double cpu_ms = 0;
    double items_per_second = 0;
  };

  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.run_type != Run::RT_Iteration || run.error_occurred) continue;
      Figures& figures = figures_[run.benchmark_name()];
      figures.real_ms = run.GetAdjustedRealTime();
      figures.cpu_ms = run.GetAdjustedCPUTime();
      const auto items = run.counters.find("items_per_second");
      if (items != run.counters.end()) figures.items_per_second = items->second;
    }
    ConsoleReporter::ReportRuns(runs);
  }

  void print_ratios(const std::vector<Input>& inputs) const {
    std::printf(
        "\nreader vs floor (zlib decompression + line split of the same file), CPU time:\n");
    for (const Input& input : inputs) {
      const auto reader = figures_.find("read/" + input.label);
      const auto floor = figures_.find("floor/" + input.label);
      if (reader == figures_.end() || floor == figures_.end()) continue;
      std::printf(
          "  %-7s reader %7.2f ms cpu (%7.2f ms wall) %9.0f jobs/s | floor %6.2f ms cpu "
          "| ratio %.1fx\n",
          input.label.c_str(), reader->second.cpu_ms, reader->second.real_ms,
          reader->second.items_per_second, floor->second.cpu_ms,
          reader->second.cpu_ms / floor->second.cpu_ms);
    }
  }

 private:
  std::map<std::string, Figures> figures_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  const std::optional<fs::path> traces = find_traces_dir();
  if (!traces) {
    std::fprintf(stderr,
                 "trace_read_bench: shared/traces not found; set FASTGPU_TRACES_DIR or run it "
                 "from inside the repository\n");
    return 1;
  }
  const std::vector<Input> inputs = {
      {"philly", "philly", (*traces / "philly-dev/philly_dev_2017-09_and_2017-12.csv.gz").string()},
      {"openb", "openb", (*traces / "alibaba-openb-2023/openb_pod_list_default.csv").string()},
  };
  for (const Input& input : inputs) {
    benchmark::RegisterBenchmark(("floor/" + input.label).c_str(), bm_floor, input)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("read/" + input.label).c_str(), bm_reader, input)
        ->Unit(benchmark::kMillisecond);
  }
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.print_ratios(inputs);
  benchmark::Shutdown();
  return 0;
}
