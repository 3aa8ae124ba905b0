// Job states, their legal edges, and the checks a spec must pass to be stored.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <string>
#include <utility>

#include "core/batch_error.h"
#include "fastgpu/core/text.h"
#include "fastgpu/store/state_store.h"

namespace fastgpu::store {
namespace {

constexpr std::array<std::pair<JobState, std::string_view>, 7> kStateNames = {{
    {JobState::kQueued, "QUEUED"},
    {JobState::kRunning, "RUNNING"},
    {JobState::kCompleted, "COMPLETED"},
    {JobState::kFailed, "FAILED"},
    {JobState::kCancelled, "CANCELLED"},
    {JobState::kTimeout, "TIMEOUT"},
    {JobState::kPreempted, "PREEMPTED"},
}};

// A NUL byte ends a C string: a program would get a shorter word than the one submitted.
bool has_nul(std::string_view text) { return text.find('\0') != std::string_view::npos; }

Status check_command(const JobSpec& spec, const std::string& where) {
  if (spec.argv.empty() == spec.shell_command.empty()) {
    return invalid_argument(where + ": give exactly one of a command (argv) and a shell " +
                            "string; this one has " + (spec.argv.empty() ? "neither" : "both"));
  }
  if (!spec.argv.empty() && spec.argv.front().empty()) {
    return invalid_argument(where + ": the program (argv[0]) is empty; give its name or path");
  }
  for (std::size_t i = 0; i < spec.argv.size(); ++i) {
    if (has_nul(spec.argv[i])) {
      return invalid_argument(where + ": argv[" + std::to_string(i) +
                              "] holds a NUL byte, which no program can be given; remove it");
    }
  }
  if (has_nul(spec.shell_command)) {
    return invalid_argument(where + ": the shell command holds a NUL byte; remove it");
  }
  // The daemon starts jobs from its own folder (/), so a relative folder would be read
  // against that, not the submitter's; the CLI sends absolute ones.
  if (spec.working_dir.empty() || spec.working_dir.front() != '/' || has_nul(spec.working_dir)) {
    return invalid_argument(where + ": working_dir '" + spec.working_dir +
                            "' is not an absolute path; give the folder from / (e.g. " +
                            "/home/ana/project)");
  }
  return {};
}

Status check_environment(const JobSpec& spec, const std::string& where) {
  for (const std::string& entry : spec.environment) {
    const auto equals = entry.find('=');
    if (equals == std::string::npos || equals == 0 || has_nul(entry)) {
      std::string message = where;
      message.append(": environment entry '").append(entry);
      message.append("' is not KEY=VALUE; write it as NAME=value");
      return invalid_argument(std::move(message));
    }
  }
  return {};
}

// "2026-12-01" for a time FastGPU can print; the limit below keeps deadlines among them.
std::string utc_date(WallTime time) {
  const std::chrono::year_month_day date(std::chrono::floor<std::chrono::days>(time));
  return fmt::format("{:04}-{:02}-{:02}", static_cast<int>(date.year()),
                     static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()));
}

Status check_deadline(const JobSpec& spec, const std::string& where) {
  if (!spec.deadline) return {};
  const std::int64_t micros = spec.deadline->time_since_epoch().count();
  if (micros < 0) {
    return invalid_argument(fmt::format(
        "{}: deadline {} µs since the epoch is before 1970-01-01; give a time after the "
        "submission, or leave it unset for no deadline",
        where, micros));
  }
  const WallTime latest = spec.submit_time + std::chrono::seconds(kMaxDeadlineAheadSeconds);
  if (*spec.deadline > latest) {
    return invalid_argument(fmt::format(
        "{}: deadline {} µs since the epoch is more than 100 years after the submission; "
        "the latest allowed is {} ({}); leave it unset for no deadline",
        where, micros, latest.time_since_epoch().count(), utc_date(latest)));
  }
  return {};
}

// Each a carried limit, named once, its soft value at most its hard one.
Status check_limits(const ResourceLimits& limits, const std::string& where) {
  for (std::size_t i = 0; i < limits.size(); ++i) {
    const ResourceLimit& limit = limits[i];
    if (!rlimit_resource(limit.name)) {
      return invalid_argument(
          fmt::format("{}: '{}' is not a resource limit FastGPU carries; give "
                      "one of {}",
                      where, limit.name, fmt::join(carried_limit_names(), ", ")));
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (limits[j].name == limit.name) {
        return invalid_argument(
            fmt::format("{}: the {} limit is given twice; give it once", where, limit.name));
      }
    }
    if (limit_above(limit.soft, limit.hard)) {
      return invalid_argument(fmt::format(
          "{}: the {} limit's soft value {} is above its hard one {}; give a soft value at "
          "most the hard one",
          where, limit.name, format_limit_value(limit.name, limit.soft),
          format_limit_value(limit.name, limit.hard)));
    }
  }
  return {};
}

Status check_numbers(const JobSpec& spec, const std::string& where) {
  if (spec.gpus < 0) {
    return invalid_argument(where + ": gpus is " + std::to_string(spec.gpus) +
                            "; use 0 for a CPU-only job or a positive count");
  }
  if (spec.gpu_mem && *spec.gpu_mem == 0) {
    return invalid_argument(where +
                            ": gpu_mem is 0 bytes; declare the most memory the job uses on each "
                            "GPU in bytes (e.g. 21474836480 for 20 GiB), or leave it out to learn "
                            "it from earlier runs (\"auto\")");
  }
  if (!(spec.util_share > 0.0 && spec.util_share <= 1.0)) {
    return invalid_argument(where + ": util share " + std::to_string(spec.util_share) +
                            " is outside (0, 1]; use 1 for exclusive compute");
  }
  if (spec.time_limit_s && *spec.time_limit_s <= 0) {
    return invalid_argument(where + ": time limit " + std::to_string(*spec.time_limit_s) +
                            " s is not positive; leave it unset for no limit");
  }
  if (spec.time_limit_s && *spec.time_limit_s > kMaxTimeLimitSeconds) {
    return invalid_argument(where + ": time limit " + std::to_string(*spec.time_limit_s) +
                            " s is longer than a year (" + std::to_string(kMaxTimeLimitSeconds) +
                            " s); leave it unset for no limit");
  }
  if (spec.kill_grace_s && (*spec.kill_grace_s < 0 || *spec.kill_grace_s > kMaxKillGraceSeconds)) {
    return invalid_argument(fmt::format(
        "{}: grace {} s is outside 0 to {} s (a day); give the seconds a stopped job may take "
        "to save and exit after SIGTERM, or none for the daemon's 10 s",
        where, *spec.kill_grace_s, kMaxKillGraceSeconds));
  }
  if (spec.umask && *spec.umask > 0777) {
    return invalid_argument(
        fmt::format("{}: umask {:04o} is not a umask; give 0000 to 0777, or none for the daemon's",
                    where, *spec.umask));
  }
  FASTGPU_RETURN_IF_ERROR(check_limits(spec.limits, where));
  return check_deadline(spec, where);
}

std::string target_name(const Dependency& dependency) {
  if (dependency.batch_index) return "batch job " + std::to_string(*dependency.batch_index);
  return "job " + to_string(dependency.job);
}

// The table keeps one row per (job, job waited for): a second one would fail the insert
// with SQLite's "UNIQUE constraint failed", which says nothing a caller can act on.
Status check_listed_once(const JobSpec& spec, std::size_t i, const std::string& where) {
  const Dependency& dependency = spec.dependencies[i];
  for (std::size_t j = 0; j < i; ++j) {
    const Dependency& earlier = spec.dependencies[j];
    if (earlier.batch_index == dependency.batch_index &&
        (dependency.batch_index || earlier.job == dependency.job)) {
      return invalid_argument(where + ": depends on " + target_name(dependency) +
                              " twice; list each job once (as afterok if either entry is afterok)");
    }
  }
  return {};
}

// A name is shown in every table of jobs, root's of all users' too: control characters in
// it (an escape sequence, a newline) would drive the viewer's terminal or fake a row; and it
// is how `after`, `cancel --name` and `wait --name` find a job. The API's door asks what the
// CLI's and the job files' do (check_job_name); no name at all is allowed here.
Status check_name(const JobSpec& spec, const std::string& where) {
  if (spec.name.empty()) return {};
  return check_job_name(spec.name).with_context(where);
}

bool all_digits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

Status check_dependencies(const JobSpec& spec, std::size_t index, const std::string& where) {
  for (std::size_t i = 0; i < spec.dependencies.size(); ++i) {
    const Dependency& dependency = spec.dependencies[i];
    if (dependency.batch_index && *dependency.batch_index >= index) {
      return invalid_argument(where + ": depends on batch job " +
                              std::to_string(*dependency.batch_index) +
                              ", which does not come earlier in the batch");
    }
    FASTGPU_RETURN_IF_ERROR(check_listed_once(spec, i, where));
  }
  return {};
}

}  // namespace

