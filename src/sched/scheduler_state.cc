// The Scheduler kept between calls: its state and how each reported change updates it.
#include "sched/scheduler_state.h"

#include <algorithm>
#include <cmath>

namespace fastgpu::sched {

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

Entry make_entry(double key, const Job& job, const EstimateCache& estimates) {
  Entry entry{key, job.submit_time_s, job.id, &job, demand_of(job, estimates)};
  entry.limit_s = job.time_limit_s.value_or(-1.0);
  entry.declared_bytes = job.gpu_mem.has_value();
  return entry;
}

// ---- LimitGroup

void LimitGroup::append_in_order(Entry& entry) {
  entry.bulk_at = static_cast<int>(run_.size());
  run_.push_back(entry);
  left_.push_back(0);
  ++live_;
}

void LimitGroup::insert(Entry& entry) {
  entry.bulk_at = -1;
  later_.insert(entry);
  ++live_;
}

void LimitGroup::erase(const Entry& entry) {
  --live_;
  if (entry.bulk_at < 0) {
    later_.erase(entry);
    return;
  }
  left_[static_cast<std::size_t>(entry.bulk_at)] = 1;
  while (front_ < run_.size() && left_[front_] != 0) ++front_;
  if (front_ == run_.size()) {  // nothing of the run waits: drop it
    run_.clear();
    left_.clear();
    front_ = 0;
  }
}

const Entry& LimitGroup::first() const {
  if (front_ == run_.size()) return *later_.begin();
  if (later_.empty() || run_[front_] < *later_.begin()) return run_[front_];
  return *later_.begin();
}

// ---- LimitFirsts

void LimitFirsts::set(double limit, const Entry* first) {
  auto it = std::lower_bound(rows_.begin(), rows_.end(), limit,
                             [](const Row& row, double value) { return row.limit < value; });
  const auto at = static_cast<std::size_t>(it - rows_.begin());
  const bool present = it != rows_.end() && it->limit == limit;
  if (first == nullptr) {
    if (present) rows_.erase(it);
  } else if (present) {
    it->first = *first;
  } else {
    rows_.insert(it, Row{limit, *first, at});
  }
  refresh_from(at);
}

void LimitFirsts::refresh_from(std::size_t row) {
  for (std::size_t i = row; i < rows_.size(); ++i) {
    Row& current = rows_[i];
    current.first_so_far = i;
    if (current.limit < 0 || i == 0) continue;
    const Row& before = rows_[i - 1];
    if (before.limit >= 0 && rows_[before.first_so_far].first < current.first) {
      current.first_so_far = before.first_so_far;
    }
  }
}

const Entry& LimitFirsts::first() const {
  const Row& last = rows_.back();
  const Row& front = rows_.front();
  const Entry& first_limited = rows_[last.first_so_far].first;
  if (front.limit < 0 && (rows_.size() == 1 || front.first < first_limited)) return front.first;
  return first_limited;
}

const Entry* LimitFirsts::first_ending_by(double now_s, double until_s) const {
  auto begin = rows_.begin();
  if (begin != rows_.end() && begin->limit < 0) ++begin;
  // now_s + limit grows with the limit, so the rows that end in time are a prefix.
  auto end = std::partition_point(begin, rows_.end(),
                                  [&](const Row& row) { return now_s + row.limit <= until_s; });
  return end == begin ? nullptr : &rows_[std::prev(end)->first_so_far].first;
}

const Entry* LimitFirsts::first_ending_by_after(double now_s, double until_s,
                                                const Entry& after) const {
  const Entry* best = nullptr;
  for (const Row& row : rows_) {
    if (row.limit < 0) continue;
    if (!(now_s + row.limit <= until_s)) break;
    if (after < row.first && (best == nullptr || row.first < *best)) best = &row.first;
  }
  return best;
}

// ---- Heads

std::size_t Heads::row_of(iterator at) const {
  const auto row = std::lower_bound(rows_.begin(), rows_.end(), *at,
                                    [](const Row& r, const Entry& entry) { return *r.at < entry; });
  return static_cast<std::size_t>(row - rows_.begin());
}

void Heads::keep_rows(bool keep) {
  if (keep == keep_rows_) return;
  keep_rows_ = keep;
  rows_.clear();
  if (!keep) return;
  rows_.reserve(set_.size());
  for (auto at = set_.begin(); at != set_.end(); ++at) insert_row(at);
}

void Heads::insert_row(iterator at) {
  rows_.insert(rows_.begin() + static_cast<std::ptrdiff_t>(row_of(at)), row_for(at));
}

void Heads::replace(const Entry& old, const Entry& replacement) {
  const auto at = set_.find(old);
  if (at == set_.end()) {  // not there after all: as an erase and an insert would do
    insert(replacement);
    return;
  }
  std::size_t to = 0;
  if (keep_rows_) {
    // The replacement's place among the rows (the old row still counted), and the rows
    // between the two places moved by one over the old one (its row is written below).
    const auto begin = rows_.begin();
    const std::size_t from = row_of(at);
    to = static_cast<std::size_t>(
        std::lower_bound(begin, rows_.end(), replacement,
                         [](const Row& row, const Entry& entry) { return *row.at < entry; }) -
        begin);
    const auto offset = [&](std::size_t row) { return begin + static_cast<std::ptrdiff_t>(row); };
    if (to > from) {
      std::move(offset(from + 1), offset(to), offset(from));
      --to;
    } else {
      std::move_backward(offset(to), offset(from), offset(from + 1));
    }
  }
  auto node = set_.extract(at);
  node.value() = replacement;
  const auto placed = set_.insert(std::move(node));
  if (keep_rows_) rows_[to] = row_for(placed.position);
}

// ---- QueueMinimums

// demand_of() gives the job's GPUs and share, and its declared bytes when it has them.
void QueueMinimums::add(const Entry& entry) {
  const Demand& demand = entry.demand;
  if (demand.gpus == 0) {
    ++cpu_jobs_;
    return;
  }
  Dimensions& dims = by_whole_[demand.whole_memory ? 1 : 0];
  dims.gpus.add(demand.gpus);
  dims.bytes.add(demand.bytes);
  dims.share.add(demand.share);
  shares_.add(demand.share);
  if (entry.declared_bytes) declared_bytes_.add(demand.bytes);
}

void QueueMinimums::remove(const Entry& entry) {
  const Demand& demand = entry.demand;
  if (demand.gpus == 0) {
    --cpu_jobs_;
    return;
  }
  Dimensions& dims = by_whole_[demand.whole_memory ? 1 : 0];
  dims.gpus.remove(demand.gpus);
  dims.bytes.remove(demand.bytes);
  dims.share.remove(demand.share);
  shares_.remove(demand.share);
  if (entry.declared_bytes) declared_bytes_.remove(demand.bytes);
}

Demand QueueMinimums::smallest(bool whole_memory) const {
  const Dimensions& dims = by_whole_[whole_memory ? 1 : 0];
  Demand demand;
  demand.whole_memory = whole_memory;
  if (dims.gpus.empty()) {
    demand.gpus = 0;
    return demand;
  }
  demand.gpus = dims.gpus.smallest();
  demand.bytes = dims.bytes.smallest();
  demand.share = dims.share.smallest();
  return demand;
}

Bytes QueueMinimums::smallest_declared_bytes() const {
  return declared_bytes_.empty() ? 0 : declared_bytes_.smallest();
}

double QueueMinimums::smallest_share() const { return shares_.empty() ? 1.0 : shares_.smallest(); }

// ---- State

Scheduler::State::State(const SchedulerConfig& config_in, std::vector<GpuState> gpus)
    : config(config_in),
      policy(make_policy(config_in.policy)),
      placer(make_placer(config_in.strategy)),
      limits(detail::cluster_limits(gpus)),
      view{0.0, std::move(gpus), {}, {}, {}, {}},
      ledger(view) {
  limits.multi_node = config.multi_node;
  if (policy->keys_from_user_usage()) fair_keys = std::make_unique<FairKeys>(config);
  for (std::size_t i = 0; i < view.gpus.size(); ++i) {
    gpu_at[view.gpus[i].index] = i;
    if (view.gpus[i].used_bytes) ++measured_gpus;
  }
  reset_estimates();
}

const Ledger& Scheduler::State::empty_ledger() const {
  if (!empty_ledger_) {
    Snapshot gpus_only;
    gpus_only.gpus = view.gpus;
    empty_ledger_.emplace(gpus_only);
  }
  return *empty_ledger_;
}

void Scheduler::State::reset_estimates() {
  estimates =
      std::make_unique<EstimateCache>(view.history, config.auto_percentile, config.auto_margin);
}

TargetState Scheduler::State::target_state(JobId id) const {
  if (queue.count(id) != 0) return TargetState::kQueued;
  if (running_at.count(id) != 0) return TargetState::kRunning;
  auto it = ended.find(id);
  if (it == ended.end()) return TargetState::kUnknown;
  return it->second == EndState::kSucceeded ? TargetState::kSucceeded : TargetState::kFailed;
}

bool Scheduler::State::dependencies_met(const Job& job) const {
  for (const Dependency& dependency : job.dependencies) {
    const TargetState target = target_state(dependency.job);
    const bool met = dependency.kind == DependencyKind::kAfterOk
                         ? target == TargetState::kSucceeded
                         : target == TargetState::kSucceeded || target == TargetState::kFailed;
    if (!met) return false;
  }
  return true;
}

namespace {

// Queued jobs by the job they depend on.
std::unordered_map<JobId, std::vector<JobId>> waiting_on(
    const std::unordered_map<JobId, Job>& queue) {
  std::unordered_map<JobId, std::vector<JobId>> waiting;
  for (const auto& [id, job] : queue) {
    for (const Dependency& dependency : job.dependencies) waiting[dependency.job].push_back(id);
  }
  return waiting;
}

}  // namespace

std::unordered_set<JobId> Scheduler::State::held_with_dependents() const {
  std::unordered_set<JobId> hidden(on_hold.begin(), on_hold.end());
  if (hidden.empty()) return hidden;
  const auto waiting = waiting_on(queue);
  std::vector<JobId> to_visit(on_hold.begin(), on_hold.end());
  while (!to_visit.empty()) {
    auto it = waiting.find(to_visit.back());
    to_visit.pop_back();
    if (it == waiting.end()) continue;
    for (JobId id : it->second) {
      if (hidden.insert(id).second) to_visit.push_back(id);
    }
  }
  return hidden;
}

Entry Scheduler::State::rank_one(const Job& job) const {
  const PolicyContext context{view, config, *estimates};
  const Job* jobs[] = {&job};
  double key = 0.0;
  policy->rank(jobs, context, std::span<double>(&key, 1));
  return make_entry(key, job, *estimates);
}

std::vector<std::pair<double, LimitGroup>>::iterator Scheduler::State::RequestClass::find_limit(
    double limit) {
  auto it = std::lower_bound(
      by_limit.begin(), by_limit.end(), limit,
      [](const std::pair<double, LimitGroup>& row, double value) { return row.first < value; });
  return it != by_limit.end() && it->first == limit ? it : by_limit.end();
}

LimitGroup& Scheduler::State::RequestClass::limit_group(double limit) {
  auto it = std::lower_bound(
      by_limit.begin(), by_limit.end(), limit,
      [](const std::pair<double, LimitGroup>& row, double value) { return row.first < value; });
  if (it == by_limit.end() || it->first != limit) it = by_limit.emplace(it, limit, LimitGroup{});
  return it->second;
}

void Scheduler::State::join_shape(Entry& entry, bool in_order) {
  const Demand& d = entry.demand;
  const ClassKey key{d.gpus, d.whole_memory, d.whole_memory ? 0 : d.bytes, to_units(d.share),
                     fair_keys ? fair_keys->user_of(entry.id) : entry.key_group};
  auto [found, added] = class_of_key.try_emplace(key, static_cast<int>(classes.size()));
  if (added) classes.emplace_back();
  entry.shape = found->second;
  RequestClass& group = classes[static_cast<std::size_t>(entry.shape)];
  if (added) group.key_group = entry.key_group;
  if (added && fair_keys) {
    group.fair_user = std::get<4>(key);
    if (static_cast<std::size_t>(group.fair_user) >= user_firsts.size()) {
      user_firsts.resize(static_cast<std::size_t>(group.fair_user) + 1);
    }
  }
  LimitGroup& same_limit = group.limit_group(entry.limit_s);
  // The class's first job changes only when this one goes before it.
  const bool first = (heads_live || entries_fair_keyed) &&
                     (group.limit_heads.empty() || entry < group.limit_heads.first());
  if (first && !group.limit_heads.empty()) erase_first(group, group.limit_heads.first());
  const bool first_of_limit = same_limit.empty() || entry < same_limit.first();
  if (in_order) {
    same_limit.append_in_order(entry);
  } else {
    same_limit.insert(entry);
  }
  if (first_of_limit) group.limit_heads.set(entry.limit_s, &entry);
  if (first) insert_first(group, entry, /*likely_last=*/true);
  minimums.add(entry);
}

void Scheduler::State::leave_shape(const Entry& leaving) {
  // As its class holds it (a round passes its copy from `heads`, with this call's key).
  Entry& entry = entry_of.at(leaving.id);
  RequestClass& group = classes[static_cast<std::size_t>(entry.shape)];
  auto same_limit = group.find_limit(entry.limit_s);
  const bool first = (heads_live || entries_fair_keyed) && group.limit_heads.first().id == entry.id;
  // A class in no ordered list has its first job in `heads` alone: the next first takes
  // its place there in one step (below).
  const bool head_alone = first && heads_live && ordered_list(group) == nullptr;
  const Entry old_head = head_alone ? group.limit_heads.first() : Entry{};
  if (first && !head_alone) erase_first(group, group.limit_heads.first());
  LimitGroup& members = same_limit->second;
  const bool first_of_limit = members.first().id == entry.id;
  members.erase(entry);
  if (first_of_limit) {
    group.limit_heads.set(entry.limit_s, members.empty() ? nullptr : &members.first());
  }
  if (members.empty()) group.by_limit.erase(same_limit);
  if (head_alone && group.limit_heads.empty()) {
    heads.erase(old_head);
  } else if (head_alone) {
    heads.replace(old_head, group.limit_heads.first());
  } else if (first && !group.limit_heads.empty()) {
    insert_first(group, group.limit_heads.first());
  }
  minimums.remove(entry);
  entry.shape = Entry::kLeft;
}

std::vector<Scheduler::State::ListedFirst>* Scheduler::State::ordered_list(
    const RequestClass& group) {
  if (entries_fair_keyed) return &user_firsts[static_cast<std::size_t>(group.fair_user)];
  if (group.key_group >= 0)
    return &signature_keys.firsts[static_cast<std::size_t>(group.key_group)];
  return nullptr;
}

void Scheduler::State::erase_first(const RequestClass& group, const Entry& first) {
  std::vector<ListedFirst>* list = ordered_list(group);
  if (list == nullptr) {
    if (heads_live) erase_head(first);
    return;
  }
  auto at = std::lower_bound(list->begin(), list->end(), listed_first(first));
  const bool was_front = at == list->begin();
  if (at != list->end() && at->id == first.id) list->erase(at);
  if (!heads_live) return;
  // In `heads` as its list's first, or brought in by the walk (or not there: a no-op).
  erase_head(first);
  // A signature group's first class is always in `heads`: the next one takes its place.
  if (!entries_fair_keyed && was_front && !list->empty()) {
    insert_head(classes[static_cast<std::size_t>(list->front().shape)].limit_heads.first());
  }
}

void Scheduler::State::insert_first(const RequestClass& group, const Entry& first,
                                    bool likely_last) {
  std::vector<ListedFirst>* list = ordered_list(group);
  if (list == nullptr) {
    if (heads_live) insert_head(first, likely_last);
    return;
  }
  const ListedFirst joining = listed_first(first);
  bool front = false;
  if (likely_last && (list->empty() || list->back() < joining)) {
    list->push_back(joining);
    front = list->size() == 1;
  } else {
    auto at = list->insert(std::upper_bound(list->begin(), list->end(), joining), joining);
    front = at == list->begin();
  }
  if (!heads_live) return;
  if (entries_fair_keyed) {  // within a round: keyed now, and the walk may reach it
    insert_head(first, likely_last);
    return;
  }
  // A signature group's first class alone is in `heads` (a walk brings in the others as
  // it passes that one): it takes the place of the one it goes before.
  if (!front) return;
  if (list->size() > 1) {
    erase_head(classes[static_cast<std::size_t>((*list)[1].shape)].limit_heads.first());
  }
  insert_head(first, likely_last);
}

Entry Scheduler::State::listed_head(RequestClass& group) {
  return entries_fair_keyed ? keyed_first(group) : head_entry(group.limit_heads.first());
}

void Scheduler::State::note_revealed(RequestClass& group, const Entry& keyed) {
  if (entries_fair_keyed) return;  // `heads` is not kept between fair calls
  group.revealed = keyed.id;
  revealed.push_back(keyed);
}

void Scheduler::State::note_passed(const Entry& passed) {
  if (entries_fair_keyed) return;
  RequestClass& group = classes[static_cast<std::size_t>(passed.shape)];
  if (group.revealed == passed.id) group.revealed = JobId{};
  const std::vector<ListedFirst>& list =
      signature_keys.firsts[static_cast<std::size_t>(passed.key_group)];
  if (!list.empty() && list.front().id == passed.id) fronts_passed.push_back(passed.key_group);
}

void Scheduler::State::purge_revealed() {
  for (const Entry& keyed : revealed) {
    RequestClass& group = classes[static_cast<std::size_t>(keyed.shape)];
    if (group.revealed != keyed.id) continue;  // the walk passed it, or a start took it out
    group.revealed = JobId{};
    const std::vector<ListedFirst>& list =
        signature_keys.firsts[static_cast<std::size_t>(keyed.key_group)];
    if (!list.empty() && list.front().id == keyed.id) continue;  // its group's first stays
    heads.erase(keyed);
  }
  revealed.clear();
  for (int group : fronts_passed) {
    const std::vector<ListedFirst>& list = signature_keys.firsts[static_cast<std::size_t>(group)];
    if (!list.empty()) {
      insert_head(classes[static_cast<std::size_t>(list.front().shape)].limit_heads.first());
    }
  }
  fronts_passed.clear();
}

// Copies the entry to key it only where its class's key is not its own (fair, a signature
// group): a copy per start cost the other policies.
void Scheduler::State::erase_head(const Entry& first) {
  if (keyed_apart(first)) {
    heads.erase(head_entry(first));
  } else {
    heads.erase(first);
  }
}

void Scheduler::State::insert_head(const Entry& first, bool likely_last) {
  if (keyed_apart(first)) {
    heads.insert(head_entry(first));
  } else if (likely_last) {
    heads.insert(heads.end(), first);
  } else {
    heads.insert(first);
  }
}

Entry Scheduler::State::head_entry(const Entry& entry) const {
  Entry keyed = entry;
  if (entries_fair_keyed) {
    keyed.key = fair_keys->key(entry.id);
  } else if (entry.key_group >= 0) {
    keyed.key = signature_keys.key[static_cast<std::size_t>(entry.key_group)];
  }
  return keyed;
}

Entry Scheduler::State::class_entry(const Entry& entry) const {
  Entry in_class = entry;
  if (keyed_apart(entry)) in_class.key = 0.0;
  return in_class;
}

int Scheduler::State::key_group_of(const Job& job) {
  if (plain_keys || fair_keys || !policy->reads_run_estimates() || job.signature.empty() ||
      !policy->key_is_run_estimate(job, config)) {
    return -1;
  }
  const std::optional<double> seconds = estimates->run_seconds(job.signature);
  if (!seconds) return -1;
  auto [found, added] = signature_keys.group_of.try_emplace(
      job.signature, static_cast<int>(signature_keys.key.size()));
  if (added) {
    signature_keys.key.push_back(*seconds);
    signature_keys.firsts.emplace_back();
  } else if (signature_keys.key[static_cast<std::size_t>(found->second)] != *seconds) {
    // Its median moved while none of its jobs waited (history_changed() re-keys a group
    // only while they do).
    rekey_group(found->second, *seconds);
  }
  return found->second;
}

void Scheduler::State::group_entry(Entry& entry) {
  const int group = key_group_of(*entry.job);
  if (group < 0) return;
  entry.key = 0.0;
  entry.key_group = group;
}

void Scheduler::State::rekey_group(int group, double key) {
  const double old_key = signature_keys.key[static_cast<std::size_t>(group)];
  signature_keys.key[static_cast<std::size_t>(group)] = key;
  if (!heads_live) return;
  // Between calls `heads` holds the group's first class alone (its others join a walk as
  // it passes that one): one head moves, where every class of the group had.
  const std::vector<ListedFirst>& firsts = signature_keys.firsts[static_cast<std::size_t>(group)];
  if (firsts.empty()) return;
  Entry keyed = classes[static_cast<std::size_t>(firsts.front().shape)].limit_heads.first();
  keyed.key = old_key;
  auto node = heads.extract(keyed);
  if (node.empty()) return;
  node.value().key = key;
  heads.insert(std::move(node));
}

Entry Scheduler::State::keyed_first(RequestClass& group) {
  Entry keyed = group.limit_heads.first();
  const std::optional<double> kept =
      keyed.id == group.keyed_first.id ? fair_keys->key_at(group.keyed_first) : std::nullopt;
  keyed.key = kept ? *kept : fair_keys->key(keyed.id, group.keyed_first);
  return keyed;
}

void Scheduler::State::rekey_heads(double now_s) {
  fair_keys->begin_round(now_s);
  heads.clear();
  for (const std::vector<ListedFirst>& firsts : user_firsts) {
    if (!firsts.empty())
      heads.insert(keyed_first(classes[static_cast<std::size_t>(firsts.front().shape)]));
  }
  heads_live = true;
}

bool Scheduler::State::may_join(const Entry& entry) const {
  // Without a queued job that has dependencies, the job's own are not read (ranking 100k
  // jobs read each one's list for nothing: 2.7% of the 100k drain, in cache misses).
  return on_hold.count(entry.id) == 0 &&
         (queued_with_dependencies == 0 || dependencies_met(*entry.job));
}

void Scheduler::State::place_entry(Entry& entry, bool in_order) {
  if (may_join(entry)) {
    join_shape(entry, in_order);
    return;
  }
  entry.shape = Entry::kHeld;
  // Held by the caller alone: release_hold() lets it join (met dependencies stay met).
  if (dependencies_met(*entry.job)) return;
  for (const Dependency& dependency : entry.job->dependencies) {
    dependents[dependency.job].push_back(entry.id);
  }
}

// A job ended: held jobs waiting on it may now join their shapes.
void Scheduler::State::release_dependents(JobId ended_job) {
  auto it = dependents.find(ended_job);
  if (it == dependents.end()) return;
  const std::vector<JobId> waiting = std::move(it->second);
  dependents.erase(it);
  for (JobId id : waiting) {
    auto entry = entry_of.find(id);
    if (entry == entry_of.end() || entry->second.shape != Entry::kHeld) continue;
    if (may_join(entry->second)) join_shape(entry->second);
  }
}

void Scheduler::State::hold_job(JobId id) {
  if (!on_hold.insert(id).second) return;
  auto entry = entry_of.find(id);
  // Not ranked yet (rebuild_order places it held), or already held on dependencies.
  if (entry != entry_of.end() && entry->second.shape >= 0) {
    leave_shape(entry->second);
    entry->second.shape = Entry::kHeld;
  }
  if (fair_keys) fair_keys->remove_queued(id);  // out of the snapshot, out of its user's sums
}

void Scheduler::State::release_hold(JobId id) {
  if (on_hold.erase(id) == 0) return;
  if (fair_keys) fair_keys->add_queued(queue.at(id));
  auto entry = entry_of.find(id);
  if (entry == entry_of.end() || entry->second.shape != Entry::kHeld) return;
  // Its dependencies not met yet: it waits in dependents, and their end lets it join.
  if (dependencies_met(*entry->second.job)) join_shape(entry->second);
}

// Ranks the whole queue afresh: for a policy whose keys move, or after a history changed.
void Scheduler::State::rebuild_order() {
  for (const auto& [id, entry] : entry_of) {
    if (entry.shape >= 0) minimums.remove(entry);
  }
  entry_of.clear();
  classes.clear();
  class_of_key.clear();
  heads.clear();
  user_firsts.clear();
  dependents.clear();
  signature_keys = SignatureKeys{};
  // What snapshot() leaves out is ranked apart: a policy that ranks jobs together (fair)
  // must rank the others as the pure call on snapshot() does, without it.
  const std::unordered_set<JobId> hidden = held_with_dependents();
  std::vector<const Job*> shown;
  std::vector<const Job*> kept_back;
  shown.reserve(queue.size() - hidden.size());
  kept_back.reserve(hidden.size());
  for (const auto& [id, job] : queue) {
    (hidden.empty() || hidden.count(id) == 0 ? shown : kept_back).push_back(&job);
  }
  // Sorted once into policy order, every job is appended to its group's ordered run (no
  // search, no node per job): most of building a pure call's state.
  std::vector<Entry> ranked;
  ranked.reserve(queue.size());
  // Under fair with nothing held, every entry carries key 0: each class (one user's) then
  // keeps its jobs in submit order, and FairKeys orders the classes' first jobs.
  entries_fair_keyed = fair_keyed();
  heads_live = !entries_fair_keyed;
  if (entries_fair_keyed) {
    for (const Job* job : shown) ranked.push_back(make_entry(0.0, *job, *estimates));
    for (const Job* job : kept_back) ranked.push_back(make_entry(0.0, *job, *estimates));
  } else {
    rank_into(shown, ranked);
    rank_into(kept_back, ranked);
    // Jobs keyed by their signature's median carry key 0 in their group's classes; each
    // such class holds one group's jobs, so its order is still the policy's.
    for (Entry& entry : ranked) group_entry(entry);
  }
  std::sort(ranked.begin(), ranked.end());
  entry_of.reserve(ranked.size());
  // Every queued job ends here one day: its end is recorded in room made once, not by
  // rehashing and copying as they come (1.2% of the 100k drain, and a tenth of its page
  // faults). Never shrinks either.
  if (const std::size_t ends_to_hold = ended.size() + queue.size();
      static_cast<double>(ends_to_hold) >
      static_cast<double>(ended.bucket_count()) * ended.max_load_factor()) {
    ended.reserve(ends_to_hold);
    view.finished.reserve(view.finished.size() + queue.size());
  }
  for (const Entry& ranked_entry : ranked) {
    place_entry(entry_of.emplace(ranked_entry.id, ranked_entry).first->second, true);
  }
  order_stale = false;
  ++orders_rebuilt;
}

void Scheduler::State::rank_into(const std::vector<const Job*>& jobs,
                                 std::vector<Entry>& ranked) const {
  if (jobs.empty()) return;
  std::vector<double> keys(jobs.size());
  policy->rank(jobs, PolicyContext{view, config, *estimates}, keys);
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    ranked.push_back(make_entry(keys[i], *jobs[i], *estimates));
  }
}

