// FGD's allocation protocol: task order and tuning, the strategies' choices on hand-made
// nodes, the allocation curve, and FGD's reference curves.
#include "fastgpu/sim/fgd_protocol.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>

#include "sim/fgd_internal.h"
#include "sim/sim_test_util.h"

namespace fastgpu::sim {
namespace {

using ::testing::HasSubstr;

TraceJob task(const std::string& id, int milli, int count, std::int64_t cpu = 1000) {
  TraceJob job;
  job.id = id;
  job.gpu_milli = milli;
  job.gpu_count = count;
  job.cpu_milli = cpu;
  job.memory_bytes = 1ULL << 30;
  return job;
}

std::string fmt_id(int i) { return (i < 10 ? "t0" : "t") + std::to_string(i); }

Trace trace_of(std::vector<TraceJob> jobs) {
  Trace trace;
  trace.name = "test";
  trace.format = "openb";
  trace.jobs = std::move(jobs);
  return trace;
}

// Tasks t00..t19 asking 100, 200, ... 2000 milli-GPU in total (one or two GPUs).
Trace twenty_tasks() {
  std::vector<TraceJob> jobs;
  for (int i = 0; i < 20; ++i) {
    const int milli = 100 * (i + 1);
    jobs.push_back(milli <= 1000 ? task(fmt_id(i), milli, 1) : task(fmt_id(i), 1000, 2));
  }
  return trace_of(std::move(jobs));
}

std::int64_t asked(const Trace& trace, const std::vector<std::size_t>& order) {
  std::int64_t total = 0;
  for (std::size_t i : order) total += shape_of(trace.jobs[i]).total_gpu_milli();
  return total;
}

TEST(FgdProtocol, OrderShufflesEveryTaskThenTunesUpDeterministically) {
  const Trace trace = twenty_tasks();
  const std::int64_t capacity = 10'000;  // 10 GPUs; the trace asks 10 x 1000 + 10 x 2000
  const auto order = protocol_order(trace, capacity, 3.0, 42);
  ASSERT_GE(order.size(), 20u);
  // The first 20 are every task once, shuffled; the rest are draws appended by tuning.
  std::vector<std::size_t> first(order.begin(), order.begin() + 20);
  std::vector<std::size_t> sorted = first;
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::size_t> all(20);
  std::iota(all.begin(), all.end(), std::size_t{0});
  EXPECT_EQ(sorted, all);
  EXPECT_NE(first, all);  // shuffled
  EXPECT_LE(asked(trace, order), 30'000);
  EXPECT_GT(order.size(), 20u);  // 20,500 asked < 30,000: tasks were appended
  EXPECT_EQ(protocol_order(trace, capacity, 3.0, 42), order);  // same seed, same order
  EXPECT_NE(protocol_order(trace, capacity, 3.0, 43), order);
}

TEST(FgdProtocol, OrderTunesDownByRemovingTasks) {
  const Trace trace = twenty_tasks();  // asks 20,500 milli-GPU
  const auto order = protocol_order(trace, 10'000, 1.0, 7);
  EXPECT_LE(asked(trace, order), 10'000);
  EXPECT_LT(order.size(), 20u);
  EXPECT_EQ(std::set<std::size_t>(order.begin(), order.end()).size(), order.size());  // no copies
}

NodeState node(std::vector<std::int64_t> gpu_left) {
  NodeState out;
  out.model = "T4";
  out.cpu_left = 64000;
  out.memory_left_mib = 1 << 20;
  out.gpu_left = std::move(gpu_left);
  return out;
}

TaskShape shared_task(std::int64_t milli) {
  TaskShape shape;
  shape.gpu_milli = milli;
  shape.gpu_count = 1;
  return shape;
}

TEST(FgdProtocol, BestFitTakesTheNodeWithLeastLeftAndTheTightestGpu) {
  // A 300-milli task: node 0 would keep 1700 milli-GPU, node 1 only 1100 (same CPU), so
  // node 1 wins; there the GPU with the least room that fits is GPU 0 (400 left).
  const std::vector<NodeState> nodes = {node({1000, 1000}), node({400, 1000})};
  ClusterSpec unused;
  auto bestfit = detail::make_protocol_strategy("bestfit", unused, {}, {0, 1});
  ASSERT_NE(bestfit, nullptr);
  const auto placement = bestfit->place(nodes, shared_task(300));
  ASSERT_TRUE(placement.has_value());
  EXPECT_EQ(placement->node, 1u);
  EXPECT_EQ(placement->gpus, std::vector<int>{0});
}

TEST(FgdProtocol, FgdTakesThePlacementThatShrinksFragmentation) {
  // Workload: only 500-milli tasks. Node 1's 400-milli GPU is a fragment for them; putting
  // the 300-milli task there shrinks the fragment to 100 (growth -300); anywhere else the
  // fragmentation does not change. Score 100 sigmoid(0.3) = 57 beats 50.
  const std::vector<NodeState> nodes = {node({1000, 1000}), node({400, 1000})};
  ClusterSpec unused;
  TaskShape typical = shared_task(500);
  auto fgd = detail::make_protocol_strategy("fgd", unused, {{typical, 1.0}}, {0, 1});
  const auto placement = fgd->place(nodes, shared_task(300));
  ASSERT_TRUE(placement.has_value());
  EXPECT_EQ(placement->node, 1u);
  EXPECT_EQ(placement->gpus, std::vector<int>{0});
}

TEST(FgdProtocol, FgdKeepsCpuOnlyTasksOffCpuThatFreeGpusNeed) {
  // Workload: whole-GPU tasks asking 4 cores. Node 0 has 8 cores and 2 free GPUs; node 1
  // has 8 cores and no free GPU. A 6-core CPU-only task on node 0 leaves 2 cores, so its
  // 2000 free milli-GPU become unusable (growth +2000, score 100 sigmoid(-2) = 11); on
  // node 1 nothing is idle (growth 0, score 50). FGD takes node 1 although node 0 comes
  // first in the tie order.
  NodeState gpus_free = node({1000, 1000});
  gpus_free.cpu_left = 8000;
  NodeState gpus_taken = node({0, 0});
  gpus_taken.cpu_left = 8000;
  const std::vector<NodeState> nodes = {gpus_free, gpus_taken};
  TaskShape whole = shared_task(1000);
  whole.cpu_milli = 4000;
  TaskShape cpu_only;
  cpu_only.cpu_milli = 6000;
  ClusterSpec unused;
  auto fgd = detail::make_protocol_strategy("fgd", unused, {{whole, 1.0}}, {0, 1});
  const auto placement = fgd->place(nodes, cpu_only);
  ASSERT_TRUE(placement.has_value());
  EXPECT_EQ(placement->node, 1u);
  EXPECT_TRUE(placement->gpus.empty());
  EXPECT_DOUBLE_EQ(node_fragmentation(gpus_free, {{whole, 1.0}}), 0);
  NodeState after = gpus_free;
  after.cpu_left -= cpu_only.cpu_milli;
  EXPECT_DOUBLE_EQ(node_fragmentation(after, {{whole, 1.0}}), 2000);
}

TEST(FgdProtocol, NodeOrderIsAPermutationFixedBySeed) {
  detail::ProtocolRng rng(42);
  const std::vector<std::size_t> rank = detail::draw_node_rank(50, rng);
  std::vector<std::size_t> sorted = rank;
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::size_t> all(50);
  std::iota(all.begin(), all.end(), std::size_t{0});
  EXPECT_EQ(sorted, all);  // every node exactly once
  EXPECT_NE(rank, all);    // shuffled
  detail::ProtocolRng same(42);
  EXPECT_EQ(detail::draw_node_rank(50, same), rank);
  detail::ProtocolRng other(43);
  EXPECT_NE(detail::draw_node_rank(50, other), rank);
}

TEST(FgdProtocol, TiesGoToTheFirstNodeInTheRunsOrder) {
  // Four identical nodes tie; node 2 comes first in the run's order, so it wins, for
  // bestfit and fgd alike, every time it is asked (no fresh random pick per task).
  const std::vector<NodeState> nodes = {node({1000}), node({1000}), node({1000}), node({1000})};
  const std::vector<std::size_t> rank = {3, 1, 0, 2};
  ClusterSpec unused;
  for (const std::string name : {"bestfit", "fgd"}) {
    auto strategy = detail::make_protocol_strategy(name, unused, {{shared_task(500), 1.0}}, rank);
    for (int i = 0; i < 3; ++i)
      EXPECT_EQ(strategy->place(nodes, shared_task(500))->node, 2u) << name;
  }
}

TEST(FgdProtocol, FgdPacksTasksThatTieOnTheFirstNodeOfTheOrder) {
  // Two empty 2-GPU nodes; the workload is whole-GPU tasks only. A whole GPU taken from an
  // empty node leaves one whole GPU: the fragmentation stays 0 on every node, so every
  // placement scores 100 sigmoid(0) = 50 and ties. Node 1 is first in the order, so both
  // tasks go there and node 0 stays empty for a 2-GPU task; a fresh random pick per task
  // would split them over both nodes half of the time.
  std::vector<NodeState> nodes = {node({1000, 1000}), node({1000, 1000})};
  TaskShape whole = shared_task(1000);
  ClusterSpec unused;
  auto fgd = detail::make_protocol_strategy("fgd", unused, {{whole, 1.0}}, {1, 0});
  for (int i = 0; i < 2; ++i) {
    const auto placement = fgd->place(nodes, whole);
    ASSERT_TRUE(placement.has_value());
    EXPECT_EQ(placement->node, 1u);
    NodeState& chosen = nodes[placement->node];
    for (int g : placement->gpus) chosen.gpu_left[static_cast<std::size_t>(g)] -= 1000;
    fgd->commit(nodes, *placement, whole);
  }
  EXPECT_EQ(nodes[0].gpu_left, (std::vector<std::int64_t>{1000, 1000}));
  EXPECT_EQ(nodes[1].gpu_left, (std::vector<std::int64_t>{0, 0}));
}

ClusterSpec one_node(int gpus) {
  ClusterSpec cluster;
  cluster.name = "test";
  NodeSpec spec;
  spec.name = "n0";
  spec.gpu_count = gpus;
  spec.gpu_model = "T4";
  spec.cpu_milli = 96000;
  spec.memory_bytes = 1ULL << 40;
  cluster.nodes.push_back(spec);
  return cluster;
}

TEST(FgdProtocol, CurveFollowsArrivalsWhenEverythingFits) {
  // 4 whole-GPU tasks on 4 GPUs at tune 1.0: arrivals at 25, 50, 75, 100 % all allocated.
  const Trace trace =
      trace_of({task("a", 1000, 1), task("b", 1000, 1), task("c", 1000, 1), task("d", 1000, 1)});
  for (const std::string& strategy : protocol_strategy_names()) {
    ProtocolOptions options;
    options.strategy = strategy;
    options.tune = 1.0;
    const Result<ProtocolRun> run = run_fgd_protocol(trace, one_node(4), options);
    ASSERT_TRUE(run.ok()) << run.status().to_string();
    EXPECT_EQ(run->tasks, 4u) << strategy;
    EXPECT_EQ(run->failed, 0u) << strategy;
    EXPECT_EQ(run->allocated_milli, 4000) << strategy;
    ASSERT_EQ(run->curve.size(), static_cast<std::size_t>(kCurvePoints));
    EXPECT_EQ(run->curve[25], 25.0) << strategy;
    EXPECT_EQ(run->curve[100], 100.0) << strategy;
    EXPECT_EQ(run->curve[26], 25.0) << strategy;  // no arrival at 26: neighbours 25..27
    EXPECT_FALSE(run->curve[10].has_value()) << strategy;
    EXPECT_DOUBLE_EQ(run->fragmentation_milli, 0) << strategy;  // nothing idle is left
  }
}

TEST(FgdProtocol, TasksThatFitNowhereFailAndAreCounted) {
  // Two 3-GPU tasks on one 4-GPU node: the second never fits.
  const Trace trace = trace_of({task("a", 1000, 3), task("b", 1000, 3)});
  ProtocolOptions options;
  options.tune = 1.5;
  const Result<ProtocolRun> run = run_fgd_protocol(trace, one_node(4), options);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->tasks, 2u);
  EXPECT_EQ(run->failed, 1u);
  EXPECT_EQ(run->arrived_milli, 6000);
  EXPECT_EQ(run->allocated_milli, 3000);
}

TEST(FgdProtocol, BadInputsGetClearErrors) {
  const Trace trace = trace_of({task("a", 500, 1)});
  ProtocolOptions options;
  options.strategy = "worstfit";
  EXPECT_THAT(run_fgd_protocol(trace, one_node(1), options).status().message(),
              HasSubstr("unknown strategy 'worstfit'"));
  options.strategy = "bestfit";
  options.tune = 0;
  EXPECT_THAT(run_fgd_protocol(trace, one_node(1), options).status().message(),
              HasSubstr("tune 0"));
  options.tune = 1.3;
  EXPECT_THAT(run_fgd_protocol(trace, one_node(0), options).status().message(),
              HasSubstr("has no GPU"));
  EXPECT_THAT(
      run_fgd_protocol(trace_of({task("cpu", 1000, 0)}), one_node(1), options).status().message(),
      HasSubstr("no task that asks for a GPU"));
}

std::string reference_csv() {
  std::string header = "workload,sc_policy,tune,seed,total_gpus";
  std::string row_a = "openb_pod_list_default,05-BestFit,1.3,42,6212";
  std::string row_b = "openb_pod_list_default,05-BestFit,1.3,43,6212";
  for (int k = 0; k < kCurvePoints; ++k) {
    header += "," + std::to_string(k);
    row_a += "," + std::to_string(k / 2);
    row_b += k == 7 ? std::string(",") : "," + std::to_string(k / 2 + 1);
  }
  return header + "\n" + row_a + "\n" + row_b + "\n";
}

TEST(FgdProtocol, ReadsReferenceCurvesAndAveragesThem) {
  const testing::ScratchDir dir;
  const auto curves = read_reference_curves(dir.write("ref.csv", reference_csv()));
  ASSERT_TRUE(curves.ok()) << curves.status().to_string();
  ASSERT_EQ(curves->size(), 2u);
  EXPECT_EQ((*curves)[0].policy, "05-BestFit");
  EXPECT_EQ((*curves)[1].seed, 43u);
  const auto mean = mean_curve({(*curves)[0].curve, (*curves)[1].curve});
  EXPECT_DOUBLE_EQ(*mean[10], 5.5);  // (5 + 6) / 2
  EXPECT_DOUBLE_EQ(*mean[7], 3.0);   // only the first curve has point 7
}

TEST(FgdProtocol, ReferenceFileWithoutCurveColumnsIsRejected) {
  const testing::ScratchDir dir;
  const auto curves = read_reference_curves(dir.write("bad.csv", "workload,sc_policy,seed\n"));
  ASSERT_FALSE(curves.ok());
  EXPECT_THAT(curves.status().message(), HasSubstr("no column '0'"));
  EXPECT_FALSE(read_reference_curves(dir.path("missing.csv")).ok());
}

}  // namespace
}  // namespace fastgpu::sim
