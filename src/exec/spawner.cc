// The spawner's side of supervisor_spawner.h; built into fastgpu-supervisor.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "exec/supervisor_spawner.h"
#include "fastgpu/exec/supervisor.h"

namespace fastgpu::exec {
namespace {

constexpr int kRequestFd = STDIN_FILENO;

// One request: the run record's path, the supervisor log's path and the two descriptors.
struct Request {
  std::string run_file;
  std::string log_path;
  int request_fd = -1;
  int notify_fd = -1;
};

// The next request; nullopt at the end of the socket (the launcher is gone) or when it
// fails (a spawner that cannot read its socket has nobody to serve). A malformed request is
// answered and skipped.
std::optional<Request> receive(int socket_fd) {
  for (;;) {
    // Not zeroed: recvmsg fills what it got, and zeroing 16 KiB for every request wrote
    // four pages of stack that the last clone shares, each a copy-on-write fault.
    std::array<char, 16384> text;
    alignas(cmsghdr) std::array<char, CMSG_SPACE(2 * sizeof(int))> control{};
    iovec part{text.data(), text.size()};
    msghdr message = spawner_message(part, control);
    const ssize_t got = ::recvmsg(socket_fd, &message, MSG_CMSG_CLOEXEC);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return std::nullopt;
    std::array<int, 2> fds{-1, -1};
    std::size_t received = 0;
    for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr;
         header = CMSG_NXTHDR(&message, header)) {
      if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
      const std::size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (std::size_t i = 0; i < count; ++i) {
        int fd = -1;
        std::memcpy(&fd, CMSG_DATA(header) + i * sizeof(int), sizeof fd);
        if (received < fds.size()) {
          fds[received] = fd;
        } else {
          ::close(fd);
        }
        ++received;
      }
    }
    const std::string_view body(text.data(), static_cast<std::size_t>(got));
    const std::size_t first_end = body.find('\0');
    const std::size_t second_end =
        first_end == std::string_view::npos ? first_end : body.find('\0', first_end + 1);
    if (received == 2 && second_end == body.size() - 1 && (message.msg_flags & MSG_TRUNC) == 0 &&
        (message.msg_flags & MSG_CTRUNC) == 0) {
      return Request{std::string(body.substr(0, first_end)),
                     std::string(body.substr(first_end + 1, second_end - first_end - 1)), fds[0],
                     fds[1]};
    }
    for (int fd : fds) {
      if (fd >= 0) ::close(fd);
    }
    const std::string answer = "error malformed request (" + std::to_string(received) +
                               " descriptors, " + std::to_string(got) + " bytes)";
    if (::send(socket_fd, answer.data(), answer.size(), MSG_NOSIGNAL) < 0) return std::nullopt;
  }
}

// In the clone: the supervisor's descriptors in place, nothing else of the spawner's, then
// the supervisor itself. Never returns.
[[noreturn]] void become_supervisor(int socket_fd, const Request& request, std::span<char> title) {
  ::close(socket_fd);
  if (!title.empty()) {
    const std::string name = std::filesystem::path(request.run_file).stem().string();
    std::fill(title.begin(), title.end(), '\0');
    std::copy_n(name.begin(), std::min(name.size(), title.size() - 1), title.begin());
  }
  // Above the slots they are going to, so no dup2 below overwrites one before it is used.
  const int request_fd = ::fcntl(request.request_fd, F_DUPFD_CLOEXEC, kNotifyFd + 1);
  const int notify_fd = ::fcntl(request.notify_fd, F_DUPFD_CLOEXEC, kNotifyFd + 1);
  if (request_fd < 0 || notify_fd < 0) ::_exit(2);  // the launcher sees the pipe close
  const int log_fd =
      ::open(request.log_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (log_fd < 0) {
    const std::string line = "failed cannot open the supervisor log '" + request.log_path +
                             "': " + std::strerror(errno) + "\n";
    (void)::write(notify_fd, line.data(), line.size());
    ::_exit(2);
  }
  if (::dup2(request_fd, kRequestFd) < 0 || ::dup2(log_fd, STDOUT_FILENO) < 0 ||
      ::dup2(log_fd, STDERR_FILENO) < 0 || ::dup2(notify_fd, kNotifyFd) < 0) {
    ::_exit(2);
  }
  ::syscall(SYS_close_range, kNotifyFd + 1, ~0U, 0U);
  ::_exit(run_supervisor(request.run_file, kNotifyFd, kRequestFd));
}

}  // namespace

int run_spawner(int socket_fd, std::span<char> title) {
  for (;;) {
    std::optional<Request> request = receive(socket_fd);
    if (!request) return 0;
    // A fork whose child is the launcher's (CLONE_PARENT), not ours: the launcher reaps it
    // and hears its SIGCHLD, as it would a supervisor it had spawned itself.
    const long pid = ::syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0L, 0L, 0L, 0L);
    if (pid == 0) become_supervisor(socket_fd, *request, title);
    const int error = errno;
    ::close(request->request_fd);
    ::close(request->notify_fd);
    const std::string answer =
        pid > 0 ? "pid " + std::to_string(pid) : std::string("error ") + std::strerror(error);
    if (::send(socket_fd, answer.data(), answer.size(), MSG_NOSIGNAL) < 0) return 1;
  }
}

}  // namespace fastgpu::exec
