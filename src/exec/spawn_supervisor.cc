#include "exec/spawn_supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "exec/run_files.h"
#include "exec/supervisor_spawner.h"

extern char** environ;  // NOLINT: POSIX declares it nowhere else

namespace fastgpu::exec {
namespace {

std::string errno_text(int error) { return std::strerror(error); }

// Owns a posix_spawn attribute and file-action set.
class SpawnSetup {
 public:
  SpawnSetup() {
    ::posix_spawnattr_init(&attr_);
    ::posix_spawn_file_actions_init(&actions_);
  }
  ~SpawnSetup() {
    ::posix_spawnattr_destroy(&attr_);
    ::posix_spawn_file_actions_destroy(&actions_);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;

  // The daemon may ignore or block signals; the supervisor starts from defaults, with the
  // signals it handles blocked.
  void set_signals() {
    sigset_t all;
    sigfillset(&all);
    ::posix_spawnattr_setsigdefault(&attr_, &all);
    sigset_t blocked;
    sigemptyset(&blocked);
    for (int signal : {SIGTERM, SIGINT, SIGUSR1, SIGUSR2, SIGCHLD}) sigaddset(&blocked, signal);
    ::posix_spawnattr_setsigmask(&attr_, &blocked);
    ::posix_spawnattr_setflags(&attr_, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  }

  // stdin from `stdin_fd` (-1: /dev/null), stdout and stderr appended to `log_path`,
  // `third` on kNotifyFd.
  void set_files(int stdin_fd, const std::string& log_path, int third) {
    if (stdin_fd >= 0) {
      ::posix_spawn_file_actions_adddup2(&actions_, stdin_fd, STDIN_FILENO);
    } else {
      ::posix_spawn_file_actions_addopen(&actions_, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    }
    ::posix_spawn_file_actions_addopen(&actions_, STDOUT_FILENO, log_path.c_str(),
                                       O_WRONLY | O_APPEND | O_CREAT, 0640);
    ::posix_spawn_file_actions_adddup2(&actions_, STDOUT_FILENO, STDERR_FILENO);
    ::posix_spawn_file_actions_adddup2(&actions_, third, kNotifyFd);
    // Nothing else of the daemon's (sockets, the database) leaks into a job.
    ::posix_spawn_file_actions_addclosefrom_np(&actions_, kNotifyFd + 1);
  }

  const posix_spawnattr_t* attr() const { return &attr_; }
  const posix_spawn_file_actions_t* actions() const { return &actions_; }

 private:
  posix_spawnattr_t attr_;
  posix_spawn_file_actions_t actions_;
};

// Starts `program args...` as a supervisor or the spawner starts: every signal disposition
// default and the ones the supervisor handles blocked, the files of SpawnSetup::set_files.
// 0, or posix_spawn's error.
int spawn_supervisor_program(pid_t& pid, const std::filesystem::path& program,
                             std::vector<std::string> args, int stdin_fd,
                             const std::string& log_path, int third) {
  SpawnSetup setup;
  setup.set_signals();
  setup.set_files(stdin_fd, log_path, third);
  args.insert(args.begin(), program.string());
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  return ::posix_spawn(&pid, program.c_str(), setup.actions(), setup.attr(), argv.data(), environ);
}

// The notify pipe's write end must not already be fd 3: dup2 onto itself would keep
// close-on-exec set, and the supervisor would never get it.
Status make_notify_pipe(int fds[2]) {
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return unavailable("cannot create a pipe for the supervisor: " + errno_text(errno));
  }
  if (fds[1] <= kNotifyFd) {
    const int moved = ::fcntl(fds[1], F_DUPFD_CLOEXEC, kNotifyFd + 1);
    if (moved < 0) {
      const int error = errno;
      ::close(fds[0]);
      ::close(fds[1]);
      return unavailable("cannot move the supervisor's pipe: " + errno_text(error));
    }
    ::close(fds[1]);
    fds[1] = moved;
  }
  return {};
}

// The request, in memory rather than in a file: the supervisor reads it on its standard
// input. (A pipe could fill up with a large environment before the supervisor reads it.)
Result<int> request_memfd(std::string_view request_json) {
  const int fd = ::memfd_create("fastgpu-request", MFD_CLOEXEC);
  if (fd < 0) return unavailable("cannot hold the launch request in memory: " + errno_text(errno));
  if (Status written = write_all(fd, request_json, "the launch request"); !written.ok()) {
    ::close(fd);
    return written;
  }
  ::lseek(fd, 0, SEEK_SET);
  if (fd > STDERR_FILENO) return fd;
  // A daemon started with a standard descriptor closed: dup2 onto stdin must not be a
  // dup2 onto itself, which would keep close-on-exec set.
  const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, kNotifyFd + 1);
  ::close(fd);
  if (moved < 0) return unavailable("cannot move the launch request: " + errno_text(errno));
  return moved;
}

// Reads until a newline or end of file, or until timeout_s passes.
Result<std::string> read_line(int fd, double timeout_s) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                        std::chrono::duration<double>(timeout_s));
  std::string line;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0)
      return unavailable("no report after " + std::to_string(timeout_s) + " s");
    pollfd waiting{fd, POLLIN, 0};
    const int ready = ::poll(&waiting, 1, static_cast<int>(left.count()) + 1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return unavailable("cannot wait for the supervisor: " + errno_text(errno));
    if (ready == 0) continue;
    char buffer[512];
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return line;  // end of file: whatever came is the report
    line.append(buffer, static_cast<std::size_t>(got));
    if (line.find('\n') != std::string::npos) return line.substr(0, line.find('\n'));
  }
}

}  // namespace

