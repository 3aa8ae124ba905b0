// Locating a refusal in a batch: the job's checks say "<where>: <problem>", and the API's
// error body carries the problem alone with the job's batch_index (docs/api.md). Refusals of
// several jobs of one batch are told together, one a line (docs/cli.md, docs/api.md).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "fastgpu/core/result.h"

namespace fastgpu {

// `refused` (not ok) about job `index` of a batch, located there: its batch_job() carries
// `index` and the problem, its message without `lead` ("job 2: ", "job 2 of the batch: ");
// the whole message when it does not start with `lead`. The message itself is unchanged.
Status located_in_batch(const Status& refused, std::size_t index, std::string_view lead);

// How many jobs `jobs` are about: a job refused for two problems counts once.
std::size_t distinct_jobs(const std::vector<BatchJobError>& jobs);

// One Status for the refusals of jobs of one batch (each not ok, each with batch_jobs()), in
// batch order. One alone is returned as it is. Several read as a line that counts them and
// then each refusal's message on its own line, the first kMaxBatchErrorsTold of them and a
// last line with how many more; batch_jobs() holds every one of them, and the code is the
// first's. `jobs_refused`: how many jobs the first line counts, where a refusal stands for
// several (an array's members told once); 0 counts the jobs of batch_jobs(). REQUIRES:
// !refusals.empty().
Status refused_jobs(const std::vector<Status>& refusals, std::size_t jobs_refused = 0);

// Errors about several jobs, as every such message reads: `head`, then the first
// kMaxBatchErrorsTold of `lines`, one a line, then a line that counts the rest ("and 3 more
// errors after line 40; fix these and run the file again": `noun` "error", `after(i)` what
// follows the count for the last line shown, i, and `then` what to do next).
std::string told_one_a_line(std::string head, const std::vector<std::string>& lines,
                            std::string_view noun, std::string_view then,
                            const std::function<std::string(std::size_t)>& after);

}  // namespace fastgpu