void Scheduler::State::add_queued(Job job) {
  const JobId id = job.id;
  const Job& stored = queue.emplace(id, std::move(job)).first->second;
  if (!stored.dependencies.empty()) ++queued_with_dependencies;
  if (!stored.signature.empty()) {
    SignatureWaiting& waiting = queued_per_signature[stored.signature];
    ++waiting.jobs;
    if (policy->reads_run_estimate(stored, config)) ++waiting.reading_run_times;
    if (!stored.gpu_mem) ++waiting.auto_memory;
  }
  if (fair_keys) fair_keys->add_queued(stored);
  if (!order_stale && entries_fair_keyed) {  // FairKeys keys it
    place_entry(entry_of.emplace(id, make_entry(0.0, stored, *estimates)).first->second);
    return;
  }
  if (order_stale || !policy->stable_keys()) return;  // rebuild_order() ranks it
  Entry& entry = entry_of.emplace(id, rank_one(stored)).first->second;
  group_entry(entry);
  place_entry(entry);
}

Job Scheduler::State::take_queued(JobId id) {
  auto it = queue.find(id);
  const bool held = on_hold.erase(id) != 0;
  if (!it->second.dependencies.empty()) --queued_with_dependencies;
  if (auto entry = entry_of.find(id); entry != entry_of.end()) {
    if (entry->second.shape >= 0) leave_shape(entry->second);  // may key its class's head
    entry_of.erase(entry);
  }
  if (fair_keys && !held) fair_keys->remove_queued(id);
  if (!it->second.signature.empty()) {
    auto waiting = queued_per_signature.find(it->second.signature);
    if (policy->reads_run_estimate(it->second, config)) --waiting->second.reading_run_times;
    if (!it->second.gpu_mem) --waiting->second.auto_memory;
    if (--waiting->second.jobs == 0) queued_per_signature.erase(waiting);
  }
  Job job = std::move(it->second);
  queue.erase(it);
  return job;
}

