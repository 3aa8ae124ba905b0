#include "fastgpu/exec/slurm_batch.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>
#include <string_view>
#include <unordered_set>

#include "exec/job_process.h"
#include "fastgpu/core/text.h"
#include "fastgpu/core/units.h"

namespace fastgpu::exec {
namespace {

// sbatch's --signal takes at most this many seconds before the limit.
constexpr std::int64_t kMaxSignalSeconds = 65535;
// Slurm's nice values are below 2^31 - 3.
constexpr std::int64_t kMaxNice = 2147483645;

// "job 'train'": how an error names a job.
std::string job_label(const store::JobSpec& spec) {
  return spec.name.empty()
             ? fmt::format("the job running '{}'",
                           printable(spec.argv.empty() ? spec.shell_command : spec.argv[0]))
             : fmt::format("job '{}'", printable(spec.name));
}

// An error about the job `index` of the batch, which the CLI tells at its place in the file.
Status about_job(const Status& problem, const store::JobSpec& spec, std::size_t index) {
  return Status(problem.code(), job_label(spec) + ": " + problem.message())
      .with_batch_job(index, problem.message());
}

// Whether `text` holds only letters, digits, '_', '-', '.' and the characters of `also`.
bool plain_word(std::string_view text, std::string_view also) {
  return std::all_of(text.begin(), text.end(), [also](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
           also.find(c) != std::string_view::npos;
  });
}

// Slurm's job name: the job's name, else its program's (sbatch would say "sbatch"); a
// shell string's first word when it is a program's name ("python train.py"), else "sh"
// ("FOO=1 env", "(cd x && make)").
std::string job_name(const store::JobSpec& spec) {
  if (!spec.name.empty()) return spec.name;
  if (!spec.argv.empty()) return std::filesystem::path(spec.argv[0]).filename().string();
  const std::string_view command = trim(spec.shell_command);
  const std::string word(command.substr(0, command.find_first_of(" \t\n")));
  return !word.empty() && plain_word(word, "/") ? std::filesystem::path(word).filename().string()
                                                : "sh";
}

// A value as an #SBATCH line carries it: in double quotes when it holds white space or a
// ' (sbatch splits the line as a shell would). Slurm reads a double quote as the start or
// end of a quoted part and has no escape for it.
Result<std::string> sbatch_value(std::string_view value, std::string_view what) {
  if (value.find_first_of("\"\n") != std::string_view::npos) {
    return invalid_argument(
        fmt::format("{} '{}' holds a double quote or a line break, which an #SBATCH line "
                    "cannot carry; rename it",
                    what, printable(value)));
  }
  const bool quoted = std::any_of(value.begin(), value.end(), [](char c) {
    return std::isspace(static_cast<unsigned char>(c)) || c == '\'';
  });
  return quoted ? fmt::format("\"{}\"", value) : std::string(value);
}

// "0-3,7,9-10": the indices as --array takes them. REQUIRES: ascending.
std::string array_ranges(const std::vector<std::uint32_t>& indices) {
  std::string ranges;
  for (std::size_t i = 0; i < indices.size();) {
    std::size_t last = i;
    while (last + 1 < indices.size() && indices[last + 1] == indices[last] + 1) ++last;
    if (!ranges.empty()) ranges += ',';
    ranges +=
        last == i ? std::to_string(indices[i]) : fmt::format("{}-{}", indices[i], indices[last]);
    i = last + 1;
  }
  return ranges;
}

// Minutes as --time takes them, "D-HH:MM:00".
std::string slurm_minutes(std::int64_t minutes) {
  return fmt::format("{}-{:02}:{:02}:00", minutes / (24 * 60), minutes / 60 % 24, minutes % 60);
}

// The variables the job file sets or changes: what the job would not get from sbatch's
// copy of the submitter's environment.
std::vector<std::string> file_variables(const store::JobSpec& spec,
                                        const std::unordered_set<std::string>& inherited) {
  std::vector<std::string> set;
  for (const std::string& entry : spec.environment) {
    if (!inherited.contains(entry)) set.push_back(entry);
  }
  return set;
}

std::string export_line(std::string_view entry) {
  const std::size_t equals = entry.find('=');
  return fmt::format("export {}={}\n", entry.substr(0, equals),
                     shell_quote(entry.substr(equals + 1)));
}

// The command, quoted: "python train.py", or "/bin/sh -c 'STRING'" for a shell string.
std::string command_words(const store::JobSpec& spec) {
  if (spec.argv.empty()) return "/bin/sh -c " + shell_quote(spec.shell_command);
  std::string words;
  for (const std::string& arg : spec.argv) words += (words.empty() ? "" : " ") + shell_quote(arg);
  return words;
}

// The script's last lines for a job with a grace. Slurm's early signal (--signal=B:USR1)
// reaches the batch shell alone, where FastGPU signals the job's process group, so the
// command runs as the shell's child and the shell passes SIGTERM on to the group, which
// slurmstepd makes the batch shell lead (else to the command). docs/slurm.md has each line's
// reason: the traps set before the command starts (its signal may come at once); TERM
// ignored, as slurmstepd signals the job itself, and INT and QUIT, which a background
// command starts with ignored, given back to the command, and so is the script's stdin
// (Slurm's --input; a background command's is /dev/null); the wait resumed when the USR1
// cut it short (status 138 with `stop` set: bash may have reaped the command already, and
// keeps its status for the next wait); a death by a signal passed on as the shell's own.
std::string forwarding_lines(const store::JobSpec& spec) {
  return "trap '' TERM\n"
         "trap 'stop=1; kill -TERM -- -$$ 2>/dev/null || kill -TERM \"$job\"' USR1\n"
         "(trap - INT QUIT TERM; exec " +
         command_words(spec) +
         ") <&0 &\n"
         "job=$!\n"
         "stop=; wait \"$job\"; status=$?\n"
         "while [ -n \"$stop\" ] && [ \"$status\" -eq 138 ]; do stop=; wait \"$job\"; "
         "status=$?; done\n"
         "if [ \"$status\" -gt 128 ]; then trap - TERM USR1; ulimit -c 0; "
         "kill -\"$((status - 128))\" $$; fi\n"
         "exit \"$status\"\n";
}

// Slurm's time limit for the job, in its whole minutes: the time limit and grace, rounded
// up. REQUIRES: the job has a time limit.
std::int64_t limit_minutes(const store::JobSpec& spec) {
  return (*spec.time_limit_s + spec.kill_grace_s.value_or(0) + 59) / 60;
}

// Seconds before Slurm's limit at which the job gets SIGTERM: at its own time limit. 0
// without a grace and a limit.
std::int64_t signal_seconds(const store::JobSpec& spec) {
  if (!spec.time_limit_s || spec.kill_grace_s.value_or(0) <= 0) return 0;
  return limit_minutes(spec) * 60 - *spec.time_limit_s;
}

// The time limit and grace as Slurm keeps them: the job gets SIGTERM at its limit, as
// here, and SIGKILL `grace` later; Slurm counts limits in whole minutes.
void add_time(const store::JobSpec& spec, std::vector<std::string>& lines,
              std::vector<std::string>& notes) {
  if (!spec.time_limit_s) {
    if (spec.kill_grace_s) {
      notes.push_back(fmt::format(
          "grace {} applies only at a time limit on Slurm; a cancel gives the cluster's KillWait",
          format_duration_exact(std::chrono::seconds(*spec.kill_grace_s))));
    }
    return;
  }
  const std::int64_t grace = spec.kill_grace_s.value_or(0);
  const std::int64_t seconds = *spec.time_limit_s + grace;
  const std::int64_t minutes = limit_minutes(spec);
  lines.push_back("--time=" + slurm_minutes(minutes));
  if (seconds % 60 != 0) {
    const std::string limit = format_duration_exact(std::chrono::seconds(seconds));
    notes.push_back(
        grace > 0 ? fmt::format("time {} and grace {} make a limit of {}, which Slurm counts in "
                                "whole minutes: {}m",
                                format_duration_exact(std::chrono::seconds(*spec.time_limit_s)),
                                format_duration_exact(std::chrono::seconds(grace)), limit, minutes)
                  : fmt::format("Slurm counts time limits in whole minutes: {} becomes {}m", limit,
                                minutes));
  }
  if (grace > 0) {
    lines.push_back(fmt::format("--signal=B:USR1@{}", signal_seconds(spec)));
    notes.push_back(
        "grace: at the time limit the batch shell passes SIGTERM to every process of the job, "
        "as here; Slurm may send its signal up to a minute early");
  } else {
    notes.push_back(
        "time without grace: at the limit, the cluster's KillWait comes between SIGTERM and "
        "SIGKILL (FastGPU gives 10s here)");
  }
}

// What FastGPU keeps that Slurm's GRES cannot: memory per GPU, a shared GPU, a deadline.
// Said without the job's values, so the CLI tells each once for all the jobs it is about.
void add_gpu_notes(const store::JobSpec& spec, std::vector<std::string>& notes) {
  if (spec.gpus > 0 && spec.gpu_mem) {
    notes.push_back(
        "gpu-mem: Slurm gives whole GPUs and does not pack by memory; FASTGPU_GPU_MEM_QUOTA "
        "tells the job its gpu-mem in bytes, as here");
  }
  if (spec.gpus > 0 && spec.util_share < 1.0) {
    notes.push_back("share: Slurm gives a job its GPUs whole, not shared");
  }
  if (spec.deadline) {
    notes.push_back(
        "deadline: not passed to Slurm, whose --deadline cancels a job instead of ordering it");
  }
}

struct Group {
  std::size_t first = 0;
  std::vector<std::size_t> specs;
};

// Consecutive members of one new array make one group; every other spec its own.
std::vector<Group> group_arrays(const std::vector<store::JobSpec>& specs) {
  std::vector<Group> groups;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const bool joins = !groups.empty() && specs[i].array && specs[groups.back().first].array &&
                       specs[i].array->array_id == specs[groups.back().first].array->array_id;
    if (!joins) groups.push_back({i, {}});
    groups.back().specs.push_back(i);
  }
  return groups;
}

class Translator {
 public:
  Translator(const std::vector<store::JobSpec>& specs, const SlurmBatchOptions& options)
      : specs_(specs),
        options_(options),
        inherited_(options.inherited_environment.begin(), options.inherited_environment.end()),
        submission_of_(specs.size(), 0) {
    if (!specs.empty()) {
      top_priority_ =
          std::max_element(specs.begin(), specs.end(), [](const auto& a, const auto& b) {
            return a.priority < b.priority;
          })->priority;
    }
  }

