// Scheduler cost per placed job with memory-aware packing (DESIGN.md section 5): 1,000 GPUs
// of mixed sizes (125 nodes x 8; 24, 40 and 80 GiB), queues of 1k, 10k and 100k jobs mixing
// fractional, 1-, 2-, 4- and 8-GPU requests, all with declared memory.
//   cold:   an empty cluster and a full queue; one schedule() call fills the cluster.
//   steady: a full cluster where 5% of the running jobs just ended; one call refills it.
// Each reports us_per_placed (process CPU time of schedule() divided by jobs it started;
// on a shared machine wall time mostly measures the neighbours) and
// vs_hyperqueue, the ratio to HyperQueue's published ~10 us per task (below 1 is faster).
#include <benchmark/benchmark.h>
#include <sys/resource.h>
#include <time.h>

#include <chrono>
#include <cmath>
#include <functional>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include "core/huge_pages.h"
#include "fastgpu/sched/scheduler.h"

namespace fastgpu::sched {
namespace {

constexpr Bytes kGiB = Bytes{1} << 30;
constexpr double kHyperQueueUsPerTask = 10.0;

std::vector<GpuState> cluster() {
  std::vector<GpuState> gpus;
  const Bytes sizes[] = {24 * kGiB, 40 * kGiB, 80 * kGiB};
  for (int node = 0; node < 125; ++node) {
    for (int i = 0; i < 8; ++i) {
      GpuState gpu;
      gpu.index = node * 8 + i;
      gpu.node = "node" + std::to_string(node);
      gpu.total_bytes = sizes[node % 3];
      gpu.reserved_bytes = kGiB / 2;
      gpu.nvlink_group = i / 4;
      gpu.pcie_switch = i / 2;
      gpus.push_back(gpu);
    }
  }
  return gpus;
}

std::vector<Job> queue(int count, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto pick = [&](int low, int high) { return std::uniform_int_distribution<int>(low, high)(rng); };
  std::vector<Job> jobs(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    Job& job = jobs[static_cast<std::size_t>(i)];
    job.id = JobId{static_cast<std::uint64_t>(i + 1)};
    job.user = "user" + std::to_string(pick(0, 9));
    job.submit_time_s = i;
    job.priority = pick(0, 3);
    job.time_limit_s = pick(1, 24) * 600.0;
    const int kind = pick(0, 99);
    if (kind < 40) {  // fractional
      job.util_share = 0.1 * pick(1, 5);
      job.gpu_mem = static_cast<Bytes>(pick(2, 16)) * kGiB;
    } else {
      job.gpus = kind < 70 ? 1 : kind < 85 ? 2 : kind < 95 ? 4 : 8;
      job.gpu_mem = static_cast<Bytes>(pick(4, 22)) * kGiB;
    }
  }
  return jobs;
}

// Moves the started jobs from the queue to the running list.
void apply_starts(Snapshot& snapshot, const ScheduleResult& result) {
  std::vector<char> started(snapshot.queue.size() + 1, 0);
  for (const Decision& decision : result.decisions) {
    const auto& start = std::get<Start>(decision);
    const Job& job = snapshot.queue[start.job.value() - snapshot.queue.front().id.value()];
    snapshot.running.push_back({job, start.gpus, start.bytes_per_gpu, snapshot.now_s, {}});
    started[start.job.value() - snapshot.queue.front().id.value()] = 1;
  }
  std::vector<Job> waiting;
  for (std::size_t i = 0; i < snapshot.queue.size(); ++i) {
    if (started[i] == 0) waiting.push_back(snapshot.queue[i]);
  }
  snapshot.queue = std::move(waiting);
}

Snapshot cold_snapshot(int queued) {
  Snapshot snapshot;
  snapshot.gpus = cluster();
  snapshot.queue = queue(queued, 42);
  return snapshot;
}

// A cluster filled by one call, then every 20th running job ends.
Snapshot steady_snapshot(int queued, const SchedulerConfig& config) {
  Snapshot snapshot = cold_snapshot(queued + 20000);
  auto filled = schedule(snapshot, config);
  apply_starts(snapshot, *filled);
  std::vector<RunningJob> still;
  for (std::size_t i = 0; i < snapshot.running.size(); ++i) {
    if (i % 20 != 0) still.push_back(snapshot.running[i]);
  }
  snapshot.running = std::move(still);
  snapshot.queue.resize(
      std::min<std::size_t>(snapshot.queue.size(), static_cast<std::size_t>(queued)));
  snapshot.now_s = 600;
  return snapshot;
}

// This process's minor page faults so far (each a first touch of a fresh page: 11 us on
// the 2-core VM, core/huge_pages.h).
long minor_faults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

// This process's CPU time in the kernel so far (its page faults, mostly), in seconds.
double kernel_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_stime.tv_usec) * 1e-6;
}

