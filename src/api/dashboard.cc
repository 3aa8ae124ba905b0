#include "fastgpu/api/dashboard.h"

#include <fmt/format.h>
#include <httplib.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <random>
#include <set>
#include <vector>

#include "api/serving_thread.h"
#include "fastgpu/api/job_json.h"
#include "fastgpu/api/resubmit.h"
#include "fastgpu/core/text.h"
#include "fastgpu/engine/job_file.h"

namespace fastgpu::api {
namespace {

constexpr std::string_view kCookie = "fastgpu_dashboard";

// The page may load only its own script and style, and fetch only from its own origin.
constexpr const char* kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// Compares in time that does not depend on where the two differ.
bool same_token(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char difference = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    difference |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return difference == 0;
}

// The value of the dashboard's cookie in the request's Cookie header, or "".
std::string cookie_token(const httplib::Request& request) {
  const std::string header = request.get_header_value("Cookie");
  std::string_view rest = header;
  while (!rest.empty()) {
    const std::size_t end = rest.find(';');
    std::string_view pair = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    const std::size_t equals = pair.find('=');
    if (equals != std::string_view::npos && pair.substr(0, equals) == kCookie) {
      return std::string(pair.substr(equals + 1));
    }
  }
  return "";
}

void set_json_error(httplib::Response& response, int status, const std::string& message) {
  response.status = status;
  response.set_content(Json{{"error", message}}.dump(), "application/json");
}

// Said to a browser without the token, in words, since no script runs yet.
constexpr const char* kNoTokenPage =
    "<!doctype html><meta charset=utf-8><title>FastGPU dashboard</title>"
    "<p>This dashboard shows one user's jobs, so it asks for the token in the address that "
    "<code>fastgpu dashboard</code> printed when it started "
    "(<code>http://HOST:PORT/?token=...</code>). Open that address, or start the dashboard "
    "again for a new one.</p>";

class DashboardServerImpl final : public DashboardServer {
 public:
  DashboardServerImpl(std::unique_ptr<ServingThread> serving, int port)
      : port_(port), serving_(std::move(serving)) {}
  int port() const override { return port_; }
  void stop() override { serving_->stop(); }

 private:
  int port_;
  std::unique_ptr<ServingThread> serving_;
};

class Handlers {
 public:
  Handlers(std::string token, DaemonCall daemon, DashboardSettings settings)
      : token_(std::move(token)), daemon_(std::move(daemon)), settings_(settings) {}

  void get(const httplib::Request& request, httplib::Response& response) const {
    set_common_headers(response);
    if (request.path == "/" && request.has_param("token")) {
      trade_token(request.get_param_value("token"), response);
      return;
    }
    if (!same_token(cookie_token(request), token_)) {
      refuse(request, response);
      return;
    }
    if (dashboard_forwards(request.path)) {
      forward(request, response);
      return;
    }
    if (request.path == "/settings.json") {
      response.set_content(Json{{"all_users", settings_.all_users}}.dump(), "application/json");
      return;
    }
    if (const std::optional<DashboardAsset> asset = dashboard_asset(request.path)) {
      response.set_header("Content-Security-Policy", kContentSecurityPolicy);
      response.set_content(std::string(asset->body), std::string(asset->content_type));
      return;
    }
    set_json_error(response, 404,
                   fmt::format("no such page '{}': the dashboard serves / and the API paths it "
                               "reads (/v1/daemon, /v1/gpus, /v1/jobs...)",
                               request.path));
  }

  // The writes: a job's cancel, hold, release and run again, from the dashboard's own page
  // (see dashboard.h).
  void post(const httplib::Request& request, httplib::Response& response) const {
    set_common_headers(response);
    if (!dashboard_writes(request.path)) {
      refuse_write(request, response);
      return;
    }
    if (!same_token(cookie_token(request), token_)) {
      refuse(request, response);
      return;
    }
    if (const std::string why = not_from_page(request); !why.empty()) {
      set_json_error(response, 403, why);
      return;
    }
    if (request.path.ends_with("/resubmit")) {
      resubmit(request.path, response);
      return;
    }
    Result<ForwardedReply> reply = daemon_("POST", request.path, "");
    pass_on(std::move(reply), response);
  }

