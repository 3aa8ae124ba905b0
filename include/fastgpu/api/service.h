// The daemon's API (docs/api.md) as a plain function of a request: routing, JSON in and
// out, and the rule that a user sees and cancels only their own jobs (root, uid 0, all).
//
// It knows nothing of sockets: the HTTP server (api/server.h) turns each HTTP request into
// an ApiRequest carrying the caller's uid, read from the socket with SO_PEERCRED, so the
// uid cannot be forged by a client. Tests call handle() directly with any uid.
//
// Thread-safety: handle() may be called from several threads at once. Engine calls are
// made under the engine mutex given in ApiServiceOptions (the daemon's loop thread takes
// the same mutex around tick()); store reads go to the store directly, which is
// thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fastgpu/api/daemon.h"
#include "fastgpu/api/job_json.h"
#include "fastgpu/engine/engine.h"
#include "fastgpu/store/state_store.h"

namespace fastgpu::api {

struct ApiRequest {
  std::string method;  // "GET", "POST"
  std::string path;    // "/v1/jobs/12/cancel", without the query
  std::map<std::string, std::string> query;
  std::string body;
  std::uint32_t uid = 0;  // the caller, from SO_PEERCRED
  std::int32_t pid = 0;   // the caller's process, from SO_PEERCRED; 0: unknown
};

struct ApiResponse {
  ApiResponse() = default;
  ApiResponse(int code, Json json) : status(code), body(std::move(json)) {}

  int status = 200;  // 200, 201, 400, 403, 404, 409, 500
  Json body;         // the answer, unless `text` holds it
  // The answer already serialized (compact JSON), for one too large to build as a Json
  // tree first (a job listing); then `body` is null.
  std::string text;
  std::string content_type = "application/json";

  // The body as sent: `text`, else `body` serialized (invalid UTF-8 replaced).
  std::string serialized() &&;
};

// What GET /v1/daemon reports about the daemon itself.
struct DaemonInfo {
  std::int64_t pid = 0;
  std::string version;
  std::filesystem::path socket;
  std::filesystem::path state_dir;
  std::string gpus_source;          // "nvml" or "simulated"
  std::string gpus_note;            // e.g. "no NVIDIA driver: simulated GPUs (4xH100-80G)"
  std::string devices;              // the simulated GPUs' spec ("4xH100-80G"); empty: real GPUs
  std::size_t cpu_slots = 0;        // CPU-only jobs at once; 0: no limit
  double sample_interval_s = 1.0;   // GPU samples and accounting at most this often
  std::string metrics_listen;       // HOST:PORT serving the metrics over TCP; empty: none
  double sample_retention_s = 0.0;  // GPU samples kept this long; 0: for ever
  double job_retention_s = 0.0;     // ended jobs kept this long; 0: for ever
  bool shared = false;              // the socket admits every local user
  Json scheduler;                   // every setting (sched::settings_json): policy, strategy, ...
  std::string settings_file;        // the file they were read from; empty: the defaults
  std::chrono::steady_clock::time_point started;
};

struct ApiServiceOptions {
  // Not owned; must outlive the service.
  engine::Engine* engine = nullptr;
  store::StateStore* store = nullptr;
  std::mutex* engine_mutex = nullptr;  // guards *engine
  engine::Clock* clock = nullptr;      // submit times
  // Called after a submit or cancel, so the loop ticks at once (may be empty).
  std::function<void()> wake_loop;
  // The login name of a uid (may be empty: names are then the uid's decimal).
  std::function<std::string(std::uint32_t)> user_name;
  DaemonInfo info;
  // POST /v1/daemon/reload reads the settings again with this (empty: refused) and hands
  // them to the engine; only root and `owner_uid` (the daemon's own user) may ask.
  SettingsReader reread_settings;
  std::uint32_t owner_uid = 0;
  // A line for the daemon's log (may be empty): each reload of the settings, its outcome
  // and who asked, so an admin can tell when the settings changed.
  std::function<void(const std::string&)> log;
  // Put at the front of every submitted job's PATH (the daemon's own binary folder), so
  // jobs find fastgpu-burn-cpu and the other programs shipped with fastgpu.
  std::vector<std::filesystem::path> job_path_prefix;
  std::size_t max_log_chunk_bytes = 1 << 20;  // per GET /v1/jobs/{id}/log
  // Jobs a listing reads from the store at a time (under the store's lock, which the
  // engine's ticks take too).
  std::size_t listing_page_jobs = 5000;
};

class ApiService {
 public:
  explicit ApiService(ApiServiceOptions options);

