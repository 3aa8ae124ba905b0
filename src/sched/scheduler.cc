// One scheduling round over the Scheduler's state, and the pure schedule() built on it.
#include "fastgpu/sched/scheduler.h"

#include <algorithm>
#include <array>
#include <unordered_set>

#include "fastgpu/sched/balancer.h"
#include "fastgpu/sched/memory_pressure.h"
#include "sched/failure_memo.h"
#include "sched/kept_reservation.h"
#include "sched/scheduler_state.h"

namespace fastgpu::sched {

namespace {

// Jobs that end before the reservation, waiting for their place in the walk: at most one
// per class at a time, so a sorted vector (first job at the back) instead of a tree.
class ShortJobs {
 public:
  bool empty() const { return later_first_.empty(); }
  const Entry& first() const { return later_first_.back(); }
  void pop_first() { later_first_.pop_back(); }
  // Adds the entry unless it waits already.
  void add(const Entry& entry) {
    auto it = std::lower_bound(later_first_.begin(), later_first_.end(), entry,
                               [](const Entry& a, const Entry& b) { return b < a; });
    if (it != later_first_.end() && !(*it < entry)) return;  // *it == entry
    later_first_.insert(it, entry);
  }

 private:
  std::vector<Entry> later_first_;  // policy order reversed
};

// A job started in this round, which will release its GPUs at end_s.
struct Started {
  double end_s;
  JobId id;
  std::vector<int> slots;
  Demand demand;
  Bytes bytes;
  bool operator<(const Started& other) const {
    return end_s != other.end_s ? end_s < other.end_s : id < other.id;
  }
};

// Releases jobs from the live ledger to ask "what if they had ended?", and puts them back
// when it goes out of scope. The ledger counts in integers, so the state comes back
// bit for bit, and no copy of the ledger is made.
// REQUIRES: each released slot list outlives the WhatIf (they are the state's or the
// round's own lists, not temporaries).
class WhatIf {
 public:
  explicit WhatIf(Ledger& ledger) : ledger_(ledger) {
    released_.reserve(32);  // a reservation search releases about 20 jobs
  }
  WhatIf(const WhatIf&) = delete;
  WhatIf& operator=(const WhatIf&) = delete;
  ~WhatIf() {
    for (auto it = released_.rbegin(); it != released_.rend(); ++it) {
      ledger_.commit(*it->slots, it->demand);
    }
  }
  void release(const std::vector<int>& slots, const Demand& demand, Bytes bytes) {
    ledger_.release(slots, demand, bytes);
    Demand held = demand;
    held.whole_memory = false;  // commit back exactly the bytes that were held
    held.bytes = bytes;
    released_.push_back({&slots, held});
  }

 private:
  struct Held {
    const std::vector<int>* slots;
    Demand demand;
  };
  Ledger& ledger_;
  std::vector<Held> released_;
};

// A ledger trial for the length of a scope (Ledger::begin_trial): every slot comes back
// as it was, and the indexes exact, when it ends.
class Trial {
 public:
  explicit Trial(Ledger& ledger) : ledger_(ledger) { ledger_.begin_trial(); }
  Trial(const Trial&) = delete;
  Trial& operator=(const Trial&) = delete;
  ~Trial() { ledger_.end_trial(); }

 private:
  Ledger& ledger_;
};

class Round {
 public:
  Round(const Round&) = delete;
  Round& operator=(const Round&) = delete;
  ~Round() {
    for (int s : reserved_list_) reserved_slots_[static_cast<std::size_t>(s)] = 0;
  }
  explicit Round(Scheduler::State& state)
      : state_(state),
        snapshot_(state.view),
        config_(state.config),
        policy_(*state.policy),
        placer_(*state.placer),
        ledger_(state.ledger),
        context_{state.view, state.config, *state.estimates},
        free_failures_(state.round_memos.free_failures),
        masked_failures_(state.round_memos.masked_failures),
        never_fits_(state.round_memos.never_fits),
        reserved_slots_(state.reserved_marks),
        reserved_list_(state.reserved_list) {
    reserved_list_.clear();
    free_failures_.clear();
    masked_failures_.clear();
    never_fits_.clear();
  }

  ScheduleResult run() {
    state_.node_rooms.set_plain(state_.plain_walk);
    state_.first_blocked.reset();
    if (state_.measured_gpus > 0) {
      for (MemoryAction& action : memory_pressure_actions(snapshot_, config_)) {
        busy_.insert(action.job);
        result_.decisions.emplace_back(std::move(action));
      }
    }
    place_in_order();
    std::vector<Move> moves = balance_moves(snapshot_, config_, ledger_, busy_);
    apply_starts();
    for (Move& move : moves) {
      apply_move(move);
      result_.decisions.emplace_back(std::move(move));
    }
    state_.last_reservation = result_.reservation;
    return std::move(result_);
  }

