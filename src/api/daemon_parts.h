// What a daemon owns besides its threads: the GPU probe, the store, the launcher, the
// clock and the engine over them (declared in destruction order: the engine goes first).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "fastgpu/api/daemon.h"
#include "fastgpu/engine/engine.h"
#include "fastgpu/exec/launcher.h"
#include "fastgpu/gpu/probe.h"
#include "fastgpu/store/state_store.h"

namespace fastgpu::api {

struct DaemonParts {
  std::unique_ptr<GpuProbe> probe;
  std::unique_ptr<store::StateStore> store;
  std::unique_ptr<exec::Launcher> launcher;
  std::unique_ptr<engine::Clock> clock;
  std::unique_ptr<engine::Engine> engine;  // last: uses every part above
  std::string gpus_source;                 // "nvml" or "simulated"
  std::string gpus_note;                   // said at start and in GET /v1/daemon
  std::vector<std::string> start_notes;    // said at start (daemon.log)
};

// Opens every part; the engine re-adopts the jobs a previous daemon left running.
Result<DaemonParts> open_daemon_parts(const DaemonConfig& config);

}  // namespace fastgpu::api
