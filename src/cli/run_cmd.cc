// `fastgpu run FILE.yaml`: submit a batch from a job file, show its progress,
// wait for it, then print the batch report (per job, and makespan, utilization,
// GPU-hours, energy and speedup against running the jobs one after another).

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <limits>
#include <memory>
#include <set>
#include <thread>

#include "cli/chart_file.h"
#include "cli/daemon_client.h"
#include "cli/display_width.h"
#include "cli/run_chart.h"
#include "cli/run_progress.h"
#include "cli/submit_context.h"
#include "fastgpu/core/text.h"
#include "fastgpu/engine/job_file.h"
#include "fastgpu/engine/report.h"

namespace fastgpu::cli {
namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(250);

struct RunOptions {
  DaemonFlags daemon;
  std::string file;
  std::vector<std::string> script_args;  // after a script's path, as sbatch passes them
  std::string chart;  // --chart: also draw the batch's charts here (.svg or .html)
};

// The batch's jobs as the daemon reports them now; ids of one batch are
// consecutive.
Result<std::vector<api::Json>> batch_jobs(ReconnectingClient& client,
                                          const std::vector<std::uint64_t>& ids) {
  const std::uint64_t first = ids.front();
  // brief: without each job's environment, which neither the progress nor the report reads
  // and which is nearly all of a listing's bytes.
  Result<api::Json> reply =
      client.get(fmt::format("/v1/jobs?after={}&limit={}&brief=true", first - 1, ids.size()));
  if (!reply.ok()) return reply.status();
  const std::set<std::uint64_t> wanted(ids.begin(), ids.end());
  std::vector<api::Json> jobs;
  for (const api::Json& job : (*reply)["jobs"]) {
    if (wanted.contains(job["id"].get<std::uint64_t>())) jobs.push_back(job);
  }
  if (jobs.size() != ids.size()) {
    return internal_error(
        fmt::format("the daemon lists {} of the batch's {} jobs", jobs.size(), ids.size()));
  }
  return jobs;
}

// Waits until every job ended, drawing progress on a terminal (one line,
// redrawn) or as plain lines when anything changes; across a daemon that goes away.
// What Ctrl-C says while `run` follows its batch: the jobs are the daemon's and go on, so
// the user learns how to stop them. So do SIGTERM (`timeout 2h fastgpu run`, a CI runner's
// cancel) and SIGHUP (a closed ssh session), which ended `run` silently. Written by the
// handler with write(2), the only output call allowed there; the texts are made before the
// handler is installed. With --json, stdout gets a document too (a `| jq` had nothing).
std::string interrupt_note;
std::string interrupt_json;

extern "C" void on_interrupt(int signal) {
  ssize_t ignored = ::write(STDERR_FILENO, interrupt_note.data(), interrupt_note.size());
  if (!interrupt_json.empty()) {
    ignored = ::write(STDOUT_FILENO, interrupt_json.data(), interrupt_json.size());
  }
  (void)ignored;
  ::_exit(128 + signal);  // as a shell reports a command a signal ended: 130 for Ctrl-C
}

void say_how_to_stop_on_interrupt(const std::vector<std::uint64_t>& ids, bool json) {
  const std::string range = id_range(ids.front(), ids.back());
  interrupt_note = fmt::format(
      "\nfastgpu run: stopped following; the batch's jobs go on (`fastgpu queue` lists them, "
      "`fastgpu wait {0}` follows them again, `fastgpu cancel {0}` cancels them)\n",
      range);
  if (json) {
    interrupt_json = api::Json{{"ids", ids},
                               {"finished", false},
                               {"note", "stopped following; the batch's jobs go on"}}
                         .dump() +
                     "\n";
  }
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  ::sigemptyset(&action.sa_mask);
  for (const int signal : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(signal, &action, nullptr);
}

Result<std::vector<api::Json>> follow(ReconnectingClient& client,
                                      const std::vector<std::uint64_t>& ids, bool quiet) {
  const bool terminal = !quiet && ::isatty(STDOUT_FILENO) != 0;
  const auto started = std::chrono::steady_clock::now();
  std::optional<BatchProgress> shown;
  while (true) {
    Result<std::vector<api::Json>> jobs = batch_jobs(client, ids);
    if (!jobs.ok()) return jobs.status();
    const BatchProgress progress = count_progress(*jobs);
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (terminal) {
      // One column spare: a line that fills the last column wraps on some terminals.
      // Read at each redraw (a window may be resized); 80 where the terminal does not say.
      const std::size_t width = terminal_columns(STDOUT_FILENO);
      const std::size_t columns = std::max<std::size_t>(width == 0 ? 80 : width, 2) - 1;
      print_text("\r\x1b[K" + progress_line(progress, ids.size(), elapsed, columns));
    } else if (!quiet && shown != progress) {
      print_text(progress_text(progress, ids.size(), elapsed) + "\n");
    }
    shown = progress;
    if (progress.done() == ids.size()) {
      if (terminal) print_text("\n");
      return jobs;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

// The GPUs the batch could use and what they are ("simulated" or "nvml").
struct GpuFacts {
  std::uint32_t count = 0;
  std::string source;
  std::string note;
};

Result<GpuFacts> gpu_facts(ReconnectingClient& client) {
  Result<api::Json> gpus = client.get("/v1/gpus");
  if (!gpus.ok()) return gpus.status();
  return GpuFacts{static_cast<std::uint32_t>((*gpus)["devices"].size()),
                  (*gpus)["source"].get<std::string>(), (*gpus)["note"].get<std::string>()};
}

Result<std::vector<std::uint64_t>> submit_file(const api::ApiClient& client,
                                               const std::vector<store::JobSpec>& specs) {
  Result<api::Json> reply = client.post("/v1/jobs", api::job_batch_to_json(specs));
  if (!reply.ok()) return reply.status();
  return (*reply)["ids"].get<std::vector<std::uint64_t>>();
}

// Under the report, where to read why the jobs that did not complete ended: "" when all did.
std::string not_completed_note(const std::vector<api::Json>& jobs) {
  constexpr std::size_t kListed = 10;
  std::string listed;
  std::size_t count = 0;
  std::set<std::string> states;  // of the jobs that did not complete, for resubmit's --state
  std::uint64_t first = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t last = 0;
  for (const api::Json& job : jobs) {
    const std::uint64_t id = job["id"].get<std::uint64_t>();
    first = std::min(first, id);
    last = std::max(last, id);
    const std::string state = job["state"].get<std::string>();
    if (state == "COMPLETED") continue;
    states.insert(ascii_lower(state));
    if (++count <= kListed) {
      listed += fmt::format("{}{} ({})", listed.empty() ? "" : ", ", id, state);
    }
  }
  if (count == 0) return "";
  if (count > kListed) listed += fmt::format(" and {} more", count - kListed);
  // A batch's ids follow one another; resubmit takes the range's jobs that ended so, and
  // carries their dependencies on one another.
  const std::string ids = id_range(first, last);
  return fmt::format(
      "{} job(s) did not complete: {}; `fastgpu show ID` says how each ended, "
      "`fastgpu logs ID` shows its output, and `fastgpu resubmit {} --state {}` runs them "
      "again\n",
      count, listed, ids, fmt::join(states, ","));
}

int report(const std::vector<api::Json>& jobs, const GpuFacts& gpus, const RunOptions& options) {
  const bool json = options.daemon.json;
  Result<std::vector<store::JobRecord>> records = job_records(jobs);
  if (!records.ok()) return fail("run", records.status());
  const engine::BatchReport batch = engine::make_batch_report(*records, gpus.count);
  const bool simulated = gpus.source == "simulated";
  if (json) {
    api::Json out = engine::batch_report_json(batch);
    out["gpus_source"] = gpus.source;
    out["gpus_note"] = gpus.note;
    print_json(out);
  } else {
    if (simulated) {
      print_text(fmt::format("{}\njobs are real processes; GPUs are simulated\n", gpus.note));
    }
    print_text(engine::render_batch_report_table(batch));
    print_text(not_completed_note(jobs));
  }
  // After the report: a chart that cannot be written (a disk filled meanwhile) loses nothing.
  if (!options.chart.empty()) {
    const Status written = sim::write_charts(options.chart, batch_charts(*records, gpus.count),
                                             "fastgpu run " + options.file);
    if (!written.ok()) return fail("run", written);
  }
  return count_progress(jobs).failed == 0 ? kExitOk : kExitFailure;
}

int run_batch(const RunOptions& options) {
  // Before anything is submitted: no batch runs for a chart that cannot be written.
  if (const std::optional<Failure> chart = check_chart_path(options.chart)) {
    return report_failure("run", *chart);
  }
  Result<JobFile> file =
      load_job_file(options.file, /*inherit_environment=*/true, options.script_args);
  if (!file.ok()) return fail("run", file.status());
  if (file->script) tell_left_out("run", options.file, *file->script);
  std::vector<store::JobSpec>& specs = file->specs;
  // A batch is taken whole or not at all: a job whose program is not there refuses it, at
  // its place in the file.
  if (std::optional<MissingProgram> missing = first_missing_program(specs)) {
    return fail("run", invalid_argument(fmt::format("{}: {} (nothing was submitted)",
                                                    file->places[missing->index], missing->why)));
  }
  give_callers_umask_and_limits(specs);
  Result<ReconnectingClient> client = connect_following(options.daemon, "run");
  if (!client.ok()) return fail("run", client.status());
  Result<GpuFacts> gpus = gpu_facts(*client);
  if (!gpus.ok()) return fail("run", gpus.status());
  // Sent once: a batch sent again after a daemon went away mid-request could run twice.
  Result<std::vector<std::uint64_t>> ids = submit_file(client->once(), specs);
  if (!ids.ok()) {
    // The daemon checks what only it knows (the GPUs there are) and names the job by its
    // place in the batch; said here at its place in the file, as the file's own errors are
    // (every refused job at once).
    const Status& refused = ids.status();
    return fail("run", Status(refused.code(), engine::locate_batch_error(
                                                  refused, specs, file->places, options.file)));
  }
  if (!options.daemon.json) {
    print_text(ids->size() == 1
                   ? fmt::format("submitted 1 job from {}: id {}\n", options.file, ids->front())
                   : fmt::format("submitted {} jobs from {}: ids {}-{}\n", ids->size(),
                                 options.file, ids->front(), ids->back()));
    // A job the file holds waits for its release: said once, where else `run` would seem to
    // wait for nothing.
    std::vector<std::uint64_t> held;
    for (std::size_t i = 0; i < specs.size() && i < ids->size(); ++i) {
      if (specs[i].held_by) held.push_back((*ids)[i]);
    }
    if (!held.empty()) {
      print_text(
          fmt::format("held (hold: true): {}; `fastgpu release {}` lets {} start, and run "
                      "waits for {}\n",
                      fmt::join(held, ", "), fmt::join(held, " "), held.size() == 1 ? "it" : "them",
                      held.size() == 1 ? "it" : "them"));
    }
  }
  say_how_to_stop_on_interrupt(*ids, options.daemon.json);
  Result<std::vector<api::Json>> jobs = follow(*client, *ids, options.daemon.json);
  if (!jobs.ok()) return fail("run", jobs.status());
  return report(*jobs, *gpus, options);
}

}  // namespace

void add_run_command(CLI::App& app, CommandOutcome& outcome) {
  auto options = std::make_shared<RunOptions>();
  CLI::App* command =
      app.add_subcommand("run",
                         "Run a batch from a YAML job file (or a script with #FASTGPU lines), "
                         "wait for it and print its report (exit 1 if any job failed)");
  command
      ->add_option("FILE", options->file,
                   "The job file (docs/job-files.md), or a batch script (#! on its first line) "
                   "whose #FASTGPU lines give its flags: one job, as `fastgpu submit ./SCRIPT`")
      ->required();
  command
      ->add_option("ARGS", options->script_args,
                   "For a batch script: its arguments, as sbatch passes the words after the "
                   "script (after --, when one starts with -: run train.sh -- --lr 0.1)")
      ->type_name("[ARGS...]");
  add_daemon_flags(*command, options->daemon);
  command->add_option("--chart", options->chart,
                      "Also draw the batch's jobs and GPUs over time into FILE.svg or FILE.html");
  command->callback([options, &outcome] { outcome.exit_code = run_batch(*options); });
}

}  // namespace fastgpu::cli
