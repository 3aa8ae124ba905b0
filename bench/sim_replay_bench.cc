// Trace replay speed of the simulator with FIFO: the Philly dev slice (13,737 jobs) on its
// busiest VC and on the whole 2,816-GPU cluster, and an 82k-job Philly-shaped trace (the
// dev slice resampled 6x, each copy shifted to start after the previous one ends). The
// goal (DESIGN.md section 5, issue 5) is the 82k-job trace in under 3 s on one core.
// After the Google Benchmark table it prints seconds, jobs/s, schedule() calls and the
// ratio to the 3 s goal for each case.
//
// The traces are found in $FASTGPU_TRACES_DIR, else in shared/traces or ../shared/traces
// seen from the current folder or any folder above it (run it from the repository).
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "bench_traces.h"
#include "core/huge_pages.h"
#include "fastgpu/sim/cluster_spec.h"
#include "fastgpu/sim/simulator.h"
#include "fastgpu/sim/trace.h"

namespace {

namespace fs = std::filesystem;
using fastgpu::sim::ClusterSpec;
using fastgpu::sim::Trace;

constexpr double kGoalSeconds = 3.0;
constexpr int kCopies = 6;

using fastgpu::bench::find_traces_dir;

Trace resampled(const Trace& trace, int copies) {
  Trace out;
  out.name = trace.name + " x" + std::to_string(copies);
  out.format = trace.format;
  const double span = trace.jobs.empty() ? 0 : trace.jobs.back().submit_s + 1;
  for (int k = 0; k < copies; ++k) {
    for (fastgpu::sim::TraceJob job : trace.jobs) {
      job.id += "-" + std::to_string(k);
      job.submit_s += span * k;
      out.jobs.push_back(std::move(job));
    }
  }
  return out;
}

ClusterSpec merged(const std::vector<ClusterSpec>& clusters) {
  ClusterSpec all;
  all.name = "all VCs";
  for (const ClusterSpec& cluster : clusters) {
    all.nodes.insert(all.nodes.end(), cluster.nodes.begin(), cluster.nodes.end());
  }
  return all;
}

struct Case {
  std::string label;
  Trace trace;
  ClusterSpec cluster;
  double seconds = 0;  // of the last iteration
  std::size_t calls = 0;
  std::size_t completed = 0;
};

void bm_replay(benchmark::State& state, Case* replay) {
  fastgpu::sim::SimOptions options;
  options.scheduler.policy = "fifo";
  options.scheduler.backfill = false;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    auto result = fastgpu::sim::simulate(replay->trace, replay->cluster, options);
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    if (!result.ok()) {
      state.SkipWithError(result.status().to_string().c_str());
      return;
    }
    replay->seconds = took.count();
    replay->calls = result->schedule_calls;
    replay->completed = result->metrics.completed;
  }
  state.counters["jobs"] = static_cast<double>(replay->trace.jobs.size());
  state.counters["jobs/s"] = benchmark::Counter(
      static_cast<double>(replay->trace.jobs.size()) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate);
}

}  // namespace

int main(int argc, char** argv) {
  fastgpu::prefer_huge_pages();  // as `fastgpu simulate` runs (core/huge_pages.h)
  benchmark::Initialize(&argc, argv);
  const auto dir = find_traces_dir();
  if (!dir) {
    std::fprintf(stderr, "sim_replay_bench: shared/traces not found; set FASTGPU_TRACES_DIR\n");
    return 1;
  }
  const std::string philly =
      (*dir / "philly-dev" / "philly_dev_2017-09_and_2017-12.csv.gz").string();
  const std::string vcs = (*dir / "philly-dev" / "philly_vc.csv").string();
  auto trace = fastgpu::sim::read_trace("philly", philly);
  auto clusters = fastgpu::sim::read_philly_vcs(vcs);
  if (!trace.ok() || !clusters.ok()) {
    std::fprintf(stderr, "sim_replay_bench: %s%s\n", trace.status().to_string().c_str(),
                 clusters.status().to_string().c_str());
    return 1;
  }
  const std::string vc = "6214e9";  // the busiest VC: 7,276 jobs on 64 nodes
  auto one_vc = fastgpu::sim::select_cluster(*clusters, vc);
  std::vector<Case> cases;
  cases.push_back({"philly dev, VC " + vc, fastgpu::sim::filter_by_user(*trace, vc), *one_vc});
  cases.push_back({"philly dev, whole cluster", *trace, merged(*clusters)});
  cases.push_back(
      {"philly-shaped 82k, whole cluster", resampled(*trace, kCopies), merged(*clusters)});
  for (Case& replay : cases) {
    benchmark::RegisterBenchmark(replay.label.c_str(), bm_replay, &replay)
        ->Unit(benchmark::kMillisecond)
        ->Iterations(1)
        ->Repetitions(1)
        ->ReportAggregatesOnly(false);
  }
  benchmark::RunSpecifiedBenchmarks();
  std::printf("\n%-34s %8s %7s %9s %10s %9s %s\n", "case", "jobs", "GPUs", "seconds", "jobs/s",
              "calls", "vs 3 s goal");
  for (const Case& replay : cases) {
    std::printf("%-34s %8zu %7d %9.3f %10.0f %9zu %.2fx\n", replay.label.c_str(),
                replay.trace.jobs.size(), replay.cluster.total_gpus(), replay.seconds,
                static_cast<double>(replay.trace.jobs.size()) / replay.seconds, replay.calls,
                replay.seconds / kGoalSeconds);
  }
  benchmark::Shutdown();
  return 0;
}
