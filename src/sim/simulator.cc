// The simulator's event loop and its simulated launcher. The scheduler is the real one;
// everything here only keeps time, keeps the snapshot current and applies decisions.
#include "fastgpu/sim/simulator.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <queue>
#include <variant>

#include "fastgpu/sched/policy.h"
#include "fastgpu/sched/scheduler.h"
#include "sim/simulator_internal.h"

namespace fastgpu::sim {
namespace {

constexpr double kNoEvent = std::numeric_limits<double>::infinity();
// A GPU with less free compute share than this takes no job (trace shares are >= 0.001).
constexpr double kOpenShare = 1e-6;
// Rounds at one instant in a row (preemptions need one more round to start the job they
// made room for); a cap that ends a runaway loop instead of spinning.
constexpr int kMaxRoundsPerInstant = 1000;

enum class Phase { kPending, kQueued, kRunning, kDone, kRejected };

struct SimJob {
  sched::Job job;  // the scheduler's view; attained_run_s grows with each preemption
  Phase phase = Phase::kPending;
  double start_s = 0;  // of the current run
  std::vector<int> gpus;
  Bytes bytes = 0;
  std::size_t running_slot = 0;  // position in snapshot.running
  std::uint64_t generation = 0;  // a completion event of an older run is stale
};

struct Completion {
  double time_s;
  std::size_t job;
  std::uint64_t generation;
  bool operator>(const Completion& other) const {
    if (time_s != other.time_s) return time_s > other.time_s;
    return job > other.job;
  }
};

template <typename T>
using MinHeap = std::priority_queue<T, std::vector<T>, std::greater<T>>;

class Simulation {
 public:
  Simulation(const Trace& trace, const ClusterSpec& cluster, const SimOptions& options)
      : trace_(trace), options_(options) {
    const std::uint64_t memory = options.default_gpu_memory_bytes != 0
                                     ? options.default_gpu_memory_bytes
                                     : detail::largest_declared_memory(trace);
    snapshot_.gpus = gpu_states(cluster, memory);
    result_.cluster = cluster.name;
    result_.policy = options.scheduler.policy;
    result_.total_gpus = static_cast<int>(snapshot_.gpus.size());
    gpu_share_.assign(snapshot_.gpus.size(), 0.0);
    gpu_jobs_.assign(snapshot_.gpus.size(), 0);
    open_gpus_ = snapshot_.gpus.size();
  }

  Result<SimResult> run() {
    auto policy = sched::make_policy(options_.scheduler.policy);
    preemptive_ = policy != nullptr && policy->preemptive();
    auto scheduler = sched::Scheduler::create(options_.scheduler, snapshot_.gpus);
    if (!scheduler.ok()) return scheduler.status().with_context("simulated cluster");
    scheduler_ = std::move(*scheduler);
    prepare_jobs();
    while (true) {
      const double now = next_event_time();
      if (now == kNoEvent) break;
      snapshot_.now_s = now;
      FASTGPU_RETURN_IF_ERROR(take_events(now));
      FASTGPU_RETURN_IF_ERROR(schedule_rounds());
      note_usage(now);
    }
    finish();
    return std::move(result_);
  }

 private:
  void prepare_jobs() {
    detail::NodeFit fit(snapshot_.gpus, options_.scheduler.multi_node);
    jobs_.resize(trace_.jobs.size());
    result_.jobs.resize(trace_.jobs.size());
    for (std::size_t i = 0; i < trace_.jobs.size(); ++i) {
      const TraceJob& source = trace_.jobs[i];
      SimJob& job = jobs_[i];
      job.job = detail::to_sched_job(source, i, options_);
      JobRecord& record = result_.jobs[i];
      record.trace_index = i;
      record.submit_s = job.job.submit_time_s;
      record.duration_s = source.duration_s.value_or(0);
      record.gpus = source.gpu_count * job.job.util_share;
      record.deadline_s = job.job.deadline_s;
      if (auto reason = fit.why_never_runs(source, job.job)) {
        record.rejected = true;
        record.reject_reason = std::move(*reason);
      }
    }
    // Arrival order: by scaled submit time, then trace order (traces come sorted already).
    arrivals_.resize(jobs_.size());
    for (std::size_t i = 0; i < arrivals_.size(); ++i) arrivals_[i] = i;
    std::stable_sort(arrivals_.begin(), arrivals_.end(), [&](std::size_t a, std::size_t b) {
      return jobs_[a].job.submit_time_s < jobs_[b].job.submit_time_s;
    });
  }