// Process CPU time: on a shared machine wall time mostly measures the neighbours.
struct CpuClock {
  using duration = std::chrono::nanoseconds;
  using time_point = std::chrono::time_point<CpuClock, duration>;
  static time_point now() {
    timespec spec{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &spec);
    return time_point(duration(spec.tv_sec * 1'000'000'000LL + spec.tv_nsec));
  }
};

void run(benchmark::State& state, const Snapshot& snapshot, const SchedulerConfig& config) {
  std::size_t placed = 0;
  double seconds = 0;
  for (auto _ : state) {
    const auto begin = CpuClock::now();
    auto result = schedule(snapshot, config);
    seconds += std::chrono::duration<double>(CpuClock::now() - begin).count();
    placed += result->decisions.size();
    benchmark::DoNotOptimize(result);
  }
  const double per_placed_us = seconds * 1e6 / static_cast<double>(placed);
  state.counters["placed"] = static_cast<double>(placed) / static_cast<double>(state.iterations());
  state.counters["queued"] = static_cast<double>(snapshot.queue.size());
  state.counters["us_per_placed"] = per_placed_us;
  state.counters["vs_hyperqueue"] = per_placed_us / kHyperQueueUsPerTask;
}

SchedulerConfig packing(const char* policy) {
  SchedulerConfig config;
  config.policy = policy;
  config.strategy = "pack";
  return config;
}

void BM_ColdPack(benchmark::State& state) {
  const Snapshot snapshot = cold_snapshot(static_cast<int>(state.range(0)));
  run(state, snapshot, packing("priority"));
}
BENCHMARK(BM_ColdPack)->Arg(1000)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);

void BM_SteadyPack(benchmark::State& state) {
  const SchedulerConfig config = packing("priority");
  const Snapshot snapshot = steady_snapshot(static_cast<int>(state.range(0)), config);
  run(state, snapshot, config);
}
BENCHMARK(BM_SteadyPack)->Arg(1000)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);

void BM_ColdSpreadFifo(benchmark::State& state) {
  SchedulerConfig config = packing("fifo");
  config.strategy = "spread";
  const Snapshot snapshot = cold_snapshot(static_cast<int>(state.range(0)));
  run(state, snapshot, config);
}
BENCHMARK(BM_ColdSpreadFifo)->Arg(100000)->Unit(benchmark::kMillisecond);

// The Scheduler kept between calls, as the simulator and a busy daemon use it: `queued`
// jobs wait, the cluster drains them. Every job runs for a random 30-100% of its time
// limit; each call follows the next completion time. The figure is the whole CPU cost of
// scheduling (enqueue, every schedule() call, every finish()) divided by the jobs placed.
// The kept drain reads the clock twice in all: the CPU-time clock is a system call (about
// 2 us here), and reading it around every call and every batch of finishes made it 9% of
// the figure at 10k. The harness's own bookkeeping (its map of end times) is counted with
// the scheduler's, so the figure errs high.
// With pure=true the same drain goes through the pure schedule() on the full snapshot
// each call: the baseline the kept state is measured against; only the pure calls are
// timed there.
struct DrainFigures {
  double seconds = 0;
  std::size_t placed = 0;
  std::size_t calls = 0;
  long page_faults = 0;       // minor faults in the timed part: first touches of fresh memory
  double kernel_seconds = 0;  // of the timed CPU time, the kernel's (the faults', mostly)
  // FNV-1a over every start (call number, job id, GPUs): two builds that print the same
  // digest made the same decisions in the same calls.
  std::uint64_t digest = 14695981039346656037ULL;
  void mix(std::uint64_t value) {
    digest ^= value;
    digest *= 1099511628211ULL;
  }
};

