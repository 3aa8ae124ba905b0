// The store's behaviour on SQLite's in-memory database: what goes in comes out, batches are
// all-or-none, and state changes are compare-and-set.
#include "fastgpu/store/state_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>
#include <map>

#include "fastgpu/core/text.h"
#include "store/store_test_util.h"

namespace fastgpu::store {
namespace {

using testing::at_seconds;
using ::testing::ElementsAre;
using testing::full_spec;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;

JobFilter with_states(std::vector<JobState> states) {
  JobFilter filter;
  filter.states = std::move(states);
  return filter;
}

class StateStoreTest : public ::testing::Test {
 protected:
  // A new array of three tasks named "sweep", each waiting as `dependency` says.
  static std::vector<JobSpec> sweep_after(const Dependency& dependency) {
    std::vector<JobSpec> array;
    for (std::uint32_t i = 0; i < 3; ++i) {
      JobSpec spec = full_spec(static_cast<int>(i));
      spec.name = "sweep";
      spec.array = ArrayMember{0, i, 0};
      spec.dependencies = {dependency};
      array.push_back(spec);
    }
    return array;
  }

  JobId submit_one(const JobSpec& spec) {
    auto ids = store_->submit(std::span(&spec, 1));
    EXPECT_TRUE(ids.ok()) << ids.status().to_string();
    return ids->at(0);
  }

