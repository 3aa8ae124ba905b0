// Waiting for jobs to end, for `wait` and `submit --wait`: one listing of the caller's
// unfinished jobs a round, and only the jobs that left it read.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cli/daemon_client.h"

namespace fastgpu::cli {

bool is_terminal_name(const std::string& state);

// The caller's jobs that are queued, running or preempted.
Result<std::vector<std::uint64_t>> unfinished_jobs(ReconnectingClient& client);

// "job 14: FAILED (exit 3)", with why where its exit status does not say it all ("job 14:
// CANCELLED: dependency 13 failed: it ended FAILED"); ends with a newline.
std::string ended_line(const api::Json& job);

// Why a queued job waits ("resources: needs ..."), when its reason differs from `said` (the
// last one told, updated); nullopt for the same reason, none, or "next pass".
std::optional<std::string> new_waiting_reason(const api::Json& job, std::string& said);

// The ids to wait for; those given in a range may be missing (`wait 12-40` past the last
// job, as cancel takes it), and are then counted in `missing`, not an error.
struct Waited {
  std::vector<std::uint64_t> ids;
  std::set<std::uint64_t> from_range;
  std::set<std::uint64_t> missing;
};

// The jobs of `ids` (in their order) that exist and have not ended.
std::vector<std::uint64_t> not_ended(const std::vector<std::uint64_t>& ids, const Waited& waited,
                                     const std::map<std::uint64_t, api::Json>& ended);

// Polls until every job ended or the deadline passed; fills `ended` by id, printing each
// ended job's line on stdout unless `quiet`. `between_rounds`, when given, runs before each
// pause (submit --wait cancels its jobs there after Ctrl-C). Rounds start 50 ms apart and
// slow down to one per 500 ms.
Status wait_for(ReconnectingClient& client, Waited& waited,
                std::optional<std::chrono::steady_clock::time_point> deadline, bool quiet,
                std::map<std::uint64_t, api::Json>& ended,
                const std::function<void()>& between_rounds = {});

// How a job ended, as `wait --json` and `submit --wait --json` list it: {"id", "state",
// "exit_code", "signal", "end_reason"}.
api::Json ended_json(std::uint64_t id, const api::Json& job);

// What a job's end makes of a command that stood for it (`submit --wait`, as sbatch's):
// 0 for COMPLETED; else its exit code when not 0, 128 + its signal (as a shell reports a
// command a signal ended), or 1 (cancelled before it ran, a TIMEOUT that exited 0).
int exit_status_of(const api::Json& job);

}  // namespace fastgpu::cli