 private:
  // Walks the classes' first jobs in policy order. A started job hands its place to the
  // next of its class (always later in the order); a job that cannot start ends its
  // class's turn, since every other job of the class would fail the same way; except that
  // past a reservation, the class's jobs that end before it may still use the reserved
  // GPUs: the first of them joins the walk at its own place (`short_jobs_`).
  void place_in_order() {
    options_.min_share = state_.minimums.smallest_share();
    options_.min_bytes = state_.minimums.smallest_declared_bytes();
    cpu_jobs_left_ = state_.minimums.cpu_jobs();
    gpus_closed_ = false;
    auto it = state_.heads.begin();
    const bool may_step_over = !state_.plain_walk && state_.heads.rows_kept();
    while (true) {
      if (reserved_ && may_step_over) step_over_settled(it);
      const bool from_short =
          !short_jobs_.empty() && (it == state_.heads.end() || short_jobs_.first() < *it);
      if (!from_short && it == state_.heads.end()) break;
      // A head is read in place (most are settled without a start, and a copy of every
      // one cost 2% of the 100k drain); a start copies it before it leaves `heads`
      // (start(), start_cpu_job()) and the walk goes on from that copy. A short job
      // leaves its list here, so it is copied.
      if (from_short) {
        short_entry_ = short_jobs_.first();
        short_jobs_.pop_first();
      }
      const Entry& entry = from_short ? short_entry_ : *it;
      if (entry.demand.gpus == 0) {
        start_cpu_job(entry);
        reveal_next_first(started_entry_);
        it = state_.heads.upper_bound(started_entry_);
        continue;
      }
      // Past a job that nothing may pass on a GPU (below), CPU-only jobs alone may start.
      if (gpus_closed_) {
        if (cpu_jobs_left_ == 0) break;
        if (!from_short) pass(it);
        continue;
      }
      // Nothing more can start on a GPU in this round, except that a preemptive policy
      // still looks for room for its first blocked job.
      if (gpus_settled() && (reserved_ || !policy_.preemptive())) {
        // Every GPU is full before the walk met a job that does not fit: this one is still
        // next in line, and with backfill gets its reservation, for why_waiting (a user saw
        // "resources" for the job first in line on a full machine). Nothing else changes:
        // nothing could start this round.
        if (!reserved_ && !state_.first_blocked && !ledger_.any_capacity()) {
          (void)on_first_blocked(entry, entry.demand);
        }
        if (cpu_jobs_left_ == 0) break;
        if (!from_short) pass(it);
        continue;
      }
      const Outcome outcome = consider(entry);
      if (outcome == Outcome::kStop) {
        // Nothing may start on a GPU past this job (no reservation can be promised, or no
        // backfill). A CPU-only job takes no GPU and cannot delay it: those after it still
        // start (the walk had ended here, and under fifo a CPU job waited as long as a GPU
        // job without a time limit ran). The branch above passes this job and the rest.
        gpus_closed_ = true;
        continue;
      }
      if (outcome == Outcome::kStarted) {
        // A short job is never its class's first (that one failed), so `it` stays valid.
        if (from_short) {
          queue_short_job(started_entry_);
        } else {
          reveal_next_first(started_entry_);
          it = state_.heads.upper_bound(started_entry_);
        }
        continue;
      }
      if (!from_short) {
        if (last_masked_) queue_short_job(entry, free_proof_failed_);
        pass(it);
      }
    }
  }

  // Past the reservation, the heads from `it` on that a failure of this round on any GPU
  // dominates: consider() would settle each at once (kNotNow) and pass() step on. They
  // are stepped over in a run of the rows that State::heads keeps beside its set, up to
  // the first head that asks more, is a CPU job or a signature group's class, or comes
  // after the first short job due. Nothing they would read changes meanwhile (the memo,
  // the ledger, the short jobs), so the walk then decides as it would have; when every
  // GPU job is settled (gpus_settled()) the walk's own branch takes the head instead.
  void step_over_settled(Heads::iterator& it) {
    const Heads& heads = state_.heads;
    if (it == heads.end() || gpus_settled()) return;
    const std::vector<Heads::Row>& rows = heads.rows();
    // `it`'s row: the one the last run ended on, or the next one (the walk passed a head),
    // else searched.
    const auto at_row = [&](std::size_t row) { return row < rows.size() && rows[row].at == it; };
    if (!at_row(row_)) row_ = at_row(row_ + 1) ? row_ + 1 : heads.row_of(it);
    const auto settled = [this](const Heads::Row& head) {
      return !head.listed && head.gpus != 0 && free_failures_.dominated(head.demand());
    };
    std::size_t row = row_;
    while (row < rows.size() && settled(rows[row])) ++row;
    // Not past the first short job due: the run ends at the first head after it (heads are
    // in walk order, so a binary search over the run finds it).
    if (row > row_ && !short_jobs_.empty()) {
      const Entry& due = short_jobs_.first();
      const auto begin = rows.begin() + static_cast<std::ptrdiff_t>(row_);
      const auto end = rows.begin() + static_cast<std::ptrdiff_t>(row);
      row = static_cast<std::size_t>(
          std::partition_point(begin, end,
                               [&due](const Heads::Row& head) { return !(due < *head.at); }) -
          rows.begin());
    }
    if (row == row_) return;
    state_.walk_shortcuts += row - row_;
    row_ = row;
    it = row < rows.size() ? rows[row].at : heads.end();
  }

