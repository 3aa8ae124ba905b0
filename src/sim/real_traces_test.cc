// The readers on the real developer traces in ../shared/traces: the counts and statistics
// each folder's README states. Skipped (with a message) when that folder is absent.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "fastgpu/sim/cluster_spec.h"
#include "fastgpu/sim/trace.h"
#include "sim/civil_time.h"
#include "sim/sim_test_util.h"

namespace fastgpu::sim {
namespace {

Trace read_or_fail(std::string_view format, const std::string& path) {
  ReaderOptions strict;
  strict.on_malformed = MalformedRows::kFatal;  // the shared traces have no malformed rows
  Result<Trace> trace = read_trace(format, path, strict);
  EXPECT_TRUE(trace.ok()) << trace.status().to_string();
  return trace.ok() ? std::move(*trace) : Trace{};
}

std::map<int, int> gpu_count_histogram(const Trace& trace) {
  std::map<int, int> histogram;
  for (const TraceJob& job : trace.jobs) ++histogram[job.gpu_count];
  return histogram;
}

std::map<std::string, int> jobs_per_user(const Trace& trace) {
  std::map<std::string, int> counts;
  for (const TraceJob& job : trace.jobs) ++counts[job.user];
  return counts;
}

double median_duration(const Trace& trace) {
  std::vector<double> durations;
  for (const TraceJob& job : trace.jobs) durations.push_back(job.duration_s.value_or(-1));
  std::sort(durations.begin(), durations.end());
  const std::size_t n = durations.size();
  return n % 2 == 1 ? durations[n / 2] : (durations[n / 2 - 1] + durations[n / 2]) / 2;
}

TEST(RealTraces, PhillyDevSliceMatchesItsReadme) {
  FASTGPU_REQUIRE_SHARED_TRACES(traces);
  const Trace trace =
      read_or_fail("philly", traces + "/philly-dev/philly_dev_2017-09_and_2017-12.csv.gz");
  ASSERT_EQ(trace.jobs.size(), 13737U);
  EXPECT_EQ(trace.report.rows_read, 13737U);
  EXPECT_EQ(gpu_count_histogram(trace), (std::map<int, int>{{1, 12549},
                                                            {2, 409},
                                                            {4, 336},
                                                            {8, 340},
                                                            {16, 60},
                                                            {24, 1},
                                                            {32, 33},
                                                            {64, 6},
                                                            {128, 3}}));
  const std::map<std::string, int> vcs = jobs_per_user(trace);
  EXPECT_EQ(vcs.at("6214e9"), 7276);
  EXPECT_EQ(vcs.at("11cb48"), 4194);
  EXPECT_EQ(vcs.at("ed69ec"), 41);
  EXPECT_EQ(vcs.at("23dbec") + vcs.at("51b7ef") + vcs.at("925e2b"), 11);
  EXPECT_EQ(vcs.size(), 14U);
  // The first job (2017-09-04 10:30:41) is time 0; 5,657 jobs come before October.
  EXPECT_EQ(trace.jobs.front().submit_s, 0);
  const double october = static_cast<double>(*parse_civil_seconds("2017-10-01 00:00:00") -
                                             *parse_civil_seconds("2017-09-04 10:30:41"));
  const auto september = std::count_if(trace.jobs.begin(), trace.jobs.end(),
                                       [&](const TraceJob& job) { return job.submit_s < october; });
  EXPECT_EQ(september, 5657);
  EXPECT_EQ(trace.jobs.back().submit_s, 9408690);  // 2017-12-22 08:02:11
  EXPECT_TRUE(
      std::is_sorted(trace.jobs.begin(), trace.jobs.end(),
                     [](const TraceJob& a, const TraceJob& b) { return a.submit_s < b.submit_s; }));
}

TEST(RealTraces, PhillyVcsAreElevenWith2816Gpus) {
  FASTGPU_REQUIRE_SHARED_TRACES(traces);
  const Result<std::vector<ClusterSpec>> vcs =
      read_philly_vcs(traces + "/philly-dev/philly_vc.csv");
  ASSERT_TRUE(vcs.ok()) << vcs.status().to_string();
  ASSERT_EQ(vcs->size(), 11U);
  std::size_t nodes = 0;
  int gpus = 0;
  for (const ClusterSpec& vc : *vcs) {
    nodes += vc.nodes.size();
    gpus += vc.total_gpus();
  }
  EXPECT_EQ(nodes, 352U);
  EXPECT_EQ(gpus, 2816);
  const Result<ClusterSpec> biggest = select_cluster(*vcs, "6214e9");
  ASSERT_TRUE(biggest.ok());
  EXPECT_EQ(biggest->total_gpus(), 512);
}

TEST(RealTraces, OpenbDefaultPodListMatchesItsReadme) {
  FASTGPU_REQUIRE_SHARED_TRACES(traces);
  const Trace trace =
      read_or_fail("openb", traces + "/alibaba-openb-2023/openb_pod_list_default.csv");
  ASSERT_EQ(trace.jobs.size(), 8152U);
  EXPECT_EQ(gpu_count_histogram(trace),
            (std::map<int, int>{{0, 1088}, {1, 6989}, {2, 16}, {4, 15}, {8, 44}}));
  int fractional = 0;
  double demand = 0;
  std::map<std::string, int> qos;
  for (const TraceJob& job : trace.jobs) {
    fractional += job.gpu_count == 1 && job.gpu_milli < 1000 ? 1 : 0;
    demand += job.gpu_demand();
    ++qos[job.job_class];
    EXPECT_FALSE(job.duration_s);
    EXPECT_TRUE(job.gpu_models.empty());  // gpu_spec is empty in the default trace
  }
  EXPECT_EQ(fractional, 3078);
  EXPECT_EQ(qos, (std::map<std::string, int>{
                     {"BE", 3398}, {"Burstable", 100}, {"Guaranteed", 7}, {"LS", 4647}}));
  EXPECT_NEAR(demand, 6086.8, 1e-6);  // below 130 % of 6,212 GPUs, so FGD appends tasks
  EXPECT_NEAR(trace.jobs.back().submit_s / 86400, 149.3, 0.05);  // "about 149 days"
}

TEST(RealTraces, OpenbCpuVariantsKeepAll7064GpuTasks) {
  FASTGPU_REQUIRE_SHARED_TRACES(traces);
  const std::map<std::string, std::size_t> sizes = {
      {"cpu0", 7064},   {"cpu037", 7336}, {"cpu050", 7439}, {"cpu072", 7608}, {"cpu100", 7853},
      {"cpu200", 8832}, {"cpu235", 9240}, {"cpu250", 9420}, {"cpu300", 10094}};
  for (const auto& [variant, size] : sizes) {
    const Trace trace =
        read_or_fail("openb", traces + "/alibaba-openb-2023/openb_pod_list_" + variant + ".csv.gz");
    EXPECT_EQ(trace.jobs.size(), size) << variant;
    const auto gpu_tasks = std::count_if(trace.jobs.begin(), trace.jobs.end(),
                                         [](const TraceJob& job) { return job.gpu_count > 0; });
    EXPECT_EQ(gpu_tasks, 7064) << variant;
  }
}

TEST(RealTraces, OpenbNodeListsMatchTheirReadme) {
  FASTGPU_REQUIRE_SHARED_TRACES(traces);
  const Result<ClusterSpec> gpu_nodes =
      read_openb_nodes(traces + "/alibaba-openb-2023/openb_node_list_gpu_node.csv");
  ASSERT_TRUE(gpu_nodes.ok()) << gpu_nodes.status().to_string();
  EXPECT_EQ(gpu_nodes->nodes.size(), 1213U);
  EXPECT_EQ(gpu_nodes->total_gpus(), 6212);
  std::map<std::string, int> by_model;
  std::map<int, int> by_size;
  for (const NodeSpec& node : gpu_nodes->nodes) {
    ++by_model[node.gpu_model];
    ++by_size[node.gpu_count];
  }
  EXPECT_EQ(by_model, (std::map<std::string, int>{{"A10", 2},
                                                  {"G2", 549},
                                                  {"G3", 39},
                                                  {"P100", 134},
                                                  {"T4", 404},
                                                  {"V100M16", 55},
                                                  {"V100M32", 30}}));
  EXPECT_EQ(by_size, (std::map<int, int>{{1, 24}, {2, 518}, {4, 54}, {8, 617}}));

  const Result<ClusterSpec> all_nodes =
      read_openb_nodes(traces + "/alibaba-openb-2023/openb_node_list_all_node.csv");
  ASSERT_TRUE(all_nodes.ok()) << all_nodes.status().to_string();
  EXPECT_EQ(all_nodes->nodes.size(), 1523U);
  EXPECT_EQ(all_nodes->gpu_node_count(), 1213U);
  EXPECT_EQ(all_nodes->total_gpus(), 6212);
}

TEST(RealTraces, ChronusTracesMatchTheirReadme) {
  FASTGPU_REQUIRE_SHARED_TRACES(traces);
  const std::map<std::string, std::map<std::string, int>> mixes = {
      {"SLO", {{"strict", 30940}}},
      {"MIX1", {{"best", 9216}, {"strict", 21724}}},
      {"MIX2", {{"best", 3139}, {"soft", 18525}, {"strict", 9276}}}};
  for (const auto& [name, expected_mix] : mixes) {
    const Trace trace = read_or_fail(
        "chronus", traces + "/chronus-philly-deadlines/trace_job_Philly_" + name + ".csv.gz");
    ASSERT_EQ(trace.jobs.size(), 30940U) << name;
    std::map<std::string, int> mix;
    std::set<std::string> vcs;
    double max_duration = 0;
    int with_deadline = 0;
    for (const TraceJob& job : trace.jobs) {
      ++mix[job.job_class];
      vcs.insert(job.user);
      max_duration = std::max(max_duration, job.duration_s.value_or(0));
      with_deadline += job.deadline_s ? 1 : 0;
    }
    EXPECT_EQ(mix, expected_mix) << name;
    EXPECT_EQ(with_deadline, 30940 - (mix.count("best") ? mix.at("best") : 0)) << name;
    EXPECT_EQ(vcs.size(), 11U) << name;
    EXPECT_TRUE(vcs.count("6214e9")) << name;  // "vc_" dropped to match philly_vc.csv
    EXPECT_LE(trace.jobs.back().submit_s, 20151) << name;
    EXPECT_EQ(median_duration(trace), 60) << name;
    EXPECT_EQ(max_duration, 4317) << name;
    EXPECT_EQ(gpu_count_histogram(trace).rbegin()->first, 32) << name;
  }
}

TEST(RealTraces, TiresiasSampleAndClusterSpecs) {
  FASTGPU_REQUIRE_SHARED_TRACES(traces);
  const Trace trace = read_or_fail("tiresias", traces + "/tiresias-sample/60_job.csv");
  ASSERT_EQ(trace.jobs.size(), 60U);
  std::map<std::string, int> models;
  for (const TraceJob& job : trace.jobs) ++models[job.signature];
  EXPECT_EQ(models.size(), 10U);
  for (const auto& [model, count] : models) EXPECT_EQ(count, 6) << model;

  const std::map<std::string, std::pair<std::size_t, int>> specs = {{"cluster_spec", {16, 64}},
                                                                    {"n1g4", {1, 4}},
                                                                    {"n32g4", {32, 128}},
                                                                    {"n160g8", {160, 1280}},
                                                                    {"n256g8", {256, 2048}}};
  for (const auto& [name, shape] : specs) {
    const Result<ClusterSpec> cluster =
        read_tiresias_cluster(traces + "/tiresias-sample/" + name + ".csv");
    ASSERT_TRUE(cluster.ok()) << cluster.status().to_string();
    EXPECT_EQ(cluster->nodes.size(), shape.first) << name;
    EXPECT_EQ(cluster->total_gpus(), shape.second) << name;
  }
}

}  // namespace
}  // namespace fastgpu::sim
