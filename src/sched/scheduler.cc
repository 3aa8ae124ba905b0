#include "fastgpu/sched/scheduler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_set>

#include "fastgpu/sched/balancer.h"
#include "fastgpu/sched/history.h"
#include "fastgpu/sched/ledger.h"
#include "fastgpu/sched/memory_pressure.h"
#include "fastgpu/sched/placer.h"
#include "fastgpu/sched/policy.h"
#include "sched/dependencies.h"

namespace fastgpu::sched {

namespace {

constexpr double kNever = std::numeric_limits<double>::infinity();

// One queued job in policy order.
struct Entry {
  double key;
  double submit_s;
  JobId id;
  const Job* job;
  bool operator<(const Entry& other) const {
    if (key != other.key) return key < other.key;
    if (submit_s != other.submit_s) return submit_s < other.submit_s;
    return id < other.id;
  }
};

Demand demand_of(const Job& job, const EstimateCache& estimates) {
  Demand demand;
  demand.gpus = job.gpus;
  demand.share = job.util_share;
  demand.load = job.util_share * priority_weight(job.priority);
  if (job.gpu_mem) {
    demand.bytes = *job.gpu_mem;
  } else if (auto learned = estimates.auto_bytes(job.signature)) {
    demand.bytes = *learned;
  } else {
    demand.whole_memory = true;
  }
  return demand;
}

// Demands that already failed to place in this call. Placement only gets harder within a
// call (the ledger only fills), and a demand at least as large in every dimension fails
// too, so a dominated demand is rejected without searching the GPUs.
class FailureMemo {
 public:
  bool dominated(const Demand& demand) const {
    for (const Demand& failed : failed_) {
      if (demand.whole_memory == failed.whole_memory && demand.gpus >= failed.gpus &&
          demand.bytes >= failed.bytes && demand.share >= failed.share) {
        return true;
      }
    }
    return false;
  }
  void add(const Demand& demand) {
    if (failed_.size() < kMaxEntries) failed_.push_back(demand);
  }

 private:
  static constexpr std::size_t kMaxEntries = 64;
  std::vector<Demand> failed_;
};

// A job that will release its GPUs at end_s (kNever when it has no time limit).
struct Release {
  double end_s;
  std::vector<int> slots;
  Demand demand;
  Bytes bytes;
};

class Round {
 public:
  Round(const Snapshot& snapshot, const SchedulerConfig& config, const Policy& policy,
        const Placer& placer)
      : snapshot_(snapshot),
        config_(config),
        policy_(policy),
        placer_(placer),
        estimates_(snapshot.history, config.auto_percentile, config.auto_margin),
        context_{snapshot, config, estimates_},
        dependencies_(snapshot),
        ledger_(snapshot) {}

  ScheduleResult run() {
    for (MemoryAction& action : memory_pressure_actions(snapshot_, config_)) {
      busy_.insert(action.job);
      result_.decisions.emplace_back(std::move(action));
    }
    place_in_order(ordered_queue());
    for (Move& move : balance_moves(snapshot_, config_, ledger_, busy_)) {
      result_.decisions.emplace_back(std::move(move));
    }
    return std::move(result_);
  }

 private:
  std::vector<Entry> ordered_queue() {
    std::vector<const Job*> jobs;
    jobs.reserve(snapshot_.queue.size());
    for (const Job& job : snapshot_.queue) {
      jobs.push_back(&job);
      if (job.gpus == 0) ++cpu_jobs_left_;
    }
    std::vector<double> keys(jobs.size());
    policy_.rank(jobs, context_, keys);
    std::vector<Entry> order(jobs.size());
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      order[i] = {keys[i], jobs[i]->submit_time_s, jobs[i]->id, jobs[i]};
    }
    std::sort(order.begin(), order.end());
    return order;
  }

  // The queue's smallest share and declared bytes: leftovers below them are fragments.
  void note_smallest_demands(const std::vector<Entry>& order) {
    options_.min_share = 1.0;
    options_.min_bytes = std::numeric_limits<Bytes>::max();
    for (const Entry& entry : order) {
      if (entry.job->gpus == 0) continue;
      options_.min_share = std::min(options_.min_share, entry.job->util_share);
      if (entry.job->gpu_mem)
        options_.min_bytes = std::min(options_.min_bytes, *entry.job->gpu_mem);
    }
    if (options_.min_bytes == std::numeric_limits<Bytes>::max()) options_.min_bytes = 0;
  }

