// Small helpers of `fastgpu simulate`: lists, the progress line, seeds, chart file names.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "cli/commands.h"
#include "cli/simulate_cmd.h"

namespace fastgpu::cli {

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  std::string part;
  while (std::getline(stream, part, separator)) {
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

std::string joined(const std::vector<std::string>& names) {
  std::string text;
  for (const auto& name : names) text += (text.empty() ? "" : ", ") + name;
  return text;
}

std::function<void(std::size_t, std::size_t)> Progress::reporter(const std::string& label) const {
  if (!enabled_) return {};
  return [label](std::size_t settled, std::size_t total) {
    std::fprintf(stderr, "\r\033[Ksimulating %s: %zu/%zu jobs (%.0f%%)", label.c_str(), settled,
                 total, 100.0 * static_cast<double>(settled) / static_cast<double>(total));
    std::fflush(stderr);
  };
}

void Progress::done() const {
  if (enabled_) std::fputs("\r\033[K", stderr);
}

namespace {

constexpr std::uint64_t kMaxSeeds = 1000;

// A whole non-negative number, all digits.
std::optional<std::uint64_t> seed_number(const std::string& text) {
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return std::stoull(text);
}

Status bad_seeds(const std::string& text, const std::string& why) {
  return invalid_argument("--seeds '" + text + "': " + why + "; write e.g. 42-51 or 42,43");
}

}  // namespace

Result<std::vector<std::uint64_t>> parse_seeds(const std::string& text) {
  std::vector<std::uint64_t> seeds;
  const std::vector<std::string> parts = split(text, ',');
  if (parts.empty()) return bad_seeds(text, "no seed given");
  for (const std::string& part : parts) {
    const std::size_t dash = part.find('-');
    const auto first = seed_number(part.substr(0, dash));
    const auto last = dash == std::string::npos ? first : seed_number(part.substr(dash + 1));
    if (!first || !last) return bad_seeds(text, "'" + part + "' is not a seed or a range of seeds");
    if (*last < *first) return bad_seeds(text, "the range '" + part + "' runs backwards");
    if (*last - *first >= kMaxSeeds || seeds.size() + (*last - *first) >= kMaxSeeds) {
      return bad_seeds(text, "more than 1000 seeds");
    }
    for (std::uint64_t seed = *first; seed <= *last; ++seed) seeds.push_back(seed);
  }
  return seeds;
}

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

}  // namespace fastgpu::cli
