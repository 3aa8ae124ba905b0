#include "cli/daemon_client.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "api/login_name.h"
#include "cli/display_width.h"
#include "cli/job_stopping.h"
#include "fastgpu/api/daemon.h"
#include "fastgpu/api/job_json.h"
#include "fastgpu/api/json_text.h"
#include "fastgpu/core/resource_limits.h"
#include "fastgpu/core/text.h"
#include "fastgpu/core/units.h"
#include "fastgpu/engine/job_file.h"
#include "fastgpu/engine/report.h"
#include "fastgpu/store/state_store.h"

namespace fastgpu::cli {
namespace {

// The member, or null when the object lacks it: the API leaves out fields that are unset
// (a job outside an array has no "array"), and operator[] on a missing key is undefined.
const api::Json& field(const api::Json& object, const char* key) {
  static const api::Json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

std::string or_dash(const api::Json& value) {
  if (value.is_null()) return "-";
  if (value.is_string()) return value.get<std::string>();
  return value.dump();
}

// "15 (SIGTERM)": the number the job's wait status held, and its name.
std::string signal_text(const api::Json& signal) {
  if (!signal.is_number_integer()) return or_dash(signal);
  const int number = signal.get<int>();
  // sigabbrev_np (glibc 2.32) is thread-safe, unlike strsignal.
  const char* abbreviation = ::sigabbrev_np(number);
  if (abbreviation == nullptr) return std::to_string(number);
  return fmt::format("{} (SIG{})", number, abbreviation);
}

std::string placed_text(const api::Json& job) {
  const api::Json& gpus = field(job, "placed_gpus");
  if (!gpus.is_array() || gpus.empty()) return "-";
  std::string text;
  for (const api::Json& gpu : gpus) text += (text.empty() ? "" : ",") + gpu.dump();
  return text;
}

// Queued, for the first time or again after a run (preempted, moved, requeued). A job queued
// again keeps its last run's GPUs, times, exit code and signal in its record: they are not
// its now, and what prints them prints "-" for a queued job.
bool is_queued(const api::Json& job) { return job["state"] == "QUEUED"; }

// The table's PLACED(WHY): the GPUs a job was placed on, or for a queued job why it
// waits, "(resources)", as squeue shows a pending job's reason; for a job asked to stop,
// its GPUs and why, "0 (cancelled, SIGKILL in 7s)".
std::string placed_or_why_text(const api::Json& job, std::int64_t now_us) {
  // A job on its way out keeps its GPUs until it has ended: they, and why it stops.
  if (const api::Json& stopping = field(job, "stopping"); stopping.is_object()) {
    return placed_text(job) + " (" + stopping_brief(stopping, now_us) + ")";
  }
  if (!is_queued(job)) return placed_text(job);
  const api::Json& waiting = field(job, "waiting");
  return waiting.is_object() ? "(" + waiting.value("reason", std::string("?")) + ")" : "-";
}

// The memory per GPU as declared; "auto" is learned at placement, so a placed job shows
// what it was placed with.
std::string memory_text(const api::Json& job) {
  const api::Json& spec = job["spec"];
  if (spec["gpus"].get<int>() == 0) return "-";
  const api::Json& bytes = field(spec, "gpu_mem");
  if (!bytes.is_null()) return format_bytes(bytes.get<Bytes>());
  const api::Json& placed = field(job, "placed_gpu_mem");
  return placed.is_number() ? format_bytes(placed.get<Bytes>()) : "auto";
}

// Run time so far (running) or in total (ended); "-" before the job starts.
std::string elapsed_text(const api::Json& job, std::int64_t now_us) {
  if (field(job, "start_time_us").is_null() || is_queued(job)) return "-";
  const std::int64_t start = job["start_time_us"].get<std::int64_t>();
  const std::int64_t end =
      field(job, "end_time_us").is_null() ? now_us : job["end_time_us"].get<std::int64_t>();
  return format_duration(
      Seconds(static_cast<double>(std::max<std::int64_t>(0, end - start)) / 1e6));
}

std::string job_name(const api::Json& job) {
  std::string name = printable(job["spec"]["name"].get<std::string>());
  if (name.empty()) name = "-";
  const api::Json& array = field(job["spec"], "array");
  if (array.is_object()) name += fmt::format("[{}]", array["index"].get<std::uint32_t>());
  return name;
}

// What the job cost, as the batch report counts it: "-" before it starts and for a job
// without GPUs, "when it ends" while it runs (the daemon accounts a run at its end), "n/a"
// for what was not measured.
void add_cost_lines(const api::Json& job, std::int64_t now_us,
                    const std::function<void(std::string_view, const std::string&)>& line) {
  Result<store::JobRecord> record = api::job_record_from_json(job);
  if (!record.ok()) {
    line("cost", "n/a (" + record.status().message() + ")");
    return;
  }
  const engine::JobReport report = engine::make_job_report(*record);
  const bool started = record->start_time.has_value();
  if (is_queued(job)) {  // queued again too: it waits on, counted from its submission
    const store::WallTime now{std::chrono::microseconds(now_us)};
    const double so_far = std::chrono::duration<double>(now - record->spec.submit_time).count();
    line("waited", format_duration(Seconds(std::max(0.0, so_far))) + " so far");
  } else if (report.wait_s) {
    line("waited", format_duration(Seconds(*report.wait_s)));
  } else {
    line("waited", "-");
  }
  const bool ended = started && store::is_terminal(record->state);
  // A running job's figures so far, as the daemon's samples measured them (`usage_so_far`);
  // what it has not measured yet waits for the end.
  const api::Json& so_far = field(job, "usage_so_far");
  const auto so_far_figure = [&](const char* key, auto&& words,
                                 const char* after = "") -> std::string {
    const api::Json& value = so_far.is_object() ? field(so_far, key) : so_far;
    return value.is_number() ? words(value) + " so far" + after : std::string("when it ends");
  };
  const auto figure = [&](const std::optional<std::string>& text) -> std::string {
    if (!started || report.gpus == 0) return "-";
    if (!ended) return "when it ends";
    return text.value_or("n/a");
  };
  if (started && !ended && report.gpus > 0) {
    const store::WallTime now{std::chrono::microseconds(now_us)};
    const double run_s =
        std::max(0.0, std::chrono::duration<double>(now - *record->start_time).count());
    // A preempted job's earlier runs are in its record already (the store adds each run's
    // at its end): they count too, so the figure does not jump when this run ends.
    const double gpu_s = record->accounting.gpu_seconds.value_or(0.0) + run_s * report.gpus;
    line("GPU time", fmt::format("{} so far ({:.4f} GPU-hours)", format_duration(Seconds(gpu_s)),
                                 gpu_s / 3600.0));
    line("peak GPU mem", so_far_figure("peak_gpu_mem", [](const api::Json& value) {
           return format_bytes(value.get<Bytes>());
         }));
    line("mean GPU util", so_far_figure("mean_util_percent", [](const api::Json& value) {
           return fmt::format("{:.0f} %", value.get<double>());
         }));
    line("energy",
         so_far_figure(
             "energy_joules",
             [](const api::Json& value) { return engine::format_energy(value.get<double>()); },
             " (an estimate)"));
    return;
  }
  std::optional<std::string> gpu_time, peak, util, energy;
  if (report.gpu_seconds) {
    gpu_time = fmt::format("{} ({:.4f} GPU-hours)", format_duration(Seconds(*report.gpu_seconds)),
                           *report.gpu_seconds / 3600.0);
  }
  if (report.peak_gpu_mem) peak = format_bytes(*report.peak_gpu_mem);
  if (report.mean_util_percent) util = fmt::format("{:.0f} %", *report.mean_util_percent);
  energy = engine::energy_words(report);
  // A CPU-only job's GPU time is a known 0 (as in `history` and `--json`); its other GPU
  // figures do not apply.
  line("GPU time", report.gpus == 0 && ended ? gpu_time.value_or("n/a") : figure(gpu_time));
  line("peak GPU mem", figure(peak));
  line("mean GPU util", figure(util));
  line("energy", figure(energy));
}

}  // namespace

CLI::Validator a_devices_spec() {
  // An empty value read as "not given" (the real GPUs, or $FASTGPU_DEVICES): bad usage.
  return CLI::Validator(
      [](std::string& value) {
        return value.empty() ? std::string(
                                   "an empty spec; give one such as 4xH100-80G, or leave "
                                   "out --devices for the real GPUs")
                             : std::string();
      },
      "SPEC");
}

void add_daemon_flags(CLI::App& command, DaemonFlags& flags, bool with_json) {
  command
      .add_option("--devices", flags.devices,
                  "Simulated GPUs for a daemon this command starts, e.g. 4xH100-80G "
                  "(default: $FASTGPU_DEVICES, else the real GPUs)")
      ->check(a_devices_spec());
  if (with_json) command.add_flag("--json", flags.json, "Print JSON (docs/api.md)");
}

namespace {

// Starts a daemon on `paths` as the first command that needs one does; its pid.
Result<api::StartedDaemon> start_daemon_for(const api::DaemonPaths& paths,
                                            const DaemonFlags& flags) {
  Result<std::filesystem::path> executable = api::own_executable();
  if (!executable.ok()) return executable.status();
  // The new daemon reads FASTGPU_POLICY, FASTGPU_STRATEGY and FASTGPU_CONFIG from the
  // environment it inherits; the settings file's path made absolute here (it runs in /).
  api::StartOptions options;
  options.executable = *executable;
  options.devices = devices_or_environment(flags.devices);
  if (const char* file = std::getenv("FASTGPU_CONFIG"); file != nullptr && file[0] != '\0') {
    std::error_code ignored;
    options.settings_file = std::filesystem::absolute(file, ignored);
  }
  return api::start_daemon(paths, options);
}

constexpr const char* kOwnDaemonFix =
    "a daemon admits only its own user (and a shared one, root's). Unset FASTGPU_SOCKET (or "
    "point it at your own daemon's socket) to use a daemon of your own, started on first use, "
    "or ask your admin for root's shared daemon (`fastgpu daemon start --shared`, docs/api.md)";

// A socket that is neither the caller's nor root's is another user's daemon: it would not
// admit the caller, and should it, it would see their jobs' commands and environment. Bob
// pointed at alice's socket got no word of it: his command started a daemon of his own there,
// which failed on her folder ("cannot create the state folder '/home/alice/.local/state'").
Status check_socket_is_ours(const std::filesystem::path& socket) {
  const uid_t uid = ::geteuid();
  if (uid == 0) return {};  // root may speak to any daemon
  struct stat info {};
  if (::stat(socket.c_str(), &info) != 0) {
    if (errno != EACCES) return {};  // none there yet: ours to start
    return failed_precondition(
        fmt::format("cannot reach the daemon's socket '{}': a folder on its path is another "
                    "user's (Permission denied); {}",
                    socket.string(), kOwnDaemonFix));
  }
  if (info.st_uid != uid && info.st_uid != 0) {
    return failed_precondition(fmt::format("the socket '{}' is {}'s daemon's, not yours; {}",
                                           socket.string(), api::login_name(info.st_uid),
                                           kOwnDaemonFix));
  }
  if (info.st_uid == 0 && ::access(socket.c_str(), R_OK | W_OK) != 0 && errno == EACCES) {
    return failed_precondition(fmt::format(
        "the socket '{}' is root's private daemon's (mode {:04o}, not started with --shared); {}",
        socket.string(), info.st_mode & 07777, kOwnDaemonFix));
  }
  return {};
}

bool same_folder(const std::string& a, const std::filesystem::path& b) {
  std::error_code unknown;
  return a == b.string() || std::filesystem::equivalent(a, b, unknown);
}

// The caller's own daemon, not shared, that keeps its state in another folder than this
// command's: two state folders given one socket (one FASTGPU_SOCKET, or the default socket
// under XDG_RUNTIME_DIR, which does not depend on the folder). Its answers would be read as
// this folder's daemon's, and a command following jobs there would, should it go away, start
// this folder's daemon in its place, which knows none of them. `daemon start` refuses the
// same. Another user's daemon (root's shared one, reached through FASTGPU_SOCKET as
// docs/api.md says) and a shared daemon of the caller's own (root's, with root's profile
// pointing at it) serve callers of any state folder on purpose.
// `daemon`: its answer to GET /v1/daemon.
Status check_daemon_keeps_our_state(const api::DaemonPaths& paths, const api::Json& daemon) {
  struct stat info {};
  if (::stat(paths.socket.c_str(), &info) != 0 || info.st_uid != ::geteuid()) return {};
  if (!daemon.is_object()) return {};  // its own errors are told by the verb
  const auto state_dir = daemon.find("state_dir");
  if (state_dir == daemon.end() || !state_dir->is_string() || daemon.value("shared", false)) {
    return {};
  }
  const std::string its_state = state_dir->get<std::string>();
  if (same_folder(its_state, paths.state_dir)) return {};
  const char* socket_variable = std::getenv("FASTGPU_SOCKET");
  const bool socket_set = socket_variable != nullptr && socket_variable[0] != '\0';
  return failed_precondition(fmt::format(
      "the daemon on the socket '{}'{} (pid {}) keeps its state in {}, not in this command's "
      "state folder {} (from {}); nothing was sent to it. To use that daemon, run the command "
      "with FASTGPU_STATE_DIR={}; to use a daemon of {}, give each state folder a socket of "
      "its own (FASTGPU_SOCKET=PATH, the same for a folder's daemon and its commands)",
      paths.socket.string(), socket_set ? " (FASTGPU_SOCKET)" : "", daemon.value("pid", 0),
      its_state, paths.state_dir.string(), api::state_dir_variable(), its_state,
      paths.state_dir.string()));
}

// The daemon that answers on `paths`: nullopt when one already did or another command's
// start won the race to it, else the pid of the one started here.
Result<std::optional<pid_t>> reach_or_start_daemon(const api::DaemonPaths& paths,
                                                   const DaemonFlags& flags) {
  FASTGPU_RETURN_IF_ERROR(check_socket_is_ours(paths.socket));
  // One request both finds the daemon (ApiClient::reachable() asks the same) and says
  // where it keeps its state.
  if (Result<api::Json> daemon = api::ApiClient(paths.socket).get("/v1/daemon"); daemon.ok()) {
    FASTGPU_RETURN_IF_ERROR(check_daemon_keeps_our_state(paths, *daemon));
    return std::optional<pid_t>();
  }
  Result<api::StartedDaemon> started = start_daemon_for(paths, flags);
  if (!started.ok()) return started.status();
  if (!started->started_here) return std::optional<pid_t>();
  return std::optional<pid_t>(started->pid);
}

// Tells a note, if any, under the verb's name.
void tell_kept_limits(const std::string& verb) {
  if (const std::string note = kept_limits_note(); !note.empty()) {
    std::fprintf(stderr, "fastgpu %s: %s\n", verb.c_str(), note.c_str());
  }
}

Result<api::ApiClient> connect_daemon_at(const api::DaemonPaths& paths, const DaemonFlags& flags,
                                         const std::string& verb) {
  Result<std::optional<pid_t>> started = reach_or_start_daemon(paths, flags);
  if (!started.ok()) return started.status();
  if (*started) {
    std::fprintf(stderr, "fastgpu %s: started a daemon (pid %d) on %s\n", verb.c_str(), **started,
                 paths.socket.c_str());
    tell_kept_limits(verb);
  }
  return api::ApiClient(paths.socket);
}

}  // namespace

std::string kept_limits_note() {
  const ResourceLimits kept = job_sized_hard_limits(own_resource_limits());
  if (kept.empty()) return "";
  return fmt::format(
      "the daemon keeps this shell's hard limits, {}, and only root raises a hard limit: every "
      "job it runs is held to them, whatever its submitter's. If they were meant for a job: "
      "`fastgpu daemon stop` (running jobs go on), then `fastgpu daemon start` from a shell "
      "without them",
      format_hard_limits(kept));
}

Result<api::ApiClient> connect_daemon(const DaemonFlags& flags, const std::string& verb) {
  Result<api::DaemonPaths> paths = api::daemon_paths_from_environment();
  if (!paths.ok()) return paths.status();
  return connect_daemon_at(*paths, flags, verb);
}

ReconnectingClient::ReconnectingClient(api::DaemonPaths paths, DaemonFlags flags, std::string verb,
                                       ReconnectOptions options)
    : paths_(std::move(paths)),
      flags_(std::move(flags)),
      verb_(std::move(verb)),
      options_(options),
      client_(paths_.socket) {}

Result<api::Json> ReconnectingClient::get(const std::string& target) {
  while (true) {
    Result<api::Json> reply = client_.get(target);
    if (reply.ok() || !went_away(reply.status())) return reply;
    FASTGPU_RETURN_IF_ERROR(reconnect(reply.status()));
  }
}

bool ReconnectingClient::went_away(const Status& failure) const {
  // A daemon that answers sends kUnavailable too (503, a busy database): that one is still
  // there, and its error is the answer.
  return failure.code() == ErrorCode::kUnavailable && !client_.reachable();
}

Status ReconnectingClient::reconnect(const Status& failure) {
  const auto deadline = std::chrono::steady_clock::now() + options_.give_up_after;
  auto pause = options_.first_pause;
  Status last = failure;
  while (true) {
    Result<std::optional<pid_t>> started = reach_or_start_daemon(paths_, flags_);
    if (started.ok()) {
      const std::string found = *started
                                    ? fmt::format("started a new one (pid {})", **started)
                                    : std::string("reconnected to the one that answers there now");
      std::fprintf(stderr, "fastgpu %s: the daemon on %s went away; %s and carried on\n",
                   verb_.c_str(), paths_.socket.c_str(), found.c_str());
      if (*started) tell_kept_limits(verb_);
      return {};
    }
    last = started.status();
    if (std::chrono::steady_clock::now() + pause >= deadline) break;
    std::this_thread::sleep_for(pause);
    pause = std::min(options_.longest_pause, pause * 2);
  }
  return unavailable(fmt::format(
      "the daemon on '{}' went away and none could be reached or started again in {} s of "
      "tries; its jobs run on. The last try: {}. See {}; `fastgpu daemon start` starts one",
      paths_.socket.string(),
      std::chrono::duration_cast<std::chrono::seconds>(options_.give_up_after).count(),
      last.message(), paths_.log_file.string()));
}

Result<ReconnectingClient> connect_following(const DaemonFlags& flags, const std::string& verb) {
  Result<api::DaemonPaths> paths = api::daemon_paths_from_environment();
  if (!paths.ok()) return paths.status();
  Result<api::ApiClient> client = connect_daemon_at(*paths, flags, verb);
  if (!client.ok()) return client.status();
  return ReconnectingClient(*paths, flags, verb);
}

Result<api::Json> get_from_daemon(const DaemonFlags& flags, const std::string& verb,
                                  const std::string& target) {
  Result<api::ApiClient> client = connect_daemon(flags, verb);
  if (!client.ok()) return client.status();
  return client->get(target);
}

Result<std::string> get_text_from_daemon(const DaemonFlags& flags, const std::string& verb,
                                         const std::string& target) {
  Result<api::ApiClient> client = connect_daemon(flags, verb);
  if (!client.ok()) return client.status();
  return client->get_text(target);
}

int fail(const std::string& verb, const Status& status) {
  std::fprintf(stderr, "fastgpu %s: %s\n", verb.c_str(), status.message().c_str());
  return kExitFailure;
}

int usage_error(const std::string& verb, const std::string& message) {
  std::fprintf(stderr, "fastgpu %s: %s\n", verb.c_str(), message.c_str());
  return kExitUsage;
}

Result<std::vector<std::uint64_t>> parse_job_ids(const std::vector<std::string>& texts) {
  std::vector<std::uint64_t> ids;
  for (const std::string& text : texts) {
    std::uint64_t id = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), id);
    const std::size_t underscore = text.find('_');
    if (underscore != std::string::npos && underscore > 0 && underscore + 1 < text.size() &&
        std::all_of(text.begin(), text.end(), [](char c) { return std::isdigit(c) || c == '_'; })) {
      // A Slurm user's habit: ARRAY_TASK. Each member has an id of its own here.
      return invalid_argument(fmt::format(
          "'{}' is Slurm's JOB_TASK form; each array member has its own job id here: `fastgpu "
          "queue -r` lists them (FIRST-LAST names a whole array's members)",
          text));
    }
    if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
      return invalid_argument(fmt::format(
          "'{}' is not a job id; use the number `fastgpu submit` printed (see `fastgpu queue`)",
          text));
    }
    ids.push_back(id);
  }
  return ids;
}

