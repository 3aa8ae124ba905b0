// The baseline of bench/trivial_jobs.sh: runs a command N times with fork/exec (posix_spawn)
// and waitpid, at most P at once, and prints the wall time (and on stderr the CPU time per
// run, the loop's and its runs'). This is the least a workload
// manager can cost per job: no queue, no log, no record of what ran.
//
// Usage: fork_exec_loop N P COMMAND [ARGS...]
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

extern char** environ;

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s N P COMMAND [ARGS...]  (N runs, at most P at once)\n", argv[0]);
    return 2;
  }
  const long runs = std::strtol(argv[1], nullptr, 10);
  const long parallel = std::strtol(argv[2], nullptr, 10);
  if (runs < 1 || parallel < 1) {
    std::fprintf(stderr, "N and P must be whole numbers >= 1, not '%s' and '%s'\n", argv[1],
                 argv[2]);
    return 2;
  }
  const auto begin = std::chrono::steady_clock::now();
  long started = 0;
  long running = 0;
  long failed = 0;
  while (started < runs || running > 0) {
    while (started < runs && running < parallel) {
      pid_t pid = 0;
      const int error = ::posix_spawnp(&pid, argv[3], nullptr, nullptr, argv + 3, environ);
      if (error != 0) {
        std::fprintf(stderr, "cannot run '%s': %s\n", argv[3], std::strerror(error));
        return 1;
      }
      ++started;
      ++running;
    }
    int status = 0;
    const pid_t ended = ::waitpid(-1, &status, 0);
    if (ended < 0 && errno == EINTR) continue;
    if (ended < 0) break;
    --running;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  std::printf("%.3f\n", seconds);
  // CPU time, which a shared machine's neighbours disturb less than the wall: the loop's
  // own and its runs' (reaped children), per run.
  auto cpu_ms = [](const rusage& use) {
    return (static_cast<double>(use.ru_utime.tv_sec + use.ru_stime.tv_sec) * 1e3 +
            static_cast<double>(use.ru_utime.tv_usec + use.ru_stime.tv_usec) / 1e3);
  };
  rusage self{};
  rusage children{};
  ::getrusage(RUSAGE_SELF, &self);
  ::getrusage(RUSAGE_CHILDREN, &children);
  std::fprintf(stderr, "cpu per run: %.3f ms (the loop %.3f, the runs %.3f)\n",
               (cpu_ms(self) + cpu_ms(children)) / static_cast<double>(runs),
               cpu_ms(self) / static_cast<double>(runs),
               cpu_ms(children) / static_cast<double>(runs));
  if (failed > 0) std::fprintf(stderr, "%ld of %ld runs failed\n", failed, runs);
  return failed > 0 ? 1 : 0;
}
