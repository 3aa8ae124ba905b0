#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine and runs every test:
#   1. installs the dependencies (scripts/setup.sh),
#   2. checks formatting (clang-format),
#   3. builds with warnings as errors and runs the tests,
#   4. builds with AddressSanitizer + UndefinedBehaviorSanitizer and runs the tests again.
# Tests labelled "gpu" need a real NVIDIA GPU and are skipped here (see docs/gpu-checks.md).
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=${FASTGPU_JOBS:-$(nproc)}

scripts/setup.sh
source scripts/build-env.sh
scripts/format.sh --check

for preset in ci asan; do
  echo "== $preset: configure, build, test"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  ctest --preset "$preset" -j "$jobs"
done
echo "== all tests passed"
