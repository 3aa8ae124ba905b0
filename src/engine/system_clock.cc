#include <chrono>

#include "fastgpu/engine/engine.h"

namespace fastgpu::engine {
namespace {

class SystemClock final : public Clock {
 public:
  WallTime now() override {
    return std::chrono::time_point_cast<std::chrono::microseconds>(
        std::chrono::system_clock::now());
  }
};

}  // namespace

std::unique_ptr<Clock> make_system_clock() { return std::make_unique<SystemClock>(); }

}  // namespace fastgpu::engine
