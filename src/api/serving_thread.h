// A bound httplib server serving on its own thread until stop(): the daemon's socket, its
// metrics port and the dashboard's port each run on one. Private to src/api.
#pragma once

#include <httplib.h>
#include <sys/socket.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

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

class ServingThread {
 public:
  explicit ServingThread(std::unique_ptr<httplib::Server> server) : server_(std::move(server)) {
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    // httplib's stop() does nothing until the listen loop runs: wait for it, so a stop()
    // right after start() cannot leave the thread serving for ever.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!server_->is_running() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  ServingThread(const ServingThread&) = delete;
  ServingThread& operator=(const ServingThread&) = delete;
  ~ServingThread() { stop(); }

  // False when it had stopped already.
  bool stop() {
    if (!thread_.joinable()) return false;
    server_->stop();
    thread_.join();
    return true;
  }

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace fastgpu::api
