// Placements known to fail, kept between a Scheduler's calls; private to src/sched.
//
// A round that tries a request class and fails leaves a record: the demand, where the
// ledger stood (a stamp in the GainLog) and the slots it was forbidden (a backfill
// reservation). Past the reservation the walk asks a record before it tries a class off
// the reserved GPUs, and before it looks up and tries the class's short job (a job of the
// class that ends before the reservation may use the reserved GPUs): when the class
// cannot fit anywhere now, neither can those. Measured on the scheduler benchmark's
// drains, asking the record before every placement cost more than the placer's own
// failing search (11% of a 100k drain against 2%), so the walk does not ask it before the
// reservation, where it would not make the proof anyway.
//
// Why a record may answer "still fails" without asking the placer. Every placer (pack,
// spread, and place_across_nodes) accepts or rejects each node by its own slots alone,
// and a node's acceptance can only be lost as its slots fill (Ledger::fits is monotone in
// what a slot holds); a single-node demand fits exactly when some node holds demand.gpus
// slots that it fits and that are not forbidden, a demand spanning nodes when enough empty
// such slots exist. So if the demand failed at the record and since then:
//   - the only slots that gained room (a job ended or was requeued or moved away, a GPU
//     was reported anew) lie on the nodes in the GainLog after the record's stamp, and
//   - the only slots no longer forbidden are the record's forbidden ones that are not
//     forbidden now,
// then every other node still rejects it, and when none of those nodes can hold it on
// its own now, the placer fails again. Within a round's walk the ledger only fills
// (what-if releases are put back bit for bit before the walk goes on), so the walk logs
// nothing; at the round's end a whole-memory gang gives back what it held above its
// Start's bytes, and that is logged (Round::hold_recorded_bytes in scheduler.cc).
// The scheduler's tests hold the kept scheduler, whose records outlive a call, to the pure
// schedule(), which starts each call without any, and check the decisions a record made
// within a call must not change (tests/sched/scheduler_known_failures_test.cc).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "fastgpu/sched/ledger.h"

namespace fastgpu::sched {

// The nodes where the ledger gained room, in order. A stamp is a position in the log;
// the log keeps its last kKept entries, and a stamp older than those proves nothing.
class GainLog {
 public:
  std::uint64_t now() const { return base_ + nodes_.size(); }
  void add(int node);
  // The nodes gained since `stamp`, or nullopt when the log no longer reaches back there.
  // Inline: every proof asks it.
  std::optional<std::span<const int>> since(std::uint64_t stamp) const {
    if (stamp < base_ || stamp > now()) return std::nullopt;
    return std::span<const int>(nodes_).subspan(static_cast<std::size_t>(stamp - base_));
  }

 private:
  static constexpr std::size_t kKept = 4096;
  std::uint64_t base_ = 0;  // the stamp of nodes_[0]
  std::vector<int> nodes_;
};

// One slot of a node that may take a job (healthy, not held exclusively), as a round's
// proof reads it: what Ledger::fits asks of the slot, copied together.
struct OpenSlot {
  int slot = 0;
  bool empty = true;  // no job of ours
  Bytes declared_bytes = 0;
  Bytes usable_bytes = 0;
  std::int64_t share_units = 0;
  double r = 1.0;
  // Ledger::fits(slot, demand), given need_units = to_units(demand.share * r).
  bool fits(const Demand& demand, std::int64_t need_units) const {
    if (demand.exclusive() && !empty) return false;
    if (demand.whole_memory && (declared_bytes > 0 || usable_bytes == 0)) return false;
    const Bytes free = declared_bytes >= usable_bytes ? 0 : usable_bytes - declared_bytes;
    if ((demand.whole_memory ? usable_bytes : demand.bytes) > free) return false;
    return share_units + need_units <= kUnitsPerShare;
  }
};

// to_units(share * r) of one demand's share, computed again only when r changes (most
// GPUs share one r, and llround is a library call).
class NeedUnits {
 public:
  explicit NeedUnits(double share) : share_(share) {}
  std::int64_t at(double r) {
    if (r != r_) {
      r_ = r;
      units_ = to_units(share_ * r);
    }
    return units_;
  }

