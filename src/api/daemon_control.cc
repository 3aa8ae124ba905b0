// Starting, finding and stopping a daemon from the outside (the CLI's side).

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "api/login_name.h"
#include "fastgpu/api/client.h"
#include "fastgpu/api/daemon.h"
#include "fastgpu/store/state_store.h"

namespace fastgpu::api {
namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(50);

std::optional<pid_t> read_pid_file(const std::filesystem::path& path) {
  std::ifstream file(path);
  long pid = 0;
  if (!(file >> pid) || pid <= 0) return std::nullopt;
  return static_cast<pid_t>(pid);
}

// The last `lines` lines of a file written after byte `from`, for quoting a daemon's dying
// words (and not an earlier daemon's: the log is appended to by every start).
std::string tail_of(const std::filesystem::path& path, std::size_t lines, std::uintmax_t from) {
  std::ifstream file(path);
  file.seekg(static_cast<std::streamoff>(from));
  std::vector<std::string> kept;
  for (std::string line; std::getline(file, line);) {
    kept.push_back(line);
    if (kept.size() > lines) kept.erase(kept.begin());
  }
  std::string text;
  for (const std::string& line : kept) text += "\n  " + line;
  return text;
}

// In the child: become `fastgpu daemon run` in a session of its own. Never returns.
[[noreturn]] void exec_daemon(const DaemonPaths& paths, const StartOptions& options) {
  ::setsid();
  // The mask survives exec: a caller that blocks signals (to sigwait for them) must not
  // hand its blocked SIGTERM to the daemon, which `daemon stop` could then not stop.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  // Nothing of the caller's stays open in the daemon: a pipe it holds would keep the
  // caller's reader (a shell's $(...), a test's popen) waiting for ever.
  ::close_range(3, ~0U, 0);
  if (::chdir("/") != 0) ::_exit(127);
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const int log_fd =
      ::open(paths.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
  if (log_fd >= 0) {
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
  }
  ::setenv("FASTGPU_STATE_DIR", paths.state_dir.c_str(), 1);
  ::setenv("FASTGPU_SOCKET", paths.socket.c_str(), 1);
  if (!options.devices.empty()) ::setenv("FASTGPU_DEVICES", options.devices.c_str(), 1);
  if (!options.policy.empty()) ::setenv("FASTGPU_POLICY", options.policy.c_str(), 1);
  if (!options.strategy.empty()) ::setenv("FASTGPU_STRATEGY", options.strategy.c_str(), 1);
  if (!options.settings_file.empty()) {
    ::setenv("FASTGPU_CONFIG", options.settings_file.c_str(), 1);
  }
  if (options.cpu_slots) {
    ::setenv("FASTGPU_CPU_SLOTS", std::to_string(*options.cpu_slots).c_str(), 1);
  }
  if (options.sample_interval_s) {
    ::setenv("FASTGPU_SAMPLE_INTERVAL", fmt::format("{}", *options.sample_interval_s).c_str(), 1);
  }
  if (options.sample_retention_s) {
    ::setenv("FASTGPU_SAMPLE_RETENTION", fmt::format("{}", *options.sample_retention_s).c_str(), 1);
  }
  if (options.job_retention_s) {
    ::setenv("FASTGPU_JOB_RETENTION", fmt::format("{}", *options.job_retention_s).c_str(), 1);
  }
  if (!options.metrics_listen.empty()) {
    ::setenv("FASTGPU_METRICS_LISTEN", options.metrics_listen.c_str(), 1);
  }
  const std::string executable = options.executable.string();
  char* const argv[] = {const_cast<char*>(executable.c_str()), const_cast<char*>("daemon"),
                        const_cast<char*>("run"),
                        options.shared ? const_cast<char*>("--shared") : nullptr, nullptr};
  ::execv(executable.c_str(), argv);
  std::fprintf(stderr, "fastgpu: cannot run '%s': %s\n", executable.c_str(), std::strerror(errno));
  ::_exit(127);
}

// Forks twice, so that the daemon is not the caller's child: a command that started it and
// runs on (a long `wait` that starts a daemon again when the first goes away) would
// otherwise hold every daemon that ends meanwhile as a zombie. The middle process hands
// back the daemon's pid and exits at once; the daemon's parent is then init (or the
// caller's subreaper), which reaps it.
Result<pid_t> spawn_daemon(const DaemonPaths& paths, const StartOptions& options) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return io_error(fmt::format("cannot start the daemon: pipe: {}", std::strerror(errno)));
  }
  const pid_t middle = ::fork();
  if (middle < 0) {
    const int error = errno;
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    return io_error(fmt::format("cannot fork the daemon: {}", std::strerror(error)));
  }
  if (middle == 0) {
    ::close(pipe_fds[0]);
    const pid_t daemon = ::fork();
    if (daemon == 0) exec_daemon(paths, options);
    const int error = daemon < 0 ? errno : 0;
    const pid_t answer[2] = {daemon, static_cast<pid_t>(error)};
    const bool written = ::write(pipe_fds[1], answer, sizeof answer) == sizeof answer;
    ::_exit(written ? 0 : 1);
  }
  ::close(pipe_fds[1]);
  pid_t answer[2] = {-1, 0};
  ssize_t got = 0;
  do {
    got = ::read(pipe_fds[0], answer, sizeof answer);
  } while (got < 0 && errno == EINTR);
  ::close(pipe_fds[0]);
  while (::waitpid(middle, nullptr, 0) < 0 && errno == EINTR) {
  }
  if (got != static_cast<ssize_t>(sizeof answer)) {
    return io_error("cannot fork the daemon: the process forking it ended without its pid");
  }
  if (answer[0] < 0) {
    return io_error(fmt::format("cannot fork the daemon: {}", std::strerror(answer[1])));
  }
  return answer[0];
}

