#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/display_width.h"
#include "cli/status_render.h"
#include "fastgpu/core/text.h"
#include "fastgpu/core/units.h"

namespace fastgpu::cli {
namespace {

constexpr std::string_view kNotAvailable = "n/a";
constexpr int kBarWidth = 10;      // the memory bar's blocks, where the terminal has room
constexpr int kLeastBarWidth = 4;  // ... and the fewest it narrows to
constexpr std::size_t kLeastNameWidth = 8;
constexpr Bytes kGiB = Bytes{1} << 30;
constexpr Bytes kMiB = Bytes{1} << 20;

namespace ansi {
constexpr std::string_view kReset = "\x1b[0m";
constexpr std::string_view kBold = "\x1b[1m";
constexpr std::string_view kDim = "\x1b[2m";
constexpr std::string_view kRed = "\x1b[1;31m";
constexpr std::string_view kGreen = "\x1b[32m";
constexpr std::string_view kYellow = "\x1b[33m";
constexpr std::string_view kBlue = "\x1b[34m";
constexpr std::string_view kCyan = "\x1b[36m";
}  // namespace ansi

// One table cell: its text and the color it is shown in (empty: plain).
struct Cell {
  std::string text;
  std::string_view color;
  bool right_aligned = false;
};

std::string paint(std::string_view text, std::string_view color, const TableStyle& style) {
  if (!style.color || color.empty()) return std::string(text);
  return fmt::format("{}{}{}", color, text, ansi::kReset);
}

std::string pad(const Cell& cell, std::size_t width) {
  const std::string fill(width - std::min(width, display_width(cell.text)), ' ');
  return cell.right_aligned ? fill + cell.text : cell.text + fill;
}

// ---- the cells of one GPU line ------------------------------------------------------------

// Memory in one unit chosen from the total, so used and total line up: "12.3 / 80.0 GiB".
std::string memory_text(const GpuDevice& device) {
  const Bytes unit = device.memory_total_bytes.value_or(kGiB) >= kGiB ? kGiB : kMiB;
  const std::string_view unit_name = unit == kGiB ? "GiB" : "MiB";
  const auto amount = [unit](const std::optional<Bytes>& bytes) {
    return bytes ? fmt::format("{:.1f}", static_cast<double>(*bytes) / static_cast<double>(unit))
                 : std::string(kNotAvailable);
  };
  if (!device.memory_used_bytes && !device.memory_total_bytes) return std::string(kNotAvailable);
  return fmt::format("{} / {} {}", amount(device.memory_used_bytes),
                     amount(device.memory_total_bytes), unit_name);
}

std::string memory_bar(const GpuDevice& device, const TableStyle& style, int blocks) {
  if (!device.memory_used_bytes || !device.memory_total_bytes || *device.memory_total_bytes == 0) {
    return fmt::format("[{:^{}}]", kNotAvailable, blocks);
  }
  const double share = static_cast<double>(*device.memory_used_bytes) /
                       static_cast<double>(*device.memory_total_bytes);
  // A GPU with any memory in use shows at least one block, so "in use" never looks idle.
  int filled = static_cast<int>(std::lround(std::clamp(share, 0.0, 1.0) * blocks));
  if (filled == 0 && *device.memory_used_bytes > 0) filled = 1;
  std::string bar = "[";
  for (int i = 0; i < blocks; ++i) {
    if (style.unicode) {
      bar += i < filled ? "█" : "░";
    } else {
      bar += i < filled ? '#' : '.';
    }
  }
  return bar + "]";
}

Cell utilization_cell(const GpuDevice& device) {
  if (!device.gpu_utilization_percent) return {std::string(kNotAvailable), ansi::kDim, true};
  const std::uint32_t percent = *device.gpu_utilization_percent;
  const std::string_view color = percent >= 90   ? ansi::kRed
                                 : percent >= 50 ? ansi::kYellow
                                                 : ansi::kGreen;
  return {fmt::format("{} %", percent), color, true};
}

std::string power_text(const GpuDevice& device) {
  if (!device.power_watts && !device.power_limit_watts) return std::string(kNotAvailable);
  const auto watts = [](const std::optional<double>& value) {
    return value ? fmt::format("{:.0f}", *value) : std::string(kNotAvailable);
  };
  return fmt::format("{} / {} W", watts(device.power_watts), watts(device.power_limit_watts));
}

Cell temperature_cell(const GpuDevice& device, const TableStyle& style) {
  if (!device.temperature_celsius) return {std::string(kNotAvailable), ansi::kDim, true};
  const std::uint32_t celsius = *device.temperature_celsius;
  const std::string_view color = celsius >= 85   ? ansi::kRed
                                 : celsius >= 75 ? ansi::kYellow
                                                 : std::string_view{};
  return {fmt::format("{}{}", celsius, style.unicode ? "°C" : "C"), color, true};
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (const std::string& part : parts) {
    if (!out.empty()) out += separator;
    out += part;
  }
  return out;
}

Cell health_cell(const GpuHealth& health) {
  if (!health.healthy) {
    const std::string why = health.reasons.empty() ? "reason unknown" : join(health.reasons, "; ");
    return {"UNHEALTHY: " + why, ansi::kRed};
  }
  if (!health.reasons.empty()) return {"degraded: " + join(health.reasons, "; "), ansi::kYellow};
  return {"ok", ansi::kGreen};
}

std::vector<Cell> gpu_row(const GpuDevice& device, const TableStyle& style, int bar_blocks) {
  return {
      {fmt::format("[{}]", device.index), ansi::kBold, true},
      {device.name.value_or(std::string(kNotAvailable)), ansi::kBlue},
      {memory_text(device), ansi::kYellow, true},
      {memory_bar(device, style, bar_blocks), ansi::kYellow},
      utilization_cell(device),
      {power_text(device), ansi::kCyan, true},
      temperature_cell(device, style),
      health_cell(device.health),
  };
}

// ---- lines under a GPU --------------------------------------------------------------------

// Whose job a GPU process is, by the daemon's ledger: "  job 12", "  a job of bob's", or
// "  no FastGPU job"; empty without a ledger of the GPU. A job's process on a GPU the job
// was not given (it ignored CUDA_VISIBLE_DEVICES) is said to be so, since the ledger counts
// its memory as held outside FastGPU there: "  job 12, not placed here (counted outside)".
std::string process_job(const GpuProcess& process, const LedgerView* ledger) {
  if (ledger == nullptr) return "";
  for (const LedgerView::Process& known : ledger->processes) {
    if (known.pid != process.pid) continue;
    const std::string who =
        known.job ? fmt::format("job {}", *known.job) : "a job of " + printable(known.user) + "'s";
    // Another user's job is listed without its id: one of theirs held here is taken as it.
    const bool placed_here =
        std::any_of(ledger->jobs.begin(), ledger->jobs.end(), [&](const LedgerHold& hold) {
          return known.job ? hold.job == known.job : !hold.job && hold.user == known.user;
        });
    return "  " + who + (placed_here ? "" : ", not placed here (counted outside FastGPU)");
  }
  return "  no FastGPU job";
}

std::string process_line(const GpuProcess& process, bool last, const StatusContext& context,
                         const TableStyle& style, const LedgerView* ledger) {
  const ProcessInfo info = context.lookup ? context.lookup(process.pid) : ProcessInfo{};
  const std::string_view branch = style.unicode ? (last ? "└─" : "├─") : (last ? "`-" : "|-");
  const std::string memory =
      process.used_memory_bytes ? format_bytes(*process.used_memory_bytes) : "n/a";
  return fmt::format("    {} {:>7}  {:<10} {:<16} {:>10}{}", branch, process.pid,
                     printable(info.user.value_or("?")), printable(info.command.value_or("?")),
                     memory, process_job(process, ledger));
}

bool contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

// `prefix` and `text`, broken between words where a line would pass `columns` (0: never),
// each further line indented under the text's first word.
std::string wrapped(const std::string& prefix, const std::string& text, std::size_t columns) {
  std::string out;
  std::string line = prefix;
  bool first = true;
  for (std::size_t from = 0, space; from < text.size(); from = space + 1) {
    space = std::min(text.find(' ', from), text.size());
    const std::string word = text.substr(from, space - from);
    if (columns > 0 && !first && display_width(line) + 1 + display_width(word) > columns) {
      out += line + "\n";
      line = std::string(display_width(prefix), ' ');
    }
    line += (line.empty() ? "" : " ") + word;
    first = false;
  }
  return out + line;
}

// Why fields show n/a. Fields that failed for the reason the health column already gives
// (a lost GPU fails every call) are not repeated; the process list has its own line.
void append_unreadable(const GpuDevice& device, const TableStyle& style, std::string& out) {
  // Fields that share a reason share it: "a, b (why)".
  std::vector<std::pair<std::string, std::vector<std::string>>> by_reason;
  for (const UnreadableField& field : device.unreadable_fields) {
    if (field.field == "processes" || contains(device.health.reasons, field.reason)) continue;
    auto same = std::find_if(by_reason.begin(), by_reason.end(),
                             [&field](const auto& group) { return group.first == field.reason; });
    if (same == by_reason.end()) same = by_reason.insert(by_reason.end(), {field.reason, {}});
    same->second.push_back(field.field);
  }
  std::vector<std::string> parts;
  for (const auto& [reason, fields] : by_reason) {
    parts.push_back(fmt::format("{} ({})", join(fields, ", "), reason));
  }
  if (parts.empty()) return;
  out += paint(wrapped("    n/a:", join(parts, ", "), style.columns), ansi::kDim, style) + "\n";
}

std::string processes_unreadable_reason(const GpuDevice& device) {
  for (const UnreadableField& field : device.unreadable_fields) {
    if (field.field == "processes") return field.reason;
  }
  return "could not be read";
}

// "job 12 train", "job 12 python3 (bob)", "a job of bob's": whom a hold is for.
std::string holder_text(const LedgerHold& hold, const StatusContext& context) {
  constexpr std::size_t kLongest = 24;
  const bool others = hold.user != context.user;
  if (!hold.job) return "a job of " + printable(hold.user) + "'s";
  // Cut with a '+' as the queue cuts a long name, between characters.
  const std::string what = fit_to_width(hold.name.value_or(hold.command.value_or("")), kLongest);
  std::string text = fmt::format("job {}", *hold.job);
  if (!what.empty()) text += " " + printable(what);
  if (others) text += " (" + printable(hold.user) + ")";
  return text;
}

// The ledger's line under a GPU: the jobs holding it, and what a job starting now may ask.
std::string ledger_text(const LedgerView& ledger, const StatusContext& context) {
  std::vector<std::string> holds;
  for (const LedgerHold& hold : ledger.jobs) {
    holds.push_back(fmt::format(
        "{} {}{}", holder_text(hold, context), format_bytes(hold.bytes),
        hold.share >= 1.0 ? ", the whole GPU" : fmt::format(" at share {:g}", hold.share)));
  }
  const std::string text = (holds.empty() ? "no job" : join(holds, "; ")) + "; free: ";
  const std::string foreign =
      ledger.foreign_bytes > 0
          ? fmt::format(" ({} held outside FastGPU)", format_bytes(ledger.foreign_bytes))
          : "";
  if (!ledger.open) {
    return text + "nothing, " +
           (ledger.gone ? "the GPU is no longer listed" : "the GPU is unhealthy");
  }
  if (ledger.free_share <= 0.0) {
    return text + "nothing until " + (ledger.jobs.size() == 1 ? "it ends" : "one ends");
  }
  if (ledger.free_bytes == 0) return text + "no memory (all held)" + foreign;
  return text + format_bytes(ledger.free_bytes) +
         (ledger.free_share >= 1.0 ? ", the whole GPU"
                                   : fmt::format(" at share up to {:g}", ledger.free_share)) +
         foreign;
}

void append_details(const GpuDevice& device, const StatusContext& context, const TableStyle& style,
                    std::string& out) {
  const auto found = context.ledgers.find(device.index);
  const LedgerView* ledger = found == context.ledgers.end() ? nullptr : &found->second;
  if (ledger != nullptr) {
    out += wrapped("    fastgpu:", ledger_text(*ledger, context), style.columns) + "\n";
  }
  append_unreadable(device, style, out);
  if (!device.processes) {
    const std::string reason = processes_unreadable_reason(device);
    if (contains(device.health.reasons, reason)) return;  // the health column says why
    const std::string line = fmt::format("    processes: n/a ({})", reason);
    out += paint(line, ansi::kDim, style) + "\n";
    return;
  }
  for (std::size_t i = 0; i < device.processes->size(); ++i) {
    const bool last = i + 1 == device.processes->size();
    out += process_line((*device.processes)[i], last, context, style, ledger) + "\n";
  }
}

// ---- the header ---------------------------------------------------------------------------

std::string cuda_version_text(int version) {
  return fmt::format("{}.{}", version / 1000, version % 1000 / 10);
}

std::string source_text(const GpuReading& reading) {
  // Named by both ways to ask for them: a user who set FASTGPU_DEVICES read "--devices".
  if (reading.source == "simulated") {
    return "simulated GPUs (--devices or FASTGPU_DEVICES), not real hardware";
  }
  const auto field = [](const std::optional<std::string>& value) {
    return value.value_or(std::string(kNotAvailable));
  };
  const std::string cuda =
      reading.cuda_driver_version ? cuda_version_text(*reading.cuda_driver_version) : "n/a";
  return fmt::format("driver {}, NVML {}, CUDA {}", field(reading.driver_version),
                     field(reading.nvml_version), cuda);
}

std::string header_line(const GpuReading& reading, const StatusContext& context,
                        const TableStyle& style) {
  const std::string_view color = reading.source == "simulated" ? ansi::kYellow : ansi::kDim;
  const std::string source = source_text(reading);
  // Too wide for the terminal: the GPUs' source on a line of its own.
  if (style.columns > 0 &&
      display_width(context.host) + display_width(source) + display_width(context.local_time) + 4 >
          style.columns) {
    return fmt::format("{}  {}\n{}\n", paint(context.host, ansi::kBold, style), context.local_time,
                       paint(wrapped("", source, style.columns), color, style));
  }
  return fmt::format("{}  {}  {}\n", paint(context.host, ansi::kBold, style),
                     paint(source, color, style), context.local_time);
}

std::vector<std::size_t> column_widths(const std::vector<std::vector<Cell>>& rows) {
  std::vector<std::size_t> widths;
  for (const std::vector<Cell>& row : rows) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (std::size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], display_width(row[i].text));
    }
  }
  return widths;
}