void Scheduler::State::record_finished(FinishedJob done) {
  ended[done.id] = done.state;
  if (fair_keys) fair_keys->add_finished(done);
  view.finished.push_back(std::move(done));
}

std::optional<Scheduler::State::Learned> Scheduler::State::learned_if_waiting(
    const std::string& signature) const {
  auto waiting = queued_per_signature.find(signature);
  if (waiting == queued_per_signature.end()) return std::nullopt;
  const SignatureWaiting& jobs = waiting->second;
  if (jobs.auto_memory == 0 && jobs.reading_run_times == 0) return std::nullopt;
  Learned learned;
  if (jobs.auto_memory > 0) learned.bytes = estimates->auto_bytes(signature);
  if (jobs.reading_run_times > 0) learned.seconds = estimates->run_seconds(signature);
  return learned;
}

void Scheduler::State::history_changed(const std::string& signature,
                                       const std::optional<Learned>& before) {
  reset_estimates();
  // A waiting job of this signature moves only where a decision reads what the history
  // teaches and that changed: its "auto" memory reads the peaks' estimate, its key the
  // run times' median (sjf, except for jobs its oracle mode orders by their duration).
  // The simulator adds a run at every completion and the engine gives a grown history
  // whole, but the estimates move far less often (a median over many runs of whole
  // seconds mostly stays): ranking the queue again at every change was most of a
  // backlogged replay's time, under every policy and then under sjf. The same jobs wait
  // as before the change, so learned_if_waiting() reads the same parts now.
  if (!before) return;
  const std::optional<Learned> after = learned_if_waiting(signature);
  if (after == before) return;
  // Only the median moved, and the jobs it keys share it (a signature group): their
  // classes' first jobs are re-keyed, not the whole queue ranked again.
  auto group = signature_keys.group_of.find(signature);
  if (!order_stale && group != signature_keys.group_of.end() && after->bytes == before->bytes &&
      after->seconds && before->seconds) {
    rekey_group(group->second, *after->seconds);
    return;
  }
  if (!order_stale && after->bytes == before->bytes && after->seconds && !before->seconds &&
      join_group(signature)) {
    return;
  }
  order_stale = true;
}

