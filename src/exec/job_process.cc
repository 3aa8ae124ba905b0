#include "exec/job_process.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <grp.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string_view>

#include "exec/run_files.h"

extern char** environ;  // NOLINT: POSIX declares it nowhere else

namespace fastgpu::exec {
namespace {

// Where in the child a start failed; sent to the supervisor with the errno.
enum class ChildStage : int { kStdin, kOutput, kLimits, kGroups, kGid, kUid, kWorkingDir, kExec };

struct ChildError {
  ChildStage stage;
  int error;
  int index = -1;  // kLimits: which of the plan's limits
};

std::string join_gpus(const std::vector<std::uint32_t>& gpus) {
  std::string text;
  for (std::uint32_t gpu : gpus) {
    if (!text.empty()) text += ',';
    text += std::to_string(gpu);
  }
  return text;
}

std::string errno_text(int error) { return std::strerror(error); }

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (const std::string& text : strings) pointers.push_back(const_cast<char*>(text.c_str()));
  pointers.push_back(nullptr);
  return pointers;
}

// The identity as the launcher resolved it (resolve_identity): no user database here.
Status take_identity(const LaunchRequest& request, JobPlan& plan) {
  plan.uid = request.uid;
  plan.gid = request.gid;
  if (request.uid && !request.gid) {
    return invalid_argument("the launch request names uid " + std::to_string(*request.uid) +
                            " without its gid; the launcher resolves it (resolve_identity)");
  }
  if (plan.gid) plan.groups = request.groups.value_or(std::vector<gid_t>{*plan.gid});
  return {};
}

Result<int> open_log(const LaunchRequest& request, const JobPlan& plan) {
  const std::string path = request.log_path.string();
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) {
    return failed_precondition("cannot open the job's log '" + path + "': " + errno_text(errno) +
                               "; check that its folder exists and is writable");
  }
  // The log belongs to the job's user, who must be able to read it.
  if (plan.uid && ::geteuid() == 0 && ::fchown(fd, *plan.uid, *plan.gid) != 0) {
    const int error = errno;
    ::close(fd);
    return failed_precondition("cannot give the job's log '" + path + "' to uid " +
                               std::to_string(*plan.uid) + ": " + errno_text(error));
  }
  return fd;
}

// Whether setrlimit may raise a hard limit here: CAP_SYS_RESOURCE in our effective set. Root
// has it, unless a container took it away (then root is as bound by its hard limits as a
// user).
bool may_raise_hard_limits() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  std::array<__user_cap_data_struct, _LINUX_CAPABILITY_U32S_3> data{};
  if (::syscall(SYS_capget, &header, data.data()) != 0) return false;
  return (data[CAP_TO_INDEX(CAP_SYS_RESOURCE)].effective & CAP_TO_MASK(CAP_SYS_RESOURCE)) != 0;
}

std::string limit_text(const JobLimit& limit) {
  return format_limit(
      {limit.name, from_rlim(limit.value.rlim_cur), from_rlim(limit.value.rlim_max)});
}

// The status a shell gives a command it could not run: 127 when the program (or the
// interpreter its #! line names) was not found, 126 when it was there but could not be run
// (not executable, a folder, not a program).
int exec_failure_status(int error) { return error == ENOENT || error == ENOTDIR ? 127 : 126; }

[[noreturn]] void fail_child(int error_fd, ChildStage stage, int index = -1) {
  const int error = errno;
  ChildError report{stage, error, index};
  ssize_t ignored = ::write(error_fd, &report, sizeof report);
  (void)ignored;
  ::_exit(stage == ChildStage::kExec ? exec_failure_status(error) : 127);
}

