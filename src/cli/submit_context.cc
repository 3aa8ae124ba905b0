#include "cli/submit_context.h"

#include <fmt/format.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

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

}  // namespace

Result<JobFile> load_job_file(const std::string& path, bool inherit_environment) {
  Result<std::string> text = read_job_file(path);
  if (!text.ok()) return text.status();
  Result<engine::SubmitContext> context = submit_context();
  if (!context.ok()) return context.status();
  if (!inherit_environment) {
    std::erase_if(context->environment,
                  [](const std::string& entry) { return !entry.starts_with("HOME="); });
  }
  JobFile file{*std::move(context), {}, {}};
  Result<std::vector<store::JobSpec>> specs =
      engine::parse_job_file(*text, path, file.context, &file.places);
  if (!specs.ok()) return specs.status();
  file.specs = *std::move(specs);
  return file;
}

}  // namespace fastgpu::cli