std::string devices_or_environment(const std::string& flag) {
  if (!flag.empty()) return flag;
  const char* value = std::getenv("FASTGPU_DEVICES");
  return value == nullptr ? "" : value;
}

Status check_all_users(bool all_users, std::string_view does) {
  const uid_t uid = ::geteuid();  // what the daemon reads as the socket's peer
  if (!all_users || uid == 0) return {};
  return failed_precondition(fmt::format(
      "--all-users: only root {} other users' jobs (you are uid {}); leave out --all-users", does,
      uid));
}

Result<std::string> parse_state_list(const std::string& text, bool ended, std::string_view verb) {
  const char* const listed =
      ended ? "COMPLETED, FAILED, CANCELLED, TIMEOUT" : "QUEUED, RUNNING, PREEMPTED";
  const char* const other = ended ? "queue -t" : "history --state";
  const char* const other_listed =
      ended ? "QUEUED, RUNNING, PREEMPTED" : "COMPLETED, FAILED, CANCELLED, TIMEOUT";
  const char* const example = ended ? "--state failed,timeout" : "-t running";
  if (trim(text).empty()) {
    return invalid_argument(
        fmt::format("--state '{}': give at least one state of {} "
                    "(comma-separated, e.g. {}), or leave out --state for all",
                    text, listed, example));
  }
  std::string states;
  std::size_t begin = 0;
  while (begin <= text.size()) {
    const std::size_t comma = std::min(text.find(',', begin), text.size());
    const std::string typed(trim(std::string_view(text).substr(begin, comma - begin)));
    std::string state = typed;
    for (char& c : state) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (state.empty()) {
      return invalid_argument(
          fmt::format("--state '{}' has an empty name between commas; give {}", text, listed));
    }
    const Result<store::JobState> known = store::parse_job_state(state);
    if (!known.ok() || store::is_terminal(*known) != ended) {
      const std::string why =
          !known.ok() ? fmt::format("unknown state '{}'", typed)
                      : fmt::format("{} jobs {}", state, ended ? "have not ended" : "have ended");
      const std::string pointer = known.ok()
                                      ? fmt::format("`fastgpu {} {}` lists them", other, state)
                                      : fmt::format("`fastgpu {}` takes {}", other, other_listed);
      const std::string what = verb == "purge"      ? "purge forgets only jobs that have ended"
                               : verb == "resubmit" ? "--state picks among jobs that have ended"
                               : verb == "report"   ? "report sums up jobs that have ended"
                               : ended              ? "history lists jobs that have ended"
                                                    : "queue lists jobs that have not ended";
      return invalid_argument(fmt::format("--state '{}': {}; {} ({}, comma-separated, e.g. {}); {}",
                                          text, why, what, listed, example, pointer));
    }
    states += (states.empty() ? "" : ",") + state;
    begin = comma + 1;
  }
  return states;
}

