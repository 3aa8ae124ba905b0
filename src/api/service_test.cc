#include "fastgpu/api/service.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "api/api_test_util.h"
#include "core/base64.h"
#include "fastgpu/sched/settings.h"

namespace fastgpu::api {
namespace {

using store::JobState;

using testing::FakeEngine;
using ManualClock = testing::FixedClock;

class ApiServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<store::StateStore>> opened = store::open_sqlite_store(":memory:");
    ASSERT_TRUE(opened.ok()) << opened.status().to_string();
    store_ = std::move(opened).value();
    engine_ = std::make_unique<FakeEngine>(*store_);
    ApiServiceOptions options;
    options.engine = engine_.get();
    options.store = store_.get();
    options.engine_mutex = &mutex_;
    options.clock = &clock_;
    options.wake_loop = [this] { ++wakes_; };
    options.user_name = [](std::uint32_t uid) { return "user" + std::to_string(uid); };
    options.job_path_prefix = {"/opt/fastgpu/bin"};
    options.info.gpus_source = "simulated";
    options.listing_page_jobs = 2;  // listings of a few jobs read several pages
    service_ = std::make_unique<ApiService>(std::move(options));
  }

  ApiResponse call(const std::string& method, const std::string& path, std::uint32_t uid,
                   const std::string& body = "", std::map<std::string, std::string> query = {}) {
    // From this process, as the server would find it through SO_PEERCRED.
    ApiResponse response =
        service_->handle({method, path, std::move(query), body, uid, ::getpid()});
    if (!response.text.empty()) response.body = Json::parse(response.text);  // a listing
    return response;
  }

  // Submits one `true` job as `uid`; returns its id.
  std::uint64_t submit_as(std::uint32_t uid) {
    const ApiResponse response =
        call("POST", "/v1/jobs", uid,
             R"({"jobs": [{"argv": ["true"], "working_dir": "/", "gpus": 1}]})");
    EXPECT_EQ(response.status, 201) << response.body.dump();
    return response.body["ids"][0].get<std::uint64_t>();
  }

  std::size_t stored_jobs() { return store_->list_jobs({}).value().size(); }

  std::unique_ptr<store::StateStore> store_;
  std::unique_ptr<FakeEngine> engine_;
  std::mutex mutex_;
  ManualClock clock_;
  int wakes_ = 0;
  std::unique_ptr<ApiService> service_;
};

// What the dashboard charts: each GPU's samples over the last minutes, as columns, with
// null where a field could not be read; only those after a given one when asked so.
TEST_F(ApiServiceTest, GpuSamplesAreColumnsPerGpuOverTheLastSeconds) {
  const store::WallTime now = clock_.now();
  auto at = [&](int seconds_ago) { return now - std::chrono::seconds(seconds_ago); };
  std::vector<store::Sample> samples = {
      {at(700), 0, 1, 1.0, 1.0, 1},  // older than the default 600 s
      {at(20), 0, Bytes{4} << 30, 87.0, 250.0, 100},
      {at(20), 1, Bytes{0}, std::nullopt, std::nullopt, std::nullopt},
      {at(10), 0, Bytes{5} << 30, 90.0, 260.0, 200},
  };
  ASSERT_TRUE(store_->append_samples(samples).ok());

  ApiResponse response = call("GET", "/v1/gpus/samples", 1000);
  ASSERT_EQ(response.status, 200) << response.body.dump();
  EXPECT_EQ(response.body["to_us"], now.time_since_epoch().count());
  const Json& gpus = response.body["gpus"];
  ASSERT_EQ(gpus.size(), 2u) << gpus.dump();
  EXPECT_EQ(gpus[0]["index"], 0);
  EXPECT_EQ(gpus[0]["at_us"],
            Json::array({at(20).time_since_epoch().count(), at(10).time_since_epoch().count()}));
  EXPECT_EQ(gpus[0]["util_percent"], Json::array({87.0, 90.0}));
  EXPECT_EQ(gpus[0]["memory_used_bytes"], Json::array({Bytes{4} << 30, Bytes{5} << 30}));
  EXPECT_EQ(gpus[0]["power_watts"], Json::array({250.0, 260.0}));
  EXPECT_EQ(gpus[1]["util_percent"], Json::array({nullptr})) << "unreadable is null, not 0";
  EXPECT_EQ(gpus[1]["memory_used_bytes"], Json::array({0}));

  response = call("GET", "/v1/gpus/samples", 1000, "",
                  {{"after_us", std::to_string(at(20).time_since_epoch().count())}});
  ASSERT_EQ(response.status, 200) << response.body.dump();
  ASSERT_EQ(response.body["gpus"].size(), 1u);
  EXPECT_EQ(response.body["gpus"][0]["util_percent"], Json::array({90.0}));

  response = call("GET", "/v1/gpus/samples", 1000, "", {{"seconds", "800"}});
  EXPECT_EQ(response.body["gpus"][0]["at_us"].size(), 3u);
  response = call("GET", "/v1/gpus/samples", 1000, "", {{"seconds", "7200"}});
  EXPECT_EQ(response.status, 400);
  EXPECT_NE(response.body["error"].get<std::string>().find("seconds=7200 is not from 1 to 3600"),
            std::string::npos)
      << response.body.dump();
  response = call("GET", "/v1/gpus/samples", 1000, "", {{"gpu", "0"}});
  EXPECT_EQ(response.status, 400) << "an unknown parameter is named";
}

// A shared daemon sets a job's limits as root before it becomes its user: a user who sent
// {"nproc": unlimited} would have got, through the daemon, more than limits.conf gives them.
// The job's hard limits may be at most those of the caller's own process.
TEST_F(ApiServiceTest, ASharedDaemonRefusesLimitsAboveTheCallersOwn) {
  rlimit own{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &own), 0);
  ASSERT_NE(own.rlim_max, RLIM_INFINITY);
  const auto body = [](rlim_t soft, rlim_t hard) {
    return fmt::format(R"({{"jobs": [{{"argv": ["true"], "working_dir": "/", "gpus": 1}},
        {{"argv": ["true"], "working_dir": "/", "gpus": 1,
          "limits": {{"nofile": {{"soft": {}, "hard": {}}}}}}}]}})",
                       soft, hard);
  };
  const std::int32_t pid = ::getpid();
  ApiResponse response =
      service_->handle({"POST", "/v1/jobs", {}, body(own.rlim_cur, own.rlim_max + 1), 1000, pid});
  EXPECT_EQ(response.status, 403) << response.body.dump();
  EXPECT_EQ(response.body["error"],
            fmt::format("job 1 of the batch asks for a nofile hard limit of {}, above your own "
                        "({}); a job may have at most its submitter's limits: raise yours "
                        "(ulimit -H, as root allows) or ask for less",
                        own.rlim_max + 1, own.rlim_max));
  EXPECT_EQ(stored_jobs(), 0u);
  // A batch's own "limits", which `submit` and `run` send once for all its jobs, is told as
  // the batch's (it read "job 0 of the batch").
  const std::string batch_limits = fmt::format(
      R"({{"limits": {{"nofile": {{"soft": {}, "hard": {}}}}}, "jobs": [
          {{"argv": ["true"], "working_dir": "/", "gpus": 1}},
          {{"argv": ["true"], "working_dir": "/", "gpus": 1}}]}})",
      own.rlim_cur, own.rlim_max + 1);
  response = service_->handle({"POST", "/v1/jobs", {}, batch_limits, 1000, pid});
  EXPECT_EQ(response.status, 403) << response.body.dump();
  EXPECT_THAT(response.body["error"].get<std::string>(),
              ::testing::StartsWith(fmt::format(
                  "the batch's 2 jobs ask for a nofile hard limit of {}", own.rlim_max + 1)));

  response = service_->handle({"POST", "/v1/jobs", {}, body(own.rlim_cur, own.rlim_max), 1000, 0});
  EXPECT_EQ(response.status, 403) << response.body.dump();
  EXPECT_THAT(response.body["error"].get<std::string>(),
              ::testing::HasSubstr("cannot read the resource limits of your process (pid 0"));

  // Each limit a job does not name is the caller's own, not root's (the daemon's): a job sent
  // with none ran with root's limits.
  response = service_->handle({"POST", "/v1/jobs", {}, body(16, own.rlim_max), 1000, pid});
  ASSERT_EQ(response.status, 201) << response.body.dump();
  const ResourceLimits callers = own_resource_limits();
  EXPECT_EQ(
      store_->get_job(JobId(response.body["ids"][0].get<std::uint64_t>())).value().spec.limits,
      callers);
  ResourceLimits asked = callers;
  for (ResourceLimit& limit : asked) {
    if (limit.name == "nofile") limit.soft = 16;
  }
  EXPECT_EQ(
      store_->get_job(JobId(response.body["ids"][1].get<std::uint64_t>())).value().spec.limits,
      asked);
  // Root is not asked: the limits are its to give.
  response = service_->handle({"POST", "/v1/jobs", {}, body(16, own.rlim_max + 1), 0, 0});
  EXPECT_EQ(response.status, 201) << response.body.dump();
}

TEST_F(ApiServiceTest, SubmitStoresTheCallersUidAndWakesTheLoop) {
  const std::uint64_t id = submit_as(1000);
  const store::JobRecord record = store_->get_job(JobId(id)).value();
  EXPECT_EQ(record.spec.uid, 1000u);
  EXPECT_EQ(record.spec.user, "user1000");
  EXPECT_EQ(record.spec.submit_time, clock_.now());
  EXPECT_EQ(wakes_, 1);
}

TEST_F(ApiServiceTest, ABodyClaimingAUidIsRefused) {
  const ApiResponse response = call(
      "POST", "/v1/jobs", 1000, R"({"jobs": [{"argv": ["true"], "working_dir": "/", "uid": 0}]})");
  EXPECT_EQ(response.status, 400);
  EXPECT_NE(response.body["error"].get<std::string>().find("unknown field 'uid'"),
            std::string::npos);
  EXPECT_EQ(stored_jobs(), 0u);
}

TEST_F(ApiServiceTest, SubmitPutsTheDaemonsFolderFirstOnThePath) {
  const ApiResponse response =
      call("POST", "/v1/jobs", 5,
           R"({"jobs": [{"argv": ["x"], "working_dir": "/", "environment": ["PATH=/usr/bin"]},
                   {"argv": ["y"], "working_dir": "/"}]})");
  ASSERT_EQ(response.status, 201) << response.body.dump();
  const auto first = store_->get_job(JobId(response.body["ids"][0].get<std::uint64_t>())).value();
  const auto second = store_->get_job(JobId(response.body["ids"][1].get<std::uint64_t>())).value();
  EXPECT_EQ(first.spec.environment, std::vector<std::string>{"PATH=/opt/fastgpu/bin:/usr/bin"});
  ASSERT_EQ(second.spec.environment.size(), 1u);
  EXPECT_TRUE(second.spec.environment[0].starts_with("PATH=/opt/fastgpu/bin:"));
}

