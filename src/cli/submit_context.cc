#include "cli/submit_context.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string_view>
#include <tuple>

#include "fastgpu/api/daemon.h"
#include "fastgpu/core/text.h"

extern char** environ;

namespace fastgpu::cli {

Result<engine::SubmitContext> submit_context() {
  engine::SubmitContext context;
  std::error_code error;
  context.working_dir = std::filesystem::current_path(error);
  if (error) {
    return io_error("cannot read the current folder (" + error.message() +
                    "); cd to a folder that exists");
  }
  for (char** entry = environ; *entry != nullptr; ++entry) context.environment.emplace_back(*entry);
  context.uid = ::getuid();
  passwd entry{};
  passwd* found = nullptr;
  char buffer[4096];
  const bool named =
      ::getpwuid_r(context.uid, &entry, buffer, sizeof buffer, &found) == 0 && found != nullptr;
  context.user = named ? found->pw_name : std::to_string(context.uid);
  context.submit_time =
      std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
  return context;
}

void give_callers_umask_and_limits(std::vector<store::JobSpec>& specs) {
  // Read by setting it: set back at once, and a CLI has no other thread to race with.
  const mode_t mask = ::umask(0);
  ::umask(mask);
  const ResourceLimits limits = own_resource_limits();
  for (store::JobSpec& spec : specs) {
    spec.umask = mask;
    spec.limits = limits;
  }
}

namespace {

Result<std::string> read_job_file(const std::string& path) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    return invalid_argument(fmt::format(
        "'{}' is a folder, not a job file; give a YAML file, e.g. examples/batch-cpu.yaml", path));
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    const int reason = errno;  // what the system said: no such file, permission denied
    return not_found(
        fmt::format("cannot read job file '{}' ({}); check the path (e.g. "
                    "examples/batch-cpu.yaml)",
                    path, std::strerror(reason)));
  }
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

// The command that runs `script` (absolute): the script itself when it may be run, else its
// #! line's interpreter on it, as the kernel runs one (sbatch needs no x bit either).
Result<std::vector<std::string>> script_command(const std::filesystem::path& script,
                                                const std::string& head, const std::string& name) {
  if (::access(script.c_str(), X_OK) == 0) return std::vector<std::string>{script.string()};
  const std::string_view line = trim(std::string_view(head).substr(2, head.find('\n') - 2));
  const std::size_t blank = line.find_first_of(" \t");
  std::vector<std::string> command{std::string(line.substr(0, blank))};
  if (command.front().empty()) {
    return invalid_argument(fmt::format(
        "{}: its #! line names no interpreter, and it is not executable; make the first line "
        "#!/bin/bash (or another interpreter)",
        name));
  }
  if (blank != std::string_view::npos) command.emplace_back(trim(line.substr(blank)));
  command.push_back(script.string());
  return command;
}

// `text`, the script at `path`, as one job (load_job_file()).
Result<JobFile> load_script(const std::string& path, const std::string& text,
                            engine::SubmitContext context,
                            const std::vector<std::string>& script_args) {
  const std::filesystem::path script = (context.working_dir / path).lexically_normal();
  Result<std::optional<engine::ScriptFlags>> read =
      engine::parse_script_directives(text, path, context);
  if (!read.ok()) return read.status();
  engine::ScriptFlags flags = read->value_or(engine::ScriptFlags{});
  Result<std::vector<std::string>> command = script_command(script, text, path);
  if (!command.ok()) return command.status();
  flags.options.argv = *std::move(command);
  flags.options.argv.insert(flags.options.argv.end(), script_args.begin(), script_args.end());
  // sbatch's name for a script's job: the script's.
  if (!flags.options.name) flags.options.name = script.filename().string();
  Result<std::vector<store::JobSpec>> specs = engine::build_job_specs(flags.options, context);
  if (!specs.ok()) return invalid_argument(path + ": " + specs.status().message());
  JobFile file{std::move(context), *std::move(specs), {}, std::move(flags)};
  file.places.assign(file.specs.size(), path);
  return file;
}

// Why `text`, the file at `path`, which is not YAML, was not read: a script without its #!
// line is told so.
Status not_yaml(const std::string& path, const std::string& text, const Status& yaml_error) {
  for (std::string_view marker : {"#FASTGPU", "#SBATCH"}) {
    if (text.starts_with(marker) || text.find("\n" + std::string(marker)) != std::string::npos) {
      return invalid_argument(fmt::format(
          "'{}' has {} lines but no #! line, which a batch script starts with (sbatch needs one "
          "too); make its first line #!/bin/bash (or another interpreter)",
          printable(path), marker));
    }
  }
  return yaml_error;
}

}  // namespace

