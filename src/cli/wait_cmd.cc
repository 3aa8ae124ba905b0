// `fastgpu wait ID...|--all`: wait until jobs end; exit 1 if any did not complete.

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <set>

#include "cli/daemon_client.h"
#include "cli/job_wait.h"
#include "fastgpu/core/units.h"

namespace fastgpu::cli {
namespace {

struct WaitOptions {
  DaemonFlags daemon;
  std::vector<std::string> ids;
  bool all = false;
  std::string timeout;
};

int run_wait(const WaitOptions& options) {
  if (options.all == !options.ids.empty()) {
    return usage_error("wait", "give job ids or --all (not both), e.g. `fastgpu wait 12 13`");
  }
  std::optional<std::chrono::steady_clock::time_point> deadline;
  if (!options.timeout.empty()) {
    Result<Seconds> timeout = parse_duration(options.timeout);
    if (!timeout.ok()) return usage_error("wait", "--timeout: " + timeout.status().message());
    deadline = std::chrono::steady_clock::now() +
               std::chrono::duration_cast<std::chrono::steady_clock::duration>(*timeout);
  }
  Result<std::vector<JobIdArgument>> arguments = parse_job_id_ranges(options.ids);
  if (!arguments.ok()) return usage_error("wait", arguments.status().message());
  Waited asked;
  for (const JobIdArgument& argument : *arguments) {
    asked.ids.push_back(argument.id);
    if (argument.from_range) asked.from_range.insert(argument.id);
  }
  Result<ReconnectingClient> client = connect_following(options.daemon, "wait");
  if (!client.ok()) return fail("wait", client.status());
  if (options.all) {
    Result<std::vector<std::uint64_t>> ids = unfinished_jobs(*client);
    if (!ids.ok()) return fail("wait", ids.status());
    asked.ids = *ids;
  }
  std::map<std::uint64_t, api::Json> ended;
  const Status waited = wait_for(*client, asked, deadline, options.daemon.json, ended);
  const std::set<std::uint64_t> distinct(asked.ids.begin(), asked.ids.end());
  if (!options.all && asked.missing.size() == distinct.size()) {
    // Exit 0 would say every job completed; there was none, as for a single unknown id.
    return fail("wait", not_found(fmt::format("none of the {} job id(s) in the ranges is a job "
                                              "of yours; `fastgpu queue` and `fastgpu history` "
                                              "list them",
                                              distinct.size())));
  }
  if (!asked.missing.empty()) {
    std::fprintf(stderr,
                 "fastgpu wait: in the ranges, %zu job(s) do not exist or are not yours; "
                 "waited for the others\n",
                 asked.missing.size());
  }
  bool all_completed = waited.ok();
  api::Json jobs = api::Json::array();
  for (const auto& [id, job] : ended) {
    all_completed = all_completed && job["state"] == "COMPLETED";
    jobs.push_back(ended_json(id, job));
  }
  if (options.daemon.json) {
    // The jobs waited for that had not ended (at the --timeout, or when the wait failed).
    print_json({{"jobs", jobs},
                {"all_completed", all_completed},
                {"not_ended", not_ended({distinct.begin(), distinct.end()}, asked, ended)}});
  }
  if (!waited.ok()) return fail("wait", waited);
  return all_completed ? kExitOk : kExitFailure;
}

}  // namespace

void add_wait_command(CLI::App& app, CommandOutcome& outcome) {
  auto options = std::make_shared<WaitOptions>();
  CLI::App* command = app.add_subcommand(
      "wait", "Wait until jobs end; exit 1 if any did not complete (failed, cancelled, timed out)");
  command->add_option("ID", options->ids, "Job ids, or ranges of them (12-40)");
  command->add_flag("--all", options->all, "Every job of yours that has not ended yet");
  command
      ->add_option("--timeout", options->timeout, "Give up after this long (e.g. 90s, 10m), exit 1")
      ->type_name("DURATION");
  add_daemon_flags(*command, options->daemon);
  command->callback([options, &outcome] { outcome.exit_code = run_wait(*options); });
}

}  // namespace fastgpu::cli
