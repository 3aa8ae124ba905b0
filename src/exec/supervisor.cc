#include "fastgpu/exec/supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>

#include "exec/job_cgroup.h"
#include "exec/job_process.h"
#include "exec/run_files.h"
#include "fastgpu/core/units.h"
#include "fastgpu/exec/process_tree.h"

namespace fastgpu::exec {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;
using std::chrono::steady_clock;

// How long the supervisor keeps killing and reaping leftovers before it gives up on
// processes stuck in the kernel (state D) and writes the outcome anyway.
constexpr std::chrono::seconds kLeftoverDeadline{10};
// Upper bound on one wait, so a lost wake-up costs at most this much.
constexpr std::chrono::milliseconds kMaxWait{500};

sigset_t handled_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGUSR2);
  sigaddset(&set, SIGCHLD);
  return set;
}

// Writes a line to the supervisor's stderr: the shared supervisor.log beside the run records,
// so each line names its run.
void note(const std::filesystem::path& run_file, const std::string& message) {
  std::fprintf(stderr, "fastgpu-supervisor %s: %s\n", run_file.c_str(), message.c_str());
}

// Sends the one line launch() waits for, then closes the pipe.
class Notifier {
 public:
  Notifier(int fd, std::filesystem::path run_file) : fd_(fd), run_file_(std::move(run_file)) {
    if (fd_ >= 0) ::fcntl(fd_, F_SETFD, FD_CLOEXEC);  // the job must not hold it open
  }
  ~Notifier() { close(); }
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  void started(pid_t job_pid, WallTime at) {
    send("started " + std::to_string(job_pid) + " " +
         std::to_string(at.time_since_epoch().count()) + "\n");
  }
  // True when the launcher that spawned us has died: nobody holds the pipe's read end any
  // more (poll reports POLLERR on a pipe's write end without readers).
  bool launcher_gone() const {
    if (fd_ < 0) return false;
    pollfd end{fd_, POLLOUT, 0};
    return ::poll(&end, 1, 0) == 1 && (end.revents & POLLERR) != 0;
  }
  void failed(const std::string& message) {
    note(run_file_, message);
    std::string line = message;
    std::replace(line.begin(), line.end(), '\n', ' ');
    send("failed " + line + "\n");
  }

