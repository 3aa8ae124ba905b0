#include "fastgpu/sched/placer.h"

#include <algorithm>

namespace fastgpu::sched {

std::unique_ptr<Placer> make_pack_placer();
std::unique_ptr<Placer> make_spread_placer();

std::unique_ptr<Placer> make_placer(std::string_view name) {
  if (name == "pack") return make_pack_placer();
  if (name == "spread") return make_spread_placer();
  return nullptr;
}

std::vector<std::string> placer_names() { return {"pack", "spread"}; }

bool allowed(const Ledger& ledger, int s, const Demand& demand, const PlaceOptions& options) {
  if (options.forbidden != nullptr && (*options.forbidden)[s] != 0) return false;
  return ledger.fits(s, demand);
}

std::optional<std::vector<int>> place_across_nodes(const Ledger& ledger, const Demand& demand,
                                                   const PlaceOptions& options) {
  std::vector<int> chosen;
  const auto& nodes = ledger.nodes_by_empty();
  for (auto it = nodes.rbegin(); it != nodes.rend() && it->first > 0; ++it) {
    for (int s : ledger.node_slots(it->second)) {
      if (!ledger.slot(s).empty() || !allowed(ledger, s, demand, options)) continue;
      chosen.push_back(s);
      if (static_cast<int>(chosen.size()) == demand.gpus) {
        std::sort(chosen.begin(), chosen.end());
        return chosen;
      }
    }
  }
  return std::nullopt;
}

namespace {

// The smallest group (by member count among candidates) with at least `count` members,
// ties to the smaller group id, as candidates in their given order; empty when no group
// is big enough. Candidates are one node's GPUs, a handful, so counting each group's
// members by a scan costs less than building a map of them (this runs at every gang
// placement and in the reservation search).
template <typename GroupOf>
std::vector<int> smallest_group(const std::vector<int>& candidates, int count, GroupOf group_of) {
  int best_group = -1;
  int best_size = 0;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const int group = group_of(candidates[i]);
    if (group < 0) continue;
    bool seen = false;
    for (std::size_t j = 0; j < i && !seen; ++j) seen = group_of(candidates[j]) == group;
    if (seen) continue;
    int size = 0;
    for (std::size_t j = i; j < candidates.size(); ++j) size += group_of(candidates[j]) == group;
    if (size < count) continue;
    if (best_group < 0 || size < best_size || (size == best_size && group < best_group)) {
      best_group = group;
      best_size = size;
    }
  }
  std::vector<int> members;
  if (best_group < 0) return members;
  members.reserve(static_cast<std::size_t>(count));
  for (int s : candidates) {
    if (group_of(s) != best_group) continue;
    members.push_back(s);
    if (static_cast<int>(members.size()) == count) break;
  }
  return members;
}

}  // namespace

std::vector<int> choose_gang(const Ledger& ledger, const std::vector<int>& candidates, int count) {
  if (count <= 1)
    return {candidates.begin(),
            candidates.begin() + std::min<int>(count, static_cast<int>(candidates.size()))};
  std::vector<int> chosen =
      smallest_group(candidates, count, [&](int s) { return ledger.slot(s).nvlink_group; });
  if (chosen.empty()) {
    chosen = smallest_group(candidates, count, [&](int s) { return ledger.slot(s).pcie_switch; });
  }
  if (chosen.empty()) chosen.assign(candidates.begin(), candidates.begin() + count);
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

}  // namespace fastgpu::sched