  // The job of `path` (/v1/jobs/{id}/resubmit) submitted again as it was, as `fastgpu
  // resubmit ID` does without flags: the answer is the daemon's to the submit ({"ids":
  // [new id]}), or its refusal.
  void resubmit(const std::string& path, httplib::Response& response) const {
    const std::string job_path = path.substr(0, path.size() - std::string_view("/resubmit").size());
    Result<ForwardedReply> read = daemon_("GET", job_path, "");
    if (!read.ok() || read->status != 200) {
      pass_on(std::move(read), response);
      return;
    }
    Result<Json> spec_batch = resubmitted_batch(read->body);
    if (!spec_batch.ok()) {
      const int status = spec_batch.status().code() == ErrorCode::kFailedPrecondition ? 403 : 500;
      set_json_error(response, status, spec_batch.status().message());
      return;
    }
    pass_on(daemon_("POST", "/v1/jobs", spec_batch->dump()), response);
  }

  // The submit of a job again, from the daemon's record of it (GET /v1/jobs/{id}).
  Result<Json> resubmitted_batch(const std::string& record_text) const {
    const Json json = Json::parse(record_text, nullptr, /*allow_exceptions=*/false);
    if (json.is_discarded()) return internal_error("the daemon's record of the job is not JSON");
    Result<store::JobRecord> job = job_record_from_json(json);
    if (!job.ok()) return job.status();
    FASTGPU_RETURN_IF_ERROR(check_resubmitter(*job, static_cast<std::uint32_t>(::geteuid())));
    engine::SubmitContext context;
    context.working_dir = "/";  // no --workdir: the job's own folder
    context.uid = job->spec.uid;
    context.user = job->spec.user;
    context.submit_time =
        std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
    Result<store::JobSpec> spec = engine::resubmitted_spec(job->id, job->spec, {}, context);
    if (!spec.ok()) return spec.status();
    std::vector<store::JobSpec> specs{std::move(spec).value()};
    std::set<std::uint64_t> dropped;
    const JobReader read = [this](std::uint64_t id) -> Result<Json> {
      Result<ForwardedReply> reply = daemon_("GET", fmt::format("/v1/jobs/{}", id), "");
      if (!reply.ok()) return reply.status();
      if (reply->status == 404) return not_found(fmt::format("no job {}", id));
      const Json other = Json::parse(reply->body, nullptr, /*allow_exceptions=*/false);
      if (reply->status != 200 || other.is_discarded()) {
        return unavailable(fmt::format("the daemon answered {} for job {}", reply->status, id));
      }
      return other;
    };
    FASTGPU_RETURN_IF_ERROR(carry_dependencies(read, {*job}, specs, dropped));
    return job_batch_to_json(specs);
  }

  static void refuse_write(const httplib::Request& request, httplib::Response& response) {
    response.set_header("Allow", dashboard_writes(request.path) ? "POST" : "GET");
    set_json_error(response, 405,
                   fmt::format("the dashboard reads, and cancels, holds, releases and runs again "
                               "a job (POST /v1/jobs/ID/cancel, /hold, /release, /resubmit); {} "
                               "{} refused: submit or change jobs with the fastgpu command",
                               request.method, request.path));
  }

 private:
  static void set_common_headers(httplib::Response& response) {
    response.set_header("Cache-Control", "no-store");
    response.set_header("X-Content-Type-Options", "nosniff");
    response.set_header("Referrer-Policy", "no-referrer");
  }

  // Why a write did not come from the dashboard's page, or "" when it did: the page's
  // header, and the browser's own word on where the request comes from when it gives it.
  static std::string not_from_page(const httplib::Request& request) {
    const std::string verb = request.path.substr(request.path.rfind('/') + 1);  // "cancel"
    if (!request.has_header(kDashboardHeader)) {
      return fmt::format(
          "a {} comes from the dashboard's page, which sends the {} header; this request "
          "has none, so it was refused (from another site's page, or a hand-made request: "
          "`fastgpu {} ID` does it from a shell)",
          verb, kDashboardHeader, verb);
    }
    const std::string origin = request.get_header_value("Origin");
    const std::string own = "http://" + request.get_header_value("Host");
    if (!origin.empty() && origin != own) {
      return fmt::format("a {} from {} refused: only the dashboard's own page ({}) writes", verb,
                         origin, own);
    }
    const std::string site = request.get_header_value("Sec-Fetch-Site");
    if (!site.empty() && site != "same-origin") {
      return fmt::format("a {} sent {} refused: only the dashboard's own page writes", verb, site);
    }
    return "";
  }

  // The token from the printed URL becomes a cookie, and the browser goes on to "/", so the
  // token leaves the address bar and the history.
  void trade_token(const std::string& given, httplib::Response& response) const {
    if (!same_token(given, token_)) {
      response.status = 401;
      response.set_content(kNoTokenPage, "text/html; charset=utf-8");
      return;
    }
    response.status = 303;
    response.set_header("Location", "/");
    response.set_header("Set-Cookie",
                        fmt::format("{}={}; Path=/; HttpOnly; SameSite=Strict", kCookie, token_));
  }

