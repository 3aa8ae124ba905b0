// What a Scheduler keeps between calls; private to src/sched. A pure schedule() call builds
// one of these from its snapshot and throws it away, so both paths run the same code.
#pragma once

#include <algorithm>
#include <array>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "fastgpu/sched/history.h"
#include "fastgpu/sched/ledger.h"
#include "fastgpu/sched/placer.h"
#include "fastgpu/sched/policy.h"
#include "fastgpu/sched/scheduler.h"
#include "sched/dependencies.h"
#include "sched/failure_memo.h"
#include "sched/fair_keys.h"
#include "sched/kept_reservation.h"
#include "sched/known_failures.h"
#include "sched/validate_internal.h"

namespace fastgpu::sched {

inline constexpr double kNever = std::numeric_limits<double>::infinity();

// One queued job in policy order: smaller key first, then earlier submit, then smaller id.
struct Entry {
  double key = 0.0;
  double submit_s = 0.0;
  JobId id;
  const Job* job = nullptr;  // points into State::queue (node-based: stable)
  Demand demand;             // what it asks of each GPU, "auto" resolved at ranking time
  int shape = kHeld;         // index into State::classes, or one of the two below
  // Its signature's group when its key is the signature's learned run time (sjf): the
  // entry then carries key 0 and State::signature_keys holds the key; -1 otherwise.
  int key_group = -1;
  double limit_s = -1.0;  // the job's time limit, -1 when it has none
  int bulk_at = -1;       // its index in LimitGroup's ordered run, or -1
  // The job declared its bytes (demand.bytes are those), as QueueMinimums counts them: the
  // queue's minimums are kept from the entry alone, without reading the job (a cache
  // miss per start and per ranked job at 100k queued).
  bool declared_bytes = false;
  static constexpr int kHeld = -1;  // waits on dependencies, or the caller holds it
  static constexpr int kLeft = -2;  // started in the current round; leaves the queue
  bool operator<(const Entry& other) const {
    if (key != other.key) return key < other.key;
    if (submit_s != other.submit_s) return submit_s < other.submit_s;
    return id < other.id;
  }
};

// The demand of a job: declared bytes, or learned ones for "auto", or the whole GPU.
Demand demand_of(const Job& job, const EstimateCache& estimates);
// A queued job's entry under the policy key `key` (shape not yet set).
Entry make_entry(double key, const Job& job, const EstimateCache& estimates);

// The waiting jobs of one request class with one time limit, in policy order. Jobs ranked
// together (rebuild_order sorts the whole queue once) are appended to an ordered run, a
// flat vector that is cheap to build and to drop; a job that arrives later goes into a
// set. The first job is the smaller of the run's first live job and the set's first.
// A job leaving the run is only marked (the run's front skips marked jobs); a job leaves
// by its Entry as joined (bulk_at says where it sits).
class LimitGroup {
 public:
  // REQUIRES: entry is not before the run's last job. Sets entry.bulk_at.
  void append_in_order(Entry& entry);
  void insert(Entry& entry);  // any order; sets entry.bulk_at = -1
  void erase(const Entry& entry);
  bool empty() const { return live_ == 0; }
  const Entry& first() const;  // REQUIRES: !empty()

 private:
  std::vector<Entry> run_;
  std::vector<char> left_;  // per run_ slot: the job has left
  std::size_t front_ = 0;   // the first run_ slot whose job has not left
  std::set<Entry> later_;
  std::size_t live_ = 0;
};

// The first waiting job of each time limit within one request class, kept ordered by
// limit with a running minimum, so that "the class's first job" and "its first job that
// ends by time t" are each answered without walking the class (a backfill round asks the
// second for every class past the reservation).
class LimitFirsts {
 public:
  // Sets the first job of time limit `limit` (-1: none); nullptr: no job has that limit.
  void set(double limit, const Entry* first);
  bool empty() const { return rows_.empty(); }
  // The first job of the class. REQUIRES: !empty().
  const Entry& first() const;
  // The first job, in policy order, among those with a time limit and now_s + limit <=
  // until_s; nullptr when there is none.
  const Entry* first_ending_by(double now_s, double until_s) const;
  // The same, restricted to jobs ordered after `after` (a linear scan; the walk needs it
  // only when the first above is not after `after`).
  const Entry* first_ending_by_after(double now_s, double until_s, const Entry& after) const;