// Tells when a process that is not our child has ended: through a pidfd, which reports the
// end even while the process waits as a zombie for its reaper; without one (an old
// kernel), once the pid is gone.
class ExitWatch {
 public:
  explicit ExitWatch(pid_t pid)
      : pid_(pid), fd_(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0))) {}
  ExitWatch(const ExitWatch&) = delete;
  ExitWatch& operator=(const ExitWatch&) = delete;
  ~ExitWatch() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool ended() const {
    if (fd_ < 0) return ::kill(pid_, 0) != 0 && errno == ESRCH;
    pollfd watched{fd_, POLLIN, 0};
    return ::poll(&watched, 1, 0) > 0;
  }

 private:
  pid_t pid_;
  int fd_;
};

}  // namespace

std::vector<std::filesystem::path> job_path_prefix(const std::filesystem::path& executable) {
  const std::filesystem::path folder = executable.parent_path();
  std::vector<std::filesystem::path> prefix{folder};
  std::error_code ignored;
  if (std::filesystem::is_directory(folder / "tools" / "workload", ignored)) {
    prefix.push_back(folder / "tools" / "workload");
  }
  return prefix;
}

void prefix_path(std::vector<std::string>& environment,
                 const std::vector<std::filesystem::path>& prefix) {
  if (prefix.empty()) return;
  std::string folders;
  for (const std::filesystem::path& folder : prefix) {
    if (!folders.empty()) folders += ':';
    folders += folder.string();
  }
  for (std::string& entry : environment) {
    if (entry.starts_with("PATH=")) {
      std::string path = "PATH=" + folders;
      if (entry.size() > 5) path.append(":").append(entry, 5);
      entry = std::move(path);
      return;
    }
  }
  environment.push_back("PATH=" + folders + ":/usr/local/bin:/usr/bin:/bin");
}

Result<std::filesystem::path> own_executable() {
  std::error_code error;
  std::filesystem::path path = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) return io_error("cannot read /proc/self/exe: " + error.message());
  return path;
}

Status check_state_dir_open_to_caller(const DaemonPaths& paths) {
  const uid_t uid = ::geteuid();
  if (uid == 0 || ::access(paths.state_dir.c_str(), R_OK | W_OK | X_OK) == 0 || errno != EACCES) {
    return {};
  }
  struct stat info {};
  std::string whose = "is another user's";
  if (::stat(paths.state_dir.c_str(), &info) == 0) {
    if (info.st_uid == uid) return {};  // the caller's own, closed to itself: said as it is
    whose = fmt::format("is {}'s", login_name(info.st_uid));
  } else {
    // Behind a closed folder: the nearest one the caller can see names the owner.
    for (std::filesystem::path folder = paths.state_dir.parent_path();
         !folder.empty() && folder != folder.parent_path(); folder = folder.parent_path()) {
      if (::stat(folder.c_str(), &info) != 0) continue;
      if (info.st_uid == uid) break;
      whose = fmt::format("lies in {}'s folder '{}'", login_name(info.st_uid), folder.string());
      break;
    }
  }
  const char* variable = state_dir_variable();
  return failed_precondition(fmt::format(
      "the state folder '{}' {}, and you (uid {}) may not open it: only its owner or root "
      "starts, stops or reloads the daemon that keeps its state there. {} leads there; unset it "
      "to use a daemon of your own (and its state folder)",
      paths.state_dir.string(), whose, uid, variable));
}

