// The scenario driver. Jobs run for their `duration` (or until their time limit); the
// driver applies every decision at once (a preempted job leaves its GPUs immediately) and
// calls schedule() again until the round is quiet.
#include "fastgpu/sched/scenario.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "core/yaml_text.h"
#include "fastgpu/sched/scheduler.h"

namespace fastgpu::sched {

namespace {

struct ScenarioJob {
  Job job;
  double duration_s = 60;  // true run time
  bool fails = false;
};

struct Event {
  double at_s = 0;
  std::string kind;  // unhealthy, healthy, utilization, uses
  int gpu = -1;
  std::uint64_t job = 0;
  double value = 0;
  Bytes bytes = 0;
};

struct Scenario {
  SchedulerConfig config;
  std::vector<GpuState> gpus;
  std::vector<ScenarioJob> jobs;
  std::vector<Event> events;
  std::map<std::string, SignatureHistory> history;
  double end_s = 7 * 86400;
};

// yaml-cpp throws on conversion errors; this is the boundary where they become Status.
Result<Bytes> bytes_of(const YAML::Node& node) { return parse_bytes(node.as<std::string>()); }

Result<double> seconds_of(const YAML::Node& node) {
  auto parsed = parse_duration(node.as<std::string>());
  if (!parsed.ok()) return parsed.status();
  return parsed->count();
}

Status parse_config(const YAML::Node& root, SchedulerConfig& config) {
  if (root["policy"]) config.policy = root["policy"].as<std::string>();
  if (root["strategy"]) config.strategy = root["strategy"].as<std::string>();
  if (root["backfill"]) config.backfill = root["backfill"].as<bool>();
  const YAML::Node c = root["config"];
  if (!c) return {};
  if (c["aging_per_hour"]) config.aging_per_hour = c["aging_per_hour"].as<double>();
  if (c["sjf_oracle"]) config.sjf_oracle = c["sjf_oracle"].as<bool>();
  if (c["las_thresholds_gpu_s"])
    config.las_thresholds_gpu_s = c["las_thresholds_gpu_s"].as<std::vector<double>>();
  if (c["fair_half_life_s"]) config.fair_half_life_s = c["fair_half_life_s"].as<double>();
  if (c["min_run_before_preempt_s"])
    config.min_run_before_preempt_s = c["min_run_before_preempt_s"].as<double>();
  if (c["balance"]) config.balance = c["balance"].as<bool>();
  if (c["balance_min_gain"]) config.balance_min_gain = c["balance_min_gain"].as<double>();
  if (c["min_run_before_move_s"])
    config.min_run_before_move_s = c["min_run_before_move_s"].as<double>();
  if (c["memory_action"]) {
    const std::string action = c["memory_action"].as<std::string>();
    if (action == "warn")
      config.memory_action = MemoryActionKind::kWarn;
    else if (action == "requeue")
      config.memory_action = MemoryActionKind::kRequeue;
    else if (action == "kill")
      config.memory_action = MemoryActionKind::kKill;
    else
      return invalid_argument("memory_action '" + action + "': use warn, requeue or kill");
  }
  return {};
}

Status parse_gpus(const YAML::Node& list, std::vector<GpuState>& gpus) {
  for (const YAML::Node& entry : list) {
    const int count = entry["count"] ? entry["count"].as<int>() : 1;
    auto memory = bytes_of(entry["memory"]);
    if (!memory.ok()) return memory.status().with_context("gpus.memory");
    for (int i = 0; i < count; ++i) {
      GpuState gpu;
      gpu.index = static_cast<int>(gpus.size());
      gpu.node = entry["node"] ? entry["node"].as<std::string>() : "node0";
      gpu.total_bytes = *memory;
      if (entry["reserved"]) gpu.reserved_bytes = bytes_of(entry["reserved"]).value_or(0);
      if (entry["foreign"]) gpu.foreign_bytes = bytes_of(entry["foreign"]).value_or(0);
      if (entry["r"]) gpu.util_cap = entry["r"].as<double>();
      if (entry["healthy"]) gpu.healthy = entry["healthy"].as<bool>();
      if (entry["nvlink"]) gpu.nvlink_group = entry["nvlink"][i].as<int>();
      if (entry["pcie"]) gpu.pcie_switch = entry["pcie"][i].as<int>();
      if (entry["utilization"]) gpu.utilization = entry["utilization"].as<double>();
      if (entry["temperature"]) gpu.temperature_c = entry["temperature"][i].as<double>();
      gpus.push_back(gpu);
    }
  }
  return {};
}

std::vector<Dependency> parse_dependencies(const YAML::Node& node, DependencyKind kind) {
  std::vector<Dependency> dependencies;
  for (const YAML::Node& id : node) dependencies.push_back({JobId{id.as<std::uint64_t>()}, kind});
  return dependencies;
}

Result<ScenarioJob> parse_job(const YAML::Node& entry) {
  ScenarioJob parsed;
  Job& job = parsed.job;
  job.id = JobId{entry["id"].as<std::uint64_t>()};
  job.user = entry["user"] ? entry["user"].as<std::string>() : "alice";
  job.signature =
      entry["signature"] ? entry["signature"].as<std::string>() : "job" + to_string(job.id);
  if (entry["gpus"]) job.gpus = entry["gpus"].as<int>();
  if (entry["mem"] && entry["mem"].as<std::string>() != "auto") {
    auto mem = bytes_of(entry["mem"]);
    if (!mem.ok()) return mem.status().with_context("job " + to_string(job.id) + " mem");
    job.gpu_mem = *mem;
  }
  if (entry["share"]) job.util_share = entry["share"].as<double>();
  if (entry["priority"]) job.priority = entry["priority"].as<int>();
  if (entry["submit"]) job.submit_time_s = seconds_of(entry["submit"]).value_or(0);
  if (entry["time"]) job.time_limit_s = seconds_of(entry["time"]).value_or(0);
  if (entry["deadline"]) job.deadline_s = seconds_of(entry["deadline"]).value_or(0);
  if (entry["restartable"]) job.restartable = entry["restartable"].as<bool>();
  if (entry["duration"]) parsed.duration_s = seconds_of(entry["duration"]).value_or(60);
  if (entry["fails"]) parsed.fails = entry["fails"].as<bool>();
  for (auto [key, kind] : {std::pair{"after_ok", DependencyKind::kAfterOk},
                           std::pair{"after_any", DependencyKind::kAfterAny}}) {
    for (const Dependency& d : parse_dependencies(entry[key], kind)) job.dependencies.push_back(d);
  }
  job.oracle_duration_s = parsed.duration_s;
  return parsed;
}

Result<Event> parse_event(const YAML::Node& entry) {
  Event event;
  event.at_s = seconds_of(entry["at"]).value_or(0);
  for (const char* kind : {"unhealthy", "healthy"}) {
    if (entry[kind]) event.kind = kind, event.gpu = entry[kind].as<int>();
  }
  if (entry["utilization"]) {
    event.kind = "utilization";
    event.gpu = entry["utilization"]["gpu"].as<int>();
    event.value = entry["utilization"]["value"].as<double>();
  }
  if (entry["uses"]) {
    event.kind = "uses";
    event.job = entry["uses"]["job"].as<std::uint64_t>();
    auto bytes = bytes_of(entry["uses"]["bytes"]);
    if (!bytes.ok()) return bytes.status().with_context("events.uses.bytes");
    event.bytes = *bytes;
  }
  if (event.kind.empty())
    return invalid_argument("event without a kind; use unhealthy, healthy, utilization or uses");
  return event;
}

Status parse_history(const YAML::Node& node, std::map<std::string, SignatureHistory>& history) {
  for (const auto& item : node) {
    SignatureHistory& entry = history[item.first.as<std::string>()];
    for (const YAML::Node& peak : item.second["peaks"]) {
      auto bytes = bytes_of(peak);
      if (!bytes.ok()) return bytes.status().with_context("history.peaks");
      entry.peak_bytes.push_back(*bytes);
    }
    for (const YAML::Node& run : item.second["runs"])
      entry.run_seconds.push_back(seconds_of(run).value_or(0));
  }
  return {};
}

Result<Scenario> parse(const YAML::Node& root) {
  Scenario scenario;
  FASTGPU_RETURN_IF_ERROR(parse_config(root, scenario.config));
  FASTGPU_RETURN_IF_ERROR(parse_gpus(root["gpus"], scenario.gpus));
  for (const YAML::Node& entry : root["jobs"]) {
    auto job = parse_job(entry);
    if (!job.ok()) return job.status();
    scenario.jobs.push_back(*job);
  }
  for (const YAML::Node& entry : root["events"]) {
    auto event = parse_event(entry);
    if (!event.ok()) return event.status();
    scenario.events.push_back(*event);
  }
  FASTGPU_RETURN_IF_ERROR(parse_history(root["history"], scenario.history));
  if (root["end"]) scenario.end_s = seconds_of(root["end"]).value_or(scenario.end_s);
  return scenario;
}

std::string clock(double t) {
  std::ostringstream out;
  out << "t=" << t;
  return out.str();
}

class Driver {
 public:
  explicit Driver(const Scenario& scenario) : scenario_(scenario) {
    snapshot_.gpus = scenario.gpus;
    snapshot_.history = scenario.history;
    for (const ScenarioJob& job : scenario.jobs) by_id_[job.job.id] = &job;
  }

