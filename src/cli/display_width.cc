#include "cli/display_width.h"

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>

namespace fastgpu::cli {
namespace {

// The ranges that take two columns: East Asian Wide and Fullwidth, in the coarse blocks
// terminals agree on (the same blocks fmt 9 counted), not the full Unicode table.
bool is_wide(std::uint32_t code_point) {
  const std::uint32_t c = code_point;
  return c >= 0x1100 && (c <= 0x115f ||                 // Hangul Jamo initial consonants
                         c == 0x2329 || c == 0x232a ||  // angle brackets
                         (c >= 0x2e80 && c <= 0xa4cf && c != 0x303f) ||  // CJK ... Yi
                         (c >= 0xac00 && c <= 0xd7a3) ||                 // Hangul syllables
                         (c >= 0xf900 && c <= 0xfaff) ||    // CJK compatibility ideographs
                         (c >= 0xfe10 && c <= 0xfe19) ||    // vertical forms
                         (c >= 0xfe30 && c <= 0xfe6f) ||    // CJK compatibility forms
                         (c >= 0xff00 && c <= 0xff60) ||    // fullwidth forms
                         (c >= 0xffe0 && c <= 0xffe6) ||    // fullwidth signs
                         (c >= 0x1f300 && c <= 0x1f64f) ||  // pictographs, emoticons
                         (c >= 0x1f900 && c <= 0x1f9ff) ||  // supplemental pictographs
                         (c >= 0x20000 && c <= 0x2fffd) ||  // CJK extension planes
                         (c >= 0x30000 && c <= 0x3fffd));
}

struct Character {
  std::size_t bytes = 1;
  std::size_t columns = 1;
};

// The character at the front of `text` (not empty): its length in bytes and its columns.
// An invalid sequence is one byte of one column.
Character next_character(std::string_view text) {
  const auto lead = static_cast<unsigned char>(text[0]);
  std::size_t length = 1;
  std::uint32_t code_point = lead;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    code_point = lead & 0x1Fu;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    code_point = lead & 0x0Fu;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    code_point = lead & 0x07u;
  } else {
    return {};
  }
  if (text.size() < length) return {};
  for (std::size_t i = 1; i < length; ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if ((byte & 0xC0u) != 0x80u) return {};
    code_point = (code_point << 6) | (byte & 0x3Fu);
  }
  return {length, is_wide(code_point) ? 2u : 1u};
}

}  // namespace

std::size_t display_width(std::string_view text) {
  std::size_t columns = 0;
  while (!text.empty()) {
    const Character character = next_character(text);
    columns += character.columns;
    text.remove_prefix(character.bytes);
  }
  return columns;
}

std::string fit_to_width(std::string_view text, std::size_t width) {
  if (display_width(text) <= width) return std::string(text);
  std::size_t kept = 0;
  std::size_t used = 1;  // the '+'
  while (kept < text.size()) {
    const Character character = next_character(text.substr(kept));
    if (used + character.columns > width) break;
    used += character.columns;
    kept += character.bytes;
  }
  return std::string(text.substr(0, kept)) + "+";
}

std::string pad_to_width(std::string_view text, std::size_t width) {
  const std::size_t columns = display_width(text);
  return std::string(text) + std::string(columns < width ? width - columns : 0, ' ');
}

std::string aligned_columns(const std::vector<std::vector<std::string>>& rows,
                            std::size_t left_columns) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (std::size_t k = 0; k < row.size(); ++k) widths[k] = std::max(widths[k], row[k].size());
  }
  std::string out;
  for (const auto& row : rows) {
    for (std::size_t k = 0; k < row.size(); ++k) {
      const bool last = k + 1 == row.size();
      if (k >= left_columns) {
        out += fmt::format("{:>{}}", row[k], widths[k]);
      } else if (!last) {
        out += fmt::format("{:<{}}", row[k], widths[k]);
      } else {
        out += row[k];
      }
      out += last ? "\n" : "  ";
    }
  }
  return out;
}

std::size_t terminal_columns(int fd) {
  winsize size{};
  if (::isatty(fd) == 0 || ::ioctl(fd, TIOCGWINSZ, &size) != 0) return 0;
  return size.ws_col;
}

}  // namespace fastgpu::cli
