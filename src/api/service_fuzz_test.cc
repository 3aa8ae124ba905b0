// Thousands of malformed and odd requests against the real API and the real engine (a
// simulated probe, a fake launcher, an in-memory store): every one gets an answer the
// client can act on (never a 5xx, an error that says something), a refused submit stores
// nothing, an accepted one stores every job it was given, and the engine keeps ticking.
// Fixed seeds: a failure names its seed and the request that caused it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <limits>
#include <random>

#include "engine/engine_test_util.h"
#include "fastgpu/api/service.h"
#include "fastgpu/gpu/simulated_probe.h"

namespace fastgpu::api {
namespace {

using engine::testing::FakeLauncher;
using engine::testing::ManualClock;

// Values a field may be set to: every JSON type, limits, and plausible-but-wrong values.
std::vector<Json> odd_values() {
  return {nullptr,
          true,
          false,
          0,
          1,
          -1,
          7,
          std::numeric_limits<std::int64_t>::max(),
          std::numeric_limits<std::int64_t>::min(),
          std::numeric_limits<std::uint64_t>::max(),
          0.5,
          -0.5,
          1e308,
          -1e308,
          "",
          "x",
          "10G",
          "afterok",
          std::string(5000, 'a'),
          std::string("nul\0byte", 8),
          Json::array(),
          Json::array({1, 2}),
          Json::array({"a", ""}),
          Json::array({Json::object()}),
          Json::object(),
          {{"job", 1}, {"kind", "afterany"}},
          {{"batch_index", 0}, {"kind", "afterok"}},
          {{"index", 3}, {"max_running", 2}, {"array_id", 0}}};
}

const std::vector<std::string> kFields = {
    "name",    "argv",        "shell_command", "working_dir",  "environment", "gpus",
    "gpu_mem", "util_share",  "priority",      "time_limit_s", "deadline_us", "dependencies",
    "array",   "restartable", "signature",     "uid",          "user",        "unknown_field"};

Json valid_job(int index) {
  return {{"name", "job" + std::to_string(index)},
          {"argv", Json::array({"true"})},
          {"working_dir", "/tmp"},
          {"environment", Json::array({"A=1"})},
          {"gpus", 1},
          {"gpu_mem", std::int64_t{10} << 30},
          {"util_share", 0.5},
          {"priority", 3},
          {"time_limit_s", 60},
          {"restartable", true},
          {"signature", "sig"}};
}

class ApiFuzz : public ::testing::Test {
 protected:
  void SetUp() override {
    probe_ = std::move(make_simulated_probe("2xH100-80G,1xA100-40G")).value();
    engine::EngineOptions options;
    options.probe = probe_.get();
    options.launcher = &launcher_;
    options.store = store_.get();
    options.clock = &clock_;
    options.state_dir = dir_.path();
    options.cpu_slots = 2;
    Result<std::unique_ptr<engine::Engine>> opened = engine::Engine::open(options);
    ASSERT_TRUE(opened.ok()) << opened.status().to_string();
    engine_ = std::move(opened).value();
    ApiServiceOptions api;
    api.engine = engine_.get();
    api.store = store_.get();
    api.engine_mutex = &mutex_;
    api.clock = &clock_;
    api.user_name = [](std::uint32_t uid) { return "user" + std::to_string(uid); };
    api.info.gpus_source = "simulated";
    service_ = std::make_unique<ApiService>(std::move(api));
  }

  std::size_t stored_jobs() { return store_->list_jobs({}).value().size(); }

  // A request the client can act on: no 5xx, and an error says what was wrong.
  static void expect_answered(const ApiResponse& response, const std::string& request) {
    EXPECT_LT(response.status, 500) << request << "\n" << response.body.dump();
    if (response.status >= 400) {
      ASSERT_TRUE(response.body.contains("error")) << request;
      EXPECT_FALSE(response.body["error"].get<std::string>().empty()) << request;
    }
  }

  // A batch of one to three jobs, each valid before one to three mutations.
  Json mutated_batch(std::mt19937_64& random) {
    const std::vector<Json> values = odd_values();
    auto pick = [&random](std::size_t n) {
      return std::uniform_int_distribution<std::size_t>(0, n - 1)(random);
    };
    Json jobs = Json::array();
    const std::size_t count = 1 + pick(3);
    for (std::size_t i = 0; i < count; ++i) jobs.push_back(valid_job(static_cast<int>(i)));
    for (std::size_t m = 1 + pick(3); m > 0; --m) {
      Json& job = jobs[pick(jobs.size())];
      const std::string& field = kFields[pick(kFields.size())];
      switch (pick(4)) {
        case 0: job.erase(field); break;
        case 1:  // a dependency on a job that may or may not exist, or on the batch
          job["dependencies"] = Json::array(
              {{{pick(2) == 0 ? "job" : "batch_index", static_cast<std::int64_t>(pick(40)) - 2},
                {"kind", pick(2) == 0 ? "afterok" : "afterany"}}});
          break;
        default: job[field] = values[pick(values.size())];
      }
    }
    if (pick(20) == 0) return values[pick(values.size())];  // not a batch at all
    return {{"jobs", jobs}};
  }

