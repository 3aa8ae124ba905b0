// The pure schedule() with one of the state's plain switches on: the unpruned search that a
// kept Scheduler's pruned one is held to.
#pragma once

#include "fastgpu/sched/scheduler.h"
#include "sched/scheduler_state.h"

namespace fastgpu::sched::testing {

// The pure schedule() of `snapshot`, with `plain` on (&Scheduler::State::plain_walk,
// &Scheduler::State::plain_reservation_search).
inline Result<ScheduleResult> plain_schedule(const Snapshot& snapshot,
                                             const SchedulerConfig& config,
                                             bool Scheduler::State::*plain) {
  auto state = state_from_snapshot(snapshot, config);
  if (!state.ok()) return state.status();
  (**state).*plain = true;
  return schedule_held(**state, snapshot.now_s);
}

}  // namespace fastgpu::sched::testing
