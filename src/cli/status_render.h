// Rendering of a GPU reading for `fastgpu status`: the terminal table and the JSON document.
//
// Pure functions of their inputs: the caller supplies the host name, the time and how to
// look up a process's owner and command, so tests render crafted readings deterministically.
// The JSON schema is documented in docs/status-json.md; change kStatusSchemaVersion with it.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "fastgpu/gpu/probe.h"

namespace fastgpu::cli {

inline constexpr int kStatusSchemaVersion = 1;

// Keys keep the order in which they are written, so the document reads as documented.
using Json = nlohmann::ordered_json;

// Who runs a GPU process. Each field is absent when it cannot be found (the process ended,
// or it lives in another PID namespace, as in a container).
struct ProcessInfo {
  std::optional<std::string> user;     // owner of /proc/<pid>, as a login name or a uid
  std::optional<std::string> command;  // /proc/<pid>/comm
};

using ProcessLookup = std::function<ProcessInfo(std::uint32_t pid)>;

// Reads /proc/<pid> on this machine.
ProcessInfo lookup_local_process(std::uint32_t pid);

// This machine's host name ("localhost" when it cannot be read).
std::string host_name();

// What surrounds a reading: where and when it was taken, and who runs its processes.
struct StatusContext {
  std::string host;
  std::string local_time;  // shown in the table, e.g. "2026-11-25 10:12:50"
  std::string utc_time;    // ISO 8601 for JSON, e.g. "2026-11-25T10:12:50Z"
  ProcessLookup lookup;    // may be empty: every process then shows user and command as unknown
};

struct TableStyle {
  bool color = false;    // ANSI colors (only for a terminal, and only when NO_COLOR is unset)
  bool unicode = false;  // block characters for bars and tree lines; ASCII otherwise
  // The terminal's width: lines are narrowed to fit it (the memory bar, then the GPU's
  // name, then the separators; the header and the n/a note broken into lines). 0: piped,
  // nothing narrowed.
  std::size_t columns = 0;
};

// The compact table: a header line, one line per GPU, one line per process under it.
// Fields the probe could not read print as "n/a", never as 0.
std::string render_status_table(const GpuReading& reading, const StatusContext& context,
                                const TableStyle& style);

// The JSON document of docs/status-json.md. Absent fields are null.
Json status_to_json(const GpuReading& reading, const StatusContext& context);

}  // namespace fastgpu::cli
