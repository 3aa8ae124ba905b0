#include "fastgpu/api/job_json.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <ctime>
#include <limits>
#include <string_view>

#include "core/batch_error.h"

namespace fastgpu::api {
namespace {

using store::Dependency;
using store::DependencyKind;
using store::Environment;
using store::JobSpec;
using store::WallTime;

constexpr std::array<std::string_view, 20> kSpecFields = {
    "name",        "argv",         "shell_command", "working_dir", "environment",
    "gpus",        "gpu_mem",      "util_share",    "priority",    "time_limit_s",
    "deadline_us", "dependencies", "array",         "restartable", "signature",
    "umask",       "grace_s",      "limits",        "hold",        "resubmitted_from"};

std::string known_fields() {
  std::string list;
  for (std::string_view field : kSpecFields) {
    if (!list.empty()) list += ", ";
    list += field;
  }
  return list;
}

// Reads the fields of one JSON object, each message prefixed with "job N: field".
class FieldReader {
 public:
  FieldReader(const Json& object, std::size_t index) : object_(object), index_(index) {}

  Status error(std::string_view field, std::string_view problem) const {
    return invalid_argument(where(field) + " " + std::string(problem));
  }
  std::string where(std::string_view field) const {
    return fmt::format("job {}: '{}'", index_, field);
  }
  const Json* find(std::string_view field) const {
    auto it = object_.find(std::string(field));
    if (it == object_.end() || it->is_null()) return nullptr;
    return &*it;
  }
  Status string(std::string_view field, std::string& out) const {
    const Json* value = find(field);
    if (value == nullptr) return {};
    if (!value->is_string()) return error(field, "must be a string, e.g. \"text\"");
    out = value->get<std::string>();
    return {};
  }
  Status strings(std::string_view field, std::vector<std::string>& out) const {
    const Json* value = find(field);
    if (value == nullptr) return {};
    if (!value->is_array()) return error(field, "must be a list of strings, e.g. [\"a\", \"b\"]");
    for (const Json& item : *value) {
      if (!item.is_string()) return error(field, "must hold only strings");
      out.push_back(item.get<std::string>());
    }
    return {};
  }
  template <typename Int>
  Status integer(std::string_view field, Int& out) const {
    const Json* value = find(field);
    if (value == nullptr) return {};
    constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<Int>::max());
    if (value->is_number_float()) {
      // A whole number past 64 bits reaches here as a double: it is too large, not a fraction.
      const double number = value->get<double>();
      if (std::isfinite(number) && number == std::floor(number) && std::fabs(number) >= 0x1p63) {
        return error(field, number > 0 ? fmt::format("{} is above the largest allowed, {}",
                                                     value->dump(), kMax)
                                       : fmt::format("{} is out of range", value->dump()));
      }
    }
    if (!value->is_number_integer()) return error(field, "must be a whole number");
    if (value->is_number_unsigned()) {
      const auto number = value->get<std::uint64_t>();
      if (number > kMax)
        return error(field, fmt::format("{} is above the largest allowed, {}", number, kMax));
      out = static_cast<Int>(number);
      return {};
    }
    const auto number = value->get<std::int64_t>();
    if (number < static_cast<std::int64_t>(std::numeric_limits<Int>::min()) ||
        (number >= 0 && static_cast<std::uint64_t>(number) > kMax)) {
      return error(field, fmt::format("{} is out of range", number));
    }
    out = static_cast<Int>(number);
    return {};
  }
  Status number(std::string_view field, double& out) const {
    const Json* value = find(field);
    if (value == nullptr) return {};
    if (!value->is_number()) return error(field, "must be a number, e.g. 0.5");
    out = value->get<double>();
    return {};
  }
  Status boolean(std::string_view field, bool& out) const {
    const Json* value = find(field);
    if (value == nullptr) return {};
    if (!value->is_boolean()) return error(field, "must be true or false");
    out = value->get<bool>();
    return {};
  }

