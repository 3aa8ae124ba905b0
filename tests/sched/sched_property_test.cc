// Property tests: thousands of random clusters and workloads (fixed seeds), every policy
// and strategy, checked against invariants computed independently of the ledger.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "fastgpu/core/brief_model.h"
#include "fastgpu/sched/ledger.h"
#include "fastgpu/sched/placer.h"
#include "fastgpu/sched/policy.h"
#include "fastgpu/sched/scheduler.h"
#include "sched/sched_builders.h"

namespace fastgpu::sched {
namespace {

using testing::kGiB;
using testing::starts;

class Generator {
 public:
  explicit Generator(std::uint64_t seed) : rng_(seed) {}

  int pick(int low, int high) { return std::uniform_int_distribution<int>(low, high)(rng_); }
  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  template <typename T>
  T one_of(std::initializer_list<T> values) {
    return *(values.begin() + pick(0, static_cast<int>(values.size()) - 1));
  }

  std::vector<GpuState> cluster(bool all_healthy) {
    std::vector<GpuState> gpus;
    const int nodes = pick(1, 5);
    for (int n = 0; n < nodes; ++n) {
      const int count = one_of({1, 2, 4, 8});
      const Bytes size = one_of<Bytes>({16, 24, 40, 80}) * kGiB;
      for (int i = 0; i < count; ++i) {
        GpuState gpu =
            testing::make_gpu(static_cast<int>(gpus.size()), "node" + std::to_string(n), size);
        gpu.reserved_bytes = chance(0.5) ? kGiB / 2 : 0;
        gpu.foreign_bytes = chance(0.2) ? static_cast<Bytes>(pick(1, 8)) * kGiB : 0;
        gpu.util_cap = chance(0.2) ? one_of({0.5, 0.8}) : 1.0;
        gpu.healthy = all_healthy || chance(0.9);
        gpu.nvlink_group = chance(0.5) ? i / 4 : -1;
        gpu.pcie_switch = i / 2;
        gpus.push_back(gpu);
      }
    }
    return gpus;
  }

  Job job(std::uint64_t id, int max_gpus, Bytes max_bytes) {
    Job job;
    job.id = JobId{id};
    job.user = one_of<const char*>({"alice", "bob", "carol"});
    job.signature = one_of<const char*>({"train", "eval", "sweep"});
    job.gpus = std::min(max_gpus, chance(0.05) ? 0 : one_of({1, 1, 1, 2, 4, 8}));
    job.util_share = chance(0.5) ? 1.0 : one_of({0.1, 0.25, 0.3, 0.5, 0.75});
    if (!chance(0.1))
      job.gpu_mem = static_cast<Bytes>(pick(1, static_cast<int>(max_bytes / kGiB))) * kGiB;
    job.priority = pick(0, 5);
    if (chance(0.7)) job.time_limit_s = pick(1, 100) * 60.0;
    if (chance(0.3)) job.deadline_s = pick(100, 100000);
    job.submit_time_s = pick(0, 1000);
    job.restartable = chance(0.5);
    job.attained_run_s = chance(0.2) ? pick(0, 20000) : 0;
    job.oracle_duration_s = pick(1, 200) * 30.0;
    return job;
  }

  // A random snapshot whose running jobs were themselves placed by the scheduler.
  Snapshot snapshot(bool all_healthy) {
    Snapshot snapshot;
    snapshot.now_s = 2000;
    snapshot.gpus = cluster(all_healthy);
    int max_gpus = 0;
    std::map<std::string, int> per_node;
    Bytes max_bytes = 0;
    for (const GpuState& gpu : snapshot.gpus) {
      max_gpus = std::max(max_gpus, ++per_node[gpu.node]);
      max_bytes = std::max(max_bytes, gpu.total_bytes);
    }
    snapshot.history["train"].peak_bytes = {3 * kGiB, 5 * kGiB};
    snapshot.history["train"].run_seconds = {600, 900};
    snapshot.finished = {{JobId{1}, EndState::kSucceeded, "alice", 5000, 1000},
                         {JobId{2}, EndState::kFailed, "bob", 100, 1500}};
    std::uint64_t next = 10;
    const int running = pick(0, 30);
    for (int i = 0; i < running; ++i) snapshot.queue.push_back(job(next++, max_gpus, max_bytes));
    place_as_running(snapshot);
    const int queued = pick(0, 60);
    for (int i = 0; i < queued; ++i) {
      Job queued_job = job(next++, max_gpus, max_bytes);
      if (chance(0.1)) add_dependency(queued_job, snapshot);
      snapshot.queue.push_back(queued_job);
    }
    return snapshot;
  }

