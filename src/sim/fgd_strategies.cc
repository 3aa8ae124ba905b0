// The FGD protocol's placement strategies: FGD's BestFit and FGD scorers, and adapters
// that run FastGPU's own sched::Placer (pack, spread) on the protocol's cluster.
#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <string>
#include <unordered_map>

#include "fastgpu/sched/placer.h"
#include "fastgpu/sim/simulator.h"
#include "sim/fgd_internal.h"

namespace fastgpu::sim::detail {
namespace {

constexpr double kMaxSpecCpuMilli = 128000;  // FGD's normalizers: 128 cores, 8 GPUs
constexpr double kMaxSpecGpuMilli = 8000;
constexpr std::int64_t kMaxScore = 100;

bool shared(const TaskShape& task) { return task.gpu_count == 1 && task.gpu_milli < kMilliPerGpu; }

void take(NodeState& node, const TaskShape& task, const std::vector<int>& gpus) {
  node.cpu_left -= task.cpu_milli;
  node.memory_left_mib -= task.memory_mib;
  for (int g : gpus) node.gpu_left[static_cast<std::size_t>(g)] -= task.gpu_milli;
}

// BestFit: 0.5 x CPU left after / 128 cores + 0.5 x GPU left after / 8 GPUs, lower is
// better, turned into an integer score 0..100 (higher better) and min-max normalized.
class BestFit final : public ProtocolStrategy {
 public:
  explicit BestFit(std::vector<std::size_t> node_rank) : node_rank_(std::move(node_rank)) {}

  std::optional<Placement> place(const std::vector<NodeState>& nodes,
                                 const TaskShape& task) override {
    scores_.clear();
    for (std::size_t n = 0; n < nodes.size(); ++n) {
      if (!fits(nodes[n], task)) continue;
      const double cpu_after = static_cast<double>(nodes[n].cpu_left - task.cpu_milli);
      const double gpu_after =
          static_cast<double>(nodes[n].gpu_left_total() - task.total_gpu_milli());
      const double leftover =
          0.5 * cpu_after / kMaxSpecCpuMilli + 0.5 * gpu_after / kMaxSpecGpuMilli;
      scores_.emplace_back(n, static_cast<std::int64_t>((1.0 - leftover) * kMaxScore));
    }
    if (scores_.empty()) return std::nullopt;
    const auto [low, high] =
        std::minmax_element(scores_.begin(), scores_.end(),
                            [](const auto& a, const auto& b) { return a.second < b.second; });
    const std::int64_t lowest = low->second;
    const std::int64_t range = high->second - lowest;
    BestPicker picker(node_rank_);
    for (const auto& [n, score] : scores_) {
      picker.offer(n, range == 0 ? 0 : (score - lowest) * kMaxScore / range);
    }
    const std::size_t node = *picker.best();
    return Placement{node, default_gpus(nodes[node], task)};
  }

 private:
  std::vector<std::size_t> node_rank_;
  std::vector<std::pair<std::size_t, std::int64_t>> scores_;
};

// FGD: the node, and for a shared task the GPU, where the expected fragmentation of the
// target workload grows least; score int(100 sigmoid(-growth / 1000)).
class Fgd final : public ProtocolStrategy {
 public:
  Fgd(std::vector<TypicalTask> workload, std::vector<std::size_t> node_rank)
      : workload_(std::move(workload)), node_rank_(std::move(node_rank)) {}

  std::optional<Placement> place(const std::vector<NodeState>& nodes,
                                 const TaskShape& task) override {
    BestPicker picker(node_rank_);
    std::vector<std::vector<int>> gpus_of(nodes.size());
    if (keys_.size() != nodes.size()) {
      keys_.clear();
      for (const NodeState& node : nodes) keys_.push_back(state_key(node));
    }
    // Nodes in the same state score the same; score each state once per task.
    std::unordered_map<std::string, std::pair<std::int64_t, std::vector<int>>> seen;
    for (std::size_t n = 0; n < nodes.size(); ++n) {
      if (!fits(nodes[n], task)) continue;
      const std::string& key = keys_[n];
      auto it = seen.find(key);
      if (it == seen.end()) it = seen.emplace(key, score(nodes[n], key, task)).first;
      gpus_of[n] = it->second.second;
      picker.offer(n, it->second.first);
    }
    if (!picker.best()) return std::nullopt;
    const std::size_t node = *picker.best();
    return Placement{node, remap(nodes[node], gpus_of[node], task)};
  }

