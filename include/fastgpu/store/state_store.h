// StateStore: FastGPU's durable state (jobs as submitted, their lifecycle, events, GPU
// samples and per-signature history), behind one narrow interface. The real implementation
// is SQLite (WAL); unit tests use the same code on SQLite's in-memory database (":memory:").
//
// Units: bytes for memory, microseconds since the Unix epoch for times (WallTime), seconds
// for durations, watts for power, joules for energy, percent (0-100) for utilization.
// Every operation returns a Status or a Result; nothing throws for expected failures (a busy
// or corrupt database, an unknown job, a stale state).
//
// Crash safety (see docs/store.md): every operation is one SQLite transaction, so a process
// killed at any moment (kill -9) leaves each operation either fully applied or absent.
// State changes are compare-and-set: a writer names the state it expects, and the change is
// refused if another writer moved the job first. The engine claims a job with
// record_start (QUEUED -> RUNNING) *before* it launches it, so a restarted daemon never
// launches a job twice: it finds it RUNNING and re-adopts it instead.
//
// Thread-safety: a StateStore may be shared between threads (the SQLite implementation
// serialises calls on its connection). Several processes may open the same file at once;
// writers wait for each other up to StoreOptions::busy_timeout.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fastgpu/core/ids.h"
#include "fastgpu/core/resource_limits.h"
#include "fastgpu/core/result.h"
#include "fastgpu/core/units.h"
#include "fastgpu/store/environment.h"

namespace fastgpu::store {

using fastgpu::JobId;

// Wall-clock time with microsecond resolution, as stored (integer microseconds since epoch).
using WallTime = std::chrono::sys_time<std::chrono::microseconds>;

enum class JobState {
  kQueued,     // waiting for its dependencies and for GPUs
  kRunning,    // claimed by the engine; its process is (being) launched or runs
  kCompleted,  // exited with status 0
  kFailed,     // exited non-zero, was killed by a signal, or could not be launched
  kCancelled,  // cancelled by its user (queued or running)
  kTimeout,    // stopped at its time limit (SIGTERM, then SIGKILL), however it then exited
  kPreempted,  // stopped by the scheduler; a restartable job goes back to QUEUED from here
};

// "QUEUED", "RUNNING", ... (the names stored in the database and shown to users).
std::string_view job_state_name(JobState state);
// Parses a name written by job_state_name; case-sensitive.
Result<JobState> parse_job_state(std::string_view name);
// COMPLETED, FAILED, CANCELLED and TIMEOUT: nothing moves a job out of these.
bool is_terminal(JobState state);
// The lifecycle's edges: QUEUED -> RUNNING | CANCELLED | FAILED;
// RUNNING -> COMPLETED | FAILED | CANCELLED | TIMEOUT | PREEMPTED | QUEUED (requeued after
// a lost run); PREEMPTED -> QUEUED (requeue) | CANCELLED | FAILED.
bool is_legal_transition(JobState from, JobState to);

enum class DependencyKind {
  kAfterOk,   // after the other job COMPLETED (Slurm's afterok)
  kAfterAny,  // after the other job ended, however (Slurm's afterany)
};

struct Dependency {
  // The job waited for. REQUIRES: it exists in the store when the batch is submitted,
  // unless batch_index is set.
  JobId job;
  DependencyKind kind = DependencyKind::kAfterOk;
  // When set, the dependency is on the batch_index-th job of the same submit() batch
  // (which must come earlier in the batch), and `job` is ignored: lets one batch carry
  // its own dependency graph before its ids exist.
  std::optional<std::size_t> batch_index;

  friend bool operator==(const Dependency&, const Dependency&) = default;
};

struct ArrayMember {
  // 0 in a submitted spec means "a new array": every job of the batch with array_id 0
  // gets the id of the first of them (Slurm's convention: the array's id is its first
  // job's id). Any other value joins an existing array.
  std::uint64_t array_id = 0;
  std::uint32_t index = 0;
  // At most this many members of the array run at once (Slurm's --array 0-15%4); 0 means
  // no limit. Every member of one array carries the same value.
  std::uint32_t max_running = 0;

