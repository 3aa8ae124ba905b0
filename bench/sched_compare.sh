#!/usr/bin/env bash
# The scheduler's kept drains (bench/sched_bench.cc) of two sched_bench programs side by
# side: two builds of different commits, or one source built two ways (bench/allocator.sh).
# Runs them alternately R times (the first of each pair alternates too, so neither always
# runs on the caches the other left), and prints the CPU microseconds per placed job
# (median and range of the runs), the medians' ratio (second / first), and whether both made
# the same decisions (the starts digest). docs/benchmarks.md records the figures.
#
# Usage: bench/sched_compare.sh FIRST SECOND [R] [FILTER] [FIRST_LABEL] [SECOND_LABEL]
#   FIRST, SECOND  the two sched_bench programs (e.g. a copy of an older build's, and
#                  build/release/bench/sched_bench)
#   R              runs of each (default 5)
#   FILTER         the benchmarks (default the priority drain, and with a 10 s tick, at 10k
#                  and 100k)
#   *_LABEL        the columns' names (default "first" and "second")
set -euo pipefail

if [[ $# -lt 2 ]]; then
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
fi
FIRST=$1
SECOND=$2
R=${3:-5}
FILTER=${4:-'BM_DrainKept(Tick10s)?/(10000|100000)/'}
LABELS=("${5:-first}" "${6:-second}")
for binary in "$FIRST" "$SECOND"; do
  if [[ ! -x $binary ]]; then
    echo "missing $binary: give two built sched_bench programs" >&2
    exit 2
  fi
done

OUT=$(mktemp -d /tmp/fastgpu-sched-compare.XXXXXX)
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
  if ((i % 2 == 1)); then
    run "$FIRST" >>"$OUT/0"
    run "$SECOND" >>"$OUT/1"
  else
    run "$SECOND" >>"$OUT/1"
    run "$FIRST" >>"$OUT/0"
  fi
done

echo "CPU us per placed job, $R runs each, alternating ($(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-28s %-29s %-29s %6s %5s\n' benchmark "${LABELS[0]}: median (range)" \
  "${LABELS[1]}: median (range)" ratio same
for name in $(awk '{ print $1 }' "$OUT/0" | sort -u); do
  cells=()
  medians=()
  for side in 0 1; do
    values=$(awk -v n="$name" '$1 == n { print $2 }' "$OUT/$side" | sort -g)
    count=$(wc -l <<<"$values")
    median=$(sed -n "$(((count + 1) / 2))p" <<<"$values")
    medians+=("$median")
    cells+=("$median ($(head -1 <<<"$values")-$(tail -1 <<<"$values"))")
  done
  digests=$(awk -v n="$name" '$1 == n { print $3 }' "$OUT/0" "$OUT/1" | sort -u | wc -l)
  same=$([[ $digests == 1 ]] && echo yes || echo NO)
  ratio=$(awk -v a="${medians[1]}" -v b="${medians[0]}" 'BEGIN { printf "%.2fx", a / b }')
  printf '%-28s %-29s %-29s %6s %5s\n' "$name" "${cells[0]}" "${cells[1]}" "$ratio" "$same"
done
