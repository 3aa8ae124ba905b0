// Tiny simulations whose every number is worked out by hand in the comments.
#include "fastgpu/sim/simulator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

namespace fastgpu::sim {
namespace {

using ::testing::HasSubstr;

TraceJob job_of(double submit_s, int gpus, double duration_s, int milli = 1000) {
  TraceJob job;
  job.submit_s = submit_s;
  job.gpu_count = gpus;
  job.duration_s = duration_s;
  job.gpu_milli = milli;
  return job;
}

Trace trace_of(std::vector<TraceJob> jobs) {
  Trace trace;
  trace.name = "test";
  for (std::size_t i = 0; i < jobs.size(); ++i) jobs[i].id = std::to_string(i);
  trace.jobs = std::move(jobs);
  return trace;
}

ClusterSpec cluster_of(int nodes, int gpus_per_node) {
  ClusterSpec cluster;
  cluster.name = "test";
  for (int n = 0; n < nodes; ++n) {
    NodeSpec node;
    node.name = "node" + std::to_string(n);
    node.gpu_count = gpus_per_node;
    cluster.nodes.push_back(node);
  }
  return cluster;
}

SimOptions options_for(const std::string& policy) {
  SimOptions options;
  options.scheduler.policy = policy;
  options.scheduler.sjf_oracle = true;
  return options;
}

SimResult run(const Trace& trace, const ClusterSpec& cluster, const SimOptions& options) {
  Result<SimResult> result = simulate(trace, cluster, options);
  EXPECT_TRUE(result.ok()) << result.status().to_string();
  return result.ok() ? std::move(result).value() : SimResult{};
}

double jct(const SimResult& result, std::size_t job) {
  const JobRecord& record = result.jobs.at(job);
  EXPECT_TRUE(record.end_s.has_value()) << "job " << job << " did not complete";
  return record.end_s.value_or(0) - record.submit_s;
}

// Three 2-GPU jobs on one 2-GPU node: A (t=0, 10 s), B (t=1, 8 s), C (t=2, 2 s).
Trace three_jobs() { return trace_of({job_of(0, 2, 10), job_of(1, 2, 8), job_of(2, 2, 2)}); }

TEST(Simulator, FifoRunsJobsInSubmitOrder) {
  const SimResult result = run(three_jobs(), cluster_of(1, 2), options_for("fifo"));
  // A 0-10, B 10-18, C 18-20.
  EXPECT_DOUBLE_EQ(jct(result, 0), 10);
  EXPECT_DOUBLE_EQ(jct(result, 1), 17);
  EXPECT_DOUBLE_EQ(jct(result, 2), 18);
  EXPECT_EQ(result.metrics.completed, 3u);
  EXPECT_DOUBLE_EQ(result.metrics.avg_jct_s, 15);
  EXPECT_DOUBLE_EQ(result.metrics.median_jct_s, 17);
  EXPECT_DOUBLE_EQ(result.metrics.p99_jct_s, 18);
  EXPECT_DOUBLE_EQ(result.metrics.avg_queueing_delay_s, (0.0 + 9 + 16) / 3);
  EXPECT_DOUBLE_EQ(result.metrics.makespan_s, 20);
  EXPECT_DOUBLE_EQ(result.metrics.gpu_utilization, 1.0);
}

TEST(Simulator, SjfWithOracleRunsTheShortWaitingJobFirst) {
  const SimResult result = run(three_jobs(), cluster_of(1, 2), options_for("sjf"));
  // A 0-10, then C (2 s) before B (8 s): C 10-12, B 12-20.
  EXPECT_DOUBLE_EQ(jct(result, 0), 10);
  EXPECT_DOUBLE_EQ(jct(result, 1), 19);
  EXPECT_DOUBLE_EQ(jct(result, 2), 10);
  EXPECT_DOUBLE_EQ(result.metrics.avg_jct_s, 13);
  EXPECT_DOUBLE_EQ(result.metrics.makespan_s, 20);
}

TEST(Simulator, JobLargerThanAnyNodeIsRejectedNotQueuedForever) {
  Trace trace = trace_of({job_of(0, 1, 5), job_of(1, 4, 5), job_of(2, 2, 5)});
  const SimResult result = run(trace, cluster_of(2, 2), options_for("fifo"));
  EXPECT_TRUE(result.jobs[1].rejected);
  EXPECT_THAT(result.jobs[1].reject_reason, HasSubstr("largest node has 2"));
  EXPECT_FALSE(result.jobs[1].end_s.has_value());
  EXPECT_EQ(result.metrics.rejected, 1u);
  EXPECT_EQ(result.metrics.completed, 2u);
  EXPECT_EQ(result.metrics.unfinished, 0u);
  EXPECT_DOUBLE_EQ(jct(result, 2), 5);  // the rejected job blocked nothing
}

TEST(Simulator, JobWithoutDurationIsRejected) {
  Trace trace = trace_of({job_of(0, 1, 5)});
  trace.jobs[0].duration_s.reset();
  const SimResult result = run(trace, cluster_of(1, 1), options_for("fifo"));
  EXPECT_TRUE(result.jobs[0].rejected);
  EXPECT_THAT(result.jobs[0].reject_reason, HasSubstr("no duration"));
}

TEST(Simulator, SrtfPreemptsAfterMinimumRunAndJobStillGetsFullService) {
  // A (t=0, 100 s) holds both GPUs; B (t=10, 5 s) waits. SRTF may evict A only once it
  // has run min_run_before_preempt_s = 60 s: at t=60 A (40 s left) yields to B (5 s).
  // B runs 60-65; A resumes at 65 with 40 s left and ends at 105.
  Trace trace = trace_of({job_of(0, 2, 100), job_of(10, 2, 5)});
  SimOptions options = options_for("srtf");
  options.scheduler.min_run_before_preempt_s = 60;
  const SimResult result = run(trace, cluster_of(1, 2), options);
  EXPECT_EQ(result.jobs[0].preemptions, 1);
  EXPECT_EQ(result.metrics.preemptions, 1u);
  EXPECT_DOUBLE_EQ(*result.jobs[1].first_start_s, 60);
  EXPECT_DOUBLE_EQ(*result.jobs[1].end_s, 65);
  // A ran 0-60 and 65-105: 100 s, its whole duration.
  EXPECT_DOUBLE_EQ(*result.jobs[0].end_s, 105);
  EXPECT_DOUBLE_EQ(result.metrics.gpu_utilization, 1.0);
}

TEST(Simulator, NonPreemptivePolicyNeverPreempts) {
  Trace trace = trace_of({job_of(0, 2, 100), job_of(10, 2, 5)});
  const SimResult result = run(trace, cluster_of(1, 2), options_for("sjf"));
  EXPECT_EQ(result.metrics.preemptions, 0u);
  EXPECT_DOUBLE_EQ(*result.jobs[1].end_s, 105);
}

TEST(Simulator, LasDemotesALongJobAtItsThreshold) {
  // las thresholds {100} GPU-s: A (1 GPU, 1000 s) passes 100 GPU-s at t=100 and drops to
  // the second queue; B (t=50, 10 s) waits in the first queue and preempts it then.
  Trace trace = trace_of({job_of(0, 1, 1000), job_of(50, 1, 10)});
  SimOptions options = options_for("las");
  options.scheduler.las_thresholds_gpu_s = {100};
  options.scheduler.min_run_before_preempt_s = 0;
  const SimResult result = run(trace, cluster_of(1, 1), options);
  EXPECT_DOUBLE_EQ(*result.jobs[1].first_start_s, 100);
  EXPECT_DOUBLE_EQ(*result.jobs[1].end_s, 110);
  EXPECT_DOUBLE_EQ(*result.jobs[0].end_s, 1010);
}

TEST(Simulator, FractionalJobsShareAGpu) {
  // Two half-GPU jobs fit one GPU together; a third waits for one of them.
  Trace trace = trace_of({job_of(0, 1, 10, 500), job_of(0, 1, 10, 500), job_of(0, 1, 10, 500)});
  const SimResult result = run(trace, cluster_of(1, 1), options_for("fifo"));
  EXPECT_DOUBLE_EQ(jct(result, 0), 10);
  EXPECT_DOUBLE_EQ(jct(result, 1), 10);
  EXPECT_DOUBLE_EQ(jct(result, 2), 20);
  // Busy the whole 20 s; allocated 1.0 GPU for 10 s, then 0.5 for 10 s.
  EXPECT_DOUBLE_EQ(result.metrics.gpu_utilization, 1.0);
  EXPECT_DOUBLE_EQ(result.metrics.gpu_allocation_ratio, 0.75);
}

TEST(Simulator, TimeScaleCompressesSubmitTimes) {
  Trace trace = trace_of({job_of(0, 1, 10), job_of(40, 1, 10)});
  SimOptions options = options_for("fifo");
  options.time_scale = 4;
  const SimResult result = run(trace, cluster_of(1, 1), options);
  EXPECT_DOUBLE_EQ(result.jobs[1].submit_s, 10);
  EXPECT_DOUBLE_EQ(*result.jobs[1].end_s, 20);
}

TEST(Simulator, DeadlinesKeepTheirSlackUnderTimeScale) {
  Trace trace = trace_of({job_of(0, 1, 10), job_of(40, 1, 10)});
  trace.jobs[0].deadline_s = 15;  // met: ends at 10
  trace.jobs[1].deadline_s = 45;  // slack 5 s after submit 10 (scaled): ends at 20, missed
  SimOptions options = options_for("fifo");
  options.time_scale = 4;
  const SimResult result = run(trace, cluster_of(1, 1), options);
  EXPECT_DOUBLE_EQ(*result.jobs[1].deadline_s, 15);
  ASSERT_TRUE(result.metrics.deadline_miss_rate.has_value());
  EXPECT_DOUBLE_EQ(*result.metrics.deadline_miss_rate, 0.5);
}

TEST(Simulator, BadOptionsAreErrorsNotCrashes) {
  SimOptions options = options_for("nosuch");
  Result<SimResult> result = simulate(three_jobs(), cluster_of(1, 2), options);
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.status().message(), HasSubstr("nosuch"));
  options = options_for("fifo");
  options.time_scale = 0;
  EXPECT_FALSE(simulate(three_jobs(), cluster_of(1, 2), options).ok());
  EXPECT_FALSE(simulate(three_jobs(), cluster_of(0, 2), options_for("fifo")).ok());
}

Trace random_trace(std::size_t count, unsigned seed) {
  std::mt19937 random(seed);
  std::vector<TraceJob> jobs;
  double submit = 0;
  for (std::size_t i = 0; i < count; ++i) {
    submit += static_cast<double>(random() % 50);
    const int gpus = 1 << (random() % 3);
    jobs.push_back(job_of(submit, gpus, static_cast<double>(1 + random() % 500)));
  }
  return trace_of(std::move(jobs));
}

TEST(Simulator, SameInputGivesSameRecords) {
  const Trace trace = random_trace(300, 7);
  for (const std::string policy : {"fifo", "las", "srtf"}) {
    SCOPED_TRACE(policy);
    const SimResult first = run(trace, cluster_of(3, 4), options_for(policy));
    const SimResult second = run(trace, cluster_of(3, 4), options_for(policy));
    ASSERT_EQ(first.jobs.size(), second.jobs.size());
    for (std::size_t i = 0; i < first.jobs.size(); ++i) {
      EXPECT_EQ(first.jobs[i].first_start_s, second.jobs[i].first_start_s) << i;
      EXPECT_EQ(first.jobs[i].end_s, second.jobs[i].end_s) << i;
      EXPECT_EQ(first.jobs[i].preemptions, second.jobs[i].preemptions) << i;
    }
    EXPECT_EQ(first.metrics.completed, trace.jobs.size());
    EXPECT_EQ(first.schedule_calls, second.schedule_calls);
  }
}

TEST(Simulator, EveryCompletedJobReceivedExactlyItsDuration) {
  // Under preemption a job's runs add up to its duration: end - first start = duration +
  // the time it spent back in the queue, which is >= 0.
  const Trace trace = random_trace(300, 11);
  SimOptions options = options_for("las");
  options.scheduler.las_thresholds_gpu_s = {200, 800};
  options.scheduler.min_run_before_preempt_s = 10;
  const SimResult result = run(trace, cluster_of(2, 4), options);
  EXPECT_GT(result.metrics.preemptions, 0u);
  for (const JobRecord& record : result.jobs) {
    ASSERT_TRUE(record.end_s.has_value());
    EXPECT_GE(*record.end_s - *record.first_start_s, record.duration_s - 1e-6);
    if (record.preemptions == 0) {
      EXPECT_NEAR(*record.end_s - *record.first_start_s, record.duration_s, 1e-6);
    }
  }
}

}  // namespace
}  // namespace fastgpu::sim
