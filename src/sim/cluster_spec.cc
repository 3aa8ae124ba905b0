#include "fastgpu/sim/cluster_spec.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <array>
#include <filesystem>

#include "fastgpu/core/units.h"
#include "sim/csv.h"

namespace fastgpu::sim {
namespace {

constexpr std::int64_t kMaxNodes = 1'000'000;
constexpr std::int64_t kMaxGpusPerNode = 1024;
constexpr std::string_view kSpecExample = "write NODESxGPUSxMODEL-MEMORY, e.g. 32x8xV100-32G";

Status spec_error(std::string_view spec, std::string_view group, const std::string& why) {
  return invalid_argument("cluster spec '" + std::string(spec) + "': '" + std::string(group) +
                          "' " + why + "; " + std::string(kSpecExample));
}

// "V100-32G" → model V100 with 32 GiB per GPU; "A100-SXM4-80G" → model A100-SXM4; "H100"
// → model only. A suffix after the last '-' that starts with a digit must be a size.
Status parse_model_memory(std::string_view spec, std::string_view group, std::string_view text,
                          NodeSpec& shape) {
  const std::size_t dash = text.rfind('-');
  const bool has_memory = dash != std::string_view::npos && dash + 1 < text.size() &&
                          text[dash + 1] >= '0' && text[dash + 1] <= '9';
  if (dash + 1 == text.size() && dash != std::string_view::npos) {
    return spec_error(spec, group, "ends in '-' without a memory size");
  }
  shape.gpu_model = std::string(has_memory ? text.substr(0, dash) : text);
  if (!has_memory) return {};
  const Result<Bytes> bytes = parse_bytes(text.substr(dash + 1));
  if (!bytes.ok())
    return spec_error(spec, group, "has a bad memory size: " + bytes.status().message());
  if (*bytes == 0) return spec_error(spec, group, "has zero GPU memory");
  shape.gpu_memory_bytes = *bytes;
  return {};
}

// One "NODESxGPUS[xMODEL[-MEMORY]]" group, appended to `cluster`.
Status parse_group(std::string_view spec, std::string_view group, ClusterSpec& cluster) {
  const std::size_t first_x = group.find('x');
  const std::size_t second_x =
      first_x == std::string_view::npos ? first_x : group.find('x', first_x + 1);
  // -1 marks a missing or unreadable count (value_or keeps GCC's flow analysis quiet).
  const std::int64_t nodes = parse_int(group.substr(0, first_x)).value_or(-1);
  const std::int64_t gpus =
      first_x == std::string_view::npos
          ? -1
          : parse_int(group.substr(first_x + 1,
                                   second_x == group.npos ? group.npos : second_x - first_x - 1))
                .value_or(-1);
  if (nodes < 1 || nodes > kMaxNodes) {
    return spec_error(spec, group, "needs a node count from 1 to 1000000 before the first 'x'");
  }
  if (gpus < 0 || gpus > kMaxGpusPerNode) {
    return spec_error(spec, group, "needs a GPU count per node from 0 to 1024 after the 'x'");
  }
  NodeSpec shape;
  shape.gpu_count = static_cast<int>(gpus);
  if (second_x != std::string_view::npos) {
    FASTGPU_RETURN_IF_ERROR(parse_model_memory(spec, group, group.substr(second_x + 1), shape));
  }
  for (std::int64_t i = 0; i < nodes; ++i) {
    NodeSpec node = shape;
    node.name = "node-" + std::to_string(cluster.nodes.size());
    cluster.nodes.push_back(std::move(node));
  }
  return {};
}

using ClusterReader = Result<std::vector<ClusterSpec>> (*)(const std::string&);

template <typename T>
Result<std::vector<ClusterSpec>> one(Result<T> cluster) {
  if (!cluster.ok()) return cluster.status();
  return std::vector<ClusterSpec>{std::move(*cluster)};
}

struct NamedClusterReader {
  std::string_view name;
  ClusterReader read;
};

constexpr std::array<NamedClusterReader, 4> kClusterReaders = {{
    {"philly-vc", [](const std::string& s) { return read_philly_vcs(s); }},
    {"openb", [](const std::string& s) { return one(read_openb_nodes(s)); }},
    {"tiresias", [](const std::string& s) { return one(read_tiresias_cluster(s)); }},
    {"spec", [](const std::string& s) { return one(parse_cluster_spec(s)); }},
}};

}  // namespace

int ClusterSpec::total_gpus() const {
  int total = 0;
  for (const NodeSpec& node : nodes) total += node.gpu_count;
  return total;
}

std::size_t ClusterSpec::gpu_node_count() const {
  std::size_t count = 0;
  for (const NodeSpec& node : nodes) count += node.gpu_count > 0 ? 1 : 0;
  return count;
}

const std::vector<std::string>& cluster_format_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> list;
    list.reserve(kClusterReaders.size());
    for (const auto& reader : kClusterReaders) list.emplace_back(reader.name);
    return list;
  }();
  return names;
}

Result<ClusterSpec> parse_cluster_spec(std::string_view spec) {
  ClusterSpec cluster;
  cluster.name = std::string(spec);
  std::string_view rest = trim(spec);
  if (rest.empty()) return invalid_argument("cluster spec is empty; " + std::string(kSpecExample));
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    FASTGPU_RETURN_IF_ERROR(parse_group(spec, trim(rest.substr(0, comma)), cluster));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
    if (trim(rest).empty()) return spec_error(spec, "", "follows a trailing ','");
  }
  return cluster;
}

Result<std::vector<ClusterSpec>> read_clusters(std::string_view format, const std::string& source) {
  std::string names;
  for (const auto& reader : kClusterReaders) {
    if (reader.name == format) return reader.read(source);
    names += names.empty() ? "" : ", ";
    names += reader.name;
  }
  return invalid_argument("unknown cluster format '" + std::string(format) +
                          "'; use one of: " + names);
}

Result<std::vector<ClusterSpec>> read_clusters_spec(std::string_view text) {
  const std::size_t colon = text.find(':');
  if (colon == std::string_view::npos) return one(parse_cluster_spec(text));
  // A spec string never holds a ':', so text before one names a kind: an unknown one is
  // reported as such, not as a spec string that lacks a node count.
  const std::string_view format = text.substr(0, colon);
  for (const auto& reader : kClusterReaders) {
    if (reader.name == format) return reader.read(std::string(text.substr(colon + 1)));
  }
  return invalid_argument(fmt::format(
      "'{}': unknown cluster kind '{}'; write KIND:SPEC_OR_FILE with KIND one of {}, e.g. "
      "spec:4x8xV100-32G",
      text, format, fmt::join(cluster_format_names(), ", ")));
}

Result<ClusterSpec> select_cluster(const std::vector<ClusterSpec>& clusters,
                                   std::string_view name) {
  std::string names;
  for (const ClusterSpec& cluster : clusters) {
    if (cluster.name == name) return cluster;
    names += names.empty() ? "" : ", ";
    names += cluster.name;
  }
  return not_found("no cluster '" + std::string(name) + "'; the clusters are: " + names);
}

}  // namespace fastgpu::sim
