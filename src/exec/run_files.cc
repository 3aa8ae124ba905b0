#include "exec/run_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <type_traits>

namespace fastgpu::exec {
namespace {

using nlohmann::json;

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

std::string errno_text(int error) { return std::strerror(error); }

std::int64_t to_micros(WallTime time) { return time.time_since_epoch().count(); }
WallTime from_micros(std::int64_t micros) { return WallTime(std::chrono::microseconds(micros)); }

template <typename T>
std::optional<T> optional_field(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::nullopt;
  return it->get<T>();
}

template <typename T>
void set_optional(json& object, const char* key, const std::optional<T>& value) {
  if (value) object[key] = *value;
}

// Parses `text` and hands the object to `read`; any JSON error becomes an error that names
// `what` (the file) so a user can find it.
template <typename T, typename Reader>
Result<T> parse_json(std::string_view text, const std::string& what, Reader read) {
  json object = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded() || !object.is_object()) {
    return invalid_argument(what + " is not a JSON object");
  }
  try {
    return read(object);
  } catch (const json::exception& error) {
    return invalid_argument(what + ": " + error.what());
  }
}

json outcome_json(const Outcome& outcome) {
  return std::visit(Overloaded{
                        [](const Exited& e) {
                          return json{{"outcome", "exited"}, {"exit_code", e.code}};
                        },
                        [](const Signaled& s) {
                          return json{{"outcome", "signaled"}, {"signal", s.signal}};
                        },
                        [](const TimedOut& t) {
                          json object{{"outcome", "timed_out"}};
                          set_optional(object, "signal", t.signal);
                          set_optional(object, "exit_code", t.exit_code);
                          return object;
                        },
                        [](const Stopped& s) {
                          json object{{"outcome", "stopped"}, {"preempted", s.preempted}};
                          set_optional(object, "signal", s.signal);
                          set_optional(object, "exit_code", s.exit_code);
                          return object;
                        },
                        [](const LaunchFailed& f) {
                          json object{{"outcome", "launch_failed"}, {"message", f.message}};
                          set_optional(object, "exit_code", f.exit_code);
                          return object;
                        },
                        [](const Lost& l) {
                          return json{{"outcome", "lost"}, {"message", l.message}};
                        },
                    },
                    outcome);
}

Result<Outcome> outcome_from(const json& object) {
  const std::string kind = object.at("outcome").get<std::string>();
  if (kind == "exited") return Outcome{Exited{object.at("exit_code").get<int>()}};
  if (kind == "signaled") return Outcome{Signaled{object.at("signal").get<int>()}};
  if (kind == "timed_out") {
    // A record written before the fields has neither: how the job died is then unknown.
    return Outcome{
        TimedOut{optional_field<int>(object, "signal"), optional_field<int>(object, "exit_code")}};
  }
  if (kind == "stopped") {
    return Outcome{Stopped{object.at("preempted").get<bool>(),
                           optional_field<int>(object, "signal"),
                           optional_field<int>(object, "exit_code")}};
  }
  if (kind == "launch_failed") {
    return Outcome{LaunchFailed{object.at("message").get<std::string>(),
                                optional_field<int>(object, "exit_code")}};
  }
  if (kind == "lost") return Outcome{Lost{object.at("message").get<std::string>()}};
  return invalid_argument("unknown outcome '" + kind +
                          "'; expected exited, signaled, timed_out, stopped, launch_failed or "
                          "lost");
}

SupervisorPid supervisor_pid_from(const json& object) {
  return SupervisorPid{object.at("pid").get<pid_t>(),
                       object.at("start_time_ticks").get<std::uint64_t>()};
}

// {"time_limit_s": 7200} or {"time_limit_s": null}: the key must be there.
TimeLimit time_limit_from(const json& object) {
  (void)object.at("time_limit_s");
  return TimeLimit{optional_field<double>(object, "time_limit_s")};
}

json time_limit_json(const TimeLimit& limit) {
  return json{{"time_limit_s", limit.seconds ? json(*limit.seconds) : json()}};
}

JobPid job_pid_from(const json& object) {
  JobPid pid{object.at("pid").get<pid_t>(),
             from_micros(object.at("started_us").get<std::int64_t>()), std::nullopt};
  if (object.contains("time_limit_s")) pid.time_limit = time_limit_from(object);
  return pid;
}

json supervisor_pid_json(const SupervisorPid& pid) {
  return json{{"pid", pid.pid}, {"start_time_ticks", pid.start_time_ticks}};
}

json job_pid_json(const JobPid& pid) {
  json object{{"pid", pid.pid}, {"started_us", to_micros(pid.started)}};
  if (pid.time_limit) object.update(time_limit_json(*pid.time_limit));
  return object;
}

Result<LaunchRequest> request_from_text(std::string_view text, const std::string& what) {
  return parse_json<LaunchRequest>(text, what, [](const json& o) -> Result<LaunchRequest> {
    LaunchRequest request;
    request.job = JobId(o.at("job").get<std::uint64_t>());
    request.argv = o.at("argv").get<std::vector<std::string>>();
    request.shell_command = o.at("shell_command").get<std::string>();
    request.working_dir = o.at("working_dir").get<std::string>();
    request.environment = o.at("environment").get<std::vector<std::string>>();
    request.gpus = o.at("gpus").get<std::vector<std::uint32_t>>();
    request.gpu_mem_quota = optional_field<Bytes>(o, "gpu_mem_quota");
    request.array_index = optional_field<std::uint32_t>(o, "array_index");
    request.time_limit_s = optional_field<double>(o, "time_limit_s");
    request.kill_grace_s = o.at("kill_grace_s").get<double>();
    request.log_path = o.at("log_path").get<std::string>();
    request.run_file = o.at("run_file").get<std::string>();
    request.uid = optional_field<uid_t>(o, "uid");
    request.gid = optional_field<gid_t>(o, "gid");
    if (o.contains("groups")) request.groups = o.at("groups").get<std::vector<gid_t>>();
    request.umask = optional_field<mode_t>(o, "umask");
    if (auto it = o.find("limits"); it != o.end()) {
      for (const json& limit : *it) {
        request.limits.push_back({limit.at("name").get<std::string>(),
                                  optional_field<std::uint64_t>(limit, "soft"),
                                  optional_field<std::uint64_t>(limit, "hard")});
      }
    }
    return request;
  });
}

// Fills `run` (an output parameter: returning the variant by value trips GCC 12's
// -Wmaybe-uninitialized once inlined).
Status outcome_from_object(const json& o, const std::string& what, RunOutcome& run) {
  Result<Outcome> outcome = outcome_from(o);
  if (!outcome.ok()) return outcome.status().with_context(what);
  run.outcome = std::move(*outcome);
  run.started = from_micros(o.at("started_us").get<std::int64_t>());
  run.ended = from_micros(o.at("ended_us").get<std::int64_t>());
  if (auto it = o.find("usage"); it != o.end() && it->is_object()) {
    run.usage.user_cpu_s = optional_field<double>(*it, "user_cpu_s");
    run.usage.system_cpu_s = optional_field<double>(*it, "system_cpu_s");
    run.usage.max_rss_bytes = optional_field<Bytes>(*it, "max_rss_bytes");
  }
  return {};
}

Result<RunOutcome> outcome_from_text(std::string_view text, const std::string& what) {
  return parse_json<RunOutcome>(text, what, [&what](const json& o) -> Result<RunOutcome> {
    RunOutcome run;
    FASTGPU_RETURN_IF_ERROR(outcome_from_object(o, what, run));
    return run;
  });
}

json outcome_object(const RunOutcome& outcome) {
  json object = outcome_json(outcome.outcome);
  object["started_us"] = to_micros(outcome.started);
  object["ended_us"] = to_micros(outcome.ended);
  json usage = json::object();
  set_optional(usage, "user_cpu_s", outcome.usage.user_cpu_s);
  set_optional(usage, "system_cpu_s", outcome.usage.system_cpu_s);
  set_optional(usage, "max_rss_bytes", outcome.usage.max_rss_bytes);
  object["usage"] = usage;
  return object;
}

// One line, one write(): a process killed meanwhile leaves the line whole or absent.
Status write_line(const std::filesystem::path& run_file, int flags, const json& line) {
  const int fd = ::open(run_file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0644);
  if (fd < 0) {
    return io_error("cannot open the run record '" + run_file.string() + "': " + errno_text(errno));
  }
  Status status = write_all(fd, line.dump() + "\n", "the run record '" + run_file.string() + "'");
  ::close(fd);
  return status;
}

// Reads one record line into `record`.
Status read_line_into(const json& line, const std::string& what, RunRecord& record) {
  if (!line.is_object() || line.size() != 1) {
    return invalid_argument(what + " is not an object with one of supervisor, job, limit, outcome");
  }
  try {
    if (auto it = line.find("supervisor"); it != line.end()) {
      record.supervisor = supervisor_pid_from(*it);
    } else if (it = line.find("job"); it != line.end()) {
      record.job = job_pid_from(*it);
      record.time_limit = record.job->time_limit;
    } else if (it = line.find("limit"); it != line.end()) {
      // Only a supervisor that wrote its starting limit takes a change; a launcher never
      // appends one to another's record.
      if (record.time_limit) record.time_limit = time_limit_from(*it);
    } else if (it = line.find("outcome"); it != line.end()) {
      return outcome_from_object(*it, what, record.outcome.emplace());
    } else {
      return invalid_argument(what + " has the unknown key '" + line.begin().key() +
                              "'; expected supervisor, job, limit or outcome");
    }
  } catch (const json::exception& error) {
    return invalid_argument(what + ": " + error.what());
  }
  return {};
}

Result<RunRecord> record_from_text(std::string_view text, const std::filesystem::path& path) {
  RunRecord record;
  std::size_t number = 0;
  for (std::size_t end = text.find('\n'); end != std::string_view::npos; end = text.find('\n')) {
    ++number;
    const std::string what = path.string() + " line " + std::to_string(number);
    json line = json::parse(text.substr(0, end), nullptr, /*allow_exceptions=*/false);
    if (line.is_discarded()) return invalid_argument(what + " is not JSON");
    FASTGPU_RETURN_IF_ERROR(read_line_into(line, what, record));
    text.remove_prefix(end + 1);
  }
  return record;  // what is left has no newline yet: a line still being written
}

// An earlier version's run folder: supervisor.pid, job.pid and outcome.json, each whole and
// each what one line of a record now holds under its key.
Result<RunRecord> read_run_folder(const std::filesystem::path& folder) {
  static constexpr std::pair<const char*, const char*> kParts[] = {
      {"supervisor.pid", "supervisor"}, {"job.pid", "job"}, {"outcome.json", "outcome"}};
  RunRecord record;
  bool found = false;
  for (const auto& [file, key] : kParts) {
    Result<std::string> text = read_whole_file(folder / file);
    if (!text.ok() && text.status().code() == ErrorCode::kNotFound) continue;
    if (!text.ok()) return text.status();
    found = true;
    const std::string what = (folder / file).string();
    json object = json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (object.is_discarded()) return invalid_argument(what + " is not JSON");
    FASTGPU_RETURN_IF_ERROR(read_line_into(json{{key, std::move(object)}}, what, record));
  }
  if (!found) return not_found("the run folder '" + folder.string() + "' holds no run files");
  return record;
}

}  // namespace