Result<std::vector<JobIdArgument>> parse_job_id_ranges(const std::vector<std::string>& texts) {
  std::vector<JobIdArgument> ids;
  std::set<std::uint64_t> seen;
  auto add = [&](std::uint64_t id, bool from_range) {
    if (seen.insert(id).second) ids.push_back({id, from_range});
  };
  for (const std::string& text : texts) {
    const std::size_t dash = text.find('-');
    if (dash == std::string::npos || dash == 0) {
      Result<std::vector<std::uint64_t>> one = parse_job_ids({text});
      if (!one.ok()) return one.status();
      add(one->front(), false);
      continue;
    }
    Result<std::vector<std::uint64_t>> ends =
        parse_job_ids({text.substr(0, dash), text.substr(dash + 1)});
    if (!ends.ok() || (*ends)[0] > (*ends)[1]) {
      return invalid_argument(fmt::format(
          "'{}' is not a range of job ids; write FIRST-LAST with FIRST <= LAST, e.g. 12-40 (as "
          "`fastgpu queue` shows an array's waiting members)",
          text));
    }
    if ((*ends)[1] - (*ends)[0] >= kMaxIdRange) {
      return invalid_argument(
          fmt::format("the range '{}' holds more than {} job ids; split it", text, kMaxIdRange));
    }
    for (std::uint64_t id = (*ends)[0]; id <= (*ends)[1]; ++id) add(id, true);
  }
  return ids;
}

