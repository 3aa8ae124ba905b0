#!/usr/bin/env bash
# What a change to one queued job (`fastgpu hold`, `release`, `update --priority`), and to
# the running job's time limit (`update --time`), costs a daemon with a large queue, against
# a request that changes nothing (`fastgpu show`), side by side: a job holding every GPU
# (4xH100-80G, simulated) and Q one-GPU jobs waiting behind it, state on tmpfs. For each
# request: its wall time, and the daemon's CPU over the WINDOW seconds that follow it (its
# ticks; after a change, the one that builds its kept scheduler again from the whole queue).
# Each round runs show, hold, release, update, limit, in that order, R rounds; medians are
# printed with the extra CPU of each change over show's.
# docs/benchmarks.md records the figures.
#
# Usage: bench/queue_changes.sh BUILD [Q] [R] [WINDOW]
#   BUILD   a build folder holding fastgpu and fastgpu-supervisor
#   Q       jobs waiting (default 100000)
#   R       rounds (default 5)
#   WINDOW  seconds of daemon CPU counted after each request (default 2)
set -euo pipefail

BUILD=${1:?usage: $0 BUILD [Q] [R] [WINDOW]}
Q=${2:-100000}
R=${3:-5}
WINDOW=${4:-2}
# shellcheck source=bench/daemon_bench_lib.sh
source "$(dirname "$0")/daemon_bench_lib.sh"
require_builds "$BUILD" "$BUILD"
require_shm

WORK=$(mktemp -d /dev/shm/fastgpu-changes.XXXXXX)
FASTGPU=$BUILD/fastgpu
cleanup() {
  "$FASTGPU" daemon stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc -l; }

mkdir -p "$WORK/state" "$WORK/run"
export XDG_STATE_HOME=$WORK/state XDG_RUNTIME_DIR=$WORK/run FASTGPU_DEVICES=4xH100-80G
"$FASTGPU" daemon start >/dev/null
DAEMON_PID=$(daemon_pid)
BLOCKER=$("$FASTGPU" submit --gpus 4 --gpu-mem 70G --time 1h -- sleep 3600)
for ((first = 0; first < Q; first += 10000)); do
  last=$((first + 10000 < Q ? first + 10000 - 1 : Q - 1))
  "$FASTGPU" submit --array "0-$((last - first))" --gpus 1 --gpu-mem 1G -- true >/dev/null
done
# A job in the middle of the queue.
TARGET=$("$FASTGPU" queue --json --state queued | python3 -c \
  'import json,sys; ids=[j["id"] for j in json.load(sys.stdin)["jobs"]]; print(ids[len(ids)//2])')
sleep 3

# One request: prints "WALL CPU" (seconds), the daemon's CPU over WINDOW s from its start.
measure() {
  local cpu0 start wall
  cpu0=$(daemon_cpu)
  start=$(now)
  "$FASTGPU" "$@" >/dev/null
  wall=$(elapsed "$start" "$(now)")
  sleep "$WINDOW"
  echo "$wall $(elapsed "$cpu0" "$(daemon_cpu)")"
}

declare -A WALLS CPUS
for ((round = 0; round < R; round++)); do
  for kind in show hold release update limit; do
    case $kind in
      show) read -r wall cpu < <(measure show "$TARGET") ;;
      hold) read -r wall cpu < <(measure hold "$TARGET") ;;
      release) read -r wall cpu < <(measure release "$TARGET") ;;
      update) read -r wall cpu < <(measure update "$TARGET" --priority "$((round + 1))") ;;
      limit) read -r wall cpu < <(measure update "$BLOCKER" --time "$((120 + round))m") ;;
    esac
    WALLS[$kind]+="$wall "
    CPUS[$kind]+="$cpu "
    printf 'round %d %-8s wall %6.3f s  daemon CPU over %s s %6.3f s\n' "$round" "$kind" "$wall" \
      "$WINDOW" "$cpu"
  done
done
if [[ $("$FASTGPU" show "$TARGET" --json | python3 -c \
  'import json,sys; j=json.load(sys.stdin); print(j["state"], j["held_by"], j["spec"]["priority"])') \
  != "QUEUED None $R" ]]; then
  echo "the target job is not as the changes left it" >&2
  exit 1
fi
if [[ $("$FASTGPU" show "$BLOCKER" --json | python3 -c \
  'import json,sys; j=json.load(sys.stdin); print(j["state"], j["spec"]["time_limit_s"])') \
  != "RUNNING $(((120 + R - 1) * 60))" ]]; then
  echo "the running job's time limit is not as the changes left it" >&2
  exit 1
fi

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
echo "$(nproc) CPUs; $(date -u '+%Y-%m-%d %H:%M UTC'); load $(cut -d' ' -f1 /proc/loadavg);" \
  "$Q queued, job $TARGET changed; medians of $R"
base=$(echo "${CPUS[show]}" | median)
for kind in show hold release update limit; do
  wall=$(echo "${WALLS[$kind]}" | median)
  cpu=$(echo "${CPUS[$kind]}" | median)
  printf '%-8s wall %6.3f s  daemon CPU %6.3f s  (%+.3f s over show)\n' "$kind" "$wall" "$cpu" \
    "$(echo "$cpu - $base" | bc -l)"
done
