// fastgpu slurm FILE: the jobs of a job file, or a script with #FASTGPU lines, submitted to a
// Slurm cluster with sbatch, as `fastgpu run` or `fastgpu submit` would run them here
// (docs/slurm.md).
#include <fmt/format.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cli/daemon_client.h"
#include "cli/display_width.h"
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
  bool wait = false;
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
    if (pattern[i] == '%' && (next == 'x' || next == 'j' || next == 'A' || next == '%')) {
      path += next == 'x' ? submission.name : next == '%' ? "%" : id;
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
                   {"held", submission.held},
                   {"notes", submission.notes}};
  return out;
}

// The notes, each once, with the jobs it is about: "note (prep, pack-1 and 3 more): ...".
std::string notes_text(const std::vector<exec::SlurmSubmission>& submissions) {
  std::vector<std::pair<std::string, std::vector<std::string>>> notes;  // in first-seen order
  for (const exec::SlurmSubmission& submission : submissions) {
    for (const std::string& note : submission.notes) {
      auto same = std::find_if(notes.begin(), notes.end(),
                               [&](const auto& told) { return told.first == note; });
      if (same == notes.end()) same = notes.insert(notes.end(), {note, {}});
      same->second.push_back(printable(submission.name));
    }
  }
  constexpr std::size_t kNamed = 4;
  std::string text;
  for (const auto& [note, jobs] : notes) {
    const std::size_t named = std::min(jobs.size(), kNamed);
    std::string who = fmt::format(
        "{}", fmt::join(std::vector<std::string>(jobs.begin(), jobs.begin() + named), ", "));
    if (jobs.size() > named) who += fmt::format(" and {} more", jobs.size() - named);
    text += fmt::format("note ({}): {}\n", who, note);
  }
  return text;
}

// The words as a shell reads them back: "--partition=gpu '--comment=a b'".
std::string shell_words(const std::vector<std::string>& words) {
  std::string text;
  for (const std::string& word : words) text += (text.empty() ? "" : " ") + shell_quote(word);
  return text;
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
    print_text(fmt::format(
        "# {} -> sbatch --hold{}{} (nothing submitted{})\n", places[submission.specs.front()],
        dependency.empty() ? "" : " --dependency=" + dependency,
        options.sbatch_args.empty() ? "" : " " + shell_words(options.sbatch_args),
        submission.held ? "; hold: true, so it stays held until scontrol release" : ""));
    print_text(submission.script + "\n");
  }
  print_text(notes_text(submissions));
  return kExitOk;
}

api::Json submitted_json(const std::vector<exec::SlurmSubmission>& submissions,
                         const std::vector<std::string>& ids,
                         const std::vector<std::string>& places, const SlurmCmdOptions& options) {
  api::Json out = {{"file", options.file}, {"submitted", true}, {"jobs", api::Json::array()}};
  for (std::size_t i = 0; i < submissions.size(); ++i) {
    api::Json job =
        submission_json(submissions[i], submissions, places[submissions[i].specs.front()]);
    job["slurm_id"] = ids[i];
    job["dependency"] = exec::slurm_dependency(submissions[i], ids);
    job["output"] = log_path(submissions[i], ids[i]);
    out["jobs"].push_back(std::move(job));
  }
  return out;
}

// The table of what was submitted (text only: JSON comes whole at the end).
void print_submitted(const std::vector<exec::SlurmSubmission>& submissions,
                     const std::vector<std::string>& ids, const SlurmCmdOptions& options) {
  std::size_t width = 4;
  for (const exec::SlurmSubmission& submission : submissions) {
    width = std::max(width, display_width(printable(submission.name)));
  }
  std::string text = fmt::format("submitted {} to Slurm: {} job{}\n", options.file, ids.size(),
                                 ids.size() == 1 ? "" : "s");
  text += fmt::format("{:<{}}  {:<10}  {}\n", "NAME", width, "SLURM ID", "OUTPUT");
  for (std::size_t i = 0; i < submissions.size(); ++i) {
    const std::string& array = submissions[i].array;
    text += fmt::format("{}  {:<10}  {}{}{}\n", pad_to_width(printable(submissions[i].name), width),
                        ids[i], log_path(submissions[i], ids[i]),
                        array.empty() ? "" : " (array " + array + ")",
                        submissions[i].held ? " (held: `scontrol release " + ids[i] + "`)" : "");
  }
  text += notes_text(submissions);
  text += fmt::format("follow them with `squeue -j {}`; `scancel {}` cancels them\n",
                      fmt::join(ids, ","), fmt::join(ids, " "));
  print_text(text);
}

