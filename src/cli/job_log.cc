// A job's output (stdout and stderr) printed, followed as it grows: `logs [-f]` and
// `submit --follow`.

#include "cli/job_log.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string_view>
#include <thread>

#include "core/base64.h"
#include "fastgpu/store/state_store.h"

namespace fastgpu::cli {
namespace {

// A follower's pause between reads that found nothing new: 50 ms after output (or at the
// start), doubling to 300 ms while the job is quiet. A fixed 300 ms made `submit -f` of a
// job that ends at once take 0.36 s where `submit -W` took 0.12 s.
constexpr auto kFirstPause = std::chrono::milliseconds(50);
constexpr auto kFollowInterval = std::chrono::milliseconds(300);

// The job has ended and all its output is printed. A job that never started has none: that
// is a failure to say so, with why (exit 1), not an empty success. One that ran but wrote
// nothing and did not complete gets a line on stderr saying how it ended, so an empty
// output does not read as a job that had nothing to say. A log with lines is printed as
// it is, whatever the record says (a run re-adopted after a daemon restart may lack its
// pid, and a supervisor that could not start a job writes why into its log).
// Followed (-f), the exit status says how the job ended, as `wait`'s does: 1 for a job that
// did not complete (`fastgpu logs -f ID && next-step`), with a line on stderr saying why.
// Without -f it only prints the log, and a log printed whole is a success.
int finish_logs(const std::string& verb, const std::string& id, const api::Json& chunk,
                bool printed_any, bool follow) {
  const api::Json& reason = chunk["end_reason"];
  const std::string why = reason.is_string() ? reason.get<std::string>() : "no reason recorded";
  const std::string state = chunk["state"].get<std::string>();
  if (!printed_any && chunk.contains("started") && !chunk["started"].get<bool>()) {
    std::fprintf(stderr, "fastgpu %s: job %s never started: %s\n", verb.c_str(), id.c_str(),
                 why.c_str());
    return kExitFailure;
  }
  if (state == "COMPLETED") return kExitOk;
  if (!printed_any) {
    std::fprintf(stderr, "fastgpu %s: job %s wrote nothing; it ended %s: %s\n", verb.c_str(),
                 id.c_str(), state.c_str(), why.c_str());
  } else if (follow) {
    std::fprintf(stderr, "fastgpu %s: job %s did not complete: it ended %s: %s\n", verb.c_str(),
                 id.c_str(), state.c_str(), why.c_str());
  }
  return follow ? kExitFailure : kExitOk;
}

// The job's program wrote a log that is not there any more (deleted): an empty output would
// read as a job that printed nothing, so say so and fail (exit 1).
int log_missing(const LogReading& how, const std::string& id, const api::Json& chunk) {
  if (how.json) print_text(chunk.dump() + "\n");
  std::fprintf(stderr,
               "fastgpu %s: job %s's log %s is not there: it was deleted after the job began "
               "writing it, so its output cannot be shown\n",
               how.verb.c_str(), id.c_str(),
               chunk.value("log_path", std::string("(no path)")).c_str());
  return kExitFailure;
}

// Where the last `lines` lines of `bytes` start: after the newline before them (the last
// line's own newline, at the end, is not counted). nullopt when `bytes` holds fewer.
std::optional<std::size_t> tail_start_in(std::string_view bytes, std::uint64_t lines) {
  if (lines == 0) return bytes.size();
  std::size_t end = bytes.size();
  if (end > 0 && bytes[end - 1] == '\n') --end;
  std::uint64_t seen = 0;
  for (std::size_t at = end; at-- > 0;) {
    if (bytes[at] == '\n' && ++seen == lines) return at + 1;
  }
  return std::nullopt;
}

// The bytes of job `id`'s log from `offset` to `end` (fewer when it was truncated meanwhile).
Result<std::string> read_log_bytes(ReconnectingClient& client, std::uint64_t id,
                                   std::uint64_t offset, std::uint64_t end) {
  std::string bytes;
  while (offset < end) {
    Result<api::Json> chunk =
        client.get(fmt::format("/v1/jobs/{}/log?offset={}&encoding=base64", id, offset));
    if (!chunk.ok()) return chunk.status();
    const std::uint64_t next = chunk->value("next_offset", offset);
    if (chunk->value("truncated", false) || next <= offset) break;
    Result<std::string> piece = base64_decode((*chunk)["data"].get_ref<const std::string&>());
    if (!piece.ok()) return piece.status().with_context("the daemon's answer");
    bytes += *piece;
    offset = next;
  }
  return bytes;
}

// The offset where the log's last `lines` lines start, read from its end: the whole log
// when the first answer holds it, else the last 64 KiB, then four times as much until they
// hold that many lines or the whole log. 0 for a job with no log yet.
Result<std::uint64_t> tail_offset(ReconnectingClient& client, std::uint64_t id,
                                  std::uint64_t lines) {
  Result<api::Json> first = client.get(fmt::format("/v1/jobs/{}/log?offset=0&encoding=base64", id));
  if (!first.ok()) return first.status();
  const api::Json& size_field = (*first)["size"];
  if (!size_field.is_number_unsigned()) return std::uint64_t{0};
  const std::uint64_t size = size_field.get<std::uint64_t>();
  if (first->value("next_offset", std::uint64_t{0}) >= size) {
    Result<std::string> bytes = base64_decode((*first)["data"].get_ref<const std::string&>());
    if (!bytes.ok()) return bytes.status().with_context("the daemon's answer");
    return tail_start_in(*bytes, lines).value_or(0);
  }
  for (std::uint64_t window = 64 * 1024;; window *= 4) {
    const std::uint64_t start = size > window ? size - window : 0;
    Result<std::string> bytes = read_log_bytes(client, id, start, size);
    if (!bytes.ok()) return bytes.status();
    if (const std::optional<std::size_t> at = tail_start_in(*bytes, lines)) return start + *at;
    if (start == 0) return std::uint64_t{0};  // fewer lines than asked: all of them
  }
}

}  // namespace

int print_job_log(ReconnectingClient& client, std::uint64_t job_id, LogReading how) {
  const std::string id = std::to_string(job_id);
  const char* verb = how.verb.c_str();
  std::uint64_t offset = 0;
  if (how.tail_lines) {
    Result<std::uint64_t> start = tail_offset(client, job_id, *how.tail_lines);
    if (!start.ok()) return fail(how.verb, start.status());
    offset = *start;
  }
  const std::uint64_t first_offset = offset;
  // --json: the answer as the API gives it (docs/api.md), the whole output read so far in
  // one `data` (gathered here, printed with the last answer); with -f, one such line per
  // piece as it comes (JSON Lines).
  const bool whole_json = how.json && !how.follow;
  std::string output;
  const auto print_whole = [&output, first_offset](api::Json last) {
    last["offset"] = first_offset;
    last["data"] = std::move(output);
    print_json(last);
  };
  // The plain output is the log's bytes as the job wrote them, UTF-8 or not: they come as
  // base64 (a JSON string would carry bytes that are not UTF-8 as U+FFFD).
  const char* encoding = how.json ? "text" : "base64";
  std::chrono::milliseconds pause = kFirstPause;
  while (true) {
    Result<api::Json> chunk =
        client.get(fmt::format("/v1/jobs/{}/log?offset={}&encoding={}", job_id, offset, encoding));
    if (!chunk.ok()) return fail(how.verb, chunk.status());
    if (chunk->value("log_missing", false)) return log_missing(how, id, *chunk);
    if (chunk->value("truncated", false)) {
      // What the job writes now starts over at the file's start: read from there, and say
      // so (a follower at its old offset had read nothing more, silently).
      std::fprintf(stderr,
                   "fastgpu %s: job %s's log is now %s bytes, fewer than the %s already read: "
                   "it was truncated (logrotate's copytruncate, or `: > FILE`); reading it again "
                   "from its start\n",
                   verb, id.c_str(), (*chunk)["size"].dump().c_str(),
                   std::to_string(offset).c_str());
      offset = 0;
      continue;
    }
    const std::string& data = (*chunk)["data"].get_ref<const std::string&>();
    const bool done = (*chunk)["done"].get<bool>();
    // A job that ended without starting (its launch failed) may have the supervisor's line
    // saying why in its log: finish_logs() says it, on stderr, exit 1.
    if (!how.json && chunk->contains("started") && !(*chunk)["started"].get<bool>()) {
      const Result<store::JobState> state =
          store::parse_job_state((*chunk)["state"].get<std::string>());
      if (state.ok() && store::is_terminal(*state)) {
        return finish_logs(how.verb, id, *chunk, false, how.follow);
      }
    }
    if (!data.empty() && how.before_output) {
      how.before_output();
      how.before_output = nullptr;
    }
    if (whole_json) {
      output += data;
    } else if (how.json) {
      if (!data.empty() || done) print_text(chunk->dump() + "\n");
    } else if (chunk->value("encoding", "text") == "base64") {
      Result<std::string> bytes = base64_decode(data);
      if (!bytes.ok()) return fail(how.verb, bytes.status().with_context("the daemon's answer"));
      print_text(*bytes);
    } else {
      print_text(data);  // a daemon from before encoding=base64
    }
    const std::uint64_t next = (*chunk)["next_offset"].get<std::uint64_t>();
    const bool more_now = next > offset;
    offset = next;
    if (whole_json && (done || !more_now)) print_whole(*chunk);
    if (done) return finish_logs(how.verb, id, *chunk, offset > 0, how.follow);
    if (more_now) {
      pause = kFirstPause;
      continue;  // a long log comes in chunks: read on without waiting
    }
    if (!how.follow) {
      // An empty answer for a job that has not run yet is not an empty log: say so.
      if (offset == 0 && (*chunk)["state"] == "QUEUED") {
        std::fprintf(stderr,
                     "fastgpu %s: job %s has not started yet (QUEUED; `fastgpu show %s` says "
                     "why); `fastgpu logs -f %s` follows it from its start\n",
                     verb, id.c_str(), id.c_str(), id.c_str());
      }
      return kExitOk;
    }
    if (how.between_reads) how.between_reads();
    std::this_thread::sleep_for(pause);
    pause = std::min<std::chrono::milliseconds>(pause * 2, kFollowInterval);
  }
}

}  // namespace fastgpu::cli
