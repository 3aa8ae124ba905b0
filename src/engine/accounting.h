// Per-job accounting of running jobs, kept in memory between GPU samples and written to
// the store when the job ends (see docs/engine.md for the definitions).
//
// - peak GPU memory: the largest per-GPU sum of the memory of the job's processes (the
//   attribution names them) over its GPUs and every sample; nullopt if never measured.
// - mean utilization: the mean of the SM utilization of its GPUs over the samples taken
//   while it ran (GPU-samples with no reading are skipped); nullopt if none was read.
// - energy: each GPU's energy counter is read at every sample and at every end of a job on
//   it; the difference between two readings is spread evenly over the time between them,
//   and each moment's part goes to the jobs of ours running then, split by their compute
//   shares u_j / sum(u). A job thus gets the part of the interval it started in from its
//   start on, and of the interval it ended in up to its end (prorated edges), and the whole
//   of the intervals it ran through. The figure is marked an estimate when any part of it
//   was prorated or shared. A GPU whose counter was not read across the job's whole run
//   (unsupported, an error, reset by a driver reload) is listed as unread: the energy is
//   then only a lower bound (energy_at_least_joules, see store::JobAccounting).
// - GPU-seconds: GPUs x run time, computed at the end.
// Times are seconds since the Unix epoch (to_seconds), the engine's and the launcher's
// clock. Thread-safety: none; the engine loop owns it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <utility>
#include <vector>

#include "engine/convert.h"
#include "fastgpu/engine/engine.h"
#include "fastgpu/gpu/probe.h"
#include "fastgpu/store/state_store.h"

namespace fastgpu::engine {

class UsageMeter {
 public:
  // Starts metering a run on these GPUs with compute share `util_share` (u_j), which began
  // at `started_s`. A run adopted after a restart passes nullopt: its energy is counted
  // from the first reading of each GPU on (what ran before the restart is not known), and
  // its peak goes on from `peak_so_far`, the peak its store record kept.
  void start(JobId job, std::vector<std::uint32_t> gpus, double util_share,
             std::optional<double> started_s, std::optional<Bytes> peak_so_far = std::nullopt);

  // Folds one reading, taken at `at_s`, into every metered job. `attribute` may be empty
  // (no peak memory).
  void sample(const GpuReading& reading, double at_s, const PidAttribution& attribute);

  // The peak per-GPU memory measured so far for a metered job.
  std::optional<Bytes> peak_bytes(JobId job) const;

  // What a metered job has used up to the last sample (RunningUsage says what each figure
  // is); nullopt for a job not metered.
  std::optional<RunningUsage> so_far(JobId job) const;

  // The jobs whose peak rose since the last call, with their peaks now: for the store, so
  // that a restarted daemon goes on from them.
  std::vector<std::pair<JobId, Bytes>> take_raised_peaks();

  // Gives `peaks` (taken, and not stored: the write failed) to the next take_raised_peaks()
  // again, with what those jobs' peaks are by then; a job no longer metered is left out.
  void keep_raised(std::span<const std::pair<JobId, Bytes>> peaks);

  // Stops metering and returns the job's accounting for a run of `run_seconds` on `gpus`
  // GPUs that ended at `ended_s`. `latest`, read at `latest_at_s` (at or after the end),
  // closes the interval the run ended in on its GPUs. A job that was never metered gets
  // GPU-seconds only.
  store::JobAccounting finish(JobId job, std::size_t gpus, double run_seconds, double ended_s,
                              const GpuReading& latest, double latest_at_s);

 private:
  // What a job's energy on one of its GPUs covered.
  struct GpuCover {
    std::optional<double> from_s, to_s;  // the measured intervals that overlapped the run
    bool gap = false;                    // an interval in between was not measured (reset)
  };
  struct Meter {
    std::vector<std::uint32_t> gpus;
    double share = 1.0;
    std::optional<double> started_s;  // nullopt: adopted
    std::optional<double> ended_s;    // set while finishing
    std::optional<Bytes> peak;
    double util_sum = 0.0;
    std::uint64_t util_count = 0;
    std::optional<double> energy_joules;
    bool energy_estimate = false;
    std::map<std::uint32_t, GpuCover> cover;
  };
  struct CounterReading {
    double at_s = 0.0;
    std::uint64_t millijoules = 0;
  };

  void add_memory(Meter& meter, const std::map<std::uint32_t, const GpuDevice*>& devices, JobId job,
                  const PidAttribution& attribute);
  static void add_utilization(Meter& meter,
                              const std::map<std::uint32_t, const GpuDevice*>& devices);
  void read_counter(const GpuDevice& device, double at_s);
  void spread(std::uint32_t gpu, double from_s, double to_s, double joules);
  std::vector<Meter*> meters_on(std::uint32_t gpu);
  static void finish_energy(const Meter& meter, store::JobAccounting& accounting);

  std::map<JobId, Meter> meters_;
  std::map<std::uint32_t, CounterReading> last_counter_;  // per GPU, the last one read
  std::set<JobId> raised_peaks_;                          // since take_raised_peaks()
};

}  // namespace fastgpu::engine
