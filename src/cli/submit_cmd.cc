// `fastgpu submit [flags] -- COMMAND...` (or --wrap 'shell command'): queue one
// job, or one per index of --array. Prints the job id (one per line for an
// array).

#include <fmt/format.h>
#include <pwd.h>
#include <unistd.h>

#include <memory>

#include "cli/daemon_client.h"
#include "cli/submit_context.h"
#include "fastgpu/engine/job_file.h"

namespace fastgpu::cli {
namespace {

struct SubmitCommandOptions {
  engine::SubmitOptions submit;
  DaemonFlags daemon;
};

int run_submit(const SubmitCommandOptions& options) {
  Result<engine::SubmitContext> context = submit_context();
  if (!context.ok()) return fail("submit", context.status());
  Result<std::vector<store::JobSpec>> specs = engine::build_job_specs(options.submit, *context);
  if (!specs.ok()) return usage_error("submit", specs.status().message());
  give_callers_umask(*specs);
  Result<api::ApiClient> client = connect_daemon(options.daemon, "submit");
  if (!client.ok()) return fail("submit", client.status());
  Result<api::Json> reply = client->post("/v1/jobs", api::job_batch_to_json(*specs));
  if (!reply.ok()) return fail("submit", reply.status());
  if (options.daemon.json) {
    print_json(*reply);
    return kExitOk;
  }
  std::string text;
  for (const api::Json& id : (*reply)["ids"]) text += id.dump() + "\n";
  print_text(text);
  return kExitOk;
}

}  // namespace

void add_submit_command(CLI::App& app, CommandOutcome& outcome) {
  auto options = std::make_shared<SubmitCommandOptions>();
  CLI::App* command = app.add_subcommand("submit",
                                         "Queue a job: fastgpu submit [--gpus N "
                                         "--gpu-mem 20G ...] -- COMMAND [ARGS...]");
  engine::add_submit_flags(*command, options->submit);
  add_daemon_flags(*command, options->daemon);
  command->callback([options, &outcome] { outcome.exit_code = run_submit(*options); });
}

}  // namespace fastgpu::cli