 private:
  const Json& object_;
  std::size_t index_;
};

Status check_known_fields(const Json& json, std::size_t index) {
  for (const auto& [key, value] : json.items()) {
    bool known = false;
    for (std::string_view field : kSpecFields) known = known || key == field;
    if (!known) {
      return invalid_argument(
          fmt::format("job {}: unknown field '{}'; known fields: {}", index, key, known_fields()));
    }
  }
  return {};
}

// The batch's "environment": every job without its own has it (one shared list).
Result<Environment> batch_environment(const Json& body) {
  const auto field = body.find("environment");
  if (field == body.end() || field->is_null()) return Environment();
  std::vector<std::string> entries;
  bool strings = field->is_array();
  for (std::size_t i = 0; strings && i < field->size(); ++i) {
    strings = (*field)[i].is_string();
    if (strings) entries.push_back((*field)[i].get<std::string>());
  }
  if (!strings) {
    return invalid_argument(
        "the batch's 'environment' must be a list of strings, e.g. [\"HOME=/home/ana\"]");
  }
  return Environment(std::move(entries));
}

std::string_view dependency_kind_name(DependencyKind kind) {
  return kind == DependencyKind::kAfterOk ? "afterok" : "afterany";
}

Result<Dependency> dependency_from_json(const Json& json, const FieldReader& job) {
  if (!json.is_object()) {
    return job.error("dependencies", "must hold objects like {\"job\": 12, \"kind\": \"afterok\"}");
  }
  Dependency dependency;
  FieldReader reader(json, 0);
  std::uint64_t id = 0;
  std::string kind = "afterok";
  std::optional<std::size_t> batch_index;
  if (!reader.integer("job", id).ok() || !reader.string("kind", kind).ok()) {
    return job.error("dependencies", "entries need \"job\" (a job id) and \"kind\" (a string)");
  }
  if (const Json* value = reader.find("batch_index"); value != nullptr) {
    if (!value->is_number_unsigned()) {
      return job.error("dependencies",
                       "batch_index must be a job's place in this batch (0, 1, ...)");
    }
    batch_index = value->get<std::size_t>();
  }
  if (kind != "afterok" && kind != "afterany") {
    return job.error("dependencies",
                     fmt::format("kind '{}' is unknown; use afterok or afterany", kind));
  }
  if (reader.find("job") == nullptr && !batch_index) {
    return job.error("dependencies", "entries need \"job\" (a job id) or \"batch_index\"");
  }
  dependency.job = JobId(id);
  dependency.kind = kind == "afterok" ? DependencyKind::kAfterOk : DependencyKind::kAfterAny;
  dependency.batch_index = batch_index;
  return dependency;
}

Status read_dependencies(const FieldReader& reader, JobSpec& spec) {
  const Json* list = reader.find("dependencies");
  if (list == nullptr) return {};
  if (!list->is_array()) return reader.error("dependencies", "must be a list");
  for (const Json& item : *list) {
    Result<Dependency> dependency = dependency_from_json(item, reader);
    if (!dependency.ok()) return dependency.status();
    spec.dependencies.push_back(*dependency);
  }
  return {};
}

Status read_array(const FieldReader& reader, JobSpec& spec) {
  const Json* array = reader.find("array");
  if (array == nullptr) return {};
  if (!array->is_object()) {
    return reader.error("array", "must be an object like {\"index\": 3, \"max_running\": 4}");
  }
  store::ArrayMember member;
  FieldReader fields(*array, 0);
  if (!fields.integer("array_id", member.array_id).ok() ||
      !fields.integer("index", member.index).ok() ||
      !fields.integer("max_running", member.max_running).ok()) {
    return reader.error("array", "array_id, index and max_running must be whole numbers >= 0");
  }
  spec.array = member;
  return {};
}

Status read_optionals(const FieldReader& reader, JobSpec& spec) {
  if (reader.find("gpu_mem") != nullptr) {
    Bytes bytes = 0;
    FASTGPU_RETURN_IF_ERROR(reader.integer("gpu_mem", bytes));
    spec.gpu_mem = bytes;
  }
  if (reader.find("time_limit_s") != nullptr) {
    std::int64_t seconds = 0;
    FASTGPU_RETURN_IF_ERROR(reader.integer("time_limit_s", seconds));
    spec.time_limit_s = seconds;
  }
  if (reader.find("grace_s") != nullptr) {
    std::int64_t seconds = 0;
    FASTGPU_RETURN_IF_ERROR(reader.integer("grace_s", seconds));
    spec.kill_grace_s = seconds;
  }
  if (reader.find("deadline_us") != nullptr) {
    std::int64_t micros = 0;
    FASTGPU_RETURN_IF_ERROR(reader.integer("deadline_us", micros));
    spec.deadline = WallTime(std::chrono::microseconds(micros));
  }
  if (reader.find("resubmitted_from") != nullptr) {
    std::uint64_t id = 0;
    FASTGPU_RETURN_IF_ERROR(reader.integer("resubmitted_from", id));
    if (id == 0) return reader.error("resubmitted_from", "0 is not a job id");
    spec.resubmitted_from = JobId(id);
  }
  return {};
}

// In octal as `umask` prints it ("0027"), a string: a number 27 would be read as 033.
Status read_umask(const FieldReader& reader, JobSpec& spec) {
  const Json* value = reader.find("umask");
  if (value == nullptr) return {};
  const std::string text = value->is_string() ? value->get<std::string>() : "";
  std::uint32_t mask = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), mask, 8);
  if (text.empty() || text.size() > 4 || error != std::errc() || end != text.data() + text.size() ||
      mask > 0777) {
    return reader.error("umask", fmt::format("{} is not a umask; give it in octal as a string, "
                                             "as `umask` prints it: \"0000\" to \"0777\", "
                                             "e.g. \"0027\" (or leave it out for the daemon's)",
                                             value->dump()));
  }
  spec.umask = mask;
  return {};
}

