#include "engine/snapshot_builder.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <set>
#include <utility>

#include "engine/convert.h"
#include "fastgpu/sched/policy.h"
#include "fastgpu/sched/scheduler.h"

namespace fastgpu::engine {

using store::JobRecord;
using store::JobState;

double ended_run_seconds(const std::vector<store::Transition>& transitions) {
  double total = 0.0;
  std::optional<store::WallTime> started;
  for (const store::Transition& transition : transitions) {
    if (transition.to == JobState::kRunning) {
      started = transition.at;
    } else if (transition.from == JobState::kRunning && started) {
      total += std::max(0.0, to_seconds(transition.at) - to_seconds(*started));
      started.reset();
    }
  }
  return total;
}

sched::EndState end_state_of(JobState state) {
  if (state == JobState::kCompleted) return sched::EndState::kSucceeded;
  if (state == JobState::kCancelled) return sched::EndState::kCancelled;
  return sched::EndState::kFailed;
}

sched::FinishedJob finished_job(const JobRecord& job) {
  sched::FinishedJob done{job.id, end_state_of(job.state), job.spec.user,
                          job.accounting.gpu_seconds.value_or(0.0), 0.0};
  if (job.end_time) done.end_time_s = to_seconds(*job.end_time);
  return done;
}

double fair_oldest_end_s(const EngineOptions& options, store::WallTime now) {
  return to_seconds(now) - 10.0 * options.scheduler.fair_half_life_s;
}

bool policy_reads_run_estimates(const std::string& policy) {
  const std::unique_ptr<sched::Policy> made = sched::make_policy(policy);
  return made == nullptr || made->reads_run_estimates();
}

bool reads_history(const sched::Job& job, bool every_signature) {
  if (job.signature.empty()) return false;
  return every_signature || (job.gpus > 0 && !job.gpu_mem);
}

// The store keeps history newest first; the scheduler wants it oldest first.
Result<sched::SignatureHistory> cached_history(store::StateStore& store, HistoryCache& cache,
                                               const std::string& signature) {
  constexpr std::size_t kHistoryRuns = 100;
  auto cached = cache.find(signature);
  if (cached != cache.end()) return cached->second;
  Result<std::vector<store::HistoryEntry>> entries = store.history(signature, kHistoryRuns);
  if (!entries.ok()) return entries.status();
  sched::SignatureHistory history;
  for (auto it = entries->rbegin(); it != entries->rend(); ++it) {
    if (it->peak_gpu_mem) history.peak_bytes.push_back(*it->peak_gpu_mem);
    if (it->outcome == JobState::kCompleted) history.run_seconds.push_back(it->run_seconds);
  }
  return cache.emplace(signature, std::move(history)).first->second;
}

namespace {

sched::GpuState* find_gpu(std::vector<sched::GpuState>& gpus, int index) {
  for (sched::GpuState& state : gpus) {
    if (state.index == index) return &state;
  }
  return nullptr;
}

// What the ledger holds per GPU for a run recorded without placed bytes (a schema-1
// database): the declaration, or for "auto" the whole usable memory, which never
// under-counts. REQUIRES: `gpus` holds every GPU the job runs on.
Bytes declared_bytes(const JobRecord& job, std::vector<sched::GpuState>& gpus) {
  if (job.placed_bytes_per_gpu) return *job.placed_bytes_per_gpu;
  if (job.spec.gpus == 0) return 0;
  if (job.spec.gpu_mem) return *job.spec.gpu_mem;
  Bytes whole = 0;
  for (std::uint32_t index : job.placed_gpus) {
    const sched::GpuState& state = *find_gpu(gpus, static_cast<int>(index));
    whole = std::max(whole, state.total_bytes - state.reserved_bytes);
  }
  return whole;
}

// A running job as the snapshot has it: where it runs (where it moves to, for a moving job),
// what the ledger holds for it, and its attained service (`before`: its earlier runs').
// REQUIRES: snapshot.gpus holds every GPU the job runs on, and snapshot.now_s is set.
sched::RunningJob running_entry(const TickSources& sources, const JobRecord& job, double before,
                                sched::Snapshot& snapshot) {
  sched::RunningJob running;
  running.job = to_sched_job(job.id, job.spec, before);
  for (std::uint32_t index : job.placed_gpus) running.gpus.push_back(static_cast<int>(index));
  running.declared_bytes = declared_bytes(job, snapshot.gpus);
  running.start_time_s = job.start_time ? to_seconds(*job.start_time) : snapshot.now_s;
  running.used_bytes = sources.meter.peak_bytes(job.id);
  if (const MovingJob* move = sources.move_of(job.id)) {  // as sched's apply_move has it
    const double moved_s = to_seconds(move->at);
    running.job.attained_run_s += std::max(0.0, moved_s - running.start_time_s);
    running.gpus.assign(move->to.begin(), move->to.end());
    running.start_time_s = moved_s;
    running.used_bytes.reset();
  }
  return running;
}

}  // namespace

const char* unended_state(JobId job, const QueuedJobs& queued, const RunningJobs& running) {
  if (queued.jobs().contains(job)) return "QUEUED";
  if (running.jobs().contains(job)) return "RUNNING";
  return nullptr;
}

bool engine_limited(const EngineOptions& options, const JobRecord& job) {
  return in_limited_array(job) || (job.spec.gpus == 0 && options.cpu_slots > 0);
}

sched::Snapshot running_snapshot(const TickSources& sources, const PidAttribution& attribute) {
  sched::Snapshot snapshot;
  snapshot.now_s = to_seconds(sources.now);
  snapshot.gpus = tick_gpus(sources, &attribute);
  for (const auto& [id, job] : sources.running.jobs()) {
    snapshot.running.push_back(running_entry(sources, job, 0.0, snapshot));
  }
  return snapshot;
}

// A running job keeps its GPU in the snapshot even if the probe stopped listing it, so
// the ledger still holds it (as an unhealthy GPU that gets nothing new, `gone`).
std::vector<sched::GpuState> tick_gpus(const TickSources& sources,
                                       const PidAttribution* given_attribution) {
  std::vector<sched::GpuState> gpus = gpu_states(sources.reading, sources.options.node_name);
  const std::map<JobId, JobRecord>& running = sources.running.jobs();
  for (const auto& [id, job] : running) {
    for (std::uint32_t index : job.placed_gpus) {
      if (find_gpu(gpus, static_cast<int>(index)) != nullptr) continue;
      sched::GpuState missing;
      missing.index = static_cast<int>(index);
      missing.node = sources.options.node_name;
      missing.healthy = false;
      missing.gone = true;
      gpus.push_back(missing);
    }
  }
  std::map<int, Bytes> declared;
  for (const auto& [id, job] : running) {
    const Bytes bytes = declared_bytes(job, gpus);
    const MovingJob* move = sources.move_of(id);
    for (std::uint32_t index : move != nullptr ? move->to : job.placed_gpus) {
      declared[static_cast<int>(index)] += bytes;
    }
  }
  // Memory a job holds where the ledger does not have it is foreign there: a moving job's
  // process is not where the scheduler has the job, and a process that ignored
  // CUDA_VISIBLE_DEVICES holds a GPU its job was not placed on (counted as nobody's, the
  // ledger offered that memory to other jobs, and the memory check blamed the jobs there).
  // By reference: the caller's attribution keeps its answers for the caller's own reads.
  PidAttribution bound;
  if (given_attribution == nullptr) {
    bound = bind_supervisors(sources.running, sources.options.attribute_pid);
  }
  const PidAttribution& attribute = given_attribution != nullptr ? *given_attribution : bound;
  for (const GpuDevice& device : sources.reading.devices) {
    auto holds_here = [&running, &sources, &device](JobId job) {
      const auto found = running.find(job);
      if (found == running.end() || sources.move_of(job) != nullptr) return false;
      const std::vector<std::uint32_t>& placed = found->second.placed_gpus;
      return std::find(placed.begin(), placed.end(), device.index) != placed.end();
    };
    sched::GpuState* state = find_gpu(gpus, static_cast<int>(device.index));
    state->foreign_bytes = foreign_bytes_on(device, attribute, holds_here, declared[state->index]);
  }
  return gpus;
}

std::vector<const JobRecord*> admitted_limited(const TickSources& sources) {
  const EngineOptions& options = sources.options;
  std::map<std::uint64_t, std::int64_t> running_members;
  std::size_t running_cpu_jobs = 0;
  for (const auto& [id, job] : sources.running.jobs()) {
    if (job.spec.array) ++running_members[job.spec.array->array_id];
    running_cpu_jobs += job.spec.gpus == 0 ? 1 : 0;
  }
  const std::map<JobId, JobRecord>& jobs = sources.queued.jobs();
  const bool slots = options.cpu_slots > 0;
  const std::size_t room =
      running_cpu_jobs < options.cpu_slots ? options.cpu_slots - running_cpu_jobs : 0;
  std::vector<const JobRecord*> admitted;
  // A job that waits on one that has not ended cannot start this tick: it takes no CPU
  // slot and no place in its array's %N. Counted, it kept a job that could start out of
  // the slot until the job it waits on ended (hours, behind a GPU job). Most such jobs are
  // parked out of the walk (QueuedJobs::park_waiting); this catches the rest (a job not yet
  // looked at, or one whose dependency went back to the queue since).
  auto waits = [&sources](const JobRecord& job) {
    return std::any_of(job.spec.dependencies.begin(), job.spec.dependencies.end(),
                       [&sources](const store::Dependency& dependency) {
                         return unended_state(dependency.job, sources.queued, sources.running) !=
                                nullptr;
                       });
  };
  // The candidates for the free CPU slots: the best `room` of the CPU jobs outside
  // limited arrays that may start (no later one can be among the best `room` of all), and
  // the CPU jobs among the array members admitted below.
  std::vector<const JobRecord*> cpu_jobs;
  auto admit = [&](const JobRecord& job) {
    (job.spec.gpus == 0 && slots ? cpu_jobs : admitted).push_back(&job);
  };
  if (slots) {
    std::size_t taken = 0;
    for (const auto& [priority, id] : sources.queued.cpu_jobs_to_admit()) {
      if (taken == room) break;
      const JobRecord& job = jobs.at(id);
      if (waits(job)) continue;
      ++taken;
      admit(job);
    }
  }
  for (const auto& [array, members] : sources.queued.arrays_to_admit()) {
    const std::int64_t limit = jobs.at(members.begin()->second).spec.array->max_running;
    const std::int64_t free = std::max<std::int64_t>(0, limit - running_members[array]);
    std::int64_t taken = 0;
    for (const auto& [index, id] : members) {
      if (taken == free) break;
      const JobRecord& job = jobs.at(id);
      if (waits(job)) continue;
      ++taken;
      admit(job);
    }
  }
  auto first = [](const JobRecord* a, const JobRecord* b) {
    return std::pair(-a->spec.priority, a->id) < std::pair(-b->spec.priority, b->id);
  };
  if (cpu_jobs.size() > room) {
    std::nth_element(cpu_jobs.begin(), cpu_jobs.begin() + static_cast<std::ptrdiff_t>(room),
                     cpu_jobs.end(), first);
    cpu_jobs.resize(room);
  }
  admitted.insert(admitted.end(), cpu_jobs.begin(), cpu_jobs.end());
  return admitted;
}

namespace {

// One tick's construction; each step fills part of `input_`.
class Builder {
 public:
  Builder(const TickSources& sources, QueueSelection selection)
      : sources_(sources),
        options_(sources.options),
        store_(*sources.options.store),
        running_(sources.running.jobs()),
        selection_(selection) {
    input_.snapshot.now_s = to_seconds(sources.now);
  }

