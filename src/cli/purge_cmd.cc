// `fastgpu purge --before TIME`: forget your jobs that ended before TIME (their records,
// transitions, events and logs), as a long-lived daemon's history would otherwise only grow.

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "cli/daemon_client.h"
#include "fastgpu/api/job_json.h"

namespace fastgpu::cli {
namespace {

struct PurgeOptions {
  DaemonFlags daemon;
  std::optional<std::string> before;  // --before: ended before this moment
  std::optional<std::string> state;   // --state: comma-separated ended states
  std::optional<std::string> name;    // --name: comma-separated job names
  bool all_users = false;
};

int run_purge(const PurgeOptions& options) {
  if (!options.before) {
    return usage_error("purge",
                       "give --before TIME: the jobs that ended before it are forgotten, e.g. "
                       "--before 30d (ended more than 30 days ago) or --before 2026-11-01");
  }
  Result<std::int64_t> before = moment_micros(*options.before, "--before");
  if (!before.ok()) return usage_error("purge", before.status().message());
  const std::int64_t before_us = *before;
  std::string target = fmt::format("/v1/jobs/purge?ended_before_us={}", before_us);
  if (options.state) {
    Result<std::string> states = parse_state_list(*options.state, /*ended=*/true, "purge");
    if (!states.ok()) return usage_error("purge", states.status().message());
    target += "&state=" + *states;
  }
  if (options.name) {
    Result<std::string> names = name_query(*options.name);
    if (!names.ok()) return usage_error("purge", names.status().message());
    target += *names;
  }
  if (const Status root_only = check_all_users(options.all_users, "purges"); !root_only.ok()) {
    return fail("purge", root_only);
  }
  if (options.all_users) target += "&all=true";

  Result<api::ApiClient> client = connect_daemon(options.daemon, "purge");
  if (!client.ok()) return fail("purge", client.status());
  Result<api::Json> reply = client->post(target, api::Json::object());
  if (!reply.ok()) return fail("purge", reply.status());
  const std::string before_iso =
      api::iso_time(store::WallTime(std::chrono::microseconds(before_us)));
  if (options.daemon.json) {
    // The moment --before was read as (`30d` is now less 30 days), as the text says it.
    (*reply)["ended_before"] = before_iso;
    (*reply)["ended_before_us"] = before_us;
    print_json(*reply);
  } else {
    const auto purged = reply->value("purged", std::uint64_t{0});
    const auto kept = reply->value("kept_waited_on", std::uint64_t{0});
    const std::string whose = options.all_users ? "" : " of yours";
    const std::string moment = fmt::format("'{}' ({})", *options.before, before_iso);
    if (purged == 0) {
      // The filters said, or "no job ... was left" read as if nothing had ended at all.
      std::string filters;
      if (options.name) filters += fmt::format(" named {}", *options.name);
      if (options.state) filters += fmt::format(" in state {}", *options.state);
      print_text(fmt::format("no job{}{} that ended before {} was left to purge\n", whose, filters,
                             moment));
    } else {
      print_text(fmt::format("purged {} job(s){} that ended before {}: their records and logs\n",
                             purged, whose, moment));
    }
    if (kept > 0) {
      print_text(
          fmt::format("kept {} that a job not yet ended waits on (--after); purge again "
                      "once it has ended\n",
                      kept));
    }
  }
  const auto logs_left = reply->value("logs_not_removed", std::uint64_t{0});
  if (logs_left > 0) {
    const api::Json& error = (*reply)["log_error"];
    return fail("purge", io_error(fmt::format(
                             "{} log file(s) of the purged jobs could not be deleted "
                             "(the first: {}); delete them by hand",
                             logs_left, error.is_string() ? error.get<std::string>() : "")));
  }
  return kExitOk;
}

}  // namespace

void add_purge_command(CLI::App& app, CommandOutcome& outcome) {
  auto options = std::make_shared<PurgeOptions>();
  CLI::App* command = app.add_subcommand(
      "purge", "Forget your jobs that ended before a moment: their records and logs");
  add_daemon_flags(*command, options->daemon);
  command->add_option("--before", options->before,
                      std::string("Only jobs that ended before TIME (required): ") + kMomentForms);
  command->add_option("--state", options->state,
                      "Only these states, comma-separated (e.g. COMPLETED,CANCELLED)");
  command->add_option("--name", options->name,
                      "Only jobs of these names, comma-separated (e.g. --name sweep)");
  command->add_flag("--all-users", options->all_users, "Every user's jobs (root only)");
  command->callback([options, &outcome] { outcome.exit_code = run_purge(*options); });
}

}  // namespace fastgpu::cli