Result<SupervisorReport> parse_supervisor_report(const std::string& line) {
  SupervisorReport report;
  if (line.rfind("failed ", 0) == 0) {
    report.message = line.substr(7);
    return report;
  }
  long long micros = 0;
  const char* begin = line.data() + std::min<std::size_t>(8, line.size());
  const char* end = line.data() + line.size();
  if (line.rfind("started ", 0) == 0) {
    auto [after_pid, pid_error] = std::from_chars(begin, end, report.job_pid);
    if (pid_error == std::errc{} && after_pid < end && *after_pid == ' ') {
      auto [after_time, time_error] = std::from_chars(after_pid + 1, end, micros);
      if (time_error == std::errc{} && after_time == end && report.job_pid > 0) {
        report.started = true;
        report.started_at = WallTime(std::chrono::microseconds(micros));
        return report;
      }
    }
  }
  return internal_error("the supervisor's report '" + line + "' is not understood");
}

Result<SpawnedSupervisor> start_supervisor(const std::filesystem::path& supervisor_path,
                                           const std::filesystem::path& run_file,
                                           std::string_view request_json,
                                           SupervisorSpawner* spawner) {
  Result<int> request_fd = request_memfd(request_json);
  if (!request_fd.ok()) return request_fd.status();
  int fds[2];
  if (Status piped = make_notify_pipe(fds); !piped.ok()) {
    ::close(*request_fd);
    return piped;
  }
  SpawnedSupervisor spawned;
  const std::filesystem::path log_path = supervisor_log_of(run_file);
  if (spawner != nullptr) {
    if (Result<pid_t> pid = spawner->spawn(run_file, log_path, *request_fd, fds[1]); pid.ok()) {
      ::close(fds[1]);
      ::close(*request_fd);
      spawned.pid = *pid;
      spawned.report_fd = fds[0];
      return spawned;
    }
    // No supervisor was started: spawn it here, as without a spawner.
  }
  const int error = spawn_supervisor_program(
      spawned.pid, supervisor_path, {run_file.string(), "--notify-fd", std::to_string(kNotifyFd)},
      *request_fd, log_path.string(), fds[1]);
  ::close(fds[1]);
  ::close(*request_fd);
  if (error != 0) {
    ::close(fds[0]);
    // The spawn opens the supervisors' log for it first: a read-only or full runs/ folder
    // failed there, and was told as the program's fault.
    const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (log_fd < 0) {
      const int log_error = errno;
      return unavailable("cannot open the supervisors' log '" + log_path.string() +
                         "': " + errno_text(log_error) + "; check that its folder is writable");
    }
    ::close(log_fd);
    return unavailable("cannot start the supervisor '" + supervisor_path.string() +
                       "': " + errno_text(error));
  }
  spawned.report_fd = fds[0];
  return spawned;
}

SupervisorSpawner::SupervisorSpawner(std::filesystem::path supervisor_path)
    : supervisor_path_(std::move(supervisor_path)) {}

SupervisorSpawner::~SupervisorSpawner() {
  std::lock_guard<std::mutex> lock(mutex_);
  stop();
}

pid_t SupervisorSpawner::pid() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return pid_;
}

void SupervisorSpawner::reap_if_exited() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (pid_ <= 0 || ::waitpid(pid_, nullptr, WNOHANG) != pid_) return;
  pid_ = 0;
  stop();
  ++failures_;
}

Status SupervisorSpawner::start(const std::filesystem::path& log_path) {
  int ends[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends) != 0) {
    return unavailable("cannot create the spawner's socket: " + errno_text(errno));
  }
  const int error =
      spawn_supervisor_program(pid_, supervisor_path_, {"--spawner", std::to_string(kNotifyFd)},
                               /*stdin_fd=*/-1, log_path.string(), ends[1]);
  ::close(ends[1]);
  if (error != 0) {
    ::close(ends[0]);
    pid_ = 0;
    return unavailable("cannot start the spawner '" + supervisor_path_.string() +
                       "': " + errno_text(error));
  }
  socket_ = ends[0];
  return {};
}