  Result<SlurmSubmission> translate(const Group& group, std::size_t index) {
    const store::JobSpec& spec = specs_[group.first];
    for (std::size_t member : group.specs) submission_of_[member] = index;
    SlurmSubmission submission;
    submission.specs = group.specs;
    submission.name = job_name(spec);
    submission.held = spec.held_by.has_value();
    add_waits(spec, submission);
    std::vector<std::string> lines;
    const Status options = add_options(spec, group, submission, lines);
    if (!options.ok()) return about_job(options, spec, group.first);
    submission.script = script(spec, lines);
    return submission;
  }

 private:
  void add_waits(const store::JobSpec& spec, SlurmSubmission& submission) const {
    std::set<std::pair<std::size_t, store::DependencyKind>> seen;
    for (const store::Dependency& dependency : spec.dependencies) {
      if (!dependency.batch_index) {
        submission.waits_for_ids.emplace_back(dependency.kind, dependency.job.value());
        continue;
      }
      const std::size_t earlier = submission_of_[*dependency.batch_index];
      if (seen.insert({earlier, dependency.kind}).second) {
        submission.waits_for.push_back({earlier, dependency.kind});
      }
    }
  }

  Status add_options(const store::JobSpec& spec, const Group& group, SlurmSubmission& submission,
                     std::vector<std::string>& lines) const {
    Result<std::string> name = sbatch_value(submission.name, "name");
    Result<std::string> folder = sbatch_value(spec.working_dir, "working folder");
    submission.output = output_pattern(spec);
    Result<std::string> output = sbatch_value(submission.output, "--output");
    for (const Result<std::string>* value : {&name, &folder, &output}) {
      if (!value->ok()) return value->status();
    }
    if (submission.output.find("%x") != std::string::npos &&
        submission.name.find('/') != std::string::npos) {
      return invalid_argument(fmt::format(
          "name '{}' holds a '/', which Slurm's %x puts into the log's path (a folder that "
          "does not exist: the job would fail with no log); rename the job, or give --output "
          "a pattern without %x",
          printable(submission.name)));
    }
    lines.push_back("--job-name=" + *name);
    lines.push_back("--chdir=" + *folder);
    lines.push_back("--output=" + *output);
    if (spec.gpus > 0) {
      const std::string type = options_.gpu_type ? *options_.gpu_type + ":" : "";
      lines.push_back(fmt::format("--gres=gpu:{}{}", type, spec.gpus));
    }
    add_time(spec, lines, submission.notes);
    const std::int64_t signal_before = signal_seconds(spec);
    if (signal_before > kMaxSignalSeconds) {
      return invalid_argument(fmt::format(
          "grace {} is longer than Slurm's --signal takes: SIGTERM {}s before the limit (the "
          "time limit and grace, rounded up to whole minutes), where {}s is the most; shorten it",
          format_duration_exact(std::chrono::seconds(*spec.kill_grace_s)), signal_before,
          kMaxSignalSeconds));
    }
    add_array(group, submission, lines);
    const std::int64_t nice = static_cast<std::int64_t>(top_priority_) - spec.priority;
    if (nice > 0) lines.push_back(fmt::format("--nice={}", std::min(nice, kMaxNice)));
    lines.push_back(spec.restartable ? "--requeue" : "--no-requeue");
    add_gpu_notes(spec, submission.notes);
    for (const std::vector<std::string>& words : options_.passed_on) {
      std::string line;
      for (const std::string& word : words) {
        Result<std::string> quoted = sbatch_value(word, "the script's #SBATCH option");
        if (!quoted.ok()) return quoted.status();
        line += (line.empty() ? "" : " ") + *quoted;
      }
      lines.push_back(std::move(line));
    }
    return {};
  }

