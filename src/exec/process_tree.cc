#include "fastgpu/exec/process_tree.h"

#include <charconv>
#include <string>
#include <system_error>

#include "exec/job_cgroup.h"
#include "exec/run_files.h"

namespace fastgpu::exec {
namespace {

// Reads one whitespace-separated number from `text` at `pos`, advancing past it.
template <typename T>
bool next_number(std::string_view text, std::size_t& pos, T& value) {
  while (pos < text.size() && text[pos] == ' ') ++pos;
  const char* begin = text.data() + pos;
  const char* end = text.data() + text.size();
  auto [ptr, error] = std::from_chars(begin, end, value);
  if (error != std::errc{} || (ptr != end && *ptr != ' ' && *ptr != '\n')) return false;
  pos += static_cast<std::size_t>(ptr - begin);
  return true;
}

// Skips `count` whitespace-separated fields.
bool skip_fields(std::string_view text, std::size_t& pos, int count) {
  for (int i = 0; i < count; ++i) {
    while (pos < text.size() && text[pos] == ' ') ++pos;
    if (pos >= text.size()) return false;
    while (pos < text.size() && text[pos] != ' ') ++pos;
  }
  return true;
}

constexpr int kMaxParentSteps = 64;

// By the run cgroup the process is in (job_cgroup.h), when its supervisor is one of ours
// and still runs that job.
std::optional<JobId> job_of_cgroup(pid_t pid, const std::unordered_map<pid_t, JobId>& supervisors,
                                   const std::filesystem::path& proc_root) {
  std::optional<CgroupRun> run = run_of_process(pid, proc_root);
  if (!run) return std::nullopt;
  const auto it = supervisors.find(run->supervisor);
  if (it == supervisors.end() || it->second != run->job) return std::nullopt;
  return run->job;
}

std::optional<JobId> job_of(pid_t pid, const std::unordered_map<pid_t, JobId>& supervisors,
                            const std::filesystem::path& proc_root) {
  std::optional<ProcStat> stat = read_proc_stat(pid, proc_root);
  if (!stat) return std::nullopt;
  if (auto it = supervisors.find(stat->session); it != supervisors.end()) return it->second;
  for (int step = 0; step < kMaxParentSteps && stat->parent_pid > 1; ++step) {
    if (auto it = supervisors.find(stat->parent_pid); it != supervisors.end()) {
      return it->second;
    }
    stat = read_proc_stat(stat->parent_pid, proc_root);
    if (!stat) return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace

std::optional<ProcStat> parse_proc_stat(std::string_view text) {
  ProcStat stat;
  std::size_t pos = 0;
  if (!next_number(text, pos, stat.pid)) return std::nullopt;
  std::size_t close = text.rfind(')');
  if (close == std::string_view::npos || close < pos) return std::nullopt;
  pos = close + 1;
  while (pos < text.size() && text[pos] == ' ') ++pos;
  if (pos >= text.size()) return std::nullopt;
  stat.state = text[pos++];
  if (!next_number(text, pos, stat.parent_pid) || !next_number(text, pos, stat.process_group) ||
      !next_number(text, pos, stat.session)) {
    return std::nullopt;
  }
  // Fields 7 to 21 lie between the session (6) and the start time (22).
  if (!skip_fields(text, pos, 15) || !next_number(text, pos, stat.start_time_ticks)) {
    return std::nullopt;
  }
  return stat;
}

std::optional<ProcStat> read_proc_stat(pid_t pid, const std::filesystem::path& proc_root) {
  // read_whole_file, not an ifstream: the supervisor reads its own right after it was cloned,
  // where a stream's locale, buffers and code each cost first touches of pages.
  const Result<std::string> text = read_whole_file(proc_root / std::to_string(pid) / "stat");
  if (!text.ok()) return std::nullopt;
  return parse_proc_stat(*text);
}

std::optional<pid_t> session_of(pid_t pid, const std::filesystem::path& proc_root) {
  std::optional<ProcStat> stat = read_proc_stat(pid, proc_root);
  if (!stat) return std::nullopt;
  return stat->session;
}

std::vector<pid_t> list_pids(const std::filesystem::path& proc_root) {
  std::vector<pid_t> pids;
  std::error_code error;
  // increment(error) rather than a range-for: /proc changes under us, and that must not throw.
  for (std::filesystem::directory_iterator it(proc_root, error), end; !error && it != end;
       it.increment(error)) {
    const std::string name = it->path().filename().string();
    pid_t pid = 0;
    auto [ptr, parse_error] = std::from_chars(name.data(), name.data() + name.size(), pid);
    if (parse_error == std::errc{} && ptr == name.data() + name.size() && pid > 0) {
      pids.push_back(pid);
    }
  }
  return pids;
}

std::unordered_map<pid_t, JobId> attribute_pids(const std::vector<pid_t>& pids,
                                                const std::unordered_map<pid_t, JobId>& supervisors,
                                                const std::filesystem::path& proc_root) {
  std::unordered_map<pid_t, JobId> jobs;
  for (pid_t pid : pids) {
    if (auto it = supervisors.find(pid); it != supervisors.end()) {
      jobs.emplace(pid, it->second);
    } else if (std::optional<JobId> by_cgroup = job_of_cgroup(pid, supervisors, proc_root)) {
      jobs.emplace(pid, *by_cgroup);
    } else if (std::optional<JobId> by_tree = job_of(pid, supervisors, proc_root)) {
      jobs.emplace(pid, *by_tree);
    }
  }
  return jobs;
}

}  // namespace fastgpu::exec
