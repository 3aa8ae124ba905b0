// Engine::stopping: a running job on its way out (SIGTERM sent, SIGKILL due), and what the
// engine before a restart had asked of the runs it left.
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/engine_impl.h"

namespace fastgpu::engine {

using nlohmann::json;
using store::JobRecord;
using store::JobState;

namespace {

store::WallTime after_seconds(store::WallTime from, double seconds) {
  return from + std::chrono::duration_cast<store::WallTime::duration>(
                    std::chrono::duration<double>(seconds));
}

// The moment the job's supervisor sends SIGTERM for its time limit: it counts the limit from
// the job's start, which the store records as the supervisor reported it. nullopt: no limit,
// or not started.
std::optional<store::WallTime> time_limit_at(const JobRecord& job) {
  if (!job.start_time || !job.spec.time_limit_s) return std::nullopt;
  return after_seconds(*job.start_time, static_cast<double>(*job.spec.time_limit_s));
}

}  // namespace

std::optional<Stopping> EngineImpl::stopping(const JobRecord& job) const {
  if (job.state != JobState::kRunning) return std::nullopt;
  std::optional<Stopping> stopping;
  if (auto found = stops_.find(job.id); found != stops_.end()) {
    const StopRequest& asked = found->second;
    stopping = Stopping{asked.cause, asked.by_uid,      asked.detail, asked.at,
                        {},          asked.sigterm_for, asked.asked};
  }
  // The supervisor sends SIGTERM once, for whichever came first: a stop asked after the
  // time limit changes nothing (the job ends TIMEOUT), and a time limit reached while
  // stopping neither.
  const std::optional<store::WallTime> limit = time_limit_at(job);
  if (limit && options_.clock->now() >= *limit && (!stopping || *limit < stopping->since)) {
    stopping = Stopping{"time limit", std::nullopt, {}, *limit, {}, std::nullopt, std::nullopt};
  }
  // The grace its supervisor was given at launch.
  if (stopping) stopping->kill_at = after_seconds(stopping->since, kill_grace_of(job));
  return stopping;
}

void EngineImpl::note_stop(JobId job, StopRequest request) {
  auto [kept, added] = stops_.try_emplace(job, request);
  if (added) return;
  // The same request again (a second cancel): the first stands, with its moment and who
  // asked. It had taken the second's moment and told of "SIGTERM earlier, when it was
  // cancelled", as if two different requests had been made.
  if (kept->second.intent == request.intent) return;
  // A cancel after a preemption: the job now ends cancelled, but its SIGTERM went out with
  // the first request, and the grace period runs from then. The cancel keeps its own moment,
  // and the request that sent SIGTERM is remembered, to be told apart.
  request.asked = request.at;
  request.sigterm_for = kept->second.sigterm_for
                            ? kept->second.sigterm_for
                            : Stopping::Earlier{kept->second.cause, kept->second.by_uid};
  request.at = kept->second.at;
  kept->second = std::move(request);
}

Status EngineImpl::recover_stops() {
  static const std::vector<std::string> kKinds = {"job.cancel", "job.preempt", "job.kill"};
  Result<std::vector<store::Event>> events = options_.store->events_of_running_jobs(kKinds);
  if (!events.ok()) return events.status().with_context("reading what was asked of running jobs");
  for (const store::Event& event : *events) {
    const json message = json::parse(event.message_json, nullptr, /*allow_exceptions=*/false);
    if (!event.job || !message.is_object()) continue;
    StopRequest request;
    request.at = event.at;
    request.detail = message.value("reason", std::string());
    if (event.kind == "job.cancel") {
      request.intent = StopIntent::kCancel;
      request.cause = "cancelled";
      if (message.contains("uid") && message["uid"].is_number_unsigned()) {
        request.by_uid = message["uid"].get<std::uint32_t>();
      }
    } else if (event.kind == "job.preempt") {
      request.intent = StopIntent::kPreempt;
      request.cause = message.value("cause", std::string("preempted"));
      if (message.contains("requeue_why")) {
        requeue_whys_[*event.job] = message.value("requeue_why", request.detail);
      }
    } else {
      request.intent = StopIntent::kMemoryKill;
      request.cause = message.value("cause", std::string("memory"));
    }
    note_stop(*event.job, std::move(request));
  }
  return {};
}

}  // namespace fastgpu::engine
