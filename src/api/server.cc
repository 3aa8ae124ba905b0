#include "fastgpu/api/server.h"

#include <fmt/format.h>
#include <httplib.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <system_error>

#include "api/login_name.h"
#include "api/serving_thread.h"
#include "fastgpu/api/paths.h"
#include "fastgpu/core/text.h"

namespace fastgpu::api {
namespace {

constexpr int kIoTimeoutMs = 10000;
// Threads that serve connections. A connection holds one from its accept until it has been
// answered, so a few clients that connect and never finish their request (a stuck script, a
// half-open socket) held httplib's 8 and every other client waited out their timeouts (24
// such connections: a plain `curl` waited 30 s).
constexpr std::size_t kServingThreads = 32;

// One accepted connection as httplib sees it. The whole request must arrive within 10 s of
// the connection being taken up (a client that sends a byte now and then cannot hold a thread
// for longer), and each write gets 10 s, so a stuck client cannot hold a server thread long.
class ConnectionStream final : public httplib::Stream {
 public:
  ConnectionStream(int socket, std::uint32_t uid)
      : socket_(socket),
        uid_(uid),
        read_deadline_(std::chrono::steady_clock::now() + std::chrono::milliseconds(kIoTimeoutMs)) {
  }

  bool is_readable() const override { return consumed_ < buffered_ || wait_to_read(); }
  bool is_writable() const override { return wait_for(POLLOUT); }
  // Buffered: httplib reads a request's head one byte at a time, which unbuffered cost a
  // poll and a recv per byte.
  ssize_t read(char* ptr, size_t size) override {
    if (consumed_ == buffered_) {
      if (!wait_to_read()) return -1;
      ssize_t got = 0;
      do {
        got = ::recv(socket_, buffer_.data(), buffer_.size(), 0);
      } while (got < 0 && errno == EINTR);
      if (got <= 0) return got;
      consumed_ = 0;
      buffered_ = static_cast<std::size_t>(got);
    }
    const std::size_t count = std::min(size, buffered_ - consumed_);
    std::memcpy(ptr, buffer_.data() + consumed_, count);
    consumed_ += count;
    return static_cast<ssize_t>(count);
  }
  ssize_t write(const char* ptr, size_t size) override {
    if (!wait_for(POLLOUT)) return -1;
    ssize_t sent = 0;
    do {
      sent = ::send(socket_, ptr, size, MSG_NOSIGNAL);
    } while (sent < 0 && errno == EINTR);
    return sent;
  }
  // A unix socket has no address; "uid:N" says who is calling, in the access log.
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = fmt::format("uid:{}", uid_);
    port = 0;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = "unix";
    port = 0;
  }
  socket_t socket() const override { return socket_; }

 private:
  bool wait_for(short events, int timeout_ms = kIoTimeoutMs) const {
    pollfd entry{socket_, events, 0};
    int ready = 0;
    do {
      ready = ::poll(&entry, 1, timeout_ms);
    } while (ready < 0 && errno == EINTR);
    return ready > 0;
  }
  // Until the request's deadline; at it, only what has arrived already.
  bool wait_to_read() const {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        read_deadline_ - std::chrono::steady_clock::now());
    return wait_for(POLLIN, static_cast<int>(std::max<std::int64_t>(0, left.count())));
  }

  int socket_;
  std::uint32_t uid_;
  std::chrono::steady_clock::time_point read_deadline_;
  std::array<char, 4096> buffer_{};
  std::size_t consumed_ = 0;  // buffer_[consumed_, buffered_) is read but not yet handed out
  std::size_t buffered_ = 0;
};