// The unit of a limit's values, as setrlimit takes them.
std::string_view limit_unit(std::string_view name) {
  if (name == "cpu") return "seconds";
  if (name == "nofile" || name == "nproc") return "a count";
  return "bytes";
}

// One side of a limit: a whole number >= 0 in the limit's unit, or "unlimited" (and so is
// 18446744073709551615, the kernel's RLIM_INFINITY). A refusal starts with `what`
// ("job 2: 'limits' nofile: soft") and names the value.
Result<std::optional<std::uint64_t>> limit_value(const Json& value, const std::string& what,
                                                 std::string_view name) {
  if (value.is_string() && value.get<std::string>() == "unlimited") {
    return std::optional<std::uint64_t>();
  }
  if (value.is_number_unsigned() || (value.is_number_integer() && value.get<std::int64_t>() >= 0)) {
    const auto number = value.get<std::uint64_t>();
    if (number == RLIM_INFINITY) return std::optional<std::uint64_t>();
    return std::optional<std::uint64_t>(number);
  }
  if (value.is_number_float() && value.get<double>() >= 0x1p64) {
    return invalid_argument(
        fmt::format("{} {} is above the largest, {}; give \"unlimited\" for no limit", what,
                    value.dump(), std::numeric_limits<std::uint64_t>::max()));
  }
  return invalid_argument(fmt::format("{} {} must be a whole number >= 0 ({}) or \"unlimited\"",
                                      what, value.dump(), limit_unit(name)));
}

// {"stack": {"soft": "unlimited", "hard": "unlimited"}, "nofile": {"soft": 1024, ...}}, as
// setrlimit takes them; in the carried limits' order. A limit given as null is left out (the
// daemon's). Each refusal starts with `where` ("job 2: 'limits'", "the batch's 'limits'").
Result<ResourceLimits> limits_from_json(const Json& value, const std::string& where) {
  const std::string example =
      "e.g. {\"stack\": {\"soft\": \"unlimited\", \"hard\": \"unlimited\"}, \"nofile\": "
      "{\"soft\": 1024, \"hard\": 524288}}";
  if (!value.is_object()) {
    return invalid_argument(fmt::format("{} {} must be an object of resource limits, {}", where,
                                        value.dump(), example));
  }
  ResourceLimits limits;
  for (const auto& [name, pair] : value.items()) {
    if (!rlimit_resource(name)) {
      return invalid_argument(
          fmt::format("{} names '{}', which is not a limit FastGPU carries; give one of {}", where,
                      name, fmt::join(carried_limit_names(), ", ")));
    }
    if (pair.is_null()) continue;
    const std::string what = fmt::format("{} {}:", where, name);
    if (!pair.is_object()) {
      return invalid_argument(
          fmt::format("{} {} must be {{\"soft\": N, \"hard\": N}}, each a whole number ({}) or "
                      "\"unlimited\"",
                      what, pair.dump(), limit_unit(name)));
    }
    for (const auto& [key, side] : pair.items()) {
      if (key != "soft" && key != "hard") {
        return invalid_argument(
            fmt::format("{} unknown field '{}'; a limit has \"soft\" and \"hard\"", what, key));
      }
    }
    ResourceLimit limit{name, std::nullopt, std::nullopt};
    const std::pair<const char*, std::optional<std::uint64_t>*> sides[] = {{"soft", &limit.soft},
                                                                           {"hard", &limit.hard}};
    for (const auto& [side, out] : sides) {
      const auto it = pair.find(side);
      if (it == pair.end() || it->is_null()) {
        return invalid_argument(
            fmt::format("{} \"{}\" is missing; give both soft and hard, {}", what, side, example));
      }
      Result<std::optional<std::uint64_t>> number =
          limit_value(*it, fmt::format("{} {}", what, side), name);
      if (!number.ok()) return number.status();
      *out = *number;
    }
    if (limit_above(limit.soft, limit.hard)) {
      return invalid_argument(
          fmt::format("{} soft {} is above hard {}; give a soft value at most the hard one", what,
                      format_limit_value(name, limit.soft), format_limit_value(name, limit.hard)));
    }
    limits.push_back(std::move(limit));
  }
  return limits;
}