  // The walk goes past a head. Under fair-keyed entries it leaves `heads` (the walk never
  // comes back to it: a start searches from the started job), and its node carries its
  // user's next class in (reveal_next_first), saving an allocation and a free.
  // Under sjf a signature group's class leaves too; the group's first class goes back
  // when the round ends (State::purge_revealed), since `heads` keeps it between calls.
  // Inline for the common case (a class in no ordered list: the walk steps on); the rest
  // is out of line (measured: a call per pass was 3% of the 100k drain).
  void pass(Heads::iterator& it) {
    if (!state_.entries_fair_keyed && it->key_group < 0) {
      ++it;
      return;
    }
    pass_listed(it);
  }

  // pass() for a class in an ordered list.
  [[gnu::noinline]] void pass_listed(Heads::iterator& it) {
    auto node = state_.heads.extract(it++);
    state_.note_passed(node.value());
    const Scheduler::State::ListedFirst* next = next_first(node.value());
    if (next == nullptr) return;
    auto& group = state_.classes[static_cast<std::size_t>(next->shape)];
    node.value() = state_.listed_head(group);
    const auto placed = state_.heads.insert(std::move(node));
    if (it == state_.heads.end() || *placed.position < *it) it = placed.position;
    if (placed.inserted) state_.note_revealed(group, *placed.position);
  }

  // The walk passed `passed` (started since, or not). When its class is in an ordered list
  // (State::ordered_list: a user's under fair-keyed entries, a signature group's under
  // sjf), `heads` holds only what the walk reaches next of that list: the list's next
  // class joins `heads`, keyed now.
  void reveal_next_first(const Entry& passed) {
    if (!state_.entries_fair_keyed && passed.key_group < 0) return;
    const Scheduler::State::ListedFirst* next = next_first(passed);
    if (next == nullptr) return;
    auto& group = state_.classes[static_cast<std::size_t>(next->shape)];
    const auto placed = state_.heads.insert(state_.listed_head(group));
    if (placed.second) state_.note_revealed(group, *placed.first);
  }

  // After `passed`, the next class of its list. Past the reservation, a class that a
  // failure of this round on any GPU dominates would only be passed (consider() settles it
  // at once, and the memo only grows): it is skipped unkeyed, as are the classes after it
  // until one is not settled (most of a fair walk's visits).
  const Scheduler::State::ListedFirst* next_first(const Entry& passed) {
    const auto& list = *state_.ordered_list(state_.classes[static_cast<std::size_t>(passed.shape)]);
    auto next = std::upper_bound(list.begin(), list.end(), Scheduler::State::listed_first(passed));
    const bool skip = reserved_ && !state_.plain_walk;
    for (; next != list.end() && skip && free_failures_.dominated(next->demand); ++next) {
      ++state_.walk_shortcuts;
    }
    return next == list.end() ? nullptr : &*next;
  }

  // The class of `entry` failed on the GPUs outside the reservation; its first job that
  // ends before the reservation may still fit, unless the class fails everywhere.
  // free_proof_failed: consider() tried the class's failure on any GPU already, on this
  // same ledger, and it proved nothing; only the failure just recorded is left to try.
  void queue_short_job(const Entry& entry, bool free_proof_failed = false) {
    if (!reserved_ || free_failures_.dominated(entry.demand)) return;
    // Its short job would fail on any GPU too, later in this walk on a fuller ledger: the
    // class failed off the reserved GPUs a moment ago, so the proof looks only at those
    // (and at what gained room since an older failure on any GPU).
    if (recall_failure(entry, nullptr, free_proof_failed)) {
      free_failures_.add(entry.demand);
      masked_failure_too(entry.demand);
      failures_changed_ = true;
      return;
    }
    const LimitFirsts& firsts = state_.classes[static_cast<std::size_t>(entry.shape)].limit_heads;
    const Entry* first = firsts.first_ending_by(snapshot_.now_s, reservation_end_s_);
    // Only jobs after this one in the order; the first that ends in time almost always is.
    // (Its class orders them by the class's keys: under fair and in a signature group,
    // those are not the walk's.)
    if (first != nullptr && state_.keyed_apart(entry)) {
      const Entry in_class = state_.class_entry(entry);
      if (!(in_class < *first)) {
        first = firsts.first_ending_by_after(snapshot_.now_s, reservation_end_s_, in_class);
      }
    } else if (first != nullptr && !(entry < *first)) {
      first = firsts.first_ending_by_after(snapshot_.now_s, reservation_end_s_, entry);
    }
    if (first == nullptr) return;
    if (state_.keyed_apart(entry)) {
      short_jobs_.add(state_.head_entry(*first));  // the walk's order is the heads' keys
    } else {
      short_jobs_.add(*first);
    }
  }

  enum class Outcome { kStarted, kNotNow, kStop };

  // The queue's smallest demands change only when a job leaves it (a start); read again
  // then, not at every failure.
  void read_smallest() const {
    if (!minimums_stale_) return;
    smallest_partial_ = state_.minimums.smallest(false);
    smallest_whole_ = state_.minimums.smallest(true);
    minimums_stale_ = false;
  }

