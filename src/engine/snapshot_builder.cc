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

namespace {

// One tick's construction; each step fills part of `input_`.
class Builder {
 public:
  Builder(const EngineOptions& options, const GpuReading& reading, const UsageMeter& meter,
          store::WallTime now, const QueuedJobs& queued, const RunningJobs& running,
          HistoryCache& history)
      : options_(options),
        store_(*options.store),
        reading_(reading),
        meter_(meter),
        queued_(queued),
        running_(running.jobs()),
        history_(history) {
    input_.snapshot.now_s = to_seconds(now);
  }

  Result<TickInput> build() {
    input_.snapshot.gpus = gpu_states(reading_, options_.node_name);
    FASTGPU_RETURN_IF_ERROR(add_running());
    add_foreign_bytes();
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

  sched::GpuState* gpu(int index) {
    for (sched::GpuState& state : input_.snapshot.gpus) {
      if (state.index == index) return &state;
    }
    return nullptr;
  }

  // A running job keeps its GPU in the snapshot even if the probe stopped listing it, so
  // the ledger still holds it (as an unhealthy GPU that gets nothing new).
  sched::GpuState& gpu_or_placeholder(int index) {
    if (sched::GpuState* found = gpu(index)) return *found;
    sched::GpuState missing;
    missing.index = index;
    missing.node = options_.node_name;
    missing.healthy = false;
    input_.snapshot.gpus.push_back(missing);
    return input_.snapshot.gpus.back();
  }

  // What the ledger holds per GPU for a run recorded without placed bytes (a schema-1
  // database): the declaration, or for "auto" the whole usable memory, which never
  // under-counts.
  Bytes declared_bytes(const JobRecord& job) {
    if (job.placed_bytes_per_gpu) return *job.placed_bytes_per_gpu;
    if (job.spec.gpus == 0) return 0;
    if (job.spec.gpu_mem) return *job.spec.gpu_mem;
    Bytes whole = 0;
    for (std::uint32_t index : job.placed_gpus) {
      const sched::GpuState& state = gpu_or_placeholder(static_cast<int>(index));
      whole = std::max(whole, state.total_bytes - state.reserved_bytes);
    }
    return whole;
  }

  Status add_running() {
    for (const auto& [id, job] : running_) {
      Result<double> before = attained(job);
      if (!before.ok()) return before.status();
      sched::RunningJob running;
      running.job = to_sched_job(id, job.spec, *before);
      for (std::uint32_t index : job.placed_gpus) {
        gpu_or_placeholder(static_cast<int>(index));
        running.gpus.push_back(static_cast<int>(index));
      }
      running.declared_bytes = declared_bytes(job);
      running.start_time_s = job.start_time ? to_seconds(*job.start_time) : input_.snapshot.now_s;
      running.used_bytes = meter_.peak_bytes(id);
      input_.snapshot.running.push_back(std::move(running));
    }
    return {};
  }

  void add_foreign_bytes() {
    std::map<int, Bytes> declared;
    for (const sched::RunningJob& running : input_.snapshot.running) {
      for (int index : running.gpus) declared[index] += running.declared_bytes;
    }
    auto is_running = [this](JobId job) { return running_.count(job) > 0; };
    for (const GpuDevice& device : reading_.devices) {
      sched::GpuState* state = gpu(static_cast<int>(device.index));
      state->foreign_bytes =
          foreign_bytes_on(device, options_.attribute_pid, is_running, declared[state->index]);
    }
  }

  // Fills input_.queued from the queue without the jobs over a limit: array members
  // beyond their array's %N (lowest index first), then CPU-only jobs beyond the free CPU
  // slots (highest priority first, then submission order). Reads the queue's indexes, so
  // the jobs withheld cost nothing: 10,000 waiting trivial jobs on two CPU slots cost a
  // tick two jobs, not 10,000.
  void select_queued() {
    std::map<std::uint64_t, std::int64_t> running_members;
    std::size_t running_cpu_jobs = 0;
    for (const auto& [id, job] : running_) {
      if (job.spec.array) ++running_members[job.spec.array->array_id];
      running_cpu_jobs += job.spec.gpus == 0 ? 1 : 0;
    }
    const std::map<JobId, JobRecord>& jobs = queued_.jobs();
    const bool slots = options_.cpu_slots > 0;
    const std::size_t room = running_cpu_jobs < options_.cpu_slots
                                 ? options_.cpu_slots - running_cpu_jobs
                                 : std::size_t{0};
    // The candidates for the free CPU slots: the best `room` of the CPU jobs outside
    // limited arrays (no later one can be among the best `room` of all), and the CPU jobs
    // among the array members admitted below.
    std::vector<const JobRecord*> cpu_jobs;
    auto admit = [&](const JobRecord& job) {
      if (job.spec.gpus == 0 && slots) {
        cpu_jobs.push_back(&job);
      } else {
        input_.queued.emplace(job.id, &job);
      }
    };
    for (JobId id : queued_.gpu_jobs()) admit(jobs.at(id));
    std::size_t taken = 0;
    for (const auto& [priority, id] : queued_.cpu_jobs()) {
      if (slots && taken++ == room) break;
      admit(jobs.at(id));
    }
    for (const auto& [array, members] : queued_.limited_arrays()) {
      const std::int64_t limit = jobs.at(members.begin()->second).spec.array->max_running;
      const std::int64_t free = std::max<std::int64_t>(0, limit - running_members[array]);
      std::int64_t admitted = 0;
      for (const auto& [index, id] : members) {
        if (admitted++ == free) break;
        admit(jobs.at(id));
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
    for (const JobRecord* job : cpu_jobs) input_.queued.emplace(job->id, job);
  }

  void withhold_unfit() {
    for (auto it = input_.queued.begin(); it != input_.queued.end();) {
      const Status fits =
          sched::validate_job(to_sched_job(it->first, it->second->spec, 0.0), input_.snapshot.gpus);
      if (fits.ok()) {
        ++it;
        continue;
      }
      input_.withheld.push_back({it->first, fits.message()});
      it = input_.queued.erase(it);
    }
  }

  static sched::EndState end_state(JobState state) {
    if (state == JobState::kCompleted) return sched::EndState::kSucceeded;
    if (state == JobState::kCancelled) return sched::EndState::kCancelled;
    return sched::EndState::kFailed;
  }

  static sched::FinishedJob finished(const JobRecord& job) {
    sched::FinishedJob done{job.id, end_state(job.state), job.spec.user,
                            job.accounting.gpu_seconds.value_or(0.0), 0.0};
    if (job.end_time) done.end_time_s = to_seconds(*job.end_time);
    return done;
  }

  // Dependency targets that ended; with the fair policy also every job that ended within
  // ten half-lives (older usage weighs under 0.1%).
  Status add_finished() {
    std::map<JobId, sched::FinishedJob> ended;
    if (options_.scheduler.policy == "fair") FASTGPU_RETURN_IF_ERROR(add_recent_ends(ended));
    for (const auto& [id, job] : input_.queued) {
      for (const store::Dependency& dependency : job->spec.dependencies) {
        const JobId target = dependency.job;
        if (ended.count(target) || running_.count(target)) continue;
        if (input_.queued.count(target)) continue;
        Result<JobRecord> record = store_.get_job(target);
        if (!record.ok()) return record.status();
        if (store::is_terminal(record->state)) ended.emplace(target, finished(*record));
      }
    }
    for (auto& [id, done] : ended) input_.snapshot.finished.push_back(done);
    withhold_waiting_on_absent(ended);
    return {};
  }

  Status add_recent_ends(std::map<JobId, sched::FinishedJob>& ended) {
    store::JobFilter filter;
    filter.states = {JobState::kCompleted, JobState::kFailed, JobState::kCancelled,
                     JobState::kTimeout};
    Result<std::vector<JobRecord>> jobs = store_.list_jobs(filter);
    if (!jobs.ok()) return jobs.status();
    const double oldest = input_.snapshot.now_s - 10.0 * options_.scheduler.fair_half_life_s;
    for (const JobRecord& job : *jobs) {
      if (job.end_time && to_seconds(*job.end_time) >= oldest) ended.emplace(job.id, finished(job));
    }
    return {};
  }

  // A job whose dependency is in none of the snapshot's lists (withheld, or PREEMPTED for
  // an instant) cannot start this tick; leaving it in would make the snapshot invalid.
  void withhold_waiting_on_absent(const std::map<JobId, sched::FinishedJob>& ended) {
    for (bool changed = true; changed;) {
      changed = false;
      for (auto it = input_.queued.begin(); it != input_.queued.end();) {
        const bool absent =
            std::any_of(it->second->spec.dependencies.begin(), it->second->spec.dependencies.end(),
                        [&](const store::Dependency& dependency) {
                          return !ended.count(dependency.job) && !running_.count(dependency.job) &&
                                 !input_.queued.count(dependency.job);
                        });
        if (!absent) {
          ++it;
          continue;
        }
        it = input_.queued.erase(it);
        changed = true;
      }
    }
  }

  Status add_queue() {
    for (const auto& [id, job] : input_.queued) {
      Result<double> before = attained(*job);
      if (!before.ok()) return before.status();
      input_.snapshot.queue.push_back(to_sched_job(id, job->spec, *before));
    }
    return {};
  }

  // The store keeps history newest first; the scheduler wants it oldest first. A signature
  // is read from the store once, then from the cache until a job with it ends. Only the
  // signatures a decision can depend on: every one under a policy that ranks by learned
  // run times, else those of GPU jobs with "auto" memory (10,000 queued `true`s, all one
  // signature, re-read 100 runs of history at every end).
  Status add_history() {
    const std::unique_ptr<sched::Policy> policy = sched::make_policy(options_.scheduler.policy);
    const bool every_signature = policy == nullptr || policy->reads_run_estimates();
    std::set<std::string> signatures;
    for (const sched::Job& job : input_.snapshot.queue) {
      if (job.signature.empty()) continue;
      if (every_signature || (job.gpus > 0 && !job.gpu_mem)) signatures.insert(job.signature);
    }
    std::erase_if(history_, [&](const auto& entry) { return !signatures.contains(entry.first); });
    for (const std::string& signature : signatures) {
      auto cached = history_.find(signature);
      if (cached == history_.end()) {
        Result<std::vector<store::HistoryEntry>> entries = store_.history(signature, kHistoryRuns);
        if (!entries.ok()) return entries.status();
        sched::SignatureHistory history;
        for (auto it = entries->rbegin(); it != entries->rend(); ++it) {
          if (it->peak_gpu_mem) history.peak_bytes.push_back(*it->peak_gpu_mem);
          if (it->outcome == JobState::kCompleted) history.run_seconds.push_back(it->run_seconds);
        }
        cached = history_.emplace(signature, std::move(history)).first;
      }
      input_.snapshot.history[signature] = cached->second;
    }
    return {};
  }

  static constexpr std::size_t kHistoryRuns = 100;

  const EngineOptions& options_;
  store::StateStore& store_;
  const GpuReading& reading_;
  const UsageMeter& meter_;
  const QueuedJobs& queued_;                          // the engine's
  const std::map<JobId, store::JobRecord>& running_;  // the engine's RunningJobs
  HistoryCache& history_;                             // the engine's, kept between ticks
  TickInput input_;
};

}  // namespace

Result<TickInput> build_tick_input(const EngineOptions& options, const GpuReading& reading,
                                   const UsageMeter& meter, store::WallTime now,
                                   const QueuedJobs& queued, const RunningJobs& running,
                                   HistoryCache& history) {
  return Builder(options, reading, meter, now, queued, running, history).build();
}

}  // namespace fastgpu::engine
