// The batch report as a terminal table and as JSON (docs/batch-report.md).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine/report_table.h"
#include "fastgpu/core/text.h"
#include "fastgpu/core/units.h"
#include "fastgpu/engine/report.h"

namespace fastgpu::engine {
namespace {

using Json = nlohmann::ordered_json;

// A summary figure that is missing: "n/a", with the reason when one was given.
std::string missing_text(const std::string& reason) {
  return reason.empty() ? std::string(kMissing) : fmt::format("{} ({})", kMissing, reason);
}

Json reason_or_null(const std::string& reason) {
  return reason.empty() ? Json(nullptr) : Json(reason);
}

std::string duration_text(const std::optional<double>& seconds) {
  return seconds ? format_duration(Seconds(*seconds)) : kMissing;
}

std::string job_label(const JobReport& job) {
  std::string label = job.name.empty() ? "-" : job.name;
  if (job.array_index) label += fmt::format("[{}]", *job.array_index);
  return label;
}

// "GPU 3's energy counter unreadable", "GPUs 1 and 3: energy counters unreadable".
std::string unread_words(const std::vector<std::uint32_t>& gpus) {
  if (gpus.size() == 1) return fmt::format("GPU {}'s energy counter unreadable", gpus[0]);
  std::string names;
  for (std::size_t i = 0; i < gpus.size(); ++i) {
    names += i == 0 ? "" : i + 1 == gpus.size() ? " and " : ", ";
    names += std::to_string(gpus[i]);
  }
  return "GPUs " + names + ": energy counters unreadable";
}

// The table's cell: "350 J", "350 J*" (an estimate), ">=350 J" (a lower bound).
std::string energy_text(const JobReport& job) {
  const std::string star = job.energy_is_estimate ? "*" : "";
  if (job.energy_joules) return format_energy(*job.energy_joules) + star;
  if (job.energy_at_least_joules) return ">=" + format_energy(*job.energy_at_least_joules) + star;
  return kMissing;
}

// `fastgpu show`'s rule (docs/cli.md): "-" where a figure does not apply (the job never
// started; GPU memory, utilization and energy of a CPU-only job), "n/a" where it applies
// but was not measured.
std::vector<std::string> job_row(const JobReport& job, bool with_user) {
  // The name and user as a terminal can show them: another user's control characters in
  // root's `history --all-users` would drive root's terminal.
  std::vector<std::string> row = {to_string(job.id), printable(job_label(job))};
  if (with_user) row.push_back(printable(job.user));
  const bool gpu_figures = job.started && job.gpus > 0;
  const auto figure = [](bool applies, const std::optional<std::string>& text) -> std::string {
    if (!applies) return kNotApplicable;
    return text.value_or(kMissing);
  };
  const auto duration = [](const std::optional<double>& seconds) -> std::optional<std::string> {
    if (!seconds) return std::nullopt;
    return format_duration(Seconds(*seconds));
  };
  std::optional<std::string> peak, util, energy;
  if (job.peak_gpu_mem) peak = format_bytes(*job.peak_gpu_mem);
  if (job.mean_util_percent) util = fmt::format("{:.0f} %", *job.mean_util_percent);
  if (job.energy_joules || job.energy_at_least_joules) energy = energy_text(job);
  const std::vector<std::string> figures = {std::string(store::job_state_name(job.state)),
                                            figure(job.started, duration(job.wait_s)),
                                            figure(job.started, duration(job.run_s)),
                                            std::to_string(job.gpus),
                                            figure(job.started, duration(job.gpu_seconds)),
                                            figure(gpu_figures, peak),
                                            figure(gpu_figures, util),
                                            figure(gpu_figures, energy)};
  row.insert(row.end(), figures.begin(), figures.end());
  return row;
}

std::string states_text(const BatchSummary& summary) {
  std::string text;
  for (const auto& [state, count] : summary.state_counts) {
    if (count == 0) continue;
    text += fmt::format("{}{} {}", text.empty() ? "" : ", ", count, store::job_state_name(state));
  }
  return fmt::format("{}{}{}", summary.jobs, text.empty() ? "" : ": ", text);
}

// "(k of n jobs)" when a sum leaves some jobs out.
std::string coverage(std::size_t counted, std::size_t jobs) {
  return counted == jobs ? std::string() : fmt::format(" ({} of {} jobs)", counted, jobs);
}

// After the speedup, when jobs shared GPUs: the ratio is an upper bound, and why.
std::string upper_bound_note(const BatchSummary& s) {
  if (s.shared_gpu_jobs == 0) return {};
  return fmt::format(
      "; at most: {} of {} jobs shared a GPU as they ran, which lengthens run times, so one at "
      "a time they would take less than their run times added up",
      s.shared_gpu_jobs, s.jobs);
}

std::string summary_text(const BatchSummary& s) {
  std::string out;
  const auto line = [&out](std::string_view label, const std::string& value) {
    out += fmt::format("{:<11} {}\n", label, value);
  };
  line("jobs", states_text(s) + (s.finished ? "" : " (not finished: figures so far)"));
  line("makespan",
       duration_text(s.makespan_s) + (s.makespan_s ? " (first submit to last end)" : ""));
  line("GPU time", s.busy_gpu_seconds
                       ? fmt::format("{} = {:.2f} GPU-hours{}", duration_text(s.busy_gpu_seconds),
                                     *s.gpu_hours, coverage(s.gpu_seconds_jobs, s.jobs))
                       : kMissing);
  line("GPU util", s.utilization_percent
                       ? fmt::format("{:.1f} % of {} GPUs allocated over the makespan",
                                     *s.utilization_percent, s.cluster_gpus)
                       : missing_text(s.utilization_missing_reason));
  line("energy", s.energy_joules ? fmt::format("{}{}{}", format_energy(*s.energy_joules),
                                               s.energy_is_estimate ? " (estimate)" : "",
                                               coverage(s.energy_jobs, s.jobs))
                                 : kMissing);
  line("sequential", s.sequential_s ? fmt::format("{} (the run times one after another){}",
                                                  duration_text(s.sequential_s),
                                                  coverage(s.run_time_jobs, s.jobs))
                                    : kMissing);
  line("speedup",
       s.speedup ? fmt::format("{:.2f}x (sequential / makespan){}", *s.speedup, upper_bound_note(s))
                 : missing_text(s.speedup_missing_reason));
  return out;
}

Json job_json(const JobReport& job) {
  Json out;
  out["id"] = job.id.value();
  out["name"] = job.name;
  out["array_index"] = or_null(job.array_index);
  out["state"] = std::string(store::job_state_name(job.state));
  out["wait_seconds"] = or_null(job.wait_s);
  out["run_seconds"] = or_null(job.run_s);
  out["gpus"] = job.gpus;
  out["gpu_indices"] = job.gpu_indices;
  out["gpu_seconds"] = or_null(job.gpu_seconds);
  out["peak_gpu_memory_bytes"] = or_null(job.peak_gpu_mem);
  out["mean_gpu_utilization_percent"] = or_null(job.mean_util_percent);
  out["energy_joules"] = or_null(job.energy_joules);
  out["energy_is_estimate"] = job.energy_is_estimate;
  out["energy_at_least_joules"] = or_null(job.energy_at_least_joules);
  out["energy_unread_gpus"] = job.energy_unread_gpus;
  return out;
}

Json summary_json(const BatchSummary& s) {
  Json states = Json::object();
  for (const auto& [state, count] : s.state_counts)
    states[std::string(store::job_state_name(state))] = count;
  Json out;
  out["jobs"] = s.jobs;
  out["finished"] = s.finished;
  out["states"] = states;
  out["makespan_seconds"] = or_null(s.makespan_s);
  out["busy_gpu_seconds"] = or_null(s.busy_gpu_seconds);
  out["allocated_gpu_seconds"] = or_null(s.allocated_gpu_seconds);
  out["gpu_seconds_jobs"] = s.gpu_seconds_jobs;
  out["gpu_hours"] = or_null(s.gpu_hours);
  out["cluster_gpus"] = s.cluster_gpus;
  out["gpu_utilization_percent"] = or_null(s.utilization_percent);
  out["gpu_utilization_missing_reason"] = reason_or_null(s.utilization_missing_reason);
  out["energy_joules"] = or_null(s.energy_joules);
  out["energy_is_estimate"] = s.energy_is_estimate;
  out["energy_jobs"] = s.energy_jobs;
  out["sequential_seconds"] = or_null(s.sequential_s);
  out["run_time_jobs"] = s.run_time_jobs;
  out["speedup"] = or_null(s.speedup);
  out["speedup_missing_reason"] = reason_or_null(s.speedup_missing_reason);
  out["shared_gpu_jobs"] = s.shared_gpu_jobs;
  out["speedup_is_upper_bound"] = s.speedup.has_value() && s.shared_gpu_jobs > 0;
  return out;
}

}  // namespace

std::string render_rows(const std::vector<std::vector<std::string>>& rows,
                        const std::vector<bool>& left) {
  std::vector<std::size_t> widths(left.size(), 0);
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (i > 0) line += "  ";
      line += left[i] ? fmt::format("{:<{}}", row[i], widths[i])
                      : fmt::format("{:>{}}", row[i], widths[i]);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string format_energy(double joules) {
  const double magnitude = std::fabs(joules);
  if (magnitude < 1000.0) return fmt::format("{:.0f} J", joules);
  if (magnitude < 1.0e6) return fmt::format("{:.1f} kJ", joules / 1.0e3);
  if (magnitude < 1.0e9) return fmt::format("{:.1f} MJ", joules / 1.0e6);
  return fmt::format("{:.1f} GJ", joules / 1.0e9);
}

std::optional<std::string> energy_words(const JobReport& job) {
  const std::string estimate =
      job.energy_is_estimate ? std::string(" (estimate: ") + kEstimateWhy + ")" : "";
  if (job.energy_joules) return format_energy(*job.energy_joules) + estimate;
  if (!job.energy_at_least_joules) return std::nullopt;
  return "at least " + format_energy(*job.energy_at_least_joules) + " (" +
         unread_words(job.energy_unread_gpus) + ")" + estimate;
}

std::string render_job_report_table(const std::vector<JobReport>& jobs, bool with_user) {
  std::vector<std::string> header = {"ID", "NAME"};
  std::vector<bool> left = {false, true};
  if (with_user) {
    header.push_back("USER");
    left.push_back(true);
  }
  for (const char* column :
       {"STATE", "WAIT", "RUN", "GPUS", "GPU-TIME", "PEAK MEM", "UTIL", "ENERGY"}) {
    header.push_back(column);
    left.push_back(header.back() == "STATE");
  }
  std::vector<std::vector<std::string>> rows = {header};
  bool estimate = false;
  std::vector<std::string> lower_bounds;
  for (const JobReport& job : jobs) {
    rows.push_back(job_row(job, with_user));
    estimate = estimate || job.energy_is_estimate;
    if (job.energy_at_least_joules && !job.energy_unread_gpus.empty()) {
      lower_bounds.push_back(
          fmt::format("job {}: {}", to_string(job.id), unread_words(job.energy_unread_gpus)));
    }
  }
  std::string out = render_rows(rows, left);
  if (estimate) out += estimate_footnote();
  for (const std::string& line : lower_bounds) out += ">= energy a lower bound, " + line + "\n";
  return out;
}

std::string render_batch_report_table(const BatchReport& report) {
  return render_job_report_table(report.jobs, false) + "\n" + summary_text(report.summary);
}

nlohmann::ordered_json batch_report_json(const BatchReport& report) {
  Json jobs = Json::array();
  for (const JobReport& job : report.jobs) jobs.push_back(job_json(job));
  Json out;
  out["jobs"] = std::move(jobs);
  out["summary"] = summary_json(report.summary);
  return out;
}

}  // namespace fastgpu::engine