 private:
  void send(const std::string& line) {
    if (fd_ < 0) return;
    (void)write_all(fd_, line, "the notify pipe");  // a daemon gone meanwhile hears nothing
    close();
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd_;
  std::filesystem::path run_file_;
};

void become_session_leader() {
  ::setsid();  // fails only if already a leader (run by hand from a shell's own session)
  ::signal(SIGHUP, SIG_IGN);   // outlives the daemon and any terminal
  ::signal(SIGPIPE, SIG_IGN);  // launch() may have stopped reading the notify pipe
  const sigset_t set = handled_signals();
  ::sigprocmask(SIG_BLOCK, &set, nullptr);
  // Orphans of the job become our children, so none escapes the cleanup at the end.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}

// Reaps every child that has ended; true when no child is left at all.
bool reap_ended_children() {
  int status = 0;
  pid_t reaped = 0;
  while ((reaped = ::waitpid(-1, &status, WNOHANG)) > 0) {
  }
  return reaped < 0 && errno == ECHILD;
}

Status start_own_record(const std::filesystem::path& run_file) {
  std::optional<ProcStat> self = read_proc_stat(::getpid());
  if (!self) return io_error("cannot read /proc/self/stat for the supervisor's start time");
  return start_run_record(run_file, {::getpid(), self->start_time_ticks});
}

// The whole request from `fd` (the launcher's memfd on our stdin), which is then closed
// and replaced by /dev/null.
Result<LaunchRequest> read_request(int fd) {
  std::string text;
  char buffer[4096];
  for (;;) {
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return io_error(std::string("cannot read the request: ") + std::strerror(errno));
    if (got == 0) break;
    text.append(buffer, static_cast<std::size_t>(got));
  }
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd >= 0 && null_fd != fd) {
    ::dup2(null_fd, fd);
    ::close(null_fd);
  }
  if (text.empty()) return invalid_argument("no launch request on standard input");
  return request_from_json(text);
}

std::string duration_text(double seconds) { return format_duration(Seconds(seconds)); }

std::string signal_text(int signal) {
  const char* name = ::strsignal(signal);
  return std::to_string(signal) + (name != nullptr ? std::string(" (") + name + ")" : "");
}

Usage children_usage() {
  rusage usage{};
  if (::getrusage(RUSAGE_CHILDREN, &usage) != 0) return {};
  auto seconds = [](const timeval& time) {
    return static_cast<double>(time.tv_sec) + static_cast<double>(time.tv_usec) / 1e6;
  };
  return Usage{seconds(usage.ru_utime), seconds(usage.ru_stime),
               static_cast<Bytes>(usage.ru_maxrss) * 1024};  // ru_maxrss is in KiB
}

// Appends a line about how the job ended to its log, starting on a fresh line. The log
// fd is write-only, so the last byte is read through a second descriptor.
void append_log_line(int log_fd, const std::filesystem::path& log_path, const std::string& line) {
  std::string text = "fastgpu: " + line + "\n";
  const int reader = ::open(log_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (reader >= 0) {
    struct stat info {};
    char last = '\n';
    if (::fstat(reader, &info) == 0 && info.st_size > 0 &&
        ::pread(reader, &last, 1, info.st_size - 1) == 1 && last != '\n') {
      text.insert(0, "\n");
    }
    ::close(reader);
  }
  (void)write_all(log_fd, text, "the job's log");  // nowhere better to say it failed
}

enum class StopCause { kNone, kTimeLimit, kCancel, kPreempt };

class Supervisor {
 public:
  Supervisor(LaunchRequest request, std::filesystem::path run_file)
      : request_(std::move(request)), run_file_(std::move(run_file)) {}

  int run(Notifier& notify);

 private:
  int fail_to_start(Notifier& notify, const std::string& message);
  int finish_exec_failure(const std::string& error, std::optional<int> exit_code);
  int finish();
  void supervise();
  void reap_children();
  void check_deadlines(SteadyTime now);
  void request_stop(StopCause cause);
  void read_time_limit();
  timespec next_wait(SteadyTime now) const;
  int kill_leftovers();
  Outcome outcome() const;
  std::string story(int leftovers) const;
  std::string job_name() const { return "job " + to_string(request_.job); }

  LaunchRequest request_;
  std::filesystem::path run_file_;
  JobPlan plan_;
  std::optional<JobCgroup> cgroup_;  // where the system lets us make one
  pid_t job_pid_ = 0;
  WallTime started_{};
  SteadyTime started_steady_{};
  StopCause stop_cause_ = StopCause::kNone;
  SteadyTime term_sent_{};
  bool kill_sent_ = false;
  bool job_done_ = false;
  int wait_status_ = 0;
  SteadyTime ended_steady_{};
};

int Supervisor::fail_to_start(Notifier& notify, const std::string& message) {
  const WallTime now = wall_now();
  if (plan_.log_fd >= 0) {
    append_log_line(plan_.log_fd, request_.log_path, job_name() + " could not start: " + message);
  }
  // Written even though launch() reports the error itself: a daemon that died meanwhile
  // finds the outcome when it adopts the run.
  Status written = append_outcome(run_file_, {LaunchFailed{message}, now, now, Usage{}});
  notify.failed(message);
  close_job_plan(plan_);
  return written.ok() ? 1 : 2;
}

int Supervisor::run(Notifier& notify) {
  Result<JobPlan> plan = make_job_plan(request_);
  if (!plan.ok()) return fail_to_start(notify, plan.status().message());
  plan_ = std::move(*plan);
  // Only a job on GPUs: the cgroup is there to attribute GPU processes, and making one,
  // moving the job in and removing it cost about 0.5 ms of CPU, a third of what a
  // trivial CPU-only job costs the supervisor.
  if (!request_.gpus.empty()) {
    cgroup_ = JobCgroup::create(run_file_.stem().string(), ::getpid());
    if (cgroup_) plan_.cgroup_procs_fd = cgroup_->procs_fd();
  }
  // Before the fork: start_job returns once the job has exec'd, and we may be scheduled out
  // meanwhile while the job runs, so a start taken after it under-counts the run (a
  // `sleep 0.3` measured 0.296 s on a busy machine).
  started_ = wall_now();
  started_steady_ = steady_clock::now();
  Result<StartedJob> job = start_job(plan_);
  if (!job.ok()) return fail_to_start(notify, job.status().message());
  job_pid_ = job->pid;
  Status pid_written =
      append_job_pid(run_file_, {job_pid_, started_, TimeLimit{request_.time_limit_s}});
  if (!pid_written.ok()) note(run_file_, pid_written.to_string());
  notify.started(job_pid_, started_);
  if (job->exec_error) return finish_exec_failure(*job->exec_error, job->exit_code);
  supervise();
  return finish();
}

// The child could not exec: it has exited already (status 127 or 126 for the program, 127
// for an earlier step), so there is nothing to supervise.
int Supervisor::finish_exec_failure(const std::string& error, std::optional<int> exit_code) {
  int status = 0;
  ::waitpid(job_pid_, &status, 0);
  append_log_line(plan_.log_fd, request_.log_path, job_name() + " could not start: " + error);
  close_job_plan(plan_);
  cgroup_.reset();
  Status written = append_outcome(
      run_file_, {LaunchFailed{error, exit_code}, started_, wall_now(), children_usage()});
  return written.ok() ? 0 : 2;
}

int Supervisor::finish() {
  const int leftovers = kill_leftovers();
  const WallTime ended = wall_now();
  if (std::string line = story(leftovers); !line.empty()) {
    append_log_line(plan_.log_fd, request_.log_path, line);
  }
  close_job_plan(plan_);
  cgroup_.reset();  // removed, now that it is empty, before anyone hears the job ended
  // Last: once the outcome is in the record, the launcher may report the job ended.
  Status written = append_outcome(run_file_, {outcome(), started_, ended, children_usage()});
  if (!written.ok()) note(run_file_, written.to_string());
  return written.ok() ? 0 : 2;
}

void Supervisor::supervise() {
  const sigset_t set = handled_signals();
  for (;;) {
    reap_children();
    if (job_done_) return;
    const SteadyTime now = steady_clock::now();
    check_deadlines(now);
    const timespec wait = next_wait(now);
    siginfo_t info{};
    const int signal = ::sigtimedwait(&set, &info, &wait);
    if (signal == SIGTERM || signal == SIGINT) request_stop(StopCause::kCancel);
    if (signal == SIGUSR1) request_stop(StopCause::kPreempt);
    if (signal == SIGUSR2) read_time_limit();
  }
}

// The launcher appended a new limit to our record: it counts from the job's start, as the
// first did, and one already past stops the job at once (check_deadlines). Too late once
// the job is being stopped: its SIGTERM went out.
void Supervisor::read_time_limit() {
  Result<RunRecord> record = read_run_record(run_file_);
  if (!record.ok()) {
    note(run_file_, "cannot read the new time limit: " + record.status().to_string());
    return;
  }
  if (!record->time_limit || record->time_limit->seconds == request_.time_limit_s ||
      stop_cause_ != StopCause::kNone) {
    return;
  }
  const auto text = [](const std::optional<double>& limit) {
    return limit ? duration_text(*limit) : std::string("none");
  };
  append_log_line(plan_.log_fd, request_.log_path,
                  job_name() + "'s time limit changed from " + text(request_.time_limit_s) +
                      " to " + text(record->time_limit->seconds) + ", counted from its start");
  request_.time_limit_s = record->time_limit->seconds;
}

// Reaps every child: the job's first process (whose status we keep) and any orphan of the
// job that was re-parented to us.
void Supervisor::reap_children() {
  for (;;) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    if (pid == job_pid_) {
      job_done_ = true;
      wait_status_ = status;
      ended_steady_ = steady_clock::now();
    }
  }
}

void Supervisor::check_deadlines(SteadyTime now) {
  if (stop_cause_ == StopCause::kNone && request_.time_limit_s &&
      now >= started_steady_ + std::chrono::duration<double>(*request_.time_limit_s)) {
    request_stop(StopCause::kTimeLimit);
  }
  if (stop_cause_ != StopCause::kNone && !kill_sent_ &&
      now >= term_sent_ + std::chrono::duration<double>(request_.kill_grace_s)) {
    ::kill(-job_pid_, SIGKILL);
    kill_sent_ = true;
  }
}

void Supervisor::request_stop(StopCause cause) {
  if (stop_cause_ != StopCause::kNone) {
    // A cancel after a preempt wins: the user wants the job gone, not requeued.
    if (cause == StopCause::kCancel && stop_cause_ == StopCause::kPreempt) stop_cause_ = cause;
    return;
  }
  stop_cause_ = cause;
  term_sent_ = steady_clock::now();
  ::kill(-job_pid_, SIGTERM);
}

timespec Supervisor::next_wait(SteadyTime now) const {
  SteadyTime until = now + kMaxWait;
  if (stop_cause_ == StopCause::kNone && request_.time_limit_s) {
    until = std::min(until,
                     started_steady_ + std::chrono::duration_cast<steady_clock::duration>(
                                           std::chrono::duration<double>(*request_.time_limit_s)));
  }
  if (stop_cause_ != StopCause::kNone && !kill_sent_) {
    until = std::min(until, term_sent_ + std::chrono::duration_cast<steady_clock::duration>(
                                             std::chrono::duration<double>(request_.kill_grace_s)));
  }
  const auto left = std::max(std::chrono::nanoseconds(0), until - now);
  const auto whole = std::chrono::duration_cast<std::chrono::seconds>(left);
  return timespec{static_cast<time_t>(whole.count()), static_cast<long>((left - whole).count())};
}

// Kills what is left of the job: its process group, every process of our session, and
// every child of ours (orphans re-parented to us, even ones that left the session). Repeats
// until no child is left, since killing a parent can orphan more processes onto us.
// Returns how many distinct processes it found.
int Supervisor::kill_leftovers() {
  // The common case, without reading all of /proc: we have no child left, so the job left
  // nothing behind (every process it started descends from us, and an orphan is
  // re-parented to us as the child subreaper).
  if (reap_ended_children() && ::kill(-job_pid_, 0) != 0 &&
      (!cgroup_ || cgroup_->members().empty())) {
    return 0;
  }
  const pid_t self = ::getpid();
  const SteadyTime give_up = steady_clock::now() + kLeftoverDeadline;
  std::set<pid_t> found;
  for (;;) {
    for (pid_t pid : list_pids()) {
      std::optional<ProcStat> stat = read_proc_stat(pid);
      if (!stat || pid == self || stat->state == 'Z') continue;
      if (stat->session == self || stat->parent_pid == self || stat->process_group == job_pid_) {
        ::kill(pid, SIGKILL);
        found.insert(pid);
      }
    }
    if (cgroup_) {
      for (pid_t pid : cgroup_->members()) {  // even one that left our session and tree
        ::kill(pid, SIGKILL);
        found.insert(pid);
      }
    }
    ::kill(-job_pid_, SIGKILL);  // any member /proc did not show us yet
    const bool no_children = reap_ended_children();
    if (no_children || steady_clock::now() >= give_up) return static_cast<int>(found.size());
    const timespec pause{0, 10'000'000};
    ::nanosleep(&pause, nullptr);
  }
}

Outcome Supervisor::outcome() const {
  switch (stop_cause_) {
    case StopCause::kTimeLimit:
      if (WIFSIGNALED(wait_status_)) return TimedOut{WTERMSIG(wait_status_), std::nullopt};
      return TimedOut{std::nullopt, WEXITSTATUS(wait_status_)};
    case StopCause::kCancel:
    case StopCause::kPreempt: {
      Stopped stopped{stop_cause_ == StopCause::kPreempt};
      if (WIFSIGNALED(wait_status_)) {
        stopped.signal = WTERMSIG(wait_status_);
      } else {
        stopped.exit_code = WEXITSTATUS(wait_status_);
      }
      return stopped;
    }
    case StopCause::kNone: break;
  }
  if (WIFSIGNALED(wait_status_)) return Signaled{WTERMSIG(wait_status_)};
  return Exited{WEXITSTATUS(wait_status_)};
}

// The line that tells the user why the job ended; empty for a plain success.
std::string Supervisor::story(int leftovers) const {
  const double ran_s = std::chrono::duration<double>(ended_steady_ - started_steady_).count();
  std::string line = job_name();
  switch (stop_cause_) {
    case StopCause::kTimeLimit:
      line += " timed out after " + duration_text(*request_.time_limit_s);
      break;
    case StopCause::kCancel: line += " was cancelled after " + duration_text(ran_s); break;
    case StopCause::kPreempt: line += " was preempted after " + duration_text(ran_s); break;
    case StopCause::kNone:
      if (WIFSIGNALED(wait_status_)) {
        line += " was killed by signal " + signal_text(WTERMSIG(wait_status_)) + " after " +
                duration_text(ran_s);
      } else if (WEXITSTATUS(wait_status_) != 0) {
        line += " exited with code " + std::to_string(WEXITSTATUS(wait_status_)) + " after " +
                duration_text(ran_s);
      } else if (leftovers == 0) {
        return {};
      } else {
        line += " exited with code 0 after " + duration_text(ran_s);
      }
  }
  if (stop_cause_ != StopCause::kNone) {
    line += "; sent SIGTERM";
    if (kill_sent_) line += ", then SIGKILL after " + duration_text(request_.kill_grace_s);
    // The limit is the moment of SIGTERM: a job that took its grace to save and exit ended
    // later, which "timed out after 2s" alone left unsaid.
    const double after_term_s =
        stop_cause_ == StopCause::kTimeLimit && !kill_sent_ ? ran_s - *request_.time_limit_s : 0.0;
    if (after_term_s >= 1.0) line += "; it ended " + duration_text(after_term_s) + " later";
  }
  if (leftovers > 0) {
    line += "; killed " + std::to_string(leftovers) + " leftover process" +
            (leftovers == 1 ? "" : "es");
  }
  return line;
}

}  // namespace