Result<std::optional<pid_t>> running_daemon_pid(const DaemonPaths& paths) {
  const int fd = ::open(paths.lock_file.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<pid_t>();
    const int error = errno;
    if (error == EACCES) FASTGPU_RETURN_IF_ERROR(check_state_dir_open_to_caller(paths));
    errno = error;
    return io_error(
        fmt::format("cannot open '{}': {}", paths.lock_file.string(), std::strerror(errno)));
  }
  const bool free = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
  ::close(fd);  // also releases the lock we may have taken
  if (free) return std::optional<pid_t>();
  const std::optional<pid_t> pid = read_pid_file(paths.pid_file);
  // Locked but no pid yet: a daemon is starting; report it as running with pid unknown (0).
  return std::optional<pid_t>(pid.value_or(0));
}

namespace {

// True once the daemon holding the state folder's lock answers on `client`'s socket; false
// when none holds it (a daemon stopping lets go without answering again) or at `deadline`.
bool lock_holder_answers_by(const DaemonPaths& paths, const ApiClient& client,
                            std::chrono::steady_clock::time_point deadline) {
  while (std::chrono::steady_clock::now() < deadline) {
    if (client.reachable()) return true;
    Result<std::optional<pid_t>> holder = running_daemon_pid(paths);
    if (!holder.ok() || !holder->has_value()) return false;
    std::this_thread::sleep_for(kPollInterval);
  }
  return false;
}

// Whose the daemon on `socket` is when it is not the caller's: the socket's owner, else its
// state folder's ("another user" when the caller may not even look at that folder). Nullopt
// when it is the caller's, or the caller is root (who may stop any).
std::optional<std::string> others_daemon_owner(const std::filesystem::path& socket,
                                               const std::string& state_dir) {
  const uid_t uid = ::geteuid();
  if (uid == 0) return std::nullopt;
  struct stat info {};
  if (::stat(socket.c_str(), &info) == 0 && info.st_uid != uid) return login_name(info.st_uid);
  if (::stat(state_dir.c_str(), &info) == 0) {
    if (info.st_uid != uid) return login_name(info.st_uid);
    return std::nullopt;
  }
  if (errno == EACCES) return std::string("another user");
  return std::nullopt;
}

// A daemon of another state folder already answering on the socket: the new one would
// refuse to take the socket over, and its answers would be read as the new one's.
Status check_socket_free_for(const DaemonPaths& paths, const ApiClient& client) {
  Result<Json> other = client.get("/v1/daemon");
  if (!other.ok()) return {};
  const std::string its_state = other->value("state_dir", std::string("?"));
  if (its_state == paths.state_dir.string()) return {};
  // Another user's (root's shared daemon, as a rule): the caller cannot stop it, and need
  // not; it answered, so it admits them.
  if (const std::optional<std::string> owner = others_daemon_owner(paths.socket, its_state)) {
    return failed_precondition(fmt::format(
        "the socket '{}' is in use: {}'s daemon (pid {}, its state in {}) serves on it, and only "
        "its owner or root may stop it; use it as it is (your job verbs already reach it: "
        "`fastgpu submit`, `fastgpu queue`), or give a daemon of your own a socket of its own: "
        "unset FASTGPU_SOCKET, or set it to a path of yours",
        paths.socket.string(), *owner, other->value("pid", 0), its_state));
  }
  return failed_precondition(fmt::format(
      "the socket '{}' is in use: the daemon on it (pid {}) keeps its state in {}, not in {}; "
      "stop that one first (`FASTGPU_STATE_DIR={} fastgpu daemon stop`), or give this daemon a "
      "socket of its own with FASTGPU_SOCKET",
      paths.socket.string(), other->value("pid", 0), its_state, paths.state_dir.string(),
      its_state));
}

}  // namespace

