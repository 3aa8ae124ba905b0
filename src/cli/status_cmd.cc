// `fastgpu status`: what every GPU is doing now, as a table or JSON, once or refreshed.

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "api/login_name.h"
#include "cli/commands.h"
#include "cli/daemon_client.h"
#include "cli/display_width.h"
#include "cli/status_render.h"
#include "fastgpu/api/client.h"
#include "fastgpu/api/paths.h"
#include "fastgpu/core/units.h"
#include "fastgpu/gpu/nvml_probe.h"
#include "fastgpu/gpu/simulated_probe.h"

namespace fastgpu::cli {
namespace {

struct StatusOptions {
  std::string devices;  // --devices: a simulated-GPU spec; empty: devices_or_environment()
  bool json = false;
  std::string watch;  // the refresh interval, when --watch was given
  CLI::Option* watch_option = nullptr;
};

// Set by SIGINT/SIGTERM so --watch ends its loop and the probe closes NVML cleanly.
volatile std::sig_atomic_t g_stop_requested = 0;

void request_stop(int /*signal*/) { g_stop_requested = 1; }

void print_error(const std::string& message) {
  std::fprintf(stderr, "fastgpu status: %s\n", message.c_str());
}

std::string time_text(std::time_t now, bool utc) {
  std::tm parts{};
  if (utc) {
    gmtime_r(&now, &parts);
  } else {
    localtime_r(&now, &parts);
  }
  char text[32] = {};
  std::strftime(text, sizeof(text), utc ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%d %H:%M:%S", &parts);
  return text;
}

// The daemon's ledger of these GPUs (GET /v1/gpus), when a daemon answers on this user's
// socket; none is started, as reading the GPUs needs none. Empty when none answers or it
// uses other GPUs (simulated where these are real, another spec): a GPU's ledger is taken
// only where the daemon's GPU of that index has the same UUID.
// How long status waits for the daemon's ledger: a daemon that listens but is wedged
// (stopped with SIGSTOP, its disk hung) must not hold a look at the GPUs for the client's
// usual 30 s.
constexpr std::chrono::seconds kLedgerTimeout{3};

// The daemon's ledger of each GPU of `reading` into `context`, when a daemon answers on
// the socket (none is started); a daemon that listens but gives no answer in time is said
// in `context.ledger_note`.
void add_daemon_ledgers(const GpuReading& reading, StatusContext& context) {
  const Result<api::DaemonPaths> paths = api::daemon_paths_from_environment();
  if (!paths.ok()) return;
  const api::ApiClient client(paths->socket, kLedgerTimeout);
  const Result<api::Json> gpus = client.get("/v1/gpus");
  if (!gpus.ok() && client.last_timed_out()) {
    context.ledger_note = fmt::format(
        "the daemon on {} gave no answer within {} s, so what its jobs hold of each GPU is left "
        "out; `fastgpu daemon status` says whether it runs",
        paths->socket.string(), kLedgerTimeout.count());
  }
  if (!gpus.ok() || gpus->value("source", "") != reading.source) return;
  for (const api::Json& device : gpus->value("devices", api::Json::array())) {
    const api::Json& ledger = device.value("ledger", api::Json());
    if (ledger.is_null() || !device.contains("index")) continue;
    const auto index = device["index"].get<std::uint32_t>();
    const auto local = std::find_if(reading.devices.begin(), reading.devices.end(),
                                    [index](const GpuDevice& gpu) { return gpu.index == index; });
    if (local == reading.devices.end() || !local->uuid ||
        device.value("uuid", api::Json()) != api::Json(*local->uuid)) {
      continue;
    }
    Result<LedgerView> view = ledger_from_json(ledger);
    if (view.ok()) context.ledgers.emplace(index, std::move(*view));
  }
}

StatusContext make_context(const GpuReading& reading) {
  const std::time_t now = std::time(nullptr);
  StatusContext context{host_name(), time_text(now, false), time_text(now, true), {}};
  // Simulated GPUs list made-up pids; looking them up would name unrelated local processes.
  if (reading.source != "simulated") context.lookup = lookup_local_process;
  add_daemon_ledgers(reading, context);
  context.user = api::user_name(::getuid());
  return context;
}

bool locale_is_utf8() {
  for (const char* name : {"LC_ALL", "LC_CTYPE", "LANG"}) {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') continue;
    std::string lower(value);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return lower.find("utf-8") != std::string::npos || lower.find("utf8") != std::string::npos;
  }
  return false;
}

TableStyle terminal_style() {
  const bool tty = isatty(STDOUT_FILENO) != 0;
  const char* no_color = std::getenv("NO_COLOR");
  // https://no-color.org: any non-empty NO_COLOR turns colors off.
  const bool color_allowed = no_color == nullptr || *no_color == '\0';
  return {.color = tty && color_allowed,
          .unicode = tty && locale_is_utf8(),
          .columns = terminal_columns(STDOUT_FILENO)};
}

Result<std::unique_ptr<GpuProbe>> open_probe(const std::string& devices) {
  if (devices.empty()) return open_nvml_probe();
  Result<std::unique_ptr<SimulatedProbe>> simulated = make_simulated_probe(devices);
  if (!simulated.ok()) return simulated.status();
  return std::unique_ptr<GpuProbe>(std::move(simulated).value());
}

// Why the GPUs could not be opened, and the exit code: a bad --devices spec is bad usage
// (2); a bad FASTGPU_DEVICES, as for the daemon, and a missing driver are failures (1).
int open_failure(const StatusOptions& options, const std::string& devices, const Status& status) {
  if (!options.devices.empty()) {
    print_error("--devices: " + status.message());
    return kExitUsage;
  }
  print_error(devices.empty() ? status.message()
                              : "FASTGPU_DEVICES '" + devices + "': " + status.message());
  return kExitFailure;
}

// Renders one reading; `watching` selects one compact JSON line per reading (JSON Lines).
std::string render(const GpuReading& reading, const StatusOptions& options, bool watching) {
  const StatusContext context = make_context(reading);
  if (options.json) return status_to_json(reading, context).dump(watching ? -1 : 2) + "\n";
  return render_status_table(reading, context, terminal_style());
}

void write_out(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

// Sleeps in short slices so Ctrl-C ends --watch promptly.
void sleep_unless_stopped(Seconds interval) {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(interval);
  while (!g_stop_requested && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

int watch_loop(GpuProbe& probe, const StatusOptions& options, Seconds interval) {
  std::signal(SIGINT, request_stop);
  std::signal(SIGTERM, request_stop);
  const bool redraw_in_place = !options.json && isatty(STDOUT_FILENO) != 0;
  while (!g_stop_requested) {
    const Result<GpuReading> reading = probe.read();
    if (!reading.ok()) {
      print_error(reading.status().message());
      return kExitFailure;
    }
    std::string frame = render(*reading, options, true);
    // Cursor home and clear screen, so the table refreshes in place as in `watch`.
    if (redraw_in_place) frame.insert(0, "\x1b[H\x1b[2J");
    if (!options.json && !redraw_in_place) frame += "\n";
    write_out(frame);
    sleep_unless_stopped(interval);
  }
  return kExitOk;
}

Result<Seconds> watch_interval(const StatusOptions& options) {
  const Result<Seconds> interval = parse_duration(options.watch);
  if (!interval.ok()) return invalid_argument("--watch: " + interval.status().message());
  if (interval->count() <= 0) {
    return invalid_argument(fmt::format(
        "--watch '{}': the refresh interval must be above 0 seconds, e.g. --watch 2 or --watch 0.5",
        options.watch));
  }
  return *interval;
}

int run_status(const StatusOptions& options) {
  const bool watching = options.watch_option->count() > 0;
  Seconds interval{0};
  if (watching) {
    const Result<Seconds> parsed = watch_interval(options);
    if (!parsed.ok()) {
      print_error(parsed.status().message());
      return kExitUsage;
    }
    interval = *parsed;
  }
  const std::string devices = devices_or_environment(options.devices);
  Result<std::unique_ptr<GpuProbe>> probe = open_probe(devices);
  if (!probe.ok()) return open_failure(options, devices, probe.status());
  if (watching) return watch_loop(**probe, options, interval);
  const Result<GpuReading> reading = (*probe)->read();
  if (!reading.ok()) {
    print_error(reading.status().message());
    return kExitFailure;
  }
  write_out(render(*reading, options, false));
  return kExitOk;
}

}  // namespace

void add_status_command(CLI::App& app, CommandOutcome& outcome) {
  auto options = std::make_shared<StatusOptions>();
  CLI::App* command = app.add_subcommand(
      "status",
      "Show every GPU: memory, utilization, power, temperature, processes, health, and what your "
      "daemon's jobs hold of it and leave free");
  command
      ->add_option("--devices", options->devices,
                   "Use simulated GPUs instead of the driver, e.g. 4xH100-80G or "
                   "2xA100-40G,2xT4-16G (default: $FASTGPU_DEVICES, else the real GPUs)")
      ->check(a_devices_spec());
  command->add_flag("--json", options->json,
                    "Print JSON (schema: docs/status-json.md); with --watch, one line per reading");
  options->watch_option =
      command
          ->add_option("--watch", options->watch,
                       "Refresh every SECONDS (default 2; also 0.5 or 1m) until Ctrl-C")
          ->expected(0, 1)
          ->default_str("2")
          ->type_name("SECONDS");
  command->callback([options, &outcome] { outcome.exit_code = run_status(*options); });
}

}  // namespace fastgpu::cli