  // No GPU job can start: no GPU has share left, or every waiting demand dominates one
  // that already failed everywhere.
  bool gpus_settled() const {
    if (!ledger_.any_capacity()) return true;
    if (!failures_changed_) return all_dominated_;
    failures_changed_ = false;
    read_smallest();
    all_dominated_ = (smallest_partial_.gpus == 0 || free_failures_.dominated(smallest_partial_)) &&
                     (smallest_whole_.gpus == 0 || free_failures_.dominated(smallest_whole_));
    return all_dominated_;
  }

  // Starts the job if it may start now; kStop when nothing after it may start.
  Outcome consider(const Entry& entry) {
    const Demand& demand = entry.demand;
    // Past the reservation, a class that a failure of this round on any GPU dominates
    // fails on any GPU, off the reserved ones too, and so does its short job: nothing
    // more to ask (most classes past the reservation end here: asked first, the walk
    // scans one memo for them instead of the masked memo and then this one).
    if (reserved_ && !state_.plain_walk && free_failures_.dominated(demand)) {
      last_masked_ = false;
      ++state_.walk_shortcuts;
      return Outcome::kNotNow;
    }
    const bool masked = reserved_ && !ends_before_reservation(entry);
    last_masked_ = masked;
    free_proof_failed_ = false;
    FailureMemo& memo = masked ? masked_failures_ : free_failures_;
    if (!memo.dominated(demand)) {
      if (const auto outcome = try_to_start(entry, masked, memo)) return *outcome;
    }
    if (reserved_) return Outcome::kNotNow;
    if (!on_first_blocked(entry, demand)) return Outcome::kStop;
    if (reserved_) prove_smallest_fail();
    return Outcome::kNotNow;
  }

  // Past a reservation most classes fail on any GPU, and the walk learns it class by class
  // until the queue's smallest demands (gpus_settled()) are among the failures: in the 10k
  // drain after about a hundred classes a call. When the class asking exactly those
  // demands provably fails now on any GPU (its known failure, as consider() would prove it
  // on reaching it), nothing more starts on a GPU this round (the ledger only fills), so
  // the proof is tried first: when the reservation is made and after each start past it.
  // Proven, the demands go into the memo and the walk settles at once: the same decisions
  // (every class it skips would fail, short jobs too), but the classes skipped keep their
  // older known failures, so their later proofs read further back in the gain log.
  // Unproven, or with no class asking exactly them, the walk goes on as before; the
  // placer is not asked (measured: on the 100k drain it cost more than the stops saved).
  void prove_smallest_fail() {
    if (state_.plain_walk || all_dominated_ || !ledger_.any_capacity()) return;
    read_smallest();
    std::array<const Demand*, 2> smallest{&smallest_partial_, &smallest_whole_};
    for (const Demand* demand : smallest) {
      if (demand->gpus == 0 || free_failures_.dominated(*demand)) continue;
      // Under fair (a class per user) and sjf (per signature group) several classes may
      // ask exactly these demands: they lie together in class_of_key, and the known
      // failure of any of them proves the demands fail (it reads the ledger, not the jobs).
      const Demand& d = *demand;
      const Scheduler::State::ClassKey first{d.gpus, d.whole_memory, d.whole_memory ? 0 : d.bytes,
                                             to_units(d.share), std::numeric_limits<int>::min()};
      auto asks_these = [&first](const Scheduler::State::ClassKey& key) {
        return std::get<0>(key) == std::get<0>(first) && std::get<1>(key) == std::get<1>(first) &&
               std::get<2>(key) == std::get<2>(first) && std::get<3>(key) == std::get<3>(first);
      };
      bool proven = false;
      for (auto shape = state_.class_of_key.lower_bound(first);
           !proven && shape != state_.class_of_key.end() && asks_these(shape->first); ++shape) {
        Entry probe;
        probe.shape = shape->second;
        probe.demand = d;
        proven = recall_failure(probe, nullptr);
      }
      if (!proven) return;
    }
    for (const Demand* demand : smallest) {
      if (demand->gpus > 0) free_failures_.add(*demand);
    }
    failures_changed_ = true;
    ++state_.smallest_proven_stops;
  }

  // The part of consider() past the memo, kept apart so that the walk's common path (a
  // class the memo settles) stays small enough for the compiler to inline: measured, a
  // consider() called out of line cost 4% of the 10k drain. kStarted, or kNotNow when
  // its class was proven to fail on any GPU; nullopt when it failed to place (recorded
  // in the memo).
  std::optional<Outcome> try_to_start(const Entry& entry, bool masked, FailureMemo& memo) {
    const Demand& demand = entry.demand;
    if (masked && fails_everywhere(entry)) {
      last_masked_ = false;  // nor can its short job start: no short job joins the walk
      return Outcome::kNotNow;
    }
    PlaceOptions options = options_;
    if (masked) options.forbidden = &reserved_slots_;
    if (auto slots = place_and_note(entry, options)) {
      start(entry, *slots);
      if (reserved_) prove_smallest_fail();
      return Outcome::kStarted;
    }
    // A failure on any GPU is one off the reserved GPUs too (masked_failures_ may hold
    // it already: `memo` is that one for a masked job).
    memo.add(demand);
    if (!masked) masked_failure_too(demand);
    failures_changed_ = failures_changed_ || !masked;
    return std::nullopt;
  }

