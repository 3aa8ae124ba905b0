// Where the benchmarks find the shared GPU cluster traces.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <optional>

namespace fastgpu::bench {

// $FASTGPU_TRACES_DIR, else the first "shared/traces" or "../shared/traces" found from the
// current directory upwards; nullopt when there is none.
inline std::optional<std::filesystem::path> find_traces_dir() {
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("FASTGPU_TRACES_DIR"); env != nullptr) return fs::path(env);
  for (fs::path dir = fs::current_path(); !dir.empty(); dir = dir.parent_path()) {
    for (const char* candidate : {"shared/traces", "../shared/traces"}) {
      if (fs::is_directory(dir / candidate)) return (dir / candidate).lexically_normal();
    }
    if (dir == dir.root_path()) break;
  }
  return std::nullopt;
}

}  // namespace fastgpu::bench
