#include "fastgpu/sched/policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "sched/sched_builders.h"

namespace fastgpu::sched {
namespace {

using ::testing::ElementsAre;
using testing::make_job;
using testing::make_running;

// The ids of `jobs` in the order the policy ranks them (ties by submit time, then id).
std::vector<std::uint64_t> order(const std::string& name, const Snapshot& snapshot,
                                 const SchedulerConfig& config = {}) {
  auto policy = make_policy(name);
  EXPECT_NE(policy, nullptr);
  EstimateCache estimates(snapshot.history, 0.95, 0.1);
  PolicyContext context{snapshot, config, estimates};
  std::vector<const Job*> jobs;
  for (const Job& job : snapshot.queue) jobs.push_back(&job);
  std::vector<double> keys(jobs.size());
  policy->rank(jobs, context, keys);
  std::vector<std::size_t> index(jobs.size());
  std::iota(index.begin(), index.end(), 0);
  std::sort(index.begin(), index.end(), [&](std::size_t a, std::size_t b) {
    if (keys[a] != keys[b]) return keys[a] < keys[b];
    if (jobs[a]->submit_time_s != jobs[b]->submit_time_s) {
      return jobs[a]->submit_time_s < jobs[b]->submit_time_s;
    }
    return jobs[a]->id < jobs[b]->id;
  });
  std::vector<std::uint64_t> ids;
  for (std::size_t i : index) ids.push_back(jobs[i]->id.value());
  return ids;
}

Job submitted(std::uint64_t id, double at) {
  Job job = make_job(id);
  job.submit_time_s = at;
  return job;
}

TEST(PolicyRegistry, EveryNameMakesItsPolicy) {
  EXPECT_THAT(policy_names(), ElementsAre("fifo", "priority", "sjf", "srtf", "edf", "las", "fair"));
  for (const std::string& name : policy_names()) EXPECT_EQ(make_policy(name)->name(), name);
  EXPECT_EQ(make_policy("nope"), nullptr);
}

TEST(Policy, FifoBySubmitTime) {
  Snapshot snapshot;
  snapshot.queue = {submitted(1, 30), submitted(2, 10), submitted(3, 20)};
  EXPECT_THAT(order("fifo", snapshot), ElementsAre(2, 3, 1));
}

TEST(Policy, PriorityAgesWaitingJobs) {
  Snapshot snapshot;
  snapshot.now_s = 10 * 3600;
  Job old_low = submitted(1, 0);  // waited 10 h: 0 + 10 = 10
  Job new_high = submitted(2, 10 * 3600 - 60);
  new_high.priority = 5;  // waited 1 min: about 5.02
  Job newer_top = submitted(3, 10 * 3600);
  newer_top.priority = 20;
  snapshot.queue = {old_low, new_high, newer_top};
  EXPECT_THAT(order("priority", snapshot), ElementsAre(3, 1, 2));
  SchedulerConfig no_aging;
  no_aging.aging_per_hour = 0;
  EXPECT_THAT(order("priority", snapshot, no_aging), ElementsAre(3, 2, 1));
}

TEST(Policy, SjfUsesOracleThenHistoryThenLimit) {
  Snapshot snapshot;
  Job limited = submitted(1, 0);
  limited.time_limit_s = 300;
  Job learned = submitted(2, 1);
  learned.signature = "fast";
  learned.time_limit_s = 9000;
  snapshot.history["fast"].run_seconds = {100, 200, 120};  // median 120
  Job unknown = submitted(3, 2);
  Job oracle = submitted(4, 3);
  oracle.oracle_duration_s = 10;
  oracle.time_limit_s = 1000;
  snapshot.queue = {limited, learned, unknown, oracle};
  EXPECT_THAT(order("sjf", snapshot), ElementsAre(2, 1, 4, 3));
  SchedulerConfig oracle_mode;
  oracle_mode.sjf_oracle = true;
  EXPECT_THAT(order("sjf", snapshot, oracle_mode), ElementsAre(4, 2, 1, 3));
}

TEST(Policy, SrtfCountsServiceAlreadyReceived) {
  Snapshot snapshot;
  Job long_started = submitted(1, 0);
  long_started.oracle_duration_s = 1000;
  long_started.attained_run_s = 950;  // 50 left
  Job short_fresh = submitted(2, 1);
  short_fresh.oracle_duration_s = 100;
  snapshot.queue = {long_started, short_fresh};
  EXPECT_THAT(order("srtf", snapshot), ElementsAre(1, 2));
  EXPECT_TRUE(make_policy("srtf")->preemptive());
}

TEST(Policy, EdfByDeadlineWithUndatedJobsLast) {
  Snapshot snapshot;
  Job late = submitted(1, 0);
  late.deadline_s = 500;
  Job none = submitted(2, 0);
  Job soon = submitted(3, 5);
  soon.deadline_s = 100;
  snapshot.queue = {late, none, soon};
  EXPECT_THAT(order("edf", snapshot), ElementsAre(3, 1, 2));
}

TEST(Policy, LasDiscretizesAttainedGpuService) {
  Snapshot snapshot;
  SchedulerConfig config;
  config.las_thresholds_gpu_s = {100, 1000};
  Job heavy = submitted(1, 0);
  heavy.gpus = 4;
  heavy.attained_run_s = 30;  // 120 GPU-s: queue 1
  Job light_a = submitted(2, 1);
  light_a.attained_run_s = 90;  // 90 GPU-s: queue 0
  Job light_b = submitted(3, 2);
  light_b.attained_run_s = 10;  // queue 0 too: FIFO within the queue
  snapshot.queue = {heavy, light_a, light_b};
  EXPECT_THAT(order("las", snapshot, config), ElementsAre(2, 3, 1));
  // A running job's key includes its current run: 2 GPUs x 60 s = 120 GPU-s, queue 1.
  snapshot.now_s = 60;
  auto las = make_policy("las");
  EstimateCache estimates(snapshot.history, 0.95, 0.1);
  PolicyContext context{snapshot, config, estimates};
  EXPECT_EQ(las->running_key(make_running(make_job(9, 2), {0, 1}, 0), context), 1.0);
}

TEST(Policy, FairFavoursTheUserWhoUsedLessAndInterleaves) {
  Snapshot snapshot;
  snapshot.now_s = 86400;
  snapshot.finished = {{JobId{50}, EndState::kSucceeded, "alice", 7200, 0},  // decays to 3600
                       {JobId{51}, EndState::kSucceeded, "bob", 1000, 86400}};
  auto user_job = [](std::uint64_t id, const char* user, double at) {
    Job job = submitted(id, at);
    job.user = user;
    job.time_limit_s = 2000;
    return job;
  };
  snapshot.queue = {user_job(1, "alice", 0), user_job(2, "alice", 1), user_job(3, "bob", 2),
                    user_job(4, "bob", 3)};
  // bob 1000, bob 3000, alice 3600, alice 5600.
  EXPECT_THAT(order("fair", snapshot), ElementsAre(3, 4, 1, 2));
}

}  // namespace
}  // namespace fastgpu::sched
