#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine, builds FastGPU and runs its main job.
# For now the main job is resource assessment: `fastgpu status` on this machine's GPUs.
# On a machine without an NVIDIA driver it says so, then shows simulated GPUs instead.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "${FASTGPU_JOBS:-$(nproc)}" --target fastgpu

fastgpu=build/release/fastgpu
echo
if "$fastgpu" status; then
  exit 0
fi
echo
echo "main-job: no NVIDIA GPU here; showing simulated GPUs (4xH100-80G) instead:"
echo
"$fastgpu" status --devices 4xH100-80G