namespace {

// A QUEUED member of an array that directly follows `previous` (the next id, same array)
// and waits for the same reason: the two share a line of the table.
bool continues_queued_run(const api::Json& previous, const api::Json& job) {
  const api::Json& array = field(job["spec"], "array");
  const api::Json& previous_array = field(previous["spec"], "array");
  return is_queued(job) && is_queued(previous) && array.is_object() && previous_array.is_object() &&
         array["array_id"] == previous_array["array_id"] &&
         job["id"].get<std::uint64_t>() == previous["id"].get<std::uint64_t>() + 1 &&
         field(job, "waiting") == field(previous, "waiting");
}

// "1-5,7,9-12" for 1 2 3 4 5 7 9 10 11 12, and "1-999:2" for 1 3 5 ... 999 (as --array
// writes a step; three values at least make a stepped range); in any order, each told once
// (resubmitted members share their index). A list longer than kMostChars ends ",...": the
// ID column says which jobs the line holds, and `queue -r` lists each.
std::string ranges_text(std::vector<std::uint64_t> values) {
  constexpr std::size_t kMostChars = 60;
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  std::string text;
  for (std::size_t i = 0; i < values.size();) {
    std::size_t last = i;
    std::uint64_t step = 1;
    if (i + 1 < values.size()) {
      step = values[i + 1] - values[i];
      while (last + 1 < values.size() && values[last + 1] - values[last] == step) ++last;
      if (step != 1 && last - i < 2) last = i;
    }
    std::string piece = std::to_string(values[i]);
    if (last > i) piece += "-" + std::to_string(values[last]);
    if (last > i && step != 1) piece += ":" + std::to_string(step);
    if (!text.empty() && text.size() + 1 + piece.size() > kMostChars) return text + ",...";
    text += (text.empty() ? "" : ",") + piece;
    i = last + 1;
  }
  return text;
}

}  // namespace

