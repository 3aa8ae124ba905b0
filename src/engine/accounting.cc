#include "engine/accounting.h"

#include <algorithm>
#include <utility>

namespace fastgpu::engine {

void UsageMeter::start(JobId job, std::vector<std::uint32_t> gpus, double util_share) {
  Meter meter;
  meter.gpus = std::move(gpus);
  meter.share = util_share;
  meters_[job] = std::move(meter);
}

void UsageMeter::sample(const GpuReading& reading, const PidAttribution& attribute) {
  std::map<std::uint32_t, const GpuDevice*> devices;
  for (const GpuDevice& device : reading.devices) devices[device.index] = &device;
  add_energy(devices);
  for (auto& [job, meter] : meters_) {
    add_memory(meter, devices, job, attribute);
    add_utilization(meter, devices);
    meter.sampled = true;
  }
  ended_since_sample_.clear();
  last_energy_mj_.clear();
  for (const auto& [index, device] : devices) {
    if (device->energy_millijoules) last_energy_mj_[index] = *device->energy_millijoules;
  }
}

void UsageMeter::add_memory(Meter& meter, const std::map<std::uint32_t, const GpuDevice*>& devices,
                            JobId job, const PidAttribution& attribute) const {
  if (!attribute) return;
  for (std::uint32_t gpu : meter.gpus) {
    auto found = devices.find(gpu);
    if (found == devices.end() || !found->second->processes) continue;
    std::optional<Bytes> on_gpu;
    for (const GpuProcess& process : *found->second->processes) {
      if (!process.used_memory_bytes || attribute(process.pid) != job) continue;
      on_gpu = on_gpu.value_or(0) + *process.used_memory_bytes;
    }
    if (on_gpu) meter.peak = std::max(meter.peak.value_or(0), *on_gpu);
  }
}

void UsageMeter::add_utilization(Meter& meter,
                                 const std::map<std::uint32_t, const GpuDevice*>& devices) {
  for (std::uint32_t gpu : meter.gpus) {
    auto found = devices.find(gpu);
    if (found == devices.end() || !found->second->gpu_utilization_percent) continue;
    meter.util_sum += *found->second->gpu_utilization_percent;
    ++meter.util_count;
  }
}

// Each GPU's counter delta since the last sample goes to the jobs that ran through the
// whole interval, split by their compute shares. A counter that went backwards (driver
// reload) or is missing at either end gives no delta. A job that started or ended within
// the interval gets none of it, but it drew some: the others' figures are then estimates.
void UsageMeter::add_energy(const std::map<std::uint32_t, const GpuDevice*>& devices) {
  for (const auto& [index, device] : devices) {
    auto last = last_energy_mj_.find(index);
    if (last == last_energy_mj_.end() || !device->energy_millijoules ||
        *device->energy_millijoules < last->second) {
      continue;
    }
    const double joules = static_cast<double>(*device->energy_millijoules - last->second) / 1e3;
    std::vector<Meter*> sharing;
    double total_share = 0.0;
    bool part_time_company = ended_since_sample_.count(index) > 0;
    for (auto& [job, meter] : meters_) {
      if (std::find(meter.gpus.begin(), meter.gpus.end(), index) == meter.gpus.end()) continue;
      if (!meter.sampled) {
        part_time_company = true;
        continue;
      }
      sharing.push_back(&meter);
      total_share += meter.share;
    }
    for (Meter* meter : sharing) {
      meter->energy_joules =
          meter->energy_joules.value_or(0.0) + joules * meter->share / total_share;
      if (sharing.size() > 1 || part_time_company) meter->energy_shared = true;
    }
  }
}

std::optional<Bytes> UsageMeter::peak_bytes(JobId job) const {
  auto found = meters_.find(job);
  if (found == meters_.end()) return std::nullopt;
  return found->second.peak;
}

store::JobAccounting UsageMeter::finish(JobId job, std::size_t gpus, double run_seconds) {
  store::JobAccounting accounting;
  accounting.gpu_seconds = static_cast<double>(gpus) * std::max(0.0, run_seconds);
  auto found = meters_.find(job);
  if (found == meters_.end()) return accounting;
  const Meter& meter = found->second;
  ended_since_sample_.insert(meter.gpus.begin(), meter.gpus.end());
  accounting.peak_gpu_mem = meter.peak;
  if (meter.util_count > 0) {
    accounting.mean_util_percent = meter.util_sum / static_cast<double>(meter.util_count);
  }
  accounting.energy_joules = meter.energy_joules;
  accounting.energy_is_estimate = meter.energy_shared;
  meters_.erase(found);
  return accounting;
}

}  // namespace fastgpu::engine
