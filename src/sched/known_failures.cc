#include "sched/known_failures.h"

#include <algorithm>

namespace fastgpu::sched {

namespace {

// Above this many gained nodes, trying the placer is about as cheap as the proof.
constexpr std::size_t kMaxGainedNodes = 48;

bool is_forbidden(const std::vector<char>* forbidden, int s) {
  return forbidden != nullptr && (*forbidden)[static_cast<std::size_t>(s)] != 0;
}

// Whether the node could take part in a placement of the demand now, judged by its own
// slots: enough allowed slots for a single-node demand; any empty allowed slot for one
// spanning nodes (place_across_nodes takes only empty GPUs).
bool node_may_hold(const Ledger& ledger, int node, const Demand& demand,
                   const std::vector<char>* forbidden, NodeRooms& rooms) {
  if (!rooms.may_hold(ledger, node, demand)) return false;
  const bool across_nodes = demand.gpus > ledger.largest_node();
  int allowed = 0;
  for (int s : ledger.node_slots(node)) {
    if (is_forbidden(forbidden, s) || !ledger.fits(s, demand)) continue;
    if (across_nodes) {
      if (ledger.slot(s).empty()) return true;
      continue;
    }
    if (++allowed >= demand.gpus) return true;
  }
  return false;
}

// `larger` fits wherever `smaller` fits no more: same count and memory kind, at least the
// bytes and the share (Ledger::fits only gets harder as bytes and share grow).
bool at_least(const Demand& larger, const Demand& smaller) {
  return larger.gpus == smaller.gpus && larger.whole_memory == smaller.whole_memory &&
         larger.bytes >= smaller.bytes && larger.share >= smaller.share;
}

}  // namespace

const NodeRooms::Room& NodeRooms::compute(const Ledger& ledger, int node) {
  if (rooms_.size() != static_cast<std::size_t>(ledger.node_count())) {
    rooms_.assign(static_cast<std::size_t>(ledger.node_count()), Room{});
  }
  Room& room = rooms_[static_cast<std::size_t>(node)];
  room = Room{};
  room.round = round_;
  for (int s : ledger.node_slots(node)) {
    const GpuSlot& slot = ledger.slot(s);
    if (!slot.healthy || slot.exclusive_held || slot.share_units >= kUnitsPerShare) continue;
    ++room.open;
    room.most_free_units = std::max(room.most_free_units, kUnitsPerShare - slot.share_units);
    room.most_free_bytes = std::max(room.most_free_bytes, slot.free_bytes());
    room.least_r = std::min(room.least_r, slot.r);
  }
  return room;
}

bool NodeRooms::may_hold(const Ledger& ledger, int node, const Demand& demand) {
  // An exclusive demand takes only empty healthy GPUs (Ledger::fits).
  if (demand.exclusive() && ledger.empty_count(node) == 0) return false;
  if (demand.exclusive() && demand.gpus <= ledger.largest_node() &&
      ledger.empty_count(node) < demand.gpus) {
    return false;
  }
  const Room& figures = room(ledger, node);
  if (figures.open == 0) return false;
  if (demand.whole_memory) return true;  // its bytes depend on the slot: ask each one
  // Every slot it fits on is open, has at least its bytes free and its share at the
  // slot's r (>= the node's least r) left.
  return figures.most_free_bytes >= demand.bytes &&
         to_units(demand.share * figures.least_r) <= figures.most_free_units &&
         (demand.gpus > ledger.largest_node() || figures.open >= demand.gpus);
}

void GainLog::add(int node) {
  if (nodes_.size() == kKept) {
    base_ += nodes_.size();
    nodes_.clear();
  }
  nodes_.push_back(node);
}

std::optional<std::span<const int>> GainLog::since(std::uint64_t stamp) const {
  if (stamp < base_ || stamp > now()) return std::nullopt;
  return std::span<const int>(nodes_).subspan(static_cast<std::size_t>(stamp - base_));
}

bool still_fails(const KnownFailure& failure, const Demand& demand,
                 const std::vector<char>* forbidden, const Ledger& ledger, const GainLog& gains,
                 NodeRooms& rooms) {
  if (!failure.valid || !at_least(demand, failure.demand)) return false;
  const auto gained = gains.since(failure.stamp);
  if (!gained || gained->size() > kMaxGainedNodes) return false;
  for (int node : *gained) {
    if (node_may_hold(ledger, node, demand, forbidden, rooms)) return false;
  }
  for (int s : failure.forbidden) {
    if (is_forbidden(forbidden, s)) continue;  // still kept off: nothing new there
    if (node_may_hold(ledger, ledger.slot(s).node, demand, forbidden, rooms)) return false;
  }
  return true;
}

void record_failure(KnownFailure& failure, const Demand& demand,
                    const std::vector<int>& forbidden_slots, const GainLog& gains) {
  failure.valid = true;
  failure.stamp = gains.now();
  failure.demand = demand;
  failure.forbidden = forbidden_slots;
}

}  // namespace fastgpu::sched
