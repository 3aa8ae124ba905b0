// `fastgpu cancel ID...`: cancel queued or running jobs.

#include <fmt/format.h>

#include <memory>
#include <set>
#include <string>

#include "cli/daemon_client.h"

namespace fastgpu::cli {
namespace {

struct CancelOptions {
  DaemonFlags daemon;
  std::vector<std::string> ids;
};

int run_cancel(const CancelOptions& options) {
  Result<std::vector<std::uint64_t>> ids = parse_job_ids(options.ids);
  if (!ids.ok()) return usage_error("cancel", ids.status().message());
  Result<api::ApiClient> client = connect_daemon(options.daemon, "cancel");
  if (!client.ok()) return fail("cancel", client.status());
  int exit_code = kExitOk;
  api::Json results = api::Json::array();
  std::set<std::uint64_t> asked;  // `cancel 3 3` cancels job 3 once
  for (std::uint64_t id : *ids) {
    if (!asked.insert(id).second) continue;
    Result<api::Json> job =
        client->post(fmt::format("/v1/jobs/{}/cancel", id), api::Json::object());
    if (!job.ok()) {
      exit_code = fail("cancel", job.status());
      results.push_back({{"id", id}, {"error", job.status().message()}});
      continue;
    }
    const std::string state = (*job)["state"].get<std::string>();
    // A running job ends once its supervisor has stopped it: the answer comes before that.
    const bool stopping = state == "RUNNING";
    results.push_back({{"id", id}, {"state", state}, {"stopping", stopping}});
    if (!options.daemon.json) {
      print_text(stopping ? fmt::format("job {}: stopping (SIGTERM now, SIGKILL after the grace "
                                        "period; `fastgpu wait {}` waits for its end)\n",
                                        id, id)
                          : fmt::format("job {}: {}\n", id, state));
    }
  }
  if (options.daemon.json) print_json({{"jobs", results}});
  return exit_code;
}

}  // namespace

void add_cancel_command(CLI::App& app, CommandOutcome& outcome) {
  auto options = std::make_shared<CancelOptions>();
  CLI::App* command = app.add_subcommand(
      "cancel",
      "Cancel jobs: a queued job never runs, a running one is stopped (SIGTERM, then SIGKILL)");
  command->add_option("ID", options->ids, "Job ids")->required();
  add_daemon_flags(*command, options->daemon);
  command->callback([options, &outcome] { outcome.exit_code = run_cancel(*options); });
}

}  // namespace fastgpu::cli
