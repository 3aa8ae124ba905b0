// Builds JobSpecs from one submission's fields: the part shared by `fastgpu submit` and job
// files. Each field is read by its own parser (job_file_fields.cc, job_file_lists.cc,
// job_file_deadline.cc); this file combines them and checks fields against each other.
#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <utility>

#include "engine/job_file_internal.h"

namespace fastgpu::engine {
namespace internal {
namespace {

using store::Dependency;
using store::JobSpec;

// Parses `text`, when given, into `out`; on failure `failed_field` names the field.
template <typename T, typename Parser>
Status parse_field(const std::optional<std::string>& text, const char* field, Parser parser, T& out,
                   std::string& failed_field) {
  if (!text) return {};
  auto parsed = parser(*text);
  if (!parsed.ok()) {
    failed_field = field;
    return parsed.status();
  }
  out = *std::move(parsed);
  return {};
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
Status check_cpu_only(const SubmitOptions& options, const JobSpec& spec,
                      std::string& failed_field) {
  if (spec.gpus != 0) return {};
  if (spec.gpu_mem) {
    failed_field = "gpu-mem";
    return invalid_argument(fmt::format(
        "gpu-mem '{}' is given but gpus is 0 (a CPU-only job); remove gpu-mem (or set it to "
        "auto when it comes from defaults), or ask for gpus: 1",
        *options.gpu_mem));
  }
  if (spec.util_share < 1.0) {
    failed_field = "share";
    return invalid_argument(fmt::format(
        "share '{}' is given but gpus is 0 (a CPU-only job); remove share (or set it to 1 when "
        "it comes from defaults), or ask for gpus: 1",
        options.share.value_or("")));
  }
  return {};
}

Status set_scalars(const SubmitOptions& options, JobSpec& spec, std::string& failed_field) {
  FASTGPU_RETURN_IF_ERROR(parse_field(options.gpus, "gpus", parse_gpus, spec.gpus, failed_field));
  FASTGPU_RETURN_IF_ERROR(
      parse_field(options.gpu_mem, "gpu-mem", parse_gpu_mem, spec.gpu_mem, failed_field));
  FASTGPU_RETURN_IF_ERROR(
      parse_field(options.time, "time", parse_time_limit, spec.time_limit_s, failed_field));
  FASTGPU_RETURN_IF_ERROR(
      parse_field(options.priority, "priority", parse_priority, spec.priority, failed_field));
  FASTGPU_RETURN_IF_ERROR(parse_field(options.restartable, "restartable", parse_restartable,
                                      spec.restartable, failed_field));
  FASTGPU_RETURN_IF_ERROR(
      parse_field(options.share, "share", parse_share, spec.util_share, failed_field));
  if (options.name) {
    failed_field = "name";
    FASTGPU_RETURN_IF_ERROR(check_name(*options.name));
    failed_field.clear();
    spec.name = *options.name;
  }
  return check_cpu_only(options, spec, failed_field);
}

Status set_context_fields(const SubmitOptions& options, const SubmitContext& context, JobSpec& spec,
                          std::string& failed_field) {
  if (!context.working_dir.is_absolute()) {
    return internal_error(
        fmt::format("the submitting folder '{}' is not absolute", context.working_dir.string()));
  }
  spec.working_dir = context.working_dir.lexically_normal().string();
  const auto workdir = [&](const std::string& text) {
    return resolve_workdir(text, context.working_dir, context.environment);
  };
  FASTGPU_RETURN_IF_ERROR(
      parse_field(options.workdir, "workdir", workdir, spec.working_dir, failed_field));
  const auto deadline = [&](const std::string& text) {
    return parse_deadline(text, context.submit_time);
  };
  FASTGPU_RETURN_IF_ERROR(
      parse_field(options.deadline, "deadline", deadline, spec.deadline, failed_field));
  Result<std::vector<std::string>> environment =
      merge_environment(context.environment, options.env);
  if (!environment.ok()) {
    failed_field = "env";
    return environment.status();
  }
  spec.environment = *std::move(environment);
  spec.uid = context.uid;
  spec.user = context.user;
  spec.submit_time = context.submit_time;
  return {};
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

Status set_dependencies(const SubmitOptions& options, const NameResolver* resolver, JobSpec& spec,
                        std::string& failed_field) {
  for (const std::string& text : options.after) {
    failed_field = "after";
    Result<std::vector<AfterTarget>> targets = parse_after(text);
    if (!targets.ok()) return targets.status();
    for (const AfterTarget& target : *targets) {
      FASTGPU_RETURN_IF_ERROR(add_target(target, text, resolver, spec));
    }
  }
  merge_same_targets(spec.dependencies);
  failed_field.clear();
  return {};
}

// Appends `spec` once, or once per array index.
Status expand(const SubmitOptions& options, const JobSpec& spec, std::vector<JobSpec>& out,
              std::string& failed_field) {
  if (!options.array) {
    out.push_back(spec);
    return {};
  }
  Result<ArrayIndices> array = parse_array(*options.array);
  if (!array.ok()) {
    failed_field = "array";
    return array.status();
  }
  for (std::uint32_t index : array->indices) {
    JobSpec member = spec;
    member.array = store::ArrayMember{0, index, array->max_running};
    out.push_back(std::move(member));
  }
  return {};
}

}  // namespace

Status build_entry(const SubmitOptions& options, const SubmitContext& context,
                   const NameResolver* resolver, std::vector<JobSpec>& out,
                   std::string& failed_field) {
  failed_field.clear();
  JobSpec spec;
  failed_field = "command";
  FASTGPU_RETURN_IF_ERROR(set_command(options, spec));
  failed_field.clear();
  FASTGPU_RETURN_IF_ERROR(set_scalars(options, spec, failed_field));
  FASTGPU_RETURN_IF_ERROR(set_context_fields(options, context, spec, failed_field));
  FASTGPU_RETURN_IF_ERROR(set_dependencies(options, resolver, spec, failed_field));
  spec.signature = signature_of(spec);
  const std::size_t first = out.size();
  FASTGPU_RETURN_IF_ERROR(expand(options, spec, out, failed_field));
  // The store's own checks, so nothing built here is refused later for a reason the user
  // was not told at submission.
  for (std::size_t i = first; i < out.size(); ++i) {
    const Status valid = store::validate_job_spec(out[i], i);
    if (!valid.ok()) {
      out.resize(first);
      return valid;
    }
  }
  return {};
}

}  // namespace internal

Result<std::vector<store::JobSpec>> build_job_specs(const SubmitOptions& options,
                                                    const SubmitContext& context) {
  std::vector<store::JobSpec> specs;
  std::string failed_field;
  FASTGPU_RETURN_IF_ERROR(internal::build_entry(options, context, nullptr, specs, failed_field));
  return specs;
}

}  // namespace fastgpu::engine