 private:
  struct Row {
    double limit;
    Entry first;
    // The row of the first job over this row and the rows before it that have a limit (an
    // index, not a copy: a start refreshes the rows after its own, and copying an Entry
    // per row was 2% of the 100k drain).
    std::size_t first_so_far;
  };
  void refresh_from(std::size_t row);
  std::vector<Row> rows_;  // by limit; a row with limit -1 (no limit) comes first
};

// The smallest demands waiting, dimension by dimension, kept as the queue changes. Every
// queued GPU job asks for at least these, so a failure that dominates them ends a walk.
class QueueMinimums {
 public:
  void add(const Entry& entry);
  void remove(const Entry& entry);
  // Demands with the smallest gpus, bytes and share of the partial-memory jobs and of the
  // whole-memory jobs; gpus == 0 means there is no such job.
  Demand smallest(bool whole_memory) const;
  // The smallest declared bytes (not learned) and share, as PlaceOptions wants them.
  Bytes smallest_declared_bytes() const;
  double smallest_share() const;
  std::size_t cpu_jobs() const { return cpu_jobs_; }

 private:
  // A multiset as (value, count) sorted by value: queues repeat a few request sizes many
  // times, so this holds one row per distinct value, searched in contiguous memory.
  template <typename T>
  class Counted {
   public:
    void add(T value) {
      auto it = find(value);
      if (it != counts_.end() && it->first == value) {
        ++it->second;
      } else {
        counts_.insert(it, {value, 1});
      }
    }
    void remove(T value) {
      auto it = find(value);
      if (--it->second == 0) counts_.erase(it);
    }
    bool empty() const { return counts_.empty(); }
    T smallest() const { return counts_.front().first; }

   private:
    typename std::vector<std::pair<T, std::size_t>>::iterator find(T value) {
      return std::lower_bound(
          counts_.begin(), counts_.end(), value,
          [](const std::pair<T, std::size_t>& row, T wanted) { return row.first < wanted; });
    }
    std::vector<std::pair<T, std::size_t>> counts_;
  };
  struct Dimensions {
    Counted<int> gpus;
    Counted<Bytes> bytes;
    Counted<double> share;
  };
  std::array<Dimensions, 2> by_whole_;  // [0] partial memory, [1] whole memory
  Counted<Bytes> declared_bytes_;
  Counted<double> shares_;
  std::size_t cpu_jobs_ = 0;
};

// The classes' first jobs in walk order (State::heads): a std::set of entries, as the walk
// and the classes use it, with a flat copy of what a walk past the backfill reservation
// asks of each head before anything else: its demand (does a failure of the round
// dominate it?) and whether its class is in an ordered list. In the 100k drain about 50
// of the 70 heads a call visits are settled by that question alone, and stepping through
// the tree's nodes to ask it cost more than the rest of the visit; the walk reads the
// rows in a run instead (Round::step_over_settled in scheduler.cc). While the rows are
// kept (keep_rows), every change of the set changes them with it: a head joins or leaves
// at its place (a move of a few kilobytes; a call changes two or three heads). Under fair
// and sjf's signature groups the walk passes heads in and out of the set all the time and
// does not read the rows (it skips within the ordered lists instead): they are not kept
// there, which would cost those drains 8%.
class Heads {
 public:
  using Set = std::set<Entry>;
  using iterator = Set::iterator;
  using node_type = Set::node_type;

  // What the walk asks of the head `at`, copied from at->demand and at->key_group: 32
  // bytes, where a whole Demand made a row's move cost more than the walk saved.
  struct Row {
    iterator at;
    Bytes bytes;
    double share;
    int gpus;
    bool whole_memory;
    bool listed;  // key_group >= 0: a signature group's class (an ordered list)
    Demand demand() const {
      Demand demand;
      demand.gpus = gpus;
      demand.bytes = bytes;
      demand.whole_memory = whole_memory;
      demand.share = share;
      return demand;
    }
  };

