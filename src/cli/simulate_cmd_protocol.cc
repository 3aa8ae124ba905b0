// `fastgpu simulate --protocol fgd`: FGD's allocation experiment on the openb trace, per
// strategy and seed, as a table, JSON and a chart beside FGD's published curves.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/display_width.h"
#include "cli/simulate_cmd.h"
#include "fastgpu/sim/fgd_protocol.h"

namespace fastgpu::cli {
namespace {

using Json = nlohmann::ordered_json;
using Curve = std::vector<std::optional<double>>;

// Points the tables show: allocation ratio when the arrived request is 100 % and 130 %.
constexpr std::size_t kAt100 = 100;
constexpr std::size_t kAt130 = 130;

struct StrategyRuns {
  std::string strategy;
  std::vector<sim::ProtocolRun> runs;  // one per seed
  Curve mean;
};

struct Reference {
  std::string policy;  // "05-BestFit"
  std::size_t seeds = 0;
  Curve mean;
};

// "openb:../x/openb_pod_list_default.csv" -> "openb_pod_list_default", FGD's workload name.
std::string workload_name(const std::string& trace_spec) {
  std::string name = trace_spec.substr(trace_spec.find_last_of("/:") + 1);
  for (const char* suffix : {".gz", ".csv"}) {
    const std::string end(suffix);
    if (name.size() > end.size() && name.compare(name.size() - end.size(), end.size(), end) == 0)
      name.resize(name.size() - end.size());
  }
  return name;
}

std::optional<Failure> check_protocol_options(const SimulateOptions& options,
                                              const std::vector<std::string>& strategies) {
  // The experiment places each task once and runs nothing: it would go on without them,
  // and its results would read as if they applied.
  if (!options.replay_only_given.empty()) {
    return Failure{kExitUsage, options.replay_only_given.front() +
                                   " applies only to a replay; FGD's experiment places each task "
                                   "once and runs nothing: leave it out, or leave out "
                                   "--protocol fgd"};
  }
  if (strategies.empty()) {
    return Failure{kExitUsage, "--strategy: give at least one, e.g. bestfit,fgd,pack"};
  }
  for (const std::string& name : strategies) {
    const auto& known = sim::protocol_strategy_names();
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      return Failure{kExitUsage,
                     "--strategy '" + name + "': with --protocol fgd use one of " + joined(known)};
    }
  }
  if (!(options.tune > 0) || options.tune > 100) {
    return Failure{kExitUsage, fmt::format("--tune {}: use a multiple of the GPU capacity above 0 "
                                           "(FGD uses 1.3)",
                                           options.tune)};
  }
  return check_chart_path(options.chart);
}

Result<std::vector<Reference>> load_references(const SimulateOptions& options) {
  std::vector<Reference> out;
  if (options.reference.empty()) return out;
  Result<std::vector<sim::ReferenceCurve>> curves = sim::read_reference_curves(options.reference);
  if (!curves.ok()) return curves.status().with_context("--reference");
  const std::string workload = workload_name(options.trace);
  std::map<std::string, std::vector<Curve>> by_policy;
  for (const sim::ReferenceCurve& curve : *curves) {
    if (curve.workload == workload) by_policy[curve.policy].push_back(curve.curve);
  }
  for (const auto& [policy, policy_curves] : by_policy) {
    out.push_back({policy, policy_curves.size(), sim::mean_curve(policy_curves)});
  }
  return out;
}

std::string point(const Curve& curve, std::size_t k) {
  return k < curve.size() && curve[k] ? fmt::format("{:.2f}", *curve[k]) : "-";
}

Json curve_json(const Curve& curve) {
  Json values = Json::array();
  for (const auto& value : curve) values.push_back(value ? Json(*value) : Json(nullptr));
  return values;
}

void print_table(const SimulateOptions& options, const sim::Trace& trace,
                 const std::vector<StrategyRuns>& results, const std::vector<Reference>& refs) {
  std::vector<std::vector<std::string>> rows = {{"strategy", "seed", "tasks", "failed",
                                                 "alloc@100 %", "alloc@130 %", "final alloc %",
                                                 "frag % of idle"}};
  for (const StrategyRuns& result : results) {
    for (const sim::ProtocolRun& run : result.runs) {
      rows.push_back({run.strategy, std::to_string(run.seed), std::to_string(run.tasks),
                      std::to_string(run.failed), point(run.curve, kAt100),
                      point(run.curve, kAt130),
                      fmt::format("{:.2f}", 100.0 * static_cast<double>(run.allocated_milli) /
                                                (run.total_gpus * 1000.0)),
                      fmt::format("{:.1f}", 100.0 * run.fragmentation_ratio)});
    }
    rows.push_back({result.strategy, "mean", "", "", point(result.mean, kAt100),
                    point(result.mean, kAt130), "", ""});
  }
  for (const Reference& ref : refs) {
    rows.push_back({"FGD paper: " + ref.policy, fmt::format("mean of {}", ref.seeds), "", "",
                    point(ref.mean, kAt100), point(ref.mean, kAt130), "", ""});
  }
  std::string text =
      fmt::format("Trace {}: {}\nFGD protocol: tune {}, workload {}\n\n", trace.name,
                  trace.report.summary(), options.tune, workload_name(options.trace));
  text += aligned_columns(rows, 2);  // strategy and seed left-aligned
  text +=
      "\nalloc@k = GPU allocation ratio when the arrived GPU request is k % of capacity; frag = "
      "FGD's expected unusable GPU for the trace's task mix, at the end (docs/simulator.md).\n";
  std::fputs(text.c_str(), stdout);
}

void print_json(const SimulateOptions& options, const sim::Trace& trace,
                const std::vector<StrategyRuns>& results, const std::vector<Reference>& refs) {
  Json json = {{"protocol", "fgd"},
               {"trace", trace.name},
               {"trace_jobs", trace.jobs.size()},
               {"rows_skipped", trace.report.rows_skipped},
               {"cluster", options.cluster},
               {"tune", options.tune},
               {"runs", Json::array()},
               {"means", Json::array()},
               {"reference", Json::array()}};
  for (const StrategyRuns& result : results) {
    for (const sim::ProtocolRun& run : result.runs) {
      json["runs"].push_back({{"strategy", run.strategy},
                              {"seed", run.seed},
                              {"gpus", run.total_gpus},
                              {"tasks", run.tasks},
                              {"failed", run.failed},
                              {"arrived_gpu_milli", run.arrived_milli},
                              {"allocated_gpu_milli", run.allocated_milli},
                              {"final_allocation_ratio", static_cast<double>(run.allocated_milli) /
                                                             (run.total_gpus * 1000.0)},
                              {"fragmentation_gpu_milli", run.fragmentation_milli},
                              {"fragmentation_ratio", run.fragmentation_ratio},
                              {"allocation_pct_at_arrived_pct", curve_json(run.curve)}});
    }
    json["means"].push_back({{"strategy", result.strategy},
                             {"seeds", result.runs.size()},
                             {"allocation_pct_at_arrived_pct", curve_json(result.mean)}});
  }
  for (const Reference& ref : refs) {
    json["reference"].push_back({{"policy", ref.policy},
                                 {"seeds", ref.seeds},
                                 {"allocation_pct_at_arrived_pct", curve_json(ref.mean)}});
  }
  std::fputs((json.dump(2) + "\n").c_str(), stdout);
}

std::vector<std::pair<double, double>> points_of(const Curve& curve, std::size_t from) {
  std::vector<std::pair<double, double>> points;
  for (std::size_t k = from; k < curve.size(); ++k) {
    if (curve[k]) points.emplace_back(static_cast<double>(k), *curve[k]);
  }
  return points;
}

// Ours solid; FGD's BestFit and FGD curves dashed. Whole range, and the congested end.
std::vector<sim::LineChart> protocol_charts(const std::vector<StrategyRuns>& results,
                                            const std::vector<Reference>& refs) {
  std::vector<sim::LineChart> charts;
  for (const std::size_t from : {std::size_t{0}, std::size_t{80}}) {
    sim::LineChart chart{from == 0 ? "GPU allocation ratio vs arrived GPU requests"
                                   : "The same, arrived requests 80-130 %",
                         "arrived GPU requests (% of capacity)",
                         "GPU allocation ratio (%)",
                         {},
                         false};
    for (const StrategyRuns& result : results) {
      chart.series.push_back({"FastGPU " + result.strategy, points_of(result.mean, from), false});
    }
    for (const Reference& ref : refs) {
      if (ref.policy.find("BestFit") == std::string::npos &&
          ref.policy.find("FGD") == std::string::npos)
        continue;
      chart.series.push_back({"paper " + ref.policy, points_of(ref.mean, from), true});
    }
    charts.push_back(std::move(chart));
  }
  return charts;
}

}  // namespace