  // Past the reservation, a class that provably fails on any GPU fails off the reserved
  // ones too (the placer fails when no node holds the demand on allowed GPUs, and the
  // reservation only takes GPUs away), and so does its short job later in the walk: the
  // placer is not asked. The proof is the one queue_short_job() made after the placer
  // failed, made first: the ledger is the same either way (nothing is committed between
  // them), so when it fails here it fails there, and only the failure recorded in between
  // is left for queue_short_job() to try.
  // Without plain_walk, consider() asked the free memo just before (not dominated), and
  // the masked memo is asked only of classes the free memo does not dominate, so a
  // failure on any GPU goes into the free memo alone (masked_failure_too()).
  bool fails_everywhere(const Entry& entry) {
    const bool dominated = state_.plain_walk && free_failures_.dominated(entry.demand);
    if (!dominated) {
      if (!recall_failure(entry, nullptr)) {
        free_proof_failed_ = true;
        return false;
      }
      // Asked just now (here or in consider()), with nothing added since: not dominated.
      free_failures_.add_undominated(entry.demand);
      failures_changed_ = true;
    }
    masked_failure_too(entry.demand);
    ++state_.placements_proven;
    return true;
  }

  // A failure on any GPU is one off the reserved GPUs too. The plain walk records it in
  // both memos; the walk with shortcuts asks the free memo first of every class past the
  // reservation (consider()), so the masked memo would only repeat it there: adding it
  // cost a scan and a copy for each of the ~15 classes a 100k drain proves per call.
  void masked_failure_too(const Demand& demand) {
    if (state_.plain_walk) masked_failures_.add(demand);
  }

  // The placer's answer; a failure is recorded for the class (see queue_short_job). The
  // record is not asked here for every job: a failing search of the placer's indexes
  // costs less than the proof (measured: the proof took 11% of a 100k drain, the placer
  // 2%); only past the reservation, where the walk makes the proof anyway, it comes first
  // (fails_everywhere).
  std::optional<std::vector<int>> place_and_note(const Entry& entry, const PlaceOptions& options) {
    auto slots = placer_.place(ledger_, entry.demand, options);
    if (!slots) note_failure(entry, options.forbidden);
    return slots;
  }

  // True when a recorded failure of the entry's class proves it fails now under
  // `forbidden`; the proof is then recorded as the newest failure (shorter proofs later).
  // skip_free: the failed_free record was tried on this ledger already and proved nothing.
  bool recall_failure(const Entry& entry, const std::vector<char>* forbidden,
                      bool skip_free = false) {
    const auto& group = state_.classes[static_cast<std::size_t>(entry.shape)];
    const bool proven = (!skip_free && still_fails(group.failed_free, entry.demand, forbidden,
                                                   ledger_, state_.gains, state_.node_rooms)) ||
                        still_fails(group.failed_masked, entry.demand, forbidden, ledger_,
                                    state_.gains, state_.node_rooms);
    if (proven) note_failure(entry, forbidden);
    return proven;
  }

  void note_failure(const Entry& entry, const std::vector<char>* forbidden) {
    auto& group = state_.classes[static_cast<std::size_t>(entry.shape)];
    if (forbidden == nullptr) {
      record_failure(group.failed_free, entry.demand, {}, state_.gains);
    } else {
      record_failure(group.failed_masked, entry.demand, reserved_list_, state_.gains);
    }
  }

  bool ends_before_reservation(const Entry& entry) const {
    return entry.limit_s >= 0 && snapshot_.now_s + entry.limit_s <= reservation_end_s_;
  }

  void start_cpu_job(const Entry& in_heads) {
    started_entry_ = in_heads;  // `in_heads` goes with leave_shape()
    const Entry& entry = started_entry_;
    --cpu_jobs_left_;
    state_.leave_shape(entry);
    minimums_stale_ = true;
    started_cpu_.push_back(entry.id);
    result_.decisions.emplace_back(Start{entry.id, {}, 0});
  }

  void start(const Entry& in_heads, const std::vector<int>& slots) {
    started_entry_ = in_heads;  // `in_heads` goes with leave_shape()
    const Entry& entry = started_entry_;
    const Demand& demand = entry.demand;
    state_.leave_shape(entry);
    minimums_stale_ = true;
    Bytes bytes = std::numeric_limits<Bytes>::max();
    std::vector<int> gpus;
    for (int s : slots) {
      bytes = std::min(bytes, ledger_.bytes_on(s, demand));
      gpus.push_back(ledger_.slot(s).gpu_index);
    }
    ledger_.commit(slots, demand);
    log_fills(slots);
    // From the entry, not the job: reading the job here was a cache miss per start at
    // 100k queued (3% of the drain); apply_starts() reads it once.
    const double end = entry.limit_s >= 0 ? snapshot_.now_s + entry.limit_s : kNever;
    started_.push_back({end, entry.id, slots, demand, bytes});
    result_.decisions.emplace_back(Start{entry.id, std::move(gpus), bytes});
  }