// tick_s > 0: the scheduler runs at most once per tick, as the daemon's loop does; all
// jobs that ended since the last tick are reported first.
// hold_every > 0: every hold_every-th job is held from the start and never released (a
// caller's own limit: an array's %N, CPU slots); the drain ends when the rest has run.
// learn: every job has one of 20 signatures ("model0".."model19"), and every end adds its
// run time to its signature's history, as the simulator does (sjf keys jobs by the median).

DrainFigures drain(int queued, const SchedulerConfig& config, bool pure, double tick_s = 0,
                   bool learn = false, int hold_every = 0) {
  using Clock = CpuClock;
  std::vector<Job> jobs = queue(queued, 7);
  std::mt19937_64 rng(11);
  std::vector<double> run_s(jobs.size());
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    run_s[i] = std::floor(*jobs[i].time_limit_s * std::uniform_real_distribution<>(0.3, 1.0)(rng));
  }
  std::vector<std::string> signature_of(learn ? jobs.size() : 0);
  for (std::size_t i = 0; i < signature_of.size(); ++i) {
    signature_of[i] = "model" + std::to_string(std::uniform_int_distribution<>(0, 19)(rng));
    jobs[i].signature = signature_of[i];
  }
  DrainFigures figures;
  const long faults_before = minor_faults();
  const double kernel_before = kernel_seconds();
  const auto begin = Clock::now();
  std::unique_ptr<Scheduler> scheduler = Scheduler::create(config, cluster()).value();
  for (Job& job : jobs) {
    const JobId id = job.id;
    (void)scheduler->enqueue(std::move(job));
    if (hold_every > 0 && id.value() % static_cast<std::uint64_t>(hold_every) == 0) {
      (void)scheduler->hold(id, true);
    }
  }
  // Running jobs by end time, ties in start order: a binary heap (a tree's node per job
  // cost the harness more than the figure should carry).
  struct End {
    double at;
    std::uint64_t order;
    JobId job;
    bool operator>(const End& other) const {
      return at != other.at ? at > other.at : order > other.order;
    }
  };
  std::priority_queue<End, std::vector<End>, std::greater<>> ends;
  std::uint64_t started = 0;
  double now = 0;
  while (scheduler->queued() > 0 || !ends.empty()) {
    Result<ScheduleResult> result = ScheduleResult{};
    if (pure) {
      Snapshot snapshot = scheduler->snapshot();  // the caller's snapshot: not timed
      snapshot.now_s = now;
      const auto call = Clock::now();
      const double kernel_at_call = kernel_seconds();
      benchmark::DoNotOptimize(schedule(snapshot, config));
      figures.kernel_seconds += kernel_seconds() - kernel_at_call;
      figures.seconds += std::chrono::duration<double>(Clock::now() - call).count();
      // The held state follows untimed; it decides the same (the tests hold it to that).
      result = scheduler->schedule(now);
    } else {
      result = scheduler->schedule(now);
    }
    ++figures.calls;
    for (const Decision& decision : result->decisions) {
      const auto& start = std::get<Start>(decision);
      ++figures.placed;
      figures.mix(figures.calls);
      figures.mix(start.job.value());
      for (int gpu : start.gpus) figures.mix(static_cast<std::uint64_t>(gpu));
      ends.push({now + std::max(1.0, run_s[start.job.value() - 1]), started++, start.job});
    }
    if (ends.empty()) break;
    now = ends.top().at;
    if (tick_s > 0) now = std::ceil(now / tick_s) * tick_s;
    while (!ends.empty() && ends.top().at <= now) {
      const JobId ended = ends.top().job;
      ends.pop();
      (void)scheduler->finish(ended, EndState::kSucceeded, now);
      if (learn) {
        const std::size_t at = ended.value() - 1;
        scheduler->add_run(signature_of[at], std::nullopt, std::max(1.0, run_s[at]));
      }
    }
  }
  if (!pure) {
    figures.seconds = std::chrono::duration<double>(Clock::now() - begin).count();
    figures.kernel_seconds = kernel_seconds() - kernel_before;
  }
  figures.page_faults = minor_faults() - faults_before;
  return figures;
}