  // The pattern in the job's folder, whose own '%' Slurm would read as a pattern's.
  std::string output_pattern(const store::JobSpec& spec) const {
    std::string pattern = options_.output;
    if (pattern.empty()) pattern = spec.array ? "%x-%A_%a.out" : "%x-%j.out";
    if (std::filesystem::path(pattern).is_absolute()) return pattern;
    std::string folder;
    for (char c : spec.working_dir) folder += c == '%' ? std::string("%%") : std::string(1, c);
    return (std::filesystem::path(folder) / pattern).string();
  }

  void add_array(const Group& group, SlurmSubmission& submission,
                 std::vector<std::string>& lines) const {
    const store::JobSpec& spec = specs_[group.first];
    if (!spec.array) return;
    std::vector<std::uint32_t> indices;
    for (std::size_t member : group.specs) indices.push_back(specs_[member].array->index);
    std::sort(indices.begin(), indices.end());
    submission.array = array_ranges(indices);
    if (spec.array->max_running > 0)
      submission.array += fmt::format("%{}", spec.array->max_running);
    lines.push_back("--array=" + submission.array);
  }

  std::string script(const store::JobSpec& spec, const std::vector<std::string>& lines) const {
    const bool forwards = signal_seconds(spec) > 0;
    std::string text = forwards ? "#!/bin/bash\n" : "#!/bin/sh\n";
    for (const std::string& line : lines) text += "#SBATCH " + line + "\n";
    text += "\n# Written by `fastgpu slurm`: FastGPU's job environment, then the command.\n";
    for (const std::string& entry : file_variables(spec, inherited_)) {
      if (!is_set_by_fastgpu(entry)) text += export_line(entry);
    }
    // No GPU for a CPU-only job, as here: Slurm leaves the variable as the submitter had it.
    if (spec.gpus == 0) text += "export CUDA_VISIBLE_DEVICES=\n";
    text += "export CUDA_DEVICE_ORDER=PCI_BUS_ID\n";
    text += "export FASTGPU_JOB_ID=\"$SLURM_JOB_ID\"\n";
    if (spec.array) text += "export FASTGPU_ARRAY_INDEX=\"$SLURM_ARRAY_TASK_ID\"\n";
    if (spec.gpus > 0 && spec.gpu_mem) {
      text += fmt::format("export FASTGPU_GPU_MEM_QUOTA={}\n", *spec.gpu_mem);
    }
    if (!forwards) return text + "exec " + command_words(spec) + "\n";
    return text +
           "# At the time limit Slurm signals this shell alone (--signal=B:USR1); it passes "
           "SIGTERM\n# to every process of the job, then ends as the command ended.\n" +
           forwarding_lines(spec);
  }