std::string render_job_table(const api::Json& jobs, std::int64_t now_us, bool expand,
                             std::size_t columns) {
  std::vector<std::array<std::string, 8>> rows = {
      {"ID", "NAME", "USER", "STATE", "GPUS", "MEM/GPU", "PLACED(WHY)", "ELAPSED"}};
  for (std::size_t i = 0; i < jobs.size();) {
    std::size_t end = i + 1;
    while (!expand && end < jobs.size() && continues_queued_run(jobs[end - 1], jobs[end])) ++end;
    const api::Json& job = jobs[i];
    const api::Json& spec = job["spec"];
    std::string id = std::to_string(job["id"].get<std::uint64_t>());
    std::string name = job_name(job);
    if (end - i > 1) {  // a run of queued array members, as squeue shows pending arrays
      std::vector<std::uint64_t> indices;
      for (std::size_t k = i; k < end; ++k) {
        indices.push_back(jobs[k]["spec"]["array"]["index"].get<std::uint64_t>());
      }
      id += "-" + std::to_string(jobs[end - 1]["id"].get<std::uint64_t>());
      name =
          (spec["name"].get<std::string>().empty() ? "-"
                                                   : printable(spec["name"].get<std::string>())) +
          "[" + ranges_text(indices) + "]";
    }
    // RUNNING in the store until it has ended; STOPPING once asked to stop (as squeue's CG).
    const std::string state =
        field(job, "stopping").is_object() ? "STOPPING" : job["state"].get<std::string>();
    rows.push_back({id, name, printable(job["user"].get<std::string>()), state,
                    std::to_string(spec["gpus"].get<int>()), memory_text(job),
                    placed_or_why_text(job, now_us), elapsed_text(job, now_us)});
    i = end;
  }
  std::size_t id_width = 6;
  std::size_t placed_width = 14;  // a stopping job's note widens the column, not its row alone
  for (const auto& row : rows) {
    id_width = std::max(id_width, row[0].size());
    placed_width = std::max(placed_width, row[6].size());
  }
  // The names whole (piped to grep, a name cut at 20 columns matched nothing), then cut to
  // fit a terminal below.
  std::size_t name_width = 20;
  for (const auto& row : rows) name_width = std::max(name_width, display_width(row[1]));
  std::size_t user_width = 10;
  // The other columns and the spaces between them: 2 + 1 + 10 + 1 + 4 + 1 + 8 + 1 + 1 + 9.
  // 89 columns with names of up to 20.
  const std::size_t width = id_width + name_width + user_width + placed_width + 39;
  if (columns > 0 && width > columns) {
    // First the room the users' names leave in theirs, then the job names' down to 8, then
    // the users' down to 4.
    std::size_t excess = width - columns;
    std::size_t users = 4;
    for (const auto& row : rows) users = std::max(users, display_width(row[2]));
    const auto take = [&excess](std::size_t& column, std::size_t least) {
      const std::size_t taken = column > least ? std::min(excess, column - least) : 0;
      column -= taken;
      excess -= taken;
    };
    take(user_width, std::min(users, user_width));
    take(name_width, 8);
    take(user_width, 4);
  }
  std::string text;
  for (const auto& row : rows) {
    // The name and the user are the user's words, in any script: cut and padded by their
    // columns here (display_width), not by fmt's count of them.
    text += fmt::format("{:>{}}  {} {} {:<10} {:>4} {:>8} {:<{}} {:>9}\n", row[0], id_width,
                        pad_to_width(fit_to_width(row[1], name_width), name_width),
                        pad_to_width(fit_to_width(row[2], user_width), user_width), row[3], row[4],
                        row[5], row[6], placed_width, row[7]);
  }
  return text;
}

