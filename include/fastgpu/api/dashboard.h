// The web dashboard (`fastgpu dashboard`, docs/dashboard.md): a page that shows the GPUs,
// your queued, running and recent jobs, and one job's figures and log, refreshed live.
//
// A browser cannot reach the daemon's unix socket, so the dashboard is a small HTTP server
// of its own on a TCP address, run by the user it shows (the daemon knows that user by the
// socket's SO_PEERCRED, as it knows every CLI verb's). Anyone on the machine can connect to
// a TCP port, so every request must carry a random token: the URL the command prints has
// it, and the first page load trades it for an HttpOnly, SameSite=Strict cookie. The
// server forwards the GET requests of the few API paths the page reads, and four writes:
// a job's cancel, hold and release (POST /v1/jobs/{id}/cancel, /hold, /release), and its
// run again (POST /v1/jobs/{id}/resubmit, which the dashboard answers itself: it reads the
// job and submits it again as `fastgpu resubmit ID` does). Each must also carry the page's
// own header (X-FastGPU-Dashboard) and come from the dashboard's own origin, so that another
// site's page cannot make a visitor's browser send them. Nothing submits a job of the page's
// own making, or changes the daemon.
//
// The page's files (src/api/dashboard/) are compiled into the program; the page fetches
// nothing from elsewhere, and its Content-Security-Policy forbids it to.
//
// Thread-safety: start() once; stop() from any thread. The daemon call is made from the
// server's threads, several at a time.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "fastgpu/core/result.h"

namespace fastgpu::api {

// The daemon's answer, passed on to the browser as it came.
struct ForwardedReply {
  int status = 0;
  std::string body;  // JSON
};
// Sends `method` ("GET", or "POST" for a write) of `target` (path and query) to the
// daemon, with `body` (empty but for a resubmit's POST /v1/jobs); an error when no daemon
// answered.
using DaemonCall = std::function<Result<ForwardedReply>(
    const std::string& method, const std::string& target, const std::string& body)>;

// One of the dashboard's own files, compiled in.
struct DashboardAsset {
  std::string_view path;          // "/", "/dashboard.js", ...
  std::string_view content_type;  // "text/html; charset=utf-8", ...
  std::string_view body;
};
std::optional<DashboardAsset> dashboard_asset(std::string_view path);

// True for the API paths the page reads (and the dashboard forwards): /v1/daemon, /v1/gpus,
// /v1/gpus/samples, /v1/jobs, /v1/jobs/{id} and /v1/jobs/{id}/log. The page also reads the
// dashboard's own /settings.json (DashboardSettings).
bool dashboard_forwards(std::string_view path);
// True for the paths the page writes to: POST /v1/jobs/{id}/cancel, /hold, /release and
// /resubmit.
bool dashboard_writes(std::string_view path);
// The header a write must carry (any value; the page sends "write"). A form of another
// site cannot set it, and its script could only with a CORS preflight, which the dashboard
// does not answer.
inline constexpr const char* kDashboardHeader = "X-FastGPU-Dashboard";

// 32 hex digits from the system's random source.
std::string new_dashboard_token();

// What the page shows, beyond the defaults.
struct DashboardSettings {
  // Every user's jobs (root's view of a shared daemon): job listings are asked with
  // all=true, and the page names each job's user. The caller checks that the user is root.
  bool all_users = false;
};

class DashboardServer {
 public:
  // Binds host:port (port 0: any free port; a port in use, or a host that is not this
  // machine's, is an error naming it and the fix) and starts serving on a thread.
  static Result<std::unique_ptr<DashboardServer>> start(const std::string& host, int port,
                                                        std::string token, DaemonCall daemon,
                                                        DashboardSettings settings = {});
  virtual ~DashboardServer() = default;

  // The port it listens on (the one chosen, for port 0).
  virtual int port() const = 0;
  // Stops accepting and waits for the serving thread.
  virtual void stop() = 0;
};

}  // namespace fastgpu::api
