// Pieces of the FGD protocol shared by its source files; not part of the public API.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string_view>
#include <vector>

#include "fastgpu/sim/cluster_spec.h"
#include "fastgpu/sim/fragmentation.h"

namespace fastgpu::sim::detail {

// The protocol's one random stream: shuffling, tuning and then the node order are drawn
// from it in that order, so a seed fixes the whole run.
class ProtocolRng {
 public:
  explicit ProtocolRng(std::uint64_t seed) : engine_(seed) {}
  // Uniform in [0, n). REQUIRES: n > 0. Rejection sampling, so no modulo bias and the
  // same stream on every standard library.
  std::size_t below(std::size_t n) {
    const std::uint64_t range = n;
    const std::uint64_t limit = UINT64_MAX - UINT64_MAX % range;
    std::uint64_t draw = engine_();
    while (draw >= limit) draw = engine_();
    return static_cast<std::size_t>(draw % range);
  }

 private:
  std::mt19937_64 engine_;
};

// The run's node order for breaking ties: rank[n] is node n's place, a random permutation
// of 0..nodes-1 drawn once per run. FGD's simulator prefixes every node name with such a
// permutation ("%04d-" + name, rand.Perm after tuning) and its scheduler (a patched
// selectHost) gives a tie to the smallest name, so among equal best scores the same node
// wins for every task of a run. That consistency packs tasks that tie (an empty node and
// a partly used one often score the same); a fresh random pick per task spreads them.
std::vector<std::size_t> draw_node_rank(std::size_t nodes, ProtocolRng& rng);

// Picks the highest score; among equal scores the node that comes first in the run's
// node order (draw_node_rank), as FGD's scheduler does. `rank` must outlive the picker and
// hold every offered id.
class BestPicker {
 public:
  explicit BestPicker(const std::vector<std::size_t>& rank) : rank_(rank) {}
  // Offers candidate `id` with `score` (higher is better).
  void offer(std::size_t id, std::int64_t score) {
    if (!found_ || score > score_ || (score == score_ && rank_[id] < rank_[best_])) {
      found_ = true;
      best_ = id;
      score_ = score;
    }
  }
  std::optional<std::size_t> best() const {
    return found_ ? std::optional<std::size_t>(best_) : std::nullopt;
  }

 private:
  const std::vector<std::size_t>& rank_;
  bool found_ = false;
  std::size_t best_ = 0;
  std::int64_t score_ = 0;
};

// Where a task goes: a node, and the GPUs of that node it takes (empty for CPU-only).
struct Placement {
  std::size_t node = 0;
  std::vector<int> gpus;
};

// One placement strategy of the protocol. Strategies may keep state (caches, a ledger), so
// the caller tells them of each placement it applies through commit(), with the nodes as
// they are after it.
class ProtocolStrategy {
 public:
  virtual ~ProtocolStrategy() = default;
  virtual std::optional<Placement> place(const std::vector<NodeState>& nodes,
                                         const TaskShape& task) = 0;
  virtual void commit(const std::vector<NodeState>& /*nodes_after*/, const Placement& /*placement*/,
                      const TaskShape& /*task*/) {}
};

// nullptr for an unknown name. `cluster` is what the pack/spread adapters build their
// ledger from; `workload` is FGD's target workload; `node_rank` (one entry per node, see
// draw_node_rank) breaks ties for bestfit and fgd. pack and spread keep their own rules.
std::unique_ptr<ProtocolStrategy> make_protocol_strategy(std::string_view name,
                                                         const ClusterSpec& cluster,
                                                         std::vector<TypicalTask> workload,
                                                         std::vector<std::size_t> node_rank);

// The GPUs a task takes on a node under FGD's default rule: a shared task the GPU with the
// least room that still fits; whole GPUs the lowest-numbered fully free ones.
std::vector<int> default_gpus(const NodeState& node, const TaskShape& task);

}  // namespace fastgpu::sim::detail
