// `fastgpu submit [flags] -- COMMAND...` (or --wrap 'shell command'): queue one
// job, or one per index of --array. Prints the job id (one per line for an
// array). With --wait (as sbatch's) it stays until the jobs end and exits as they did;
// --follow also prints the job's output as it comes, as if it ran here.

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <pwd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "cli/daemon_client.h"
#include "cli/job_log.h"
#include "cli/job_wait.h"
#include "cli/submit_context.h"
#include "fastgpu/core/text.h"
#include "fastgpu/core/units.h"
#include "fastgpu/engine/job_file.h"

namespace fastgpu::cli {
namespace {

struct SubmitCommandOptions {
  engine::SubmitOptions submit;
  DaemonFlags daemon;
  bool wait = false;    // --wait: until the jobs end, exiting as they did
  bool follow = false;  // --follow: --wait, printing the job's output as it comes
};

// `submit jobs.yaml` (for `run jobs.yaml`) queued the file as a program, which then failed
// to start with advice to make it executable: a job file, not executable, is refused here.
Status not_a_job_file(const engine::SubmitOptions& options, const engine::SubmitContext& context) {
  if (options.argv.empty()) return Status::ok_status();
  const std::string& program = options.argv.front();
  const std::string lower = ascii_lower(program);
  if (!lower.ends_with(".yaml") && !lower.ends_with(".yml")) return Status::ok_status();
  // Where the daemon looks for it: from the job's working folder.
  const std::filesystem::path path = context.working_dir / options.workdir.value_or("") / program;
  if (::access(path.c_str(), X_OK) == 0) return Status::ok_status();  // a program after all
  return invalid_argument(fmt::format(
      "'{}' is a job file, not a program: `fastgpu run {}` submits the jobs it holds (and "
      "follows them; Ctrl-C leaves them running)",
      program, program));
}

// The new jobs' ids, one per line: what a script reads of `submit`.
void print_ids(const std::vector<std::uint64_t>& ids) {
  std::string text;
  for (std::uint64_t id : ids) text += std::to_string(id) + "\n";
  print_text(text);
}

// The signals that end a command at a terminal or under a supervisor: Ctrl-C, SIGTERM
// (`timeout`, a CI runner's cancel) and SIGHUP (a closed ssh session).
constexpr int kStopSignals[] = {SIGINT, SIGTERM, SIGHUP};

// While `submit --wait` waits, its jobs stand for the command, as a program run here would:
// the first stop signal cancels them (sent from the waiting loop, which then waits for them
// to end, their output still followed), a second one stops waiting at once. The handler
// only sets the flag, or on the second signal writes the note made for it (write(2), the
// only output call allowed there) and exits. A second signal within kSameStop of the first
// is the same stop delivered twice: GNU timeout signals the command and then its process
// group, and a second Ctrl-C is a person's, later.
volatile std::sig_atomic_t stop_signal = 0;
volatile std::sig_atomic_t cancel_sent = 0;
std::atomic<std::int64_t> first_stop_ms{0};
static_assert(std::atomic<std::int64_t>::is_always_lock_free);  // read in a signal handler
constexpr std::int64_t kSameStop = 300;                         // ms
std::string note_not_cancelled;  // the second signal came before the cancel went out
std::string note_cancelling;

std::int64_t monotonic_ms() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);  // async-signal-safe
  return std::int64_t{now.tv_sec} * 1000 + now.tv_nsec / 1'000'000;
}

extern "C" void on_stop_signal(int signal) {
  if (stop_signal == 0) {
    first_stop_ms = monotonic_ms();
    stop_signal = signal;
    return;
  }
  if (monotonic_ms() - first_stop_ms < kSameStop) return;
  const std::string& note = cancel_sent != 0 ? note_cancelling : note_not_cancelled;
  ssize_t ignored = ::write(STDERR_FILENO, note.data(), note.size());
  (void)ignored;
  ::_exit(128 + signal);  // as a shell reports a command a signal ended: 130 for Ctrl-C
}

sigset_t stop_signal_set() {
  sigset_t set;
  ::sigemptyset(&set);
  for (const int signal : kStopSignals) ::sigaddset(&set, signal);
  return set;
}

