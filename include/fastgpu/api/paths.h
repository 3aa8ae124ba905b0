// Where the daemon keeps its files, and where clients find it.
//
// State folder: $FASTGPU_STATE_DIR, else $XDG_STATE_HOME/fastgpu, else
// ~/.local/state/fastgpu (store::state_dir_from). Socket: $FASTGPU_SOCKET, else
// $XDG_RUNTIME_DIR/fastgpu/fastgpu.sock, else <state dir>/fastgpu.sock. The lock and pid
// files always live in the state folder, so two daemons never share one state folder.
//
// Pure functions of their inputs (the environment is passed in), except
// daemon_paths_from_environment, which reads it.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "fastgpu/core/result.h"

namespace fastgpu::api {

struct DaemonPaths {
  std::filesystem::path state_dir;
  std::filesystem::path socket;
  std::filesystem::path lock_file;  // state_dir/daemon.lock, held with flock by the daemon
  std::filesystem::path pid_file;   // state_dir/daemon.pid
  std::filesystem::path log_file;   // state_dir/daemon.log, the detached daemon's output
  std::filesystem::path database;   // state_dir/fastgpu.db
};

struct PathEnvironment {
  std::optional<std::string> fastgpu_state_dir;
  std::optional<std::string> xdg_state_home;
  std::optional<std::string> home;
  std::optional<std::string> fastgpu_socket;
  std::optional<std::string> xdg_runtime_dir;
  // The folder relative paths above are read from (the caller's working folder). The
  // daemon works from /, so a state folder or socket left relative would be another one
  // there (FASTGPU_STATE_DIR=state: /state). Unset, a relative path is refused.
  std::optional<std::filesystem::path> working_dir;
};

// Longest socket path a sockaddr_un holds (sun_path, less the terminating zero).
inline constexpr std::size_t kMaxSocketPathLength = 107;

// The state folder and socket are absolute and lexically normal, with no trailing slash
// (FASTGPU_STATE_DIR=./state/ from /home/u: /home/u/state), so that the daemon and every
// client name one folder alike. Fails when no state folder can be named (no HOME), a path is
// relative with no working folder to read it from, or the socket path is too long for a
// unix socket; the message names the path and the variable that sets it.
Result<DaemonPaths> daemon_paths_from(const PathEnvironment& environment);

// daemon_paths_from(the process environment, its working folder).
Result<DaemonPaths> daemon_paths_from_environment();

// The variable that chose daemon_paths_from_environment()'s state folder: "FASTGPU_STATE_DIR",
// "XDG_STATE_HOME", or "HOME" (the default ~/.local/state/fastgpu), for messages.
const char* state_dir_variable();

// For a shared daemon (root's, serving every user): makes the socket's missing folders
// mode 0755, then fails, naming the folder and the fix, when a folder on the way is closed
// to other users (they could not reach the socket) or the socket's own folder may be
// written by anyone but root and the daemon's user (they could put a socket of theirs in
// its place and read every job submitted).
Status prepare_shared_socket_folder(const std::filesystem::path& socket);

}  // namespace fastgpu::api
