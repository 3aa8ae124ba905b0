// Engine::stopping: a running job on its way out (SIGTERM sent, SIGKILL due), what the
// engine before a restart had asked of the runs it left, and a running job's new time limit.
#include <fmt/format.h>

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

std::optional<double> as_seconds(std::optional<std::int64_t> limit) {
  return limit ? std::optional(static_cast<double>(*limit)) : std::nullopt;
}

std::string limit_text(std::optional<std::int64_t> limit) {
  return limit ? format_duration(Seconds(static_cast<double>(*limit))) : "none";
}

json or_null(std::optional<std::int64_t> value) { return value ? json(*value) : json(); }

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
        // Events of daemons before 2026-12-07 name no one: the uid, as their reasons did.
        request.by_name = message.value("by", "uid " + std::to_string(*request.by_uid));
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

Status EngineImpl::change_running_limit(const JobRecord& job, std::uint32_t uid,
                                        const store::QueuedJobChange& change) {
  const std::string id = to_string(job.id);
  if (change.held_by) {
    return failed_precondition("job " + id +
                               " is RUNNING: only a queued job can be held or released "
                               "(`fastgpu cancel " +
                               id + "` stops it)");
  }
  if (change.priority || change.kill_grace_s || change.deadline || !change.time_limit_s) {
    return failed_precondition(
        "job " + id +
        " is RUNNING: of a running job only the time limit can be changed (`fastgpu update " + id +
        " --time 4h`); it keeps the priority, grace and deadline it started with");
  }
  const std::optional<std::int64_t> asked = *change.time_limit_s;
  const std::optional<std::int64_t> had = job.spec.time_limit_s;
  if (asked == had) return {};
  const bool lengthens = !asked || (had && *asked > *had);
  if (lengthens && options_.run_jobs_as_owner && uid != 0) {
    return failed_precondition(fmt::format(
        "job {} runs under a daemon shared by several users, where only root may lengthen a "
        "running job's time limit (from {} to {}), as in Slurm; its owner may shorten it",
        id, limit_text(had), limit_text(asked)));
  }
  if (const std::optional<Stopping> leaving = stopping(job)) {
    return failed_precondition(
        fmt::format("job {} is being stopped ({}); a new time limit "
                    "would change nothing",
                    id, leaving->cause));
  }
  // A launch not yet settled: its supervisor is told once it has started the job.
  const auto launching = launching_.find(job.id);
  if (launching == launching_.end() && job.supervisor_pid.value_or(0) == 0) {
    return unavailable("job " + id + " is still starting; ask again in a moment");
  }
  const store::WallTime now = options_.clock->now();
  const double ran_s = to_seconds(now) - to_seconds(job.start_time.value_or(now));
  if (asked && static_cast<double>(*asked) <= ran_s) {
    return failed_precondition(fmt::format(
        "job {} has run for {}: a time limit of {} would end it at once; give one longer than "
        "that, or `fastgpu cancel {}` stops it now",
        id, format_duration(Seconds(ran_s)), limit_text(asked), id));
  }
  // Its supervisor is asked first for the limit it has, which succeeds only where it could
  // take a change: so the store records no change the supervisor cannot make. (One still
  // starting is of this version.)
  if (launching == launching_.end()) {
    FASTGPU_RETURN_IF_ERROR(options_.launcher->set_time_limit(job.id, as_seconds(had))
                                .with_context("changing job " + id + "'s time limit"));
  }
  const json what{
      {"uid", uid}, {"running", true}, {"time_limit_s", or_null(asked)}, {"was_s", or_null(had)}};
  // Recorded first: a daemon that dies before telling the supervisor tells it at its restart
  // (adopt).
  FASTGPU_RETURN_IF_ERROR(options_.store->change_running_limit(
      job.id, asked, store::Event{0, now, "job.change", job.id, what.dump()}));
  running_.limit_changed(job.id, asked);
  // Its end moves, and with it the reservations behind it.
  schedule_.invalidate();
  if (launching != launching_.end()) {
    launching->second.changed_limit_s = asked;
    return {};
  }
  return options_.launcher->set_time_limit(job.id, as_seconds(asked))
      .with_context("job " + id + "'s time limit is recorded as " + limit_text(asked) +
                    ", but its supervisor was not told");
}

std::optional<std::string> EngineImpl::tell_limit(JobId id,
                                                  std::optional<std::int64_t> time_limit_s) {
  const Status told = options_.launcher->set_time_limit(id, as_seconds(time_limit_s));
  if (told.ok() || told.code() == ErrorCode::kFailedPrecondition ||
      told.code() == ErrorCode::kUnavailable) {
    return std::nullopt;
  }
  return fmt::format("job {}'s supervisor could not be told its time limit of {}: {}", id.value(),
                     limit_text(time_limit_s), told.to_string());
}

}  // namespace fastgpu::engine