// SIGINT, SIGTERM and SIGHUP blocked while it lives; one that came meanwhile is delivered
// when it ends (the process then ends as it would have).
class BlockedStops {
 public:
  BlockedStops() {
    sigemptyset(&stops_);
    for (int signal : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&stops_, signal);
    ::sigprocmask(SIG_BLOCK, &stops_, &old_);
  }
  ~BlockedStops() { ::sigprocmask(SIG_SETMASK, &old_, nullptr); }
  BlockedStops(const BlockedStops&) = delete;
  BlockedStops& operator=(const BlockedStops&) = delete;

  // Whether one of them came.
  bool asked() const {
    sigset_t pending;
    sigemptyset(&pending);
    ::sigpending(&pending);
    for (int signal : {SIGINT, SIGTERM, SIGHUP}) {
      if (sigismember(&pending, signal) == 1) return true;
    }
    return false;
  }

 private:
  sigset_t stops_{};
  sigset_t old_{};
};

// The folder of a log pattern, %% read as %; nullopt when Slurm fills parts of it in.
std::optional<std::filesystem::path> log_folder(const std::string& pattern) {
  const std::string folder = std::filesystem::path(pattern).parent_path().string();
  std::string plain;
  for (std::size_t i = 0; i < folder.size(); ++i) {
    if (folder[i] != '%') {
      plain += folder[i];
    } else if (i + 1 < folder.size() && folder[i + 1] == '%') {
      plain += '%';
      ++i;
    } else {
      return std::nullopt;
    }
  }
  return std::filesystem::path(plain);
}

// Slurm fails a job whose folder or log folder does not exist at launch, with no log at
// all: checked here, where the cluster's shared folders are seen as its nodes see them.
Status check_folders(const std::vector<exec::SlurmSubmission>& submissions,
                     const std::vector<store::JobSpec>& specs) {
  for (const exec::SlurmSubmission& submission : submissions) {
    const store::JobSpec& spec = specs[submission.specs.front()];
    std::error_code error;
    std::string problem;
    const std::optional<std::filesystem::path> logs = log_folder(submission.output);
    if (!std::filesystem::is_directory(spec.working_dir, error)) {
      problem = fmt::format(
          "working folder '{}' does not exist; Slurm would fail the job at its start, with no "
          "log (make it, or fix workdir)",
          printable(spec.working_dir));
    } else if (logs && !std::filesystem::is_directory(*logs, error)) {
      problem = fmt::format(
          "the folder of its log, '{}', does not exist; Slurm would fail the job at its "
          "start, with no log (make it: mkdir -p {})",
          printable(logs->string()), shell_quote(logs->string()));
    }
    if (!problem.empty()) {
      return invalid_argument(problem).with_batch_job(submission.specs.front(), problem);
    }
  }
  return {};
}

// An array's members in the order of their indices (scontrol lists them newest first).
void order_members(std::vector<exec::SlurmJobState>& jobs) {
  const auto task = [](const exec::SlurmJobState& job) {
    const std::size_t underscore = job.id.find('_');
    if (underscore == std::string::npos) return -1L;
    const std::string index = job.id.substr(underscore + 1);
    return index.find_first_not_of("0123456789") == std::string::npos ? std::stol(index)
                                                                      : 1L << 40;  // "[2-3]"
  };
  std::stable_sort(jobs.begin(), jobs.end(),
                   [&](const auto& a, const auto& b) { return task(a) < task(b); });
}

// Every job of `ids` once each has settled (exec::slurm_job_settled), asked every 2 s.
Result<std::vector<exec::SlurmJobState>> wait_settled(const std::vector<std::string>& ids,
                                                      exec::SlurmCommands& slurm) {
  for (;;) {
    std::vector<exec::SlurmJobState> all;
    bool settled = true;
    for (const std::string& id : ids) {
      Result<std::vector<exec::SlurmJobState>> jobs = slurm.jobs(id);
      if (!jobs.ok()) return jobs.status();
      if (jobs->empty()) {
        all.push_back({id, "", "UNKNOWN", "slurmctld no longer knows it", "", ""});
        continue;
      }
      order_members(*jobs);
      for (const exec::SlurmJobState& job : *jobs)
        settled = settled && exec::slurm_job_settled(job);
      all.insert(all.end(), jobs->begin(), jobs->end());
    }
    if (settled) return all;
    std::this_thread::sleep_for(std::chrono::seconds(2));
  }
}

