#!/usr/bin/env bash
# A 10,000-task array of trivial jobs (`true`) through the FastGPU daemon, side by side with
# a bare fork/exec loop and with task-spooler, each running at most P jobs at once.
# Prints each wall time and the ratios, and the CPU time per job of the loop (its own and
# its runs') and of each daemon (its own and the supervisors' and jobs' it reaped): on a
# shared VM the walls swing by a third between runs, the CPU times much less.
# docs/benchmarks.md records the figures.
#
# Usage: bench/trivial_jobs.sh [N] [P] [BUILD_DIR]
#   N          jobs (default 10000)
#   P          jobs at once (default: the number of CPUs; FastGPU's --cpu-slots, tsp -S)
#   BUILD_DIR  where fastgpu and bench/fork_exec_loop are (default build/release)
# Build first: cmake --preset release &&
#   cmake --build --preset release --target fastgpu fastgpu-supervisor fork_exec_loop
# task-spooler is the Debian package task-spooler (command tsp); without it that row is
# skipped, saying so.
set -euo pipefail

N=${1:-10000}
P=${2:-$(nproc)}
BUILD=${3:-build/release}
FASTGPU=$BUILD/fastgpu
LOOP=$BUILD/bench/fork_exec_loop
for binary in "$FASTGPU" "$LOOP"; do
  if [[ ! -x $binary ]]; then
    echo "missing $binary; build it first (see the top of $0)" >&2
    exit 2
  fi
done

WORK=$(mktemp -d /tmp/fastgpu-trivial.XXXXXX)
cleanup() {
  XDG_STATE_HOME=$WORK/disk/state XDG_RUNTIME_DIR=$WORK/disk/run "$FASTGPU" daemon stop \
    >/dev/null 2>&1 || true
  if [[ -n ${SHM:-} ]]; then
    XDG_STATE_HOME=$SHM/state XDG_RUNTIME_DIR=$SHM/run "$FASTGPU" daemon stop >/dev/null 2>&1 || true
    rm -rf "$SHM"
  fi
  if command -v tsp >/dev/null; then TS_SOCKET=$WORK/ts.sock tsp -K >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc -l; }

echo "$N jobs of 'true', at most $P at once; $(nproc) CPUs; $(date -u +%Y-%m-%d)"

# Wall times on stdout, each run's CPU per job (see fork_exec_loop.cc) kept from stderr.
loop1=$("$LOOP" "$N" 1 true 2>"$WORK/loop1.cpu")
loopP=$("$LOOP" "$N" "$P" true 2>"$WORK/loopP.cpu")
loop_cpu=$(grep -o 'cpu per run: [0-9.]*' "$WORK/loopP.cpu" | grep -o '[0-9.]*$')
printf '%-34s %8.2f s  %7.0f jobs/s  (%s)\n' "fork/exec loop, 1 at a time" "$loop1" \
  "$(echo "$N / $loop1" | bc -l)" "$(cat "$WORK/loop1.cpu")"
printf '%-34s %8.2f s  %7.0f jobs/s  (%s)\n' "fork/exec loop, $P at a time" "$loopP" \
  "$(echo "$N / $loopP" | bc -l)" "$(cat "$WORK/loopP.cpu")"

# CPU seconds of a daemon and of the children it reaped (the supervisors, and through them
# the jobs), as "self children", from /proc/PID/stat. The clients (submit, wait) are not in
# it; the CPU figure is the daemon's side of the work.
daemon_tree_cpu() {
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f %.3f\n", ($14 + $15) / hz, ($16 + $17) / hz }' \
    "/proc/$1/stat"
}