  ManualClock clock_;
  FakeLauncher launcher_{clock_};
  std::unique_ptr<store::StateStore> store_ =
      std::move(store::open_sqlite_store(":memory:")).value();
  engine::testing::TempDir dir_;
  std::unique_ptr<SimulatedProbe> probe_;
  std::unique_ptr<engine::Engine> engine_;
  std::mutex mutex_;
  std::unique_ptr<ApiService> service_;
};

TEST_F(ApiFuzz, MalformedSubmitsAreRefusedWholeAndTheEngineKeepsRunning) {
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    std::mt19937_64 random(seed);
    std::size_t accepted = 0;
    for (int round = 0; round < 300; ++round) {
      const Json batch = mutated_batch(random);
      const std::string body = batch.dump(-1, ' ', false, Json::error_handler_t::replace);
      const std::string request =
          "seed " + std::to_string(seed) + ": POST /v1/jobs " + body.substr(0, 2000);
      const std::size_t before = stored_jobs();
      const std::uint32_t uid = round % 3 == 0 ? 0 : 1000;
      const ApiResponse response =
          service_->handle({"POST", "/v1/jobs", {}, body, uid, ::getpid()});
      expect_answered(response, request);
      if (response.status == 201) {
        ASSERT_EQ(response.body["ids"].size(), batch["jobs"].size()) << request;
        EXPECT_EQ(stored_jobs(), before + batch["jobs"].size()) << request;
        ++accepted;
      } else {
        EXPECT_EQ(stored_jobs(), before) << request;  // all or nothing
      }
      if (round % 10 == 0) {
        clock_.advance(30.0);
        Result<engine::TickReport> ticked = engine_->tick();
        ASSERT_TRUE(ticked.ok()) << request << "\n" << ticked.status().to_string();
      }
    }
    // The valid parts of the stream still get through.
    EXPECT_GT(accepted, 0u) << "seed " << seed;
  }
}

TEST_F(ApiFuzz, OddPathsAndQueriesGetAnAnswer) {
  const Json batch = {{"jobs", Json::array({valid_job(0)})}};
  ASSERT_EQ(service_->handle({"POST", "/v1/jobs", {}, batch.dump(), 1000, ::getpid()}).status, 201);
  const std::vector<std::string> words = {"",
                                          "0",
                                          "1",
                                          "-1",
                                          "abc",
                                          "1e9",
                                          "99999999999999999999",
                                          "QUEUED",
                                          "RUNNING,BOGUS",
                                          "true",
                                          "%00",
                                          "1/2",
                                          "day",
                                          "-64800"};
  const std::vector<std::string> paths = {"/v1/jobs",
                                          "/v1/jobs/",
                                          "/v1/jobs/{}",
                                          "/v1/jobs/{}/log",
                                          "/v1/jobs/{}/cancel",
                                          "/v1/daemon",
                                          "/v1/gpus",
                                          "/v1/usage",
                                          "/v1",
                                          "/",
                                          "/v1/jobs/{}/{}",
                                          "/v2/jobs",
                                          "/v1/jobs//log",
                                          "/v1/jobs/{}/log/x"};
  const std::vector<std::string> keys = {
      "state",  "after", "limit",          "ids_only",     "all",
      "offset", "by",    "ended_since_us", "utc_offset_s", "utc_offset_changes"};
  std::mt19937_64 random(7);
  auto pick = [&random](std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(random);
  };
  for (int round = 0; round < 1500; ++round) {
    std::string path = paths[pick(paths.size())];
    for (std::size_t at = path.find("{}"); at != std::string::npos; at = path.find("{}")) {
      path.replace(at, 2, words[pick(words.size())]);
    }
    std::map<std::string, std::string> query;
    for (std::size_t k = pick(3); k > 0; --k)
      query[keys[pick(keys.size())]] = words[pick(words.size())];
    const std::string method = pick(3) == 0 ? "POST" : (pick(8) == 0 ? "DELETE" : "GET");
    const std::uint32_t uid = pick(2) == 0 ? 0 : 1000 + static_cast<std::uint32_t>(pick(2));
    std::string request = method + " " + path + " uid " + std::to_string(uid);
    for (const auto& [key, value] : query) request += " " + key + "=" + value;
    expect_answered(
        service_->handle({method, path, query, words[pick(words.size())], uid, ::getpid()}),
        request);
  }
  EXPECT_EQ(stored_jobs(), 1u);
}

}  // namespace
}  // namespace fastgpu::api