TEST_F(ApiServiceTest, JobsWithEqualEnvironmentsShareOneCopy) {
  // Sent with each job, as older clients do; the two equal ones become one shared list.
  const ApiResponse response = call(
      "POST", "/v1/jobs", 5,
      R"({"jobs": [{"argv": ["x"], "working_dir": "/", "environment": ["PATH=/usr/bin", "A=1"]},
                   {"argv": ["y"], "working_dir": "/", "environment": ["PATH=/usr/bin", "A=1"]},
                   {"argv": ["z"], "working_dir": "/", "environment": ["A=2"]}]})");
  ASSERT_EQ(response.status, 201) << response.body.dump();
  // The engine (its queue in memory) gets one list for both.
  ASSERT_EQ(engine_->last_batch.size(), 3u);
  EXPECT_TRUE(engine_->last_batch[0].environment.shares_with(engine_->last_batch[1].environment));
  EXPECT_FALSE(engine_->last_batch[0].environment.shares_with(engine_->last_batch[2].environment));
  // So does the store, reading them back.
  const std::vector<store::JobRecord> jobs = store_->list_jobs({}).value();
  ASSERT_EQ(jobs.size(), 3u);
  EXPECT_EQ(jobs[0].spec.environment,
            (std::vector<std::string>{"PATH=/opt/fastgpu/bin:/usr/bin", "A=1"}));
  EXPECT_TRUE(jobs[0].spec.environment.shares_with(jobs[1].spec.environment));
  EXPECT_EQ(jobs[2].spec.environment[0], "A=2");
  EXPECT_TRUE(jobs[2].spec.environment.back().starts_with("PATH=/opt/fastgpu/bin:"));
}

TEST_F(ApiServiceTest, UnknownFieldIsRefusedByNameAndNothingIsStored) {
  const ApiResponse response = call(
      "POST", "/v1/jobs", 7,
      R"({"jobs": [{"argv": ["true"], "working_dir": "/"}, {"argv": ["a"], "gpu_memory": 5}]})");
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(response.body["code"], "invalid argument");
  const std::string message = response.body["error"].get<std::string>();
  EXPECT_NE(message.find("job 1"), std::string::npos) << message;
  EXPECT_NE(message.find("'gpu_memory'"), std::string::npos) << message;
  EXPECT_NE(message.find("gpu_mem"), std::string::npos) << message;  // the known fields
  EXPECT_EQ(stored_jobs(), 0u);
}

TEST_F(ApiServiceTest, BadJsonAndWrongTypesAreClearErrors) {
  ApiResponse response = call("POST", "/v1/jobs", 7, "{not json");
  EXPECT_EQ(response.status, 400);
  EXPECT_NE(response.body["error"].get<std::string>().find("not valid JSON"), std::string::npos);
  response = call("POST", "/v1/jobs", 7, R"({"jobs": [{"argv": ["a"], "gpus": "two"}]})");
  EXPECT_EQ(response.status, 400);
  EXPECT_NE(response.body["error"].get<std::string>().find("'gpus' must be a whole number"),
            std::string::npos);
  // A whole number past 64 bits was "must be a whole number", one below it "is above the
  // largest allowed": the same mistake reads the same now.
  response =
      call("POST", "/v1/jobs", 7, R"({"jobs": [{"argv": ["a"], "gpus": 99999999999999999999}]})");
  EXPECT_EQ(response.status, 400);
  EXPECT_NE(response.body["error"].get<std::string>().find(
                "'gpus' 1e+20 is above the largest allowed, 2147483647"),
            std::string::npos)
      << response.body.dump();
  response = call("POST", "/v1/jobs", 7, R"({"jobs": [{"argv": ["a"], "gpus": 2.5}]})");
  EXPECT_NE(response.body["error"].get<std::string>().find("'gpus' must be a whole number"),
            std::string::npos)
      << response.body.dump();
  response = call("POST", "/v1/jobs", 7, R"({"jobs": []})");
  EXPECT_EQ(response.status, 400);
  response = call("POST", "/v1/jobs", 7, R"([1, 2])");
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(stored_jobs(), 0u);
}

// Accepted before, these failed only at launch, their reason in the daemon's log alone.
TEST_F(ApiServiceTest, ARelativeFolderOrANulByteIsRefusedAtSubmit) {
  ApiResponse response =
      call("POST", "/v1/jobs", 7, R"({"jobs": [{"argv": ["true"], "working_dir": "relative"}]})");
  EXPECT_EQ(response.status, 400);
  EXPECT_NE(response.body["error"].get<std::string>().find(
                "working_dir 'relative' is not an absolute path"),
            std::string::npos)
      << response.body.dump();
  response =
      call("POST", "/v1/jobs", 7, R"({"jobs": [{"argv": ["a\u0000b"], "working_dir": "/"}]})");
  EXPECT_EQ(response.status, 400);
  EXPECT_NE(response.body["error"].get<std::string>().find("argv[0] holds a NUL byte"),
            std::string::npos)
      << response.body.dump();
  EXPECT_EQ(stored_jobs(), 0u);
}

// Accepted before: `show` then printed a deadline in the year 294247.
TEST_F(ApiServiceTest, ADeadlineBeyondAHundredYearsIsABadRequestNamingTheLimit) {
  const ApiResponse response = call(
      "POST", "/v1/jobs", 7,
      R"({"jobs": [{"argv": ["true"], "working_dir": "/", "deadline_us": 9223372036854775807}]})");
  EXPECT_EQ(response.status, 400);
  EXPECT_THAT(response.body["error"].get<std::string>(),
              ::testing::HasSubstr("deadline 9223372036854775807 µs since the epoch is more than "
                                   "100 years after the submission; the latest allowed is "
                                   "4862240000000000 (2124-01-29)"))
      << response.body.dump();
  EXPECT_EQ(stored_jobs(), 0u);
}

// `fastgpu run` found the refused job of its file by reading the error's words.
TEST_F(ApiServiceTest, ARefusalOfOneJobSaysWhichAsData) {
  const ApiResponse response = call(
      "POST", "/v1/jobs", 7,
      R"({"jobs": [{"argv": ["a"], "working_dir": "/"}, {"name": "b", "argv": ["b"], "working_dir": "b"}]})");
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(response.body["batch_index"], 1) << response.body.dump();
  EXPECT_EQ(response.body["problem"],
            "working_dir 'b' is not an absolute path; give the folder from / (e.g. "
            "/home/ana/project)");
  EXPECT_EQ(response.body["error"],
            "job 1 of the batch ('b'): " + response.body["problem"].get<std::string>());
  const ApiResponse unread = call(
      "POST", "/v1/jobs", 7,
      R"({"jobs": [{"argv": ["a"], "working_dir": "/"}, {"argv": ["b"], "working_dir": "/", "gpu_memory": 1}]})");
  EXPECT_EQ(unread.status, 400);
  EXPECT_EQ(unread.body["batch_index"], 1) << unread.body.dump();
  EXPECT_EQ(unread.body["problem"].get<std::string>().rfind("unknown field 'gpu_memory'", 0), 0u);
  // An error about no one job has neither.
  const ApiResponse empty = call("POST", "/v1/jobs", 7, R"({"jobs": []})");
  EXPECT_EQ(empty.status, 400);
  EXPECT_FALSE(empty.body.contains("batch_index")) << empty.body.dump();
}

// Every job the body cannot be read into is named at once, in `refused`; it was the first.
TEST_F(ApiServiceTest, EveryUnreadableJobOfABatchIsNamedAndNothingStored) {
  const ApiResponse response =
      call("POST", "/v1/jobs", 7,
           R"({"jobs": [{"argv": ["a"], "working_dir": "/", "gpu_memory": 1},
                                                 {"argv": ["b"], "working_dir": "/"},
                                                 {"argv": ["c"], "working_dir": "/", "nam": "c"},
                                                 {"argv": ["d"], "working_dir": "/"},
                                                 {"argv": ["e"], "working_dir": "/", "gpus": "x"}]})");
  EXPECT_EQ(response.status, 400);
  const Json& refused = response.body["refused"];
  ASSERT_EQ(refused.size(), 3u) << response.body.dump();
  EXPECT_EQ(refused[0]["batch_index"], 0);
  EXPECT_EQ(refused[1]["batch_index"], 2);
  EXPECT_EQ(refused[2]["batch_index"], 4);
  EXPECT_EQ(refused[1]["error"], "job 2: " + refused[1]["problem"].get<std::string>());
  EXPECT_TRUE(refused[1]["field"].is_null());
  EXPECT_EQ(response.body["batch_index"], 0);  // the first, for a client that reads one
  const std::string error = response.body["error"].get<std::string>();
  EXPECT_TRUE(error.starts_with("3 jobs of the batch are refused; nothing was submitted")) << error;
  EXPECT_NE(error.find("\njob 4: "), std::string::npos) << error;
  EXPECT_EQ(stored_jobs(), 0u);
  EXPECT_TRUE(engine_->last_batch.empty());  // the engine never saw it
}

TEST_F(ApiServiceTest, EngineRefusalOfAnImpossibleJobStoresNothing) {
  const ApiResponse response = call(
      "POST", "/v1/jobs", 7,
      R"({"jobs": [{"argv": ["a"], "working_dir": "/"}, {"argv": ["b"], "working_dir": "/", "gpus": 8}]})");
  EXPECT_EQ(response.status, 400);
  EXPECT_NE(response.body["error"].get<std::string>().find("more GPUs"), std::string::npos);
  EXPECT_EQ(stored_jobs(), 0u);
}

TEST_F(ApiServiceTest, AnotherUsersJobIsForbiddenToShowCancelAndLog) {
  const std::uint64_t id = submit_as(1000);
  const std::string path = "/v1/jobs/" + std::to_string(id);
  EXPECT_EQ(call("GET", path, 1001).status, 403);
  EXPECT_EQ(call("GET", path + "/log", 1001).status, 403);
  const ApiResponse cancel = call("POST", path + "/cancel", 1001);
  EXPECT_EQ(cancel.status, 403);
  EXPECT_EQ(cancel.body["code"], "permission denied");
  EXPECT_NE(cancel.body["error"].get<std::string>().find("uid 1000"), std::string::npos);
  EXPECT_EQ(store_->get_job(JobId(id)).value().state, JobState::kQueued);
}

