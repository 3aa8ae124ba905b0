// The backfill reservation kept between a Scheduler's calls; private to src/sched.
//
// The reservation search (Round::reserve_earliest) releases the running jobs and the jobs
// started in the round what-if, in the order their time limits end them (end, then id),
// and asks the placer after a release that touched a node now holding the blocked job's
// demand; the first success gives the reservation: the moment of that release
// (`start_s`, `made_room`) and the placer's GPUs there. In a busy queue the same job stays
// blocked over many calls, and its search (about 20 releases, a fifth of a 100k drain)
// mostly finds the same answer. A kept reservation is reused instead when the next search
// provably finds it again:
//
// Write p* for the moment of the kept answer. A node's figures at any moment of the
// search are its figures now minus the releases up to that moment of the jobs on it: a
// node that nothing changed since (no commit, release or GPU report there) has the same
// figures at every moment as in the kept search. The placer fails exactly when no node
// holds demand.gpus GPUs the demand fits, and chooses among the nodes that hold it by their
// own slots alone (placer.h). So if, since the kept search,
//   - the blocked job, its demand and the placer's options are the same,
//   - no node that held the demand at p* changed (those are nodes of the job released at
//     p*: before it no node held it, and only its nodes changed there; so that job is
//     still running with the same end, and p* is still a moment of the search), and
//   - no changed node holds the demand at p* now (with every release up to p* applied to
//     it; a node holding it at p* would hold it at every later moment, and one that does
//     not, at no earlier one: figures only gain as releases go on),
// then before p* no node holds the demand (the unchanged ones did not, the changed ones do
// not), and at p* the nodes that hold it, and their slots, are the kept search's: the
// placer answers as it did. Otherwise the search runs again. A reuse checks only the
// nodes changed since the last check, so the third condition stays true of the others:
// every node it checked did not hold the demand at p*, and the ones never checked are as
// they were in the search.
// The tests hold the kept scheduler, whose reservations outlive a call, to the pure
// schedule() that searches afresh (tests/sched/scheduler_kept_reservation_test.cc).
#pragma once

#include <cstdint>
#include <vector>

#include "fastgpu/core/ids.h"
#include "fastgpu/sched/ledger.h"

namespace fastgpu::sched {

struct KeptReservation {
  bool valid = false;
  JobId job;               // the blocked job
  Demand demand;           // what it asked
  double min_share = 0.0;  // the placer's options then (PlaceOptions)
  Bytes min_bytes = 0;
  double start_s = 0.0;      // p*: the end of the release that made room...
  JobId made_room;           // ...and that job (ties at start_s go by id)
  std::vector<int> slots;    // the placer's answer at p*
  std::vector<int> holding;  // the nodes that held the demand at p*
  // GainLog::now() of the state's gains and fills when the nodes were last checked.
  std::uint64_t gains_at = 0;
  std::uint64_t fills_at = 0;
};

// True when `a` and `b` ask the same of every GPU (every field the ledger reads).
inline bool same_demand(const Demand& a, const Demand& b) {
  return a.gpus == b.gpus && a.bytes == b.bytes && a.whole_memory == b.whole_memory &&
         a.share == b.share && a.load == b.load;
}

}  // namespace fastgpu::sched
