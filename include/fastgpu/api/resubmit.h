// What `fastgpu resubmit` and the dashboard's "Run again" share: who may run a job again,
// and which of its dependencies the new job keeps (docs/cli.md, resubmit).
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <vector>

#include "fastgpu/api/job_json.h"
#include "fastgpu/core/result.h"
#include "fastgpu/store/state_store.h"

namespace fastgpu::api {

// Refuses a job of another user than `uid`: run again by them, it would run its owner's
// command as them (root's daemon shows root every job). Ok for the owner.
Status check_resubmitter(const store::JobRecord& job, std::uint32_t uid);

// A job as GET /v1/jobs/{id} gives it; an error Status when it cannot (kNotFound: no such
// job, or forgotten by `fastgpu purge`).
using JobReader = std::function<Result<Json>(std::uint64_t id)>;

// `specs[i]` is `jobs[i]` submitted again, the batch in that order (by increasing old id).
// Each keeps its dependencies on jobs of the batch (as batch_index: the new jobs) and on
// jobs that have not ended; one on a job that has ended was met, or can no longer be (the
// daemon refuses a wait to succeed on a job that failed), and is left out, its id added to
// `dropped`. Each other job is read once, with `read`.
Status carry_dependencies(const JobReader& read, const std::vector<store::JobRecord>& jobs,
                          std::vector<store::JobSpec>& specs, std::set<std::uint64_t>& dropped);

}  // namespace fastgpu::api
