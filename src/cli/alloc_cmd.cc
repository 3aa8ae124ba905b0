// `fastgpu alloc [--gpus N --gpu-mem 20G --time 2h ...] [-- COMMAND [ARGS...]]`: GPUs for
// a command run here, at this terminal (a shell by default), as Slurm's salloc gives them.
//
// The allocation is a job like any other, queued and placed by the scheduler, held in the
// ledger, limited by --time and listed by queue and history; its program is `fastgpu alloc
// --hold-for PID:TICKS`, a holder that does nothing but wait for this client to exit. Once
// the job runs, the holder writes the variables its job got (CUDA_VISIBLE_DEVICES,
// FASTGPU_JOB_ID, ...) to its log; the client reads them there and runs the command with
// them, in the foreground. When the command exits, so does the client, and the holder,
// which waits on the client's pidfd, ends the job: its GPUs are free again. A client that
// is killed (kill -9, a closed terminal) ends its allocation the same way, and one killed
// while its job waited ends it at its start. A job that ends first (its time limit,
// `fastgpu cancel`) makes the client hang up the command (SIGHUP, then SIGKILL): its GPUs
// are no longer its own.

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "cli/daemon_client.h"
#include "cli/foreground_command.h"
#include "cli/job_wait.h"
#include "cli/submit_context.h"
#include "exec/job_process.h"
#include "fastgpu/core/text.h"
#include "fastgpu/core/units.h"
#include "fastgpu/engine/job_file.h"
#include "fastgpu/exec/process_tree.h"

extern char** environ;