 private:
  double share_;
  double r_ = -1.0;
  std::int64_t units_ = 0;
};

// What each node offers, computed on first use and kept while the node's slots stay as
// they were (Ledger::node_stamp): the figures at best (a cheap filter before asking each
// slot) and the open slots. A start, an end or a GPU report on the node changes its stamp,
// and its figures are computed anew when next read; the others are kept from call to
// call (a call changes a node or two, and the proofs read the nodes that gained room).
// REQUIRES: no ledger trial is open while they are read (a trial gains room).
class NodeRooms {
 public:
  // plain (tests only, State::plain_walk): the proofs ask Ledger::fits of each slot of a
  // node instead of reading its open slots, to hold the second way to the first.
  void set_plain(bool plain) { plain_ = plain; }
  bool plain() const { return plain_; }
  // False when no placement of the demand can use the node now; true when one might.
  // need: of demand.share. Inline: a proof asks it of every gained node, and most nodes
  // end here (measured: the calls cost as much as the figures' use).
  bool may_hold(const Ledger& ledger, int node, const Demand& demand, NeedUnits& need) {
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
           need.at(figures.least_r) <= figures.most_free_units &&
           (demand.gpus > ledger.largest_node() || figures.open >= demand.gpus);
  }
  // The node's slots that may take a job, as they are now.
  std::span<const OpenSlot> open_slots(const Ledger& ledger, int node) {
    const Room& figures = room(ledger, node);
    return std::span<const OpenSlot>(open_).subspan(figures.first_listed,
                                                    static_cast<std::size_t>(figures.listed));
  }

 private:
  struct Room {
    std::uint64_t stamp = 0;           // the node's stamp these figures are for; 0: none
    int open = 0;                      // healthy slots, not held exclusively, with share left
    std::int64_t most_free_units = 0;  // compute share left on the best slot, in units
    Bytes most_free_bytes = 0;
    double least_r = 1.0;
    std::size_t first_listed = 0;  // its OpenSlots in open_
    int listed = 0;
  };
  // The node's figures: computed when its stamp moved (compute()), else read here in
  // place (a proof asks it for each gained node, some 5 million times in a 100k
  // drain: called out of line, the lookup cost as much as the figures' use).
  const Room& room(const Ledger& ledger, int node) {
    const auto at = static_cast<std::size_t>(node);
    if (at < rooms_.size() && rooms_[at].stamp == ledger.node_stamp(node)) return rooms_[at];
    return compute(ledger, node);
  }
  [[gnu::noinline]] const Room& compute(const Ledger& ledger, int node);
  bool plain_ = false;
  std::vector<Room> rooms_;
  std::vector<OpenSlot> open_;  // largest_node() rows a node
};

// The last failure of one request class under one kind of mask (none, or a reservation).
struct KnownFailure {
  bool valid = false;
  std::uint64_t stamp = 0;     // GainLog::now() at the failure
  Demand demand;               // what failed
  std::vector<int> forbidden;  // the slots it was kept off then
};

// True when `demand`, kept off the slots marked in `forbidden` (nullptr: none), provably
// fails to place on `ledger` now, given that `failure` failed earlier and `gains` logged
// every gain since. A demand larger than the one that failed (same GPU count and memory
// kind, at least its bytes and share) fails too. Gives up (false) when the proof would
// cost more than trying: the log no longer reaches back, or too many nodes gained.
bool still_fails(const KnownFailure& failure, const Demand& demand,
                 const std::vector<char>* forbidden, const Ledger& ledger, const GainLog& gains,
                 NodeRooms& rooms);

// Records that `demand` failed now under `forbidden` (nullptr: none); `forbidden_slots`
// lists the marked slots.
void record_failure(KnownFailure& failure, const Demand& demand,
                    const std::vector<int>& forbidden_slots, const GainLog& gains);

}  // namespace fastgpu::sched
