#include "fastgpu/api/dashboard.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "fastgpu/api/job_json.h"

namespace fastgpu::api {
namespace {

constexpr const char* kToken = "0123456789abcdef0123456789abcdef";

// A dashboard on a free port whose daemon answers from `reply` and records what it was
// asked.
class DashboardServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<DashboardServer>> started = DashboardServer::start(
        "127.0.0.1", 0, kToken,
        [this](const std::string& method, const std::string& target,
               const std::string& body) -> Result<ForwardedReply> {
          std::lock_guard lock(mutex_);
          asked_.push_back(method == "GET" ? target : method + " " + target);
          if (!body.empty()) bodies_.push_back(body);
          if (daemon_gone_) return unavailable("no daemon listens on /run/user/1000/fastgpu.sock");
          if (const auto reply = replies_.find(target); reply != replies_.end()) {
            return ForwardedReply{200, reply->second};
          }
          return ForwardedReply{200, R"({"jobs": []})"};
        });
    ASSERT_TRUE(started.ok()) << started.status().message();
    server_ = std::move(started).value();
  }

  httplib::Client client() const {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_connection_timeout(5);
    return c;
  }
  static httplib::Headers with_cookie(const std::string& token = kToken) {
    return {{"Cookie", "other=1; fastgpu_dashboard=" + token}};
  }
  // The cookie and the header the page sends with a write, and any more headers.
  static httplib::Headers from_page(const httplib::Headers& more = {}) {
    httplib::Headers headers = with_cookie();
    headers.emplace(kDashboardHeader, "write");
    headers.insert(more.begin(), more.end());
    return headers;
  }
  httplib::Result cancel_42(const httplib::Headers& headers) const {
    return client().Post("/v1/jobs/42/cancel", headers, "", "application/json");
  }
  std::vector<std::string> asked() {
    std::lock_guard lock(mutex_);
    return asked_;
  }

  std::mutex mutex_;
  std::vector<std::string> asked_;
  std::vector<std::string> bodies_;             // of the requests that had one
  std::map<std::string, std::string> replies_;  // by target; else {"jobs": []}
  std::atomic<bool> daemon_gone_ = false;
  std::unique_ptr<DashboardServer> server_;
};

TEST_F(DashboardServerTest, ThePrintedTokenBecomesACookieAndLeavesTheAddress) {
  auto reply = client().Get(std::string("/?token=") + kToken);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 303);
  EXPECT_EQ(reply->get_header_value("Location"), "/");
  const std::string cookie = reply->get_header_value("Set-Cookie");
  EXPECT_NE(cookie.find(std::string("fastgpu_dashboard=") + kToken), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos) << cookie;
}