int run_supervisor(const std::filesystem::path& run_file, int notify_fd, int request_fd) {
  Notifier notify(notify_fd, run_file);
  become_session_leader();
  // Before anything else: a restarted daemon that finds the record knows we ran.
  if (Status written = start_own_record(run_file); !written.ok()) {
    notify.failed(written.to_string());
    return 2;
  }
  // The daemon that spawned us died before we started the record. The next daemon may
  // already have looked for it, found nothing and queued the job again: starting it here
  // could run it twice. Leave no record, as if we never ran, so a daemon that looks now
  // queues it again too.
  if (notify.launcher_gone()) {
    std::error_code ignored;
    std::filesystem::remove(run_file, ignored);
    note(run_file,
         "the daemon that launched this run is gone; not starting the job (the next daemon "
         "queues it again)");
    return 3;
  }
  Result<LaunchRequest> request = read_request(request_fd);
  if (!request.ok()) {
    const WallTime now = wall_now();
    const std::string message = "cannot read the launch request: " + request.status().message();
    Status written = append_outcome(run_file, {LaunchFailed{message}, now, now, Usage{}});
    notify.failed(message);
    return written.ok() ? 1 : 2;
  }
  Supervisor supervisor(std::move(*request), run_file);
  return supervisor.run(notify);
}

}  // namespace fastgpu::exec