  static void refuse(const httplib::Request& request, httplib::Response& response) {
    if (request.path.starts_with("/v1/")) {
      set_json_error(response, 401,
                     "no dashboard token: open the address `fastgpu dashboard` printed, with its "
                     "?token=, in this browser first");
      return;
    }
    response.status = 401;
    response.set_content(kNoTokenPage, "text/html; charset=utf-8");
  }

  void forward(const httplib::Request& request, httplib::Response& response) const {
    std::string target = request.target;
    if (settings_.all_users && (request.path == "/v1/jobs" || request.path == "/v1/usage")) {
      target += target.find('?') == std::string::npos ? "?all=true" : "&all=true";
    }
    pass_on(daemon_("GET", target, ""), response);
  }

  static void pass_on(Result<ForwardedReply> reply, httplib::Response& response) {
    if (!reply.ok()) {
      set_json_error(response, 502, reply.status().message());
      return;
    }
    response.status = reply->status;
    response.body = std::move(reply->body);
    response.set_header("Content-Type", "application/json");
  }

  std::string token_;
  DaemonCall daemon_;
  DashboardSettings settings_;
};

// Digits alone, at least one.
bool is_id(std::string_view text) {
  if (text.empty()) return false;
  std::uint64_t ignored = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), ignored);
  return error == std::errc() && end == text.data() + text.size();
}

}  // namespace

bool dashboard_writes(std::string_view path) {
  constexpr std::string_view kJobs = "/v1/jobs/";
  if (!path.starts_with(kJobs)) return false;
  for (std::string_view verb : {"/cancel", "/hold", "/release", "/resubmit"}) {
    if (path.ends_with(verb)) {
      return is_id(path.substr(kJobs.size(), path.size() - kJobs.size() - verb.size()));
    }
  }
  return false;
}

bool dashboard_forwards(std::string_view path) {
  if (path == "/v1/daemon" || path == "/v1/gpus" || path == "/v1/gpus/samples" ||
      path == "/v1/jobs" || path == "/v1/usage") {
    return true;
  }
  constexpr std::string_view kJobs = "/v1/jobs/";
  if (!path.starts_with(kJobs)) return false;
  std::string_view rest = path.substr(kJobs.size());
  constexpr std::string_view kLog = "/log";
  if (rest.ends_with(kLog)) rest.remove_suffix(kLog.size());
  return is_id(rest);
}

std::string new_dashboard_token() {
  std::random_device source;  // /dev/urandom on Linux
  std::string token;
  for (int i = 0; i < 4; ++i) token += fmt::format("{:08x}", source());
  return token;
}

Result<std::unique_ptr<DashboardServer>> DashboardServer::start(const std::string& host, int port,
                                                                std::string token,
                                                                DaemonCall daemon,
                                                                DashboardSettings settings) {
  auto server = std::make_unique<httplib::Server>();
  reuse_address_only(*server);  // a second dashboard must not share the port
  auto handlers = std::make_shared<Handlers>(std::move(token), std::move(daemon), settings);
  server->Get(".*", [handlers](const httplib::Request& request, httplib::Response& response) {
    handlers->get(request, response);
  });
  server->Post(".*", [handlers](const httplib::Request& request, httplib::Response& response) {
    handlers->post(request, response);
  });
  // Every other method is refused, with what the dashboard does serve.
  server->Put(".*", Handlers::refuse_write);
  server->Delete(".*", Handlers::refuse_write);
  server->Patch(".*", Handlers::refuse_write);
  errno = 0;  // a failed address lookup leaves it as it was: a stale reason was told
  const int bound =
      port == 0 ? server->bind_to_any_port(host) : (server->bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    const int error = errno;
    return failed_precondition(fmt::format(
        "cannot listen on {} for the dashboard ({}); give --listen a free port on an address "
        "of this machine, e.g. 127.0.0.1:0 for any free one",
        host_port_text(host, port), bind_failure_reason(error)));
  }
  Result<std::unique_ptr<ServingThread>> serving =
      ServingThread::start(std::move(server), CPPHTTPLIB_THREAD_POOL_COUNT,
                           "the dashboard on " + host_port_text(host, bound));
  if (!serving.ok()) return serving.status();
  return std::unique_ptr<DashboardServer>(
      std::make_unique<DashboardServerImpl>(std::move(*serving), bound));
}

}  // namespace fastgpu::api
