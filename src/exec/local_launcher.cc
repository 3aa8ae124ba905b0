#include "fastgpu/exec/local_launcher.h"

#include <fmt/format.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <system_error>

#include "exec/job_cgroup.h"
#include "exec/run_files.h"
#include "exec/spawn_supervisor.h"
#include "exec/supervisor_spawner.h"
#include "fastgpu/exec/process_tree.h"

namespace fastgpu::exec {
namespace {

std::string errno_text(int error) { return std::strerror(error); }

std::string job_name(JobId job) { return "job " + to_string(job); }

bool has_nul(const std::string& text) { return text.find('\0') != std::string::npos; }

Status check_command(const LaunchRequest& request) {
  const std::string who = job_name(request.job);
  if (request.argv.empty() == request.shell_command.empty()) {
    return invalid_argument(who + ": give exactly one of a command (argv) and a shell command" +
                            (request.argv.empty() ? " (both are empty)" : " (both are set)"));
  }
  if (!request.argv.empty() && request.argv.front().empty()) {
    return invalid_argument(who + ": the program name (argv[0]) is empty; name a program");
  }
  for (const std::string& arg : request.argv) {
    if (has_nul(arg)) return invalid_argument(who + ": an argument holds a NUL byte");
  }
  if (has_nul(request.shell_command)) {
    return invalid_argument(who + ": the shell command holds a NUL byte");
  }
  for (const std::string& entry : request.environment) {
    if (entry.find('=') == std::string::npos || entry.front() == '=' || has_nul(entry)) {
      return invalid_argument(
          fmt::format("{}: environment entry '{}' is not of the form KEY=VALUE", who, entry));
    }
  }
  return {};
}

// Fills in the job user's gid (when missing) and supplementary groups as initgroups()
// would set them. Done here, in the daemon, so that the supervisor reads no user database
// (it is linked statically, where glibc cannot load the name-service modules reliably).
Status resolve_identity(LaunchRequest& request) {
  if (!request.uid || request.groups) return {};
  struct passwd entry {};
  struct passwd* user = nullptr;
  std::vector<char> buffer(16384);
  const int error = ::getpwuid_r(*request.uid, &entry, buffer.data(), buffer.size(), &user);
  if (error != 0 || user == nullptr) {
    if (request.gid) return {};  // no name to look groups up by: the gid alone
    return not_found("no user with uid " + std::to_string(*request.uid) +
                     " on this machine, so the job cannot run as its owner; create the user "
                     "or give a gid");
  }
  if (!request.gid) request.gid = user->pw_gid;
  int count = 64;
  std::vector<gid_t> groups(static_cast<std::size_t>(count));
  if (::getgrouplist(user->pw_name, *request.gid, groups.data(), &count) < 0) {
    groups.resize(static_cast<std::size_t>(count));
    ::getgrouplist(user->pw_name, *request.gid, groups.data(), &count);
  }
  groups.resize(static_cast<std::size_t>(count));
  request.groups = std::move(groups);
  return {};
}

Status check_paths_and_limits(const LaunchRequest& request) {
  const std::string who = job_name(request.job);
  if (request.working_dir.empty() || request.working_dir.front() != '/') {
    return invalid_argument(who + ": working folder '" + request.working_dir +
                            "' is not an absolute path; give the full path, e.g. /home/me/run");
  }
  if (request.log_path.empty()) return invalid_argument(who + ": no log path; give one");
  if (request.run_file.empty()) return invalid_argument(who + ": no run record path; give one");
  if (request.time_limit_s &&
      !(std::isfinite(*request.time_limit_s) && *request.time_limit_s > 0)) {
    return invalid_argument(who + ": time limit " + std::to_string(*request.time_limit_s) +
                            " s is not a positive number of seconds");
  }
  if (!(std::isfinite(request.kill_grace_s) && request.kill_grace_s >= 0)) {
    return invalid_argument(who + ": kill grace " + std::to_string(request.kill_grace_s) +
                            " s is not zero or a positive number of seconds");
  }
  return {};
}

// Makes the record's folder and removes a record a previous run left at the same path, so
// its outcome is not read as ours.
Status prepare_run_file(const std::filesystem::path& run_file) {
  std::error_code error;
  std::filesystem::create_directories(run_file.parent_path(), error);
  if (error) {
    return io_error("cannot create the runs folder '" + run_file.parent_path().string() +
                    "': " + error.message());
  }
  std::filesystem::remove(run_file, error);
  return {};
}

std::string wait_status_text(int status) {
  if (WIFSIGNALED(status)) {
    const char* name = ::strsignal(WTERMSIG(status));
    return "killed by signal " + std::to_string(WTERMSIG(status)) +
           (name != nullptr ? std::string(" (") + name + ")" : "");
  }
  return "exit status " + std::to_string(WEXITSTATUS(status));
}

// Kills the processes still in a vanished supervisor's session: with no supervisor left,
// nothing else would ever stop them. The session id cannot have been reused while any of
// them lives, so every process with it belongs to the job.
int kill_orphaned_session(pid_t supervisor_pid) {
  if (supervisor_pid <= 0 || read_proc_stat(supervisor_pid)) return 0;
  int killed = 0;
  for (pid_t pid : list_pids()) {
    std::optional<ProcStat> stat = read_proc_stat(pid);
    if (stat && stat->session == supervisor_pid && stat->state != 'Z' &&
        ::kill(pid, SIGKILL) == 0) {
      ++killed;
    }
  }
  return killed;
}

struct Tracked {
  pid_t supervisor_pid = 0;  // 0: adopted with an outcome but no pid file: already ended
  bool own_child = false;    // spawned by us: reaped with waitpid
  std::optional<std::uint64_t> start_time_ticks;  // from the record, to spot pid reuse
  std::filesystem::path run_file;
  WallTime started{};
};

class LocalLauncher final : public Launcher {
 public:
  explicit LocalLauncher(LocalLauncherOptions options)
      : options_(std::move(options)), spawner_(options_.supervisor_path) {}

