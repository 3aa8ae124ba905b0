// `fastgpu show ID`: everything about one job.

#include <memory>

#include "cli/daemon_client.h"

namespace fastgpu::cli {
namespace {

struct ShowOptions {
  DaemonFlags daemon;
  std::string id;
};

int run_show(const ShowOptions& options) {
  Result<std::vector<std::uint64_t>> ids = parse_job_ids({options.id});
  if (!ids.ok()) return usage_error("show", ids.status().message());
  Result<api::Json> job =
      get_from_daemon(options.daemon, "show", "/v1/jobs/" + std::to_string(ids->front()));
  if (!job.ok()) return fail("show", job.status());
  if (options.daemon.json) {
    print_json(*job);
  } else {
    print_text(render_job_details(*job, now_micros()));
  }
  return kExitOk;
}

}  // namespace

void add_show_command(CLI::App& app, CommandOutcome& outcome) {
  auto options = std::make_shared<ShowOptions>();
  CLI::App* command =
      app.add_subcommand("show", "Show one job: command, placement, times, outcome");
  command->add_option("ID", options->id, "The job id")->required();
  add_daemon_flags(*command, options->daemon);
  command->callback([options, &outcome] { outcome.exit_code = run_show(*options); });
}

}  // namespace fastgpu::cli