  Result<std::string> run() {
    double now = 0;
    for (int steps = 0; steps < 10000 && now <= scenario_.end_s; ++steps) {
      snapshot_.now_s = now;
      arrive(now);
      apply_events(now);
      finish(now);
      FASTGPU_RETURN_IF_ERROR(schedule_round(now));
      const double next = next_time(now);
      if (!std::isfinite(next)) break;
      now = next;
    }
    for (const Job& job : snapshot_.queue) trace_ << "never started: job " << job.id << "\n";
    return trace_.str();
  }

 private:
  void arrive(double now) {
    for (const ScenarioJob& job : scenario_.jobs) {
      if (job.job.submit_time_s <= now && arrived_.insert(job.job.id.value()).second) {
        snapshot_.queue.push_back(job.job);
      }
    }
  }

  void apply_events(double now) {
    for (std::size_t i = 0; i < scenario_.events.size(); ++i) {
      const Event& event = scenario_.events[i];
      if (event.at_s > now || !applied_.insert(i).second) continue;
      if (event.kind == "unhealthy" || event.kind == "healthy") {
        snapshot_.gpus[event.gpu].healthy = event.kind == "healthy";
        trace_ << clock(now) << " gpu " << event.gpu << " " << event.kind << "\n";
      } else if (event.kind == "utilization") {
        snapshot_.gpus[event.gpu].utilization = event.value;
      } else {
        for (RunningJob& running : snapshot_.running) {
          if (running.job.id == JobId{event.job}) running.used_bytes = event.bytes;
        }
      }
    }
    refresh_measured_memory();
  }

