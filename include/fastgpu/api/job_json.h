// The JSON forms of jobs on the API (docs/api.md): a submitted job spec, and a job record
// as the daemon reports it.
//
// Units: bytes for memory, seconds for durations; times are microseconds since the Unix
// epoch in "*_us" fields (exact) with an ISO 8601 copy in the matching text field for
// people. Parsing never throws: a wrong type, an unknown field or an out-of-range value is
// an invalid-argument Status that names the job's place in the batch, the field and the fix.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "fastgpu/core/result.h"
#include "fastgpu/store/state_store.h"

namespace fastgpu::api {

using Json = nlohmann::ordered_json;

// A value that may be missing (an optional): the value, or null (never 0: docs/api.md).
inline Json optional_json(const auto& value) { return value ? Json(*value) : Json(nullptr); }

// The spec as a client sends it. uid, user and submit_time are not written: the daemon
// sets them from the caller and its clock.
Json job_spec_to_json(const store::JobSpec& spec);

// Parses one job of a batch; `index` is its place in the batch (for messages).
Result<store::JobSpec> job_spec_from_json(const Json& json, std::size_t index);

// The body of POST /v1/jobs: {"environment": [...], "jobs": [spec, ...]}, at least one job.
// A job without its own "environment" has the batch's; they share one list.
Result<std::vector<store::JobSpec>> job_batch_from_json(const Json& body);
// The same body; an environment every job has is sent once, at the batch level.
Json job_batch_to_json(const std::vector<store::JobSpec>& specs);

// A job as GET /v1/jobs/{id} reports it: id, state, spec fields, placement, times,
// outcome, accounting (absent measurements are null).
Json job_record_to_json(const store::JobRecord& record);

// `json` as the daemon sends it: compact, invalid UTF-8 replaced (logs and commands may
// hold such bytes), never a throw.
std::string compact_text(const Json& json);

// Which of a job's fields a listing (GET /v1/jobs) carries.
enum class JobFields {
  kAll,    // job_record_to_json's
  kBrief,  // all but spec.environment (brief=true)
  kTable,  // what the job tables read (fields=table): id, state, user, spec.name,
           // spec.gpus, spec.gpu_mem, spec.array, placed_gpus, start_time_us, end_time_us;
           // each equal to the full record's
};

// A job as a listing with `fields` carries it.
Json job_record_to_json(const store::JobRecord& record, JobFields fields);

// The body of a listing, {"jobs": [job, ...]}, serialized compactly (as Json::dump()
// with invalid UTF-8 replaced) one job at a time: a listing of 100,000 jobs is never a
// Json tree, which costs several times the text in memory and time.
class JobListingText {
 public:
  // `log_readable`: carried by every job but in a table listing, as `GET /v1/jobs/{id}`
  // carries it (whether the caller may open the job's log_path); nullopt: not carried.
  explicit JobListingText(JobFields fields, std::optional<bool> log_readable = std::nullopt)
      : fields_(fields), log_readable_(log_readable) {}

  // `waiting`: why a queued job waits ({"reason", "detail"}, or the reason alone for a
  // table listing), carried as "waiting"; `stopping`: a running job on its way out
  // (docs/api.md), carried as "stopping"; `requeue_reason`: why a job that ran is queued
  // again, carried as "requeue_reason" (as `GET /v1/jobs/{id}` has it); null for none.
  void add(const store::JobRecord& job, const Json* waiting = nullptr,
           const Json* stopping = nullptr, const Json* requeue_reason = nullptr);
  // The body; the object is spent.
  std::string finish() &&;

 private:
  JobFields fields_;
  std::optional<bool> log_readable_;
  std::string text_ = R"({"jobs":[)";
  bool empty_ = true;
};

// Reads back what job_record_to_json wrote (the CLI builds its batch report from these).
Result<store::JobRecord> job_record_from_json(const Json& json);

// "2026-11-25T10:12:50.123456Z".
std::string iso_time(store::WallTime time);

}  // namespace fastgpu::api
