#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine and runs every test:
#   1. installs the dependencies (scripts/setup.sh),
#   2. checks formatting (clang-format),
#   3. builds with warnings as errors and runs the tests,
#   4. builds with AddressSanitizer + UndefinedBehaviorSanitizer and runs the tests again.
# Tests labelled "gpu" need a real NVIDIA GPU and are skipped here (see docs/gpu-checks.md).
# The Slurm tests run against a real single-node Slurm started here (docs/slurm.md).
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=${FASTGPU_JOBS:-$(nproc)}

scripts/setup.sh
source scripts/build-env.sh
scripts/format.sh --check

# A real single-node Slurm cluster for the Slurm backend's tests (tests/slurm, docs/slurm.md),
# started with the shared script, which installs slurmctld, slurmd, slurm-client and munge
# when they are missing, and stopped when this script ends.
slurm_script=../shared/slurm/local-slurm.sh
slurm_dir=${FASTGPU_TEST_SLURM_DIR:-/tmp/fastgpu-test-slurm}
if [ -f "$slurm_script" ] && [ "$(id -u)" -eq 0 ]; then
  echo "== starting a single-node Slurm in $slurm_dir"
  # Ports of its own, so that a cluster a developer runs on Slurm's defaults is left alone.
  export LOCAL_SLURM_CTLD_PORT=16817 LOCAL_SLURM_SLURMD_PORT=16818
  LOCAL_SLURM_CPUS=8 bash "$slurm_script" start "$slurm_dir"
  trap 'bash "$slurm_script" stop "$slurm_dir" >/dev/null 2>&1 || true' EXIT
  source "$slurm_dir/env.sh"
  export FASTGPU_TEST_SLURM=required
else
  echo "== no Slurm cluster: $slurm_script is missing or this is not root; the Slurm tests skip"
fi

for preset in ci asan; do
  echo "== $preset: configure, build, test"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  ctest --preset "$preset" -j "$jobs"
done
echo "== all tests passed"
