// `fastgpu report`: your ended jobs summed up by name (or every user's, by user), as Slurm's
// sreport sums up accounts: how they ended, what they waited and ran, their GPU time and
// energy, and how much of the GPU memory and time limit they reserved their runs used
// (engine/usage_report.h; the daemon sums them, GET /v1/usage).

#include <fmt/format.h>
#include <time.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "cli/daemon_client.h"
#include "cli/local_offsets.h"
#include "fastgpu/engine/usage_report.h"

namespace fastgpu::cli {
namespace {

struct ReportOptions {
  DaemonFlags daemon;
  std::optional<std::string> by;     // --by: name, user, gpu or day
  std::optional<std::string> since;  // --since: ended at or after this moment
  std::optional<std::string> until;  // --until: ended before this moment
  std::optional<std::string> name;   // --name: comma-separated job names
  std::optional<std::string> state;  // --state: comma-separated ended states
  bool all_users = false;
};

// When nothing was summed up: whose jobs, and the filters that left none, as typed.
std::string empty_words(const ReportOptions& options) {
  std::string filters;
  const auto add = [&filters](const char* flag, const std::optional<std::string>& value) {
    if (value) filters += fmt::format(" {} {}", flag, *value);
  };
  add("--since", options.since);
  add("--until", options.until);
  add("--name", options.name);
  add("--state", options.state);
  const char* whose = options.all_users ? "No job" : "No job of yours";
  if (filters.empty()) return fmt::format("{} has ended yet.\n", whose);
  return fmt::format("{} ended that matches{}.\n", whose, filters);
}

int run_report(const ReportOptions& options) {
  // By name for your own jobs; by user for everyone's, as an administrator reads them.
  Result<engine::UsageKey> key =
      engine::parse_usage_key(options.by.value_or(options.all_users ? "user" : "name"));
  if (!key.ok()) return usage_error("report", key.status().message());
  std::string target = fmt::format("/v1/usage?by={}", engine::usage_key_name(*key));
  if (*key == engine::UsageKey::kDay) {
    // Over the last 20 years and the next day: no job of a daemon's ended before.
    const time_t now = ::time(nullptr);
    target += utc_offsets_query(local_utc_offsets(now - 20 * 366 * 86400, now + 86400));
  }
  if (options.state) {
    Result<std::string> states = parse_state_list(*options.state, /*ended=*/true, "report");
    if (!states.ok()) return usage_error("report", states.status().message());
    target += "&state=" + *states;
  }
  Result<std::string> filters = ended_filter_query(options.since, options.until, options.name);
  if (!filters.ok()) return usage_error("report", filters.status().message());
  target += *filters;
  if (const Status root_only = check_all_users(options.all_users, "sums up"); !root_only.ok()) {
    return fail("report", root_only);
  }
  if (options.all_users) target += "&all=true";
  Result<api::Json> reply = get_from_daemon(options.daemon, "report", target);
  if (!reply.ok()) return fail("report", reply.status());
  if (options.daemon.json) {
    print_json(*reply);
    return kExitOk;
  }
  Result<engine::UsageReport> report = engine::usage_report_from_json(*reply);
  if (!report.ok()) {
    return fail("report", report.status().with_context("reading the daemon's usage report"));
  }
  if (report->groups.empty()) {
    print_text(empty_words(options));
    return kExitOk;
  }
  print_text(engine::render_usage_table(*report));
  return kExitOk;
}

}  // namespace

void add_report_command(CLI::App& app, CommandOutcome& outcome) {
  auto options = std::make_shared<ReportOptions>();
  CLI::App* command = app.add_subcommand(
      "report",
      "Sum up your ended jobs by name (everyone's by user): how they ended, waits, GPU time, "
      "energy, and how much of the GPU memory and time limit they reserved they used");
  add_daemon_flags(*command, options->daemon);
  command->add_option("--by", options->by,
                      "Sum up by name, user, gpu, or day (the day they ended, in your time "
                      "zone; every day from the first to the last) (default: name; user with "
                      "--all-users)");
  command->add_flag("--all-users", options->all_users, "Every user's jobs (root only)");
  add_ended_filter_options(*command, options->since, options->until, options->name);
  command->add_option(
      "--state", options->state,
      "Only jobs that ended in these states, comma-separated (e.g. FAILED,TIMEOUT)");
  command->callback([options, &outcome] { outcome.exit_code = run_report(*options); });
}

}  // namespace fastgpu::cli