// The kernel's word on who is at the other end of `socket`.
std::optional<ucred> peer_of(int socket) {
  ucred credentials{};
  socklen_t length = sizeof(credentials);
  if (::getsockopt(socket, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) {
    return std::nullopt;
  }
  return credentials;
}

// A request with neither Content-Length nor Transfer-Encoding has no body (RFC 9112, 6.3),
// which is what `curl -X POST .../cancel` sends. httplib 0.11 reads such a body until the
// client closes, so the caller waited out the 10 s timeout for an empty 400.
void treat_missing_length_as_no_body(httplib::Request& request) {
  if (request.has_header("Content-Length") || request.has_header("Transfer-Encoding")) return;
  request.set_header("Content-Length", "0");
}

// Every body is JSON, whatever its Content-Type says. `curl -d` labels it a form
// (application/x-www-form-urlencoded), which httplib refused above 8 KiB with an empty 413
// and otherwise parsed into query parameters.
void read_body_as_json(httplib::Request& request) {
  request.headers.erase("Content-Type");
  request.set_header("Content-Type", "application/json");
}

// httplib answers what it cannot read (a malformed request, a bad Content-Length) itself,
// with an empty body; every error the daemon sends is JSON (docs/api.md).
httplib::Server::HandlerResponse fill_an_empty_error(const httplib::Request& /*request*/,
                                                     httplib::Response& response) {
  if (!response.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
  const Json body{{"error", fmt::format("the daemon could not read the request (HTTP {}); send "
                                        "HTTP/1.1 with a JSON body, as docs/api.md shows",
                                        response.status)},
                  {"code", response.status >= 500 ? "internal" : "invalid argument"}};
  response.set_content(body.dump(), "application/json");
  return httplib::Server::HandlerResponse::Handled;
}

// The service's answer as the HTTP response: its status, body and content type. Moved, not
// copied as set_content would: a listing's body may be 100s of MB.
void write_answer(ApiResponse answer, httplib::Response& response) {
  response.status = answer.status;
  const std::string content_type = answer.content_type;
  response.body = std::move(answer).serialized();
  response.set_header("Content-Type", content_type);
}

class PeerCredServer final : public httplib::Server {
 public:
  explicit PeerCredServer(ApiService& service) : service_(service) {
    auto forward = [this](const httplib::Request& request, httplib::Response& response) {
      serve(request, response);
    };
    Get(".*", forward);
    Post(".*", forward);
    // The service answers every other method too (with a JSON error): httplib's own
    // answer to a method without a handler has an empty body.
    Put(".*", forward);
    Delete(".*", forward);
    Patch(".*", forward);
    Options(".*", forward);
    set_error_handler(HandlerWithResponse(fill_an_empty_error));
  }

 private:
  // Replaces httplib's per-connection processing: the same request handling, over a
  // stream that knows the caller's uid.
  bool process_and_close_socket(socket_t sock) override {
    const std::optional<ucred> peer = peer_of(sock);
    bool handled = false;
    if (peer) {
      ConnectionStream stream(sock, peer->uid);
      bool closed = false;
      const std::string caller = fmt::format("uid:{}", peer->uid);
      const pid_t pid = peer->pid;
      handled = process_request(stream, /*close_connection=*/true, closed,
                                [&caller, pid](httplib::Request& request) {
                                  request.remote_addr = caller;
                                  request.remote_port = pid;  // a unix socket has no port
                                  treat_missing_length_as_no_body(request);
                                  read_body_as_json(request);
                                });
    }
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
    return handled;
  }

  void serve(const httplib::Request& request, httplib::Response& response) {
    ApiRequest api_request;
    api_request.method = request.method;
    api_request.path = request.path;
    for (const auto& [key, value] : request.params) api_request.query[key] = value;
    api_request.body = request.body;
    // remote_addr was set by our ConnectionStream from SO_PEERCRED, never by the client.
    const std::string_view caller = std::string_view(request.remote_addr).substr(4);
    std::uint32_t uid = 0;
    if (!request.remote_addr.starts_with("uid:") ||
        std::from_chars(caller.data(), caller.data() + caller.size(), uid).ec != std::errc()) {
      response.status = 500;
      return;
    }
    api_request.uid = uid;
    api_request.pid = request.remote_port;  // set with remote_addr, from SO_PEERCRED
    write_answer(service_.handle(api_request), response);
  }

  ApiService& service_;
};

class ApiServerImpl final : public ApiServer {
 public:
  ApiServerImpl(std::unique_ptr<ServingThread> serving, std::filesystem::path socket)
      : serving_(std::move(serving)), socket_(std::move(socket)) {}
  ~ApiServerImpl() override { stop(); }

  void stop() override {
    if (!serving_->stop()) return;
    std::error_code ignored;
    std::filesystem::remove(socket_, ignored);
  }

 private:
  std::unique_ptr<ServingThread> serving_;
  std::filesystem::path socket_;
};

// Whether a process listens on `socket`: its pid (0 when the kernel does not say), nullopt
// when nothing does (the file is stale). Error: connect failed for another reason.
Result<std::optional<pid_t>> socket_listener(const std::filesystem::path& socket) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, socket.c_str(), sizeof(address.sun_path) - 1);
  // Non-blocking: a listener whose backlog is full answers EAGAIN instead of holding us.
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return io_error(fmt::format("cannot make a socket: {}", std::strerror(errno)));
  int connected = 0;
  do {
    connected = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address));
  } while (connected != 0 && errno == EINTR);
  const int error = connected == 0 ? 0 : errno;
  ucred credentials{};
  socklen_t length = sizeof(credentials);
  const bool known =
      connected == 0 && ::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0;
  ::close(fd);
  if (connected == 0) return std::optional<pid_t>(known ? credentials.pid : 0);
  if (error == EAGAIN) return std::optional<pid_t>(0);
  if (error == ECONNREFUSED || error == ENOENT) return std::optional<pid_t>();
  return io_error(fmt::format(
      "cannot tell whether a daemon listens on the socket '{}' (connect: {}); remove it if "
      "none does, or set FASTGPU_SOCKET to another path",
      socket.string(), std::strerror(error)));
}

