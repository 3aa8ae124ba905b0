// `fastgpu daemon run|start|stop|status`: the daemon's life, in the foreground or detached.

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cli/daemon_client.h"
#include "cli/host_port.h"
#include "core/huge_pages.h"
#include "fastgpu/api/daemon.h"
#include "fastgpu/core/text.h"
#include "fastgpu/core/units.h"
#include "fastgpu/gpu/simulated_probe.h"
#include "fastgpu/sched/policy.h"
#include "fastgpu/sched/scheduler.h"
#include "fastgpu/sched/settings.h"

namespace fastgpu::cli {
namespace {

struct DaemonOptions {
  DaemonFlags flags;
  bool shared = false;
  int tick_ms = 500;
  int stop_timeout_s = 30;
  std::optional<std::int64_t> cpu_slots;  // --cpu-slots; else FASTGPU_CPU_SLOTS; else CPUs
  std::string sample_interval;   // --sample-interval; else FASTGPU_SAMPLE_INTERVAL; else 1s
  std::string metrics_listen;    // --metrics-listen; else FASTGPU_METRICS_LISTEN; else none
  std::string sample_retention;  // --sample-retention; else FASTGPU_SAMPLE_RETENTION; else 7d
  std::string job_retention;     // --job-retention; else FASTGPU_JOB_RETENTION; else for ever
  std::string policy;            // --policy; else FASTGPU_POLICY; else fifo
  std::string strategy;          // --strategy; else FASTGPU_STRATEGY; else pack
  std::string config;  // --config; else FASTGPU_CONFIG; else the default file, if there is one
};

// A name given by the flag, else by the environment variable (so a daemon started on first
// use gets it too), else by neither (empty).
struct Named {
  std::string value;
  bool from_flag = false;
  const char* source = nullptr;  // the flag or the variable, for messages
};
Named flag_or_environment(const std::string& flag_value, const char* flag, const char* variable) {
  if (!flag_value.empty()) return {flag_value, true, flag};
  const char* value = std::getenv(variable);
  return {value == nullptr ? "" : value, false, variable};
}

// $XDG_CONFIG_HOME/fastgpu/config.yaml, else ~/.config/fastgpu/config.yaml; empty without
// either variable. (The XDG rule: a relative XDG_CONFIG_HOME is ignored.)
std::filesystem::path default_settings_file() {
  const char* config_home = std::getenv("XDG_CONFIG_HOME");
  if (config_home != nullptr && config_home[0] == '/') {
    return std::filesystem::path(config_home) / "fastgpu" / "config.yaml";
  }
  const char* home = std::getenv("HOME");
  if (home == nullptr || home[0] == '\0') return {};
  return std::filesystem::path(home) / ".config" / "fastgpu" / "config.yaml";
}

using Settings = api::SchedulerSettings;

// The settings file (--config, else FASTGPU_CONFIG, else the default file when it exists;
// one named by the flag or the variable must exist), then the policy and placement strategy
// over it: --policy/--strategy, else FASTGPU_POLICY/FASTGPU_STRATEGY. A bad name is refused
// with the names there are and where the bad one came from: invalid_argument for a flag, a
// usage error (exit 2); failed_precondition for a variable or the file (exit 1, as a bad
// FASTGPU_CPU_SLOTS). A file's errors start with where it was named (`--config` or
// FASTGPU_CONFIG), except on a reload (`reloading`): the daemon got its file through
// FASTGPU_CONFIG even when its user gave `daemon start --config`, so only the file is named.
Result<Settings> scheduler_option(const DaemonOptions& options, bool reloading = false) {
  Settings settings;
  const Named file = flag_or_environment(options.config, "--config", "FASTGPU_CONFIG");
  if (!file.value.empty()) {
    std::error_code ignored;
    settings.file = std::filesystem::absolute(file.value, ignored);  // the daemon runs in /
  } else if (std::filesystem::path fallback = default_settings_file(); !fallback.empty()) {
    std::error_code ignored;
    if (std::filesystem::exists(fallback, ignored)) settings.file = fallback;
  }
  std::vector<std::string> file_keys;  // the keys the file sets
  if (!settings.file.empty()) {
    Result<sched::SchedulerConfig> read = sched::read_settings(settings.file, {}, &file_keys);
    if (!read.ok()) {
      const bool name_source = !file.value.empty() && !reloading;
      return failed_precondition((name_source ? std::string(file.source) + " " : "") +
                                 read.status().message());
    }
    settings.config = *read;
  }
  sched::SchedulerConfig& config = settings.config;
  // Sets `field` to the name, if one was given, and checks the config with it. A different
  // name in the file is said, so that a reload does not read as if the file's took effect.
  const auto take = [&config, &settings, &file_keys](const std::string& key, const Named& named,
                                                     std::string& field) -> Status {
    if (named.value.empty()) return Status::ok_status();
    if (field != named.value &&
        std::find(file_keys.begin(), file_keys.end(), key) != file_keys.end()) {
      settings.overridden.push_back(fmt::format(
          "{}: {} in the file is not used: the daemon was started with --{} {} (or {}), "
          "which stays until the daemon starts again",
          key, field, key, named.value, key == "policy" ? "FASTGPU_POLICY" : "FASTGPU_STRATEGY"));
    }
    field = named.value;
    const Status checked = sched::validate_config(config);
    if (checked.ok()) return checked;
    const std::string message = std::string(named.source) + ": " + checked.message();
    return named.from_flag ? invalid_argument(message) : failed_precondition(message);
  };
  if (Status taken =
          take("policy", flag_or_environment(options.policy, "--policy", "FASTGPU_POLICY"),
               config.policy);
      !taken.ok()) {
    return taken;
  }
  if (Status taken =
          take("strategy", flag_or_environment(options.strategy, "--strategy", "FASTGPU_STRATEGY"),
               config.strategy);
      !taken.ok()) {
    return taken;
  }
  return settings;
}

// A retention as `daemon status` and its refusals say it: "7d00h", or "for ever" for 0.
std::string kept_for(double seconds) {
  return seconds > 0 ? format_duration(Seconds(seconds)) : std::string("for ever");
}

// What this start asked for that the running daemon (its /v1/daemon answer) does not do:
// "policy fair, not priority", "memory-action kill, not requeue"; empty when nothing. Only
// what `options` asks counts: --policy, --strategy, and every setting of --config's file.
std::vector<std::string> settings_not_as_asked(const DaemonOptions& options, const Settings& asked,
                                               std::optional<double> sample_interval_s,
                                               std::optional<double> sample_retention_s,
                                               std::optional<double> job_retention_s,
                                               const api::Json& info) {
  const api::Json running = info.value("scheduler", api::Json::object());
  std::vector<std::string> differences;
  for (const sched::SettingChange& change :
       sched::setting_changes(running, sched::settings_json(asked.config))) {
    const bool flagged = (change.key == "policy" && !options.policy.empty()) ||
                         (change.key == "strategy" && !options.strategy.empty()) ||
                         !options.config.empty();
    if (flagged)
      differences.push_back(fmt::format("{} {}, not {}", change.key, change.to, change.from));
  }
  const api::Json& devices = info.contains("devices") ? info["devices"] : api::Json();
  if (!options.flags.devices.empty() && devices != options.flags.devices) {
    differences.push_back(fmt::format(
        "devices {}, not {}", options.flags.devices,
        devices.is_string() ? devices.get<std::string>() : std::string("the real GPUs")));
  }
  const api::Json& slots = info.contains("cpu_slots") ? info["cpu_slots"] : api::Json();
  if (options.cpu_slots && slots.is_number_integer() && slots != *options.cpu_slots) {
    differences.push_back(fmt::format("cpu_slots {}, not {}", *options.cpu_slots, slots.dump()));
  }
  const api::Json& interval =
      info.contains("sample_interval_s") ? info["sample_interval_s"] : api::Json();
  if (!options.sample_interval.empty() && sample_interval_s && interval.is_number() &&
      interval.get<double>() != *sample_interval_s) {
    differences.push_back(fmt::format("sample interval {}, not {}",
                                      format_duration(Seconds(*sample_interval_s)),
                                      format_duration(Seconds(interval.get<double>()))));
  }
  // A retention this start's flag asked for that the daemon does not keep.
  const auto retention = [&](const std::string& flag, std::optional<double> wanted, const char* key,
                             const char* what) {
    const api::Json& kept = info.contains(key) ? info[key] : api::Json();
    if (flag.empty() || !wanted || !kept.is_number() || kept.get<double>() == *wanted) return;
    differences.push_back(
        fmt::format("{} kept {}, not {}", what, kept_for(*wanted), kept_for(kept.get<double>())));
  };
  retention(options.sample_retention, sample_retention_s, "sample_retention_s", "samples");
  retention(options.job_retention, job_retention_s, "job_retention_s", "ended jobs");
  const api::Json& listen = info.contains("metrics_listen") ? info["metrics_listen"] : api::Json();
  // As the daemon writes it back: an IPv6 host in brackets, however it was typed.
  const std::optional<HostPort> typed = parse_host_port(options.metrics_listen, 1);
  const std::string wanted_listen =
      typed ? host_port_text(typed->host, typed->port) : options.metrics_listen;
  if (!options.metrics_listen.empty() && listen != wanted_listen) {
    differences.push_back(
        fmt::format("metrics on {}, not {}", options.metrics_listen,
                    listen.is_string() ? listen.get<std::string>() : std::string("no TCP port")));
  }
  if (options.shared && !info.value("shared", true)) {
    differences.push_back("shared, not private to its user");
  }
  return differences;
}

bool environment_sets(const char* variable) {
  const char* value = std::getenv(variable);
  return value != nullptr && value[0] != '\0';
}

// The options the environment's variables ask for where no flag does, and nothing else:
// `daemon start` on a running daemon compares them as it compares the flags (an exported
// FASTGPU_METRICS_LISTEN read as served when it was not).
DaemonOptions asked_by_environment(const DaemonOptions& options,
                                   std::optional<std::size_t> cpu_slots) {
  DaemonOptions asked;
  const auto take = [](const std::string& flag, const char* variable, std::string& field) {
    const char* value = std::getenv(variable);
    if (flag.empty() && value != nullptr) field = value;
  };
  take(options.flags.devices, "FASTGPU_DEVICES", asked.flags.devices);
  take(options.policy, "FASTGPU_POLICY", asked.policy);
  take(options.strategy, "FASTGPU_STRATEGY", asked.strategy);
  take(options.config, "FASTGPU_CONFIG", asked.config);
  take(options.sample_interval, "FASTGPU_SAMPLE_INTERVAL", asked.sample_interval);
  take(options.metrics_listen, "FASTGPU_METRICS_LISTEN", asked.metrics_listen);
  take(options.sample_retention, "FASTGPU_SAMPLE_RETENTION", asked.sample_retention);
  take(options.job_retention, "FASTGPU_JOB_RETENTION", asked.job_retention);
  if (!options.cpu_slots && environment_sets("FASTGPU_CPU_SLOTS") && cpu_slots) {
    asked.cpu_slots = static_cast<std::int64_t>(*cpu_slots);
  }
  return asked;
}

int refuse_scheduler(const std::string& verb, const Status& status) {
  if (status.code() == ErrorCode::kInvalidArgument) return usage_error(verb, status.message());
  return fail(verb, status);
}

// How many CPU-only jobs run at once: the flag, else FASTGPU_CPU_SLOTS (so a daemon started
// on first use gets it too), else one per CPU.
Result<std::size_t> cpu_slots_option(const DaemonOptions& options) {
  std::optional<std::int64_t> slots = options.cpu_slots;
  std::string source = "--cpu-slots";
  if (!slots) {
    const char* value = std::getenv("FASTGPU_CPU_SLOTS");
    if (value == nullptr || *value == '\0') {
      return static_cast<std::size_t>(std::max(1u, std::thread::hardware_concurrency()));
    }
    source = "FASTGPU_CPU_SLOTS";
    std::int64_t parsed = 0;
    const char* end = value + std::strlen(value);
    auto [after, error] = std::from_chars(value, end, parsed);
    if (error != std::errc{} || after != end) {
      return invalid_argument(fmt::format(
          "FASTGPU_CPU_SLOTS='{}' is not a whole number; set it to the number of CPU-only jobs "
          "to run at once (0: no limit)",
          value));
    }
    slots = parsed;
  }
  if (*slots < 0 || *slots > 100000) {
    return invalid_argument(
        fmt::format("{} {} is out of range; give 0 (no limit) to 100000 CPU-only jobs at once",
                    source, *slots));
  }
  return static_cast<std::size_t>(*slots);
}

// A duration given by a flag or its variable, in seconds; nullopt when neither says.
// `in_range` tells the durations taken; `range` says which, for the message (after "out of
// range: "). A bad flag is a usage error, a bad variable a failure (as FASTGPU_DEVICES).
Result<std::optional<double>> duration_option(const Named& given, bool (*in_range)(double),
                                              std::string_view range) {
  if (given.value.empty()) return std::optional<double>();
  Result<Seconds> parsed = parse_duration(given.value);
  std::string message;
  if (!parsed.ok()) {
    message = fmt::format("{}: {}", given.source, parsed.status().message());
  } else if (!in_range(parsed->count())) {
    message = fmt::format("{} '{}' is out of range: {}", given.source, given.value, range);
  } else {
    return std::optional<double>(parsed->count());
  }
  return given.from_flag ? invalid_argument(message) : failed_precondition(message);
}

// How often the GPUs are sampled for the jobs' accounting, in seconds: the flag, else
// FASTGPU_SAMPLE_INTERVAL (so a daemon started on first use gets it too), else 1 s.
Result<std::optional<double>> sample_interval_option(const DaemonOptions& options) {
  return duration_option(
      flag_or_environment(options.sample_interval, "--sample-interval", "FASTGPU_SAMPLE_INTERVAL"),
      [](double seconds) { return seconds >= 0.1 && seconds <= 3600.0; },
      "the GPUs are read for the jobs' accounting from every 0.1s to every 1h; give e.g. 1s "
      "(the default) or 5s");
}

// A retention the daemon takes: 0 (for ever), or 1h to ten years (of 366 days).
bool retention_in_range(double seconds) {
  constexpr double kLongest = 3660.0 * 86400;
  return seconds == 0.0 || (seconds >= 3600.0 && seconds <= kLongest);
}

// How long GPU samples are kept, in seconds (0: for ever): the flag, else
// FASTGPU_SAMPLE_RETENTION, else 7 days.
Result<std::optional<double>> sample_retention_option(const DaemonOptions& options) {
  return duration_option(
      flag_or_environment(options.sample_retention, "--sample-retention",
                          "FASTGPU_SAMPLE_RETENTION"),
      retention_in_range,
      "GPU samples are kept from 1h to 10 years, or for ever (0); give e.g. 7d (the default) "
      "or 30d");
}

// How long ended jobs are kept, in seconds (0: for ever): the flag, else
// FASTGPU_JOB_RETENTION, else for ever.
Result<std::optional<double>> job_retention_option(const DaemonOptions& options) {
  return duration_option(
      flag_or_environment(options.job_retention, "--job-retention", "FASTGPU_JOB_RETENTION"),
      retention_in_range,
      "ended jobs are kept from 1h to 10 years, or for ever (0, the default); give e.g. 90d");
}

// Where the metrics are served over TCP: HOST:PORT from the flag, else FASTGPU_METRICS_LISTEN;
// nullopt when neither says. A bad flag is a usage error, a bad variable a failure.
Result<std::optional<HostPort>> metrics_listen_option(const DaemonOptions& options) {
  const Named given =
      flag_or_environment(options.metrics_listen, "--metrics-listen", "FASTGPU_METRICS_LISTEN");
  if (given.value.empty()) return std::optional<HostPort>();
  if (std::optional<HostPort> address = parse_host_port(given.value, 1)) return address;
  const std::string message = fmt::format(
      "{} '{}' is not HOST:PORT with a port from 1 to 65535; give e.g. 127.0.0.1:9401 (this "
      "machine only) or 0.0.0.0:9401 (every address)",
      given.source, given.value);
  return given.from_flag ? invalid_argument(message) : failed_precondition(message);
}

// FASTGPU_CHECK_SCHEDULE=1: the engine checks its kept scheduler against the pure one at
// every tick (EngineOptions::check_schedule), for tests.
Result<bool> check_schedule_option() {
  const char* value = std::getenv("FASTGPU_CHECK_SCHEDULE");
  const std::string text = value == nullptr ? "" : value;
  if (text.empty() || text == "0") return false;
  if (text == "1") return true;
  return invalid_argument(
      fmt::format("FASTGPU_CHECK_SCHEDULE='{}' is not 0 or 1; set it to 1 to check every tick's "
                  "decisions against the pure scheduler, or unset it",
                  text));
}

std::string devices_option(const DaemonOptions& options) {
  return devices_or_environment(options.flags.devices);
}

// What this start asks for by flag or variable: kept while the daemon runs
// (DaemonConfig::start_choices) for a restart after a crash. `cpu_slots` as
// cpu_slots_option() read them.
api::Json start_choices(const DaemonOptions& options, const Settings& scheduler,
                        std::size_t cpu_slots, std::optional<double> sample_interval_s) {
  const Named policy = flag_or_environment(options.policy, "--policy", "FASTGPU_POLICY");
  const Named strategy = flag_or_environment(options.strategy, "--strategy", "FASTGPU_STRATEGY");
  const Named file = flag_or_environment(options.config, "--config", "FASTGPU_CONFIG");
  api::Json choices = api::Json::object();
  if (const std::string devices = devices_option(options); !devices.empty()) {
    choices["devices"] = devices;
  }
  if (!policy.value.empty()) choices["policy"] = policy.value;
  if (!strategy.value.empty()) choices["strategy"] = strategy.value;
  if (!file.value.empty()) choices["config"] = scheduler.file.string();
  if (options.cpu_slots || environment_sets("FASTGPU_CPU_SLOTS")) choices["cpu_slots"] = cpu_slots;
  if (sample_interval_s) choices["sample_interval"] = fmt::format("{}", *sample_interval_s);
  if (const Named metrics =
          flag_or_environment(options.metrics_listen, "--metrics-listen", "FASTGPU_METRICS_LISTEN");
      !metrics.value.empty()) {
    choices["metrics_listen"] = metrics.value;
  }
  if (const Named retention = flag_or_environment(options.sample_retention, "--sample-retention",
                                                  "FASTGPU_SAMPLE_RETENTION");
      !retention.value.empty()) {
    choices["sample_retention"] = retention.value;
  }
  if (const Named retention =
          flag_or_environment(options.job_retention, "--job-retention", "FASTGPU_JOB_RETENTION");
      !retention.value.empty()) {
    choices["job_retention"] = retention.value;
  }
  if (options.shared) choices["shared"] = true;
  return choices;
}

// The daemon before this one crashed (or was killed) if it left its start choices: each
// choice not given again now (by flag or variable) is taken from there, so that a restart
// on first use brings back the same GPUs, policy and settings. Said on stderr (the log).
DaemonOptions with_crashed_daemons_choices(DaemonOptions options) {
  Result<api::DaemonPaths> paths = api::daemon_paths_from_environment();
  if (!paths.ok()) return options;
  const std::filesystem::path file = api::start_choices_file(*paths);
  std::ifstream in(file);
  if (!in) return options;
  const api::Json saved = api::Json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!saved.is_object()) return options;
  std::vector<std::string> taken;
  const auto take = [&](const char* key, std::string& field, const char* variable) {
    const auto value = saved.find(key);
    if (value == saved.end() || !value->is_string() || !field.empty() ||
        environment_sets(variable)) {
      return;
    }
    field = value->get<std::string>();
    taken.push_back(fmt::format("{} {}", key, field));
  };
  take("devices", options.flags.devices, "FASTGPU_DEVICES");
  take("policy", options.policy, "FASTGPU_POLICY");
  take("strategy", options.strategy, "FASTGPU_STRATEGY");
  take("config", options.config, "FASTGPU_CONFIG");
  take("sample_interval", options.sample_interval, "FASTGPU_SAMPLE_INTERVAL");
  take("metrics_listen", options.metrics_listen, "FASTGPU_METRICS_LISTEN");
  take("sample_retention", options.sample_retention, "FASTGPU_SAMPLE_RETENTION");
  take("job_retention", options.job_retention, "FASTGPU_JOB_RETENTION");
  if (const auto slots = saved.find("cpu_slots");
      slots != saved.end() && slots->is_number_integer() && !options.cpu_slots &&
      !environment_sets("FASTGPU_CPU_SLOTS")) {
    options.cpu_slots = slots->get<std::int64_t>();
    taken.push_back(fmt::format("cpu_slots {}", *options.cpu_slots));
  }
  if (saved.value("shared", false) && !options.shared) {
    options.shared = true;
    taken.push_back("shared");
  }
  if (!taken.empty()) {
    std::fprintf(stderr,
                 "the daemon before this one did not stop cleanly (it left %s); this one starts "
                 "as it did: %s\n",
                 file.c_str(), fmt::format("{}", fmt::join(taken, ", ")).c_str());
  }
  return options;
}

// A shared socket lets every user submit, and only root can run each job as its owner: a
// user's shared daemon ran everyone's jobs as that user (bob's command ran as alice).
Status check_shared_allowed(const DaemonOptions& options) {
  const uid_t uid = ::geteuid();
  if (!options.shared || uid == 0) return Status::ok_status();
  return failed_precondition(fmt::format(
      "--shared: only a daemon run by root serves other users, running each job as its owner; "
      "yours (uid {}) would run their jobs as you. Leave out --shared (a daemon for your own "
      "jobs), or start it as root",
      uid));
}

int run_foreground(const DaemonOptions& asked) {
  prefer_huge_pages();  // the queue, the mirrors and the kept scheduler (core/huge_pages.h)
  const DaemonOptions options = with_crashed_daemons_choices(asked);
  if (Status shared = check_shared_allowed(options); !shared.ok()) {
    return fail("daemon run", shared);
  }
  if (options.tick_ms < 10 || options.tick_ms > 60000) {
    return usage_error("daemon run", fmt::format("--tick-ms {} is out of range; use 10 to 60000",
                                                 options.tick_ms));
  }
  Result<std::size_t> cpu_slots = cpu_slots_option(options);
  if (!cpu_slots.ok()) return refuse_scheduler("daemon run", cpu_slots.status());
  Result<std::optional<double>> sample_interval = sample_interval_option(options);
  if (!sample_interval.ok()) return refuse_scheduler("daemon run", sample_interval.status());
  Result<std::optional<HostPort>> metrics = metrics_listen_option(options);
  if (!metrics.ok()) return refuse_scheduler("daemon run", metrics.status());
  Result<std::optional<double>> retention = sample_retention_option(options);
  if (!retention.ok()) return refuse_scheduler("daemon run", retention.status());
  Result<std::optional<double>> jobs_kept = job_retention_option(options);
  if (!jobs_kept.ok()) return refuse_scheduler("daemon run", jobs_kept.status());
  Result<bool> check_schedule = check_schedule_option();
  if (!check_schedule.ok()) return fail("daemon run", check_schedule.status());
  Result<Settings> scheduler = scheduler_option(options);
  if (!scheduler.ok()) return refuse_scheduler("daemon run", scheduler.status());
  Result<api::DaemonPaths> paths = api::daemon_paths_from_environment();
  if (!paths.ok()) return fail("daemon run", paths.status());
  Result<std::filesystem::path> executable = api::own_executable();
  if (!executable.ok()) return fail("daemon run", executable.status());
  api::DaemonConfig config;
  config.paths = *paths;
  config.devices = devices_option(options);
  config.shared = options.shared;
  config.tick_interval = std::chrono::milliseconds(options.tick_ms);
  config.cpu_slots = *cpu_slots;
  if (*sample_interval) config.sample_interval_s = **sample_interval;
  if (*retention) config.sample_retention_s = **retention;
  if (*jobs_kept) config.job_retention_s = **jobs_kept;
  if (*metrics) {
    config.metrics_host = (*metrics)->host;
    config.metrics_port = (*metrics)->port;
  }
  config.check_schedule = *check_schedule;
  config.scheduler = scheduler->config;
  config.settings_file = scheduler->file;
  // Read again on reload as now: the same file, flags and variables (the daemon's own).
  config.reread_settings = [options]() -> Result<api::SchedulerSettings> {
    return scheduler_option(options, /*reloading=*/true);
  };
  config.job_path_prefix = api::job_path_prefix(*executable);
  config.start_choices = start_choices(options, *scheduler, *cpu_slots, *sample_interval).dump();
  const Status status = api::run_daemon(config);
  if (!status.ok()) return fail("daemon run", status);
  return kExitOk;
}

// A bad simulated-GPU spec: a usage error for the flag, a failure for FASTGPU_DEVICES.
Status check_devices(const DaemonOptions& options) {
  const std::string devices = devices_option(options);
  if (devices.empty()) return Status::ok_status();
  Result<std::vector<SimulatedGpuSpec>> parsed = parse_device_spec(devices);
  if (parsed.ok()) return Status::ok_status();
  const bool flag = !options.flags.devices.empty();
  const std::string message = fmt::format("{} '{}': {}", flag ? "--devices" : "FASTGPU_DEVICES",
                                          devices, parsed.status().message());
  return flag ? invalid_argument(message) : failed_precondition(message);
}

// Who started the daemon that `daemon start` found answering.
enum class StartedBy { kThisStart, kAnother, kSameMoment };

// What `daemon start` says once a daemon runs: a line, or with --json its pid, socket, state
// folder, log and whether this start started it (`started`).
int print_started(const DaemonOptions& options, const api::DaemonPaths& paths, pid_t pid,
                  StartedBy by) {
  if (by == StartedBy::kThisStart) {
    if (const std::string note = kept_limits_note(); !note.empty()) {
      std::fprintf(stderr, "fastgpu daemon start: %s\n", note.c_str());
    }
  }
  if (options.flags.json) {
    print_json({{"pid", pid},
                {"started", by == StartedBy::kThisStart},
                {"socket", paths.socket.string()},
                {"state_dir", paths.state_dir.string()},
                {"log", paths.log_file.string()}});
  } else if (by == StartedBy::kThisStart) {
    print_text(fmt::format("daemon started (pid {}) on {}; its log: {}\n", pid,
                           paths.socket.string(), paths.log_file.string()));
  } else {
    print_text(fmt::format(
        "a daemon already runs (pid {}) on {}{}\n", pid, paths.socket.string(),
        by == StartedBy::kSameMoment ? ": another command started it at the same moment" : ""));
  }
  return kExitOk;
}

int start_detached(const DaemonOptions& options) {
  // Refused here, not in the new daemon's log; and compared with a running daemon's.
  if (Status shared = check_shared_allowed(options); !shared.ok()) {
    return fail("daemon start", shared);
  }
  Result<Settings> scheduler = scheduler_option(options);
  if (!scheduler.ok()) return refuse_scheduler("daemon start", scheduler.status());
  if (Status devices = check_devices(options); !devices.ok()) {
    return refuse_scheduler("daemon start", devices);
  }
  Result<std::size_t> cpu_slots = cpu_slots_option(options);
  if (!cpu_slots.ok()) return refuse_scheduler("daemon start", cpu_slots.status());
  Result<std::optional<double>> sample_interval = sample_interval_option(options);
  if (!sample_interval.ok()) return refuse_scheduler("daemon start", sample_interval.status());
  Result<std::optional<HostPort>> metrics = metrics_listen_option(options);
  if (!metrics.ok()) return refuse_scheduler("daemon start", metrics.status());
  Result<std::optional<double>> retention = sample_retention_option(options);
  if (!retention.ok()) return refuse_scheduler("daemon start", retention.status());
  Result<std::optional<double>> jobs_kept = job_retention_option(options);
  if (!jobs_kept.ok()) return refuse_scheduler("daemon start", jobs_kept.status());
  Result<api::DaemonPaths> paths = api::daemon_paths_from_environment();
  if (!paths.ok()) return fail("daemon start", paths.status());
  Result<std::optional<pid_t>> running = api::running_daemon_pid(*paths);
  if (!running.ok()) return fail("daemon start", running.status());
  if (*running) {
    // Asked for settings it does not use, it is not what was asked for.
    Result<api::Json> info = api::ApiClient(paths->socket).get("/v1/daemon");
    if (info.ok()) {
      const std::vector<std::string> by_flags = settings_not_as_asked(
          options, *scheduler, *sample_interval, *retention, *jobs_kept, *info);
      std::vector<std::string> by_environment;
      for (std::string& difference :
           settings_not_as_asked(asked_by_environment(options, *cpu_slots), *scheduler,
                                 *sample_interval, *retention, *jobs_kept, *info)) {
        if (std::find(by_flags.begin(), by_flags.end(), difference) == by_flags.end()) {
          by_environment.push_back(std::move(difference));
        }
      }
      std::string differences = fmt::format("{}", fmt::join(by_flags, "; "));
      if (!by_environment.empty()) {
        differences +=
            fmt::format("{}{} (as FASTGPU_ variables of your environment ask)",
                        differences.empty() ? "" : "; ", fmt::join(by_environment, "; "));
      }
      if (!differences.empty()) {
        return fail(
            "daemon start",
            failed_precondition(fmt::format(
                "a daemon already runs (pid {}) with policy {} and placement {}, not as "
                "asked ({}); stop it first (`fastgpu daemon stop`; running jobs go on), "
                "then start it with the settings you want",
                **running, info->value("policy", "?"), info->value("strategy", "?"), differences)));
      }
    }
    return print_started(options, *paths, **running, StartedBy::kAnother);
  }
  Result<std::filesystem::path> executable = api::own_executable();
  if (!executable.ok()) return fail("daemon start", executable.status());
  api::StartOptions start;
  start.executable = *executable;
  start.devices = devices_option(options);
  // Only what the flags say: the file's policy and strategy are read from the file again
  // at a reload, and FASTGPU_POLICY/FASTGPU_STRATEGY reach the daemon with the environment.
  start.policy = options.policy;
  start.strategy = options.strategy;
  start.settings_file = scheduler->file;
  if (options.cpu_slots) start.cpu_slots = *cpu_slots;
  if (!options.sample_interval.empty()) start.sample_interval_s = *sample_interval;
  start.metrics_listen = options.metrics_listen;
  if (!options.sample_retention.empty()) start.sample_retention_s = *retention;
  if (!options.job_retention.empty()) start.job_retention_s = *jobs_kept;
  start.shared = options.shared;
  Result<api::StartedDaemon> started = api::start_daemon(*paths, start);
  if (!started.ok()) return fail("daemon start", started.status());
  return print_started(options, *paths, started->pid,
                       started->started_here ? StartedBy::kThisStart : StartedBy::kSameMoment);
}

// The daemon that answers on the socket while none holds the caller's state folder: one
// that keeps its state elsewhere, such as root's daemon serving every user (--shared).
// Its /v1/daemon answer; nullopt when nothing answers.
std::optional<api::Json> daemon_elsewhere(const api::DaemonPaths& paths) {
  const api::ApiClient client(paths.socket);
  if (!client.reachable()) return std::nullopt;
  Result<api::Json> info = client.get("/v1/daemon");
  if (!info.ok() || !info->is_object()) return std::nullopt;
  return *info;
}

int stop(const DaemonOptions& options) {
  // A timeout below 1 s sent SIGTERM, then said the daemon "did not stop within -1 s" and
  // to kill -9 it (exit 1), while it was stopping as asked.
  if (options.stop_timeout_s < 1 || options.stop_timeout_s > 86400) {
    return usage_error("daemon stop",
                       fmt::format("--timeout {} is out of range; give the seconds to wait for the "
                                   "daemon to exit, 1 to 86400 (default 30)",
                                   options.stop_timeout_s));
  }
  Result<api::DaemonPaths> paths = api::daemon_paths_from_environment();
  if (!paths.ok()) return fail("daemon stop", paths.status());
  Result<std::optional<pid_t>> stopped =
      api::stop_daemon(*paths, std::chrono::seconds(options.stop_timeout_s));
  if (!stopped.ok()) return fail("daemon stop", stopped.status());
  if (!*stopped) {
    // It said "no daemon runs" and exit 0 to a user of root's shared daemon, which went on.
    if (const std::optional<api::Json> other = daemon_elsewhere(*paths)) {
      const std::string its_state = other->value("state_dir", std::string("?"));
      // Another user's (root's shared daemon): the command below was no use to them, who
      // may not open its state folder.
      struct stat socket {};
      if (::stat(paths->socket.c_str(), &socket) == 0 && socket.st_uid != ::geteuid() &&
          ::geteuid() != 0) {
        return fail("daemon stop",
                    failed_precondition(fmt::format(
                        "the daemon on {} (pid {}) is uid {}'s{}: only its owner or root may "
                        "stop it",
                        paths->socket.string(), other->value("pid", 0), socket.st_uid,
                        other->value("shared", false) ? ", shared with every user" : "")));
      }
      return fail("daemon stop",
                  failed_precondition(fmt::format(
                      "the daemon on {} (pid {}) keeps its state in {}, not in {}: only its "
                      "owner or root stops it, with FASTGPU_STATE_DIR={} fastgpu daemon stop",
                      paths->socket.string(), other->value("pid", 0), its_state,
                      paths->state_dir.string(), its_state)));
    }
  }
  if (options.flags.json) {
    print_json({{"stopped", stopped->has_value()},
                {"pid", *stopped ? api::Json(**stopped) : api::Json(nullptr)},
                {"state_dir", paths->state_dir.string()}});
  } else if (!*stopped) {
    print_text(fmt::format("no daemon runs on {}\n", paths->state_dir.string()));
  } else {
    print_text(
        fmt::format("daemon (pid {}) stopped; running jobs go on under their "
                    "supervisors\n",
                    **stopped));
  }
  return kExitOk;
}

// The scheduler's settings that change what happens to a job, in a few words each.
std::string settings_text(const api::Json& info) {
  const api::Json scheduler = info.value("scheduler", api::Json::object());
  if (scheduler.empty()) return "";
  const auto percent = [&scheduler](const char* key) {
    return fmt::format("{:g}%", 100.0 * scheduler.value(key, 0.0));
  };
  return fmt::format(
      "memory:    a job over its declared GPU memory: {} (tolerance {})\nbalancer:  {}\n"
      "settings:  {}\n",
      scheduler.value("memory_action", "?"),
      format_bytes(scheduler.value("memory_tolerance", Bytes{0})),
      scheduler.value("balance", false)
          ? fmt::format("on (moves restartable jobs from GPUs at {} utilization to GPUs at {})",
                        percent("overload_utilization"), percent("idle_utilization"))
          : "off",
      info["settings_file"].is_string() ? info["settings_file"].get<std::string>()
                                        : "the defaults (no settings file)");
}

// The daemon's latest warning of the last minutes, as a line: on a full disk, jobs that had
// ended looked RUNNING, and only daemon.log said why.
std::string problem_text(const api::Json& info) {
  const api::Json problem = info.value("problem", api::Json());
  if (!problem.is_object() || !problem.contains("message")) return "";
  return fmt::format("warning:   {} ({} ago; every warning is in {}/daemon.log)\n",
                     problem["message"].get<std::string>(),
                     format_duration(Seconds(problem.value("seconds_ago", 0.0))),
                     info.value("state_dir", std::string("the state folder")));
}

std::string status_text(const api::Json& info) {
  std::string counts;
  for (const auto& [state, count] : info["jobs"].items()) {
    if (count.get<int>() == 0) continue;
    counts += fmt::format("{}{} {}", counts.empty() ? "" : ", ", count.get<int>(), state);
  }
  const bool backfill = info.value("scheduler", api::Json::object()).value("backfill", true);
  const std::string kept = "kept " + kept_for(info.value("sample_retention_s", 0.0));
  const std::string ended_kept = kept_for(info.value("job_retention_s", 0.0));
  const std::string metrics =
      info.contains("metrics_listen") && info["metrics_listen"].is_string()
          ? "http://" + info["metrics_listen"].get<std::string>() + "/metrics"
          : std::string("`fastgpu metrics` (no --metrics-listen)");
  const std::string lines = fmt::format(
      "pid:       {}\n"
      "uptime:    {}\n"
      "socket:    {}\n"
      "state dir: {}\n"
      "GPUs:      {} ({})\n"
      "policy:    {} (placement: {}, backfill {})\n"
      "{}"
      "sampling:  every {}, {}\n"
      "metrics:   {}\n"
      "jobs:      {}\n"
      "history:   ended jobs kept {}\n",
      info["pid"].get<std::int64_t>(), format_duration(Seconds(info["uptime_s"].get<double>())),
      info["socket"].get<std::string>(), info["state_dir"].get<std::string>(),
      info["gpus_source"].get<std::string>(), info["gpus_note"].get<std::string>(),
      info.value("policy", "?"), info.value("strategy", "?"), backfill ? "on" : "off",
      settings_text(info), format_duration(Seconds(info.value("sample_interval_s", 1.0))), kept,
      metrics, counts.empty() ? "none" : counts, ended_kept);
  return lines + problem_text(info);
}

// `fastgpu daemon reload`: the running daemon reads its settings file again.
int reload(const DaemonOptions& options) {
  Result<api::DaemonPaths> paths = api::daemon_paths_from_environment();
  if (!paths.ok()) return fail("daemon reload", paths.status());
  Result<std::optional<pid_t>> running = api::running_daemon_pid(*paths);
  if (!running.ok()) return fail("daemon reload", running.status());
  if (!*running) {
    // A daemon keeping its state elsewhere is asked all the same: it says who may reload it.
    const std::optional<api::Json> other = daemon_elsewhere(*paths);
    if (!other) {
      return fail("daemon reload",
                  unavailable(fmt::format("no daemon runs on {}; the next command starts one, "
                                          "with the settings file as it is then",
                                          paths->state_dir.string())));
    }
    running = std::optional<pid_t>(other->value("pid", 0));
  }
  Result<api::Json> answer =
      api::ApiClient(paths->socket).post("/v1/daemon/reload", api::Json::object());
  if (!answer.ok()) return fail("daemon reload", answer.status());
  if (options.flags.json) {
    print_json(*answer);
    return kExitOk;
  }
  const api::Json& file = (*answer)["settings_file"];
  std::string text = fmt::format(
      "daemon (pid {}) read its settings again ({})", **running,
      file.is_string() ? "from " + file.get<std::string>() : "the defaults: no settings file");
  const api::Json& changed = (*answer)["changed"];
  if (changed.empty()) text += "; nothing changed\n";
  if (!changed.empty()) text += "; the queue is ordered and placed under them from now on:\n";
  for (const api::Json& change : changed) text += "  " + change.get<std::string>() + "\n";
  // A file's policy that --policy at start overrides: said, or the reload reads as if it
  // took effect.
  for (const api::Json& note : answer->value("overridden", api::Json::array())) {
    text += "  " + note.get<std::string>() + "\n";
  }
  print_text(text);
  return kExitOk;
}

int status(const DaemonOptions& options) {
  Result<api::DaemonPaths> paths = api::daemon_paths_from_environment();
  if (!paths.ok()) return fail("daemon status", paths.status());
  Result<api::Json> info = api::ApiClient(paths->socket).get("/v1/daemon");
  if (!info.ok()) {
    if (options.flags.json) print_json({{"running", false}, {"socket", paths->socket.string()}});
    // `daemon start` would fail on a state folder of another user's: said here instead.
    const Status closed = api::check_state_dir_open_to_caller(*paths);
    return fail("daemon status",
                unavailable(fmt::format(
                    "no daemon answers on {}; {}", paths->socket.string(),
                    closed.ok() ? "`fastgpu daemon start` starts one" : closed.message())));
  }
  (*info)["running"] = true;
  if (options.flags.json) {
    print_json(*info);
  } else {
    print_text(status_text(*info));
  }
  return kExitOk;
}

void add_scheduler_flags(CLI::App& command, DaemonOptions& options) {
  command.add_option(
      "--policy", options.policy,
      fmt::format("How the queue is ordered: {} (default: FASTGPU_POLICY, else fifo)",
                  fmt::join(sched::policy_names(), ", ")));
  command.add_option("--strategy", options.strategy,
                     "How jobs are placed on GPUs: pack or spread (default: FASTGPU_STRATEGY, "
                     "else pack)");
  command.add_option("--config", options.config,
                     "The scheduler's settings file, YAML (docs/cli.md; default: FASTGPU_CONFIG, "
                     "else ~/.config/fastgpu/config.yaml when it exists); --policy and "
                     "--strategy override it");
}

// `daemon run` and `daemon start` alike.
void add_run_and_start_flags(CLI::App& command, DaemonOptions& options) {
  command.add_flag("--shared", options.shared,
                   "Let every local user connect (socket mode 0666); for a root daemon that runs "
                   "each job as its owner");
  command.add_option("--cpu-slots", options.cpu_slots,
                     "CPU-only jobs (gpus 0) that run at once; 0: no limit (default: one per CPU, "
                     "or FASTGPU_CPU_SLOTS)");
  command.add_option(
      "--sample-interval", options.sample_interval,
      "How often the GPUs are read for the jobs' accounting (peak memory, "
      "utilization, energy), 0.1s to 1h (default: FASTGPU_SAMPLE_INTERVAL, else 1s)");
  command.add_option("--sample-retention", options.sample_retention,
                     "How long GPU samples are kept in the state database, 1h to 10 years, or 0 "
                     "for ever (default: FASTGPU_SAMPLE_RETENTION, else 7d)");
  command.add_option("--job-retention", options.job_retention,
                     "How long ended jobs are kept (records, events, logs), 1h to 10 years, or 0 "
                     "for ever; older ones are purged hourly (default: FASTGPU_JOB_RETENTION, "
                     "else for ever)");
  command.add_option("--metrics-listen", options.metrics_listen,
                     "Also serve the Prometheus metrics (GPUs and job counts) on HOST:PORT at "
                     "/metrics, e.g. 127.0.0.1:9401 (default: FASTGPU_METRICS_LISTEN, else "
                     "nowhere; docs/metrics.md)");
}

}  // namespace