  iterator begin() const { return set_.begin(); }
  iterator end() const { return set_.end(); }
  iterator upper_bound(const Entry& entry) const { return set_.upper_bound(entry); }
  std::size_t size() const { return set_.size(); }
  bool empty() const { return set_.empty(); }

  std::pair<iterator, bool> insert(const Entry& entry) {
    auto placed = set_.insert(entry);
    if (placed.second) add_row(placed.first);
    return placed;
  }
  // hint: as std::set::insert (the end is a good hint when the entry is likely last).
  iterator insert(iterator hint, const Entry& entry) {
    const std::size_t before = set_.size();
    auto at = set_.insert(hint, entry);
    if (set_.size() != before) add_row(at);
    return at;
  }
  Set::insert_return_type insert(node_type&& node) {
    auto placed = set_.insert(std::move(node));
    if (placed.inserted) add_row(placed.position);
    return placed;
  }
  std::size_t erase(const Entry& entry) {
    auto at = set_.find(entry);
    if (at == set_.end()) return 0;
    drop_row(at);
    set_.erase(at);
    return 1;
  }
  // Replaces `old` with `replacement` in one step, as a class's next first job takes its
  // first's place: the set's node is reused, and only the rows between the two places
  // move. REQUIRES: replacement is not in the set.
  void replace(const Entry& old, const Entry& replacement);
  node_type extract(iterator at) {
    drop_row(at);
    return set_.extract(at);
  }
  node_type extract(const Entry& entry) {
    auto at = set_.find(entry);
    if (at == set_.end()) return {};
    return extract(at);
  }
  void clear() {
    set_.clear();
    rows_.clear();
  }

  // Keeps the rows from now on (made from the set when they were not kept), or drops them.
  void keep_rows(bool keep);
  bool rows_kept() const { return keep_rows_; }
  // The rows in walk order, while they are kept: rows()[row_of(it)].at == it.
  const std::vector<Row>& rows() const { return rows_; }
  // REQUIRES: at != end().
  std::size_t row_of(iterator at) const;

 private:
  void add_row(iterator at) {
    if (keep_rows_) insert_row(at);
  }
  void insert_row(iterator at);
  static Row row_for(iterator at) {
    return Row{at,
               at->demand.bytes,
               at->demand.share,
               at->demand.gpus,
               at->demand.whole_memory,
               at->key_group >= 0};
  }
  void drop_row(iterator at) {
    if (keep_rows_) rows_.erase(rows_.begin() + static_cast<std::ptrdiff_t>(row_of(at)));
  }

  Set set_;
  std::vector<Row> rows_;
  bool keep_rows_ = false;
};

struct Scheduler::State {
  State(const SchedulerConfig& config_in, std::vector<GpuState> gpus);

  SchedulerConfig config;
  std::unique_ptr<Policy> policy;
  std::unique_ptr<Placer> placer;
  detail::ClusterLimits limits;

  // The snapshot, except the queue (kept in `queue`, for stable addresses). A hash map:
  // a start finds and erases its job in constant time (a tree of 100k jobs cost 7% of a
  // drain in cache misses); nothing depends on its order (the policies rank each job
  // alone, the ranked order is total, and snapshot() sorts by id).
  Snapshot view;
  std::unordered_map<JobId, Job> queue;
  std::unordered_map<JobId, std::size_t> running_at;  // index into view.running
  std::vector<std::vector<int>> running_slots;        // ledger slots of view.running[i]
  std::unordered_map<JobId, EndState> ended;          // every job that ended
  std::unordered_map<int, std::size_t> gpu_at;        // GpuState::index -> view.gpus
  // GPUs with a measured memory use; without any, memory pressure has nothing to compare
  // and a round skips it (it would read every GPU to find that out).
  std::size_t measured_gpus = 0;
  Ledger ledger;
  // The same GPUs with none of our jobs (what fits once all end), built when first asked.
  const Ledger& empty_ledger() const;
  mutable std::optional<Ledger> empty_ledger_;  // built on first use

