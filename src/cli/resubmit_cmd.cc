// `fastgpu resubmit ID... [--state FAILED,...] [submit's flags]`: queue jobs again as they
// were submitted (a job that timed out, ran out of memory or failed on a bug since fixed),
// each flag given in place of the job's own field. New jobs, new ids: the old ones, their
// records and logs stay as they are.

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cli/daemon_client.h"
#include "cli/submit_context.h"
#include "fastgpu/api/resubmit.h"
#include "fastgpu/core/text.h"
#include "fastgpu/engine/job_file.h"

namespace fastgpu::cli {
namespace {

struct ResubmitOptions {
  DaemonFlags daemon;
  std::vector<std::string> ids;
  std::optional<std::string> state;  // --state: only the jobs that ended so
  engine::SubmitOptions changes;
};

// The jobs the arguments name, by increasing id, each once, and how many of the ranges' ids
// were left out (not a job of yours, or not in --state). An id given alone that cannot be
// resubmitted fails the whole command: nothing is sent.
struct Picked {
  std::vector<store::JobRecord> jobs;
  std::size_t left_out = 0;
};

// `state_list`: --state as the daemon's ?state= takes it ("FAILED,TIMEOUT"), empty for all.
Status check_state(const store::JobRecord& job, const std::string& state_list) {
  if (state_list.empty()) return {};
  const std::string_view state = store::job_state_name(job.state);
  const std::vector<std::string_view> states =
      split_commas(state_list).value_or(std::vector<std::string_view>{});
  if (std::find(states.begin(), states.end(), state) != states.end()) return {};
  return failed_precondition(
      fmt::format("job {} is {}, not {} as --state asks; leave it out, or widen --state",
                  job.id.value(), state, state_list));
}

Result<store::JobRecord> record_of(const api::Json& json) {
  Result<store::JobRecord> record = api::job_record_from_json(json);
  if (!record.ok()) return record.status().with_context("the daemon's answer for a job");
  return record;
}

// The jobs of the ranges, read a page of the daemon's listing at a time (ids increasing).
Status pick_from_ranges(const api::ApiClient& client, const std::set<std::uint64_t>& ids,
                        const std::string& state_list, Picked& picked) {
  constexpr std::uint64_t kPage = 1000;
  const std::uint64_t last = *ids.rbegin();
  std::uint64_t after = std::max<std::uint64_t>(*ids.begin(), 1) - 1;
  std::size_t found = 0;
  while (after < last) {
    const std::uint64_t limit = std::min(kPage, last - after);
    Result<api::Json> page =
        client.get(fmt::format("/v1/jobs?after={}&limit={}{}", after, limit,
                               state_list.empty() ? std::string() : "&state=" + state_list));
    if (!page.ok()) return page.status();
    const api::Json& jobs = (*page)["jobs"];
    for (const api::Json& json : jobs) {
      const std::uint64_t id = json["id"].get<std::uint64_t>();
      after = id;
      if (!ids.contains(id)) continue;
      Result<store::JobRecord> job = record_of(json);
      if (!job.ok()) return job.status();
      if (!api::check_resubmitter(*job, ::geteuid()).ok()) continue;
      picked.jobs.push_back(std::move(job).value());
      ++found;
    }
    if (jobs.size() < limit) break;
  }
  picked.left_out += ids.size() - found;
  return {};
}

Result<Picked> pick_jobs(const api::ApiClient& client, const std::vector<JobIdArgument>& ids,
                         const std::string& state_list) {
  Picked picked;
  std::set<std::uint64_t> from_ranges;
  for (const JobIdArgument& argument : ids) {
    if (argument.from_range) {
      from_ranges.insert(argument.id);
      continue;
    }
    Result<api::Json> json = client.get(fmt::format("/v1/jobs/{}", argument.id));
    if (!json.ok()) return json.status();
    Result<store::JobRecord> job = record_of(*json);
    if (!job.ok()) return job.status();
    FASTGPU_RETURN_IF_ERROR(api::check_resubmitter(*job, ::geteuid()));
    FASTGPU_RETURN_IF_ERROR(check_state(*job, state_list));
    picked.jobs.push_back(std::move(job).value());
  }
  // An id given alone and in a range too is read once, as given alone.
  for (const store::JobRecord& job : picked.jobs) from_ranges.erase(job.id.value());
  if (!from_ranges.empty()) {
    FASTGPU_RETURN_IF_ERROR(pick_from_ranges(client, from_ranges, state_list, picked));
  }
  // By id: a job's dependencies are on jobs before it, which come first in the batch.
  std::sort(picked.jobs.begin(), picked.jobs.end(),
            [](const store::JobRecord& a, const store::JobRecord& b) {
              return a.id.value() < b.id.value();
            });
  return picked;
}

// The daemon's refusal of jobs of the batch, each named by the job resubmitted.
std::string refusal_text(const Status& refused, const std::vector<store::JobRecord>& jobs) {
  const std::vector<BatchJobError>& refusals = refused.batch_jobs();
  if (refusals.empty()) return refused.message();
  std::string text = fmt::format("the daemon refused {} of the {} job(s); nothing was resubmitted:",
                                 refusals.size(), jobs.size());
  std::size_t told = 0;
  for (const BatchJobError& refusal : refusals) {
    if (++told > kMaxBatchErrorsTold) break;
    const std::string who = refusal.index < jobs.size()
                                ? fmt::format("job {}", jobs[refusal.index].id.value())
                                : fmt::format("job {} of the batch", refusal.index);
    text += fmt::format("\n  {} again: {}", who, refusal.problem);
  }
  if (refusals.size() > kMaxBatchErrorsTold) {
    text += fmt::format("\n  and {} more", refusals.size() - kMaxBatchErrorsTold);
  }
  return text;
}

// The first ten of `count` things, as `thing(i)` says each, comma-separated, then how many
// more.
std::string first_ten(std::size_t count, const std::function<std::string(std::size_t)>& thing) {
  std::string text;
  for (std::size_t i = 0; i < count && i < 10; ++i) text += (i == 0 ? "" : ", ") + thing(i);
  if (count > 10) text += fmt::format(" and {} more", count - 10);
  return text;
}

int run_resubmit(const ResubmitOptions& options) {
  if (options.ids.empty()) {
    return usage_error("resubmit",
                       "give the ids of the jobs to submit again (or ranges of them), e.g. "
                       "`fastgpu resubmit 12 --time 4h` or `fastgpu resubmit 12-40 --state "
                       "failed,timeout`");
  }
  Result<std::vector<JobIdArgument>> ids = parse_job_id_ranges(options.ids);
  if (!ids.ok()) return usage_error("resubmit", ids.status().message());
  std::string state_list;
  if (options.state) {
    Result<std::string> states = parse_state_list(*options.state, /*ended=*/true, "resubmit");
    if (!states.ok()) return usage_error("resubmit", states.status().message());
    state_list = *states;
  }
  Result<engine::SubmitContext> context = submit_context();
  if (!context.ok()) return fail("resubmit", context.status());
  // The flags are checked before the daemon is asked anything (a bad value is bad usage).
  {
    store::JobSpec probe;
    probe.argv = {"true"};
    // A job of one GPU: what the flags say can only be wrong of the flags themselves.
    Result<store::JobSpec> checked =
        engine::resubmitted_spec(JobId(1), probe, options.changes, *context);
    if (!checked.ok()) return usage_error("resubmit", checked.status().message());
  }
  Result<api::ApiClient> client = connect_daemon(options.daemon, "resubmit");
  if (!client.ok()) return fail("resubmit", client.status());
  Result<Picked> picked = pick_jobs(*client, *ids, state_list);
  if (!picked.ok()) return fail("resubmit", picked.status());
  const std::vector<store::JobRecord>& jobs = picked->jobs;
  if (jobs.empty()) {
    return fail("resubmit",
                not_found(fmt::format("none of the {} job id(s) in the ranges is a job of yours{}; "
                                      "`fastgpu history` lists your jobs",
                                      picked->left_out,
                                      state_list.empty() ? "" : " that ended " + state_list)));
  }
  std::vector<store::JobSpec> specs;
  for (const store::JobRecord& job : jobs) {
    Result<store::JobSpec> spec =
        engine::resubmitted_spec(job.id, job.spec, options.changes, *context);
    if (!spec.ok()) {
      return fail("resubmit", spec.status().with_context(fmt::format("job {}", job.id.value())));
    }
    specs.push_back(std::move(spec).value());
  }
  std::set<std::uint64_t> dropped;
  if (options.changes.after.empty()) {
    const api::JobReader read = [&client](std::uint64_t id) {
      return client->get(fmt::format("/v1/jobs/{}", id));
    };
    if (Status carried = api::carry_dependencies(read, jobs, specs, dropped); !carried.ok()) {
      return fail("resubmit", carried);
    }
  }
  // A program deleted or moved since the job ran is told now, not when the job's turn comes
  // (exit 127): a job that waits for another run again with it is not checked.
  if (std::optional<MissingProgram> missing = first_missing_program(specs)) {
    return fail("resubmit",
                failed_precondition(fmt::format("job {} again: {} (nothing was submitted)",
                                                jobs[missing->index].id.value(), missing->why)));
  }
  // Sent once: a batch sent again after a daemon went away mid-request could run twice.
  Result<api::Json> reply = client->post("/v1/jobs", api::job_batch_to_json(specs));
  if (!reply.ok()) {
    return fail("resubmit", Status(reply.status().code(), refusal_text(reply.status(), jobs)));
  }
  const auto new_ids = (*reply)["ids"].get<std::vector<std::uint64_t>>();
  if (options.daemon.json) {
    api::Json list = api::Json::array();
    for (std::size_t i = 0; i < jobs.size() && i < new_ids.size(); ++i) {
      list.push_back({{"id", new_ids[i]}, {"from", jobs[i].id.value()}});
    }
    print_json(
        {{"jobs", list},
         {"left_out", picked->left_out},
         {"dependencies_left_out", std::vector<std::uint64_t>(dropped.begin(), dropped.end())}});
    return kExitOk;
  }
  // As submit prints: the new ids, one a line, for a script to read.
  std::string text;
  for (std::uint64_t id : new_ids) text += fmt::format("{}\n", id);
  print_text(text);
  if (jobs.size() > 1 || picked->left_out > 0) {
    const std::string pairs = first_ten(std::min(jobs.size(), new_ids.size()), [&](std::size_t i) {
      return fmt::format("{} as {}", jobs[i].id.value(), new_ids[i]);
    });
    std::fprintf(
        stderr, "fastgpu resubmit: %zu job(s) submitted again (%s)%s\n", jobs.size(), pairs.c_str(),
        picked->left_out == 0
            ? ""
            : fmt::format("; {} id(s) of the ranges left out (not jobs of yours{})",
                          picked->left_out, state_list.empty() ? "" : " that ended " + state_list)
                  .c_str());
  }
  if (!dropped.empty()) {
    std::fprintf(stderr,
                 "fastgpu resubmit: not waited for again, as they have ended: job(s) %s "
                 "(--after gives new dependencies)\n",
                 first_ten(dropped.size(), [ids = std::vector<std::uint64_t>(
                                                dropped.begin(), dropped.end())](std::size_t i) {
                   return std::to_string(ids[i]);
                 }).c_str());
  }
  return kExitOk;
}

}  // namespace

void add_resubmit_command(CLI::App& app, CommandOutcome& outcome) {
  auto options = std::make_shared<ResubmitOptions>();
  CLI::App* command = app.add_subcommand(
      "resubmit",
      "Queue jobs again as they were submitted (command, folder, environment, resources), "
      "each flag given in place of the job's own: fastgpu resubmit 12 --time 4h");
  command->add_option("ID", options->ids,
                      "Job ids, or ranges of them (12-40: the jobs of yours among them)");
  command->add_option("--state", options->state,
                      "Only the jobs that ended so (comma-separated): COMPLETED, FAILED, "
                      "CANCELLED, TIMEOUT; e.g. --state failed,timeout");
  engine::add_resubmit_flags(*command, options->changes);
  add_daemon_flags(*command, options->daemon);
  command->footer(
      "A flag left out keeps the job's own value: the defaults above are submit's. The job's "
      "command is its own: to run another, use fastgpu submit.");
  command->callback([options, &outcome] {
    // A job id that `--restartable` took (add_resubmit_flags gives it back in argv).
    std::vector<std::string>& given = options->changes.argv;
    options->ids.insert(options->ids.begin(), given.begin(), given.end());
    given.clear();
    outcome.exit_code = run_resubmit(*options);
  });
}

}  // namespace fastgpu::cli