  // Running jobs keep running: their supervisors do not depend on us. A supervisor still
  // starting finds nobody on its pipe and leaves its job for the next daemon to queue again.
  ~LocalLauncher() override {
    for (auto& [job, pending] : pending_) {
      if (pending.spawned.report_fd >= 0) ::close(pending.spawned.report_fd);
    }
  }

  Result<Launched> launch(const LaunchRequest& request) override;
  std::vector<LaunchResult> begin_launches(std::span<const LaunchRequest> requests) override;
  std::vector<LaunchResult> poll_launches() override;
  Status stop(JobId job, StopReason reason) override;
  Status set_time_limit(JobId job, std::optional<double> time_limit_s) override;
  Status adopt(JobId job, pid_t supervisor_pid, const std::filesystem::path& run_file) override;
  std::vector<Finished> poll() override;

 private:
  // A launch between its spawn and the supervisor's report.
  struct Pending {
    JobId job;
    std::filesystem::path run_file;
    SpawnedSupervisor spawned;
    std::chrono::steady_clock::time_point deadline{};  // for its report (begin_launches)
  };
  Result<Pending> begin(const LaunchRequest& request);
  Result<Launched> complete(Pending& pending);
  Result<Launched> settle(Pending& pending, const Result<SupervisorReport>& report);

  // Why a tracked supervisor is gone, or nullopt while it runs.
  std::optional<std::string> check_ended(Tracked& tracked);
  std::optional<std::string> check_adopted(const Tracked& tracked);
  bool is_same_process(const Tracked& tracked) const;
  Finished finish(JobId job, const Tracked& tracked, const std::string& how) const;
  void reap_strays();

