// pack: best fit, keeping whole GPUs free for whole-GPU jobs and leaving as few unusable
// fragments as it can (the idea of FGD, ATC'23, reduced to the queue's smallest demand).
#include <algorithm>
#include <tuple>

#include "fastgpu/sched/placer.h"

namespace fastgpu::sched {
namespace {

// How many fitting partly used GPUs pack compares before choosing; the candidates come in
// order of least free share, so the best fits are among the first few.
constexpr int kPartialCandidates = 8;

class PackPlacer final : public Placer {
 public:
  std::string_view name() const override { return "pack"; }

  std::optional<std::vector<int>> place(const Ledger& ledger, const Demand& demand,
                                        const PlaceOptions& options) const override {
    if (demand.gpus > ledger.largest_node()) return place_across_nodes(ledger, demand, options);
    if (demand.gpus == 1 && !demand.exclusive() && !demand.whole_memory) {
      if (auto s = best_partial(ledger, demand, options)) return std::vector<int>{*s};
    }
    if (demand.gpus == 1) {
      if (auto s = best_empty(ledger, demand, options)) return std::vector<int>{*s};
      return std::nullopt;
    }
    return gang(ledger, demand, options);
  }

 private:
  // Lower is better: (unusable leftover share, leftover share, leftover memory fraction).
  static std::tuple<double, double, double, int> score(const Ledger& ledger, int s,
                                                       const Demand& demand,
                                                       const PlaceOptions& options) {
    const GpuSlot& slot = ledger.slot(s);
    const double left_share = slot.free_share() - demand.share * slot.r;
    const Bytes left_bytes = slot.free_bytes() - ledger.bytes_on(s, demand);
    const bool unusable =
        left_share < options.min_share * slot.r - kShareEpsilon || left_bytes < options.min_bytes;
    const double fragment = left_share > kShareEpsilon && unusable ? left_share : 0.0;
    const double byte_fraction =
        slot.usable_bytes == 0
            ? 0.0
            : static_cast<double>(left_bytes) / static_cast<double>(slot.usable_bytes);
    return {fragment, left_share, byte_fraction, s};
  }

  static std::optional<int> best_partial(const Ledger& ledger, const Demand& demand,
                                         const PlaceOptions& options) {
    const auto& partial = ledger.partial_by_free_share();
    const double need = demand.share * ledger.min_r() - kShareEpsilon;
    std::optional<int> best;
    std::tuple<double, double, double, int> best_score;
    int seen = 0;
    for (auto it = partial.lower_bound({need, -1});
         it != partial.end() && seen < kPartialCandidates; ++it) {
      const int s = it->second;
      if (!allowed(ledger, s, demand, options)) continue;
      ++seen;
      const auto candidate = score(ledger, s, demand, options);
      if (!best || candidate < best_score) {
        best = s;
        best_score = candidate;
      }
    }
    return best;
  }

  // An empty GPU on the node with the fewest empty GPUs; within it the smallest that fits.
  static std::optional<int> best_empty(const Ledger& ledger, const Demand& demand,
                                       const PlaceOptions& options) {
    const auto& nodes = ledger.nodes_by_empty();
    for (auto it = std::lower_bound(nodes.begin(), nodes.end(), std::pair<int, int>{1, -1});
         it != nodes.end(); ++it) {
      std::optional<int> best;
      for (int s : ledger.node_slots(it->second)) {
        if (!ledger.slot(s).empty() || !allowed(ledger, s, demand, options)) continue;
        if (!best || ledger.slot(s).usable_bytes < ledger.slot(*best).usable_bytes) best = s;
      }
      if (best) return best;
    }
    return std::nullopt;
  }

  // A gang on the node with the fewest free GPUs that still holds it. Partly used GPUs
  // come first (least free share first) so fractional gangs fill gaps before empty GPUs.
  static std::optional<std::vector<int>> gang(const Ledger& ledger, const Demand& demand,
                                              const PlaceOptions& options) {
    const auto& nodes = ledger.nodes_by_empty();
    const int min_empty = demand.exclusive() || demand.whole_memory ? demand.gpus : 0;
    for (auto it = std::lower_bound(nodes.begin(), nodes.end(), std::pair<int, int>{min_empty, -1});
         it != nodes.end(); ++it) {
      std::vector<int> candidates;
      for (int s : ledger.node_slots(it->second)) {
        if (allowed(ledger, s, demand, options)) candidates.push_back(s);
      }
      if (static_cast<int>(candidates.size()) < demand.gpus) continue;
      std::stable_sort(candidates.begin(), candidates.end(), [&](int a, int b) {
        const GpuSlot& x = ledger.slot(a);
        const GpuSlot& y = ledger.slot(b);
        if (x.empty() != y.empty()) return !x.empty();
        return x.free_share() < y.free_share();
      });
      return choose_gang(ledger, candidates, demand.gpus);
    }
    return std::nullopt;
  }
};

}  // namespace

std::unique_ptr<Placer> make_pack_placer() { return std::make_unique<PackPlacer>(); }

}  // namespace fastgpu::sched