 private:
  void place_as_running(Snapshot& snapshot) {
    auto result = schedule(snapshot, SchedulerConfig{});
    ASSERT_TRUE(result.ok()) << result.status().to_string();
    for (const Start& start : starts(*result)) {
      for (const Job& job : snapshot.queue) {
        if (job.id != start.job) continue;
        RunningJob running{job, start.gpus, start.bytes_per_gpu, static_cast<double>(pick(0, 1999)),
                           std::nullopt};
        snapshot.running.push_back(running);
      }
    }
    snapshot.queue.clear();
  }

  void add_dependency(Job& job, const Snapshot& snapshot) {
    const int choice = pick(0, 2);
    if (choice == 0 && !snapshot.queue.empty()) {
      job.dependencies.push_back(
          {snapshot.queue[pick(0, static_cast<int>(snapshot.queue.size()) - 1)].id,
           DependencyKind::kAfterOk});
    } else if (choice == 1 && !snapshot.running.empty()) {
      job.dependencies.push_back({snapshot.running.front().job.id, DependencyKind::kAfterAny});
    } else {
      job.dependencies.push_back({JobId{static_cast<std::uint64_t>(pick(1, 2))},
                                  one_of({DependencyKind::kAfterOk, DependencyKind::kAfterAny})});
    }
  }