  double next_event_time() const {
    double next = kNoEvent;
    if (next_arrival_ < arrivals_.size()) next = jobs_[arrivals_[next_arrival_]].job.submit_time_s;
    if (!completions_.empty()) next = std::min(next, completions_.top().time_s);
    if (!wakeups_.empty()) next = std::min(next, wakeups_.top());
    return next;
  }

  // Completions first (they free GPUs), then arrivals, then wake-ups (only a trigger).
  Status take_events(double now) {
    while (!completions_.empty() && completions_.top().time_s == now) {
      const Completion done = completions_.top();
      completions_.pop();
      ++result_.events;
      if (jobs_[done.job].generation == done.generation) complete(done.job, now);
    }
    while (next_arrival_ < arrivals_.size() &&
           jobs_[arrivals_[next_arrival_]].job.submit_time_s == now) {
      FASTGPU_RETURN_IF_ERROR(arrive(arrivals_[next_arrival_++]));
      ++result_.events;
    }
    while (!wakeups_.empty() && wakeups_.top() == now) {
      wakeups_.pop();
      ++result_.events;
    }
    return {};
  }

  Status arrive(std::size_t index) {
    if (result_.jobs[index].rejected) {
      jobs_[index].phase = Phase::kRejected;
      settle();
      return {};
    }
    if (Status queued = scheduler_->enqueue(jobs_[index].job); !queued.ok()) {
      // Counted and reported with the scheduler's reason, as a job that never fits is.
      result_.jobs[index].rejected = true;
      result_.jobs[index].reject_reason = queued.message();
      jobs_[index].phase = Phase::kRejected;
      settle();
      return {};
    }
    mark_queued(index);
    return {};
  }

  void mark_queued(std::size_t index) {
    jobs_[index].phase = Phase::kQueued;
    if (jobs_[index].job.gpus == 0) ++queued_cpu_jobs_;
  }

  // schedule() can decide something only when a job waits, and, for a policy that never
  // preempts, only when some GPU has share left or a CPU-only job waits.
  bool worth_scheduling() const {
    if (scheduler_->queued() == 0) return false;
    return preemptive_ || open_gpus_ > 0 || queued_cpu_jobs_ > 0;
  }

  Status schedule_rounds() {
    for (int round = 0; round < kMaxRoundsPerInstant && worth_scheduling(); ++round) {
      Result<sched::ScheduleResult> decided = scheduler_->schedule(snapshot_.now_s);
      ++result_.schedule_calls;
      if (!decided.ok()) return decided.status().with_context("simulated scheduler call");
      const bool requeued = apply(decided->decisions);
      schedule_quantum();
      if (!requeued) break;  // a preemption frees GPUs for a job that starts next round
    }
    return {};
  }

  // Applies the decisions; true when some job went back to the queue.
  bool apply(const std::vector<sched::Decision>& decisions) {
    bool requeued = false;
    for (const sched::Decision& decision : decisions) {
      if (const auto* start = std::get_if<sched::Start>(&decision)) {
        launch(start->job.value(), start->gpus, start->bytes_per_gpu);
      } else if (const auto* preempt = std::get_if<sched::Preempt>(&decision)) {
        requeued |= stop_and_requeue(preempt->job.value());
      } else if (const auto* move = std::get_if<sched::Move>(&decision)) {
        relocate(move->job.value(), move->to);
      } else if (const auto* action = std::get_if<sched::MemoryAction>(&decision)) {
        if (action->action == sched::MemoryActionKind::kRequeue) {
          requeued |= stop_and_requeue(action->job.value());
        } else if (action->action == sched::MemoryActionKind::kKill) {
          kill(action->job.value());
        }
      }
    }
    return requeued;
  }

