#include "engine/outcome.h"

#include <fmt/format.h>

#include <csignal>
#include <cstring>
#include <type_traits>

namespace fastgpu::engine {

using store::JobState;

std::string signal_name(int signal) {
  // sigabbrev_np (glibc 2.32) is thread-safe, unlike strsignal.
  const char* abbreviation = ::sigabbrev_np(signal);
  if (abbreviation == nullptr) return "signal " + std::to_string(signal);
  return "SIG" + std::string(abbreviation);
}

namespace {

constexpr const char* kMemoryReason = "exceeded its declared GPU memory";

// The end of a run the engine had asked to stop and that did not complete on its own.
RunEnd asked_to_stop(StopIntent intent, RunEnd end,
                     const std::optional<std::string>& cancelled_by) {
  switch (intent) {
    case StopIntent::kCancel:
      end.state = JobState::kCancelled;
      end.reason =
          (cancelled_by ? "cancelled by " + *cancelled_by : std::string("cancelled on request")) +
          " (" + end.reason + ")";
      break;
    case StopIntent::kPreempt:
      end.state = JobState::kPreempted;
      end.reason = "preempted (" + end.reason + ")";
      break;
    case StopIntent::kMemoryKill:
      end.state = JobState::kFailed;
      end.reason = std::string(kMemoryReason) + " (" + end.reason + ")";
      break;
    case StopIntent::kNone: break;
  }
  return end;
}

RunEnd stopped_end(const exec::Stopped& stopped, StopIntent intent,
                   const std::optional<std::string>& cancelled_by) {
  RunEnd end{JobState::kCancelled, stopped.exit_code, stopped.signal, "stopped on request"};
  if (stopped.signal) {
    end.reason = "killed by " + signal_name(*stopped.signal);
  } else if (stopped.exit_code) {
    end.reason = "exited with status " + std::to_string(*stopped.exit_code) + " when asked to stop";
  }
  if (intent != StopIntent::kNone) return asked_to_stop(intent, end, cancelled_by);
  // Asked by a daemon before a restart: what it asked for is the supervisor's word.
  if (stopped.preempted) end.state = JobState::kPreempted;
  const bool how_known = stopped.signal || stopped.exit_code;
  end.reason = std::string(stopped.preempted ? "preempted" : "cancelled") +
               (how_known ? " (" + end.reason + ")" : "");
  return end;
}

// What happened at the time limit: the supervisor sends SIGTERM, and SIGKILL only when the
// job is still there after the grace period, so a job that ended on the SIGTERM (or caught
// it and exited) was not killed.
std::string limit_text(const exec::TimedOut& how, std::optional<std::int64_t> time_limit_s) {
  const std::string limit =
      time_limit_s ? "its time limit of " + std::to_string(*time_limit_s) + " s" : "its time limit";
  if (how.signal == SIGKILL) {
    return "killed by SIGKILL at " + limit +
           ": it had not ended within the grace period after "
           "SIGTERM";
  }
  if (how.signal) return "terminated by " + signal_name(*how.signal) + " at " + limit;
  if (how.exit_code) {
    return "stopped at " + limit + ": exited with status " + std::to_string(*how.exit_code) +
           " on SIGTERM";
  }
  return "stopped at " + limit;  // a record from before the signal was kept
}

// The job's submitted limit of `name`, if it was sent with one.
const ResourceLimit* submitted_limit(const ResourceLimits& limits, std::string_view name) {
  for (const ResourceLimit& limit : limits) {
    if (limit.name == name) return &limit;
  }
  return nullptr;
}

// "ulimit -t; 60 s as submitted": the option, and the soft value the job was sent with.
std::string soft_limit_words(const ResourceLimits& limits, std::string_view name) {
  std::string words = "ulimit " + std::string(ulimit_option(name));
  const ResourceLimit* limit = submitted_limit(limits, name);
  if (limit != nullptr && limit->soft) {
    words += "; " + format_limit_value(name, limit->soft) + " as submitted";
  }
  return words;
}

}  // namespace

void name_the_limit(RunEnd& end, const ResourceLimits& limits, const exec::Usage& usage) {
  if (!end.signal || end.state != JobState::kFailed) return;
  if (*end.signal == SIGXCPU) {
    end.reason += ": its CPU time reached its limit (" + soft_limit_words(limits, "cpu") + ")";
  } else if (*end.signal == SIGXFSZ) {
    end.reason +=
        ": a file it wrote reached its size limit (" + soft_limit_words(limits, "fsize") + ")";
  } else if (*end.signal == SIGKILL && usage.user_cpu_s && usage.system_cpu_s) {
    const ResourceLimit* cpu = submitted_limit(limits, "cpu");
    const double used = *usage.user_cpu_s + *usage.system_cpu_s;
    // The kernel counts the time it kills at more finely than rusage reports it: a job killed
    // at 2 s read 1.9968 s.
    constexpr double kRusageSlack = 0.1;
    if (cpu == nullptr || !cpu->hard || used + kRusageSlack < static_cast<double>(*cpu->hard)) {
      return;
    }
    end.reason += ", the kernel's signal at the hard cpu limit of " +
                  format_limit_value("cpu", cpu->hard) + " (ulimit -t), which its CPU time (" +
                  fmt::format("{:.1f} s", used) + ") had reached";
  }
}

RunEnd run_end_of(const exec::Outcome& outcome, StopIntent intent,
                  std::optional<std::int64_t> time_limit_s,
                  const std::optional<std::string>& cancelled_by) {
  return std::visit(
      [&](const auto& how) -> RunEnd {
        using T = std::decay_t<decltype(how)>;
        if constexpr (std::is_same_v<T, exec::Exited>) {
          if (how.code == 0) return {JobState::kCompleted, 0, std::nullopt, "exited with status 0"};
          RunEnd end{JobState::kFailed, how.code, std::nullopt,
                     "exited with status " + std::to_string(how.code)};
          return intent == StopIntent::kNone ? end : asked_to_stop(intent, end, cancelled_by);
        } else if constexpr (std::is_same_v<T, exec::Signaled>) {
          RunEnd end{JobState::kFailed, std::nullopt, how.signal,
                     "killed by " + signal_name(how.signal)};
          return intent == StopIntent::kNone ? end : asked_to_stop(intent, end, cancelled_by);
        } else if constexpr (std::is_same_v<T, exec::TimedOut>) {
          return {JobState::kTimeout, how.exit_code, how.signal, limit_text(how, time_limit_s)};
        } else if constexpr (std::is_same_v<T, exec::Stopped>) {
          return stopped_end(how, intent, cancelled_by);
        } else if constexpr (std::is_same_v<T, exec::LaunchFailed>) {
          return {JobState::kFailed, how.exit_code, std::nullopt,
                  "could not be started: " + how.message};
        } else {
          static_assert(std::is_same_v<T, exec::Lost>, "every Outcome is handled");
          return {JobState::kFailed, std::nullopt, std::nullopt, "lost: " + how.message};
        }
      },
      outcome);
}

}  // namespace fastgpu::engine
