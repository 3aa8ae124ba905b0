// Test helpers for src/sim: a scratch folder with plain and gzipped files, and the shared
// developer traces next to the repository.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>

#include "fastgpu_test_paths.h"

namespace fastgpu::sim::testing {

// A fresh folder under the test temp dir, removed when the object goes away.
class ScratchDir {
 public:
  ScratchDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::path(::testing::TempDir()) /
            ("fastgpu_sim_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  std::string write(const std::string& name, std::string_view content) const {
    const std::string file = (path_ / name).string();
    std::ofstream out(file, std::ios::binary);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    return file;
  }

  // Writes `content` gzip-compressed with zlib, as the shared traces are.
  std::string write_gz(const std::string& name, std::string_view content) const {
    const std::string file = (path_ / name).string();
    gzFile out = gzopen(file.c_str(), "wb");
    EXPECT_NE(out, nullptr) << file;
    if (out == nullptr) return file;
    EXPECT_EQ(gzwrite(out, content.data(), static_cast<unsigned>(content.size())),
              static_cast<int>(content.size()));
    gzclose(out);
    return file;
  }

  std::string path(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// The developer traces (../shared/traces beside the repository), when present.
inline std::optional<std::string> shared_traces_dir() {
  const std::filesystem::path dir =
      std::filesystem::path(FASTGPU_SOURCE_DIR) / ".." / "shared" / "traces";
  if (!std::filesystem::is_directory(dir)) return std::nullopt;
  return dir.lexically_normal().string();
}

}  // namespace fastgpu::sim::testing

// Skips the test when the shared traces are absent; defines `traces` (the folder).
#define FASTGPU_REQUIRE_SHARED_TRACES(traces)                                                   \
  const std::optional<std::string> traces##_opt = ::fastgpu::sim::testing::shared_traces_dir(); \
  if (!traces##_opt) {                                                                          \
    GTEST_SKIP() << "shared traces not found at FASTGPU_SOURCE_DIR/../shared/traces; "          \
                    "they hold the real Philly, openb, Chronus and Tiresias files";             \
  }                                                                                             \
  const std::string& traces = *traces##_opt