  const std::vector<store::JobSpec>& specs_;
  const SlurmBatchOptions& options_;
  std::unordered_set<std::string> inherited_;
  std::vector<std::size_t> submission_of_;
  int top_priority_ = 0;
};

std::string_view kind_name(store::DependencyKind kind) {
  return kind == store::DependencyKind::kAfterAny ? "afterany" : "afterok";
}

// Several jobs with one log, one writing over the others': an --output without the job's
// id (%j), or an array's without %j or both %A and %a.
Status check_logs_apart(const std::vector<store::JobSpec>& specs, const std::string& output) {
  if (output.empty() || specs.size() < 2 || output.find("%j") != std::string::npos) return {};
  const bool arrays_apart =
      output.find("%A") != std::string::npos && output.find("%a") != std::string::npos;
  const bool any_array = std::any_of(specs.begin(), specs.end(),
                                     [](const store::JobSpec& spec) { return spec.array; });
  const bool jobs_apart = output.find("%A") != std::string::npos;
  if (jobs_apart && (arrays_apart || !any_array)) return {};
  return invalid_argument(fmt::format(
      "--output '{}' gives several jobs one log, each writing over the last; put the job's "
      "id in it (%j, e.g. {}-%j.out)",
      output, std::filesystem::path(output).stem().string()));
}

// The value of " KEY=" in one line of `scontrol show job -o` (values have no spaces, but
// for a few keys such as Command, which are not read here).
std::string field(std::string_view line, std::string_view key) {
  const std::string wanted = " " + std::string(key) + "=";
  const std::string padded = " " + std::string(line);
  const std::size_t at = padded.find(wanted);
  if (at == std::string::npos) return "";
  const std::size_t start = at + wanted.size();
  return padded.substr(start, padded.find(' ', start) - start);
}

}  // namespace