namespace {

// A job queued again after a run (preempted, moved, over its memory; or claimed by a daemon
// that stopped before it could start it): what became of that run, and why it was queued
// again where the daemon recorded it (requeue_reason; a daemon from before it: preempted).
// Its record keeps the run's GPUs, times and signal, which show prints as the next run's
// once it starts.
std::string requeued_text(const api::Json& job) {
  const std::string attempt = "attempt " + job["attempts"].dump();
  if (field(job, "end_time_us").is_null()) {
    return attempt + " did not start before the daemon stopped; queued to run again";
  }
  const std::int64_t ran_us =
      job["end_time_us"].get<std::int64_t>() - job["start_time_us"].get<std::int64_t>();
  const std::string ended = field(job, "signal").is_number_integer()
                                ? "killed by signal " + signal_text(job["signal"])
                                : "exit code " + or_dash(field(job, "exit_code"));
  const api::Json& gpus = field(job, "placed_gpus");
  const std::string where = !gpus.is_array() || gpus.empty() ? ""
                            : gpus.size() == 1               ? " on GPU " + placed_text(job)
                                                             : " on GPUs " + placed_text(job);
  const double ran_s = static_cast<double>(std::max<std::int64_t>(0, ran_us)) / 1e6;
  if (const api::Json& why = field(job, "requeue_reason"); why.is_string()) {
    return fmt::format("{} was stopped after {}{} ({}); {}", attempt,
                       format_duration(Seconds(ran_s)), where, ended, why.get<std::string>());
  }
  return fmt::format("{} was preempted after {}{} ({}); queued to run again", attempt,
                     format_duration(Seconds(ran_s)), where, ended);
}

// The limits the job runs with, those with a bound first ("core 0 (hard unlimited), nofile
// 1024 (hard 524288)"), then the names of the unlimited ones ("unlimited: as, cpu, stack").
std::string limits_text(const api::Json& limits) {
  const auto value = [](const api::Json& number) -> std::optional<std::uint64_t> {
    if (number.is_number_unsigned()) return number.get<std::uint64_t>();
    return std::nullopt;
  };
  std::vector<std::string> bounded;
  std::vector<std::string> unlimited;
  for (const auto& [name, pair] : limits.items()) {
    if (!pair.is_object()) continue;
    const ResourceLimit limit{name, value(field(pair, "soft")), value(field(pair, "hard"))};
    if (!limit.soft && !limit.hard) {
      unlimited.push_back(printable(name));
    } else {
      bounded.push_back(printable(format_limit(limit)));
    }
  }
  std::string text = fmt::format("{}", fmt::join(bounded, ", "));
  if (!unlimited.empty()) {
    text += fmt::format("{}unlimited: {}", text.empty() ? "" : "; ", fmt::join(unlimited, ", "));
  }
  return text;
}

}  // namespace

std::optional<std::int64_t> limit_sigterm_us(const api::Json& job) {
  const api::Json started = job.value("start_time_us", api::Json());
  const api::Json limit = job.value("spec", api::Json::object()).value("time_limit_s", api::Json());
  if (job.value("state", std::string()) != "RUNNING" || !started.is_number_integer() ||
      !limit.is_number()) {
    return std::nullopt;
  }
  return started.get<std::int64_t>() + std::llround(limit.get<double>() * 1e6);
}

