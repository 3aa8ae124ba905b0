#include "fastgpu/sched/ledger.h"

#include <algorithm>
#include <atomic>
#include <cmath>

namespace fastgpu::sched {

double priority_weight(int priority) { return priority < 1 ? 1.0 : static_cast<double>(priority); }

namespace {

Bytes usable_bytes(const GpuState& gpu) {
  const Bytes held = gpu.reserved_bytes + gpu.foreign_bytes;
  return held >= gpu.total_bytes ? 0 : gpu.total_bytes - held;
}

Demand running_demand(const RunningJob& running) {
  Demand demand;
  demand.gpus = static_cast<int>(running.gpus.size());
  demand.bytes = running.declared_bytes;
  demand.share = running.job.util_share;
  demand.load = running.job.util_share * priority_weight(running.job.priority);
  return demand;
}

}  // namespace

Ledger::Ledger(const Snapshot& snapshot) {
  std::vector<const GpuState*> gpus;
  for (const GpuState& gpu : snapshot.gpus) gpus.push_back(&gpu);
  std::sort(gpus.begin(), gpus.end(),
            [](const GpuState* a, const GpuState* b) { return a->index < b->index; });
  for (const GpuState* gpu : gpus) node_names_.push_back(gpu->node);
  std::sort(node_names_.begin(), node_names_.end());
  node_names_.erase(std::unique(node_names_.begin(), node_names_.end()), node_names_.end());
  node_slots_.resize(node_names_.size());
  empty_count_.assign(node_names_.size(), 0);
  node_listed_.assign(node_names_.size(), 0);
  node_old_count_.assign(node_names_.size(), -1);
  node_stamp_.assign(node_names_.size(), 0);
  for (int node = 0; node < node_count(); ++node) stamp_node(node);

  for (const GpuState* gpu : gpus) {
    GpuSlot slot;
    slot.gpu_index = gpu->index;
    slot.node = static_cast<int>(
        std::lower_bound(node_names_.begin(), node_names_.end(), gpu->node) - node_names_.begin());
    slot.usable_bytes = usable_bytes(*gpu);
    slot.r = gpu->util_cap;
    slot.healthy = gpu->healthy;
    slot.utilization = gpu->utilization.value_or(0.0);
    slot.temperature_c = gpu->temperature_c.value_or(0.0);
    slot.nvlink_group = gpu->nvlink_group;
    slot.pcie_switch = gpu->pcie_switch;
    node_slots_[slot.node].push_back(static_cast<int>(slots_.size()));
    slots_.push_back(slot);
  }
  recompute_min_r();
  partial_nodes_.resize(slots_.size());
  trial_at_.assign(slots_.size(), -1);
  for (const std::vector<int>& node : node_slots_) {
    largest_node_ = std::max(largest_node_, static_cast<int>(node.size()));
  }
  for (const RunningJob& running : snapshot.running) {
    const Demand demand = running_demand(running);
    for (int gpu_index : running.gpus) {
      const int s = slot_of(gpu_index);
      if (s >= 0) add(slots_[s], demand, running.declared_bytes);
    }
  }
  for (int s = 0; s < static_cast<int>(slots_.size()); ++s) reindex(s);
  flush_nodes();
}

void Ledger::recompute_min_r() {
  min_r_ = 1.0;
  for (const GpuSlot& slot : slots_) {
    if (slot.healthy) min_r_ = std::min(min_r_, slot.r);
  }
}

void Ledger::stamp_node(int node) {
  // Unique across ledgers, which may live on several threads (a daemon's and a replay's).
  static std::atomic<std::uint64_t> last{0};
  node_stamp_[static_cast<std::size_t>(node)] = last.fetch_add(1, std::memory_order_relaxed) + 1;
}

void Ledger::add(GpuSlot& slot, const Demand& demand, Bytes bytes) {
  stamp_node(slot.node);
  slot.declared_bytes += bytes;
  slot.share_units += to_units(demand.share * slot.r);
  slot.load_units += to_units(demand.load);
  slot.share = static_cast<double>(slot.share_units) / static_cast<double>(kUnitsPerShare);
  slot.load = static_cast<double>(slot.load_units) / static_cast<double>(kUnitsPerShare);
  slot.jobs += 1;
  slot.exclusive_held = slot.exclusive_held || demand.exclusive();
}

void Ledger::update_gpu(const GpuState& gpu) {
  const int s = slot_of(gpu.index);
  if (s < 0) return;
  unindex(s);
  GpuSlot& slot = slots_[s];
  stamp_node(slot.node);
  const bool health_changed = slot.healthy != gpu.healthy;
  slot.usable_bytes = usable_bytes(gpu);
  slot.healthy = gpu.healthy;
  slot.utilization = gpu.utilization.value_or(0.0);
  slot.temperature_c = gpu.temperature_c.value_or(0.0);
  slot.nvlink_group = gpu.nvlink_group;
  slot.pcie_switch = gpu.pcie_switch;
  const bool r_changed = slot.r != gpu.util_cap;
  slot.r = gpu.util_cap;
  reindex(s);
  flush_nodes();
  if (r_changed || health_changed) recompute_min_r();
}

int Ledger::slot_of(int gpu_index) const {
  auto it = std::lower_bound(slots_.begin(), slots_.end(), gpu_index,
                             [](const GpuSlot& slot, int index) { return slot.gpu_index < index; });
  if (it == slots_.end() || it->gpu_index != gpu_index) return -1;
  return static_cast<int>(it - slots_.begin());
}

Bytes Ledger::bytes_on(int s, const Demand& demand) const {
  return demand.whole_memory ? slots_[s].usable_bytes : demand.bytes;
}

bool Ledger::fits(int s, const Demand& demand) const {
  return slots_[s].healthy && compute_fits(s, demand) && memory_fits(s, demand);
}

void Ledger::commit(const std::vector<int>& slot_ids, const Demand& demand) {
  for (int s : slot_ids) {
    unindex(s);
    add(slots_[s], demand, bytes_on(s, demand));
    reindex(s);
  }
  flush_nodes();
}

void Ledger::subtract(GpuSlot& slot, const Demand& demand, Bytes bytes) {
  stamp_node(slot.node);
  slot.declared_bytes -= std::min(slot.declared_bytes, bytes);
  slot.share_units = std::max<std::int64_t>(0, slot.share_units - to_units(demand.share * slot.r));
  slot.load_units = std::max<std::int64_t>(0, slot.load_units - to_units(demand.load));
  slot.share = static_cast<double>(slot.share_units) / static_cast<double>(kUnitsPerShare);
  slot.load = static_cast<double>(slot.load_units) / static_cast<double>(kUnitsPerShare);
  slot.jobs -= 1;
  if (demand.exclusive()) slot.exclusive_held = false;
}

void Ledger::release(const std::vector<int>& slot_ids, const Demand& demand, Bytes bytes_per_gpu) {
  for (int s : slot_ids) {
    unindex(s);
    subtract(slots_[s], demand, bytes_per_gpu);
    reindex(s);
  }
  flush_nodes();
}

// ---- Trials

void Ledger::begin_trial() { in_trial_ = true; }

void Ledger::trial_release(const std::vector<int>& slot_ids, const Demand& demand,
                           Bytes bytes_per_gpu) {
  bool moved = false;
  for (int s : slot_ids) {
    int& at = trial_at_[static_cast<std::size_t>(s)];
    if (at < 0) {
      at = static_cast<int>(trial_slots_.size());
      trial_slots_.push_back({s, false, slots_[s]});
    }
    // A synced slot's entries are exact and must stay so; the others wait for a sync.
    const bool synced = trial_slots_[static_cast<std::size_t>(at)].synced;
    if (synced) unindex(s);
    subtract(slots_[s], demand, bytes_per_gpu);
    if (synced) reindex(s);
    moved = moved || synced;
  }
  if (moved) flush_nodes();
}

void Ledger::sync_node(int node) {
  bool moved = false;
  for (int s : node_slots_[node]) {
    const int at = trial_at_[static_cast<std::size_t>(s)];
    if (at < 0) continue;
    TrialSlot& row = trial_slots_[static_cast<std::size_t>(at)];
    if (row.synced) continue;
    row.synced = true;
    unindex_as(s, row.before);
    reindex(s);
    moved = true;
  }
  if (moved) flush_nodes();
}

void Ledger::end_trial() {
  for (const TrialSlot& row : trial_slots_) {
    // An unsynced slot's entries are still those of `before`.
    if (row.synced) unindex(row.slot);
    slots_[row.slot] = row.before;
    stamp_node(row.before.node);
    if (row.synced) reindex(row.slot);
    trial_at_[static_cast<std::size_t>(row.slot)] = -1;
  }
  trial_slots_.clear();
  flush_nodes();
  in_trial_ = false;
}

Ledger::LoadKey Ledger::load_key(const GpuSlot& slot, int s) {
  return {slot.load, slot.utilization, slot.temperature_c, s};
}

// A node's entry in nodes_by_empty_ moves only when its count of empty GPUs changed, and
// once per commit or release however many of its GPUs that touched (a gang's release
// empties several GPUs of one node); a node enters the index with its first healthy GPU
// and stays. unindex/reindex note the count before the first change; flush_nodes()
// moves the entries.
void Ledger::touch_node(int node) {
  if (node_old_count_[node] >= 0) return;
  node_old_count_[node] = empty_count_[node];
  dirty_nodes_.push_back(node);
}

void Ledger::flush_nodes() {
  for (int node : dirty_nodes_) {
    const int old = node_old_count_[node];
    node_old_count_[node] = -1;
    if (node_listed_[node] != 0) {
      if (old == empty_count_[node]) continue;
      nodes_by_empty_.erase(std::lower_bound(nodes_by_empty_.begin(), nodes_by_empty_.end(),
                                             std::pair<int, int>{old, node}));
    }
    const std::pair<int, int> entry{empty_count_[node], node};
    nodes_by_empty_.insert(std::lower_bound(nodes_by_empty_.begin(), nodes_by_empty_.end(), entry),
                           entry);
    node_listed_[node] = 1;
  }
  dirty_nodes_.clear();
}

const std::set<Ledger::LoadKey>& Ledger::by_load() const {
  if (!load_indexed_) {
    for (int s = 0; s < static_cast<int>(slots_.size()); ++s) {
      // Built within a trial, the entries of unsynced slots must be stale like the others.
      const int at = trial_at_[static_cast<std::size_t>(s)];
      const bool stale = at >= 0 && !trial_slots_[static_cast<std::size_t>(at)].synced;
      const GpuSlot& slot = stale ? trial_slots_[static_cast<std::size_t>(at)].before : slots_[s];
      if (slot.healthy) by_load_.insert(load_key(slot, s));
    }
    load_indexed_ = true;
  }
  return by_load_;
}

void Ledger::unindex_as(int s, const GpuSlot& slot) {
  if (!slot.healthy) return;
  if (slot.empty() || node_listed_[slot.node] == 0) touch_node(slot.node);
  if (slot.empty()) empty_count_[slot.node] -= 1;
  const bool open = !slot.exclusive_held && slot.share_units < kUnitsPerShare;
  if (open && !slot.empty()) {
    partial_nodes_[static_cast<std::size_t>(s)] = partial_.extract({slot.free_share(), s});
  }
  if (load_indexed_) by_load_.erase(load_key(slot, s));
  if (open) open_gpus_ -= 1;
}

void Ledger::reindex(int s) {
  const GpuSlot& slot = slots_[s];
  if (!slot.healthy) return;
  if (slot.empty() || node_listed_[slot.node] == 0) touch_node(slot.node);
  if (slot.empty()) empty_count_[slot.node] += 1;
  const bool open = !slot.exclusive_held && slot.share_units < kUnitsPerShare;
  if (open && !slot.empty()) {
    auto& node = partial_nodes_[static_cast<std::size_t>(s)];
    if (node.empty()) {
      partial_.insert({slot.free_share(), s});
    } else {
      node.value() = {slot.free_share(), s};
      partial_.insert(std::move(node));
    }
  }
  if (load_indexed_) by_load_.insert(load_key(slot, s));
  if (open) open_gpus_ += 1;
}

}  // namespace fastgpu::sched
