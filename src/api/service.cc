#include "fastgpu/api/service.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include "api/login_name.h"
#include "cli/status_render.h"
#include "core/base64.h"
#include "core/batch_error.h"
#include "fastgpu/api/metrics.h"
#include "fastgpu/core/text.h"
#include "fastgpu/core/units.h"
#include "fastgpu/engine/usage_report.h"
#include "fastgpu/sched/settings.h"

namespace fastgpu::api {
namespace {

constexpr std::uint32_t kRootUid = 0;

ApiResponse error_response(const Status& status) {
  return {http_status_for(status), error_json(status)};
}

ApiResponse forbidden(std::string message) {
  return {403, Json{{"error", std::move(message)}, {"code", "permission denied"}}};
}

// 9999-12-31T23:59:59.999999Z in microseconds since 1970: the last moment a time of the
// API may name.
constexpr std::uint64_t kLatestMicros = 253402300799999999ULL;

Result<std::uint64_t> parse_number(std::string_view text, std::string_view what) {
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  const bool all_read = end == text.data() + text.size();
  if (!text.empty() && all_read && error == std::errc::result_out_of_range) {
    return invalid_argument(fmt::format("{} '{}' is above the largest, {}", what, text,
                                        std::numeric_limits<std::uint64_t>::max()));
  }
  if (text.empty() || error != std::errc() || !all_read) {
    const bool negative = text.starts_with('-') && text.size() > 1 &&
                          text.find_first_not_of("0123456789", 1) == std::string_view::npos;
    return invalid_argument(fmt::format("{} '{}' is {}; use a whole number >= 0, e.g. 12", what,
                                        text, negative ? "negative" : "not a number"));
  }
  return value;
}

// Splits "/v1/jobs/12/log" into {"v1", "jobs", "12", "log"}.
std::vector<std::string_view> path_parts(std::string_view path) {
  std::vector<std::string_view> parts;
  while (!path.empty()) {
    const std::size_t slash = path.find('/');
    std::string_view part = path.substr(0, slash);
    if (!part.empty()) parts.push_back(part);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return parts;
}

// A flag left out is false. A value other than true/false (or 1/0) is refused: `all=yes`
// read as false listed only the caller's jobs without a word.
Result<bool> query_flag(const ApiRequest& request, const std::string& name) {
  auto it = request.query.find(name);
  if (it == request.query.end()) return false;
  if (it->second == "1" || it->second == "true") return true;
  if (it->second == "0" || it->second == "false") return false;
  return invalid_argument(fmt::format("{} '{}' is not true or false; use {}=true or leave it out",
                                      name, it->second, name));
}

Result<std::vector<store::JobState>> parse_states(const std::string& list) {
  std::vector<store::JobState> states;
  std::string_view rest = list;
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    std::string name(rest.substr(0, comma));
    for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    Result<store::JobState> state = store::parse_job_state(name);
    if (!state.ok()) {
      return invalid_argument(fmt::format(
          "state '{}' is unknown; use QUEUED, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT "
          "or PREEMPTED (comma-separated)",
          name));
    }
    states.push_back(*state);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return states;
}

// `size`: the file's size as read, nullopt when there is no file.
Result<std::string> read_log_chunk(const std::string& path, std::uint64_t offset,
                                   std::size_t max_bytes, std::optional<std::uint64_t>& size_out) {
  size_out.reset();
  std::ifstream file(path, std::ios::binary);
  if (!file) return std::string();  // not written yet: the job has not started
  file.seekg(0, std::ios::end);
  const auto size = static_cast<std::uint64_t>(file.tellg());
  size_out = size;
  if (offset >= size) return std::string();
  const std::size_t length =
      static_cast<std::size_t>(std::min<std::uint64_t>(size - offset, max_bytes));
  std::string data(length, '\0');
  file.seekg(static_cast<std::streamoff>(offset));
  file.read(data.data(), static_cast<std::streamsize>(length));
  data.resize(static_cast<std::size_t>(file.gcount()));
  return data;
}

// The length of `data` that ends on a whole UTF-8 character: the start of a character cut
// off at the end (by a chunk's size limit, or a job still writing it) is left for the next
// read, where it would have reached the client as U+FFFD on both sides of the cut (a
// progress bar's blocks, any non-ASCII text). Bytes that are not UTF-8 at all pass as they
// are, once a byte follows them. A chunk that is nothing but the start of a character gives
// 0: a follower that caught up with a job pausing there gets nothing until the rest comes
// (it had the start alone, as U+FFFD, and then the rest, as U+FFFD too).
std::size_t whole_characters(std::string_view data) {
  for (std::size_t back = 1; back <= std::min<std::size_t>(4, data.size()); ++back) {
    const auto byte = static_cast<unsigned char>(data[data.size() - back]);
    if ((byte & 0xC0) == 0x80) continue;  // a continuation byte: the lead is further back
    const std::size_t length = byte < 0x80             ? 1
                               : (byte & 0xE0) == 0xC0 ? 2
                               : (byte & 0xF0) == 0xE0 ? 3
                               : (byte & 0xF8) == 0xF0 ? 4
                                                       : 1;
    return length > back ? data.size() - back : data.size();
  }
  return data.size();
}

// Gives the jobs of a batch with equal environments one shared copy, its PATH prefixed once:
// a batch whose client sent the environment with every job (as clients did before the
// batch-level field) is held in memory, and stored, as one sent once.
void share_environments(std::vector<store::JobSpec>& specs,
                        const std::vector<std::filesystem::path>& path_prefix) {
  std::map<std::vector<std::string>, store::Environment> shared;          // as submitted -> as run
  std::optional<std::pair<store::Environment, store::Environment>> last;  // the same pair
  for (store::JobSpec& spec : specs) {
    if (last && spec.environment.shares_with(last->first)) {
      spec.environment = last->second;
      continue;
    }
    auto [it, added] = shared.try_emplace(spec.environment.entries());
    if (added) {
      std::vector<std::string> entries = spec.environment.entries();
      prefix_path(entries, path_prefix);
      it->second = std::move(entries);
    }
    last.emplace(spec.environment, it->second);
    spec.environment = it->second;
  }
}

// brief=true leaves out each job's environment: nearly all of a listing's bytes (a login
// shell's environment is a few kB), which the tables never show; fields=table keeps only
// what the tables show.
Result<JobFields> listing_fields(const ApiRequest& request) {
  auto it = request.query.find("fields");
  if (it != request.query.end()) {
    if (it->second == "table") return JobFields::kTable;
    return invalid_argument(
        fmt::format("fields '{}' is unknown; use fields=table (or leave it out)", it->second));
  }
  Result<bool> brief = query_flag(request, "brief");
  if (!brief.ok()) return brief.status();
  return *brief ? JobFields::kBrief : JobFields::kAll;
}

// Calls `each` with every job `filter` selects, read `page_jobs` at a time: the store's
// lock, which the engine's ticks take too, is held for one page, never for a whole
// listing of 100,000 jobs, and only one page is held in memory. Each job comes once, by
// increasing id, as it was when its page was read. With `engine_mutex`, each page is read
// and handed to `each` under it: what `each` asks the engine agrees with the page (the
// engine changes jobs only under that mutex), and ticks wait one page at most.
// REQUIRES: page_jobs > 0.
Status for_each_listed_job(store::StateStore& store, store::JobFilter filter, std::size_t page_jobs,
                           std::mutex* engine_mutex,
                           const std::function<void(const store::JobRecord&)>& each) {
  std::optional<std::size_t> left = filter.limit;
  for (;;) {
    filter.limit = std::min(left.value_or(page_jobs), page_jobs);
    if (*filter.limit == 0) return {};
    std::unique_lock<std::mutex> engine;
    if (engine_mutex != nullptr) engine = std::unique_lock(*engine_mutex);
    Result<std::vector<store::JobRecord>> page = store.list_jobs(filter);
    if (!page.ok()) return page.status();
    for (const store::JobRecord& job : *page) each(job);
    if (engine.owns_lock()) engine.unlock();
    if (page->size() < *filter.limit) return {};
    filter.after = page->back().id;
    if (left) *left -= page->size();
  }
}

}  // namespace

std::string ApiResponse::serialized() && {
  if (!text.empty()) return std::move(text);
  return compact_text(body);
}

int http_status_for(const Status& status) {
  switch (status.code()) {
    case ErrorCode::kOk: return 200;
    case ErrorCode::kInvalidArgument: return 400;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kFailedPrecondition: return 409;
    case ErrorCode::kUnavailable: return 503;
    default: return 500;
  }
}

Json error_json(const Status& status) {
  Json body{{"error", status.message()}, {"code", error_code_name(status.code())}};
  if (const auto& job = status.batch_job()) {
    body["batch_index"] = job->index;
    body["problem"] = job->problem;
  }
  if (status.batch_jobs().size() > 1) {
    // Every refused job of the batch; batch_index and problem above are the first's, for
    // clients that read one.
    Json refused = Json::array();
    for (const BatchJobError& job : status.batch_jobs()) {
      refused.push_back(Json{{"batch_index", job.index},
                             {"error", job.message},
                             {"problem", job.problem},
                             {"field", job.field.empty() ? Json(nullptr) : Json(job.field)}});
    }
    body["refused"] = std::move(refused);
  }
  return body;
}

ApiService::ApiService(ApiServiceOptions options) : options_(std::move(options)) {}

ApiResponse ApiService::handle(const ApiRequest& request) {
  try {
    return route(request);
  } catch (const std::exception& error) {
    // A bug, not bad input (bad input is a Status); the daemon keeps serving either way.
    return error_response(
        internal_error(fmt::format("{} {}: {}", request.method, request.path, error.what())));
  }
}

namespace {

// The query parameters an endpoint reads; another is refused, naming these: a misspelt
// `status=` for `state=` listed every job without a word.
Status check_parameters(const ApiRequest& request, std::initializer_list<std::string_view> known) {
  for (const auto& [name, value] : request.query) {
    if (std::find(known.begin(), known.end(), name) != known.end()) continue;
    const std::string takes =
        known.size() == 0 ? std::string("takes none")
                          : fmt::format("takes {}", fmt::join(known.begin(), known.end(), ", "));
    return invalid_argument(fmt::format("unknown parameter '{}' for {} {}; it {} (docs/api.md)",
                                        name, request.method, request.path, takes));
  }
  return {};
}

}  // namespace

ApiResponse ApiService::route(const ApiRequest& request) {
  const std::vector<std::string_view> parts = path_parts(request.path);
  const bool get = request.method == "GET";
  const bool post = request.method == "POST";
  if (parts.size() < 2 || parts[0] != "v1") {
    return error_response(not_found(
        fmt::format("no endpoint '{}'; the API lives under /v1 (see docs/api.md)", request.path)));
  }
  // Each endpoint with the query parameters it reads.
  const auto taking = [&request](std::initializer_list<std::string_view> known, auto&& answer) {
    const Status checked = check_parameters(request, known);
    return checked.ok() ? answer() : error_response(checked);
  };
  if (parts.size() == 2 && parts[1] == "daemon" && get) {
    return taking({}, [&] { return daemon_info(); });
  }
  if (parts.size() == 3 && parts[1] == "daemon" && parts[2] == "reload" && post) {
    return taking({}, [&] { return reload(request); });
  }
  if (parts.size() == 2 && parts[1] == "gpus" && get)
    return taking({}, [&] { return gpus(request); });
  if (parts.size() == 3 && parts[1] == "gpus" && parts[2] == "samples" && get) {
    return taking({"seconds", "after_us"}, [&] { return gpu_samples(request); });
  }
  if (parts.size() == 2 && parts[1] == "metrics" && get) {
    return taking({"format"}, [&] { return metrics(request); });
  }
  if (parts.size() == 2 && parts[1] == "jobs" && post) {
    return taking({}, [&] { return submit(request); });
  }
  if (parts.size() == 2 && parts[1] == "jobs" && get) {
    return taking({"state", "all", "after", "limit", "array", "ids_only", "fields", "brief",
                   "ended_since_us", "ended_before_us", "name", "last_ended"},
                  [&] { return list(request); });
  }
  if (parts.size() == 2 && parts[1] == "usage" && get) {
    return taking({"by", "state", "all", "name", "ended_since_us", "ended_before_us",
                   "utc_offset_s", "utc_offset_changes"},
                  [&] { return usage(request); });
  }
  if (parts.size() == 3 && parts[1] == "jobs" && parts[2] == "purge" && post) {
    return taking({"ended_before_us", "state", "name", "all"}, [&] { return purge(request); });
  }
  if (parts[1] == "jobs" && parts.size() >= 3 && parts.size() <= 4) {
    Result<std::uint64_t> id = parse_number(parts[2], "job id");
    if (!id.ok()) return error_response(id.status());
    const JobId job(*id);
    if (parts.size() == 3 && get) return taking({}, [&] { return show(request, job); });
    if (parts.size() == 4 && parts[3] == "cancel" && post) {
      return taking({}, [&] { return cancel(request, job); });
    }
    if (parts.size() == 4 && post &&
        (parts[3] == "hold" || parts[3] == "release" || parts[3] == "update")) {
      return taking({}, [&] { return change(request, job, parts[3]); });
    }
    if (parts.size() == 4 && parts[3] == "log" && get) {
      return taking({"offset", "encoding"}, [&] { return log(request, job); });
    }
  }
  return error_response(not_found(fmt::format(
      "no endpoint {} {}; see docs/api.md for the endpoints", request.method, request.path)));
}

namespace {

// A job waits only for jobs its user may see and cancel (root's for anyone's), and is
// refused as `show` is: another user's job's end would start or fail it, and `show` would
// print that job's state. Jobs the store does not have are left to it to name.
std::vector<Status> dependencies_not_owned(store::StateStore& store,
                                           const std::vector<store::JobSpec>& specs,
                                           std::uint32_t uid) {
  if (uid == kRootUid) return {};
  std::map<std::uint64_t, std::uint32_t> owners;  // a 10,000-member array names one job
  std::vector<Status> refusals;                   // every job's, told at once
  for (std::size_t index = 0; index < specs.size(); ++index) {
    for (const store::Dependency& dependency : specs[index].dependencies) {
      if (dependency.batch_index) continue;
      auto owner = owners.find(dependency.job.value());
      if (owner == owners.end()) {
        Result<store::JobRecord> other = store.get_job(dependency.job);
        if (!other.ok()) continue;
        owner = owners.emplace(dependency.job.value(), other->spec.uid).first;
      }
      if (owner->second == uid) continue;
      // "after": `submit --after` and a job file's `after:` alike (both reach here as
      // dependencies, and a job file's place is prefixed by the CLI, not known here).
      const std::string problem = fmt::format(
          "waits for job {} (after), but job {} belongs to uid {}, not to you (uid {}); a "
          "job may wait only for your own jobs (nothing was submitted)",
          dependency.job.value(), dependency.job.value(), owner->second, uid);
      const std::string message = specs.size() == 1
                                      ? "the job " + problem
                                      : fmt::format("job {} of the batch {}", index, problem);
      refusals.push_back(failed_precondition(message).with_batch_job(index, problem, "after"));
      break;  // one such refusal a job
    }
  }
  return refusals;
}

// A job runs again only a job of its own user's (root's too: a job of another user run again
// by root would run their command as root, which `fastgpu resubmit` refuses), and one that
// exists: the link is what `show` tells of both. A 404 names the first job that is not there;
// jobs of another user's are refused as dependencies are, with them.
Status check_resubmitted_from(store::StateStore& store, const std::vector<store::JobSpec>& specs,
                              std::uint32_t uid, std::vector<Status>& refusals) {
  for (std::size_t index = 0; index < specs.size(); ++index) {
    const std::optional<JobId> from = specs[index].resubmitted_from;
    if (!from) continue;
    const std::string which =
        specs.size() == 1 ? "the job" : fmt::format("job {} of the batch", index);
    Result<store::JobRecord> earlier = store.get_job(*from);
    if (!earlier.ok() && earlier.status().code() == ErrorCode::kNotFound) {
      return not_found(
          fmt::format("{} runs job {} again (resubmitted_from), but there is no job "
                      "{}; leave resubmitted_from out for a new job",
                      which, from->value(), from->value()));
    }
    if (!earlier.ok()) return earlier.status();
    if (earlier->spec.uid == uid) continue;
    const std::string problem = fmt::format(
        "runs job {} again (resubmitted_from), but job {} belongs to uid {}, not to you (uid {}); "
        "only its owner may run it again (nothing was submitted)",
        from->value(), from->value(), earlier->spec.uid, uid);
    refusals.push_back(failed_precondition(which + " " + problem)
                           .with_batch_job(index, problem, "resubmitted_from"));
  }
  return {};
}

// Who asked for `limit`, which job `index` of `specs` has: "the job asks", or "the batch's
// 40 jobs ask" when every one asks the same (a batch's "limits", which `submit` and `run`
// send once for all), else "job 3 of the batch asks".
std::string who_asks(const std::vector<store::JobSpec>& specs, std::size_t index,
                     const ResourceLimit& limit) {
  if (specs.size() == 1) return "the job asks";
  const bool all_alike = std::all_of(specs.begin(), specs.end(), [&](const store::JobSpec& spec) {
    return std::find(spec.limits.begin(), spec.limits.end(), limit) != spec.limits.end();
  });
  return all_alike ? fmt::format("the batch's {} jobs ask", specs.size())
                   : fmt::format("job {} of the batch asks", index);
}

// A shared daemon runs a job as its submitter, setting its limits as root: none may be above
// the submitter's own, read from its process (the kernel's word, as the uid is), and each
// the job does not name is the submitter's, not root's. A user may not get, by asking the
// daemon or by asking nothing, more than the system gave them (limits.conf). The message
// when a limit is above, or when the caller's process cannot be read; nullopt when each
// job's limits are now within.
std::optional<std::string> bound_by_callers_limits(std::vector<store::JobSpec>& specs,
                                                   std::int32_t pid) {
  ResourceLimits callers;
  for (std::string_view name : carried_limit_names()) {
    std::optional<ResourceLimit> limit = pid > 0 ? process_resource_limit(pid, name) : std::nullopt;
    if (!limit) {
      return fmt::format(
          "cannot read the resource limits of your process (pid {}: {}), which bound your "
          "jobs' on this shared daemon; submit again",
          pid, pid <= 0 ? "unknown" : std::strerror(errno));
    }
    callers.push_back(std::move(*limit));
  }
  for (std::size_t i = 0; i < specs.size(); ++i) {
    ResourceLimits bounded;
    for (const ResourceLimit& own : callers) {
      const auto asked =
          std::find_if(specs[i].limits.begin(), specs[i].limits.end(),
                       [&](const ResourceLimit& limit) { return limit.name == own.name; });
      if (asked == specs[i].limits.end()) {
        bounded.push_back(own);
        continue;
      }
      if (limit_above(asked->hard, own.hard)) {
        return fmt::format(
            "{} for a {} hard limit of {}, above your own ({}); a job may have at most its "
            "submitter's limits: raise yours (ulimit -H, as root allows) or ask for less",
            who_asks(specs, i, *asked), own.name, format_limit_value(own.name, asked->hard),
            format_limit_value(own.name, own.hard));
      }
      bounded.push_back(*asked);
    }
    specs[i].limits = std::move(bounded);
  }
  return std::nullopt;
}

}  // namespace

ApiResponse ApiService::submit(const ApiRequest& request) {
  Json body = Json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    return error_response(
        invalid_argument("the request body is not valid JSON; send {\"jobs\": [ {job}, ... ]}"));
  }
  Result<std::vector<store::JobSpec>> specs = job_batch_from_json(body);
  if (!specs.ok()) return error_response(specs.status());
  const store::WallTime now = options_.clock->now();
  const std::string user =
      options_.user_name ? options_.user_name(request.uid) : std::to_string(request.uid);
  for (store::JobSpec& spec : *specs) {
    // The caller is who the socket says, whatever the body claims.
    spec.uid = request.uid;
    spec.user = user;
    spec.submit_time = now;
    if (spec.held_by) spec.held_by = request.uid;  // submitted held: by its submitter
  }
  if (request.uid != kRootUid && request.uid != options_.owner_uid) {
    if (std::optional<std::string> above = bound_by_callers_limits(*specs, request.pid)) {
      return forbidden(std::move(*above));
    }
  }
  // Told with the engine's refusals (a batch's other problems), all at once.
  std::vector<Status> not_owned = dependencies_not_owned(*options_.store, *specs, request.uid);
  if (Status known = check_resubmitted_from(*options_.store, *specs, request.uid, not_owned);
      !known.ok()) {
    return error_response(known);
  }
  const bool any_not_owned = !not_owned.empty();
  share_environments(*specs, options_.job_path_prefix);
  Result<std::vector<JobId>> ids = [&] {
    std::lock_guard lock(*options_.engine_mutex);
    return options_.engine->submit(*specs, std::move(not_owned));
  }();
  if (!ids.ok() && any_not_owned && !ids.status().batch_jobs().empty()) {
    Json refusal = error_json(ids.status());  // with the batch index, for `fastgpu run`
    refusal["code"] = "permission denied";
    return {403, std::move(refusal)};
  }
  if (!ids.ok()) return error_response(ids.status());
  if (options_.wake_loop) options_.wake_loop();
  Json list = Json::array();
  for (JobId id : *ids) list.push_back(id.value());
  return {201, Json{{"ids", list}}};
}

namespace {

// Why a job that ran is queued again (preempted, moved by the balancer, over its memory, a
// run its daemon never started): the reason of the transition that queued it; null when the
// store cannot say.
Json requeue_reason(store::StateStore& store, JobId job) {
  Result<std::vector<store::Transition>> transitions = store.transitions(job);
  if (!transitions.ok() || transitions->empty()) return nullptr;
  const store::Transition& last = transitions->back();
  if (last.to != store::JobState::kQueued || last.reason.empty()) return nullptr;
  return last.reason;
}

// A running job on its way out, as the engine sees it (docs/api.md); null when it is not.
// REQUIRES: the engine's mutex held.
Json stopping_json(const engine::Engine& engine, const store::JobRecord& job) {
  if (job.state != store::JobState::kRunning) return nullptr;
  const std::optional<engine::Stopping> stopping = engine.stopping(job);
  if (!stopping) return nullptr;
  Json sigterm_for = nullptr;
  if (stopping->sigterm_for) {
    sigterm_for = Json{{"cause", stopping->sigterm_for->cause},
                       {"by_uid", optional_json(stopping->sigterm_for->by_uid)}};
  }
  return Json{{"cause", stopping->cause},
              {"by_uid", optional_json(stopping->by_uid)},
              {"detail", stopping->detail.empty() ? Json(nullptr) : Json(stopping->detail)},
              {"since", iso_time(stopping->since)},
              {"since_us", stopping->since.time_since_epoch().count()},
              {"kill_at", iso_time(stopping->kill_at)},
              {"kill_at_us", stopping->kill_at.time_since_epoch().count()},
              {"asked", stopping->asked ? Json(iso_time(*stopping->asked)) : Json(nullptr)},
              {"asked_us",
               stopping->asked ? Json(stopping->asked->time_since_epoch().count()) : Json(nullptr)},
              {"sigterm_for", sigterm_for}};
}

// What a running job has used so far, as the engine's samples measured it (docs/api.md);
// null when it is not running under this engine. REQUIRES: the engine's mutex held.
Json usage_so_far_json(const engine::Engine& engine, const store::JobRecord& job) {
  if (job.state != store::JobState::kRunning) return nullptr;
  const std::optional<engine::RunningUsage> used = engine.running_usage(job.id);
  if (!used) return nullptr;
  return Json{{"peak_gpu_mem", optional_json(used->peak_gpu_mem)},
              {"mean_util_percent", optional_json(used->mean_util_percent)},
              {"energy_joules", optional_json(used->energy_joules)}};
}

// What a listing and a purge read alike into `filter`: state= (any of), all=true (every
// user's jobs: root only; else the caller's own) and name= (any of, comma-separated). The
// refusal, if any; `does` is what only root does with others' jobs ("sees", "purges").
std::optional<ApiResponse> read_selection(const ApiRequest& request, std::string_view does,
                                          store::JobFilter& filter) {
  if (auto it = request.query.find("state"); it != request.query.end() && !it->second.empty()) {
    Result<std::vector<store::JobState>> states = parse_states(it->second);
    if (!states.ok()) return error_response(states.status());
    filter.states = *states;
  }
  const Result<bool> all = query_flag(request, "all");
  if (!all.ok()) return error_response(all.status());
  if (*all && request.uid != kRootUid) {
    return forbidden(
        fmt::format("only root {} other users' jobs (you are uid {}); leave out "
                    "all=true",
                    does, request.uid));
  }
  if (!*all) filter.uid = request.uid;
  if (auto it = request.query.find("name"); it != request.query.end()) {
    const std::optional<std::vector<std::string_view>> names = split_commas(it->second);
    if (!names) {
      return error_response(invalid_argument(
          fmt::format("name '{}' has an empty name; give one or more names separated by commas, "
                      "e.g. name=train,eval",
                      it->second)));
    }
    filter.names.assign(names->begin(), names->end());
  }
  return std::nullopt;
}

// A moment of the API (ended_since_us=...): microseconds since 1970, up to the year 9999.
Result<store::WallTime> moment_param(std::string_view name, std::string_view text) {
  Result<std::uint64_t> value = parse_number(text, name);
  if (!value.ok()) return value.status();
  if (*value > kLatestMicros) {
    return invalid_argument(
        fmt::format("{} '{}' is past the year 9999; give microseconds since "
                    "1970, as the jobs' *_time_us fields are",
                    name, *value));
  }
  return store::WallTime(std::chrono::microseconds(static_cast<std::int64_t>(*value)));
}

// `text` as a whole number, all of it; nullopt for anything else.
std::optional<std::int64_t> whole_number(std::string_view text) {
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// Within a day's widest offsets from UTC.
bool is_utc_offset(std::int64_t seconds) {
  return seconds >= -engine::kMostUtcOffsetSeconds && seconds <= engine::kMostUtcOffsetSeconds;
}

// utc_offset_s=: seconds east of UTC, within a day's widest offsets; 0 when left out.
Result<std::int64_t> utc_offset_param(const ApiRequest& request) {
  auto it = request.query.find("utc_offset_s");
  if (it == request.query.end()) return std::int64_t{0};
  const std::string& text = it->second;
  const std::optional<std::int64_t> value = whole_number(text);
  if (!value || !is_utc_offset(*value)) {
    return invalid_argument(fmt::format(
        "utc_offset_s '{}' is not a time zone's offset; give the seconds east of UTC, from {} "
        "to {} (3600 for UTC+1, -18000 for UTC-5)",
        text, -engine::kMostUtcOffsetSeconds, engine::kMostUtcOffsetSeconds));
  }
  return *value;
}

// utc_offset_changes=AT_US:SECONDS,...: the moments (microseconds since the epoch, in
// order) from which the time zone's offset is another (a change to or from summer time),
// each offset as utc_offset_s reads it; none when left out.
constexpr std::size_t kMostUtcOffsetChanges = 1000;

Result<engine::UtcOffsets> utc_offsets_param(const ApiRequest& request) {
  Result<std::int64_t> initial = utc_offset_param(request);
  if (!initial.ok()) return initial.status();
  engine::UtcOffsets offsets{*initial, {}};
  auto it = request.query.find("utc_offset_changes");
  if (it == request.query.end()) return offsets;
  const auto refuse = [&it](const std::string& why) {
    return invalid_argument(fmt::format(
        "utc_offset_changes '{}' {}; give each change as MICROSECONDS:SECONDS (the moment, "
        "since the epoch, from which the offset east of UTC is SECONDS), comma-separated, in "
        "order, at most {}: 1743296400000000:7200,1761440400000000:3600",
        it->second, why, kMostUtcOffsetChanges));
  };
  std::string_view rest = it->second;
  for (bool more = true; more;) {
    const std::size_t comma = rest.find(',');
    const std::string_view change = rest.substr(0, comma);
    more = comma != std::string_view::npos;
    if (more) rest = rest.substr(comma + 1);
    const std::size_t colon = change.find(':');
    const std::optional<std::int64_t> at_us =
        colon == std::string_view::npos ? std::nullopt : whole_number(change.substr(0, colon));
    const std::optional<std::int64_t> offset =
        colon == std::string_view::npos ? std::nullopt : whole_number(change.substr(colon + 1));
    if (!at_us || !offset) {
      return refuse(fmt::format("has '{}', which is not MICROSECONDS:SECONDS", change));
    }
    if (!is_utc_offset(*offset)) {
      return refuse(fmt::format("has the offset {}, beyond {} seconds from UTC", *offset,
                                engine::kMostUtcOffsetSeconds));
    }
    const store::WallTime at{std::chrono::microseconds(*at_us)};
    if (!offsets.changes.empty() && at <= offsets.changes.back().first) {
      return refuse(fmt::format("has {} after a later moment", *at_us));
    }
    if (offsets.changes.size() == kMostUtcOffsetChanges) {
      return refuse(fmt::format("has more than {} changes", kMostUtcOffsetChanges));
    }
    offsets.changes.emplace_back(at, *offset);
  }
  return offsets;
}

// ended_since_us= and ended_before_us= into `filter`; the refusal, if any.
std::optional<ApiResponse> read_end_window(const ApiRequest& request, store::JobFilter& filter) {
  for (const char* name : {"ended_since_us", "ended_before_us"}) {
    auto it = request.query.find(name);
    if (it == request.query.end()) continue;
    Result<store::WallTime> moment = moment_param(name, it->second);
    if (!moment.ok()) return error_response(moment.status());
    (std::string_view(name) == "ended_since_us" ? filter.ended_from : filter.ended_before) =
        *moment;
  }
  return std::nullopt;
}

}  // namespace

ApiResponse ApiService::list(const ApiRequest& request) {
  store::JobFilter filter;
  if (std::optional<ApiResponse> refused = read_selection(request, "sees", filter)) {
    return std::move(*refused);
  }
  if (std::optional<ApiResponse> refused = read_end_window(request, filter)) {
    return std::move(*refused);
  }
  for (const char* name : {"after", "limit", "array", "last_ended"}) {
    auto it = request.query.find(name);
    if (it == request.query.end()) continue;
    Result<std::uint64_t> value = parse_number(it->second, name);
    if (!value.ok()) return error_response(value.status());
    const std::string_view which = name;
    if (which == "after") filter.after = JobId(*value);
    if (which == "limit") filter.limit = static_cast<std::size_t>(*value);
    if (which == "array") filter.array_id = *value;
    if (which == "last_ended") filter.last_ended = static_cast<std::size_t>(*value);
  }
  const Result<bool> ids_only = query_flag(request, "ids_only");
  if (!ids_only.ok()) return error_response(ids_only.status());
  if (*ids_only) {
    Result<std::vector<JobId>> ids = options_.store->list_job_ids(filter);
    if (!ids.ok()) return error_response(ids.status());
    Json list = Json::array();
    for (JobId id : *ids) list.push_back(id.value());
    return {200, Json{{"ids", std::move(list)}}};  // moved: `wait` polls 10,000s of ids
  }
  Result<JobFields> fields = listing_fields(request);
  if (!fields.ok()) return error_response(fields.status());
  JobListingText listing(*fields, may_open_logs(request));
  // Under the engine's mutex when queued or running jobs are listed, so that no job listed
  // QUEUED has started by the time the engine is asked why it waits, and none listed
  // RUNNING has ended by the time it is asked whether it is stopping.
  const auto listed_state = [&filter](store::JobState state) {
    return filter.states.empty() ||
           std::find(filter.states.begin(), filter.states.end(), state) != filter.states.end();
  };
  const bool ask_engine =
      listed_state(store::JobState::kQueued) || listed_state(store::JobState::kRunning);
  const Status listed = for_each_listed_job(
      *options_.store, filter, std::max<std::size_t>(options_.listing_page_jobs, 1),
      ask_engine ? options_.engine_mutex : nullptr, [&](const store::JobRecord& job) {
        const Json waiting = waiting_json(job, *fields != JobFields::kTable);
        const Json stopping = stopping_json(*options_.engine, job);
        // As show has it; not in a table listing, whose tables do not show it. A read of the
        // job's transitions, for the few jobs queued again.
        const bool requeued = *fields != JobFields::kTable &&
                              job.state == store::JobState::kQueued && job.attempts > 0;
        const Json requeued_why = requeued ? requeue_reason(*options_.store, job.id) : Json();
        listing.add(job, waiting.is_null() ? nullptr : &waiting,
                    stopping.is_null() ? nullptr : &stopping, requeued ? &requeued_why : nullptr);
      });
  if (!listed.ok()) return error_response(listed);
  ApiResponse response;
  response.text = std::move(listing).finish();
  return response;
}

ApiResponse ApiService::usage(const ApiRequest& request) {
  store::JobFilter filter;
  if (std::optional<ApiResponse> refused = read_selection(request, "sums up", filter)) {
    return std::move(*refused);
  }
  if (std::optional<ApiResponse> refused = read_end_window(request, filter)) {
    return std::move(*refused);
  }
  constexpr store::JobState kEnded[] = {store::JobState::kCompleted, store::JobState::kFailed,
                                        store::JobState::kCancelled, store::JobState::kTimeout};
  for (store::JobState state : filter.states) {
    if (!store::is_terminal(state)) {
      return error_response(invalid_argument(fmt::format(
          "state {} has not ended; the usage report sums up ended jobs: give COMPLETED, FAILED, "
          "CANCELLED or TIMEOUT, or leave state out for all four",
          store::job_state_name(state))));
    }
  }
  if (filter.states.empty()) filter.states.assign(std::begin(kEnded), std::end(kEnded));
  engine::UsageKey key = engine::UsageKey::kName;
  if (auto it = request.query.find("by"); it != request.query.end()) {
    Result<engine::UsageKey> parsed = engine::parse_usage_key(it->second);
    if (!parsed.ok()) return error_response(parsed.status());
    key = *parsed;
  }
  Result<engine::UtcOffsets> utc_offsets = utc_offsets_param(request);
  if (!utc_offsets.ok()) return error_response(utc_offsets.status());
  // A name picks its group: a job without one goes by its command, as the report lists it
  // (`report --name tpyo` finds the group the table calls tpyo).
  const std::set<std::string> names(filter.names.begin(), filter.names.end());
  filter.names.clear();
  engine::UsageTally tally(key, std::move(*utc_offsets));
  if (key == engine::UsageKey::kGpu) {
    std::lock_guard lock(*options_.engine_mutex);
    for (const GpuDevice& device : options_.engine->last_reading().devices) {
      tally.include_gpu(device.index);
    }
  }
  // Ended jobs do not change, so no page is read under the engine's mutex.
  const Status read = for_each_listed_job(
      *options_.store, filter, std::max<std::size_t>(options_.listing_page_jobs, 1), nullptr,
      [&tally, &names](const store::JobRecord& job) {
        if (names.empty() ||
            names.contains(job.spec.name.empty() ? job.spec.signature : job.spec.name)) {
          tally.add(job);
        }
      });
  if (!read.ok()) return error_response(read);
  return {200, Json(engine::usage_json(std::move(tally).finish()))};
}

// A purge deletes this many jobs a transaction: a tick waits for one part at most.
constexpr std::size_t kPurgePart = 5000;

ApiResponse ApiService::purge(const ApiRequest& request) {
  store::JobFilter filter;
  if (std::optional<ApiResponse> refused = read_selection(request, "purges", filter)) {
    return std::move(*refused);
  }
  const auto before = request.query.find("ended_before_us");
  if (before == request.query.end()) {
    return error_response(invalid_argument(
        "a purge needs ended_before_us=US: only the jobs that ended before that moment "
        "(microseconds since 1970) are forgotten"));
  }
  Result<store::WallTime> moment = moment_param("ended_before_us", before->second);
  if (!moment.ok()) return error_response(moment.status());
  filter.ended_before = *moment;
  std::uint64_t purged = 0;
  std::uint64_t kept = 0;
  std::uint64_t logs_kept = 0;
  std::string log_error;
  for (;;) {
    Result<store::Purged> part = store::purge_ended_with_logs(*options_.store, filter, kPurgePart);
    if (!part.ok()) {
      // Refused before anything went (a state that has not ended), it says only why.
      if (purged == 0) return error_response(part.status());
      return error_response(
          part.status().with_context(fmt::format("purging, after {} jobs were purged", purged)));
    }
    logs_kept += part->logs_not_removed;
    if (log_error.empty()) log_error = part->log_error;
    purged += part->jobs.size();
    kept = part->kept_waited_on;
    if (part->jobs.size() < kPurgePart) break;
  }
  if (purged > 0) {
    std::lock_guard lock(*options_.engine_mutex);
    options_.engine->purged(*filter.ended_before);
  }
  return {200, Json{{"purged", purged},
                    {"kept_waited_on", kept},
                    {"logs_not_removed", logs_kept},
                    {"log_error", log_error.empty() ? Json(nullptr) : Json(log_error)}}};
}

Result<store::JobRecord> ApiService::owned_job(const ApiRequest& request, JobId job) {
  Result<store::JobRecord> record = options_.store->get_job(job);
  if (!record.ok()) {
    if (record.status().code() == ErrorCode::kNotFound) {
      return not_found(fmt::format("no job {}; `fastgpu queue` lists your jobs", job.value()));
    }
    return record.status();
  }
  if (request.uid != kRootUid && record->spec.uid != request.uid) {
    // Reported as a failed precondition here, turned into 403 by the callers.
    return failed_precondition(fmt::format("job {} belongs to uid {}, not to you (uid {})",
                                           job.value(), record->spec.uid, request.uid));
  }
  return record;
}

namespace {
// owned_job's "not yours" comes back as a failed precondition; the API says 403.
ApiResponse ownership_error(const Status& status) {
  if (status.code() == ErrorCode::kFailedPrecondition) return forbidden(status.message());
  return error_response(status);
}
}  // namespace

Json ApiService::waiting_json(const store::JobRecord& job, bool with_detail) {
  if (job.state != store::JobState::kQueued) return nullptr;
  const std::optional<engine::WaitingReason> why =
      options_.engine->why_waiting(job.id, with_detail);
  if (!why) return nullptr;
  if (!with_detail) return Json{{"reason", why->reason}};
  return Json{{"reason", why->reason}, {"detail", why->detail}};
}

// Job logs lie in the daemon's state folder, private to the daemon's user (a folder others
// may enter is refused at start): a user of root's shared daemon owns the file but cannot
// reach it, and reads it through the log endpoint.
bool ApiService::may_open_logs(const ApiRequest& request) const {
  return request.uid == kRootUid || request.uid == options_.owner_uid;
}

ApiResponse ApiService::show(const ApiRequest& request, JobId job) {
  // The record and why it waits read together: the engine changes jobs under its mutex.
  std::unique_lock engine(*options_.engine_mutex);
  Result<store::JobRecord> record = owned_job(request, job);
  if (!record.ok()) return ownership_error(record.status());
  Json waiting = waiting_json(*record, /*with_detail=*/true);
  Json stopping = stopping_json(*options_.engine, *record);
  Json so_far = usage_so_far_json(*options_.engine, *record);
  const bool requeued = record->state == store::JobState::kQueued && record->attempts > 0;
  Json requeued_why = requeued ? requeue_reason(*options_.store, job) : Json(nullptr);
  engine.unlock();
  // The jobs that ran this one again (show's "run again as"), through their own index.
  Result<std::vector<JobId>> again = options_.store->resubmissions_of(job);
  Json json = job_record_to_json(*record);
  Json again_ids = Json::array();
  if (again.ok()) {
    for (JobId id : *again) again_ids.push_back(id.value());
  }
  json["resubmitted_as"] = std::move(again_ids);
  if (!waiting.is_null()) json["waiting"] = std::move(waiting);
  if (!stopping.is_null()) json["stopping"] = std::move(stopping);
  if (requeued) json["requeue_reason"] = std::move(requeued_why);
  if (!so_far.is_null()) json["usage_so_far"] = std::move(so_far);
  json["log_readable"] = may_open_logs(request);
  return {200, std::move(json)};
}

ApiResponse ApiService::cancel(const ApiRequest& request, JobId job) {
  Result<store::JobRecord> record = owned_job(request, job);
  if (!record.ok()) return ownership_error(record.status());
  if (store::is_terminal(record->state)) {
    return error_response(
        failed_precondition(fmt::format("job {} already ended ({}); nothing to cancel", job.value(),
                                        store::job_state_name(record->state))));
  }
  // The state the cancel left, read under the engine's lock: read after it, a tick that
  // had meanwhile seen a stopped job's end made a running job's answer CANCELLED instead of
  // RUNNING (stopping), now and then, on a busy machine.
  Json stopping;
  // Read before the lock: a name service may take its time, and the engine waits for none.
  const std::string by = user_name(request.uid);
  Result<store::JobRecord> after = [&]() -> Result<store::JobRecord> {
    std::lock_guard lock(*options_.engine_mutex);
    FASTGPU_RETURN_IF_ERROR(options_.engine->cancel(job, request.uid, by));
    Result<store::JobRecord> cancelled = options_.store->get_job(job);
    if (cancelled.ok()) stopping = stopping_json(*options_.engine, *cancelled);
    return cancelled;
  }();
  if (!after.ok()) return error_response(after.status());
  if (options_.wake_loop) options_.wake_loop();
  Json json = job_record_to_json(*after);
  if (!stopping.is_null()) json["stopping"] = std::move(stopping);
  return {200, std::move(json)};
}

namespace {

// What POST /v1/jobs/ID/update asks: the fields it sets, and `time_limit_step_s`, a
// move of the job's present limit by that many seconds (Slurm's TimeLimit=+60), made
// where the limit is read, so that two moves at once both count.
struct AskedUpdate {
  store::QueuedJobChange change;
  std::optional<std::int64_t> limit_step_s;
};

// The most a limit may move by in one step: about 100 years, far past any limit and far
// from an overflow.
constexpr std::int64_t kMostLimitStepS = std::int64_t{100} * 365 * 24 * 3600;

// The body of POST /v1/jobs/ID/update: {"priority": 5, "time_limit_s": 7200, "grace_s": 60,
// "deadline_us": ...} or {"time_limit_step_s": 3600}, each optional, null clearing the
// time limit, grace and deadline; at least one.
Result<AskedUpdate> update_from_json(std::string_view body) {
  const Json json = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  constexpr std::string_view kTakes =
      "send an object of the fields to change: priority, time_limit_s, grace_s, deadline_us "
      "(null clears the last three), or time_limit_step_s to move the present limit, e.g. "
      "{\"priority\": 5}";
  if (json.is_discarded() || !json.is_object() || json.empty()) {
    return invalid_argument(fmt::format("nothing to change: {}", kTakes));
  }
  AskedUpdate asked;
  store::QueuedJobChange& change = asked.change;
  for (const auto& [field, value] : json.items()) {
    const bool whole = value.is_number_integer();
    if (field == "priority") {
      if (!whole || value.get<std::int64_t>() < std::numeric_limits<int>::min() ||
          value.get<std::int64_t>() > std::numeric_limits<int>::max()) {
        return invalid_argument(fmt::format(
            "priority {} is not a whole number of 32 bits; give e.g. 5 or -3", value.dump()));
      }
      change.priority = value.get<int>();
      continue;
    }
    if (field == "time_limit_step_s") {
      if (!whole || value.get<std::int64_t>() < -kMostLimitStepS ||
          value.get<std::int64_t>() > kMostLimitStepS) {
        return invalid_argument(fmt::format(
            "time_limit_step_s {} must be a whole number of seconds, at most {} either way; "
            "e.g. 3600 adds an hour to the job's limit, -1800 takes half an hour off",
            value.dump(), kMostLimitStepS));
      }
      asked.limit_step_s = value.get<std::int64_t>();
      continue;
    }
    if (field != "time_limit_s" && field != "grace_s" && field != "deadline_us") {
      return invalid_argument(fmt::format("unknown field '{}': {}", field, kTakes));
    }
    if (!whole && !value.is_null()) {
      return invalid_argument(
          fmt::format("{} {} must be a whole number or null", field, value.dump()));
    }
    const std::optional<std::int64_t> number =
        whole ? std::optional(value.get<std::int64_t>()) : std::nullopt;
    if (field == "time_limit_s") change.time_limit_s = number;
    if (field == "grace_s") change.kill_grace_s = number;
    if (field == "deadline_us") {
      change.deadline = number ? std::optional(store::WallTime(std::chrono::microseconds(*number)))
                               : std::nullopt;
    }
  }
  if (asked.limit_step_s && change.time_limit_s) {
    return invalid_argument(
        "time_limit_s and time_limit_step_s both given: send the new limit, or the step to move "
        "the present one by, not both");
  }
  return asked;
}

// The time limit of `job` (as it is now) moved by `step` seconds; refused when it has none,
// or when the move leaves none.
Result<std::int64_t> stepped_limit(const store::JobRecord& job, std::int64_t step) {
  const std::string by =
      (step < 0 ? "-" : "+") + format_duration(Seconds(static_cast<double>(std::abs(step))));
  if (!job.spec.time_limit_s) {
    return invalid_argument(fmt::format(
        "job {} has no time limit to move by {}; give a whole one (`fastgpu update {} --time 4h`)",
        job.id.value(), by, job.id.value()));
  }
  const std::int64_t moved = *job.spec.time_limit_s + step;
  if (moved <= 0) {
    return invalid_argument(fmt::format(
        "job {}'s time limit of {} moved by {} leaves none; give a whole one (`--time 30m`)",
        job.id.value(), format_duration(Seconds(static_cast<double>(*job.spec.time_limit_s))), by));
  }
  return moved;
}

}  // namespace

ApiResponse ApiService::change(const ApiRequest& request, JobId job, std::string_view what) {
  Result<store::JobRecord> record = owned_job(request, job);
  if (!record.ok()) return ownership_error(record.status());
  store::QueuedJobChange change;
  std::optional<std::int64_t> step;  // time_limit_step_s
  if (what == "hold") {
    change.held_by = std::optional<std::uint32_t>(request.uid);
  } else if (what == "release") {
    if (record->spec.held_by == kRootUid && request.uid != kRootUid) {
      return forbidden(
          fmt::format("job {} was held by root, and only root releases it", job.value()));
    }
    change.held_by = std::optional<std::uint32_t>();
  } else {
    Result<AskedUpdate> asked = update_from_json(request.body);
    if (!asked.ok()) return error_response(asked.status());
    change = std::move(asked->change);
    step = asked->limit_step_s;
  }
  Result<store::JobRecord> after = [&]() -> Result<store::JobRecord> {
    std::lock_guard lock(*options_.engine_mutex);
    if (step) {
      // Read under the lock the change is made under: no other change comes between.
      Result<store::JobRecord> now = options_.store->get_job(job);
      if (!now.ok()) return now.status();
      Result<std::int64_t> moved = stepped_limit(*now, *step);
      if (!moved.ok()) return moved.status();
      change.time_limit_s = std::optional<std::int64_t>(*moved);
    }
    FASTGPU_RETURN_IF_ERROR(options_.engine->change_job(job, request.uid, change));
    return options_.store->get_job(job);
  }();
  if (!after.ok()) return error_response(after.status());
  // A released job may start now. An update waits for the next tick, which builds the
  // scheduler again (0.2 s of CPU at 100,000 queued jobs): a tick per request would do so
  // once per job of `fastgpu update --name sweep`.
  if (what == "release" && options_.wake_loop) options_.wake_loop();
  return {200, job_record_to_json(*after)};
}

ApiResponse ApiService::log(const ApiRequest& request, JobId job) {
  Result<store::JobRecord> record = owned_job(request, job);
  if (!record.ok()) return ownership_error(record.status());
  std::uint64_t offset = 0;
  if (auto it = request.query.find("offset"); it != request.query.end()) {
    Result<std::uint64_t> parsed = parse_number(it->second, "offset");
    if (!parsed.ok()) return error_response(parsed.status());
    offset = *parsed;
  }
  // text (UTF-8, what a JSON string holds) or base64 (every byte as it was written).
  bool base64 = false;
  if (auto it = request.query.find("encoding"); it != request.query.end()) {
    if (it->second != "text" && it->second != "base64") {
      return error_response(invalid_argument(fmt::format(
          "encoding '{}' is unknown; use encoding=text or encoding=base64", it->second)));
    }
    base64 = it->second == "base64";
  }
  std::optional<std::uint64_t> size;
  Result<std::string> data =
      read_log_chunk(record->log_path, offset, options_.max_log_chunk_bytes, size);
  if (!data.ok()) return error_response(data.status());
  // Shorter than what the follower already read: the file was truncated (logrotate's
  // copytruncate, `: > 12.log`), and what the job writes now starts over at 0. A follower
  // at its old offset read nothing more, silently, for the rest of the job.
  const bool truncated = size && offset > *size;
  // An ended job's log is whole: its last bytes go as they are, the rest on a character.
  const bool whole =
      store::is_terminal(record->state) && data->size() < options_.max_log_chunk_bytes;
  // A chunk the size limit cut to less than one character (a limit under 4 bytes) goes as
  // it is: held back, it would never come.
  if (!base64 && !whole) {
    const std::size_t kept = whole_characters(*data);
    if (kept > 0 || data->size() < options_.max_log_chunk_bytes) data->resize(kept);
  }
  const std::uint64_t next = offset + data->size();
  // The job ended and everything it wrote has been read: `logs -f` may stop.
  const bool done = store::is_terminal(record->state) && data->empty() && !truncated;
  // Whether the job's program ever ran: a job that ended without (cancelled while queued,
  // its dependency failed, its launch failed: the store clears a failed launch's start)
  // has no output to wait for, only the reason it never ran. A run re-adopted after a
  // daemon restart may lack its pid, not its start; a running job counts (its pid is
  // recorded a moment after its output may begin).
  const bool started = record->job_pid.has_value() || record->start_time.has_value() ||
                       record->state == store::JobState::kRunning;
  // A log that its job's program began writing (the supervisor opens it before it starts
  // the program, whose pid it then reports) and that is not there now was deleted: nothing
  // more will appear in it (the supervisor writes on into the file it holds open).
  std::error_code unknown;
  const bool ran_or_runs = record->state == store::JobState::kRunning
                               ? record->job_pid.has_value()
                               : store::is_terminal(record->state) && started;
  const bool log_missing = ran_or_runs && data->empty() && !record->log_path.empty() &&
                           !std::filesystem::exists(record->log_path, unknown) && !unknown;
  Json answer{
      {"id", job.value()},
      {"state", store::job_state_name(record->state)},
      {"offset", offset},
      {"next_offset", next},
      {"encoding", base64 ? "base64" : "text"},
      {"done", done},
      {"truncated", truncated},
      {"size", size ? Json(*size) : Json(nullptr)},
      {"started", started},
      {"log_missing", log_missing},
      {"log_path", record->log_path},
      {"end_reason", record->end_reason.empty() ? Json(nullptr) : Json(record->end_reason)}};
  if (!base64) {
    answer["data"] = std::move(*data);
    return {200, std::move(answer)};
  }
  // Base64 needs no escaping: it goes into the answer's text as it is encoded, where the
  // JSON tree copied it and its writer scanned every byte for escapes (with the encoding,
  // half the daemon's CPU in `fastgpu logs` of a 128 MiB log, 1 MiB an answer).
  ApiResponse response;
  response.text = compact_text(answer);
  response.text.pop_back();  // the closing brace
  response.text.reserve(response.text.size() + data->size() / 3 * 4 + 16);
  response.text += ",\"data\":\"";
  base64_append(response.text, *data);
  response.text += "\"}";
  return response;
}

namespace {

// "policy: fifo -> priority" for every setting that differs, and the file if it changed.
std::vector<std::string> settings_changes(const DaemonInfo& before, const Json& after,
                                          const std::string& file) {
  std::vector<std::string> changes;
  for (const sched::SettingChange& change : sched::setting_changes(before.scheduler, after)) {
    changes.push_back(fmt::format("{}: {} -> {}", change.key, change.from, change.to));
  }
  if (before.settings_file != file) {
    const auto named = [](const std::string& path) {
      return path.empty() ? std::string("the defaults") : path;
    };
    changes.push_back(
        fmt::format("settings file: {} -> {}", named(before.settings_file), named(file)));
  }
  return changes;
}

}  // namespace

ApiResponse ApiService::reload(const ApiRequest& request) {
  if (request.uid != kRootUid && request.uid != options_.owner_uid) {
    return forbidden(fmt::format(
        "only root or the daemon's own user (uid {}) reloads its settings; you are uid {}",
        options_.owner_uid, request.uid));
  }
  return reload_settings(fmt::format("`fastgpu daemon reload` of uid {}", request.uid));
}

// Reads the settings file again and hands the settings to the engine: the next tick
// orders and places the queue under them. A bad file changes nothing.
ApiResponse ApiService::reload_settings(const std::string& asked_by) {
  const auto log = [this](const std::string& line) {
    if (options_.log) options_.log(line);
  };
  if (!options_.reread_settings) {
    return error_response(failed_precondition(
        "this daemon cannot reload its settings; `fastgpu daemon stop`, then start it again"));
  }
  Result<SchedulerSettings> read = options_.reread_settings();
  if (!read.ok()) {
    // Said first, so that it does not read as part of the file's last mistake.
    const std::string message =
        "nothing changed, the daemon keeps its settings: " + read.status().message();
    log(fmt::format("settings not reloaded ({}): {}", asked_by, message));
    return error_response(invalid_argument(message));
  }
  {
    std::lock_guard lock(*options_.engine_mutex);
    const Status set = options_.engine->set_scheduler_config(read->config);
    if (!set.ok()) {
      log(fmt::format("settings not reloaded ({}): {}", asked_by, set.message()));
      return error_response(invalid_argument(set.message()));
    }
  }
  const Json now = sched::settings_json(read->config);
  const std::string file = read->file.string();
  std::vector<std::string> changes;
  {
    std::lock_guard lock(info_mutex_);
    changes = settings_changes(options_.info, now, file);
    options_.info.scheduler = now;
    options_.info.settings_file = file;
  }
  if (options_.wake_loop) options_.wake_loop();
  std::vector<std::string> said = changes;
  if (said.empty()) said.emplace_back("nothing changed");
  said.insert(said.end(), read->overridden.begin(), read->overridden.end());
  log(fmt::format("settings read again ({}): {}", asked_by, fmt::join(said, "; ")));
  return {200, Json{{"changed", changes},
                    {"overridden", read->overridden},
                    {"settings_file", file.empty() ? Json(nullptr) : Json(file)},
                    {"scheduler", now}}};
}

void ApiService::note_problem(const std::string& message) {
  std::lock_guard lock(info_mutex_);
  problem_ = message;
  problem_at_ = std::chrono::steady_clock::now();
}

ApiResponse ApiService::daemon_info() {
  DaemonInfo info;
  Json problem = nullptr;
  {
    std::lock_guard lock(info_mutex_);
    info = options_.info;
    const auto age = std::chrono::steady_clock::now() - problem_at_;
    if (!problem_.empty() && age < kProblemShownFor) {
      problem =
          Json{{"message", problem_}, {"seconds_ago", std::chrono::duration<double>(age).count()}};
    }
  }
  const double uptime =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - info.started).count();
  const auto setting = [&info](const char* key) {
    return info.scheduler.is_object() ? info.scheduler.value(key, std::string()) : std::string();
  };
  // Counted by the store from its state index: every command asks this first, and listing
  // the ids of 100,000 queued jobs to count them took 50-85 ms.
  Result<std::map<store::JobState, std::uint64_t>> by_state = options_.store->count_jobs_by_state();
  if (!by_state.ok()) return error_response(by_state.status());
  Json counts = Json::object();
  for (store::JobState state :
       {store::JobState::kQueued, store::JobState::kRunning, store::JobState::kCompleted,
        store::JobState::kFailed, store::JobState::kCancelled, store::JobState::kTimeout,
        store::JobState::kPreempted}) {
    const auto found = by_state->find(state);
    counts[std::string(store::job_state_name(state))] =
        found == by_state->end() ? 0 : found->second;
  }
  return {200, Json{{"pid", info.pid},
                    {"version", info.version},
                    {"uptime_s", uptime},
                    {"socket", info.socket.string()},
                    {"state_dir", info.state_dir.string()},
                    {"gpus_source", info.gpus_source},
                    {"gpus_note", info.gpus_note},
                    {"devices", info.devices.empty() ? Json(nullptr) : Json(info.devices)},
                    {"cpu_slots", info.cpu_slots},
                    {"sample_interval_s", info.sample_interval_s},
                    {"sample_retention_s", info.sample_retention_s},
                    {"job_retention_s", info.job_retention_s},
                    {"metrics_listen",
                     info.metrics_listen.empty() ? Json(nullptr) : Json(info.metrics_listen)},
                    {"shared", info.shared},
                    {"problem", problem},
                    {"policy", setting("policy")},
                    {"strategy", setting("strategy")},
                    {"scheduler", info.scheduler},
                    {"settings_file",
                     info.settings_file.empty() ? Json(nullptr) : Json(info.settings_file)},
                    {"jobs", counts}}};
}

ApiResponse ApiService::gpus(const ApiRequest& request) {
  GpuReading reading;
  std::vector<engine::GpuLedger> ledger;
  {
    std::lock_guard lock(*options_.engine_mutex);
    reading = options_.engine->last_reading();
    ledger = options_.engine->gpu_ledger();
  }
  cli::StatusContext context{"", "", iso_time(options_.clock->now()), {}};
  // Names are read outside the engine's lock: a name service may be slow to answer.
  std::map<std::uint32_t, std::string> names;
  const auto name_of = [&](std::uint32_t uid) -> const std::string& {
    auto found = names.find(uid);
    if (found != names.end()) return found->second;
    return names
        .emplace(uid, options_.user_name ? options_.user_name(uid) : "uid " + std::to_string(uid))
        .first->second;
  };
  for (const engine::GpuLedger& row : ledger) {
    cli::LedgerView view{.open = row.open,
                         .gone = row.gone,
                         .usable_bytes = row.usable_bytes,
                         .foreign_bytes = row.foreign_bytes,
                         .declared_bytes = row.declared_bytes,
                         .free_bytes = row.free_bytes,
                         .share_used = row.share_used,
                         .free_share = row.free_share,
                         .jobs = {},
                         .processes = {}};
    for (const engine::GpuHold& hold : row.jobs) {
      cli::LedgerHold shown;
      shown.user = name_of(hold.uid);
      shown.bytes = hold.bytes;
      shown.share = hold.share;
      // Another user's job is theirs to name, as the job listings keep it (root sees all).
      if (request.uid == kRootUid || hold.uid == request.uid) {
        shown.job = hold.job.value();
        if (!hold.name.empty()) shown.name = hold.name;
        if (!hold.command.empty()) shown.command = hold.command;
      }
      view.jobs.push_back(std::move(shown));
    }
    for (const engine::GpuLedger::Process& process : row.processes) {
      cli::LedgerView::Process shown;
      shown.pid = process.pid;
      shown.user = name_of(process.uid);
      if (request.uid == kRootUid || process.uid == request.uid) shown.job = process.job.value();
      view.processes.push_back(std::move(shown));
    }
    context.ledgers.emplace(row.index, std::move(view));
  }
  Json json = cli::status_to_json(reading, context);
  json["note"] = options_.info.gpus_note;
  return {200, json};
}

ApiResponse ApiService::gpu_samples(const ApiRequest& request) {
  constexpr std::uint64_t kLongest = 3600;
  std::uint64_t seconds = 600;
  if (auto it = request.query.find("seconds"); it != request.query.end()) {
    Result<std::uint64_t> given = parse_number(it->second, "seconds");
    if (!given.ok()) return error_response(given.status());
    if (*given < 1 || *given > kLongest) {
      return error_response(invalid_argument(fmt::format(
          "seconds={} is not from 1 to {}: the samples of the last hour at most are served; "
          "give e.g. seconds=600",
          *given, kLongest)));
    }
    seconds = *given;
  }
  const store::WallTime now = options_.clock->now();
  store::WallTime from = now - std::chrono::seconds(seconds);
  if (auto it = request.query.find("after_us"); it != request.query.end()) {
    Result<std::uint64_t> after = parse_number(it->second, "after_us");
    if (!after.ok()) return error_response(after.status());
    // Only what came since a sample the caller has: newer than it, and within `seconds`.
    from = std::max(from, store::WallTime(std::chrono::microseconds(*after + 1)));
  }
  // Just past now: a sample taken in this very microsecond is included.
  Result<std::vector<store::Sample>> samples =
      options_.store->samples_between(from, now + std::chrono::microseconds(1));
  if (!samples.ok()) return error_response(samples.status());
  // Columns per GPU, in the order of time (the store's order): a few bytes a sample.
  std::map<std::uint32_t, Json> by_gpu;
  for (const store::Sample& sample : *samples) {
    Json& gpu = by_gpu[sample.gpu];
    if (gpu.is_null()) {
      gpu = Json{{"index", sample.gpu},
                 {"at_us", Json::array()},
                 {"util_percent", Json::array()},
                 {"memory_used_bytes", Json::array()},
                 {"power_watts", Json::array()}};
    }
    gpu["at_us"].push_back(sample.at.time_since_epoch().count());
    gpu["util_percent"].push_back(optional_json(sample.util_percent));
    gpu["memory_used_bytes"].push_back(optional_json(sample.memory_used));
    gpu["power_watts"].push_back(optional_json(sample.power_watts));
  }
  Json gpus = Json::array();
  for (auto& [index, gpu] : by_gpu) gpus.push_back(std::move(gpu));
  double interval_s = 0;
  {
    std::lock_guard lock(info_mutex_);
    interval_s = options_.info.sample_interval_s;
  }
  return {200, Json{{"interval_s", interval_s},
                    {"to_us", now.time_since_epoch().count()},
                    {"gpus", std::move(gpus)}}};
}

ApiResponse ApiService::metrics(const ApiRequest& request) {
  std::string format = "prometheus";
  if (auto it = request.query.find("format"); it != request.query.end()) format = it->second;
  if (format != "prometheus" && format != "json") {
    return error_response(invalid_argument(fmt::format(
        "format '{}' is not one the metrics come in; use format=prometheus (the default) or "
        "format=json",
        format)));
  }
  return metrics_for(request.uid, format == "json");
}

ApiResponse ApiService::scrape_metrics() {
  try {
    return metrics_for(std::nullopt, false);
  } catch (const std::exception& error) {
    return error_response(internal_error(fmt::format("GET /metrics: {}", error.what())));
  }
}

ApiResponse ApiService::metrics_for(std::optional<std::uint32_t> jobs_of, bool json) {
  MetricsInput input;
  if (jobs_of) {
    store::JobFilter running;
    running.states = {store::JobState::kRunning};
    if (*jobs_of != kRootUid) running.uid = *jobs_of;
    Result<std::vector<store::JobRecord>> jobs = options_.store->list_jobs(running);
    if (!jobs.ok()) return error_response(jobs.status());
    input.running = std::move(*jobs);
  }
  {
    std::lock_guard lock(*options_.engine_mutex);
    input.reading = options_.engine->last_reading();
    input.held_jobs = options_.engine->held_jobs();
    for (const store::JobRecord& job : input.running) {
      if (auto used = options_.engine->running_usage(job.id)) input.usage[job.id] = *used;
    }
  }
  DaemonInfo info;
  {
    std::lock_guard lock(info_mutex_);
    info = options_.info;
  }
  input.uptime_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - info.started).count();
  input.hostname = cli::host_name();
  input.now = options_.clock->now();
  Result<std::map<store::JobState, std::uint64_t>> by_state = options_.store->count_jobs_by_state();
  if (!by_state.ok()) return error_response(by_state.status());
  input.jobs_by_state = std::move(*by_state);
  Result<std::map<store::JobState, std::uint64_t>> entries = options_.store->count_state_entries();
  if (!entries.ok()) return error_response(entries.status());
  input.entries_by_state = std::move(*entries);
  const std::vector<MetricFamily> families = metric_families(input);
  if (json) return {200, Json{{"metrics", metrics_json(families)}}};
  ApiResponse response;
  response.text = prometheus_text(families);
  response.content_type = "text/plain; version=0.0.4; charset=utf-8";
  return response;
}

}  // namespace fastgpu::api
