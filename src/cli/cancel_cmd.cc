// `fastgpu cancel ID...`: cancel queued or running jobs.

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "cli/daemon_client.h"
#include "cli/job_stopping.h"

namespace fastgpu::cli {
namespace {

struct CancelOptions {
  DaemonFlags daemon;
  std::vector<std::string> ids;
  bool all = false;                 // every job of the caller's that has not ended
  std::optional<std::string> name;  // --name: those of these names (comma-separated)
};

// A running job's answer to its cancel, from the daemon's "stopping" object: when its
// SIGTERM went out and when SIGKILL comes. One that was already on its way out (cancelled
// before, past its time limit) got no new SIGTERM and keeps its SIGKILL moment; one past its
// time limit ends TIMEOUT all the same. `asked_us`: the moment the cancel was sent.
std::string stopping_text(std::uint64_t id, const api::Json& job, std::int64_t asked_us) {
  const auto found = job.find("stopping");
  if (found == job.end() || !found->is_object()) {
    // A daemon that does not say (one older than this command).
    return fmt::format(
        "job {}: stopping (SIGTERM now, SIGKILL after the grace period; "
        "`fastgpu wait {}` waits for its end)\n",
        id, id);
  }
  const api::Json& stopping = *found;
  const auto since = stopping.find("since_us");
  const bool before = since != stopping.end() && since->is_number_integer() &&
                      since->get<std::int64_t>() < asked_us;
  const bool time_limit = stopping.value("cause", std::string()) == "time limit";
  return fmt::format("job {}: {}: {}{}; `fastgpu wait {}` waits for its end\n", id,
                     before ? "already stopping" : "stopping (SIGTERM sent)",
                     stopping_details(stopping, now_micros(), ::geteuid()),
                     time_limit ? "; it ends TIMEOUT, not CANCELLED" : "", id);
}

int run_cancel(const CancelOptions& options) {
  const bool by_selection = options.all || options.name;
  if (by_selection == !options.ids.empty()) {
    return usage_error("cancel",
                       "give job ids (or ranges), or --all or --name NAME (not both), e.g. "
                       "`fastgpu cancel 12 15-40` or `fastgpu cancel --name sweep`");
  }
  std::string names;
  if (options.name) {
    Result<std::string> query = name_query(*options.name);
    if (!query.ok()) return usage_error("cancel", query.status().message());
    names = *query;
  }
  Result<std::vector<JobIdArgument>> ids = parse_job_id_ranges(options.ids);
  if (!ids.ok()) return usage_error("cancel", ids.status().message());
  Result<api::ApiClient> client = connect_daemon(options.daemon, "cancel");
  if (!client.ok()) return fail("cancel", client.status());
  if (by_selection) {
    // Your own jobs, root's too: as a range, one that ends meanwhile is counted, not an error.
    Result<api::Json> mine =
        client->get("/v1/jobs?state=QUEUED,RUNNING,PREEMPTED&ids_only=true" + names);
    if (!mine.ok()) return fail("cancel", mine.status());
    for (std::uint64_t id : (*mine)["ids"].get<std::vector<std::uint64_t>>()) {
      ids->push_back({id, true});
    }
    if (options.name && ids->empty()) {
      // As an unknown id is: a name mistyped must not read as done.
      return fail("cancel", not_found(fmt::format("no job of yours named {} is queued or "
                                                  "running; `fastgpu queue` lists them",
                                                  *options.name)));
    }
  }
  // Queued jobs first: a running one cancelled first frees its GPUs, and the daemon could
  // start a queued job of the same list (the next member of an array) before its turn.
  if (ids->size() > 1) {
    Result<api::Json> queued = client->get(std::string("/v1/jobs?state=QUEUED&ids_only=true") +
                                           (::getuid() == 0 ? "&all=true" : ""));
    if (!queued.ok()) return fail("cancel", queued.status());
    const auto waiting = (*queued)["ids"].get<std::set<std::uint64_t>>();
    std::stable_partition(ids->begin(), ids->end(), [&waiting](const JobIdArgument& argument) {
      return waiting.contains(argument.id);
    });
  }
  int exit_code = kExitOk;
  api::Json results = api::Json::array();
  // Ranges name what `queue` showed a moment ago: their members that have ended since, or
  // that are not the caller's, are counted, not failures.
  std::size_t ended_or_not_yours = 0;
  std::size_t unknown = 0;
  for (const JobIdArgument& argument : *ids) {
    const std::uint64_t id = argument.id;
    const std::int64_t asked_us = now_micros();
    Result<api::Json> job =
        client->post(fmt::format("/v1/jobs/{}/cancel", id), api::Json::object());
    if (!job.ok()) {
      results.push_back({{"id", id}, {"error", job.status().message()}});
      const ErrorCode code = job.status().code();
      if (argument.from_range && code == ErrorCode::kFailedPrecondition) {
        ++ended_or_not_yours;
      } else if (argument.from_range && code == ErrorCode::kNotFound) {
        ++unknown;
      } else {
        exit_code = fail("cancel", job.status());
      }
      continue;
    }
    const std::string state = (*job)["state"].get<std::string>();
    // A running job ends once its supervisor has stopped it: the answer comes before that.
    const bool stopping = state == "RUNNING";
    results.push_back({{"id", id}, {"state", state}, {"stopping", stopping}});
    if (!options.daemon.json) {
      print_text(stopping ? stopping_text(id, *job, asked_us)
                          : fmt::format("job {}: {}\n", id, state));
    }
  }
  if (options.daemon.json) print_json({{"jobs", results}});
  if (!by_selection && unknown > 0 && unknown == results.size()) {
    // Exit 0 would say the jobs were cancelled; there were none, as for a single unknown id.
    return fail("cancel", not_found(fmt::format("none of the {} job id(s) in the ranges exists; "
                                                "`fastgpu queue` and `fastgpu history` list "
                                                "your jobs",
                                                unknown)));
  }
  if (ended_or_not_yours + unknown > 0) {
    // --all and --name list the jobs a moment before: one may end in between. No range was
    // given then, and the line spoke of "the ranges".
    std::fprintf(stderr,
                 "fastgpu cancel: %s, %zu job(s) had already ended or are not yours and %zu do "
                 "not exist; those were left as they are\n",
                 by_selection ? "of the jobs listed a moment before" : "in the ranges",
                 ended_or_not_yours, unknown);
  }
  return exit_code;
}

}  // namespace

void add_cancel_command(CLI::App& app, CommandOutcome& outcome) {
  auto options = std::make_shared<CancelOptions>();
  CLI::App* command = app.add_subcommand(
      "cancel",
      "Cancel jobs: a queued job never runs, a running one is stopped (SIGTERM, then SIGKILL)");
  command->add_option("ID", options->ids,
                      "Job ids, or ranges of them as queue shows an array's waiting members "
                      "(12-40)");
  command->add_flag("--all", options->all, "Every job of yours that has not ended yet");
  command->add_option("--name", options->name,
                      "Every job of yours of these names (comma-separated) that has not ended "
                      "yet (as scancel --name)");
  add_daemon_flags(*command, options->daemon);
  command->callback([options, &outcome] { outcome.exit_code = run_cancel(*options); });
}

}  // namespace fastgpu::cli
