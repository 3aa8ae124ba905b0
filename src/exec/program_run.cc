#include "fastgpu/exec/program_run.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

extern char** environ;

namespace fastgpu::exec {
namespace {

// A pipe whose ends close themselves; both ends close on exec (the child gets its copies
// through dup2, which clears the flag).
struct Pipe {
  int read_end = -1;
  int write_end = -1;
  Pipe() {
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC) == 0) {
      read_end = ends[0];
      write_end = ends[1];
    }
  }
  ~Pipe() {
    close_read();
    close_write();
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  bool ok() const { return read_end >= 0; }
  void close_read() {
    if (read_end >= 0) ::close(read_end);
    read_end = -1;
  }
  void close_write() {
    if (write_end >= 0) ::close(write_end);
    write_end = -1;
  }
};

// SIGPIPE blocked in this thread while it lives; a SIGPIPE raised meanwhile is taken away
// before the old mask comes back, so it never reaches the process.
class SigpipeBlocked {
 public:
  SigpipeBlocked() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    ::pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeBlocked() {
    const timespec none{};
    while (::sigtimedwait(&pipe_, nullptr, &none) == SIGPIPE) {
    }
    ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeBlocked(const SigpipeBlocked&) = delete;
  SigpipeBlocked& operator=(const SigpipeBlocked&) = delete;

 private:
  sigset_t pipe_{};
  sigset_t old_{};
};

Result<pid_t> spawn(const std::vector<std::string>& argv, Pipe& in, Pipe& out, Pipe& err) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in.read_end, STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out.write_end, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err.write_end, STDERR_FILENO);
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  // In a process group of its own, so that Ctrl-C at the terminal reaches only the caller,
  // which decides what to stop (a half-done sbatch would leave a job nobody knows of).
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attributes, 0);
  pid_t pid = -1;
  const int failed = ::posix_spawnp(&pid, args[0], &actions, &attributes, args.data(), environ);
  posix_spawnattr_destroy(&attributes);
  posix_spawn_file_actions_destroy(&actions);
  if (failed != 0) {
    return not_found(fmt::format("cannot run '{}' ({})", argv[0], std::strerror(failed)));
  }
  return pid;
}

// Writes `input` and reads both outputs until the program has closed them.
void exchange(std::string_view input, Pipe& in, Pipe& out, Pipe& err, ProgramOutput& result) {
  if (input.empty()) in.close_write();
  if (in.write_end >= 0) ::fcntl(in.write_end, F_SETFL, O_NONBLOCK);
  std::size_t written = 0;
  char buffer[4096];
  while (out.read_end >= 0 || err.read_end >= 0) {
    pollfd fds[3] = {
        {in.write_end, POLLOUT, 0}, {out.read_end, POLLIN, 0}, {err.read_end, POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[0].revents != 0) {
      const ssize_t n = ::write(in.write_end, input.data() + written, input.size() - written);
      if (n > 0) written += static_cast<std::size_t>(n);
      if (n < 0 && errno != EAGAIN && errno != EINTR) written = input.size();  // it stopped reading
      if (written == input.size()) in.close_write();
    }
    for (auto [fd, pipe, text] :
         {std::tuple{&fds[1], &out, &result.out}, std::tuple{&fds[2], &err, &result.err}}) {
      if (fd->revents == 0) continue;
      const ssize_t n = ::read(pipe->read_end, buffer, sizeof buffer);
      if (n > 0) text->append(buffer, static_cast<std::size_t>(n));
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) pipe->close_read();
    }
  }
}

}  // namespace

Result<ProgramOutput> run_program(const std::vector<std::string>& argv, std::string_view input) {
  Pipe in;
  Pipe out;
  Pipe err;
  if (!in.ok() || !out.ok() || !err.ok()) {
    return io_error(fmt::format("cannot run '{}': no pipe ({})", argv[0], std::strerror(errno)));
  }
  const SigpipeBlocked blocked;
  Result<pid_t> pid = spawn(argv, in, out, err);
  if (!pid.ok()) return pid.status();
  in.close_read();
  out.close_write();
  err.close_write();
  ProgramOutput result;
  exchange(input, in, out, err, result);
  in.close_write();
  int status = 0;
  while (::waitpid(*pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  return result;
}

}  // namespace fastgpu::exec
