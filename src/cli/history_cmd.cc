// `fastgpu history`: the jobs that have ended, oldest first; `--trace` writes them as a
// trace in the generic format (docs/trace-format.md) that `fastgpu simulate` replays.

#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/chart_file.h"
#include "cli/daemon_client.h"
#include "cli/run_chart.h"
#include "fastgpu/api/job_json.h"
#include "fastgpu/engine/report.h"

namespace fastgpu::cli {
namespace {

struct HistoryOptions {
  DaemonFlags daemon;
  bool all_users = false;
  bool trace = false;
  std::optional<std::string> state;  // --state: comma-separated; none: every ended state
  std::optional<std::int64_t> last;  // -n/--last: only the N that ended last
  std::optional<std::string> since;  // --since: ended at or after this moment
  std::optional<std::string> until;  // --until: ended before this moment
  std::optional<std::string> name;   // --name: comma-separated job names
  std::string chart;                 // --chart: also draw the listed jobs over time
};

std::optional<std::int64_t> micros(const api::Json& job, const char* key) {
  auto it = job.find(key);
  if (it == job.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<std::int64_t>();
}

// One generic-trace line per job that ran (a start and an end). Times are seconds after the
// earliest submission, so a replay starts at 0; a GPU share below 1 is written as a
// fraction of one GPU, as the format reads it.
std::string trace_lines(const api::Json& jobs) {
  std::optional<std::int64_t> origin;
  for (const api::Json& job : jobs) {
    if (auto submit = micros(job, "submit_time_us")) {
      origin = std::min(origin.value_or(*submit), *submit);
    }
  }
  std::string out;
  for (const api::Json& job : jobs) {
    const auto submit = micros(job, "submit_time_us");
    const auto start = micros(job, "start_time_us");
    const auto end = micros(job, "end_time_us");
    if (!submit || !start || !end) continue;  // never ran: nothing to replay
    const api::Json& spec = job["spec"];
    api::Json line{
        {"id", std::to_string(job["id"].get<std::uint64_t>())},
        {"submit", static_cast<double>(*submit - *origin) / 1e6},
        {"duration", static_cast<double>(std::max<std::int64_t>(0, *end - *start)) / 1e6},
        {"user", job["user"]},
        {"priority", spec["priority"]}};
    const int gpus = spec["gpus"].get<int>();
    const double share = spec["util_share"].get<double>();
    if (gpus == 1 && share < 1.0) {
      line["gpus"] = share;
    } else {
      line["gpus"] = gpus;
    }
    const api::Json& placed = job["placed_gpu_mem"];
    const api::Json& declared = spec["gpu_mem"];
    if (gpus > 0 && !placed.is_null()) {
      line["gpu_mem"] = std::to_string(placed.get<std::int64_t>());
    } else if (gpus > 0 && !declared.is_null()) {
      line["gpu_mem"] = std::to_string(declared.get<std::int64_t>());
    }
    if (spec["deadline_us"].is_number_integer()) {
      line["deadline"] =
          static_cast<double>(spec["deadline_us"].get<std::int64_t>() - *origin) / 1e6;
    }
    if (spec["signature"].is_string() && !spec["signature"].get<std::string>().empty()) {
      line["signature"] = spec["signature"];
    }
    out += line.dump() + "\n";
  }
  return out;
}

// What each job cost, in the batch report's columns (docs/batch-report.md), with the user
// when listing everyone's jobs.
std::string cost_table(const std::vector<store::JobRecord>& records, bool with_user) {
  std::vector<engine::JobReport> reports;
  reports.reserve(records.size());
  for (const store::JobRecord& record : records) reports.push_back(engine::make_job_report(record));
  return engine::render_job_report_table(reports, with_user);
}

int run_history(const HistoryOptions& options) {
  std::string target = "/v1/jobs?state=COMPLETED,FAILED,CANCELLED,TIMEOUT";
  if (options.state) {
    Result<std::string> states = parse_state_list(*options.state, /*ended=*/true);
    if (!states.ok()) return usage_error("history", states.status().message());
    target = "/v1/jobs?state=" + *states;
  }
  if (const Status root_only = check_all_users(options.all_users); !root_only.ok()) {
    return fail("history", root_only);
  }
  if (options.all_users) target += "&all=true";
  Result<std::string> filters = ended_filter_query(options.since, options.until, options.name);
  if (!filters.ok()) return usage_error("history", filters.status().message());
  target += *filters;
  if (options.last) {
    if (*options.last < 1) {
      return usage_error("history", fmt::format("--last {} lists nothing; give N >= 1, e.g. -n 20",
                                                *options.last));
    }
    target += fmt::format("&last_ended={}", *options.last);
  }
  if (!options.daemon.json) target += "&brief=true";  // neither the table nor a trace needs it
  if (options.trace && options.daemon.json) {
    return usage_error("history", "--trace writes JSON Lines already; leave out --json");
  }
  if (!options.chart.empty() && (options.trace || options.daemon.json)) {
    return usage_error("history", "--chart draws beside the table; leave out --json and --trace");
  }
  if (const std::optional<Failure> chart = check_chart_path(options.chart)) {
    return report_failure("history", *chart);
  }
  if (options.daemon.json) {
    // Printed as it comes, as `queue --json` does: a long history is hundreds of MB of
    // JSON, which would be parsed into a tree only to be printed again.
    Result<std::string> text = get_text_from_daemon(options.daemon, "history", target);
    if (!text.ok()) return fail("history", text.status());
    const Status printed = print_json_text(*text);
    if (!printed.ok()) return fail("history", printed);
    return kExitOk;
  }
  Result<api::Json> reply = get_from_daemon(options.daemon, "history", target);
  if (!reply.ok()) return fail("history", reply.status());
  if (options.trace) {
    print_text(trace_lines((*reply)["jobs"]));
    return kExitOk;
  }
  Result<std::vector<store::JobRecord>> records = job_records((*reply)["jobs"]);
  if (!records.ok()) {
    return fail("history", records.status().with_context("reading the daemon's job list"));
  }
  print_text(cost_table(*records, options.all_users));
  if (!options.chart.empty()) {
    // The GPUs there were then are not known: no line for them (batch_charts with 0).
    const Status written =
        sim::write_charts(options.chart, batch_charts(*records, 0), "fastgpu history");
    if (!written.ok()) return fail("history", written);
  }
  return kExitOk;
}

}  // namespace

void add_history_command(CLI::App& app, CommandOutcome& outcome) {
  auto options = std::make_shared<HistoryOptions>();
  CLI::App* command = app.add_subcommand("history", "List your jobs that have ended");
  add_daemon_flags(*command, options->daemon);
  command->add_flag("--all-users", options->all_users, "Every user's jobs (root only)");
  command->add_option("--state", options->state,
                      "Only these states, comma-separated (e.g. FAILED,TIMEOUT)");
  command->add_option("-n,--last", options->last,
                      "Only the N of these jobs that ended last (listed by id, as always)");
  add_ended_filter_options(*command, options->since, options->until, options->name);
  command->add_option("--chart", options->chart,
                      "Also draw these jobs over time (running, waiting, GPUs allocated) into "
                      "FILE.svg or FILE.html");
  command->add_flag("--trace", options->trace,
                    "Write the jobs that ran as a generic trace (JSON Lines, "
                    "docs/trace-format.md) for `fastgpu simulate --trace generic:FILE`");
  command->callback([options, &outcome] { outcome.exit_code = run_history(*options); });
}

}  // namespace fastgpu::cli
