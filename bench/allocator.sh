#!/usr/bin/env bash
# The scheduler's kept drains (bench/sched_bench.cc) on the programs' allocator (mimalloc,
# FASTGPU_MIMALLOC) and on glibc's malloc, side by side: the same source built twice,
# run alternately R times by bench/sched_compare.sh. Prints the CPU microseconds per placed
# job (median and range of the runs), the medians' ratio, and checks that both made the same
# decisions (the starts digest).
# docs/benchmarks.md records the figures.
#
# Usage: bench/allocator.sh [R] [BUILD_DIR] [FILTER]
#   R          runs of each (default 5)
#   BUILD_DIR  where bench/sched_bench and bench/sched_bench_glibc are (default build/release)
#   FILTER     the benchmarks (default the priority drain, and with a 10 s tick, at 10k and 100k)
# Build first: cmake --preset release &&
#   cmake --build --preset release --target sched_bench sched_bench_glibc
set -euo pipefail

R=${1:-5}
BUILD=${2:-build/release}
FILTER=${3:-'BM_DrainKept(Tick10s)?/(10000|100000)/'}
for binary in "$BUILD/bench/sched_bench" "$BUILD/bench/sched_bench_glibc"; do
  if [[ ! -x $binary ]]; then
    echo "missing $binary; build it first (see the top of $0)" >&2
    exit 2
  fi
done
if ! ldd "$BUILD/bench/sched_bench" | grep -q libmimalloc; then
  echo "$BUILD/bench/sched_bench is not linked with mimalloc (configure with FASTGPU_MIMALLOC=ON)" >&2
  exit 2
fi

exec "$(dirname "$0")/sched_compare.sh" "$BUILD/bench/sched_bench_glibc" "$BUILD/bench/sched_bench" \
  "$R" "$FILTER" "glibc malloc" mimalloc
