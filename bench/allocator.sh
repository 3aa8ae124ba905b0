#!/usr/bin/env bash
# The scheduler's kept drains (bench/sched_bench.cc) on the programs' allocator (mimalloc,
# FASTGPU_MIMALLOC) and on glibc's malloc, side by side: the same source built twice,
# run alternately R times. Prints the CPU microseconds per placed job (median and range of
# the runs), the medians' ratio, and checks that both made the same decisions (the starts digest).
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

OUT=$(mktemp -d /tmp/fastgpu-allocator.XXXXXX)
trap 'rm -rf "$OUT"' EXIT

# One run: "name us_per_placed digest" per benchmark.
run() {
  "$1" --benchmark_filter="$FILTER" 2>/dev/null |
    awk '/^BM_/ { name = $1; sub(/\/iterations:.*/, "", name); us = ""; digest = ""
                  for (i = 1; i <= NF; i++) {
                    if ($i ~ /^us_per_placed=/) { us = $i; sub(/.*=/, "", us) }
                    if ($i ~ /^starts_digest=/) { digest = $i; sub(/.*=/, "", digest) } }
                  printf "%s %.2f %s\n", name, us, digest }'
}

for ((i = 1; i <= R; i++)); do
  run "$BUILD/bench/sched_bench" >>"$OUT/mimalloc"
  run "$BUILD/bench/sched_bench_glibc" >>"$OUT/glibc"
done

echo "CPU us per placed job, $R runs each, alternating ($(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-28s %-29s %-29s %6s %5s\n' benchmark "glibc malloc: median (range)" "mimalloc: median (range)" ratio same
for name in $(awk '{ print $1 }' "$OUT/glibc" | sort -u); do
  cells=()
  medians=()
  for allocator in glibc mimalloc; do
    values=$(awk -v n="$name" '$1 == n { print $2 }' "$OUT/$allocator" | sort -g)
    count=$(wc -l <<<"$values")
    median=$(sed -n "$(((count + 1) / 2))p" <<<"$values")
    medians+=("$median")
    cells+=("$median ($(head -1 <<<"$values")-$(tail -1 <<<"$values"))")
  done
  digests=$(awk -v n="$name" '$1 == n { print $3 }' "$OUT/glibc" "$OUT/mimalloc" | sort -u | wc -l)
  same=$([[ $digests == 1 ]] && echo yes || echo NO)
  ratio=$(awk -v a="${medians[1]}" -v b="${medians[0]}" 'BEGIN { printf "%.2fx", a / b }')
  printf '%-28s %-29s %-29s %6s %5s\n' "$name" "${cells[0]}" "${cells[1]}" "$ratio" "$same"
done
