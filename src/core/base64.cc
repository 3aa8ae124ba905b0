#include "core/base64.h"

#include <array>
#include <cstdint>

namespace fastgpu {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// The value of each character of the alphabet, -1 for every other byte.
constexpr std::array<int, 256> decoding_table() {
  std::array<int, 256> values{};
  for (int& value : values) value = -1;
  for (std::size_t i = 0; i < kAlphabet.size(); ++i) {
    values[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int>(i);
  }
  return values;
}
constexpr std::array<int, 256> kValues = decoding_table();

}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string text;
  base64_append(text, bytes);
  return text;
}

void base64_append(std::string& out, std::string_view bytes) {
  // Sized once and written through a pointer: appending a character at a time (a capacity
  // check each) was a seventh of the daemon's CPU in `fastgpu logs` of a 128 MiB log.
  const std::size_t at = out.size();
  out.resize(at + (bytes.size() + 2) / 3 * 4);
  char* text = out.data() + at;
  const auto byte = [&bytes](std::size_t i) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i]));
  };
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t group = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    *text++ = kAlphabet[(group >> 18) & 63];
    *text++ = kAlphabet[(group >> 12) & 63];
    *text++ = kAlphabet[(group >> 6) & 63];
    *text++ = kAlphabet[group & 63];
  }
  const std::size_t left = bytes.size() - i;
  if (left > 0) {
    std::uint32_t group = byte(i) << 16;
    if (left == 2) group |= byte(i + 1) << 8;
    *text++ = kAlphabet[(group >> 18) & 63];
    *text++ = kAlphabet[(group >> 12) & 63];
    *text++ = left == 2 ? kAlphabet[(group >> 6) & 63] : '=';
    *text++ = '=';
  }
}

Result<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) {
    return invalid_argument("base64 text of " + std::to_string(text.size()) +
                            " characters: its length must be a multiple of 4");
  }
  std::string bytes;
  bytes.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    const std::size_t padding = !last ? 0 : text[i + 3] != '=' ? 0 : text[i + 2] == '=' ? 2 : 1;
    std::uint32_t group = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      const int value = k < 4 - padding ? kValues[static_cast<unsigned char>(text[i + k])] : 0;
      if (value < 0) {
        return invalid_argument("not base64: character " + std::to_string(i + k + 1) +
                                " is not in its alphabet (A-Z, a-z, 0-9, +, /, = at the end)");
      }
      group = group << 6 | static_cast<std::uint32_t>(value);
    }
    bytes += static_cast<char>(group >> 16 & 0xff);
    if (padding < 2) bytes += static_cast<char>(group >> 8 & 0xff);
    if (padding < 1) bytes += static_cast<char>(group & 0xff);
  }
  return bytes;
}

}  // namespace fastgpu