Status prepare_socket_path(const std::filesystem::path& socket) {
  std::error_code error;
  std::filesystem::create_directories(socket.parent_path(), error);
  if (error) {
    return io_error(fmt::format("cannot create the socket folder '{}': {}",
                                socket.parent_path().string(), error.message()));
  }
  // A socket left by a daemon that died is stale; one that answers is another state
  // folder's daemon's (the caller holds its own folder's lock). (Asked with an error code:
  // a folder on the way the daemon may not enter threw, and the daemon died of it.)
  const std::filesystem::file_status status = std::filesystem::symlink_status(socket, error);
  if (error && status.type() != std::filesystem::file_type::not_found) {
    return io_error(
        fmt::format("cannot look at the socket path '{}': {}; set FASTGPU_SOCKET to "
                    "a path in a folder of yours",
                    socket.string(), error.message()));
  }
  if (std::filesystem::exists(status)) {
    if (!std::filesystem::is_socket(status)) {
      return failed_precondition(fmt::format(
          "'{}' exists and is not a socket; remove it or set FASTGPU_SOCKET to another path",
          socket.string()));
    }
    FASTGPU_RETURN_IF_ERROR(check_socket_not_in_use(socket));
    std::filesystem::remove(socket, error);
  }
  return {};
}

}  // namespace

// A socket a live process answers on is not stale: it is another state folder's daemon's
// (the caller holds its own folder's lock), or another program's. Taking it over would leave
// that daemon running jobs nobody can reach.
Status check_socket_not_in_use(const std::filesystem::path& socket) {
  Result<std::optional<pid_t>> listener = socket_listener(socket);
  if (!listener.ok()) return listener.status();
  if (!listener->has_value()) return {};
  const pid_t pid = **listener;
  // Another user's (root's shared daemon, as a rule): the caller cannot stop it.
  struct stat info {};
  if (::geteuid() != 0 && ::stat(socket.c_str(), &info) == 0 && info.st_uid != ::geteuid()) {
    return failed_precondition(fmt::format(
        "the socket '{}' is in use: {}, {}'s, listens on it, and only its owner or root may "
        "stop it; use that daemon as it is (your job verbs reach it if it admits you), or give "
        "a daemon of your own a socket of its own: unset FASTGPU_SOCKET, or set it to a path "
        "of yours",
        socket.string(), pid > 0 ? fmt::format("pid {}", pid) : std::string("a process"),
        login_name(info.st_uid)));
  }
  return failed_precondition(fmt::format(
      "the socket '{}' is in use: {} listens on it (another FastGPU daemon, with another "
      "state folder, or another program); stop it (`fastgpu daemon stop` with that daemon's "
      "FASTGPU_STATE_DIR{}), or give this daemon a socket of its own with FASTGPU_SOCKET",
      socket.string(), pid > 0 ? fmt::format("pid {}", pid) : std::string("a process"),
      pid > 0 ? fmt::format(", or `kill {}`", pid) : std::string()));
}

