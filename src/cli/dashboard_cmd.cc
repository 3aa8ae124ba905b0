// `fastgpu dashboard`: the web dashboard (docs/dashboard.md), served to this user's browser
// until Ctrl-C.

#include <fmt/format.h>
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "cli/daemon_client.h"
#include "cli/host_port.h"
#include "fastgpu/api/dashboard.h"

namespace fastgpu::cli {
namespace {

constexpr const char* kDefaultListen = "127.0.0.1:8265";

struct DashboardOptions {
  DaemonFlags daemon;
  std::string listen = kDefaultListen;
  bool all_users = false;
};

// The address a browser on this machine opens for `host`.
std::string browser_host(const std::string& host) {
  if (host == "0.0.0.0") return "127.0.0.1";
  if (host == "::") return "[::1]";
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

int run_dashboard(const DashboardOptions& options) {
  const std::optional<HostPort> listen = parse_host_port(options.listen, 0);
  if (!listen) {
    return usage_error("dashboard", fmt::format("--listen '{}' is not HOST:PORT with a port from 0 "
                                                "to 65535; give e.g. {} (this machine only), or "
                                                "127.0.0.1:0 for any free port",
                                                options.listen, kDefaultListen));
  }
  if (const Status root_only = check_all_users(options.all_users); !root_only.ok()) {
    return fail("dashboard", root_only);
  }
  Result<api::DaemonPaths> paths = api::daemon_paths_from_environment();
  if (!paths.ok()) return fail("dashboard", paths.status());
  api::DaemonCall daemon = [socket = paths->socket](
                               const std::string& method, const std::string& target,
                               const std::string& body) -> Result<api::ForwardedReply> {
    // Passed on as the daemon wrote it: not parsed only to be written again.
    Result<api::ApiClient::TextReply> reply =
        api::ApiClient(socket).exchange_text(method, target, body);
    if (!reply.ok()) return reply.status();
    return api::ForwardedReply{reply->status, std::move(reply->body)};
  };

  // SIGINT and SIGTERM are taken by sigwait below: blocked before the server's threads
  // start, so that they inherit the mask and none of them is interrupted instead.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  const std::string token = api::new_dashboard_token();
  Result<std::unique_ptr<api::DashboardServer>> server = api::DashboardServer::start(
      listen->host, listen->port, token, std::move(daemon), {.all_users = options.all_users});
  if (!server.ok()) return fail("dashboard", server.status());
  // The port first, then the daemon (found, or started as by every verb): a port in use
  // starts no daemon. A daemon that goes away later shows on the page, which keeps asking.
  Result<api::ApiClient> client = connect_daemon(options.daemon, "dashboard");
  if (!client.ok()) return fail("dashboard", client.status());
  std::printf(
      "fastgpu dashboard: open http://%s:%d/?token=%s\n"
      "  It shows your GPUs and jobs to whoever has this address: keep it to yourself. Ctrl-C "
      "stops it.\n",
      browser_host(listen->host).c_str(), (*server)->port(), token.c_str());
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  (*server)->stop();
  std::fprintf(stderr, "fastgpu dashboard: stopped (%s)\n", strsignal(signal_number));
  return kExitOk;
}

}  // namespace

void add_dashboard_command(CLI::App& app, CommandOutcome& outcome) {
  auto options = std::make_shared<DashboardOptions>();
  CLI::App* command = app.add_subcommand(
      "dashboard", "Serve a live web page of the GPUs and your jobs, until Ctrl-C");
  add_daemon_flags(*command, options->daemon, /*with_json=*/false);
  command->add_option(
      "--listen", options->listen,
      fmt::format("Serve on HOST:PORT (default {}; port 0: any free port)", kDefaultListen));
  command->add_flag("--all-users", options->all_users,
                    "Every user's jobs, each named with its user (root only)");
  command->callback([options, &outcome] { outcome.exit_code = run_dashboard(*options); });
}

}  // namespace fastgpu::cli
