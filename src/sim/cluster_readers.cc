// Node-list readers: Philly VC sizes, openb node lists, Tiresias cluster specs.
#include <functional>

#include "fastgpu/sim/cluster_spec.h"
#include "sim/csv.h"
#include "sim/text_file.h"

namespace fastgpu::sim {
namespace {

constexpr std::uint64_t kMib = 1ULL << 20;
constexpr std::uint64_t kGib = 1ULL << 30;
constexpr std::int64_t kMaxNodes = 1'000'000;
constexpr std::int64_t kMaxGpusPerNode = 1024;

using RowFn = std::function<void(CsvRow& row, std::size_t line)>;

Status row_error(std::string_view kind, const std::string& path, std::size_t line,
                 const RowError& error) {
  return invalid_argument(std::string(kind) + " '" + path + "', line " + std::to_string(line) +
                          ": " + error.describe());
}

// Calls `on_row` for each data row of a CSV node list; the first bad row ends the read.
Status for_each_row(std::string_view kind, const std::string& path,
                    const std::vector<std::string_view>& required, const RowFn& on_row) {
  Result<std::string> text = read_text_file(path, kind);
  if (!text.ok()) return text.status();
  LineCursor cursor(*text);
  std::string_view line;
  CsvFields fields;
  while (cursor.next(line) && is_blank(line)) {
  }
  if (is_blank(line) || !fields.split(line)) {
    return invalid_argument(std::string(kind) + " '" + path + "' has no header row");
  }
  const ColumnIndex columns(fields.views());
  for (const std::string_view name : required) {
    if (!columns.find(name)) {
      return invalid_argument(std::string(kind) + " '" + path + "': the header has no column '" +
                              std::string(name) + "'; is this the right file?");
    }
  }
  while (cursor.next(line)) {
    if (is_blank(line)) continue;
    std::optional<RowError> error;
    if (!fields.split(line)) {
      error = RowError{kWholeRow, std::string(line), "has an unterminated quote"};
    } else if (fields.size() != columns.size()) {
      error = RowError{kWholeRow, std::string(line),
                       field_count_message(fields.size(), columns.size())};
    } else {
      CsvRow row(columns, fields.views());
      on_row(row, cursor.line_number());
      error = row.error();
    }
    if (error) return row_error(kind, path, cursor.line_number(), *error);
  }
  return {};
}

std::string numbered(std::string_view prefix, std::size_t index) {
  std::string digits = std::to_string(index);
  if (digits.size() < 4) digits.insert(0, 4 - digits.size(), '0');
  return std::string(prefix) + "-" + digits;
}

ClusterSpec uniform_cluster(std::string name, std::size_t nodes, const NodeSpec& shape) {
  ClusterSpec cluster;
  cluster.nodes.reserve(nodes);
  for (std::size_t i = 0; i < nodes; ++i) {
    NodeSpec node = shape;
    node.name = numbered(name + "-node", i);
    cluster.nodes.push_back(std::move(node));
  }
  cluster.name = std::move(name);
  return cluster;
}

}  // namespace

Result<std::vector<ClusterSpec>> read_philly_vcs(const std::string& path, int gpus_per_node) {
  if (gpus_per_node < 1) {
    return invalid_argument("GPUs per node must be at least 1, not " +
                            std::to_string(gpus_per_node));
  }
  std::vector<ClusterSpec> clusters;
  NodeSpec shape;
  shape.gpu_count = gpus_per_node;
  const Status status =
      for_each_row("Philly VC list", path, {"vc", "node num"}, [&](CsvRow& row, std::size_t) {
        const std::string vc(row.text("vc"));
        if (vc.empty()) row.fail("vc", "", "is empty; a VC id is required");
        const std::int64_t nodes = row.integer("node num", 1, kMaxNodes);
        if (!row.error())
          clusters.push_back(uniform_cluster(vc, static_cast<std::size_t>(nodes), shape));
      });
  if (!status.ok()) return status;
  if (clusters.empty()) return invalid_argument("Philly VC list '" + path + "' lists no VCs");
  return clusters;
}

Result<ClusterSpec> read_philly_vc(const std::string& path, std::string_view vc_id,
                                   int gpus_per_node) {
  Result<std::vector<ClusterSpec>> clusters = read_philly_vcs(path, gpus_per_node);
  if (!clusters.ok()) return clusters.status();
  return select_cluster(*clusters, vc_id);
}

std::optional<std::uint64_t> openb_gpu_memory(std::string_view model) {
  if (model == "V100M16" || model == "P100" || model == "T4") return 16 * kGib;
  if (model == "V100M32") return 32 * kGib;
  if (model == "A10") return 24 * kGib;
  return std::nullopt;
}

Result<ClusterSpec> read_openb_nodes(const std::string& path) {
  ClusterSpec cluster;
  const Status status =
      for_each_row("openb node list", path, {"sn", "cpu_milli", "memory_mib", "gpu", "model"},
                   [&](CsvRow& row, std::size_t) {
                     NodeSpec node;
                     node.name = std::string(row.text("sn"));
                     if (node.name.empty()) row.fail("sn", "", "is empty; a node name is required");
                     node.cpu_milli = row.integer("cpu_milli", 0, 1LL << 40);
                     node.memory_bytes =
                         static_cast<std::uint64_t>(row.integer("memory_mib", 0, 1LL << 40)) * kMib;
                     node.gpu_count = static_cast<int>(row.integer("gpu", 0, kMaxGpusPerNode));
                     node.gpu_model = std::string(row.text("model"));
                     if (node.gpu_count > 0 && node.gpu_model.empty()) {
                       row.fail("model", "", "is empty for a node with GPUs");
                     }
                     node.gpu_memory_bytes = openb_gpu_memory(node.gpu_model);
                     cluster.nodes.push_back(std::move(node));
                   });
  if (!status.ok()) return status;
  cluster.name = "openb";
  return cluster;
}

Result<ClusterSpec> read_tiresias_cluster(const std::string& path) {
  std::optional<ClusterSpec> cluster;
  const Status status = for_each_row(
      "Tiresias cluster spec", path,
      {"num_switch", "num_node_p_switch", "num_gpu_p_node", "num_cpu_p_node", "mem_p_node"},
      [&](CsvRow& row, std::size_t) {
        if (cluster) return;  // Tiresias reads only the first row
        const std::int64_t switches = row.integer("num_switch", 1, kMaxNodes);
        const std::int64_t per_switch = row.integer("num_node_p_switch", 1, kMaxNodes);
        NodeSpec shape;
        shape.gpu_count = static_cast<int>(row.integer("num_gpu_p_node", 0, kMaxGpusPerNode));
        shape.cpu_milli = row.integer("num_cpu_p_node", 0, 1 << 20) * 1000;
        shape.memory_bytes =
            static_cast<std::uint64_t>(row.integer("mem_p_node", 0, 1 << 30)) * kGib;
        if (!row.error()) {
          cluster =
              uniform_cluster("tiresias", static_cast<std::size_t>(switches * per_switch), shape);
        }
      });
  if (!status.ok()) return status;
  if (!cluster) return invalid_argument("Tiresias cluster spec '" + path + "' has no data row");
  return *cluster;
}

}  // namespace fastgpu::sim
