// fastgpu-supervisor RUN_FILE [--notify-fd FD] < REQUEST: supervises one job (see
// include/fastgpu/exec/supervisor.h). Started by LocalLauncher, not by users.
// fastgpu-supervisor --spawner FD: starts supervisors on request (src/exec/supervisor_spawner.h).
#include <charconv>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "exec/supervisor_spawner.h"
#include "fastgpu/exec/supervisor.h"

namespace {

// The descriptor number in `text`, or -1 (after saying so) when it is not one.
int parse_fd(const char* option, const char* text) {
  const std::string_view view(text);
  int fd = -1;
  auto [ptr, error] = std::from_chars(view.data(), view.data() + view.size(), fd);
  if (error != std::errc{} || ptr != view.data() + view.size() || fd < 0) {
    std::fprintf(stderr, "fastgpu-supervisor: %s '%s' is not a file descriptor\n", option, text);
    return -1;
  }
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  int notify_fd = -1;
  if (argc == 3 && std::string_view(argv[1]) == "--spawner") {
    const int socket_fd = parse_fd("--spawner", argv[2]);
    if (socket_fd < 0) return 2;
    // The arguments' memory, contiguous after argv[0]: each supervisor names its run there.
    char* const title_end = argv[2] + std::strlen(argv[2]);
    return fastgpu::exec::run_spawner(socket_fd, {argv[1], title_end});
  }
  if (argc == 4 && std::string_view(argv[2]) == "--notify-fd") {
    notify_fd = parse_fd("--notify-fd", argv[3]);
    if (notify_fd < 0) return 2;
  } else if (argc != 2) {
    std::fprintf(stderr,
                 "usage: fastgpu-supervisor RUN_FILE [--notify-fd FD] < REQUEST\n"
                 "       fastgpu-supervisor --spawner FD\n"
                 "Supervises the job described by the launch request (JSON) on standard input\n"
                 "and keeps its record in RUN_FILE; FastGPU starts it. With --spawner, starts\n"
                 "such supervisors for the launcher at the other end of the socket FD.\n");
    return 2;
  }
  return fastgpu::exec::run_supervisor(argv[1], notify_fd);
}
