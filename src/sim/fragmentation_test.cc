// FGD's fragmentation measure on hand-computed nodes and workloads.
#include "fastgpu/sim/fragmentation.h"

#include <gtest/gtest.h>

namespace fastgpu::sim {
namespace {

TaskShape task(std::int64_t cpu, std::int64_t milli, int count, std::string models = "") {
  TaskShape shape;
  shape.cpu_milli = cpu;
  shape.gpu_milli = milli;
  shape.gpu_count = count;
  shape.models = std::move(models);
  return shape;
}

// 2 GPUs, one untouched and one with 300 milli-GPU left; 8 cores left.
NodeState half_used() {
  NodeState node;
  node.model = "T4";
  node.cpu_left = 8000;
  node.memory_left_mib = 1024;
  node.gpu_left = {1000, 300};
  return node;
}

TEST(Fragmentation, FragmentPerTaskKind) {
  const NodeState node = half_used();
  EXPECT_EQ(fragment_for(node, task(1000, 500, 1)), 300);    // 300 < 500: unusable
  EXPECT_EQ(fragment_for(node, task(1000, 200, 1)), 0);      // both GPUs can take 200
  EXPECT_EQ(fragment_for(node, task(1000, 1000, 1)), 300);   // whole GPU: partial one lost
  EXPECT_EQ(fragment_for(node, task(1000, 1000, 2)), 1300);  // does not fit: all idle
  EXPECT_EQ(fragment_for(node, task(1000, 0, 0)), 1300);     // CPU-only uses no GPU
  EXPECT_EQ(fragment_for(node, task(16000, 100, 1)), 1300);  // too little CPU left
  EXPECT_EQ(fragment_for(node, task(1000, 100, 1, "P100|V100M16")), 1300);  // wrong model
  EXPECT_EQ(fragment_for(node, task(1000, 100, 1, "V100M16|T4")), 0);
}

TEST(Fragmentation, ExpectedOverTheWorkload) {
  const std::vector<TypicalTask> workload = {{task(1000, 500, 1), 0.5}, {task(1000, 1000, 2), 0.5}};
  EXPECT_DOUBLE_EQ(node_fragmentation(half_used(), workload), 0.5 * 300 + 0.5 * 1300);
  NodeState full = half_used();
  full.gpu_left = {0, 0};
  EXPECT_DOUBLE_EQ(node_fragmentation(full, workload), 0);  // nothing idle, nothing lost
}

TEST(Fragmentation, FitsChecksEveryResource) {
  const NodeState node = half_used();
  EXPECT_TRUE(fits(node, task(8000, 300, 1)));
  EXPECT_FALSE(fits(node, task(8001, 300, 1)));
  EXPECT_FALSE(fits(node, task(1000, 301, 2)));  // only one GPU has 301 free
  TaskShape heavy = task(0, 0, 0);
  heavy.memory_mib = 2048;
  EXPECT_FALSE(fits(node, heavy));
  EXPECT_EQ(node.gpu_left_total(), 1300);
  EXPECT_EQ(node.fully_free_gpus(), 1);
}

TraceJob job(std::int64_t cpu, int milli, int count) {
  TraceJob out;
  out.cpu_milli = cpu;
  out.gpu_milli = milli;
  out.gpu_count = count;
  return out;
}

TEST(Fragmentation, ShapeOfReadsTraceTasksAsFgdDoes) {
  EXPECT_EQ(shape_of(job(4000, 500, 1)).gpu_milli, 500);
  EXPECT_EQ(shape_of(job(4000, 1000, 8)).total_gpu_milli(), 8000);
  EXPECT_EQ(shape_of(job(4000, 1000, 0)).gpu_milli, 0);  // CPU-only asks no GPU share
  TraceJob typed = job(1000, 1000, 1);
  typed.gpu_models = {"V100M16", "V100M32"};
  EXPECT_EQ(shape_of(typed).models, "V100M16|V100M32");
}

TEST(Fragmentation, TypicalTasksKeepThePopularShapes) {
  std::vector<TraceJob> jobs;
  for (int i = 0; i < 6; ++i) jobs.push_back(job(1000, 500, 1));
  for (int i = 0; i < 3; ++i) jobs.push_back(job(2000, 1000, 2));
  jobs.push_back(job(500, 0, 0));
  // 95%: 6 and 9 of 10 are below 9.5, so all three shapes are kept.
  const auto all = typical_tasks(jobs, 0.95);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].shape.gpu_milli, 500);
  EXPECT_DOUBLE_EQ(all[0].weight, 0.6);
  EXPECT_DOUBLE_EQ(all[1].weight, 0.3);
  EXPECT_DOUBLE_EQ(all[2].weight, 0.1);
  // 80%: 9 of 10 reach 8, so the rarest shape is dropped and the rest renormalized.
  const auto popular = typical_tasks(jobs, 0.8);
  ASSERT_EQ(popular.size(), 2u);
  EXPECT_DOUBLE_EQ(popular[0].weight, 6.0 / 9);
  EXPECT_DOUBLE_EQ(popular[1].weight, 3.0 / 9);
}

}  // namespace
}  // namespace fastgpu::sim