  Result<TickInput> build() {
    input_.snapshot.gpus = tick_gpus(sources_);
    FASTGPU_RETURN_IF_ERROR(add_running());
    select_queued();
    withhold_unfit();
    FASTGPU_RETURN_IF_ERROR(add_finished());
    FASTGPU_RETURN_IF_ERROR(add_queue());
    FASTGPU_RETURN_IF_ERROR(add_history());
    return std::move(input_);
  }

 private:
  // Run time of the job's earlier, ended runs. Only a job that ran before has any: a
  // running job in its first run (attempts 1) or a queued one never started (0) reads no
  // transitions, which every tick would otherwise do for every running job.
  Result<double> attained(const JobRecord& job) {
    const std::uint32_t runs_begun = job.state == JobState::kRunning ? 1 : 0;
    if (job.attempts <= runs_begun) return 0.0;
    Result<std::vector<store::Transition>> transitions = store_.transitions(job.id);
    if (!transitions.ok()) return transitions.status();
    return ended_run_seconds(*transitions);
  }

  Status add_running() {
    for (const auto& [id, job] : running_) {
      Result<double> before = attained(job);
      if (!before.ok()) return before.status();
      input_.snapshot.running.push_back(running_entry(sources_, job, *before, input_.snapshot));
    }
    return {};
  }

