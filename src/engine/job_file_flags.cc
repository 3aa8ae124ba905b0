// The flags of `fastgpu submit`: the same fields as a job file, each stored as typed (the
// shared parsers read them in build_job_specs, so both ways give the same errors).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <string>

#include "engine/job_file_internal.h"
#include "fastgpu/engine/job_file.h"

namespace fastgpu::engine {
namespace {

// A flag whose text lands in `target` as typed.
void add_text_flag(CLI::App& app, const std::string& names, std::optional<std::string>& target,
                   const std::string& help) {
  app.add_option_function<std::string>(
         names, [&target](const std::string& value) { target = value; }, help)
      ->type_name("TEXT");
}

void add_env_flag(CLI::App& app, SubmitOptions& options) {
  app.add_option_function<std::vector<std::string>>(
         "--env",
         [&options](const std::vector<std::string>& entries) {
           for (const std::string& entry : entries) {
             const std::size_t equals = entry.find('=');
             if (equals == std::string::npos) {
               throw CLI::ValidationError(
                   "--env", "'" + entry + "' is not NAME=value; e.g. --env OMP_NUM_THREADS=4");
             }
             options.env.emplace_back(entry.substr(0, equals), entry.substr(equals + 1));
           }
         },
         "Set NAME=value in the job's environment (which is yours otherwise); repeatable")
      ->type_name("NAME=VALUE")
      ->allow_extra_args(false);
}

void add_resource_flags(CLI::App& app, SubmitOptions& options) {
  add_text_flag(app, "--gpus,-G", options.gpus,
                "GPUs the job needs: a whole number; 0 for a CPU-only job (default 1)");
  add_text_flag(app, "--gpu-mem", options.gpu_mem,
                "GPU memory per GPU: 20G, 512M (binary, 1G = 2^30 bytes), 20GB (decimal), or "
                "auto to learn it from earlier runs of the same name (default auto)");
  add_text_flag(app, "--share", options.share,
                "Share of each GPU's compute the job needs, in (0, 1]: 0.5 or 50%; jobs whose "
                "shares fit run side by side (default 1: a GPU of its own)");
  add_text_flag(app, "--time,-t", options.time,
                "Time limit: 90m, 2h, 1h30m, 1-00:00:00, or unlimited; a bare number is "
                "MINUTES, as in Slurm (default unlimited)");
  add_text_flag(app, "--grace", options.grace,
                "When the job is stopped (its time limit, a cancel, a preemption), the time it "
                "may take to save and exit after SIGTERM, before SIGKILL: 30s, 5m, or a bare "
                "number of seconds; at most 1d (default 10s)");
  add_text_flag(app, "--priority", options.priority,
                "Integer; larger runs first under the priority policy (default 0)");
  add_text_flag(app, "--deadline", options.deadline,
                "Finish by: 2026-12-01T18:00 (local time), 2026-12-01T17:00Z, "
                "2026-12-01T18:00+01:00, or now+6h");
}

void add_control_flags(CLI::App& app, SubmitOptions& options, bool with_array) {
  add_text_flag(app, "--name,-J", options.name,
                "Job name (no spaces, ':' or ','); also ties the job to its history for auto "
                "memory (default: none; the command is the history key)");
  app.add_option("--after,-d,--dependency", options.after,
                 "Wait for jobs: ID (until it completes), afterok:ID[:ID...], afterany:ID "
                 "(until it ends, however), comma-separated for several; repeatable")
      ->type_name("DEPENDENCY")
      ->allow_extra_args(false);
  if (with_array) {
    add_text_flag(app, "--array,-a", options.array,
                  "Submit one job per index: 0-15, 1,3,5, 0-15:2 (step); %4 runs at most 4 at "
                  "once (e.g. 0-15%4)");
  }
  // Takes an optional value, so that `--restartable false` means false: as a bare flag it
  // left `false` to start the command, and the job ran /bin/false. A word after it that is
  // not true or false is the command's first word (see add_submit_flags).
  app.add_option("--restartable", options.restartable,
                 "The job may be stopped and started again from the beginning (to move it or "
                 "make room); alone, or true/false (yes/no, on/off, 1/0)")
      ->expected(0, 1)
      ->type_name("[true|false]");
  app.add_flag_function(
      "-H,--hold", [&options](std::int64_t) { options.hold = "true"; },
      "Queue the job held: it starts only once released (`fastgpu release ID`), as sbatch "
      "--hold");
  add_text_flag(app, "--workdir,-D,--chdir", options.workdir,
                "Folder the job runs in; relative to this one (default: this folder)");
  add_env_flag(app, options);
}

// --restartable takes an optional value, so it takes the word after it: one that is not a
// boolean (nor, where `numbers_follow`, a number: resubmit's job ids) goes back in front of
// the positionals (options.argv), and the flag alone means true.
void give_back_non_boolean(CLI::App& app, SubmitOptions& options, bool numbers_follow) {
  app.parse_complete_callback([&options, numbers_follow] {
    if (!options.restartable) return;
    const std::string& word = *options.restartable;
    const bool number = !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
      return std::isdigit(static_cast<unsigned char>(c)) != 0;
    });
    if (internal::parse_restartable(word).ok() && !(numbers_follow && number)) return;
    // Alone, the option holds "" (the flag alone means true).
    if (!word.empty()) options.argv.insert(options.argv.begin(), word);
    options.restartable = "true";
  });
}

}  // namespace

void add_submit_flags(CLI::App& app, SubmitOptions& options) {
  add_resource_flags(app, options);
  add_control_flags(app, options, /*with_array=*/true);
  add_text_flag(app, "--wrap,--command", options.shell_command,
                "Run this string with /bin/sh -c instead of a program and its arguments");
  app.add_option("command", options.argv,
                 "The program and its arguments; everything after the first of them belongs "
                 "to the command (write -- before it to be explicit). A script's '#FASTGPU "
                 "--gpus 2 ...' lines at its head are flags too (a Slurm script's #SBATCH lines, "
                 "those that mean something here); the command line's win")
      ->type_name("PROGRAM [ARGS...]");
  // sbatch's rule: options end at the command, so the command's own flags are left to it.
  app.positionals_at_end(true);
  // `--restartable sleep 10`: the command's first word (`--restartable -- true` runs true).
  give_back_non_boolean(app, options, /*numbers_follow=*/false);
}

void add_resubmit_flags(CLI::App& app, SubmitOptions& options) {
  add_resource_flags(app, options);
  add_control_flags(app, options, /*with_array=*/false);
  // `--restartable 12`: a job id (`--restartable=1` is still a value).
  give_back_non_boolean(app, options, /*numbers_follow=*/true);
}

const std::vector<std::string>& job_field_names() {
  static const std::vector<std::string> kNames = {
      "name",  "command", "gpus",        "gpu-mem", "share",    "time",    "grace", "priority",
      "after", "array",   "restartable", "hold",    "deadline", "workdir", "env"};
  return kNames;
}

}  // namespace fastgpu::engine
