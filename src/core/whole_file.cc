#include "core/whole_file.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <system_error>

namespace fastgpu {

Status write_whole_file(const std::filesystem::path& path, std::string_view text) {
  const std::filesystem::path partial =
      path.parent_path() / fmt::format(".{}.{}.partial", path.filename().string(), ::getpid());
  {
    std::ofstream out(partial, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      const std::string why = std::strerror(errno);
      std::error_code ignored;
      std::filesystem::remove(partial, ignored);
      return failed_precondition(fmt::format("cannot write {}: {}", partial.string(), why));
    }
  }
  std::error_code error;
  std::filesystem::rename(partial, path, error);
  if (error) {
    std::error_code ignored;
    std::filesystem::remove(partial, ignored);
    return failed_precondition(fmt::format("cannot rename {} to {}: {}", partial.string(),
                                           path.string(), error.message()));
  }
  return {};
}

}  // namespace fastgpu
