// A bound httplib server serving on its own thread until stop(): the daemon's socket, its
// metrics port and the dashboard's port each run on one. Private to src/api.
#pragma once

#include <httplib.h>
#include <sys/socket.h>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "fastgpu/core/result.h"

namespace fastgpu::api {

// Why a TCP bind failed, from the errno just after it: a host that is not this machine's
// (or that does not resolve) leaves errno at 0.
inline std::string bind_failure_reason(int error) {
  return error == 0 ? "the address is not one of this machine's, or its name is unknown"
                    : std::strerror(error);
}

// A TCP server binds with SO_REUSEADDR alone: httplib's default, SO_REUSEPORT, let a second
// process bind the same port, and the kernel then shared the requests between the two.
inline void reuse_address_only(httplib::Server& server) {
  server.set_socket_options([](int sock) {
    const int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
}

// The threads that serve a server's connections, every one started before it serves.
// httplib's own pool starts them on the serving thread, where a thread the system refuses
// (a low `ulimit -v` or `-u`) ended the process: "terminate called after throwing an instance
// of 'std::system_error' what(): Resource temporarily unavailable".
class ServingPool {
 public:
  // The pool, or why a thread could not start (those started before it are stopped).
  // `what`: what the threads serve, for the error ("the socket /run/fastgpu.sock").
  static Result<std::unique_ptr<ServingPool>> start(std::size_t threads, std::string_view what);
  ServingPool(const ServingPool&) = delete;
  ServingPool& operator=(const ServingPool&) = delete;
  ~ServingPool() { shutdown(); }

  void enqueue(std::function<void()> task);
  // Runs the tasks queued, then stops every thread. Idempotent.
  void shutdown();

 private:
  ServingPool() = default;
  void work();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

// Why the system refused a thread, with the limits of this process that bound threads (as
// `ulimit` names them) and where a daemon gets them: "...; this process may have 200
// processes and threads (ulimit -u) ...".
std::string thread_refused(const std::system_error& error, std::string_view what);

class ServingThread {
 public:
  // Serves `server` (bound) on a thread of its own with `threads` threads for connections.
  static Result<std::unique_ptr<ServingThread>> start(std::unique_ptr<httplib::Server> server,
                                                      std::size_t threads, std::string_view what);
  ServingThread(const ServingThread&) = delete;
  ServingThread& operator=(const ServingThread&) = delete;
  ~ServingThread() { stop(); }

  // False when it had stopped already.
  bool stop();

 private:
  ServingThread(std::unique_ptr<httplib::Server> server, std::unique_ptr<ServingPool> pool)
      : server_(std::move(server)), pool_(std::move(pool)) {}

  std::unique_ptr<httplib::Server> server_;
  std::unique_ptr<ServingPool> pool_;
  std::thread thread_;
};

}  // namespace fastgpu::api
