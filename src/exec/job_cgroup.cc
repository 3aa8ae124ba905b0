#include "exec/job_cgroup.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <thread>
#include <utility>

#include "exec/run_files.h"

namespace fastgpu::exec {
namespace {

constexpr std::string_view kPrefix = "fastgpu-";

template <typename T>
bool parse_whole(std::string_view text, T& value) {
  if (text.empty()) return false;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc{} && end == text.data() + text.size();
}

// "<job>.<attempt>-<supervisor>", the part of a cgroup name after the prefix.
std::optional<CgroupRun> parse_run(std::string_view rest) {
  const std::size_t dot = rest.find('.');
  const std::size_t dash = rest.rfind('-');
  if (dot == std::string_view::npos || dash == std::string_view::npos || dash < dot) {
    return std::nullopt;
  }
  std::uint64_t job = 0;
  std::uint64_t attempt = 0;
  pid_t supervisor = 0;
  if (!parse_whole(rest.substr(0, dot), job) ||
      !parse_whole(rest.substr(dot + 1, dash - dot - 1), attempt) ||
      !parse_whole(rest.substr(dash + 1), supervisor) || supervisor <= 0) {
    return std::nullopt;
  }
  return CgroupRun{JobId(job), supervisor};
}

// The file's text; empty when it cannot be read (a process gone, no cgroup).
std::string read_text(const std::filesystem::path& path) {
  return read_whole_file(path).value_or(std::string());
}

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    lines.push_back(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return lines;
}

std::vector<std::string_view> fields_of(std::string_view line) {
  std::vector<std::string_view> fields;
  while (!line.empty()) {
    const std::size_t start = line.find_first_not_of(' ');
    if (start == std::string_view::npos) break;
    line.remove_prefix(start);
    const std::size_t end = line.find(' ');
    fields.push_back(line.substr(0, end));
    if (end == std::string_view::npos) break;
    line.remove_prefix(end);
  }
  return fields;
}

// The path of the cgroup v2 line ("0::<path>") of a /proc/<pid>/cgroup text.
std::optional<std::string_view> unified_path(std::string_view text) {
  for (std::string_view line : lines_of(text)) {
    if (line.substr(0, 3) == "0::") return line.substr(3);
  }
  return std::nullopt;
}

}  // namespace

std::string job_cgroup_name(std::string_view run, pid_t supervisor) {
  return std::string(kPrefix) + std::string(run) + "-" + std::to_string(supervisor);
}

std::optional<CgroupRun> run_of_cgroup_file(std::string_view text) {
  std::optional<std::string_view> path = unified_path(text);
  if (!path) return std::nullopt;
  // The innermost component made by job_cgroup_name: a job may make cgroups of its own
  // inside its run's.
  std::optional<CgroupRun> found;
  std::string_view rest = *path;
  while (!rest.empty()) {
    const std::size_t slash = rest.find('/');
    const std::string_view component = rest.substr(0, slash);
    if (component.substr(0, kPrefix.size()) == kPrefix) {
      if (std::optional<CgroupRun> run = parse_run(component.substr(kPrefix.size()))) found = run;
    }
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return found;
}

std::optional<CgroupRun> run_of_process(pid_t pid, const std::filesystem::path& proc_root) {
  return run_of_cgroup_file(read_text(proc_root / std::to_string(pid) / "cgroup"));
}

std::optional<std::filesystem::path> own_cgroup_dir(std::string_view mountinfo,
                                                    std::string_view cgroup) {
  std::optional<std::string_view> own = unified_path(cgroup);
  if (!own) return std::nullopt;
  for (std::string_view line : lines_of(mountinfo)) {
    // "<id> <parent> <major:minor> <root> <mount point> <options> ... - <type> <source> ..."
    const std::size_t separator = line.find(" - ");
    if (separator == std::string_view::npos) continue;
    const std::vector<std::string_view> after = fields_of(line.substr(separator + 3));
    if (after.empty() || after[0] != "cgroup2") continue;
    const std::vector<std::string_view> before = fields_of(line.substr(0, separator));
    if (before.size() < 5) continue;
    const std::string_view root = before[3];
    const std::string_view mount_point = before[4];
    // Our path as the mount shows it: below the mount's root, or not in it at all.
    std::string_view inside = *own;
    if (root != "/") {
      if (inside.substr(0, root.size()) != root ||
          (inside.size() > root.size() && inside[root.size()] != '/')) {
        continue;
      }
      inside.remove_prefix(root.size());
    }
    std::filesystem::path dir(mount_point);
    while (!inside.empty() && inside.front() == '/') inside.remove_prefix(1);
    if (!inside.empty()) dir /= std::filesystem::path(inside);
    return dir;
  }
  return std::nullopt;
}

int kill_run_cgroup(std::string_view run, pid_t supervisor) {
  std::optional<std::filesystem::path> own =
      own_cgroup_dir(read_text("/proc/self/mountinfo"), read_text("/proc/self/cgroup"));
  if (!own) return 0;
  const std::filesystem::path dir = *own / job_cgroup_name(run, supervisor);
  std::error_code error;
  if (!std::filesystem::is_directory(dir, error)) return 0;
  int killed = 0;
  const std::string members = read_text(dir / "cgroup.procs");  // the lines point into it
  for (std::string_view line : lines_of(members)) {
    pid_t pid = 0;
    if (parse_whole(line, pid) && pid > 0 && ::kill(pid, SIGKILL) == 0) ++killed;
  }
  for (int tries = 0; tries < 20 && ::rmdir(dir.c_str()) != 0 && errno == EBUSY; ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return killed;
}

std::optional<JobCgroup> JobCgroup::create(std::string_view run, pid_t supervisor) {
  std::optional<std::filesystem::path> own =
      own_cgroup_dir(read_text("/proc/self/mountinfo"), read_text("/proc/self/cgroup"));
  if (!own) return std::nullopt;
  return create_at(*own / job_cgroup_name(run, supervisor));
}

std::optional<JobCgroup> JobCgroup::create_at(const std::filesystem::path& dir) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return std::nullopt;
  const int fd = ::open((dir / "cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    ::rmdir(dir.c_str());
    return std::nullopt;
  }
  return JobCgroup(dir, fd);
}

JobCgroup::JobCgroup(JobCgroup&& other) noexcept
    : dir_(std::move(other.dir_)), procs_fd_(std::exchange(other.procs_fd_, -1)) {
  other.dir_.clear();
}

JobCgroup& JobCgroup::operator=(JobCgroup&& other) noexcept {
  if (this != &other) {
    remove();
    dir_ = std::move(other.dir_);
    other.dir_.clear();
    procs_fd_ = std::exchange(other.procs_fd_, -1);
  }
  return *this;
}

JobCgroup::~JobCgroup() { remove(); }

void JobCgroup::remove() {
  if (procs_fd_ >= 0) ::close(procs_fd_);
  procs_fd_ = -1;
  // Fails while a member is left (one stuck in the kernel): the cgroup then stays, empty
  // of everything but it, and names its job to whoever looks.
  if (!dir_.empty()) ::rmdir(dir_.c_str());
  dir_.clear();
}

std::vector<pid_t> JobCgroup::members() const {
  std::vector<pid_t> pids;
  const std::string text = read_text(dir_ / "cgroup.procs");
  for (std::string_view line : lines_of(text)) {
    pid_t pid = 0;
    if (parse_whole(line, pid) && pid > 0) pids.push_back(pid);
  }
  return pids;
}

}  // namespace fastgpu::exec
