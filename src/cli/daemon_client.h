// What the job verbs share: finding (or starting) the daemon, printing errors with the
// right exit code, and rendering jobs as the daemon reports them (docs/api.md).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.h"
#include "fastgpu/api/client.h"
#include "fastgpu/api/paths.h"
#include "fastgpu/core/result.h"

namespace fastgpu::cli {

// Flags every job verb has.
struct DaemonFlags {
  std::string devices;  // simulated GPUs for a daemon this verb starts (--devices)
  bool json = false;
};

// The simulated GPUs asked for: `flag` (--devices) when given, else $FASTGPU_DEVICES; empty:
// the real GPUs. Every verb that reads GPUs or starts a daemon reads them so.
std::string devices_or_environment(const std::string& flag);

// Refuses an empty --devices value (bad usage), which read as "not given".
CLI::Validator a_devices_spec();

// Adds --devices (and --json when `with_json`) to a verb.
void add_daemon_flags(CLI::App& command, DaemonFlags& flags, bool with_json = true);

// Said when this command has started a daemon that keeps a hard limit of this shell's meant
// for a job (`ulimit -t 60`, `ulimit -v 4000000`): only root raises one again, so every job
// that daemon runs is held to it. Empty when there is none.
std::string kept_limits_note();

// A client of the daemon on this user's socket; starts a daemon first when none answers
// (as task-spooler does), with --devices or else $FASTGPU_DEVICES for its GPUs.
Result<api::ApiClient> connect_daemon(const DaemonFlags& flags, const std::string& verb);

// How long ReconnectingClient tries to reach a daemon again, and its pauses between tries
// (the first, doubled after each failed try up to the longest).
struct ReconnectOptions {
  std::chrono::milliseconds give_up_after{30'000};
  std::chrono::milliseconds first_pause{100};
  std::chrono::milliseconds longest_pause{2'000};
};

// The client of a verb that follows jobs until they end (run's progress, wait, logs -f).
// Jobs outlive their daemon (their supervisors run on and the next daemon takes them back),
// so a daemon that goes away meanwhile (stopped, restarted, killed) must not end the verb:
// a GET that finds no daemon answering starts one as connect_daemon does (or finds the one
// another command started), says so once on stderr and asks again. It fails only when no
// daemon could be reached within `give_up_after` of failed tries; the error names the
// socket and the daemon's log. GETs only, which are safe to send again: the verbs that
// change something (submit, cancel) send each request once, through api::ApiClient.
//
// Thread-safety: one thread at a time.
class ReconnectingClient {
 public:
  ReconnectingClient(api::DaemonPaths paths, DaemonFlags flags, std::string verb,
                     ReconnectOptions options = {});

  Result<api::Json> get(const std::string& target);
  // The plain client, for a request that must not be sent twice (a submit).
  const api::ApiClient& once() const { return client_; }

 private:
  // True when `failure` came from a daemon that no longer answers (not an error it sent).
  bool went_away(const Status& failure) const;
  // Tries until a daemon answers; says on stderr which one it found.
  Status reconnect(const Status& failure);

  api::DaemonPaths paths_;
  DaemonFlags flags_;
  std::string verb_;
  ReconnectOptions options_;
  api::ApiClient client_;
};

// connect_daemon for a verb that follows jobs until they end.
Result<ReconnectingClient> connect_following(const DaemonFlags& flags, const std::string& verb);

// The daemon's jobs (a listing's "jobs", or jobs gathered one by one) as records, for the
// reports; the first that cannot be read is the error.
template <typename Jobs>
Result<std::vector<store::JobRecord>> job_records(const Jobs& jobs) {
  std::vector<store::JobRecord> records;
  for (const api::Json& job : jobs) {
    Result<store::JobRecord> record = api::job_record_from_json(job);
    if (!record.ok()) return record.status();
    records.push_back(std::move(record).value());
  }
  return records;
}

// GET `target` from the daemon (started if none answers), as `verb`.
Result<api::Json> get_from_daemon(const DaemonFlags& flags, const std::string& verb,
                                  const std::string& target);

// The same, the body as the daemon sent it (compact JSON text), not parsed.
Result<std::string> get_text_from_daemon(const DaemonFlags& flags, const std::string& verb,
                                         const std::string& target);

// Prints "fastgpu VERB: message" to stderr; returns the exit code for it (always 1: a
// failure the user can fix; bad usage is caught before a verb talks to the daemon).
int fail(const std::string& verb, const Status& status);
// Prints "fastgpu VERB: message" to stderr and returns kExitUsage.
int usage_error(const std::string& verb, const std::string& message);

// --all-users (queue, history) is for root. Asked before the daemon is (or is started
// only to refuse): the daemon's refusal names the API's all=true, which a user of the CLI
// never typed; this one names --all-users. The daemon still checks, by the socket's peer.
// `does`: what root alone does with them, as the refusal says it ("sees", "purges").
Status check_all_users(bool all_users, std::string_view does = "sees");

// Parses job ids as typed ("12"); the error names the bad one.
Result<std::vector<std::uint64_t>> parse_job_ids(const std::vector<std::string>& texts);

// Job ids as cancel and wait take them: ids ("12") and ranges of ids ("12-40", as the
// queue's ID column shows an array's waiting members), in the order given, each once; the
// error names the bad one. A range holds at most kMaxIdRange ids.
struct JobIdArgument {
  std::uint64_t id = 0;
  bool from_range = false;
};
inline constexpr std::uint64_t kMaxIdRange = 1'000'000;
Result<std::vector<JobIdArgument>> parse_job_id_ranges(const std::vector<std::string>& texts);

// The states of `queue -t` (ended = false: jobs that have not ended) or `history --state`
// (ended = true), comma-separated in any case, as the daemon's ?state= takes them (upper
// case); the error names the state as typed and, for one of the other verb, that verb.
Result<std::string> parse_state_list(const std::string& text, bool ended,
                                     std::string_view verb = {});

// `&name=...` for the daemon's listing, from --name's comma-separated job names (as
// submitted with --name, or a job file's name:), each percent-encoded; an empty name in
// the list is refused, naming the text.
Result<std::string> name_query(const std::string& names);

// A moment as --since, --until and --before take it (engine::parse_moment, read against
// now), in microseconds since 1970 for the daemon's *_us parameters; a moment before 1970
// is 1970 (no job ended before). The error names `option`.
// `now_us`: the now to read it against, 0 for the clock's (two options of one command read
// against one now: `--since 1m --until 1m` read two and passed as a window of microseconds).
Result<std::int64_t> moment_micros(const std::string& text, std::string_view option,
                                   std::int64_t now_us = 0);
// `&ended_since_us=...&ended_before_us=...&name=...` for --since, --until and --name
// (history, report; each nullopt when not given), the two moments read against one now; a
// usage error naming the option, or a --since not before --until.
Result<std::string> ended_filter_query(const std::optional<std::string>& since,
                                       const std::optional<std::string>& until,
                                       const std::optional<std::string>& names);
// Adds history's and report's -S/--since, -E/--until and --name, read by the above.
void add_ended_filter_options(CLI::App& command, std::optional<std::string>& since,
                              std::optional<std::string>& until, std::optional<std::string>& names);
// What such an option's help says of the moments it takes.
inline constexpr const char* kMomentForms =
    "a time ago (2h, 1d, now-30m), a date (2026-12-01, from its midnight) or a date and time "
    "(2026-12-01T18:00, local; ...Z for UTC)";

// One line per job (`jobs` by increasing id): ID NAME USER STATE GPUS MEM/GPU PLACED
// ELAPSED, with a header. Unless `expand`, queued members of one array with consecutive ids
// share a line, as squeue shows a pending array: ID "12-9999", NAME "sweep[3-9990]".
// `columns`: the terminal's width, 0 for none (a pipe). A table wider than it narrows USER
// to its longest name, then NAME (down to 8), then USER (down to 4): on an 80-column
// terminal its 89 columns wrapped every row.
std::string render_job_table(const api::Json& jobs, std::int64_t now_us, bool expand,
                             std::size_t columns = 0);
// The details of one job, one "key: value" per line.
std::string render_job_details(const api::Json& job, std::int64_t now_us);
// When a running job's supervisor sends SIGTERM for its time limit, which counts from the
// job's start (microseconds since the epoch); nullopt for a job not running or without one.
std::optional<std::int64_t> limit_sigterm_us(const api::Json& job);

// The wall clock in microseconds since the epoch.
std::int64_t now_micros();

// "12", or "12-40": the ids from `first` to `last` as the verbs that take ranges read them
// (a batch's or an array's ids follow one another).
std::string id_range(std::uint64_t first, std::uint64_t last);

void print_json(const api::Json& json);
// Prints compact JSON text (as the daemon sends it) as print_json prints the same value,
// without parsing it; fails when the text does not close (see indent_compact_json).
Status print_json_text(std::string_view compact);
void print_text(const std::string& text);

}  // namespace fastgpu::cli
