#include "engine/accounting.h"

#include <algorithm>
#include <limits>
#include <utility>

namespace fastgpu::engine {

namespace {

constexpr double kForever = std::numeric_limits<double>::infinity();

// The span of a run on the clock: an adopted run from the first reading on, a running one
// on and on.
double begin_of(std::optional<double> started_s) { return started_s.value_or(-kForever); }
double end_of(std::optional<double> ended_s) { return ended_s.value_or(kForever); }

}  // namespace

void UsageMeter::start(JobId job, std::vector<std::uint32_t> gpus, double util_share,
                       std::optional<double> started_s, std::optional<Bytes> peak_so_far) {
  Meter meter;
  meter.gpus = std::move(gpus);
  meter.share = util_share;
  meter.started_s = started_s;
  meter.peak = peak_so_far;
  for (std::uint32_t gpu : meter.gpus) {
    auto last = last_counter_.find(gpu);
    if (!started_s || last == last_counter_.end() || last->second.at_s <= *started_s) continue;
    // Its launch settled after a reading that followed its start: the interval before that
    // reading went to the others (or to nobody) without its part. Rare (a launch settles
    // by the next tick, before that tick's sample); all their figures are estimates.
    meter.energy_estimate = true;
    meter.cover[gpu].from_s = *started_s;
    for (Meter* other : meters_on(gpu)) other->energy_estimate = true;
  }
  meters_[job] = std::move(meter);
}

void UsageMeter::sample(const GpuReading& reading, double at_s, const PidAttribution& attribute) {
  std::map<std::uint32_t, const GpuDevice*> devices;
  for (const GpuDevice& device : reading.devices) {
    devices[device.index] = &device;
    read_counter(device, at_s);
  }
  for (auto& [job, meter] : meters_) {
    add_memory(meter, devices, job, attribute);
    add_utilization(meter, devices);
  }
}

void UsageMeter::add_memory(Meter& meter, const std::map<std::uint32_t, const GpuDevice*>& devices,
                            JobId job, const PidAttribution& attribute) {
  if (!attribute) return;
  for (std::uint32_t gpu : meter.gpus) {
    auto found = devices.find(gpu);
    if (found == devices.end() || !found->second->processes) continue;
    std::optional<Bytes> on_gpu;
    for (const GpuProcess& process : *found->second->processes) {
      if (!process.used_memory_bytes || attribute(process.pid) != job) continue;
      on_gpu = on_gpu.value_or(0) + *process.used_memory_bytes;
    }
    if (!on_gpu || (meter.peak && *meter.peak >= *on_gpu)) continue;
    meter.peak = *on_gpu;
    raised_peaks_.insert(job);
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

// A missing counter keeps the last reading: the next one read spans the gap, so a reading
// that failed once loses nothing. A counter that went backwards (driver reload) leaves the
// interval unmeasured for the jobs that ran in it.
void UsageMeter::read_counter(const GpuDevice& device, double at_s) {
  if (!device.energy_millijoules) return;
  const CounterReading now{at_s, *device.energy_millijoules};
  auto last = last_counter_.find(device.index);
  if (last == last_counter_.end()) {
    last_counter_[device.index] = now;
    return;
  }
  const CounterReading before = last->second;
  if (at_s <= before.at_s) return;  // read at this moment already (a job's end, then a sample)
  last->second = now;
  if (now.millijoules < before.millijoules) {
    for (Meter* meter : meters_on(device.index)) {
      if (begin_of(meter->started_s) < at_s && end_of(meter->ended_s) > before.at_s)
        meter->cover[device.index].gap = true;
    }
    return;
  }
  spread(device.index, before.at_s, at_s,
         static_cast<double>(now.millijoules - before.millijoules) / 1e3);
}

// The interval's joules are spread evenly over its time; each stretch between two starts
// or ends of our jobs on the GPU goes to the jobs running through it, by compute share. A
// stretch with none of our jobs (the GPU idle, or someone else's) is nobody's.
void UsageMeter::spread(std::uint32_t gpu, double from_s, double to_s, double joules) {
  const std::vector<Meter*> on = meters_on(gpu);
  std::vector<double> cuts{from_s, to_s};
  for (const Meter* meter : on) {
    for (double edge : {begin_of(meter->started_s), end_of(meter->ended_s)}) {
      if (edge > from_s && edge < to_s) cuts.push_back(edge);
    }
  }
  std::sort(cuts.begin(), cuts.end());
  const double joules_per_second = joules / (to_s - from_s);
  for (std::size_t i = 0; i + 1 < cuts.size(); ++i) {
    std::vector<Meter*> running;
    double total_share = 0.0;
    for (Meter* meter : on) {
      if (begin_of(meter->started_s) > cuts[i] || end_of(meter->ended_s) < cuts[i + 1]) continue;
      running.push_back(meter);
      total_share += meter->share;
    }
    const double stretch = joules_per_second * (cuts[i + 1] - cuts[i]);
    for (Meter* meter : running) {
      const double part = total_share > 0.0 ? meter->share / total_share
                                            : 1.0 / static_cast<double>(running.size());
      meter->energy_joules = meter->energy_joules.value_or(0.0) + stretch * part;
      if (running.size() > 1) meter->energy_estimate = true;
    }
  }
  for (Meter* meter : on) {
    const double begin = std::max(from_s, begin_of(meter->started_s));
    const double end = std::min(to_s, end_of(meter->ended_s));
    if (end <= begin) continue;
    if (begin > from_s || end < to_s) meter->energy_estimate = true;  // a prorated edge
    GpuCover& cover = meter->cover[gpu];
    cover.from_s = std::min(cover.from_s.value_or(from_s), from_s);
    cover.to_s = std::max(cover.to_s.value_or(to_s), to_s);
  }
}

std::vector<UsageMeter::Meter*> UsageMeter::meters_on(std::uint32_t gpu) {
  std::vector<Meter*> on;
  for (auto& [job, meter] : meters_) {
    if (std::find(meter.gpus.begin(), meter.gpus.end(), gpu) != meter.gpus.end())
      on.push_back(&meter);
  }
  return on;
}

std::optional<Bytes> UsageMeter::peak_bytes(JobId job) const {
  auto found = meters_.find(job);
  if (found == meters_.end()) return std::nullopt;
  return found->second.peak;
}

std::vector<std::pair<JobId, Bytes>> UsageMeter::take_raised_peaks() {
  std::vector<std::pair<JobId, Bytes>> raised;
  for (JobId job : raised_peaks_) {
    auto found = meters_.find(job);
    if (found != meters_.end() && found->second.peak) raised.emplace_back(job, *found->second.peak);
  }
  raised_peaks_.clear();
  return raised;
}

void UsageMeter::keep_raised(std::span<const std::pair<JobId, Bytes>> peaks) {
  for (const auto& [job, peak] : peaks) {
    if (meters_.contains(job)) raised_peaks_.insert(job);
  }
}

std::optional<RunningUsage> UsageMeter::so_far(JobId job) const {
  const auto found = meters_.find(job);
  if (found == meters_.end()) return std::nullopt;
  const Meter& meter = found->second;
  RunningUsage used;
  used.peak_gpu_mem = meter.peak;
  if (meter.util_count > 0) {
    used.mean_util_percent = meter.util_sum / static_cast<double>(meter.util_count);
  }
  // Told only while every GPU's counter was read from the run's start (or its adoption) on,
  // without a gap: otherwise it is a lower bound, which a gauge would show as a drop once
  // the figure is whole.
  const bool whole = std::all_of(meter.gpus.begin(), meter.gpus.end(), [&](std::uint32_t gpu) {
    const auto cover = meter.cover.find(gpu);
    return cover != meter.cover.end() && cover->second.from_s && !cover->second.gap &&
           (!meter.started_s || *cover->second.from_s <= *meter.started_s);
  });
  if (whole) used.energy_joules = meter.energy_joules;
  return used;
}

store::JobAccounting UsageMeter::finish(JobId job, std::size_t gpus, double run_seconds,
                                        double ended_s, const GpuReading& latest,
                                        double latest_at_s) {
  store::JobAccounting accounting;
  accounting.gpu_seconds = static_cast<double>(gpus) * std::max(0.0, run_seconds);
  auto found = meters_.find(job);
  if (found == meters_.end()) return accounting;
  Meter& meter = found->second;
  for (std::uint32_t gpu : meter.gpus) {
    auto last = last_counter_.find(gpu);
    // A sample taken after the run ended but before its end was reported counted it on.
    if (last != last_counter_.end() && last->second.at_s > ended_s) meter.energy_estimate = true;
  }
  // Ended after the latest reading (between the tick's read and its poll): counted up to
  // the reading, a moment short.
  if (ended_s > latest_at_s) {
    ended_s = latest_at_s;
    meter.energy_estimate = true;
  }
  meter.ended_s = ended_s;
  for (const GpuDevice& device : latest.devices) {
    if (std::find(meter.gpus.begin(), meter.gpus.end(), device.index) != meter.gpus.end())
      read_counter(device, latest_at_s);
  }
  accounting.peak_gpu_mem = meter.peak;
  if (meter.util_count > 0) {
    accounting.mean_util_percent = meter.util_sum / static_cast<double>(meter.util_count);
  }
  finish_energy(meter, accounting);
  meters_.erase(found);
  return accounting;
}

// A GPU whose counter readings did not reach across the whole run leaves the sum a lower
// bound; with none measured at all it is unknown ("n/a").
void UsageMeter::finish_energy(const Meter& meter, store::JobAccounting& accounting) {
  std::vector<std::uint32_t> unread;
  for (std::uint32_t gpu : meter.gpus) {
    auto cover = meter.cover.find(gpu);
    const bool whole = cover != meter.cover.end() && cover->second.from_s && cover->second.to_s &&
                       !cover->second.gap &&
                       (!meter.started_s || *cover->second.from_s <= *meter.started_s) &&
                       *cover->second.to_s >= *meter.ended_s;
    if (!whole) unread.push_back(gpu);
  }
  if (unread.empty() || !meter.energy_joules) {
    accounting.energy_joules = unread.empty() ? meter.energy_joules : std::nullopt;
    accounting.energy_is_estimate = meter.energy_estimate && accounting.energy_joules;
    return;
  }
  std::sort(unread.begin(), unread.end());
  unread.erase(std::unique(unread.begin(), unread.end()), unread.end());
  accounting.energy_at_least_joules = meter.energy_joules;
  accounting.energy_unread_gpus = std::move(unread);
  accounting.energy_is_estimate = meter.energy_estimate;
}

}  // namespace fastgpu::engine