  friend bool operator==(const ArrayMember&, const ArrayMember&) = default;
};

// The longest time limit a job may have: a year (366 days). Longer ones are a typo more
// often than a plan, and "no limit" is said outright (nullopt).
inline constexpr std::int64_t kMaxTimeLimitSeconds = 366LL * 86400;
// The longest grace between SIGTERM and SIGKILL a job may ask for: a day.
inline constexpr std::int64_t kMaxKillGraceSeconds = 86400;

// The furthest a deadline may lie after its job's submission: 100 years (of 366 days), what
// `--deadline now+...` already allowed. Further ones are a typo or a stand-in for "none",
// which is said outright (nullopt); the largest integer read as µs was the year 294247.
inline constexpr std::int64_t kMaxDeadlineAheadSeconds = 100LL * 366 * 86400;

// What a user submitted. Stored as given, but for what change_queued() may change while the
// job is queued (held_by, priority, time_limit_s, kill_grace_s, deadline); the store checks
// only what it must to stay consistent (see validate_job_spec).
struct JobSpec {
  std::string name;
  std::vector<std::string> argv;  // exactly one of argv and shell_command is non-empty
  std::string shell_command;      // run with /bin/sh -c
  std::string working_dir;        // absolute path
  Environment environment;        // "KEY=VALUE" entries, in order; shared by copies
  int gpus = 1;                   // 0 means a CPU-only job
  std::optional<Bytes> gpu_mem;   // bytes per GPU; nullopt means "auto"
  double util_share = 1.0;        // in (0, 1]; 1.0 means exclusive compute
  int priority = 0;
  std::optional<std::int64_t> time_limit_s;  // nullopt means no limit
  std::optional<WallTime> deadline;
  std::vector<Dependency> dependencies;
  std::optional<ArrayMember> array;
  bool restartable = false;
  // Held (`fastgpu hold`, `submit --hold`): the uid of who held it; the job stays QUEUED and
  // does not start until it is released. nullopt: it starts when it may. A job held by root
  // is released only by root (Slurm's administrator hold).
  std::optional<std::uint32_t> held_by;
  // The job this one runs again (`fastgpu resubmit`, the dashboard's Run again): one of the
  // same user's, which the daemon checks at submit. nullopt: a job submitted anew.
  std::optional<JobId> resubmitted_from;
  // The submitter's umask (0..0777), set in the job's process before its exec; nullopt
  // (an API client that sends none, a job stored before schema 4): the daemon's own.
  std::optional<std::uint32_t> umask;
  // Seconds between SIGTERM and SIGKILL when the job is stopped (its time limit, a cancel, a
  // preemption): time to save a checkpoint. nullopt (and every job stored before schema 9):
  // the daemon's (10 s).
  std::optional<std::int64_t> kill_grace_s;
  // The submitter's resource limits (`ulimit`), set in the job's process before its exec, in
  // carried_limit_names()' order; empty (an API client that sends none, a job stored before
  // schema 11): the daemon's own.
  ResourceLimits limits;
  std::uint32_t uid = 0;
  std::string user;
  std::string signature;  // ties the job to its history; empty means "no history"
  WallTime submit_time{};

  friend bool operator==(const JobSpec&, const JobSpec&) = default;
};

// Resource use measured while a job ran. nullopt means "not measured" (never 0 for that).
struct JobAccounting {
  std::optional<Bytes> peak_gpu_mem;
  std::optional<double> gpu_seconds;
  // Joules; nullopt when unknown, or known only as a lower bound (below).
  std::optional<double> energy_joules;
  // Apportioned on a shared GPU, or prorated over a sample interval the run started or
  // ended in (of energy_joules or of energy_at_least_joules).
  bool energy_is_estimate = false;
  std::optional<double> mean_util_percent;
  // When some of the run's GPUs had an energy counter that could not be read across the
  // whole run (energy_unread_gpus), the joules measured on the others, a lower bound, with
  // energy_joules nullopt. Nullopt otherwise.
  std::optional<double> energy_at_least_joules = std::nullopt;
  std::vector<std::uint32_t> energy_unread_gpus = {};  // ascending, each once

