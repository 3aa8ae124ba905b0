// Locating a refusal in a batch: the job's checks say "<where>: <problem>", and the API's
// error body carries the problem alone with the job's batch_index (docs/api.md).
#pragma once

#include <cstddef>
#include <string_view>

#include "fastgpu/core/result.h"

namespace fastgpu {

// `refused` (not ok) about job `index` of a batch, located there: its batch_job() carries
// `index` and the problem, its message without `lead` ("job 2: ", "job 2 of the batch: ");
// the whole message when it does not start with `lead`. The message itself is unchanged.
Status located_in_batch(const Status& refused, std::size_t index, std::string_view lead);

}  // namespace fastgpu