// A job that runs another again names it (`fastgpu resubmit`), and `GET /v1/jobs/ID` of
// that one lists it. Only a job of the caller's own may be named, root's too (root running
// alice's job again would run her command as root); an unknown one is a 404.
TEST_F(ApiServiceTest, AJobRunsAgainOnlyItsOwnUsersJobAndIsListedOnIt) {
  const std::uint64_t alices = submit_as(1000);
  const auto again = [](std::uint64_t id) {
    return fmt::format(
        R"({{"jobs": [{{"argv": ["true"], "working_dir": "/", "resubmitted_from": {}}}]}})", id);
  };
  const ApiResponse mine = call("POST", "/v1/jobs", 1000, again(alices));
  ASSERT_EQ(mine.status, 201) << mine.body.dump();
  const std::uint64_t rerun = mine.body["ids"][0].get<std::uint64_t>();
  const ApiResponse shown = call("GET", "/v1/jobs/" + std::to_string(alices), 1000);
  EXPECT_EQ(shown.body["resubmitted_as"], Json::array({rerun}));
  EXPECT_EQ(call("GET", "/v1/jobs/" + std::to_string(rerun), 1000).body["spec"]["resubmitted_from"],
            alices);
  for (const std::uint32_t uid : {1001U, 0U}) {
    const ApiResponse theirs = call("POST", "/v1/jobs", uid, again(alices));
    EXPECT_EQ(theirs.status, 403) << uid;
    EXPECT_EQ(theirs.body["error"],
              fmt::format("the job runs job {0} again (resubmitted_from), but job {0} belongs to "
                          "uid 1000, not to you (uid {1}); only its owner may run it again "
                          "(nothing was submitted)",
                          alices, uid));
  }
  const ApiResponse unknown = call("POST", "/v1/jobs", 1000, again(999));
  EXPECT_EQ(unknown.status, 404) << unknown.body.dump();
  EXPECT_NE(unknown.body["error"].get<std::string>().find("there is no job 999"),
            std::string::npos);
  EXPECT_EQ(stored_jobs(), 2u);
}

// bob's `--after` on alice's job was taken: his job waited on hers, ran or failed as hers
// ended, and his `show` printed her job's state. Refused as `show` is; root's may.
TEST_F(ApiServiceTest, AJobMayWaitOnlyForItsOwnUsersJobsAndRootsForAnyones) {
  const std::uint64_t alices = submit_as(1000);
  const std::uint64_t bobs = submit_as(1001);
  const auto after = [](std::uint64_t id) {
    return fmt::format(
        R"({{"argv": ["true"], "working_dir": "/", "dependencies": [{{"job": {}}}]}})", id);
  };
  const ApiResponse alone = call("POST", "/v1/jobs", 1001, R"({"jobs": [)" + after(alices) + "]}");
  EXPECT_EQ(alone.status, 403);
  EXPECT_EQ(alone.body["code"], "permission denied");
  EXPECT_EQ(alone.body["error"],
            fmt::format("the job waits for job {0} (after), but job {0} belongs to uid 1000, "
                        "not to you (uid 1001); a job may wait only for your own jobs (nothing "
                        "was submitted)",
                        alices));
  // In a batch (a job file, an array) the refused job is named by its place.
  const ApiResponse batch =
      call("POST", "/v1/jobs", 1001, R"({"jobs": [)" + after(bobs) + "," + after(alices) + "]}");
  EXPECT_EQ(batch.status, 403);
  EXPECT_EQ(batch.body["batch_index"], 1);
  EXPECT_TRUE(batch.body["error"].get<std::string>().starts_with(
      fmt::format("job 1 of the batch waits for job {} (after), but", alices)))
      << batch.body.dump();
  // What a job file's refusal says after its place ('jobs.yaml:7 ('train'): '): its key is
  // `after:`, not the flag `--after` it said.
  EXPECT_TRUE(batch.body["problem"].get<std::string>().starts_with(
      fmt::format("waits for job {} (after), but job {} belongs to uid 1000", alices, alices)))
      << batch.body.dump();
  EXPECT_EQ(stored_jobs(), 2u);  // nothing of either was submitted

  // With the batch's other problems, all at once (it told the dependency alone first, and
  // the rest only once that was mended).
  const ApiResponse both =
      call("POST", "/v1/jobs", 1001,
           R"({"jobs": [{"argv": ["b"], "working_dir": "/", "gpus": 8},)" + after(alices) + "]}");
  EXPECT_EQ(both.status, 403);
  EXPECT_EQ(both.body["code"], "permission denied");
  const std::string told = both.body["error"].get<std::string>();
  EXPECT_NE(told.find("2 jobs of the batch are refused"), std::string::npos) << told;
  EXPECT_NE(told.find("more GPUs than the 2"), std::string::npos) << told;
  EXPECT_NE(told.find(fmt::format("waits for job {} (after), but", alices)), std::string::npos)
      << told;
  EXPECT_LT(told.find("more GPUs"), told.find("belongs to uid"));  // in batch order
  ASSERT_EQ(both.body["refused"].size(), 2u) << both.body.dump();
  EXPECT_EQ(both.body["refused"][0]["field"], "gpus") << both.body.dump();
  EXPECT_EQ(both.body["refused"][1]["field"], "after") << both.body.dump();
  EXPECT_EQ(stored_jobs(), 2u);

  EXPECT_EQ(call("POST", "/v1/jobs", 1001, R"({"jobs": [)" + after(bobs) + "]}").status, 201);
  EXPECT_EQ(call("POST", "/v1/jobs", 0, R"({"jobs": [)" + after(alices) + "]}").status, 201);
}

// A user of root's shared daemon owns their job's log, but it lies in root's private state
// folder: `show` says whether the caller can open the path (root and the daemon's own user
// can), so the CLI can say to read it with `fastgpu logs`.
// A running job's `show` carries what the engine measured of it so far; a queued one's has
// none.
TEST_F(ApiServiceTest, ShowOfARunningJobSaysWhatItUsedSoFar) {
  const std::uint64_t id = submit_as(1000);
  const std::string path = "/v1/jobs/" + std::to_string(id);
  EXPECT_FALSE(call("GET", path, 1000).body.contains("usage_so_far"));
  store::JobStart start;
  start.gpus = {0};
  start.at = testing::FixedClock().now();
  start.log_path = "/tmp/x.log";
  ASSERT_TRUE(store_->record_start(JobId(id), start).ok());
  engine::RunningUsage used;
  used.peak_gpu_mem = 3LL << 30;
  used.mean_util_percent = 40.0;
  engine_->usage[JobId(id)] = used;
  const ApiResponse shown = call("GET", path, 1000);
  ASSERT_TRUE(shown.body.contains("usage_so_far")) << shown.body.dump();
  EXPECT_EQ(shown.body["usage_so_far"]["peak_gpu_mem"], 3LL << 30);
  EXPECT_EQ(shown.body["usage_so_far"]["mean_util_percent"], 40.0);
  EXPECT_TRUE(shown.body["usage_so_far"]["energy_joules"].is_null());
}

TEST_F(ApiServiceTest, ShowSaysWhetherTheCallerCanOpenTheLog) {
  const std::string path = "/v1/jobs/" + std::to_string(submit_as(1000));
  EXPECT_EQ(call("GET", path, 1000).body["log_readable"], false);  // root's daemon (uid 0)
  EXPECT_EQ(call("GET", path, 0).body["log_readable"], true);
  // Listings carry it as show does: `history --json` lists each job as `show --json` has it.
  EXPECT_EQ(call("GET", "/v1/jobs", 1000).body["jobs"][0]["log_readable"], false);
  EXPECT_FALSE(call("GET", "/v1/jobs", 1000, "", {{"fields", "table"}})
                   .body["jobs"][0]
                   .contains("log_readable"));
  ApiServiceOptions options;
  options.engine = engine_.get();
  options.store = store_.get();
  options.engine_mutex = &mutex_;
  options.clock = &clock_;
  options.owner_uid = 1000;  // the user's own daemon
  service_ = std::make_unique<ApiService>(std::move(options));
  EXPECT_EQ(call("GET", path, 1000).body["log_readable"], true);
}

TEST_F(ApiServiceTest, RootSeesAndCancelsAnyonesJob) {
  const std::uint64_t id = submit_as(1000);
  const std::string path = "/v1/jobs/" + std::to_string(id);
  EXPECT_EQ(call("GET", path, 0).status, 200);
  const ApiResponse cancel = call("POST", path + "/cancel", 0);
  EXPECT_EQ(cancel.status, 200) << cancel.body.dump();
  EXPECT_EQ(cancel.body["state"], "CANCELLED");
  // The job's end reason names who cancelled it by their login name.
  EXPECT_EQ(engine_->last_cancel_by, "root");
}

TEST_F(ApiServiceTest, ACancelByAUidWithoutANameNamesTheUid) {
  constexpr std::uint32_t kNoSuchUser = 3'999'999;
  const std::uint64_t id = submit_as(kNoSuchUser);
  EXPECT_EQ(call("POST", "/v1/jobs/" + std::to_string(id) + "/cancel", kNoSuchUser).status, 200);
  EXPECT_EQ(engine_->last_cancel_by, "uid 3999999");
}

TEST_F(ApiServiceTest, CancelOwnQueuedJobThenAgainIsAConflict) {
  const std::uint64_t id = submit_as(1000);
  const std::string path = "/v1/jobs/" + std::to_string(id) + "/cancel";
  EXPECT_EQ(call("POST", path, 1000).status, 200);
  EXPECT_EQ(store_->get_job(JobId(id)).value().state, JobState::kCancelled);
  const ApiResponse again = call("POST", path, 1000);
  EXPECT_EQ(again.status, 409);
  EXPECT_NE(again.body["error"].get<std::string>().find("already ended (CANCELLED)"),
            std::string::npos);
}

TEST_F(ApiServiceTest, AJobSubmittedHeldIsHeldByTheCallerWhateverTheBodySays) {
  const ApiResponse response =
      call("POST", "/v1/jobs", 1000,
           R"({"jobs": [{"argv": ["true"], "working_dir": "/", "gpus": 1, "hold": true}]})");
  ASSERT_EQ(response.status, 201) << response.body.dump();
  const JobId id(response.body["ids"][0].get<std::uint64_t>());
  EXPECT_EQ(store_->get_job(id)->spec.held_by, std::optional<std::uint32_t>(1000));
  const ApiResponse shown = call("GET", "/v1/jobs/" + to_string(id), 1000);
  EXPECT_EQ(shown.body["held_by"], 1000);
  EXPECT_EQ(shown.body["spec"]["hold"], true);
}