TEST_F(DashboardServerTest, WithTheCookieThePageAndItsFilesAreServedUnderAStrictPolicy) {
  auto page = client().Get("/", with_cookie());
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(page->body.find("<script src=\"/dashboard.js\""), std::string::npos);
  const std::string policy = page->get_header_value("Content-Security-Policy");
  EXPECT_NE(policy.find("script-src 'self'"), std::string::npos) << policy;
  EXPECT_NE(policy.find("connect-src 'self'"), std::string::npos) << policy;

  auto script = client().Get("/dashboard.js", with_cookie());
  ASSERT_TRUE(script);
  EXPECT_EQ(script->status, 200);
  EXPECT_EQ(script->get_header_value("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_NE(script->body.find("/v1/gpus"), std::string::npos);
  auto settings = client().Get("/settings.json", with_cookie());
  ASSERT_TRUE(settings);
  EXPECT_EQ(settings->body, R"({"all_users":false})");
  auto style = client().Get("/dashboard.css", with_cookie());
  ASSERT_TRUE(style);
  EXPECT_EQ(style->status, 200);
  EXPECT_EQ(style->get_header_value("Content-Type"), "text/css; charset=utf-8");
}

TEST_F(DashboardServerTest, WithoutTheTokenNothingIsShownAndTheDaemonIsNotAsked) {
  for (const char* target : {"/", "/dashboard.js", "/v1/jobs", "/v1/gpus"}) {
    auto plain = client().Get(target);
    ASSERT_TRUE(plain);
    EXPECT_EQ(plain->status, 401) << target;
    auto wrong = client().Get(target, with_cookie("0123456789abcdef0123456789abcdee"));
    ASSERT_TRUE(wrong);
    EXPECT_EQ(wrong->status, 401) << target;
  }
  auto guessed = client().Get("/?token=0123");
  ASSERT_TRUE(guessed);
  EXPECT_EQ(guessed->status, 401);
  EXPECT_TRUE(guessed->get_header_value("Set-Cookie").empty());
  EXPECT_NE(guessed->body.find("fastgpu dashboard"), std::string::npos) << guessed->body;
  auto api = client().Get("/v1/jobs");
  ASSERT_TRUE(api);
  EXPECT_NE(api->body.find("?token="), std::string::npos) << api->body;
  EXPECT_TRUE(asked().empty());
}

TEST_F(DashboardServerTest, ForwardsTheReadsThePageMakesWithTheirQueries) {
  for (const char* target : {"/v1/daemon", "/v1/gpus", "/v1/jobs?state=QUEUED,RUNNING&fields=table",
                             "/v1/jobs/42", "/v1/jobs/42/log?offset=812"}) {
    auto reply = client().Get(target, with_cookie());
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, 200) << target;
    EXPECT_EQ(reply->body, R"({"jobs": []})") << target;
    EXPECT_EQ(reply->get_header_value("Content-Type"), "application/json") << target;
  }
  // The target goes on as it came (this client writes the comma as %2C; the daemon reads
  // both).
  EXPECT_EQ(asked(), (std::vector<std::string>{"/v1/daemon", "/v1/gpus",
                                               "/v1/jobs?state=QUEUED%2CRUNNING&fields=table",
                                               "/v1/jobs/42", "/v1/jobs/42/log?offset=812"}));
}

TEST_F(DashboardServerTest, CancelsAJobForItsOwnPageAlone) {
  auto cancel = cancel_42(from_page({{"Sec-Fetch-Site", "same-origin"}}));
  ASSERT_TRUE(cancel);
  EXPECT_EQ(cancel->status, 200);
  EXPECT_EQ(asked(), (std::vector<std::string>{"POST /v1/jobs/42/cancel"}));

  // Without the page's header: a form of another site, or a hand-made request.
  auto no_header = cancel_42(with_cookie());
  ASSERT_TRUE(no_header);
  EXPECT_EQ(no_header->status, 403);
  EXPECT_NE(no_header->body.find(kDashboardHeader), std::string::npos) << no_header->body;
  EXPECT_NE(no_header->body.find("fastgpu cancel"), std::string::npos) << no_header->body;
  // From another origin, or another site, as the browser says.
  auto other_origin = cancel_42(from_page({{"Origin", "http://attacker.example"}}));
  ASSERT_TRUE(other_origin);
  EXPECT_EQ(other_origin->status, 403);
  EXPECT_NE(other_origin->body.find("http://attacker.example"), std::string::npos)
      << other_origin->body;
  auto cross_site = cancel_42(from_page({{"Sec-Fetch-Site", "cross-site"}}));
  ASSERT_TRUE(cross_site);
  EXPECT_EQ(cross_site->status, 403);
  // Without the token.
  auto no_token = cancel_42({{kDashboardHeader, "cancel"}});
  ASSERT_TRUE(no_token);
  EXPECT_EQ(no_token->status, 401);
  EXPECT_EQ(asked().size(), 1u);  // none of these reached the daemon
}

// A queued job's hold and release pass as a cancel does, under the same checks.
TEST_F(DashboardServerTest, HoldsAndReleasesAJobForItsOwnPageAlone) {
  auto hold = client().Post("/v1/jobs/42/hold", from_page(), "", "application/json");
  ASSERT_TRUE(hold);
  EXPECT_EQ(hold->status, 200);
  auto release = client().Post("/v1/jobs/42/release", from_page(), "", "application/json");
  ASSERT_TRUE(release);
  EXPECT_EQ(release->status, 200);
  EXPECT_EQ(asked(),
            (std::vector<std::string>{"POST /v1/jobs/42/hold", "POST /v1/jobs/42/release"}));
  auto no_header = client().Post("/v1/jobs/42/hold", with_cookie(), "", "application/json");
  ASSERT_TRUE(no_header);
  EXPECT_EQ(no_header->status, 403);
  EXPECT_NE(no_header->body.find("`fastgpu hold ID` does it from a shell"), std::string::npos)
      << no_header->body;
  auto other_origin =
      client().Post("/v1/jobs/42/release", from_page({{"Origin", "http://attacker.example"}}), "",
                    "application/json");
  ASSERT_TRUE(other_origin);
  EXPECT_EQ(other_origin->status, 403);
  // A change of its fields is not one of them.
  auto update =
      client().Post("/v1/jobs/42/update", from_page(), R"({"priority": 9})", "application/json");
  ASSERT_TRUE(update);
  EXPECT_EQ(update->status, 405);
  EXPECT_EQ(asked().size(), 2u);
}

// A job record as the daemon answers GET /v1/jobs/{id}.
std::string job_text(std::uint64_t id, std::uint32_t uid, store::JobState state,
                     std::vector<store::Dependency> after = {}) {
  store::JobRecord job;
  job.id = JobId(id);
  job.state = state;
  job.spec.argv = {"sh", "-c", "echo again"};
  job.spec.working_dir = "/tmp";
  job.spec.environment = std::vector<std::string>{"PATH=/usr/bin:/bin", "RUN=7"};
  job.spec.gpus = 0;
  job.spec.time_limit_s = 60;
  job.spec.dependencies = std::move(after);
  job.spec.uid = uid;
  job.spec.user = "ana";
  return job_record_to_json(job).dump();
}

// Run again: the dashboard reads the job and submits it again as it was, without its wait
// for a job that has ended; another user's job is refused, and nothing is submitted.
TEST_F(DashboardServerTest, RunsAJobAgainAsItWasSubmitted) {
  const auto uid = static_cast<std::uint32_t>(::geteuid());
  {
    std::lock_guard lock(mutex_);
    replies_["/v1/jobs/42"] =
        job_text(42, uid, store::JobState::kFailed,
                 {store::Dependency{JobId(7), store::DependencyKind::kAfterOk, std::nullopt}});
    replies_["/v1/jobs/7"] = job_text(7, uid, store::JobState::kCompleted);
    replies_["/v1/jobs/43"] = job_text(43, uid + 1, store::JobState::kFailed);
  }
  auto again = client().Post("/v1/jobs/42/resubmit", from_page(), "", "application/json");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200) << again->body;
  EXPECT_EQ(asked(), (std::vector<std::string>{"/v1/jobs/42", "/v1/jobs/7", "POST /v1/jobs"}));
  std::vector<std::string> bodies;
  {
    std::lock_guard lock(mutex_);
    bodies = bodies_;
  }
  ASSERT_EQ(bodies.size(), 1u);
  const Json batch = Json::parse(bodies[0]);
  ASSERT_EQ(batch["jobs"].size(), 1u) << bodies[0];
  const Json& job = batch["jobs"][0];
  EXPECT_EQ(job["argv"], Json({"sh", "-c", "echo again"})) << bodies[0];
  EXPECT_EQ(job["working_dir"], "/tmp");
  EXPECT_EQ(job["time_limit_s"], 60);
  EXPECT_EQ(job["dependencies"], Json::array()) << bodies[0];
  EXPECT_NE(bodies[0].find("RUN=7"), std::string::npos) << bodies[0];

  auto others = client().Post("/v1/jobs/43/resubmit", from_page(), "", "application/json");
  ASSERT_TRUE(others);
  EXPECT_EQ(others->status, 403);
  EXPECT_NE(others->body.find("its owner may resubmit it"), std::string::npos) << others->body;
  auto no_header = client().Post("/v1/jobs/42/resubmit", with_cookie(), "", "application/json");
  ASSERT_TRUE(no_header);
  EXPECT_EQ(no_header->status, 403);
  EXPECT_EQ(asked().size(), 4u);  // the read of 43, and no submit of it
}

