#include "sched/known_failures.h"

#include <algorithm>

namespace fastgpu::sched {

namespace {

// Above this many gained nodes, trying the placer is about as cheap as the proof.
constexpr std::size_t kMaxGainedNodes = 48;

bool is_forbidden(const std::vector<char>* forbidden, int s) {
  return forbidden != nullptr && (*forbidden)[static_cast<std::size_t>(s)] != 0;
}

// True when the slots take the demand: demand.gpus of them that fit(slot), or for a
// demand spanning nodes (place_across_nodes takes only empty GPUs) one that fits and is
// empty(slot).
template <typename Slots, typename Fits, typename Empty>
bool slots_take(const Slots& slots, const Demand& demand, bool across_nodes, Fits&& fits,
                Empty&& empty) {
  int allowed = 0;
  for (const auto& slot : slots) {
    if (!fits(slot)) continue;
    if (across_nodes) {
      if (empty(slot)) return true;
      continue;
    }
    if (++allowed >= demand.gpus) return true;
  }
  return false;
}

// Whether the node could take part in a placement of the demand now, judged by its own
// slots: by the round's open slots of the node (NodeRooms), or (kPlain, NodeRooms::plain)
// by asking the ledger of each slot; tests hold the first to the second. A template
// parameter, not a flag asked at every node (measured: 3% of the 10k drain).
// REQUIRES: NodeRooms::may_hold passed (the cheap filter, asked inline by the caller).
template <bool kPlain>
bool node_may_hold(const Ledger& ledger, int node, const Demand& demand,
                   const std::vector<char>* forbidden, NodeRooms& rooms, NeedUnits& need) {
  const bool across_nodes = demand.gpus > ledger.largest_node();
  if constexpr (kPlain) {
    return slots_take(
        ledger.node_slots(node), demand, across_nodes,
        [&](int s) { return !is_forbidden(forbidden, s) && ledger.fits(s, demand); },
        [&](int s) { return ledger.slot(s).empty(); });
  }
  return slots_take(
      rooms.open_slots(ledger, node), demand, across_nodes,
      [&](const OpenSlot& open) {
        return !is_forbidden(forbidden, open.slot) && open.fits(demand, need.at(open.r));
      },
      [](const OpenSlot& open) { return open.empty; });
}

// No node that gained room since the failure, nor one of its forbidden slots that is no
// longer forbidden, may hold the demand now. Flattened: the filter and the slot checks
// are asked of every gained node, and the compiler left them out of line otherwise
// (callgrind of the 100k drain: 2.4% more instructions); NodeRooms::compute stays a call.
template <bool kPlain>
[[gnu::flatten]] bool none_may_hold(const KnownFailure& failure, std::span<const int> gained,
                                    const Demand& demand, const std::vector<char>* forbidden,
                                    const Ledger& ledger, NodeRooms& rooms) {
  NeedUnits need(demand.share);
  auto may_hold = [&](int node) {
    return rooms.may_hold(ledger, node, demand, need) &&
           node_may_hold<kPlain>(ledger, node, demand, forbidden, rooms, need);
  };
  for (int node : gained) {
    if (may_hold(node)) return false;
  }
  for (int s : failure.forbidden) {
    if (is_forbidden(forbidden, s)) continue;  // still kept off: nothing new there
    if (may_hold(ledger.slot(s).node)) return false;
  }
  return true;
}

// `larger` fits wherever `smaller` fits no more: same count and memory kind, at least the
// bytes and the share (Ledger::fits only gets harder as bytes and share grow).
bool at_least(const Demand& larger, const Demand& smaller) {
  return larger.gpus == smaller.gpus && larger.whole_memory == smaller.whole_memory &&
         larger.bytes >= smaller.bytes && larger.share >= smaller.share;
}

}  // namespace

const NodeRooms::Room& NodeRooms::compute(const Ledger& ledger, int node) {
  const auto nodes = static_cast<std::size_t>(ledger.node_count());
  const auto per_node = static_cast<std::size_t>(ledger.largest_node());
  if (rooms_.size() != nodes || open_.size() != nodes * per_node) {
    rooms_.assign(nodes, Room{});
    open_.assign(nodes * per_node, OpenSlot{});
  }
  Room& room = rooms_[static_cast<std::size_t>(node)];
  room = Room{};
  room.stamp = ledger.node_stamp(node);
  room.first_listed = static_cast<std::size_t>(node) * per_node;
  for (int s : ledger.node_slots(node)) {
    const GpuSlot& slot = ledger.slot(s);
    if (!slot.healthy || slot.exclusive_held) continue;
    open_[room.first_listed + static_cast<std::size_t>(room.listed++)] =
        OpenSlot{s, slot.empty(), slot.declared_bytes, slot.usable_bytes, slot.share_units, slot.r};
    if (slot.share_units >= kUnitsPerShare) continue;
    ++room.open;
    room.most_free_units = std::max(room.most_free_units, kUnitsPerShare - slot.share_units);
    room.most_free_bytes = std::max(room.most_free_bytes, slot.free_bytes());
    room.least_r = std::min(room.least_r, slot.r);
  }
  return room;
}

void GainLog::add(int node) {
  if (nodes_.size() == kKept) {
    base_ += nodes_.size();
    nodes_.clear();
  }
  nodes_.push_back(node);
}

bool still_fails(const KnownFailure& failure, const Demand& demand,
                 const std::vector<char>* forbidden, const Ledger& ledger, const GainLog& gains,
                 NodeRooms& rooms) {
  if (!failure.valid || !at_least(demand, failure.demand)) return false;
  const auto gained = gains.since(failure.stamp);
  if (!gained || gained->size() > kMaxGainedNodes) return false;
  return rooms.plain() ? none_may_hold<true>(failure, *gained, demand, forbidden, ledger, rooms)
                       : none_may_hold<false>(failure, *gained, demand, forbidden, ledger, rooms);
}

void record_failure(KnownFailure& failure, const Demand& demand,
                    const std::vector<int>& forbidden_slots, const GainLog& gains) {
  failure.valid = true;
  failure.stamp = gains.now();
  failure.demand = demand;
  failure.forbidden = forbidden_slots;
}

}  // namespace fastgpu::sched