// The spawner exits when its socket closes; it is reaped here, and killed if it lingers.
void SupervisorSpawner::stop() {
  if (socket_ >= 0) ::close(socket_);
  socket_ = -1;
  if (pid_ <= 0) return;
  for (int waited_ms = 0; waited_ms < 1000; waited_ms += 5) {
    if (::waitpid(pid_, nullptr, WNOHANG) != 0) {
      pid_ = 0;
      return;
    }
    ::usleep(5000);
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = 0;
}

Result<pid_t> SupervisorSpawner::spawn(const std::filesystem::path& run_file,
                                       const std::filesystem::path& log_path, int request_fd,
                                       int notify_fd) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (failures_ >= kMaxFailures) return unavailable("the spawner failed; not used any more");
  if (socket_ < 0) {
    if (Status started = start(log_path); !started.ok()) {
      ++failures_;
      return started;
    }
  }
  auto failed = [this](const std::string& what) -> Status {
    stop();
    ++failures_;
    return unavailable("the spawner (" + what + ")");
  };
  std::string body = run_file.string();
  body.push_back('\0');
  body += log_path.string();
  body.push_back('\0');
  const std::array<int, 2> fds{request_fd, notify_fd};
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof fds)> control{};
  iovec part{body.data(), body.size()};
  msghdr message = spawner_message(part, control);
  cmsghdr* header = CMSG_FIRSTHDR(&message);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof fds);
  std::memcpy(CMSG_DATA(header), fds.data(), sizeof fds);
  ssize_t sent = -1;
  do {
    sent = ::sendmsg(socket_, &message, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return failed("cannot send it a request: " + errno_text(errno));
  // It answers as soon as its clone returns; a spawner silent this long is stuck.
  pollfd waiting{socket_, POLLIN, 0};
  int ready = -1;
  do {
    ready = ::poll(&waiting, 1, 10000);
  } while (ready < 0 && errno == EINTR);
  if (ready <= 0) return failed("no answer");
  std::array<char, 512> answer{};
  ssize_t got = -1;
  do {
    got = ::recv(socket_, answer.data(), answer.size(), 0);
  } while (got < 0 && errno == EINTR);
  if (got <= 0)
    return failed(got == 0 ? "it exited" : "cannot read its answer: " + errno_text(errno));
  const std::string_view text(answer.data(), static_cast<std::size_t>(got));
  pid_t pid = 0;
  if (text.rfind("pid ", 0) == 0) {
    auto [end, error] = std::from_chars(text.data() + 4, text.data() + text.size(), pid);
    if (error == std::errc{} && end == text.data() + text.size() && pid > 0) return pid;
  }
  // It could not clone (a process limit, or a sandbox that forbids CLONE_PARENT): counted
  // like a spawner that died, so one that can never clone is given up after a few tries
  // instead of being asked before every plain spawn.
  if (text.rfind("error ", 0) == 0) return failed("cannot clone: " + std::string(text.substr(6)));
  return failed("answer '" + std::string(text) + "' not understood");
}

namespace {

// Closes the pipe and turns what the supervisor said into its report.
Result<SupervisorReport> settle_report(SpawnedSupervisor& spawned,
                                       const std::filesystem::path& run_file,
                                       const Result<std::string>& line) {
  ::close(spawned.report_fd);
  spawned.report_fd = -1;
  if (!line.ok()) return line.status();
  if (line->empty()) {
    return unavailable("the supervisor (pid " + std::to_string(spawned.pid) +
                       ") exited without a report; see '" + supervisor_log_of(run_file).string() +
                       "'");
  }
  Result<SupervisorReport> report = parse_supervisor_report(*line);
  if (report.ok()) report->supervisor_pid = spawned.pid;
  return report;
}

}  // namespace

Result<SupervisorReport> await_supervisor_report(SpawnedSupervisor& spawned,
                                                 const std::filesystem::path& run_file,
                                                 double timeout_s) {
  return settle_report(spawned, run_file, read_line(spawned.report_fd, timeout_s));
}

std::optional<Result<SupervisorReport>> poll_supervisor_report(
    SpawnedSupervisor& spawned, const std::filesystem::path& run_file) {
  for (;;) {
    pollfd waiting{spawned.report_fd, POLLIN, 0};
    const int ready = ::poll(&waiting, 1, 0);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) {
      return settle_report(
          spawned, run_file,
          unavailable("cannot read the supervisor's report: " + errno_text(errno)));
    }
    if (ready == 0) return std::nullopt;
    char buffer[512];
    const ssize_t got = ::read(spawned.report_fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got > 0) {
      spawned.partial.append(buffer, static_cast<std::size_t>(got));
      const std::size_t newline = spawned.partial.find('\n');
      if (newline == std::string::npos) continue;
      return settle_report(spawned, run_file, spawned.partial.substr(0, newline));
    }
    return settle_report(spawned, run_file, spawned.partial);  // end of file: that is all
  }
}

}  // namespace fastgpu::exec