Status check_job_name(std::string_view text) {
  constexpr std::string_view kExample = "e.g. train-resnet50";
  if (text.empty()) {
    return invalid_argument(
        fmt::format("name is empty; give a name ({}) or leave it out", kExample));
  }
  if (text.size() > kMaxJobNameLength) {
    return invalid_argument(fmt::format("name '{}...' is {} characters long; use at most {}",
                                        printable(text.substr(0, 20)), text.size(),
                                        kMaxJobNameLength));
  }
  if (all_digits(text)) {
    return invalid_argument(fmt::format(
        "name '{}' is only digits, which would read as a job id in after; add a letter ({})", text,
        kExample));
  }
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isspace(byte) || std::iscntrl(byte) || c == ':' || c == ',') {
      return invalid_argument(fmt::format(
          "name '{}' contains {}; names have no spaces, ':' or ',' (they separate after's "
          "targets) ({})",
          printable(text),
          std::isspace(byte) || std::iscntrl(byte) ? "a space or control character"
                                                   : fmt::format("'{}'", c),
          kExample));
    }
  }
  if (printable(text) != text) {  // a C1 control (U+0080-U+009F) is two bytes in UTF-8
    return invalid_argument(
        fmt::format("name '{}' holds a control character; names are shown in tables, so give "
                    "one without ({})",
                    printable(text), kExample));
  }
  return {};
}

