// The daemon's HTTP server: cpp-httplib over a unix socket, every request handed to an
// ApiService together with the caller's uid.
//
// The uid comes from the kernel (getsockopt SO_PEERCRED on the accepted connection), so a
// client cannot claim to be someone else. httplib 0.11 does not expose the accepted socket
// to handlers; UnixHttpServer overrides the per-connection hook (process_and_close_socket)
// and serves the connection through its own small Stream, one request per connection.
//
// The socket file is created with mode 0600 (only its owner may connect), or 0666 when
// the daemon serves every user (a root daemon; each request is still limited to its
// caller's jobs by the uid).
//
// Thread-safety: start() once; stop() from any thread.
#pragma once

#include <filesystem>
#include <memory>
#include <thread>

#include "fastgpu/api/service.h"
#include "fastgpu/core/result.h"

namespace fastgpu::api {

struct ServerOptions {
  std::filesystem::path socket;
  bool shared = false;            // socket mode 0666 instead of 0600 (a system-wide root daemon)
  ApiService* service = nullptr;  // not owned
};

// Fails (kFailedPrecondition, naming the socket, the pid that listens and the fix) when a
// process listens on `socket`: a daemon of another state folder given the same socket. A
// missing file, or one nobody listens on (a daemon that died left it), is free.
Status check_socket_not_in_use(const std::filesystem::path& socket);

class ApiServer {
 public:
  // Binds the socket (removing a stale file left by a dead daemon; one a process listens on
  // is refused, as check_socket_not_in_use says) and starts serving on a thread.
  static Result<std::unique_ptr<ApiServer>> start(const ServerOptions& options);
  virtual ~ApiServer() = default;

  // Stops accepting and waits for the serving thread; removes the socket file.
  virtual void stop() = 0;
};

// The metrics alone on a TCP address, for Prometheus to scrape (`daemon run --metrics-listen
// HOST:PORT`): GET /metrics answers ApiService::scrape_metrics(), which has the GPUs and the
// job counts but no job's series (a TCP peer has no uid to limit them to); anything else is
// 404. Same threading as ApiServer.
class MetricsServer {
 public:
  // Binds host:port (a port in use, or a host that is not this machine's, is an error
  // naming it and the fix) and starts serving on a thread.
  static Result<std::unique_ptr<MetricsServer>> start(const std::string& host, int port,
                                                      ApiService* service);
  virtual ~MetricsServer() = default;
  virtual void stop() = 0;
};

}  // namespace fastgpu::api
