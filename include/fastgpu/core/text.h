// Small text helpers shared by the parsers of user input (sizes and durations, job files,
// simulated-device specs).
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fastgpu {

// `text` without leading and trailing white space (std::isspace in the "C" locale).
std::string_view trim(std::string_view text);

// `text` with the ASCII letters in lower case; other bytes unchanged.
std::string ascii_lower(std::string_view text);

// `word` as a POSIX shell reads it back as one word: unchanged when it holds only letters,
// digits and _@%+=:,./- (and is not empty), else in single quotes (a ' inside as '\'').
std::string shell_quote(std::string_view word);

// `text` safe to print on a terminal: each control character (bytes 0x00-0x1f and 0x7f, and
// the UTF-8 C1 controls U+0080-U+009F) written out as an escape, "\n", "\t", "\x1b",
// "\u009b"; everything else unchanged. For what another user chose (a job's name, its
// command), which a shared daemon's tables show to root: an escape sequence in it would
// otherwise drive the viewer's terminal, and a newline fake a row.
std::string printable(std::string_view text);

// HOST:PORT as a URL writes it: an IPv6 host in brackets ("[::1]:9401"), any other as it is.
std::string host_port_text(std::string_view host, int port);

// The parts of `text` between commas, or nullopt when one of them (or `text`) is empty:
// "a,b" -> {"a", "b"}; "", ",", "a,", "a,,b" -> nullopt. The parts view `text`.
std::optional<std::vector<std::string_view>> split_commas(std::string_view text);

// The fewest one-character insertions, deletions and substitutions that turn `a` into `b`.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The name in `known` nearest to `text` by edit distance when it is near enough to be a typo
// of it (fewer edits than a third of the text's length, and at most 2 for short texts), for
// "did you mean ...?"; else nullopt.
std::optional<std::string> nearest_name(std::string_view text,
                                        const std::vector<std::string>& known);

}  // namespace fastgpu
