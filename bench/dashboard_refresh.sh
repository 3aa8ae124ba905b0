#!/usr/bin/env bash
# What one refresh of the dashboard costs the daemon with a long queue: the daemon's CPU per
# refresh for the page's requests as they are (your first 100 queued jobs, the running ones,
# the ended ones only when one has ended) against one listing of every queued and running
# job, the first version's request, side by side on the same daemon.
#
# usage: bench/dashboard_refresh.sh [QUEUED] [REFRESHES]   (defaults 10000 and 20)
# Needs a build (build/release, else build/ci) and curl. Uses simulated GPUs and its own
# state folder; leaves nothing running.
set -euo pipefail
cd "$(dirname "$0")/.."

queued=${1:-10000}
refreshes=${2:-20}
fastgpu=build/release/fastgpu
[ -x "$fastgpu" ] || fastgpu=build/ci/fastgpu
[ -x "$fastgpu" ] || { echo "build fastgpu first (cmake --build --preset release)" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl is needed" >&2; exit 1; }

work=$(mktemp -d)
export XDG_STATE_HOME=$work/state XDG_RUNTIME_DIR=$work/run FASTGPU_DEVICES=2xA100-40G
unset FASTGPU_STATE_DIR FASTGPU_SOCKET
mkdir -m 700 "$XDG_RUNTIME_DIR"
# The jobs are cancelled first: a stopped daemon's running jobs go on under their supervisors.
trap '"$fastgpu" cancel --all >/dev/null 2>&1 || true; "$fastgpu" daemon stop >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

"$fastgpu" daemon start >/dev/null
pid=$("$fastgpu" daemon status --json | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
socket=$XDG_RUNTIME_DIR/fastgpu/fastgpu.sock
# One job holds a GPU, so the 2-GPU array waits behind it.
"$fastgpu" submit --gpus 1 --gpu-mem 1G -- sleep 600 >/dev/null
"$fastgpu" submit --array "0-$((queued - 1))" --gpus 2 --gpu-mem 30G -- true >/dev/null

# The daemon's CPU seconds so far (user + system).
cpu() { awk -v tick="$(getconf CLK_TCK)" '{print ($14 + $15) / tick}' "/proc/$pid/stat"; }
get() { curl -s --unix-socket "$socket" "http://fastgpu$1" -o /dev/null -w '%{size_download}\n'; }

# Each refresh asks what the page asks every 2 s, with `listing` for its jobs.
measure() {
  local before after bytes=0 n
  before=$(cpu)
  for ((i = 0; i < refreshes; i++)); do
    for target in /v1/daemon /v1/gpus "/v1/gpus/samples?seconds=600" "$@"; do
      n=$(get "$target")
      bytes=$((bytes + n))
    done
  done
  after=$(cpu)
  echo "$(awk -v a="$after" -v b="$before" -v r="$refreshes" 'BEGIN {printf "%.2f", (a - b) * 1000 / r}') $((bytes / refreshes))"
}

read -r whole_ms whole_bytes < <(measure "/v1/jobs?state=QUEUED,RUNNING&fields=table")
read -r paged_ms paged_bytes < <(measure "/v1/jobs?state=RUNNING&fields=table" \
  "/v1/jobs?state=QUEUED&fields=table&limit=100")

printf '%s queued jobs, %s refreshes each\n' "$queued" "$refreshes"
printf '%-44s %10s %12s\n' "a refresh asks" "daemon CPU" "bytes"
printf '%-44s %8s ms %12s\n' "every queued and running job (first version)" "$whole_ms" "$whole_bytes"
printf '%-44s %8s ms %12s\n' "running + first 100 queued (now)" "$paged_ms" "$paged_bytes"
awk -v a="$paged_ms" -v b="$whole_ms" 'BEGIN { if (b > 0) printf "now / first version: %.3fx daemon CPU\n", a / b }'