// From the submit on, a stop signal cancels the jobs: blocked while the submit is sent (one
// that comes then is held, and delivered to the handler once the ids are known: no job is
// left running for a command that was stopped), then handled.
void install_stop_handler(const std::vector<std::uint64_t>& ids) {
  const std::string range = id_range(ids.front(), ids.back());
  const std::string jobs = ids.size() == 1 ? "job " + range : "jobs " + range;
  note_not_cancelled = fmt::format(
      "\nfastgpu submit: stopped waiting; {} go{} on, not cancelled (`fastgpu cancel {}` "
      "stops {}, `fastgpu wait {}` waits for {})\n",
      jobs, ids.size() == 1 ? "es" : "", range, ids.size() == 1 ? "it" : "them", range,
      ids.size() == 1 ? "it" : "them");
  note_cancelling = fmt::format(
      "\nfastgpu submit: stopped waiting; {} {} being cancelled (`fastgpu queue` shows {} until "
      "{} ended)\n",
      jobs, ids.size() == 1 ? "is" : "are", ids.size() == 1 ? "it" : "them",
      ids.size() == 1 ? "it has" : "they have");
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  ::sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // a request in flight goes on
  for (const int signal : kStopSignals) ::sigaction(signal, &action, nullptr);
  const sigset_t set = stop_signal_set();
  ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
}

// Cancels the jobs once a stop signal came, queued ones first (a running one cancelled first
// frees its GPUs for the next queued member of the same array). Once only: a job that would
// not be cancelled is named with how to stop it.
class CancelOnSignal {
 public:
  CancelOnSignal(ReconnectingClient& client, std::vector<std::uint64_t> ids)
      : client_(client), ids_(std::move(ids)) {}

  void operator()() {
    if (stop_signal == 0 || cancel_sent != 0) return;
    std::vector<std::uint64_t> order = ids_;
    if (order.size() > 1) {
      Result<api::Json> queued = client_.get("/v1/jobs?state=QUEUED&ids_only=true");
      if (queued.ok()) {
        const auto waiting = (*queued)["ids"].get<std::set<std::uint64_t>>();
        std::stable_partition(order.begin(), order.end(),
                              [&waiting](std::uint64_t id) { return waiting.contains(id); });
      }
    }
    std::fprintf(stderr,
                 "\nfastgpu submit: %s; cancelling %s (a running job gets SIGTERM, then SIGKILL "
                 "after its grace period) and waiting for %s to end; a second %s stops waiting\n",
                 stop_signal == SIGINT ? "interrupted" : ::strsignal(stop_signal),
                 order.size() == 1 ? fmt::format("job {}", order.front()).c_str()
                                   : fmt::format("its {} jobs", order.size()).c_str(),
                 order.size() == 1 ? "it" : "them", stop_signal == SIGINT ? "Ctrl-C" : "signal");
    for (std::uint64_t id : order) {
      Result<api::Json> job =
          client_.once().post(fmt::format("/v1/jobs/{}/cancel", id), api::Json::object());
      // One that ended meanwhile is refused as a precondition: nothing to stop.
      if (!job.ok() && job.status().code() != ErrorCode::kFailedPrecondition) {
        std::fprintf(stderr,
                     "fastgpu submit: job %s was not cancelled: %s; `fastgpu cancel %s` "
                     "stops it\n",
                     std::to_string(id).c_str(), job.status().message().c_str(),
                     std::to_string(id).c_str());
      }
    }
    cancel_sent = 1;
  }

 private:
  ReconnectingClient& client_;
  std::vector<std::uint64_t> ids_;
};

// A job in the foreground that waits says so on stderr, as srun's "queued and waiting for
// resources": why it waits (again when that changes), then where it started and after how
// long. One that starts at the first scheduling pass is not told at all.
class StartNotice {
 public:
  StartNotice(ReconnectingClient& client, std::uint64_t id) : client_(client), id_(id) {}

