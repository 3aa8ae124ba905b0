// `fastgpu daemon run`: the lock, the loop thread, the API server and a clean stop.

#include "fastgpu/api/daemon.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>

#include "api/daemon_parts.h"
#include "api/serving_thread.h"
#include "core/whole_file.h"
#include "fastgpu/api/server.h"
#include "fastgpu/api/service.h"
#include "fastgpu/core/resource_limits.h"
#include "fastgpu/core/text.h"
#include "fastgpu/core/units.h"
#include "fastgpu/sched/settings.h"
#include "fastgpu/store/state_store.h"

namespace fastgpu::api {
namespace {

// The write end of the pipe the signal handler writes to; the main thread reads the other.
int g_signal_pipe_write = -1;

// SIGTERM and SIGINT stop the daemon ('s'); SIGHUP reloads its settings ('h').
void on_signal(int signal) {
  const char byte = signal == SIGHUP ? 'h' : 's';
  // Nothing else is async-signal-safe enough to do here.
  [[maybe_unused]] const ssize_t ignored = ::write(g_signal_pipe_write, &byte, 1);
}

void say(const std::string& message) {
  std::fprintf(stderr, "fastgpu daemon: %s\n", message.c_str());
  std::fflush(stderr);
}

// Holds the state folder's lock for the daemon's life; closing the fd releases it.
class DaemonLock {
 public:
  static Result<std::unique_ptr<DaemonLock>> acquire(const DaemonPaths& paths) {
    const int fd = ::open(paths.lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
      return io_error(
          fmt::format("cannot open '{}': {}", paths.lock_file.string(), std::strerror(errno)));
    }
    // A client probing the lock holds it for an instant: retry briefly before giving up.
    for (int attempt = 0; attempt < 20; ++attempt) {
      if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return std::make_unique<DaemonLock>(fd, paths);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::close(fd);
    std::ifstream pid_file(paths.pid_file);
    std::string pid = "unknown";
    pid_file >> pid;
    return failed_precondition(fmt::format(
        "a FastGPU daemon (pid {}) already runs on state folder '{}'; use it, or stop it "
        "first with `fastgpu daemon stop`",
        pid, paths.state_dir.string()));
  }

  DaemonLock(int fd, const DaemonPaths& paths) : fd_(fd), pid_file_(paths.pid_file) {
    std::ofstream(pid_file_, std::ios::trunc) << ::getpid() << "\n";
  }
  ~DaemonLock() {
    std::error_code ignored;
    std::filesystem::remove(pid_file_, ignored);
    ::close(fd_);
  }
  DaemonLock(const DaemonLock&) = delete;
  DaemonLock& operator=(const DaemonLock&) = delete;

 private:
  int fd_;
  std::filesystem::path pid_file_;
};

std::string user_name(std::uint32_t uid) {
  passwd entry{};
  passwd* found = nullptr;
  char buffer[4096];
  if (::getpwuid_r(uid, &entry, buffer, sizeof buffer, &found) == 0 && found != nullptr) {
    return found->pw_name;
  }
  return std::to_string(uid);
}

// The write end of the loop's wake pipe, for the SIGCHLD handler.
int g_wake_pipe_write = -1;

void on_child_exit(int /*signal*/) {
  const int saved = errno;
  const char byte = 'c';
  [[maybe_unused]] const ssize_t ignored = ::write(g_wake_pipe_write, &byte, 1);
  errno = saved;
}

// The loop thread: tick, then sleep until the interval passes or something wakes it: a
// client's submit or cancel (wake()), or a supervisor of ours that exited (SIGCHLD), so a
// job's end is recorded and its GPUs or CPU slot reused at once, not a tick later. No tick
// runs before start(): a wake() before it leaves a byte in the pipe, served by the first.
// The state database's file, looked at every few seconds: deleted under the daemon (a
// cleaned folder), it lived on only in the daemon's open file, and everything went with the
// daemon's stop: the jobs, their history, a running job's record (whose GPU a new daemon
// then gave away). It is written back from the open database, and the daemon stops, so that
// the next one (started by the next command) opens it and takes its running jobs back.
class DatabaseWatch {
 public:
  DatabaseWatch(store::StateStore& store, std::filesystem::path path)
      : store_(store), path_(std::move(path)) {
    struct stat now {};
    if (::stat(path_.c_str(), &now) == 0) file_ = {now.st_dev, now.st_ino};
  }

