// A client of the daemon's API over its unix socket (used by the CLI verbs and the tests).
//
// Every call is one HTTP request on a fresh connection. A daemon that answers with an
// error ({"error", "code"}) comes back as an error Status carrying the daemon's message;
// a daemon that cannot be reached comes back as kUnavailable naming the socket.
//
// Thread-safety: an ApiClient may be used by one thread at a time.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>

#include "fastgpu/api/job_json.h"
#include "fastgpu/core/result.h"

namespace fastgpu::api {

struct ApiReply {
  int status = 0;  // the HTTP status
  Json body;
};

class ApiClient {
 public:
  // How long a call waits to connect, and then for each read and write.
  static constexpr std::chrono::seconds kDefaultTimeout{30};

  explicit ApiClient(std::filesystem::path socket, std::chrono::seconds timeout = kDefaultTimeout);

  // `target` is the path and query, e.g. "/v1/jobs?state=RUNNING".
  Result<Json> get(const std::string& target) const;
  Result<Json> post(const std::string& target, const Json& body) const;
  // GET `target`; the body as the daemon sent it, not parsed (for an answer only printed
  // again, such as a listing of 100,000 jobs). An error reply is an error Status as above.
  Result<std::string> get_text(const std::string& target) const;

  // The raw exchange: any HTTP status comes back as a value (for tests of error replies).
  Result<ApiReply> exchange(const std::string& method, const std::string& target,
                            const std::string& body) const;

  // The same with the body as the daemon sent it, not parsed (for an answer passed on
  // unread, as the dashboard passes on the page's reads).
  struct TextReply {
    int status = 0;
    std::string body;
  };
  Result<TextReply> exchange_text(const std::string& method, const std::string& target,
                                  const std::string& body) const;

  // True when a daemon answers GET /v1/daemon on the socket.
  bool reachable() const;

  const std::filesystem::path& socket() const { return socket_; }

  // Whether the last call failed because the daemon gave no answer in time (a daemon that
  // listens but is wedged), as against finding none.
  bool last_timed_out() const { return last_timed_out_; }

 private:
  Result<ApiReply> parse_reply(TextReply text) const;

  std::filesystem::path socket_;
  std::chrono::seconds timeout_;
  mutable bool last_timed_out_ = false;
};

// The error Status for a reply with an HTTP error status: the daemon's message, with the
// code it named ("permission denied" maps to kFailedPrecondition).
Status reply_error(const ApiReply& reply);

}  // namespace fastgpu::api