  void operator()() {
    if (started_) return;
    Result<api::Json> job = client_.get(fmt::format("/v1/jobs/{}", id_));
    if (!job.ok()) return;  // said by the waiting loop's own request
    const std::string state = (*job)["state"].get<std::string>();
    if (state == "QUEUED") {
      if (const std::optional<std::string> why = new_waiting_reason(*job, said_)) {
        std::fprintf(stderr, "fastgpu submit: job %s waits: %s\n", std::to_string(id_).c_str(),
                     why->c_str());
      }
      return;
    }
    started_ = true;
    const auto start = job->find("start_time_us");
    const auto submitted = job->find("submit_time_us");
    // Told only after a wait was: as it started, or at its end when it ran between two looks.
    if (said_.empty() || start == job->end() || !start->is_number()) return;
    const auto gpus = job->value("placed_gpus", std::vector<int>{});
    std::fprintf(stderr, "fastgpu submit: job %s started%s after %s\n", std::to_string(id_).c_str(),
                 gpus.empty() ? ""
                              : fmt::format(" on GPU{} {}", gpus.size() == 1 ? "" : "s",
                                            fmt::join(gpus, ","))
                                    .c_str(),
                 format_duration(Seconds(static_cast<double>(start->get<std::int64_t>() -
                                                             submitted->get<std::int64_t>()) *
                                         1e-6))
                     .c_str());
  }

 private:
  ReconnectingClient& client_;
  std::uint64_t id_;
  std::string said_;  // the last reason told
  bool started_ = false;
};

// submit --wait and --follow: sends the jobs once, then follows them until they end (across
// a daemon that goes away meanwhile). The exit status is the job's (the highest of an
// array's, as sbatch --wait's); after a stop signal, the signal's.
int submit_and_wait(const SubmitCommandOptions& options, const std::vector<store::JobSpec>& specs) {
  Result<ReconnectingClient> client = connect_following(options.daemon, "submit");
  if (!client.ok()) return fail("submit", client.status());
  const sigset_t set = stop_signal_set();
  ::sigprocmask(SIG_BLOCK, &set, nullptr);
  // Sent once: a batch sent again after a daemon went away mid-request could run twice.
  Result<api::Json> reply = client->once().post("/v1/jobs", api::job_batch_to_json(specs));
  if (!reply.ok()) {
    ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
    return fail("submit", reply.status());
  }
  const auto ids = (*reply)["ids"].get<std::vector<std::uint64_t>>();
  if (options.follow) {
    // stdout is the job's output alone, as if it ran here.
    std::fprintf(stderr,
                 "fastgpu submit: job %s submitted; its output follows as it runs (Ctrl-C "
                 "cancels it)\n",
                 std::to_string(ids.front()).c_str());
  } else if (!options.daemon.json) {
    print_ids(ids);
    std::fflush(stdout);  // a script reading the ids gets them now, not at the end
  }
  if (!specs.empty() && specs.front().held_by) {
    const bool one = ids.size() == 1;
    std::fprintf(stderr,
                 "fastgpu submit: held (--hold): `fastgpu release %s` lets %s start; submit waits "
                 "until %s ended\n",
                 id_range(ids.front(), ids.back()).c_str(), one ? "it" : "them",
                 one ? "it has" : "they have");
  }
  install_stop_handler(ids);
  CancelOnSignal cancel(*client, ids);
  // One job, told as text: its wait is said; an array's members are many.
  std::optional<StartNotice> notice;
  if (ids.size() == 1 && !options.daemon.json) notice.emplace(*client, ids.front());
  const auto between = [&cancel, &notice] {
    cancel();
    if (notice && stop_signal == 0) (*notice)();
  };
  if (options.follow) {
    // How the job ended is said below: the log's own closing line would say it twice.
    LogReading reading;
    reading.verb = "submit";
    reading.follow = true;
    reading.between_reads = between;
    if (notice) reading.before_output = std::ref(*notice);
    (void)print_job_log(*client, ids.front(), reading);
  }
  Waited waited;
  waited.ids = ids;
  std::map<std::uint64_t, api::Json> ended;
  const Status status = wait_for(*client, waited, std::nullopt, true, ended, between);
  if (!status.ok()) return fail("submit", status);
  if (notice && stop_signal == 0) (*notice)();
  int exit_status = kExitOk;
  std::vector<std::uint64_t> not_completed;
  api::Json jobs = api::Json::array();
  for (const auto& [id, job] : ended) {
    exit_status = std::max(exit_status, exit_status_of(job));
    if (job["state"] != "COMPLETED") not_completed.push_back(id);
    jobs.push_back(ended_json(id, job));
  }
  if (options.daemon.json) {
    print_json({{"ids", ids}, {"jobs", jobs}, {"all_completed", not_completed.empty()}});
  } else if (options.follow) {
    // print_job_log said how a job that did not complete ended, and nothing of one that did.
  } else if (ended.size() == 1) {
    std::fprintf(stderr, "fastgpu submit: %s", ended_line(ended.begin()->second).c_str());
  } else {
    std::fprintf(stderr, "fastgpu submit: %zu job(s) ended: %zu completed", ended.size(),
                 ended.size() - not_completed.size());
    constexpr std::size_t kNamed = 10;
    for (std::size_t i = 0; i < not_completed.size() && i < kNamed; ++i) {
      std::fprintf(stderr, "%s%s", i == 0 ? "; did not complete:\n" : "",
                   ended_line(ended.at(not_completed[i])).c_str());
    }
    if (not_completed.size() > kNamed) {
      std::fprintf(stderr,
                   "... and %zu more (`fastgpu history --state failed,timeout,cancelled`)\n",
                   not_completed.size() - kNamed);
    } else if (not_completed.empty()) {
      std::fprintf(stderr, "\n");
    }
  }
  if (stop_signal != 0) return 128 + stop_signal;
  return exit_status;
}

