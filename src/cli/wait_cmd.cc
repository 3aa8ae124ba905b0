// `fastgpu wait ID...|--all`: wait until jobs end; exit 1 if any did not complete.

#include <fmt/format.h>

#include <map>
#include <memory>
#include <thread>

#include "cli/daemon_client.h"
#include "fastgpu/core/units.h"

namespace fastgpu::cli {
namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(250);

struct WaitOptions {
  DaemonFlags daemon;
  std::vector<std::string> ids;
  bool all = false;
  std::string timeout;
};

bool is_terminal_name(const std::string& state) {
  return state == "COMPLETED" || state == "FAILED" || state == "CANCELLED" || state == "TIMEOUT";
}

Result<std::vector<std::uint64_t>> unfinished_jobs(const api::ApiClient& client) {
  Result<api::Json> reply = client.get("/v1/jobs?state=QUEUED,RUNNING,PREEMPTED");
  if (!reply.ok()) return reply.status();
  std::vector<std::uint64_t> ids;
  for (const api::Json& job : (*reply)["jobs"]) ids.push_back(job["id"].get<std::uint64_t>());
  return ids;
}

std::string ended_line(const api::Json& job) {
  std::string line =
      fmt::format("job {}: {}", job["id"].get<std::uint64_t>(), job["state"].get<std::string>());
  if (!job["exit_code"].is_null()) line += fmt::format(" (exit {})", job["exit_code"].get<int>());
  if (!job["signal"].is_null()) line += fmt::format(" (signal {})", job["signal"].get<int>());
  return line + "\n";
}

// Polls until every job ended or the deadline passed; fills `ended` by id.
Status wait_for(const api::ApiClient& client, const std::vector<std::uint64_t>& ids,
                std::optional<std::chrono::steady_clock::time_point> deadline, bool quiet,
                std::map<std::uint64_t, api::Json>& ended) {
  while (ended.size() < ids.size()) {
    for (std::uint64_t id : ids) {
      if (ended.contains(id)) continue;
      Result<api::Json> job = client.get(fmt::format("/v1/jobs/{}", id));
      if (!job.ok()) return job.status();
      if (!is_terminal_name((*job)["state"].get<std::string>())) continue;
      if (!quiet) print_text(ended_line(*job));
      ended[id] = *job;
    }
    if (ended.size() == ids.size()) break;
    if (deadline && std::chrono::steady_clock::now() >= *deadline) {
      return unavailable(fmt::format("{} of {} job(s) still running at the --timeout",
                                     ids.size() - ended.size(), ids.size()));
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  return {};
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
  Result<std::vector<std::uint64_t>> ids = parse_job_ids(options.ids);
  if (!ids.ok()) return usage_error("wait", ids.status().message());
  Result<api::ApiClient> client = connect_daemon(options.daemon, "wait");
  if (!client.ok()) return fail("wait", client.status());
  if (options.all) {
    ids = unfinished_jobs(*client);
    if (!ids.ok()) return fail("wait", ids.status());
  }
  std::map<std::uint64_t, api::Json> ended;
  const Status waited = wait_for(*client, *ids, deadline, options.daemon.json, ended);
  bool all_completed = waited.ok();
  api::Json jobs = api::Json::array();
  for (const auto& [id, job] : ended) {
    all_completed = all_completed && job["state"] == "COMPLETED";
    jobs.push_back({{"id", id}, {"state", job["state"]}, {"exit_code", job["exit_code"]}});
  }
  if (options.daemon.json) print_json({{"jobs", jobs}, {"all_completed", all_completed}});
  if (!waited.ok()) return fail("wait", waited);
  return all_completed ? kExitOk : kExitFailure;
}

}  // namespace

void add_wait_command(CLI::App& app, CommandOutcome& outcome) {
  auto options = std::make_shared<WaitOptions>();
  CLI::App* command = app.add_subcommand(
      "wait", "Wait until jobs end; exit 1 if any did not complete (failed, cancelled, timed out)");
  command->add_option("ID", options->ids, "Job ids");
  command->add_flag("--all", options->all, "Every job of yours that has not ended yet");
  command
      ->add_option("--timeout", options->timeout, "Give up after this long (e.g. 90s, 10m), exit 1")
      ->type_name("DURATION");
  add_daemon_flags(*command, options->daemon);
  command->callback([options, &outcome] { outcome.exit_code = run_wait(*options); });
}

}  // namespace fastgpu::cli