  friend bool operator==(const JobAccounting&, const JobAccounting&) = default;
};

struct JobRecord {
  JobId id;
  JobSpec spec;  // array.array_id is resolved (never 0 here)
  JobState state = JobState::kQueued;
  std::vector<std::uint32_t> placed_gpus;  // of the latest run; empty before the first
  // Declared bytes per GPU the latest run was placed with ("auto" resolved); nullopt before
  // the first run, for a CPU-only job, or for a run recorded by a schema-1 FastGPU.
  std::optional<Bytes> placed_bytes_per_gpu;
  std::optional<WallTime> start_time;  // of the latest run
  // When the job ended: its latest run's end, or for a job that never ran (cancelled while
  // queued, its dependency failed) the moment of the transition that ended it.
  std::optional<WallTime> end_time;
  std::optional<int> exit_code;
  std::optional<int> signal;
  std::optional<std::int32_t> supervisor_pid;
  std::optional<std::int32_t> job_pid;
  std::string log_path;
  JobAccounting accounting;
  // The peak GPU memory measured so far in the latest run (record_run_peak), kept so that
  // a daemon restarted while the job runs goes on from it; nullopt until one is measured.
  std::optional<Bytes> run_peak_gpu_mem;
  std::uint32_t attempts = 0;  // times the job was started
  // Why the job ended, as the daemon recorded it: the reason of its last transition
  // ("exited with status 1", "dependency 13 failed: it ended FAILED", "could not be
  // launched: ..."); empty unless the job is COMPLETED, FAILED, CANCELLED, TIMEOUT or
  // PREEMPTED.
  std::string end_reason;

  friend bool operator==(const JobRecord&, const JobRecord&) = default;
};

struct Transition {
  JobId job;
  std::optional<JobState> from;  // nullopt for the submission itself
  JobState to = JobState::kQueued;
  WallTime at{};
  std::string reason;

  friend bool operator==(const Transition&, const Transition&) = default;
};

struct Event {
  std::int64_t seq = 0;  // assigned by append_event; increases with every event
  WallTime at{};
  std::string kind;  // e.g. "gpu.lost", "daemon.start"
  std::optional<JobId> job;
  std::string message_json = "{}";  // REQUIRES: valid JSON

  friend bool operator==(const Event&, const Event&) = default;
};

// One reading of one GPU. Fields the probe could not read are nullopt.
struct Sample {
  WallTime at{};
  std::uint32_t gpu = 0;
  std::optional<Bytes> memory_used;
  std::optional<double> util_percent;
  std::optional<double> power_watts;
  std::optional<std::uint64_t> energy_millijoules;  // NVML's cumulative counter

  friend bool operator==(const Sample&, const Sample&) = default;
};

// One ended run of a job with a signature, for the scheduler's "auto" estimates.
struct HistoryEntry {
  JobId job;
  std::optional<Bytes> peak_gpu_mem;
  double run_seconds = 0.0;
  JobState outcome = JobState::kCompleted;
  WallTime ended{};