std::string render_job_details(const api::Json& job, std::int64_t now_us) {
  const api::Json& spec = job["spec"];
  std::string command =
      spec.contains("shell_command") ? spec["shell_command"].get<std::string>() : "";
  if (spec.contains("argv")) {
    for (const api::Json& word : spec["argv"]) {
      command += (command.empty() ? "" : " ") + shell_quote(word.get<std::string>());
    }
  }
  std::string text;
  // Every value printable: the name, command and folder are what the job's user chose, and
  // root's `show` of another user's job must not pass their control characters on.
  auto line = [&text](std::string_view key, const std::string& value) {
    text += fmt::format("{:<14} {}\n", std::string(key) + ":", printable(value));
  };
  line("id", std::to_string(job["id"].get<std::uint64_t>()));
  line("name", job_name(job));
  line("user", fmt::format("{} (uid {})", job["user"].get<std::string>(), job["uid"].dump()));
  line("state", job["state"].get<std::string>());
  if (const api::Json& stopping = field(job, "stopping"); stopping.is_object()) {
    line("stopping", stopping_details(stopping, now_us, ::geteuid()));
  }
  // Why it ended, for every end a user would ask about (a success needs no explaining).
  if (const api::Json& reason = field(job, "end_reason");
      reason.is_string() && job["state"] != "COMPLETED") {
    line("reason", reason.get<std::string>());
  }
  const bool queued = is_queued(job);
  if (queued && job["attempts"].get<int>() > 0 && field(job, "start_time_us").is_number()) {
    line("requeued", requeued_text(job));
  }
  line("command", command);
  line("working dir", spec["working_dir"].get<std::string>());
  if (spec["gpus"].get<int>() == 0) {
    line("gpus", "none (a CPU-only job)");
  } else if (field(spec, "gpu_mem").is_null() && field(job, "placed_gpu_mem").is_number()) {
    line("gpus", fmt::format("{} x auto per GPU (placed with {})", spec["gpus"].get<int>(),
                             memory_text(job)));
  } else {
    line("gpus", fmt::format("{} x {} per GPU", spec["gpus"].get<int>(), memory_text(job)));
  }
  // The rest of what was submitted, so that a user can check what the scheduler was told.
  if (spec["gpus"].get<int>() > 0 && field(spec, "util_share").is_number()) {
    const double share = spec["util_share"].get<double>();
    line("share", share >= 1.0 ? std::string("1 (each GPU to itself)")
                               : fmt::format("{:g} of each GPU's compute", share));
  }
  if (field(spec, "priority").is_number()) line("priority", spec["priority"].dump());
  if (const api::Json& after = field(spec, "dependencies"); after.is_array() && !after.empty()) {
    std::string waits_for;
    for (const api::Json& dependency : after) {
      waits_for += fmt::format("{}{}:{}", waits_for.empty() ? "" : ", ",
                               dependency.value("kind", std::string("afterok")),
                               dependency.value("job", std::uint64_t{0}));
    }
    line("after", waits_for);
  }
  if (const api::Json& deadline = field(spec, "deadline_us"); deadline.is_number_integer()) {
    line("deadline",
         api::iso_time(store::WallTime(std::chrono::microseconds(deadline.get<std::int64_t>()))));
  }
  if (field(spec, "restartable").is_boolean()) {
    line("restartable", spec["restartable"].get<bool>() ? "yes" : "no");
  }
  // Which job this one runs again (`fastgpu resubmit`, the dashboard's Run again).
  if (const api::Json& from = field(spec, "resubmitted_from"); from.is_number_unsigned()) {
    line("resubmitted", fmt::format("from job {} (`fastgpu show {}`)", from.dump(), from.dump()));
  }
  if (const api::Json& umask = field(spec, "umask"); umask.is_string()) {
    line("umask", umask.get<std::string>());
  }
  if (const api::Json& limits = field(spec, "limits"); limits.is_object()) {
    line("limits", limits_text(limits));
  }
  line("placed on", queued ? "-" : placed_text(job));
  if (const api::Json& waiting = field(job, "waiting"); waiting.is_object()) {
    line("waiting", waiting.value("reason", std::string("?")) + ": " +
                        waiting.value("detail", std::string("-")));
  }
  std::string limit = field(spec, "time_limit_s").is_null()
                          ? "none"
                          : format_duration(Seconds(spec["time_limit_s"].get<double>()));
  // A running job's, counted from its start: when its supervisor sends SIGTERM (what a user
  // checks after `fastgpu update --time`). Once past, the stopping line says the rest.
  if (const std::optional<std::int64_t> sigterm_us = limit_sigterm_us(job);
      sigterm_us && *sigterm_us > now_us) {
    limit += fmt::format(" (SIGTERM at {}, in {})",
                         api::iso_time(store::WallTime(std::chrono::microseconds(*sigterm_us))),
                         format_duration(Seconds(static_cast<double>(*sigterm_us - now_us) / 1e6)));
  }
  line("time limit", limit);
  // Only a grace of its own: the daemon's 10 s goes unsaid, as before.
  if (const api::Json& grace = field(spec, "grace_s"); grace.is_number()) {
    line("grace", format_duration(Seconds(grace.get<double>())) + " from SIGTERM to SIGKILL");
  }
  line("submitted", job["submit_time"].get<std::string>());
  // A job queued again: its next run's, not its last one's (the requeued line has that).
  const auto of_this_run = [&job, queued](const char* key) {
    return queued ? std::string("-") : or_dash(field(job, key));
  };
  line("started", of_this_run("start_time"));
  line("ended", of_this_run("end_time"));
  line("elapsed", elapsed_text(job, now_us));
  add_cost_lines(job, now_us, line);
  line("exit code", of_this_run("exit_code"));
  line("signal", queued ? "-" : signal_text(field(job, "signal")));
  line("attempts", job["attempts"].dump());
  // A path only where a log was ever written: a job that never started has none. A log the
  // caller cannot look for (a shared daemon's state folder is root's, and only the log
  // itself is the user's; the daemon says so) is taken to be there: only a log known to be
  // missing is "-".
  const std::string log_path = job["log_path"].get<std::string>();
  const bool closed = field(job, "log_readable") == false;
  std::error_code unknown;
  const bool missing = !closed && !std::filesystem::exists(log_path, unknown) && !unknown;
  // The supervisor opens the log before it starts the program and reports its pid: a run
  // with a pid wrote a log, and one missing now was deleted.
  const bool wrote_log = field(job, "job_pid").is_number() ||
                         (field(job, "start_time_us").is_number() && job["state"] != "RUNNING");
  if (log_path.empty() || (missing && !wrote_log)) {
    line("log", "-");
  } else if (missing) {
    line("log", log_path + " (deleted: the job wrote it, and it is not there now)");
  } else if (closed) {
    line("log", fmt::format("{} (in the daemon's private folder, closed to you: `fastgpu logs {}` "
                            "prints it)",
                            log_path, job["id"].dump()));
  } else {
    line("log", log_path);
  }
  // A job of the caller's that did not complete: how to run it again (root's `show` of
  // another user's job says nothing: only its owner may resubmit it).
  const std::string state = job["state"].get<std::string>();
  const bool own = field(job, "uid").is_number_unsigned() &&
                   job["uid"].get<std::uint32_t>() == static_cast<std::uint32_t>(::geteuid());
  // The jobs that ran it again: said instead of how to, which would run it once more.
  const api::Json& again = field(job, "resubmitted_as");
  if (again.is_array() && !again.empty()) {
    std::vector<std::string> ids;
    for (const api::Json& id : again) ids.push_back(id.dump());
    line("run again as", fmt::format("{} (`fastgpu show {}`)", fmt::join(ids, ", "), ids.back()));
  } else if (own && (state == "FAILED" || state == "TIMEOUT" || state == "CANCELLED")) {
    line("run again", state == "TIMEOUT"
                          ? fmt::format("`fastgpu resubmit {} --time LONGER` (as submitted, with "
                                        "a longer time limit)",
                                        job["id"].dump())
                          : fmt::format("`fastgpu resubmit {}` (as submitted; submit's flags "
                                        "change what they name)",
                                        job["id"].dump()));
  }
  return text;
}

