// A job's output (stdout and stderr) printed, followed as it grows: `logs [-f]` and
// `submit --follow`.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "cli/daemon_client.h"

namespace fastgpu::cli {

struct LogReading {
  std::string verb;                     // the verb its lines on stderr name ("fastgpu logs: ...")
  bool json = false;                    // the log endpoint's answers, not the bytes (docs/api.md)
  bool follow = false;                  // until the job ends, across a daemon that goes away
  std::function<void()> between_reads;  // while following, before each pause
  std::function<void()> before_output;  // once, before the first bytes are printed
  // Only the log's last lines (as `tail -n`), and with `follow` what comes after them;
  // nullopt: the whole log.
  std::optional<std::uint64_t> tail_lines = std::nullopt;
};

// Prints job `id`'s output as the job wrote it (UTF-8 or not), the whole log, or with
// `follow` as it grows until the job ends; the client asks again for the same offset after
// a daemon that went away, so no byte is lost or printed twice. Returns the exit status of
// `logs`: 1 for a job that never started, or, followed, one that did not complete (said on
// stderr with why); 0 otherwise.
int print_job_log(ReconnectingClient& client, std::uint64_t id, LogReading how);

}  // namespace fastgpu::cli
