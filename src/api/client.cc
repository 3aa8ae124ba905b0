#include "fastgpu/api/client.h"

#include <fmt/format.h>
#include <httplib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string_view>
#include <utility>

namespace fastgpu::api {
namespace {

ErrorCode code_from_name(std::string_view name) {
  for (ErrorCode code :
       {ErrorCode::kInvalidArgument, ErrorCode::kNotFound, ErrorCode::kFailedPrecondition,
        ErrorCode::kUnavailable, ErrorCode::kIoError, ErrorCode::kUnsupported}) {
    if (name == error_code_name(code)) return code;
  }
  if (name == "permission denied") return ErrorCode::kFailedPrecondition;
  return ErrorCode::kInternal;
}

// Why a request found no daemon, in words: httplib names only its step ("Connection",
// "Read"), and for a unix socket the file says which connect failure it was.
std::string failure_text(httplib::Error error, const std::filesystem::path& socket,
                         std::chrono::seconds timeout) {
  switch (error) {
    case httplib::Error::Connection: {
      // Without an error code, a folder on the way the caller may not enter threw: `queue`
      // run by a user with HOME=/root aborted (exit 134).
      std::error_code unknown;
      const std::filesystem::file_status status = std::filesystem::status(socket, unknown);
      const bool exists = std::filesystem::exists(status);
      if (unknown && status.type() != std::filesystem::file_type::not_found) {
        return "the socket cannot be looked at (" + unknown.message() +
               "): a folder on its path is another user's; set FASTGPU_SOCKET to your daemon's";
      }
      if (!exists) return "the socket does not exist";
      if (::access(socket.c_str(), R_OK | W_OK) != 0 && errno == EACCES) {
        return "permission denied on the socket (it is another user's daemon)";
      }
      return "nothing listens on the socket (the daemon that made it stopped or was killed)";
    }
    case httplib::Error::ConnectionTimeout:
      return fmt::format("connecting timed out after {} s", timeout.count());
    case httplib::Error::Read:
      return fmt::format(
          "the daemon closed the connection without an answer, or gave none within {} s",
          timeout.count());
    case httplib::Error::Write: return "the connection broke while the request was sent";
    default: return "the request failed (" + httplib::to_string(error) + ")";
  }
}

}  // namespace

ApiClient::ApiClient(std::filesystem::path socket, std::chrono::seconds timeout)
    : socket_(std::move(socket)), timeout_(timeout) {}

Result<ApiClient::TextReply> ApiClient::exchange_text(const std::string& method,
                                                      const std::string& target,
                                                      const std::string& body) const {
  last_timed_out_ = false;
  httplib::Client client(socket_.string(), 80);
  client.set_address_family(AF_UNIX);
  const auto seconds = static_cast<time_t>(timeout_.count());
  client.set_connection_timeout(seconds, 0);
  client.set_read_timeout(seconds, 0);
  client.set_write_timeout(seconds, 0);
  httplib::Result result = method == "POST" ? client.Post(target.c_str(), body, "application/json")
                                            : client.Get(target.c_str());
  if (!result) {
    last_timed_out_ = result.error() == httplib::Error::ConnectionTimeout ||
                      result.error() == httplib::Error::Read;
    return unavailable(
        fmt::format("no FastGPU daemon answers on '{}': {}; start one with `fastgpu daemon start`",
                    socket_.string(), failure_text(result.error(), socket_, timeout_)));
  }
  return TextReply{result->status, std::move(result->body)};
}

Result<ApiReply> ApiClient::parse_reply(TextReply text) const {
  ApiReply reply;
  reply.status = text.status;
  reply.body = Json::parse(text.body, nullptr, /*allow_exceptions=*/false);
  if (reply.body.is_discarded()) {
    return internal_error(
        fmt::format("the daemon on '{}' answered {} with a body that is not "
                    "JSON: {}",
                    socket_.string(), text.status, text.body));
  }
  return reply;
}

Result<ApiReply> ApiClient::exchange(const std::string& method, const std::string& target,
                                     const std::string& body) const {
  Result<TextReply> text = exchange_text(method, target, body);
  if (!text.ok()) return text.status();
  return parse_reply(std::move(text).value());
}

namespace {

// The error body's `refused`: every refused job of a batch (docs/api.md); an entry that does
// not read as one is left out.
std::vector<BatchJobError> refused_jobs_of(const Json& body) {
  std::vector<BatchJobError> jobs;
  if (!body.is_object() || !body.contains("refused") || !body["refused"].is_array()) return jobs;
  const auto text = [](const Json& entry, const char* key) {
    return entry.contains(key) && entry[key].is_string() ? entry[key].get<std::string>()
                                                         : std::string();
  };
  for (const Json& entry : body["refused"]) {
    if (!entry.is_object() || !entry.contains("batch_index") ||
        !entry["batch_index"].is_number_unsigned() || !entry.contains("problem") ||
        !entry["problem"].is_string()) {
      continue;
    }
    jobs.push_back(BatchJobError{entry["batch_index"].get<std::size_t>(),
                                 entry["problem"].get<std::string>(), text(entry, "error"),
                                 text(entry, "field")});
  }
  return jobs;
}

}  // namespace

Status reply_error(const ApiReply& reply) {
  std::string message = fmt::format("the daemon answered HTTP {}", reply.status);
  std::string code;
  if (reply.body.is_object() && reply.body.contains("error") && reply.body["error"].is_string()) {
    message = reply.body["error"].get<std::string>();
  }
  if (reply.body.is_object() && reply.body.contains("code") && reply.body["code"].is_string()) {
    code = reply.body["code"].get<std::string>();
  }
  Status error(code_from_name(code), message);
  const Json* index = reply.body.is_object() && reply.body.contains("batch_index")
                          ? &reply.body["batch_index"]
                          : nullptr;
  if (error.ok()) return error;
  if (std::vector<BatchJobError> refused = refused_jobs_of(reply.body); !refused.empty()) {
    return error.with_batch_jobs(std::move(refused));
  }
  if (index != nullptr && index->is_number_unsigned() && reply.body.contains("problem") &&
      reply.body["problem"].is_string()) {
    return error.with_batch_job(index->get<std::size_t>(),
                                reply.body["problem"].get<std::string>());
  }
  return error;
}

Result<Json> ApiClient::get(const std::string& target) const {
  Result<ApiReply> reply = exchange("GET", target, "");
  if (!reply.ok()) return reply.status();
  if (reply->status >= 300) return reply_error(*reply);
  return std::move(reply->body);  // not copied: a listing may be 100,000 jobs
}

Result<std::string> ApiClient::get_text(const std::string& target) const {
  Result<TextReply> text = exchange_text("GET", target, "");
  if (!text.ok()) return text.status();
  if (text->status < 300) return std::move(text->body);
  Result<ApiReply> reply = parse_reply(std::move(text).value());
  if (!reply.ok()) return reply.status();
  return reply_error(*reply);
}

Result<Json> ApiClient::post(const std::string& target, const Json& body) const {
  Result<ApiReply> reply = exchange("POST", target, body.dump());
  if (!reply.ok()) return reply.status();
  if (reply->status >= 300) return reply_error(*reply);
  return std::move(reply->body);  // not copied: a listing may be 100,000 jobs
}

bool ApiClient::reachable() const { return get("/v1/daemon").ok(); }

}  // namespace fastgpu::api
