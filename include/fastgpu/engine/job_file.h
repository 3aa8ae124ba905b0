// Jobs as users write them, two ways with the same field names and the same errors: the
// flags of `fastgpu submit` and YAML job files for `fastgpu run FILE.yaml`
// (docs/job-files.md). Both paths fill a SubmitOptions with the text the user typed and
// share one parser per field, so `--gpu-mem 20X` and `gpu-mem: 20X` fail with one message.
//
// What is checked here is what is wrong on any cluster (a negative count, a share outside
// (0, 1], GPU memory for a CPU-only job, a dependency on a later job). What needs the
// cluster (more GPUs or memory than a GPU has) is checked by Engine::submit, and whether a
// numeric job id exists by the store.
//
// Thread-safety: pure functions of their arguments (deadline parsing without an offset
// reads the process's time zone through mktime); safe to call from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fastgpu/core/result.h"
#include "fastgpu/store/state_store.h"

namespace CLI {
class App;
}

namespace fastgpu::engine {

// What the client knows when it submits, filled in by the CLI from its own process.
struct SubmitContext {
  std::filesystem::path working_dir;     // absolute: the folder `fastgpu` was run in
  std::vector<std::string> environment;  // KEY=VALUE, inherited by every job
  std::uint32_t uid = 0;
  std::string user;
  store::WallTime submit_time{};  // also the "now" of a relative deadline (now+2h)
};

// Every field as the user typed it; nullopt (or empty) means "not given". The field names
// in comments are the YAML keys; each flag is the same name with "--".
struct SubmitOptions {
  std::optional<std::string> gpus;         // whole number >= 0; default 1
  std::optional<std::string> gpu_mem;      // "20G" per GPU, or "auto" (the default)
  std::optional<std::string> time;         // "2h", "1-00:00:00", "unlimited"; bare = minutes
  std::optional<std::string> grace;        // SIGTERM to SIGKILL: "5m", "30s"; bare = seconds
  std::optional<std::string> priority;     // integer, larger runs first; default 0
  std::optional<std::string> name;         // also the job's history signature
  std::vector<std::string> after;          // each: "ID", "NAME" (files), "afterok:ID[:ID]"...
  std::optional<std::string> array;        // "0-15%4", "1,3,5", "0-15:2"
  std::optional<std::string> restartable;  // true/false (the flag sets "true")
  std::optional<std::string> hold;         // true/false: queued held (the flag sets "true")
  std::optional<std::string> share;        // compute share in (0, 1] or "50%"; default 1
  std::optional<std::string> deadline;     // "2026-12-01T18:00", "...Z", "+01:00", "now+6h"
  std::optional<std::string> workdir;      // default: SubmitContext::working_dir
  // Added to the inherited environment; a key already there takes the new value.
  std::vector<std::pair<std::string, std::string>> env;
  // The command: exactly one of argv (after "--"; a YAML list) and shell_command (--wrap;
  // a YAML string, run with /bin/sh -c).
  std::vector<std::string> argv;
  std::optional<std::string> shell_command;
};

// Turns one submission into the JobSpecs to store, in order: one, or one per array index
// (ArrayMember{0, index, max_running}: a new array). Fails with a message that names the
// field, the value and the fix; a job name in `after` is an error here (names work only
// between jobs of one job file).
Result<std::vector<store::JobSpec>> build_job_specs(const SubmitOptions& options,
                                                    const SubmitContext& context);

// What `fastgpu update` changes in a queued job, as typed, with the flags of `fastgpu submit`
// of the same names; nullopt: kept. `deadline` may also be "none", to clear it.
struct UpdateOptions {
  std::optional<std::string> priority;
  std::optional<std::string> time;
  std::optional<std::string> grace;
  std::optional<std::string> deadline;
};
// The change they ask for (without its event); an error names the field and the value, and
// says what none was given.
Result<store::QueuedJobChange> build_queued_change(const UpdateOptions& options,
                                                   store::WallTime now);

// How many errors of a job file parse_job_file() tells, one a line (and how many refusals
// of the daemon locate_batch_error() does).
inline constexpr std::size_t kMaxJobFileErrorsTold = kMaxBatchErrorsTold;

// Parses a YAML job file: one job (a mapping), a list of jobs, or a mapping with `jobs:`
// and optional `defaults:` (fields every job gets unless it sets them; env maps merge).
// Jobs may wait for earlier jobs of the file by name (`after: [prep]`, a Dependency with
// batch_index; on an array, every member) or for existing jobs by id. A relative workdir
// resolves against the folder of `file_name` (itself relative to context.working_dir).
// All or nothing: any error fails the whole file, with "FILE:LINE:COLUMN: job N 'name': "
// in front (N counts from 1 in the file). Every job is checked: several errors make one
// message, a line that counts them ("jobs.yaml has 3 errors; nothing was submitted ...:")
// and then one line each in file order, the first kMaxJobFileErrorsTold of them and a last
// line with how many more; a bad value under defaults: is told once, with how many more
// jobs take it. A file that is not YAML, or whose jobs are not where a job file has them
// (the top level), is told by its first error alone. At most one array per file (the
// store makes one new array per batch).
// `places`, when given, gets where each returned spec's job is ("jobs.yaml:4:3: job 2
// 'train'"), one per spec, for locate_batch_error().
Result<std::vector<store::JobSpec>> parse_job_file(std::string_view yaml_text,
                                                   const std::string& file_name,
                                                   const SubmitContext& context,
                                                   std::vector<std::string>* places = nullptr);

// A refusal of the daemon about one job of the batch (Status::batch_job(), the error's
// `batch_index` and `problem`) told at the job's place in its file ("jobs.yaml:4:3: job 2
// 'x': asks for 9 GPUs ..."); any other message as it is. A refusal of several jobs
// (batch_jobs(), the error's `refused`) reads as the file's own errors do: a line that
// counts them ("the daemon refused 3 of jobs.yaml's jobs; nothing was submitted ..."), then
// each at its place, in file order, the first kMaxJobFileErrorsTold and how many more.
std::string locate_batch_error(const Status& refused, const std::vector<store::JobSpec>& specs,
                               const std::vector<std::string>& places,
                               const std::string& file_name = "the file");

// Registers the submit flags (--gpus, --gpu-mem, --time, ..., --wrap, and the command after
// "--") on `app`, writing into `options`, which must outlive app's parse. The help text
// states the units and defaults. For `fastgpu submit`; tests use it to compare both paths.
void add_submit_flags(CLI::App& app, SubmitOptions& options);

// Registers the flags of `fastgpu resubmit` on `app`: submit's, but for --array and the
// command (a job again runs its own command). A word after --restartable that is not true
// or false (a job id: `--restartable 12`) lands in options.argv, for the caller's ids.
void add_resubmit_flags(CLI::App& app, SubmitOptions& options);

// `fastgpu resubmit`: `job` queued again as it was submitted (its command, folder,
// environment, resources, limits, umask, dependencies and array membership), each field
// that `changes` gives (as submit's flags take it) in place of the job's own: --env is added
// to the job's environment, --workdir is read from context.working_dir, --deadline also takes
// "none". It is not held unless `changes` asks. Its owner, user and submit time are
// context's; it runs again the job `from` (JobSpec::resubmitted_from). Fails with a message
// that names the flag and the value, as submit does; a job's own field is not checked again.
Result<store::JobSpec> resubmitted_spec(JobId from, const store::JobSpec& job,
                                        SubmitOptions changes, SubmitContext context);

// `#FASTGPU` lines at the head of a job's script: submit's flags, kept with the script, as
// sbatch reads `#SBATCH` lines; and a Slurm script's own `#SBATCH` lines, those that mean
// something here. `fastgpu submit ./train.sh` (or `bash train.sh`, `python3 train.py`) reads
// them from the script it runs (command_script()); the command line's flags win over them.
//
// parse_script_directives(): the flags of every `#FASTGPU FLAGS...` line of `text`, a later
// line's over an earlier's (--env and --after add up), over those of its `#SBATCH` lines
// (-J/--job-name, -t/--time, -G/--gpus, --gpus-per-node, --gres=gpu[:TYPE]:N, -a/--array,
// -d/--dependency, -D/--chdir, -H/--hold, --requeue, --no-requeue, --exclusive (a GPU to
// itself, a job's default here); the others are listed in
// `left_out` as written, "--partition gpu"); nullopt when it has neither. Only the head is
// read: the lines before the first that is neither blank nor a comment (its first command).
// The flags are split as a shell splits words, without expanding anything ('...', "...", a
// backslash; a word that starts with # is a comment). An error names the file, the line, the
// flags and what is wrong: a flag submit does not have, a value its flag refuses (with the
// flag's own message), a word that is not a flag (the script is the command).
struct ScriptFlags {
  SubmitOptions options;
  std::vector<std::string> left_out;  // #SBATCH options that mean nothing here, as written
  bool output_left_out = false;       // among them --output or --error: the job has its log
  // The same options as their words, {"--partition", "gpu"} or {"-pgpu"}: what a Slurm
  // cluster still reads (fastgpu slurm passes them on).
  std::vector<std::vector<std::string>> left_out_words = {};
  // The GPU type an #SBATCH --gres=gpu:TYPE:N or --gpus=TYPE:N asked for ("a100"): nothing
  // here (GPUs are asked by count), a cluster's GRES type for fastgpu slurm.
  std::optional<std::string> gpu_type = std::nullopt;
};
Result<std::optional<ScriptFlags>> parse_script_directives(std::string_view text,
                                                           const std::string& file_name,
                                                           const SubmitContext& context);
// The script a submission runs, whose lines are read: the command's first word when it is a
// path (./train.sh, /opt/x/run.sh), else its second when that names a file (bash train.sh,
// python3 train.py); relative to the job's folder. nullopt for --wrap, a program found
// through PATH alone, or a file that is not there (the job's start tells that).
std::optional<std::filesystem::path> command_script(const SubmitOptions& options,
                                                    const SubmitContext& context);
// `command_line` with its script's lines under it: each field the command line gives is its
// own; --env entries of both (the command line's win), --after of both. The first 64 KiB of
// the script are read; a script that cannot be read gives nothing. When a line gives the job
// another folder (--workdir, --chdir), a relative script path becomes the path of the script
// read, so that the job runs it.
struct ScriptSubmission {
  ScriptFlags flags;   // the job's flags: the command line's over the script's
  std::string script;  // the script read, as named; empty when none was
};
Result<ScriptSubmission> with_script_directives(const SubmitOptions& command_line,
                                                const SubmitContext& context);

// The names of the fields a job file accepts, in documentation order.
const std::vector<std::string>& job_field_names();

// A moment as `fastgpu history --since/--until` take it (docs/cli.md): a time ago ("2h",
// "1d12h", "now-30m"; a duration needs its unit), "now", a date ("2026-12-01": its
// midnight, local time), or a date and time as a deadline is written ("2026-12-01T18:00"
// local, "...Z", "...+01:00"). Errors name `option` and the text, with examples.
Result<store::WallTime> parse_moment(std::string_view text, store::WallTime now,
                                     std::string_view option);

}  // namespace fastgpu::engine
