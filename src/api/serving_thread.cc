#include "api/serving_thread.h"

#include <fmt/format.h>

#include <chrono>
#include <optional>
#include <system_error>

#include "fastgpu/core/resource_limits.h"

namespace fastgpu::api {
namespace {

// httplib's view of a ServingPool, which the server deletes when it stops listening: the
// pool itself belongs to the ServingThread, which may also stop it before it ever serves.
class PoolView final : public httplib::TaskQueue {
 public:
  explicit PoolView(ServingPool& pool) : pool_(pool) {}
  void enqueue(std::function<void()> task) override { pool_.enqueue(std::move(task)); }
  void shutdown() override { pool_.shutdown(); }

 private:
  ServingPool& pool_;
};

}  // namespace

Result<std::unique_ptr<ServingPool>> ServingPool::start(std::size_t threads,
                                                        std::string_view what) {
  std::unique_ptr<ServingPool> pool(new ServingPool());
  pool->threads_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) {
    try {
      pool->threads_.emplace_back([raw = pool.get()] { raw->work(); });
    } catch (const std::system_error& error) {
      return unavailable(fmt::format("cannot start the {} threads that serve {}: thread {} {}",
                                     threads, what, i + 1, thread_refused(error, what)));
    }
  }
  return pool;
}

void ServingPool::enqueue(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    tasks_.push_back(std::move(task));
  }
  wake_.notify_one();
}

void ServingPool::shutdown() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
}

void ServingPool::work() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // stopping, with nothing left to do
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
}

std::string thread_refused(const std::system_error& error, std::string_view what) {
  const std::string text = fmt::format("was refused by the system ({})", error.what());
  // The address space first: each thread reserves its stack (8 MiB by default) there, and
  // a `ulimit -v` meant for a job leaves a few dozen at most. Else the count of processes.
  std::optional<std::string> bound;
  for (const ResourceLimit& limit : own_resource_limits()) {
    if (limit.name == "as" && limit.soft) {
      bound = format_limit_value("as", limit.soft) + " of address space (ulimit -v)";
      break;
    }
    if (limit.name == "nproc" && limit.soft) {
      bound = fmt::format("{} processes and threads of its user (ulimit -u)", *limit.soft);
    }
  }
  if (!bound) {
    return text + "; the machine is short of memory or of processes; " + std::string(what) +
           " cannot be served";
  }
  return text + "; this process may have at most " + *bound +
         ". A daemon keeps the limits of the shell that started it: start it from a shell "
         "without such limits (`fastgpu daemon start`)";
}

Result<std::unique_ptr<ServingThread>> ServingThread::start(std::unique_ptr<httplib::Server> server,
                                                            std::size_t threads,
                                                            std::string_view what) {
  Result<std::unique_ptr<ServingPool>> pool = ServingPool::start(threads, what);
  if (!pool.ok()) return pool.status();
  ServingPool* connections = pool->get();
  server->new_task_queue = [connections] { return new PoolView(*connections); };
  std::unique_ptr<ServingThread> serving(new ServingThread(std::move(server), std::move(*pool)));
  httplib::Server* raw = serving->server_.get();
  try {
    serving->thread_ = std::thread([raw] { raw->listen_after_bind(); });
  } catch (const std::system_error& error) {
    return unavailable(fmt::format("cannot start the thread that serves {}: it {}", what,
                                   thread_refused(error, what)));
  }
  // httplib's stop() does nothing until the listen loop runs: wait for it, so a stop()
  // right after start() cannot leave the thread serving for ever.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!raw->is_running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return serving;
}

bool ServingThread::stop() {
  if (!thread_.joinable()) return false;
  server_->stop();
  thread_.join();
  pool_->shutdown();
  return true;
}

}  // namespace fastgpu::api
