// Metrics on hand-computed cases.
#include "fastgpu/sim/metrics.h"

#include <gtest/gtest.h>

namespace fastgpu::sim {
namespace {

JobRecord done(double submit, double start, double end, double gpus = 1) {
  JobRecord record;
  record.submit_s = submit;
  record.first_start_s = start;
  record.end_s = end;
  record.duration_s = end - start;
  record.gpus = gpus;
  return record;
}

TEST(Metrics, NearestRankAndMedian) {
  std::vector<double> hundred;
  for (int i = 1; i <= 100; ++i) hundred.push_back(i);
  EXPECT_DOUBLE_EQ(nearest_rank(hundred, 0.99), 99);
  EXPECT_DOUBLE_EQ(nearest_rank({5, 1, 3}, 0.99), 5);  // ceil(2.97) = 3rd of 1,3,5
  EXPECT_DOUBLE_EQ(nearest_rank({5, 1, 3}, 0.0), 1);
  EXPECT_DOUBLE_EQ(median_of({4, 1, 3, 2}), 2.5);
  EXPECT_DOUBLE_EQ(median_of({7, 1, 3}), 3);
}

TEST(Metrics, JctQueueingMakespanAndCounts) {
  // JCTs 10, 20, 60; delays 0, 5, 30. Makespan 0..70.
  std::vector<JobRecord> jobs = {done(0, 0, 10), done(5, 10, 25), done(10, 40, 70)};
  JobRecord rejected;
  rejected.submit_s = 100;  // rejected jobs are outside the span and the statistics
  rejected.rejected = true;
  jobs.push_back(rejected);
  JobRecord waiting;
  waiting.submit_s = 20;
  jobs.push_back(waiting);
  jobs[2].preemptions = 2;
  const RunMetrics metrics = compute_metrics(jobs, {}, 0);
  EXPECT_EQ(metrics.jobs, 5u);
  EXPECT_EQ(metrics.completed, 3u);
  EXPECT_EQ(metrics.rejected, 1u);
  EXPECT_EQ(metrics.unfinished, 1u);
  EXPECT_EQ(metrics.preemptions, 2u);
  EXPECT_DOUBLE_EQ(metrics.avg_jct_s, 30);
  EXPECT_DOUBLE_EQ(metrics.median_jct_s, 20);
  EXPECT_DOUBLE_EQ(metrics.p99_jct_s, 60);
  EXPECT_DOUBLE_EQ(metrics.avg_queueing_delay_s, 35.0 / 3);
  EXPECT_DOUBLE_EQ(metrics.makespan_s, 70);
  EXPECT_FALSE(metrics.deadline_miss_rate.has_value());
}

TEST(Metrics, UtilizationAndAllocationAreTimeWeighted) {
  // 4 GPUs over 0..100: 2 busy GPUs (1.0 allocated) for 0..50, 4 busy (3.0 allocated) for
  // 50..100. Utilization (2*50 + 4*50) / 400 = 0.75; allocation (50 + 150) / 400 = 0.5.
  const std::vector<JobRecord> jobs = {done(0, 0, 100)};
  const std::vector<UsageStep> usage = {{0, 2, 1.0}, {50, 4, 3.0}, {100, 0, 0.0}};
  const RunMetrics metrics = compute_metrics(jobs, usage, 4);
  EXPECT_DOUBLE_EQ(metrics.gpu_utilization, 0.75);
  EXPECT_DOUBLE_EQ(metrics.gpu_allocation_ratio, 0.5);
  EXPECT_DOUBLE_EQ(metrics.peak_allocation_ratio, 0.75);
}

TEST(Metrics, UsageOverTimeBuckets) {
  const std::vector<UsageStep> usage = {{0, 2, 1.0}, {50, 4, 3.0}, {100, 0, 0.0}};
  const auto buckets = usage_over_time(usage, 4, 0, 100, 4);
  ASSERT_EQ(buckets.size(), 4u);
  EXPECT_DOUBLE_EQ(buckets[0].utilization, 0.5);
  EXPECT_DOUBLE_EQ(buckets[1].utilization, 0.5);
  EXPECT_DOUBLE_EQ(buckets[2].utilization, 1.0);
  EXPECT_DOUBLE_EQ(buckets[3].allocation_ratio, 0.75);
  // A bucket that straddles the step at 50: 2 GPUs for 25 s, 4 for 25 s.
  const auto halves = usage_over_time(usage, 4, 25, 75, 1);
  ASSERT_EQ(halves.size(), 1u);
  EXPECT_DOUBLE_EQ(halves[0].utilization, 0.75);
  EXPECT_TRUE(usage_over_time(usage, 4, 10, 10, 3).empty());
}

TEST(Metrics, DeadlineMissRateCountsUnfinishedAsMissed) {
  std::vector<JobRecord> jobs = {done(0, 0, 10), done(0, 10, 20), done(0, 20, 30)};
  jobs[0].deadline_s = 10;  // met exactly
  jobs[1].deadline_s = 15;  // missed
  JobRecord never;
  never.deadline_s = 50;  // never completed: missed
  jobs.push_back(never);
  const RunMetrics metrics = compute_metrics(jobs, {}, 1);
  EXPECT_EQ(metrics.with_deadline, 3u);
  EXPECT_EQ(metrics.deadline_misses, 2u);
  ASSERT_TRUE(metrics.deadline_miss_rate.has_value());
  EXPECT_DOUBLE_EQ(*metrics.deadline_miss_rate, 2.0 / 3);
}

TEST(Metrics, NoCompletedJobGivesZeros) {
  JobRecord waiting;
  const RunMetrics metrics = compute_metrics({waiting}, {}, 8);
  EXPECT_EQ(metrics.completed, 0u);
  EXPECT_EQ(metrics.unfinished, 1u);
  EXPECT_DOUBLE_EQ(metrics.avg_jct_s, 0);
  EXPECT_DOUBLE_EQ(metrics.makespan_s, 0);
}

}  // namespace
}  // namespace fastgpu::sim