void run_drain(benchmark::State& state, bool pure, double tick_s = 0,
               const char* policy = "priority", bool learn = false, int hold_every = 0) {
  const SchedulerConfig config = packing(policy);
  DrainFigures total;
  for (auto _ : state) {
    const DrainFigures figures =
        drain(static_cast<int>(state.range(0)), config, pure, tick_s, learn, hold_every);
    total.seconds += figures.seconds;
    total.placed += figures.placed;
    total.calls += figures.calls;
    total.page_faults += figures.page_faults;
    total.kernel_seconds += figures.kernel_seconds;
    total.mix(figures.digest);
  }
  const double per_placed_us = total.seconds * 1e6 / static_cast<double>(total.placed);
  const auto iterations = static_cast<double>(state.iterations());
  state.counters["placed"] = static_cast<double>(total.placed) / iterations;
  state.counters["calls"] = static_cast<double>(total.calls) / iterations;
  // Six digits of the digest, exact in a double and enough to tell two runs apart.
  state.counters["starts_digest"] = static_cast<double>(total.digest % 1'000'000);
  state.counters["page_faults"] = static_cast<double>(total.page_faults) / iterations;
  // The kernel's share of the figure (rusage counts in ticks or microseconds: a rough share).
  state.counters["kernel_pct"] = 100.0 * total.kernel_seconds / total.seconds;
  state.counters["us_per_placed"] = per_placed_us;
  state.counters["vs_hyperqueue"] = per_placed_us / kHyperQueueUsPerTask;
}

void BM_DrainKept(benchmark::State& state) { run_drain(state, false); }
BENCHMARK(BM_DrainKept)
    ->Arg(1000)
    ->Arg(10000)
    ->Arg(100000)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

// The same drain with the scheduler called once per 10 s tick (the daemon's loop runs about
// once a second; 10 s is a trace replay's coarsest batching).
void BM_DrainKeptTick10s(benchmark::State& state) { run_drain(state, false, 10.0); }
BENCHMARK(BM_DrainKeptTick10s)
    ->Arg(1000)
    ->Arg(10000)
    ->Arg(100000)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

// The same drain under `fair`, whose keys move with every start and end (ten users).
void BM_DrainKeptFair(benchmark::State& state) { run_drain(state, false, 0, "fair"); }
BENCHMARK(BM_DrainKeptFair)
    ->Arg(1000)
    ->Arg(10000)
    ->Arg(100000)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

// The `fair` drain with every tenth job held throughout by the caller.
void BM_DrainKeptFairHeld(benchmark::State& state) {
  run_drain(state, false, 0, "fair", false, 10);
}
BENCHMARK(BM_DrainKeptFairHeld)
    ->Arg(1000)
    ->Arg(10000)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

// The same drain under `sjf`, each job of one of 20 signatures and each end adding its run
// time to its signature's history: the median of the runs so far orders the queue (before
// a signature's first end, its jobs go by their time limits).
void BM_DrainKeptSjfLearned(benchmark::State& state) { run_drain(state, false, 0, "sjf", true); }
BENCHMARK(BM_DrainKeptSjfLearned)
    ->Arg(1000)
    ->Arg(10000)
    ->Arg(100000)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

// The pure path redoes the whole queue on every call; 100k would take minutes.
void BM_DrainPure(benchmark::State& state) { run_drain(state, true); }
BENCHMARK(BM_DrainPure)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
}  // namespace fastgpu::sched

// The heap as the daemon and the simulator have it: on transparent huge pages where the
// program runs on mimalloc (core/huge_pages.h); MIMALLOC_LARGE_OS_PAGES=0 keeps 4 KiB pages,
// as bench/huge_pages.sh runs it beside.
int main(int argc, char** argv) {
  fastgpu::prefer_huge_pages();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
