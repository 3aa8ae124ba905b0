// Learning from past runs: "auto" memory and expected run time per job signature.
//
// Pure functions over SignatureHistory; EstimateCache memoizes them per signature for one
// schedule() call, so 100k queued jobs with a handful of signatures sort each history once.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "fastgpu/core/units.h"
#include "fastgpu/sched/snapshot.h"

namespace fastgpu::sched {

// The `percentile` (0..1, nearest-rank) of the observed peaks times (1 + margin), rounded
// up to a whole MiB. nullopt when there are no observations.
std::optional<Bytes> estimate_auto_bytes(const SignatureHistory& history, double percentile,
                                         double margin);

// The median run time of past successful runs, in seconds; nullopt when there are none.
std::optional<double> estimate_run_seconds(const SignatureHistory& history);

class EstimateCache {
 public:
  EstimateCache(const std::map<std::string, SignatureHistory>& history, double percentile,
                double margin)
      : history_(history), percentile_(percentile), margin_(margin) {}

  std::optional<Bytes> auto_bytes(const std::string& signature) const;
  std::optional<double> run_seconds(const std::string& signature) const;

 private:
  struct Entry {
    std::optional<Bytes> bytes;
    std::optional<double> seconds;
  };
  const Entry& entry(const std::string& signature) const;

  const std::map<std::string, SignatureHistory>& history_;
  double percentile_;
  double margin_;
  mutable std::map<std::string, Entry> cache_;
};

}  // namespace fastgpu::sched
