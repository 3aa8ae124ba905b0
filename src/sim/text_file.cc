#include "sim/text_file.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <system_error>

namespace fastgpu::sim {
namespace {

constexpr std::size_t kChunk = 1U << 16;

struct GzCloser {
  void operator()(gzFile_s* file) const { gzclose(file); }
};
using GzHandle = std::unique_ptr<gzFile_s, GzCloser>;

// zlib reports a corrupt stream through gzerror; errno-based errors come back as Z_ERRNO.
std::string gz_error_text(gzFile file) {
  int code = Z_OK;
  const char* text = gzerror(file, &code);
  if (code == Z_ERRNO) return std::strerror(errno);
  return text != nullptr ? text : "unknown zlib error";
}

Status check_path(const std::string& path, std::string_view what) {
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (!std::filesystem::exists(status)) {
    return not_found(std::string(what) + " '" + path + "' does not exist; check the path");
  }
  if (std::filesystem::is_directory(status)) {
    return invalid_argument("'" + path + "' is a directory; pass a " + std::string(what));
  }
  return {};
}

}  // namespace

Result<std::string> read_text_file(const std::string& path, std::string_view what) {
  FASTGPU_RETURN_IF_ERROR(check_path(path, what));
  GzHandle file(gzopen(path.c_str(), "rb"));
  if (!file) return io_error("cannot open '" + path + "': " + std::strerror(errno));
  gzbuffer(file.get(), 1U << 17);
  std::string text;
  // Reading straight into the string's spare capacity avoids a copy per chunk.
  std::size_t size = 0;
  for (;;) {
    if (text.size() - size < kChunk) text.resize(std::max<std::size_t>(2 * text.size(), kChunk));
    const int got = gzread(file.get(), text.data() + size, static_cast<unsigned>(kChunk));
    if (got < 0) return io_error("cannot read '" + path + "': " + gz_error_text(file.get()));
    if (got == 0) break;
    size += static_cast<std::size_t>(got);
  }
  text.resize(size);
  // gzread returns 0 both at a clean end and at a truncated gzip stream; tell them apart.
  int code = Z_OK;
  gzerror(file.get(), &code);
  if (code != Z_OK) {
    return io_error("cannot read '" + path + "': " + gz_error_text(file.get()) +
                    " (is the gzip file truncated?)");
  }
  return text;
}

bool LineCursor::next(std::string_view& line) {
  if (pos_ >= text_.size()) return false;
  std::size_t end = text_.find('\n', pos_);
  if (end == std::string_view::npos) end = text_.size();
  line = text_.substr(pos_, end - pos_);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  pos_ = end + 1;
  ++line_number_;
  return true;
}

bool is_blank(std::string_view line) {
  return line.find_first_not_of(" \t") == std::string_view::npos;
}

}  // namespace fastgpu::sim