void reset_signals() {
  ::signal(SIGHUP, SIG_DFL);  // ignored dispositions survive exec; the job gets the defaults
  ::signal(SIGPIPE, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

void set_identity(const JobPlan& plan, int error_fd) {
  if (plan.gid) {
    if (::geteuid() == 0 && ::setgroups(plan.groups.size(), plan.groups.data()) != 0) {
      fail_child(error_fd, ChildStage::kGroups);
    }
    if (::setgid(*plan.gid) != 0) fail_child(error_fd, ChildStage::kGid);
  }
  if (plan.uid && ::setuid(*plan.uid) != 0) fail_child(error_fd, ChildStage::kUid);
}

// Runs in the child of vfork(), on the supervisor's memory while the supervisor waits for
// its exec: only plain system calls are made (the vectors were built before), nothing is
// allocated, and the one global it sets (environ, for execvp's search of the job's PATH)
// the supervisor puts back when it resumes. The supervisor is single-threaded, so setuid
// and the rest act on this process alone.
[[noreturn]] void run_child(const JobPlan& plan, char** argv, char** envp, int error_fd) {
  ::setpgid(0, 0);  // its own group: the supervisor signals the whole job at once
  if (plan.cgroup_procs_fd >= 0) {
    // Into the run's cgroup before anything else starts; if the kernel refuses, the job
    // runs all the same, found through the process tree only.
    const ssize_t joined = ::write(plan.cgroup_procs_fd, "0", 1);
    (void)joined;
  }
  reset_signals();
  int null_fd = ::open("/dev/null", O_RDONLY);
  if (null_fd < 0 || ::dup2(null_fd, STDIN_FILENO) < 0) fail_child(error_fd, ChildStage::kStdin);
  if (null_fd != STDIN_FILENO) ::close(null_fd);
  if (::dup2(plan.log_fd, STDOUT_FILENO) < 0 || ::dup2(plan.log_fd, STDERR_FILENO) < 0) {
    fail_child(error_fd, ChildStage::kOutput);
  }
  // Before setuid: root may raise a hard limit for the job (the daemon checked that its
  // submitter had it), the job's user may not.
  for (std::size_t i = 0; i < plan.limits.size(); ++i) {
    if (::setrlimit(static_cast<__rlimit_resource_t>(plan.limits[i].resource),
                    &plan.limits[i].value) != 0) {
      fail_child(error_fd, ChildStage::kLimits, static_cast<int>(i));
    }
  }
  set_identity(plan, error_fd);
  // After setuid: the folder must be usable by the job's user, not just by us.
  if (::chdir(plan.working_dir.c_str()) != 0) fail_child(error_fd, ChildStage::kWorkingDir);
  // The submitter's: the job's files are as open as its user asked, not as ours allow.
  if (plan.umask) ::umask(*plan.umask);
  environ = envp;  // execvp searches the job's PATH, not ours
  ::execvp(argv[0], argv);
  fail_child(error_fd, ChildStage::kExec);
}

// What to do when the job's program could not be run, from what is at its path (read by
// the supervisor after the failure, as its own user: a hint, not a verdict). "check the
// program name and the job's PATH" was said of a script without its x bit, and of a folder.
std::string exec_fix(const std::string& program, const std::string& working_dir, int error) {
  const bool has_slash = program.find('/') != std::string::npos;
  const std::string path =
      has_slash && program.front() != '/' ? working_dir + "/" + program : program;
  struct stat file {};
  const bool there = has_slash && ::stat(path.c_str(), &file) == 0;
  if (there && S_ISDIR(file.st_mode)) {
    return "; it is a folder: give the program to run (a file in it)";
  }
  if (there && error == EACCES && S_ISREG(file.st_mode) && (file.st_mode & 0111) == 0) {
    return "; the file is not executable: make it so (chmod +x " + program +
           ") or run it through its interpreter (sh " + program + ", python3 " + program + ")";
  }
  if (error == EACCES) {
    return "; check that the job's user may run it (its mode, its folders', a noexec mount)";
  }
  // Found in the working folder, but a name without a slash is searched in PATH only.
  if (!has_slash && error == ENOENT) {
    const std::string here = working_dir + "/" + program;
    if (::stat(here.c_str(), &file) == 0 && S_ISREG(file.st_mode)) {
      return "; it is not on the job's PATH, but the working folder has it: write ./" + program;
    }
  }
  if (has_slash && error == ENOENT) {
    return there ? "; its interpreter (the #! line) was not found: check that line"
                 : "; no such file: check the path (a relative one starts from the working "
                   "folder '" +
                       working_dir + "')";
  }
  return "; check the program name and the job's PATH";
}

std::string describe(const ChildError& report, const JobPlan& plan) {
  const std::string why = errno_text(report.error);
  switch (report.stage) {
    case ChildStage::kStdin: return "cannot open /dev/null for the job's stdin: " + why;
    case ChildStage::kOutput: return "cannot send the job's output to its log: " + why;
    case ChildStage::kLimits: {
      const auto index = static_cast<std::size_t>(report.index);
      return "cannot set the job's resource limit " +
             (index < plan.limits.size() ? limit_text(plan.limits[index]) : "(unknown)") + ": " +
             why + "; submit from a shell with limits this machine allows (ulimit)";
    }
    case ChildStage::kGroups: return "cannot set the job's supplementary groups: " + why;
    case ChildStage::kGid: return "cannot switch to gid " + std::to_string(*plan.gid) + ": " + why;
    case ChildStage::kUid: return "cannot switch to uid " + std::to_string(*plan.uid) + ": " + why;
    case ChildStage::kWorkingDir:
      return "cannot enter the working folder '" + plan.working_dir + "': " + why +
             "; check that it exists and that the job's user may enter it";
    case ChildStage::kExec:
      return "cannot run '" + plan.args.front() + "': " + why +
             exec_fix(plan.args.front(), plan.working_dir, report.error);
  }
  return "the job failed to start: " + why;
}

// Reads the child's report: nothing (EOF) means exec succeeded.
std::optional<ChildError> read_report(int fd) {
  ChildError report{};
  for (;;) {
    ssize_t got = ::read(fd, &report, sizeof report);
    if (got < 0 && errno == EINTR) continue;
    if (got == static_cast<ssize_t>(sizeof report)) return report;
    return std::nullopt;
  }
}

}  // namespace

bool is_set_by_fastgpu(std::string_view entry) {
  static constexpr std::array<std::string_view, 5> kNames = {
      "CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "FASTGPU_JOB_ID", "FASTGPU_ARRAY_INDEX",
      "FASTGPU_GPU_MEM_QUOTA"};
  const std::string_view name = entry.substr(0, entry.find('='));
  for (std::string_view fixed : kNames) {
    if (name == fixed) return true;
  }
  return false;
}

std::vector<std::string> job_environment(const LaunchRequest& request) {
  std::vector<std::string> environment;
  for (const std::string& entry : request.environment) {
    if (!is_set_by_fastgpu(entry)) environment.push_back(entry);
  }
  environment.push_back("CUDA_VISIBLE_DEVICES=" + join_gpus(request.gpus));
  environment.push_back("CUDA_DEVICE_ORDER=PCI_BUS_ID");
  environment.push_back("FASTGPU_JOB_ID=" + to_string(request.job));
  if (request.array_index) {
    environment.push_back("FASTGPU_ARRAY_INDEX=" + std::to_string(*request.array_index));
  }
  if (request.gpu_mem_quota) {
    environment.push_back("FASTGPU_GPU_MEM_QUOTA=" + std::to_string(*request.gpu_mem_quota));
  }
  return environment;
}

std::vector<JobLimit> plan_limits(const ResourceLimits& limits, bool may_raise,
                                  std::vector<std::string>& notes) {
  std::vector<JobLimit> planned;
  for (const ResourceLimit& limit : limits) {
    const std::optional<int> resource = rlimit_resource(limit.name);
    const std::optional<ResourceLimit> own = process_resource_limit(0, limit.name);
    if (!resource || !own) continue;  // the daemon checked the names
    std::optional<std::uint64_t> hard = limit.hard;
    if (!may_raise && limit_above(hard, own->hard)) {
      hard = own->hard;
      notes.push_back(fmt::format(
          "fastgpu: the job's {} hard limit is {}, not {} as submitted: the daemon's own hard "
          "limit is {}, and only root (with CAP_SYS_RESOURCE) raises one. Start the daemon from a "
          "shell with the higher limit (fastgpu daemon stop; the next command starts it).",
          limit.name, format_limit_value(limit.name, hard),
          format_limit_value(limit.name, limit.hard), format_limit_value(limit.name, hard)));
    }
    const std::optional<std::uint64_t> soft = limit_above(limit.soft, hard) ? hard : limit.soft;
    planned.push_back({limit.name, *resource, rlimit{to_rlim(soft), to_rlim(hard)}});
  }
  return planned;
}

Result<JobPlan> make_job_plan(const LaunchRequest& request) {
  JobPlan plan;
  if (!request.argv.empty()) {
    plan.args = request.argv;
  } else {
    plan.args = {"/bin/sh", "-c", request.shell_command};
  }
  plan.environment = job_environment(request);
  plan.working_dir = request.working_dir;
  plan.umask = request.umask;
  std::vector<std::string> notes;
  plan.limits = plan_limits(request.limits, may_raise_hard_limits(), notes);
  FASTGPU_RETURN_IF_ERROR(take_identity(request, plan));
  Result<int> log_fd = open_log(request, plan);
  if (!log_fd.ok()) return log_fd.status();
  plan.log_fd = *log_fd;
  // Where the job's user looks first; Slurm's slurmstepd writes the like into the job's
  // output. A note that cannot be written costs the job nothing else.
  for (const std::string& note : notes) (void)write_all(plan.log_fd, note + "\n", "the job's log");
  return plan;
}

void close_job_plan(JobPlan& plan) {
  if (plan.log_fd >= 0) ::close(plan.log_fd);
  plan.log_fd = -1;
}

Result<StartedJob> start_job(const JobPlan& plan) {
  std::vector<char*> argv = c_strings(plan.args);
  std::vector<char*> envp = c_strings(plan.environment);
  int report_pipe[2];
  if (::pipe2(report_pipe, O_CLOEXEC) != 0) {
    return unavailable("cannot create a pipe to start the job: " + errno_text(errno));
  }
  // vfork, not fork: the child borrows the supervisor's memory until its exec, so neither
  // copies a page table or takes a copy-on-write fault for each page the other writes
  // (docs/exec.md, "The job started by vfork").
  char** const supervisor_environ = environ;
  const pid_t pid = ::vfork();
  if (pid == 0) {
    ::close(report_pipe[0]);
    run_child(plan, argv.data(), envp.data(), report_pipe[1]);
  }
  environ = supervisor_environ;  // the child set the job's for its exec
  if (pid < 0) {
    const int error = errno;
    ::close(report_pipe[0]);
    ::close(report_pipe[1]);
    return unavailable("cannot start the job (vfork): " + errno_text(error));
  }
  ::close(report_pipe[1]);
  ::setpgid(pid, pid);  // also here, so the group exists before we could signal it
  std::optional<ChildError> report = read_report(report_pipe[0]);
  ::close(report_pipe[0]);
  StartedJob started{pid, std::nullopt, std::nullopt};
  if (report) started.exec_error = describe(*report, plan);
  if (report && report->stage == ChildStage::kExec) {
    started.exit_code = exec_failure_status(report->error);
  }
  return started;
}

}  // namespace fastgpu::exec