  void place_in_order(const std::vector<Entry>& order) {
    note_smallest_demands(order);
    for (const Entry& entry : order) {
      const Job& job = *entry.job;
      if (job.gpus == 0) --cpu_jobs_left_;
      if (!dependencies_.satisfied(job)) continue;
      if (job.gpus == 0) {
        result_.decisions.emplace_back(Start{job.id, {}, 0});
        continue;
      }
      // A full cluster ends the search, except that a preemptive policy still looks for
      // room for its first blocked job.
      if (!ledger_.any_capacity() && (reserved_ || !policy_.preemptive())) {
        if (cpu_jobs_left_ == 0) break;
        continue;
      }
      if (!consider(entry)) break;
    }
  }

  // Starts the job if it may start now; false when nothing after it may start.
  bool consider(const Entry& entry) {
    const Demand demand = demand_of(*entry.job, estimates_);
    const bool masked = reserved_ && !ends_before_reservation(*entry.job);
    FailureMemo& memo = masked ? masked_failures_ : free_failures_;
    if (!memo.dominated(demand)) {
      PlaceOptions options = options_;
      if (masked) options.forbidden = &reserved_slots_;
      if (auto slots = placer_.place(ledger_, demand, options)) {
        start(*entry.job, demand, *slots);
        return true;
      }
      memo.add(demand);
      masked_failures_.add(demand);
    }
    if (reserved_) return true;
    return on_first_blocked(entry, demand);
  }

  bool ends_before_reservation(const Job& job) const {
    return job.time_limit_s && snapshot_.now_s + *job.time_limit_s <= reservation_end_s_;
  }

  void start(const Job& job, const Demand& demand, const std::vector<int>& slots) {
    Bytes bytes = std::numeric_limits<Bytes>::max();
    std::vector<int> gpus;
    for (int s : slots) {
      bytes = std::min(bytes, ledger_.bytes_on(s, demand));
      gpus.push_back(ledger_.slot(s).gpu_index);
    }
    ledger_.commit(slots, demand);
    const double end = job.time_limit_s ? snapshot_.now_s + *job.time_limit_s : kNever;
    started_.push_back({end, slots, demand, bytes});
    result_.decisions.emplace_back(Start{job.id, std::move(gpus), bytes});
  }

  // The first job that does not fit: preempt for it, or reserve for it (EASY), or stop.
  bool on_first_blocked(const Entry& entry, const Demand& demand) {
    if (never_fits_.dominated(demand)) return true;
    if (policy_.preemptive() && try_preempt(entry, demand)) return config_.backfill;
    std::vector<Release> releases = pending_releases();
    Ledger shadow = ledger_;
    for (const Release& release : releases) {
      shadow.release(release.slots, release.demand, release.bytes);
      if (release.end_s == kNever) continue;  // judged after every release, below
      if (auto slots = placer_.place(shadow, demand, options_)) {
        reserve(entry.job->id, release.end_s, *slots);
        return config_.backfill;
      }
    }
    // Fits only once jobs without a time limit end: no reservation can be promised, so
    // nothing may pass it. Never fits (too few healthy GPUs): it must not block the queue.
    if (placer_.place(shadow, demand, options_)) return false;
    never_fits_.add(demand);
    return true;
  }

  std::vector<Release> pending_releases() const {
    std::vector<Release> releases = started_;
    for (const RunningJob& running : snapshot_.running) {
      Release release{kNever, {}, {}, running.declared_bytes};
      if (running.job.time_limit_s)
        release.end_s = running.start_time_s + *running.job.time_limit_s;
      for (int gpu : running.gpus) release.slots.push_back(ledger_.slot_of(gpu));
      release.demand.gpus = static_cast<int>(running.gpus.size());
      release.demand.bytes = running.declared_bytes;
      release.demand.share = running.job.util_share;
      release.demand.load = running.job.util_share * priority_weight(running.job.priority);
      releases.push_back(std::move(release));
    }
    std::stable_sort(releases.begin(), releases.end(),
                     [](const Release& a, const Release& b) { return a.end_s < b.end_s; });
    return releases;
  }

