// `fastgpu submit [flags] -- COMMAND...` (or --wrap 'shell command'): queue one
// job, or one per index of --array. Prints the job id (one per line for an
// array).

#include <fmt/format.h>
#include <pwd.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "cli/daemon_client.h"
#include "cli/submit_context.h"
#include "fastgpu/core/text.h"
#include "fastgpu/engine/job_file.h"

namespace fastgpu::cli {
namespace {

struct SubmitCommandOptions {
  engine::SubmitOptions submit;
  DaemonFlags daemon;
};

// `submit jobs.yaml` (for `run jobs.yaml`) queued the file as a program, which then failed
// to start with advice to make it executable: a job file, not executable, is refused here.
Status not_a_job_file(const engine::SubmitOptions& options, const engine::SubmitContext& context) {
  if (options.argv.empty()) return Status::ok_status();
  const std::string& program = options.argv.front();
  const std::string lower = ascii_lower(program);
  if (!lower.ends_with(".yaml") && !lower.ends_with(".yml")) return Status::ok_status();
  // Where the daemon looks for it: from the job's working folder.
  const std::filesystem::path path = context.working_dir / options.workdir.value_or("") / program;
  if (::access(path.c_str(), X_OK) == 0) return Status::ok_status();  // a program after all
  return invalid_argument(fmt::format(
      "'{}' is a job file, not a program: `fastgpu run {}` submits the jobs it holds (and "
      "follows them; Ctrl-C leaves them running)",
      program, program));
}

int run_submit(const SubmitCommandOptions& options) {
  Result<engine::SubmitContext> context = submit_context();
  if (!context.ok()) return fail("submit", context.status());
  if (Status job_file = not_a_job_file(options.submit, *context); !job_file.ok()) {
    return usage_error("submit", job_file.message());
  }
  Result<std::vector<store::JobSpec>> specs = engine::build_job_specs(options.submit, *context);
  if (!specs.ok()) return usage_error("submit", specs.status().message());
  give_callers_umask_and_limits(*specs);
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
