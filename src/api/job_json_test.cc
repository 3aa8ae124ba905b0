#include "fastgpu/api/job_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

namespace fastgpu::api {
namespace {

store::JobSpec full_spec() {
  store::JobSpec spec;
  spec.name = "train";
  spec.argv = {"python3", "train.py", "--lr", "0.1"};
  spec.working_dir = "/home/ana";
  spec.environment = {"A=1", "PATH=/bin"};
  spec.gpus = 2;
  spec.gpu_mem = 20LL << 30;
  spec.util_share = 0.5;
  spec.priority = -3;
  spec.time_limit_s = 3600;
  spec.deadline = store::WallTime(std::chrono::microseconds(1'800'000'000'000'000));
  spec.dependencies = {{JobId(7), store::DependencyKind::kAfterAny, std::nullopt},
                       {JobId(0), store::DependencyKind::kAfterOk, std::size_t{0}}};
  spec.array = store::ArrayMember{0, 3, 4};
  spec.restartable = true;
  spec.signature = "train";
  spec.umask = 027;
  spec.kill_grace_s = 300;  // round-trips as grace_s
  spec.limits = {
      {"core", 0, std::nullopt}, {"nofile", 1024, 524288}, {"stack", std::nullopt, std::nullopt}};
  return spec;
}

TEST(JobJson, SpecRoundTripsExceptTheFieldsTheDaemonSets) {
  const store::JobSpec spec = full_spec();
  const Result<store::JobSpec> back = job_spec_from_json(job_spec_to_json(spec), 0);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(*back, spec);
}

TEST(JobJson, ShellCommandAndAutoMemoryRoundTrip) {
  store::JobSpec spec;
  spec.shell_command = "echo $HOME";
  spec.working_dir = "/";
  spec.gpus = 0;
  const Result<store::JobSpec> back = job_spec_from_json(job_spec_to_json(spec), 0);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, spec);
  EXPECT_FALSE(back->gpu_mem.has_value());
}

TEST(JobJson, ABatchSendsAnEnvironmentItsJobsShareOnce) {
  std::vector<store::JobSpec> batch(3, full_spec());
  batch[2].environment = std::vector<std::string>(batch[0].environment);  // equal, not shared
  const Json body = job_batch_to_json(batch);
  EXPECT_EQ(body["environment"], Json(batch[0].environment.entries()));
  for (const Json& job : body["jobs"]) EXPECT_FALSE(job.contains("environment")) << job.dump();

  const Result<std::vector<store::JobSpec>> back = job_batch_from_json(body);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(*back, batch);
  EXPECT_TRUE(back->at(0).environment.shares_with(back->at(2).environment));
}

// A 10,000-job array from one shell has one set of limits: it is sent once, not 10,000 times
// (429 bytes a job from a root shell on this VM); a job's own wins over it, and a bad one names the
// batch.
TEST(JobJson, ABatchSendsTheLimitsItsJobsShareOnceAndAJobsOwnWins) {
  std::vector<store::JobSpec> batch(3, full_spec());
  Json body = job_batch_to_json(batch);
  EXPECT_EQ(body["limits"], job_spec_to_json(full_spec())["limits"]);
  for (const Json& job : body["jobs"]) EXPECT_FALSE(job.contains("limits")) << job.dump();
  EXPECT_EQ(job_batch_from_json(body).value(), batch);

  batch[1].limits = {{"stack", 1024, 2048}};
  batch[2].limits.clear();  // the daemon's
  body = job_batch_to_json(batch);
  EXPECT_FALSE(body.contains("limits"));  // none common to every job
  EXPECT_EQ(job_batch_from_json(body).value(), batch);

  const Result<std::vector<store::JobSpec>> mixed = job_batch_from_json(Json::parse(
      R"({"limits": {"core": {"soft": 0, "hard": 0}},
          "jobs": [{"argv": ["x"]}, {"argv": ["y"], "limits": {"nofile": {"soft": 8, "hard": 8}}}]})"));
  ASSERT_TRUE(mixed.ok()) << mixed.status().to_string();
  EXPECT_EQ(mixed->at(0).limits, (ResourceLimits{{"core", 0, 0}}));
  EXPECT_EQ(mixed->at(1).limits, (ResourceLimits{{"nofile", 8, 8}}));

  const Result<std::vector<store::JobSpec>> bad = job_batch_from_json(
      Json::parse(R"({"limits": {"stack": {"soft": 2, "hard": 1}}, "jobs": [{"argv": ["x"]}]})"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "the batch's 'limits' stack: soft 2 is above hard 1; give a soft value at most the "
            "hard one");
}

TEST(JobJson, AJobsOwnEnvironmentWinsOverTheBatchs) {
  std::vector<store::JobSpec> batch(2, full_spec());
  batch[1].environment = {"ONLY=mine"};
  const Json body = job_batch_to_json(batch);
  EXPECT_FALSE(body.contains("environment"));  // no environment common to every job
  EXPECT_EQ(job_batch_from_json(body).value(), batch);

  const Result<std::vector<store::JobSpec>> mixed = job_batch_from_json(Json::parse(
      R"({"environment": ["A=batch"],
          "jobs": [{"argv": ["x"]}, {"argv": ["y"], "environment": ["B=own"]},
                   {"argv": ["z"], "environment": []}]})"));
  ASSERT_TRUE(mixed.ok()) << mixed.status().to_string();
  EXPECT_EQ(mixed->at(0).environment, std::vector<std::string>{"A=batch"});
  EXPECT_EQ(mixed->at(1).environment, std::vector<std::string>{"B=own"});
  EXPECT_TRUE(mixed->at(2).environment.empty());  // an empty list of its own is its own
}

TEST(JobJson, ABadBatchFieldIsNamed) {
  Result<std::vector<store::JobSpec>> batch =
      job_batch_from_json(Json::parse(R"({"environment": "A=1", "jobs": [{"argv": ["x"]}]})"));
  ASSERT_FALSE(batch.ok());
  EXPECT_NE(batch.status().message().find("the batch's 'environment' must be a list of strings"),
            std::string::npos)
      << batch.status().message();
  batch = job_batch_from_json(Json::parse(R"({"environment": [1], "jobs": [{"argv": ["x"]}]})"));
  EXPECT_FALSE(batch.ok());
  batch = job_batch_from_json(Json::parse(R"({"env": ["A=1"], "jobs": [{"argv": ["x"]}]})"));
  ASSERT_FALSE(batch.ok());
  EXPECT_NE(batch.status().message().find("unknown batch field 'env'"), std::string::npos)
      << batch.status().message();
}

TEST(JobJson, OutOfRangeAndWrongTypedValuesNameTheJobAndField) {
  Result<store::JobSpec> spec = job_spec_from_json(Json::parse(R"({"gpus": 4294967296})"), 2);
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(spec.status().message().find("job 2: 'gpus'"), std::string::npos)
      << spec.status().message();
  spec = job_spec_from_json(Json::parse(R"({"gpu_mem": -5})"), 0);
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(spec.status().message().find("'gpu_mem'"), std::string::npos);
  spec = job_spec_from_json(Json::parse(R"({"dependencies": [{"job": 3, "kind": "after"}]})"), 0);
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(spec.status().message().find("afterok or afterany"), std::string::npos);
  spec = job_spec_from_json(Json::parse(R"({"restartable": "yes"})"), 0);
  EXPECT_FALSE(spec.ok());
  spec = job_spec_from_json(Json::parse(R"("echo")"), 0);
  EXPECT_FALSE(spec.ok());
}

// In octal, as a string, as `umask` prints it: a number 27 would be 033 read as decimal.
TEST(JobJson, AUmaskIsAnOctalStringAndAnyOtherIsNamed) {
  EXPECT_EQ(job_spec_to_json(full_spec())["umask"], "0027");
  Result<store::JobSpec> spec = job_spec_from_json(Json::parse(R"({"umask": "077"})"), 0);
  ASSERT_TRUE(spec.ok()) << spec.status().to_string();
  EXPECT_EQ(spec->umask, 077u);
  spec = job_spec_from_json(Json::parse(R"({"umask": null})"), 0);
  ASSERT_TRUE(spec.ok());
  EXPECT_FALSE(spec->umask.has_value());  // the daemon's
  for (const char* bad : {R"("1000")", R"("0999")", R"("")", R"("-1")", "27", R"("0o22")"}) {
    spec = job_spec_from_json(Json::parse(std::string(R"({"umask": )") + bad + "}"), 1);
    ASSERT_FALSE(spec.ok()) << bad;
    EXPECT_EQ(spec.status().message(),
              std::string("job 1: 'umask' ") + bad +
                  " is not a umask; give it in octal as a string, as `umask` prints it: "
                  "\"0000\" to \"0777\", e.g. \"0027\" (or leave it out for the daemon's)");
  }
}

// As setrlimit takes them, "unlimited" for RLIM_INFINITY; null (or none) is the daemon's.
TEST(JobJson, LimitsAreNumbersOrUnlimitedAndAnyOtherIsNamed) {
  EXPECT_EQ(job_spec_to_json(full_spec())["limits"],
            Json::parse(R"({"core": {"soft": 0, "hard": "unlimited"},
                            "nofile": {"soft": 1024, "hard": 524288},
                            "stack": {"soft": "unlimited", "hard": "unlimited"}})"));
  Result<store::JobSpec> spec = job_spec_from_json(Json::parse(R"({"limits": null})"), 0);
  ASSERT_TRUE(spec.ok()) << spec.status().to_string();
  EXPECT_TRUE(spec->limits.empty());
  EXPECT_TRUE(job_spec_to_json(*spec)["limits"].is_null());
  // null is absent, for one limit as for all; the kernel's RLIM_INFINITY is unlimited.
  spec = job_spec_from_json(Json::parse(R"({"limits": {"core": null,
                                 "nofile": {"soft": 10, "hard": 18446744073709551615}}})"),
                            0);
  ASSERT_TRUE(spec.ok()) << spec.status().to_string();
  EXPECT_EQ(spec->limits, (ResourceLimits{{"nofile", 10, std::nullopt}}));

  const std::string whole = " must be a whole number >= 0 (a count) or \"unlimited\"";
  const std::pair<const char*, std::string> bad[] = {
      {R"([1, 2])", "[1,2] must be an object of resource limits, e.g."},
      {R"({"nice": {"soft": 0, "hard": 0}})",
       "names 'nice', which is not a limit FastGPU carries; give one of as, core, cpu, data, "
       "fsize, memlock, nofile, nproc, rss, stack"},
      {R"({"nofile": {"soft": -1, "hard": 10}})", "nofile: soft -1" + whole},
      {R"({"nofile": {"soft": "lots", "hard": 10}})", "nofile: soft \"lots\"" + whole},
      {R"({"nofile": {"soft": 1.5, "hard": 10}})", "nofile: soft 1.5" + whole},
      {R"({"cpu": {"soft": 1.5, "hard": 10}})",
       "cpu: soft 1.5 must be a whole number >= 0 (seconds) or \"unlimited\""},
      {R"({"stack": {"soft": 1e30, "hard": 10}})",
       "stack: soft 1e+30 is above the largest, 18446744073709551615; give \"unlimited\" for "
       "no limit"},
      {R"({"nofile": {"soft": 10}})", "nofile: \"hard\" is missing; give both soft and hard"},
      {R"({"nofile": {"soft": 10, "hard": null}})", "nofile: \"hard\" is missing"},
      {R"({"nofile": {"soft": 10, "hard": 20, "max": 30}})",
       "nofile: unknown field 'max'; a limit has \"soft\" and \"hard\""},
      {R"({"nofile": 10})",
       "nofile: 10 must be {\"soft\": N, \"hard\": N}, each a whole number (a count) or "
       "\"unlimited\""},
      {R"({"nofile": {"soft": 20, "hard": 10}})",
       "nofile: soft 20 is above hard 10; give a soft value at most the hard one"},
      {R"({"stack": {"soft": "unlimited", "hard": 8388608}})",
       "stack: soft unlimited is above hard 8M; give a soft value at most the hard one"},
  };
  for (const auto& [limits, message] : bad) {
    spec = job_spec_from_json(Json::parse(std::string(R"({"limits": )") + limits + "}"), 2);
    ASSERT_FALSE(spec.ok()) << limits;
    EXPECT_THAT(spec.status().message(), ::testing::StartsWith("job 2: 'limits' " + message))
        << limits;
  }
}

TEST(JobJson, RecordRoundTrips) {
  store::JobRecord record;
  record.id = JobId(42);
  record.spec = full_spec();
  record.spec.array->array_id = 40;
  record.spec.uid = 1000;
  record.spec.user = "ana";
  record.spec.submit_time = store::WallTime(std::chrono::microseconds(1'700'000'000'123'456));
  record.state = store::JobState::kCompleted;
  record.placed_gpus = {1, 3};
  record.placed_bytes_per_gpu = 20LL << 30;
  record.start_time = record.spec.submit_time + std::chrono::seconds(2);
  record.end_time = record.spec.submit_time + std::chrono::seconds(9);
  record.exit_code = 0;
  record.supervisor_pid = 100;
  record.job_pid = 101;
  record.log_path = "/s/logs/42.log";
  record.attempts = 1;
  record.accounting.gpu_seconds = 14.0;
  record.end_reason = "exited with status 0";
  record.spec.held_by = 1000;  // the holder goes both ways
  const Json json = job_record_to_json(record);
  EXPECT_EQ(json["held_by"], 1000);
  EXPECT_EQ(json["spec"]["hold"], true);
  EXPECT_EQ(json["start_time"], "2023-11-14T22:13:22.123456Z");
  EXPECT_EQ(json["end_reason"], "exited with status 0");
  const Result<store::JobRecord> back = job_record_from_json(json);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(*back, record);
}

// A queued array member, a running job, a job of "auto" memory, an ended one.
std::vector<store::JobRecord> listed_records() {
  store::JobRecord queued;
  queued.id = JobId(12);
  queued.spec = full_spec();
  queued.spec.array->array_id = 12;
  queued.spec.user = "ana";
  queued.spec.held_by = 0;  // held by root
  store::JobRecord running = queued;
  running.spec.held_by.reset();
  running.id = JobId(13);
  running.spec.array.reset();
  running.spec.gpu_mem.reset();
  running.state = store::JobState::kRunning;
  running.placed_gpus = {1, 3};
  running.start_time = store::WallTime(std::chrono::microseconds(1'700'000'000'123'456));
  store::JobRecord ended = running;
  ended.id = JobId(14);
  ended.spec.name = "caf\xc3\xa9 \xff";  // not UTF-8: replaced in the text
  ended.state = store::JobState::kFailed;
  ended.end_time = *running.start_time + std::chrono::seconds(5);
  ended.exit_code = 3;
  ended.end_reason = "exited with status 3";
  return {queued, running, ended};
}

// A job as a client reads it: serialized (invalid UTF-8 replaced) and parsed.
Json as_read(const Json& job) {
  return Json::parse(job.dump(-1, ' ', false, Json::error_handler_t::replace));
}

TEST(JobJson, AJobThatHasNotEndedHasANullEndReason) {
  const Json queued = job_record_to_json(listed_records().front());
  ASSERT_TRUE(queued.contains("end_reason"));
  EXPECT_TRUE(queued["end_reason"].is_null());
}

TEST(JobJson, TheTableFieldsAreTheFullRecordsFields) {
  for (const store::JobRecord& record : listed_records()) {
    const Json full = as_read(job_record_to_json(record));
    const Json table = as_read(job_record_to_json(record, JobFields::kTable));
    for (const char* key : {"id", "state", "user", "held_by", "submit_time_us", "placed_gpus",
                            "placed_gpu_mem", "start_time_us", "end_time_us"}) {
      EXPECT_EQ(table.at(key), full.at(key)) << key;
    }
    for (const char* key : {"name", "gpus", "gpu_mem"}) {
      EXPECT_EQ(table["spec"].at(key), full["spec"].at(key)) << key;
    }
    EXPECT_EQ(table["spec"].contains("array"), record.spec.array.has_value());
    if (record.spec.array) {
      EXPECT_EQ(table["spec"]["array"], full["spec"]["array"]);
    }
    EXPECT_EQ(table.size(), 10u);
    EXPECT_EQ(table["spec"].size(), record.spec.array ? 4u : 3u);
  }
}

TEST(JobJson, ABriefRecordIsTheFullRecordWithoutItsEnvironment) {
  for (const store::JobRecord& record : listed_records()) {
    Json full = job_record_to_json(record);
    ASSERT_TRUE(full["spec"].contains("environment"));
    full["spec"].erase("environment");
    EXPECT_EQ(job_record_to_json(record, JobFields::kBrief), full);
  }
}

TEST(JobJson, AListingsTextIsTheListingDumpedAsTheServerDumpsJson) {
  for (JobFields fields : {JobFields::kAll, JobFields::kBrief, JobFields::kTable}) {
    Json jobs = Json::array();
    JobListingText listing(fields);
    for (const store::JobRecord& record : listed_records()) {
      jobs.push_back(job_record_to_json(record, fields));
      listing.add(record);
    }
    const Json body{{"jobs", jobs}};
    EXPECT_EQ(std::move(listing).finish(),
              body.dump(-1, ' ', false, Json::error_handler_t::replace));
  }
  EXPECT_EQ(JobListingText(JobFields::kAll).finish(), R"({"jobs":[]})");
}

TEST(JobJson, MalformedRecordIsAnErrorNotAThrow) {
  const Result<store::JobRecord> back = job_record_from_json(Json::parse(R"({"id": "x"})"));
  EXPECT_FALSE(back.ok());
}

}  // namespace
}  // namespace fastgpu::api
