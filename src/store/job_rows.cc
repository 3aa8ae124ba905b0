#include "store/job_rows.h"

#include <nlohmann/json.hpp>

namespace fastgpu::store {
namespace {

using nlohmann::json;

template <typename T>
std::optional<T> optional_cast(std::optional<std::int64_t> value) {
  if (!value) return std::nullopt;
  return static_cast<T>(*value);
}

void read_spec(const sqlite::Statement& row, JobSpec& spec) {
  spec.name = row.column_text(1);
  spec.argv = json::parse(row.column_text(2)).get<std::vector<std::string>>();
  spec.shell_command = row.column_text(3);
  spec.working_dir = row.column_text(4);
  spec.gpus = static_cast<int>(row.column_int64(6));
  spec.gpu_mem = optional_cast<Bytes>(row.column_optional_int64(7));
  spec.util_share = row.column_double(8);
  spec.priority = static_cast<int>(row.column_int64(9));
  spec.time_limit_s = row.column_optional_int64(10);
  if (auto deadline = row.column_optional_int64(11)) spec.deadline = from_micros(*deadline);
  if (!row.is_null(12)) {
    spec.array = ArrayMember{static_cast<std::uint64_t>(row.column_int64(12)),
                             static_cast<std::uint32_t>(row.column_int64(13)),
                             static_cast<std::uint32_t>(row.column_int64(35))};
  }
  spec.restartable = row.column_int64(14) != 0;
  spec.uid = static_cast<std::uint32_t>(row.column_int64(15));
  spec.user = row.column_text(16);
  spec.signature = row.column_text(17);
  spec.submit_time = from_micros(row.column_int64(18));
  spec.umask = optional_cast<std::uint32_t>(row.column_optional_int64(38));
  spec.kill_grace_s = row.column_optional_int64(42);
  spec.held_by = optional_cast<std::uint32_t>(row.column_optional_int64(44));
  if (const auto from = row.column_optional_int64(45)) {
    spec.resubmitted_from = JobId(static_cast<std::uint64_t>(*from));
  }
  if (!row.is_null(43)) {
    const json limits = json::parse(row.column_text(43));  // items() does not own it
    const auto side = [](const json& value) {
      return value.is_null() ? std::nullopt : std::optional(value.get<std::uint64_t>());
    };
    for (const auto& [name, pair] : limits.items()) {
      spec.limits.push_back({name, side(pair.at(0)), side(pair.at(1))});
    }
  }
  for (const json& pair : json::parse(row.column_text(34))) {
    spec.dependencies.push_back({JobId(pair.at(0).get<std::uint64_t>()),
                                 pair.at(1).get<std::string>() == "afterany"
                                     ? DependencyKind::kAfterAny
                                     : DependencyKind::kAfterOk,
                                 std::nullopt});
  }
}

void read_run(const sqlite::Statement& row, JobRecord& record) {
  record.placed_gpus = json::parse(row.column_text(20)).get<std::vector<std::uint32_t>>();
  if (auto start = row.column_optional_int64(21)) record.start_time = from_micros(*start);
  if (auto end = row.column_optional_int64(22)) record.end_time = from_micros(*end);
  record.exit_code = optional_cast<int>(row.column_optional_int64(23));
  record.signal = optional_cast<int>(row.column_optional_int64(24));
  record.supervisor_pid = optional_cast<std::int32_t>(row.column_optional_int64(25));
  record.job_pid = optional_cast<std::int32_t>(row.column_optional_int64(26));
  record.log_path = row.column_text(27);
  record.accounting.peak_gpu_mem = optional_cast<Bytes>(row.column_optional_int64(28));
  record.accounting.gpu_seconds = row.column_optional_double(29);
  record.accounting.energy_joules = row.column_optional_double(30);
  record.accounting.energy_is_estimate = row.column_int64(31) != 0;
  record.accounting.mean_util_percent = row.column_optional_double(32);
  record.attempts = static_cast<std::uint32_t>(row.column_int64(33));
  record.placed_bytes_per_gpu = optional_cast<Bytes>(row.column_optional_int64(36));
  if (!row.is_null(37)) record.end_reason = row.column_text(37);
  record.accounting.energy_at_least_joules = row.column_optional_double(39);
  if (!row.is_null(40)) {
    record.accounting.energy_unread_gpus =
        json::parse(row.column_text(40)).get<std::vector<std::uint32_t>>();
  }
  record.run_peak_gpu_mem = optional_cast<Bytes>(row.column_optional_int64(41));
}

}  // namespace

std::string strings_to_json(const std::vector<std::string>& values) { return json(values).dump(); }

std::optional<std::string> limits_to_json(const ResourceLimits& limits) {
  if (limits.empty()) return std::nullopt;
  json object = json::object();
  const auto side = [](const std::optional<std::uint64_t>& value) {
    return value ? json(*value) : json(nullptr);
  };
  for (const ResourceLimit& limit : limits) {
    object[limit.name] = json::array({side(limit.soft), side(limit.hard)});
  }
  return object.dump();
}

std::string gpus_to_json(const std::vector<std::uint32_t>& gpus) { return json(gpus).dump(); }

std::string_view dependency_kind_name(DependencyKind kind) {
  return kind == DependencyKind::kAfterAny ? "afterany" : "afterok";
}

Result<JobRecord> read_job_row(const sqlite::Statement& row, Result<Environment> environment) {
  if (!environment.ok()) return environment.status();
  JobRecord record;
  record.spec.environment = std::move(environment).value();
  record.id = JobId(static_cast<std::uint64_t>(row.column_int64(0)));
  Result<JobState> state = parse_job_state(row.column_text(19));
  if (!state.ok()) return state.status();
  record.state = *state;
  try {
    read_spec(row, record.spec);
    read_run(row, record);
  } catch (const json::exception& error) {
    // Only a hand-edited or damaged database gets here: the store writes valid lists.
    return internal_error("job " + to_string(record.id) +
                          " has a malformed stored list: " + error.what());
  }
  return record;
}

}  // namespace fastgpu::store
