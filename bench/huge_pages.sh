#!/usr/bin/env bash
# The scheduler's kept drains (bench/sched_bench.cc) with the heap on 4 KiB pages and on the
# kernel's transparent huge pages, as the daemon and the simulator now ask for them
# (src/core/huge_pages.h): the same program, run alternately R times, once with
# MIMALLOC_LARGE_OS_PAGES=0 (the user's choice to keep 4 KiB pages) and once as it starts
# by itself. Prints the CPU microseconds per placed job (median and range of the runs), the
# medians' ratio, the page faults of a drain (median), and checks that both made the same
# decisions (the starts digest). docs/benchmarks.md records the figures.
#
# Usage: bench/huge_pages.sh [R] [BUILD_DIR] [FILTER]
#   R          runs of each (default 7)
#   BUILD_DIR  where bench/sched_bench is (default build/release)
#   FILTER     the benchmarks (default the priority and fair drains at 10k and 100k)
# Build first: cmake --preset release && cmake --build --preset release --target sched_bench
set -euo pipefail

R=${1:-7}
BUILD=${2:-build/release}
FILTER=${3:-'BM_DrainKept(Fair)?/(10000|100000)/'}
BINARY=$BUILD/bench/sched_bench
if [[ ! -x $BINARY ]]; then
  echo "missing $BINARY; build it first (see the top of $0)" >&2
  exit 2
fi
if ! ldd "$BINARY" | grep -q libmimalloc; then
  echo "$BINARY is not linked with mimalloc (configure with FASTGPU_MIMALLOC=ON)" >&2
  exit 2
fi
THP=$(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo "not offered")
if [[ $THP == *"[never]"* || $THP == "not offered" ]]; then
  echo "this kernel offers no transparent huge pages ($THP): both runs would be the same" >&2
  exit 2
fi

OUT=$(mktemp -d /tmp/fastgpu-huge-pages.XXXXXX)
trap 'rm -rf "$OUT"' EXIT

# One run: "name us_per_placed digest page_faults" per benchmark.
run() {
  env "$@" "$BINARY" --benchmark_filter="$FILTER" 2>/dev/null |
    awk '/^BM_/ { name = $1; sub(/\/iterations:.*/, "", name); us = ""; digest = ""; faults = ""
                  for (i = 1; i <= NF; i++) {
                    if ($i ~ /^us_per_placed=/) { us = $i; sub(/.*=/, "", us) }
                    if ($i ~ /^starts_digest=/) { digest = $i; sub(/.*=/, "", digest) }
                    if ($i ~ /^page_faults=/) { faults = $i; sub(/.*=/, "", faults)
                                                if (faults ~ /k$/) faults *= 1000 } }
                  printf "%s %.2f %s %s\n", name, us, digest, faults }'
}

for ((i = 1; i <= R; i++)); do
  run MIMALLOC_LARGE_OS_PAGES=0 >>"$OUT/small"
  run >>"$OUT/huge"
done

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "CPU us per placed job, $R runs each, alternating ($(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); THP: $THP)"
printf '%-26s %-24s %-24s %6s %-15s %5s\n' benchmark "4 KiB: median (range)" "huge: median (range)" ratio "faults 4K/huge" same
for name in $(awk '{ print $1 }' "$OUT/small" | sort -u); do
  cells=()
  medians=()
  faults=()
  for pages in small huge; do
    values=$(awk -v n="$name" '$1 == n { print $2 }' "$OUT/$pages" | sort -g)
    m=$(median <<<"$values")
    medians+=("$m")
    cells+=("$m ($(head -1 <<<"$values")-$(tail -1 <<<"$values"))")
    faults+=("$(awk -v n="$name" '$1 == n { print $4 }' "$OUT/$pages" | median)")
  done
  digests=$(awk -v n="$name" '$1 == n { print $3 }' "$OUT/small" "$OUT/huge" | sort -u | wc -l)
  same=$([[ $digests == 1 ]] && echo yes || echo NO)
  ratio=$(awk -v a="${medians[1]}" -v b="${medians[0]}" 'BEGIN { printf "%.2fx", a / b }')
  printf '%-26s %-24s %-24s %6s %-15s %5s\n' "$name" "${cells[0]}" "${cells[1]}" "$ratio" \
    "$(printf '%.0f/%.0f' "${faults[0]}" "${faults[1]}")" "$same"
done