// What goes before cell `i`: nothing before the first; a plain space after the index (the
// name follows it) and after the memory figures (the bar follows them); " │ " between the
// others, or two spaces where a terminal is too narrow for them (`narrow`).
std::string_view separator(std::size_t i, const TableStyle& style, bool narrow) {
  if (i == 0) return "";
  if (i == 1 || i == 3) return " ";
  if (narrow) return "  ";
  return style.unicode ? " │ " : " | ";
}

// The columns a row takes, its last cell (the health) as it is, not padded; or, with
// `health_at_most`, as if it took no more than that (a longer one goes on its own line).
std::size_t row_width(const std::vector<Cell>& row, const std::vector<std::size_t>& widths,
                      const TableStyle& style, bool narrow, std::size_t health_at_most = SIZE_MAX) {
  std::size_t width = 0;
  for (std::size_t i = 0; i < row.size(); ++i) {
    width += display_width(separator(i, style, narrow));
    width += i + 1 == row.size() ? std::min(health_at_most, display_width(row[i].text)) : widths[i];
  }
  return width;
}

// `text` cut to `width` columns with a '+' (fit_to_width), no blank before the '+':
// "NVIDIA H100+", not "NVIDIA H100 +".
std::string cut(const std::string& text, std::size_t width) {
  std::string out = fit_to_width(text, width);
  if (out == text) return out;
  out.pop_back();
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out + "+";
}