Status read_limits(const FieldReader& reader, JobSpec& spec) {
  const Json* value = reader.find("limits");
  if (value == nullptr) return {};
  Result<ResourceLimits> limits = limits_from_json(*value, reader.where("limits"));
  if (!limits.ok()) return limits.status();
  spec.limits = std::move(limits).value();
  return {};
}

Json limits_json(const ResourceLimits& limits) {
  if (limits.empty()) return nullptr;
  const auto value = [](const std::optional<std::uint64_t>& number) {
    return number ? Json(*number) : Json("unlimited");
  };
  Json object = Json::object();
  for (const ResourceLimit& limit : limits) {
    object[limit.name] = {{"soft", value(limit.soft)}, {"hard", value(limit.hard)}};
  }
  return object;
}

Json time_json(const std::optional<WallTime>& time) {
  if (!time) return nullptr;
  return time->time_since_epoch().count();
}

Json time_text_json(const std::optional<WallTime>& time) {
  if (!time) return nullptr;
  return iso_time(*time);
}

Json accounting_json(const store::JobAccounting& accounting) {
  Json json;
  json["peak_gpu_mem"] = optional_json(accounting.peak_gpu_mem);
  json["gpu_seconds"] = optional_json(accounting.gpu_seconds);
  json["energy_joules"] = optional_json(accounting.energy_joules);
  json["energy_is_estimate"] = accounting.energy_is_estimate;
  json["energy_at_least_joules"] = optional_json(accounting.energy_at_least_joules);
  json["energy_unread_gpus"] = accounting.energy_unread_gpus;
  json["mean_util_percent"] = optional_json(accounting.mean_util_percent);
  return json;
}

}  // namespace

std::string iso_time(WallTime time) {
  const auto micros = time.time_since_epoch().count();
  const std::time_t seconds = static_cast<std::time_t>(micros / 1000000);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char text[32] = {};
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &parts);
  return fmt::format("{}.{:06}Z", text, micros % 1000000);
}

namespace {

Json array_json(const store::ArrayMember& array) {
  return {{"array_id", array.array_id}, {"index", array.index}, {"max_running", array.max_running}};
}

// The spec's fields; without its environment when the batch carries it.
Json spec_json(const JobSpec& spec, bool with_environment, bool with_limits = true) {
  Json json;
  json["name"] = spec.name;
  if (!spec.argv.empty()) json["argv"] = spec.argv;
  if (!spec.shell_command.empty()) json["shell_command"] = spec.shell_command;
  json["working_dir"] = spec.working_dir;
  if (with_environment) json["environment"] = spec.environment.entries();
  json["gpus"] = spec.gpus;
  json["gpu_mem"] = optional_json(spec.gpu_mem);
  json["util_share"] = spec.util_share;
  json["priority"] = spec.priority;
  json["time_limit_s"] = optional_json(spec.time_limit_s);
  json["grace_s"] = optional_json(spec.kill_grace_s);
  json["deadline_us"] = time_json(spec.deadline);
  Json dependencies = Json::array();
  for (const Dependency& dependency : spec.dependencies) {
    Json item{{"job", dependency.job.value()}, {"kind", dependency_kind_name(dependency.kind)}};
    if (dependency.batch_index) item["batch_index"] = *dependency.batch_index;
    dependencies.push_back(item);
  }
  json["dependencies"] = dependencies;
  if (spec.array) json["array"] = array_json(*spec.array);
  json["restartable"] = spec.restartable;
  if (spec.held_by) json["hold"] = true;
  if (spec.resubmitted_from) json["resubmitted_from"] = spec.resubmitted_from->value();
  json["signature"] = spec.signature;
  json["umask"] = spec.umask ? Json(fmt::format("{:04o}", *spec.umask)) : Json(nullptr);
  if (with_limits) json["limits"] = limits_json(spec.limits);
  return json;
}

}  // namespace

