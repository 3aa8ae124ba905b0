// The FastGPU daemon: owns the GPU probe, the state store, the launcher and the engine;
// a loop thread calls Engine::tick() on a timer (and at once after a submit or cancel);
// the API server answers on the unix socket. One mutex guards the engine.
//
// One daemon per state folder: it holds an exclusive flock on state_dir/daemon.lock for
// its whole life and writes its pid to state_dir/daemon.pid. SIGTERM or SIGINT stops it
// cleanly: it stops serving, finishes the tick in progress and exits, leaving running jobs
// to their supervisors (the next daemon re-adopts them, see engine.h).
//
// GPUs: `devices` (from --devices or FASTGPU_DEVICES) names simulated GPUs; without it the
// daemon reads the real GPUs through NVML, and where there is no NVIDIA driver it says so
// and simulates kDefaultSimulatedDevices.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "fastgpu/api/paths.h"
#include "fastgpu/core/result.h"
#include "fastgpu/sched/config.h"

namespace fastgpu::api {

inline constexpr const char* kDefaultSimulatedDevices = "4xH100-80G";

// The scheduler's settings and the file they were read from (empty: the defaults).
struct SchedulerSettings {
  sched::SchedulerConfig config;
  std::filesystem::path file;
  // A policy or strategy of the file's that the daemon's --policy or --strategy (or their
  // variables) override, said as a line: "policy: sjf in the file is not used: ...".
  std::vector<std::string> overridden;
};
// Reads the settings again as the daemon's start did: the same file (or the default file,
// if it exists now), then the same flags and variables over it. An error names the file,
// the line and the fix.
using SettingsReader = std::function<Result<SchedulerSettings>()>;

struct DaemonConfig {
  DaemonPaths paths;
  std::string devices;  // a simulated-GPU spec; empty: NVML, else kDefaultSimulatedDevices
  // Serve every user (socket mode 0666): meant for a root daemon, which then runs each job
  // as its owner. Off: only the daemon's own user can connect (0600).
  bool shared = false;
  std::chrono::milliseconds tick_interval{500};
  // EngineOptions::cpu_slots: CPU-only jobs that run at once (0: no limit).
  std::size_t cpu_slots = 0;
  // EngineOptions::sample_interval_s: GPU samples (and the jobs' accounting) at most this
  // often, in seconds (`daemon run --sample-interval`).
  double sample_interval_s = 1.0;
  // EngineOptions::sample_retention_s: GPU samples older than this are deleted (0: kept
  // for ever); `daemon run --sample-retention`.
  double sample_retention_s = 7 * 24 * 3600.0;
  // EngineOptions::job_retention_s: jobs that ended longer ago are forgotten (0: kept for
  // ever, the default).
  double job_retention_s = 0.0;
  // Where to serve the metrics over TCP for Prometheus (`daemon run --metrics-listen
  // HOST:PORT`, MetricsServer); an empty host: nowhere.
  std::string metrics_host;
  int metrics_port = 0;
  // How the engine orders and places the queue: the policy (fifo, priority, sjf, ...) and
  // the placement strategy (pack, spread); `daemon run --policy/--strategy`; the rest from
  // the settings file (sched/settings.h).
  sched::SchedulerConfig scheduler;
  std::filesystem::path settings_file;  // where `scheduler` was read from; empty: defaults
  // For `fastgpu daemon reload` and SIGHUP; empty: the daemon refuses to reload.
  SettingsReader reread_settings;
  // EngineOptions::check_schedule (FASTGPU_CHECK_SCHEDULE=1): for tests.
  bool check_schedule = false;
  // Folders put at the front of every job's PATH, so jobs find fastgpu-burn-cpu and
  // friends shipped beside the fastgpu binary.
  std::vector<std::filesystem::path> job_path_prefix;
  // What the start was asked for (flags and variables, as JSON text), kept in
  // start_choices_file() while the daemon runs and removed at a clean stop: a daemon that
  // finds the file left there by one that crashed starts as that one did (`daemon run`).
  std::string start_choices;
};

// $STATE/daemon-start.json (DaemonConfig::start_choices).
std::filesystem::path start_choices_file(const DaemonPaths& paths);

// Runs the daemon in the foreground until SIGTERM or SIGINT. Messages go to stderr.
// Fails at start-up (another daemon on the state folder, a bad --devices spec, a socket
// that cannot be bound); returns ok after a clean stop.
Status run_daemon(const DaemonConfig& config);

// The pid of the daemon holding the state folder's lock, or nullopt when none runs. A state
// folder the caller may not open is the error check_state_dir_open_to_caller says.
Result<std::optional<pid_t>> running_daemon_pid(const DaemonPaths& paths);

// Fails (kFailedPrecondition) when the state folder is another user's that the caller may not
// open (root's /var/lib/fastgpu reached through FASTGPU_STATE_DIR or XDG_STATE_HOME), naming
// its owner, the variable that leads there and the fix; ok otherwise, a folder not made yet
// included.
Status check_state_dir_open_to_caller(const DaemonPaths& paths);

struct StartOptions {
  std::filesystem::path executable;          // the fastgpu binary to run as `fastgpu daemon run`
  std::string devices;                       // passed on as FASTGPU_DEVICES when not empty
  std::chrono::seconds timeout{30};          // for the socket to answer
  std::string policy;                        // passed on as FASTGPU_POLICY when not empty
  std::string strategy;                      // passed on as FASTGPU_STRATEGY when not empty
  std::filesystem::path settings_file;       // passed on as FASTGPU_CONFIG when not empty
  std::optional<std::size_t> cpu_slots;      // passed on as FASTGPU_CPU_SLOTS when given
  std::optional<double> sample_interval_s;   // passed on as FASTGPU_SAMPLE_INTERVAL when given
  std::string metrics_listen;                // passed on as FASTGPU_METRICS_LISTEN when not empty
  std::optional<double> sample_retention_s;  // passed on as FASTGPU_SAMPLE_RETENTION when given
  std::optional<double> job_retention_s;     // passed on as FASTGPU_JOB_RETENTION when given
  bool shared = false;                       // `daemon run --shared`
};

// Starts `fastgpu daemon run` detached (its own session, output appended to
// state_dir/daemon.log, not the caller's child: init reaps it when it ends) and waits
// until its socket answers. A daemon that exits first is
// an error quoting the end of its log, unless it lost the state folder's lock to a daemon
// another command started at the same moment: then that one is waited for instead.
struct StartedDaemon {
  pid_t pid = 0;              // the daemon that answers
  bool started_here = false;  // false: another command's daemon won the state folder's lock
};
Result<StartedDaemon> start_daemon(const DaemonPaths& paths, const StartOptions& options);

// Sends SIGTERM to the running daemon and waits until it has let go of its lock (or another
// daemon, started meanwhile, holds it). Returns the pid it stopped, or nullopt when none was
// running.
Result<std::optional<pid_t>> stop_daemon(const DaemonPaths& paths, std::chrono::seconds timeout);

// The folder of the running executable (/proc/self/exe), for job_path_prefix and
// StartOptions::executable.
Result<std::filesystem::path> own_executable();

// The folders a daemon run from `executable` puts at the front of every job's PATH: the
// binary's own, and in a build tree the workload programs' (tools/workload), so jobs find
// fastgpu-burn-cpu by name.
std::vector<std::filesystem::path> job_path_prefix(const std::filesystem::path& executable);

// Puts `prefix` at the front of the PATH entry of `environment` (a PATH of
// /usr/local/bin:/usr/bin:/bin after it when there is none), as the daemon runs each job.
void prefix_path(std::vector<std::string>& environment,
                 const std::vector<std::filesystem::path>& prefix);

}  // namespace fastgpu::api
