#include "cli/chart_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "cli/commands.h"

namespace fastgpu::cli {
namespace {

std::optional<Failure> check_chart_name(const std::string& path) {
  for (const char* suffix : {".svg", ".html", ".htm"}) {
    const std::string end(suffix);
    if (path.size() > end.size() && path.compare(path.size() - end.size(), end.size(), end) == 0)
      return std::nullopt;
  }
  return Failure{kExitUsage,
                 "--chart '" + path + "': name the file .svg or .html, e.g. results.html"};
}

Failure unwritable_chart(const std::string& path, const std::string& why) {
  return Failure{kExitFailure, "--chart '" + path + "': cannot write there: " + why +
                                   "; name a file in a folder you can write, e.g. results.html"};
}

// Asked before the runs, which can take minutes, so that a chart that cannot be written
// fails at once, with the system's reason: the file, if it exists, must take writes, else
// its folder must take a new file.
std::optional<Failure> check_chart_writable(const std::string& path) {
  std::error_code ignored;
  if (std::filesystem::is_directory(path, ignored)) {
    return unwritable_chart(path, "it is a folder");
  }
  if (::access(path.c_str(), F_OK) == 0) {
    if (::access(path.c_str(), W_OK) == 0) return std::nullopt;
    return unwritable_chart(path, std::strerror(errno));
  }
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  const std::string folder = parent.empty() ? "." : parent.string();
  if (::access(folder.c_str(), W_OK | X_OK) == 0) return std::nullopt;
  return unwritable_chart(path, "folder '" + folder + "': " + std::strerror(errno));
}

}  // namespace

std::optional<Failure> check_chart_path(const std::string& path) {
  if (path.empty()) return std::nullopt;
  if (auto failure = check_chart_name(path)) return failure;
  return check_chart_writable(path);
}

int report_failure(const std::string& verb, const Failure& failure) {
  std::fprintf(stderr, "fastgpu %s: %s\n", verb.c_str(), failure.message.c_str());
  return failure.exit_code;
}

}  // namespace fastgpu::cli
