#!/usr/bin/env bash
# What a submitting shell's environment costs: a 10,000-task array submitted through the
# daemon from a shell with a large environment (as a login shell with conda, modules and the
# like has), side by side with the same array from a near-empty environment. Prints the
# submit's wall time, the daemon's CPU time and memory growth, the state folder's size and
# a full `fastgpu queue --json`'s time for each, and the ratios large / small.
# docs/benchmarks.md records the figures.
#
# Usage: bench/submit_environment.sh [N] [ENV_KB] [BUILD_DIR]
#   N          jobs in the array (default 10000)
#   ENV_KB     size of the large environment in kB (default 4)
#   BUILD_DIR  where fastgpu is (default build/release)
# The array waits behind a job that holds the daemon's one CPU slot, so nothing runs while
# it is measured; both are cancelled at the end.
set -euo pipefail

N=${1:-10000}
ENV_KB=${2:-4}
BUILD=${3:-build/release}
FASTGPU=$(realpath "$BUILD/fastgpu")
if [[ ! -x $FASTGPU ]]; then
  echo "missing $BUILD/fastgpu; build it first (cmake --build --preset release)" >&2
  exit 2
fi

WORK=$(mktemp -d /tmp/fastgpu-submit-env.XXXXXX)
cleanup() {
  for base in "$WORK/small" "$WORK/large"; do
    [[ -d $base/run ]] || continue
    XDG_STATE_HOME=$base/state XDG_RUNTIME_DIR=$base/run "$FASTGPU" daemon stop >/dev/null 2>&1 ||
      true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc -l; }
# CPU seconds (user + system) of process $1 so far.
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }

# ENV_KB kB of variables of about 100 bytes each, like a real environment's many entries.
large_environment=()
for ((i = 0; i < ENV_KB * 10; i++)); do
  large_environment+=("BENCH_VAR_$i=$(printf '%090d' "$i")")
done

# Runs the array from `env -i` with the given variables; prints one result line.
measure() {
  local label=$1 base=$WORK/$1
  shift
  mkdir -p "$base/state" "$base/run"
  local -a run_env=(env -i "HOME=$HOME" "PATH=/usr/local/bin:/usr/bin:/bin"
    "XDG_STATE_HOME=$base/state" "XDG_RUNTIME_DIR=$base/run" "$@")
  FASTGPU_CPU_SLOTS=1 "${run_env[@]}" "$FASTGPU" daemon start >/dev/null
  local pid holder start cpu0 rss0 submit cpu rss list size
  pid=$("${run_env[@]}" "$FASTGPU" daemon status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
  holder=$("${run_env[@]}" "$FASTGPU" submit --gpus 0 -- sleep 600)
  sleep 0.5
  cpu0=$(cpu_seconds "$pid")
  rss0=$(rss_kb "$pid")
  start=$(now)
  "${run_env[@]}" "$FASTGPU" submit --gpus 0 --after "$holder" --array "0-$((N - 1))" -- true >/dev/null
  submit=$(elapsed "$start" "$(now)")
  sleep 0.5 # let the daemon's next tick see the queue
  cpu=$(echo "$(cpu_seconds "$pid") - $cpu0" | bc -l)
  rss=$(($(rss_kb "$pid") - rss0))
  start=$(now)
  "${run_env[@]}" "$FASTGPU" queue --json >/dev/null
  list=$(elapsed "$start" "$(now)")
  size=$(du -sk "$base/state" | cut -f1)
  "${run_env[@]}" "$FASTGPU" cancel "$holder" >/dev/null
  "${run_env[@]}" "$FASTGPU" daemon stop >/dev/null
  printf '%-18s submit %6.2f s  daemon CPU %6.2f s  daemon RSS +%7d kB  state %7d kB  queue --json %6.2f s\n' \
    "$label environment" "$submit" "$cpu" "$rss" "$size" "$list"
  echo "$submit $cpu $rss $size $list" >"$WORK/$label.figures"
}

echo "$N-job array, environment of ${ENV_KB} kB against a near-empty one; $(nproc) CPUs; $(date -u +%Y-%m-%dT%H:%MZ)"
measure small
measure large "${large_environment[@]}"
read -r s_submit s_cpu s_rss s_size s_list <"$WORK/small.figures"
read -r l_submit l_cpu l_rss l_size l_list <"$WORK/large.figures"
ratio() { echo "$1 / $2" | bc -l; }
printf 'ratio large / small: submit %.2fx, daemon CPU %.2fx, state size %.2fx, queue --json %.2fx\n' \
  "$(ratio "$l_submit" "$s_submit")" "$(ratio "$l_cpu" "$s_cpu")" \
  "$(ratio "$l_size" "$s_size")" "$(ratio "$l_list" "$s_list")"
printf 'daemon memory for the large environment: +%d kB against +%d kB\n' "$l_rss" "$s_rss"
