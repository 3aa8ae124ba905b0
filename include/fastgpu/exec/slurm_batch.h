// The Slurm backend: the jobs of a job file (engine::parse_job_file) as sbatch submissions,
// so the file that runs here runs on a Slurm cluster (docs/slurm.md).
//
// slurm_submissions() is pure: jobs in, batch scripts out. submit_to_slurm() hands them to
// a SlurmCommands, whose real implementation runs sbatch, scontrol and scancel; tests pass
// a fake one.
//
// Thread-safety: pure functions; a SlurmCommands is used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fastgpu/core/result.h"
#include "fastgpu/store/state_store.h"

namespace fastgpu::exec {

// What a user may add to every submission.
struct SlurmBatchOptions {
  // Slurm's --output pattern, relative to the job's working folder unless absolute; empty:
  // "%x-%j.out" ("%x-%A_%a.out" for an array), the job's name and Slurm id.
  std::string output;
  // What the jobs' environment holds besides the file's variables (the CLI's HOME, for a
  // workdir of ~), which the scripts do not export: sbatch passes the submitter's
  // environment on itself (--export=ALL, unless the cluster says otherwise).
  std::vector<std::string> inherited_environment;
  // #SBATCH options of a script given in place of a job file that FastGPU does not read
  // (--partition, --mem...), each as its words ({"-p", "gpu"}): written after FastGPU's own
  // lines in every batch script, so that Slurm reads them as sbatch would have.
  std::vector<std::vector<std::string>> passed_on = {};
  // The GPU type a script's #SBATCH --gres or --gpus asked for: every GPU job's
  // --gres=gpu:TYPE:N.
  std::optional<std::string> gpu_type = std::nullopt;
};

// One sbatch call: a job of the file, or an array (all its members, one --array).
struct SlurmSubmission {
  struct Wait {
    std::size_t submission = 0;  // an earlier submission of the same batch
    store::DependencyKind kind = store::DependencyKind::kAfterOk;
  };
  std::vector<std::size_t> specs;  // the specs it stands for (an array: every member)
  std::string name;                // its --job-name
  std::string script;              // the batch script, its options as #SBATCH lines
  std::vector<Wait> waits_for;     // earlier submissions, Slurm ids known only at submit
  // Numeric `after` targets: jobs that exist on the cluster, by their Slurm ids.
  std::vector<std::pair<store::DependencyKind, std::uint64_t>> waits_for_ids;
  std::string output;  // the --output pattern, resolved against the working folder
  std::string array;   // the --array value ("0-3%2"); empty when not an array
  bool held = false;   // the file's `hold: true`: left held at the end (scontrol release ID)
  // What Slurm does otherwise than FastGPU for this job (whole GPUs for a shared one...);
  // the same text for every job a note is about, unless it names the job's own values.
  std::vector<std::string> notes;
};

// The submissions for `specs` (as parse_job_file returns them: an array's members in a
// row), in the file's order. Fails when a value cannot be written as sbatch takes it (a
// double quote in a path: #SBATCH lines cannot carry one); the error names the job, and
// says which (with_batch_job: its first spec's index) for the file's place.
Result<std::vector<SlurmSubmission>> slurm_submissions(const std::vector<store::JobSpec>& specs,
                                                       const SlurmBatchOptions& options);

// Whether `args` (the user's options for every sbatch) can be given as they are: each an
// option ("--partition=gpu"; a value after a space would read as a word of its own, and
// sbatch takes its first word as the batch script to run instead of the job's), and none
// of those fastgpu slurm sets from the file (--dependency, --array, --job-name, ...). The
// error names the option and the file's field to use instead.
Status check_sbatch_options(const std::vector<std::string>& args);

// The --dependency value of `submission`, given the Slurm ids of the earlier submissions
// (ids[i] for submission i); "" when it waits for nothing. "afterok:41:42,afterany:40".
std::string slurm_dependency(const SlurmSubmission& submission,
                             const std::vector<std::string>& ids);

// A job as `scontrol show job -o` tells it; an array tells one per member that started,
// and one for its members that have not ("41_[2-3%2]").
struct SlurmJobState {
  std::string id;         // "41", or "41_2" for an array member
  std::string name;       // JobName
  std::string state;      // JobState: PENDING, RUNNING, COMPLETED, FAILED, TIMEOUT, ...
  std::string reason;     // Reason: why it waits ("Dependency"), or "None"
  std::string exit_code;  // ExitCode: "STATUS:SIGNAL", e.g. "1:0"
  std::string run_time;   // RunTime: "00:00:01"

  friend bool operator==(const SlurmJobState&, const SlurmJobState&) = default;
};

// The jobs of `scontrol show job -o` output, one a line.
std::vector<SlurmJobState> parse_scontrol_jobs(std::string_view text);

// Whether a job has come to where it stays by itself: it ended, or it waits for a
// dependency that can never be met (Slurm keeps such a job PENDING for ever, reason
// DependencyNeverSatisfied, unless the cluster cancels those).
bool slurm_job_settled(const SlurmJobState& job);

// The programs of a Slurm cluster, as submit_to_slurm uses them.
class SlurmCommands {
 public:
  virtual ~SlurmCommands() = default;
  // sbatch --test-only ARGS with `script` on its standard input: whether the cluster would
  // take the job, submitting nothing. (A held job is taken without the check: one asking
  // for more GPUs than a node has would wait for ever.)
  virtual Status check(const std::string& script, const std::vector<std::string>& args) = 0;
  // sbatch --parsable ARGS with `script` on its standard input: the new job's id.
  virtual Result<std::string> submit(const std::string& script,
                                     const std::vector<std::string>& args) = 0;
  // scontrol release IDS: held jobs may start.
  virtual Status release(const std::vector<std::string>& ids) = 0;
  // scancel IDS.
  virtual Status cancel(const std::vector<std::string>& ids) = 0;
  // scontrol show job -o ID: the job, or an array's members; empty once slurmctld has
  // forgotten it (MinJobAge after its end, 300 s by default).
  virtual Result<std::vector<SlurmJobState>> jobs(const std::string& id) = 0;
};

// sbatch, scontrol and scancel found on PATH, run with the caller's environment (so
// SLURM_CONF and SBATCH_* variables apply). An error quotes what the program said.
std::unique_ptr<SlurmCommands> real_slurm_commands();

// Submits every submission, all or none. First each is checked (SlurmCommands::check, with
// `extra_args`, the user's sbatch options such as --partition=gpu, and its dependencies on
// existing jobs); then each is submitted held (--hold), with its dependencies on the ids
// the earlier ones got, and all are released once every one is in (but those `held`, which
// stay held until `scontrol release`). When one is refused,
// those already in are cancelled, and the error (with_batch_job: the index of the refused
// submission's first spec) says what sbatch said; sbatch that cannot be run at all is told
// as such (not_found, about no job). `interrupted`, when given, is asked before each
// submission and before the release: true (the user pressed Ctrl-C) cancels those already
// in, and the error says so. Returns the Slurm id of each submission.
Result<std::vector<std::string>> submit_to_slurm(const std::vector<SlurmSubmission>& submissions,
                                                 const std::vector<std::string>& extra_args,
                                                 SlurmCommands& slurm,
                                                 const std::function<bool()>& interrupted = {});

}  // namespace fastgpu::exec