  // Fills queued_ with the jobs the snapshot may list. kAdmitted: the jobs under no limit
  // of the engine's own, and those admitted_limited() lets through (the jobs withheld
  // cost nothing: 10,000 waiting trivial jobs on two CPU slots cost a tick two jobs, not
  // 10,000). kAll: every queued job, those over a limit or held by a user named in on_hold.
  // A held job is in none of the queue's indexes: kAdmitted leaves it out.
  void select_queued() {
    const std::map<JobId, JobRecord>& jobs = sources_.queued.jobs();
    std::vector<const JobRecord*> admitted = admitted_limited(sources_);
    if (selection_ == QueueSelection::kAll) {
      std::set<JobId> free;
      for (const JobRecord* job : admitted) free.insert(job->id);
      for (const auto& [id, job] : jobs) {
        queued_.emplace_hint(queued_.end(), id, &job);
        if (job.spec.held_by || (engine_limited(options_, job) && !free.contains(id))) {
          on_hold_.insert(id);
        }
      }
      return;
    }
    for (JobId id : sources_.queued.gpu_jobs()) queued_.emplace(id, &jobs.at(id));
    if (options_.cpu_slots == 0) {
      for (const auto& [priority, id] : sources_.queued.cpu_jobs()) {
        queued_.emplace(id, &jobs.at(id));
      }
    }
    for (const JobRecord* job : admitted) queued_.emplace(job->id, job);
  }

