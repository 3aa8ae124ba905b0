// Waiting for jobs to end, for `wait` and `submit --wait`.

#include "cli/job_wait.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <thread>

namespace fastgpu::cli {

bool is_terminal_name(const std::string& state) {
  return state == "COMPLETED" || state == "FAILED" || state == "CANCELLED" || state == "TIMEOUT";
}

Result<std::vector<std::uint64_t>> unfinished_jobs(ReconnectingClient& client) {
  Result<api::Json> reply = client.get("/v1/jobs?state=QUEUED,RUNNING,PREEMPTED&ids_only=true");
  if (!reply.ok()) return reply.status();
  return (*reply)["ids"].get<std::vector<std::uint64_t>>();
}

namespace {

// Why a job that did not complete ended, where its exit status does not say it all: a
// dependant cancelled because its dependency failed read "job 14: CANCELLED", a launch
// that failed "job 15: FAILED", a job the kernel ended at its cpu limit "job 16: FAILED
// (signal 9)". Empty for a job that completed, or failed with a status or a signal and no
// more to say ("(exit 3)" is "exited with status 3", "(signal 11)" "killed by SIGSEGV").
std::string why_not_completed(const api::Json& job) {
  const auto reason = job.find("end_reason");
  if (reason == job.end() || !reason->is_string() || job["state"] == "COMPLETED") return "";
  const std::string& text = reason->get_ref<const std::string&>();
  const bool only_the_status =
      (text.starts_with("exited with status ") || text.starts_with("killed by ")) &&
      text.find_first_of(":,(") == std::string::npos;
  if (job["state"] == "FAILED" && (!job["exit_code"].is_null() || !job["signal"].is_null()) &&
      only_the_status) {
    return "";
  }
  return text;
}

}  // namespace

std::optional<std::string> new_waiting_reason(const api::Json& job, std::string& said) {
  const api::Json waiting = job.value("waiting", api::Json::object());
  const std::string reason = waiting.value("reason", std::string());
  if (reason.empty() || reason == "next pass" || reason == said) return std::nullopt;
  said = reason;
  const std::string detail = waiting.value("detail", std::string());
  return detail.empty() ? reason : reason + ": " + detail;
}

std::string ended_line(const api::Json& job) {
  std::string line =
      fmt::format("job {}: {}", job["id"].get<std::uint64_t>(), job["state"].get<std::string>());
  if (!job["exit_code"].is_null()) line += fmt::format(" (exit {})", job["exit_code"].get<int>());
  if (!job["signal"].is_null()) line += fmt::format(" (signal {})", job["signal"].get<int>());
  if (const std::string why = why_not_completed(job); !why.empty()) line += ": " + why;
  return line + "\n";
}

namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(500);

// Records the jobs of `candidates` (sorted ids not listed as unfinished) that have ended.
// A run of consecutive ids (an array) is read with one request; an id that page does not
// hold (another user's job, for root) is read on its own.
Status collect_ended(ReconnectingClient& client, const std::vector<std::uint64_t>& candidates,
                     bool quiet, std::map<std::uint64_t, api::Json>& ended, Waited& waited) {
  auto record = [&](std::uint64_t id, const api::Json& job) {
    if (!is_terminal_name(job["state"].get<std::string>())) return;
    if (!quiet) print_text(ended_line(job));
    ended[id] = job;
  };
  for (std::size_t i = 0; i < candidates.size();) {
    std::size_t last = i;
    while (last + 1 < candidates.size() && candidates[last + 1] == candidates[last] + 1) ++last;
    const std::uint64_t first_id = candidates[i];
    const std::uint64_t last_id = candidates[last];
    // brief: only the state, exit code and signal are read here, not the environment.
    Result<api::Json> page = client.get(
        fmt::format("/v1/jobs?after={}&limit={}&brief=true", first_id - 1, last_id - first_id + 1));
    if (!page.ok()) return page.status();
    std::set<std::uint64_t> seen;
    for (const api::Json& job : (*page)["jobs"]) {
      const auto id = job["id"].get<std::uint64_t>();
      if (id < first_id || id > last_id) continue;
      seen.insert(id);
      record(id, job);
    }
    for (std::size_t k = i; k <= last; ++k) {
      if (seen.contains(candidates[k])) continue;
      Result<api::Json> job = client.get(fmt::format("/v1/jobs/{}", candidates[k]));
      const ErrorCode code = job.ok() ? ErrorCode::kOk : job.status().code();
      if ((code == ErrorCode::kNotFound || code == ErrorCode::kFailedPrecondition) &&
          waited.from_range.contains(candidates[k])) {
        waited.missing.insert(candidates[k]);
        continue;
      }
      if (!job.ok()) return job.status();
      record(candidates[k], *job);
    }
    i = last + 1;
  }
  return {};
}

}  // namespace

