#include "sched/fair_keys.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <vector>

#include "fastgpu/sched/policy.h"
#include "sched/sched_builders.h"

namespace fastgpu::sched {
namespace {

// FairPolicy::rank over `queue` on the snapshot: the keys the kept FairKeys must give.
std::map<std::uint64_t, double> ranked_keys(const Snapshot& snapshot,
                                            const SchedulerConfig& config) {
  auto policy = make_policy("fair");
  EstimateCache estimates(snapshot.history, 0.95, 0.1);
  std::vector<const Job*> jobs;
  for (const Job& job : snapshot.queue) jobs.push_back(&job);
  std::vector<double> keys(jobs.size());
  policy->rank(jobs, PolicyContext{snapshot, config, estimates}, keys);
  std::map<std::uint64_t, double> by_id;
  for (std::size_t i = 0; i < jobs.size(); ++i) by_id[jobs[i]->id.value()] = keys[i];
  return by_id;
}

// Random arrivals (some out of submit order, as requeues are), starts, ends and
// cancellations over a few users; after every step each queued job's kept key equals the
// policy's key for the whole queue, to the bit.
TEST(FairKeys, EveryKeyIsTheOneThePolicyRanksTheWholeQueueTo) {
  SchedulerConfig config;
  config.fair_half_life_s = 3600.0;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    std::mt19937_64 rng(seed);
    auto pick = [&](int low, int high) {
      return std::uniform_int_distribution<int>(low, high)(rng);
    };
    FairKeys kept(config);
    Snapshot snapshot;
    std::uint64_t next_id = 1;
    double now = 0.0;
    for (int step = 0; step < 300; ++step) {
      now += 7.5 * pick(0, 40);
      snapshot.now_s = now;
      const int what = pick(0, 9);
      if (what <= 4 || snapshot.queue.empty()) {
        Job job = testing::make_job(next_id++);
        job.user = "u" + std::to_string(pick(0, 3));
        // Mostly in submit order; now and then an older submit time (a requeued job).
        job.submit_time_s = pick(0, 5) == 0 ? now - 100.0 * pick(1, 50) : now;
        job.gpus = pick(0, 4);
        job.util_share = 0.1 * pick(1, 10);
        if (pick(0, 3) != 0) job.time_limit_s = 60.0 * pick(1, 300);
        kept.add_queued(job);
        snapshot.queue.push_back(job);
      } else if (what <= 6) {  // the oldest or a random queued job starts
        const auto at = static_cast<std::size_t>(
            pick(0, 1) == 0 ? 0 : pick(0, static_cast<int>(snapshot.queue.size()) - 1));
        Job job = snapshot.queue[at];
        snapshot.queue.erase(snapshot.queue.begin() + static_cast<std::ptrdiff_t>(at));
        kept.remove_queued(job.id);
        RunningJob running{
            job, std::vector<int>(static_cast<std::size_t>(job.gpus), 0), 0, now, {}};
        kept.add_running(running);
        snapshot.running.push_back(running);
      } else if (what <= 8 && !snapshot.running.empty()) {  // a run ends
        const RunningJob running = snapshot.running.front();
        snapshot.running.erase(snapshot.running.begin());
        kept.remove_running(running);
        const FinishedJob done{running.job.id, EndState::kSucceeded, running.job.user,
                               (now - running.start_time_s) * running.job.gpus, now};
        kept.add_finished(done);
        snapshot.finished.push_back(done);
      } else {  // a cancellation
        const Job job = snapshot.queue.back();
        snapshot.queue.pop_back();
        kept.remove_queued(job.id);
        const FinishedJob done{job.id, EndState::kCancelled, job.user, 0.0, now};
        kept.add_finished(done);
        snapshot.finished.push_back(done);
      }
      const std::map<std::uint64_t, double> expected = ranked_keys(snapshot, config);
      kept.begin_round(now);
      for (const auto& [id, key] : expected) {
        ASSERT_EQ(kept.key(JobId{id}), key) << "seed " << seed << " step " << step << " job " << id;
      }
    }
  }
}

// A place key() gave reads the same key while the user's jobs stay put, and is refused
// once one of them leaves or the slots are sorted again (an arrival out of submit order).
TEST(FairKeys, APlaceReadsTheKeyUntilItsUsersJobsMove) {
  SchedulerConfig config;
  FairKeys kept(config);
  auto job = [](std::uint64_t id, double submit) {
    Job made = testing::make_job(id);
    made.user = "ann";
    made.submit_time_s = submit;
    made.time_limit_s = 100.0;
    return made;
  };
  kept.add_queued(job(1, 10.0));
  kept.add_queued(job(2, 20.0));
  kept.begin_round(0.0);
  FairKeys::Place place;
  const double key = kept.key(JobId{2}, place);
  EXPECT_EQ(key, 100'000.0);      // job 1's 100 GPU-seconds before it
  kept.add_queued(job(3, 30.0));  // after it: nothing moves
  EXPECT_EQ(kept.key_at(place), key);
  kept.add_queued(job(4, 5.0));  // before it, out of order: read again by key()
  EXPECT_EQ(kept.key_at(place), std::nullopt);
  EXPECT_EQ(kept.key(JobId{2}, place), 200'000.0);
  EXPECT_EQ(kept.key_at(place), 200'000.0);
  kept.remove_queued(JobId{1});
  EXPECT_EQ(kept.key_at(place), std::nullopt);
  EXPECT_EQ(kept.key(JobId{2}, place), 100'000.0);
}

// Usage halves every half-life, in steps: an hour's use one half-life ago counts half.
TEST(FairKeys, FinishedUsageHalvesEveryHalfLife) {
  SchedulerConfig config;
  config.fair_half_life_s = 1000.0;
  FairKeys kept(config);
  Job waiting = testing::make_job(1);
  waiting.user = "ann";
  kept.add_queued(waiting);
  kept.add_finished({JobId{9}, EndState::kSucceeded, "ann", 3600.0, 0.0});
  kept.begin_round(0.0);
  EXPECT_EQ(kept.key(JobId{1}), 3'600'000.0);
  kept.begin_round(1000.0);
  EXPECT_EQ(kept.key(JobId{1}), 1'800'000.0);
  kept.begin_round(2000.0);
  EXPECT_EQ(kept.key(JobId{1}), 900'000.0);
}

}  // namespace
}  // namespace fastgpu::sched