  void reserve(JobId job, double start_s, const std::vector<int>& slots) {
    reserved_ = true;
    reservation_end_s_ = start_s;
    reserved_slots_.assign(ledger_.slots().size(), 0);
    Reservation reservation{job, start_s, {}};
    for (int s : slots) {
      reserved_slots_[s] = 1;
      reservation.gpus.push_back(ledger_.slot(s).gpu_index);
    }
    result_.reservation = std::move(reservation);
  }

  // Running restartable jobs the policy ranks below the blocked job, worst first.
  std::vector<const RunningJob*> victims_for(const Entry& entry) const {
    std::vector<std::pair<double, const RunningJob*>> ranked;
    for (const RunningJob& running : snapshot_.running) {
      if (!running.job.restartable || busy_.count(running.job.id) != 0) continue;
      if (snapshot_.now_s - running.start_time_s < config_.min_run_before_preempt_s) continue;
      const double key = policy_.running_key(running, context_);
      if (key > entry.key) ranked.emplace_back(key, &running);
    }
    std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
      if (a.first != b.first) return a.first > b.first;
      return a.second->job.id < b.second->job.id;
    });
    std::vector<const RunningJob*> victims;
    for (const auto& [key, running] : ranked) victims.push_back(running);
    return victims;
  }

  bool try_preempt(const Entry& entry, const Demand& demand) {
    Ledger shadow = ledger_;
    std::vector<const RunningJob*> released;
    for (const RunningJob* victim : victims_for(entry)) {
      std::vector<int> slots;
      for (int gpu : victim->gpus) slots.push_back(ledger_.slot_of(gpu));
      Demand held{static_cast<int>(slots.size()), victim->declared_bytes, false,
                  victim->job.util_share,
                  victim->job.util_share * priority_weight(victim->job.priority)};
      shadow.release(slots, held, victim->declared_bytes);
      released.push_back(victim);
      if (auto chosen = placer_.place(shadow, demand, options_)) {
        preempt(entry, released, *chosen);
        return true;
      }
    }
    return false;
  }

  // Preempts the released jobs that hold a chosen GPU, and keeps those GPUs for the job.
  void preempt(const Entry& entry, const std::vector<const RunningJob*>& released,
               const std::vector<int>& chosen) {
    for (const RunningJob* victim : released) {
      const bool needed = std::any_of(victim->gpus.begin(), victim->gpus.end(), [&](int gpu) {
        return std::find(chosen.begin(), chosen.end(), ledger_.slot_of(gpu)) != chosen.end();
      });
      if (!needed) continue;
      busy_.insert(victim->job.id);
      result_.decisions.emplace_back(
          Preempt{victim->job.id, std::string(policy_.name()) + ": queued job " +
                                      to_string(entry.job->id) + " ranks ahead of it"});
    }
    reserve(entry.job->id, snapshot_.now_s, chosen);
  }

  const Snapshot& snapshot_;
  const SchedulerConfig& config_;
  const Policy& policy_;
  const Placer& placer_;
  EstimateCache estimates_;
  PolicyContext context_;
  DependencyIndex dependencies_;
  Ledger ledger_;
  ScheduleResult result_;
  PlaceOptions options_;
  std::vector<Release> started_;
  std::unordered_set<JobId> busy_;
  std::size_t cpu_jobs_left_ = 0;
  bool reserved_ = false;
  double reservation_end_s_ = 0.0;
  std::vector<char> reserved_slots_;
  FailureMemo free_failures_;
  FailureMemo masked_failures_;
  FailureMemo never_fits_;  // demands that fit nowhere even with every job gone
};

}  // namespace

Result<ScheduleResult> schedule(const Snapshot& snapshot, const SchedulerConfig& config) {
  FASTGPU_RETURN_IF_ERROR(validate_config(config));
  FASTGPU_RETURN_IF_ERROR(validate_snapshot(snapshot));
  const std::unique_ptr<Policy> policy = make_policy(config.policy);
  const std::unique_ptr<Placer> placer = make_placer(config.strategy);
  return Round(snapshot, config, *policy, *placer).run();
}

}  // namespace fastgpu::sched
