// The Slurm programs behind SlurmCommands, and the all-or-none submission of a batch.
#include <fmt/format.h>

#include "fastgpu/core/text.h"
#include "fastgpu/exec/program_run.h"
#include "fastgpu/exec/slurm_batch.h"

namespace fastgpu::exec {
namespace {

// What a Slurm program wrote on failure, on one line: its lines joined by "; ", each
// without the "sbatch: error: " its programs start them with.
std::string what_it_said(const ProgramOutput& ran, const std::string& program) {
  std::string said;
  std::string_view text = ran.err.empty() ? ran.out : ran.err;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    std::string_view line = trim(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    for (const std::string& prefix : {program + ": error: ", program + ": "}) {
      if (line.starts_with(prefix)) line.remove_prefix(prefix.size());
    }
    if (!line.empty()) said += (said.empty() ? "" : "; ") + std::string(line);
  }
  return said.empty() ? "it said nothing" : said;
}

// Runs a Slurm program: what it wrote, or its failure as "WHAT IT SAID (exit 1)".
Result<std::string> run_slurm(const std::vector<std::string>& argv, std::string_view input) {
  Result<ProgramOutput> ran = run_program(argv, input);
  if (!ran.ok()) {
    return not_found(fmt::format(
        "{}; fastgpu slurm submits with Slurm's own commands: run it on a machine of the "
        "cluster, or install them (Debian: apt-get install slurm-client)",
        ran.status().message()));
  }
  if (ran->exit_code == 0) return std::string(trim(ran->out));
  const std::string how = ran->exit_code >= 0 ? fmt::format("exit {}", ran->exit_code)
                                              : fmt::format("signal {}", ran->signal);
  return unavailable(fmt::format("{} ({})", what_it_said(*ran, argv[0]), how));
}

class RealSlurmCommands final : public SlurmCommands {
 public:
  Status check(const std::string& script, const std::vector<std::string>& args) override {
    std::vector<std::string> argv = {"sbatch", "--test-only"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_slurm(argv, script).status();
  }

  Result<std::string> submit(const std::string& script,
                             const std::vector<std::string>& args) override {
    std::vector<std::string> argv = {"sbatch", "--parsable"};
    argv.insert(argv.end(), args.begin(), args.end());
    Result<std::string> out = run_slurm(argv, script);
    if (!out.ok()) return out.status();
    // --parsable prints "ID" or "ID;CLUSTER".
    std::string id = out->substr(0, out->find(';'));
    if (id.empty() || id.find_first_not_of("0123456789") != std::string::npos) {
      return unavailable(fmt::format("sbatch answered '{}', not a job id", printable(*out)));
    }
    return id;
  }

  Status release(const std::vector<std::string>& ids) override {
    const Status released =
        run_slurm({"scontrol", "release", fmt::format("{}", fmt::join(ids, ","))}, "").status();
    return released.ok() ? released : released.with_context("scontrol release failed");
  }

  Status cancel(const std::vector<std::string>& ids) override {
    std::vector<std::string> argv = {"scancel"};
    argv.insert(argv.end(), ids.begin(), ids.end());
    const Status cancelled = run_slurm(argv, "").status();
    return cancelled.ok() ? cancelled : cancelled.with_context("scancel failed");
  }

  Result<std::vector<SlurmJobState>> jobs(const std::string& id) override {
    Result<ProgramOutput> ran = run_program({"scontrol", "show", "job", "-o", id}, "");
    if (!ran.ok()) return ran.status();
    if (ran->exit_code == 0) return parse_scontrol_jobs(ran->out);
    if (ran->err.find("Invalid job id") != std::string::npos) return std::vector<SlurmJobState>{};
    return unavailable(
        fmt::format("scontrol show job {} failed: {}", id, what_it_said(*ran, "scontrol")));
  }
};

// "; nothing was submitted (the 2 jobs sbatch took before it were cancelled)"; `taken_when`
// says when sbatch took them ("before it").
std::string nothing_submitted(const std::vector<std::string>& taken, const Status& cancelled,
                              std::string_view taken_when) {
  if (taken.empty()) return "; nothing was submitted";
  const std::string them = taken.size() == 1 ? "the job" : fmt::format("the {} jobs", taken.size());
  if (!cancelled.ok()) {
    return fmt::format("; {} sbatch took{} could not be cancelled: {} (scancel {})", them,
                       taken_when, cancelled.message(), fmt::join(taken, " "));
  }
  return fmt::format("; nothing was submitted ({} sbatch took{} {} cancelled)", them, taken_when,
                     taken.size() == 1 ? "was" : "were");
}

}  // namespace

std::unique_ptr<SlurmCommands> real_slurm_commands() {
  return std::make_unique<RealSlurmCommands>();
}

namespace {

// The error of a refused submission: about its job, unless sbatch could not be run at all.
Status refused(const Status& refusal, const SlurmSubmission& submission,
               const std::vector<std::string>& taken, const Status& cancelled) {
  if (refusal.code() == ErrorCode::kNotFound) {
    return Status(refusal.code(), refusal.message() + nothing_submitted(taken, cancelled, ""));
  }
  const std::string problem = fmt::format("sbatch refused it: {}{}", refusal.message(),
                                          nothing_submitted(taken, cancelled, " before it"));
  return Status(refusal.code(), problem).with_batch_job(submission.specs.front(), problem);
}

// sbatch's options: held first, the dependencies, then the user's.
std::vector<std::string> sbatch_args(bool hold, const std::string& dependency,
                                     const std::vector<std::string>& extra_args) {
  std::vector<std::string> args;
  if (hold) args.emplace_back("--hold");
  if (!dependency.empty()) args.push_back("--dependency=" + dependency);
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  return args;
}

// An existing job a submission waits for: Slurm takes an unknown id and drops the
// dependency at release (the job would run at once), and keeps a job whose afterok target
// has failed pending for ever; both are refused here, as `fastgpu run` refuses them.
Status check_waited_for(store::DependencyKind kind, std::uint64_t id, SlurmCommands& slurm) {
  Result<std::vector<SlurmJobState>> jobs = slurm.jobs(std::to_string(id));
  if (!jobs.ok()) return jobs.status();
  if (jobs->empty()) {
    return invalid_argument(fmt::format(
        "after: Slurm knows no job {} (a number in after is a job of the cluster); write the "
        "name of a job of this file, or the id `squeue` shows",
        id));
  }
  if (kind == store::DependencyKind::kAfterAny) return {};
  for (const SlurmJobState& job : *jobs) {
    if (slurm_job_settled(job) && job.state != "COMPLETED") {
      return invalid_argument(fmt::format(
          "after: job {} has already ended {}, so a job waiting for it to complete would never "
          "run; wait for any end with 'afterany:{}'",
          job.id, job.state, id));
    }
  }
  return {};
}

// Whether the cluster takes each job as it stands, before any is submitted: its own
// request and the existing jobs it waits for (those of the batch have no id yet).
Status check_all(const std::vector<SlurmSubmission>& submissions,
                 const std::vector<std::string>& extra_args, SlurmCommands& slurm) {
  for (const SlurmSubmission& submission : submissions) {
    for (const auto& [kind, id] : submission.waits_for_ids) {
      const Status waited_for = check_waited_for(kind, id, slurm);
      if (!waited_for.ok()) {
        return Status(waited_for.code(), waited_for.message())
            .with_batch_job(submission.specs.front(), waited_for.message());
      }
    }
    SlurmSubmission alone = submission;
    alone.waits_for.clear();
    const Status checked =
        slurm.check(submission.script, sbatch_args(false, slurm_dependency(alone, {}), extra_args));
    if (!checked.ok()) return refused(checked, submission, {}, {});
  }
  return {};
}

}  // namespace

Result<std::vector<std::string>> submit_to_slurm(const std::vector<SlurmSubmission>& submissions,
                                                 const std::vector<std::string>& extra_args,
                                                 SlurmCommands& slurm,
                                                 const std::function<bool()>& interrupted) {
  const Status checked = check_all(submissions, extra_args, slurm);
  if (!checked.ok()) return checked;
  std::vector<std::string> ids;
  const auto stop = [&]() -> Status {
    const Status cancelled = ids.empty() ? Status{} : slurm.cancel(ids);
    return Status(ErrorCode::kUnavailable, "interrupted" + nothing_submitted(ids, cancelled, ""));
  };
  for (const SlurmSubmission& submission : submissions) {
    if (interrupted && interrupted()) return stop();
    Result<std::string> id = slurm.submit(
        submission.script, sbatch_args(true, slurm_dependency(submission, ids), extra_args));
    if (!id.ok()) {
      const Status cancelled = ids.empty() ? Status{} : slurm.cancel(ids);
      return refused(id.status(), submission, ids, cancelled);
    }
    ids.push_back(*id);
  }
  if (ids.empty()) return ids;
  if (interrupted && interrupted()) return stop();
  std::vector<std::string> to_release;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (!submissions[i].held) to_release.push_back(ids[i]);
  }
  const Status released = to_release.empty() ? Status{} : slurm.release(to_release);
  if (!released.ok()) {
    const Status cancelled = slurm.cancel(ids);
    return Status(released.code(),
                  fmt::format("the jobs were submitted held and could not be released: {}{}",
                              released.message(), nothing_submitted(ids, cancelled, "")));
  }
  return ids;
}

}  // namespace fastgpu::exec
