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

// The real uid of a process, from the "Uid:" line of its status file.
std::optional<std::uint32_t> real_uid(pid_t pid, const std::filesystem::path& proc_root) {
  const Result<std::string> status = read_whole_file(proc_root / std::to_string(pid) / "status");
  if (!status.ok()) return std::nullopt;
  const std::size_t line = status->find("\nUid:");
  if (line == std::string::npos) return std::nullopt;
  std::size_t pos = line + 5;
  while (pos < status->size() && ((*status)[pos] == '\t' || (*status)[pos] == ' ')) ++pos;
  std::uint32_t uid = 0;
  const auto [end, error] =
      std::from_chars(status->data() + pos, status->data() + status->size(), uid);
  if (error != std::errc{} || end == status->data() + pos) return std::nullopt;
  return uid;
}

// The job a process's environment names (FASTGPU_JOB_ID, which every process of a job and
// of its `fastgpu alloc` command inherits), when that job runs now under one of
// `supervisors` and the process is its user's: its job's own process, the supervisor's
// child, has the same real uid. A user cannot lay their GPU memory on another's job (whose
// memory check would then blame that job) by setting the variable.
std::optional<JobId> job_of_environment(pid_t pid,
                                        const std::unordered_map<pid_t, JobId>& supervisors,
                                        const std::filesystem::path& proc_root) {
  const Result<std::string> environment =
      read_whole_file(proc_root / std::to_string(pid) / "environ");
  if (!environment.ok()) return std::nullopt;
  constexpr std::string_view kName = "FASTGPU_JOB_ID=";
  std::size_t at = 0;
  if (!environment->starts_with(kName)) {
    at = environment->find(std::string(1, '\0') + std::string(kName));
    if (at == std::string::npos) return std::nullopt;
    ++at;  // past the '\0' that ends the variable before
  }
  at += kName.size();
  std::uint64_t number = 0;
  const char* end = environment->data() + environment->size();
  const auto [after, error] = std::from_chars(environment->data() + at, end, number);
  if (error != std::errc{} || (after != end && *after != '\0')) return std::nullopt;
  const JobId job(number);
  for (const auto& [supervisor, running] : supervisors) {
    if (running != job) continue;
    const std::string folder = std::to_string(supervisor);
    const Result<std::string> children =
        read_whole_file(proc_root / folder / "task" / folder / "children");
    if (!children.ok()) return std::nullopt;
    pid_t child = 0;
    std::from_chars(children->data(), children->data() + children->size(), child);
    const std::optional<std::uint32_t> owner =
        child > 0 ? real_uid(child, proc_root) : std::nullopt;
    if (!owner || real_uid(pid, proc_root) != owner) return std::nullopt;
    return job;
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
    } else if (std::optional<JobId> by_environment =
                   job_of_environment(pid, supervisors, proc_root)) {
      jobs.emplace(pid, *by_environment);
    }
  }
  return jobs;
}

}  // namespace fastgpu::exec
