// The fair policy's keys, kept as the queue, the runs and the ends change, so that a kept
// Scheduler orders only each request class's first job on every call instead of ranking
// the whole queue (what FairPolicy::rank does, with the same arithmetic: fair_usage.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "fastgpu/sched/config.h"
#include "fastgpu/sched/snapshot.h"
#include "sched/policies/fair_usage.h"

namespace fastgpu::sched {

class FairKeys {
 public:
  explicit FairKeys(const SchedulerConfig& config) : config_(config) {}

  void add_queued(const Job& job);
  void remove_queued(JobId id);
  void add_running(const RunningJob& running) {
    usage_of(running.job.user).change_running(running, 1);
  }
  void remove_running(const RunningJob& running) {
    usage_of(running.job.user).change_running(running, -1);
  }
  void add_finished(const FinishedJob& done);

  // The index of a queued job's user (request classes are kept per user under fair).
  // REQUIRES: the job is queued here.
  int user_of(JobId id) const { return where_.at(id).user; }
  // Fixes every user's usage at now_s; key() reads it until the next call.
  void begin_round(double now_s);
  // The job's key as FairPolicy::rank gives it at the time begin_round() was given: its
  // user's usage plus the expected GPU time of that user's queued jobs before it.
  // REQUIRES: the job is queued here.
  double key(JobId id);

  // Where a queued job's sum is read, to key it again without looking it up: valid while
  // its user's slots neither move nor lose a job (`layout`).
  struct Place {
    JobId id;
    int user = -1;
    std::size_t slot = 0;
    std::uint64_t layout = 0;
  };
  // The same key, and where it was read. REQUIRES: the job is queued here.
  double key(JobId id, Place& place);
  // The key at a place key() gave, when that place still holds the job; nullopt otherwise.
  std::optional<double> key_at(const Place& place) const;

 private:
  struct Slot {
    double submit_s;
    JobId id;
    std::int64_t ms;  // the job's expected GPU time; 0 once it left the queue
  };
  // One user's queued jobs in submit order, with Fenwick sums of their expected GPU time;
  // a job leaving only zeroes its slot (the slots are compacted when most have left), and
  // a job arriving out of submit order (a requeue) sorts the slots again when next read.
  struct User {
    fair::UserUsage usage;
    std::vector<Slot> slots;
    std::vector<std::int64_t> tree;  // tree[i]: the sum of slots (i + 1 - lowbit(i + 1), i]
    bool sorted = true;
    std::size_t left = 0;      // slots whose job left
    std::uint64_t layout = 0;  // counts the slots' moves and departures
  };
  struct Where {
    int user;
    std::size_t slot;
  };
  int user_index(const std::string& user);
  fair::UserUsage& usage_of(const std::string& user) {
    return users_[static_cast<std::size_t>(user_index(user))].usage;
  }
  void rebuild(int user);  // sorts and compacts the slots, sums them again
  static std::int64_t sum_before(const User& user, std::size_t slot);

  const SchedulerConfig& config_;
  std::unordered_map<std::string, int> index_;
  std::vector<User> users_;
  std::unordered_map<JobId, Where> where_;
};

}  // namespace fastgpu::sched