  friend bool operator==(const HistoryEntry&, const HistoryEntry&) = default;
};

struct JobStart {
  std::vector<std::uint32_t> gpus;
  WallTime at{};
  std::string log_path;
  std::optional<std::int32_t> supervisor_pid;  // may be filled later with record_pids
  std::optional<std::int32_t> job_pid;
  // The declared bytes per GPU the scheduler placed the job with (its ledger entry and
  // memory quota); nullopt for a CPU-only job.
  std::optional<Bytes> bytes_per_gpu;
};

struct JobEnd {
  JobState state = JobState::kCompleted;  // REQUIRES: legal from RUNNING
  WallTime at{};
  std::optional<int> exit_code;
  std::optional<int> signal;
  JobAccounting accounting;
  std::string reason;
  // Appended in the end's own transaction (one commit instead of two per job).
  std::optional<Event> event;
  // Its launch failed: the job's program never ran. Its start and pid are cleared (it reads
  // as a job that never started, as one cancelled while queued does) and no run of its
  // signature is added to the history.
  bool never_ran = false;
};

// A change to a QUEUED job (`fastgpu hold`, `release`, `update`): each field set replaces the
// spec's; those left nullopt are kept. An inner nullopt clears the field (released; no time
// limit; the daemon's grace; no deadline).
struct QueuedJobChange {
  std::optional<std::optional<std::uint32_t>> held_by;
  std::optional<int> priority;
  std::optional<std::optional<std::int64_t>> time_limit_s;
  std::optional<std::optional<std::int64_t>> kill_grace_s;
  std::optional<std::optional<WallTime>> deadline;
  // Appended in the change's own transaction (what was changed, by whom).
  std::optional<Event> event;
};

// One job's pids, for StateStore::record_pids (one job) and record_pids_of (many).
struct JobPids {
  JobId job;
  std::int32_t supervisor_pid = 0;
  std::int32_t job_pid = 0;
  std::optional<WallTime> started;
  std::optional<Event> event;
};

// Conditions are combined with AND; an empty filter lists every job, by increasing id.
struct JobFilter {
  std::vector<JobState> states;  // any of these; empty means any state
  std::optional<std::uint32_t> uid;
  std::optional<std::uint64_t> array_id;
  std::optional<JobId> after;  // ids greater than this one (for paging)
  std::optional<std::size_t> limit;
  // Jobs that ended at or after `ended_from` and before `ended_before` (a job that has not
  // ended has no end, and is left out by either).
  std::optional<WallTime> ended_from;
  std::optional<WallTime> ended_before;
  std::vector<std::string> names;  // any of these names; empty means any name
  // Of the jobs the rest selects, only the `last_ended` that ended last (by end time, the
  // higher id first among equal ends), still listed by id; `after` and `limit` page them.
  std::optional<std::size_t> last_ended;
};

// What StateStore::purge_ended deleted, and what it kept.
struct Purged {
  struct Job {
    JobId id;
    std::string log_path;  // as recorded: empty for a job that never ran
  };
  std::vector<Job> jobs;
  // Jobs the filter selected that a job not yet ended depends on, kept.
  std::uint64_t kept_waited_on = 0;
  // Set by purge_ended_with_logs(): the deleted jobs' log files it could not delete, and
  // the first such file with the reason.
  std::uint64_t logs_not_removed = 0;
  std::string log_error;
};

class StateStore {
 public:
  virtual ~StateStore() = default;

  // Stores every job of `jobs` as QUEUED, with a submission transition each, in one
  // transaction: all or none. Returns their ids in order; ids increase and are never
  // reused. Fails (storing nothing) if any job is invalid or depends on an unknown job.
  Result<std::vector<JobId>> submit(std::span<const JobSpec> jobs);
  // As submit(), returning each stored job as get_job() now reads it (array id and
  // dependencies resolved), so that a caller keeping the queue in memory need not read a
  // batch of 10,000 jobs back.
  virtual Result<std::vector<JobRecord>> submit_records(std::span<const JobSpec> jobs) = 0;
  // Checks the batch as submit_records() would, every refusal of it at once (a dependency on
  // a job that does not exist), and stores nothing: so that a batch the daemon refuses for
  // other reasons is told the store's refusals too.
  virtual Status check_records(std::span<const JobSpec> jobs) = 0;

  // Moves a job from `from` to `to` if it is still in `from`, appending a transition.
  // Fails with kFailedPrecondition naming the actual state if another writer moved it,
  // with kInvalidArgument for an illegal edge, kNotFound for an unknown job.
  virtual Status transition(JobId job, JobState from, JobState to, WallTime at,
                            std::string_view reason) = 0;

  // Claims a QUEUED job: QUEUED -> RUNNING, placed GPUs, start time, log path, pids if
  // known, attempts + 1, end and outcome fields cleared. Compare-and-set like transition().
  virtual Status record_start(JobId job, const JobStart& start) = 0;
  // Fills in the pids of a RUNNING job once its supervisor has launched it, and the moment
  // its process started when known (the claim's time is when it was placed; a tick that
  // starts many jobs launches them over a while). `event`, if any, is appended in the same
  // transaction; nothing is written when the job is not RUNNING.
  virtual Status record_pids(JobId job, std::int32_t supervisor_pid, std::int32_t job_pid,
                             std::optional<WallTime> started = std::nullopt,
                             const std::optional<Event>& event = std::nullopt) = 0;
  // Raises the peak GPU memory measured so far in each RUNNING job's current run to the
  // bytes given (never lowers it), in one transaction; a job that no longer runs is skipped.
  virtual Status record_run_peaks(std::span<const std::pair<JobId, Bytes>> peaks) = 0;
  // Ends a RUNNING job (compare-and-set from RUNNING): outcome, end time, accounting, a
  // history entry when the job has a signature, and end.event if set; all or nothing.
  virtual Status record_end(JobId job, const JobEnd& end) = 0;