  void commit(const std::vector<NodeState>& nodes_after, const Placement& placement,
              const TaskShape& /*task*/) override {
    if (placement.node < keys_.size())
      keys_[placement.node] = state_key(nodes_after[placement.node]);
  }

 private:
  static std::string state_key(const NodeState& node) {
    std::vector<std::int64_t> left = node.gpu_left;
    std::sort(left.begin(), left.end());
    std::string key = node.model + ':' + std::to_string(node.cpu_left);
    for (std::int64_t value : left) key += ',' + std::to_string(value);
    return key;
  }

  double fragmentation(const NodeState& node, const std::string& key) {
    auto it = memo_.find(key);
    if (it != memo_.end()) return it->second;
    const double value = node_fragmentation(node, workload_);
    memo_.emplace(key, value);
    return value;
  }

  static std::int64_t sigmoid_score(double growth) {
    return static_cast<std::int64_t>(1.0 / (1.0 + std::exp(growth / 1000.0)) *
                                     static_cast<double>(kMaxScore));
  }

  std::pair<std::int64_t, std::vector<int>> score(const NodeState& node, const std::string& key,
                                                  const TaskShape& task) {
    const double before = fragmentation(node, key);
    if (shared(task)) {
      std::optional<std::int64_t> best;
      int best_free = -1;  // the chosen GPU, named by its free capacity (see remap)
      for (std::size_t g = 0; g < node.gpu_left.size(); ++g) {
        if (node.gpu_left[g] < task.gpu_milli) continue;
        NodeState after = node;
        take(after, task, {static_cast<int>(g)});
        const std::int64_t value = sigmoid_score(fragmentation(after, state_key(after)) - before);
        if (!best || value > *best) {
          best = value;
          best_free = static_cast<int>(node.gpu_left[g]);
        }
      }
      return {best.value_or(0), {best_free}};
    }
    NodeState after = node;
    const std::vector<int> gpus = default_gpus(node, task);
    take(after, task, gpus);
    return {sigmoid_score(fragmentation(after, state_key(after)) - before), gpus};
  }

  // Scores are shared by nodes in the same state, whose GPUs may be in another order, so
  // a shared task's GPU is named by its free capacity: the first GPU of this node with
  // that much free. Whole-GPU choices are recomputed for this node.
  static std::vector<int> remap(const NodeState& node, const std::vector<int>& chosen,
                                const TaskShape& task) {
    if (!shared(task) || chosen.empty()) return default_gpus(node, task);
    for (std::size_t g = 0; g < node.gpu_left.size(); ++g) {
      if (node.gpu_left[g] == chosen.front()) return {static_cast<int>(g)};
    }
    return default_gpus(node, task);
  }

  std::vector<TypicalTask> workload_;
  std::vector<std::size_t> node_rank_;
  std::unordered_map<std::string, double> memo_;  // fragmentation by node state
  std::vector<std::string> keys_;                 // each node's state key
};

// FastGPU's sched::Placer on a ledger of the cluster's GPUs, as schedule() calls it for a
// queue that holds only this task.
class PlacerAdapter final : public ProtocolStrategy {
 public:
  PlacerAdapter(std::unique_ptr<sched::Placer> placer, const ClusterSpec& cluster)
      : placer_(std::move(placer)), ledger_(snapshot_of(cluster)) {
    for (std::size_t n = 0; n < cluster.nodes.size(); ++n) {
      for (int k = 0; k < cluster.nodes[n].gpu_count; ++k) gpu_owner_.emplace_back(n, k);
    }
    slot_owner_.resize(ledger_.slots().size());
    node_slots_.resize(cluster.nodes.size());
    for (std::size_t s = 0; s < ledger_.slots().size(); ++s) {
      slot_owner_[s] =
          gpu_owner_[static_cast<std::size_t>(ledger_.slot(static_cast<int>(s)).gpu_index)];
      node_slots_[slot_owner_[s].first].push_back(static_cast<int>(s));
    }
    forbidden_.assign(ledger_.slots().size(), 0);
  }