# FastGPU: its own state folder and socket; the daemon is up before the clock starts.
# Prints the wall time in seconds.
run_fastgpu() {
  local base=$1 label=$2 start submitted wall completed
  mkdir -p "$base/state" "$base/run"
  (
    export XDG_STATE_HOME=$base/state XDG_RUNTIME_DIR=$base/run
    FASTGPU_CPU_SLOTS=$P "$FASTGPU" daemon start >/dev/null
    local pid self0 children0 self1 children1
    pid=$("$FASTGPU" daemon status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
    read -r self0 children0 < <(daemon_tree_cpu "$pid")
    start=$(now)
    "$FASTGPU" submit --gpus 0 --array "0-$((N - 1))" -- true >/dev/null
    submitted=$(now)
    "$FASTGPU" wait --all >/dev/null
    wall=$(elapsed "$start" "$(now)")
    read -r self1 children1 < <(daemon_tree_cpu "$pid")
    completed=$("$FASTGPU" history --json | python3 -c \
      'import json,sys; print(sum(j["state"] == "COMPLETED" for j in json.load(sys.stdin)["jobs"]))')
    "$FASTGPU" daemon stop >/dev/null
    local self_ms children_ms
    self_ms=$(echo "($self1 - $self0) * 1000 / $N" | bc -l)
    children_ms=$(echo "($children1 - $children0) * 1000 / $N" | bc -l)
    printf '%-34s %8.2f s  %7.0f jobs/s  (submit %.2f s; %s of %s COMPLETED)\n' "$label" "$wall" \
      "$(echo "$N / $wall" | bc -l)" "$(elapsed "$start" "$submitted")" "$completed" "$N" >&2
    printf '%-34s cpu per job: %.3f ms (the daemon %.3f, supervisors and jobs %.3f)\n' "" \
      "$(echo "$self_ms + $children_ms" | bc -l)" "$self_ms" "$children_ms" >&2
    echo "$wall $(echo "$self_ms + $children_ms" | bc -l)"
  )
}

read -r fastgpu fastgpu_cpu < <(run_fastgpu "$WORK/disk" "fastgpu, --cpu-slots $P")
# The same with the state folder in memory (tmpfs), where there is one: what remains is the
# processes and SQLite's CPU, without the file system's cost of creating files.
if [[ -d /dev/shm && -w /dev/shm ]]; then
  SHM=$(mktemp -d /dev/shm/fastgpu-trivial.XXXXXX)
  run_fastgpu "$SHM" "fastgpu, state on tmpfs" >/dev/null
  rm -rf "$SHM"
  SHM=""
fi

tsp_time=""
if command -v tsp >/dev/null; then
  export TS_SOCKET=$WORK/ts.sock TMPDIR=$WORK TS_MAXFINISHED=$((N + 10))
  tsp -K >/dev/null 2>&1 || true
  # The first call starts tsp's server; retry while it comes up.
  for _ in 1 2 3 4 5; do tsp -S "$P" >/dev/null 2>&1 && break; sleep 0.2; done
  start=$(now)
  for ((i = 0; i < N; i++)); do tsp true >/dev/null; done
  tsp -w >/dev/null 2>&1 || true
  # -w waits for the last added job; others may still run with P > 1.
  while tsp -l | grep -qE ' (running|queued) '; do sleep 0.05; done
  tsp_time=$(elapsed "$start" "$(now)")
  printf '%-34s %8.2f s  %7.0f jobs/s\n' "task-spooler (tsp -S $P)" "$tsp_time" \
    "$(echo "$N / $tsp_time" | bc -l)"
else
  echo "task-spooler: not installed (apt-get install task-spooler); row skipped"
fi

printf 'ratio fastgpu / fork-exec loop (%s at a time): %.2fx  (goal <= 1.10x)\n' "$P" \
  "$(echo "$fastgpu / $loopP" | bc -l)"
printf 'ratio fastgpu / fork-exec loop (1 at a time):  %.2fx\n' "$(echo "$fastgpu / $loop1" | bc -l)"
printf 'cpu per job, fastgpu / fork-exec loop (%s at a time): %.2fx  (%.3f / %.3f ms)\n' "$P" \
  "$(echo "$fastgpu_cpu / $loop_cpu" | bc -l)" "$fastgpu_cpu" "$loop_cpu"
if [[ -n $tsp_time ]]; then
  printf 'ratio fastgpu / task-spooler:                  %.2fx\n' "$(echo "$fastgpu / $tsp_time" | bc -l)"
fi