  // Never throws; any failure is a JSON error response {"error": "...", "code": "..."}.
  ApiResponse handle(const ApiRequest& request);
  // GET /v1/metrics for a scrape over TCP (MetricsServer): the GPUs and the job counts, no
  // job's series (the peer has no uid). Never throws.
  ApiResponse scrape_metrics();
  // The daemon's latest warning (a tick that failed, an end it could not record on a full
  // disk): GET /v1/daemon shows it for kProblemShownFor, so that `daemon status` says what
  // only daemon.log said while jobs looked stuck.
  void note_problem(const std::string& message);
  static constexpr std::chrono::seconds kProblemShownFor{300};
  // Reads the settings again (POST /v1/daemon/reload, or SIGHUP) and logs the outcome,
  // naming who asked ("SIGHUP", "`fastgpu daemon reload` of uid 1000").
  ApiResponse reload_settings(const std::string& asked_by);

 private:
  ApiResponse route(const ApiRequest& request);
  ApiResponse submit(const ApiRequest& request);
  ApiResponse list(const ApiRequest& request);
  ApiResponse show(const ApiRequest& request, JobId job);
  ApiResponse cancel(const ApiRequest& request, JobId job);
  // POST /v1/jobs/ID/hold, /release and /update (`what`): a change to a queued job.
  ApiResponse change(const ApiRequest& request, JobId job, std::string_view what);
  // POST /v1/jobs/purge: forgets the caller's jobs that ended before ended_before_us, and
  // deletes their logs.
  ApiResponse purge(const ApiRequest& request);
  ApiResponse log(const ApiRequest& request, JobId job);
  // GET /v1/usage: the caller's ended jobs (every user's with all=true, root only) summed up
  // by name or user (by=), as `fastgpu report` prints them (engine/usage_report.h).
  ApiResponse usage(const ApiRequest& request);
  ApiResponse daemon_info();
  ApiResponse reload(const ApiRequest& request);
  ApiResponse gpus(const ApiRequest& request);
  // GET /v1/gpus/samples: what the daemon sampled of each GPU over the last `seconds` (600;
  // at most 3600), or only after `after_us`.
  ApiResponse gpu_samples(const ApiRequest& request);
  ApiResponse metrics(const ApiRequest& request);
  // The metrics with the running jobs of `jobs_of` (nullopt: no job's; kRootUid: all).
  ApiResponse metrics_for(std::optional<std::uint32_t> jobs_of, bool json);
  // Why a queued job waits, as {"reason", "detail"} (the reason alone without
  // with_detail); null for a job not queued. REQUIRES: the engine mutex is held.
  Json waiting_json(const store::JobRecord& job, bool with_detail);
  // The job, if the caller may see it; else the error response to send.
  Result<store::JobRecord> owned_job(const ApiRequest& request, JobId job);
  // Whether the caller may open a job's log_path: root and the daemon's own user.
  bool may_open_logs(const ApiRequest& request) const;

  ApiServiceOptions options_;
  std::mutex info_mutex_;  // guards options_.info, which reload() changes
  std::string problem_;    // the latest warning, and when (guarded by info_mutex_)
  std::chrono::steady_clock::time_point problem_at_;
};

// The HTTP status for an error Status: invalid argument 400, not found 404, failed
// precondition 409, unavailable 503, anything else 500.
int http_status_for(const Status& status);
// {"error": message, "code": "invalid argument"}.
Json error_json(const Status& status);

}  // namespace fastgpu::api
