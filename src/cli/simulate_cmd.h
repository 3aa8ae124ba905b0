// Pieces of `fastgpu simulate` shared by its source files (simulate_cmd*.cc): the options,
// failures with their exit codes, the progress line, and the two modes beyond a replay:
// charts of replays and FGD's allocation protocol. Not a public API.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cli/chart_file.h"
#include "fastgpu/sched/config.h"
#include "fastgpu/sim/chart.h"
#include "fastgpu/sim/simulator.h"

namespace fastgpu::cli {

struct SimulateOptions {
  std::string trace;
  std::string cluster;
  std::string policies = "fifo";
  std::string strategy = "pack";
  bool backfill = false;
  double time_scale = 1.0;
  double time_limit_factor = 0;
  bool round_time_limits = false;
  std::string vc;
  bool one_cluster = false;
  bool strict = false;
  bool json = false;
  std::string chart;     // --chart FILE.svg|.html; "" = none
  std::string protocol;  // "" (replay) or "fgd"
  std::string seeds = "42";
  double tune = 1.3;
  std::string reference;  // FGD's reference curves CSV; "" = none
  // --config FILE: the scheduler's settings (a daemon's settings file, sched/settings.h) for
  // every run; --policy, --strategy and --backfill given on the command line win over it.
  std::string config;
  bool policy_given = false;                       // --policy was on the command line
  bool strategy_given = false;                     // --strategy was
  std::vector<std::string> protocol_only_given;    // --seeds, --tune, --reference given
  std::vector<std::string> replay_only_given;      // options only a replay reads, given
  std::optional<sched::SchedulerConfig> settings;  // read from `config` by run_simulate
};

std::vector<std::string> split(const std::string& text, char separator);
std::string joined(const std::vector<std::string>& names);

// A progress line on stderr, redrawn in place, only for a person watching a terminal.
class Progress {
 public:
  explicit Progress(bool enabled) : enabled_(enabled) {}
  std::function<void(std::size_t, std::size_t)> reporter(const std::string& label) const;
  void done() const;

 private:
  bool enabled_;
};

// One policy's replay on one cluster.
struct Run {
  std::string policy;  // as the user named it
  sim::SimResult result;
  double wall_s = 0;
  const sim::Trace* trace = nullptr;  // the cluster's jobs (not owned), for the ids it names
};

// The replay charts: JCT CDF per run, and GPU utilization over time per run.
std::vector<sim::LineChart> replay_charts(const std::vector<Run>& runs);

// Reading the inputs; on failure `failure` says what to print and the exit code.
bool known_prefix(const std::string& spec, const std::vector<std::string>& formats);
Result<sim::Trace> load_trace(const SimulateOptions& options, std::optional<Failure>& failure);
Result<std::vector<sim::ClusterSpec>> load_clusters(const SimulateOptions& options,
                                                    std::optional<Failure>& failure);

// "42-51", "42,45" or "42" → seeds; an error names the bad part.
Result<std::vector<std::uint64_t>> parse_seeds(const std::string& text);

// `fastgpu simulate --protocol fgd ...` (simulate_cmd_protocol.cc).
std::optional<Failure> run_protocol(const SimulateOptions& options);

}  // namespace fastgpu::cli