  // Waiting jobs whose dependencies are met, grouped into request classes: jobs asking
  // the same of each GPU. Jobs of one class succeed or fail to place alike (the ledger
  // only fills within a call), so a round walks the classes' first jobs in policy order
  // (`heads`) and drops a whole class at its first failure: the walk costs the number of
  // classes and starts, not the queue's length. Within a class, jobs are kept by time
  // limit too, since past a backfill reservation only jobs that end before it may use the
  // reserved GPUs. Jobs still waiting on dependencies, and jobs the caller holds
  // (Scheduler::hold), are held apart.
  struct RequestClass {
    // Its jobs by time limit (-1: none), sorted by limit. A class has a few limits, so a
    // flat vector searched in place costs a start less than a tree's nodes.
    std::vector<std::pair<double, LimitGroup>> by_limit;
    LimitFirsts limit_heads;  // the first job of each time limit
    // The group of a time limit; find_limit gives by_limit.end() when there is none.
    std::vector<std::pair<double, LimitGroup>>::iterator find_limit(double limit);
    LimitGroup& limit_group(double limit);  // adds an empty group when there is none
    // Its last failures to place, on any GPU and off a reservation's GPUs: until room
    // appears where it could use it, a round knows it fails without searching.
    KnownFailure failed_free;
    KnownFailure failed_masked;
    // Under fair: where FairKeys read its first job's key last (keyed_first), and the
    // index of the user whose jobs it holds.
    FairKeys::Place keyed_first;
    int fair_user = -1;
    int key_group = -1;  // under sjf, the signature group whose jobs it holds, or -1
    JobId revealed;      // its first job, while a walk's reveal holds it in `heads`
  };
  // A class's first job in its list (its user's under fair, its signature group's under
  // sjf): what orders it there (submit, id), its class, and what it asks (a walk past the
  // reservation skips what its failures settle). A flat vector per list: a list has a class
  // per request shape (~150 in the benchmarks), and a search of contiguous memory beat a
  // tree's (a start moves a few kilobytes).
  struct ListedFirst {
    double submit_s;
    JobId id;
    int shape;
    Demand demand;
    bool operator<(const ListedFirst& other) const {
      return submit_s != other.submit_s ? submit_s < other.submit_s : id < other.id;
    }
  };
  static ListedFirst listed_first(const Entry& first) {
    return {first.submit_s, first.id, first.shape, first.demand};
  }
  // Under sjf the jobs of one signature whose key is its learned run time share that key:
  // their entries carry key 0 and their signature's group (Entry::key_group), each class
  // holds one group's jobs (in submit order), and `heads` reads the key here. The group's
  // classes share its key, so their order is their class order, kept per group (`firsts`):
  // `heads` holds only the group's first class between calls, and a walk brings in the
  // group's next class as it passes one (Round::reveal_next_first; State::revealed). A
  // median that moves re-keys that one head (rekey_group); it had re-keyed every class of
  // the group, and before that ranked the whole queue again.
  struct SignatureKeys {
    std::unordered_map<std::string, int> group_of;
    std::vector<double> key;                       // per group: the learned run time
    std::vector<std::vector<ListedFirst>> firsts;  // per group: its classes' first jobs
  };
  SignatureKeys signature_keys;
  // The group whose key is this job's, or -1 when its key is its own. Adds a group.
  int key_group_of(const Job& job);
  // An entry as ranked, made to carry its group's key (key 0 and key_group) when it has one.
  void group_entry(Entry& entry);
  // A group's key moved (its signature's median): its classes' first jobs re-keyed.
  void rekey_group(int group, double key);
  // A signature's median first appeared: its waiting jobs whose key it is now move into
  // its group's classes (key 0), where the whole queue was ranked again (a quarter of the
  // sjf drain's instructions at 10k). False, moving nothing, when a job of it reads the
  // median but would not join the group (the caller ranks the queue again).
  bool join_group(const std::string& signature);
  // Tests only: every entry keeps its own key, as the policy ranks the whole queue: no
  // signature groups, and under fair no kept keys (fair_keyed() is false).
  bool plain_keys = false;
  // gpus, whole memory, bytes, share units; and under fair the user's index, under sjf
  // the signature group (-1 otherwise), since the jobs of one keep their order there while
  // the users' or the groups' keys move (FairKeys, SignatureKeys).
  using ClassKey = std::tuple<int, bool, Bytes, std::int64_t, int>;
  std::vector<RequestClass> classes;
  std::map<ClassKey, int> class_of_key;
  // Rounds whose walk ended when the queue's smallest demands were proven to fail, past
  // the reservation (Round::prove_smallest_fail; tests read it).
  std::uint64_t smallest_proven_stops = 0;
  // The first job of each class, as the walk meets them; a class in an ordered list
  // (ordered_list(): fair's users, sjf's signature groups) is here only when the walk can
  // reach it next (its list's first, or brought in as the walk passed the one before).
  Heads heads;
  // Under fair (fair_keyed()), the queue's entries carry key 0, so that each class keeps
  // its jobs in submit order (one user's), and FairKeys gives the keys. FairKeys holds the
  // queued jobs that are not held (Scheduler::hold), which are exactly the jobs snapshot()
  // shows while no queued job has dependencies: otherwise, with jobs held, a job depending
  // on a held one leaves the snapshot too, and the queue is ranked on every call instead.
  //
  // One user's classes keep their order between calls: a key is the user's usage plus the
  // expected GPU time of their queued jobs before it, which grows with the submit order,
  // so only the users move against each other. `user_firsts` keeps each user's class
  // first jobs in that order, between calls too, and `heads` holds only what the walk can
  // reach next: a call begins with each user's first class (rekey_heads), and the walk,
  // passing a user's head, brings in that user's next one (Round::reveal_next_first), so that a
  // call keys the classes it visits, not all of them (it had keyed ~1,500 at 10k queued).
  // Between calls `heads` is not kept (heads_live false).
  std::unique_ptr<FairKeys> fair_keys;  // the fair policy alone
  // Per FairKeys user, in class order, while entries_fair_keyed.
  std::vector<std::vector<ListedFirst>> user_firsts;
  bool entries_fair_keyed = false;  // the entries carry key 0 (rebuild_order set it)
  bool heads_live = true;           // `heads` is kept as classes change
  std::size_t queued_with_dependencies = 0;
  bool fair_keyed() const {
    return fair_keys != nullptr && !plain_keys &&
           (on_hold.empty() || queued_with_dependencies == 0);
  }
  std::uint64_t fair_keyed_holding = 0;  // calls fair_keyed() with held jobs (tests read it)
  // True when the entry carries key 0 in its class and `heads` orders it by another key
  // (FairKeys', or its signature group's).
  bool keyed_apart(const Entry& entry) const { return entries_fair_keyed || entry.key_group >= 0; }
  // The entry as `heads` orders it: its FairKeys key when the entries carry key 0, its
  // group's key when it has a signature group.
  Entry head_entry(const Entry& entry) const;
  // The entry as its class orders it (key 0 under fair_keyed entries and in a group).
  Entry class_entry(const Entry& entry) const;
  // A class's first job into or out of `heads`, under its head_entry() key.
  void erase_head(const Entry& first);
  // likely_last: rebuild_order joins the queue in policy order (the end is a good hint).
  void insert_head(const Entry& first, bool likely_last = false);
  // The class's first job as `heads` orders it, read where the last call read it when
  // nothing moved there (a lookup of the job's place was a fifth of a fair drain).
  Entry keyed_first(RequestClass& group);
  // Fills `heads` with each user's first class, keyed at now_s. REQUIRES: entries_fair_keyed.
  void rekey_heads(double now_s);
  // The ordered list of the class's first jobs that the class is in: its user's under
  // fair-keyed entries, its signature group's under sjf; nullptr when `heads` holds it.
  std::vector<ListedFirst>* ordered_list(const RequestClass& group);
  // Entries that a walk brought into `heads` from a signature group's list past its first
  // class; they leave `heads` when the round ends (purge_revealed).
  std::vector<Entry> revealed;
  std::vector<int> fronts_passed;  // groups whose first class a walk took out of `heads`
  void purge_revealed();
  // A listed class's first job as `heads` orders it (fair: keyed now; sjf: its group's key).
  Entry listed_head(RequestClass& group);
  // A walk brought `keyed` (the class's first job) into `heads` / took `passed` out of it:
  // under sjf, what purge_revealed() will need; nothing under fair.
  void note_revealed(RequestClass& group, const Entry& keyed);
  void note_passed(const Entry& passed);
  // A class's first job (as its class orders it) leaves or joins what orders the firsts:
  // `heads` while it is live, and its list (ordered_list) when it has one.
  void erase_first(const RequestClass& group, const Entry& first);
  void insert_first(const RequestClass& group, const Entry& first, bool likely_last = false);
  std::unordered_map<JobId, Entry> entry_of;                 // every queued job, ranked
  std::unordered_map<JobId, std::vector<JobId>> dependents;  // target -> held jobs
  // Queued jobs the caller holds (Scheduler::hold); a job is forgotten when it leaves the
  // queue, so a requeued job comes back unheld.
  std::unordered_set<JobId> on_hold;
  // Per signature, the queued jobs of it, those whose key reads its learned run time
  // (Policy::reads_run_estimate) and those whose memory is "auto": what a change of its
  // history may move.
  struct SignatureWaiting {
    int jobs = 0;
    int reading_run_times = 0;
    int auto_memory = 0;
  };
  std::unordered_map<std::string, SignatureWaiting> queued_per_signature;
  bool order_stale = true;           // rebuild order before the next walk
  std::uint64_t orders_rebuilt = 0;  // rebuild_order() calls (tests read it)
  QueueMinimums minimums;
  // Running jobs by the time they must end (time limits; no limit: kNever), each with the
  // node of its GPUs (kManyNodes for a job on several, or on none): the list below that
  // holds it.
  static constexpr int kManyNodes = -1;
  std::map<std::pair<double, JobId>, int> ends;
  // The same ends by node, unordered: each node's list holds the jobs on it alone, and
  // ends_across those on several (or none). A reused reservation reads the lists of the
  // nodes that changed (a job or two each) instead of every end before its moment.
  using End = std::pair<double, JobId>;
  std::vector<std::vector<End>> ends_on_node;
  std::vector<End> ends_across;
  std::vector<End>& ends_listed(int node);  // ends_across for kManyNodes
  // Every node where the ledger gained room between rounds, for KnownFailure.
  GainLog gains;
  // Every node where the ledger was filled (a start, a move's new GPUs), within rounds
  // too; with `gains`, what changed since a kept reservation was checked.
  GainLog fills;
  KeptReservation kept_reservation;
  std::vector<char> node_marks;          // scratch, all 0 between uses: one flag per ledger node
  std::uint64_t reservation_reuses = 0;  // calls that reused it (tests read it)
  // Classes past the reservation that a recorded failure proved to fail on any GPU, so
  // that the placer was not asked (tests read it).
  std::uint64_t placements_proven = 0;
  NodeRooms node_rooms;  // kept while each node's slots are
  // A round's failure memos (scheduler.cc), kept here so that their memory outlives the
  // round (a round that built its own allocated and freed them on every call). Cleared
  // when a round begins; nothing in them is read across calls.
  struct RoundMemos {
    FailureMemo free_failures;
    FailureMemo masked_failures;
    FailureMemo never_fits;
  };
  RoundMemos round_memos;
  // A round's flag per ledger slot: reserved for the blocked job; all 0 between rounds.
  std::vector<char> reserved_marks;
  // The same slots listed, cleared when a round begins (kept here for its memory, as the
  // memos are), and the nodes a reused reservation checks (scratch).
  std::vector<int> reserved_list;
  std::vector<int> changed_nodes;