  void withhold_unfit() {
    for (auto it = queued_.begin(); it != queued_.end();) {
      const Status fits =
          sched::validate_job(to_sched_job(it->first, it->second->spec, 0.0), input_.snapshot.gpus);
      if (fits.ok()) {
        ++it;
        continue;
      }
      input_.withheld.push_back({it->first, fits.message()});
      it = queued_.erase(it);
    }
  }

  // Dependency targets that ended; with the fair policy also every job that ended within
  // ten half-lives (fair_oldest_end_s()). The snapshot lists them in id order.
  Status add_finished() {
    using Ended = std::map<JobId, sched::FinishedJob>;
    static const Ended kNone;
    RecentEnds read_here;
    const RecentEnds* recent = sources_.recent_ends;
    if (options_.scheduler.policy == "fair" && recent == nullptr) {
      FASTGPU_RETURN_IF_ERROR(read_here.refresh(store_, fair_oldest_end_s(options_, sources_.now)));
      recent = &read_here;
    }
    const Ended& recent_ends = options_.scheduler.policy == "fair" ? recent->jobs() : kNone;
    Ended targets;
    auto ended = [&](JobId job) { return targets.contains(job) || recent_ends.contains(job); };
    for (const auto& [id, job] : queued_) {
      for (const store::Dependency& dependency : job->spec.dependencies) {
        const JobId target = dependency.job;
        if (ended(target) || running_.count(target)) continue;
        if (queued_.count(target)) continue;
        Result<JobRecord> record = store_.get_job(target);
        if (!record.ok()) return record.status();
        if (store::is_terminal(record->state)) targets.emplace(target, finished_job(*record));
      }
    }
    std::vector<sched::FinishedJob>& finished = input_.snapshot.finished;
    finished.reserve(recent_ends.size() + targets.size());
    auto from_recent = recent_ends.begin();
    for (const auto& [id, done] : targets) {
      for (; from_recent != recent_ends.end() && from_recent->first < id; ++from_recent) {
        finished.push_back(from_recent->second);
      }
      finished.push_back(done);
    }
    for (; from_recent != recent_ends.end(); ++from_recent) finished.push_back(from_recent->second);
    withhold_waiting_on_absent(ended);
    return {};
  }

