#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine, builds FastGPU and runs its main job:
# `fastgpu run examples/batch-cpu.yaml`, a batch of real CPU jobs packed onto GPUs by their
# declared memory, then the batch report (makespan, utilization, GPU-hours, energy, speedup
# against running the jobs one after another) and its charts (build/batch-report.html). The daemon starts on first use. On a machine
# without an NVIDIA driver it says so and simulates 4xH100-80G: the jobs are still real
# processes; only the GPUs are simulated. FASTGPU_DEVICES=2xA100-40G chooses others.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
source scripts/build-env.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "${FASTGPU_JOBS:-$(nproc)}" --target fastgpu fastgpu-supervisor fastgpu-burn-cpu

fastgpu=build/release/fastgpu
echo
"$fastgpu" status || "$fastgpu" status --devices "${FASTGPU_DEVICES:-4xH100-80G}"
echo

# Leave a daemon that was already running as it was; stop the one this script starts.
started_here=0
if ! "$fastgpu" daemon status >/dev/null 2>&1; then started_here=1; fi
status=0
"$fastgpu" run examples/batch-cpu.yaml --chart build/batch-report.html || status=$?
[ -f build/batch-report.html ] && echo "charts of the batch: build/batch-report.html"
if [ "$started_here" -eq 1 ]; then "$fastgpu" daemon stop >/dev/null; fi
exit "$status"
