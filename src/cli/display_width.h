// Terminal columns of UTF-8 text, for the tables' columns of names a user chose (a name in
// another script, two columns a character in CJK). Our own, not fmt's: fmt's is internal
// (fmt::detail), and the tables pad by these widths themselves, so a cut and its padding
// always agree.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace fastgpu::cli {

// Columns `text` takes on a terminal: one per character, two for an East Asian wide or
// fullwidth one (CJK, Hangul, fullwidth forms, most emoji). A byte that starts no valid
// UTF-8 character counts as one column (it prints as one replacement mark).
std::size_t display_width(std::string_view text);

// At most `width` columns: `text` itself, or a longer one cut to width - 1 columns and ended
// with '+' (as ps shows a long user name). Cut between characters, never inside one.
std::string fit_to_width(std::string_view text, std::size_t width);

// The width of the terminal on `fd` in columns; 0 when `fd` is not a terminal (a pipe, a
// file) or does not say.
std::size_t terminal_columns(int fd);

// `text` followed by spaces up to `width` columns (nothing added when it is as wide).
std::string pad_to_width(std::string_view text, std::size_t width);

// `rows` as lines of a table: each column padded to its widest cell, two spaces apart; the
// first `left_columns` columns' cells left-aligned (names), the others right-aligned
// (numbers). A left-aligned last cell is not padded, so no line ends in spaces. Widths are
// counted in bytes: for tables of ASCII figures and names (simulate's, model's).
std::string aligned_columns(const std::vector<std::vector<std::string>>& rows,
                            std::size_t left_columns);

}  // namespace fastgpu::cli
