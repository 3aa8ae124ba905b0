// Scheduler::why_waiting: why a queued job did not start, in the scheduler's own terms.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>

#include "sched/scheduler_state.h"

namespace fastgpu::sched {

namespace {

std::string job_list(const std::vector<JobId>& jobs) {
  std::string text;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    if (i > 0) text += i + 1 == jobs.size() ? " and " : ", ";
    text += to_string(jobs[i]);
  }
  return text;
}

// "job 12" or "jobs 12 and 13".
std::string jobs_text(const std::vector<JobId>& jobs) {
  return (jobs.size() == 1 ? "job " : "jobs ") + job_list(jobs);
}

std::string percent(double share) { return std::to_string(std::lround(share * 100.0)) + "%"; }

// "GPUs 0,1 now" or "GPU 3 in about 25m, when running jobs reach their time limits".
std::string reservation_text(const Reservation& reservation, double now_s) {
  std::string text = fmt::format("{} {} ", reservation.gpus.size() == 1 ? "GPU" : "GPUs",
                                 fmt::join(reservation.gpus, ","));
  const double wait_s = reservation.start_s - now_s;
  if (wait_s <= 0.0) return text + "now";
  return text + "in about " + format_duration(Seconds(wait_s)) +
         ", when running jobs reach their time limits";
}

// What the demand asks of each GPU, for people: "30.0 GiB and 50% of its compute free".
std::string asked(const Demand& demand) {
  std::string memory = demand.whole_memory ? "all its memory (\"auto\" memory, no history yet)"
                                           : format_bytes(demand.bytes) + " free";
  if (demand.exclusive()) return "to itself with " + memory;
  return "with " + memory + " and " + percent(demand.share) + " of its compute";
}

// Which of the demand's conditions each GPU meets now: what a user needs to see why a job
// that fits the cluster does not fit it now.
std::string resources_detail(const Scheduler::State& state, const Demand& demand) {
  const Ledger& ledger = state.ledger;
  int memory_ok = 0;
  int compute_ok = 0;
  int both = 0;
  int unhealthy = 0;
  int gone = 0;  // not among the machine's GPUs now, held by a running job
  int most_free_slot = -1;
  double most_share_free = -1.0;
  int most_share_slot = -1;
  for (int s = 0; s < static_cast<int>(ledger.slots().size()); ++s) {
    const GpuSlot& slot = ledger.slot(s);
    if (!slot.healthy) {
      const auto at = state.gpu_at.find(slot.gpu_index);
      ++(at != state.gpu_at.end() && state.view.gpus[at->second].gone ? gone : unhealthy);
      continue;
    }
    const bool memory = ledger.memory_fits(s, demand);
    const bool compute = ledger.compute_fits(s, demand);
    memory_ok += memory ? 1 : 0;
    compute_ok += compute ? 1 : 0;
    both += memory && compute ? 1 : 0;
    if (most_free_slot < 0 || slot.free_bytes() > ledger.slot(most_free_slot).free_bytes()) {
      most_free_slot = s;
    }
    const double share_free = slot.exclusive_held ? 0.0 : slot.free_share();
    if (share_free > most_share_free) {
      most_share_free = share_free;
      most_share_slot = s;
    }
  }
  const std::string needs = demand.gpus == 1 ? "needs a GPU " + asked(demand)
                                             : "needs " + std::to_string(demand.gpus) +
                                                   " GPUs on one node, each " + asked(demand);
  std::string now;
  if (both >= demand.gpus) {
    now = std::to_string(both) + " GPUs have that now, but no node has " +
          std::to_string(demand.gpus) + " of them";
  } else if (both > 0) {
    now = "only " + std::to_string(both) + (both == 1 ? " GPU has" : " GPUs have") + " that now";
  } else if (memory_ok == 0 && most_free_slot >= 0 && !demand.whole_memory) {
    const GpuSlot& most = ledger.slot(most_free_slot);
    now = "no GPU has that much memory free now (the most: " + format_bytes(most.free_bytes()) +
          " on GPU " + std::to_string(most.gpu_index) + ")";
  } else if (memory_ok == 0) {
    now = "no GPU is without jobs now";
  } else if (compute_ok == 0 && demand.exclusive()) {
    now = "every GPU with that memory free runs other jobs now";
  } else if (compute_ok == 0 && most_share_slot >= 0) {
    now = "no GPU has that much compute free now (the most: " + percent(most_share_free) +
          " on GPU " + std::to_string(ledger.slot(most_share_slot).gpu_index) + ")";
  } else {
    now = "no GPU has both now (" + std::to_string(memory_ok) + " the memory, " +
          std::to_string(compute_ok) + " the compute)";
  }
  if (unhealthy > 0) {
    now += "; " + std::to_string(unhealthy) +
           (unhealthy == 1 ? " GPU is unhealthy and takes" : " GPUs are unhealthy and take") +
           " nothing new";
  }
  if (gone > 0) {
    now += "; " + std::to_string(gone) +
           (gone == 1 ? " GPU is no longer among this machine's GPUs (a running job placed "
                        "there before a restart holds it)"
                      : " GPUs are no longer among this machine's GPUs (running jobs placed "
                        "there before a restart hold them)");
  }
  return needs + "; " + now;
}

// What would let `job`, which fits now but would delay the reservation, start at once under
// backfill: a time limit that ends it before the reservation's start ("; with a time limit
// under 1h09m it could start now, as backfill (`fastgpu update 2 --time 1h02m`)"); empty
// when its limit already ends it in time (the wait then has another cause).
std::string shorter_limit_hint(const Job& job, const Reservation& reservation, double now_s) {
  const double gap_s = reservation.start_s - now_s;
  if (gap_s < 2.0 || (job.time_limit_s && *job.time_limit_s <= gap_s)) return "";
  // A limit with room to spare: the gap narrows while the user types.
  const double spare_s = gap_s * 0.9;
  const double offered_s =
      spare_s >= 600.0 ? std::floor(spare_s / 60.0) * 60.0 : std::max(1.0, std::floor(spare_s));
  const std::string has =
      job.time_limit_s
          ? "its time limit of " + format_duration(Seconds(*job.time_limit_s)) + " runs past then"
          : "it has no time limit";
  return fmt::format(
      " ({}); with one under {} it could start now, as backfill (`fastgpu update {} --time {}`)",
      has, format_duration(Seconds(gap_s)), to_string(job.id), format_duration(Seconds(offered_s)));
}

// The detail of a GPU job's wait, once its kind is known.
std::string gpu_wait_detail(const Scheduler::State& state, const Job& job, const WaitReason& why,
                            const Demand& demand, bool fits_now) {
  const double now_s = state.view.now_s;
  switch (why.kind) {
    case WaitReason::Kind::kReserved: {
      std::string detail = "first in the order";
      if (why.reservation) detail += "; it gets " + reservation_text(*why.reservation, now_s);
      return detail + "; " +
             (fits_now ? "GPUs are free for it now: the next scheduling pass starts it"
                       : resources_detail(state, demand));
    }
    case WaitReason::Kind::kResources: {
      std::string detail = resources_detail(state, demand);
      if (!state.placer->place(state.empty_ledger(), demand, PlaceOptions{})) {
        detail += "; it fits no node even with every job ended (too few healthy GPUs)";
      }
      return detail;
    }
    case WaitReason::Kind::kPriority: {
      const std::string ahead = "fits now, but job " + to_string(why.jobs.at(0)) +
                                " comes first in the " + state.config.policy + " order";
      if (why.reservation) {
        return ahead + ": it gets " + reservation_text(*why.reservation, now_s) +
               ", and starting this one would delay it" +
               (state.config.backfill ? shorter_limit_hint(job, *why.reservation, now_s) : "");
      }
      if (!state.config.backfill) return ahead + " and waits for GPUs, and backfill is off";
      return ahead +
             " and waits for GPUs with no time to promise (jobs without time limits hold "
             "them), so nothing may start past it";
    }
    default: return "fits now: the next scheduling pass starts it";
  }
}

}  // namespace