  // The first job that does not fit: preempt for it, or reserve for it (EASY), or stop.
  bool on_first_blocked(const Entry& entry, const Demand& demand) {
    if (never_fits_.dominated(demand)) return true;
    if (!state_.first_blocked) state_.first_blocked = entry.job->id;
    if (policy_.preemptive() && try_preempt(entry, demand)) return config_.backfill;
    // Without backfill the reservation decides nothing (the walk stops here either way),
    // so it is not computed; ScheduleResult::reservation then stays empty.
    if (config_.backfill && reserve_earliest(entry.job->id, demand)) return true;
    // Fits only once jobs without a time limit end: no reservation can be promised, so
    // nothing may pass it. Never fits (too few healthy GPUs): it must not block the queue.
    if (placer_.place(state_.empty_ledger(), demand, options_)) return false;
    never_fits_.add(demand);
    if (state_.first_blocked == entry.job->id) state_.first_blocked.reset();
    return true;
  }

  // Releases running jobs in the order their time limits end them, until the demand
  // fits; reserves those GPUs for it from that moment. False when no release with a time
  // limit makes room.
  //
  // The demand failed on every node a moment ago (consider() or the failure memo), and a
  // release gains room only on the nodes of the released job's GPUs. A placer fails only
  // when no node can hold the demand, and a node's acceptance depends on its own slots
  // (placer.h); so the placer can first succeed right after a release that touched a node
  // that now holds demand.gpus fitting GPUs, and it is asked only then. The releases are a
  // ledger trial: they change the slots' figures without index or tree operations, and
  // only the nodes that could hold the demand are brought up to date before the placer
  // reads the indexes (every other node's entries may be stale: the placer rejects its
  // GPUs whatever their place). A demand spanning nodes has no such node-local rule and
  // takes the plain search, as do the tests that hold this one to it.
  //
  // The answer is kept for the next call, which reuses it when it provably finds it again
  // (kept_reservation.h).
  bool reserve_earliest(JobId job, const Demand& demand) {
    KeptReservation& kept = state_.kept_reservation;
    if (state_.plain_reservation_search || demand.gpus > ledger_.largest_node()) {
      kept.valid = false;
      return reserve_earliest_plain(job, demand);
    }
    if (reuse_kept(job, demand)) return true;
    kept.valid = false;
    Trial trial(ledger_);
    return in_end_order([&](const std::vector<int>& slots, const Demand& held, Bytes bytes,
                            double end_s, JobId released) {
      ledger_.trial_release(slots, held, bytes);
      std::vector<int> holding;
      int last_node = -1;
      for (int s : slots) {
        const int node = ledger_.slot(s).node;
        if (node == last_node) continue;
        last_node = node;
        if (!node_holds(node, demand)) continue;
        ledger_.sync_node(node);
        holding.push_back(node);
      }
      if (holding.empty()) return false;
      auto placed = placer_.place(ledger_, demand, options_);
      if (!placed) return false;
      reserve(job, end_s, *placed);
      keep_reservation(job, demand, end_s, released, *placed, std::move(holding));
      return true;
    });
  }

  void keep_reservation(JobId job, const Demand& demand, double start_s, JobId released,
                        const std::vector<int>& slots, std::vector<int> holding) {
    KeptReservation& kept = state_.kept_reservation;
    kept.valid = true;
    kept.job = job;
    kept.demand = demand;
    kept.min_share = options_.min_share;
    kept.min_bytes = options_.min_bytes;
    kept.start_s = start_s;
    kept.made_room = released;
    kept.slots = slots;
    kept.holding = std::move(holding);
    kept.gains_at = state_.gains.now();
    kept.fills_at = state_.fills.now();
  }

  // Reserves the kept answer when the search would find it again (kept_reservation.h).
  bool reuse_kept(JobId job, const Demand& demand) {
    KeptReservation& kept = state_.kept_reservation;
    if (!kept.valid || kept.job != job || !same_demand(kept.demand, demand) ||
        kept.min_share != options_.min_share || kept.min_bytes != options_.min_bytes) {
      return false;
    }
    std::vector<int>& changed = state_.changed_nodes;
    if (!changed_nodes(kept, changed)) return false;
    for (int node : changed) {
      if (std::find(kept.holding.begin(), kept.holding.end(), node) != kept.holding.end()) {
        return false;
      }
    }
    if (!changed.empty() && any_holds_at_kept_moment(kept, demand, changed)) return false;
    kept.gains_at = state_.gains.now();
    kept.fills_at = state_.fills.now();
    reserve(job, kept.start_s, kept.slots);
    ++state_.reservation_reuses;
    return true;
  }

  // The nodes gained or filled since the kept reservation was last checked, each once;
  // false when the logs no longer reach back or too many changed to be worth checking.
  bool changed_nodes(const KeptReservation& kept, std::vector<int>& changed) const {
    constexpr std::size_t kMaxChanged = 16;
    const auto gained = state_.gains.since(kept.gains_at);
    const auto filled = state_.fills.since(kept.fills_at);
    if (!gained || !filled || gained->size() + filled->size() > 4 * kMaxChanged) return false;
    changed.assign(gained->begin(), gained->end());
    changed.insert(changed.end(), filled->begin(), filled->end());
    std::sort(changed.begin(), changed.end());
    changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
    return changed.size() <= kMaxChanged;
  }

