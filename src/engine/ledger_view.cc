// Engine::gpu_ledger: each GPU as the scheduler's ledger holds it now, for `fastgpu status`
// and GET /v1/gpus. Built by the scheduler's own Ledger from the snapshot a tick would
// build of the GPUs and the running jobs, so that what it says is free is what the next
// scheduling pass finds free.

#include <algorithm>
#include <cstddef>
#include <optional>
#include <vector>

#include "engine/engine_impl.h"
#include "engine/running_jobs.h"
#include "engine/snapshot_builder.h"
#include "fastgpu/sched/ledger.h"

namespace fastgpu::engine {

namespace {

// The largest share a job starting now may ask of the slot (Ledger::compute_fits): the
// whole GPU when no job holds it, none when one holds it whole.
double free_share(const sched::GpuSlot& slot) {
  if (!slot.healthy || slot.exclusive_held) return 0.0;
  if (slot.empty()) return sched::kComputeCapacity;
  const std::int64_t left = sched::kUnitsPerShare - slot.share_units;
  if (left <= 0 || slot.r <= 0.0) return 0.0;
  const double share =
      static_cast<double>(left) / static_cast<double>(sched::kUnitsPerShare) / slot.r;
  return std::min(share, sched::kComputeCapacity);
}

}  // namespace

std::vector<GpuLedger> EngineImpl::gpu_ledger() const {
  HistoryCache unused;  // the running jobs' snapshot reads no history
  const TickSources sources{options_, reading_, meter_, options_.clock->now(),
                            queued_,  running_, unused, &moving_};
  // One attribution for the foreign memory and the processes' jobs: each process is looked
  // up in /proc once.
  const PidAttribution attribute = bind_supervisors(running_, options_.attribute_pid);
  const sched::Snapshot snapshot = running_snapshot(sources, attribute);
  const sched::Ledger ledger(snapshot);
  // rows[s] is the ledger's slot s.
  std::vector<GpuLedger> rows;
  for (const sched::GpuSlot& slot : ledger.slots()) {
    GpuLedger row;
    row.index = static_cast<std::uint32_t>(slot.gpu_index);
    row.open = slot.healthy;
    row.usable_bytes = slot.usable_bytes;
    row.declared_bytes = slot.declared_bytes;
    row.free_bytes = slot.healthy ? slot.free_bytes() : 0;
    row.share_used = slot.share;
    row.free_share = free_share(slot);
    rows.push_back(std::move(row));
  }
  const auto row_of = [&](int gpu_index) -> GpuLedger* {
    const int s = ledger.slot_of(gpu_index);
    return s < 0 ? nullptr : &rows[static_cast<std::size_t>(s)];
  };
  for (const sched::GpuState& gpu : snapshot.gpus) {
    GpuLedger* row = row_of(gpu.index);
    if (row == nullptr) continue;
    row->gone = gpu.gone;
    row->foreign_bytes = gpu.foreign_bytes;
  }
  for (const sched::RunningJob& running : snapshot.running) {
    const store::JobRecord& job = running_.jobs().at(running.job.id);
    for (int index : running.gpus) {
      GpuLedger* row = row_of(index);
      if (row == nullptr) continue;
      row->jobs.push_back(GpuHold{
          .job = job.id,
          .uid = job.spec.uid,
          .name = job.spec.name,
          .command = job.spec.argv.empty() ? job.spec.shell_command : job.spec.argv.front(),
          .bytes = running.declared_bytes,
          .share = job.spec.util_share,
      });
    }
  }
  if (!attribute) return rows;
  for (const GpuDevice& device : reading_.devices) {
    GpuLedger* row = row_of(static_cast<int>(device.index));
    if (row == nullptr || !device.processes) continue;
    for (const GpuProcess& process : *device.processes) {
      const std::optional<JobId> job = attribute(process.pid);
      if (!job) continue;
      const auto running = running_.jobs().find(*job);
      if (running == running_.jobs().end()) continue;
      row->processes.push_back({process.pid, *job, running->second.spec.uid});
    }
  }
  return rows;
}

}  // namespace fastgpu::engine
