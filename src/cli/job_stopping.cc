#include "cli/job_stopping.h"

#include <fmt/format.h>

#include <cmath>
#include <ctime>

#include "api/login_name.h"
#include "fastgpu/core/units.h"

namespace fastgpu::cli {
namespace {

std::int64_t micros_of(const api::Json& stopping, const char* key) {
  auto it = stopping.find(key);
  return it != stopping.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
}

std::string text_of(const api::Json& stopping, const char* key) {
  auto it = stopping.find(key);
  return it != stopping.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// "14:02:11" in the local time zone.
std::string clock_time(std::int64_t micros) {
  const auto seconds = static_cast<std::time_t>(micros / 1'000'000);
  std::tm parts{};
  localtime_r(&seconds, &parts);
  char text[16] = {};
  std::strftime(text, sizeof(text), "%H:%M:%S", &parts);
  return text;
}

// "7s" (rounded up: SIGKILL has not come before then), "1m05s" past a minute.
std::string countdown(std::int64_t micros) {
  const double seconds = std::ceil(static_cast<double>(micros) / 1e6);
  if (seconds < 60) return fmt::format("{}s", static_cast<std::int64_t>(seconds));
  return format_duration(Seconds(seconds));
}

// "cancelled by you", "reached its time limit", "preempted by the scheduler", ... from a
// "stopping" object or its "sigterm_for" (a cause and a by_uid).
std::string what_happened(const api::Json& stopping, uid_t viewer) {
  const std::string cause = text_of(stopping, "cause");
  if (cause == "cancelled") {
    auto by = stopping.find("by_uid");
    if (by == stopping.end() || !by->is_number_unsigned()) return "cancelled";
    const auto uid = by->get<uid_t>();
    return "cancelled by " + (uid == viewer ? std::string("you") : api::login_name(uid));
  }
  if (cause == "time limit") return "reached its time limit";
  if (cause == "preempted") return "preempted by the scheduler";
  if (cause == "moving") return "stopped by the balancer, to start again on other GPUs";
  if (cause == "memory") return "stopped for its GPU memory";
  return "asked to stop (" + cause + ")";
}

}  // namespace

std::string stopping_brief(const api::Json& stopping, std::int64_t now_us) {
  const std::int64_t kill_at = micros_of(stopping, "kill_at_us");
  const std::string cause = text_of(stopping, "cause");
  if (kill_at <= now_us) return cause + ", SIGKILL sent";
  return cause + ", SIGKILL in " + countdown(kill_at - now_us);
}

std::string stopping_details(const api::Json& stopping, std::int64_t now_us, uid_t viewer) {
  // A request after the one that sent SIGTERM (a cancel after a preemption) is told at its
  // own moment, and the SIGTERM's moment and request after it.
  const auto earlier = stopping.find("sigterm_for");
  const bool later_request =
      earlier != stopping.end() && earlier->is_object() && micros_of(stopping, "asked_us") != 0;
  std::string text = what_happened(stopping, viewer) + " at " +
                     clock_time(micros_of(stopping, later_request ? "asked_us" : "since_us"));
  if (const std::string detail = text_of(stopping, "detail"); !detail.empty()) {
    text += " (" + detail + ")";
  }
  if (later_request) {
    text += "; SIGTERM went out earlier, at " + clock_time(micros_of(stopping, "since_us")) +
            ", when it was " + what_happened(*earlier, viewer);
  }
  const std::int64_t kill_at = micros_of(stopping, "kill_at_us");
  if (kill_at <= now_us) return text + "; SIGKILL sent at " + clock_time(kill_at);
  return text + "; SIGKILL at " + clock_time(kill_at) + " if still running";
}

}  // namespace fastgpu::cli
