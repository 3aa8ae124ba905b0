// fastgpu-supervisor RUN_FILE [--notify-fd FD] < REQUEST: supervises one job (see
// include/fastgpu/exec/supervisor.h). Started by LocalLauncher, not by users.
#include <charconv>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "fastgpu/exec/supervisor.h"

int main(int argc, char** argv) {
  int notify_fd = -1;
  if (argc == 4 && std::string_view(argv[2]) == "--notify-fd") {
    std::string_view text(argv[3]);
    auto [ptr, error] = std::from_chars(text.data(), text.data() + text.size(), notify_fd);
    if (error != std::errc{} || ptr != text.data() + text.size() || notify_fd < 0) {
      std::fprintf(stderr, "fastgpu-supervisor: --notify-fd '%s' is not a file descriptor\n",
                   argv[3]);
      return 2;
    }
  } else if (argc != 2) {
    std::fprintf(stderr,
                 "usage: fastgpu-supervisor RUN_FILE [--notify-fd FD] < REQUEST\n"
                 "Supervises the job described by the launch request (JSON) on standard input\n"
                 "and keeps its record in RUN_FILE; FastGPU starts it.\n");
    return 2;
  }
  return fastgpu::exec::run_supervisor(argv[1], notify_fd);
}