Status write_all(int fd, std::string_view contents, const std::string& what) {
  while (!contents.empty()) {
    const ssize_t written = ::write(fd, contents.data(), contents.size());
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return io_error("cannot write " + what + ": " + errno_text(errno));
    contents.remove_prefix(static_cast<std::size_t>(written));
  }
  return {};
}

WallTime wall_now() {
  return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
}

Result<std::string> read_whole_file(const std::filesystem::path& path) {
  // open/read, not an ifstream: a supervisor reads its files right after it was cloned,
  // where the stream's locale, buffers and code each cost first touches of pages.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    if (error == ENOENT) return not_found("'" + path.string() + "' does not exist");
    return io_error("cannot read '" + path.string() + "': " + errno_text(error));
  }
  std::string text;
  char buffer[4096];
  for (;;) {
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      const int error = errno;
      ::close(fd);
      return io_error("cannot read '" + path.string() + "': " + errno_text(error));
    }
    if (got == 0) break;
    text.append(buffer, static_cast<std::size_t>(got));
  }
  ::close(fd);
  return text;
}

std::string request_to_json(const LaunchRequest& request) {
  json object{{"job", request.job.value()},
              {"argv", request.argv},
              {"shell_command", request.shell_command},
              {"working_dir", request.working_dir},
              {"environment", request.environment},
              {"gpus", request.gpus},
              {"kill_grace_s", request.kill_grace_s},
              {"log_path", request.log_path.string()},
              {"run_file", request.run_file.string()}};
  set_optional(object, "gpu_mem_quota", request.gpu_mem_quota);
  set_optional(object, "array_index", request.array_index);
  set_optional(object, "time_limit_s", request.time_limit_s);
  set_optional(object, "uid", request.uid);
  set_optional(object, "gid", request.gid);
  if (request.groups) object["groups"] = *request.groups;
  set_optional(object, "umask", request.umask);
  if (!request.limits.empty()) {
    json& limits = object["limits"] = json::array();
    for (const ResourceLimit& limit : request.limits) {
      json entry{{"name", limit.name}};  // soft or hard left out: unlimited
      set_optional(entry, "soft", limit.soft);
      set_optional(entry, "hard", limit.hard);
      limits.push_back(std::move(entry));
    }
  }
  return object.dump() + "\n";
}