bool Scheduler::State::join_group(const std::string& signature) {
  std::vector<Entry*> joining;
  for (auto& [id, entry] : entry_of) {
    const Job& job = *entry.job;
    if (job.signature != signature || entry.key_group >= 0 ||
        !policy->reads_run_estimate(job, config)) {
      continue;
    }
    if (key_group_of(job) < 0) return false;  // its key reads the median another way
    joining.push_back(&entry);
  }
  for (Entry* entry : joining) {
    const bool in_class = entry->shape >= 0;  // or held: it joins its class when released
    if (in_class) leave_shape(*entry);
    entry->key = 0.0;
    entry->key_group = key_group_of(*entry->job);
    if (in_class) join_shape(*entry);
  }
  return true;
}

double Scheduler::State::end_of(const RunningJob& running) const {
  return running.job.time_limit_s ? running.start_time_s + *running.job.time_limit_s : kNever;
}

void Scheduler::State::add_running(RunningJob running) {
  std::vector<int> slots = slots_of(running.gpus);
  add_running(std::move(running), std::move(slots));
}
void Scheduler::State::add_running(RunningJob running, std::vector<int> slots) {
  if (fair_keys) fair_keys->add_running(running);
  int node = kManyNodes;
  for (std::size_t i = 0; i < slots.size(); ++i) {
    const int own = ledger.slot(slots[i]).node;
    node = i == 0 || own == node ? own : kManyNodes;
    if (node == kManyNodes) break;
  }
  const End end{end_of(running), running.job.id};
  ends.emplace(end, node);
  ends_listed(node).push_back(end);
  running_at[running.job.id] = view.running.size();
  running_slots.push_back(std::move(slots));
  view.running.push_back(std::move(running));
}

