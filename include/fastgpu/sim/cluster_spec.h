// Simulated clusters: nodes × GPUs × GPU model and memory, read from the public traces'
// node lists or written as a short spec string.
//
// Sources (cluster format names in parentheses):
// - ("philly-vc") Philly's virtual clusters, philly_vc.csv (`vc,node num`): one
//   ClusterSpec per VC, named by VC id, with 8 GPUs per node as Helios assumes. Philly's
//   per-machine GPU model and memory are not public, so they stay unknown.
// - ("openb") Alibaba openb node lists (`sn,cpu_milli,memory_mib,gpu,model`): one
//   ClusterSpec, CPU-only nodes included when the list has them (gpu_count 0).
// - ("tiresias") Tiresias cluster_spec CSVs (`num_switch,num_node_p_switch,num_gpu_p_node,
//   num_cpu_p_node,mem_p_node`): switches × nodes, CPU cores and memory in GiB per node.
// - ("spec") a string "NODESxGPUSxMODEL-MEMORY", e.g. "32x8xV100-32G"; several groups are
//   joined by commas ("4x8xA100-80G,16x4xT4-16G"); "-MEMORY" and "xMODEL" may be left out.
// A cluster spec must be right as a whole, so every reader stops at the first bad row with
// an error naming the file, line, column and value. Functions are reentrant.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fastgpu/core/result.h"

namespace fastgpu::sim {

struct NodeSpec {
  std::string name;
  int gpu_count = 0;
  std::string gpu_model;                          // "" when unknown
  std::optional<std::uint64_t> gpu_memory_bytes;  // per GPU; absent when unknown
  std::optional<std::int64_t> cpu_milli;          // CPU capacity in millicores
  std::optional<std::uint64_t> memory_bytes;      // host memory
};

struct ClusterSpec {
  std::string name;  // VC id, file name, or the spec string
  std::vector<NodeSpec> nodes;

  int total_gpus() const;
  std::size_t gpu_node_count() const;  // nodes with at least one GPU
};

// Format names read_clusters accepts, in a stable order.
const std::vector<std::string>& cluster_format_names();

// Reads clusters of the given format. `source` is a path, or the spec text for "spec".
// philly-vc gives one cluster per VC; the others give one.
Result<std::vector<ClusterSpec>> read_clusters(std::string_view format, const std::string& source);

// Parses "FORMAT:SOURCE" (e.g. "philly-vc:philly_vc.csv", "spec:32x8xV100-32G"). A text
// without a ':' is read as a spec string; an unknown FORMAT is an error naming the formats.
Result<std::vector<ClusterSpec>> read_clusters_spec(std::string_view text);

// Philly VCs with `gpus_per_node` GPUs on every node (Helios uses 8).
Result<std::vector<ClusterSpec>> read_philly_vcs(const std::string& path, int gpus_per_node = 8);
// One VC by id (e.g. "6214e9"); the error lists the ids the file has.
Result<ClusterSpec> read_philly_vc(const std::string& path, std::string_view vc_id,
                                   int gpus_per_node = 8);

// openb node list. GPU memory comes from the model name (see openb_gpu_memory).
Result<ClusterSpec> read_openb_nodes(const std::string& path);

// Per-GPU memory of openb's disclosed models: V100M16 and P100 16 GiB, V100M32 32 GiB,
// T4 16 GiB, A10 24 GiB. nullopt for the undisclosed G1/G2/G3 and anything else.
std::optional<std::uint64_t> openb_gpu_memory(std::string_view model);

// Tiresias cluster_spec CSV (first data row used).
Result<ClusterSpec> read_tiresias_cluster(const std::string& path);

// "32x8xV100-32G" and friends, as described above.
Result<ClusterSpec> parse_cluster_spec(std::string_view spec);

// The cluster named `name` among `clusters`; the error lists the names there are.
Result<ClusterSpec> select_cluster(const std::vector<ClusterSpec>& clusters, std::string_view name);

}  // namespace fastgpu::sim