Json job_spec_to_json(const JobSpec& spec) { return spec_json(spec, /*with_environment=*/true); }

Result<JobSpec> job_spec_from_json(const Json& json, std::size_t index) {
  if (!json.is_object()) {
    return invalid_argument(fmt::format("job {}: must be a JSON object of job fields", index));
  }
  FASTGPU_RETURN_IF_ERROR(check_known_fields(json, index));
  const FieldReader reader(json, index);
  JobSpec spec;
  FASTGPU_RETURN_IF_ERROR(reader.string("name", spec.name));
  FASTGPU_RETURN_IF_ERROR(reader.strings("argv", spec.argv));
  FASTGPU_RETURN_IF_ERROR(reader.string("shell_command", spec.shell_command));
  FASTGPU_RETURN_IF_ERROR(reader.string("working_dir", spec.working_dir));
  std::vector<std::string> environment;
  FASTGPU_RETURN_IF_ERROR(reader.strings("environment", environment));
  spec.environment = std::move(environment);
  FASTGPU_RETURN_IF_ERROR(reader.integer("gpus", spec.gpus));
  FASTGPU_RETURN_IF_ERROR(reader.number("util_share", spec.util_share));
  FASTGPU_RETURN_IF_ERROR(reader.integer("priority", spec.priority));
  FASTGPU_RETURN_IF_ERROR(reader.boolean("restartable", spec.restartable));
  bool hold = false;
  FASTGPU_RETURN_IF_ERROR(reader.boolean("hold", hold));
  if (hold) spec.held_by = 0;  // the submitter's uid, which the daemon sets
  FASTGPU_RETURN_IF_ERROR(reader.string("signature", spec.signature));
  FASTGPU_RETURN_IF_ERROR(read_optionals(reader, spec));
  FASTGPU_RETURN_IF_ERROR(read_dependencies(reader, spec));
  FASTGPU_RETURN_IF_ERROR(read_array(reader, spec));
  FASTGPU_RETURN_IF_ERROR(read_umask(reader, spec));
  FASTGPU_RETURN_IF_ERROR(read_limits(reader, spec));
  return spec;
}

Result<std::vector<JobSpec>> job_batch_from_json(const Json& body) {
  if (!body.is_object() || !body.contains("jobs") || !body["jobs"].is_array()) {
    return invalid_argument("the request body must be {\"jobs\": [ {job}, ... ]}");
  }
  for (const auto& [key, value] : body.items()) {
    if (key != "jobs" && key != "environment" && key != "limits") {
      return invalid_argument(
          fmt::format("unknown batch field '{}'; a batch has \"jobs\" and optionally "
                      "\"environment\" and \"limits\"",
                      key));
    }
  }
  Result<Environment> shared = batch_environment(body);
  if (!shared.ok()) return shared.status();
  ResourceLimits shared_limits;
  if (const auto field = body.find("limits"); field != body.end() && !field->is_null()) {
    Result<ResourceLimits> limits = limits_from_json(*field, "the batch's 'limits'");
    if (!limits.ok()) return limits.status();
    shared_limits = std::move(limits).value();
  }
  const Json& jobs = body["jobs"];
  if (jobs.empty()) return invalid_argument("\"jobs\" is empty; send at least one job");
  std::vector<JobSpec> specs;
  std::vector<Status> refusals;  // every job's, told at once
  for (std::size_t index = 0; index < jobs.size(); ++index) {
    Result<JobSpec> spec = job_spec_from_json(jobs[index], index);
    if (!spec.ok()) {
      // Its message reads "job <index>: <problem>".
      refusals.push_back(located_in_batch(spec.status(), index, fmt::format("job {}: ", index)));
      continue;
    }
    const auto own = jobs[index].find("environment");
    if (own == jobs[index].end() || own->is_null()) spec->environment = *shared;
    const auto own_limits = jobs[index].find("limits");
    if (own_limits == jobs[index].end() || own_limits->is_null()) spec->limits = shared_limits;
    specs.push_back(std::move(spec).value());
  }
  if (!refusals.empty()) return refused_jobs(refusals);
  return specs;
}

