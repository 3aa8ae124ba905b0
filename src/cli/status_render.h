// Rendering of a GPU reading for `fastgpu status`: the terminal table and the JSON document.
//
// Pure functions of their inputs: the caller supplies the host name, the time and how to
// look up a process's owner and command, so tests render crafted readings deterministically.
// The JSON schema is documented in docs/status-json.md; change kStatusSchemaVersion with it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "fastgpu/core/result.h"
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

// A running job's hold on a GPU in FastGPU's ledger. Of another user's job, shown to a
// caller who is not root, only the user and the hold: no id, name or command.
struct LedgerHold {
  std::optional<std::uint64_t> job;
  std::string user;                    // a login name, or "uid 1234"
  std::optional<std::string> name;     // --name, when it has one
  std::optional<std::string> command;  // its program, or shell string
  std::uint64_t bytes = 0;             // GPU memory it holds (declared per GPU)
  double share = 1.0;                  // its --share; 1: the whole GPU
};

// One GPU as FastGPU's daemon holds it ("ledger" in docs/status-json.md): what its running
// jobs declared, and what a job starting now may ask of it.
struct LedgerView {
  bool open = true;                  // new jobs may start on it (healthy, still listed)
  bool gone = false;                 // no longer listed; kept for the jobs still on it
  std::uint64_t usable_bytes = 0;    // total - driver-reserved - foreign
  std::uint64_t foreign_bytes = 0;   // held by processes of no FastGPU job
  std::uint64_t declared_bytes = 0;  // the jobs' holds, summed
  std::uint64_t free_bytes = 0;      // the most a job starting now may ask
  double share_used = 0.0;
  double free_share = 0.0;  // the largest --share a job starting now may ask; 1: whole
  std::vector<LedgerHold> jobs;
  // The GPU's processes that belong to a running job (another user's without its id).
  struct Process {
    std::uint32_t pid = 0;
    std::optional<std::uint64_t> job;
    std::string user;
  };
  std::vector<Process> processes;
};

// What surrounds a reading: where and when it was taken, and who runs its processes.
struct StatusContext {
  std::string host;
  std::string local_time;  // shown in the table, e.g. "2026-11-25 10:12:50"
  std::string utc_time;    // ISO 8601 for JSON, e.g. "2026-11-25T10:12:50Z"
  ProcessLookup lookup;    // may be empty: every process then shows user and command as unknown
  // The daemon's ledger, by GPU index; empty when no daemon answered (or it uses other GPUs).
  std::map<std::uint32_t, LedgerView> ledgers = {};
  // Who asks: the table names the user of a job only when it is another's.
  std::string user = {};
  // Why the ledger is left out although a daemon listens (it gave no answer in time);
  // empty otherwise. Shown under the table, and as `ledger_note` in JSON.
  std::string ledger_note = {};
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

// A device's "ledger" object read back (as `fastgpu status` reads GET /v1/gpus); the error
// names the field that is missing or of the wrong type.
Result<LedgerView> ledger_from_json(const Json& json);

}  // namespace fastgpu::cli