  // A tick's writes of one kind in one transaction: its claims, its launches' pids, its
  // ends. One Status per item, in order, each what the one-job call would return; an item
  // that fails leaves the others written (each is a savepoint of its own). When the
  // transaction itself fails (its begin or its commit: the database busy, the disk full),
  // every item that had succeeded gets that error instead, and nothing was written. A
  // job's claim must be committed before it is launched: the caller launches only the jobs
  // whose Status is ok.
  virtual std::vector<Status> record_starts(std::span<const std::pair<JobId, JobStart>> starts) = 0;
  virtual std::vector<Status> record_pids_of(std::span<const JobPids> pids) = 0;
  virtual std::vector<Status> record_ends(std::span<const std::pair<JobId, JobEnd>> ends) = 0;

  // Applies `change` to a QUEUED job (compare-and-set: kFailedPrecondition naming its state
  // when it is not QUEUED), in one transaction with change.event; kNotFound for an unknown
  // job, kInvalidArgument (changing nothing) when the changed spec fails validate_job_spec.
  virtual Status change_queued(JobId job, const QueuedJobChange& change) = 0;
  // Sets a RUNNING job's time limit (nullopt: none), in one transaction with `event`:
  // kFailedPrecondition naming its state when it is not RUNNING, kNotFound for an unknown
  // job, kInvalidArgument (changing nothing) when the limit fails validate_job_spec.
  virtual Status change_running_limit(JobId job, std::optional<std::int64_t> time_limit_s,
                                      std::optional<Event> event) = 0;

  virtual Result<JobRecord> get_job(JobId job) = 0;
  virtual Result<std::vector<JobRecord>> list_jobs(const JobFilter& filter) = 0;
  // The ids list_jobs would return, without reading the rows (for pollers of thousands).
  virtual Result<std::vector<JobId>> list_job_ids(const JobFilter& filter) = 0;
  // The jobs that run `job` again (JobSpec::resubmitted_from), by id; through an index of
  // those jobs alone.
  virtual Result<std::vector<JobId>> resubmissions_of(JobId job) = 0;
  // How many jobs, of every user, are in each state (a state with none is left out),
  // kept by the database as jobs come and change state, without reading rows or listing ids.
  virtual Result<std::map<JobState, std::uint64_t>> count_jobs_by_state() = 0;
  // How many times a job of any user entered each state, over the database's life: a purge
  // or a retention does not lower it (a state never entered is left out).
  virtual Result<std::map<JobState, std::uint64_t>> count_state_entries() = 0;
  // Makes the next job's id greater than `last`, if it would not be already (ids are never
  // reused, even of purged jobs); true when it moved. A database made anew in a state
  // folder that holds earlier jobs' logs and run records must not hand their ids out again.
  virtual Result<bool> skip_ids_through(JobId last) = 0;
  // Writes the whole database as it is now, committed writes and all, to a new file at
  // `path` (SQLite's VACUUM INTO), which must not exist: a database file deleted under a
  // daemon that still has it open is written back from what the daemon holds.
  virtual Status copy_to(const std::string& path) = 0;
  // The job's transitions, oldest first.
  virtual Result<std::vector<Transition>> transitions(JobId job) = 0;

  // Returns the event's sequence number.
  virtual Result<std::int64_t> append_event(const Event& event) = 0;
  // Events with seq > after_seq, oldest first, at most `limit`.
  virtual Result<std::vector<Event>> events_since(std::int64_t after_seq, std::size_t limit) = 0;
  // Events of these kinds (among job.cancel, job.preempt and job.kill; another is an error)
  // about the jobs now RUNNING, each from the job's latest start (its last move to RUNNING)
  // on, oldest first: what was asked of the runs going on now (a restarted daemon reads who
  // cancelled them). Reads only those jobs' events (an index by job of those kinds),
  // however many events the table holds.
  virtual Result<std::vector<Event>> events_of_running_jobs(std::span<const std::string> kinds) = 0;

