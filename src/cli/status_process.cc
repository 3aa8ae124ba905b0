#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "cli/status_render.h"

namespace fastgpu::cli {
namespace {

std::optional<std::string> user_name(uid_t uid) {
  long size = sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buffer(size > 0 ? static_cast<std::size_t>(size) : 16384);
  passwd entry{};
  passwd* found = nullptr;
  if (getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) == 0 && found != nullptr) {
    return std::string(found->pw_name);
  }
  // A uid without a passwd entry (common in containers) is still worth showing.
  return std::to_string(uid);
}

}  // namespace

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "localhost";
  return name;
}

ProcessInfo lookup_local_process(std::uint32_t pid) {
  const std::string dir = "/proc/" + std::to_string(pid);
  ProcessInfo info;
  struct stat status {};
  if (stat(dir.c_str(), &status) == 0) info.user = user_name(status.st_uid);
  std::ifstream comm(dir + "/comm");
  std::string command;
  if (comm && std::getline(comm, command) && !command.empty()) info.command = command;
  return info;
}

}  // namespace fastgpu::cli