const char* wait_kind_name(WaitReason::Kind kind) {
  switch (kind) {
    case WaitReason::Kind::kDependency: return "dependency";
    case WaitReason::Kind::kHeld: return "held";
    case WaitReason::Kind::kReserved: return "next in line";
    case WaitReason::Kind::kResources: return "resources";
    case WaitReason::Kind::kPriority: return "priority";
    case WaitReason::Kind::kNextPass: return "next pass";
  }
  return "unknown";
}

Result<WaitReason> Scheduler::why_waiting(JobId id, bool with_detail) const {
  const State& state = *state_;
  auto found = state.queue.find(id);
  if (found == state.queue.end()) {
    return not_found("job " + to_string(id) + " is not waiting in the scheduler");
  }
  const Job& job = found->second;
  WaitReason why;

  std::vector<JobId> succeed;
  std::vector<JobId> end;
  for (const Dependency& dependency : job.dependencies) {
    const TargetState target = state.target_state(dependency.job);
    if (target == TargetState::kSucceeded) continue;
    if (dependency.kind == DependencyKind::kAfterAny && target == TargetState::kFailed) continue;
    why.jobs.push_back(dependency.job);
    (dependency.kind == DependencyKind::kAfterOk ? succeed : end).push_back(dependency.job);
  }
  if (!why.jobs.empty()) {
    why.kind = WaitReason::Kind::kDependency;
    why.detail = "waits for ";
    if (!succeed.empty()) why.detail += jobs_text(succeed) + " to succeed";
    if (!succeed.empty() && !end.empty()) why.detail += " and for ";
    if (!end.empty()) why.detail += jobs_text(end) + " to end";
    return why;
  }
  if (state.on_hold.contains(id)) {
    why.kind = WaitReason::Kind::kHeld;
    why.detail = "held by a limit of the caller's own";
    return why;
  }
  if (job.gpus == 0) {
    why.detail = "needs no GPU; the next scheduling pass starts it";
    return why;
  }

  const Demand demand = demand_of(job, *state.estimates);
  const bool fits_now = state.placer->place(state.ledger, demand, PlaceOptions{}).has_value();
  const std::optional<Reservation>& reservation = state.last_reservation;
  if (state.first_blocked == id) {
    why.kind = WaitReason::Kind::kReserved;
    if (reservation && reservation->job == id) why.reservation = reservation;
  } else if (!fits_now) {
    why.kind = WaitReason::Kind::kResources;
  } else if (state.first_blocked) {
    why.kind = WaitReason::Kind::kPriority;
    why.jobs.push_back(*state.first_blocked);
    if (reservation && reservation->job == *state.first_blocked) why.reservation = reservation;
  }
  if (with_detail) why.detail = gpu_wait_detail(state, job, why, demand, fits_now);
  return why;
}

}  // namespace fastgpu::sched