  LocalLauncherOptions options_;
  SupervisorSpawner spawner_;  // used when options_.use_spawner
  std::map<JobId, Tracked> tracked_;
  std::map<JobId, Pending> pending_;  // begun by begin_launches, not yet reported
  std::vector<pid_t> strays_;         // our supervisors whose launch failed; reaped by poll()
};

// The first half of a launch: checks, the runs folder, the spawn (the request travels on
// the supervisor's stdin).
Result<LocalLauncher::Pending> LocalLauncher::begin(const LaunchRequest& request) {
  FASTGPU_RETURN_IF_ERROR(check_command(request));
  FASTGPU_RETURN_IF_ERROR(check_paths_and_limits(request));
  if (tracked_.contains(request.job) || pending_.contains(request.job)) {
    return failed_precondition(job_name(request.job) + " is already running; stop it first");
  }
  Pending pending{request.job, std::filesystem::absolute(request.run_file), {}, {}};
  LaunchRequest absolute = request;
  absolute.run_file = pending.run_file;
  absolute.log_path = std::filesystem::absolute(request.log_path);
  FASTGPU_RETURN_IF_ERROR(resolve_identity(absolute).with_context(job_name(request.job)));
  FASTGPU_RETURN_IF_ERROR(prepare_run_file(absolute.run_file));
  Result<SpawnedSupervisor> spawned =
      start_supervisor(options_.supervisor_path, pending.run_file, request_to_json(absolute),
                       options_.use_spawner ? &spawner_ : nullptr);
  if (!spawned.ok()) return spawned.status().with_context(job_name(request.job));
  pending.spawned = *spawned;
  return pending;
}

// The second half: the supervisor's report says whether the job's process exists.
Result<Launched> LocalLauncher::complete(Pending& pending) {
  return settle(pending, await_supervisor_report(pending.spawned, pending.run_file,
                                                 options_.start_timeout_s));
}

Result<Launched> LocalLauncher::settle(Pending& pending, const Result<SupervisorReport>& report) {
  const pid_t spawned = pending.spawned.pid;
  if (!report.ok() || !report->started) {
    // Silent or garbled: it must not run a job nobody tracks. (One that reported a
    // failure is exiting already.) Its session is cleaned up once it is reaped.
    if (!report.ok()) ::kill(spawned, SIGKILL);
    strays_.push_back(spawned);
    if (!report.ok()) return report.status().with_context(job_name(pending.job));
    return failed_precondition(job_name(pending.job) + " could not start: " + report->message);
  }
  tracked_[pending.job] =
      Tracked{spawned, true, std::nullopt, pending.run_file, report->started_at};
  return Launched{spawned, report->job_pid, report->started_at};
}

Result<Launched> LocalLauncher::launch(const LaunchRequest& request) {
  Result<Pending> pending = begin(request);
  if (!pending.ok()) return pending.status();
  return complete(*pending);
}

std::vector<LaunchResult> LocalLauncher::begin_launches(std::span<const LaunchRequest> requests) {
  std::vector<LaunchResult> settled;
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                            std::chrono::duration<double>(options_.start_timeout_s));
  for (const LaunchRequest& request : requests) {
    Result<Pending> begun = begin(request);
    if (!begun.ok()) {
      settled.push_back({request.job, begun.status()});
      continue;
    }
    begun->deadline = deadline;
    pending_.emplace(request.job, std::move(begun).value());
  }
  return settled;
}

std::vector<LaunchResult> LocalLauncher::poll_launches() {
  std::vector<LaunchResult> settled;
  const auto now = std::chrono::steady_clock::now();
  for (auto it = pending_.begin(); it != pending_.end();) {
    Pending& pending = it->second;
    std::optional<Result<SupervisorReport>> report =
        poll_supervisor_report(pending.spawned, pending.run_file);
    if (!report && now < pending.deadline) {
      ++it;
      continue;
    }
    if (!report) {
      ::close(pending.spawned.report_fd);
      pending.spawned.report_fd = -1;
      report = Result<SupervisorReport>(
          unavailable(fmt::format("no report after {} s", options_.start_timeout_s)));
    }
    settled.push_back({pending.job, settle(pending, *report)});
    it = pending_.erase(it);
  }
  return settled;
}

Status LocalLauncher::stop(JobId job, StopReason reason) {
  const int signal = reason == StopReason::kPreempt ? SIGUSR1 : SIGTERM;
  // Still starting: our own child, so the pid is surely its; the supervisor keeps the
  // signal blocked until its job runs, then stops it.
  if (auto starting = pending_.find(job); starting != pending_.end()) {
    ::kill(starting->second.spawned.pid, signal);
    return {};
  }
  auto it = tracked_.find(job);
  if (it == tracked_.end()) {
    return not_found(job_name(job) + " is not running under this launcher; nothing to stop");
  }
  const Tracked& tracked = it->second;
  // A gone or reused pid is not ours to signal; poll() will report the end.
  if (tracked.supervisor_pid <= 0 || !is_same_process(tracked)) return {};
  if (::kill(tracked.supervisor_pid, signal) != 0 && errno != ESRCH) {
    return failed_precondition("cannot signal the supervisor (pid " +
                               std::to_string(tracked.supervisor_pid) + ") of " + job_name(job) +
                               ": " + errno_text(errno));
  }
  return {};
}

Status LocalLauncher::set_time_limit(JobId job, std::optional<double> time_limit_s) {
  if (pending_.contains(job)) {
    return unavailable(job_name(job) + " is still starting; ask again in a moment");
  }
  auto it = tracked_.find(job);
  if (it == tracked_.end()) {
    return not_found(job_name(job) + " is not running under this launcher");
  }
  const Tracked& tracked = it->second;
  Result<RunRecord> record = read_run_record(tracked.run_file);
  if (!record.ok()) return record.status().with_context("reading " + job_name(job) + "'s run");
  if (record->outcome || tracked.supervisor_pid <= 0 || !is_same_process(tracked)) {
    return failed_precondition(job_name(job) + " has ended");
  }
  if (!record->job) return unavailable(job_name(job) + " is still starting; ask again in a moment");
  if (!record->time_limit) {
    return failed_precondition(
        job_name(job) +
        "'s supervisor was started by an earlier version of FastGPU, which cannot change a "
        "running job's time limit: it keeps the one it started with");
  }
  if (record->time_limit->seconds == time_limit_s) return {};
  FASTGPU_RETURN_IF_ERROR(append_time_limit(tracked.run_file, TimeLimit{time_limit_s}));
  // Read by the supervisor from the record: a signal carries no value.
  if (::kill(tracked.supervisor_pid, SIGUSR2) != 0) {
    return failed_precondition("cannot signal the supervisor (pid " +
                               std::to_string(tracked.supervisor_pid) + ") of " + job_name(job) +
                               ": " + errno_text(errno));
  }
  return {};
}

Status LocalLauncher::adopt(JobId job, pid_t supervisor_pid,
                            const std::filesystem::path& run_file) {
  if (auto it = tracked_.find(job); it != tracked_.end()) {
    if (supervisor_pid == 0 || it->second.supervisor_pid == supervisor_pid) return {};
    return failed_precondition(job_name(job) + " is already tracked with supervisor pid " +
                               std::to_string(it->second.supervisor_pid));
  }
  Result<RunRecord> record = read_run_record(run_file);
  if (!record.ok() && record.status().code() != ErrorCode::kNotFound) {
    return record.status().with_context("adopting " + job_name(job));
  }
  if (supervisor_pid == 0 && (!record.ok() || (!record->supervisor && !record->outcome))) {
    return not_found(job_name(job) + " never started: its run record '" + run_file.string() +
                     "' does not exist; it may be queued again");
  }
  Tracked tracked{supervisor_pid, false, std::nullopt, run_file, wall_now()};
  if (record.ok() && record->supervisor &&
      (supervisor_pid == 0 || record->supervisor->pid == supervisor_pid)) {
    tracked.supervisor_pid = record->supervisor->pid;
    tracked.start_time_ticks = record->supervisor->start_time_ticks;
  }
  if (record.ok() && record->job) tracked.started = record->job->started;
  tracked_[job] = std::move(tracked);
  return {};
}

std::vector<Finished> LocalLauncher::poll() {
  reap_strays();
  std::vector<Finished> finished;
  for (auto it = tracked_.begin(); it != tracked_.end();) {
    if (std::optional<std::string> how = check_ended(it->second)) {
      finished.push_back(finish(it->first, it->second, *how));
      it = tracked_.erase(it);
    } else {
      ++it;
    }
  }
  return finished;
}

std::optional<std::string> LocalLauncher::check_ended(Tracked& tracked) {
  if (tracked.supervisor_pid <= 0) return "it had ended before it was adopted";
  if (!tracked.own_child) return check_adopted(tracked);
  int status = 0;
  const pid_t reaped = ::waitpid(tracked.supervisor_pid, &status, WNOHANG);
  if (reaped == tracked.supervisor_pid) return wait_status_text(status);
  if (reaped == 0) return std::nullopt;
  tracked.own_child = false;  // reaped elsewhere (ECHILD): judge it as an adopted one
  return check_adopted(tracked);
}

// Not our child: alive while its /proc entry exists, is not a zombie, and is the same
// process that started the record (same start time) or, without one, still leads
// the session it created.
std::optional<std::string> LocalLauncher::check_adopted(const Tracked& tracked) {
  std::optional<ProcStat> stat = read_proc_stat(tracked.supervisor_pid);
  if (!stat) return "it is gone";
  if (!is_same_process(tracked)) return "its pid now belongs to another process";
  if (stat->state != 'Z') return std::nullopt;
  int status = 0;  // a zombie may be ours after all (a launcher in this same process)
  if (::waitpid(tracked.supervisor_pid, &status, WNOHANG) == tracked.supervisor_pid) {
    return wait_status_text(status);
  }
  return "it has exited";
}

bool LocalLauncher::is_same_process(const Tracked& tracked) const {
  if (tracked.own_child) return true;  // the pid of an unreaped child cannot be reused
  std::optional<ProcStat> stat = read_proc_stat(tracked.supervisor_pid);
  if (!stat) return false;
  if (tracked.start_time_ticks) return stat->start_time_ticks == *tracked.start_time_ticks;
  return stat->session == tracked.supervisor_pid;
}

Finished LocalLauncher::finish(JobId job, const Tracked& tracked, const std::string& how) const {
  Result<RunRecord> record = read_run_record(tracked.run_file);
  if (record.ok() && record->outcome) {
    RunOutcome& run = *record->outcome;
    return Finished{job, std::move(run.outcome), run.started, run.ended, run.usage};
  }
  std::string message = "the supervisor (pid " + std::to_string(tracked.supervisor_pid) +
                        ") ended without writing an outcome (" + how + ")";
  if (!record.ok() && record.status().code() != ErrorCode::kNotFound) {
    message += ": " + record.status().message();
  }
  int killed = kill_orphaned_session(tracked.supervisor_pid);
  // Members that left the session too, and the cgroup itself (job_cgroup.h).
  killed += kill_run_cgroup(tracked.run_file.stem().string(), tracked.supervisor_pid);
  if (killed > 0) {
    message += "; killed " + std::to_string(killed) + " process" + (killed == 1 ? "" : "es") +
               " of the job left without a supervisor";
  }
  return Finished{job, Lost{message}, tracked.started, wall_now(), Usage{}};
}

void LocalLauncher::reap_strays() {
  spawner_.reap_if_exited();
  std::erase_if(strays_, [](pid_t pid) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == 0) return false;
    kill_orphaned_session(pid);
    return true;
  });
}

}  // namespace

std::filesystem::path default_supervisor_path() {
  std::error_code error;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) return "fastgpu-supervisor";
  return self.parent_path() / "fastgpu-supervisor";
}

Result<std::unique_ptr<Launcher>> make_local_launcher(LocalLauncherOptions options) {
  if (options.supervisor_path.empty()) options.supervisor_path = default_supervisor_path();
  if (::access(options.supervisor_path.c_str(), X_OK) != 0) {
    return not_found("the supervisor program '" + options.supervisor_path.string() +
                     "' is missing or not executable (" + errno_text(errno) +
                     "); install fastgpu-supervisor next to fastgpu, or set supervisor_path");
  }
  if (!(std::isfinite(options.start_timeout_s) && options.start_timeout_s > 0)) {
    return invalid_argument("start timeout " + std::to_string(options.start_timeout_s) +
                            " s is not a positive number of seconds");
  }
  std::unique_ptr<Launcher> launcher = std::make_unique<LocalLauncher>(std::move(options));
  return launcher;
}

}  // namespace fastgpu::exec