int run_submit(const SubmitCommandOptions& options) {
  Result<engine::SubmitContext> context = submit_context();
  if (!context.ok()) return fail("submit", context.status());
  if (Status job_file = not_a_job_file(options.submit, *context); !job_file.ok()) {
    return usage_error("submit", job_file.message());
  }
  // The script's #FASTGPU and #SBATCH lines, under the command line's flags.
  Result<engine::ScriptSubmission> submit =
      engine::with_script_directives(options.submit, *context);
  if (!submit.ok()) return usage_error("submit", submit.status().message());
  const engine::ScriptFlags& flags = submit->flags;
  tell_left_out("submit", submit->script, flags);
  Result<std::vector<store::JobSpec>> specs = engine::build_job_specs(flags.options, *context);
  if (!specs.ok()) return usage_error("submit", specs.status().message());
  if (options.follow && specs->size() > 1) {
    return usage_error(
        "submit", fmt::format("--follow prints one job's output, and --array makes {} jobs: "
                              "`--wait` waits for them all, and `fastgpu logs -f ID` follows one",
                              specs->size()));
  }
  if (options.follow && options.daemon.json) {
    return usage_error("submit",
                       "--follow prints the job's output, not JSON: with --json, `--wait` prints "
                       "how the job ended, and `fastgpu logs ID --json` its output");
  }
  if (std::optional<MissingProgram> missing = first_missing_program(*specs)) {
    return usage_error("submit", missing->why + " (nothing was submitted)");
  }
  give_callers_umask_and_limits(*specs);
  if (options.wait || options.follow) return submit_and_wait(options, *specs);
  Result<api::ApiClient> client = connect_daemon(options.daemon, "submit");
  if (!client.ok()) return fail("submit", client.status());
  Result<api::Json> reply = client->post("/v1/jobs", api::job_batch_to_json(*specs));
  if (!reply.ok()) return fail("submit", reply.status());
  if (options.daemon.json) {
    print_json(*reply);
    return kExitOk;
  }
  print_ids((*reply)["ids"].get<std::vector<std::uint64_t>>());
  return kExitOk;
}

}  // namespace

void add_submit_command(CLI::App& app, CommandOutcome& outcome) {
  auto options = std::make_shared<SubmitCommandOptions>();
  CLI::App* command = app.add_subcommand("submit",
                                         "Queue a job: fastgpu submit [--gpus N "
                                         "--gpu-mem 20G ...] -- COMMAND [ARGS...]");
  engine::add_submit_flags(*command, options->submit);
  command->add_flag(
      "-W,--wait", options->wait,
      "Stay until the job ends (every member of an --array) and exit as it did: 0 if it "
      "completed, else its exit code, or 128 + the signal that ended it (the highest of an "
      "array's), as sbatch --wait; Ctrl-C cancels it");
  command->add_flag("-f,--follow", options->follow,
                    "--wait, printing the job's output (stdout and stderr) as it comes, as if it "
                    "ran here; the job id goes to stderr");
  add_daemon_flags(*command, options->daemon);
  command->callback([options, &outcome] { outcome.exit_code = run_submit(*options); });
}

}  // namespace fastgpu::cli