  // A job whose dependency is in none of the snapshot's lists (withheld, or PREEMPTED for
  // an instant) cannot start this tick; leaving it in would make the snapshot invalid.
  template <typename Ended>
  void withhold_waiting_on_absent(const Ended& ended) {
    for (bool changed = true; changed;) {
      changed = false;
      for (auto it = queued_.begin(); it != queued_.end();) {
        const bool absent =
            std::any_of(it->second->spec.dependencies.begin(), it->second->spec.dependencies.end(),
                        [&](const store::Dependency& dependency) {
                          return !ended(dependency.job) && !running_.count(dependency.job) &&
                                 !queued_.count(dependency.job);
                        });
        if (!absent) {
          ++it;
          continue;
        }
        it = queued_.erase(it);
        changed = true;
      }
    }
  }

  Status add_queue() {
    for (const auto& [id, job] : queued_) {
      Result<double> before = attained(*job);
      if (!before.ok()) return before.status();
      input_.snapshot.queue.push_back(to_sched_job(id, job->spec, *before));
      if (on_hold_.contains(id)) input_.on_hold.push_back(id);
    }
    return {};
  }

  // A signature is read from the store once, then from the cache until a job with it
  // ends. Only the signatures a decision can depend on (reads_history): 10,000 queued
  // `true`s, all one signature, re-read 100 runs of history at every end.
  Status add_history() {
    const bool every_signature = policy_reads_run_estimates(options_.scheduler.policy);
    std::set<std::string> signatures;
    for (const sched::Job& job : input_.snapshot.queue) {
      if (reads_history(job, every_signature)) signatures.insert(job.signature);
    }
    HistoryCache& cache = sources_.history;
    std::erase_if(cache, [&](const auto& entry) { return !signatures.contains(entry.first); });
    for (const std::string& signature : signatures) {
      Result<sched::SignatureHistory> history = cached_history(store_, cache, signature);
      if (!history.ok()) return history.status();
      input_.snapshot.history[signature] = std::move(history).value();
    }
    return {};
  }

  const TickSources& sources_;
  const EngineOptions& options_;
  store::StateStore& store_;
  const std::map<JobId, store::JobRecord>& running_;  // the engine's RunningJobs
  const QueueSelection selection_;
  std::map<JobId, const JobRecord*> queued_;  // what the snapshot's queue will list
  std::set<JobId> on_hold_;                   // kAll: those of queued_ over a limit
  TickInput input_;
};

}  // namespace

Result<TickInput> build_tick_input(const TickSources& sources, QueueSelection selection) {
  return Builder(sources, selection).build();
}

}  // namespace fastgpu::engine