  // A GPU with a measured job reports its memory as what its jobs use (or declare).
  void refresh_measured_memory() {
    for (GpuState& gpu : snapshot_.gpus) {
      Bytes used = gpu.reserved_bytes + gpu.foreign_bytes;
      bool measured = false;
      for (const RunningJob& running : snapshot_.running) {
        if (std::find(running.gpus.begin(), running.gpus.end(), gpu.index) == running.gpus.end())
          continue;
        measured = measured || running.used_bytes.has_value();
        used += running.used_bytes.value_or(running.declared_bytes);
      }
      gpu.used_bytes = measured ? std::optional<Bytes>(used) : std::nullopt;
    }
  }

  double end_of(const RunningJob& running) const {
    const ScenarioJob& job = *by_id_.at(running.job.id);
    double run = job.duration_s - running.job.attained_run_s;
    if (running.job.time_limit_s) run = std::min(run, *running.job.time_limit_s);
    return running.start_time_s + std::max(0.0, run);
  }

  void finish(double now) {
    std::vector<RunningJob> still;
    for (RunningJob& running : snapshot_.running) {
      if (end_of(running) > now) {
        still.push_back(std::move(running));
        continue;
      }
      const ScenarioJob& job = *by_id_.at(running.job.id);
      const double ran = now - running.start_time_s;
      const bool timed_out = job.duration_s - running.job.attained_run_s > ran + 1e-9;
      const bool ok = !job.fails && !timed_out;
      trace_ << clock(now) << " end job " << running.job.id
             << (ok          ? " ok"
                 : timed_out ? " timeout"
                             : " failed")
             << "\n";
      snapshot_.finished.push_back({running.job.id, ok ? EndState::kSucceeded : EndState::kFailed,
                                    running.job.user,
                                    ran * static_cast<double>(running.gpus.size()), now});
    }
    snapshot_.running = std::move(still);
  }