std::string_view job_state_name(JobState state) {
  for (const auto& [value, name] : kStateNames) {
    if (value == state) return name;
  }
  return "UNKNOWN";
}

Result<JobState> parse_job_state(std::string_view name) {
  for (const auto& [value, known] : kStateNames) {
    if (known == name) return value;
  }
  return invalid_argument("unknown job state '" + std::string(name) +
                          "'; expected QUEUED, RUNNING, COMPLETED, FAILED, CANCELLED, "
                          "TIMEOUT or PREEMPTED");
}

bool is_terminal(JobState state) {
  return state == JobState::kCompleted || state == JobState::kFailed ||
         state == JobState::kCancelled || state == JobState::kTimeout;
}

bool is_legal_transition(JobState from, JobState to) {
  using enum JobState;
  switch (from) {
    case kQueued: return to == kRunning || to == kCancelled || to == kFailed;
    case kRunning: return to != kRunning;
    case kPreempted: return to == kQueued || to == kCancelled || to == kFailed;
    default: return false;
  }
}

Status validate_job_spec(const JobSpec& spec, std::size_t index) {
  // A long name is cut (the API takes any length, and refuses a name over 128 characters).
  constexpr std::size_t kShown = 40;
  const std::string where =
      "job " + std::to_string(index) + " of the batch" +
      (spec.name.empty() ? std::string()
                         : " ('" + printable(spec.name.substr(0, kShown)) +
                               (spec.name.size() > kShown ? "..." : "") + "')");
  Status checked = check_name(spec, where);
  if (checked.ok()) checked = check_command(spec, where);
  if (checked.ok()) checked = check_environment(spec, where);
  if (checked.ok()) checked = check_numbers(spec, where);
  if (checked.ok()) checked = check_dependencies(spec, index, where);
  if (checked.ok()) return {};
  // Each check says "<where>: <problem>".
  return located_in_batch(checked, index, where + ": ");
}

Status validate_changed_spec(const JobSpec& spec, JobId job) {
  return check_numbers(spec, "job " + to_string(job));
}

Result<std::vector<JobId>> StateStore::submit(std::span<const JobSpec> jobs) {
  Result<std::vector<JobRecord>> records = submit_records(jobs);
  if (!records.ok()) return records.status();
  std::vector<JobId> ids;
  ids.reserve(records->size());
  for (const JobRecord& record : *records) ids.push_back(record.id);
  return ids;
}

Result<Purged> purge_ended_with_logs(StateStore& store, const JobFilter& filter,
                                     std::size_t limit) {
  Result<Purged> purged = store.purge_ended(filter, limit);
  if (!purged.ok()) return purged;
  for (const Purged::Job& job : purged->jobs) {
    if (job.log_path.empty()) continue;
    std::error_code error;
    std::filesystem::remove(job.log_path, error);
    if (!error) continue;
    ++purged->logs_not_removed;
    if (purged->log_error.empty()) purged->log_error = job.log_path + ": " + error.message();
  }
  return purged;
}

}  // namespace fastgpu::store