RunningJob Scheduler::State::take_running(JobId id) {
  const std::size_t at = running_at.at(id);
  release_gpus(view.running[at], running_slots[at]);
  RunningJob running = std::move(view.running[at]);
  if (at + 1 != view.running.size()) {
    view.running[at] = std::move(view.running.back());
    running_slots[at] = std::move(running_slots.back());
    running_at[view.running[at].job.id] = at;
  }
  view.running.pop_back();
  running_slots.pop_back();
  running_at.erase(id);
  const auto end = ends.find({end_of(running), id});
  std::vector<End>& listed = ends_listed(end->second);
  const auto in_list = std::find(listed.begin(), listed.end(), end->first);
  *in_list = listed.back();
  listed.pop_back();
  ends.erase(end);
  if (fair_keys) fair_keys->remove_running(running);
  return running;
}

std::vector<Scheduler::State::End>& Scheduler::State::ends_listed(int node) {
  if (node == kManyNodes) return ends_across;
  const auto at = static_cast<std::size_t>(node);
  if (at >= ends_on_node.size()) ends_on_node.resize(at + 1);
  return ends_on_node[at];
}

Demand Scheduler::State::held_demand(const RunningJob& running) const {
  Demand demand;
  demand.gpus = static_cast<int>(running.gpus.size());
  demand.bytes = running.declared_bytes;
  demand.share = running.job.util_share;
  demand.load = running.job.util_share * priority_weight(running.job.priority);
  return demand;
}