std::optional<Failure> run_protocol(const SimulateOptions& options) {
  const std::vector<std::string> strategies = split(options.strategy, ',');
  if (auto failure = check_protocol_options(options, strategies)) return failure;
  const Result<std::vector<std::uint64_t>> seeds = parse_seeds(options.seeds);
  if (!seeds.ok()) return Failure{kExitUsage, seeds.status().message()};
  std::optional<Failure> failure;
  const Result<std::vector<sim::ClusterSpec>> clusters = load_clusters(options, failure);
  if (failure) return failure;
  if (clusters->size() != 1) {
    return Failure{kExitUsage,
                   "--protocol fgd needs one cluster, e.g. --cluster "
                   "openb:openb_node_list_all_node.csv"};
  }
  const Result<sim::Trace> trace = load_trace(options, failure);
  if (failure) return failure;
  const Result<std::vector<Reference>> refs = load_references(options);
  if (!refs.ok()) return Failure{kExitFailure, refs.status().message()};

  std::vector<StrategyRuns> results;
  const Progress progress(::isatty(STDERR_FILENO) == 1);
  for (const std::string& strategy : strategies) {
    StrategyRuns result{strategy, {}, {}};
    std::vector<Curve> curves;
    for (const std::uint64_t seed : *seeds) {
      sim::ProtocolOptions protocol{strategy, seed, options.tune, {}};
      protocol.progress = progress.reporter(fmt::format("{} seed {}", strategy, seed));
      Result<sim::ProtocolRun> run = sim::run_fgd_protocol(*trace, clusters->front(), protocol);
      progress.done();
      if (!run.ok()) return Failure{kExitFailure, run.status().message()};
      curves.push_back(run->curve);
      result.runs.push_back(std::move(run).value());
    }
    result.mean = sim::mean_curve(curves);
    results.push_back(std::move(result));
  }
  // The results first: a chart that fails to be written (the disk filled during the runs)
  // must not take them with it.
  if (options.json) {
    print_json(options, *trace, results, *refs);
  } else {
    print_table(options, *trace, results, *refs);
  }
  if (options.chart.empty()) return std::nullopt;
  const Status status = sim::write_charts(options.chart, protocol_charts(results, *refs),
                                          "FGD protocol: " + workload_name(options.trace));
  if (!status.ok()) return Failure{kExitFailure, status.message()};
  return std::nullopt;
}

}  // namespace fastgpu::cli
