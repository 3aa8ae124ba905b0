// `fastgpu wait ID...|--all`: wait until jobs end; exit 1 if any did not complete.

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "cli/daemon_client.h"
#include "fastgpu/core/units.h"

namespace fastgpu::cli {
namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(500);

struct WaitOptions {
  DaemonFlags daemon;
  std::vector<std::string> ids;
  bool all = false;
  std::string timeout;
};

bool is_terminal_name(const std::string& state) {
  return state == "COMPLETED" || state == "FAILED" || state == "CANCELLED" || state == "TIMEOUT";
}

Result<std::vector<std::uint64_t>> unfinished_jobs(ReconnectingClient& client) {
  Result<api::Json> reply = client.get("/v1/jobs?state=QUEUED,RUNNING,PREEMPTED&ids_only=true");
  if (!reply.ok()) return reply.status();
  return (*reply)["ids"].get<std::vector<std::uint64_t>>();
}

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

std::string ended_line(const api::Json& job) {
  std::string line =
      fmt::format("job {}: {}", job["id"].get<std::uint64_t>(), job["state"].get<std::string>());
  if (!job["exit_code"].is_null()) line += fmt::format(" (exit {})", job["exit_code"].get<int>());
  if (!job["signal"].is_null()) line += fmt::format(" (signal {})", job["signal"].get<int>());
  if (const std::string why = why_not_completed(job); !why.empty()) line += ": " + why;
  return line + "\n";
}

// The ids to wait for; those given in a range may be missing (`wait 12-40` past the last
// job, as cancel takes it), and are then counted in `missing`, not an error.
struct Waited {
  std::vector<std::uint64_t> ids;
  std::set<std::uint64_t> from_range;
  std::set<std::uint64_t> missing;
};

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

// The jobs of `ids` (in their order, each once as given) that exist and have not ended.
template <typename Ids>
std::vector<std::uint64_t> not_ended(const Ids& ids, const Waited& waited,
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
                std::map<std::uint64_t, api::Json>& ended) {
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
    std::this_thread::sleep_for(pause);
    pause = std::min(kPollInterval, pause * 2);
  }
}

int run_wait(const WaitOptions& options) {
  if (options.all == !options.ids.empty()) {
    return usage_error("wait", "give job ids or --all (not both), e.g. `fastgpu wait 12 13`");
  }
  std::optional<std::chrono::steady_clock::time_point> deadline;
  if (!options.timeout.empty()) {
    Result<Seconds> timeout = parse_duration(options.timeout);
    if (!timeout.ok()) return usage_error("wait", "--timeout: " + timeout.status().message());
    deadline = std::chrono::steady_clock::now() +
               std::chrono::duration_cast<std::chrono::steady_clock::duration>(*timeout);
  }
  Result<std::vector<JobIdArgument>> arguments = parse_job_id_ranges(options.ids);
  if (!arguments.ok()) return usage_error("wait", arguments.status().message());
  Waited asked;
  for (const JobIdArgument& argument : *arguments) {
    asked.ids.push_back(argument.id);
    if (argument.from_range) asked.from_range.insert(argument.id);
  }
  Result<ReconnectingClient> client = connect_following(options.daemon, "wait");
  if (!client.ok()) return fail("wait", client.status());
  if (options.all) {
    Result<std::vector<std::uint64_t>> ids = unfinished_jobs(*client);
    if (!ids.ok()) return fail("wait", ids.status());
    asked.ids = *ids;
  }
  std::map<std::uint64_t, api::Json> ended;
  const Status waited = wait_for(*client, asked, deadline, options.daemon.json, ended);
  const std::set<std::uint64_t> distinct(asked.ids.begin(), asked.ids.end());
  if (!options.all && asked.missing.size() == distinct.size()) {
    // Exit 0 would say every job completed; there was none, as for a single unknown id.
    return fail("wait", not_found(fmt::format("none of the {} job id(s) in the ranges is a job "
                                              "of yours; `fastgpu queue` and `fastgpu history` "
                                              "list them",
                                              distinct.size())));
  }
  if (!asked.missing.empty()) {
    std::fprintf(stderr,
                 "fastgpu wait: in the ranges, %zu job(s) do not exist or are not yours; "
                 "waited for the others\n",
                 asked.missing.size());
  }
  bool all_completed = waited.ok();
  api::Json jobs = api::Json::array();
  for (const auto& [id, job] : ended) {
    all_completed = all_completed && job["state"] == "COMPLETED";
    jobs.push_back({{"id", id},
                    {"state", job["state"]},
                    {"exit_code", job["exit_code"]},
                    {"signal", job["signal"]},
                    {"end_reason", job.value("end_reason", api::Json(nullptr))}});
  }
  if (options.daemon.json) {
    // The jobs waited for that had not ended (at the --timeout, or when the wait failed).
    print_json({{"jobs", jobs},
                {"all_completed", all_completed},
                {"not_ended", not_ended(distinct, asked, ended)}});
  }
  if (!waited.ok()) return fail("wait", waited);
  return all_completed ? kExitOk : kExitFailure;
}

}  // namespace

void add_wait_command(CLI::App& app, CommandOutcome& outcome) {
  auto options = std::make_shared<WaitOptions>();
  CLI::App* command = app.add_subcommand(
      "wait", "Wait until jobs end; exit 1 if any did not complete (failed, cancelled, timed out)");
  command->add_option("ID", options->ids, "Job ids, or ranges of them (12-40)");
  command->add_flag("--all", options->all, "Every job of yours that has not ended yet");
  command
      ->add_option("--timeout", options->timeout, "Give up after this long (e.g. 90s, 10m), exit 1")
      ->type_name("DURATION");
  add_daemon_flags(*command, options->daemon);
  command->callback([options, &outcome] { outcome.exit_code = run_wait(*options); });
}

}  // namespace fastgpu::cli