void add_daemon_command(CLI::App& app, CommandOutcome& outcome) {
  auto options = std::make_shared<DaemonOptions>();
  CLI::App* daemon = app.add_subcommand("daemon", "Run, start, stop or inspect the FastGPU daemon");
  daemon->require_subcommand(1);

  CLI::App* run =
      daemon->add_subcommand("run", "Run the daemon in the foreground until SIGTERM/Ctrl-C");
  add_daemon_flags(*run, options->flags, /*with_json=*/false);
  add_run_and_start_flags(*run, *options);
  run->add_option("--tick-ms", options->tick_ms, "Milliseconds between engine ticks (default 500)");
  add_scheduler_flags(*run, *options);
  run->callback([options, &outcome] { outcome.exit_code = run_foreground(*options); });

  CLI::App* start = daemon->add_subcommand("start", "Start the daemon in the background");
  add_daemon_flags(*start, options->flags);
  add_run_and_start_flags(*start, *options);
  add_scheduler_flags(*start, *options);
  start->callback([options, &outcome] { outcome.exit_code = start_detached(*options); });

  CLI::App* stop_command = daemon->add_subcommand("stop", "Stop the daemon (jobs keep running)");
  stop_command->add_option("--timeout", options->stop_timeout_s, "Seconds to wait (default 30)");
  stop_command->add_flag("--json", options->flags.json,
                         "Print JSON: {\"stopped\", \"pid\", \"state_dir\"}");
  stop_command->callback([options, &outcome] { outcome.exit_code = stop(*options); });

  CLI::App* reload_command = daemon->add_subcommand(
      "reload",
      "Read the settings file again (the policy and the rest; running jobs stay where they are)");
  reload_command->add_flag("--json", options->flags.json, "Print JSON (docs/api.md)");
  reload_command->callback([options, &outcome] { outcome.exit_code = reload(*options); });

  CLI::App* status_command =
      daemon->add_subcommand("status", "Pid, uptime, socket, state folder, GPUs and job counts");
  status_command->add_flag("--json", options->flags.json, "Print JSON (docs/api.md)");
  status_command->callback([options, &outcome] { outcome.exit_code = status(*options); });
}

}  // namespace fastgpu::cli
