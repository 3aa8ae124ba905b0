// `fastgpu exec ID [-- COMMAND [ARGS...]]`: a command run here, in the foreground, on the GPUs
// of a running job of yours, with its variables (CUDA_VISIBLE_DEVICES, FASTGPU_JOB_ID, ...),
// as Slurm's `srun --jobid=ID --overlap` runs one in a job's allocation: a second shell in a
// `fastgpu alloc`, nvidia-smi or a profiler beside a training run. The command's GPU
// processes count as the job's (its FASTGPU_JOB_ID ties them to it), and when the job ends
// the command is hung up: the GPUs are no longer its own.

#include <fmt/format.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "cli/daemon_client.h"
#include "cli/foreground_command.h"
#include "exec/job_process.h"
#include "fastgpu/exec/launcher.h"

extern char** environ;

namespace fastgpu::cli {
namespace {

struct ExecOptions {
  std::string id;
  std::vector<std::string> argv;
  std::optional<std::string> shell_command;
  DaemonFlags daemon;
};

// The variables the launcher gave job `job` (as it was placed), from its record.
Result<std::vector<std::string>> job_variables(const api::Json& job) {
  exec::LaunchRequest request;
  request.job = JobId(job["id"].get<std::uint64_t>());
  request.gpus = job.value("placed_gpus", std::vector<std::uint32_t>{});
  const auto quota = job.find("placed_gpu_mem");
  if (quota != job.end() && quota->is_number_unsigned()) {
    request.gpu_mem_quota = Bytes(quota->get<std::uint64_t>());
  }
  const api::Json& spec = job["spec"];
  const auto array = spec.find("array");
  if (array != spec.end() && array->is_object()) {
    request.array_index = (*array)["index"].get<std::uint32_t>();
  }
  std::vector<std::string> variables;
  for (const std::string& entry : exec::job_environment(request)) {
    if (exec::is_set_by_fastgpu(entry)) variables.push_back(entry);
  }
  return variables;
}

int run_exec(const ExecOptions& options) {
  Result<std::vector<std::uint64_t>> ids = parse_job_ids({options.id});
  if (!ids.ok()) return usage_error("exec", ids.status().message());
  const std::uint64_t id = ids->front();
  // CLI11 keeps the `--` after the id (positionals had begun): it is no part of the command.
  std::vector<std::string> argv = options.argv;
  if (!argv.empty() && argv.front() == "--") argv.erase(argv.begin());
  if (!argv.empty() && options.shell_command) {
    return usage_error("exec", "give the command after the job id or as --wrap, not both");
  }
  const std::vector<std::string> command = command_or_shell(argv, options.shell_command);
  Result<ReconnectingClient> client = connect_following(options.daemon, "exec");
  if (!client.ok()) return fail("exec", client.status());
  Result<api::Json> job = client->get(fmt::format("/v1/jobs/{}", id));
  if (!job.ok()) return fail("exec", job.status());
  const std::string state = (*job)["state"].get<std::string>();
  if (state == "QUEUED") {
    return fail("exec", failed_precondition(fmt::format(
                            "job {} is queued, not running, so it has no GPUs yet; `fastgpu "
                            "wait` and `fastgpu show {}` say when it starts (`fastgpu alloc` "
                            "runs a command here on GPUs of its own)",
                            id, id)));
  }
  if (state != "RUNNING") {
    return fail("exec",
                failed_precondition(fmt::format(
                    "job {} has ended ({}), and its GPUs are no longer its own", id, state)));
  }
  Result<std::vector<std::string>> variables = job_variables(*job);
  if (!variables.ok()) return fail("exec", variables.status());
  std::error_code error;
  const std::filesystem::path here = std::filesystem::current_path(error);
  if (error) {
    return fail("exec",
                failed_precondition(fmt::format("cannot read this folder: {}", error.message())));
  }
  std::vector<std::string> environment;
  for (char** entry = environ; *entry != nullptr; ++entry) environment.emplace_back(*entry);
  const std::string name = (*job)["spec"].value("name", std::string());
  const std::string of_job =
      name.empty() ? fmt::format("job {}", id) : fmt::format("job {} ({})", id, name);
  const std::string gpus = placed_gpus_text(*job);
  std::fprintf(stderr, "%s",
               fmt::format("fastgpu exec: {} runs {} until it exits\n",
                           std::filesystem::path(command.front()).filename().string(),
                           gpus == "no GPU" ? "beside " + of_job + ", which holds no GPU,"
                                            : "on " + gpus + " of " + of_job)
                   .c_str());
  catch_stop_signals();
  return run_in_foreground(*client, id, command, here.string(),
                           with_job_variables(environment, *variables), "exec");
}

}  // namespace

void add_exec_command(CLI::App& app, CommandOutcome& outcome) {
  auto options = std::make_shared<ExecOptions>();
  CLI::App* command = app.add_subcommand(
      "exec",
      "Run a command here (a shell by default) on a running job's GPUs, with its variables, "
      "as srun --jobid --overlap: fastgpu exec ID [-- COMMAND [ARGS...]]");
  command->add_option("id", options->id, "The running job, one of yours")->required();
  command->add_option("--wrap,--command", options->shell_command,
                      "Run this string with /bin/sh -c instead of a program and its arguments");
  command
      ->add_option("command", options->argv,
                   "The program and its arguments (default: your $SHELL); everything after "
                   "the job id belongs to the command")
      ->type_name("PROGRAM [ARGS...]");
  command->positionals_at_end(true);
  add_daemon_flags(*command, options->daemon, false);
  command->callback([options, &outcome] { outcome.exit_code = run_exec(*options); });
}

}  // namespace fastgpu::cli