namespace fastgpu::cli {
namespace {

struct AllocOptions {
  engine::SubmitOptions submit;
  DaemonFlags daemon;
  std::string hold_for;  // hidden: "PID:TICKS", the holder's mode
};

// The holder's last line of setup in its log: the variables above it are complete.
constexpr const char* kReadyLine = "fastgpu alloc: ready";

std::optional<std::int64_t> whole_number(std::string_view text) {
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// The holder: the job's program. Writes its job's variables to its log (stdout), then
// waits for the client to exit.
int hold_for(const std::string& client) {
  const std::size_t colon = client.find(':');
  const std::optional<std::int64_t> pid = whole_number(std::string_view(client).substr(0, colon));
  const std::optional<std::int64_t> ticks =
      colon == std::string::npos ? std::nullopt
                                 : whole_number(std::string_view(client).substr(colon + 1));
  if (!pid || !ticks || *pid <= 0 || *ticks < 0) {
    return usage_error("alloc", fmt::format("--hold-for '{}' is not PID:TICKS (it is what "
                                            "fastgpu alloc gives its job, not for use by hand)",
                                            client));
  }
  // The client is the process with that pid that started at those ticks after boot: the
  // pair names one process for good, where a pid is used again. A zombie (killed, not yet
  // reaped) has ended.
  const auto client_runs = [&pid, &ticks] {
    const std::optional<exec::ProcStat> stat = exec::read_proc_stat(static_cast<pid_t>(*pid));
    return stat && stat->start_time_ticks == static_cast<std::uint64_t>(*ticks) &&
           stat->state != 'Z' && stat->state != 'X';
  };
  const int fd = open_pidfd(static_cast<pid_t>(*pid));
  const bool no_pidfd = fd < 0 && errno == ENOSYS;  // before Linux 5.3: looked at each second
  if ((fd < 0 && !no_pidfd) || !client_runs()) {
    if (fd >= 0) ::close(fd);
    std::printf(
        "fastgpu alloc: the fastgpu alloc that asked for this job (pid %lld) exited "
        "before it started; nothing to hold\n",
        static_cast<long long>(*pid));
    return kExitOk;
  }
  std::printf(
      "fastgpu alloc: this job holds its GPUs for pid %lld (fastgpu alloc) until it "
      "exits\n",
      static_cast<long long>(*pid));
  for (char** entry = environ; *entry != nullptr; ++entry) {
    if (exec::is_set_by_fastgpu(*entry)) std::printf("%s\n", *entry);
  }
  std::printf("%s\n", kReadyLine);
  std::fflush(stdout);
  if (fd >= 0) {
    pollfd wait{fd, POLLIN, 0};
    while (::poll(&wait, 1, -1) < 0 && errno == EINTR) {
    }
  } else {
    while (client_runs()) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  std::printf("fastgpu alloc: pid %lld exited; the allocation ends\n",
              static_cast<long long>(*pid));
  return kExitOk;
}

// ---- the client ----

// The variables the holder's log gives, once it has written them all.
std::optional<std::vector<std::string>> read_variables(ReconnectingClient& client,
                                                       std::uint64_t id) {
  Result<api::Json> log = client.get(fmt::format("/v1/jobs/{}/log?offset=0&encoding=text", id));
  if (!log.ok()) return std::nullopt;
  const std::string text = log->value("data", std::string());
  std::vector<std::string> variables;
  for (std::size_t start = 0; start < text.size();) {
    const std::size_t end = text.find('\n', start);
    if (end == std::string::npos) break;  // a line not yet whole
    const std::string line = text.substr(start, end - start);
    if (line == kReadyLine) return variables;
    if (exec::is_set_by_fastgpu(line) && line.find('=') != std::string::npos) {
      variables.push_back(line);
    }
    start = end + 1;
  }
  return std::nullopt;
}

// Waits for job `id` to start and its holder to write its variables: them, or the exit
// status when it ended first or a stop signal came (the job then cancelled).
struct Granted {
  std::vector<std::string> variables;
  api::Json job;
};
Result<Granted> wait_for_grant(ReconnectingClient& client, std::uint64_t id, int& exit_status) {
  std::string said;
  auto pause = std::chrono::milliseconds(20);
  for (;;) {
    if (foreground_stop_signal != 0) {
      Result<api::Json> cancelled =
          client.once().post(fmt::format("/v1/jobs/{}/cancel", id), api::Json::object());
      std::fprintf(
          stderr, "\nfastgpu alloc: %s; job %llu %s\n",
          foreground_stop_signal == SIGINT ? "interrupted" : ::strsignal(foreground_stop_signal),
          static_cast<unsigned long long>(id),
          cancelled.ok() ? "cancelled"
                         : fmt::format("was not cancelled: {}; `fastgpu cancel {}` stops it",
                                       cancelled.status().message(), id)
                               .c_str());
      exit_status = 128 + foreground_stop_signal;
      return failed_precondition("stopped");
    }
    Result<api::Json> job = client.get(fmt::format("/v1/jobs/{}", id));
    if (!job.ok()) {
      exit_status = fail("alloc", job.status());
      return job.status();
    }
    const std::string state = (*job)["state"].get<std::string>();
    if (state == "QUEUED") {
      if (const std::optional<std::string> why = new_waiting_reason(*job, said)) {
        std::fprintf(stderr, "fastgpu alloc: job %llu waits: %s\n",
                     static_cast<unsigned long long>(id), why->c_str());
      }
    } else if (state == "RUNNING") {
      if (std::optional<std::vector<std::string>> variables = read_variables(client, id)) {
        return Granted{std::move(*variables), std::move(*job)};
      }
    } else {
      std::fprintf(stderr, "fastgpu alloc: %s", ended_line(*job).c_str());
      exit_status = kExitFailure;
      return failed_precondition("ended");
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(500));
  }
}

int run_alloc(const AllocOptions& options) {
  if (!options.hold_for.empty()) return hold_for(options.hold_for);
  if (options.submit.array) {
    return usage_error("alloc", fmt::format("--array {} makes many jobs, and alloc holds one "
                                            "allocation for one command here: `fastgpu submit "
                                            "--array` queues an array",
                                            *options.submit.array));
  }
  if (options.submit.restartable && *options.submit.restartable != "false") {
    return usage_error("alloc",
                       "--restartable lets the scheduler stop a job and start it again later, "
                       "and a command at a terminal cannot be: leave it out");
  }
  if (!options.submit.argv.empty() && options.submit.shell_command) {
    return usage_error("alloc", "give the command after -- or as --wrap, not both");
  }
  Result<engine::SubmitContext> context = submit_context();
  if (!context.ok()) return fail("alloc", context.status());
  const std::vector<std::string> command =
      command_or_shell(options.submit.argv, options.submit.shell_command);
  const std::optional<exec::ProcStat> self = exec::read_proc_stat(::getpid());
  std::error_code error;
  const std::filesystem::path program = std::filesystem::read_symlink("/proc/self/exe", error);
  if (!self || error) {
    return fail("alloc", internal_error("cannot read this process's /proc entry, which the "
                                        "allocation's job watches"));
  }
  engine::SubmitOptions holder = options.submit;
  holder.shell_command.reset();
  // The command after `--`, which the holder does not run: `queue` and `show` say what the
  // allocation is for.
  holder.argv = {program.string(), "alloc",
                 fmt::format("--hold-for={}:{}", ::getpid(), self->start_time_ticks), "--"};
  holder.argv.insert(holder.argv.end(), command.begin(), command.end());
  if (!holder.name) holder.name = "alloc";
  Result<std::vector<store::JobSpec>> specs = engine::build_job_specs(holder, *context);
  if (!specs.ok()) return usage_error("alloc", specs.status().message());
  give_callers_umask_and_limits(*specs);

  Result<ReconnectingClient> client = connect_following(options.daemon, "alloc");
  if (!client.ok()) return fail("alloc", client.status());
  catch_stop_signals();
  // Sent once: a batch sent again after a daemon went away mid-request could run twice.
  Result<api::Json> reply = client->once().post("/v1/jobs", api::job_batch_to_json(*specs));
  if (!reply.ok()) return fail("alloc", reply.status());
  const std::uint64_t id = (*reply)["ids"][0].get<std::uint64_t>();
  int exit_status = kExitOk;
  Result<Granted> granted = wait_for_grant(*client, id, exit_status);
  if (!granted.ok()) return exit_status;
  const std::string name = std::filesystem::path(command.front()).filename().string();
  std::fprintf(stderr, "fastgpu alloc: job %llu holds %s for %s until it exits\n",
               static_cast<unsigned long long>(id), placed_gpus_text(granted->job).c_str(),
               name.c_str());
  // The command's environment: this one's with the --env flags (as the job got them), and
  // the job's variables in place of any this shell had.
  return run_in_foreground(*client, id, command, specs->front().working_dir,
                           with_job_variables(specs->front().environment, granted->variables),
                           "alloc");
}

}  // namespace

void add_alloc_command(CLI::App& app, CommandOutcome& outcome) {
  auto options = std::make_shared<AllocOptions>();
  CLI::App* command = app.add_subcommand(
      "alloc",
      "Run a command here (a shell by default) on GPUs the scheduler gives it, as salloc: "
      "fastgpu alloc [--gpus N --gpu-mem 20G --time 2h ...] [-- COMMAND [ARGS...]]");
  engine::add_submit_flags(*command, options->submit);
  command->add_option("--hold-for", options->hold_for)->group("");
  add_daemon_flags(*command, options->daemon, false);
  command->callback([options, &outcome] { outcome.exit_code = run_alloc(*options); });
}

}  // namespace fastgpu::cli