  // True when the daemon must stop: the file is gone (then written back) or another.
  bool check() {
    if (!file_) return false;
    const auto now_time = std::chrono::steady_clock::now();
    if (now_time < next_look_) return false;
    next_look_ = now_time + std::chrono::seconds(2);
    struct stat now {};
    if (::stat(path_.c_str(), &now) == 0) {
      if (std::pair(now.st_dev, now.st_ino) == *file_) return false;
      say(
          fmt::format("warning: the state database {} was replaced by another file while this "
                      "daemon ran; it stops, so that the next daemon opens that one",
                      path_.string()));
      return true;
    }
    if (errno != ENOENT) return false;  // unreadable for a moment: looked at again later
    // The whole state folder may have gone (`rm -rf`): made again first.
    Status written = store::ensure_private_dir(path_.parent_path());
    if (written.ok()) written = store_.copy_to(path_.string());
    say(written.ok()
            ? fmt::format("warning: the state database {} was deleted while this daemon ran; "
                          "it was written back from the open database, and the daemon stops so "
                          "that the next one (started by the next command) opens it; running "
                          "jobs go on and are taken back",
                          path_.string())
            : fmt::format("warning: the state database {} was deleted while this daemon ran, "
                          "and could not be written back ({}); the daemon stops: the next one "
                          "starts an empty database",
                          path_.string(), written.message()));
    return true;
  }

 private:
  store::StateStore& store_;
  std::filesystem::path path_;
  std::optional<std::pair<dev_t, ino_t>> file_;
  std::chrono::steady_clock::time_point next_look_{};
};

class EngineLoop {
 public:
  EngineLoop(engine::Engine& engine, std::mutex& engine_mutex, std::chrono::milliseconds interval,
             int wake_read_fd, int wake_write_fd, DatabaseWatch* database = nullptr)
      : engine_(engine),
        engine_mutex_(engine_mutex),
        interval_(interval),
        wake_read_fd_(wake_read_fd),
        wake_write_fd_(wake_write_fd),
        database_(database) {}
  ~EngineLoop() { stop(); }

  void start() {
    thread_ = std::thread([this] { run(); });
  }

  // Told each warning of a tick, and a tick that failed (set before start()).
  std::function<void(const std::string&)> on_problem;

  void wake() {
    const char byte = 'w';
    [[maybe_unused]] const ssize_t ignored = ::write(wake_write_fd_, &byte, 1);
  }
  void stop() {
    stopping_ = true;
    wake();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void run() {
    while (!stopping_) {
      tick_once();
      sleep_until_woken();
    }
  }
  // Waits up to the interval for a byte on the wake pipe, then empties it: every wake-up
  // that came during the tick is served by the next one.
  void sleep_until_woken() {
    pollfd waiting{wake_read_fd_, POLLIN, 0};
    const int ready = ::poll(&waiting, 1, static_cast<int>(interval_.count()));
    if (ready <= 0) return;  // the interval passed, or a signal: tick either way
    char bytes[256];
    while (::read(wake_read_fd_, bytes, sizeof bytes) > 0) {
    }
  }
  void tick_once() {
    std::lock_guard lock(engine_mutex_);
    Result<engine::TickReport> report = engine_.tick();
    if (!report.ok()) {
      say("tick failed: " + report.status().to_string());
      if (on_problem) on_problem("tick failed: " + report.status().message());
      return;
    }
    for (const std::string& warning : report->warnings) say("warning: " + warning);
    if (!report->warnings.empty() && on_problem) on_problem(report->warnings.back());
    for (const std::string& note : report->notes) say(note);
    if (database_ != nullptr && !stop_asked_ && database_->check()) {
      stop_asked_ = true;
      on_signal(SIGTERM);  // as `fastgpu daemon stop` asks
    }
  }

  engine::Engine& engine_;
  std::mutex& engine_mutex_;
  std::chrono::milliseconds interval_;
  int wake_read_fd_;
  int wake_write_fd_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  DatabaseWatch* database_;
  bool stop_asked_ = false;
};

// The loop's wake pipe (non-blocking both ends: a full pipe already means "wake up"), and
// the SIGCHLD handler that writes to it. Returns {read end, write end}.
Result<std::pair<int, int>> install_child_wakeup() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    return io_error(std::string("pipe: ") + std::strerror(errno));
  }
  g_wake_pipe_write = fds[1];
  struct sigaction action {};
  action.sa_handler = on_child_exit;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  ::sigaction(SIGCHLD, &action, nullptr);
  return std::pair(fds[0], fds[1]);
}

// Installs the SIGTERM/SIGINT/SIGHUP handlers; returns the pipe's read end.
Result<int> install_stop_handlers() {
  // A signal mask inherited from whoever started the daemon (a program that blocks these to
  // sigwait for them, as `fastgpu dashboard` does) would keep them pending for ever: `daemon
  // stop` would not stop it. Unblocked here, before any thread starts and inherits the mask.
  sigset_t handled;
  sigemptyset(&handled);
  for (int signal_number : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&handled, signal_number);
  ::pthread_sigmask(SIG_UNBLOCK, &handled, nullptr);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return io_error(std::string("pipe: ") + std::strerror(errno));
  g_signal_pipe_write = fds[1];
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGTERM, &action, nullptr);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGHUP, &action, nullptr);
  // A client that hangs up mid-answer must not kill the daemon.
  ::signal(SIGPIPE, SIG_IGN);
  return fds[0];
}