std::vector<int> Scheduler::State::slots_of(const std::vector<int>& gpus) const {
  std::vector<int> slots;
  slots.reserve(gpus.size());
  for (int gpu : gpus) slots.push_back(ledger.slot_of(gpu));
  return slots;
}

void Scheduler::State::release_gpus(const RunningJob& running, const std::vector<int>& slots) {
  ledger.release(slots, held_demand(running), running.declared_bytes);
  int last_node = -1;
  for (int s : slots) {
    const int node = ledger.slot(s).node;
    if (node != last_node) gains.add(node);
    last_node = node;
  }
}

// ---- Scheduler

Scheduler::Scheduler(std::unique_ptr<State> state) : state_(std::move(state)) {}
Scheduler::~Scheduler() = default;

Result<std::unique_ptr<Scheduler>> Scheduler::create(const SchedulerConfig& config,
                                                     std::vector<GpuState> gpus) {
  FASTGPU_RETURN_IF_ERROR(validate_config(config));
  FASTGPU_RETURN_IF_ERROR(detail::check_gpu_list(gpus));
  return std::unique_ptr<Scheduler>(
      new Scheduler(std::make_unique<State>(config, std::move(gpus))));
}

Result<std::unique_ptr<Scheduler::State>> state_from_snapshot(const Snapshot& snapshot,
                                                              const SchedulerConfig& config) {
  FASTGPU_RETURN_IF_ERROR(validate_config(config));
  FASTGPU_RETURN_IF_ERROR(detail::validate_snapshot(snapshot, config.multi_node));
  auto state = std::make_unique<Scheduler::State>(config, snapshot.gpus);
  state->view.now_s = snapshot.now_s;
  state->view.history = snapshot.history;
  for (const FinishedJob& done : snapshot.finished) state->record_finished(done);
  for (const RunningJob& running : snapshot.running) {
    const std::vector<int> slots = state->slots_of(running.gpus);
    state->ledger.commit(slots, state->held_demand(running));
    state->add_running(running);
  }
  std::vector<const Job*> by_id;
  by_id.reserve(snapshot.queue.size());
  state->queue.reserve(snapshot.queue.size());
  for (const Job& job : snapshot.queue) by_id.push_back(&job);
  std::sort(by_id.begin(), by_id.end(), [](const Job* a, const Job* b) { return a->id < b->id; });
  for (const Job* job : by_id) state->add_queued(*job);
  return state;
}

