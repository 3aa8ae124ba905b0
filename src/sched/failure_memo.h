// Demands that already failed to place in one scheduling call; private to src/sched.
//
// Placement only gets harder within a call (the ledger only fills), and a demand at least
// as large in every dimension (same memory kind, at least the GPU count, the bytes and the
// share) fails too, so a dominated demand is rejected without searching the GPUs.
//
// The memo records the first kMaxEntries failures it is given (as it always has: which
// failures it holds must not depend on how it is searched, and the walk's proofs and
// records follow its answers), but answers from the minimal ones alone: a failure that
// dominates another adds nothing to "is this demand dominated?". A plain list: a round
// holds few minimal failures (a queue asks a handful of GPU counts and sizes), and an
// index of them by GPU count and share (binary searches in a staircase per count) was
// measured slower on the 10k drain, both to ask and to add to.
//
// Not thread-safe; one per call and purpose, reused between calls after clear().
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

#include "fastgpu/sched/ledger.h"

namespace fastgpu::sched {

class FailureMemo {
 public:
  static constexpr std::size_t kMaxEntries = 64;

  // True when a recorded failure is at most `demand` in every dimension.
  bool dominated(const Demand& demand) const {
    for (const Demand& failed : minimal_) {
      if (covers(failed, demand)) return true;
    }
    return false;
  }

  // Records a failure, unless kMaxEntries were recorded already.
  void add(const Demand& demand) {
    if (recorded_ == kMaxEntries) return;
    ++recorded_;
    if (dominated(demand)) return;
    std::erase_if(minimal_, [&](const Demand& failed) { return covers(demand, failed); });
    minimal_.push_back(demand);
  }

  // The same, for a demand the caller knows is not dominated (it asked, and nothing was
  // added since): skips asking again.
  void add_undominated(const Demand& demand) {
    if (recorded_ == kMaxEntries) return;
    ++recorded_;
    std::erase_if(minimal_, [&](const Demand& failed) { return covers(demand, failed); });
    minimal_.push_back(demand);
  }

  // Forgets every failure; keeps the memory for the next call.
  void clear() {
    recorded_ = 0;
    minimal_.clear();
  }

 private:
  // True when `larger` is at least `smaller` in every dimension.
  static bool covers(const Demand& smaller, const Demand& larger) {
    return larger.whole_memory == smaller.whole_memory && larger.gpus >= smaller.gpus &&
           larger.bytes >= smaller.bytes && larger.share >= smaller.share;
  }
  std::size_t recorded_ = 0;
  std::vector<Demand> minimal_;  // the recorded failures that dominate no other
};

}  // namespace fastgpu::sched