  // True when one of `nodes` holds the demand once every release of the search up to the
  // kept moment is applied (running jobs and this round's starts alike), in a trial.
  bool any_holds_at_kept_moment(const KeptReservation& kept, const Demand& demand,
                                const std::vector<int>& nodes) {
    const std::pair<double, JobId> moment{kept.start_s, kept.made_room};
    std::vector<char>& marked = state_.node_marks;
    marked.resize(static_cast<std::size_t>(ledger_.node_count()), 0);
    for (int node : nodes) marked[static_cast<std::size_t>(node)] = 1;
    auto touches = [&](const std::vector<int>& slots) {
      return std::any_of(slots.begin(), slots.end(), [&](int s) {
        return marked[static_cast<std::size_t>(ledger_.slot(s).node)] != 0;
      });
    };
    const bool holds = releases_hold(moment, demand, nodes, touches);
    for (int node : nodes) marked[static_cast<std::size_t>(node)] = 0;
    return holds;
  }

  // The same, with `nodes` marked in node_marks and touches(slots) telling whether a job's
  // GPUs are on one of them.
  template <typename Touches>
  bool releases_hold(std::pair<double, JobId> moment, const Demand& demand,
                     const std::vector<int>& nodes, Touches&& touches) {
    Trial trial(ledger_);
    auto release = [&](JobId id, bool if_touches) {
      const std::size_t at = state_.running_at.at(id);
      const std::vector<int>& slots = state_.running_slots[at];
      if (if_touches && !touches(slots)) return;
      const RunningJob& running = snapshot_.running[at];
      ledger_.trial_release(slots, state_.held_demand(running), running.declared_bytes);
    };
    // Most jobs hold GPUs of one node: only the lists of `nodes` are read, and each job on
    // several nodes is looked up.
    for (int node : nodes) {
      for (const auto& end : state_.ends_listed(node)) {
        if (end <= moment) release(end.second, false);
      }
    }
    for (const auto& end : state_.ends_across) {
      if (end <= moment) release(end.second, true);
    }
    for (const Started& one : started_) {
      if (std::make_pair(one.end_s, one.id) > moment || !touches(one.slots)) continue;
      ledger_.trial_release(one.slots, one.demand, one.bytes);
    }
    return std::any_of(nodes.begin(), nodes.end(),
                       [&](int node) { return node_holds(node, demand); });
  }

  // Logs the nodes of `slots` as filled (kept_reservation.h).
  void log_fills(const std::vector<int>& slots) {
    int last_node = -1;
    for (int s : slots) {
      const int node = ledger_.slot(s).node;
      if (node != last_node) state_.fills.add(node);
      last_node = node;
    }
  }

  // The same search, asking the placer after every release on an exactly indexed ledger.
  bool reserve_earliest_plain(JobId job, const Demand& demand) {
    WhatIf what_if(ledger_);
    return in_end_order(
        [&](const std::vector<int>& slots, const Demand& held, Bytes bytes, double end_s, JobId) {
          what_if.release(slots, held, bytes);
          auto placed = placer_.place(ledger_, demand, options_);
          if (!placed) return false;
          reserve(job, end_s, *placed);
          return true;
        });
  }

  // True when the node has demand.gpus GPUs that fit the demand now.
  bool node_holds(int node, const Demand& demand) const {
    int fitting = 0;
    for (int s : ledger_.node_slots(node)) {
      if (ledger_.fits(s, demand) && ++fitting == demand.gpus) return true;
    }
    return false;
  }

  // Hands release(slots, demand, bytes, end_s, id) the running jobs and the jobs started in
  // this round in the order their time limits end them, until it returns true; false
  // when the jobs with a time limit run out first. The slot lists are the state's and the
  // round's own (they outlive the search).
  template <typename Release>
  bool in_end_order(Release&& release) {
    // By end time, without copying each job's slot list.
    std::vector<const Started*> started;
    started.reserve(started_.size());
    for (const Started& one : started_) started.push_back(&one);
    std::sort(started.begin(), started.end(),
              [](const Started* a, const Started* b) { return *a < *b; });
    auto next_started = started.begin();
    auto next_running = state_.ends.begin();
    while (true) {
      const bool running_first =
          next_running != state_.ends.end() &&
          (next_started == started.end() ||
           next_running->first < std::make_pair((*next_started)->end_s, (*next_started)->id));
      if (running_first) {
        const double end_s = next_running->first.first;
        if (end_s == kNever) return false;
        const std::size_t at = state_.running_at.at(next_running->first.second);
        const RunningJob& running = snapshot_.running[at];
        ++next_running;
        if (release(state_.running_slots[at], state_.held_demand(running), running.declared_bytes,
                    end_s, running.job.id)) {
          return true;
        }
      } else if (next_started != started.end()) {
        const Started& next = **next_started;
        if (next.end_s == kNever) return false;
        ++next_started;
        if (release(next.slots, next.demand, next.bytes, next.end_s, next.id)) return true;
      } else {
        return false;
      }
    }
  }

  void reserve(JobId job, double start_s, const std::vector<int>& slots) {
    reserved_ = true;
    reservation_end_s_ = start_s;
    // The flags are the state's, all clear between rounds (~Round): a round does not
    // allocate and clear one per GPU (a search may reserve twice: clear the first).
    reserved_slots_.resize(ledger_.slots().size(), 0);
    for (int s : reserved_list_) reserved_slots_[static_cast<std::size_t>(s)] = 0;
    reserved_list_ = slots;
    Reservation reservation{job, start_s, {}};
    reservation.gpus.reserve(slots.size());
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
    victims.reserve(ranked.size());
    for (const auto& [key, running] : ranked) victims.push_back(running);
    return victims;
  }

