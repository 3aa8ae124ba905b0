#include "fastgpu/api/json_text.h"

#include <fmt/format.h>

namespace fastgpu::api {
namespace {

constexpr int kIndent = 2;

// The index of the quote closing the string opened at `open`, or npos.
std::size_t string_end(std::string_view text, std::size_t open) {
  for (std::size_t i = open + 1; i < text.size(); ++i) {
    i = text.find_first_of("\"\\", i);
    if (i == std::string_view::npos) return i;
    if (text[i] == '"') return i;
    ++i;  // the escaped character, whatever it is
  }
  return std::string_view::npos;
}

Status malformed(std::size_t at, std::string_view problem) {
  return invalid_argument(fmt::format("the daemon's JSON {} at byte {}", problem, at));
}

}  // namespace

Result<std::string> indent_compact_json(std::string_view compact) {
  std::string out;
  out.reserve(compact.size() + compact.size() / 2);
  std::string open;  // the brackets not yet closed, innermost last
  const auto new_line = [&] {
    out += '\n';
    out.append(open.size() * kIndent, ' ');
  };
  for (std::size_t i = 0; i < compact.size(); ++i) {
    const char c = compact[i];
    if (c == '"') {
      const std::size_t end = string_end(compact, i);
      if (end == std::string_view::npos) return malformed(i, "has a string that does not end");
      out.append(compact.substr(i, end + 1 - i));
      i = end;
    } else if (c == '{' || c == '[') {
      const char close = c == '{' ? '}' : ']';
      out += c;
      if (i + 1 < compact.size() && compact[i + 1] == close) {  // dump(2) writes {} and []
        out += close;
        ++i;
        continue;
      }
      open += close;
      new_line();
    } else if (c == '}' || c == ']') {
      if (open.empty() || open.back() != c) return malformed(i, "has an unmatched bracket");
      open.pop_back();
      new_line();
      out += c;
    } else if (c == ',') {
      out += ',';
      new_line();
    } else if (c == ':') {
      out += ": ";
    } else if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
      return malformed(i, "is not compact");
    } else {
      out += c;
    }
  }
  if (!open.empty()) return malformed(compact.size(), "ends before its brackets close");
  return out;
}

}  // namespace fastgpu::api
