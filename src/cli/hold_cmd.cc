// `fastgpu hold ID...`, `fastgpu release ID...` and `fastgpu update ID... --priority N
// --time T ...`: change queued jobs without cancelling them (they keep their place, their id
// and the jobs that wait for them), and a running job's time limit, as Slurm's scontrol
// hold, release and update do.

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include "cli/daemon_client.h"
#include "fastgpu/core/units.h"
#include "fastgpu/engine/job_file.h"

namespace fastgpu::cli {
namespace {

struct ChangeOptions {
  DaemonFlags daemon;
  std::vector<std::string> ids;
  bool all = false;                 // every queued job of the caller's
  std::optional<std::string> name;  // --name: the queued ones of these names
  engine::UpdateOptions update;     // `update` only
};

// The request's body: the fields `update` changes, as docs/api.md has them.
api::Json update_body(const store::QueuedJobChange& change) {
  api::Json body = api::Json::object();
  const auto or_null = [](const std::optional<std::int64_t>& value) {
    return value ? api::Json(*value) : api::Json(nullptr);
  };
  if (change.priority) body["priority"] = *change.priority;
  if (change.time_limit_s) body["time_limit_s"] = or_null(*change.time_limit_s);
  if (change.kill_grace_s) body["grace_s"] = or_null(*change.kill_grace_s);
  if (change.deadline) {
    body["deadline_us"] = change.deadline->has_value()
                              ? api::Json((*change.deadline)->time_since_epoch().count())
                              : api::Json(nullptr);
  }
  return body;
}

// "job 12: held", "job 12: priority 5, time limit 4h", from the job as the daemon answered
// (read with defaults: an answer without a field prints "-", never stops the command).
std::string changed_text(std::uint64_t id, const std::string& verb, const api::Json& job,
                         const api::Json& body) {
  if (verb == "hold") {
    const api::Json held_by = job.value("held_by", api::Json());
    const bool by_root =
        held_by.is_number() && held_by.get<std::uint32_t>() == 0 && ::getuid() != 0;
    return fmt::format("job {}: held{}; `fastgpu release {}` lets it start\n", id,
                       by_root ? " by root, who alone releases it" : "", id);
  }
  if (verb == "release") return fmt::format("job {}: released\n", id);
  const api::Json spec = job.value("spec", api::Json::object());
  const auto field = [&spec](const char* name) { return spec.value(name, api::Json()); };
  const auto seconds = [&field](const char* name, const char* none) {
    const api::Json value = field(name);
    return value.is_number() ? format_duration(Seconds(value.get<double>())) : std::string(none);
  };
  std::vector<std::string> parts;
  if (body.contains("priority")) {
    const api::Json priority = field("priority");
    parts.push_back("priority " + (priority.is_number() ? priority.dump() : std::string("-")));
  }
  if (body.contains("time_limit_s") || body.contains("time_limit_step_s")) {
    std::string part = "time limit " + seconds("time_limit_s", "unlimited");
    // A running job's limit counts from its start: say when it now ends at the latest.
    if (const std::optional<std::int64_t> sigterm_us = limit_sigterm_us(job)) {
      const double left_s = static_cast<double>(*sigterm_us - now_micros()) / 1e6;
      part += fmt::format(" (running: SIGTERM in {} at the latest)",
                          format_duration(Seconds(std::max(0.0, left_s))));
    }
    parts.push_back(std::move(part));
  }
  if (body.contains("grace_s")) parts.push_back("grace " + seconds("grace_s", "the daemon's"));
  if (body.contains("deadline_us")) {
    const api::Json deadline = field("deadline_us");
    parts.push_back("deadline " + (deadline.is_number_integer()
                                       ? api::iso_time(store::WallTime(std::chrono::microseconds(
                                             deadline.get<std::int64_t>())))
                                       : std::string("none")));
  }
  return fmt::format("job {}: {}\n", id, fmt::join(parts, ", "));
}

// `--time +1h` or `--time=-30m`: each job's present limit moved by that much, as Slurm's
// TimeLimit=+60; nullopt for a whole limit. Takes the step out of `update`, leaving the
// other fields.
Result<std::optional<std::int64_t>> take_limit_step(engine::UpdateOptions& update) {
  if (!update.time || update.time->empty()) return std::optional<std::int64_t>();
  const char sign = update.time->front();
  if (sign != '+' && sign != '-') return std::optional<std::int64_t>();
  engine::UpdateOptions step;
  step.time = update.time->substr(1);
  Result<store::QueuedJobChange> parsed = engine::build_queued_change(step, store::WallTime{});
  if (!parsed.ok() || !parsed->time_limit_s->has_value()) {
    return invalid_argument(fmt::format(
        "time limit step '{}': give a duration after the {} (e.g. --time +1h, --time=-30m){}",
        *update.time, sign, parsed.ok() ? "" : ": " + parsed.status().message()));
  }
  update.time.reset();
  const std::int64_t seconds = **parsed->time_limit_s;
  return std::optional(sign == '-' ? -seconds : seconds);
}

int run_change(const ChangeOptions& options, const std::string& verb) {
  const bool by_selection = options.all || options.name;
  if (by_selection == !options.ids.empty()) {
    return usage_error(verb, fmt::format("give job ids (or ranges), or --all or --name NAME (not "
                                         "both), e.g. `fastgpu {} 12 15-40` or `fastgpu {} "
                                         "--name sweep`",
                                         verb, verb));
  }
  api::Json body = api::Json::object();
  if (verb == "update") {
    engine::UpdateOptions update = options.update;
    Result<std::optional<std::int64_t>> step = take_limit_step(update);
    if (!step.ok()) return usage_error(verb, step.status().message());
    if (!*step || update.priority || update.grace || update.deadline) {
      Result<store::QueuedJobChange> change = engine::build_queued_change(
          update, store::WallTime(std::chrono::microseconds(now_micros())));
      if (!change.ok()) return usage_error(verb, change.status().message());
      body = update_body(*change);
    }
    // --time +1h: the daemon moves each job's limit as it reads it, in one request.
    if (*step) body["time_limit_step_s"] = **step;
  }
  std::string names;
  if (options.name) {
    Result<std::string> query = name_query(*options.name);
    if (!query.ok()) return usage_error(verb, query.status().message());
    names = *query;
  }
  Result<std::vector<JobIdArgument>> ids = parse_job_id_ranges(options.ids);
  if (!ids.ok()) return usage_error(verb, ids.status().message());
  Result<api::ApiClient> client = connect_daemon(options.daemon, verb);
  if (!client.ok()) return fail(verb, client.status());
  // Of a running job only the time limit changes: `update --time` alone selects those too.
  const bool limit_only =
      body.size() == 1 && (body.contains("time_limit_s") || body.contains("time_limit_step_s"));
  const std::string selected = limit_only ? "queued or running" : "queued";
  if (by_selection) {
    Result<api::Json> mine =
        client->get(std::string("/v1/jobs?state=") + (limit_only ? "QUEUED,RUNNING" : "QUEUED") +
                    "&ids_only=true" + names);
    if (!mine.ok()) return fail(verb, mine.status());
    for (std::uint64_t id : (*mine)["ids"].get<std::vector<std::uint64_t>>()) {
      ids->push_back({id, true});
    }
    if (ids->empty()) {
      // As an unknown id is: a name mistyped must not read as done.
      return fail(verb,
                  not_found(options.name ? fmt::format("no job of yours named {} is {}; `fastgpu "
                                                       "queue` lists them",
                                                       *options.name, selected)
                                         : "no job of yours is " + selected));
    }
  }
  int exit_code = kExitOk;
  api::Json results = api::Json::array();
  // Ranges and selections name what `queue` showed a moment ago: a member that has started
  // or ended since, or that is not the caller's, is counted, not a failure.
  std::size_t not_queued = 0;
  std::size_t unknown = 0;
  for (const JobIdArgument& argument : *ids) {
    const std::uint64_t id = argument.id;
    Result<api::Json> job = client->post(fmt::format("/v1/jobs/{}/{}", id, verb), body);
    if (!job.ok()) {
      results.push_back({{"id", id}, {"error", job.status().message()}});
      const ErrorCode code = job.status().code();
      if (argument.from_range && code == ErrorCode::kFailedPrecondition) {
        ++not_queued;
      } else if (argument.from_range && code == ErrorCode::kNotFound) {
        ++unknown;
      } else {
        exit_code = fail(verb, job.status());
      }
      continue;
    }
    results.push_back(*job);
    if (!options.daemon.json) print_text(changed_text(id, verb, *job, body));
  }
  if (options.daemon.json) print_json({{"jobs", results}});
  if (!by_selection && unknown > 0 && unknown == results.size()) {
    return fail(verb, not_found(fmt::format("none of the {} job id(s) in the ranges exists; "
                                            "`fastgpu queue` lists your jobs",
                                            unknown)));
  }
  if (not_queued + unknown > 0) {
    std::fprintf(stderr,
                 "fastgpu %s: %s, %zu job(s) are no longer %s or are not yours and %zu do "
                 "not exist; those were left as they are\n",
                 verb.c_str(),
                 by_selection ? "of the jobs listed a moment before" : "in the ranges", not_queued,
                 selected.c_str(), unknown);
  }
  return exit_code;
}

CLI::App* add_change_command(CLI::App& app, CommandOutcome& outcome, const std::string& verb,
                             const std::string& help, std::shared_ptr<ChangeOptions> options) {
  CLI::App* command = app.add_subcommand(verb, help);
  command->add_option("ID", options->ids,
                      "Job ids, or ranges of them as queue shows an array's waiting members "
                      "(12-40)");
  command->add_flag("--all", options->all, "Every queued job of yours");
  command->add_option("--name", options->name,
                      "Every queued job of yours of these names (comma-separated)");
  add_daemon_flags(*command, options->daemon);
  command->callback([options, verb, &outcome] { outcome.exit_code = run_change(*options, verb); });
  return command;
}

}  // namespace

void add_hold_commands(CLI::App& app, CommandOutcome& outcome) {
  add_change_command(app, outcome, "hold",
                     "Keep queued jobs from starting until released; they keep their place "
                     "(as scontrol hold)",
                     std::make_shared<ChangeOptions>());
  add_change_command(app, outcome, "release",
                     "Let held jobs start again (a job root held, only root releases)",
                     std::make_shared<ChangeOptions>());
  auto options = std::make_shared<ChangeOptions>();
  CLI::App* update = add_change_command(
      app, outcome, "update",
      "Change queued jobs' priority, time limit, grace or deadline, keeping their place in "
      "the queue, or a running job's time limit (as scontrol update)",
      options);
  update->add_option("--priority", options->update.priority,
                     "Integer; larger runs first under the priority policy");
  update->add_option("-t,--time", options->update.time,
                     "Time limit: 90m, 2h, 1-00:00:00, or unlimited; a bare number is MINUTES. "
                     "+1h or --time=-30m moves each job's present limit. A running job's "
                     "counts from its start");
  update->add_option("--grace", options->update.grace,
                     "Time between SIGTERM and SIGKILL when the job is stopped: 30s, 5m");
  update->add_option("--deadline", options->update.deadline,
                     "Finish by: 2026-12-01T18:00 (local time), ...Z, now+6h; none clears it");
}

}  // namespace fastgpu::cli
