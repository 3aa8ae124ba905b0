// spread: least loaded first. Load is LB_i = sum of L_j * P_j over the GPU's jobs
// (DESIGN.md section 6, with L_j = u_j), then measured utilization, then temperature.
#include <algorithm>

#include "fastgpu/sched/placer.h"

namespace fastgpu::sched {
namespace {

class SpreadPlacer final : public Placer {
 public:
  std::string_view name() const override { return "spread"; }

  std::optional<std::vector<int>> place(const Ledger& ledger, const Demand& demand,
                                        const PlaceOptions& options) const override {
    if (demand.gpus > ledger.largest_node()) return place_across_nodes(ledger, demand, options);
    if (demand.gpus == 1 && !demand.exclusive() && !demand.whole_memory) {
      for (const auto& key : ledger.by_load()) {
        const int s = std::get<3>(key);
        if (allowed(ledger, s, demand, options)) return std::vector<int>{s};
      }
      return std::nullopt;
    }
    return on_emptiest_node(ledger, demand, options);
  }

 private:
  // The node with the most empty GPUs that holds the job; its least loaded GPUs.
  static std::optional<std::vector<int>> on_emptiest_node(const Ledger& ledger,
                                                          const Demand& demand,
                                                          const PlaceOptions& options) {
    // Most empty GPUs first; among equals the first node by name.
    std::vector<std::pair<int, int>> nodes;
    for (const auto& [empty, node] : ledger.nodes_by_empty()) nodes.emplace_back(-empty, node);
    std::sort(nodes.begin(), nodes.end());
    for (const auto& [negative_empty, node] : nodes) {
      std::vector<int> candidates;
      for (int s : ledger.node_slots(node)) {
        if (allowed(ledger, s, demand, options)) candidates.push_back(s);
      }
      if (static_cast<int>(candidates.size()) < demand.gpus) continue;
      std::sort(candidates.begin(), candidates.end(), [&](int a, int b) {
        const GpuSlot& x = ledger.slot(a);
        const GpuSlot& y = ledger.slot(b);
        return std::tie(x.load, x.utilization, x.temperature_c, a) <
               std::tie(y.load, y.utilization, y.temperature_c, b);
      });
      return choose_gang(ledger, candidates, demand.gpus);
    }
    return std::nullopt;
  }
};

}  // namespace

std::unique_ptr<Placer> make_spread_placer() { return std::make_unique<SpreadPlacer>(); }

}  // namespace fastgpu::sched