Result<StartedDaemon> start_daemon(const DaemonPaths& paths, const StartOptions& options) {
  // Said here: the daemon could not even write its log there, and died of it unheard.
  FASTGPU_RETURN_IF_ERROR(check_state_dir_open_to_caller(paths));
  FASTGPU_RETURN_IF_ERROR(store::ensure_private_dir(paths.state_dir));
  const ApiClient client(paths.socket);
  FASTGPU_RETURN_IF_ERROR(check_socket_free_for(paths, client));
  std::error_code no_log_yet;
  const std::uintmax_t log_before = std::filesystem::exists(paths.log_file, no_log_yet)
                                        ? std::filesystem::file_size(paths.log_file, no_log_yet)
                                        : 0;
  Result<pid_t> spawned = spawn_daemon(paths, options);
  if (!spawned.ok()) return spawned.status();
  const pid_t child = *spawned;
  const ExitWatch exited(child);

  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (client.reachable()) {
      // The daemon that answers wrote its pid before it opened the socket. When that is
      // another's (a start at the same moment won the lock), ours is still trying for the
      // lock, and would take over the moment the winner stops: a `daemon stop` would leave
      // a daemon running. It holds nothing yet; end it.
      Result<std::optional<pid_t>> holder = running_daemon_pid(paths);
      if (holder.ok() && holder->has_value() && **holder > 0 && **holder != child) {
        ::kill(child, SIGKILL);
        return StartedDaemon{**holder, false};
      }
      return StartedDaemon{child, true};
    }
    if (exited.ended()) {
      // Two commands that found no daemon at once (a `daemon start` and a command following
      // a job across a restart) each start one; the one that lost the lock exits, and the
      // winner is the daemon both asked for.
      if (lock_holder_answers_by(paths, client, deadline)) {
        Result<std::optional<pid_t>> winner = running_daemon_pid(paths);
        if (winner.ok() && winner->has_value() && **winner > 0)
          return StartedDaemon{**winner, false};
      }
      const std::string tail = tail_of(paths.log_file, 5, no_log_yet ? 0 : log_before);
      if (tail.find_first_not_of(" \n") == std::string::npos) {
        // It could not even write why: a full or read-only disk is the usual reason.
        struct statvfs disk {};
        const bool full =
            ::statvfs(paths.state_dir.c_str(), &disk) == 0 &&
            disk.f_bavail * static_cast<unsigned long long>(disk.f_frsize) < (1ULL << 20);
        return failed_precondition(fmt::format(
            "the daemon exited at start-up and wrote nothing to {}{}", paths.log_file.string(),
            full ? fmt::format(": the disk of {} is full (less than 1 MiB free); free some "
                               "space there, or set FASTGPU_STATE_DIR to a folder on another disk",
                               paths.state_dir.string())
                 : fmt::format("; check that {} is on a disk with free space that you may "
                               "write (`df {}`)",
                               paths.state_dir.string(), paths.state_dir.string())));
      }
      return failed_precondition(fmt::format("the daemon exited at start-up; the end of {}:{}",
                                             paths.log_file.string(), tail));
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  return unavailable(fmt::format("the daemon (pid {}) did not answer on '{}' within {} s; see {}",
                                 child, paths.socket.string(), options.timeout.count(),
                                 paths.log_file.string()));
}

Result<std::optional<pid_t>> stop_daemon(const DaemonPaths& paths, std::chrono::seconds timeout) {
  Result<std::optional<pid_t>> pid = running_daemon_pid(paths);
  if (!pid.ok() || !*pid) return pid;
  if (**pid <= 0)
    return unavailable("a daemon is starting on this state folder; retry in a moment");
  if (::kill(**pid, SIGTERM) != 0 && errno != ESRCH) {
    return io_error(
        fmt::format("cannot signal the daemon (pid {}): {}", **pid, std::strerror(errno)));
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    // Stopped once it let go of the lock, or once another daemon holds it: a command that
    // follows jobs across a restart may start the next one the moment this one is gone.
    Result<std::optional<pid_t>> still = running_daemon_pid(paths);
    if (still.ok() && (!*still || (**still > 0 && **still != **pid))) return pid;
    std::this_thread::sleep_for(kPollInterval);
  }
  return unavailable(
      fmt::format("the daemon (pid {}) did not stop within {} s; `kill -9 {}` "
                  "ends it (its jobs keep running)",
                  **pid, timeout.count(), **pid));
}

}  // namespace fastgpu::api