  bool try_preempt(const Entry& entry, const Demand& demand) {
    WhatIf what_if(ledger_);
    std::vector<const RunningJob*> released;
    for (const RunningJob* victim : victims_for(entry)) {
      const auto at = static_cast<std::size_t>(victim - snapshot_.running.data());
      what_if.release(state_.running_slots[at], state_.held_demand(*victim),
                      victim->declared_bytes);
      released.push_back(victim);
      if (auto chosen = placer_.place(ledger_, demand, options_)) {
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

  // Started jobs leave the queue and run from now on, where their decision placed them.
  void apply_starts() {
    for (Started& started : started_) {
      if (started.demand.whole_memory) hold_recorded_bytes(started);
      Job job = state_.take_queued(started.id);
      std::vector<int> gpus;
      gpus.reserve(started.slots.size());
      for (int s : started.slots) gpus.push_back(ledger_.slot(s).gpu_index);
      state_.add_running({std::move(job), std::move(gpus), started.bytes, snapshot_.now_s, {}},
                         std::move(started.slots));
    }
    for (JobId id : started_cpu_) {
      state_.add_running({state_.take_queued(id), {}, 0, snapshot_.now_s, {}});
    }
  }

  // A job taking the whole memory was committed with each GPU's usable bytes, but runs
  // from now on holding the smallest of them on each (its Start's bytes_per_gpu, what a
  // snapshot of it says): the ledger keeps that from here, as one built from the
  // snapshot does, or a gang over GPUs of unequal free memory would hold more in the
  // kept state than in the pure one and release less than it took.
  void hold_recorded_bytes(const Started& started) {
    Demand recorded = started.demand;
    recorded.whole_memory = false;
    recorded.bytes = started.bytes;
    for (int s : started.slots) {
      const Bytes usable = ledger_.slot(s).usable_bytes;
      if (usable == started.bytes) continue;
      const std::vector<int> one{s};
      ledger_.release(one, started.demand, usable);
      ledger_.commit(one, recorded);
      // Room gained there since this round's failures were recorded (known_failures.h).
      state_.gains.add(ledger_.slot(s).node);
    }
  }

  // The balancer already holds room on `to`; the job leaves `from` and restarts there.
  void apply_move(const Move& move) {
    RunningJob running = state_.take_running(move.job);
    running.job.attained_run_s += std::max(0.0, snapshot_.now_s - running.start_time_s);
    running.gpus = move.to;
    running.start_time_s = snapshot_.now_s;
    running.used_bytes.reset();
    state_.add_running(std::move(running));
    for (int gpu : move.to) state_.fills.add(ledger_.slot(ledger_.slot_of(gpu)).node);
  }

  Scheduler::State& state_;
  const Snapshot& snapshot_;
  const SchedulerConfig& config_;
  const Policy& policy_;
  const Placer& placer_;
  Ledger& ledger_;
  PolicyContext context_;
  ScheduleResult result_;
  PlaceOptions options_;
  std::vector<Started> started_;
  std::vector<JobId> started_cpu_;
  std::unordered_set<JobId> busy_;
  std::size_t cpu_jobs_left_ = 0;
  bool gpus_closed_ = false;  // a job blocked that nothing may pass on a GPU
  bool reserved_ = false;
  double reservation_end_s_ = 0.0;
  Entry short_entry_;    // the short job the walk is at
  Entry started_entry_;  // the job started last, copied before it left `heads`
  // The state's, cleared for this round (Scheduler::State::RoundMemos).
  FailureMemo& free_failures_;
  FailureMemo& masked_failures_;
  FailureMemo& never_fits_;            // demands that fit nowhere even with every job gone
  std::vector<char>& reserved_slots_;  // the state's reserved_marks
  std::vector<int>& reserved_list_;    // the same slots, listed (the state's, cleared)
  ShortJobs short_jobs_;               // jobs that end before the reservation, joining the walk
  bool last_masked_ = false;           // the last job considered was kept off the reserved GPUs
  bool free_proof_failed_ = false;     // ...and its class's failure on any GPU proved nothing
  mutable bool failures_changed_ = true;
  mutable bool all_dominated_ = false;
  // The row of State::heads that the walk's last step_over_settled() ended on (a guess
  // that the row's own head confirms; the walk begins at row 0).
  std::size_t row_ = 0;
  mutable bool minimums_stale_ = true;  // smallest_*_ to be read again (gpus_settled)
  mutable Demand smallest_partial_;
  mutable Demand smallest_whole_;
};

}  // namespace

ScheduleResult run_round(Scheduler::State& state) { return Round(state).run(); }

Result<ScheduleResult> schedule(const Snapshot& snapshot, const SchedulerConfig& config) {
  auto scheduler = Scheduler::from_snapshot(snapshot, config);
  if (!scheduler.ok()) return scheduler.status();
  return (*scheduler)->schedule(snapshot.now_s);
}

}  // namespace fastgpu::sched