  Status schedule_round(double now) {
    for (int round = 0; round < 5; ++round) {
      auto result = schedule(snapshot_, scenario_.config);
      if (!result.ok()) {
        trace_ << clock(now) << " error: " << result.status().message() << "\n";
        return {};
      }
      for (const Decision& decision : result->decisions)
        trace_ << clock(now) << " " << to_string(decision) << "\n";
      bool changed = false;
      for (const Decision& decision : result->decisions) changed = apply(decision, now) || changed;
      refresh_measured_memory();  // a killed or requeued job no longer uses memory
      if (!changed) return {};
    }
    return {};
  }

  bool apply(const Decision& decision, double now) {
    if (const auto* start = std::get_if<Start>(&decision)) {
      auto it = std::find_if(snapshot_.queue.begin(), snapshot_.queue.end(),
                             [&](const Job& job) { return job.id == start->job; });
      snapshot_.running.push_back({*it, start->gpus, start->bytes_per_gpu, now, std::nullopt});
      snapshot_.queue.erase(it);
      return false;  // starting changes nothing the same round could still use
    }
    if (const auto* preempt = std::get_if<Preempt>(&decision)) return requeue(preempt->job, now);
    if (const auto* move = std::get_if<Move>(&decision)) {
      RunningJob* running = find_running(move->job);
      running->job.attained_run_s += now - running->start_time_s;
      running->start_time_s = now;
      running->gpus = move->to;
      return true;
    }
    const auto& action = std::get<MemoryAction>(decision);
    if (action.action == MemoryActionKind::kRequeue) return requeue(action.job, now);
    if (action.action == MemoryActionKind::kKill) {
      std::erase_if(snapshot_.running, [&](const RunningJob& r) { return r.job.id == action.job; });
      snapshot_.finished.push_back({action.job, EndState::kFailed, "", 0, now});
      return true;
    }
    return false;
  }

  RunningJob* find_running(JobId id) {
    for (RunningJob& running : snapshot_.running) {
      if (running.job.id == id) return &running;
    }
    return nullptr;
  }

  bool requeue(JobId id, double now) {
    RunningJob* running = find_running(id);
    if (running == nullptr) return false;
    Job job = running->job;
    job.attained_run_s += now - running->start_time_s;
    std::erase_if(snapshot_.running, [&](const RunningJob& r) { return r.job.id == id; });
    snapshot_.queue.push_back(job);
    return true;
  }

  double next_time(double now) const {
    double next = std::numeric_limits<double>::infinity();
    for (const ScenarioJob& job : scenario_.jobs) {
      if (job.job.submit_time_s > now) next = std::min(next, job.job.submit_time_s);
    }
    for (const Event& event : scenario_.events) {
      if (event.at_s > now) next = std::min(next, event.at_s);
    }
    for (const RunningJob& running : snapshot_.running) next = std::min(next, end_of(running));
    // Waiting jobs age and preemptive keys move with time: look again at most hourly.
    if (!snapshot_.queue.empty() && !snapshot_.running.empty()) next = std::min(next, now + 3600);
    return next;
  }

  const Scenario& scenario_;
  Snapshot snapshot_;
  std::map<JobId, const ScenarioJob*> by_id_;
  std::set<std::uint64_t> arrived_;
  std::set<std::size_t> applied_;
  std::ostringstream trace_;
};

}  // namespace

Result<std::string> run_scenario(const std::string& yaml_text) {
  try {
    const YamlText text = load_yaml_text(yaml_text);
    if (text.second_document) {
      return invalid_argument(
          fmt::format("scenario: line {}: a second YAML document begins here; a scenario is one "
                      "document: remove the '---'",
                      text.second_document->line + 1));
    }
    auto scenario = parse(text.root);
    if (!scenario.ok()) return scenario.status();
    return Driver(*scenario).run();
  } catch (const YAML::Exception& error) {
    return invalid_argument(std::string("scenario: ") + error.what());
  }
}

}  // namespace fastgpu::sched
