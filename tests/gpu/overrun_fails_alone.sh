#!/usr/bin/env bash
# GPU test: on a real NVIDIA GPU, a job that holds more GPU memory than it declared is killed
# by the daemon's memory check (memory-action kill), and the job beside it on the same GPU,
# which keeps to its declaration, completes. Memory is read through NVML per process, so this
# is the quota's path from the driver to the job's end, which the fake NVML can only imitate.
#
# Usage: overrun_fails_alone.sh FASTGPU FASTGPU_BURN
set -euo pipefail
FASTGPU=$1
BURN=$2
source "$(dirname "$0")/own_daemon.sh" overrun

printf 'memory-action: kill\n' >"$WORK/config.yaml"
"$FASTGPU" daemon start --config "$WORK/config.yaml" >/dev/null
cat >"$WORK/batch.yaml" <<YAML
defaults:
  time: 2m
  gpus: 1
  share: 0.5
jobs:
  - name: honest
    gpu-mem: 5G
    command: [$BURN, --mem, 4G, --time, 20s]
  - name: overrun
    gpu-mem: 2G
    command: [$BURN, --mem, 8G, --time, 20s]
YAML
"$FASTGPU" run --json "$WORK/batch.yaml" >"$WORK/report.json" || true
"$FASTGPU" history --json >"$WORK/history.json"
"$FASTGPU" history
python3 - "$WORK/history.json" <<'PY'
import json, sys
history = json.load(open(sys.argv[1]))
jobs = {job["spec"]["name"]: job for job in history["jobs"]}
honest, overrun = jobs["honest"], jobs["overrun"]
print(f"honest: {honest['state']} ({honest.get('end_reason')}); "
      f"overrun: {overrun['state']} ({overrun.get('end_reason')})")
problems = []
if honest["state"] != "COMPLETED":
    problems.append("the job within its declaration did not complete")
if overrun["state"] == "COMPLETED":
    problems.append("the job over its declaration was not stopped")
elif "memory" not in (overrun.get("end_reason") or ""):
    problems.append("the overrunning job's end does not say it was its memory")
print("ok: the overrunning job failed alone" if not problems else "; ".join(problems))
sys.exit(1 if problems else 0)
PY