Result<std::vector<SlurmSubmission>> slurm_submissions(const std::vector<store::JobSpec>& specs,
                                                       const SlurmBatchOptions& options) {
  const Status apart = check_logs_apart(specs, options.output);
  if (!apart.ok()) return apart;
  // Checked once: it comes from a script, whose job (or array) is the batch.
  if (options.gpu_type && !plain_word(*options.gpu_type, "") && !specs.empty()) {
    return about_job(invalid_argument(fmt::format(
                         "GPU type '{}' is not a GRES type name (letters, digits, '_', '-', "
                         "'.'); fix the script's #SBATCH --gres or --gpus",
                         printable(*options.gpu_type))),
                     specs.front(), 0);
  }
  Translator translator(specs, options);
  std::vector<SlurmSubmission> submissions;
  for (const Group& group : group_arrays(specs)) {
    Result<SlurmSubmission> submission = translator.translate(group, submissions.size());
    if (!submission.ok()) return submission.status();
    submissions.push_back(std::move(submission).value());
  }
  return submissions;
}

Status check_sbatch_options(const std::vector<std::string>& args) {
  struct Owned {
    std::string_view long_name;
    std::string_view short_name;
    std::string_view instead;
  };
  static constexpr Owned kOwned[] = {
      {"--dependency", "-d", "the file's after"},
      {"--array", "-a", "the file's array"},
      {"--job-name", "-J", "the file's name"},
      {"--chdir", "-D", "the file's workdir"},
      {"--output", "-o", "fastgpu slurm --output"},
      {"--wrap", "", "the file's command"},
      {"--hold", "-H",
       "the file's hold (every job is submitted held, then released once all are in, but those "
       "with hold: true)"},
      {"--parsable", "", "nothing: fastgpu slurm reads the ids so"},
      {"--test-only", "", "--print, which shows each job's script"},
  };
  for (const std::string& arg : args) {
    if (!arg.starts_with('-')) {
      return invalid_argument(fmt::format(
          "'{}' is not an sbatch option: sbatch would run it as the batch script instead of "
          "the job's command; options go after -- with their values after '=' "
          "(-- --partition=gpu), and the jobs come from the file",
          printable(arg)));
    }
    for (const Owned& owned : kOwned) {
      const bool is_long =
          arg == owned.long_name || arg.starts_with(std::string(owned.long_name) + "=");
      const bool is_short =
          !owned.short_name.empty() && !arg.starts_with("--") && arg.starts_with(owned.short_name);
      if (is_long || is_short) {
        return invalid_argument(fmt::format("'{}': fastgpu slurm sets {} itself; use {}",
                                            printable(arg), owned.long_name, owned.instead));
      }
    }
  }
  return {};
}