  std::unique_ptr<StateStore> store_ = testing::open_or_die(":memory:");
};

TEST_F(StateStoreTest, SubmittedSpecComesBackFieldForField) {
  JobSpec first = full_spec(1);
  const JobId first_id = submit_one(first);
  JobSpec spec = full_spec(2);
  spec.dependencies = {{first_id, DependencyKind::kAfterAny, std::nullopt}};
  spec.array = ArrayMember{first_id.value(), 7, 0};
  const JobId id = submit_one(spec);

  auto record = store_->get_job(id);
  ASSERT_TRUE(record.ok()) << record.status().to_string();
  EXPECT_EQ(record->id, id);
  EXPECT_EQ(record->spec, spec);
  EXPECT_EQ(record->state, JobState::kQueued);
  EXPECT_EQ(record->attempts, 0u);
  EXPECT_FALSE(record->start_time.has_value());
}

TEST_F(StateStoreTest, AJobSubmittedHeldComesBackHeldByItsSubmitter) {
  JobSpec spec = full_spec(1);
  spec.held_by = spec.uid;
  const JobId id = submit_one(spec);
  Result<JobRecord> record = store_->get_job(id);
  ASSERT_TRUE(record.ok()) << record.status().to_string();
  EXPECT_EQ(record->spec.held_by, std::optional<std::uint32_t>(1001));
  EXPECT_EQ(record->spec, spec);
}

// `fastgpu resubmit`: the new job names the one it runs again, and that one lists each job
// that ran it again, in id order; a job run again by none lists none.
TEST_F(StateStoreTest, AResubmittedJobNamesItsJobAndThatJobListsItsRunsAgain) {
  const JobId first = submit_one(full_spec(1));
  const JobId other = submit_one(full_spec(2));
  JobSpec again = full_spec(3);
  again.resubmitted_from = first;
  const JobId second = submit_one(again);
  const JobId third = submit_one(again);
  EXPECT_EQ(store_->get_job(second)->spec.resubmitted_from, std::optional<JobId>(first));
  EXPECT_EQ(store_->get_job(second)->spec, again);
  EXPECT_EQ(*store_->resubmissions_of(first), (std::vector<JobId>{second, third}));
  EXPECT_TRUE(store_->resubmissions_of(other)->empty());
  EXPECT_TRUE(store_->resubmissions_of(second)->empty());
}

TEST_F(StateStoreTest, AChangedQueuedJobStaysQueuedWithTheNewValuesAndItsEvent) {
  const JobId id = submit_one(full_spec(1));
  QueuedJobChange change;
  change.held_by = std::optional<std::uint32_t>(0);
  change.priority = 9;
  change.time_limit_s = std::optional<std::int64_t>();
  change.kill_grace_s = std::optional<std::int64_t>(300);
  change.deadline = std::optional<WallTime>();
  change.event = Event{0, at_seconds(5), "job.change", id, R"({"uid":0})"};
  ASSERT_TRUE(store_->change_queued(id, change).ok());

  Result<JobRecord> record = store_->get_job(id);
  ASSERT_TRUE(record.ok()) << record.status().to_string();
  JobSpec expected = full_spec(1);
  expected.held_by = 0;
  expected.priority = 9;
  expected.time_limit_s.reset();
  expected.kill_grace_s = 300;
  expected.deadline.reset();
  EXPECT_EQ(record->spec, expected);
  EXPECT_EQ(record->state, JobState::kQueued);
  Result<std::vector<Event>> events = store_->events_since(0, 10);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ(events->front().kind, "job.change");
  EXPECT_EQ(events->front().job, std::optional<JobId>(id));

  // Fields left out are kept; a release clears the hold alone.
  QueuedJobChange release;
  release.held_by = std::optional<std::uint32_t>();
  ASSERT_TRUE(store_->change_queued(id, release).ok());
  expected.held_by.reset();
  EXPECT_EQ(store_->get_job(id)->spec, expected);
}

TEST_F(StateStoreTest, OnlyAQueuedJobIsChangedAndAnInvalidChangeWritesNothing) {
  const JobId id = submit_one(full_spec(1));
  QueuedJobChange bad;
  bad.time_limit_s = std::optional<std::int64_t>(0);
  bad.event = Event{0, at_seconds(5), "job.change", id, "{}"};
  const Status refused = store_->change_queued(id, bad);
  EXPECT_EQ(refused.code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(refused.message(), HasSubstr("job " + to_string(id) + ": time limit 0 s"));
  EXPECT_EQ(store_->get_job(id)->spec, full_spec(1));
  EXPECT_TRUE(store_->events_since(0, 10)->empty());

  QueuedJobChange hold;
  hold.held_by = std::optional<std::uint32_t>(1001);
  ASSERT_TRUE(store_->record_start(id, {{0}, at_seconds(10), "", {}, {}, {}}).ok());
  const Status running = store_->change_queued(id, hold);
  EXPECT_EQ(running.code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(running.message(), HasSubstr("is RUNNING, not QUEUED"));
  EXPECT_FALSE(store_->get_job(id)->spec.held_by.has_value());
  EXPECT_EQ(store_->change_queued(JobId(999), hold).code(), ErrorCode::kNotFound);
}

// A running job's time limit (fastgpu update --time): a compare-and-set on RUNNING, with
// its event, the limit checked as a submitted one is; nothing else of the job changes.
TEST_F(StateStoreTest, ARunningJobsTimeLimitChangesWithItsEventAndNothingElse) {
  const JobId id = submit_one(full_spec(1));
  const Status queued = store_->change_running_limit(id, 60, std::nullopt);
  EXPECT_EQ(queued.code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(queued.message(), HasSubstr("is QUEUED, not RUNNING"));
  ASSERT_TRUE(store_->record_start(id, {{0}, at_seconds(10), "", {}, {}, {}}).ok());
  ASSERT_TRUE(store_
                  ->change_running_limit(
                      id, 7200, Event{0, at_seconds(20), "job.change", id, R"({"running":true})"})
                  .ok());
  JobSpec expected = full_spec(1);
  expected.time_limit_s = 7200;
  EXPECT_EQ(store_->get_job(id)->spec, expected);
  const Result<std::vector<Event>> events = store_->events_since(0, 100);
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->back().message_json, R"({"running":true})");

  const Status bad = store_->change_running_limit(id, -1, std::nullopt);
  EXPECT_EQ(bad.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(store_->get_job(id)->spec.time_limit_s, 7200);
  ASSERT_TRUE(store_->change_running_limit(id, std::nullopt, std::nullopt).ok());
  EXPECT_EQ(store_->get_job(id)->spec.time_limit_s, std::nullopt);
  EXPECT_EQ(store_->change_running_limit(JobId(999), 60, std::nullopt).code(),
            ErrorCode::kNotFound);
}

TEST_F(StateStoreTest, ShellJobWithAutoMemoryAndNoOptionalFieldsRoundTrips) {
  JobSpec spec;
  spec.shell_command = "echo $HOME | tr a-z A-Z";
  spec.working_dir = "/tmp";
  spec.gpus = 0;
  const JobId id = submit_one(spec);
  auto record = store_->get_job(id);
  ASSERT_TRUE(record.ok());
  EXPECT_EQ(record->spec, spec);
  EXPECT_FALSE(record->spec.gpu_mem.has_value());
}

TEST_F(StateStoreTest, RunLifecycleFieldsRoundTrip) {
  const JobId id = submit_one(full_spec(1));
  ASSERT_TRUE(
      store_
          ->record_start(
              id,
              {{3, 1}, at_seconds(100), "/logs/1.log", std::nullopt, std::nullopt, std::nullopt})
          .ok());
  ASSERT_TRUE(store_->record_pids(id, 4242, 4243, at_seconds(101)).ok());
  JobEnd end{JobState::kFailed,
             at_seconds(160),
             3,
             std::nullopt,
             JobAccounting{Bytes{7} << 30, 120.0, 5400.5, true, 87.5},
             "exit 3",
             {}};
  ASSERT_TRUE(store_->record_end(id, end).ok());

  auto record = store_->get_job(id);
  ASSERT_TRUE(record.ok());
  EXPECT_EQ(record->state, JobState::kFailed);
  EXPECT_THAT(record->placed_gpus, ElementsAre(3u, 1u));
  EXPECT_EQ(record->start_time, at_seconds(101));  // the process's start, not the claim's
  EXPECT_EQ(record->end_time, at_seconds(160));
  EXPECT_EQ(record->exit_code, 3);
  EXPECT_FALSE(record->signal.has_value());
  EXPECT_EQ(record->supervisor_pid, 4242);
  EXPECT_EQ(record->job_pid, 4243);
  EXPECT_EQ(record->log_path, "/logs/1.log");
  EXPECT_EQ(record->accounting, end.accounting);
  EXPECT_EQ(record->attempts, 1u);
}

// What `show` tells a user about a job that ended: when, and why, however it ended.
TEST_F(StateStoreTest, AnEndedJobHasTheEndTimeAndReasonOfItsLastTransition) {
  const JobId ran = submit_one(full_spec(1));
  ASSERT_TRUE(store_->record_start(ran, {{0}, at_seconds(10), "", {}, {}, {}}).ok());
  EXPECT_EQ(store_->get_job(ran)->end_reason, "");  // running: no reason yet
  ASSERT_TRUE(store_
                  ->record_end(ran, {JobState::kTimeout,
                                     at_seconds(20),
                                     {},
                                     15,
                                     {},
                                     "killed at its time limit of 10 s",
                                     {}})
                  .ok());
  EXPECT_EQ(store_->get_job(ran)->end_reason, "killed at its time limit of 10 s");

  // A job that never ran ends by a transition: its end is that transition's moment.
  const JobId never_ran = submit_one(full_spec(2));
  ASSERT_TRUE(store_
                  ->transition(never_ran, JobState::kQueued, JobState::kCancelled, at_seconds(30),
                               "dependency 1 failed: it ended TIMEOUT")
                  .ok());
  Result<JobRecord> cancelled = store_->get_job(never_ran);
  ASSERT_TRUE(cancelled.ok());
  EXPECT_EQ(cancelled->end_time, at_seconds(30));
  EXPECT_FALSE(cancelled->start_time.has_value());
  EXPECT_EQ(cancelled->end_reason, "dependency 1 failed: it ended TIMEOUT");
  // Listings carry the same reason as get_job.
  Result<std::vector<JobRecord>> listed = store_->list_jobs(with_states({JobState::kCancelled}));
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front(), *cancelled);
}

TEST_F(StateStoreTest, APreemptedRunKeepsItsEndAndARequeuedJobHasNoEndReason) {
  const JobId id = submit_one(full_spec(1));
  ASSERT_TRUE(store_->record_start(id, {{0}, at_seconds(10), "", {}, {}, {}}).ok());
  ASSERT_TRUE(
      store_->record_end(id, {JobState::kPreempted, at_seconds(20), {}, 15, {}, "preempted", {}})
          .ok());
  EXPECT_EQ(store_->get_job(id)->end_reason, "preempted");
  // Failed later (a daemon restarted after an hour): the run still ended at 20 s.
  ASSERT_TRUE(store_
                  ->transition(id, JobState::kPreempted, JobState::kFailed, at_seconds(3600),
                               "preempted, and not restartable")
                  .ok());
  EXPECT_EQ(store_->get_job(id)->end_time, at_seconds(20));
  EXPECT_EQ(store_->get_job(id)->end_reason, "preempted, and not restartable");

  const JobId requeued = submit_one(full_spec(2));
  ASSERT_TRUE(store_->record_start(requeued, {{0}, at_seconds(10), "", {}, {}, {}}).ok());
  ASSERT_TRUE(store_
                  ->record_end(requeued,
                               {JobState::kPreempted, at_seconds(20), {}, 15, {}, "preempted", {}})
                  .ok());
  ASSERT_TRUE(store_
                  ->transition(requeued, JobState::kPreempted, JobState::kQueued, at_seconds(21),
                               "requeued after preemption")
                  .ok());
  EXPECT_EQ(store_->get_job(requeued)->end_reason, "");
  // Cancelled while queued again, an hour later: its run still ended at 20 s (history's RUN
  // said 1h, the time it waited in the queue added to its run).
  ASSERT_TRUE(store_
                  ->transition(requeued, JobState::kQueued, JobState::kCancelled, at_seconds(3600),
                               "cancelled by uid 0")
                  .ok());
  EXPECT_EQ(store_->get_job(requeued)->end_time, at_seconds(20));
  // A job that never ran ends at its cancel.
  const JobId never_ran = submit_one(full_spec(3));
  ASSERT_TRUE(store_
                  ->transition(never_ran, JobState::kQueued, JobState::kCancelled, at_seconds(50),
                               "cancelled by uid 0")
                  .ok());
  EXPECT_EQ(store_->get_job(never_ran)->end_time, at_seconds(50));
}

// A job preempted and run again kept only its last run's GPU time and energy: show, history
// and run's report undercounted what it used (55 s of GPU time for 5 s + 55 s of runs).
TEST_F(StateStoreTest, AJobsAccountingCoversAllItsRuns) {
  const JobId id = submit_one(full_spec(1));
  const auto run = [&](std::int64_t at, JobState state, const JobAccounting& use) {
    ASSERT_TRUE(store_->record_start(id, {{0}, at_seconds(at), "", {}, {}, {}}).ok());
    ASSERT_TRUE(store_->record_end(id, {state, at_seconds(at + 10), {}, 15, use, "", {}}).ok());
  };
  run(0, JobState::kPreempted, {Bytes{8} << 30, 10.0, 100.0, false, 90.0});
  ASSERT_TRUE(store_
                  ->transition(id, JobState::kPreempted, JobState::kQueued, at_seconds(11),
                               "requeued after preemption")
                  .ok());
  run(20, JobState::kPreempted, {Bytes{4} << 30, 30.0, std::nullopt, false, 50.0});
  ASSERT_TRUE(store_
                  ->transition(id, JobState::kPreempted, JobState::kQueued, at_seconds(31),
                               "requeued after preemption")
                  .ok());
  run(40, JobState::kCompleted, {std::nullopt, 20.0, 50.0, true, std::nullopt});
  const JobAccounting total = store_->get_job(id)->accounting;
  EXPECT_EQ(total.peak_gpu_mem, Bytes{8} << 30);
  EXPECT_DOUBLE_EQ(total.gpu_seconds.value_or(0), 60.0);
  EXPECT_DOUBLE_EQ(total.energy_joules.value_or(0), 150.0);
  EXPECT_TRUE(total.energy_is_estimate);
  EXPECT_DOUBLE_EQ(total.mean_util_percent.value_or(0), (90.0 * 10 + 50.0 * 30) / 40);
}

// A run whose energy is only a lower bound (a GPU's counter unreadable) makes the job's a
// lower bound: runs of 100 J exact, at least 50 J (GPU 1 unread), then 30 J exact (GPU 3
// unread in none) are at least 100 + 50 + 30 = 180 J, never an exact 130 J.
TEST_F(StateStoreTest, ARunsLowerBoundOnEnergyMakesTheJobsALowerBound) {
  const JobId id = submit_one(full_spec(1));
  const auto run = [&](std::int64_t at, JobState state, JobAccounting use) {
    ASSERT_TRUE(store_->record_start(id, {{0}, at_seconds(at), "", {}, {}, {}}).ok());
    ASSERT_TRUE(store_->record_end(id, {state, at_seconds(at + 10), {}, 15, use, "", {}}).ok());
  };
  const auto requeue = [&](std::int64_t at) {
    ASSERT_TRUE(store_
                    ->transition(id, JobState::kPreempted, JobState::kQueued, at_seconds(at),
                                 "requeued after preemption")
                    .ok());
  };
  run(0, JobState::kPreempted, {std::nullopt, 10.0, 100.0, false, std::nullopt});
  requeue(11);
  JobAccounting bounded{std::nullopt, 10.0, std::nullopt, true, std::nullopt};
  bounded.energy_at_least_joules = 50.0;
  bounded.energy_unread_gpus = {1};
  run(20, JobState::kPreempted, bounded);
  requeue(31);
  run(40, JobState::kCompleted, {std::nullopt, 10.0, 30.0, false, std::nullopt});
  const JobAccounting total = store_->get_job(id)->accounting;
  EXPECT_FALSE(total.energy_joules.has_value());
  EXPECT_DOUBLE_EQ(total.energy_at_least_joules.value_or(0), 180.0);
  EXPECT_EQ(total.energy_unread_gpus, std::vector<std::uint32_t>{1});
  EXPECT_TRUE(total.energy_is_estimate);
}

TEST_F(StateStoreTest, BatchWithOneInvalidJobStoresNothing) {
  std::vector<JobSpec> batch = {full_spec(1), full_spec(2), full_spec(3)};
  batch[2].environment = {"NOT_A_PAIR"};
  auto ids = store_->submit(batch);
  ASSERT_FALSE(ids.ok());
  EXPECT_THAT(ids.status().message(), HasSubstr("NOT_A_PAIR"));
  auto jobs = store_->list_jobs({});
  ASSERT_TRUE(jobs.ok());
  EXPECT_TRUE(jobs->empty());
}

TEST_F(StateStoreTest, BatchDependingOnUnknownJobStoresNothingAndNamesTheId) {
  std::vector<JobSpec> batch = {full_spec(1), full_spec(2)};
  batch[1].dependencies = {{JobId(999), DependencyKind::kAfterOk, std::nullopt}};
  auto ids = store_->submit(batch);
  ASSERT_FALSE(ids.ok());
  EXPECT_THAT(ids.status().message(),
              HasSubstr("job 2 of 2 in the batch '" + batch[1].name +
                        "' depends on job 999, which does not exist; check the id (nothing was "
                        "submitted)"));
  EXPECT_TRUE(store_->list_jobs({})->empty());
  EXPECT_EQ(ids.status().code(), ErrorCode::kInvalidArgument);
  // The rolled-back batch left no trace: the next job is the first one.
  EXPECT_EQ(submit_one(full_spec(3)), JobId(1));
}

// Every job of a batch with an impossible dependency is told at once (it stopped at the
// first), an array's members once for all; still nothing is stored.
TEST_F(StateStoreTest, EveryUnknownDependencyOfABatchIsToldAtOnce) {
  std::vector<JobSpec> batch = {full_spec(1), full_spec(2), full_spec(3), full_spec(4)};
  batch[1].dependencies = {{JobId(998), DependencyKind::kAfterOk, std::nullopt}};
  for (std::size_t i : {2u, 3u}) {
    batch[i].array = ArrayMember{0, static_cast<std::uint32_t>(i - 2), 0};
    batch[i].dependencies = {{JobId(999), DependencyKind::kAfterAny, std::nullopt}};
  }
  auto ids = store_->submit(batch);
  ASSERT_FALSE(ids.ok());
  const Status& refused = ids.status();
  EXPECT_EQ(refused.code(), ErrorCode::kInvalidArgument);
  ASSERT_EQ(refused.batch_jobs().size(), 2u) << refused.message();
  EXPECT_EQ(refused.batch_jobs()[0].index, 1u);
  EXPECT_EQ(refused.batch_jobs()[1].index, 2u);
  EXPECT_THAT(refused.message(), HasSubstr("depends on job 998, which does not exist"));
  EXPECT_THAT(refused.message(),
              HasSubstr("\ntask [0] of the array '" + batch[2].name + "' depends on job 999"));
  EXPECT_THAT(refused.message(), Not(HasSubstr("task [1]")));
  EXPECT_TRUE(store_->list_jobs({})->empty());
  EXPECT_EQ(submit_one(full_spec(5)), JobId(1));
}

// A name with control characters came in through the API (the job file and the CLI refuse
// them) and was printed raw in root's tables: an escape sequence drove the terminal, and a
// newline faked a row. The store refuses it, naming it printably.
TEST_F(StateStoreTest, ANameWithAControlCharacterIsRefused) {
  for (const std::string name : {"\x1b[2Jfake", "two\nlines", "bell\x07", "csi\xc2\x9b"}) {
    JobSpec spec = full_spec(1);
    spec.name = name;
    auto ids = store_->submit(std::vector<JobSpec>{spec});
    ASSERT_FALSE(ids.ok()) << printable(name);
    EXPECT_EQ(ids.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(ids.status().message(),
                HasSubstr("('" + printable(name) + "'): name '" + printable(name) + "' "));
    EXPECT_THAT(ids.status().message(), ::testing::ContainsRegex("contains a space or control "
                                                                 "character|holds a control "
                                                                 "character"));
    EXPECT_EQ(ids.status().message().find('\x1b'), std::string::npos);
  }
  JobSpec fine = full_spec(1);
  fine.name = "d\xc3\xa9j\xc3\xa0-vu";  // letters of any script are fine
  EXPECT_TRUE(store_->submit(std::vector<JobSpec>{fine}).ok());
}

// The API took names and memory that `fastgpu submit` and job files refuse: a name of
// digits (read as a job id by after and cancel --name), names with a space, ':' or ','
// (they split after's targets and --name lists), and 0 bytes of GPU memory, which packed
// the job onto any GPU whatever it used.
TEST_F(StateStoreTest, NamesAndMemoryTheCliRefusesAreRefusedAtTheStoreToo) {
  const std::vector<std::pair<std::string, std::string>> names = {
      {"42", "name '42' is only digits"},
      {"has space", "contains a space or control character"},
      {"a:b", "contains ':'"},
      {"a,b", "contains ','"},
      {std::string(129, 'x'), "is 129 characters long; use at most 128"}};
  for (const auto& [name, problem] : names) {
    JobSpec spec = full_spec(1);
    spec.name = name;
    auto ids = store_->submit(std::vector<JobSpec>{spec});
    ASSERT_FALSE(ids.ok()) << name;
    EXPECT_EQ(ids.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(ids.status().message(), HasSubstr(problem));
  }
  JobSpec zero = full_spec(1);
  zero.gpus = 1;
  zero.gpu_mem = 0;
  auto refused = store_->submit(std::vector<JobSpec>{zero});
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("gpu_mem is 0 bytes; declare the most memory"));
  EXPECT_TRUE(store_->list_jobs({})->empty());

  JobSpec unnamed = full_spec(1);  // no name at all is fine: the API may leave it out
  unnamed.name.clear();
  EXPECT_TRUE(store_->submit(std::vector<JobSpec>{unnamed}).ok());
}

// check_records() tells what submit_records() would refuse, and stores nothing either way:
// not a refused batch, not a good one, and no id is spent.
TEST_F(StateStoreTest, CheckingABatchRefusesAsSubmitWouldAndStoresNothing) {
  std::vector<JobSpec> batch = {full_spec(1), full_spec(2)};
  EXPECT_TRUE(store_->check_records(batch).ok());
  EXPECT_TRUE(store_->list_jobs({})->empty());
  batch[1].dependencies = {{JobId(999), DependencyKind::kAfterOk, std::nullopt}};
  const Status checked = store_->check_records(batch);
  ASSERT_FALSE(checked.ok());
  EXPECT_EQ(checked.message(), store_->submit(batch).status().message());
  ASSERT_EQ(checked.batch_jobs().size(), 1u);
  EXPECT_EQ(checked.batch_jobs()[0].index, 1u);
  EXPECT_TRUE(store_->list_jobs({})->empty());
  EXPECT_EQ(submit_one(full_spec(3)), JobId(1));
}

// A job given the id it is about to get as its dependency would wait for itself for ever:
// refused as the unknown id it was when submitted, alone or as an array's task.
// Waiting to succeed on a job that already ended otherwise was accepted, and the job was
// cancelled at the next pass; refused at submit, pointing at afterany, which is accepted.
TEST_F(StateStoreTest, WaitingToSucceedOnAJobThatEndedOtherwiseIsRefused) {
  const JobId cancelled = submit_one(full_spec(1));
  ASSERT_TRUE(
      store_->transition(cancelled, JobState::kQueued, JobState::kCancelled, at_seconds(5), "user")
          .ok());
  JobSpec waiting = full_spec(2);
  waiting.name.clear();
  waiting.dependencies = {{cancelled, DependencyKind::kAfterOk, std::nullopt}};
  auto refused = store_->submit(std::vector<JobSpec>{waiting});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(),
              HasSubstr("the job waits for job 1 to succeed, but it already ended CANCELLED, so it "
                        "could never run; write afterany:1 to run it after that job anyway "
                        "(nothing was submitted)"));
  EXPECT_EQ(store_->list_jobs({})->size(), 1u);

  waiting.dependencies = {{cancelled, DependencyKind::kAfterAny, std::nullopt}};
  EXPECT_EQ(submit_one(waiting), JobId(2));
}

TEST_F(StateStoreTest, AJobThatWouldDependOnItselfIsRefused) {
  JobSpec alone = full_spec(1);
  alone.name.clear();
  alone.dependencies = {{JobId(1), DependencyKind::kAfterAny, std::nullopt}};
  auto one = store_->submit(std::vector<JobSpec>{alone});
  ASSERT_FALSE(one.ok());
  EXPECT_EQ(one.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(one.status().message(),
              HasSubstr("the job depends on job 1, which does not exist: 1 is the id it would get "
                        "itself; check the id (nothing was submitted)"));
  EXPECT_TRUE(store_->list_jobs({})->empty());

  auto tasks = store_->submit(sweep_after({JobId(1), DependencyKind::kAfterOk, std::nullopt}));
  ASSERT_FALSE(tasks.ok());
  EXPECT_THAT(tasks.status().message(), HasSubstr("task [0] of the array 'sweep' depends on job 1, "
                                                  "which does not exist: 1 is the id"));
  EXPECT_TRUE(store_->list_jobs({})->empty());

  // Nor on the id an earlier job of the same batch gets: that job did not exist when the
  // file was written, and on a busier queue the same file would wait for an older job.
  JobSpec later = full_spec(2);
  later.dependencies = {{JobId(1), DependencyKind::kAfterOk, std::nullopt}};
  auto batch = store_->submit(std::vector<JobSpec>{full_spec(1), later});
  ASSERT_FALSE(batch.ok());
  EXPECT_THAT(batch.status().message(),
              HasSubstr("depends on job 1, which does not exist: 1 is the id job 1 of this batch "
                        "gets; wait for a job of the same file by its name (after: NAME)"));
  EXPECT_TRUE(store_->list_jobs({})->empty());

  // A later job may depend on an earlier one, as before.
  const JobId first = submit_one(full_spec(1));
  JobSpec second = full_spec(2);
  second.dependencies = {{first, DependencyKind::kAfterOk, std::nullopt}};
  EXPECT_EQ(submit_one(second), JobId(first.value() + 1));
}

TEST_F(StateStoreTest, AnUnknownDependencyNamesTheJobAsTheUserSubmittedIt) {
  JobSpec alone = full_spec(1);
  alone.name.clear();
  alone.dependencies = {{JobId(999), DependencyKind::kAfterOk, std::nullopt}};
  const std::vector<JobSpec> single = {alone};
  auto one = store_->submit(single);
  ASSERT_FALSE(one.ok());
  EXPECT_THAT(one.status().message(), ::testing::StartsWith("the job depends on job 999"));

  auto tasks = store_->submit(sweep_after({JobId(999), DependencyKind::kAfterAny, std::nullopt}));
  ASSERT_FALSE(tasks.ok());
  EXPECT_THAT(tasks.status().message(),
              ::testing::StartsWith("task [0] of the array 'sweep' depends on job 999"));
  EXPECT_TRUE(store_->list_jobs({})->empty());
}

TEST_F(StateStoreTest, BatchCarriesItsOwnDependenciesAndArray) {
  std::vector<JobSpec> batch;
  for (std::uint32_t i = 0; i < 3; ++i) {
    JobSpec spec = full_spec(static_cast<int>(i));
    spec.array = ArrayMember{0, i, 0};
    batch.push_back(spec);
  }
  JobSpec after = full_spec(9);
  after.dependencies = {{JobId(), DependencyKind::kAfterOk, 0},
                        {JobId(), DependencyKind::kAfterAny, 2}};
  batch.push_back(after);
  auto ids = store_->submit(batch);
  ASSERT_TRUE(ids.ok()) << ids.status().to_string();
  ASSERT_EQ(ids->size(), 4u);

  auto array = store_->list_jobs([&] {
    JobFilter filter;
    filter.array_id = ids->at(0).value();
    return filter;
  }());
  ASSERT_TRUE(array.ok());
  ASSERT_EQ(array->size(), 3u);
  EXPECT_EQ(array->at(2).spec.array, (ArrayMember{ids->at(0).value(), 2, 0}));
  auto last = store_->get_job(ids->at(3));
  ASSERT_TRUE(last.ok());
  EXPECT_THAT(last->spec.dependencies,
              ElementsAre(Dependency{ids->at(0), DependencyKind::kAfterOk, std::nullopt},
                          Dependency{ids->at(2), DependencyKind::kAfterAny, std::nullopt}));
}

// The engine keeps the queue in memory from what submit_records returns instead of reading
// the batch back, so each record must be exactly what get_job() reads.
TEST_F(StateStoreTest, SubmittedRecordsAreWhatTheStoreReadsBack) {
  const JobId earlier = submit_one(full_spec(1));
  const JobId older = submit_one(full_spec(2));
  JobSpec joins_old_array = full_spec(3);
  joins_old_array.array = ArrayMember{earlier.value(), 5, 0};

  std::vector<JobSpec> batch{joins_old_array};
  for (std::uint32_t i = 0; i < 3; ++i) {
    JobSpec member = full_spec(10 + static_cast<int>(i));
    member.array = ArrayMember{0, i, 2};  // a new array, %2
    batch.push_back(member);
  }
  JobSpec waits = full_spec(20);
  waits.gpu_mem.reset();  // "auto"
  waits.deadline.reset();
  waits.time_limit_s.reset();
  // Given out of order: the store reads them back ordered by the job waited for.
  waits.dependencies = {{JobId(), DependencyKind::kAfterAny, 3},
                        {older, DependencyKind::kAfterOk, std::nullopt},
                        {JobId(), DependencyKind::kAfterOk, 1},
                        {earlier, DependencyKind::kAfterAny, std::nullopt}};
  batch.push_back(waits);
  JobSpec shell;
  shell.shell_command = "echo \"$HOME\" | tr a-z A-Z";
  shell.working_dir = "/tmp";
  shell.gpus = 0;
  batch.push_back(shell);

  Result<std::vector<JobRecord>> records = store_->submit_records(batch);
  ASSERT_TRUE(records.ok()) << records.status().to_string();
  ASSERT_EQ(records->size(), batch.size());
  for (const JobRecord& record : *records) {
    EXPECT_EQ(record, store_->get_job(record.id).value()) << "job " << to_string(record.id);
  }
  EXPECT_EQ(records->at(1).spec.array->array_id, records->at(1).id.value());
  EXPECT_EQ(records->at(3).spec.array->array_id, records->at(1).id.value());
}

TEST_F(StateStoreTest, DependencyOnLaterBatchJobIsRefused) {
  std::vector<JobSpec> batch = {full_spec(1), full_spec(2)};
  batch[0].dependencies = {{JobId(), DependencyKind::kAfterOk, 1}};
  auto ids = store_->submit(batch);
  ASSERT_FALSE(ids.ok());
  EXPECT_THAT(ids.status().message(), HasSubstr("does not come earlier"));
}

// A job listed twice once reached the insert and failed with SQLite's "UNIQUE constraint
// failed: dependencies.job, dependencies.after" (a 400 of POST /v1/jobs said only that).
TEST_F(StateStoreTest, DependencyListedTwiceIsRefusedByName) {
  std::vector<JobSpec> batch = {full_spec(1), full_spec(2)};
  const std::vector<JobSpec> one = {full_spec(0)};
  auto first = store_->submit(one);
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  const JobId earlier = first->front();
  batch[1].dependencies = {{earlier, DependencyKind::kAfterOk, std::nullopt},
                           {earlier, DependencyKind::kAfterAny, std::nullopt}};
  auto ids = store_->submit(batch);
  ASSERT_FALSE(ids.ok());
  EXPECT_THAT(ids.status().message(), HasSubstr("depends on job " + to_string(earlier) + " twice"));
  batch[1].dependencies = {{JobId(), DependencyKind::kAfterOk, 0},
                           {JobId(), DependencyKind::kAfterOk, 0}};
  ids = store_->submit(batch);
  ASSERT_FALSE(ids.ok());
  EXPECT_THAT(ids.status().message(), HasSubstr("depends on batch job 0 twice"));
}

TEST_F(StateStoreTest, SpecChecksNameTheProblem) {
  JobSpec both = full_spec(1);
  both.shell_command = "true";
  EXPECT_THAT(validate_job_spec(both, 0).message(), HasSubstr("both"));
  JobSpec share = full_spec(1);
  share.util_share = 1.5;
  EXPECT_THAT(validate_job_spec(share, 0).message(), HasSubstr("util share"));
  JobSpec limit = full_spec(1);
  limit.time_limit_s = 0;
  EXPECT_THAT(validate_job_spec(limit, 0).message(), HasSubstr("time limit"));
  EXPECT_TRUE(validate_job_spec(full_spec(1), 0).ok());
}

// The API took time_limit_s 9223372036854775807, and `show` said the next job would get its
// GPUs "in about 9223372036854775808s"; `submit --time` refuses above a year.
TEST_F(StateStoreTest, ATimeLimitAboveAYearIsRefused) {
  JobSpec limit = full_spec(1);
  limit.time_limit_s = kMaxTimeLimitSeconds;
  EXPECT_TRUE(validate_job_spec(limit, 0).ok());
  limit.time_limit_s = kMaxTimeLimitSeconds + 1;
  EXPECT_THAT(validate_job_spec(limit, 0).message(), HasSubstr("longer than a year"));
  limit.time_limit_s = std::numeric_limits<std::int64_t>::max();
  EXPECT_THAT(validate_job_spec(limit, 0).message(), HasSubstr("longer than a year"));
}

// The API took deadline_us 9223372036854775807, and `show` printed the year 294247.
TEST_F(StateStoreTest, ADeadlineBeforeTheEpochOrCenturiesAwayIsRefused) {
  JobSpec job = full_spec(1);
  const WallTime latest = job.submit_time + std::chrono::seconds(kMaxDeadlineAheadSeconds);
  job.deadline = latest;
  EXPECT_TRUE(validate_job_spec(job, 0).ok());
  job.deadline = latest + std::chrono::microseconds(1);
  EXPECT_THAT(validate_job_spec(job, 0).message(),
              HasSubstr("more than 100 years after the submission; the latest allowed is " +
                        std::to_string(latest.time_since_epoch().count())));
  job.deadline = WallTime::max();
  EXPECT_THAT(validate_job_spec(job, 0).message(),
              HasSubstr("deadline 9223372036854775807 µs since the epoch is more than 100 years"));
  job.deadline = WallTime(std::chrono::microseconds(-1));
  EXPECT_THAT(validate_job_spec(job, 0).message(), HasSubstr("is before 1970-01-01"));
}

TEST_F(StateStoreTest, StaleFromStateIsRefusedAndChangesNothing) {
  const JobId id = submit_one(full_spec(1));
  ASSERT_TRUE(store_->record_start(id, {{0}, at_seconds(10), "", 1, 2, {}}).ok());
  // A second engine that still believes the job is queued must not start it again.
  Status again = store_->record_start(id, {{1}, at_seconds(11), "", 3, 4, {}});
  EXPECT_EQ(again.code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(again.message(), HasSubstr("is RUNNING, not QUEUED"));
  Status cancel =
      store_->transition(id, JobState::kQueued, JobState::kCancelled, at_seconds(12), "user");
  EXPECT_EQ(cancel.code(), ErrorCode::kFailedPrecondition);

  auto record = store_->get_job(id);
  EXPECT_EQ(record->state, JobState::kRunning);
  EXPECT_THAT(record->placed_gpus, ElementsAre(0u));
  EXPECT_EQ(record->attempts, 1u);
  EXPECT_EQ(store_->transitions(id)->size(), 2u);
}

TEST_F(StateStoreTest, IllegalEdgeAndUnknownJobAreRefused) {
  const JobId id = submit_one(full_spec(1));
  EXPECT_EQ(
      store_->transition(id, JobState::kQueued, JobState::kCompleted, at_seconds(1), "").code(),
      ErrorCode::kInvalidArgument);
  EXPECT_EQ(
      store_->transition(JobId(77), JobState::kQueued, JobState::kCancelled, at_seconds(1), "")
          .code(),
      ErrorCode::kNotFound);
  EXPECT_EQ(store_->get_job(JobId(77)).status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store_->record_pids(id, 1, 2).code(), ErrorCode::kFailedPrecondition);
}

// What a restarted daemon reads of what was asked of the runs going on: the events of the
// kinds asked, of RUNNING jobs only, from each job's latest start on.
TEST_F(StateStoreTest, EventsOfRunningJobsAreThoseOfTheirCurrentRuns) {
  const JobId again = submit_one(full_spec(1));  // ran, was requeued, runs again
  const JobId ended = submit_one(full_spec(2));
  const JobId queued = submit_one(full_spec(3));
  const auto append = [this](std::int64_t at, const char* kind, JobId job) {
    ASSERT_TRUE(store_->append_event({0, at_seconds(at), kind, job, "{}"}).ok());
  };
  ASSERT_TRUE(store_->record_start(again, {{0}, at_seconds(10), "", {}, {}, {}}).ok());
  append(11, "job.preempt", again);  // the first run's: not this run's
  ASSERT_TRUE(
      store_->transition(again, JobState::kRunning, JobState::kPreempted, at_seconds(12), "").ok());
  ASSERT_TRUE(
      store_->transition(again, JobState::kPreempted, JobState::kQueued, at_seconds(12), "").ok());
  ASSERT_TRUE(store_->record_start(again, {{0}, at_seconds(20), "", {}, {}, {}}).ok());
  append(20, "job.cancel", again);
  append(21, "job.start", again);  // a kind not asked for
  ASSERT_TRUE(store_->record_start(ended, {{1}, at_seconds(10), "", {}, {}, {}}).ok());
  append(15, "job.cancel", ended);
  JobEnd end{JobState::kCancelled, at_seconds(16), std::nullopt, 15, JobAccounting{}, "", {}};
  ASSERT_TRUE(store_->record_end(ended, end).ok());
  append(17, "job.cancel", queued);

  const std::vector<std::string> kinds = {"job.cancel", "job.preempt"};
  Result<std::vector<Event>> events = store_->events_of_running_jobs(kinds);
  ASSERT_TRUE(events.ok()) << events.status().to_string();
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ(events->at(0).kind, "job.cancel");
  EXPECT_EQ(events->at(0).job, again);
  EXPECT_EQ(events->at(0).at, at_seconds(20));
  // Its index holds the stop events only: another kind would be missed, so it is refused.
  const std::vector<std::string> starts = {"job.cancel", "job.start"};
  Result<std::vector<Event>> refused = store_->events_of_running_jobs(starts);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("not 'job.start'"));
}

// The engine records a start's pids and an end together with their events: one commit
// each, and an event only when its change was made.
TEST_F(StateStoreTest, PidsAndEndCarryTheirEventInTheSameTransaction) {
  const JobId id = submit_one(full_spec(1));
  ASSERT_TRUE(store_->record_start(id, {{0}, at_seconds(100), "/l", {}, {}, {}}).ok());
  const Event started{0, at_seconds(101), "job.start", id, R"({"gpus": [0]})"};
  ASSERT_TRUE(store_->record_pids(id, 4242, 4243, at_seconds(101), started).ok());
  JobEnd end{JobState::kCompleted, at_seconds(160), 0, std::nullopt, JobAccounting{}, "", {}};
  end.event = Event{0, at_seconds(160), "job.end", id, R"({"state": "COMPLETED"})"};
  ASSERT_TRUE(store_->record_end(id, end).ok());
  Result<std::vector<Event>> events = store_->events_since(0, 10);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].kind, "job.start");
  EXPECT_EQ((*events)[1].kind, "job.end");
  EXPECT_EQ((*events)[1].job, id);

  // No longer RUNNING: neither change is made, and neither event is written.
  EXPECT_EQ(store_->record_pids(id, 1, 2, std::nullopt, started).code(),
            ErrorCode::kFailedPrecondition);
  EXPECT_EQ(store_->record_end(id, end).code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(store_->events_since(0, 10)->size(), 2u);
  // A bad event refuses the whole change.
  const JobId other = submit_one(full_spec(2));
  ASSERT_TRUE(store_->record_start(other, {{1}, at_seconds(100), "/l", {}, {}, {}}).ok());
  end.event->message_json = "{not json";
  EXPECT_EQ(store_->record_end(other, end).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(store_->get_job(other)->state, JobState::kRunning);
}

// A tick's claims, pids and ends go in one call each (one commit); an item that fails is
// told apart and leaves the others written.
TEST_F(StateStoreTest, ATicksClaimsPidsAndEndsFailOneByOne) {
  const JobId a = submit_one(full_spec(1));
  const JobId b = submit_one(full_spec(2));
  const JobId c = submit_one(full_spec(3));
  ASSERT_TRUE(store_->record_start(b, {{1}, at_seconds(5), "/b", {}, {}, {}}).ok());

  const std::vector<std::pair<JobId, JobStart>> starts = {
      {a, {{0}, at_seconds(10), "/a", {}, {}, {}}},
      {b, {{2}, at_seconds(10), "/b2", {}, {}, {}}},  // running already: refused alone
      {c, {{3}, at_seconds(10), "/c", {}, {}, {}}}};
  const std::vector<Status> claimed = store_->record_starts(starts);
  ASSERT_EQ(claimed.size(), 3u);
  EXPECT_TRUE(claimed[0].ok()) << claimed[0].to_string();
  EXPECT_EQ(claimed[1].code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(claimed[1].message(), HasSubstr("is RUNNING, not QUEUED"));
  EXPECT_TRUE(claimed[2].ok()) << claimed[2].to_string();
  EXPECT_EQ(store_->get_job(a)->state, JobState::kRunning);
  EXPECT_EQ(store_->get_job(c)->log_path, "/c");
  EXPECT_EQ(store_->get_job(b)->log_path, "/b");  // the refused claim changed nothing
  EXPECT_EQ(store_->get_job(b)->attempts, 1u);

  const auto started = [](JobId job, const char* message) {
    return Event{0, at_seconds(11), "job.start", job, message};
  };
  const std::vector<JobPids> pids = {{a, 100, 101, at_seconds(11), started(a, "{}")},
                                     {b, 200, 201, std::nullopt, started(b, "{not json")},
                                     {c, 300, 301, at_seconds(12), started(c, "{}")}};
  const std::vector<Status> launched = store_->record_pids_of(pids);
  ASSERT_EQ(launched.size(), 3u);
  EXPECT_TRUE(launched[0].ok());
  EXPECT_EQ(launched[1].code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(launched[2].ok());
  EXPECT_EQ(store_->get_job(a)->supervisor_pid, 100);
  EXPECT_EQ(store_->get_job(b)->supervisor_pid, std::nullopt);
  EXPECT_EQ(store_->get_job(c)->job_pid, 301);
  EXPECT_EQ(store_->events_since(0, 10)->size(), 2u);

  // c's end fails at its last write (its event names a job that does not exist), after its
  // state, end and history were written: those are undone, a's and b's stay.
  JobEnd done{JobState::kCompleted, at_seconds(20), 0, std::nullopt, JobAccounting{}, "", {}};
  JobEnd broken = done;
  broken.event = Event{0, at_seconds(20), "job.end", JobId(999), "{}"};
  const std::vector<std::pair<JobId, JobEnd>> ends = {{a, done}, {c, broken}, {b, done}};
  const std::vector<Status> ended = store_->record_ends(ends);
  ASSERT_EQ(ended.size(), 3u);
  EXPECT_TRUE(ended[0].ok()) << ended[0].to_string();
  EXPECT_FALSE(ended[1].ok());
  EXPECT_TRUE(ended[2].ok()) << ended[2].to_string();
  EXPECT_EQ(store_->get_job(a)->state, JobState::kCompleted);
  EXPECT_EQ(store_->get_job(b)->state, JobState::kCompleted);
  const Result<JobRecord> still = store_->get_job(c);
  EXPECT_EQ(still->state, JobState::kRunning);
  EXPECT_EQ(still->end_time, std::nullopt);
  EXPECT_EQ(store_->transitions(c)->size(), 2u);           // submitted, started
  EXPECT_EQ(store_->history("train.py", 10)->size(), 2u);  // a's and b's runs only
  // And c can still end.
  EXPECT_TRUE(store_->record_end(c, done).ok());
  EXPECT_TRUE(store_->record_starts({}).empty());
}

TEST_F(StateStoreTest, TransitionLogIsCompleteAndInOrder) {
  const JobId id = submit_one(full_spec(1));
  ASSERT_TRUE(store_->record_start(id, {{0}, at_seconds(10), "", {}, {}, {}}).ok());
  ASSERT_TRUE(
      store_->record_end(id, {JobState::kPreempted, at_seconds(20), {}, 15, {}, "preempted", {}})
          .ok());
  ASSERT_TRUE(
      store_->transition(id, JobState::kPreempted, JobState::kQueued, at_seconds(21), "requeued")
          .ok());
  ASSERT_TRUE(store_->record_start(id, {{1}, at_seconds(30), "", {}, {}, {}}).ok());
  ASSERT_TRUE(
      store_->record_end(id, {JobState::kCompleted, at_seconds(40), 0, {}, {}, "", {}}).ok());

  auto log = store_->transitions(id);
  ASSERT_TRUE(log.ok());
  using S = JobState;
  const JobSpec spec = full_spec(1);
  EXPECT_THAT(*log,
              ElementsAre(Transition{id, std::nullopt, S::kQueued, spec.submit_time, "submitted"},
                          Transition{id, S::kQueued, S::kRunning, at_seconds(10), "started"},
                          Transition{id, S::kRunning, S::kPreempted, at_seconds(20), "preempted"},
                          Transition{id, S::kPreempted, S::kQueued, at_seconds(21), "requeued"},
                          Transition{id, S::kQueued, S::kRunning, at_seconds(30), "started"},
                          Transition{id, S::kRunning, S::kCompleted, at_seconds(40), "ended"}));
  auto record = store_->get_job(id);
  EXPECT_EQ(record->attempts, 2u);
  EXPECT_EQ(record->exit_code, 0);
  EXPECT_FALSE(record->signal.has_value());  // the first run's signal was cleared
}

TEST_F(StateStoreTest, ListFiltersByStateUidAndPages) {
  std::vector<JobSpec> batch;
  for (int i = 0; i < 6; ++i) {
    batch.push_back(full_spec(i));
    batch.back().uid = i % 2 == 0 ? 1000 : 2000;
  }
  auto ids = store_->submit(batch);
  ASSERT_TRUE(ids.ok());
  ASSERT_TRUE(store_->record_start(ids->at(0), {{0}, at_seconds(1), "", {}, {}, {}}).ok());
  ASSERT_TRUE(
      store_->transition(ids->at(3), JobState::kQueued, JobState::kCancelled, at_seconds(1), "user")
          .ok());

  auto id_list = [](const Result<std::vector<JobRecord>>& jobs) {
    std::vector<std::uint64_t> out;
    for (const JobRecord& job : *jobs) out.push_back(job.id.value());
    return out;
  };
  const auto& v = *ids;
  EXPECT_THAT(id_list(store_->list_jobs(with_states({JobState::kQueued}))),
              ElementsAre(v[1].value(), v[2].value(), v[4].value(), v[5].value()));
  EXPECT_THAT(id_list(store_->list_jobs(with_states({JobState::kRunning, JobState::kCancelled}))),
              ElementsAre(v[0].value(), v[3].value()));
  JobFilter by_uid;
  by_uid.uid = 2000;
  EXPECT_THAT(id_list(store_->list_jobs(by_uid)),
              ElementsAre(v[1].value(), v[3].value(), v[5].value()));
  JobFilter page;
  page.after = v[1];
  page.limit = 2;
  EXPECT_THAT(id_list(store_->list_jobs(page)), ElementsAre(v[2].value(), v[3].value()));

  // The counts `GET /v1/daemon` shows: every user's jobs, a state with none left out.
  auto counts = store_->count_jobs_by_state();
  ASSERT_TRUE(counts.ok()) << counts.status().to_string();
  EXPECT_THAT(*counts, ElementsAre(Pair(JobState::kQueued, 4u), Pair(JobState::kRunning, 1u),
                                   Pair(JobState::kCancelled, 1u)));
}

// The counts every command reads are kept as jobs change, not counted: through a run, a
// preemption and requeue, a cancel and a batch, they agree with the jobs listed per state.
TEST_F(StateStoreTest, CountsByStateFollowEveryChangeOfState) {
  auto agree = [this]() {
    std::map<JobState, std::uint64_t> listed;
    const Result<std::vector<JobRecord>> jobs = store_->list_jobs(JobFilter{});
    EXPECT_TRUE(jobs.ok());
    if (jobs.ok()) {
      for (const JobRecord& job : *jobs) ++listed[job.state];
    }
    const Result<std::map<JobState, std::uint64_t>> counts = store_->count_jobs_by_state();
    EXPECT_TRUE(counts.ok());
    return counts.ok() && *counts == listed;
  };
  EXPECT_TRUE(agree());  // none
  const JobId a = submit_one(full_spec(1));
  const JobId b = submit_one(full_spec(2));
  EXPECT_TRUE(agree());
  ASSERT_TRUE(store_->record_start(a, {{0}, at_seconds(1), "", {}, {}, {}}).ok());
  EXPECT_TRUE(agree());
  ASSERT_TRUE(
      store_->record_end(a, {JobState::kPreempted, at_seconds(2), {}, {}, {}, "", {}}).ok());
  EXPECT_TRUE(agree());
  ASSERT_TRUE(
      store_->transition(a, JobState::kPreempted, JobState::kQueued, at_seconds(3), "requeued")
          .ok());
  ASSERT_TRUE(store_->record_start(a, {{0}, at_seconds(4), "", {}, {}, {}}).ok());
  ASSERT_TRUE(store_->record_end(a, {JobState::kTimeout, at_seconds(5), {}, 9, {}, "", {}}).ok());
  ASSERT_TRUE(
      store_->transition(b, JobState::kQueued, JobState::kCancelled, at_seconds(6), "user").ok());
  EXPECT_TRUE(agree());
  // A refused state change changes no count.
  EXPECT_FALSE(
      store_->transition(b, JobState::kQueued, JobState::kCancelled, at_seconds(7), "user").ok());
  std::vector<JobSpec> batch(3, full_spec(3));
  ASSERT_TRUE(store_->submit(batch).ok());
  EXPECT_TRUE(agree());
  EXPECT_THAT(*store_->count_jobs_by_state(),
              ElementsAre(Pair(JobState::kQueued, 3u), Pair(JobState::kCancelled, 1u),
                          Pair(JobState::kTimeout, 1u)));
}

TEST_F(StateStoreTest, ListFiltersByEndTimeAndName) {
  std::vector<JobSpec> batch;
  for (const char* name : {"a", "b", "a", "c"}) {
    batch.push_back(full_spec(0));
    batch.back().name = name;
  }
  auto ids = store_->submit(batch);
  ASSERT_TRUE(ids.ok()) << ids.status().to_string();
  const auto& v = *ids;
  // v0 ends at 10 s and v2 at 30 s after a run; v1 is cancelled while queued at 20 s; v3
  // runs on, with no end.
  for (int i : {0, 2, 3}) {
    ASSERT_TRUE(store_->record_start(v[i], {{0}, at_seconds(5), "", {}, {}, {}}).ok());
  }
  ASSERT_TRUE(
      store_->record_end(v[0], {JobState::kCompleted, at_seconds(10), 0, {}, {}, "", {}}).ok());
  ASSERT_TRUE(
      store_->transition(v[1], JobState::kQueued, JobState::kCancelled, at_seconds(20), "user")
          .ok());
  ASSERT_TRUE(
      store_->record_end(v[2], {JobState::kFailed, at_seconds(30), 1, {}, {}, "", {}}).ok());

  auto listed = [this](const JobFilter& filter) {
    const Result<std::vector<JobRecord>> records = store_->list_jobs(filter);
    const Result<std::vector<JobId>> only_ids = store_->list_job_ids(filter);
    std::vector<std::uint64_t> from_records;
    std::vector<std::uint64_t> from_ids;
    EXPECT_TRUE(records.ok() && only_ids.ok());
    if (!records.ok() || !only_ids.ok()) return from_records;
    for (const JobRecord& job : records.value()) from_records.push_back(job.id.value());
    for (JobId id : only_ids.value()) from_ids.push_back(id.value());
    EXPECT_EQ(from_records, from_ids) << "list_job_ids agrees with list_jobs";
    return from_records;
  };
  JobFilter from;
  from.ended_from = at_seconds(20);  // at the moment counts
  EXPECT_THAT(listed(from), ElementsAre(v[1].value(), v[2].value()));
  JobFilter before;
  before.ended_before = at_seconds(20);  // before it does not
  EXPECT_THAT(listed(before), ElementsAre(v[0].value()));
  JobFilter window = from;
  window.ended_before = at_seconds(30);
  EXPECT_THAT(listed(window), ElementsAre(v[1].value()));
  JobFilter ended_since = with_states({JobState::kCompleted, JobState::kFailed});
  ended_since.ended_from = at_seconds(10);
  EXPECT_THAT(listed(ended_since), ElementsAre(v[0].value(), v[2].value()));
  // Paged by id, as `history --since` pages, and narrowed by user and name.
  JobFilter page = from;
  page.limit = 1;
  EXPECT_THAT(listed(page), ElementsAre(v[1].value()));
  page.after = v[1];
  EXPECT_THAT(listed(page), ElementsAre(v[2].value()));
  page.after = v[2];
  EXPECT_THAT(listed(page), ElementsAre());
  JobFilter from_named = from;
  from_named.names = {"a", "c"};
  EXPECT_THAT(listed(from_named), ElementsAre(v[2].value()));
  JobFilter from_other_user = from;
  from_other_user.uid = 4242;
  EXPECT_THAT(listed(from_other_user), ElementsAre());

  // The last ended, by end time, among what the rest selects; listed by id.
  JobFilter last;
  last.last_ended = 2;
  EXPECT_THAT(listed(last), ElementsAre(v[1].value(), v[2].value()));
  last.last_ended = 10;  // more than there are: every ended job, not the running one
  EXPECT_THAT(listed(last), ElementsAre(v[0].value(), v[1].value(), v[2].value()));
  JobFilter last_completed = with_states({JobState::kCompleted});
  last_completed.last_ended = 1;
  EXPECT_THAT(listed(last_completed), ElementsAre(v[0].value()));
  JobFilter last_before = last;
  last_before.last_ended = 1;
  last_before.ended_before = at_seconds(30);
  EXPECT_THAT(listed(last_before), ElementsAre(v[1].value()));
  JobFilter last_since = last;
  last_since.ended_from = at_seconds(25);
  EXPECT_THAT(listed(last_since), ElementsAre(v[2].value()));
  JobFilter last_named = last;
  last_named.last_ended = 1;
  last_named.names = {"a"};
  EXPECT_THAT(listed(last_named), ElementsAre(v[2].value()));
  JobFilter last_paged = last;
  last_paged.limit = 2;
  EXPECT_THAT(listed(last_paged), ElementsAre(v[0].value(), v[1].value()));
  last_paged.after = v[1];
  EXPECT_THAT(listed(last_paged), ElementsAre(v[2].value()));
  last.last_ended = 0;
  EXPECT_THAT(listed(last), ElementsAre());

  JobFilter named;
  named.names = {"a"};
  EXPECT_THAT(listed(named), ElementsAre(v[0].value(), v[2].value()));
  named.names = {"c", "b"};
  EXPECT_THAT(listed(named), ElementsAre(v[1].value(), v[3].value()));
  JobFilter running_named = with_states({JobState::kRunning});
  running_named.names = {"a", "c"};
  EXPECT_THAT(listed(running_named), ElementsAre(v[3].value()));
  named.names = {"nobody"};
  EXPECT_THAT(listed(named), ElementsAre());
}

// Among jobs that ended at the same moment, the last ended are the ones submitted last.
TEST_F(StateStoreTest, TheLastEndedAmongEqualEndsAreTheNewest) {
  auto ids = store_->submit(std::vector<JobSpec>(3, full_spec(1)));
  ASSERT_TRUE(ids.ok()) << ids.status().to_string();
  for (JobId id : *ids) {
    ASSERT_TRUE(
        store_->transition(id, JobState::kQueued, JobState::kCancelled, at_seconds(7), "user")
            .ok());
  }
  JobFilter last;
  last.last_ended = 2;
  const Result<std::vector<JobId>> listed = store_->list_job_ids(last);
  ASSERT_TRUE(listed.ok()) << listed.status().to_string();
  EXPECT_THAT(*listed, ElementsAre(ids->at(1), ids->at(2)));
}

// `fastgpu purge`: the ended jobs before a moment go with everything of theirs, but not one
// that a job not yet ended waits on; a job that ended later loses only its edge to them.
TEST_F(StateStoreTest, PurgeForgetsEndedJobsBeforeTheMomentButNotThoseWaitedOn) {
  const JobId waited_on = submit_one(full_spec(1));
  const JobId cancelled = submit_one(full_spec(2));
  const JobId failed_late = submit_one(full_spec(3));
  const JobId early = submit_one(full_spec(4));
  JobSpec other_user = full_spec(5);
  other_user.uid = 4242;
  const JobId others = submit_one(other_user);
  ASSERT_TRUE(store_->record_start(waited_on, {{0}, at_seconds(1), "", {}, {}, {}}).ok());
  ASSERT_TRUE(
      store_->record_end(waited_on, {JobState::kCompleted, at_seconds(10), 0, {}, {}, "", {}})
          .ok());
  ASSERT_TRUE(
      store_->transition(cancelled, JobState::kQueued, JobState::kCancelled, at_seconds(20), "user")
          .ok());
  ASSERT_TRUE(store_->record_start(failed_late, {{0}, at_seconds(1), "", {}, {}, {}}).ok());
  ASSERT_TRUE(
      store_->record_end(failed_late, {JobState::kFailed, at_seconds(30), 1, {}, {}, "", {}}).ok());
  ASSERT_TRUE(store_->record_start(early, {{0}, at_seconds(1), "", {}, {}, {}}).ok());
  ASSERT_TRUE(
      store_->record_end(early, {JobState::kCompleted, at_seconds(15), 0, {}, {}, "", {}}).ok());
  ASSERT_TRUE(
      store_->transition(others, JobState::kQueued, JobState::kCancelled, at_seconds(5), "user")
          .ok());
  // One queued job waits on `waited_on`; one that ended at 40 s had waited on `early`.
  JobSpec waiting = full_spec(6);
  waiting.dependencies = {{waited_on, DependencyKind::kAfterAny, std::nullopt}};
  const JobId waits = submit_one(waiting);
  JobSpec after_early = full_spec(7);
  after_early.dependencies = {{early, DependencyKind::kAfterOk, std::nullopt}};
  const JobId ended_after = submit_one(after_early);
  ASSERT_TRUE(
      store_
          ->transition(ended_after, JobState::kQueued, JobState::kCancelled, at_seconds(40), "user")
          .ok());
  ASSERT_TRUE(store_->append_event({0, at_seconds(20), "job.cancel", cancelled, "{}"}).ok());
  ASSERT_TRUE(store_->append_event({0, at_seconds(20), "daemon.note", std::nullopt, "{}"}).ok());

  JobFilter before;
  before.uid = full_spec(1).uid;
  before.ended_before = at_seconds(25);
  // In parts: the first end first.
  Result<Purged> first = store_->purge_ended(before, 1);
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  ASSERT_EQ(first->jobs.size(), 1u);
  EXPECT_EQ(first->jobs[0].id, early);
  Result<Purged> rest = store_->purge_ended(before, 100);
  ASSERT_TRUE(rest.ok()) << rest.status().to_string();
  ASSERT_EQ(rest->jobs.size(), 1u);
  EXPECT_EQ(rest->jobs[0].id, cancelled);
  EXPECT_EQ(rest->kept_waited_on, 1u);

  for (JobId gone : {early, cancelled}) {
    EXPECT_EQ(store_->get_job(gone).status().code(), ErrorCode::kNotFound) << gone.value();
    // Its transitions went too (a stored job always has its submission's).
    EXPECT_EQ(store_->transitions(gone).status().code(), ErrorCode::kNotFound) << gone.value();
  }
  for (JobId kept : {waited_on, failed_late, others, waits, ended_after}) {
    EXPECT_TRUE(store_->get_job(kept).ok()) << kept.value();
  }
  EXPECT_THAT(store_->get_job(waits)->spec.dependencies,
              ElementsAre(Dependency{waited_on, DependencyKind::kAfterAny, std::nullopt}));
  EXPECT_TRUE(store_->get_job(ended_after)->spec.dependencies.empty());
  const Result<std::vector<Event>> events = store_->events_since(0, 100);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);  // the purged job's event went; the daemon's stays
  EXPECT_EQ(events->at(0).kind, "daemon.note");
  const Result<std::map<JobState, std::uint64_t>> counts = store_->count_jobs_by_state();
  ASSERT_TRUE(counts.ok());
  std::uint64_t counted = 0;
  for (const auto& [state, jobs] : *counts) counted += jobs;
  EXPECT_EQ(counted, 5u);
  // What entered each state is not lowered by the purge: 7 submitted, 3 started, 2
  // completed (one purged), 1 failed, 3 cancelled (one purged).
  EXPECT_THAT(*store_->count_state_entries(),
              ElementsAre(Pair(JobState::kQueued, 7u), Pair(JobState::kRunning, 3u),
                          Pair(JobState::kCompleted, 2u), Pair(JobState::kFailed, 1u),
                          Pair(JobState::kCancelled, 3u)));
  // A purged job can no longer be waited on, by its id.
  JobSpec late = full_spec(8);
  late.dependencies = {{cancelled, DependencyKind::kAfterAny, std::nullopt}};
  EXPECT_FALSE(store_->submit(std::span(&late, 1)).ok());
}

// Ids skipped past earlier jobs' files: the next id is past them, and never lowered.
TEST_F(StateStoreTest, SkippedIdsAreNotHandedOutAndNeverLowered) {
  EXPECT_TRUE(store_->skip_ids_through(JobId(41)).value());
  EXPECT_EQ(submit_one(full_spec(1)), JobId(42));
  EXPECT_FALSE(store_->skip_ids_through(JobId(7)).value());
  EXPECT_FALSE(store_->skip_ids_through(JobId(42)).value());
  EXPECT_EQ(submit_one(full_spec(1)), JobId(43));
}

TEST_F(StateStoreTest, PurgeNeedsAMomentAndEndedStates) {
  JobFilter no_moment;
  const Result<Purged> without = store_->purge_ended(no_moment, 10);
  EXPECT_EQ(without.status().code(), ErrorCode::kInvalidArgument);
  JobFilter running = with_states({JobState::kRunning});
  running.ended_before = at_seconds(10);
  const Result<Purged> not_ended = store_->purge_ended(running, 10);
  EXPECT_EQ(not_ended.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(not_ended.status().message(), HasSubstr("RUNNING job has not ended"));
}

TEST_F(StateStoreTest, EventsAppendInOrderAndRejectNonJson) {
  const JobId id = submit_one(full_spec(1));
  auto first =
      store_->append_event({0, at_seconds(5), "daemon.start", std::nullopt, R"({"pid":1})"});
  auto second = store_->append_event({0, at_seconds(6), "job.oom", id, R"({"gpu":0})"});
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_LT(*first, *second);
  EXPECT_EQ(store_->append_event({0, at_seconds(7), "bad", std::nullopt, "{oops"}).status().code(),
            ErrorCode::kInvalidArgument);

  auto events = store_->events_since(0, 10);
  ASSERT_TRUE(events.ok());
  EXPECT_THAT(*events, ElementsAre(Event{*first, at_seconds(5), "daemon.start", std::nullopt,
                                         R"({"pid":1})"},
                                   Event{*second, at_seconds(6), "job.oom", id, R"({"gpu":0})"}));
  EXPECT_EQ(store_->events_since(*first, 10)->size(), 1u);
}

TEST_F(StateStoreTest, SamplesAppendQueryAndPrune) {
  std::vector<Sample> samples;
  for (std::uint32_t t = 0; t < 4; ++t) {
    for (std::uint32_t gpu = 0; gpu < 2; ++gpu) {
      samples.push_back({at_seconds(t), gpu, Bytes{t} << 30, 50.0 + t, 300.0, 1000u * t});
    }
  }
  samples[1].power_watts.reset();  // unmeasured stays unmeasured
  ASSERT_TRUE(store_->append_samples(samples).ok());
  auto between = store_->samples_between(at_seconds(0), at_seconds(4));
  ASSERT_TRUE(between.ok());
  EXPECT_EQ(*between, samples);

  // At most `limit` a call, the oldest first.
  auto pruned = store_->prune_samples(at_seconds(2), 3);
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(*pruned, 3u);
  EXPECT_EQ(*store_->samples_between(at_seconds(0), at_seconds(10)),
            std::vector<Sample>(samples.begin() + 3, samples.end()));
  pruned = store_->prune_samples(at_seconds(2), 3);
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(*pruned, 1u);
  auto left = store_->samples_between(at_seconds(0), at_seconds(10));
  EXPECT_EQ(*left, std::vector<Sample>(samples.begin() + 4, samples.end()));
}

TEST_F(StateStoreTest, HistoryRecordsEndedRunsNewestFirst) {
  for (int i = 0; i < 3; ++i) {
    const JobId id = submit_one(full_spec(i));
    ASSERT_TRUE(store_->record_start(id, {{0}, at_seconds(100 * i), "", {}, {}, {}}).ok());
    JobEnd end{JobState::kCompleted, at_seconds(100 * i + 10 + i), 0, {}, {}, "", {}};
    end.accounting.peak_gpu_mem = Bytes{1} << (30 + i);
    ASSERT_TRUE(store_->record_end(id, end).ok());
  }
  JobSpec unsigned_job = full_spec(5);
  unsigned_job.signature.clear();
  const JobId quiet = submit_one(unsigned_job);
  ASSERT_TRUE(store_->record_start(quiet, {{0}, at_seconds(0), "", {}, {}, {}}).ok());
  ASSERT_TRUE(
      store_->record_end(quiet, {JobState::kCompleted, at_seconds(1), 0, {}, {}, "", {}}).ok());

  auto history = store_->history("train.py", 2);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 2u);
  EXPECT_EQ(history->at(0).run_seconds, 12.0);
  EXPECT_EQ(history->at(0).peak_gpu_mem, Bytes{1} << 32);
  EXPECT_EQ(history->at(1).run_seconds, 11.0);
  EXPECT_TRUE(store_->history("", 10)->empty());
}

TEST(StatePathTest, FollowsOverrideThenXdgThenHome) {
  EXPECT_EQ(*state_dir_from("/srv/fg", "/x", "/home/a"), "/srv/fg");
  EXPECT_EQ(*state_dir_from(std::nullopt, "/x", "/home/a"), "/x/fastgpu");
  EXPECT_EQ(*state_dir_from("", "", "/home/a"), "/home/a/.local/state/fastgpu");
  EXPECT_EQ(state_dir_from(std::nullopt, std::nullopt, std::nullopt).status().code(),
            ErrorCode::kFailedPrecondition);
}

TEST(StatePathTest, CreatesMissingFoldersPrivate) {
  testing::TempDir tmp;
  const auto dir = tmp.path() / "a" / "b";
  ASSERT_TRUE(ensure_private_dir(dir).ok());
  const auto perms = std::filesystem::status(dir).permissions();
  EXPECT_EQ(perms & std::filesystem::perms::all, std::filesystem::perms::owner_all);
  EXPECT_TRUE(ensure_private_dir(dir).ok());  // existing folder is fine
}

}  // namespace
}  // namespace fastgpu::store