  std::optional<Placement> place(const std::vector<NodeState>& nodes,
                                 const TaskShape& task) override {
    if (task.gpu_count == 0) return cpu_only(nodes, task);
    for (std::size_t n = 0; n < nodes.size(); ++n) {
      const NodeState& node = nodes[n];
      const bool ok = model_allowed(node, task) && node.cpu_left >= task.cpu_milli &&
                      node.memory_left_mib >= task.memory_mib;
      for (int s : node_slots_[n]) forbidden_[static_cast<std::size_t>(s)] = ok ? 0 : 1;
    }
    sched::PlaceOptions options;
    options.forbidden = &forbidden_;
    options.min_share = demand_of(task).share;  // the queue's smallest share is this task's
    const auto slots = placer_->place(ledger_, demand_of(task), options);
    if (!slots) return std::nullopt;
    Placement placement;
    placement.node = slot_owner_[static_cast<std::size_t>(slots->front())].first;
    for (int s : *slots) placement.gpus.push_back(slot_owner_[static_cast<std::size_t>(s)].second);
    last_slots_ = *slots;
    return placement;
  }

  void commit(const std::vector<NodeState>& /*nodes_after*/, const Placement& placement,
              const TaskShape& task) override {
    if (placement.gpus.empty()) return;
    ledger_.commit(last_slots_, demand_of(task));
  }

 private:
  static sched::Snapshot snapshot_of(const ClusterSpec& cluster) {
    sched::Snapshot snapshot;
    snapshot.gpus = gpu_states(cluster, 1ULL << 34);  // bytes never bind: tasks declare none
    return snapshot;
  }

  static sched::Demand demand_of(const TaskShape& task) {
    sched::Demand demand;
    demand.gpus = task.gpu_count;
    demand.share = static_cast<double>(task.gpu_milli) / static_cast<double>(kMilliPerGpu);
    demand.load = demand.share * sched::priority_weight(0);
    return demand;
  }

  // No GPU for a placer to choose: keep CPU-only work off GPUs that could still be used.
  // The node with the least free GPU capacity that fits (GPU-less nodes and nodes whose
  // GPUs are all taken first), then the least CPU left.
  static std::optional<Placement> cpu_only(const std::vector<NodeState>& nodes,
                                           const TaskShape& task) {
    std::optional<std::size_t> best;
    const auto key = [&](std::size_t i) {
      return std::make_pair(nodes[i].gpu_left_total(), nodes[i].cpu_left);
    };
    for (std::size_t n = 0; n < nodes.size(); ++n) {
      if (!fits(nodes[n], task)) continue;
      if (!best || key(n) < key(*best)) best = n;
    }
    if (!best) return std::nullopt;
    return Placement{*best, {}};
  }

  std::unique_ptr<sched::Placer> placer_;
  sched::Ledger ledger_;
  std::vector<std::pair<std::size_t, int>> gpu_owner_;   // GpuState::index -> (node, GPU)
  std::vector<std::pair<std::size_t, int>> slot_owner_;  // ledger slot -> (node, GPU)
  std::vector<std::vector<int>> node_slots_;
  std::vector<char> forbidden_;
  std::vector<int> last_slots_;
};

}  // namespace

std::vector<int> default_gpus(const NodeState& node, const TaskShape& task) {
  std::vector<int> gpus;
  if (task.gpu_count == 0) return gpus;
  if (shared(task)) {
    std::optional<std::size_t> best;
    for (std::size_t g = 0; g < node.gpu_left.size(); ++g) {
      if (node.gpu_left[g] < task.gpu_milli) continue;
      if (!best || node.gpu_left[g] < node.gpu_left[*best]) best = g;
    }
    if (best) gpus.push_back(static_cast<int>(*best));
    return gpus;
  }
  for (std::size_t g = 0;
       g < node.gpu_left.size() && static_cast<int>(gpus.size()) < task.gpu_count; ++g) {
    if (node.gpu_left[g] == kMilliPerGpu) gpus.push_back(static_cast<int>(g));
  }
  return gpus;
}

std::vector<std::size_t> draw_node_rank(std::size_t nodes, ProtocolRng& rng) {
  std::vector<std::size_t> rank(nodes);
  std::iota(rank.begin(), rank.end(), std::size_t{0});
  for (std::size_t i = nodes; i > 1; --i) std::swap(rank[i - 1], rank[rng.below(i)]);
  return rank;
}

std::unique_ptr<ProtocolStrategy> make_protocol_strategy(std::string_view name,
                                                         const ClusterSpec& cluster,
                                                         std::vector<TypicalTask> workload,
                                                         std::vector<std::size_t> node_rank) {
  if (name == "bestfit") return std::make_unique<BestFit>(std::move(node_rank));
  if (name == "fgd") return std::make_unique<Fgd>(std::move(workload), std::move(node_rank));
  if (name == "pack" || name == "spread") {
    return std::make_unique<PlacerAdapter>(sched::make_placer(name), cluster);
  }
  return nullptr;
}

}  // namespace fastgpu::sim::detail
