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

}  // namespace fastgpu::cli