// Serves SIGHUP (a reload, as `fastgpu daemon reload` asks it, its outcome said on
// stderr) until SIGTERM or SIGINT comes.
void wait_for_stop_signal(int read_fd, ApiService& service) {
  for (;;) {
    char byte = 0;
    const ssize_t got = ::read(read_fd, &byte, 1);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0 || byte != 'h') return;
    try {
      service.reload_settings("SIGHUP");     // its outcome is logged
    } catch (const std::exception& error) {  // a bug; the daemon goes on with its settings
      say(fmt::format("settings not reloaded (SIGHUP): {}", error.what()));
    }
  }
}

ApiServiceOptions service_options(DaemonParts& parts, std::mutex& engine_mutex,
                                  const DaemonConfig& config) {
  ApiServiceOptions options;
  options.engine = parts.engine.get();
  options.store = parts.store.get();
  options.engine_mutex = &engine_mutex;
  options.clock = parts.clock.get();
  options.user_name = user_name;
  options.job_path_prefix = config.job_path_prefix;
  options.info.pid = ::getpid();
  options.info.version = "0.1.0";
  options.info.socket = config.paths.socket;
  options.info.state_dir = config.paths.state_dir;
  options.info.gpus_source = parts.gpus_source;
  options.info.gpus_note = parts.gpus_note;
  if (parts.gpus_source == "simulated") {
    options.info.devices = config.devices.empty() ? kDefaultSimulatedDevices : config.devices;
  }
  options.info.cpu_slots = config.cpu_slots;
  options.info.sample_interval_s = config.sample_interval_s;
  options.info.sample_retention_s = config.sample_retention_s;
  options.info.job_retention_s = config.job_retention_s;
  if (!config.metrics_host.empty()) {
    options.info.metrics_listen = host_port_text(config.metrics_host, config.metrics_port);
  }
  options.info.shared = config.shared;
  options.info.scheduler = sched::settings_json(config.scheduler);
  options.info.settings_file = config.settings_file.string();
  options.info.started = std::chrono::steady_clock::now();
  options.reread_settings = config.reread_settings;
  options.owner_uid = ::getuid();
  options.log = say;
  return options;
}

std::size_t running_jobs(store::StateStore& store) {
  store::JobFilter filter;
  filter.states = {store::JobState::kRunning};
  Result<std::vector<store::JobRecord>> jobs = store.list_jobs(filter);
  return jobs.ok() ? jobs->size() : 0;
}

}  // namespace

std::filesystem::path start_choices_file(const DaemonPaths& paths) {
  return paths.state_dir / "daemon-start.json";
}

namespace {

// Written whole or not at all; a failure is said in the log and costs only the restart's
// memory of the choices.
void keep_start_choices(const DaemonConfig& config) {
  const Status written =
      write_whole_file(start_choices_file(config.paths), config.start_choices + "\n");
  if (!written.ok()) {
    say(fmt::format("warning: {}; a restart after a crash starts with the defaults",
                    written.message()));
  }
}

}  // namespace

namespace {

// The state folder holds every job's command and environment (the database) and logs; one
// made by hand (`mkdir /var/lib/fastgpu`, mode 0755) let every user read them all.
Status check_state_dir_private(const std::filesystem::path& dir) {
  struct stat info {};
  if (::stat(dir.c_str(), &info) != 0 || (info.st_mode & 077) == 0) return {};
  return failed_precondition(fmt::format(
      "the state folder '{}' is mode {:04o}: other users could read every job's command, "
      "environment and log in it; make it private (`chmod 700 {}`)",
      dir.string(), info.st_mode & 07777, dir.string()));
}

}  // namespace

