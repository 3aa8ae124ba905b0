#include "cli/submit_context.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>

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

void give_callers_umask(std::vector<store::JobSpec>& specs) {
  // Read by setting it: set back at once, and a CLI has no other thread to race with.
  const mode_t mask = ::umask(0);
  ::umask(mask);
  for (store::JobSpec& spec : specs) spec.umask = mask;
}

}  // namespace fastgpu::cli
