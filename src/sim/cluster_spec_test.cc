#include "fastgpu/sim/cluster_spec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sim/sim_test_util.h"

namespace fastgpu::sim {
namespace {

using testing::ScratchDir;

TEST(ClusterSpecString, NodesTimesGpusTimesModelAndMemory) {
  const Result<ClusterSpec> cluster = parse_cluster_spec("32x8xV100-32G");
  ASSERT_TRUE(cluster.ok()) << cluster.status().to_string();
  ASSERT_EQ(cluster->nodes.size(), 32U);
  EXPECT_EQ(cluster->total_gpus(), 256);
  EXPECT_EQ(cluster->nodes[0].gpu_model, "V100");
  EXPECT_EQ(cluster->nodes[0].gpu_memory_bytes, 32ULL << 30);
  EXPECT_EQ(cluster->nodes[31].name, "node-31");
}

TEST(ClusterSpecString, MixesGroupsAndOptionalParts) {
  const Result<ClusterSpec> cluster = parse_cluster_spec("2x8xA100-SXM4-80GB, 3x4xT4, 1x0");
  ASSERT_TRUE(cluster.ok()) << cluster.status().to_string();
  ASSERT_EQ(cluster->nodes.size(), 6U);
  EXPECT_EQ(cluster->nodes[0].gpu_model, "A100-SXM4");
  EXPECT_EQ(cluster->nodes[0].gpu_memory_bytes, 80'000'000'000ULL);
  EXPECT_EQ(cluster->nodes[2].gpu_model, "T4");
  EXPECT_FALSE(cluster->nodes[2].gpu_memory_bytes);
  EXPECT_EQ(cluster->nodes[5].gpu_count, 0);
  EXPECT_EQ(cluster->total_gpus(), 28);
  EXPECT_EQ(cluster->gpu_node_count(), 5U);
}

TEST(ClusterSpecString, ErrorsNameTheGroupAndShowTheForm) {
  for (const char* bad : {"", "x8", "32", "32x", "0x8", "32x8xV100-", "32x8xV100-32Q", "4x8,"}) {
    const Result<ClusterSpec> cluster = parse_cluster_spec(bad);
    ASSERT_FALSE(cluster.ok()) << bad;
    EXPECT_NE(cluster.status().message().find("32x8xV100-32G"), std::string::npos) << bad;
  }
  const Result<ClusterSpec> bad = parse_cluster_spec("4x8xA100-80G,2xfourxT4");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'2xfourxT4' needs a GPU count"), std::string::npos);
}

TEST(PhillyVcs, OneClusterPerVcWithEightGpuNodes) {
  const ScratchDir dir;
  const std::string path = dir.write("vc.csv", "vc,node num\n6214e9,64\ned69ec,8\n");
  const Result<std::vector<ClusterSpec>> vcs = read_philly_vcs(path);
  ASSERT_TRUE(vcs.ok()) << vcs.status().to_string();
  ASSERT_EQ(vcs->size(), 2U);
  EXPECT_EQ((*vcs)[0].name, "6214e9");
  EXPECT_EQ((*vcs)[0].total_gpus(), 512);
  EXPECT_EQ((*vcs)[1].nodes[7].name, "ed69ec-node-0007");
  const Result<ClusterSpec> one = read_philly_vc(path, "ed69ec", 4);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->total_gpus(), 32);
  const Result<ClusterSpec> missing = read_philly_vc(path, "abcdef");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), "no cluster 'abcdef'; the clusters are: 6214e9, ed69ec");
}

TEST(PhillyVcs, BadRowNamesFileLineAndColumn) {
  const ScratchDir dir;
  const std::string path = dir.write_gz("vc.csv.gz", "vc,node num\n6214e9,64\nbad,-2\n");
  const Result<std::vector<ClusterSpec>> vcs = read_philly_vcs(path);
  ASSERT_FALSE(vcs.ok());
  EXPECT_EQ(vcs.status().message(),
            "Philly VC list '" + path +
                "', line 3: column 'node num': value '-2' is out of range; it must be between 1 "
                "and 1000000");
}

