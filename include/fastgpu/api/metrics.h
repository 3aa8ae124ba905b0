// Prometheus metrics (GET /v1/metrics, `fastgpu metrics`; docs/metrics.md): the GPUs under
// the names dcgm-exporter made standard (DCGM_FI_DEV_*), and FastGPU's jobs as fastgpu_*
// series. Pure: the caller reads the GPUs, the store and the clock.
//
// A field the probe could not read has no sample (never 0), as everywhere in FastGPU.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "fastgpu/api/job_json.h"
#include "fastgpu/engine/engine.h"
#include "fastgpu/gpu/probe.h"
#include "fastgpu/store/state_store.h"

namespace fastgpu::api {

struct MetricSample {
  std::vector<std::pair<std::string, std::string>> labels;  // name, value (any bytes)
  double value = 0.0;
};

struct MetricFamily {
  std::string name;
  std::string help;
  std::string type;  // "gauge" or "counter"
  std::vector<MetricSample> samples;
};

struct MetricsInput {
  GpuReading reading;    // the daemon's last reading of its GPUs (source: simulated or not)
  std::string hostname;  // the Hostname label of every GPU series
  // Every user's jobs in each state (a state missing counts 0).
  std::map<store::JobState, std::uint64_t> jobs_by_state;
  // How many times a job of any user entered each state (StateStore::count_state_entries).
  std::map<store::JobState, std::uint64_t> entries_by_state;
  // How many of the queued jobs are held (Engine::held_jobs).
  std::uint64_t held_jobs = 0;
  // The running jobs the caller may see (root: all), each a set of fastgpu_job_* series.
  // REQUIRES: every one RUNNING.
  std::vector<store::JobRecord> running;
  // What the engine measured of them so far (a job missing: nothing yet).
  std::map<JobId, engine::RunningUsage> usage;
  store::WallTime now{};
  double uptime_s = 0.0;
};

// The families with at least one sample, in a fixed order.
std::vector<MetricFamily> metric_families(const MetricsInput& input);

// The Prometheus text exposition format (version 0.0.4): HELP and TYPE once per family,
// label values escaped (\\, \", \n) and made valid UTF-8.
std::string prometheus_text(const std::vector<MetricFamily>& families);

// The same as JSON: [{"name", "help", "type", "samples": [{"labels": {...}, "value"}]}].
Json metrics_json(const std::vector<MetricFamily>& families);

}  // namespace fastgpu::api