  void launch(std::size_t index, const std::vector<int>& gpus, Bytes bytes) {
    SimJob& job = jobs_[index];
    if (job.phase != Phase::kQueued) return;  // a decision for a job not waiting: ignore
    if (job.job.gpus == 0) --queued_cpu_jobs_;
    job.phase = Phase::kRunning;
    job.start_s = snapshot_.now_s;
    job.gpus = gpus;
    job.bytes = bytes;
    JobRecord& record = result_.jobs[index];
    if (!record.first_start_s) record.first_start_s = snapshot_.now_s;
    occupy(job, +1);
    job.running_slot = snapshot_.running.size();
    snapshot_.running.push_back({job.job, gpus, bytes, snapshot_.now_s, std::nullopt});
    const double remaining = std::max(0.0, *job.job.oracle_duration_s - job.job.attained_run_s);
    completions_.push({snapshot_.now_s + remaining, index, job.generation});
    schedule_wakeups(job);
  }

  // When the job's rank among running jobs can next change, so a waiting job may then
  // preempt it: it becomes preemptible after the minimum run, and under las it moves to a
  // lower-priority queue at each threshold of attained GPU-seconds.
  void schedule_wakeups(const SimJob& job) {
    if (!preemptive_ || !job.job.restartable) return;
    const double min_run = options_.scheduler.min_run_before_preempt_s;
    if (min_run > 0) wakeups_.push(job.start_s + min_run);
    if (options_.scheduler.policy != "las") return;
    const double gpus = std::max(1, job.job.gpus);
    for (double threshold : options_.scheduler.las_thresholds_gpu_s) {
      const double ran = threshold / gpus - job.job.attained_run_s;
      if (ran > 0) wakeups_.push(job.start_s + ran);
    }
  }

  void schedule_quantum() {
    if (!preemptive_ || options_.quantum_s <= 0 || scheduler_->queued() == 0) return;
    const double next = snapshot_.now_s + options_.quantum_s;
    if (next > quantum_pending_s_ || quantum_pending_s_ <= snapshot_.now_s) {
      wakeups_.push(next);
      quantum_pending_s_ = next;
    }
  }

  // Takes the job off its GPUs and out of the running list; keeps the service it got.
  void stop(std::size_t index) {
    SimJob& job = jobs_[index];
    job.job.attained_run_s += snapshot_.now_s - job.start_s;
    occupy(job, -1);
    ++job.generation;
    const std::size_t slot = job.running_slot;
    if (slot + 1 != snapshot_.running.size()) {
      snapshot_.running[slot] = std::move(snapshot_.running.back());
      jobs_[snapshot_.running[slot].job.id.value()].running_slot = slot;
    }
    snapshot_.running.pop_back();
  }

  bool stop_and_requeue(std::size_t index) {
    if (jobs_[index].phase != Phase::kRunning) return false;
    stop(index);
    ++result_.jobs[index].preemptions;
    (void)scheduler_->requeue(jobs_[index].job.id, snapshot_.now_s);
    mark_queued(index);
    return true;
  }

  void relocate(std::size_t index, const std::vector<int>& to) {
    SimJob& job = jobs_[index];
    if (job.phase != Phase::kRunning) return;
    const Bytes bytes = job.bytes;
    stop(index);
    job.phase = Phase::kQueued;  // launch() expects a waiting job; it never enters the queue
    if (job.job.gpus == 0) ++queued_cpu_jobs_;
    launch(index, to, bytes);
  }

  void kill(std::size_t index) {
    if (jobs_[index].phase != Phase::kRunning) return;
    stop(index);
    (void)scheduler_->finish(jobs_[index].job.id, sched::EndState::kFailed, snapshot_.now_s);
    jobs_[index].phase = Phase::kDone;  // ended without completing: counted as unfinished
    settle();
  }

  void complete(std::size_t index, double now) {
    SimJob& job = jobs_[index];
    stop(index);
    job.phase = Phase::kDone;
    result_.jobs[index].end_s = now;
    const double ran = *job.job.oracle_duration_s;
    (void)scheduler_->finish(job.job.id, sched::EndState::kSucceeded, now);
    if (options_.learn_history && !job.job.signature.empty()) {
      scheduler_->add_run(job.job.signature, std::nullopt, ran);
    }
    settle();
  }