TEST(OpenbNodes, ReadsResourcesAndModelMemory) {
  const ScratchDir dir;
  const Result<ClusterSpec> cluster =
      read_openb_nodes(dir.write("nodes.csv",
                                 "sn,cpu_milli,memory_mib,gpu,model\n"
                                 "openb-node-0000,32000,262144,0,\n"
                                 "openb-node-0001,64000,262144,2,P100\n"
                                 "openb-node-0002,96000,786432,8,G2\n"));
  ASSERT_TRUE(cluster.ok()) << cluster.status().to_string();
  ASSERT_EQ(cluster->nodes.size(), 3U);
  EXPECT_EQ(cluster->gpu_node_count(), 2U);
  EXPECT_EQ(cluster->total_gpus(), 10);
  const NodeSpec& p100 = cluster->nodes[1];
  EXPECT_EQ(p100.cpu_milli, 64000);
  EXPECT_EQ(p100.memory_bytes, 262144ULL << 20);
  EXPECT_EQ(p100.gpu_memory_bytes, 16ULL << 30);
  EXPECT_FALSE(cluster->nodes[2].gpu_memory_bytes);  // G2 is undisclosed
}

TEST(TiresiasCluster, SwitchesTimesNodes) {
  const ScratchDir dir;
  const Result<ClusterSpec> cluster = read_tiresias_cluster(dir.write(
      "n.csv",
      "num_switch,num_node_p_switch,num_gpu_p_node,num_cpu_p_node,mem_p_node\n5,32,8,128,256"));
  ASSERT_TRUE(cluster.ok()) << cluster.status().to_string();
  EXPECT_EQ(cluster->nodes.size(), 160U);
  EXPECT_EQ(cluster->total_gpus(), 1280);
  EXPECT_EQ(cluster->nodes[0].cpu_milli, 128000);
  EXPECT_EQ(cluster->nodes[0].memory_bytes, 256ULL << 30);
}

TEST(ReadClusters, ByFormatPrefixOrSpecString) {
  const ScratchDir dir;
  const std::string path = dir.write("vc.csv", "vc,node num\n6214e9,64\ned69ec,8\n");
  const Result<std::vector<ClusterSpec>> vcs = read_clusters_spec("philly-vc:" + path);
  ASSERT_TRUE(vcs.ok()) << vcs.status().to_string();
  EXPECT_EQ(vcs->size(), 2U);
  const Result<std::vector<ClusterSpec>> spec = read_clusters_spec("4x8xH100-80G");
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->front().total_gpus(), 32);
  // An unknown kind is named as such, not read as a spec string lacking a node count.
  const Result<std::vector<ClusterSpec>> bogus = read_clusters_spec("bogus:x");
  ASSERT_FALSE(bogus.ok());
  EXPECT_EQ(bogus.status().message(),
            "'bogus:x': unknown cluster kind 'bogus'; write KIND:SPEC_OR_FILE with KIND one of "
            "philly-vc, openb, tiresias, spec, e.g. spec:4x8xV100-32G");
  const Result<std::vector<ClusterSpec>> unknown = read_clusters("slurm", path);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().message(),
            "unknown cluster format 'slurm'; use one of: philly-vc, openb, tiresias, spec");
  const Result<std::vector<ClusterSpec>> missing = read_clusters("openb", dir.path("none.csv"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
  // Named as the cluster file it was meant to be, not as a trace file.
  EXPECT_EQ(missing.status().message(),
            "openb node list '" + dir.path("none.csv") + "' does not exist; check the path");
  const Result<std::vector<ClusterSpec>> folder = read_clusters("tiresias", dir.path(""));
  ASSERT_FALSE(folder.ok());
  EXPECT_THAT(folder.status().message(), ::testing::EndsWith("pass a Tiresias cluster spec"));
}

}  // namespace
}  // namespace fastgpu::sim