  std::mt19937_64 rng_;
};

struct PerGpu {
  Bytes declared = 0;
  std::vector<model::OccupancyTerm> shares;
  int jobs = 0;
  bool exclusive = false;
};

// Checks the ledger invariants on snapshot + decisions, without using the Ledger class.
void expect_no_over_commit(const Snapshot& snapshot, const ScheduleResult& result,
                           const std::string& what) {
  std::map<int, const GpuState*> gpus;
  for (const GpuState& gpu : snapshot.gpus) gpus[gpu.index] = &gpu;
  std::map<int, PerGpu> use;
  auto add = [&](const Job& job, const std::vector<int>& on, Bytes bytes) {
    for (int index : on) {
      PerGpu& per = use[index];
      per.declared += bytes;
      per.shares.push_back({job.util_share, gpus[index]->util_cap});
      per.jobs += 1;
      per.exclusive = per.exclusive || job.exclusive();
    }
  };
  std::map<JobId, const Job*> queued;
  for (const Job& job : snapshot.queue) queued[job.id] = &job;
  for (const RunningJob& running : snapshot.running)
    add(running.job, running.gpus, running.declared_bytes);
  for (const Start& start : starts(result)) {
    const Job& job = *queued.at(start.job);
    ASSERT_EQ(static_cast<int>(start.gpus.size()), job.gpus) << what;
    std::set<std::string> nodes;
    for (int index : start.gpus) {
      EXPECT_TRUE(gpus.at(index)->healthy) << what << ": started on unhealthy gpu " << index;
      nodes.insert(gpus.at(index)->node);
    }
    EXPECT_LE(nodes.size(), 1u) << what << ": a gang spans nodes";
    add(job, start.gpus, start.bytes_per_gpu);
  }
  for (const auto& [index, per] : use) {
    const GpuState& gpu = *gpus[index];
    EXPECT_LE(per.declared + gpu.reserved_bytes + gpu.foreign_bytes, gpu.total_bytes)
        << what << ": memory over-committed on gpu " << index;
    EXPECT_LE(model::occupancy(per.shares), kComputeCapacity + 1e-9)
        << what << ": compute over-committed on gpu " << index;
    if (per.exclusive) {
      EXPECT_EQ(per.jobs, 1) << what << ": exclusive job shares gpu " << index;
    }
  }
}

void expect_dependencies_respected(const Snapshot& snapshot, const ScheduleResult& result,
                                   const std::string& what) {
  std::map<JobId, EndState> ended;
  for (const FinishedJob& done : snapshot.finished) ended[done.id] = done.state;
  std::map<JobId, const Job*> queued;
  for (const Job& job : snapshot.queue) queued[job.id] = &job;
  for (const Start& start : starts(result)) {
    for (const Dependency& dependency : queued.at(start.job)->dependencies) {
      auto it = ended.find(dependency.job);
      ASSERT_NE(it, ended.end()) << what << ": job " << start.job << " started before "
                                 << dependency.job;
      if (dependency.kind == DependencyKind::kAfterOk) {
        EXPECT_EQ(it->second, EndState::kSucceeded) << what;
      }
    }
  }
}

std::string label(const SchedulerConfig& config, int seed) {
  return config.policy + "/" + config.strategy + (config.backfill ? "/backfill" : "") + " seed " +
         std::to_string(seed);
}

TEST(SchedulerProperty, NeverOverCommitsNorSharesExclusiveGpusNorBreaksDependencies) {
  int checked = 0;
  for (const std::string& policy : policy_names()) {
    for (const std::string& strategy : placer_names()) {
      for (int seed = 0; seed < 150; ++seed) {
        Generator generator(static_cast<std::uint64_t>(seed) * 7919 + 1);
        const Snapshot snapshot = generator.snapshot(false);
        SchedulerConfig config;
        config.policy = policy;
        config.strategy = strategy;
        config.backfill = seed % 3 != 0;
        auto result = schedule(snapshot, config);
        ASSERT_TRUE(result.ok()) << label(config, seed) << ": " << result.status().to_string();
        expect_no_over_commit(snapshot, *result, label(config, seed));
        expect_dependencies_respected(snapshot, *result, label(config, seed));
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 2100);
}

// Whether the job could fit at all once every running job ended (a job that never fits,
// e.g. larger than every GPU of a big enough node, is skipped rather than blocking).
bool fits_empty_cluster(const Snapshot& snapshot, const Job& job) {
  Snapshot empty = snapshot;
  empty.running.clear();
  const Ledger ledger(empty);
  Demand demand{job.gpus, job.gpu_mem.value_or(0), false, job.util_share, 0};
  if (!job.gpu_mem) demand.bytes = *estimate_auto_bytes(snapshot.history.at("train"), 0.95, 0.1);
  if (!job.gpu_mem && job.signature != "train") demand.whole_memory = true;
  return make_placer("pack")->place(ledger, demand, {}).has_value();
}

// The eligible queued jobs in priority order, as the policy ranks them.
std::vector<const Job*> priority_order(const Snapshot& snapshot) {
  std::set<JobId> done;
  for (const FinishedJob& finished : snapshot.finished) {
    if (finished.state == EndState::kSucceeded) done.insert(finished.id);
  }
  std::vector<const Job*> jobs;
  for (const Job& job : snapshot.queue) {
    if (job.dependencies.empty() && job.gpus > 0 && fits_empty_cluster(snapshot, job)) {
      jobs.push_back(&job);
    }
  }
  const double per_second = SchedulerConfig{}.aging_per_hour / 3600.0;
  auto effective = [&](const Job* job) {
    return job->priority + per_second * (snapshot.now_s - job->submit_time_s);
  };
  std::stable_sort(jobs.begin(), jobs.end(), [&](const Job* a, const Job* b) {
    if (effective(a) != effective(b)) return effective(a) > effective(b);
    if (a->submit_time_s != b->submit_time_s) return a->submit_time_s < b->submit_time_s;
    return a->id < b->id;
  });
  return jobs;
}

TEST(SchedulerProperty, PriorityStartsAPrefixWithoutBackfill) {
  for (int seed = 0; seed < 500; ++seed) {
    Generator generator(static_cast<std::uint64_t>(seed) + 100000);
    const Snapshot snapshot = generator.snapshot(true);
    SchedulerConfig config;
    config.policy = "priority";
    config.backfill = false;
    config.strategy = seed % 2 == 0 ? "pack" : "spread";
    auto result = schedule(snapshot, config);
    ASSERT_TRUE(result.ok()) << result.status().to_string();
    std::set<JobId> started;
    for (const Start& start : starts(*result)) started.insert(start.job);
    bool blocked = false;
    for (const Job* job : priority_order(snapshot)) {
      if (started.count(job->id) == 0) {
        blocked = true;
      } else {
        EXPECT_FALSE(blocked) << "seed " << seed << ": job " << job->id
                              << " started although a higher-priority job did not";
      }
    }
  }
}

// With backfill, the reserved job must still fit on its reserved GPUs at the reserved time,
// counting every job started now that may still run then.
TEST(SchedulerProperty, BackfillNeverDelaysTheReservation) {
  int reservations = 0;
  for (int seed = 0; seed < 600; ++seed) {
    Generator generator(static_cast<std::uint64_t>(seed) + 200000);
    Snapshot snapshot = generator.snapshot(true);
    SchedulerConfig config;
    config.policy = seed % 2 == 0 ? "priority" : "fifo";
    config.strategy = seed % 4 < 2 ? "pack" : "spread";
    auto result = schedule(snapshot, config);
    ASSERT_TRUE(result.ok()) << result.status().to_string();
    if (!result->reservation || result->reservation->start_s <= snapshot.now_s) continue;
    ++reservations;
    const Reservation& reservation = *result->reservation;
    Snapshot later = snapshot;
    later.now_s = reservation.start_s;
    later.running.clear();
    auto still_running = [&](const Job& job, double start) {
      return !job.time_limit_s || start + *job.time_limit_s > reservation.start_s;
    };
    for (const RunningJob& running : snapshot.running) {
      if (still_running(running.job, running.start_time_s)) later.running.push_back(running);
    }
    const Job* reserved = nullptr;
    for (const Job& job : snapshot.queue) {
      if (job.id == reservation.job) reserved = &job;
    }
    for (const Start& start : starts(*result)) {
      for (const Job& job : snapshot.queue) {
        if (job.id == start.job && still_running(job, snapshot.now_s)) {
          later.running.push_back({job, start.gpus, start.bytes_per_gpu, snapshot.now_s, {}});
        }
      }
    }
    const Ledger ledger(later);
    Demand demand{reserved->gpus, reserved->gpu_mem.value_or(0), !reserved->gpu_mem.has_value(),
                  reserved->util_share, 0};
    if (!reserved->gpu_mem && later.history.count(reserved->signature) != 0) {
      demand.whole_memory = false;
      demand.bytes = *estimate_auto_bytes(later.history.at(reserved->signature), 0.95, 0.1);
    }
    for (int gpu : reservation.gpus) {
      EXPECT_TRUE(ledger.fits(ledger.slot_of(gpu), demand))
          << "seed " << seed << ": backfill delayed job " << reservation.job << " on gpu " << gpu;
    }
  }
  EXPECT_GT(reservations, 50);  // the property was exercised, not vacuously true
}

TEST(SchedulerProperty, SameInputSameDecisionsWhateverTheQueueOrder) {
  for (int seed = 0; seed < 300; ++seed) {
    Generator generator(static_cast<std::uint64_t>(seed) + 300000);
    const Snapshot snapshot = generator.snapshot(false);
    Snapshot shuffled = snapshot;
    std::mt19937_64 rng(static_cast<std::uint64_t>(seed));
    std::shuffle(shuffled.queue.begin(), shuffled.queue.end(), rng);
    SchedulerConfig config;
    config.policy = policy_names()[static_cast<std::size_t>(seed) % policy_names().size()];
    config.strategy = seed % 2 == 0 ? "pack" : "spread";
    auto a = schedule(snapshot, config);
    auto b = schedule(snapshot, config);
    auto c = schedule(shuffled, config);
    ASSERT_TRUE(a.ok() && b.ok() && c.ok());
    ASSERT_EQ(a->decisions.size(), b->decisions.size());
    ASSERT_EQ(a->decisions.size(), c->decisions.size()) << "seed " << seed;
    for (std::size_t i = 0; i < a->decisions.size(); ++i) {
      EXPECT_EQ(to_string(a->decisions[i]), to_string(b->decisions[i]));
      EXPECT_EQ(to_string(a->decisions[i]), to_string(c->decisions[i])) << "seed " << seed;
    }
  }
}

// One GPU, a low-priority job waiting, and a high-priority job arriving every 30 minutes
// that runs an hour: without aging the low job waits forever, with aging it runs.
double low_job_start(double aging_per_hour) {
  Snapshot snapshot;
  snapshot.gpus = {testing::make_gpu(0)};
  Job low = testing::make_job(1);
  snapshot.queue = {low};
  std::uint64_t next = 2;
  double next_arrival = 0;
  SchedulerConfig config;
  config.policy = "priority";
  config.aging_per_hour = aging_per_hour;
  for (double now = 0; now < 48 * 3600; now += 600) {
    snapshot.now_s = now;
    std::erase_if(snapshot.running,
                  [&](const RunningJob& r) { return r.start_time_s + 3600 <= now; });
    while (next_arrival <= now) {
      Job high = testing::make_job(next++);
      high.priority = 10;
      high.submit_time_s = next_arrival;
      snapshot.queue.push_back(high);
      next_arrival += 1800;
    }
    auto result = schedule(snapshot, config);
    EXPECT_TRUE(result.ok());
    for (const Start& start : starts(*result)) {
      if (start.job == JobId{1}) return now;
      auto it = std::find_if(snapshot.queue.begin(), snapshot.queue.end(),
                             [&](const Job& job) { return job.id == start.job; });
      snapshot.running.push_back({*it, start.gpus, start.bytes_per_gpu, now, {}});
      snapshot.queue.erase(it);
    }
  }
  return -1;
}

TEST(SchedulerProperty, AgingPreventsStarvation) {
  EXPECT_EQ(low_job_start(0.0), -1);  // starves for two days
  const double started = low_job_start(1.0);
  EXPECT_GT(started, 0);
  EXPECT_LT(started, 24 * 3600);
}

}  // namespace
}  // namespace fastgpu::sched
