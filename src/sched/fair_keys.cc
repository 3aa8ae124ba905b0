// FairKeys: the fair policy's keys kept as the scheduler's state changes.
#include "sched/fair_keys.h"

#include <algorithm>

namespace fastgpu::sched {
namespace {

std::size_t lowbit(std::size_t i) { return i & (~i + 1); }

bool before(const auto& a, const auto& b) {
  return a.submit_s != b.submit_s ? a.submit_s < b.submit_s : a.id < b.id;
}

}  // namespace

int FairKeys::user_index(const std::string& user) {
  auto [it, added] = index_.try_emplace(user, static_cast<int>(users_.size()));
  if (added) users_.emplace_back();
  return it->second;
}

void FairKeys::add_queued(const Job& job) {
  const int index = user_index(job.user);
  User& user = users_[static_cast<std::size_t>(index)];
  const Slot slot{job.submit_time_s, job.id, fair::expected_ms(job, config_)};
  const std::size_t at = user.slots.size();
  if (user.sorted && at > 0 && !before(user.slots.back(), slot)) user.sorted = false;
  user.slots.push_back(slot);
  where_[job.id] = Where{index, at};
  if (!user.sorted) return;  // summed again when next read
  // Appending a Fenwick node: its own value plus the slots it covers before it.
  const std::size_t one_based = at + 1;
  const std::size_t covers_from = one_based - lowbit(one_based);  // slots [covers_from, at)
  user.tree.push_back(slot.ms + sum_before(user, at) - sum_before(user, covers_from));
}

void FairKeys::remove_queued(JobId id) {
  auto found = where_.find(id);
  if (found == where_.end()) return;
  const Where where = found->second;
  where_.erase(found);
  User& user = users_[static_cast<std::size_t>(where.user)];
  Slot& slot = user.slots[where.slot];
  const std::int64_t ms = slot.ms;
  slot.ms = 0;
  ++user.left;
  ++user.layout;
  if (user.sorted) {
    for (std::size_t i = where.slot + 1; i <= user.tree.size(); i += lowbit(i)) {
      user.tree[i - 1] -= ms;
    }
  }
  if (user.left == user.slots.size()) {
    user.slots.clear();
    user.tree.clear();
    user.sorted = true;
    user.left = 0;
  } else if (user.left > 64 && 2 * user.left > user.slots.size()) {
    rebuild(where.user);
  }
}

void FairKeys::add_finished(const FinishedJob& done) {
  usage_of(done.user).add_finished(done, config_);
}

void FairKeys::begin_round(double now_s) {
  for (User& user : users_) user.usage.settle(now_s, config_);
}

double FairKeys::key(JobId id) {
  Place place;
  return key(id, place);
}

double FairKeys::key(JobId id, Place& place) {
  const Where& where = where_.at(id);  // stays valid: a rebuild moves only its slot
  User& user = users_[static_cast<std::size_t>(where.user)];
  if (!user.sorted) rebuild(where.user);
  place = Place{id, where.user, where.slot, user.layout};
  return user.usage.key(sum_before(user, where.slot));
}

std::optional<double> FairKeys::key_at(const Place& place) const {
  if (place.user < 0) return std::nullopt;
  const User& user = users_[static_cast<std::size_t>(place.user)];
  // Slots that neither moved nor lost a job since: the job is where it was, and sorted.
  if (user.layout != place.layout || !user.sorted || place.slot >= user.slots.size() ||
      user.slots[place.slot].id != place.id) {
    return std::nullopt;
  }
  return user.usage.key(sum_before(user, place.slot));
}

void FairKeys::rebuild(int index) {
  User& user = users_[static_cast<std::size_t>(index)];
  std::vector<Slot> kept;
  kept.reserve(user.slots.size() - user.left);
  for (std::size_t i = 0; i < user.slots.size(); ++i) {
    // A slot is live when its job's place is this slot (a requeued job has an older,
    // zeroed slot under the same id).
    auto found = where_.find(user.slots[i].id);
    if (found != where_.end() && found->second.user == index && found->second.slot == i) {
      kept.push_back(user.slots[i]);
    }
  }
  std::sort(kept.begin(), kept.end(), [](const Slot& a, const Slot& b) { return before(a, b); });
  user.slots = std::move(kept);
  user.left = 0;
  user.sorted = true;
  ++user.layout;
  // A Fenwick tree built in one pass: each node hands its sum to its parent.
  user.tree.assign(user.slots.size(), 0);
  for (std::size_t i = 0; i < user.slots.size(); ++i) {
    where_[user.slots[i].id].slot = i;
    user.tree[i] += user.slots[i].ms;
    const std::size_t parent = (i + 1) + lowbit(i + 1);
    if (parent <= user.tree.size()) user.tree[parent - 1] += user.tree[i];
  }
}

std::int64_t FairKeys::sum_before(const User& user, std::size_t slot) {
  std::int64_t sum = 0;
  for (std::size_t i = slot; i > 0; i -= lowbit(i)) sum += user.tree[i - 1];
  return sum;
}

}  // namespace fastgpu::sched
