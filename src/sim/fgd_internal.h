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

// The protocol's one random stream: shuffling, tuning and tie-breaking draw from it in
// that order, so a seed fixes the whole run.
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

// Picks among equal best scores uniformly, visiting candidates once (reservoir sampling,
// as the Kubernetes scheduler's selectHost does).
class BestPicker {
 public:
  // Offers candidate `id` with `score` (higher is better).
  void offer(std::size_t id, std::int64_t score, ProtocolRng& rng) {
    if (!best_ || score > score_) {
      best_ = id;
      score_ = score;
      ties_ = 1;
    } else if (score == score_) {
      ++ties_;
      if (rng.below(ties_) == 0) best_ = id;
    }
  }
  std::optional<std::size_t> best() const { return best_; }

 private:
  std::optional<std::size_t> best_;
  std::int64_t score_ = 0;
  std::size_t ties_ = 0;
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
  virtual std::optional<Placement> place(const std::vector<NodeState>& nodes, const TaskShape& task,
                                         ProtocolRng& rng) = 0;
  virtual void commit(const std::vector<NodeState>& /*nodes_after*/, const Placement& /*placement*/,
                      const TaskShape& /*task*/) {}
};

// nullptr for an unknown name. `nodes` is the empty cluster (the pack/spread adapters
// build their ledger from it); `workload` is FGD's target workload.
std::unique_ptr<ProtocolStrategy> make_protocol_strategy(std::string_view name,
                                                         const ClusterSpec& cluster,
                                                         const std::vector<NodeState>& nodes,
                                                         std::vector<TypicalTask> workload);

// The GPUs a task takes on a node under FGD's default rule: a shared task the GPU with the
// least room that still fits; whole GPUs the lowest-numbered fully free ones.
std::vector<int> default_gpus(const NodeState& node, const TaskShape& task);

}  // namespace fastgpu::sim::detail
