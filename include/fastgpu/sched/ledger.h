// The per-GPU ledger: declared memory and compute share, the two things a job must fit in.
//
// Memory: declared bytes of FastGPU's jobs + driver-reserved + foreign bytes <= total.
// Compute: R_i = sum over jobs j on GPU i of u_j * r_i (DESIGN.md section 6) <= 1.
// A job with u = 1 is exclusive: it goes only on a GPU with no job of ours, and nothing
// joins it. Unhealthy GPUs accept nothing. The ledger never lets a commit over-commit;
// a snapshot that already is over-committed (foreign memory grew) simply fits nothing new.
//
// The ledger also keeps the indexes placement needs to avoid scanning every GPU:
// per-node counts of empty GPUs, partially used GPUs ordered by free share, and GPUs
// ordered by load. Not thread-safe; one ledger belongs to one schedule() call.
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "fastgpu/core/units.h"
#include "fastgpu/sched/snapshot.h"

namespace fastgpu::sched {

inline constexpr double kComputeCapacity = 1.0;  // R_i may reach this, never exceed it
inline constexpr double kShareEpsilon = 1e-9;    // one share unit, below: the ledger's grain

// The ledger sums compute shares and loads as integers of this many units per 1.0, so
// that committing and releasing the same jobs in any order gives bit-identical totals (a
// scheduler kept across calls must decide exactly as one built afresh from a snapshot).
inline constexpr std::int64_t kUnitsPerShare = 1'000'000'000;
// value * kUnitsPerShare rounded to the nearest integer, halves away from zero: exactly
// std::llround's answer, inline because the ledger asks it of every slot it checks (the
// call into libm was 4% of a drain). Below 2^52 the truncated part is exact, so the
// remainder is too; from there on every double is an integer and llround answers.
inline std::int64_t to_units(double value) {
  const double scaled = value * static_cast<double>(kUnitsPerShare);
  if (!(std::fabs(scaled) < 0x1p52)) return std::llround(scaled);  // huge, or NaN
  const auto whole = static_cast<std::int64_t>(scaled);            // toward zero
  const double rest = scaled - static_cast<double>(whole);
  if (rest >= 0.5) return whole + 1;
  if (rest <= -0.5) return whole - 1;
  return whole;
}

// What one job asks of each of its GPUs.
struct Demand {
  int gpus = 1;
  Bytes bytes = 0;            // per GPU; ignored when whole_memory
  bool whole_memory = false;  // take all usable memory (auto with no history)
  double share = 1.0;         // u_j; occupies u_j * r_i of GPU i
  double load = 1.0;          // L_j * P_j, this job's term in LB_i
  bool exclusive() const { return share >= 1.0; }
};

// One GPU's row of the ledger. Plain data, read by placers.
struct GpuSlot {
  int gpu_index = 0;         // GpuState::index
  int node = 0;              // dense node id (nodes sorted by name)
  Bytes usable_bytes = 0;    // total - reserved - foreign (0 when those exceed total)
  Bytes declared_bytes = 0;  // sum of our jobs' declared bytes
  double r = 1.0;            // GpuState::util_cap
  double share = 0.0;        // R_i, = share_units / kUnitsPerShare
  double load = 0.0;         // LB_i, = load_units / kUnitsPerShare
  std::int64_t share_units = 0;
  std::int64_t load_units = 0;
  int jobs = 0;
  bool exclusive_held = false;
  bool healthy = true;
  double utilization = 0.0;    // measured, 0 when unknown
  double temperature_c = 0.0;  // measured, 0 when unknown
  int nvlink_group = -1;
  int pcie_switch = -1;

  Bytes free_bytes() const {
    return declared_bytes >= usable_bytes ? 0 : usable_bytes - declared_bytes;
  }
  double free_share() const { return kComputeCapacity - share; }
  bool empty() const { return jobs == 0; }
};

class Ledger {
 public:
  // Builds the ledger from the snapshot's GPUs and running jobs. Running jobs on GPUs the
  // snapshot does not list are ignored (validate() reports them).
  explicit Ledger(const Snapshot& snapshot);

  const std::vector<GpuSlot>& slots() const { return slots_; }
  const GpuSlot& slot(int s) const { return slots_[s]; }
  // The slot of a GpuState::index, or -1.
  int slot_of(int gpu_index) const;
  int node_count() const { return static_cast<int>(node_slots_.size()); }
  const std::vector<int>& node_slots(int node) const { return node_slots_[node]; }
  const std::string& node_name(int node) const { return node_names_[node]; }
  int empty_count(int node) const { return empty_count_[node]; }
  int largest_node() const { return largest_node_; }  // GPUs on the node with the most
  // A stamp of what the node's slots hold: it changes with every change to one of them
  // (a commit, a release, a trial's release and its end, a GPU report), and stamps are
  // unique across every ledger of the process, so two reads with the same stamp saw the
  // same slots (a copied ledger keeps its stamps, and its slots, until one changes).
  // Lets a reader keep what it computed from a node's slots for as long as it holds.
  std::uint64_t node_stamp(int node) const { return node_stamp_[node]; }