// "1", "signal 9" or "-" from Slurm's "STATUS:SIGNAL".
std::string exit_text(const std::string& exit_code) {
  const std::size_t colon = exit_code.find(':');
  if (colon == std::string::npos) return exit_code.empty() ? "-" : exit_code;
  const std::string signal = exit_code.substr(colon + 1);
  return signal != "0" ? "signal " + signal : exit_code.substr(0, colon);
}

// The jobs' ends, as `run` reports a batch's: a row each, then those that did not complete.
int report_ends(const std::vector<exec::SlurmJobState>& jobs, api::Json submitted,
                const SlurmCmdOptions& options) {
  std::vector<std::string> not_completed;
  std::vector<std::string> never_run;
  for (const exec::SlurmJobState& job : jobs) {
    if (job.state == "COMPLETED") continue;
    // Slurm's reason says more than the state where there is one: JobLaunchFailure (no
    // log at all), DependencyNeverSatisfied, TimeLimit.
    const bool told = !job.reason.empty() && job.reason != "None" &&
                      job.reason != "NonZeroExitCode" && job.reason != job.state;
    not_completed.push_back(
        fmt::format("{} ({}{})", job.id, job.state, told ? ", " + job.reason : std::string()));
    if (job.state == "PENDING") never_run.push_back(job.id);
  }
  if (options.json) {
    api::Json& out = submitted;
    out["ended"] = api::Json::array();
    for (const exec::SlurmJobState& job : jobs) {
      out["ended"].push_back({{"slurm_id", job.id},
                              {"name", job.name},
                              {"state", job.state},
                              {"reason", job.reason},
                              {"exit_code", job.exit_code},
                              {"run_time", job.run_time}});
    }
    print_json(out);
  } else {
    std::size_t width = 4;
    for (const exec::SlurmJobState& job : jobs) {
      width = std::max(width, display_width(printable(job.name)));
    }
    std::string text = fmt::format("{:<{}}  {:<10}  {:<10}  {:<9}  {}\n", "NAME", width, "SLURM ID",
                                   "STATE", "EXIT", "RUN TIME");
    for (const exec::SlurmJobState& job : jobs) {
      // One that never started has no exit status (a launch failure reads "0:53").
      const bool ran = job.state != "PENDING" && job.reason != "JobLaunchFailure" &&
                       !(job.state == "CANCELLED" && job.run_time == "00:00:00") &&
                       !job.run_time.empty();
      text += fmt::format("{}  {:<10}  {:<10}  {:<9}  {}\n",
                          pad_to_width(printable(job.name), width), job.id, job.state,
                          ran ? exit_text(job.exit_code) : "-", ran ? job.run_time : "-");
    }
    if (!not_completed.empty()) {
      text += fmt::format(
          "{} of {} jobs did not complete: {}; `scontrol show job ID` and "
          "their logs say more\n",
          not_completed.size(), jobs.size(), fmt::join(not_completed, ", "));
    }
    if (!never_run.empty()) {
      // FastGPU cancels such a job itself; Slurm keeps it unless the cluster says otherwise.
      text += fmt::format(
          "a job it waits for did not complete, so Slurm will never run {}; `scancel {}` "
          "removes {}\n",
          fmt::join(never_run, ", "), fmt::join(never_run, " "),
          never_run.size() == 1 ? "it" : "them");
    }
    print_text(text);
  }
  return not_completed.empty() ? kExitOk : kExitFailure;
}

// The value of an #SBATCH --output (-o) option, given as its words; nullopt for another.
std::optional<std::string> output_value(const std::vector<std::string>& words) {
  const std::string& first = words.front();
  if ((first == "--output" || first == "-o") && words.size() > 1) return words[1];
  if (first.starts_with("--output=")) return first.substr(std::string_view("--output=").size());
  if (first.starts_with("-o") && first.size() > 2) return first.substr(2);
  return std::nullopt;
}

// What a script's #SBATCH options that FastGPU does not read still mean to Slurm: its
// --output names the jobs' logs, and the others are passed on in the batch scripts.
struct ScriptOptions {
  std::optional<std::string> output;
  std::vector<std::vector<std::string>> passed_on;
};
ScriptOptions script_options(const JobFile& file) {
  ScriptOptions options;
  if (!file.script) return options;
  for (const std::vector<std::string>& words : file.script->left_out_words) {
    if (std::optional<std::string> output = output_value(words)) {
      options.output = std::move(output);
    } else {
      options.passed_on.push_back(words);
    }
  }
  return options;
}

