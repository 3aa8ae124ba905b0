#include "fastgpu/api/paths.h"

#include <fmt/format.h>

#include <cstdlib>

#include "fastgpu/store/state_store.h"

namespace fastgpu::api {
namespace {

bool is_set(const std::optional<std::string>& value) { return value && !value->empty(); }

std::optional<std::string> env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

std::filesystem::path socket_path(const PathEnvironment& environment,
                                  const std::filesystem::path& state_dir) {
  if (is_set(environment.fastgpu_socket)) return *environment.fastgpu_socket;
  if (is_set(environment.xdg_runtime_dir)) {
    return std::filesystem::path(*environment.xdg_runtime_dir) / "fastgpu" / "fastgpu.sock";
  }
  return state_dir / "fastgpu.sock";
}

}  // namespace

Result<DaemonPaths> daemon_paths_from(const PathEnvironment& environment) {
  Result<std::filesystem::path> state_dir = store::state_dir_from(
      environment.fastgpu_state_dir, environment.xdg_state_home, environment.home);
  if (!state_dir.ok()) return state_dir.status();
  DaemonPaths paths;
  paths.state_dir = *state_dir;
  paths.socket = socket_path(environment, paths.state_dir);
  if (paths.socket.native().size() > kMaxSocketPathLength) {
    return invalid_argument(
        fmt::format("socket path '{}' is {} characters; a unix socket path holds at most {}: set "
                    "FASTGPU_SOCKET to a shorter path (e.g. /tmp/fastgpu-$USER.sock)",
                    paths.socket.string(), paths.socket.native().size(), kMaxSocketPathLength));
  }
  paths.lock_file = paths.state_dir / "daemon.lock";
  paths.pid_file = paths.state_dir / "daemon.pid";
  paths.log_file = paths.state_dir / "daemon.log";
  paths.database = paths.state_dir / "fastgpu.db";
  return paths;
}

Result<DaemonPaths> daemon_paths_from_environment() {
  return daemon_paths_from({env("FASTGPU_STATE_DIR"), env("XDG_STATE_HOME"), env("HOME"),
                            env("FASTGPU_SOCKET"), env("XDG_RUNTIME_DIR")});
}

}  // namespace fastgpu::api
