// `fastgpu simulate`: replay a job trace on a simulated cluster under one or more
// policies, side by side, as a table or JSON. See docs/simulator.md.
#include "cli/simulate_cmd.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/display_width.h"
#include "core/huge_pages.h"
#include "fastgpu/sched/placer.h"
#include "fastgpu/sched/policy.h"
#include "fastgpu/sched/settings.h"
#include "fastgpu/sim/simulator.h"

namespace fastgpu::cli {
namespace {

using sim::ClusterSpec;
using sim::SimResult;
using Json = nlohmann::ordered_json;

constexpr std::size_t kUsageBuckets = 50;
constexpr const char* kOraclePrefix = "-oracle";

// "sjf-oracle" is sjf ordered by the true duration (a simulation-only baseline).
std::optional<Failure> check_policies(const std::vector<std::string>& policies) {
  if (policies.empty()) return Failure{kExitUsage, "--policy: give at least one, e.g. fifo,sjf"};
  for (const std::string& name : policies) {
    const bool oracle = name == std::string("sjf") + kOraclePrefix;
    if (oracle || sched::make_policy(name) != nullptr) continue;
    return Failure{kExitUsage, "--policy: unknown policy '" + name + "'; use one of " +
                                   joined(sched::policy_names()) + ", sjf-oracle"};
  }
  return std::nullopt;
}

}  // namespace

bool known_prefix(const std::string& spec, const std::vector<std::string>& formats) {
  const auto colon = spec.find(':');
  if (colon == std::string::npos) return false;
  return std::find(formats.begin(), formats.end(), spec.substr(0, colon)) != formats.end();
}

Result<sim::Trace> load_trace(const SimulateOptions& options, std::optional<Failure>& failure) {
  if (!known_prefix(options.trace, sim::trace_format_names())) {
    failure = Failure{kExitUsage,
                      "--trace '" + options.trace + "': write FORMAT:FILE with FORMAT one of " +
                          joined(sim::trace_format_names()) + ", e.g. philly:jobs.csv.gz"};
    return invalid_argument("bad --trace");
  }
  sim::ReaderOptions reader;
  reader.on_malformed = options.strict ? sim::MalformedRows::kFatal : sim::MalformedRows::kSkip;
  reader.skip_hint = "leave out --strict to skip malformed rows (they are counted and shown)";
  Result<sim::Trace> trace = sim::read_trace_spec(options.trace, reader);
  if (!trace.ok()) {
    failure = Failure{kExitFailure, trace.status().message()};
    return trace;
  }
  // On stderr, so that --json output stays one document: a misspelt column (gpu_memory for
  // gpu_mem) was left out without a word, and the replay ran without what it held.
  for (const std::string& warning : trace->report.warnings) {
    std::fprintf(stderr,
                 "fastgpu simulate: %s: %s; its values were not read (docs/trace-format.md lists "
                 "the columns)\n",
                 trace->name.c_str(), warning.c_str());
  }
  return trace;
}

Result<std::vector<ClusterSpec>> load_clusters(const SimulateOptions& options,
                                               std::optional<Failure>& failure) {
  // A file that cannot be read is fixable (1); a spec string on the command line that cannot
  // be read, or gives no GPU at all (spec:1x0), is usage (2): the fix is in the command.
  const bool file = known_prefix(options.cluster, sim::cluster_format_names()) &&
                    options.cluster.rfind("spec:", 0) != 0;
  Result<std::vector<ClusterSpec>> clusters = sim::read_clusters_spec(options.cluster);
  if (!clusters.ok()) {
    failure =
        Failure{file ? kExitFailure : kExitUsage, "--cluster: " + clusters.status().message()};
  } else if (!file && clusters->front().total_gpus() == 0) {
    failure = Failure{kExitUsage, "--cluster '" + options.cluster +
                                      "': the cluster has no GPU; give its nodes GPUs, e.g. "
                                      "spec:4x8xV100-32G"};
  }
  return clusters;
}

namespace {

ClusterSpec merged(const std::vector<ClusterSpec>& clusters) {
  ClusterSpec all;
  all.name = "all";
  for (const ClusterSpec& cluster : clusters) {
    all.nodes.insert(all.nodes.end(), cluster.nodes.begin(), cluster.nodes.end());
  }
  return all;
}

// One simulation to run: a cluster and the jobs meant for it.
struct Part {
  ClusterSpec cluster;
  sim::Trace trace;
};

// Several clusters (Philly VCs) each take the jobs whose user is the cluster's name, as
// Helios simulated each VC on its own; one cluster takes the whole trace.
std::vector<Part> parts_of(const SimulateOptions& options, const sim::Trace& trace,
                           const std::vector<ClusterSpec>& clusters, std::size_t& unassigned) {
  std::vector<Part> parts;
  if (clusters.size() == 1 || options.one_cluster) {
    parts.push_back({clusters.size() == 1 ? clusters[0] : merged(clusters), trace});
    return parts;
  }
  std::size_t assigned = 0;
  for (const ClusterSpec& cluster : clusters) {
    if (!options.vc.empty() && cluster.name != options.vc) continue;
    parts.push_back({cluster, sim::filter_by_user(trace, cluster.name)});
    assigned += parts.back().trace.jobs.size();
  }
  unassigned = options.vc.empty() ? trace.jobs.size() - assigned : 0;
  return parts;
}

sim::SimOptions sim_options(const SimulateOptions& options, const std::string& policy) {
  sim::SimOptions out;
  if (options.settings) out.scheduler = *options.settings;
  const bool oracle = policy == std::string("sjf") + kOraclePrefix;
  out.scheduler.policy = oracle ? "sjf" : policy;
  out.scheduler.sjf_oracle = oracle;
  out.scheduler.strategy = options.strategy;
  out.scheduler.backfill = options.backfill;
  out.scheduler.multi_node = true;  // traces come from multi-node clusters (Philly: 16-128 GPUs)
  out.time_scale = options.time_scale;
  out.time_limit_factor = options.time_limit_factor;
  out.round_time_limits = options.round_time_limits;
  return out;
}

Result<std::vector<Run>> run_all(const SimulateOptions& options,
                                 const std::vector<std::string>& policies,
                                 const std::vector<Part>& parts) {
  std::vector<Run> runs;
  Progress progress(::isatty(STDERR_FILENO) == 1);
  for (const std::string& policy : policies) {
    for (const Part& part : parts) {
      sim::SimOptions sim = sim_options(options, policy);
      sim.progress = progress.reporter(policy + " on " + part.cluster.name);
      const auto started = std::chrono::steady_clock::now();
      Result<SimResult> result = sim::simulate(part.trace, part.cluster, sim);
      progress.done();
      if (!result.ok()) return result.status().with_context(policy + " on " + part.cluster.name);
      const std::chrono::duration<double> wall = std::chrono::steady_clock::now() - started;
      runs.push_back({policy, std::move(result).value(), wall.count(), &part.trace});
    }
  }
  return runs;
}

// RunMetrics holds 0 for a figure it could not measure: the JCT, queueing delay and makespan
// need a completed job, the time averages a span of time to average over. Shown as 0 they
// would read as measured, so they are n/a in the table and null in the JSON.
std::optional<double> over_completed(const sim::RunMetrics& m, double value) {
  return m.completed > 0 ? std::optional<double>(value) : std::nullopt;
}
std::optional<double> over_span(const sim::RunMetrics& m, double value) {
  return m.completed > 0 && m.makespan_s > 0 ? std::optional<double>(value) : std::nullopt;
}

constexpr const char* kNotAvailable = "n/a";

std::string hours(const std::optional<double>& seconds) {
  return seconds ? fmt::format("{:.2f}", *seconds / 3600.0) : kNotAvailable;
}
std::string percent(const std::optional<double>& ratio) {
  return ratio ? fmt::format("{:.1f}", 100.0 * *ratio) : kNotAvailable;
}

std::vector<std::string> table_row(const Run& run) {
  const sim::RunMetrics& m = run.result.metrics;
  return {run.result.cluster,
          run.policy,
          std::to_string(run.result.total_gpus),
          std::to_string(m.jobs),
          std::to_string(m.completed),
          std::to_string(m.rejected),
          hours(over_completed(m, m.avg_jct_s)),
          hours(over_completed(m, m.median_jct_s)),
          hours(over_completed(m, m.p99_jct_s)),
          hours(over_completed(m, m.avg_queueing_delay_s)),
          hours(over_completed(m, m.makespan_s)),
          percent(over_span(m, m.gpu_utilization)),
          percent(over_span(m, m.gpu_allocation_ratio)),
          std::to_string(m.preemptions),
          m.deadline_miss_rate ? percent(*m.deadline_miss_rate) : "-"};
}

// The jobs one reason rejected: how many, and the trace ids of the first few.
struct RejectedGroup {
  std::size_t count = 0;
  std::vector<std::string> ids;
  bool operator==(const RejectedGroup&) const = default;
};

constexpr std::size_t kIdsShown = 3;

// The reason without the job it names: the scheduler's checks begin "job N " (N the job's
// index in its cluster's trace), which made each job so rejected a group of its own.
std::string shared_reason(const sim::JobRecord& job) {
  const std::string own = "job " + std::to_string(job.trace_index) + " ";
  if (!job.reject_reason.starts_with(own)) return job.reject_reason;
  return job.reject_reason.substr(own.size());
}

std::string trace_id(const Run& run, const sim::JobRecord& job) {
  if (run.trace == nullptr || job.trace_index >= run.trace->jobs.size()) {
    return std::to_string(job.trace_index);
  }
  return run.trace->jobs[job.trace_index].id;
}

// Why jobs were rejected, with the jobs each reason rejected, in the order of the reasons.
std::map<std::string, RejectedGroup> rejected_groups(const Run& run) {
  std::map<std::string, RejectedGroup> groups;
  for (const sim::JobRecord& job : run.result.jobs) {
    if (!job.rejected) continue;
    RejectedGroup& group = groups[shared_reason(job)];
    if (++group.count <= kIdsShown) group.ids.push_back(trace_id(run, job));
  }
  return groups;
}

// "1 job (A)", "2 jobs (A, B)", "40 jobs (A, B, C, ...)".
std::string jobs_with_ids(const RejectedGroup& group) {
  std::string ids;
  for (const std::string& id : group.ids) ids += (ids.empty() ? "" : ", ") + id;
  if (group.count > group.ids.size()) ids += ", ...";
  return fmt::format("{} {} ({})", group.count, group.count == 1 ? "job" : "jobs", ids);
}

// The reasons jobs were rejected, once per cluster and set of reasons (they come from the
// cluster and the trace, so every policy usually rejects the same jobs), and for a trace
// without durations the way to use it: FGD's protocol places jobs without running them.
std::string rejected_text(const std::vector<Run>& runs) {
  std::vector<std::pair<std::string, std::map<std::string, RejectedGroup>>> shown;
  std::vector<std::vector<std::string>> policies;
  for (const Run& run : runs) {
    auto reasons = rejected_groups(run);
    if (reasons.empty()) continue;
    const auto key = std::make_pair(run.result.cluster, std::move(reasons));
    const auto found = std::find(shown.begin(), shown.end(), key);
    if (found != shown.end()) {
      policies[static_cast<std::size_t>(found - shown.begin())].push_back(run.policy);
      continue;
    }
    shown.push_back(key);
    policies.push_back({run.policy});
  }
  std::string text;
  bool no_duration = false;
  for (std::size_t k = 0; k < shown.size(); ++k) {
    text += fmt::format("\nRejected, never run ({} on {}):\n", joined(policies[k]), shown[k].first);
    for (const auto& [reason, group] : shown[k].second) {
      text += fmt::format("  {}: {}\n", jobs_with_ids(group), reason);
      no_duration = no_duration || reason == sim::kNoDurationReason;
    }
  }
  if (no_duration) {
    text +=
        "A replay runs each job for its duration, and this trace gives none. FGD's allocation "
        "experiment places jobs without running them: add --protocol fgd (openb traces; "
        "docs/simulator.md).\n";
  }
  return text;
}

// A policy whose key the trace does not give ranks every job the same, so it runs as fifo:
// its row repeated fifo's and read as a policy that does nothing (sjf on Philly, which has no
// signatures and no limits). One line for each such policy asked for, saying why and the fix.
// fair compares users within one cluster: a Philly VC's jobs have one user, the VC.
std::vector<std::string> policy_notes(const SimulateOptions& options,
                                      const std::vector<Part>& parts,
                                      const std::vector<std::string>& policies) {
  bool signature = false;
  bool deadline = false;
  bool several_users = false;
  std::set<int> priorities;
  for (const Part& part : parts) {
    std::set<std::string> users;
    for (const sim::TraceJob& job : part.trace.jobs) {
      signature = signature || !job.signature.empty();
      deadline = deadline || job.deadline_s.has_value();
      priorities.insert(job.priority.value_or(0));
      users.insert(job.user);
    }
    several_users = several_users || users.size() > 1;
  }
  const auto asked = [&](std::string_view name) {
    return std::find(policies.begin(), policies.end(), name) != policies.end();
  };
  std::vector<std::string> notes;
  if (asked("sjf") && !signature && options.time_limit_factor == 0) {
    notes.emplace_back(
        "sjf: no job of the trace has a signature (for past runs) or a time limit, so it had "
        "nothing to order by and ran as fifo; add --time-limit-factor F, or compare with "
        "sjf-oracle");
  }
  if (asked("edf") && !deadline) {
    notes.emplace_back("edf: no job of the trace has a deadline, so it ran as fifo");
  }
  if (asked("priority") && priorities.size() <= 1) {
    notes.emplace_back("priority: every job of the trace has the same priority, so it ran as fifo");
  }
  if (asked("fair") && !several_users) {
    notes.emplace_back(
        "fair: the jobs of each cluster have one user (Philly: the VC), so it ran as fifo");
  }
  return notes;
}

void print_table(const sim::Trace& trace, const std::vector<Run>& runs, std::size_t unassigned,
                 const std::vector<std::string>& notes) {
  std::vector<std::vector<std::string>> rows = {
      {"cluster", "policy", "GPUs", "jobs", "done", "rejected", "avg JCT h", "median h", "p99 h",
       "avg queue h", "makespan h", "util %", "alloc %", "preempt", "deadline miss %"}};
  double wall = 0;
  for (const Run& run : runs) {
    rows.push_back(table_row(run));
    wall += run.wall_s;
  }
  std::string text = fmt::format("Trace {}: {}\n\n", trace.name, trace.report.summary());
  text += aligned_columns(rows, 2);  // cluster and policy left-aligned
  text += rejected_text(runs);
  if (!notes.empty()) text += "\n" + fmt::format("{}\n", fmt::join(notes, "\n"));
  if (unassigned > 0) {
    text += fmt::format("\n{} jobs belong to no cluster of the spec and were not simulated.\n",
                        unassigned);
  }
  text += fmt::format(
      "\nSimulated in {:.2f} s. JCT = completion - submit; util = busy GPUs, "
      "alloc = allocated GPU shares, both time-averaged (docs/simulator.md).\n",
      wall);
  std::fputs(text.c_str(), stdout);
}

Json optional_number(const std::optional<double>& value) {
  return value ? Json(*value) : Json(nullptr);
}

Json rejected_reasons(const Run& run) {
  Json reasons = Json::array();
  for (const auto& [reason, group] : rejected_groups(run))
    reasons.push_back({{"reason", reason}, {"jobs", group.count}, {"first_ids", group.ids}});
  return reasons;
}

Json usage_json(const SimResult& result) {
  Json series = Json::array();
  double first = 0;
  bool any = false;
  for (const sim::JobRecord& job : result.jobs) {
    if (job.rejected) continue;
    first = any ? std::min(first, job.submit_s) : job.submit_s;
    any = true;
  }
  for (const sim::UsageBucket& bucket :
       sim::usage_over_time(result.usage, result.total_gpus, first,
                            first + result.metrics.makespan_s, kUsageBuckets)) {
    series.push_back({{"start_s", bucket.start_s},
                      {"end_s", bucket.end_s},
                      {"utilization", bucket.utilization},
                      {"allocation_ratio", bucket.allocation_ratio}});
  }
  return series;
}

Json run_json(const Run& run) {
  const sim::RunMetrics& m = run.result.metrics;
  return {{"policy", run.policy},
          {"cluster", run.result.cluster},
          {"gpus", run.result.total_gpus},
          {"jobs", m.jobs},
          {"completed", m.completed},
          {"rejected", m.rejected},
          {"unfinished", m.unfinished},
          {"preemptions", m.preemptions},
          {"avg_jct_s", optional_number(over_completed(m, m.avg_jct_s))},
          {"median_jct_s", optional_number(over_completed(m, m.median_jct_s))},
          {"p99_jct_s", optional_number(over_completed(m, m.p99_jct_s))},
          {"avg_queueing_delay_s", optional_number(over_completed(m, m.avg_queueing_delay_s))},
          {"makespan_s", optional_number(over_completed(m, m.makespan_s))},
          {"gpu_utilization", optional_number(over_span(m, m.gpu_utilization))},
          {"gpu_allocation_ratio", optional_number(over_span(m, m.gpu_allocation_ratio))},
          {"peak_allocation_ratio", optional_number(over_span(m, m.peak_allocation_ratio))},
          {"jobs_with_deadline", m.with_deadline},
          {"deadline_miss_rate", optional_number(m.deadline_miss_rate)},
          {"schedule_calls", run.result.schedule_calls},
          {"rejected_reasons", rejected_reasons(run)},
          {"usage_over_time", usage_json(run.result)}};
}

void print_json(const SimulateOptions& options, const sim::Trace& trace,
                const std::vector<Run>& runs, std::size_t unassigned,
                const std::vector<std::string>& notes) {
  Json json = {{"trace", trace.name},
               {"trace_jobs", trace.jobs.size()},
               {"rows_skipped", trace.report.rows_skipped},
               {"trace_warnings", trace.report.warnings},
               {"cluster", options.cluster},
               {"strategy", options.strategy},
               {"backfill", options.backfill},
               {"settings_file", options.config.empty() ? Json(nullptr) : Json(options.config)},
               {"time_scale", options.time_scale},
               {"unassigned_jobs", unassigned},
               {"policy_notes", notes},
               {"runs", Json::array()}};
  for (const Run& run : runs) json["runs"].push_back(run_json(run));
  std::fputs((json.dump(2) + "\n").c_str(), stdout);
}

std::optional<Failure> check_numbers(const SimulateOptions& options) {
  // inf reads as a number: a time scale of inf failed in the first run (exit 1), and a factor
  // of inf rejected every job, each with a reason of its own.
  if (!(options.time_scale > 0) || !std::isfinite(options.time_scale)) {
    return Failure{kExitUsage, fmt::format("--time-scale {}: use a finite number above 0, e.g. 4",
                                           options.time_scale)};
  }
  const double factor = options.time_limit_factor;
  if (factor != 0 && (!(factor >= 1) || !std::isfinite(factor))) {
    return Failure{kExitUsage,
                   fmt::format("--time-limit-factor {}: use 0 (none) or a finite factor of at "
                               "least 1, e.g. 2",
                               factor)};
  }
  if (options.round_time_limits && options.time_limit_factor == 0) {
    return Failure{kExitUsage,
                   "--round-time-limits rounds the limits --time-limit-factor gives; add e.g. "
                   "--time-limit-factor 1"};
  }
  if (!options.protocol.empty()) {
    return Failure{kExitUsage, "--protocol '" + options.protocol + "': the only protocol is fgd"};
  }
  // A replay would run without them, and its results would read as if they applied.
  if (!options.protocol_only_given.empty()) {
    return Failure{kExitUsage, options.protocol_only_given.front() +
                                   " applies only to FGD's experiment; add --protocol fgd, or "
                                   "leave it out for a replay"};
  }
  if (sched::make_placer(options.strategy) != nullptr) return std::nullopt;
  return Failure{kExitUsage, "--strategy '" + options.strategy +
                                 "': use pack or spread (bestfit and fgd need --protocol fgd)"};
}

std::optional<Failure> write_replay_charts(const SimulateOptions& options,
                                           const std::vector<Run>& runs) {
  if (options.chart.empty()) return std::nullopt;
  const Status status =
      sim::write_charts(options.chart, replay_charts(runs), "fastgpu simulate: " + options.trace);
  if (status.ok()) return std::nullopt;
  return Failure{status.code() == ErrorCode::kInvalidArgument ? kExitUsage : kExitFailure,
                 status.message()};
}

// --vc picks one cluster of several (Philly's VCs); a replay on one cluster, or on all of
// them merged, would ignore it.
std::optional<Failure> check_vc(const SimulateOptions& options,
                                const std::vector<ClusterSpec>& clusters) {
  if (options.vc.empty()) return std::nullopt;
  if (options.one_cluster) {
    return Failure{kExitUsage, "--vc '" + options.vc +
                                   "' picks one cluster, and --one-cluster merges them all; "
                                   "give one of the two"};
  }
  if (clusters.size() > 1) return std::nullopt;
  return Failure{kExitUsage, "--vc '" + options.vc +
                                 "' picks one cluster of several (e.g. "
                                 "--cluster philly-vc:philly_vc.csv), and --cluster '" +
                                 options.cluster + "' gives one; leave out --vc"};
}

// Reads --config's settings into `options`: its policy and strategy stand where the command
// line gave none, and its backfill unless --backfill turned it on.
std::optional<Failure> read_settings_file(SimulateOptions& options) {
  if (options.config.empty()) return std::nullopt;
  Result<sched::SchedulerConfig> settings = sched::read_settings(options.config);
  if (!settings.ok()) return Failure{kExitFailure, "--config " + settings.status().message()};
  if (!options.policy_given) options.policies = settings->policy;
  if (!options.strategy_given) options.strategy = settings->strategy;
  options.backfill = options.backfill || settings->backfill;
  options.settings = std::move(settings).value();
  return std::nullopt;
}

std::optional<Failure> run_simulate(const SimulateOptions& given) {
  prefer_huge_pages();  // a trace's jobs and the scheduler's state (core/huge_pages.h)
  if (given.protocol == "fgd") return run_protocol(given);
  SimulateOptions options = given;
  if (auto failure = read_settings_file(options)) return failure;
  if (auto failure = check_chart_path(options.chart)) return failure;
  const std::vector<std::string> policies = split(options.policies, ',');
  if (auto failure = check_policies(policies)) return failure;
  if (auto failure = check_numbers(options)) return failure;
  std::optional<Failure> failure;
  const Result<std::vector<ClusterSpec>> clusters = load_clusters(options, failure);
  if (failure) return failure;
  const Result<sim::Trace> trace = load_trace(options, failure);
  if (failure) return failure;
  if (auto vc_failure = check_vc(options, *clusters)) return vc_failure;
  std::size_t unassigned = 0;
  const std::vector<Part> parts = parts_of(options, *trace, *clusters, unassigned);
  if (parts.empty()) {
    return Failure{kExitUsage, "--vc '" + options.vc + "' names no cluster of " + options.cluster};
  }
  const Result<std::vector<Run>> runs = run_all(options, policies, parts);
  if (!runs.ok()) return Failure{kExitFailure, runs.status().message()};
  // The results first: a chart that fails to be written (the disk filled during the runs)
  // must not take them with it.
  const std::vector<std::string> notes = policy_notes(options, parts, policies);
  if (options.json) {
    print_json(options, *trace, *runs, unassigned, notes);
  } else {
    print_table(*trace, *runs, unassigned, notes);
  }
  return write_replay_charts(options, *runs);
}

}  // namespace

void add_simulate_command(CLI::App& app, CommandOutcome& outcome) {
  auto options = std::make_shared<SimulateOptions>();
  CLI::App* command = app.add_subcommand(
      "simulate",
      "Replay a job trace on a simulated cluster through the real scheduler; see "
      "docs/simulator.md");
  command
      ->add_option("--trace", options->trace,
                   "FORMAT:FILE with FORMAT one of " + joined(sim::trace_format_names()) +
                       " (your own history, docs/trace-format.md), e.g. philly:jobs.csv.gz")
      ->required();
  command
      ->add_option("--cluster", options->cluster,
                   "KIND:SPEC_OR_FILE, e.g. philly-vc:philly_vc.csv or spec:4x8xV100-32G")
      ->required();
  command->add_option("--policy", options->policies,
                      "comma-separated policies, run side by side: " +
                          joined(sched::policy_names()) + ", sjf-oracle (default fifo)");
  command->add_option("--strategy", options->strategy, "placement: pack or spread");
  command->add_flag("--backfill", options->backfill, "EASY backfill past the first blocked job");
  command->add_option("--time-scale", options->time_scale,
                      "divide submit times by this (4 = four times the load)");
  command->add_option("--time-limit-factor", options->time_limit_factor,
                      "give each job a time limit of its duration times this (>= 1)");
  command->add_flag("--round-time-limits", options->round_time_limits,
                    "round time limits up to 1,2,4,8,12 h, whole days, weeks (as people do)");
  command->add_option("--vc", options->vc, "with several clusters, simulate only this one");
  command->add_flag("--one-cluster", options->one_cluster,
                    "merge several clusters into one and replay the whole trace on it");
  command->add_flag("--strict", options->strict, "stop at the first malformed trace row");
  command->add_flag("--json", options->json, "print the results as JSON");
  command->add_option("--chart", options->chart,
                      "also draw charts into FILE.svg or FILE.html (self-contained)");
  command->add_option("--protocol", options->protocol,
                      "fgd: FGD's allocation experiment (openb; see docs/simulator.md)");
  command->add_option("--seeds", options->seeds, "with --protocol fgd: e.g. 42-51 or 42,43");
  command->add_option("--tune", options->tune,
                      "with --protocol fgd: arrived GPU request as a multiple of capacity");
  command->add_option("--reference", options->reference,
                      "with --protocol fgd: FGD's curves, fgd_reference_gpu_alloc_ratio_dev.csv");
  command->add_option("--config", options->config,
                      "the scheduler's settings, as a daemon's settings file (docs/cli.md); "
                      "--policy, --strategy and --backfill win over it");
  command->callback([options, command, &outcome] {
    options->policy_given = command->get_option("--policy")->count() > 0;
    options->strategy_given = command->get_option("--strategy")->count() > 0;
    for (const char* name : {"--seeds", "--tune", "--reference"}) {
      if (command->get_option(name)->count() > 0) options->protocol_only_given.emplace_back(name);
    }
    for (const char* name : {"--policy", "--backfill", "--time-scale", "--time-limit-factor",
                             "--round-time-limits", "--vc", "--one-cluster", "--config"}) {
      if (command->get_option(name)->count() > 0) options->replay_only_given.emplace_back(name);
    }
    const std::optional<Failure> failure = run_simulate(*options);
    if (failure) outcome.exit_code = report_failure("simulate", *failure);
  });
}

}  // namespace fastgpu::cli
