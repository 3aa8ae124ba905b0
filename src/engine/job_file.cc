// Builds JobSpecs from one submission's fields: the part shared by `fastgpu submit` and job
// files. Each field is read by its own parser (job_file_fields.cc, job_file_lists.cc,
// job_file_deadline.cc); this file combines them and checks fields against each other.
#include <fmt/format.h>

#include <algorithm>
#include <initializer_list>
#include <string>
#include <utility>

#include "engine/job_file_internal.h"

namespace fastgpu::engine {
namespace internal {
namespace {

using store::Dependency;
using store::JobSpec;

using Problems = std::vector<FieldError>;

// Parses `text`, when given, into `out`; a failure is added to `problems`, naming the field.
template <typename T, typename Parser>
void parse_field(const std::optional<std::string>& text, const char* field, Parser parser, T& out,
                 Problems& problems) {
  if (!text) return;
  auto parsed = parser(*text);
  if (!parsed.ok()) {
    problems.push_back(FieldError{field, parsed.status()});
    return;
  }
  out = *std::move(parsed);
}

void add_problem(const char* field, const Status& status, Problems& problems) {
  if (!status.ok()) problems.push_back(FieldError{field, status});
}

bool any_problem_in(const Problems& problems, std::initializer_list<std::string_view> fields) {
  return std::any_of(problems.begin(), problems.end(), [&](const FieldError& problem) {
    return std::find(fields.begin(), fields.end(), problem.field) != fields.end();
  });
}

Status set_command(const SubmitOptions& options, JobSpec& spec) {
  if (!options.argv.empty() && options.shell_command) {
    return invalid_argument(
        "command: give either a list of arguments (after -- on the command line) or one shell "
        "string (--wrap), not both");
  }
  if (options.argv.empty() && !options.shell_command) {
    return invalid_argument(
        "command is missing; give the program and its arguments after -- (command: [prog, "
        "arg] in a file) or a shell string with --wrap (command: \"prog arg | tee log\")");
  }
  if (options.shell_command) {
    if (options.shell_command->find_first_not_of(" \t\r\n") == std::string::npos) {
      return invalid_argument("command is an empty string; give the shell command to run");
    }
    spec.shell_command = *options.shell_command;
    return {};
  }
  if (options.argv.front().empty()) {
    return invalid_argument("command: the program name (first argument) is empty");
  }
  spec.argv = options.argv;
  return {};
}

// What ties the job to its history (learned memory, run times): the name, else the command.
std::string signature_of(const JobSpec& spec) {
  if (!spec.name.empty()) return spec.name;
  if (!spec.shell_command.empty()) return spec.shell_command;
  std::string text;
  for (const std::string& arg : spec.argv) text += (text.empty() ? "" : " ") + arg;
  return text;
}

// GPU memory or a compute share for a CPU-only job is a contradiction, not a default.
void check_cpu_only(const SubmitOptions& options, const JobSpec& spec, Problems& problems) {
  // A field that did not parse has its default in `spec`: nothing to compare.
  if (spec.gpus != 0 || any_problem_in(problems, {"gpus", "gpu-mem", "share"})) return;
  if (spec.gpu_mem) {
    add_problem(
        "gpu-mem",
        invalid_argument(fmt::format(
            "gpu-mem '{}' is given but gpus is 0 (a CPU-only job); remove gpu-mem (or set it to "
            "auto when it comes from defaults), or ask for gpus: 1",
            *options.gpu_mem)),
        problems);
  }
  if (spec.util_share < 1.0) {
    add_problem(
        "share",
        invalid_argument(fmt::format(
            "share '{}' is given but gpus is 0 (a CPU-only job); remove share (or set it to 1 when "
            "it comes from defaults), or ask for gpus: 1",
            options.share.value_or(""))),
        problems);
  }
}

void set_scalars(const SubmitOptions& options, JobSpec& spec, Problems& problems) {
  parse_field(options.gpus, "gpus", parse_gpus, spec.gpus, problems);
  parse_field(options.gpu_mem, "gpu-mem", parse_gpu_mem, spec.gpu_mem, problems);
  parse_field(options.time, "time", parse_time_limit, spec.time_limit_s, problems);
  parse_field(options.grace, "grace", parse_grace, spec.kill_grace_s, problems);
  parse_field(options.priority, "priority", parse_priority, spec.priority, problems);
  parse_field(options.restartable, "restartable", parse_restartable, spec.restartable, problems);
  parse_field(options.share, "share", parse_share, spec.util_share, problems);
  if (options.name) {
    const Status valid = store::check_job_name(*options.name);
    add_problem("name", valid, problems);
    if (valid.ok()) spec.name = *options.name;
  }
  check_cpu_only(options, spec, problems);
}

void set_context_fields(const SubmitOptions& options, const SubmitContext& context, JobSpec& spec,
                        Problems& problems) {
  if (!context.working_dir.is_absolute()) {
    add_problem("",
                internal_error(fmt::format("the submitting folder '{}' is not absolute",
                                           context.working_dir.string())),
                problems);
    return;
  }
  spec.working_dir = context.working_dir.lexically_normal().string();
  const auto workdir = [&](const std::string& text) {
    return resolve_workdir(text, context.working_dir, context.environment);
  };
  parse_field(options.workdir, "workdir", workdir, spec.working_dir, problems);
  const auto deadline = [&](const std::string& text) {
    return parse_deadline(text, context.submit_time);
  };
  parse_field(options.deadline, "deadline", deadline, spec.deadline, problems);
  Result<std::vector<std::string>> environment =
      merge_environment(context.environment, options.env);
  if (environment.ok()) {
    spec.environment = *std::move(environment);
  } else {
    add_problem("env", environment.status(), problems);
  }
  spec.uid = context.uid;
  spec.user = context.user;
  spec.submit_time = context.submit_time;
  // Held by its submitter (the daemon takes the caller's uid, whatever is sent).
  bool hold = false;
  parse_field(options.hold, "hold", parse_hold, hold, problems);
  if (hold) spec.held_by = context.uid;
}

Status add_target(const AfterTarget& target, const std::string& text, const NameResolver* resolver,
                  JobSpec& spec) {
  if (target.id) {
    spec.dependencies.push_back(Dependency{*target.id, target.kind, std::nullopt});
    return {};
  }
  if (resolver == nullptr) {
    return invalid_argument(fmt::format(
        "after '{}': '{}' is not a job id; job names work only between the jobs of one job "
        "file (fastgpu run FILE.yaml); give the job's id, e.g. --after 42",
        text, target.name));
  }
  Result<std::vector<std::size_t>> indices = (*resolver)(target.name);
  if (!indices.ok()) return indices.status().with_context(fmt::format("after '{}'", text));
  for (std::size_t index : *indices) {
    spec.dependencies.push_back(Dependency{JobId(0), target.kind, index});
  }
  return {};
}

bool same_target(const Dependency& a, const Dependency& b) {
  if (a.batch_index || b.batch_index) return a.batch_index == b.batch_index;
  return a.job == b.job;
}

// One dependency per job waited for: `--after 7 --after 7`, `after: [prep, prep]` or
// `afterok:7,afterany:7` name a job twice, which the store keeps once. Both conditions
// must hold, and a job that completed has ended, so afterok covers afterany.
void merge_same_targets(std::vector<Dependency>& dependencies) {
  std::vector<Dependency> merged;
  for (const Dependency& dependency : dependencies) {
    auto same = std::find_if(merged.begin(), merged.end(),
                             [&](const Dependency& kept) { return same_target(kept, dependency); });
    if (same == merged.end()) {
      merged.push_back(dependency);
    } else if (dependency.kind == store::DependencyKind::kAfterOk) {
      same->kind = store::DependencyKind::kAfterOk;
    }
  }
  dependencies = std::move(merged);
}

void set_dependencies(const SubmitOptions& options, const NameResolver* resolver, JobSpec& spec,
                      Problems& problems) {
  for (const std::string& text : options.after) {
    Result<std::vector<AfterTarget>> targets = parse_after(text);
    if (!targets.ok()) {
      add_problem("after", targets.status(), problems);
      continue;
    }
    for (const AfterTarget& target : *targets) {
      add_problem("after", add_target(target, text, resolver, spec), problems);
    }
  }
  merge_same_targets(spec.dependencies);
}

// Appends `spec` once, or once per index of `array`.
void expand(const std::optional<ArrayIndices>& array, const JobSpec& spec,
            std::vector<JobSpec>& out) {
  if (!array) {
    out.push_back(spec);
    return;
  }
  for (std::uint32_t index : array->indices) {
    JobSpec member = spec;
    member.array = store::ArrayMember{0, index, array->max_running};
    out.push_back(std::move(member));
  }
}

}  // namespace

std::vector<FieldError> build_entry(const SubmitOptions& options, const SubmitContext& context,
                                    const NameResolver* resolver, std::vector<JobSpec>& out) {
  Problems problems;
  JobSpec spec;
  add_problem("command", set_command(options, spec), problems);
  set_scalars(options, spec, problems);
  set_context_fields(options, context, spec, problems);
  set_dependencies(options, resolver, spec, problems);
  std::optional<ArrayIndices> array;
  parse_field(options.array, "array", parse_array, array, problems);
  if (!problems.empty()) return problems;
  spec.signature = signature_of(spec);
  const std::size_t first = out.size();
  expand(array, spec, out);
  // The store's own checks, so nothing built here is refused later for a reason the user
  // was not told at submission.
  for (std::size_t i = first; i < out.size(); ++i) {
    const Status valid = store::validate_job_spec(out[i], i);
    if (!valid.ok()) {
      out.resize(first);
      return {FieldError{"", valid}};
    }
  }
  return {};
}

}  // namespace internal

Result<std::vector<store::JobSpec>> build_job_specs(const SubmitOptions& options,
                                                    const SubmitContext& context) {
  std::vector<store::JobSpec> specs;
  // One error, the first in field order: a command line is short, and a flag's error is
  // told as CLI11 tells its own, one at a time.
  std::vector<internal::FieldError> problems =
      internal::build_entry(options, context, nullptr, specs);
  if (!problems.empty()) return problems.front().status;
  return specs;
}

Result<store::QueuedJobChange> build_queued_change(const UpdateOptions& options,
                                                   store::WallTime now) {
  if (!options.priority && !options.time && !options.grace && !options.deadline) {
    return invalid_argument(
        "nothing to change: give --priority, --time, --grace or --deadline (as submit takes "
        "them), e.g. `fastgpu update 12 --priority 5 --time 4h`");
  }
  store::QueuedJobChange change;
  if (options.priority) {
    Result<int> priority = internal::parse_priority(*options.priority);
    if (!priority.ok()) return priority.status();
    change.priority = *priority;
  }
  if (options.time) {
    Result<std::optional<std::int64_t>> time = internal::parse_time_limit(*options.time);
    if (!time.ok()) return time.status();
    change.time_limit_s = *time;
  }
  if (options.grace) {
    Result<std::optional<std::int64_t>> grace = internal::parse_grace(*options.grace);
    if (!grace.ok()) return grace.status();
    change.kill_grace_s = *grace;
  }
  if (options.deadline) {
    if (*options.deadline == "none") {
      change.deadline = std::optional<store::WallTime>();
    } else {
      Result<store::WallTime> deadline = internal::parse_deadline(*options.deadline, now);
      if (!deadline.ok()) return deadline.status();
      change.deadline = *deadline;
    }
  }
  return change;
}

}  // namespace fastgpu::engine