Json job_batch_to_json(const std::vector<JobSpec>& specs) {
  const bool one_environment =
      !specs.empty() && std::all_of(specs.begin(), specs.end(), [&](const JobSpec& spec) {
        return spec.environment == specs.front().environment;
      });
  const bool one_limits = !specs.empty() && !specs.front().limits.empty() &&
                          std::all_of(specs.begin(), specs.end(), [&](const JobSpec& spec) {
                            return spec.limits == specs.front().limits;
                          });
  Json jobs = Json::array();
  for (const JobSpec& spec : specs) jobs.push_back(spec_json(spec, !one_environment, !one_limits));
  Json batch{{"jobs", std::move(jobs)}};
  if (one_environment) batch["environment"] = specs.front().environment.entries();
  if (one_limits) batch["limits"] = limits_json(specs.front().limits);
  return batch;
}

namespace {

// What the job tables read (JobFields::kTable), in the order of the full record.
Json job_table_json(const store::JobRecord& record) {
  Json spec;
  spec["name"] = record.spec.name;
  spec["gpus"] = record.spec.gpus;
  spec["gpu_mem"] = optional_json(record.spec.gpu_mem);
  if (record.spec.array) spec["array"] = array_json(*record.spec.array);
  Json json;
  json["id"] = record.id.value();
  json["state"] = store::job_state_name(record.state);
  json["user"] = record.spec.user;
  json["held_by"] = optional_json(record.spec.held_by);
  json["spec"] = std::move(spec);
  json["submit_time_us"] = record.spec.submit_time.time_since_epoch().count();
  json["placed_gpus"] = record.placed_gpus;
  json["placed_gpu_mem"] = optional_json(record.placed_bytes_per_gpu);  // "auto"'s bytes
  json["start_time_us"] = time_json(record.start_time);
  json["end_time_us"] = time_json(record.end_time);
  return json;
}

}  // namespace

Json job_record_to_json(const store::JobRecord& record) {
  return job_record_to_json(record, JobFields::kAll);
}

Json job_record_to_json(const store::JobRecord& record, JobFields fields) {
  if (fields == JobFields::kTable) return job_table_json(record);
  Json json;
  json["id"] = record.id.value();
  json["state"] = store::job_state_name(record.state);
  json["uid"] = record.spec.uid;
  json["user"] = record.spec.user;
  // Who holds the queued job (`fastgpu hold`): a uid, or null when it may start.
  json["held_by"] = optional_json(record.spec.held_by);
  json["spec"] = spec_json(record.spec, /*with_environment=*/fields == JobFields::kAll);
  json["submit_time_us"] = record.spec.submit_time.time_since_epoch().count();
  json["submit_time"] = iso_time(record.spec.submit_time);
  json["placed_gpus"] = record.placed_gpus;
  json["placed_gpu_mem"] = optional_json(record.placed_bytes_per_gpu);
  json["start_time_us"] = time_json(record.start_time);
  json["start_time"] = time_text_json(record.start_time);
  json["end_time_us"] = time_json(record.end_time);
  json["end_time"] = time_text_json(record.end_time);
  json["exit_code"] = optional_json(record.exit_code);
  json["signal"] = optional_json(record.signal);
  json["end_reason"] = record.end_reason.empty() ? Json(nullptr) : Json(record.end_reason);
  json["supervisor_pid"] = optional_json(record.supervisor_pid);
  json["job_pid"] = optional_json(record.job_pid);
  json["log_path"] = record.log_path;
  json["attempts"] = record.attempts;
  json["accounting"] = accounting_json(record.accounting);
  return json;
}