  // Tests only: search the backfill reservation the plain way (the placer asked after
  // every what-if release, on a ledger with exact indexes), to hold the pruned search of
  // Round::reserve_earliest to it.
  bool plain_reservation_search = false;
  // Tests only: walk the class heads without the shortcuts past the reservation (a class
  // that a failure of the round on any GPU dominates is asked like any other) and with
  // the known-failure proofs asking Ledger::fits of each slot (NodeRooms::set_plain),
  // to hold the walk with them to it. walk_shortcuts counts the heads a shortcut settled.
  bool plain_walk = false;
  std::uint64_t walk_shortcuts = 0;

  // Learned estimates per signature; rebuilt when a history changes.
  std::unique_ptr<EstimateCache> estimates;

  // What the last round decided for the queue it could not start, for why_waiting(): its
  // first blocked job (one that fits on idle GPUs) and the backfill reservation.
  std::optional<JobId> first_blocked;
  std::optional<Reservation> last_reservation;

  TargetState target_state(JobId id) const;
  bool dependencies_met(const Job& job) const;
  // The jobs the caller holds and every queued job depending on one, directly or through
  // others: what snapshot() leaves out. Linear in the queue; at once when none is held.
  std::unordered_set<JobId> held_with_dependents() const;
  void reset_estimates();
  Entry rank_one(const Job& job) const;
  // Ranks `jobs` together (one policy call) and appends their entries to `ranked`.
  void rank_into(const std::vector<const Job*>& jobs, std::vector<Entry>& ranked) const;
  void rebuild_order();
  bool may_join(const Entry& entry) const;  // dependencies met, and the caller does not hold it
  // Into its shape, or held (on dependencies, or by the caller). in_order: rebuild_order
  // places the whole queue in policy order, so each job may be appended to its group's
  // ordered run.
  void place_entry(Entry& entry, bool in_order = false);
  void join_shape(Entry& entry, bool in_order = false);  // REQUIRES: may_join(entry)
  void leave_shape(const Entry& entry);                  // marks the job kLeft
  void release_dependents(JobId ended_job);
  // Scheduler::hold on a queued job: out of its shape until released, which puts it back
  // with the rank it had (when its dependencies are met). Each costs a class's update.
  // REQUIRES: the job is queued.
  void hold_job(JobId id);
  void release_hold(JobId id);
  void add_queued(Job job);
  Job take_queued(JobId id);
  void add_running(RunningJob running);
  // The same, given its ledger slots (slots_of(running.gpus)).
  void add_running(RunningJob running, std::vector<int> slots);
  // Takes a running job out (it ended, was requeued or moves) and releases its GPUs.
  RunningJob take_running(JobId id);
  Demand held_demand(const RunningJob& running) const;
  std::vector<int> slots_of(const std::vector<int>& gpus) const;
  // Releases a running job's GPUs (its ledger slots) and logs the gain.
  void release_gpus(const RunningJob& running, const std::vector<int>& slots);
  double end_of(const RunningJob& running) const;
  // A job ended (finished, cancelled, or told by the caller): recorded for dependencies,
  // snapshot() and fair's usage.
  void record_finished(FinishedJob done);
  // What a signature's history teaches: the "auto" bytes and the expected run time, each
  // read only where a waiting job reads it (so that a part no waiting job reads moves
  // nothing).
  struct Learned {
    std::optional<Bytes> bytes;
    std::optional<double> seconds;
    bool operator==(const Learned&) const = default;
  };
  // What the signature's history teaches the jobs of it that wait, nullopt when none reads
  // it: read before the history changes, for history_changed().
  std::optional<Learned> learned_if_waiting(const std::string& signature) const;
  // A signature's history changed: the estimates are read again, and the queue ranked
  // again where a waiting job's demand or key reads what the history teaches and that
  // moved from `before` (learned_if_waiting() before the change).
  void history_changed(const std::string& signature, const std::optional<Learned>& before);
};

// One schedule() call over a State; defined in scheduler.cc.
ScheduleResult run_round(Scheduler::State& state);
// The state of a whole snapshot, after validate_snapshot() (Scheduler::from_snapshot).
Result<std::unique_ptr<Scheduler::State>> state_from_snapshot(const Snapshot& snapshot,
                                                              const SchedulerConfig& config);
// Scheduler::schedule(now_s) on a State.
Result<ScheduleResult> schedule_held(Scheduler::State& state, double now_s);

}  // namespace fastgpu::sched
