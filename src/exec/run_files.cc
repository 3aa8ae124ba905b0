#include "exec/run_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
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

Status write_all(int fd, std::string_view contents, const std::filesystem::path& path) {
  while (!contents.empty()) {
    ssize_t written = ::write(fd, contents.data(), contents.size());
    if (written < 0 && errno == EINTR) continue;
    if (written < 0) return io_error("cannot write '" + path.string() + "': " + errno_text(errno));
    contents.remove_prefix(static_cast<std::size_t>(written));
  }
  return {};
}

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
                        [](const TimedOut&) {
                          return json{{"outcome", "timed_out"}};
                        },
                        [](const Stopped& s) {
                          return json{{"outcome", "stopped"}, {"preempted", s.preempted}};
                        },
                        [](const LaunchFailed& f) {
                          return json{{"outcome", "launch_failed"}, {"message", f.message}};
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
  if (kind == "timed_out") return Outcome{TimedOut{}};
  if (kind == "stopped") return Outcome{Stopped{object.at("preempted").get<bool>()}};
  if (kind == "launch_failed") {
    return Outcome{LaunchFailed{object.at("message").get<std::string>()}};
  }
  if (kind == "lost") return Outcome{Lost{object.at("message").get<std::string>()}};
  return invalid_argument("unknown outcome '" + kind +
                          "'; expected exited, signaled, timed_out, stopped, launch_failed or "
                          "lost");
}

template <typename T>
Result<T> read_json_file(const std::filesystem::path& path,
                         Result<T> (*from_text)(std::string_view, const std::string&)) {
  Result<std::string> text = read_whole_file(path);
  if (!text.ok()) return text.status();
  return from_text(*text, path.string());
}

Result<SupervisorPid> supervisor_pid_from(std::string_view text, const std::string& what) {
  return parse_json<SupervisorPid>(text, what, [](const json& object) -> Result<SupervisorPid> {
    return SupervisorPid{object.at("pid").get<pid_t>(),
                         object.at("start_time_ticks").get<std::uint64_t>()};
  });
}

Result<JobPid> job_pid_from(std::string_view text, const std::string& what) {
  return parse_json<JobPid>(text, what, [](const json& object) -> Result<JobPid> {
    return JobPid{object.at("pid").get<pid_t>(),
                  from_micros(object.at("started_us").get<std::int64_t>())};
  });
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
    request.run_dir = o.at("run_dir").get<std::string>();
    request.uid = optional_field<uid_t>(o, "uid");
    request.gid = optional_field<gid_t>(o, "gid");
    return request;
  });
}

Result<RunOutcome> outcome_from_text(std::string_view text, const std::string& what) {
  return parse_json<RunOutcome>(text, what, [&what](const json& o) -> Result<RunOutcome> {
    Result<Outcome> outcome = outcome_from(o);
    if (!outcome.ok()) return outcome.status().with_context(what);
    RunOutcome run{std::move(*outcome), from_micros(o.at("started_us").get<std::int64_t>()),
                   from_micros(o.at("ended_us").get<std::int64_t>()), Usage{}};
    if (auto it = o.find("usage"); it != o.end() && it->is_object()) {
      run.usage.user_cpu_s = optional_field<double>(*it, "user_cpu_s");
      run.usage.system_cpu_s = optional_field<double>(*it, "system_cpu_s");
      run.usage.max_rss_bytes = optional_field<Bytes>(*it, "max_rss_bytes");
    }
    return run;
  });
}

}  // namespace

WallTime wall_now() {
  return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
}

Status write_file_atomically(const std::filesystem::path& path, std::string_view contents) {
  const std::filesystem::path temp = path.string() + ".tmp";
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return io_error("cannot create '" + temp.string() + "': " + errno_text(errno));
  Status status = write_all(fd, contents, temp);
  ::close(fd);
  if (status.ok() && ::rename(temp.c_str(), path.c_str()) != 0) {
    status = io_error("cannot rename '" + temp.string() + "' to '" + path.string() +
                      "': " + errno_text(errno));
  }
  if (!status.ok()) {
    ::unlink(temp.c_str());
    return status;
  }
  return {};
}

Result<std::string> read_whole_file(const std::filesystem::path& path) {
  std::error_code exists_error;
  if (!std::filesystem::exists(path, exists_error) && !exists_error) {
    return not_found("'" + path.string() + "' does not exist");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error("cannot read '" + path.string() + "': " + errno_text(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return io_error("cannot read '" + path.string() + "'");
  return text.str();
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
              {"run_dir", request.run_dir.string()}};
  set_optional(object, "gpu_mem_quota", request.gpu_mem_quota);
  set_optional(object, "array_index", request.array_index);
  set_optional(object, "time_limit_s", request.time_limit_s);
  set_optional(object, "uid", request.uid);
  set_optional(object, "gid", request.gid);
  return object.dump(2) + "\n";
}

Result<LaunchRequest> request_from_json(std::string_view text) {
  return request_from_text(text, "launch request");
}

std::string outcome_to_json(const RunOutcome& outcome) {
  json object = outcome_json(outcome.outcome);
  object["started_us"] = to_micros(outcome.started);
  object["ended_us"] = to_micros(outcome.ended);
  json usage = json::object();
  set_optional(usage, "user_cpu_s", outcome.usage.user_cpu_s);
  set_optional(usage, "system_cpu_s", outcome.usage.system_cpu_s);
  set_optional(usage, "max_rss_bytes", outcome.usage.max_rss_bytes);
  object["usage"] = usage;
  return object.dump(2) + "\n";
}

Result<RunOutcome> outcome_from_json(std::string_view text) {
  return outcome_from_text(text, "outcome");
}

Status write_request(const std::filesystem::path& run_dir, const LaunchRequest& request) {
  return write_file_atomically(run_dir / kRequestFile, request_to_json(request));
}

Result<LaunchRequest> read_request(const std::filesystem::path& run_dir) {
  return read_json_file<LaunchRequest>(run_dir / kRequestFile, request_from_text);
}

Status write_supervisor_pid(const std::filesystem::path& run_dir, const SupervisorPid& pid) {
  json object{{"pid", pid.pid}, {"start_time_ticks", pid.start_time_ticks}};
  return write_file_atomically(run_dir / kSupervisorPidFile, object.dump() + "\n");
}

Result<SupervisorPid> read_supervisor_pid(const std::filesystem::path& run_dir) {
  return read_json_file<SupervisorPid>(run_dir / kSupervisorPidFile, supervisor_pid_from);
}

Status write_job_pid(const std::filesystem::path& run_dir, const JobPid& pid) {
  json object{{"pid", pid.pid}, {"started_us", to_micros(pid.started)}};
  return write_file_atomically(run_dir / kJobPidFile, object.dump() + "\n");
}

Result<JobPid> read_job_pid(const std::filesystem::path& run_dir) {
  return read_json_file<JobPid>(run_dir / kJobPidFile, job_pid_from);
}

Status write_outcome(const std::filesystem::path& run_dir, const RunOutcome& outcome) {
  return write_file_atomically(run_dir / kOutcomeFile, outcome_to_json(outcome));
}

Result<RunOutcome> read_outcome(const std::filesystem::path& run_dir) {
  return read_json_file<RunOutcome>(run_dir / kOutcomeFile, outcome_from_text);
}

}  // namespace fastgpu::exec
