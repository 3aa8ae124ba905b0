// `fastgpu metrics`: the daemon's Prometheus metrics (docs/metrics.md), as text for
// node_exporter's textfile collector or a scrape bridge, or as JSON.

#include <fmt/format.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "cli/daemon_client.h"
#include "core/whole_file.h"

namespace fastgpu::cli {
namespace {

struct MetricsOptions {
  DaemonFlags daemon;
  std::optional<std::string> output;  // -o: written whole, then renamed into place
};

int run_metrics(const MetricsOptions& options) {
  if (options.output && options.daemon.json) {
    return usage_error("metrics", "-o writes the Prometheus text; leave out --json");
  }
  if (options.output && options.output->empty()) {
    return usage_error("metrics",
                       "-o needs a file name, e.g. -o /var/lib/node_exporter/fastgpu.prom");
  }
  if (options.output) {
    // Asked before the daemon is (or is started only to fail here).
    const std::filesystem::path folder =
        std::filesystem::path(*options.output).parent_path().empty()
            ? std::filesystem::path(".")
            : std::filesystem::path(*options.output).parent_path();
    std::error_code error;
    if (!std::filesystem::is_directory(folder, error)) {
      return fail("metrics", failed_precondition(fmt::format(
                                 "-o {}: the folder {} does not exist; give -o a file in a "
                                 "folder you may write to",
                                 *options.output, folder.string())));
    }
  }
  if (options.daemon.json) {
    Result<api::Json> reply = get_from_daemon(options.daemon, "metrics", "/v1/metrics?format=json");
    if (!reply.ok()) return fail("metrics", reply.status());
    print_json(*reply);
    return kExitOk;
  }
  Result<std::string> text = get_text_from_daemon(options.daemon, "metrics", "/v1/metrics");
  if (!text.ok()) return fail("metrics", text.status());
  if (!options.output) {
    print_text(*text);
    return kExitOk;
  }
  const Status written = write_whole_file(*options.output, *text);
  if (written.ok()) return kExitOk;
  return fail("metrics", failed_precondition(written.message() +
                                             "; give -o a file in a folder you may write to"));
}

}  // namespace

void add_metrics_command(CLI::App& app, CommandOutcome& outcome) {
  auto options = std::make_shared<MetricsOptions>();
  CLI::App* command = app.add_subcommand(
      "metrics", "Print the GPUs' and your running jobs' metrics in Prometheus's text format");
  add_daemon_flags(*command, options->daemon);
  command->add_option("-o,--output", options->output,
                      "Write them to FILE instead, whole or not at all (for node_exporter's "
                      "textfile collector)");
  command->callback([options, &outcome] { outcome.exit_code = run_metrics(*options); });
}

}  // namespace fastgpu::cli
