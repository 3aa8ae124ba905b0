#include "fastgpu/api/metrics.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <optional>

namespace fastgpu::api {

namespace {

constexpr double kMiB = 1024.0 * 1024.0;

using Labels = std::vector<std::pair<std::string, std::string>>;

// A GPU's labels, as dcgm-exporter names them where promtool's lint allows it (its
// `modelName` is camelCase, which the lint refuses: `model_name` here).
Labels gpu_labels(const GpuDevice& device, const std::string& hostname) {
  Labels labels{{"gpu", std::to_string(device.index)},
                {"device", "nvidia" + std::to_string(device.index)}};
  if (device.uuid) labels.emplace_back("UUID", *device.uuid);
  if (device.name) labels.emplace_back("model_name", *device.name);
  if (device.pci_bus_id) labels.emplace_back("pci_bus_id", *device.pci_bus_id);
  labels.emplace_back("Hostname", hostname);
  return labels;
}

Labels job_labels(const store::JobRecord& job) {
  return {{"job", std::to_string(job.id.value())},
          {"name", job.spec.name},
          {"user", job.spec.user.empty() ? std::to_string(job.spec.uid) : job.spec.user}};
}

double seconds_between(store::WallTime from, store::WallTime to) {
  return std::max(0.0, std::chrono::duration<double>(to - from).count());
}

class Families {
 public:
  // Adds a sample to the family `name` (made on first use with its help and type).
  void add(const std::string& name, const std::string& help, const std::string& type, Labels labels,
           double value) {
    MetricFamily* family = nullptr;
    for (MetricFamily& known : families_) {
      if (known.name == name) family = &known;
    }
    if (family == nullptr) family = &families_.emplace_back(MetricFamily{name, help, type, {}});
    family->samples.push_back({std::move(labels), value});
  }
  template <typename T>
  void add_if(const std::string& name, const std::string& help, const std::optional<T>& value,
              const Labels& labels, double scale = 1.0) {
    if (value) add(name, help, "gauge", labels, static_cast<double>(*value) / scale);
  }
  std::vector<MetricFamily> take() { return std::move(families_); }