TEST_F(ApiServiceTest, HoldReleaseAndUpdateChangeTheCallersQueuedJob) {
  const std::uint64_t id = submit_as(1000);
  const int wakes_before = wakes_;
  const std::string path = "/v1/jobs/" + std::to_string(id);
  const ApiResponse held = call("POST", path + "/hold", 1000);
  ASSERT_EQ(held.status, 200) << held.body.dump();
  EXPECT_EQ(held.body["held_by"], 1000);
  EXPECT_EQ(held.body["state"], "QUEUED");
  const ApiResponse released = call("POST", path + "/release", 1000);
  ASSERT_EQ(released.status, 200) << released.body.dump();
  EXPECT_TRUE(released.body["held_by"].is_null());

  const ApiResponse updated = call("POST", path + "/update", 1000,
                                   R"({"priority": 7, "time_limit_s": 5400, "grace_s": null})");
  ASSERT_EQ(updated.status, 200) << updated.body.dump();
  EXPECT_EQ(updated.body["spec"]["priority"], 7);
  EXPECT_EQ(updated.body["spec"]["time_limit_s"], 5400);
  EXPECT_EQ(wakes_ - wakes_before, 1);  // a release may start the job at once

  for (const char* body : {"", "{}", R"({"priority": "high"})", R"({"gpus": 2})",
                           R"({"time_limit_s": 0})", R"({"priority": 3000000000})"}) {
    const ApiResponse refused = call("POST", path + "/update", 1000, body);
    EXPECT_EQ(refused.status, 400) << body << ": " << refused.body.dump();
  }
  EXPECT_EQ(store_->get_job(JobId(id))->spec.priority, 7);
  const ApiResponse unknown = call("POST", path + "/update", 1000, R"({"gpus": 2})");
  EXPECT_THAT(unknown.body["error"].get<std::string>(),
              ::testing::HasSubstr("unknown field 'gpus'"));
}

// `fastgpu update --time +1h` asks the daemon to move the limit where it reads it: two
// moves sent at once both count, where a read and then a write of the new limit lost one.
TEST_F(ApiServiceTest, ALimitStepMovesThePresentLimitAndStepsAtOnceAllCount) {
  const std::uint64_t id = submit_as(1000);
  const std::string path = "/v1/jobs/" + std::to_string(id) + "/update";
  ASSERT_EQ(call("POST", path, 1000, R"({"time_limit_s": 3600})").status, 200);
  const ApiResponse moved = call("POST", path, 1000, R"({"time_limit_step_s": -600})");
  ASSERT_EQ(moved.status, 200) << moved.body.dump();
  EXPECT_EQ(moved.body["spec"]["time_limit_s"], 3000);

  std::vector<std::thread> callers;
  for (int i = 0; i < 8; ++i) {
    callers.emplace_back([&] {
      for (int j = 0; j < 5; ++j) {
        EXPECT_EQ(call("POST", path, 1000, R"({"time_limit_step_s": 60})").status, 200);
      }
    });
  }
  for (std::thread& caller : callers) caller.join();
  EXPECT_EQ(store_->get_job(JobId(id))->spec.time_limit_s, std::optional<std::int64_t>(5400))
      << "40 steps of a minute each on 3000 s";

  const auto refusal = [&](const std::string& body) {
    const ApiResponse refused = call("POST", path, 1000, body);
    EXPECT_EQ(refused.status, 400) << body << ": " << refused.body.dump();
    return refused.body.value("error", std::string());
  };
  EXPECT_EQ(refusal(R"({"time_limit_step_s": -5400})"),
            "job " + std::to_string(id) +
                "'s time limit of 1h30m moved by -1h30m leaves none; give a whole one "
                "(`--time 30m`)");
  EXPECT_THAT(refusal(R"({"time_limit_step_s": 60, "time_limit_s": 60})"),
              ::testing::HasSubstr("time_limit_s and time_limit_step_s both given"));
  for (const char* bad : {R"({"time_limit_step_s": "1h"})", R"({"time_limit_step_s": 1.5})",
                          R"({"time_limit_step_s": 9223372036854775807})"}) {
    EXPECT_THAT(refusal(bad), ::testing::HasSubstr("must be a whole number of seconds")) << bad;
  }
  EXPECT_EQ(store_->get_job(JobId(id))->spec.time_limit_s, std::optional<std::int64_t>(5400))
      << "no refused step moved it";

  ASSERT_EQ(call("POST", path, 1000, R"({"time_limit_s": null})").status, 200);
  EXPECT_EQ(refusal(R"({"time_limit_step_s": 3600})"),
            "job " + std::to_string(id) +
                " has no time limit to move by +1h00m; give a whole "
                "one (`fastgpu update " +
                std::to_string(id) + " --time 4h`)");
  // Another user's job is refused before anything is read of it.
  EXPECT_EQ(call("POST", path, 1001, R"({"time_limit_step_s": 60})").status, 403);
}

TEST_F(ApiServiceTest, AnotherUsersJobCannotBeChangedAndRootsHoldIsRootsToRelease) {
  const std::uint64_t id = submit_as(1000);
  const std::string path = "/v1/jobs/" + std::to_string(id);
  EXPECT_EQ(call("POST", path + "/hold", 1001).status, 403);
  EXPECT_EQ(call("POST", path + "/update", 1001, R"({"priority": 1})").status, 403);
  ASSERT_EQ(call("POST", path + "/hold", 0).status, 200);
  const ApiResponse release = call("POST", path + "/release", 1000);
  EXPECT_EQ(release.status, 403);
  EXPECT_THAT(release.body["error"].get<std::string>(),
              ::testing::HasSubstr("held by root, and only root releases it"));
  EXPECT_EQ(store_->get_job(JobId(id))->spec.held_by, std::optional<std::uint32_t>(0));
  EXPECT_EQ(call("POST", path + "/release", 0).status, 200);

  ASSERT_EQ(call("POST", path + "/cancel", 1000).status, 200);
  const ApiResponse ended = call("POST", path + "/hold", 1000);
  EXPECT_EQ(ended.status, 409);
  EXPECT_THAT(ended.body["error"].get<std::string>(), ::testing::HasSubstr("not QUEUED"));
}

TEST_F(ApiServiceTest, ListShowsOnlyTheCallersJobsUnlessRootAsksForAll) {
  submit_as(1000);
  submit_as(1001);
  submit_as(1000);
  EXPECT_EQ(call("GET", "/v1/jobs", 1000).body["jobs"].size(), 2u);
  EXPECT_EQ(call("GET", "/v1/jobs", 1001).body["jobs"].size(), 1u);
  EXPECT_EQ(call("GET", "/v1/jobs", 1000, "", {{"all", "true"}}).status, 403);
  EXPECT_EQ(call("GET", "/v1/jobs", 0, "", {{"all", "true"}}).body["jobs"].size(), 3u);
}

// all=yes was read as false: root asking for everyone's jobs got only its own, 200.
// A parameter an endpoint does not read was ignored: `status=RUNNING` for `state=` listed
// every job, 200.
TEST_F(ApiServiceTest, AnUnknownQueryParameterIsRefusedNamingTheKnownOnes) {
  const std::uint64_t id = submit_as(9);
  ApiResponse response = call("GET", "/v1/jobs", 9, "", {{"status", "RUNNING"}});
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(response.body["error"],
            "unknown parameter 'status' for GET /v1/jobs; it takes state, all, after, limit, "
            "array, ids_only, fields, brief, ended_since_us, ended_before_us, name, "
            "last_ended (docs/api.md)");
  response = call("GET", "/v1/jobs/" + std::to_string(id), 9, "", {{"fields", "table"}});
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(response.body["error"], "unknown parameter 'fields' for GET /v1/jobs/" +
                                        std::to_string(id) + "; it takes none (docs/api.md)");
  response = call("GET", "/v1/jobs/" + std::to_string(id) + "/log", 9, "", {{"ofset", "3"}});
  EXPECT_EQ(response.status, 400);
  EXPECT_NE(response.body["error"].get<std::string>().find("it takes offset, encoding"),
            std::string::npos)
      << response.body.dump();
  EXPECT_EQ(call("GET", "/v1/jobs", 9, "", {{"state", "QUEUED"}, {"limit", "5"}}).status, 200);
}

TEST_F(ApiServiceTest, AFlagThatIsNeitherTrueNorFalseIsRefused) {
  submit_as(1000);
  for (const char* flag : {"all", "ids_only", "brief"}) {
    const ApiResponse bad = call("GET", "/v1/jobs", 0, "", {{flag, "yes"}});
    EXPECT_EQ(bad.status, 400) << flag;
    EXPECT_EQ(
        bad.body.value("error", std::string()),
        std::string(flag) + " 'yes' is not true or false; use " + flag + "=true or leave it out");
  }
  EXPECT_EQ(call("GET", "/v1/jobs", 0, "", {{"all", "1"}}).body["jobs"].size(), 1u);
  EXPECT_EQ(call("GET", "/v1/jobs", 0, "", {{"all", "false"}}).body["jobs"].size(), 0u);
}

