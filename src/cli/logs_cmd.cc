// `fastgpu logs ID [-f]`: a job's output (stdout and stderr), followed as it grows with -f.

#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <thread>

#include "cli/daemon_client.h"

namespace fastgpu::cli {
namespace {

constexpr auto kFollowInterval = std::chrono::milliseconds(300);

struct LogsOptions {
  DaemonFlags daemon;
  std::string id;
  bool follow = false;
};

int run_logs(const LogsOptions& options) {
  Result<std::vector<std::uint64_t>> ids = parse_job_ids({options.id});
  if (!ids.ok()) return usage_error("logs", ids.status().message());
  Result<api::ApiClient> client = connect_daemon(options.daemon, "logs");
  if (!client.ok()) return fail("logs", client.status());
  std::uint64_t offset = 0;
  while (true) {
    Result<api::Json> chunk =
        client->get(fmt::format("/v1/jobs/{}/log?offset={}", ids->front(), offset));
    if (!chunk.ok()) return fail("logs", chunk.status());
    print_text((*chunk)["data"].get<std::string>());
    const std::uint64_t next = (*chunk)["next_offset"].get<std::uint64_t>();
    const bool more_now = next > offset;
    offset = next;
    if ((*chunk)["done"].get<bool>()) return kExitOk;
    if (more_now) continue;  // a long log comes in chunks: read on without waiting
    if (!options.follow) {
      // An empty answer for a job that has not run yet is not an empty log: say so.
      if (offset == 0 && (*chunk)["state"] == "QUEUED") {
        std::fprintf(stderr,
                     "fastgpu logs: job %s has not started yet (QUEUED; `fastgpu show %s` says "
                     "why); `fastgpu logs -f %s` follows it from its start\n",
                     options.id.c_str(), options.id.c_str(), options.id.c_str());
      }
      return kExitOk;
    }
    std::this_thread::sleep_for(kFollowInterval);
  }
}

}  // namespace

void add_logs_command(CLI::App& app, CommandOutcome& outcome) {
  auto options = std::make_shared<LogsOptions>();
  CLI::App* command = app.add_subcommand("logs", "Print a job's output (stdout and stderr)");
  command->add_option("ID", options->id, "The job id")->required();
  command->add_flag("-f,--follow", options->follow,
                    "Keep printing as the job writes, until it ends");
  add_daemon_flags(*command, options->daemon, /*with_json=*/false);
  command->callback([options, &outcome] { outcome.exit_code = run_logs(*options); });
}

}  // namespace fastgpu::cli