TEST_F(DashboardServerTest, CancelsAndReadsNothingElse) {
  // Nothing else that changes a job or the daemon is forwarded, whatever the method.
  auto submit = client().Post("/v1/jobs", from_page(), "{}", "application/json");
  ASSERT_TRUE(submit);
  EXPECT_EQ(submit->status, 405);
  EXPECT_NE(submit->body.find("submit or change jobs with the fastgpu command"), std::string::npos)
      << submit->body;
  auto not_an_id = client().Post("/v1/jobs/x/cancel", from_page(), "", "application/json");
  ASSERT_TRUE(not_an_id);
  EXPECT_EQ(not_an_id->status, 405);
  auto delete_cancel = client().Delete("/v1/jobs/42/cancel", from_page());
  ASSERT_TRUE(delete_cancel);
  EXPECT_EQ(delete_cancel->status, 405);
  EXPECT_EQ(delete_cancel->get_header_value("Allow"), "POST");
  auto get_cancel = client().Get("/v1/jobs/42/cancel", with_cookie());
  ASSERT_TRUE(get_cancel);
  EXPECT_EQ(get_cancel->status, 404);
  auto reload_post = client().Post("/v1/daemon/reload", from_page(), "", "application/json");
  ASSERT_TRUE(reload_post);
  EXPECT_EQ(reload_post->status, 405);
  auto reload = client().Get("/v1/daemon/reload", with_cookie());
  ASSERT_TRUE(reload);
  EXPECT_EQ(reload->status, 404);
  auto metrics = client().Get("/v1/metrics", with_cookie());
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 404);
  EXPECT_TRUE(asked().empty());
}

