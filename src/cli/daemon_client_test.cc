// `fastgpu show`'s text: what a job cost, in each state a job can be in.
#include "cli/daemon_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>

#include "cli/display_width.h"
#include "cli/host_port.h"
#include "fastgpu/api/job_json.h"
#include "fastgpu/core/text.h"

namespace fastgpu::cli {
namespace {

using store::JobRecord;
using store::JobState;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr Bytes kGiB = Bytes{1} << 30;
constexpr std::int64_t kSubmitUs = 1'800'000'000'000'000;

store::WallTime at_us(std::int64_t micros) {
  return store::WallTime(std::chrono::microseconds(micros));
}

JobRecord job(JobState state, int gpus) {
  JobRecord record;
  record.id = JobId(7);
  record.spec.name = "train";
  record.spec.user = "alice";
  record.spec.argv = {"python3", "train.py"};
  record.spec.working_dir = "/home/alice";
  record.spec.gpus = gpus;
  record.spec.gpu_mem = 20 * kGiB;
  record.spec.submit_time = at_us(kSubmitUs);
  record.state = state;
  return record;
}

// Started 90 s after its submission on GPUs 0 and 1, ran for an hour.
JobRecord ended(JobState state) {
  JobRecord record = job(state, 2);
  record.placed_gpus = {0, 1};
  record.start_time = at_us(kSubmitUs + 90'000'000);
  record.end_time = at_us(kSubmitUs + 90'000'000 + 3'600'000'000);
  record.exit_code = 0;
  record.attempts = 1;
  return record;
}

std::string details(const JobRecord& record, std::int64_t now_us) {
  return render_job_details(api::job_record_to_json(record), now_us);
}

TEST(JobDetails, AnEndedJobShowsWhatItCost) {
  JobRecord record = ended(JobState::kCompleted);
  record.accounting = {18 * kGiB, 7200.0, 1'234'567.0, true, 63.4};
  const std::string text = details(record, kSubmitUs + 10'000'000'000);
  EXPECT_THAT(text, HasSubstr("waited:        1m30s\n"));
  EXPECT_THAT(text, HasSubstr("elapsed:       1h00m\n"));
  EXPECT_THAT(text, HasSubstr("GPU time:      2h00m (2.0000 GPU-hours)\n"));
  EXPECT_THAT(text, HasSubstr("peak GPU mem:  18.0 GiB\n"));
  EXPECT_THAT(text, HasSubstr("mean GPU util: 63 %\n"));
  EXPECT_THAT(text, HasSubstr("energy:        1.2 MJ (estimate: apportioned among jobs sharing a "
                              "GPU, or prorated over the sample intervals a job started and "
                              "ended in)\n"));
}

// GPU 1's energy counter could not be read: GPU 0's 510 J is a lower bound, said so. It
// read '510 J' as if it were the job's energy.
TEST(JobDetails, EnergyWithAnUnreadGpuIsALowerBound) {
  JobRecord record = ended(JobState::kCompleted);
  record.accounting = {18 * kGiB, 7200.0, std::nullopt, false, 63.4};
  record.accounting.energy_at_least_joules = 510.0;
  record.accounting.energy_unread_gpus = {1};
  const std::string text = details(record, kSubmitUs + 10'000'000'000);
  EXPECT_THAT(text,
              HasSubstr("energy:        at least 510 J (GPU 1's energy counter unreadable)\n"));
}

// Nothing measured (no driver figures): n/a, never 0. GPU time falls back to run time x
// GPUs, as the batch report counts it.
TEST(JobDetails, TheCommandReadsAsAShellLineThatRunsTheSameArguments) {
  JobRecord record = ended(JobState::kCompleted);
  record.spec.argv = {"sh", "-c", "echo hi; sleep 1", "it's"};
  EXPECT_THAT(details(record, kSubmitUs),
              HasSubstr("command:       sh -c 'echo hi; sleep 1' 'it'\\''s'\n"));
}

TEST(JobDetails, WhatWasNotMeasuredIsNa) {
  const std::string text = details(ended(JobState::kFailed), kSubmitUs + 10'000'000'000);
  EXPECT_THAT(text, HasSubstr("GPU time:      2h00m (2.0000 GPU-hours)\n"));
  EXPECT_THAT(text, HasSubstr("peak GPU mem:  n/a\n"));
  EXPECT_THAT(text, HasSubstr("mean GPU util: n/a\n"));
  EXPECT_THAT(text, HasSubstr("energy:        n/a\n"));
  EXPECT_THAT(text, Not(HasSubstr("0 J")));
}

TEST(JobDetails, AnEndedJobThatDidNotCompleteSaysWhy) {
  JobRecord timed_out = ended(JobState::kTimeout);
  timed_out.exit_code.reset();
  timed_out.signal = 15;
  timed_out.end_reason = "terminated by SIGTERM at its time limit of 60 s";
  const std::string text = details(timed_out, kSubmitUs + 10'000'000'000);
  EXPECT_THAT(text, HasSubstr("state:         TIMEOUT\nreason:        terminated by SIGTERM at its "
                              "time limit of 60 s\n"));
  EXPECT_THAT(text, HasSubstr("exit code:     -\nsignal:        15 (SIGTERM)\n"));

  JobRecord never_ran = job(JobState::kCancelled, 1);
  never_ran.end_time = at_us(kSubmitUs + 5'000'000);
  never_ran.end_reason = "dependency 13 failed: it ended FAILED";
  EXPECT_THAT(details(never_ran, kSubmitUs + 10'000'000'000),
              HasSubstr("reason:        dependency 13 failed: it ended FAILED\n"));

  JobRecord completed = ended(JobState::kCompleted);
  completed.end_reason = "exited with status 0";
  EXPECT_THAT(details(completed, kSubmitUs + 10'000'000'000), Not(HasSubstr("reason:")));
}

// A running job's limit counts from its start: show says when SIGTERM comes, which
// `fastgpu update --time` moves; a queued or ended job's limit is only its length.
TEST(JobDetails, ARunningJobsTimeLimitSaysWhenSigtermComes) {
  JobRecord running = ended(JobState::kRunning);
  running.end_time.reset();
  running.exit_code.reset();
  running.spec.time_limit_s = 7200;
  const std::int64_t an_hour_in = kSubmitUs + 90'000'000 + 3'600'000'000;
  EXPECT_THAT(
      details(running, an_hour_in),
      HasSubstr("time limit:    2h00m (SIGTERM at " +
                api::iso_time(at_us(kSubmitUs + 90'000'000 + 7'200'000'000)) + ", in 1h00m)\n"));
  EXPECT_THAT(details(running, an_hour_in + 3'600'000'000), HasSubstr("time limit:    2h00m\n"));
  JobRecord done = ended(JobState::kCompleted);
  done.spec.time_limit_s = 7200;
  EXPECT_THAT(details(done, an_hour_in), HasSubstr("time limit:    2h00m\n"));
}

TEST(JobDetails, AQueuedJobShowsItsWaitSoFarAndNoCostYet) {
  const std::string text = details(job(JobState::kQueued, 1), kSubmitUs + 300'000'000);
  EXPECT_THAT(text, HasSubstr("waited:        5m00s so far\n"));
  EXPECT_THAT(text, HasSubstr("GPU time:      -\n"));
  EXPECT_THAT(text, HasSubstr("energy:        -\n"));
}

TEST(JobDetails, ARunningJobIsAccountedWhenItEnds) {
  JobRecord record = ended(JobState::kRunning);
  record.end_time.reset();
  record.exit_code.reset();
  const std::string text = details(record, kSubmitUs + 200'000'000);
  EXPECT_THAT(text, HasSubstr("waited:        1m30s\n"));
  // 2 GPUs from 90 s to 200 s: 220 GPU-seconds so far.
  EXPECT_THAT(text, HasSubstr("GPU time:      3m40s so far (0.0611 GPU-hours)\n"));
  EXPECT_THAT(text, HasSubstr("peak GPU mem:  when it ends\n"));
  EXPECT_THAT(text, HasSubstr("energy:        when it ends\n"));
}

// A restarted job's GPU time so far left out its earlier runs, and jumped by them when it
// ended (8.2 s while its second run ran, 11 s at its end).
TEST(JobDetails, ARestartedJobsGpuTimeSoFarHoldsItsEarlierRuns) {
  JobRecord record = ended(JobState::kRunning);
  record.end_time.reset();
  record.exit_code.reset();
  record.attempts = 2;
  record.accounting.gpu_seconds = 100.0;  // its first run's, as the store added it
  const std::string text = details(record, kSubmitUs + 200'000'000);
  // 100 + 2 GPUs from 90 s to 200 s: 320 GPU-seconds so far.
  EXPECT_THAT(text, HasSubstr("GPU time:      5m20s so far (0.0889 GPU-hours)\n"));
}

// What the daemon measured of a running job so far (`usage_so_far`), each figure said to be
// so far; one not measured yet still waits for the end.
TEST(JobDetails, ARunningJobShowsWhatItUsedSoFar) {
  JobRecord record = ended(JobState::kRunning);
  record.end_time.reset();
  record.exit_code.reset();
  api::Json job = api::job_record_to_json(record);
  job["usage_so_far"] = {
      {"peak_gpu_mem", 6LL << 30}, {"mean_util_percent", 87.4}, {"energy_joules", nullptr}};
  const std::string text = render_job_details(job, kSubmitUs + 200'000'000);
  EXPECT_THAT(text, HasSubstr("peak GPU mem:  6.0 GiB so far\n"));
  EXPECT_THAT(text, HasSubstr("mean GPU util: 87 % so far\n"));
  EXPECT_THAT(text, HasSubstr("energy:        when it ends\n"));
  job["usage_so_far"]["energy_joules"] = 12'345.0;
  EXPECT_THAT(render_job_details(job, kSubmitUs + 200'000'000),
              HasSubstr("energy:        12.3 kJ so far (an estimate)\n"));
}

// show left out the share, priority, dependencies, deadline and restartable a job was
// submitted with, and named a log file that was never written.
TEST(JobDetails, EverythingSubmittedIsShownAndOnlyALogThatExistsIsNamed) {
  JobRecord record = job(JobState::kQueued, 1);
  record.spec.util_share = 0.5;
  record.spec.priority = 3;
  record.spec.dependencies = {{JobId(5), store::DependencyKind::kAfterAny, std::nullopt}};
  record.spec.deadline = at_us(kSubmitUs + 3'600'000'000);
  record.spec.restartable = true;
  record.log_path = "/nonexistent/fastgpu/7.log";
  const std::string text = details(record, kSubmitUs);
  EXPECT_THAT(text, HasSubstr("share:         0.5 of each GPU's compute\n"));
  EXPECT_THAT(text, HasSubstr("priority:      3\n"));
  EXPECT_THAT(text, HasSubstr("after:         afterany:5\n"));
  EXPECT_THAT(
      text, HasSubstr("deadline:      " + api::iso_time(at_us(kSubmitUs + 3'600'000'000)) + "\n"));
  EXPECT_THAT(text, HasSubstr("restartable:   yes\n"));
  EXPECT_THAT(text, Not(HasSubstr("umask:")));  // the daemon's
  record.spec.umask = 027;
  EXPECT_THAT(details(record, kSubmitUs), HasSubstr("umask:         0027\n"));
  // A grace of its own is shown; the daemon's 10 s is not.
  EXPECT_THAT(text, Not(HasSubstr("grace:")));
  record.spec.kill_grace_s = 300;
  EXPECT_THAT(details(record, kSubmitUs),
              HasSubstr("grace:         5m00s from SIGTERM to SIGKILL\n"));
  EXPECT_THAT(text, HasSubstr("log:           -\n"));
}

// A log deleted after its job wrote it showed as "-", the mark of a job that never wrote
// one, so a user looked for a reason the job had not run.
TEST(JobDetails, ALogDeletedAfterTheJobWroteItIsNamedAsDeleted) {
  JobRecord record = ended(JobState::kCompleted);
  record.job_pid = 4242;
  record.log_path = "/nonexistent/fastgpu/7.log";
  EXPECT_THAT(details(record, kSubmitUs + 10'000'000'000),
              HasSubstr("log:           /nonexistent/fastgpu/7.log (deleted: the job wrote it, "
                        "and it is not there now)\n"));
  record.job_pid.reset();  // ended all the same: its supervisor had opened the log
  EXPECT_THAT(details(record, kSubmitUs + 10'000'000'000), HasSubstr("(deleted: "));
  JobRecord claimed = job(JobState::kRunning, 1);  // its supervisor is still starting
  claimed.start_time = at_us(kSubmitUs);
  claimed.log_path = "/nonexistent/fastgpu/8.log";
  EXPECT_THAT(details(claimed, kSubmitUs), HasSubstr("log:           -\n"));
}

// On root's shared daemon a user's `show` named a log in root's 0700 state folder, which
// the user cannot open; it says so now, and how to read it.
TEST(JobDetails, ALogTheCallerCannotOpenSaysHowToReadIt) {
  JobRecord record = ended(JobState::kCompleted);
  record.job_pid = 4242;
  record.log_path = "/var/lib/fastgpu/logs/7.log";
  api::Json json = api::job_record_to_json(record);
  json["log_readable"] = false;
  EXPECT_THAT(render_job_details(json, kSubmitUs + 10'000'000'000),
              HasSubstr("log:           /var/lib/fastgpu/logs/7.log (in the daemon's private "
                        "folder, closed to you: `fastgpu logs " +
                        std::to_string(record.id.value()) + "` prints it)\n"));
  json["log_readable"] = true;  // looked for, and not there
  EXPECT_THAT(render_job_details(json, kSubmitUs + 10'000'000'000),
              HasSubstr("log:           /var/lib/fastgpu/logs/7.log (deleted: "));
}

// A job preempted and queued again showed its last run as if it were on now: placed on its
// old GPUs, started and ended, the signal that stopped it, its run time in queue's ELAPSED,
// and nothing saying it had been preempted.
TEST(JobDetails, AJobQueuedAgainAfterPreemptionSaysSoAndHoldsNoGpus) {
  JobRecord record = ended(JobState::kQueued);  // its run: GPUs 0 and 1, an hour
  record.exit_code.reset();
  record.signal = 15;
  record.job_pid = 4242;
  record.spec.restartable = true;
  const std::int64_t now_us = kSubmitUs + 10'000'000'000;
  const std::string text = details(record, now_us);
  EXPECT_THAT(text, HasSubstr("state:         QUEUED\nrequeued:      attempt 1 was preempted "
                              "after 1h00m on GPUs 0,1 (killed by signal 15 (SIGTERM)); "
                              "queued to run again\n"));
  EXPECT_THAT(text, HasSubstr("placed on:     -\n"));
  EXPECT_THAT(text, HasSubstr("started:       -\n"));
  EXPECT_THAT(text, HasSubstr("ended:         -\n"));
  EXPECT_THAT(text, HasSubstr("elapsed:       -\n"));
  EXPECT_THAT(text, HasSubstr("waited:        2h46m so far\n"));
  EXPECT_THAT(text, HasSubstr("signal:        -\n"));
  EXPECT_THAT(text, HasSubstr("attempts:      1\n"));
  const std::string table =
      render_job_table(api::Json::array({api::job_record_to_json(record)}), now_us, false);
  EXPECT_THAT(table, ::testing::ContainsRegex("QUEUED +2 +20.0 GiB -  +-\n"));
}

// It said "was preempted" for a job requeued for any reason; the daemon's show answer now
// carries why the job was queued again (requeue_reason), and show names it.
TEST(JobDetails, AJobQueuedAgainNamesWhyItWasQueuedAgain) {
  JobRecord record = ended(JobState::kQueued);
  record.exit_code.reset();
  record.signal = 15;
  api::Json json = api::job_record_to_json(record);
  json["requeue_reason"] =
      "requeued: memory pressure (memory-action requeue): gpu 0 uses 60.0 GiB, ledger allows "
      "20.0 GiB; job 7 declared 20.0 GiB and uses 60.0 GiB";
  EXPECT_THAT(render_job_details(json, kSubmitUs + 10'000'000'000),
              HasSubstr("requeued:      attempt 1 was stopped after 1h00m on GPUs 0,1 (killed by "
                        "signal 15 (SIGTERM)); requeued: memory pressure (memory-action "
                        "requeue): gpu 0 uses 60.0 GiB"));
}

// Its GPU time is a known 0, as `history` and `--json` say (`show` printed "-"); the other
// GPU figures do not apply.
TEST(JobDetails, ACpuOnlyJobUsedNoGpuTimeAndHasNoOtherGpuFigures) {
  JobRecord record = ended(JobState::kCompleted);
  record.spec.gpus = 0;
  record.spec.gpu_mem.reset();
  record.placed_gpus.clear();
  record.accounting.gpu_seconds = 0.0;
  const std::string text = details(record, kSubmitUs + 10'000'000'000);
  EXPECT_THAT(text, HasSubstr("gpus:          none (a CPU-only job)\n"));
  EXPECT_THAT(text, HasSubstr("GPU time:      0s (0.0000 GPU-hours)\n"));
  EXPECT_THAT(text, HasSubstr("peak GPU mem:  -\n"));
  EXPECT_THAT(text, HasSubstr("energy:        -\n"));
}

// Array member `index` of array 2 (ids 2, 3, ... for indices 0, 1, ...), submitted as
// one batch.
JobRecord member(std::uint64_t id, std::uint32_t index, JobState state) {
  JobRecord record = job(state, 1);
  record.id = JobId(id);
  record.spec.name = "sweep";
  record.spec.array = store::ArrayMember{2, index, 0};
  if (state == JobState::kRunning) {
    record.placed_gpus = {0};
    record.start_time = at_us(kSubmitUs);
  }
  return record;
}

// `columns`: the terminal's (0: piped).
std::string table(const std::vector<JobRecord>& records, bool expand,
                  api::JobFields fields = api::JobFields::kAll, std::size_t columns = 0) {
  api::Json jobs = api::Json::array();
  for (const JobRecord& record : records) jobs.push_back(api::job_record_to_json(record, fields));
  return render_job_table(jobs, kSubmitUs + 60'000'000, expand, columns);
}

// 10,000 queued members are one line, as squeue shows a pending array; what runs, and
// what is not a run of consecutive queued members, keeps its own line.
TEST(JobTable, QueuedArrayMembersShareALineUnlessExpanded) {
  std::vector<JobRecord> records = {job(JobState::kQueued, 1), member(2, 0, JobState::kRunning)};
  for (std::uint32_t index = 1; index < 10'000; ++index) {
    records.push_back(member(2 + index, index, JobState::kQueued));
  }
  records[0].id = JobId(1);
  records.push_back(member(20'000, 10'000, JobState::kQueued));  // not the next id
  const std::string text = table(records, /*expand=*/false);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 5) << text;  // header + 4 rows
  EXPECT_THAT(text, HasSubstr("     1  train "));
  EXPECT_THAT(text, HasSubstr("     2  sweep[0] "));
  EXPECT_THAT(text, HasSubstr("RUNNING"));
  EXPECT_THAT(text, HasSubstr("\n3-10001  sweep[1-9999]        alice      QUEUED "));
  EXPECT_THAT(text, HasSubstr(" 20000  sweep[10000] "));
  const std::string expanded = table(records, /*expand=*/true);
  EXPECT_EQ(std::count(expanded.begin(), expanded.end(), '\n'), 1 + 10'002);
}

TEST(JobTable, GapsInTheIndicesShowAsRanges) {
  const std::vector<JobRecord> records = {member(5, 1, JobState::kQueued),
                                          member(6, 3, JobState::kQueued),
                                          member(7, 4, JobState::kQueued)};
  EXPECT_THAT(table(records, false), HasSubstr("5-7  sweep[1,3-4] "));
}

// Every other index (an array's failed members resubmitted) is one stepped range, each index
// told once however many of its members wait; a list with no pattern is cut, not 1,000
// characters wide.
TEST(JobTable, SteppedAndRepeatedIndicesStayShort) {
  std::vector<JobRecord> records;
  for (std::uint32_t round = 0; round < 3; ++round) {
    for (std::uint32_t index = 1; index < 1000; index += 2) {
      records.push_back(member(1001 + records.size(), index, JobState::kQueued));
    }
  }
  EXPECT_THAT(table(records, false), HasSubstr("1001-2500  sweep[1-999:2] "));
  records.clear();
  for (std::uint32_t index : {1u, 3u, 4u, 9u, 20u, 22u, 24u}) {
    records.push_back(member(5 + records.size(), index, JobState::kQueued));
  }
  EXPECT_THAT(table(records, false), HasSubstr("5-11  sweep[1,3-4,9,20-24:2] "));
  records.clear();
  std::uint64_t square = 0;
  for (std::uint32_t n = 1; n <= 40; ++n) {
    square = std::uint64_t{n} * n;
    records.push_back(member(100 + n, static_cast<std::uint32_t>(square), JobState::kQueued));
  }
  const std::string text = table(records, false);
  EXPECT_THAT(
      text,
      HasSubstr("101-140  sweep[1,4,9,16,25,36,49,64,81,100,121,144,169,196,225,256,289,324,...] "))
      << text;
}

// Members of one array in every state, a second array's members between them, ids with
// gaps, jobs outside arrays, with and without GPUs, ended and running.
std::vector<JobRecord> mixed_jobs() {
  std::vector<JobRecord> records = {
      member(2, 0, JobState::kRunning), member(3, 1, JobState::kQueued),
      member(4, 2, JobState::kQueued),  member(5, 3, JobState::kPreempted),
      member(6, 4, JobState::kQueued),  member(7, 5, JobState::kQueued),
      member(9, 6, JobState::kQueued),  member(10, 7, JobState::kQueued)};
  JobRecord other = member(8, 0, JobState::kQueued);
  other.spec.array->array_id = 8;
  other.spec.name = "";
  records.insert(records.begin() + 6, other);
  records.push_back(ended(JobState::kFailed));
  records.back().id = JobId(11);
  records.push_back(job(JobState::kQueued, 0));
  records.back().id = JobId(12);
  records.push_back(job(JobState::kRunning, 1));
  records.back().id = JobId(13);
  records.back().spec.gpu_mem.reset();
  records.back().start_time = at_us(kSubmitUs + 5'000'000);
  return records;
}

TEST(JobTable, RunsBreakAtOtherStatesOtherArraysAndGapsInTheIds) {
  const std::string text = table(mixed_jobs(), /*expand=*/false);
  EXPECT_THAT(text, HasSubstr("     2  sweep[0] "));
  EXPECT_THAT(text, HasSubstr("\n   3-4  sweep[1-2] "));
  EXPECT_THAT(text, HasSubstr("     5  sweep[3] "));
  EXPECT_THAT(text, HasSubstr("\n   6-7  sweep[4-5] "));
  EXPECT_THAT(text, HasSubstr("     8  -[0] "));
  EXPECT_THAT(text, HasSubstr("\n  9-10  sweep[6-7] "));
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1 + 9) << text;
  const std::string expanded = table(mixed_jobs(), /*expand=*/true);
  EXPECT_EQ(std::count(expanded.begin(), expanded.end(), '\n'), 1 + 12) << expanded;
}

// A queued job's PLACED(WHY) is its reason, as squeue's NODELIST(REASON); members of an
// array share a line only while they wait for the same reason.
TEST(JobTable, QueuedJobsShowWhyTheyWaitAndArrayRunsBreakWhereTheReasonChanges) {
  api::Json jobs = api::Json::array();
  const char* reasons[] = {"priority", "priority", "array limit", "array limit", "array limit"};
  for (std::uint32_t index = 0; index < 5; ++index) {
    api::Json job = api::job_record_to_json(member(3 + index, index, JobState::kQueued),
                                            api::JobFields::kTable);
    job["waiting"] = {{"reason", reasons[index]}};
    jobs.push_back(job);
  }
  const std::string text = render_job_table(jobs, kSubmitUs, /*expand=*/false);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1 + 2) << text;
  EXPECT_THAT(text, HasSubstr("PLACED(WHY)"));
  EXPECT_THAT(text, HasSubstr("\n   3-4  sweep[0-1]           alice      QUEUED        1 20.0 GiB "
                              "(priority)             -\n"));
  EXPECT_THAT(text, HasSubstr("\n   5-7  sweep[2-4] "));
  EXPECT_THAT(text, HasSubstr("(array limit)"));
}

TEST(JobDetails, AQueuedJobSaysWhyItWaits) {
  api::Json job = api::job_record_to_json(member(3, 0, JobState::kQueued));
  job["waiting"] = {{"reason", "resources"}, {"detail", "needs a GPU with 30.0 GiB free"}};
  EXPECT_THAT(render_job_details(job, kSubmitUs),
              HasSubstr("placed on:     -\nwaiting:       resources: needs a GPU with 30.0 GiB "
                        "free\n"));
}

// `fastgpu queue` asks for fields=table: its table is the one the full records give.
TEST(JobTable, TheTableFieldsGiveTheTableTheFullRecordsGive) {
  for (bool expand : {false, true}) {
    const std::string full = table(mixed_jobs(), expand);
    EXPECT_EQ(table(mixed_jobs(), expand, api::JobFields::kTable), full);
    EXPECT_EQ(table(mixed_jobs(), expand, api::JobFields::kBrief), full);
  }
}

// A running "auto" job showed MEM/GPU "auto", not the memory it was placed with; a long
// name was cut with nothing to say so.
TEST(JobTable, AnAutoJobShowsWhatItWasPlacedWithAndALongNameEndsInAPlus) {
  JobRecord queued = job(JobState::kQueued, 1);
  queued.spec.gpu_mem.reset();
  queued.spec.name = "a-name-longer-than-twenty";
  JobRecord running = member(2, 0, JobState::kRunning);
  running.spec.gpu_mem.reset();
  running.placed_bytes_per_gpu = Bytes{20} << 30;
  for (api::JobFields fields : {api::JobFields::kAll, api::JobFields::kTable}) {
    // On an 84-column terminal the name keeps 20 columns once USER narrows to "alice".
    const std::string text = table({queued, running}, /*expand=*/true, fields, 84);
    EXPECT_THAT(text, HasSubstr(" a-name-longer-than-+ ")) << text;
    EXPECT_THAT(text, HasSubstr("auto")) << text;      // the queued one
    EXPECT_THAT(text, HasSubstr("20.0 GiB")) << text;  // the running one
  }
  const std::string shown = details(running, kSubmitUs + 60'000'000);
  EXPECT_THAT(shown, HasSubstr("gpus:          1 x auto per GPU (placed with 20.0 GiB)\n"));
}

// A long name in another script was cut inside a character ("日本語の長い\xe5+") and the
// rest of its row moved out of line; it is cut between characters, to the same columns.
TEST(JobTable, ALongNameIsCutBetweenCharactersAndKeepsItsColumns) {
  JobRecord wide = job(JobState::kQueued, 1);
  wide.spec.name = "日本語の長い名前のジョブ";
  JobRecord accented = job(JobState::kQueued, 1);
  accented.spec.name = "éééééééééééééééééééééé";
  JobRecord ascii = job(JobState::kQueued, 1);
  ascii.spec.name = "a-name-longer-than-twenty";
  // An 84-column terminal: 20 columns for the name.
  const std::string text =
      table({wide, accented, ascii}, /*expand=*/true, api::JobFields::kAll, 84);
  EXPECT_THAT(text, HasSubstr("  日本語の長い名前の+  alice "));  // 18 columns and '+'
  EXPECT_THAT(text, HasSubstr("  ééééééééééééééééééé+ alice "));
  EXPECT_THAT(text, HasSubstr("  a-name-longer-than-+ alice "));
}

TEST(StateList, EachVerbTakesItsOwnStatesInAnyCaseAndPointsAtTheOtherForTheRest) {
  EXPECT_EQ(parse_state_list("running, Queued", /*ended=*/false).value(), "RUNNING,QUEUED");
  EXPECT_EQ(parse_state_list("failed,TIMEOUT", /*ended=*/true).value(), "FAILED,TIMEOUT");
  EXPECT_THAT(parse_state_list("failed", false).status().message(),
              HasSubstr("FAILED jobs have ended; queue lists jobs that have not ended"));
  EXPECT_THAT(parse_state_list("failed", false).status().message(),
              HasSubstr("`fastgpu history --state FAILED` lists them"));
  EXPECT_THAT(parse_state_list("running", true).status().message(),
              HasSubstr("`fastgpu queue -t RUNNING` lists them"));
  // purge's --state: it said "history lists jobs that have ended", about another verb.
  EXPECT_THAT(parse_state_list("running", true, "purge").status().message(),
              HasSubstr("RUNNING jobs have not ended; purge forgets only jobs that have ended"));
  const std::string unknown = parse_state_list("completed,Bogus", true).status().message();
  EXPECT_THAT(unknown, HasSubstr("unknown state 'Bogus'"));
  EXPECT_THAT(unknown, HasSubstr("COMPLETED, FAILED, CANCELLED, TIMEOUT"));
  // An empty list was taken as every state without a word (`queue -t ''`).
  EXPECT_THAT(parse_state_list("", false).status().message(),
              HasSubstr("--state '': give at least one state of QUEUED, RUNNING, PREEMPTED"));
  EXPECT_THAT(parse_state_list(" ", true).status().message(),
              HasSubstr("give at least one state of COMPLETED, FAILED, CANCELLED, TIMEOUT"));
  EXPECT_THAT(parse_state_list("running,,queued", false).status().message(),
              HasSubstr("empty name between commas"));
}

}  // namespace
}  // namespace fastgpu::cli

namespace fastgpu::cli {
namespace {

std::vector<std::uint64_t> ids_of(const std::vector<JobIdArgument>& arguments) {
  std::vector<std::uint64_t> ids;
  for (const JobIdArgument& argument : arguments) ids.push_back(argument.id);
  return ids;
}

TEST(JobIdRanges, IdsAndRangesAsTheQueueShowsThemEachOnceInTheOrderGiven) {
  Result<std::vector<JobIdArgument>> parsed = parse_job_id_ranges({"9", "3-5", "4", "12-12"});
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  EXPECT_EQ(ids_of(*parsed), (std::vector<std::uint64_t>{9, 3, 4, 5, 12}));
  EXPECT_FALSE((*parsed)[0].from_range);
  EXPECT_TRUE((*parsed)[1].from_range);
  EXPECT_TRUE((*parsed)[2].from_range) << "4 came first in the range";
}

TEST(JobIdRanges, ABadRangeNamesItselfAndTheForm) {
  for (const char* bad : {"5-3", "a-9", "3-", "3-x", "1-2-3"}) {
    Result<std::vector<JobIdArgument>> parsed = parse_job_id_ranges({"1", bad});
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_THAT(parsed.status().message(), HasSubstr(std::string("'") + bad + "'"));
    EXPECT_THAT(parsed.status().message(), HasSubstr("FIRST-LAST"));
  }
  EXPECT_THAT(parse_job_id_ranges({"-3"}).status().message(), HasSubstr("'-3' is not a job id"));
  Result<std::vector<JobIdArgument>> huge = parse_job_id_ranges({"1-99999999"});
  ASSERT_FALSE(huge.ok());
  EXPECT_THAT(huge.status().message(), HasSubstr("split it"));
}

// `[::1]:9401`, as a URL writes an IPv6 address, reached the address lookup with its
// brackets and failed with a stale reason ("File exists").
TEST(HostPort, AnIpv6HostInBracketsAsAUrlWritesIt) {
  const auto parsed = [](std::string_view text) {
    const std::optional<HostPort> address = parse_host_port(text, 0);
    return address ? address->host + " " + std::to_string(address->port) : std::string("-");
  };
  EXPECT_EQ(parsed("[::1]:9401"), "::1 9401");
  EXPECT_EQ(parsed("[::]:0"), ":: 0");
  EXPECT_EQ(parsed("::1:9401"), "::1 9401");
  EXPECT_EQ(parsed("127.0.0.1:80"), "127.0.0.1 80");
  for (const char* bad : {"[::1]9401", "[::1]:", "[]:80", "[::1", ":80", "9401", "h:99999"}) {
    EXPECT_EQ(parsed(bad), "-") << bad;
  }
  EXPECT_EQ(host_port_text("::1", 9401), "[::1]:9401");
  EXPECT_EQ(host_port_text("127.0.0.1", 9401), "127.0.0.1:9401");
}

// On an 80-column terminal the 89-column table wrapped every row; piped, names are whole.
TEST(JobTable, ATerminalNarrowerThanTheTableNarrowsTheNameAndUserColumns) {
  JobRecord record = ended(JobState::kRunning);
  record.end_time.reset();
  record.exit_code.reset();
  record.spec.name = "resnet50-finetune-long-name";
  const api::Json jobs = api::Json::array({api::job_record_to_json(record)});
  const auto widest = [](const std::string& text) {
    std::size_t most = 0;
    std::size_t from = 0;
    for (std::size_t end; (end = text.find('\n', from)) != std::string::npos; from = end + 1) {
      most = std::max(most, display_width(std::string_view(text).substr(from, end - from)));
    }
    return most;
  };
  // Piped, the name is whole: `fastgpu queue | grep` finds it.
  const std::string piped = render_job_table(jobs, kSubmitUs + 200'000'000, false);
  EXPECT_EQ(widest(piped), 96u) << piped;
  EXPECT_THAT(piped, HasSubstr("resnet50-finetune-long-name alice      RUNNING"));
  const std::string narrow = render_job_table(jobs, kSubmitUs + 200'000'000, false, 80);
  EXPECT_EQ(widest(narrow), 80u) << narrow;
  // The users' column first gives up what its names leave free, then the name's.
  EXPECT_THAT(narrow, HasSubstr("resnet50-finetu+ alice RUNNING")) << narrow;
  const std::string narrower = render_job_table(jobs, kSubmitUs + 200'000'000, false, 72);
  EXPECT_EQ(widest(narrower), 72u) << narrower;
  EXPECT_THAT(narrower, HasSubstr("resnet5+ alice RUNNING")) << narrower;
  // Past the least of each (8 and 4), the rows are as narrow as they go.
  EXPECT_THAT(render_job_table(jobs, kSubmitUs + 200'000'000, false, 40),
              HasSubstr("resnet5+ ali+ RUNNING"));
  // Wider than the table: nothing changes.
  EXPECT_EQ(render_job_table(jobs, kSubmitUs + 200'000'000, false, 120), piped);
}

// Slurm's ARRAY_TASK form was told only "'3_1' is not a job id".
TEST(JobIdRanges, SlurmsArrayTaskFormIsToldEachMemberHasItsOwnId) {
  for (const auto& ids : {std::vector<std::string>{"3_1"}, std::vector<std::string>{"2", "12_0"}}) {
    const Status refused = parse_job_id_ranges(ids).status();
    EXPECT_THAT(refused.message(),
                HasSubstr("'" + ids.back() +
                          "' is Slurm's JOB_TASK form; each array member "
                          "has its own job id here: `fastgpu queue -r` lists them"));
  }
  EXPECT_THAT(parse_job_ids({"3_"}).status().message(), HasSubstr("'3_' is not a job id"));
}

// `queue --name` and `history --name`: names as submitted, each byte a URL may not carry
// as it is escaped, so that a name such as "a&b" does not end the parameter.
TEST(NameQuery, NamesPercentEncodedAndAnEmptyOneRefused) {
  EXPECT_EQ(name_query("train").value(), "&name=train");
  EXPECT_EQ(name_query("train,eval-2").value(), "&name=train%2Ceval-2");
  EXPECT_EQ(name_query("a&b=c#d%e+f").value(), "&name=a%26b%3Dc%23d%25e%2Bf");
  EXPECT_EQ(name_query("résumé").value(), "&name=r%C3%A9sum%C3%A9");
  for (const char* bad : {"", ",", "a,", ",a", "a,,b"}) {
    Result<std::string> query = name_query(bad);
    ASSERT_FALSE(query.ok()) << bad;
    EXPECT_THAT(query.status().message(), HasSubstr(std::string("--name '") + bad + "'"));
    EXPECT_THAT(query.status().message(), HasSubstr("--name train,eval"));
  }
}

}  // namespace
}  // namespace fastgpu::cli