Result<ScheduleResult> schedule_held(Scheduler::State& state, double now_s) {
  if (!std::isfinite(now_s)) return invalid_argument("the schedule time is not finite");
  state.view.now_s = now_s;
  if (state.fair_keyed()) {
    if (!state.on_hold.empty()) ++state.fair_keyed_holding;
    if (state.order_stale || !state.entries_fair_keyed) state.rebuild_order();
    state.rekey_heads(now_s);
  } else if (state.order_stale || !state.policy->stable_keys()) {
    state.rebuild_order();
  }
  // The walk steps over settled heads by their rows (Heads) where no head is in an
  // ordered list: not under fair-keyed entries, nor with sjf's signature groups.
  state.heads.keep_rows(!state.entries_fair_keyed && state.signature_keys.key.empty());
  ScheduleResult result = run_round(state);
  if (state.entries_fair_keyed) {
    state.heads_live = false;  // rekeyed when the next call begins
  } else {
    state.purge_revealed();
  }
  return result;
}

Result<std::unique_ptr<Scheduler>> Scheduler::from_snapshot(const Snapshot& snapshot,
                                                            const SchedulerConfig& config) {
  auto state = state_from_snapshot(snapshot, config);
  if (!state.ok()) return state.status();
  return std::unique_ptr<Scheduler>(new Scheduler(std::move(*state)));
}

Status Scheduler::enqueue(Job job) {
  State& state = *state_;
  FASTGPU_RETURN_IF_ERROR(detail::check_job(job, state.limits));
  if (state.target_state(job.id) != TargetState::kUnknown) {
    return invalid_argument("job id " + to_string(job.id) +
                            " is already known to the scheduler; ids must be unique");
  }
  for (const Dependency& dependency : job.dependencies) {
    if (state.target_state(dependency.job) != TargetState::kUnknown) continue;
    return invalid_argument("job " + to_string(job.id) + " depends on job " +
                            to_string(dependency.job) +
                            ", which is not queued, running or finished; remove the "
                            "dependency or submit that job first");
  }
  state.add_queued(std::move(job));
  return {};
}

Status Scheduler::cancel(JobId job, double now_s, std::optional<double> gpu_seconds) {
  State& state = *state_;
  if (state.queue.count(job) == 0) {
    return not_found("job " + to_string(job) +
                     " is not waiting; only a queued job is cancelled "
                     "here, a running one ends with finish()");
  }
  Job taken = state.take_queued(job);
  state.record_finished({job, EndState::kCancelled, taken.user, gpu_seconds.value_or(0.0), now_s});
  state.release_dependents(job);
  return {};
}

Status Scheduler::add_finished(FinishedJob done) {
  State& state = *state_;
  if (state.target_state(done.id) != TargetState::kUnknown) {
    return invalid_argument("job " + to_string(done.id) +
                            " is already known to the scheduler; only a job it never saw "
                            "is added as finished");
  }
  state.record_finished(std::move(done));
  return {};
}

