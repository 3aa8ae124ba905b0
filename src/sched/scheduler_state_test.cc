// The kept queue's pieces: a time limit group (ordered run plus later arrivals) and the
// per-class index of first jobs by time limit that backfill asks "which job ends in time?".
#include "sched/scheduler_state.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "sched/sched_builders.h"

namespace fastgpu::sched {
namespace {

using testing::kGiB;
using testing::make_job;
using testing::make_node;
using testing::make_running;

Entry entry(double key, std::uint64_t id) {
  Entry made;
  made.key = key;
  made.id = JobId{id};
  return made;
}

TEST(LimitFirsts, AnswersTheFirstJobThatEndsInTime) {
  LimitFirsts firsts;
  const Entry none = entry(0, 1);
  const Entry short_but_late = entry(3, 2);
  const Entry middle_and_early = entry(1, 3);
  const Entry long_one = entry(2, 4);
  firsts.set(-1.0, &none);  // no time limit: never ends in time
  firsts.set(600.0, &short_but_late);
  firsts.set(1800.0, &long_one);
  firsts.set(1200.0, &middle_and_early);

  EXPECT_EQ(firsts.first().id, JobId{1});
  // Limits 600 and 1200 end by t = 1300 (now 100); the earlier in policy order is job 3.
  ASSERT_NE(firsts.first_ending_by(100.0, 1300.0), nullptr);
  EXPECT_EQ(firsts.first_ending_by(100.0, 1300.0)->id, JobId{3});
  // All three limits end in time: still job 3, not the longest limit's job 4.
  EXPECT_EQ(firsts.first_ending_by(0.0, 1800.0)->id, JobId{3});
  EXPECT_EQ(firsts.first_ending_by(0.0, 1000.0)->id, JobId{2});
  EXPECT_EQ(firsts.first_ending_by(0.0, 599.0), nullptr);
  // After job 3 in the order, the next that ends in time is job 4.
  const Entry* after = firsts.first_ending_by_after(0.0, 1800.0, middle_and_early);
  ASSERT_NE(after, nullptr);
  EXPECT_EQ(after->id, JobId{4});

  firsts.set(1200.0, nullptr);  // the 1200 s jobs all left
  EXPECT_EQ(firsts.first_ending_by(0.0, 1800.0)->id, JobId{4});
  firsts.set(-1.0, nullptr);
  EXPECT_EQ(firsts.first().id, JobId{4});
}

// Through random changes (a limit's first job replaced, added, removed), the index answers
// as a search of every limit's first job does.
TEST(LimitFirsts, AnswersAsASearchOfEveryLimitThroughRandomChanges) {
  for (std::uint64_t seed = 1; seed <= 300; ++seed) {
    testing::RandomStream stream(seed);
    LimitFirsts firsts;
    std::map<double, Entry> by_limit;  // what the index should hold
    for (int step = 0; step < 60; ++step) {
      const double limit = stream.pick(0, 8) == 0 ? -1.0 : 100.0 * stream.pick(1, 10);
      if (stream.pick(0, 3) == 0) {
        firsts.set(limit, nullptr);
        by_limit.erase(limit);
      } else {
        const Entry one = entry(stream.pick(0, 50), stream.next_id());
        firsts.set(limit, &one);
        by_limit[limit] = one;
      }
      ASSERT_EQ(firsts.empty(), by_limit.empty()) << "seed " << seed;
      if (by_limit.empty()) continue;
      const Entry* first = nullptr;
      for (const auto& [one_limit, one] : by_limit) {
        if (first == nullptr || one < *first) first = &one;
      }
      EXPECT_EQ(firsts.first().id, first->id) << "seed " << seed << " step " << step;
      const double until = 100.0 * stream.pick(0, 11);
      const Entry* ending = nullptr;
      for (const auto& [one_limit, one] : by_limit) {
        if (one_limit >= 0 && one_limit <= until && (ending == nullptr || one < *ending)) {
          ending = &one;
        }
      }
      const Entry* answer = firsts.first_ending_by(0.0, until);
      ASSERT_EQ(answer == nullptr, ending == nullptr) << "seed " << seed << " step " << step;
      if (ending != nullptr) {
        EXPECT_EQ(answer->id, ending->id) << "seed " << seed << " step " << step;
      }
    }
  }
}

// The rows a walk reads past the reservation must follow the set through every change:
// a row out of step would let the walk step over a head it should have tried.
void expect_rows_follow_set(const Heads& heads) {
  ASSERT_EQ(heads.rows().size(), heads.size());
  std::size_t row = 0;
  for (auto at = heads.begin(); at != heads.end(); ++at, ++row) {
    const Heads::Row& copy = heads.rows()[row];
    EXPECT_EQ(copy.at, at) << "row " << row;
    EXPECT_EQ(copy.gpus, at->demand.gpus);
    EXPECT_EQ(copy.bytes, at->demand.bytes);
    EXPECT_EQ(copy.share, at->demand.share);
    EXPECT_EQ(copy.whole_memory, at->demand.whole_memory);
    EXPECT_EQ(copy.listed, at->key_group >= 0);
    EXPECT_EQ(heads.row_of(at), row);
  }
}

TEST(Heads, RowsFollowTheSetThroughEveryChange) {
  Heads heads;
  heads.keep_rows(true);
  auto head = [](double key, std::uint64_t id, int gpus, Bytes bytes) {
    Entry made = entry(key, id);
    made.demand.gpus = gpus;
    made.demand.bytes = bytes;
    made.demand.share = 0.25 * static_cast<double>(id % 4 + 1);
    return made;
  };
  heads.insert(head(5, 1, 1, 8 * kGiB));
  heads.insert(head(1, 2, 2, 16 * kGiB));
  heads.insert(heads.end(), head(9, 3, 4, 40 * kGiB));   // a hint, as a rebuild gives it
  heads.insert(heads.begin(), head(3, 4, 1, 2 * kGiB));  // a wrong hint still lands in place
  Entry listed = head(7, 5, 8, 80 * kGiB);
  listed.key_group = 0;
  heads.insert(listed);
  EXPECT_FALSE(heads.insert(head(5, 1, 1, 8 * kGiB)).second);  // already there: no new row
  expect_rows_follow_set(heads);
  EXPECT_EQ(heads.rows().front().at->id, JobId{2});
  EXPECT_EQ(heads.rows().back().at->id, JobId{3});

  EXPECT_EQ(heads.erase(head(3, 4, 1, 2 * kGiB)), 1u);
  EXPECT_EQ(heads.erase(head(3, 4, 1, 2 * kGiB)), 0u);
  expect_rows_follow_set(heads);

  // A key moved: out as a node, back in at its new place (State::rekey_group).
  auto node = heads.extract(listed);
  ASSERT_FALSE(node.empty());
  expect_rows_follow_set(heads);
  node.value().key = 0;
  heads.insert(std::move(node));
  expect_rows_follow_set(heads);
  EXPECT_EQ(heads.rows().front().at->id, JobId{5});
  EXPECT_TRUE(heads.rows().front().listed);

  heads.extract(heads.begin());
  expect_rows_follow_set(heads);

  // Not kept (a fair walk's churn), then kept again: made from the set as it stands.
  heads.keep_rows(false);
  EXPECT_TRUE(heads.rows().empty());
  heads.insert(head(4, 6, 2, 24 * kGiB));
  heads.erase(head(9, 3, 4, 40 * kGiB));
  heads.keep_rows(true);
  expect_rows_follow_set(heads);
  EXPECT_EQ(heads.rows().size(), 3u);

  heads.clear();
  EXPECT_TRUE(heads.rows().empty());
}

// A class's next first job takes its first's place in one step (State::leave_shape): the
// rows between the two places move, and the rest stay, whichever way the key moved.
TEST(Heads, AReplacedHeadTakesItsNewPlaceAndTheRowsFollow) {
  auto head = [](double key, std::uint64_t id) {
    Entry made = entry(key, id);
    made.demand.gpus = static_cast<int>(id % 3 + 1);
    made.demand.bytes = static_cast<Bytes>(id) * kGiB;
    made.demand.share = 0.1 * static_cast<double>(id % 5 + 1);
    return made;
  };
  auto ids = [](const Heads& heads) {
    std::vector<std::uint64_t> in_order;
    for (const Entry& one : heads) in_order.push_back(one.id.value());
    return in_order;
  };
  for (const bool rows : {true, false}) {
    Heads heads;
    heads.keep_rows(rows);
    for (std::uint64_t id = 1; id <= 6; ++id) heads.insert(head(static_cast<double>(id), id));
    heads.replace(head(2, 2), head(4.5, 12));  // later: rows 3..4 move back one
    EXPECT_EQ(ids(heads), (std::vector<std::uint64_t>{1, 3, 4, 12, 5, 6}));
    heads.replace(head(6, 6), head(0.5, 16));  // earlier: every row moves on one
    EXPECT_EQ(ids(heads), (std::vector<std::uint64_t>{16, 1, 3, 4, 12, 5}));
    heads.replace(head(0.5, 16), head(9, 26));  // first to last
    EXPECT_EQ(ids(heads), (std::vector<std::uint64_t>{1, 3, 4, 12, 5, 26}));
    heads.replace(head(4, 4), head(4.2, 14));  // the same place
    EXPECT_EQ(ids(heads), (std::vector<std::uint64_t>{1, 3, 14, 12, 5, 26}));
    heads.replace(head(7, 7), head(8, 17));  // not there: only the replacement goes in
    EXPECT_EQ(ids(heads), (std::vector<std::uint64_t>{1, 3, 14, 12, 5, 17, 26}));
    if (rows) expect_rows_follow_set(heads);
    EXPECT_EQ(heads.rows().empty(), !rows);
  }
}

TEST(LimitGroup, FirstJobAcrossTheOrderedRunAndLaterArrivals) {
  LimitGroup group;
  Entry a = entry(1, 1);
  Entry b = entry(2, 2);
  Entry c = entry(3, 3);
  group.append_in_order(a);
  group.append_in_order(b);
  group.append_in_order(c);
  EXPECT_EQ(group.first().id, JobId{1});
  group.erase(b);  // cancelled from the middle of the run
  EXPECT_EQ(group.first().id, JobId{1});
  Entry early = entry(0.5, 9);  // arrives later but ranks first
  group.insert(early);
  EXPECT_EQ(group.first().id, JobId{9});
  group.erase(early);
  group.erase(a);
  EXPECT_EQ(group.first().id, JobId{3});  // skips the cancelled job
  Entry late = entry(7, 10);
  group.insert(late);
  group.erase(c);
  ASSERT_FALSE(group.empty());
  EXPECT_EQ(group.first().id, JobId{10});
  group.erase(late);
  EXPECT_TRUE(group.empty());
}

// EASY backfill past a reservation: of one class's jobs that end before the reservation,
// the first in policy order gets the free GPU, whichever time limit it has.
TEST(KeptScheduler, BackfillsTheFirstJobThatEndsBeforeTheReservation) {
  Snapshot snapshot;
  snapshot.gpus = make_node("n0", 2);
  Job running = make_job(1, 1, 10 * kGiB);
  running.time_limit_s = 3600.0;
  snapshot.running = {make_running(running, {0})};
  Job blocked = make_job(2, 2, 10 * kGiB);  // needs both GPUs: reserved at t = 3600
  blocked.submit_time_s = 1;
  Job too_long = make_job(3, 1, 10 * kGiB);
  too_long.submit_time_s = 2;
  too_long.time_limit_s = 7200.0;
  Job short_first = make_job(4, 1, 10 * kGiB);
  short_first.submit_time_s = 3;
  short_first.time_limit_s = 600.0;
  Job longer_later = make_job(5, 1, 10 * kGiB);
  longer_later.submit_time_s = 4;
  longer_later.time_limit_s = 1800.0;
  snapshot.queue = {blocked, too_long, short_first, longer_later};
  SchedulerConfig config;
  config.policy = "fifo";
  auto result = schedule(snapshot, config);
  ASSERT_TRUE(result.ok()) << result.status().to_string();
  EXPECT_EQ(testing::started_ids(*result), (std::vector<std::uint64_t>{4}));
  ASSERT_TRUE(result->reservation.has_value());
  EXPECT_EQ(result->reservation->job, JobId{2});
  EXPECT_DOUBLE_EQ(result->reservation->start_s, 3600.0);
}

// A round skips memory pressure while no GPU reports its memory use; a measurement
// reported later through update_gpu() must bring it back, as in the pure call.
TEST(KeptScheduler, MemoryMeasuredLaterIsCheckedAsInThePureCall) {
  auto created = Scheduler::create(SchedulerConfig{}, make_node("n0", 1));
  ASSERT_TRUE(created.ok());
  Scheduler& scheduler = **created;
  Job job = make_job(1, 1, 10 * kGiB, 0.5);
  job.restartable = true;
  ASSERT_TRUE(scheduler.enqueue(job).ok());
  ASSERT_EQ(testing::started_ids(*scheduler.schedule(0.0)), (std::vector<std::uint64_t>{1}));
  ASSERT_TRUE(scheduler.set_used_bytes(JobId{1}, 30 * kGiB).ok());
  EXPECT_TRUE(scheduler.schedule(1.0)->decisions.empty());  // no GPU measured yet

  GpuState measured = testing::make_gpu(0);
  measured.used_bytes = 30 * kGiB;  // the job declared 10 GiB
  ASSERT_TRUE(scheduler.update_gpu(measured).ok());
  Snapshot snapshot = scheduler.snapshot();
  snapshot.now_s = 2.0;
  auto pure = schedule(snapshot, SchedulerConfig{});
  auto kept = scheduler.schedule(2.0);
  ASSERT_TRUE(pure.ok() && kept.ok());
  ASSERT_EQ(kept->decisions.size(), 1u);
  const auto* action = std::get_if<MemoryAction>(&kept->decisions.front());
  ASSERT_NE(action, nullptr);
  EXPECT_EQ(action->job, JobId{1});
  EXPECT_EQ(to_string(kept->decisions.front()), to_string(pure->decisions.front()));

  measured.used_bytes.reset();  // the probe lost the measurement: nothing to compare
  ASSERT_TRUE(scheduler.update_gpu(measured).ok());
  EXPECT_TRUE(scheduler.schedule(3.0)->decisions.empty());
}

// A job may depend on one that ended before the scheduler knew of it: add_finished() tells
// it how that job ended, and the dependency then holds as in a snapshot that lists it.
TEST(KeptScheduler, AJobEndedBeforeItsTimeCountsForItsDependents) {
  auto created = Scheduler::create(SchedulerConfig{}, make_node("n0", 2));
  ASSERT_TRUE(created.ok());
  Scheduler& scheduler = **created;
  Job after_ok = make_job(10);
  after_ok.dependencies = {{JobId{1}, DependencyKind::kAfterOk}};
  Job after_failed = make_job(11);
  after_failed.dependencies = {{JobId{2}, DependencyKind::kAfterOk}};
  EXPECT_FALSE(scheduler.enqueue(after_ok).ok());  // job 1 unknown
  EXPECT_FALSE(scheduler.knows(JobId{1}));

  ASSERT_TRUE(scheduler.add_finished({JobId{1}, EndState::kSucceeded, "ada", 0.0, -5.0}).ok());
  ASSERT_TRUE(scheduler.add_finished({JobId{2}, EndState::kFailed, "ada", 0.0, -5.0}).ok());
  EXPECT_TRUE(scheduler.knows(JobId{1}));
  const Status again = scheduler.add_finished({JobId{1}, EndState::kFailed, "ada", 0.0, 0.0});
  EXPECT_FALSE(again.ok());
  EXPECT_NE(again.message().find("job 1"), std::string::npos) << again.message();

  ASSERT_TRUE(scheduler.enqueue(after_ok).ok());
  ASSERT_TRUE(scheduler.enqueue(after_failed).ok());
  auto kept = scheduler.schedule(0.0);
  ASSERT_TRUE(kept.ok()) << kept.status().to_string();
  EXPECT_EQ(testing::started_ids(*kept), (std::vector<std::uint64_t>{10}));  // not 11
}

// Past the reservation a round first tries to prove that the queue's smallest demands fail
// (Round::prove_smallest_fail), which ends its walk. A job that arrives asking less than
// every other job moves those demands: the proof of the classes that failed before must
// not end the walk before it.
TEST(KeptScheduler, AJobAskingLessThanEveryOtherStartsPastTheReservation) {
  Snapshot snapshot;
  snapshot.gpus = make_node("n0", 2);
  Job exclusive = make_job(1, 1, 10 * kGiB);
  exclusive.time_limit_s = 3600.0;
  Job half = make_job(2, 1, 40 * kGiB, 0.5);
  half.time_limit_s = 7200.0;
  snapshot.running = {make_running(exclusive, {0}), make_running(half, {1})};
  Job both = make_job(3, 2, 60 * kGiB);  // waits for both GPUs: reserved at t = 7200
  both.submit_time_s = 1;
  Job large = make_job(4, 1, 50 * kGiB, 0.4);  // fits nowhere: 40 GiB left on GPU 1
  large.submit_time_s = 2;
  snapshot.queue = {both, large};
  SchedulerConfig config;
  config.policy = "fifo";
  auto created = Scheduler::from_snapshot(snapshot, config);
  ASSERT_TRUE(created.ok()) << created.status().to_string();
  Scheduler& scheduler = **created;
  for (double now : {0.0, 1.0}) {
    auto quiet = scheduler.schedule(now);
    ASSERT_TRUE(quiet.ok()) << quiet.status().to_string();
    EXPECT_TRUE(quiet->decisions.empty());
  }
  // The second call proved job 4's class (the smallest demand then) fails, and stopped.
  EXPECT_EQ(scheduler.state().smallest_proven_stops, 1u);
  Job small = make_job(5, 1, 10 * kGiB, 0.2);  // ends before the reservation, fits GPU 1
  small.submit_time_s = 3;
  small.time_limit_s = 600.0;
  ASSERT_TRUE(scheduler.enqueue(small).ok());
  Snapshot now = scheduler.snapshot();
  now.now_s = 2.0;
  auto pure = schedule(now, config);
  auto kept = scheduler.schedule(2.0);
  ASSERT_TRUE(pure.ok() && kept.ok());
  EXPECT_EQ(testing::started_ids(*pure), (std::vector<std::uint64_t>{5}));
  EXPECT_EQ(testing::started_ids(*kept), (std::vector<std::uint64_t>{5}));
}

}  // namespace
}  // namespace fastgpu::sched