TEST_F(ApiServiceTest, ListFiltersByStateAndRejectsAnUnknownState) {
  const std::uint64_t id = submit_as(9);
  submit_as(9);
  ASSERT_EQ(call("POST", "/v1/jobs/" + std::to_string(id) + "/cancel", 9).status, 200);
  const ApiResponse queued = call("GET", "/v1/jobs", 9, "", {{"state", "queued"}});
  ASSERT_EQ(queued.body["jobs"].size(), 1u);
  EXPECT_EQ(queued.body["jobs"][0]["state"], "QUEUED");
  const ApiResponse bad = call("GET", "/v1/jobs", 9, "", {{"state", "DONE"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body["error"].get<std::string>().find("'DONE'"), std::string::npos);
}

// What `fastgpu history --since/--until/--name` and `queue --name` ask.
TEST_F(ApiServiceTest, ListFiltersByEndTimeAndName) {
  auto submit_named = [this](const char* name) {
    const ApiResponse response = call(
        "POST", "/v1/jobs", 9,
        fmt::format(
            R"({{"jobs": [{{"name": "{}", "argv": ["true"], "working_dir": "/", "gpus": 1}}]}})",
            name));
    EXPECT_EQ(response.status, 201) << response.body.dump();
    return response.body["ids"][0].get<std::uint64_t>();
  };
  const std::uint64_t early = submit_named("train");
  const std::uint64_t late = submit_named("eval");
  const std::uint64_t waiting = submit_named("train");
  const store::WallTime at_100s{std::chrono::seconds(100)};
  const store::WallTime at_200s{std::chrono::seconds(200)};
  ASSERT_TRUE(
      store_->transition(JobId(early), JobState::kQueued, JobState::kCancelled, at_100s, "x").ok());
  ASSERT_TRUE(
      store_->transition(JobId(late), JobState::kQueued, JobState::kCancelled, at_200s, "x").ok());
  auto ids = [this](std::map<std::string, std::string> query) {
    const ApiResponse response = call("GET", "/v1/jobs", 9, "", std::move(query));
    EXPECT_EQ(response.status, 200) << response.body.dump();
    std::vector<std::uint64_t> listed;
    for (const auto& job : response.body["jobs"]) listed.push_back(job["id"].get<std::uint64_t>());
    return listed;
  };
  using Ids = std::vector<std::uint64_t>;
  EXPECT_EQ(ids({{"ended_since_us", "150000000"}}), Ids{late});
  EXPECT_EQ(ids({{"ended_since_us", "200000000"}}), Ids{late});  // at the moment counts
  EXPECT_EQ(ids({{"ended_before_us", "200000000"}}), Ids{early});
  EXPECT_EQ(ids({{"ended_since_us", "0"}, {"ended_before_us", "100000001"}}), Ids{early});
  EXPECT_EQ(ids({{"name", "train"}}), (Ids{early, waiting}));
  EXPECT_EQ(ids({{"name", "eval,train"}, {"state", "QUEUED"}}), Ids{waiting});
  EXPECT_EQ(ids({{"name", "train"}, {"ended_since_us", "150000000"}}), Ids{});
  const ApiResponse only_ids =
      call("GET", "/v1/jobs", 9, "", {{"name", "train"}, {"ids_only", "true"}});
  EXPECT_EQ(only_ids.body["ids"], (Json{early, waiting}));
  // What `history -n` and the dashboard's ended jobs ask: the last that ended.
  EXPECT_EQ(ids({{"last_ended", "1"}}), Ids{late});
  EXPECT_EQ(ids({{"last_ended", "5"}}), (Ids{early, late}));
  EXPECT_EQ(ids({{"last_ended", "1"}, {"name", "train"}}), Ids{early});
  EXPECT_EQ(ids({{"last_ended", "1"}, {"ended_before_us", "200000000"}}), Ids{early});

  for (const auto& [key, value, says] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"ended_since_us", "-5", "'-5' is negative"},
           {"ended_before_us", "soon", "'soon' is not a number"},
           {"last_ended", "-1", "'-1' is negative"},
           {"ended_since_us", "253402300800000000", "past the year 9999"},
           {"name", "", "has an empty name"},
           {"name", "a,,b", "has an empty name"},
           {"name", "a,", "has an empty name"}}) {
    const ApiResponse bad = call("GET", "/v1/jobs", 9, "", {{key, value}});
    EXPECT_EQ(bad.status, 400) << key << "=" << value;
    EXPECT_THAT(bad.body.value("error", std::string()), ::testing::HasSubstr(says))
        << key << "=" << value;
  }
}

TEST_F(ApiServiceTest, AQueuedJobSaysWhyItWaitsInShowAndListings) {
  const std::uint64_t waits = submit_as(9);
  const std::uint64_t cancelled = submit_as(9);
  engine_->waiting[JobId(waits)] = {"resources", "needs a GPU with 30.0 GiB free"};
  engine_->waiting[JobId(cancelled)] = {"priority", "stale: the job is no longer queued"};
  ASSERT_EQ(call("POST", "/v1/jobs/" + std::to_string(cancelled) + "/cancel", 9).status, 200);

  const Json shown = call("GET", "/v1/jobs/" + std::to_string(waits), 9).body;
  EXPECT_EQ(shown["waiting"],
            Json({{"reason", "resources"}, {"detail", "needs a GPU with 30.0 GiB free"}}));
  EXPECT_FALSE(call("GET", "/v1/jobs/" + std::to_string(cancelled), 9).body.contains("waiting"));

  const Json listed = call("GET", "/v1/jobs", 9).body["jobs"];
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0]["waiting"]["detail"], "needs a GPU with 30.0 GiB free");
  EXPECT_FALSE(listed[1].contains("waiting"));  // ended: nothing to wait for
  const Json table = call("GET", "/v1/jobs", 9, "", {{"fields", "table"}}).body["jobs"];
  EXPECT_EQ(table[0]["waiting"], Json({{"reason", "resources"}}));
}

TEST_F(ApiServiceTest, ReloadHandsTheSettingsReadAgainToTheEngineAndSaysWhatChanged) {
  ASSERT_EQ(call("POST", "/v1/daemon/reload", 0).status, 409);  // no way to read them

  Status next_read = invalid_argument("/etc/fastgpu.yaml: line 3: unknown setting 'ballance'");
  ApiServiceOptions options;
  options.engine = engine_.get();
  options.store = store_.get();
  options.engine_mutex = &mutex_;
  options.clock = &clock_;
  options.owner_uid = 1000;
  options.info.scheduler = sched::settings_json(sched::SchedulerConfig{});
  std::vector<std::string> logged;
  options.log = [&logged](const std::string& line) { logged.push_back(line); };
  options.reread_settings = [&next_read]() -> Result<SchedulerSettings> {
    if (!next_read.ok()) return next_read;
    SchedulerSettings settings;
    settings.config.policy = "priority";
    settings.config.backfill = false;
    settings.file = "/etc/fastgpu.yaml";
    return settings;
  };
  service_ = std::make_unique<ApiService>(std::move(options));

  const ApiResponse bad = call("POST", "/v1/daemon/reload", 1000);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body["error"],
            "nothing changed, the daemon keeps its settings: /etc/fastgpu.yaml: line 3: "
            "unknown setting 'ballance'");
  EXPECT_FALSE(engine_->scheduler.has_value());
  EXPECT_EQ(call("GET", "/v1/daemon", 1000).body["policy"], "fifo");

  next_read = Status::ok_status();
  EXPECT_EQ(call("POST", "/v1/daemon/reload", 1001).status, 403);  // neither root nor owner
  const ApiResponse good = call("POST", "/v1/daemon/reload", 1000);
  ASSERT_EQ(good.status, 200) << good.body.dump();
  EXPECT_EQ(good.body["changed"], Json({"policy: fifo -> priority", "backfill: true -> false",
                                        "settings file: the defaults -> /etc/fastgpu.yaml"}));
  ASSERT_TRUE(engine_->scheduler.has_value());
  EXPECT_EQ(engine_->scheduler->policy, "priority");
  const Json info = call("GET", "/v1/daemon", 0).body;
  EXPECT_EQ(info["policy"], "priority");
  EXPECT_EQ(info["scheduler"]["backfill"], false);
  EXPECT_EQ(info["settings_file"], "/etc/fastgpu.yaml");
  EXPECT_EQ(call("POST", "/v1/daemon/reload", 0).body["changed"], Json::array());
  // Every reload is in the daemon's log with who asked, refused or not.
  EXPECT_EQ(logged,
            (std::vector<std::string>{
                "settings not reloaded (`fastgpu daemon reload` of uid 1000): nothing changed, "
                "the daemon keeps its settings: /etc/fastgpu.yaml: line 3: unknown setting "
                "'ballance'",
                "settings read again (`fastgpu daemon reload` of uid 1000): policy: fifo -> "
                "priority; backfill: true -> false; settings file: the defaults -> "
                "/etc/fastgpu.yaml",
                "settings read again (`fastgpu daemon reload` of uid 0): nothing changed"}));
}

// The daemon's latest warning is in its status for a while (a full disk kept ended jobs
// RUNNING, and only daemon.log said why); none: null.
TEST_F(ApiServiceTest, TheLatestWarningIsInTheDaemonsStatus) {
  EXPECT_TRUE(call("GET", "/v1/daemon", 0).body["problem"].is_null());
  service_->note_problem("could not record the end of job 3: database or disk is full");
  const Json problem = call("GET", "/v1/daemon", 9).body["problem"];
  ASSERT_TRUE(problem.is_object()) << problem.dump();
  EXPECT_EQ(problem["message"], "could not record the end of job 3: database or disk is full");
  EXPECT_GE(problem["seconds_ago"].get<double>(), 0.0);
  EXPECT_LT(problem["seconds_ago"].get<double>(), 300.0);
}

// What `fastgpu wait` polls: the same selection as the list, ids only, the caller's own.
TEST_F(ApiServiceTest, IdsOnlyListsTheSameJobsWithoutTheirRecords) {
  const std::uint64_t cancelled = submit_as(9);
  const std::uint64_t waiting = submit_as(9);
  submit_as(10);
  ASSERT_EQ(call("POST", "/v1/jobs/" + std::to_string(cancelled) + "/cancel", 9).status, 200);
  const ApiResponse ids =
      call("GET", "/v1/jobs", 9, "", {{"state", "QUEUED,RUNNING"}, {"ids_only", "true"}});
  ASSERT_EQ(ids.status, 200);
  EXPECT_EQ(ids.body, (Json{{"ids", Json::array({waiting})}}));
}

std::vector<std::uint64_t> listed_ids(const ApiResponse& response) {
  std::vector<std::uint64_t> ids;
  for (const Json& job : response.body["jobs"]) ids.push_back(job["id"].get<std::uint64_t>());
  return ids;
}

// Read two at a time, a listing still holds each job once, in order, and pages with
// after= and limit= as one read would.
TEST_F(ApiServiceTest, AListingReadInPagesListsEachJobOnceAndPagesAsAsked) {
  std::vector<std::uint64_t> mine;
  for (int i = 0; i < 7; ++i) {
    mine.push_back(submit_as(9));
    if (i % 3 == 0) submit_as(10);
  }
  EXPECT_EQ(listed_ids(call("GET", "/v1/jobs", 9)), mine);
  EXPECT_EQ(listed_ids(call("GET", "/v1/jobs", 9, "", {{"limit", "5"}})),
            std::vector<std::uint64_t>(mine.begin(), mine.begin() + 5));
  EXPECT_EQ(listed_ids(call("GET", "/v1/jobs", 9, "",
                            {{"after", std::to_string(mine[1])}, {"limit", "3"}})),
            std::vector<std::uint64_t>(mine.begin() + 2, mine.begin() + 5));
  // A negative or too large number was "not a number".
  EXPECT_EQ(call("GET", "/v1/jobs", 9, "", {{"limit", "-1"}}).body["error"],
            "limit '-1' is negative; use a whole number >= 0, e.g. 12");
  EXPECT_EQ(call("GET", "/v1/jobs", 9, "", {{"limit", "99999999999999999999"}}).body["error"],
            "limit '99999999999999999999' is above the largest, 18446744073709551615");
  EXPECT_EQ(call("GET", "/v1/jobs", 9, "", {{"limit", "ten"}}).body["error"],
            "limit 'ten' is not a number; use a whole number >= 0, e.g. 12");
  EXPECT_EQ(listed_ids(call("GET", "/v1/jobs", 9, "", {{"limit", "0"}})),
            std::vector<std::uint64_t>());
  EXPECT_EQ(listed_ids(call("GET", "/v1/jobs", 9, "", {{"limit", "4"}})).size(), 4u);
}