Status run_daemon(const DaemonConfig& config) {
  FASTGPU_RETURN_IF_ERROR(check_state_dir_open_to_caller(config.paths));
  FASTGPU_RETURN_IF_ERROR(store::ensure_private_dir(config.paths.state_dir));
  FASTGPU_RETURN_IF_ERROR(check_state_dir_private(config.paths.state_dir));
  // A shared daemon's socket must be reachable by every user, and safe from them.
  FASTGPU_RETURN_IF_ERROR(config.shared
                              ? prepare_shared_socket_folder(config.paths.socket)
                              : store::ensure_private_dir(config.paths.socket.parent_path()));
  Result<std::unique_ptr<DaemonLock>> lock = DaemonLock::acquire(config.paths);
  if (!lock.ok()) return lock.status();
  // Before the loop starts any job: this daemon may not serve on another's socket.
  FASTGPU_RETURN_IF_ERROR(check_socket_not_in_use(config.paths.socket));
  Result<int> stop_fd = install_stop_handlers();
  if (!stop_fd.ok()) return stop_fd.status();

  Result<DaemonParts> parts = open_daemon_parts(config);
  if (!parts.ok()) return parts.status();
  if (!config.start_choices.empty()) keep_start_choices(config);
  say(parts->gpus_note);
  for (const std::string& note : parts->start_notes) say(note);
  say(fmt::format("scheduling: policy {}, placement {}; settings {}", config.scheduler.policy,
                  config.scheduler.strategy,
                  config.settings_file.empty() ? "the defaults (no settings file)"
                                               : "from " + config.settings_file.string()));
  if (const ResourceLimits kept = job_sized_hard_limits(own_resource_limits()); !kept.empty()) {
    say(fmt::format(
        "hard limits kept from the shell that started it, to which every job it runs is held "
        "(only root raises a hard limit): {}",
        format_hard_limits(kept)));
  }
  if (config.job_retention_s > 0) {
    say(fmt::format("ended jobs are forgotten {} after they end (--job-retention)",
                    format_duration(Seconds(config.job_retention_s))));
  }

  Result<std::pair<int, int>> wake_pipe = install_child_wakeup();
  if (!wake_pipe.ok()) return wake_pipe.status();
  std::mutex engine_mutex;
  ApiServiceOptions options = service_options(*parts, engine_mutex, config);
  // The engine samples only at a tick: a sample interval shorter than the tick wakes it as
  // often (`--sample-interval 0.1s` under the default 500 ms tick sampled every 0.5 s).
  const auto sample_every = std::chrono::milliseconds(
      std::max<std::int64_t>(1, std::llround(config.sample_interval_s * 1000.0)));
  DatabaseWatch database(*parts->store, config.paths.database);
  EngineLoop loop(*parts->engine, engine_mutex, std::min(config.tick_interval, sample_every),
                  wake_pipe->first, wake_pipe->second, &database);
  options.wake_loop = [&loop] { loop.wake(); };
  ApiService service(std::move(options));
  loop.on_problem = [&service](const std::string& message) { service.note_problem(message); };
  // The metrics' port before the socket: `daemon start` takes an answer on the socket for a
  // daemon that started, and one whose port was taken exited just after answering.
  std::unique_ptr<MetricsServer> metrics;
  if (!config.metrics_host.empty()) {
    Result<std::unique_ptr<MetricsServer>> started =
        MetricsServer::start(config.metrics_host, config.metrics_port, &service);
    if (!started.ok()) return started.status();
    metrics = std::move(*started);
    say(fmt::format("metrics for Prometheus on http://{}/metrics",
                    host_port_text(config.metrics_host, config.metrics_port)));
  }
  // The socket first, the loop after: a daemon that cannot serve (a socket folder it may not
  // write, a process that took the path since the check above) exits before it starts any
  // job; it had launched queued jobs and left them running with no daemon.
  Result<std::unique_ptr<ApiServer>> server =
      ApiServer::start({config.paths.socket, config.shared, &service});
  if (!server.ok()) return server.status();
  try {
    loop.start();
  } catch (const std::system_error& error) {
    return unavailable(fmt::format(
        "cannot start the engine's thread: it {} (the daemon did not start, and started no job)",
        thread_refused(error, "the engine")));
  }
  say(fmt::format("pid {} serving on {} (state in {})", ::getpid(), config.paths.socket.string(),
                  config.paths.state_dir.string()));

  wait_for_stop_signal(*stop_fd, service);
  say("stopping");
  (*server)->stop();
  if (metrics) metrics->stop();
  loop.stop();
  say(fmt::format("stopped; {} running job(s) left to their supervisors",
                  running_jobs(*parts->store)));
  // Stopped on purpose: the next daemon starts as it is asked to, not as this one did.
  std::error_code ignored;
  std::filesystem::remove(start_choices_file(config.paths), ignored);
  return {};
}

}  // namespace fastgpu::api
