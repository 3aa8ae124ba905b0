// The balancer: moves restartable single-GPU jobs off an overloaded GPU onto an idle one.
//
// Overloaded: measured utilization >= overload_utilization with at least two of our jobs.
// Idle: healthy, none of our jobs (after this round's starts), measured utilization <=
// idle_utilization (unknown counts as idle). A move must lower the pair's larger load
// LB = max(LB_src, LB_dst) by at least balance_min_gain, so the reverse move can never
// qualify; a job moves only after min_run_before_move_s of its current run, and each GPU
// takes part in at most one move per call. Together these keep jobs from ping-ponging.
#pragma once

#include <unordered_set>
#include <vector>

#include "fastgpu/sched/config.h"
#include "fastgpu/sched/decision.h"
#include "fastgpu/sched/ledger.h"
#include "fastgpu/sched/snapshot.h"

namespace fastgpu::sched {

// Proposes moves and commits each destination in `ledger`. Jobs in `busy` (already
// preempted or acted on this round) are left alone.
std::vector<Move> balance_moves(const Snapshot& snapshot, const SchedulerConfig& config,
                                Ledger& ledger, const std::unordered_set<JobId>& busy);

}  // namespace fastgpu::sched