std::string slurm_dependency(const SlurmSubmission& submission,
                             const std::vector<std::string>& ids) {
  std::string dependency;
  for (store::DependencyKind kind :
       {store::DependencyKind::kAfterOk, store::DependencyKind::kAfterAny}) {
    std::string targets;
    for (const SlurmSubmission::Wait& wait : submission.waits_for) {
      if (wait.kind == kind) targets += ":" + ids[wait.submission];
    }
    for (const auto& [id_kind, id] : submission.waits_for_ids) {
      if (id_kind == kind) targets += fmt::format(":{}", id);
    }
    if (targets.empty()) continue;
    if (!dependency.empty()) dependency += ',';
    dependency += fmt::format("{}{}", kind_name(kind), targets);
  }
  return dependency;
}

std::vector<SlurmJobState> parse_scontrol_jobs(std::string_view text) {
  std::vector<SlurmJobState> jobs;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (field(line, "JobId").empty()) continue;
    const std::string array = field(line, "ArrayJobId");
    SlurmJobState job{
        array.empty() ? field(line, "JobId") : array + "_" + field(line, "ArrayTaskId"),
        field(line, "JobName"),
        field(line, "JobState"),
        field(line, "Reason"),
        field(line, "ExitCode"),
        field(line, "RunTime")};
    jobs.push_back(std::move(job));
  }
  return jobs;
}

bool slurm_job_settled(const SlurmJobState& job) {
  static const std::set<std::string, std::less<>> kWaitingOrRunning = {
      "PENDING",     "RUNNING",      "CONFIGURING",  "COMPLETING", "REQUEUED",
      "REQUEUE_FED", "REQUEUE_HOLD", "RESIZING",     "SUSPENDED",  "STOPPED",
      "SIGNALING",   "STAGE_OUT",    "RESV_DEL_HOLD"};
  if (job.state == "PENDING" && job.reason == "DependencyNeverSatisfied") return true;
  return !kWaitingOrRunning.contains(job.state);
}

}  // namespace fastgpu::exec
