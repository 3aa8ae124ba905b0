// How `queue` and `show` say that a running job is on its way out: the daemon's "stopping"
// object (docs/api.md: cause, by_uid, detail, since_us, kill_at_us, asked_us, sigterm_for)
// in words.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "fastgpu/api/job_json.h"

namespace fastgpu::cli {

// The queue's PLACED(WHY) note: "cancelled, SIGKILL in 7s", or "time limit, SIGKILL sent"
// once the grace period is over.
std::string stopping_brief(const api::Json& stopping, std::int64_t now_us);

// show's line: "cancelled by you at 14:02:11; SIGKILL at 14:02:21 if still running" (times
// in the local time zone). `viewer`: the uid asking, named "you" where it cancelled the job.
// A request made after another had sent SIGTERM (a cancel after a preemption) is told at its
// own moment: "cancelled by you at 14:02:15; SIGTERM went out earlier, at 14:02:11, when it
// was preempted by the scheduler; SIGKILL at 14:02:21 if still running".
std::string stopping_details(const api::Json& stopping, std::int64_t now_us, uid_t viewer);

}  // namespace fastgpu::cli
