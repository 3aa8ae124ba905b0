#include "cli/foreground_command.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <thread>

#include "cli/job_wait.h"
#include "exec/job_process.h"

extern char** environ;

namespace fastgpu::cli {

volatile std::sig_atomic_t foreground_stop_signal = 0;

namespace {

// How long a command whose job ended has, after SIGHUP, before SIGKILL.
constexpr std::chrono::seconds kHangUpGrace{10};

extern "C" void on_foreground_stop_signal(int signal) { foreground_stop_signal = signal; }

void handle(std::initializer_list<int> signals, void (*handler)(int)) {
  struct sigaction action {};
  action.sa_handler = handler;
  ::sigemptyset(&action.sa_mask);
  for (const int signal : signals) ::sigaction(signal, &action, nullptr);
}

// Forks and runs the command; -1 when fork fails.
pid_t start_command(const std::vector<std::string>& command, const std::string& working_dir,
                    const std::vector<std::string>& environment, const std::string& verb) {
  std::vector<char*> args;
  for (const std::string& arg : command) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  std::vector<char*> env;
  for (const std::string& entry : environment) env.push_back(const_cast<char*>(entry.c_str()));
  env.push_back(nullptr);
  const pid_t child = ::fork();
  if (child != 0) return child;
  // The command gets the signals as a program started by a shell does.
  for (const int signal : {SIGINT, SIGQUIT, SIGTERM, SIGHUP}) ::signal(signal, SIG_DFL);
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (::chdir(working_dir.c_str()) != 0) {
    std::fprintf(stderr, "fastgpu %s: cannot enter the folder '%s': %s\n", verb.c_str(),
                 working_dir.c_str(), std::strerror(errno));
    ::_exit(1);
  }
  environ = env.data();
  ::execvp(args[0], args.data());
  const int error = errno;
  std::fprintf(stderr, "fastgpu %s: cannot run '%s': %s\n", verb.c_str(), args[0],
               std::strerror(error));
  ::_exit(error == ENOENT ? 127 : 126);  // as a shell says it
}

}  // namespace

std::string placed_gpus_text(const api::Json& job) {
  const auto gpus = job.value("placed_gpus", std::vector<int>{});
  if (gpus.empty()) return "no GPU";
  return fmt::format("GPU{} {}", gpus.size() == 1 ? "" : "s", fmt::join(gpus, ","));
}

int open_pidfd(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

void catch_stop_signals() { handle({SIGINT, SIGTERM, SIGHUP}, on_foreground_stop_signal); }

std::vector<std::string> command_or_shell(const std::vector<std::string>& argv,
                                          const std::optional<std::string>& shell_command) {
  if (!argv.empty()) return argv;
  if (shell_command) return {"/bin/sh", "-c", *shell_command};
  const char* shell = std::getenv("SHELL");
  return {shell != nullptr && *shell != '\0' ? shell : "/bin/sh"};
}

std::vector<std::string> with_job_variables(const std::vector<std::string>& environment,
                                            const std::vector<std::string>& variables) {
  std::vector<std::string> merged;
  for (const std::string& entry : environment) {
    if (!exec::is_set_by_fastgpu(entry)) merged.push_back(entry);
  }
  merged.insert(merged.end(), variables.begin(), variables.end());
  return merged;
}

int run_in_foreground(ReconnectingClient& client, std::uint64_t id,
                      const std::vector<std::string>& command, const std::string& working_dir,
                      const std::vector<std::string>& environment, const std::string& verb) {
  handle({SIGINT, SIGQUIT}, SIG_IGN);
  const pid_t child = start_command(command, working_dir, environment, verb);
  if (child < 0) {
    return fail(verb, internal_error(fmt::format("cannot fork: {}", std::strerror(errno))));
  }
  const std::string program = std::filesystem::path(command.front()).filename().string();
  const int fd = open_pidfd(child);
  std::optional<std::chrono::steady_clock::time_point> hung_up;
  bool killed = false;
  int status = 0;
  for (;;) {
    if (foreground_stop_signal != 0) {  // SIGTERM or SIGHUP for this client: the command's too
      ::kill(child, foreground_stop_signal);
      foreground_stop_signal = 0;
    }
    pollfd exited{fd, POLLIN, 0};
    const int ready = fd < 0 ? 0 : ::poll(&exited, 1, 1000);
    if (fd < 0) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const pid_t waited = ::waitpid(child, &status, WNOHANG);
    if (waited == child) break;
    if (ready < 0 && errno != EINTR) break;
    if (hung_up) {
      if (!killed && std::chrono::steady_clock::now() - *hung_up > kHangUpGrace) {
        ::kill(child, SIGKILL);
        killed = true;
      }
      continue;
    }
    Result<api::Json> job = client.get(fmt::format("/v1/jobs/{}", id));
    if (!job.ok() || (*job)["state"] == "RUNNING") continue;
    std::fprintf(stderr,
                 "fastgpu %s: %sfastgpu %s: the GPUs are no longer this command's: %s gets "
                 "SIGHUP (SIGKILL in %lld s)\n",
                 verb.c_str(), ended_line(*job).c_str(), verb.c_str(), program.c_str(),
                 static_cast<long long>(kHangUpGrace.count()));
    ::kill(child, SIGHUP);
    hung_up = std::chrono::steady_clock::now();
  }
  if (fd >= 0) ::close(fd);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

}  // namespace fastgpu::cli