Result<LaunchRequest> request_from_json(std::string_view text) {
  return request_from_text(text, "launch request");
}

std::string outcome_to_json(const RunOutcome& outcome) { return outcome_object(outcome).dump(); }

Result<RunOutcome> outcome_from_json(std::string_view text) {
  return outcome_from_text(text, "outcome");
}

std::filesystem::path supervisor_log_of(const std::filesystem::path& run_file) {
  return run_file.parent_path() / kSupervisorLogFile;
}

Status start_run_record(const std::filesystem::path& run_file, const SupervisorPid& pid) {
  return write_line(run_file, O_TRUNC, json{{"supervisor", supervisor_pid_json(pid)}});
}

Status append_job_pid(const std::filesystem::path& run_file, const JobPid& pid) {
  return write_line(run_file, O_APPEND, json{{"job", job_pid_json(pid)}});
}

Status append_time_limit(const std::filesystem::path& run_file, const TimeLimit& limit) {
  return write_line(run_file, O_APPEND, json{{"limit", time_limit_json(limit)}});
}

Status append_outcome(const std::filesystem::path& run_file, const RunOutcome& outcome) {
  return write_line(run_file, O_APPEND, json{{"outcome", outcome_object(outcome)}});
}

Result<RunRecord> read_run_record(const std::filesystem::path& path) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) return read_run_folder(path);
  Result<std::string> text = read_whole_file(path);
  if (!text.ok()) return text.status();
  return record_from_text(*text, path);
}

}  // namespace fastgpu::exec
