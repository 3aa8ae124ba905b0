#!/usr/bin/env bash
# `fastgpu logs` of one large log, two builds side by side (for instance the code before a
# change and after it), state on tmpfs. Each build gets a state folder of its own (a newer
# build's schema is one an older build refuses), with one CPU-only job that wrote MB MiB of
# 100-character lines; then, R times each, alternating A, B, A, B, ...: a daemon of that
# build is started, `fastgpu logs 1` reads the whole log (it asks 1 MiB at a time, in
# base64), and the output is compared with the log file byte for byte. Each run prints the
# wall time, the daemon's CPU time and its resident memory after the read; then the
# medians and the ratios B/A. docs/benchmarks.md records the figures.
#
# Usage: bench/log_read.sh BUILD_A BUILD_B [MB] [R]
#   BUILD_A, BUILD_B  build folders holding fastgpu and fastgpu-supervisor
#   MB                the log's size in MiB (default 128)
#   R                 runs with each build (default 3)
set -euo pipefail

A=${1:?usage: $0 BUILD_A BUILD_B [MB] [R]}
B=${2:?usage: $0 BUILD_A BUILD_B [MB] [R]}
MB=${3:-128}
R=${4:-3}
# shellcheck source=bench/daemon_bench_lib.sh
source "$(dirname "$0")/daemon_bench_lib.sh"
require_builds "$A" "$B"
require_shm

WORK=$(mktemp -d /dev/shm/fastgpu-log-read.XXXXXX)
trap 'for s in a b; do FASTGPU_STATE_DIR=$WORK/$s FASTGPU_SOCKET=$WORK/$s.sock \
  "$A/fastgpu" daemon stop >/dev/null 2>&1 || true; done; rm -rf "$WORK"' EXIT
export FASTGPU_DEVICES=1xH100-80G

# use SIDE BUILD: this side's daemon and client.
use() {
  export FASTGPU_STATE_DIR=$WORK/$1 FASTGPU_SOCKET=$WORK/$1.sock
  FASTGPU=$2/fastgpu
}

for side in a b; do
  build=$A
  [[ $side == b ]] && build=$B
  use "$side" "$build"
  mkdir -m 700 "$FASTGPU_STATE_DIR"
  "$FASTGPU" submit --gpus 0 --wrap "head -c $((MB * 1024 * 1024)) /dev/zero | tr '\\0' x | fold -w 100" >/dev/null
  "$FASTGPU" wait 1 --timeout 600s >/dev/null
  "$FASTGPU" daemon stop >/dev/null
done

declare -A WALL CPU RSS
for run in $(seq 1 "$R"); do
  for side in a b; do
    build=$A
    [[ $side == b ]] && build=$B
    use "$side" "$build"
    "$FASTGPU" daemon start >/dev/null
    DAEMON_PID=$(daemon_pid)
    cpu_before=$(daemon_cpu)
    start=$(date +%s.%N)
    "$FASTGPU" logs 1 >"$WORK/out"
    end=$(date +%s.%N)
    cpu_after=$(daemon_cpu)
    rss=$(ps -o rss= -p "$DAEMON_PID" | tr -d ' ')
    if ! cmp -s "$WORK/out" "$FASTGPU_STATE_DIR/logs/1.log"; then
      echo "build $build: the output differs from the log" >&2
      exit 1
    fi
    "$FASTGPU" daemon stop >/dev/null
    wall=$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')
    cpu=$(awk -v a="$cpu_before" -v b="$cpu_after" 'BEGIN { print b - a }')
    WALL[$side]+="$wall "
    CPU[$side]+="$cpu "
    RSS[$side]+="$((rss / 1024)) "
    printf 'run %d %s (%s): wall %.2f s, daemon CPU %.2f s, daemon memory after %d MiB\n' \
      "$run" "$side" "$build" "$wall" "$cpu" "$((rss / 1024))"
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
echo "medians of $R runs, a log of $MB MiB ($(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)):"
for what in WALL CPU RSS; do
  declare -n figures=$what
  a=$(echo "${figures[a]}" | median)
  b=$(echo "${figures[b]}" | median)
  printf '  %-4s A %8.2f  B %8.2f  B/A %.2fx\n' "$what" "$a" "$b" \
    "$(awk -v a="$a" -v b="$b" 'BEGIN { print a > 0 ? b / a : 0 }')"
done
