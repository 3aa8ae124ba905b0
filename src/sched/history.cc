#include "fastgpu/sched/history.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace fastgpu::sched {

namespace {
constexpr Bytes kMiB = Bytes{1} << 20;
}

std::optional<Bytes> estimate_auto_bytes(const SignatureHistory& history, double percentile,
                                         double margin) {
  if (history.peak_bytes.empty()) return std::nullopt;
  std::vector<Bytes> peaks = history.peak_bytes;
  std::sort(peaks.begin(), peaks.end());
  // Nearest rank: the smallest observation with at least `percentile` of runs at or below.
  const double rank = std::ceil(percentile * static_cast<double>(peaks.size()));
  const std::size_t index = static_cast<std::size_t>(std::max(1.0, rank)) - 1;
  const double with_margin =
      static_cast<double>(peaks[std::min(index, peaks.size() - 1)]) * (1.0 + margin);
  const Bytes mib = static_cast<Bytes>(std::ceil(with_margin / static_cast<double>(kMiB)));
  return mib * kMiB;
}

std::optional<double> estimate_run_seconds(const SignatureHistory& history) {
  if (history.run_seconds.empty()) return std::nullopt;
  std::vector<double> runs = history.run_seconds;
  std::sort(runs.begin(), runs.end());
  const std::size_t mid = runs.size() / 2;
  return runs.size() % 2 == 1 ? runs[mid] : (runs[mid - 1] + runs[mid]) / 2.0;
}

const EstimateCache::Entry& EstimateCache::entry(const std::string& signature) const {
  auto it = cache_.find(signature);
  if (it != cache_.end()) return it->second;
  Entry fresh;
  auto found = history_.find(signature);
  if (found != history_.end()) {
    fresh.bytes = estimate_auto_bytes(found->second, percentile_, margin_);
    fresh.seconds = estimate_run_seconds(found->second);
  }
  return cache_.emplace(signature, fresh).first->second;
}

std::optional<Bytes> EstimateCache::auto_bytes(const std::string& signature) const {
  return entry(signature).bytes;
}

std::optional<double> EstimateCache::run_seconds(const std::string& signature) const {
  return entry(signature).seconds;
}

}  // namespace fastgpu::sched
