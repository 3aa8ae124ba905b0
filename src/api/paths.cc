#include "fastgpu/api/paths.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "fastgpu/store/state_store.h"

namespace fastgpu::api {
namespace {

bool is_set(const std::optional<std::string>& value) { return value && !value->empty(); }

std::optional<std::string> env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

// The socket, and the variable that chose it (for messages): `state_variable` chose the
// state folder, where the socket lies when neither socket variable is set.
struct SocketChoice {
  std::filesystem::path path;
  const char* variable;
};
SocketChoice socket_path(const PathEnvironment& environment, const std::filesystem::path& state_dir,
                         const char* state_variable) {
  if (is_set(environment.fastgpu_socket)) return {*environment.fastgpu_socket, "FASTGPU_SOCKET"};
  if (is_set(environment.xdg_runtime_dir)) {
    return {std::filesystem::path(*environment.xdg_runtime_dir) / "fastgpu" / "fastgpu.sock",
            "XDG_RUNTIME_DIR"};
  }
  return {state_dir / "fastgpu.sock", state_variable};
}

constexpr const char* kSharedSocketFix =
    "set FASTGPU_SOCKET to a path in a folder only root may write and every user may enter, "
    "e.g. /run/fastgpu/fastgpu.sock";

Status make_folder_for_everyone(const std::filesystem::path& dir) {
  if (::mkdir(dir.c_str(), 0755) != 0) {
    if (errno == EEXIST) return {};
    return io_error(fmt::format("cannot create the socket folder '{}': {}", dir.string(),
                                std::strerror(errno)));
  }
  ::chmod(dir.c_str(), 0755);  // whatever the umask took away
  return {};
}

// The variable that chose the state folder, for messages.
const char* state_variable_of(const PathEnvironment& environment) {
  if (is_set(environment.fastgpu_state_dir)) return "FASTGPU_STATE_DIR";
  if (is_set(environment.xdg_state_home)) return "XDG_STATE_HOME";
  return "HOME";
}

// `path` made absolute against the working folder, lexically normal, without a trailing
// slash. `variable`: what set it, for the message.
Result<std::filesystem::path> absolute_path(const std::filesystem::path& path,
                                            const PathEnvironment& environment,
                                            const char* variable) {
  std::filesystem::path full = path;
  if (full.is_relative()) {
    if (!environment.working_dir || environment.working_dir->is_relative()) {
      return failed_precondition(fmt::format(
          "{} is the relative path '{}', and the working folder it is relative to cannot be "
          "read; set {} to an absolute path",
          variable, path.string(), variable));
    }
    full = *environment.working_dir / full;
  }
  full = full.lexically_normal();
  if (!full.has_filename() && full.has_relative_path()) full = full.parent_path();
  return full;
}

}  // namespace

Status prepare_shared_socket_folder(const std::filesystem::path& socket) {
  const std::filesystem::path folder = socket.parent_path();
  std::filesystem::path partial;
  for (const auto& part : folder) {
    partial /= part;
    FASTGPU_RETURN_IF_ERROR(make_folder_for_everyone(partial));
    struct stat info {};
    if (::stat(partial.c_str(), &info) != 0) {
      return io_error(fmt::format("cannot look at the socket folder '{}': {}", partial.string(),
                                  std::strerror(errno)));
    }
    if ((info.st_mode & S_IXOTH) == 0) {
      return failed_precondition(fmt::format(
          "--shared: other users cannot reach the socket '{}': the folder '{}' is mode {:04o}, "
          "closed to them; {}",
          socket.string(), partial.string(), info.st_mode & 07777, kSharedSocketFix));
    }
    if (partial != folder) continue;
    if ((info.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
      return failed_precondition(fmt::format(
          "--shared: the socket's folder '{}' is mode {:04o}: other users may write it, and one "
          "could put a socket of theirs in the daemon's place and read every job submitted; {}",
          partial.string(), info.st_mode & 07777, kSharedSocketFix));
    }
    if (info.st_uid != 0 && info.st_uid != ::geteuid()) {
      return failed_precondition(fmt::format(
          "--shared: the socket's folder '{}' belongs to uid {}, who could put a socket of "
          "theirs in the daemon's place and read every job submitted; {}",
          partial.string(), info.st_uid, kSharedSocketFix));
    }
  }
  return {};
}

Result<DaemonPaths> daemon_paths_from(const PathEnvironment& environment) {
  Result<std::filesystem::path> state_dir = store::state_dir_from(
      environment.fastgpu_state_dir, environment.xdg_state_home, environment.home);
  if (!state_dir.ok()) return state_dir.status();
  const char* state_variable = state_variable_of(environment);
  DaemonPaths paths;
  Result<std::filesystem::path> state = absolute_path(*state_dir, environment, state_variable);
  if (!state.ok()) return state.status();
  paths.state_dir = *state;
  const SocketChoice chosen = socket_path(environment, paths.state_dir, state_variable);
  Result<std::filesystem::path> socket = absolute_path(chosen.path, environment, chosen.variable);
  if (!socket.ok()) return socket.status();
  paths.socket = *socket;
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

const char* state_dir_variable() {
  PathEnvironment environment;
  environment.fastgpu_state_dir = env("FASTGPU_STATE_DIR");
  environment.xdg_state_home = env("XDG_STATE_HOME");
  return state_variable_of(environment);
}

Result<DaemonPaths> daemon_paths_from_environment() {
  std::error_code unreadable;  // a deleted working folder: only relative paths need it
  std::filesystem::path working_dir = std::filesystem::current_path(unreadable);
  return daemon_paths_from(
      {env("FASTGPU_STATE_DIR"), env("XDG_STATE_HOME"), env("HOME"), env("FASTGPU_SOCKET"),
       env("XDG_RUNTIME_DIR"),
       unreadable ? std::nullopt : std::optional<std::filesystem::path>(std::move(working_dir))});
}

}  // namespace fastgpu::api