Result<std::int64_t> moment_micros(const std::string& text, std::string_view option,
                                   std::int64_t now_us) {
  const auto now = now_us != 0 ? store::WallTime(std::chrono::microseconds(now_us))
                               : std::chrono::time_point_cast<std::chrono::microseconds>(
                                     std::chrono::system_clock::now());
  Result<store::WallTime> moment = engine::parse_moment(text, now, option);
  if (!moment.ok()) return moment.status();
  return std::max<std::int64_t>(0, moment->time_since_epoch().count());
}

Result<std::string> ended_filter_query(const std::optional<std::string>& since_text,
                                       const std::optional<std::string>& until_text,
                                       const std::optional<std::string>& names) {
  std::string query;
  std::optional<std::int64_t> since_us;
  std::optional<std::int64_t> until_us;
  const std::int64_t now_us = now_micros();  // one now for both
  if (since_text) {
    Result<std::int64_t> since = moment_micros(*since_text, "--since", now_us);
    if (!since.ok()) return since.status();
    since_us = *since;
    query += fmt::format("&ended_since_us={}", *since_us);
  }
  if (until_text) {
    Result<std::int64_t> until = moment_micros(*until_text, "--until", now_us);
    if (!until.ok()) return until.status();
    until_us = *until;
    query += fmt::format("&ended_before_us={}", *until_us);
  }
  if (since_us && until_us && *since_us >= *until_us) {
    return invalid_argument(
        fmt::format("--since '{}' is not before --until '{}', so no job ended between them; "
                    "give the earlier moment to --since (e.g. --since 2d --until 1d)",
                    *since_text, *until_text));
  }
  if (names) {
    Result<std::string> listed = name_query(*names);
    if (!listed.ok()) return listed.status();
    query += *listed;
  }
  return query;
}

void add_ended_filter_options(CLI::App& command, std::optional<std::string>& since,
                              std::optional<std::string>& until,
                              std::optional<std::string>& names) {
  command.add_option("-S,--since", since,
                     std::string("Only jobs that ended at or after TIME: ") + kMomentForms);
  command.add_option("-E,--until", until, "Only jobs that ended before TIME (as --since)");
  command.add_option("--name", names,
                     "Only jobs of these names, comma-separated (e.g. --name train,eval)");
}

Result<std::string> name_query(const std::string& names) {
  const std::optional<std::vector<std::string_view>> parts = split_commas(names);
  if (!parts) {
    return invalid_argument(
        fmt::format("--name '{}' has an empty name; give job names separated by commas, e.g. "
                    "--name train,eval",
                    names));
  }
  std::string query = "&name=";
  for (std::size_t i = 0; i < parts->size(); ++i) {
    if (i > 0) query += "%2C";
    // RFC 3986's unreserved characters go as they are, every other byte as %XX.
    for (const char c : (*parts)[i]) {
      const auto byte = static_cast<unsigned char>(c);
      if (std::isalnum(byte) || c == '-' || c == '.' || c == '_' || c == '~') {
        query += c;
      } else {
        query += fmt::format("%{:02X}", byte);
      }
    }
  }
  return query;
}

std::string id_range(std::uint64_t first, std::uint64_t last) {
  return first == last ? std::to_string(first) : fmt::format("{}-{}", first, last);
}

std::int64_t now_micros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void print_json(const api::Json& json) {
  const std::string text = json.dump(2, ' ', false, api::Json::error_handler_t::replace) + "\n";
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

Status print_json_text(std::string_view compact) {
  Result<std::string> text = api::indent_compact_json(compact);
  if (!text.ok()) return text.status();
  *text += '\n';
  print_text(*text);
  return {};
}

void print_text(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

}  // namespace fastgpu::cli