int submit_file(const SlurmCmdOptions& options) {
  const Status sbatch_options = exec::check_sbatch_options(options.sbatch_args);
  if (!sbatch_options.ok()) return usage_error("slurm", sbatch_options.message());
  // Every variable the file sets is exported by the script, even one the submitter has
  // too: a cluster's SBATCH_EXPORT=NONE passes nothing else on.
  Result<JobFile> file = load_job_file(options.file, /*inherit_environment=*/false);
  if (!file.ok()) return fail("slurm", file.status());
  const std::vector<std::string>& places = file->places;
  // A refusal about one job, told at its place in the file.
  const auto fail_located = [&](const Status& refused) {
    return fail("slurm", Status(refused.code(), engine::locate_batch_error(refused, file->specs,
                                                                           places, options.file)));
  };
  // The command line's --output over the script's.
  ScriptOptions script = script_options(*file);
  exec::SlurmBatchOptions batch{
      options.output.empty() ? script.output.value_or("") : options.output,
      file->context.environment, std::move(script.passed_on),
      file->script ? file->script->gpu_type : std::nullopt};
  Result<std::vector<exec::SlurmSubmission>> submissions =
      exec::slurm_submissions(file->specs, batch);
  if (!submissions.ok()) return fail_located(submissions.status());
  if (options.print) return print_scripts(*submissions, places, options);
  const Status folders = check_folders(*submissions, file->specs);
  if (!folders.ok()) return fail_located(folders);
  std::unique_ptr<exec::SlurmCommands> slurm = exec::real_slurm_commands();
  // Ctrl-C (or a hang-up, a SIGTERM) while the jobs go in, held: it stops the submission
  // between two sbatch calls and cancels those taken, instead of leaving them held for
  // ever. Blocked meanwhile (in sbatch too, which ends its call first) and delivered once
  // what was done is told.
  std::optional<BlockedStops> blocked(std::in_place);
  Result<std::vector<std::string>> ids = exec::submit_to_slurm(
      *submissions, options.sbatch_args, *slurm, [&] { return blocked->asked(); });
  if (!ids.ok()) return fail_located(ids.status());
  api::Json submitted = submitted_json(*submissions, *ids, places, options);
  if (!options.json) print_submitted(*submissions, *ids, options);
  if (!options.wait) {
    if (options.json) print_json(submitted);
    return kExitOk;
  }
  blocked.reset();
  if (!options.json) {
    print_text("waiting for them to end (Ctrl-C stops the waiting, not the jobs)\n");
  }
  Result<std::vector<exec::SlurmJobState>> ends = wait_settled(*ids, *slurm);
  if (!ends.ok()) return fail("slurm", ends.status());
  return report_ends(*ends, std::move(submitted), options);
}

}  // namespace

void add_slurm_command(CLI::App& app, CommandOutcome& outcome) {
  auto options = std::make_shared<SlurmCmdOptions>();
  CLI::App* command = app.add_subcommand(
      "slurm",
      "Submit the jobs of a YAML job file, or a script with #FASTGPU lines, to a Slurm cluster "
      "with sbatch, all or none (docs/slurm.md)");
  command
      ->add_option("FILE", options->file,
                   "The job file (docs/job-files.md), or a batch script (#! on its first line) "
                   "whose #FASTGPU lines give its flags, as `fastgpu submit ./SCRIPT` reads them")
      ->required();
  command->add_option("SBATCH_OPTIONS", options->sbatch_args,
                      "After --: options given to every sbatch, e.g. -- --partition=gpu "
                      "--account=ml");
  command->add_flag("--print", options->print, "Print the batch scripts and submit nothing");
  command->add_option("--output", options->output,
                      "Slurm's --output pattern for the jobs' logs, relative to each job's "
                      "folder (default %x-%j.out; an array's %x-%A_%a.out)");
  command->add_flag("--wait", options->wait,
                    "Wait until every job has ended, print how each ended, and exit 1 if any "
                    "did not complete");
  command->add_flag("--json", options->json, "Print JSON");
  command->callback([options, &outcome] { outcome.exit_code = submit_file(*options); });
}

}  // namespace fastgpu::cli