TEST_F(ApiServiceTest, BriefAndTableListingsCarryTheirFieldsAndAnUnknownViewIsRefused) {
  submit_as(9);
  const Json full = call("GET", "/v1/jobs", 9).body["jobs"][0];
  EXPECT_TRUE(full["spec"].contains("environment"));
  const Json brief = call("GET", "/v1/jobs", 9, "", {{"brief", "true"}}).body["jobs"][0];
  EXPECT_FALSE(brief["spec"].contains("environment"));
  const Json table = call("GET", "/v1/jobs", 9, "", {{"fields", "table"}}).body["jobs"][0];
  EXPECT_EQ(table,
            job_record_to_json(store_->get_job(JobId(full["id"].get<std::uint64_t>())).value(),
                               JobFields::kTable));
  const ApiResponse bad = call("GET", "/v1/jobs", 9, "", {{"fields", "all"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body["error"].get<std::string>().find("fields=table"), std::string::npos);
}

TEST_F(ApiServiceTest, UnknownJobIsNotFoundAndABadIdIsABadRequest) {
  EXPECT_EQ(call("GET", "/v1/jobs/999", 1).status, 404);
  const ApiResponse bad = call("GET", "/v1/jobs/abc", 1);
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body["error"].get<std::string>().find("'abc'"), std::string::npos);
  EXPECT_EQ(call("GET", "/v2/jobs", 1).status, 404);
  EXPECT_EQ(call("DELETE", "/v1/jobs/1", 1).status, 404);
}

// `fastgpu purge`: the caller's jobs that ended before the moment, and their logs; root's
// all=true for everyone's; the moment is required.
TEST_F(ApiServiceTest, PurgeForgetsTheCallersEndedJobsAndTheirLogs) {
  char folder[] = "/tmp/fastgpu-api-purge-XXXXXX";
  ASSERT_NE(::mkdtemp(folder), nullptr);
  const std::string log_path = std::string(folder) + "/job.log";
  std::ofstream(log_path) << "hello\n";
  const std::uint64_t ran = submit_as(3);
  const std::uint64_t theirs = submit_as(4);
  const std::uint64_t queued = submit_as(3);
  ASSERT_TRUE(
      store_->record_start(JobId(ran), {{0}, clock_.now(), log_path, 10, 11, std::nullopt}).ok());
  store::JobEnd end;
  end.at = clock_.now();
  end.exit_code = 0;
  ASSERT_TRUE(store_->record_end(JobId(ran), end).ok());
  ASSERT_TRUE(
      store_->transition(JobId(theirs), JobState::kQueued, JobState::kCancelled, clock_.now(), "x")
          .ok());
  const std::string after_all = std::to_string(
      std::chrono::duration_cast<std::chrono::microseconds>(clock_.now().time_since_epoch())
          .count() +
      1);

  const ApiResponse purged =
      call("POST", "/v1/jobs/purge", 3, "", {{"ended_before_us", after_all}});
  ASSERT_EQ(purged.status, 200) << purged.body.dump();
  EXPECT_EQ(purged.body["purged"], 1);
  EXPECT_EQ(purged.body["kept_waited_on"], 0);
  EXPECT_EQ(purged.body["logs_not_removed"], 0);
  EXPECT_EQ(call("GET", "/v1/jobs/" + std::to_string(ran), 3).status, 404);
  EXPECT_FALSE(std::filesystem::exists(log_path));
  EXPECT_EQ(call("GET", "/v1/jobs/" + std::to_string(queued), 3).status, 200);  // not ended
  EXPECT_EQ(call("GET", "/v1/jobs/" + std::to_string(theirs), 4).status, 200);  // not yours
  // The engine is told, so that the fair policy forgets the purged job too.
  ASSERT_EQ(engine_->purges.size(), 1u);
  EXPECT_EQ(engine_->purges[0].time_since_epoch().count(), std::stoll(after_all));

  EXPECT_EQ(call("POST", "/v1/jobs/purge", 3, "", {{"ended_before_us", after_all}, {"all", "true"}})
                .status,
            403);
  const ApiResponse by_root =
      call("POST", "/v1/jobs/purge", 0, "", {{"ended_before_us", after_all}, {"all", "true"}});
  ASSERT_EQ(by_root.status, 200) << by_root.body.dump();
  EXPECT_EQ(by_root.body["purged"], 1);
  EXPECT_EQ(call("GET", "/v1/jobs/" + std::to_string(theirs), 4).status, 404);
  // A purge that found nothing to forget tells the engine nothing.
  ASSERT_EQ(call("POST", "/v1/jobs/purge", 3, "", {{"ended_before_us", after_all}}).status, 200);
  EXPECT_EQ(engine_->purges.size(), 2u);

  for (const auto& [query, says] :
       std::vector<std::pair<std::map<std::string, std::string>, std::string>>{
           {{}, "needs ended_before_us"},
           {{{"ended_before_us", "soon"}}, "'soon' is not a number"},
           {{{"ended_before_us", "1"}, {"state", "RUNNING"}}, "RUNNING job has not ended"},
           {{{"ended_before_us", "1"}, {"name", "a,,b"}}, "has an empty name"},
           {{{"ended_before_us", "1"}, {"limit", "3"}}, "unknown parameter 'limit'"}}) {
    const ApiResponse bad = call("POST", "/v1/jobs/purge", 3, "", query);
    EXPECT_EQ(bad.status, 400) << says;
    EXPECT_THAT(bad.body.value("error", std::string()), ::testing::HasSubstr(says));
  }
  std::filesystem::remove_all(folder);
}

TEST_F(ApiServiceTest, LogIsReadFromAnOffsetAndSaysWhenTheJobIsDone) {
  char folder[] = "/tmp/fastgpu-api-log-XXXXXX";
  ASSERT_NE(::mkdtemp(folder), nullptr);
  const std::string log_path = std::string(folder) + "/job.log";
  std::ofstream(log_path) << "hello\nworld\n";
  const std::uint64_t id = submit_as(3);
  ASSERT_TRUE(
      store_->record_start(JobId(id), {{0}, clock_.now(), log_path, 10, 11, std::nullopt}).ok());
  const std::string path = "/v1/jobs/" + std::to_string(id) + "/log";
  ApiResponse chunk = call("GET", path, 3, "", {{"offset", "6"}});
  ASSERT_EQ(chunk.status, 200) << chunk.body.dump();
  EXPECT_EQ(chunk.body["data"], "world\n");
  EXPECT_EQ(chunk.body["next_offset"], 12);
  EXPECT_EQ(chunk.body["done"], false);
  store::JobEnd end;
  end.at = clock_.now();
  end.exit_code = 0;
  ASSERT_TRUE(store_->record_end(JobId(id), end).ok());
  chunk = call("GET", path, 3, "", {{"offset", "12"}});
  EXPECT_EQ(chunk.body["data"], "");
  EXPECT_EQ(chunk.body["done"], true);
  EXPECT_EQ(chunk.body["started"], true);
  EXPECT_EQ(call("GET", path, 3, "", {{"offset", "-1"}}).status, 400);
  std::filesystem::remove_all(folder);
}

// A log deleted after its job began writing it read as an empty log: `logs` printed
// nothing and exited 0, and `logs -f` of a running job waited for output that never came.
TEST_F(ApiServiceTest, ALogDeletedAfterTheJobWroteItIsSaidToBeMissing) {
  char folder[] = "/tmp/fastgpu-api-log-XXXXXX";
  ASSERT_NE(::mkdtemp(folder), nullptr);
  const std::string log_path = std::string(folder) + "/job.log";
  const std::uint64_t id = submit_as(3);
  const std::string path = "/v1/jobs/" + std::to_string(id) + "/log";
  ASSERT_TRUE(
      store_->record_start(JobId(id), {{0}, clock_.now(), log_path, 10, std::nullopt, std::nullopt})
          .ok());
  // Claimed, its program not started yet: no log to miss.
  EXPECT_EQ(call("GET", path, 3).body["log_missing"], false);
  ASSERT_TRUE(store_->record_pids(JobId(id), 10, 11, clock_.now()).ok());
  std::ofstream(log_path) << "hello\n";
  EXPECT_EQ(call("GET", path, 3).body["log_missing"], false);
  std::filesystem::remove(log_path);
  ApiResponse chunk = call("GET", path, 3);
  ASSERT_EQ(chunk.status, 200) << chunk.body.dump();
  EXPECT_EQ(chunk.body["log_missing"], true);
  EXPECT_EQ(chunk.body["log_path"], log_path);
  store::JobEnd end;
  end.at = clock_.now();
  end.exit_code = 0;
  ASSERT_TRUE(store_->record_end(JobId(id), end).ok());
  EXPECT_EQ(call("GET", path, 3).body["log_missing"], true);
  std::filesystem::remove_all(folder);
}

// A chunk cut inside a character sent its two halves as U+FFFD each: `logs -f` of a
// progress bar printed garbage at every chunk's end.
TEST_F(ApiServiceTest, ALogChunkEndsOnAWholeCharacter) {
  char folder[] = "/tmp/fastgpu-api-log-XXXXXX";
  ASSERT_NE(::mkdtemp(folder), nullptr);
  const std::string log_path = std::string(folder) + "/job.log";
  const std::string bar = "\xe2\x96\x88\xe2\x96\x88";    // two U+2588 FULL BLOCKs, 3 bytes each
  std::ofstream(log_path) << "ab" << bar << "\xe2\x96";  // ...and a block being written
  const std::uint64_t id = submit_as(3);
  ASSERT_TRUE(
      store_->record_start(JobId(id), {{0}, clock_.now(), log_path, 10, 11, std::nullopt}).ok());
  const std::string path = "/v1/jobs/" + std::to_string(id) + "/log";
  ApiResponse chunk = call("GET", path, 3, "", {{"offset", "0"}});
  ASSERT_EQ(chunk.status, 200) << chunk.body.dump();
  EXPECT_EQ(chunk.body["data"], "ab" + bar);  // the cut block waits
  EXPECT_EQ(chunk.body["next_offset"], 8);
  std::ofstream(log_path, std::ios::app) << "\x88\n";
  chunk = call("GET", path, 3, "", {{"offset", "8"}});
  EXPECT_EQ(chunk.body["data"], "\xe2\x96\x88\n");
  std::filesystem::remove_all(folder);
}

// A follower that caught up with a job pausing inside a character was sent the character's
// start alone, as U+FFFD, and then its rest, as U+FFFD too (`printf 'caf\303'; sleep 4;
// printf '\251'` followed as "caf\ufffd\ufffd"). The start now waits for the rest while the
// job runs, and goes as it is once the job ended.
TEST_F(ApiServiceTest, ACaughtUpFollowerWaitsForTheRestOfACharacter) {
  char folder[] = "/tmp/fastgpu-api-log-XXXXXX";
  ASSERT_NE(::mkdtemp(folder), nullptr);
  const std::string log_path = std::string(folder) + "/job.log";
  std::ofstream(log_path) << "caf\xc3";
  const std::uint64_t id = submit_as(3);
  ASSERT_TRUE(
      store_->record_start(JobId(id), {{0}, clock_.now(), log_path, 10, 11, std::nullopt}).ok());
  const std::string path = "/v1/jobs/" + std::to_string(id) + "/log";
  EXPECT_EQ(call("GET", path, 3, "", {{"offset", "0"}}).body["data"], "caf");
  ApiResponse chunk = call("GET", path, 3, "", {{"offset", "3"}});
  ASSERT_EQ(chunk.status, 200) << chunk.body.dump();
  EXPECT_EQ(chunk.body["data"], "");
  EXPECT_EQ(chunk.body["next_offset"], 3);
  EXPECT_EQ(chunk.body["done"], false);
  std::ofstream(log_path, std::ios::app) << "\xa9 ok\n\xc3";
  chunk = call("GET", path, 3, "", {{"offset", "3"}});
  EXPECT_EQ(chunk.body["data"], "\xc3\xa9 ok\n");
  EXPECT_EQ(chunk.body["next_offset"], 9);
  // The job ended with a character never finished: its last byte goes as it is, and
  // the follower is done after it.
  store::JobEnd end;
  end.at = clock_.now();
  end.exit_code = 0;
  ASSERT_TRUE(store_->record_end(JobId(id), end).ok());
  chunk = call("GET", path, 3, "", {{"offset", "9"}});
  EXPECT_EQ(chunk.body["next_offset"], 10);
  EXPECT_EQ(chunk.body["done"], false);
  EXPECT_EQ(call("GET", path, 3, "", {{"offset", "10"}}).body["done"], true);
  std::filesystem::remove_all(folder);
}

// A log truncated under its follower (logrotate's copytruncate) was read at the old offset,
// past its end, and the follower got nothing more for the rest of the job.
TEST_F(ApiServiceTest, ALogShorterThanTheOffsetIsSaidToBeTruncated) {
  char folder[] = "/tmp/fastgpu-api-log-XXXXXX";
  ASSERT_NE(::mkdtemp(folder), nullptr);
  const std::string log_path = std::string(folder) + "/job.log";
  std::ofstream(log_path) << "line1\nline2\n";
  const std::uint64_t id = submit_as(3);
  ASSERT_TRUE(
      store_->record_start(JobId(id), {{0}, clock_.now(), log_path, 10, 11, std::nullopt}).ok());
  const std::string path = "/v1/jobs/" + std::to_string(id) + "/log";
  ApiResponse chunk = call("GET", path, 3, "", {{"offset", "12"}});
  EXPECT_EQ(chunk.body["truncated"], false);
  EXPECT_EQ(chunk.body["size"], 12);
  std::ofstream(log_path, std::ios::trunc) << "line3\n";
  chunk = call("GET", path, 3, "", {{"offset", "12"}});
  ASSERT_EQ(chunk.status, 200) << chunk.body.dump();
  EXPECT_EQ(chunk.body["truncated"], true);
  EXPECT_EQ(chunk.body["size"], 6);
  EXPECT_EQ(chunk.body["data"], "");
  // Ended: not done while the follower has not read the new start.
  store::JobEnd end;
  end.at = clock_.now();
  end.exit_code = 0;
  ASSERT_TRUE(store_->record_end(JobId(id), end).ok());
  EXPECT_EQ(call("GET", path, 3, "", {{"offset", "12"}}).body["done"], false);
  EXPECT_EQ(call("GET", path, 3, "", {{"offset", "0"}}).body["data"], "line3\n");
  std::filesystem::remove_all(folder);
}

// Bytes that are not UTF-8 reached `logs` as U+FFFD; with encoding=base64 every byte comes
// as the job wrote it, and a chunk is not held back at a cut character.
TEST_F(ApiServiceTest, ALogAsBase64HasEveryByteAsWritten) {
  char folder[] = "/tmp/fastgpu-api-log-XXXXXX";
  ASSERT_NE(::mkdtemp(folder), nullptr);
  const std::string log_path = std::string(folder) + "/job.log";
  const char raw[] = "caf\xe9 \xff\x00\x01 \xe2\x96";  // Latin-1, binary, a cut block
  const std::string written(raw, sizeof raw - 1);
  std::ofstream(log_path, std::ios::binary) << written;
  const std::uint64_t id = submit_as(3);
  ASSERT_TRUE(
      store_->record_start(JobId(id), {{0}, clock_.now(), log_path, 10, 11, std::nullopt}).ok());
  const std::string path = "/v1/jobs/" + std::to_string(id) + "/log";
  const ApiResponse chunk = call("GET", path, 3, "", {{"encoding", "base64"}});
  ASSERT_EQ(chunk.status, 200) << chunk.body.dump();
  EXPECT_EQ(chunk.body["encoding"], "base64");
  EXPECT_EQ(chunk.body["next_offset"], written.size());
  const Result<std::string> bytes = base64_decode(chunk.body["data"].get<std::string>());
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(*bytes, written);
  EXPECT_EQ(call("GET", path, 3, "").body["encoding"], "text");
  const ApiResponse bad = call("GET", path, 3, "", {{"encoding", "utf16"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_THAT(
      bad.body["error"].get<std::string>(),
      ::testing::HasSubstr("encoding 'utf16' is unknown; use encoding=text or encoding=base64"));
  std::filesystem::remove_all(folder);
}

// A job cancelled before it ran has no log to follow: the answer says it never started,
// and why it ended, as show does.
TEST_F(ApiServiceTest, TheLogAndShowOfAJobThatNeverStartedSayWhyItEnded) {
  const std::uint64_t id = submit_as(3);
  ASSERT_TRUE(store_
                  ->transition(JobId(id), JobState::kQueued, JobState::kCancelled, clock_.now(),
                               "dependency 1 failed: it ended FAILED")
                  .ok());
  const ApiResponse chunk = call("GET", "/v1/jobs/" + std::to_string(id) + "/log", 3);
  ASSERT_EQ(chunk.status, 200) << chunk.body.dump();
  EXPECT_EQ(chunk.body["done"], true);
  EXPECT_EQ(chunk.body["started"], false);
  EXPECT_EQ(chunk.body["end_reason"], "dependency 1 failed: it ended FAILED");
  const ApiResponse shown = call("GET", "/v1/jobs/" + std::to_string(id), 3);
  EXPECT_EQ(shown.body["end_reason"], "dependency 1 failed: it ended FAILED");
  EXPECT_EQ(shown.body["end_time_us"], clock_.now().time_since_epoch().count());
}

// show said "was preempted" for a job queued again for any reason; the answer now carries
// the reason its requeue was recorded with (null for a job that did not run before).
TEST_F(ApiServiceTest, ShowOfAJobQueuedAgainSaysWhy) {
  const std::uint64_t id = submit_as(3);
  EXPECT_FALSE(call("GET", "/v1/jobs/" + std::to_string(id), 3).body.contains("requeue_reason"));
  ASSERT_TRUE(store_->record_start(JobId(id), {{0}, clock_.now(), "", 10, 11, std::nullopt}).ok());
  store::JobEnd end;
  end.state = JobState::kPreempted;
  end.at = clock_.now();
  end.signal = 15;
  end.reason = "preempted (killed by SIGTERM)";
  ASSERT_TRUE(store_->record_end(JobId(id), end).ok());
  ASSERT_TRUE(store_
                  ->transition(JobId(id), JobState::kPreempted, JobState::kQueued, clock_.now(),
                               "requeued: memory pressure (memory-action requeue): gpu 0 ...")
                  .ok());
  const ApiResponse shown = call("GET", "/v1/jobs/" + std::to_string(id), 3);
  ASSERT_EQ(shown.status, 200) << shown.body.dump();
  EXPECT_EQ(shown.body["requeue_reason"],
            "requeued: memory pressure (memory-action requeue): gpu 0 ...");
  // A listing carries it too (`queue --json`); it had it only in the one job's answer.
  const std::uint64_t fresh = submit_as(3);
  const ApiResponse listed = call("GET", "/v1/jobs", 3, "", {{"state", "QUEUED"}});
  ASSERT_EQ(listed.status, 200) << listed.body.dump();
  ASSERT_EQ(listed.body["jobs"].size(), 2u) << listed.body.dump();
  for (const Json& job : listed.body["jobs"]) {
    if (job["id"] == id) {
      EXPECT_EQ(job["requeue_reason"], shown.body["requeue_reason"]);
    } else {
      EXPECT_EQ(job["id"], fresh);
      EXPECT_FALSE(job.contains("requeue_reason")) << job.dump();
    }
  }
}

TEST_F(ApiServiceTest, DaemonAndGpusReportTheirSource) {
  submit_as(3);
  const ApiResponse daemon = call("GET", "/v1/daemon", 3);
  ASSERT_EQ(daemon.status, 200);
  EXPECT_EQ(daemon.body["gpus_source"], "simulated");
  EXPECT_EQ(daemon.body["jobs"]["QUEUED"], 1);
  EXPECT_EQ(daemon.body["jobs"]["RUNNING"], 0);  // a state with no job is 0, not missing
  const ApiResponse gpus = call("GET", "/v1/gpus", 3);
  ASSERT_EQ(gpus.status, 200);
  EXPECT_EQ(gpus.body["devices"].size(), 2u) << gpus.body.dump();
}

// Each GPU's ledger: the jobs that hold it and what is free. A user sees another user's job
// only as theirs (no id, name or command, as the listings keep them), root sees all of it.
TEST_F(ApiServiceTest, GpusCarryTheLedgerAndHideOtherUsersJobsButFromRoot) {
  engine::GpuLedger row;
  row.index = 0;
  row.usable_bytes = 80;
  row.declared_bytes = 30;
  row.free_bytes = 50;
  row.share_used = 0.75;
  row.free_share = 0.25;
  row.jobs = {
      {.job = JobId(4), .uid = 3, .name = "train", .command = "python3", .bytes = 20, .share = 0.5},
      {.job = JobId(5),
       .uid = 7,
       .name = "theirs",
       .command = "secret.sh",
       .bytes = 10,
       .share = 0.25}};
  row.processes = {{.pid = 100, .job = JobId(4), .uid = 3},
                   {.pid = 200, .job = JobId(5), .uid = 7}};
  engine_->ledger = {row};

  const ApiResponse mine = call("GET", "/v1/gpus", 3);
  ASSERT_EQ(mine.status, 200);
  const Json& ledger = mine.body["devices"][0]["ledger"];
  EXPECT_EQ(ledger["free_bytes"], 50);
  EXPECT_EQ(ledger["free_share"], 0.25);
  ASSERT_EQ(ledger["jobs"].size(), 2u) << ledger.dump();
  EXPECT_EQ(ledger["jobs"][0], Json({{"job", 4},
                                     {"user", "user3"},
                                     {"name", "train"},
                                     {"command", "python3"},
                                     {"bytes", 20},
                                     {"share", 0.5}}));
  EXPECT_EQ(ledger["jobs"][1], Json({{"job", nullptr},
                                     {"user", "user7"},
                                     {"name", nullptr},
                                     {"command", nullptr},
                                     {"bytes", 10},
                                     {"share", 0.25}}));

  EXPECT_EQ(ledger["processes"], Json::parse(R"([{"pid": 100, "job": 4, "user": "user3"},
                            {"pid": 200, "job": null, "user": "user7"}])"));

  const ApiResponse root = call("GET", "/v1/gpus", 0);
  EXPECT_EQ(root.body["devices"][0]["ledger"]["processes"][1]["job"], 5);
  EXPECT_EQ(root.body["devices"][0]["ledger"]["jobs"][1]["job"], 5);
  EXPECT_EQ(root.body["devices"][0]["ledger"]["jobs"][1]["command"], "secret.sh");
  // A GPU the ledger does not list (the fake's second has no row) has none.
  engine_->ledger.clear();
  EXPECT_TRUE(call("GET", "/v1/gpus", 3).body["devices"][0]["ledger"].is_null());
}

// What `fastgpu report` asks: the caller's ended jobs summed up by name (or by user), read
// a page at a time (two jobs a page here), with each run's peak against its reservation.
TEST_F(ApiServiceTest, UsageSumsUpTheCallersEndedJobsByNameOrUser) {
  constexpr Bytes kGiB = Bytes{1} << 30;
  auto run_job = [this](std::uint32_t uid, const char* name, int seconds, Bytes peak,
                        JobState state) {
    const ApiResponse submitted =
        call("POST", "/v1/jobs", uid,
             fmt::format(R"({{"jobs": [{{"name": "{}", "argv": ["true"], "working_dir": "/", )"
                         R"("gpus": 1, "gpu_mem": {}, "time_limit_s": 3600}}]}})",
                         name, 20 * kGiB));
    EXPECT_EQ(submitted.status, 201) << submitted.body.dump();
    const JobId id(submitted.body["ids"][0].get<std::uint64_t>());
    store::JobStart start;
    start.gpus = {0};
    start.at = store::WallTime(std::chrono::seconds(1000));
    start.log_path = "/tmp/x.log";
    start.bytes_per_gpu = 20 * kGiB;
    EXPECT_TRUE(store_->record_start(id, start).ok());
    store::JobEnd end;
    end.state = state;
    end.at = start.at + std::chrono::seconds(seconds);
    end.accounting.peak_gpu_mem = peak;
    end.accounting.gpu_seconds = seconds;
    EXPECT_TRUE(store_->record_end(id, end).ok());
  };
  run_job(9, "train", 600, 4 * kGiB, JobState::kCompleted);
  run_job(9, "train", 1200, 6 * kGiB, JobState::kFailed);
  run_job(9, "eval", 60, 18 * kGiB, JobState::kCompleted);
  run_job(7, "train", 60, 1 * kGiB, JobState::kCompleted);  // another user's
  submit_as(9);                                             // queued: not summed up

  const ApiResponse mine = call("GET", "/v1/usage", 9);
  ASSERT_EQ(mine.status, 200) << mine.body.dump();
  EXPECT_EQ(mine.body["by"], "name");
  ASSERT_EQ(mine.body["groups"].size(), 2u) << mine.body.dump();
  const Json& train = mine.body["groups"][0];
  EXPECT_EQ(train["name"], "train");
  EXPECT_EQ(train["jobs"], 2);
  EXPECT_EQ(train["states"]["FAILED"], 1);
  EXPECT_EQ(train["gpu_seconds"], 1800.0);
  EXPECT_EQ(train["memory_used_percent"], 25.0);  // 10 of 40 GiB
  EXPECT_EQ(train["suggested_gpu_mem_bytes"], 8 * kGiB);
  EXPECT_EQ(train["time_used_percent"], 25.0);  // 30 of 120 minutes
  EXPECT_EQ(train["suggested_time_limit_seconds"], 1800);
  EXPECT_EQ(mine.body["groups"][1]["name"], "eval");
  EXPECT_EQ(mine.body["total"]["jobs"], 3);

  const ApiResponse by_user = call("GET", "/v1/usage", 0, "", {{"by", "user"}, {"all", "true"}});
  ASSERT_EQ(by_user.status, 200) << by_user.body.dump();
  ASSERT_EQ(by_user.body["groups"].size(), 2u);
  EXPECT_EQ(by_user.body["groups"][0]["user"], "user9");
  EXPECT_EQ(by_user.body["groups"][1]["user"], "user7");
  EXPECT_EQ(call("GET", "/v1/usage", 0, "", {{"state", "FAILED"}}).body["total"]["jobs"], 0);
  EXPECT_EQ(call("GET", "/v1/usage", 9, "", {{"state", "FAILED"}}).body["total"]["jobs"], 1);
  EXPECT_EQ(call("GET", "/v1/usage", 9, "", {{"name", "eval"}}).body["total"]["jobs"], 1);
  EXPECT_EQ(
      call("GET", "/v1/usage", 9, "", {{"ended_since_us", "1500000000"}}).body["total"]["jobs"],
      2);  // the train runs ended at 1,600 and 2,200 s; eval's at 1,060 s

  const ApiResponse others = call("GET", "/v1/usage", 9, "", {{"all", "true"}});
  EXPECT_EQ(others.status, 403);
  EXPECT_THAT(others.body["error"].get<std::string>(),
              ::testing::HasSubstr("only root sums up other users' jobs"));
  const ApiResponse by_gpu = call("GET", "/v1/usage", 9, "", {{"by", "gpu"}});
  ASSERT_EQ(by_gpu.status, 200) << by_gpu.body.dump();
  ASSERT_EQ(by_gpu.body["groups"].size(), 1u);  // all ran on GPU 0
  EXPECT_EQ(by_gpu.body["groups"][0]["gpu"], 0);
  EXPECT_EQ(by_gpu.body["groups"][0]["jobs"], 3);
  // By day, in the caller's time zone: the runs ended 17 to 37 minutes into 1970, UTC; an
  // hour west of it, on the day before.
  const ApiResponse by_day =
      call("GET", "/v1/usage", 9, "", {{"by", "day"}, {"utc_offset_s", "-3600"}});
  ASSERT_EQ(by_day.status, 200) << by_day.body.dump();
  ASSERT_EQ(by_day.body["groups"].size(), 1u) << by_day.body.dump();
  EXPECT_EQ(by_day.body["groups"][0]["day"], "1969-12-31");
  EXPECT_EQ(by_day.body["groups"][0]["jobs"], 3);
  EXPECT_EQ(call("GET", "/v1/usage", 9, "", {{"by", "day"}}).body["groups"][0]["day"],
            "1970-01-01");
  for (const char* offset : {"90000", "east", "", "3600.5"}) {
    const ApiResponse bad_offset =
        call("GET", "/v1/usage", 9, "", {{"by", "day"}, {"utc_offset_s", offset}});
    EXPECT_EQ(bad_offset.status, 400) << offset;
    EXPECT_THAT(bad_offset.body["error"].get<std::string>(),
                ::testing::HasSubstr(fmt::format("utc_offset_s '{}' is not a time zone's offset; "
                                                 "give the seconds east of UTC",
                                                 offset)));
  }
  // With a change of offset (as to summer time) 1,500 s in: eval's end (1,060 s) is read an
  // hour west of UTC, the train runs' (1,600 and 2,200 s) at UTC.
  const ApiResponse changed =
      call("GET", "/v1/usage", 9, "",
           {{"by", "day"}, {"utc_offset_s", "-3600"}, {"utc_offset_changes", "1500000000:0"}});
  ASSERT_EQ(changed.status, 200) << changed.body.dump();
  ASSERT_EQ(changed.body["groups"].size(), 2u) << changed.body.dump();
  EXPECT_EQ(changed.body["groups"][0]["day"], "1969-12-31");
  EXPECT_EQ(changed.body["groups"][0]["jobs"], 1);
  EXPECT_EQ(changed.body["groups"][1]["day"], "1970-01-01");
  EXPECT_EQ(changed.body["groups"][1]["jobs"], 2);
  for (const auto& [changes, why] : std::vector<std::pair<std::string, std::string>>{
           {"1500000000", "has '1500000000', which is not MICROSECONDS:SECONDS"},
           {"1500000000:7200,x:0", "has 'x:0', which is not MICROSECONDS:SECONDS"},
           {"1500000000:90000", "has the offset 90000, beyond 64800 seconds from UTC"},
           {"1500000000:0,1400000000:3600", "has 1400000000 after a later moment"},
           {"1500000000:0,", "has '', which is not MICROSECONDS:SECONDS"}}) {
    const ApiResponse refused =
        call("GET", "/v1/usage", 9, "", {{"by", "day"}, {"utc_offset_changes", changes}});
    EXPECT_EQ(refused.status, 400) << changes;
    EXPECT_THAT(refused.body["error"].get<std::string>(),
                ::testing::HasSubstr(fmt::format("utc_offset_changes '{}' {}; give each change "
                                                 "as MICROSECONDS:SECONDS",
                                                 changes, why)));
  }
  const ApiResponse bad_key = call("GET", "/v1/usage", 9, "", {{"by", "host"}});
  EXPECT_EQ(bad_key.status, 400);
  EXPECT_THAT(bad_key.body["error"].get<std::string>(), ::testing::HasSubstr("'host'"));
  const ApiResponse not_ended = call("GET", "/v1/usage", 9, "", {{"state", "RUNNING"}});
  EXPECT_EQ(not_ended.status, 400);
  EXPECT_THAT(not_ended.body["error"].get<std::string>(),
              ::testing::HasSubstr("state RUNNING has not ended"));
  EXPECT_EQ(call("GET", "/v1/usage", 9, "", {{"limit", "2"}}).status, 400);
}

}  // namespace
}  // namespace fastgpu::api
