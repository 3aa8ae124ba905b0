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
  // Selected, not sorted: a replay's histories grow to thousands of runs, and one is read
  // again at every run it gains.
  std::vector<Bytes> peaks = history.peak_bytes;
  // Nearest rank: the smallest observation with at least `percentile` of runs at or below.
  const double rank = std::ceil(percentile * static_cast<double>(peaks.size()));
  const std::size_t index =
      std::min(static_cast<std::size_t>(std::max(1.0, rank)) - 1, peaks.size() - 1);
  const auto at = peaks.begin() + static_cast<std::ptrdiff_t>(index);
  std::nth_element(peaks.begin(), at, peaks.end());
  const double with_margin = static_cast<double>(*at) * (1.0 + margin);
  const Bytes mib = static_cast<Bytes>(std::ceil(with_margin / static_cast<double>(kMiB)));
  return mib * kMiB;
}

std::optional<double> estimate_run_seconds(const SignatureHistory& history) {
  if (history.run_seconds.empty()) return std::nullopt;
  std::vector<double> runs = history.run_seconds;
  const auto mid = runs.begin() + static_cast<std::ptrdiff_t>(runs.size() / 2);
  std::nth_element(runs.begin(), mid, runs.end());
  if (runs.size() % 2 == 1) return *mid;
  return (*std::max_element(runs.begin(), mid) + *mid) / 2.0;  // the two middle runs
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
