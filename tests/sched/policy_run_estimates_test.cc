// Policy::reads_run_estimates() lets the engine leave a signature's history out of the
// snapshot when no decision can read it. A policy whose ranking moves with learned run
// times must say so, or the engine would rank without them.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "fastgpu/sched/config.h"
#include "fastgpu/sched/history.h"
#include "fastgpu/sched/policy.h"
#include "fastgpu/sched/snapshot.h"

namespace fastgpu::sched {
namespace {

std::vector<double> keys_of(const Policy& policy, const std::vector<Job>& jobs,
                            const std::map<std::string, SignatureHistory>& history) {
  Snapshot snapshot;
  snapshot.now_s = 1000.0;
  snapshot.history = history;
  SchedulerConfig config;
  config.policy = std::string(policy.name());
  const EstimateCache estimates(snapshot.history, config.auto_percentile, config.auto_margin);
  std::vector<const Job*> pointers;
  for (const Job& job : jobs) pointers.push_back(&job);
  std::vector<double> keys(jobs.size());
  policy.rank(pointers, PolicyContext{snapshot, config, estimates}, keys);
  return keys;
}

TEST(PolicyRunEstimates, EveryPolicyWhoseRankingReadsLearnedRunTimesSaysSo) {
  std::vector<Job> jobs(3);
  const char* names[] = {"a", "b", "c"};
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    jobs[i].id = JobId(i + 1);
    jobs[i].signature = names[i];
    jobs[i].user = "ada";
    jobs[i].gpu_mem = Bytes{1} << 30;
    jobs[i].time_limit_s = 3600.0;
    jobs[i].submit_time_s = static_cast<double>(i);
  }
  std::map<std::string, SignatureHistory> learned;
  learned["a"].run_seconds = {500.0};
  learned["b"].run_seconds = {5.0};
  learned["c"].run_seconds = {50.0};
  int readers = 0;
  for (const std::string& name : policy_names()) {
    const std::unique_ptr<Policy> policy = make_policy(name);
    ASSERT_NE(policy, nullptr) << name;
    const bool moved = keys_of(*policy, jobs, learned) != keys_of(*policy, jobs, {});
    if (moved) {
      EXPECT_TRUE(policy->reads_run_estimates())
          << name << " ranks by learned run times but does not say so";
    }
    readers += moved ? 1 : 0;
  }
  EXPECT_GE(readers, 1);  // sjf's ranking moves: the check above is not vacuous
}

}  // namespace
}  // namespace fastgpu::sched