bool Scheduler::knows(JobId job) const {
  return state_->target_state(job) != TargetState::kUnknown;
}

Status Scheduler::finish(JobId job, EndState end, double now_s, std::optional<double> gpu_seconds) {
  State& state = *state_;
  if (state.running_at.count(job) == 0) {
    return not_found("job " + to_string(job) + " is not running; nothing to finish");
  }
  RunningJob running = state.take_running(job);
  // Service over every run, in GPUs actually held (a fractional job holds its share).
  const double ran = running.job.attained_run_s + std::max(0.0, now_s - running.start_time_s);
  const double used =
      gpu_seconds.value_or(ran * std::max(1, running.job.gpus) * running.job.util_share);
  state.record_finished({job, end, running.job.user, used, now_s});
  state.release_dependents(job);
  return {};
}

Status Scheduler::requeue(JobId job, double now_s) {
  State& state = *state_;
  if (state.running_at.count(job) == 0) {
    return not_found("job " + to_string(job) + " is not running; nothing to requeue");
  }
  RunningJob running = state.take_running(job);
  running.job.attained_run_s += std::max(0.0, now_s - running.start_time_s);
  state.add_queued(std::move(running.job));
  return {};
}

Status Scheduler::hold(JobId job, bool on_hold) {
  State& state = *state_;
  if (state.queue.count(job) == 0) {
    return not_found("job " + to_string(job) +
                     " is not waiting; only a queued job is held or released");
  }
  if (on_hold) {
    state.hold_job(job);
  } else {
    state.release_hold(job);
  }
  return {};
}

Status Scheduler::update_gpu(const GpuState& gpu) {
  State& state = *state_;
  auto it = state.gpu_at.find(gpu.index);
  if (it == state.gpu_at.end() || state.view.gpus[it->second].node != gpu.node) {
    return invalid_argument("GPU " + std::to_string(gpu.index) + " on node '" + gpu.node +
                            "' was not given when the scheduler was created");
  }
  if (!(gpu.util_cap > 0.0 && gpu.util_cap <= 1.0)) {
    return invalid_argument("GPU " + std::to_string(gpu.index) + " has utilization cap r = " +
                            std::to_string(gpu.util_cap) + "; use a value in (0, 1]");
  }
  GpuState& held = state.view.gpus[it->second];
  if (held.used_bytes) --state.measured_gpus;
  if (gpu.used_bytes) ++state.measured_gpus;
  // Our jobs there hold u_j * r_i of it: a new cap takes them out at the old r and puts
  // them back at the new one, as a ledger built from the snapshot counts them.
  const int slot = state.ledger.slot_of(gpu.index);
  std::vector<const RunningJob*> recounted;
  if (held.util_cap != gpu.util_cap) {
    for (const RunningJob& running : state.view.running) {
      if (std::find(running.gpus.begin(), running.gpus.end(), gpu.index) == running.gpus.end()) {
        continue;
      }
      state.ledger.release({slot}, state.held_demand(running), running.declared_bytes);
      recounted.push_back(&running);
    }
  }
  held = gpu;
  state.ledger.update_gpu(gpu);
  for (const RunningJob* running : recounted) {
    state.ledger.commit({slot}, state.held_demand(*running));
  }
  // Health, memory held by others or the cap may have grown what fits there.
  state.gains.add(state.ledger.slot(slot).node);
  state.empty_ledger_.reset();  // rebuilt from the GPUs when next needed
  state.limits = detail::cluster_limits(state.view.gpus);
  state.limits.multi_node = state.config.multi_node;
  return {};
}

void Scheduler::set_history(const std::string& signature, SignatureHistory history) {
  State& state = *state_;
  SignatureHistory& held = state.view.history[signature];
  if (held.peak_bytes == history.peak_bytes && held.run_seconds == history.run_seconds) return;
  const auto before = state.learned_if_waiting(signature);
  held = std::move(history);
  state.history_changed(signature, before);
}

void Scheduler::add_run(const std::string& signature, std::optional<Bytes> peak_bytes,
                        std::optional<double> run_seconds) {
  State& state = *state_;
  if (!peak_bytes && !run_seconds) return;
  const auto before = state.learned_if_waiting(signature);
  SignatureHistory& history = state.view.history[signature];
  if (peak_bytes) history.peak_bytes.push_back(*peak_bytes);
  if (run_seconds) history.run_seconds.push_back(*run_seconds);
  state.history_changed(signature, before);
}

Status Scheduler::set_used_bytes(JobId job, std::optional<Bytes> used_bytes) {
  auto it = state_->running_at.find(job);
  if (it == state_->running_at.end()) {
    return not_found("job " + to_string(job) + " is not running");
  }
  state_->view.running[it->second].used_bytes = used_bytes;
  return {};
}

Result<ScheduleResult> Scheduler::schedule(double now_s) { return schedule_held(*state_, now_s); }

Snapshot Scheduler::snapshot() const {
  Snapshot snapshot = state_->view;
  const std::unordered_set<JobId> hidden = state_->held_with_dependents();
  std::vector<const Job*> by_id;
  by_id.reserve(state_->queue.size() - hidden.size());
  for (const auto& [id, job] : state_->queue) {
    if (hidden.count(id) == 0) by_id.push_back(&job);
  }
  std::sort(by_id.begin(), by_id.end(), [](const Job* a, const Job* b) { return a->id < b->id; });
  snapshot.queue.reserve(by_id.size());
  for (const Job* job : by_id) snapshot.queue.push_back(*job);
  return snapshot;
}

std::size_t Scheduler::queued() const { return state_->queue.size(); }
std::size_t Scheduler::running() const { return state_->view.running.size(); }

}  // namespace fastgpu::sched
