// Small builders for scheduler tests: GPUs, jobs and snapshots in one line each, and the
// check that holds a kept scheduler's call to a reference call.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "fastgpu/sched/scheduler.h"
#include "fastgpu/sched/snapshot.h"

namespace fastgpu::sched::testing {

inline constexpr Bytes kGiB = Bytes{1} << 30;

inline GpuState make_gpu(int index, std::string node = "n0", Bytes total = 80 * kGiB) {
  GpuState gpu;
  gpu.index = index;
  gpu.node = std::move(node);
  gpu.total_bytes = total;
  return gpu;
}

// `count` GPUs on one node, indexes first..first+count-1.
inline std::vector<GpuState> make_node(const std::string& node, int count, int first = 0,
                                       Bytes total = 80 * kGiB) {
  std::vector<GpuState> gpus;
  for (int i = 0; i < count; ++i) gpus.push_back(make_gpu(first + i, node, total));
  return gpus;
}

inline Job make_job(std::uint64_t id, int gpus = 1, Bytes mem = 10 * kGiB, double share = 1.0) {
  Job job;
  job.id = JobId{id};
  job.gpus = gpus;
  job.gpu_mem = mem;
  job.util_share = share;
  job.signature = "sig" + std::to_string(id);
  job.user = "alice";
  return job;
}

inline RunningJob make_running(Job job, std::vector<int> gpus, double start_s = 0.0) {
  RunningJob running;
  running.declared_bytes = job.gpu_mem.value_or(0);
  running.job = std::move(job);
  running.gpus = std::move(gpus);
  running.start_time_s = start_s;
  return running;
}

// What the random-stream tests share: a seeded draw, job ids in order, and clusters of
// several nodes whose shape each stream chooses. The draws come in a fixed order (nodes;
// per node its GPU count, then its memory; per GPU its cap when `cap_one_in` > 0), so a
// seed always gives the same cluster.
class RandomStream {
 public:
  explicit RandomStream(std::uint64_t seed) : rng_(seed) {}

  int pick(int low, int high) { return std::uniform_int_distribution<int>(low, high)(rng_); }
  // One element of a non-empty vector, by one pick().
  template <typename T>
  T& pick_from(std::vector<T>& items) {
    return items[static_cast<std::size_t>(pick(0, static_cast<int>(items.size()) - 1))];
  }
  template <typename T>
  const T& pick_from(const std::vector<T>& items) {
    return items[static_cast<std::size_t>(pick(0, static_cast<int>(items.size()) - 1))];
  }
  std::uint64_t next_id() { return ++next_id_; }
  std::uint64_t last_id() const { return next_id_; }  // 0 before the first next_id()

  // Nodes "node0".."nodeN" with NVLink groups of 4 GPUs and, when `pcie`, PCIe switches of
  // 2; one GPU in `cap_one_in` is capped at r = 0.8 (0: none, and no draw).
  std::vector<GpuState> cluster(int min_nodes, int max_nodes, const std::function<int()>& count,
                                const std::function<Bytes()>& memory, int cap_one_in, bool pcie) {
    std::vector<GpuState> gpus;
    const int nodes = pick(min_nodes, max_nodes);
    int index = 0;
    for (int node = 0; node < nodes; ++node) {
      const int gpus_here = count();
      const Bytes total = memory();
      for (int i = 0; i < gpus_here; ++i) {
        GpuState gpu = make_gpu(index++, "node" + std::to_string(node), total);
        gpu.nvlink_group = i / 4;
        if (pcie) gpu.pcie_switch = i / 2;
        if (cap_one_in > 0) gpu.util_cap = pick(0, cap_one_in - 1) == 0 ? 0.8 : 1.0;
        gpus.push_back(gpu);
      }
    }
    return gpus;
  }

 private:
  std::mt19937_64 rng_;
  std::uint64_t next_id_ = 0;
};

// The mixed streams of the kept-vs-pure tests: one to four nodes of one to eight GPUs of
// 20, 40 or 60 GiB, some capped and loaded; jobs of every kind (CPU-only, fractional, gangs,
// "auto" memory, time limits, deadlines, restartable or not), some depending on an earlier
// id. The draws come in a fixed order, so a seed always gives the same stream.
class MixedStream : public RandomStream {
 public:
  using RandomStream::RandomStream;

  std::vector<GpuState> cluster() {
    std::vector<GpuState> gpus;
    const int nodes = pick(1, 4);
    int index = 0;
    for (int node = 0; node < nodes; ++node) {
      const int count = pick(1, 8);
      const Bytes total = static_cast<Bytes>(pick(1, 3) * 20) * kGiB;
      for (int i = 0; i < count; ++i) {
        GpuState gpu = make_gpu(index++, "node" + std::to_string(node), total);
        gpu.util_cap = pick(0, 3) == 0 ? 0.8 : 1.0;
        gpu.nvlink_group = i / 4;
        gpu.utilization = 0.25 * pick(0, 4);
        gpus.push_back(gpu);
      }
    }
    return gpus;
  }

