// Per-job accounting of running jobs, kept in memory between GPU samples and written to
// the store when the job ends (see docs/engine.md for the definitions).
//
// - peak GPU memory: the largest per-GPU sum of the memory of the job's processes (the
//   attribution names them) over its GPUs and every sample; nullopt if never measured.
// - mean utilization: the mean of the SM utilization of its GPUs over the samples taken
//   while it ran (GPU-samples with no reading are skipped); nullopt if none was read.
// - energy: the energy counter deltas of its GPUs between consecutive samples it ran
//   through. On a GPU shared with other jobs of ours, each gets the share u_j / sum(u) of
//   the delta and the figure is marked an estimate; so it is when another job of ours ran
//   on the GPU for part of an interval (it started or ended within it), whose draw is in the
//   delta. nullopt if no delta could be read.
// - GPU-seconds: GPUs x run time, computed at the end.
// Thread-safety: none; the engine loop owns it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "engine/convert.h"
#include "fastgpu/gpu/probe.h"
#include "fastgpu/store/state_store.h"

namespace fastgpu::engine {

class UsageMeter {
 public:
  // Starts metering a run on these GPUs with compute share `util_share` (u_j). Energy is
  // counted from the first sample interval the job runs through from its start.
  void start(JobId job, std::vector<std::uint32_t> gpus, double util_share);

  // Folds one reading into every metered job. `attribute` may be empty (no peak memory).
  void sample(const GpuReading& reading, const PidAttribution& attribute);

  // The peak per-GPU memory measured so far for a metered job.
  std::optional<Bytes> peak_bytes(JobId job) const;

  // Stops metering and returns the job's accounting for a run of `run_seconds` on `gpus`
  // GPUs. A job that was never metered (e.g. adopted without samples) gets GPU-seconds only.
  store::JobAccounting finish(JobId job, std::size_t gpus, double run_seconds);

 private:
  struct Meter {
    std::vector<std::uint32_t> gpus;
    double share = 1.0;
    bool sampled = false;  // present at the previous sample: its next interval counts
    std::optional<Bytes> peak;
    double util_sum = 0.0;
    std::uint64_t util_count = 0;
    std::optional<double> energy_joules;
    bool energy_shared = false;
  };

  void add_memory(Meter& meter, const std::map<std::uint32_t, const GpuDevice*>& devices, JobId job,
                  const PidAttribution& attribute) const;
  static void add_utilization(Meter& meter,
                              const std::map<std::uint32_t, const GpuDevice*>& devices);
  void add_energy(const std::map<std::uint32_t, const GpuDevice*>& devices);

  std::map<JobId, Meter> meters_;
  std::map<std::uint32_t, std::uint64_t> last_energy_mj_;  // per GPU, at the last sample
  std::set<std::uint32_t> ended_since_sample_;  // GPUs a job ran on that ended since then
};

}  // namespace fastgpu::engine
