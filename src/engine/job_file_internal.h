// The pieces shared by the flag path and the YAML path of job submission: one parser per
// field (each error starts with the field's name and says how to fix the value), and the
// builder that turns one SubmitOptions into JobSpecs. Private to src/engine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fastgpu/core/result.h"
#include "fastgpu/core/units.h"
#include "fastgpu/engine/job_file.h"
#include "fastgpu/store/state_store.h"

namespace fastgpu::engine::internal {

// More members than this in one array is an error (Slurm's default MaxArraySize is 1001).
inline constexpr std::size_t kMaxArrayMembers = 10000;

Result<int> parse_gpus(std::string_view text);
// nullopt for "auto" (learn the peak from earlier runs of the same signature).
Result<std::optional<Bytes>> parse_gpu_mem(std::string_view text);
// Whole seconds, rounded up; nullopt for "unlimited". A bare number is minutes (Slurm).
Result<std::optional<std::int64_t>> parse_time_limit(std::string_view text);
// SIGTERM to SIGKILL: "30s", "5m", a bare number of seconds; 0 to a day, rounded up.
Result<std::optional<std::int64_t>> parse_grace(std::string_view text);
Result<int> parse_priority(std::string_view text);
Result<bool> parse_restartable(std::string_view text);
Result<bool> parse_hold(std::string_view text);
// A fraction in (0, 1], or a percentage "50%".
Result<double> parse_share(std::string_view text);

struct ArrayIndices {
  std::vector<std::uint32_t> indices;  // ascending, no repeats
  std::uint32_t max_running = 0;       // 0: no limit
};
// "0-15%4", "1,3,5", "0-15:2", "1,4-8:2%2".
Result<ArrayIndices> parse_array(std::string_view text);

// One job waited for: an existing job by id, or (job files only) an earlier job by name.
struct AfterTarget {
  store::DependencyKind kind = store::DependencyKind::kAfterOk;
  std::optional<JobId> id;
  std::string name;  // set when id is not

  friend bool operator==(const AfterTarget&, const AfterTarget&) = default;
};
// "12", "prep", "afterok:12:13", "afterany:prep", "afterok:1,afterany:2".
Result<std::vector<AfterTarget>> parse_after(std::string_view text);

// "2026-12-01T18:00[:SS]" (local time), with "Z" or "+HH:MM" for an explicit offset, or
// "now+DURATION" relative to `now`. Must be after `now`.
Result<store::WallTime> parse_deadline(std::string_view text, store::WallTime now);

// An absolute, normalised folder: "~/x" uses HOME from `environment`, a relative path is
// taken from `base`.
Result<std::string> resolve_workdir(std::string_view text, const std::filesystem::path& base,
                                    const std::vector<std::string>& environment);
Status check_env_key(std::string_view key);
// `inherited` with each override replacing its key in place or appended, in order.
Result<std::vector<std::string>> merge_environment(
    const std::vector<std::string>& inherited,
    const std::vector<std::pair<std::string, std::string>>& overrides);

// The known name closest to `text` (edit distance, '_' read as '-', common synonyms such as
// "memory" for gpu-mem), or nullopt when none is close.
std::optional<std::string> closest_name(std::string_view text,
                                        const std::vector<std::string>& known);

// The batch indices of the jobs an earlier job name stands for (every member of an array),
// or an error naming the problem (unknown, later in the file, ambiguous).
using NameResolver = std::function<Result<std::vector<std::size_t>>(std::string_view name)>;

// One problem with one submission: the field at fault (empty for a whole-job problem; the
// YAML path points at the field's line) and what is wrong with it.
struct FieldError {
  std::string field;
  Status status;
};

// Appends the JobSpecs of one submission to `out` (whose size is the batch index of the
// first) and returns no error; or appends nothing and returns every problem found, in the
// order of the fields (command, gpus, gpu-mem, ...), a check across fields only when the
// fields it reads are good. `resolver` is null on the flag path.
std::vector<FieldError> build_entry(const SubmitOptions& options, const SubmitContext& context,
                                    const NameResolver* resolver, std::vector<store::JobSpec>& out);

}  // namespace fastgpu::engine::internal