  Job job(double now) {
    Job job = make_job(next_id(), pick(0, 9) == 0 ? 0 : pick(1, 4),
                       static_cast<Bytes>(pick(1, 16)) * kGiB / 2,
                       pick(0, 2) == 0 ? 0.1 * pick(1, 9) : 1.0);
    if (pick(0, 7) == 0) job.gpu_mem.reset();  // auto
    job.signature = "sig" + std::to_string(pick(0, 5));
    job.user = "user" + std::to_string(pick(0, 2));
    job.priority = pick(0, 4);
    job.submit_time_s = now;
    if (pick(0, 3) != 0) job.time_limit_s = 60.0 * pick(1, 30);
    if (pick(0, 3) == 0) job.deadline_s = now + 600.0 * pick(1, 10);
    job.restartable = pick(0, 1) == 0;
    job.oracle_duration_s = 30.0 * pick(1, 40);
    if (last_id() > 3 && pick(0, 5) == 0) {
      const auto target = static_cast<std::uint64_t>(pick(1, static_cast<int>(last_id()) - 1));
      job.dependencies.push_back(
          {JobId{target}, pick(0, 1) == 0 ? DependencyKind::kAfterOk : DependencyKind::kAfterAny});
    }
    return job;
  }
};

// The Start decisions of a result, in order.
inline std::vector<Start> starts(const ScheduleResult& result) {
  std::vector<Start> out;
  for (const Decision& decision : result.decisions) {
    if (const auto* start = std::get_if<Start>(&decision)) out.push_back(*start);
  }
  return out;
}

inline std::vector<std::uint64_t> started_ids(const ScheduleResult& result) {
  std::vector<std::uint64_t> ids;
  for (const Start& start : starts(result)) ids.push_back(start.job.value());
  return ids;
}

// Every decision and the reservation, one line each: two results compare equal as text
// exactly when they decide the same.
inline std::string describe(const ScheduleResult& result) {
  std::string text;
  for (const Decision& decision : result.decisions) text += to_string(decision) + "\n";
  if (result.reservation) {
    text += "reserve job " + to_string(result.reservation->job) + " at " +
            std::to_string(result.reservation->start_s) + " on";
    for (int gpu : result.reservation->gpus) text += " " + std::to_string(gpu);
    text += "\n";
  }
  return text;
}

// The config a MixedStream runs under: balancing on exactly when backfill is, and the
// minimum runs before a preemption (30 s) and a move (60 s).
inline SchedulerConfig mixed_stream_config(const std::string& policy, const char* strategy,
                                           bool backfill) {
  SchedulerConfig config;
  config.policy = policy;
  config.strategy = strategy;
  config.backfill = backfill;
  config.balance = backfill;
  config.min_run_before_preempt_s = 30.0;
  config.min_run_before_move_s = 60.0;
  return config;
}

// A stream's config as a failure names it: "priority/pack".
inline std::string stream_name(const SchedulerConfig& config) {
  return config.policy + "/" + config.strategy;
}

// Names a call of a random stream in a failure: "priority/pack seed 7 step 12".
inline std::string stream_step(const std::string& name, std::uint64_t seed, int step) {
  return name + " seed " + std::to_string(seed) + " step " + std::to_string(step);
}

inline std::string stream_step(const SchedulerConfig& config, std::uint64_t seed, int step) {
  return stream_step(stream_name(config), seed, step);
}

// Holds a kept scheduler's call to a reference call on the same snapshot (the pure
// schedule(), or another search). Fails the test with `where` and returns false when
// only one of them succeeded, when both failed, or when they decide differently.
inline bool kept_matches(const Result<ScheduleResult>& reference,
                         const Result<ScheduleResult>& kept, const std::string& where) {
  EXPECT_TRUE(reference.ok()) << where << ": " << reference.status().to_string();
  EXPECT_TRUE(kept.ok()) << where << ": " << kept.status().to_string();
  if (!reference.ok() || !kept.ok()) return false;
  EXPECT_EQ(describe(*reference), describe(*kept)) << where;
  return describe(*reference) == describe(*kept);
}

// A kept Scheduler on `gpus`, or null (and the test failed) where they or the config are
// refused.
inline std::unique_ptr<Scheduler> kept_scheduler(const SchedulerConfig& config,
                                                 const std::vector<GpuState>& gpus) {
  auto created = Scheduler::create(config, gpus);
  EXPECT_TRUE(created.ok()) << created.status().to_string();
  return created.ok() ? std::move(*created) : nullptr;
}

// The calls of a random stream that holds a kept scheduler to a reference: `steps` calls
// of `scheduler` from t = 0, each held by kept_matches() to `reference(snapshot, config)`
// (the pure schedule(), or a pure call that searches the plain way) on the snapshot at the
// call's moment, named "`name` seed S step N" in a failure. After a call that decided the
// same, `next(kept, now)` counts what the call decided and makes the changes before the
// next one, moving `now` on as it likes. Stops at the first difference, and once the test
// has failed fatally.
template <typename Reference, typename Next>
void run_kept_calls(Scheduler& scheduler, const SchedulerConfig& config, Reference&& reference,
                    const std::string& name, std::uint64_t seed, int steps, Next&& next) {
  double now = 0.0;
  for (int step = 0; step < steps; ++step) {
    Snapshot snapshot = scheduler.snapshot();
    snapshot.now_s = now;
    const auto expected = reference(snapshot, config);
    const auto kept = scheduler.schedule(now);
    if (!kept_matches(expected, kept, stream_step(name, seed, step))) return;
    next(*kept, now);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

}  // namespace fastgpu::sched::testing
