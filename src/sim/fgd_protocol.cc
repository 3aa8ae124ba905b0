// FGD's allocation experiment: task order, workload tuning, one-at-a-time placement with
// no departures, and the allocation-ratio curve. See fgd_protocol.h.
#include "fastgpu/sim/fgd_protocol.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "sim/csv.h"
#include "sim/fgd_internal.h"
#include "sim/text_file.h"

namespace fastgpu::sim {
namespace {

constexpr std::uint64_t kMib = 1ULL << 20;
// CPU or memory a cluster spec does not give (spec strings) constrains nothing.
constexpr std::int64_t kUnlimited = 1'000'000'000'000;

std::vector<NodeState> empty_nodes(const ClusterSpec& cluster) {
  std::vector<NodeState> nodes;
  nodes.reserve(cluster.nodes.size());
  for (const NodeSpec& spec : cluster.nodes) {
    NodeState node;
    node.model = spec.gpu_model;
    node.cpu_left = spec.cpu_milli.value_or(kUnlimited);
    node.memory_left_mib =
        spec.memory_bytes ? static_cast<std::int64_t>(*spec.memory_bytes / kMib) : kUnlimited;
    node.gpu_left.assign(static_cast<std::size_t>(spec.gpu_count), kMilliPerGpu);
    nodes.push_back(std::move(node));
  }
  return nodes;
}

// Round half to even, as pandas' round() does.
double round_to(double value, int decimals) {
  const double scale = std::pow(10.0, decimals);
  return std::nearbyint(value * scale) / scale;
}

struct Record {
  double arrived_pct = 0;  // rounded to an integer
  double allocated_pct = 0;
};

// FGD's analysis script: the mean allocation over the records whose arrived share rounds
// to k, or over k-1..k+1 when none does.
std::vector<std::optional<double>> curve_of(const std::vector<Record>& records) {
  std::vector<std::optional<double>> curve(kCurvePoints);
  for (int k = 0; k < kCurvePoints; ++k) {
    for (const double width : {0.0, 1.0}) {
      double sum = 0;
      std::size_t count = 0;
      for (const Record& record : records) {
        if (std::abs(record.arrived_pct - k) > width) continue;
        sum += record.allocated_pct;
        ++count;
      }
      if (count == 0) continue;
      curve[static_cast<std::size_t>(k)] = round_to(sum / static_cast<double>(count), 2);
      break;
    }
  }
  return curve;
}

Status check_inputs(const Trace& trace, const ClusterSpec& cluster,
                    const ProtocolOptions& options) {
  const auto& names = protocol_strategy_names();
  if (std::find(names.begin(), names.end(), options.strategy) == names.end()) {
    std::string known;
    for (const auto& name : names) known += (known.empty() ? "" : ", ") + name;
    return invalid_argument("unknown strategy '" + options.strategy +
                            "' for the FGD protocol; use " + known);
  }
  if (!(options.tune > 0)) {
    return invalid_argument("tune " + std::to_string(options.tune) +
                            ": use a multiple of the GPU capacity above 0, e.g. 1.3");
  }
  if (cluster.total_gpus() <= 0) {
    return invalid_argument("cluster '" + cluster.name + "' has no GPU to allocate");
  }
  const bool any_gpu_task = std::any_of(trace.jobs.begin(), trace.jobs.end(),
                                        [](const TraceJob& job) { return job.gpu_count > 0; });
  if (!any_gpu_task) {
    return invalid_argument("trace '" + trace.name + "' has no task that asks for a GPU");
  }
  return {};
}

}  // namespace

const std::vector<std::string>& protocol_strategy_names() {
  static const std::vector<std::string> names = {"bestfit", "fgd", "pack", "spread"};
  return names;
}

namespace {

// Steps 1-2 of the protocol, drawing from `rng` (the run then draws its node order from
// it, as FGD's simulator uses one stream for everything).
std::vector<std::size_t> order_with(const Trace& trace, std::int64_t capacity_milli, double tune,
                                    detail::ProtocolRng& rng) {
  std::vector<std::size_t> by_name(trace.jobs.size());
  std::iota(by_name.begin(), by_name.end(), std::size_t{0});
  std::stable_sort(by_name.begin(), by_name.end(), [&](std::size_t a, std::size_t b) {
    return trace.jobs[a].id < trace.jobs[b].id;
  });
  std::vector<std::size_t> order = by_name;
  for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
  if (order.empty()) return order;

  std::int64_t asked = 0;
  for (std::size_t index : order) asked += shape_of(trace.jobs[index]).total_gpu_milli();
  const double target = tune * static_cast<double>(capacity_milli);
  if (static_cast<double>(asked) < target) {
    // FGD's simulator stops before the first drawn task whose per-GPU share would pass the
    // target (it compares the share of one GPU, not the task's total; kept as published).
    while (true) {
      const std::size_t index = by_name[rng.below(by_name.size())];
      const TaskShape shape = shape_of(trace.jobs[index]);
      if (static_cast<double>(asked + shape.gpu_milli) > target) break;
      asked += shape.total_gpu_milli();
      order.push_back(index);
    }
  } else {
    while (static_cast<double>(asked) > target && !order.empty()) {
      const std::size_t k = rng.below(order.size());
      asked -= shape_of(trace.jobs[order[k]]).total_gpu_milli();
      order.erase(order.begin() + static_cast<std::ptrdiff_t>(k));
    }
  }
  return order;
}

}  // namespace

std::vector<std::size_t> protocol_order(const Trace& trace, std::int64_t capacity_milli,
                                        double tune, std::uint64_t seed) {
  detail::ProtocolRng rng(seed);
  return order_with(trace, capacity_milli, tune, rng);
}

Result<ProtocolRun> run_fgd_protocol(const Trace& trace, const ClusterSpec& cluster,
                                     const ProtocolOptions& options) {
  FASTGPU_RETURN_IF_ERROR(check_inputs(trace, cluster, options));
  ProtocolRun run;
  run.strategy = options.strategy;
  run.seed = options.seed;
  run.total_gpus = cluster.total_gpus();
  const std::int64_t capacity = static_cast<std::int64_t>(run.total_gpus) * kMilliPerGpu;
  detail::ProtocolRng rng(options.seed);
  const std::vector<std::size_t> order = order_with(trace, capacity, options.tune, rng);
  std::vector<NodeState> nodes = empty_nodes(cluster);
  const std::vector<TypicalTask> workload = typical_tasks(trace.jobs);
  // Drawn after the order, as FGD's simulator draws its node-name prefixes after tuning.
  auto strategy = detail::make_protocol_strategy(options.strategy, cluster, workload,
                                                 detail::draw_node_rank(nodes.size(), rng));
  run.tasks = order.size();
  std::vector<Record> records;
  records.reserve(order.size());
  const std::size_t step = std::max<std::size_t>(1, order.size() / 100);
  const double per_pct = static_cast<double>(run.total_gpus) * 10.0;
  for (std::size_t i = 0; i < order.size(); ++i) {
    const TaskShape task = shape_of(trace.jobs[order[i]]);
    run.arrived_milli += task.total_gpu_milli();
    if (auto placement = strategy->place(nodes, task)) {
      NodeState& node = nodes[placement->node];
      node.cpu_left -= task.cpu_milli;
      node.memory_left_mib -= task.memory_mib;
      for (int g : placement->gpus) node.gpu_left[static_cast<std::size_t>(g)] -= task.gpu_milli;
      strategy->commit(nodes, *placement, task);
      run.allocated_milli += task.total_gpu_milli();
    } else {
      ++run.failed;
    }
    records.push_back({round_to(static_cast<double>(run.arrived_milli) / per_pct, 0),
                       round_to(static_cast<double>(run.allocated_milli) / per_pct, 2)});
    if (options.progress && (i + 1) % step == 0) options.progress(i + 1, order.size());
  }
  run.curve = curve_of(records);
  std::int64_t idle = 0;
  for (const NodeState& node : nodes) {
    run.fragmentation_milli += node_fragmentation(node, workload);
    idle += node.gpu_left_total();
  }
  run.fragmentation_ratio = idle > 0 ? run.fragmentation_milli / static_cast<double>(idle) : 0;
  return run;
}

Result<std::vector<ReferenceCurve>> read_reference_curves(const std::string& path) {
  Result<std::string> text = read_text_file(path, "reference curves file");
  if (!text.ok()) return text.status();
  LineCursor cursor(*text);
  std::string_view line;
  CsvFields fields;
  if (!cursor.next(line) || !fields.split(line)) {
    return invalid_argument("reference curves '" + path + "' have no header row");
  }
  const ColumnIndex columns(fields.views());
  for (const char* name : {"workload", "sc_policy", "seed", "0", "130"}) {
    if (!columns.find(name)) {
      return invalid_argument("reference curves '" + path + "': the header has no column '" + name +
                              "'; use fgd_reference_gpu_alloc_ratio_dev.csv");
    }
  }
  std::vector<ReferenceCurve> curves;
  while (cursor.next(line)) {
    if (is_blank(line)) continue;
    if (!fields.split(line) || fields.size() != columns.size()) {
      return invalid_argument("reference curves '" + path + "', line " +
                              std::to_string(cursor.line_number()) +
                              ": does not have one field per header column");
    }
    CsvRow row(columns, fields.views());
    ReferenceCurve curve;
    curve.workload = std::string(row.text("workload"));
    curve.policy = std::string(row.text("sc_policy"));
    curve.seed = static_cast<std::uint64_t>(row.integer("seed", 0, INT64_MAX));
    for (int k = 0; k < kCurvePoints; ++k) {
      curve.curve.push_back(row.optional_number(std::to_string(k)));
    }
    if (row.error()) {
      return invalid_argument("reference curves '" + path + "', line " +
                              std::to_string(cursor.line_number()) + ": " +
                              row.error()->describe());
    }
    curves.push_back(std::move(curve));
  }
  return curves;
}

std::vector<std::optional<double>> mean_curve(
    const std::vector<std::vector<std::optional<double>>>& curves) {
  std::vector<std::optional<double>> mean(kCurvePoints);
  for (std::size_t k = 0; k < mean.size(); ++k) {
    double sum = 0;
    std::size_t count = 0;
    for (const auto& curve : curves) {
      if (k < curve.size() && curve[k]) {
        sum += *curve[k];
        ++count;
      }
    }
    if (count > 0) mean[k] = sum / static_cast<double>(count);
  }
  return mean;
}

}  // namespace fastgpu::sim