std::string compact_text(const Json& json) {
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

void JobListingText::add(const store::JobRecord& job, const Json* waiting, const Json* stopping,
                         const Json* requeue_reason) {
  if (!empty_) text_ += ',';
  empty_ = false;
  Json json = job_record_to_json(job, fields_);
  if (waiting != nullptr) json["waiting"] = *waiting;
  if (stopping != nullptr) json["stopping"] = *stopping;
  if (requeue_reason != nullptr) json["requeue_reason"] = *requeue_reason;
  if (log_readable_ && fields_ != JobFields::kTable) json["log_readable"] = *log_readable_;
  text_ += compact_text(json);
}

std::string JobListingText::finish() && {
  text_ += "]}";
  return std::move(text_);
}

}  // namespace fastgpu::api

namespace fastgpu::api {
namespace {

std::optional<store::WallTime> time_from_json(const Json& value) {
  if (!value.is_number_integer()) return std::nullopt;
  return store::WallTime(std::chrono::microseconds(value.get<std::int64_t>()));
}

template <typename T>
std::optional<T> optional_from_json(const Json& value) {
  if (value.is_null()) return std::nullopt;
  return value.get<T>();
}

store::JobAccounting accounting_from_json(const Json& json) {
  store::JobAccounting accounting;
  accounting.peak_gpu_mem = optional_from_json<Bytes>(json["peak_gpu_mem"]);
  accounting.gpu_seconds = optional_from_json<double>(json["gpu_seconds"]);
  accounting.energy_joules = optional_from_json<double>(json["energy_joules"]);
  accounting.energy_is_estimate = json["energy_is_estimate"].get<bool>();
  // Absent from a daemon before 2026-12 (no lower bounds then).
  if (json.contains("energy_at_least_joules")) {
    accounting.energy_at_least_joules = optional_from_json<double>(json["energy_at_least_joules"]);
    accounting.energy_unread_gpus = json.value("energy_unread_gpus", std::vector<std::uint32_t>{});
  }
  accounting.mean_util_percent = optional_from_json<double>(json["mean_util_percent"]);
  return accounting;
}

}  // namespace

Result<store::JobRecord> job_record_from_json(const Json& json) {
  try {
    store::JobRecord record;
    record.id = JobId(json.at("id").get<std::uint64_t>());
    Result<store::JobState> state = store::parse_job_state(json.at("state").get<std::string>());
    if (!state.ok()) return state.status();
    record.state = *state;
    Result<store::JobSpec> spec = job_spec_from_json(json.at("spec"), 0);
    if (!spec.ok()) return spec.status();
    record.spec = std::move(spec).value();
    record.spec.uid = json.at("uid").get<std::uint32_t>();
    record.spec.user = json.at("user").get<std::string>();
    // A daemon older than holds does not send it.
    if (const auto held = json.find("held_by"); held != json.end()) {
      record.spec.held_by = optional_from_json<std::uint32_t>(*held);
    }
    record.spec.submit_time = time_from_json(json.at("submit_time_us")).value_or(store::WallTime{});
    record.placed_gpus = json.at("placed_gpus").get<std::vector<std::uint32_t>>();
    record.placed_bytes_per_gpu = optional_from_json<Bytes>(json.at("placed_gpu_mem"));
    record.start_time = time_from_json(json.at("start_time_us"));
    record.end_time = time_from_json(json.at("end_time_us"));
    record.exit_code = optional_from_json<int>(json.at("exit_code"));
    record.signal = optional_from_json<int>(json.at("signal"));
    // A daemon older than the field does not send it.
    if (const auto reason = json.find("end_reason"); reason != json.end() && reason->is_string()) {
      record.end_reason = reason->get<std::string>();
    }
    record.supervisor_pid = optional_from_json<std::int32_t>(json.at("supervisor_pid"));
    record.job_pid = optional_from_json<std::int32_t>(json.at("job_pid"));
    record.log_path = json.at("log_path").get<std::string>();
    record.attempts = json.at("attempts").get<std::uint32_t>();
    record.accounting = accounting_from_json(json.at("accounting"));
    return record;
  } catch (const Json::exception& error) {
    return invalid_argument(std::string("a job record from the daemon is malformed: ") +
                            error.what());
  }
}

}  // namespace fastgpu::api
