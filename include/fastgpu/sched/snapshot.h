// The scheduler's whole input: the devices, the queue, what runs, what ended, the history
// and the time. A Snapshot is plain data; the caller builds it and owns it.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fastgpu/core/units.h"
#include "fastgpu/sched/job.h"

namespace fastgpu::sched {

// One GPU as the probe and the ledger see it.
struct GpuState {
  int index = 0;     // unique over the snapshot; decisions name GPUs by this index
  std::string node;  // host name; a multi-GPU job runs within one node
  Bytes total_bytes = 0;
  Bytes reserved_bytes = 0;  // held by the driver, never available to jobs
  Bytes foreign_bytes = 0;   // held by processes FastGPU does not own
  // r_i in DESIGN.md section 6: a job with share u occupies u * r_i of this GPU's compute.
  double util_cap = 1.0;
  bool healthy = true;  // an unhealthy GPU gets nothing new (it is drained)
  // No longer among the machine's GPUs (a daemon restarted with fewer), kept unhealthy only
  // for the running jobs still placed on it; said so where it counts, not "unhealthy".
  bool gone = false;

  // Measurements; every one may be missing ("not supported" is not 0).
  std::optional<Bytes> used_bytes;    // measured memory in use, all processes
  std::optional<double> utilization;  // SM utilization, 0..1
  std::optional<double> temperature_c;
  std::optional<double> power_w;

  // Topology; -1 means unknown. GPUs with the same NVLink group talk over NVLink, GPUs
  // with the same PCIe switch over one switch.
  int nvlink_group = -1;
  int pcie_switch = -1;

  bool operator==(const GpuState&) const = default;
};

// A job that runs now, where it runs, and what the ledger holds for it.
struct RunningJob {
  Job job;
  std::vector<int> gpus;            // GpuState::index values
  Bytes declared_bytes = 0;         // per GPU, as placed (auto already resolved)
  double start_time_s = 0.0;        // start of the current run
  std::optional<Bytes> used_bytes;  // measured peak per GPU in this run, when known
};

enum class EndState { kSucceeded, kFailed, kCancelled };

// A job that ended; dependencies and the fair policy read these.
struct FinishedJob {
  JobId id;
  EndState state = EndState::kSucceeded;
  std::string user;
  double gpu_seconds = 0.0;  // GPUs times run time
  double end_time_s = 0.0;
};

// Observations for one job signature, oldest first.
struct SignatureHistory {
  std::vector<Bytes> peak_bytes;    // peak GPU memory per GPU of each past run
  std::vector<double> run_seconds;  // run time of each past successful run
};

struct Snapshot {
  double now_s = 0.0;
  std::vector<GpuState> gpus;
  std::vector<Job> queue;  // waiting jobs, in any order
  std::vector<RunningJob> running;
  std::vector<FinishedJob> finished;
  std::map<std::string, SignatureHistory> history;  // by Job::signature
};

}  // namespace fastgpu::sched
