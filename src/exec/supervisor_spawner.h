// The spawner: one long-lived `fastgpu-supervisor --spawner FD` per launcher that starts
// each job's supervisor by cloning itself instead of by a new exec.
//
// A supervisor per job stays (docs/exec.md): its own process, its own session, outliving
// the daemon. What the spawner saves is the exec of that process. Measured on this
// project's 2-core VM (docs/benchmarks.md, trivial jobs), an exec of the static supervisor
// costs about 0.6 ms of CPU before it does any work, most of it glibc's start-up asking the
// CPU its features and caches (`cpuid`, which traps to the hypervisor on a VM, about 4 µs
// each), against about 0.15 ms for a fork of a small running process.
//
// The clone is made with CLONE_PARENT, so each supervisor is the launcher's own child
// exactly as a posix_spawn'd one is: the launcher reaps it with waitpid, its SIGCHLD wakes
// the daemon, and nothing in how a run is tracked, stopped or adopted changes. The child
// takes the signal state the spawner was started with (every disposition default,
// SIGTERM/SIGINT/SIGUSR1/SIGUSR2/SIGCHLD blocked), the request on stdin, the shared supervisor log
// on stdout and stderr and the notify pipe on fd 3, and nothing else of the spawner's.
//
// The protocol, on a SOCK_SEQPACKET socket pair: the launcher sends one message per
// supervisor, "RUN_FILE\0LOG_PATH\0" with two descriptors (SCM_RIGHTS: the request's memfd,
// the notify pipe's write end); the spawner answers "pid N" or "error MESSAGE". It exits
// when the launcher's end closes.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <filesystem>
#include <mutex>
#include <span>

#include "fastgpu/core/result.h"

namespace fastgpu::exec {

// Where a supervisor finds its notify pipe (`--notify-fd 3`), and the spawner its socket.
inline constexpr int kNotifyFd = 3;

// A message of the protocol over `part` (its body) and `control` (room for its descriptors),
// for sendmsg and recvmsg alike.
inline msghdr spawner_message(iovec& part, std::span<char> control) {
  msghdr message{};
  message.msg_iov = &part;
  message.msg_iovlen = 1;
  message.msg_control = control.data();
  message.msg_controllen = control.size();
  return message;
}

// The spawner's side: serves requests on socket_fd until the other end closes or the socket
// fails; returns the program's exit status (0). `title`: the memory of the program's
// arguments after argv[0], which each clone overwrites with its run's name (job.attempt),
// so that ps shows `fastgpu-supervisor 12.1` rather than the spawner's `--spawner 3`.
// REQUIRES: a single-threaded process whose signal state is the supervisor's (see above).
int run_spawner(int socket_fd, std::span<char> title = {});

// The launcher's side. Thread-safe: a call waits for the one before it.
class SupervisorSpawner {
 public:
  explicit SupervisorSpawner(std::filesystem::path supervisor_path);
  // Closes the socket, so the spawner exits, and reaps it. Supervisors it started run on.
  ~SupervisorSpawner();
  SupervisorSpawner(const SupervisorSpawner&) = delete;
  SupervisorSpawner& operator=(const SupervisorSpawner&) = delete;

  // Starts a supervisor for run_file (a child of the caller), starting the spawner first
  // when none runs. An error means no supervisor was started: the caller spawns it itself.
  // After kMaxFailures failed spawners (one that would not start, died, or could not
  // clone), it stops trying and every call fails at once.
  Result<pid_t> spawn(const std::filesystem::path& run_file, const std::filesystem::path& log_path,
                      int request_fd, int notify_fd);

  // Reaps a spawner that has exited (counted as a failure), so that it does not linger as
  // a zombie until the next launch finds it gone. The launcher calls it as it polls.
  void reap_if_exited();

  // The running spawner's pid, 0 when none runs (tests).
  pid_t pid() const;

  static constexpr int kMaxFailures = 3;

 private:
  Status start(const std::filesystem::path& log_path);
  void stop();

  const std::filesystem::path supervisor_path_;
  mutable std::mutex mutex_;
  int socket_ = -1;
  pid_t pid_ = 0;
  int failures_ = 0;
};

}  // namespace fastgpu::exec