std::string render_row(const std::vector<Cell>& row, const std::vector<std::size_t>& widths,
                       const TableStyle& style, bool narrow) {
  std::string line;
  // A health too long for the terminal's line (a lost GPU's reason) goes under it.
  const bool health_below =
      style.columns > 0 && row_width(row, widths, style, narrow) > style.columns;
  for (std::size_t i = 0; i < row.size(); ++i) {
    const bool last = i + 1 == row.size();
    if (last && health_below) {
      line += "\n" + paint(wrapped("   ", row[i].text, style.columns), row[i].color, style);
      break;
    }
    // The last cell is not padded, so lines carry no trailing blanks.
    Cell cell = row[i];
    if (!last) cell.text = cut(cell.text, widths[i]);
    const std::string text = last ? cell.text : pad(cell, widths[i]);
    line += separator(i, style, narrow);
    line += paint(text, row[i].color, style);
  }
  return line;
}

}  // namespace

std::string render_status_table(const GpuReading& reading, const StatusContext& context,
                                const TableStyle& style) {
  std::string out = header_line(reading, context, style);
  if (reading.devices.empty()) return out + "no GPUs found\n";
  // On a terminal too narrow for the widest line: fewer blocks in the memory bar, then a
  // shorter name (cut with '+'), then plain spaces between the cells. A health longer than
  // "ok" goes on a line of its own rather than narrow the others.
  std::vector<std::vector<Cell>> rows;
  const auto build = [&](int blocks) {
    rows.clear();
    for (const GpuDevice& device : reading.devices) rows.push_back(gpu_row(device, style, blocks));
    return column_widths(rows);
  };
  std::vector<std::size_t> widths = build(kBarWidth);
  bool narrow = false;
  if (style.columns > 0) {
    // How far the widest line (with its " │ ") runs past the terminal.
    const auto over = [&] {
      std::size_t most = 0;
      for (const auto& row : rows) most = std::max(most, row_width(row, widths, style, false, 2));
      return most - std::min(most, style.columns);
    };
    // Every bar is as wide as its blocks: one narrowing takes exactly what is over.
    if (const std::size_t excess = over(); excess > 0) {
      widths = build(kBarWidth -
                     static_cast<int>(std::min<std::size_t>(excess, kBarWidth - kLeastBarWidth)));
    }
    widths[1] -= std::min(over(), widths[1] - std::min(widths[1], kLeastNameWidth));
    narrow = over() > 0;
  }
  for (std::size_t i = 0; i < rows.size(); ++i) {
    out += render_row(rows[i], widths, style, narrow) + "\n";
    append_details(reading.devices[i], context, style, out);
  }
  if (!context.ledger_note.empty()) out += "fastgpu: " + context.ledger_note + "\n";
  return out;
}

}  // namespace fastgpu::cli
