// Reading trace files: whole-file, gzip-transparent, and split into numbered lines.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "fastgpu/core/result.h"

namespace fastgpu::sim {

// Reads the whole file, decompressing it when it is gzip (zlib's gzread passes plain files
// through unchanged). Errors: not_found for a missing path, io_error for an unreadable file
// or a corrupt or truncated gzip stream; each message names the path, and a missing path
// or a folder names `what` the file was meant to be ("trace file", "Philly VC list").
Result<std::string> read_text_file(const std::string& path, std::string_view what = "trace file");

// Walks text line by line. Lines end at '\n'; a trailing '\r' is dropped (CRLF files), and
// a last line without '\n' still counts. Views point into the text, which must outlive it.
class LineCursor {
 public:
  explicit LineCursor(std::string_view text) : text_(text) {}

  // Stores the next line in `line` and returns true, or returns false at the end.
  bool next(std::string_view& line);

  // 1-based number of the line last returned by next(); 0 before the first call.
  std::size_t line_number() const { return line_number_; }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
  std::size_t line_number_ = 0;
};

// True when the line holds nothing but spaces and tabs.
bool is_blank(std::string_view line);

}  // namespace fastgpu::sim