  // Adds (+1) or removes (-1) the job's share on its GPUs; keeps the open-GPU count.
  void occupy(const SimJob& job, int sign) {
    const double share = job.job.util_share;
    for (int gpu : job.gpus) {
      const auto g = static_cast<std::size_t>(gpu);
      const bool was_open = gpu_share_[g] < 1.0 - kOpenShare;
      const bool was_busy = gpu_jobs_[g] > 0;
      gpu_jobs_[g] += sign;
      // Exclusive jobs fill the GPU; summing exact 1.0s keeps the arithmetic exact.
      gpu_share_[g] += sign * (job.job.exclusive() ? 1.0 : share);
      if (gpu_jobs_[g] == 0) gpu_share_[g] = 0.0;  // no drift once the GPU is empty
      const bool open = gpu_share_[g] < 1.0 - kOpenShare;
      if (was_open && !open) --open_gpus_;
      if (!was_open && open) ++open_gpus_;
      if (was_busy != (gpu_jobs_[g] > 0)) busy_gpus_ += sign;
    }
    allocated_ += sign * share * static_cast<double>(job.gpus.size());
  }

  void note_usage(double now) {
    const double allocated = std::max(0.0, allocated_);
    auto& usage = result_.usage;
    if (!usage.empty() && usage.back().busy_gpus == busy_gpus_ &&
        usage.back().allocated == allocated)
      return;
    if (!usage.empty() && usage.back().time_s == now) {
      usage.back().busy_gpus = busy_gpus_;
      usage.back().allocated = allocated;
      return;
    }
    usage.push_back({now, busy_gpus_, allocated});
  }

  void settle() {
    ++settled_;
    if (!options_.progress) return;
    const std::size_t step = std::max<std::size_t>(1, jobs_.size() / 100);
    if (settled_ % step == 0 || settled_ == jobs_.size()) options_.progress(settled_, jobs_.size());
  }

  void finish() {
    result_.metrics = compute_metrics(result_.jobs, result_.usage, result_.total_gpus);
  }

  const Trace& trace_;
  const SimOptions& options_;
  sched::Snapshot snapshot_;  // GPUs, running jobs and the time; the queue lives in scheduler_
  std::unique_ptr<sched::Scheduler> scheduler_;
  SimResult result_;
  std::vector<SimJob> jobs_;
  std::vector<std::size_t> arrivals_;  // job indexes in arrival order
  std::size_t next_arrival_ = 0;
  MinHeap<Completion> completions_;
  MinHeap<double> wakeups_;
  double quantum_pending_s_ = -kNoEvent;
  bool preemptive_ = false;
  std::vector<double> gpu_share_;
  std::vector<int> gpu_jobs_;
  std::size_t open_gpus_ = 0;
  int busy_gpus_ = 0;
  double allocated_ = 0;
  std::size_t queued_cpu_jobs_ = 0;
  std::size_t settled_ = 0;
};

Status check_options(const SimOptions& options, const ClusterSpec& cluster) {
  FASTGPU_RETURN_IF_ERROR(sched::validate_config(options.scheduler));
  if (!(std::isfinite(options.time_scale) && options.time_scale > 0)) {
    return invalid_argument("time scale " + std::to_string(options.time_scale) +
                            " must be a number above 0, e.g. 4 to replay four times as fast");
  }
  if (options.time_limit_factor != 0 && !(options.time_limit_factor >= 1)) {
    return invalid_argument("time limit factor " + std::to_string(options.time_limit_factor) +
                            " must be 0 (no limits) or at least 1");
  }
  if (!(options.quantum_s >= 0)) return invalid_argument("the quantum must be >= 0 seconds");
  if (cluster.total_gpus() <= 0) {
    return invalid_argument("cluster '" + cluster.name + "' has no GPU; give one with GPUs");
  }
  return {};
}

}  // namespace

Result<SimResult> simulate(const Trace& trace, const ClusterSpec& cluster,
                           const SimOptions& options) {
  FASTGPU_RETURN_IF_ERROR(check_options(options, cluster));
  return Simulation(trace, cluster, options).run();
}

}  // namespace fastgpu::sim