Result<JobFile> load_job_file(const std::string& path, bool inherit_environment,
                              const std::vector<std::string>& script_args) {
  Result<std::string> text = read_job_file(path);
  if (!text.ok()) return text.status();
  Result<engine::SubmitContext> context = submit_context();
  if (!context.ok()) return context.status();
  if (!inherit_environment) {
    std::erase_if(context->environment,
                  [](const std::string& entry) { return !entry.starts_with("HOME="); });
  }
  // A batch script, as sbatch takes one: its first line starts with "#!".
  if (text->starts_with("#!")) {
    return load_script(path, *text, *std::move(context), script_args);
  }
  if (!script_args.empty()) {
    return invalid_argument(fmt::format(
        "'{}' is a job file, and the words after it ({}) are arguments for a batch script (a "
        "file starting with #!): give each job its arguments in its `command`",
        printable(path), printable(fmt::format("{}", fmt::join(script_args, " ")))));
  }
  JobFile file{*std::move(context), {}, {}};
  Result<std::vector<store::JobSpec>> specs =
      engine::parse_job_file(*text, path, file.context, &file.places);
  if (!specs.ok()) return not_yaml(path, *text, specs.status());
  file.specs = *std::move(specs);
  return file;
}

namespace {

// The PATH a job is run with: the daemon's folders (`prefix`) before the job's own PATH
// (api::prefix_path), as the daemon gives it.
std::string job_search_path(const store::Environment& environment,
                            const std::vector<std::filesystem::path>& prefix) {
  std::vector<std::string> path;  // the job's PATH entry alone: execvp reads the first
  for (const std::string& entry : environment) {
    if (entry.starts_with("PATH=")) {
      path.push_back(entry);
      break;
    }
  }
  api::prefix_path(path, prefix);
  return path.empty() ? "/bin:/usr/bin" : path.front().substr(5);  // glibc's, with no PATH
}

// Why `program` cannot be run from `folder` with `path` as execvp looks for it; nullopt when
// it is there.
std::optional<std::string> program_not_found(const std::string& program, const std::string& folder,
                                             const std::string& path) {
  std::error_code error;
  if (program.find('/') != std::string::npos) {
    // An absolute one stays as it is.
    if (std::filesystem::exists(std::filesystem::path(folder) / program, error) || error) {
      return std::nullopt;
    }
    return fmt::format(
        "'{}' does not exist{}: check the path, or submit with --after the job that makes it",
        printable(program),
        program.front() == '/' ? "" : fmt::format(" (in the job's folder {})", folder));
  }
  for (std::string_view rest = path;;) {
    const std::size_t colon = rest.find(':');
    // An empty part is the current folder, the job's.
    const std::filesystem::path candidate =
        std::filesystem::path(folder) / std::filesystem::path(rest.substr(0, colon)) / program;
    if (::access(candidate.c_str(), X_OK) == 0 &&
        !std::filesystem::is_directory(candidate, error)) {
      return std::nullopt;
    }
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  return fmt::format(
      "'{}' is not a program in the job's PATH ({}): check the name, or give its path (./{} "
      "for one in the job's folder)",
      printable(program), printable(path), printable(program));
}

}  // namespace

std::optional<MissingProgram> first_missing_program(const std::vector<store::JobSpec>& specs) {
  const Result<std::filesystem::path> executable = api::own_executable();
  const std::vector<std::filesystem::path> prefix =
      executable.ok() ? api::job_path_prefix(*executable) : std::vector<std::filesystem::path>{};
  // Each program, folder and PATH looked for once: a sweep of 10,000 jobs runs one program.
  std::set<std::tuple<std::string, std::string, std::string>> looked;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const store::JobSpec& spec = specs[i];
    if (spec.argv.empty() || spec.argv.front().empty() || !spec.dependencies.empty() ||
        spec.held_by) {
      continue;
    }
    const std::string& program = spec.argv.front();
    std::string path = program.find('/') == std::string::npos
                           ? job_search_path(spec.environment, prefix)
                           : std::string();
    if (!looked.emplace(program, spec.working_dir, path).second) continue;
    if (std::optional<std::string> why = program_not_found(program, spec.working_dir, path)) {
      return MissingProgram{i, std::move(*why)};
    }
  }
  return std::nullopt;
}

void tell_left_out(const std::string& verb, const std::string& script,
                   const engine::ScriptFlags& flags) {
  if (flags.left_out.empty()) return;
  std::fprintf(
      stderr, "fastgpu %s: %s: #SBATCH options that mean nothing here were left out: %s%s\n",
      verb.c_str(), script.c_str(), fmt::format("{}", fmt::join(flags.left_out, ", ")).c_str(),
      flags.output_left_out ? " (the job's output goes to its log: `fastgpu logs ID`)" : "");
}

}  // namespace fastgpu::cli