// The jobs of `ids` (in their order, each once as given) that exist and have not ended.
std::vector<std::uint64_t> not_ended(const std::vector<std::uint64_t>& ids, const Waited& waited,
                                     const std::map<std::uint64_t, api::Json>& ended) {
  std::vector<std::uint64_t> left;
  for (std::uint64_t id : ids) {
    if (!ended.contains(id) && !waited.missing.contains(id)) left.push_back(id);
  }
  return left;
}

// Polls until every job ended or the deadline passed; fills `ended` by id. Each round asks
// for the caller's unfinished jobs once and reads only the jobs that left that list, so a
// wait on thousands of jobs costs a few requests per round; rounds start 50 ms apart and
// slow down to one per kPollInterval.
Status wait_for(ReconnectingClient& client, Waited& waited,
                std::optional<std::chrono::steady_clock::time_point> deadline, bool quiet,
                std::map<std::uint64_t, api::Json>& ended,
                const std::function<void()>& between_rounds) {
  std::vector<std::uint64_t> waiting(waited.ids.begin(), waited.ids.end());
  std::sort(waiting.begin(), waiting.end());
  waiting.erase(std::unique(waiting.begin(), waiting.end()), waiting.end());
  auto pause = std::chrono::milliseconds(50);
  while (true) {
    Result<std::vector<std::uint64_t>> unfinished = unfinished_jobs(client);
    if (!unfinished.ok()) return unfinished.status();
    const std::set<std::uint64_t> still(unfinished->begin(), unfinished->end());
    std::vector<std::uint64_t> candidates;
    for (std::uint64_t id : waiting) {
      if (!ended.contains(id) && !waited.missing.contains(id) && !still.contains(id)) {
        candidates.push_back(id);
      }
    }
    FASTGPU_RETURN_IF_ERROR(collect_ended(client, candidates, quiet, ended, waited));
    const std::size_t found = waiting.size() - waited.missing.size();
    if (ended.size() == found) return {};
    if (deadline && std::chrono::steady_clock::now() >= *deadline) {
      std::vector<std::uint64_t> left = not_ended(waiting, waited, ended);
      constexpr std::size_t kNamed = 10;
      const std::string more = left.size() > kNamed ? ", ..." : "";
      left.resize(std::min(left.size(), kNamed));
      return unavailable(
          fmt::format("{} of {} job(s) had not ended (queued or running) at the "
                      "--timeout: {}{}",
                      found - ended.size(), found, fmt::join(left, ", "), more));
    }
    if (between_rounds) between_rounds();
    std::this_thread::sleep_for(pause);
    pause = std::min(kPollInterval, pause * 2);
  }
}

api::Json ended_json(std::uint64_t id, const api::Json& job) {
  return {{"id", id},
          {"state", job["state"]},
          {"exit_code", job["exit_code"]},
          {"signal", job["signal"]},
          {"end_reason", job.value("end_reason", api::Json(nullptr))}};
}

int exit_status_of(const api::Json& job) {
  if (job.value("state", std::string()) == "COMPLETED") return kExitOk;
  const auto code = job.find("exit_code");
  if (code != job.end() && code->is_number_integer() && code->get<int>() != 0) {
    return std::clamp(code->get<int>(), 1, 255);
  }
  const auto signal = job.find("signal");
  if (signal != job.end() && signal->is_number_integer() && signal->get<int>() > 0) {
    return std::min(128 + signal->get<int>(), 255);
  }
  return kExitFailure;
}

}  // namespace fastgpu::cli