  // True when `demand` fits on slot s now: healthy, memory and compute both fit, and
  // exclusivity holds.
  bool fits(int s, const Demand& demand) const;
  // The two halves of fits(), health aside (why_waiting tells a user which one fails):
  // the demand's bytes are free (all of them, unused, for whole_memory), and its share of
  // compute is (an idle GPU for an exclusive demand, none held exclusively). Inline: fits()
  // is the placers' innermost test.
  bool memory_fits(int s, const Demand& demand) const {
    const GpuSlot& slot = slots_[s];
    if (demand.whole_memory) return slot.declared_bytes == 0 && slot.usable_bytes > 0;
    return demand.bytes <= slot.free_bytes();
  }
  bool compute_fits(int s, const Demand& demand) const {
    const GpuSlot& slot = slots_[s];
    if (slot.exclusive_held || (demand.exclusive() && slot.jobs > 0)) return false;
    return slot.share_units + to_units(demand.share * slot.r) <= kUnitsPerShare;
  }
  // Bytes a demand takes on slot s (whole_memory resolves to the slot's usable bytes).
  Bytes bytes_on(int s, const Demand& demand) const;

  // REQUIRES: fits(s, demand) for every s in slots.
  void commit(const std::vector<int>& slots, const Demand& demand);
  // Undoes a commit of the same demand on the same slots (byte counts as committed).
  void release(const std::vector<int>& slots, const Demand& demand, Bytes bytes_per_gpu);

  // Replaces what the probe says of one GPU (usable memory, health, measurements),
  // keeping what our jobs hold. REQUIRES: gpu.index is known and on the same node.
  void update_gpu(const GpuState& gpu);

  // A what-if trial (the backfill reservation search): "what fits once these jobs have
  // ended?". trial_release() changes the slots' figures but not the indexes, except on
  // the nodes made exact with sync_node(), so a release costs no index or tree operation;
  // end_trial() puts every slot back as it was at begin_trial(), bit for bit, and leaves
  // the indexes exact. While a trial is open the indexes hold stale entries for the
  // slots of unsynced nodes it released on. A placer may be asked then only when no
  // unsynced node can hold the demand (placer.h: a placer checks each candidate it finds
  // in the indexes with fits(), so a stale entry of a slot that it rejects changes
  // nothing); nothing else may read the indexes, and nothing may commit or release.
  // REQUIRES: no trial is open at begin_trial(); one is at the others.
  void begin_trial();
  void trial_release(const std::vector<int>& slots, const Demand& demand, Bytes bytes_per_gpu);
  void sync_node(int node);
  void end_trial();
  bool in_trial() const { return in_trial_; }

  // Indexes. Nodes ordered by (empty GPUs, node id) (every node that had a healthy GPU),
  // a sorted vector: a node's entry moves at every commit or release that changes its
  // empty GPUs, and a move within a few hundred nodes costs less than a tree's node;
  // partial GPUs (some job, not exclusive, some share left) by (free share, slot); healthy
  // GPUs by (LB_i, utilization, temperature, slot). Only spread reads the load order, so it
  // is built on its first use and kept from then on (the first call is not thread-safe,
  // like the rest of the ledger).
  const std::vector<std::pair<int, int>>& nodes_by_empty() const { return nodes_by_empty_; }
  const std::set<std::pair<double, int>>& partial_by_free_share() const { return partial_; }
  using LoadKey = std::tuple<double, double, double, int>;
  const std::set<LoadKey>& by_load() const;

  // Whether a healthy GPU has share left: a cheap bound for "can anything fit at all".
  // Inline: a scheduling walk asks it at every class it passes.
  bool any_capacity() const { return open_gpus_ > 0; }
  // The smallest r_i over healthy GPUs (1 when there are none).
  double min_r() const { return min_r_; }

 private:
  void unindex(int s) { unindex_as(s, slots_[s]); }
  // Takes slot s out of the indexes as if it held `as` (a trial's stale entries).
  void unindex_as(int s, const GpuSlot& as);
  void reindex(int s);
  static LoadKey load_key(const GpuSlot& slot, int s);
  void add(GpuSlot& slot, const Demand& demand, Bytes bytes);
  void subtract(GpuSlot& slot, const Demand& demand, Bytes bytes);
  void stamp_node(int node);
  void recompute_min_r();
  void touch_node(int node);
  void flush_nodes();

  std::vector<GpuSlot> slots_;
  std::vector<int> slot_by_gpu_index_;  // dense lookup when indexes are small
  std::vector<std::vector<int>> node_slots_;
  std::vector<std::string> node_names_;
  std::vector<int> empty_count_;
  std::vector<std::uint64_t> node_stamp_;
  std::vector<std::pair<int, int>> nodes_by_empty_;  // sorted
  std::vector<char> node_listed_;                    // the node is in nodes_by_empty_
  std::vector<int> node_old_count_;  // its count when first changed since the last flush, or -1
  std::vector<int> dirty_nodes_;     // nodes changed since the last flush
  std::set<std::pair<double, int>> partial_;
  // A slot's tree node between unindex and reindex: a commit or release moves the slot
  // within partial_ without freeing and allocating a node.
  std::vector<std::set<std::pair<double, int>>::node_type> partial_nodes_;
  mutable std::set<LoadKey> by_load_;
  mutable bool load_indexed_ = false;  // by_load_ is built and kept
  int open_gpus_ = 0;
  int largest_node_ = 0;
  // The open trial: each slot it released, as it was at begin_trial(), and whether its
  // node was synced since; trial_at_[s] is the slot's row there, or -1.
  struct TrialSlot {
    int slot;
    bool synced;
    GpuSlot before;
  };
  bool in_trial_ = false;
  std::vector<TrialSlot> trial_slots_;
  std::vector<int> trial_at_;
  double min_r_ = 1.0;  // healthy GPUs not exclusive and with share left
};

// The load weight P_j used in LB_i: the job's priority, but at least 1 so that jobs at
// the default priority 0 still count (the brief's table uses P = 1..4).
double priority_weight(int priority);

}  // namespace fastgpu::sched