TEST_F(DashboardServerTest, ADaemonThatDoesNotAnswerIsA502NamingIt) {
  daemon_gone_ = true;
  auto reply = client().Get("/v1/gpus", with_cookie());
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 502);
  EXPECT_NE(reply->body.find("no daemon listens on /run/user/1000/fastgpu.sock"), std::string::npos)
      << reply->body;
}

TEST(DashboardServer, EveryUsersViewAsksTheListingsWithAllAndSaysSo) {
  std::vector<std::string> asked;
  std::mutex mutex;
  Result<std::unique_ptr<DashboardServer>> server =
      DashboardServer::start("127.0.0.1", 0, kToken,
                             [&](const std::string&, const std::string& target,
                                 const std::string&) -> Result<ForwardedReply> {
                               std::lock_guard lock(mutex);
                               asked.push_back(target);
                               return ForwardedReply{200, "{}"};
                             },
                             {.all_users = true});
  ASSERT_TRUE(server.ok()) << server.status().message();
  httplib::Client client("127.0.0.1", (*server)->port());
  const httplib::Headers cookie{{"Cookie", std::string("fastgpu_dashboard=") + kToken}};
  for (const char* target :
       {"/v1/jobs?state=RUNNING", "/v1/jobs", "/v1/jobs/7", "/v1/gpus", "/v1/usage?by=user"}) {
    auto reply = client.Get(target, cookie);
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, 200) << target;
  }
  auto settings = client.Get("/settings.json", cookie);
  ASSERT_TRUE(settings);
  EXPECT_EQ(settings->body, R"({"all_users":true})");
  std::lock_guard lock(mutex);
  EXPECT_EQ(asked,
            (std::vector<std::string>{"/v1/jobs?state=RUNNING&all=true", "/v1/jobs?all=true",
                                      "/v1/jobs/7", "/v1/gpus", "/v1/usage?by=user&all=true"}));
}

TEST(DashboardForwards, TheAllowedPathsAndNoOthers) {
  for (const char* path : {"/v1/daemon", "/v1/gpus", "/v1/gpus/samples", "/v1/jobs", "/v1/jobs/7",
                           "/v1/jobs/7/log", "/v1/usage"}) {
    EXPECT_TRUE(dashboard_forwards(path)) << path;
  }
  for (const char* path :
       {"/v1/jobs/7/cancel", "/v1/jobs/x", "/v1/jobs/", "/v1/jobs//log", "/v1/jobs/7/log/x",
        "/v1/daemon/reload", "/v1/metrics", "/v1", "/v1/jobs/-1", "/v1/jobs/+1"}) {
    EXPECT_FALSE(dashboard_forwards(path)) << path;
  }
  for (const char* path :
       {"/v1/jobs/7/cancel", "/v1/jobs/7/hold", "/v1/jobs/12/release", "/v1/jobs/7/resubmit"}) {
    EXPECT_TRUE(dashboard_writes(path)) << path;
  }
  for (const char* path :
       {"/v1/jobs/cancel", "/v1/jobs//cancel", "/v1/jobs/x/cancel", "/v1/jobs/7/cancel/",
        "/v1/jobs/7", "/v1/jobs/7/log", "/v1/jobs/-7/cancel", "/v2/jobs/7/cancel",
        "/v1/jobs/7/update", "/v1/jobs/hold", "/v1/jobs/7/hold/release", "/v1/jobs/purge",
        "/v1/daemon/reload"}) {
    EXPECT_FALSE(dashboard_writes(path)) << path;
  }
}

TEST(DashboardToken, ThirtyTwoHexDigitsNotRepeated) {
  const std::string first = new_dashboard_token();
  EXPECT_EQ(first.size(), 32u);
  EXPECT_EQ(first.find_first_not_of("0123456789abcdef"), std::string::npos) << first;
  EXPECT_NE(first, new_dashboard_token());
}

TEST(DashboardServer, APortInUseIsRefusedNamingIt) {
  Result<std::unique_ptr<DashboardServer>> first =
      DashboardServer::start("127.0.0.1", 0, kToken, nullptr);
  ASSERT_TRUE(first.ok()) << first.status().message();
  const int port = (*first)->port();
  Result<std::unique_ptr<DashboardServer>> second =
      DashboardServer::start("127.0.0.1", port, kToken, nullptr);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("127.0.0.1:" + std::to_string(port)), std::string::npos)
      << second.status().message();
  EXPECT_NE(second.status().message().find("127.0.0.1:0"), std::string::npos)
      << second.status().message();
}

}  // namespace
}  // namespace fastgpu::api
