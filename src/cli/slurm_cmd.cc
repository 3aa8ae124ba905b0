// fastgpu slurm FILE.yaml: the jobs of a job file submitted to a Slurm cluster with sbatch,
// as `fastgpu run` would run them here (docs/slurm.md).
#include <fmt/format.h>

#include <memory>
#include <string>
#include <vector>

#include "cli/daemon_client.h"
#include "cli/submit_context.h"
#include "fastgpu/core/text.h"
#include "fastgpu/engine/job_file.h"
#include "fastgpu/exec/slurm_batch.h"

namespace fastgpu::cli {
namespace {

struct SlurmCmdOptions {
  std::string file;
  std::string output;
  bool print = false;
  bool json = false;
  std::vector<std::string> sbatch_args;
};

// The log's path as Slurm will name it: the pattern's %x, %j and %A filled in (an array
// member's %a stays, one file each).
std::string log_path(const exec::SlurmSubmission& submission, const std::string& id) {
  std::string path;
  const std::string& pattern = submission.output;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char next = i + 1 < pattern.size() ? pattern[i + 1] : '\0';
    if (pattern[i] == '%' && (next == 'x' || next == 'j' || next == 'A')) {
      path += next == 'x' ? submission.name : id;
      ++i;
    } else {
      path += pattern[i];
    }
  }
  return path;
}

// The --dependency each would get, with the earlier jobs' names for their ids.
std::string dependency_by_name(const exec::SlurmSubmission& submission,
                               const std::vector<exec::SlurmSubmission>& all) {
  std::vector<std::string> names;
  for (const exec::SlurmSubmission& earlier : all) names.push_back("<" + earlier.name + ">");
  return exec::slurm_dependency(submission, names);
}

api::Json submission_json(const exec::SlurmSubmission& submission,
                          const std::vector<exec::SlurmSubmission>& all, const std::string& place) {
  api::Json out = {{"name", submission.name},
                   {"place", place},
                   {"jobs", submission.specs.size()},
                   {"array", submission.array},
                   {"dependency", dependency_by_name(submission, all)},
                   {"script", submission.script},
                   {"notes", submission.notes}};
  return out;
}

int print_scripts(const std::vector<exec::SlurmSubmission>& submissions,
                  const std::vector<std::string>& places, const SlurmCmdOptions& options) {
  if (options.json) {
    api::Json out = {{"file", options.file}, {"submitted", false}, {"jobs", api::Json::array()}};
    for (const exec::SlurmSubmission& submission : submissions) {
      out["jobs"].push_back(
          submission_json(submission, submissions, places[submission.specs.front()]));
    }
    print_json(out);
    return kExitOk;
  }
  for (const exec::SlurmSubmission& submission : submissions) {
    const std::string dependency = dependency_by_name(submission, submissions);
    print_text(fmt::format("# {} -> sbatch --hold{}{} (nothing submitted)\n",
                           places[submission.specs.front()],
                           dependency.empty() ? "" : " --dependency=" + dependency,
                           options.sbatch_args.empty() ? "" : " ..."));
    print_text(submission.script + "\n");
  }
  return kExitOk;
}

std::string notes_text(const std::vector<exec::SlurmSubmission>& submissions) {
  std::string text;
  for (const exec::SlurmSubmission& submission : submissions) {
    for (const std::string& note : submission.notes) {
      text += fmt::format("note: {}: {}\n", printable(submission.name), note);
    }
  }
  return text;
}

void print_submitted(const std::vector<exec::SlurmSubmission>& submissions,
                     const std::vector<std::string>& ids, const std::vector<std::string>& places,
                     const SlurmCmdOptions& options) {
  if (options.json) {
    api::Json out = {{"file", options.file}, {"submitted", true}, {"jobs", api::Json::array()}};
    for (std::size_t i = 0; i < submissions.size(); ++i) {
      api::Json job =
          submission_json(submissions[i], submissions, places[submissions[i].specs.front()]);
      job["slurm_id"] = ids[i];
      job["dependency"] = exec::slurm_dependency(submissions[i], ids);
      job["output"] = log_path(submissions[i], ids[i]);
      out["jobs"].push_back(std::move(job));
    }
    print_json(out);
    return;
  }
  std::size_t width = 4;
  for (const exec::SlurmSubmission& submission : submissions) {
    width = std::max(width, submission.name.size());
  }
  std::string text = fmt::format("submitted {} to Slurm: {} job{}\n", options.file, ids.size(),
                                 ids.size() == 1 ? "" : "s");
  text += fmt::format("{:<{}}  {:<10}  {}\n", "NAME", width, "SLURM ID", "OUTPUT");
  for (std::size_t i = 0; i < submissions.size(); ++i) {
    const std::string& array = submissions[i].array;
    text += fmt::format("{:<{}}  {:<10}  {}{}\n", printable(submissions[i].name), width, ids[i],
                        log_path(submissions[i], ids[i]),
                        array.empty() ? "" : " (array " + array + ")");
  }
  text += notes_text(submissions);
  std::string listed;
  for (const std::string& id : ids) listed += (listed.empty() ? "" : ",") + id;
  text += fmt::format("follow them with `squeue -j {}`; `scancel {}` cancels them\n", listed,
                      fmt::join(ids, " "));
  print_text(text);
}

int submit_file(const SlurmCmdOptions& options) {
  Result<std::string> text = read_job_file(options.file);
  if (!text.ok()) return fail("slurm", text.status());
  Result<engine::SubmitContext> context = submit_context();
  if (!context.ok()) return fail("slurm", context.status());
  std::vector<std::string> places;
  Result<std::vector<store::JobSpec>> specs =
      engine::parse_job_file(*text, options.file, *context, &places);
  if (!specs.ok()) return fail("slurm", specs.status());
  exec::SlurmBatchOptions batch{options.output, context->environment};
  Result<std::vector<exec::SlurmSubmission>> submissions = exec::slurm_submissions(*specs, batch);
  if (!submissions.ok()) return fail("slurm", submissions.status());
  if (options.print) return print_scripts(*submissions, places, options);
  std::unique_ptr<exec::SlurmCommands> slurm = exec::real_slurm_commands();
  Result<std::vector<std::string>> ids =
      exec::submit_to_slurm(*submissions, options.sbatch_args, *slurm);
  if (!ids.ok()) {
    return fail("slurm",
                Status(ids.status().code(),
                       engine::locate_batch_error(ids.status(), *specs, places, options.file)));
  }
  print_submitted(*submissions, *ids, places, options);
  return kExitOk;
}

}  // namespace

void add_slurm_command(CLI::App& app, CommandOutcome& outcome) {
  auto options = std::make_shared<SlurmCmdOptions>();
  CLI::App* command = app.add_subcommand(
      "slurm",
      "Submit the jobs of a YAML job file to a Slurm cluster with sbatch, all or none "
      "(docs/slurm.md)");
  command->add_option("FILE", options->file, "The job file (docs/job-files.md)")->required();
  command->add_option("SBATCH_OPTIONS", options->sbatch_args,
                      "After --: options given to every sbatch, e.g. -- --partition=gpu "
                      "--account=ml");
  command->add_flag("--print", options->print, "Print the batch scripts and submit nothing");
  command->add_option("--output", options->output,
                      "Slurm's --output pattern for the jobs' logs, relative to each job's "
                      "folder (default %x-%j.out; an array's %x-%A_%a.out)");
  command->add_flag("--json", options->json, "Print JSON");
  command->callback([options, &outcome] { outcome.exit_code = submit_file(*options); });
}

}  // namespace fastgpu::cli