namespace {

// Why the socket could not be bound, and the fix. The daemon has started no job yet.
Status bind_error(const std::filesystem::path& socket, int error) {
  const std::string folder = socket.parent_path().string();
  if (error == EACCES || error == EPERM || error == EROFS) {
    return io_error(fmt::format(
        "cannot listen on the socket '{}': {}: its folder '{}' is not writable for this daemon "
        "(uid {}); make it writable for that user, or set FASTGPU_SOCKET to a path in a folder "
        "of yours (the daemon did not start, and started no job)",
        socket.string(), std::strerror(error), folder, ::geteuid()));
  }
  if (error == EADDRINUSE) {
    return io_error(fmt::format(
        "cannot listen on the socket '{}': another process bound it while this daemon started; "
        "start again (it is refused, naming that process, if it still listens), or set "
        "FASTGPU_SOCKET to another path (the daemon did not start, and started no job)",
        socket.string()));
  }
  return io_error(fmt::format(
      "cannot listen on the socket '{}': {}; check its folder '{}' or set FASTGPU_SOCKET to "
      "another path (the daemon did not start, and started no job)",
      socket.string(), std::strerror(error), folder));
}

}  // namespace

Result<std::unique_ptr<ApiServer>> ApiServer::start(const ServerOptions& options) {
  // sun_path's 108 bytes hold the path and its NUL; httplib refuses a longer one silently.
  if (options.socket.native().size() > kMaxSocketPathLength) {
    return invalid_argument(
        fmt::format("socket path '{}' is {} characters; a unix socket path holds at most {}: set "
                    "FASTGPU_SOCKET to a shorter path (e.g. /tmp/fastgpu-$USER.sock)",
                    options.socket.string(), options.socket.native().size(), kMaxSocketPathLength));
  }
  FASTGPU_RETURN_IF_ERROR(prepare_socket_path(options.socket));
  auto server = std::make_unique<PeerCredServer>(*options.service);
  server->set_address_family(AF_UNIX);
  // Bind with a umask that leaves the socket private from its first moment.
  const mode_t previous = ::umask(options.shared ? 0111 : 0177);
  const bool bound = server->bind_to_port(options.socket.string(), 80);
  ::umask(previous);
  if (!bound) return bind_error(options.socket, errno);
  ::chmod(options.socket.c_str(), options.shared ? 0666 : 0600);
  Result<std::unique_ptr<ServingThread>> serving = ServingThread::start(
      std::move(server), kServingThreads, "the socket " + options.socket.string());
  if (!serving.ok()) {
    std::error_code ignored;
    std::filesystem::remove(options.socket, ignored);
    return Status(serving.status().code(),
                  serving.status().message() + " (the daemon did not start, and started no job)");
  }
  return std::unique_ptr<ApiServer>(
      std::make_unique<ApiServerImpl>(std::move(*serving), options.socket));
}

namespace {

class MetricsServerImpl final : public MetricsServer {
 public:
  explicit MetricsServerImpl(std::unique_ptr<ServingThread> serving)
      : serving_(std::move(serving)) {}
  void stop() override { serving_->stop(); }

 private:
  std::unique_ptr<ServingThread> serving_;
};

}  // namespace

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const std::string& host, int port,
                                                            ApiService* service) {
  auto server = std::make_unique<httplib::Server>();
  reuse_address_only(*server);  // a second daemon must not share the port
  server->Get("/metrics", [service](const httplib::Request&, httplib::Response& response) {
    write_answer(service->scrape_metrics(), response);
  });
  errno = 0;  // a failed address lookup leaves it as it was: a stale reason was told
  if (!server->bind_to_port(host, port)) {
    const int error = errno;
    return failed_precondition(
        fmt::format("cannot listen on {} for the metrics ({}); give --metrics-listen (or "
                    "FASTGPU_METRICS_LISTEN) a free port on an address of this machine, e.g. "
                    "127.0.0.1:9401 or [::1]:9401 (the daemon did not start)",
                    host_port_text(host, port), bind_failure_reason(error)));
  }
  Result<std::unique_ptr<ServingThread>> serving =
      ServingThread::start(std::move(server), CPPHTTPLIB_THREAD_POOL_COUNT,
                           "the metrics on " + host_port_text(host, port));
  if (!serving.ok()) {
    return Status(serving.status().code(),
                  serving.status().message() + " (the daemon did not start)");
  }
  return std::unique_ptr<MetricsServer>(std::make_unique<MetricsServerImpl>(std::move(*serving)));
}

}  // namespace fastgpu::api