 private:
  std::vector<MetricFamily> families_;
};

void add_gpus(Families& out, const MetricsInput& input) {
  for (const GpuDevice& device : input.reading.devices) {
    const Labels labels = gpu_labels(device, input.hostname);
    out.add_if("DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %).", device.gpu_utilization_percent,
               labels);
    out.add_if("DCGM_FI_DEV_MEM_COPY_UTIL", "Memory utilization (in %).",
               device.memory_utilization_percent, labels);
    out.add_if("DCGM_FI_DEV_FB_FREE", "Framebuffer memory free (in MiB).", device.memory_free_bytes,
               labels, kMiB);
    out.add_if("DCGM_FI_DEV_FB_USED", "Framebuffer memory used (in MiB).", device.memory_used_bytes,
               labels, kMiB);
    out.add_if("DCGM_FI_DEV_FB_RESERVED", "Framebuffer memory reserved (in MiB).",
               device.memory_reserved_bytes, labels, kMiB);
    out.add_if("DCGM_FI_DEV_POWER_USAGE", "Power draw (in W).", device.power_watts, labels);
    out.add_if("DCGM_FI_DEV_POWER_MGMT_LIMIT", "Power management limit (in W).",
               device.power_limit_watts, labels);
    // A counter in dcgm-exporter; typed gauge here, since promtool's lint refuses a counter
    // whose name does not end in _total (rate() reads either).
    out.add_if("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
               "Total energy consumption since the driver loaded (in mJ).",
               device.energy_millijoules, labels);
    out.add_if("DCGM_FI_DEV_GPU_TEMP", "GPU temperature (in C).", device.temperature_celsius,
               labels);
    out.add_if("DCGM_FI_DEV_SM_CLOCK", "SM clock frequency (in MHz).", device.sm_clock_mhz, labels);
    out.add_if("DCGM_FI_DEV_MEM_CLOCK", "Memory clock frequency (in MHz).", device.memory_clock_mhz,
               labels);
  }
  for (const GpuDevice& device : input.reading.devices) {
    out.add("fastgpu_gpu_healthy",
            "1 while FastGPU places jobs on the GPU; 0 when it is unhealthy (lost, uncorrected "
            "ECC errors, ...; `fastgpu status` says why).",
            "gauge", gpu_labels(device, input.hostname), device.health.healthy ? 1.0 : 0.0);
  }
  for (const GpuDevice& device : input.reading.devices) {
    if (!device.processes) continue;
    out.add("fastgpu_gpu_processes", "Compute processes on the GPU, FastGPU's jobs and others.",
            "gauge", gpu_labels(device, input.hostname),
            static_cast<double>(device.processes->size()));
  }
  if (!input.reading.devices.empty()) {
    out.add("fastgpu_gpus_simulated",
            "1 when the daemon's GPUs are simulated (no NVIDIA driver, or --devices); 0 when "
            "they are read through NVML.",
            "gauge", {}, input.reading.source == "simulated" ? 1.0 : 0.0);
  }
}

void add_jobs(Families& out, const MetricsInput& input) {
  constexpr store::JobState kStates[] = {store::JobState::kQueued,    store::JobState::kRunning,
                                         store::JobState::kCompleted, store::JobState::kFailed,
                                         store::JobState::kCancelled, store::JobState::kTimeout,
                                         store::JobState::kPreempted};
  for (store::JobState state : kStates) {
    const auto found = input.jobs_by_state.find(state);
    out.add("fastgpu_jobs", "Jobs of every user in each state.", "gauge",
            {{"state", std::string(store::job_state_name(state))}},
            found == input.jobs_by_state.end() ? 0.0 : static_cast<double>(found->second));
  }
  out.add("fastgpu_jobs_held",
          "Queued jobs that are held (fastgpu hold, submit --hold), of every user: counted in "
          "fastgpu_jobs{state=\"QUEUED\"}, they start only once released.",
          "gauge", {}, static_cast<double>(input.held_jobs));
  // A counter: `rate(fastgpu_jobs_entered_total{state="FAILED"}[1h])` across a purge, which
  // lowers fastgpu_jobs.
  for (store::JobState state : kStates) {
    const auto found = input.entries_by_state.find(state);
    out.add("fastgpu_jobs_entered_total",
            "Times a job of any user entered each state (a submission QUEUED, a start RUNNING, "
            "an end its state), over the state database's life; a purge does not lower it.",
            "counter", {{"state", std::string(store::job_state_name(state))}},
            found == input.entries_by_state.end() ? 0.0 : static_cast<double>(found->second));
  }
  for (const store::JobRecord& job : input.running) {
    const Labels labels = job_labels(job);
    const auto gpus = static_cast<double>(job.placed_gpus.size());
    out.add("fastgpu_job_gpus", "GPUs the running job holds.", "gauge", labels, gpus);
    if (job.start_time) {
      const double run_s = seconds_between(*job.start_time, input.now);
      out.add("fastgpu_job_run_seconds", "How long the running job has run so far.", "gauge",
              labels, run_s);
      out.add("fastgpu_job_wait_seconds", "How long the running job waited in the queue.", "gauge",
              labels, seconds_between(job.spec.submit_time, *job.start_time));
      // With a preempted job's earlier runs, which its record holds already.
      out.add("fastgpu_job_gpu_seconds",
              "GPU-seconds of the running job so far (GPUs x run, earlier runs included).", "gauge",
              labels, job.accounting.gpu_seconds.value_or(0.0) + run_s * gpus);
    }
    // Counted from its start, as run_seconds is: `limit - run < 600` warns of a job about to
    // be stopped, which `fastgpu update --time` can still save.
    if (job.spec.time_limit_s) {
      out.add("fastgpu_job_time_limit_seconds",
              "The running job's time limit, counted from its start (SIGTERM when run_seconds "
              "reaches it; `fastgpu update --time` changes it). No sample: no limit.",
              "gauge", labels, static_cast<double>(*job.spec.time_limit_s));
    }
    out.add_if("fastgpu_job_gpu_memory_declared_bytes",
               "GPU memory per GPU the running job was placed with (its declared bytes, or what "
               "\"auto\" learned).",
               job.placed_bytes_per_gpu, labels);
    // The engine's figures; without them (a job the engine does not meter yet), the peak the
    // store kept. The engine's peak goes on from the store's for a job it adopted.
    const auto used = input.usage.find(job.id);
    engine::RunningUsage usage;
    if (used != input.usage.end()) {
      usage = used->second;
    } else {
      usage.peak_gpu_mem = job.run_peak_gpu_mem;
    }
    out.add_if("fastgpu_job_gpu_memory_peak_bytes",
               "The running job's peak GPU memory per GPU measured so far (NVML per process).",
               usage.peak_gpu_mem, labels);
    out.add_if("fastgpu_job_gpu_utilization_percent",
               "Mean SM utilization of the running job's GPUs over the samples taken so far.",
               usage.mean_util_percent, labels);
    out.add_if("fastgpu_job_energy_joules",
               "Energy of the running job so far, from the GPUs' energy counters up to the last "
               "sample (an estimate: apportioned on shared GPUs by compute share).",
               usage.energy_joules, labels);
  }
}

// A label value as the text format quotes it, without its quotes: \\, \" and \n escaped,
// and bytes that are not UTF-8 made U+FFFD, as the API's JSON does (the format's three
// escapes are JSON's too).
std::string escaped_label(std::string_view value) {
  const std::string quoted =
      Json(std::string(value)).dump(-1, ' ', false, Json::error_handler_t::replace);
  return quoted.substr(1, quoted.size() - 2);
}

std::string number(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);
}

}  // namespace

std::vector<MetricFamily> metric_families(const MetricsInput& input) {
  Families out;
  add_gpus(out, input);
  add_jobs(out, input);
  out.add("fastgpu_daemon_uptime_seconds", "How long the daemon has run.", "gauge", {},
          input.uptime_s);
  return out.take();
}

std::string prometheus_text(const std::vector<MetricFamily>& families) {
  std::string out;
  for (const MetricFamily& family : families) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", family.name, family.help, family.name,
                       family.type);
    for (const MetricSample& sample : family.samples) {
      out += family.name;
      if (!sample.labels.empty()) {
        out += '{';
        for (std::size_t i = 0; i < sample.labels.size(); ++i) {
          if (i > 0) out += ',';
          out += fmt::format("{}=\"{}\"", sample.labels[i].first,
                             escaped_label(sample.labels[i].second));
        }
        out += '}';
      }
      out += ' ' + number(sample.value) + '\n';
    }
  }
  return out;
}

Json metrics_json(const std::vector<MetricFamily>& families) {
  Json out = Json::array();
  for (const MetricFamily& family : families) {
    Json samples = Json::array();
    for (const MetricSample& sample : family.samples) {
      Json labels = Json::object();
      for (const auto& [name, value] : sample.labels) labels[name] = value;
      samples.push_back(Json{{"labels", std::move(labels)}, {"value", sample.value}});
    }
    out.push_back(Json{{"name", family.name},
                       {"help", family.help},
                       {"type", family.type},
                       {"samples", std::move(samples)}});
  }
  return out;
}

}  // namespace fastgpu::api
