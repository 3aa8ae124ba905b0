#!/usr/bin/env bash
# Runs clang-tidy (.clang-tidy) over FastGPU's sources, using the compile commands of the
# "ci" build. Fails if clang-tidy reports anything.
set -euo pipefail
cd "$(dirname "$0")/.."

cmake --preset ci >/dev/null
mapfile -t files < <(git ls-files 'src/*.cc' 'bench/*.cc' 'tests/*.cc')
run-clang-tidy -quiet -p build/ci -j "${FASTGPU_JOBS:-$(nproc)}" "${files[@]}" 2>/dev/null \
  || { echo "tidy: clang-tidy found problems (see above)" >&2; exit 1; }
echo "tidy: ${#files[@]} files clean"
