// Where the state database lives: the XDG base-directory rules, overridable for tests and
// for several independent FastGPU instances on one machine.
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "fastgpu/store/state_store.h"

namespace fastgpu::store {
namespace {

std::optional<std::string> non_empty(std::optional<std::string> value) {
  if (value && value->empty()) return std::nullopt;
  return value;
}

std::optional<std::string> env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

}  // namespace

Result<std::filesystem::path> state_dir_from(std::optional<std::string> fastgpu_state_dir,
                                             std::optional<std::string> xdg_state_home,
                                             std::optional<std::string> home) {
  if (auto dir = non_empty(std::move(fastgpu_state_dir))) return std::filesystem::path(*dir);
  if (auto xdg = non_empty(std::move(xdg_state_home))) {
    return std::filesystem::path(*xdg) / "fastgpu";
  }
  if (auto home_dir = non_empty(std::move(home))) {
    return std::filesystem::path(*home_dir) / ".local" / "state" / "fastgpu";
  }
  return failed_precondition(
      "cannot place the state database: none of FASTGPU_STATE_DIR, XDG_STATE_HOME and HOME "
      "is set; set FASTGPU_STATE_DIR to a folder");
}

Status ensure_private_dir(const std::filesystem::path& dir) {
  std::filesystem::path partial;
  for (const auto& part : dir) {
    partial /= part;
    // 0700: the database holds every user's commands and environments.
    if (::mkdir(partial.c_str(), 0700) == 0 || errno == EEXIST) continue;
    return io_error("cannot create the state folder '" + partial.string() +
                    "': " + std::strerror(errno) + "; set FASTGPU_STATE_DIR to a writable folder");
  }
  std::error_code unknown;
  if (!std::filesystem::is_directory(dir, unknown)) {
    if (unknown) {
      return io_error("cannot look at the state folder '" + dir.string() +
                      "': " + unknown.message() + "; set FASTGPU_STATE_DIR to a folder of yours");
    }
    return io_error("state folder '" + dir.string() +
                    "' exists but is not a folder; "
                    "move it aside or set FASTGPU_STATE_DIR");
  }
  return {};
}

Result<std::filesystem::path> default_db_path() {
  Result<std::filesystem::path> dir =
      state_dir_from(env("FASTGPU_STATE_DIR"), env("XDG_STATE_HOME"), env("HOME"));
  if (!dir.ok()) return dir.status();
  FASTGPU_RETURN_IF_ERROR(ensure_private_dir(*dir));
  return *dir / "fastgpu.db";
}

}  // namespace fastgpu::store