  // Appends every sample in one transaction.
  virtual Status append_samples(std::span<const Sample> samples) = 0;
  // Samples with from <= at < to, ordered by time then GPU.
  virtual Result<std::vector<Sample>> samples_between(WallTime from, WallTime to) = 0;
  // Deletes samples older than `before`, the oldest first and at most `limit` of them (so
  // that a long backlog is deleted in short transactions); returns how many.
  virtual Result<std::uint64_t> prune_samples(WallTime before, std::size_t limit) = 0;

  // Forgets at most `limit` of the ended jobs `filter` selects, those that ended first: each
  // job's row, transitions, dependencies and events go, in one transaction. `filter` needs
  // `ended_before`; its states (COMPLETED, FAILED, CANCELLED, TIMEOUT; none: all four),
  // uid and names narrow it; other fields are not read. A job that a job not yet ended
  // depends on is kept (its end decides whether that one may start), and counted. The
  // history of run times and peaks (history()) keeps their runs. Returns the jobs deleted,
  // with their log paths, for the caller to delete the logs.
  virtual Result<Purged> purge_ended(const JobFilter& filter, std::size_t limit) = 0;

  // The latest `limit` history entries of a signature, newest first.
  virtual Result<std::vector<HistoryEntry>> history(std::string_view signature,
                                                    std::size_t limit) = 0;
};

// store.purge_ended(filter, limit), then the log file of each job it deleted (one already
// gone is not an error): what `fastgpu purge` and the daemon's --job-retention do alike.
Result<Purged> purge_ended_with_logs(StateStore& store, const JobFilter& filter, std::size_t limit);

enum class Durability {
  // WAL with synchronous=NORMAL: a killed process loses nothing committed; a power loss or
  // OS crash may lose the last transactions but never corrupts the file. The default.
  kNormal,
  // synchronous=FULL: every commit is on disk before it returns (one fsync per commit).
  kFull,
};

struct StoreOptions {
  Durability durability = Durability::kNormal;
  // How long a writer waits for another process's write transaction before kUnavailable.
  std::chrono::milliseconds busy_timeout{5000};
};

// The schema version this FastGPU writes and understands (PRAGMA user_version).
int store_schema_version();

// Opens (creating if needed) the SQLite database at `path`, or an in-memory one for
// ":memory:", and migrates it to store_schema_version(). Fails with a message naming the
// path for a file that is not a FastGPU database or is corrupt, and naming both versions
// for a database written by a newer FastGPU.
Result<std::unique_ptr<StateStore>> open_sqlite_store(const std::string& path,
                                                      const StoreOptions& options = {});

// Checks what the store relies on: a name as check_job_name() wants it (or none), one of
// argv / shell_command, KEY=VALUE environment, gpus >= 0, declared GPU memory above 0,
// util_share in (0, 1], time limit > 0, dependency batch indices earlier in the batch.
// `index` is the job's place in its batch, for the message and batch_index checks.
Status validate_job_spec(const JobSpec& spec, std::size_t index);

// Checks a stored job's spec after change_queued() changed it: its numbers (time limit,
// grace, deadline) as validate_job_spec() does, the message naming the job by its id.
Status validate_changed_spec(const JobSpec& spec, JobId job);

// The rules for a job's name, the same at every door (the CLI, job files, the API): at most
// 128 characters; not only digits (it would read as a job id); no space, control character,
// ':' or ',' (they separate `after`'s targets and `--name a,b`'s names).
inline constexpr std::size_t kMaxJobNameLength = 128;
Status check_job_name(std::string_view name);

// The state folder: $FASTGPU_STATE_DIR, else $XDG_STATE_HOME/fastgpu, else
// $HOME/.local/state/fastgpu. Empty variables count as unset. Pure: reads nothing.
Result<std::filesystem::path> state_dir_from(std::optional<std::string> fastgpu_state_dir,
                                             std::optional<std::string> xdg_state_home,
                                             std::optional<std::string> home);
// Creates `dir` and any missing parents with mode 0700 (existing folders keep their mode).
Status ensure_private_dir(const std::filesystem::path& dir);
// state_dir_from(the environment) / "fastgpu.db", with the folder created (0700).
Result<std::filesystem::path> default_db_path();

}  // namespace fastgpu::store
