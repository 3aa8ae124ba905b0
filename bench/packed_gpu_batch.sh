#!/usr/bin/env bash
# The packing check on a real NVIDIA GPU (issue 4): the same fastgpu-burn jobs through the
# daemon twice, packed (each declaring its memory and compute share, so the ledger puts
# several on one GPU) and one at a time (share 1, as examples/batch-h100-serial.yaml), side
# by side in one script. Each job does a fixed amount of work (--products), so the two
# makespans compare the same work: their ratio is the packing's gain in throughput.
#
# Two pairs of batches, JOBS jobs each, every job holding 8 GiB and declaring 9G (its
# buffers plus the CUDA context, which NVML counts):
#   saturating   the jobs compute all the time (as examples/batch-h100.yaml), share 0.125:
#                eight at once on one GPU. They take turns on the GPU, so little is gained;
#                what this shows is that eight 8 GiB jobs share a GPU with no out-of-memory
#                failure.
#   waiting      the jobs wait for their input three quarters of the time: steps of 32
#                products (about 0.2 s on an H100), each after 0.6 s idle (--step 32
#                --idle 0.6s), share 0.25: four at once. Started together, identical jobs
#                stay in step, idling at the same moments; waiting-jittered draws each idle
#                from 0.3-0.9 s (--idle-jitter 0.3s, the same mean), so they drift apart as
#                real jobs do, and is compared with the same one-at-a-time batch.
# And one more batch, full-memory: the saturating jobs with share 0.0625, so that only memory
# limits how many run at once: 16 x 9G is more than an H100's or an H200's memory, and the
# ledger must hold some back rather than let them run out of memory.
# For each batch: the makespan, the most jobs that ran at once, the failures and among them
# the out-of-memory ones (fastgpu-burn exits 3), the most memory the GPUs held (nvidia-smi,
# every half second) and the largest peak FastGPU measured for one job.
#
# Usage: bench/packed_gpu_batch.sh [BUILD_DIR] [OUT_DIR]
#   (BATCHES="waiting-packed waiting-serial" runs only those)
#   BUILD_DIR  where fastgpu and tools/workload/fastgpu-burn are (default build/release)
#   OUT_DIR    keeps each batch's report (--json), its jobs (history --json) and the
#              nvidia-smi samples (default: a temporary folder, removed at the end)
# Environment: JOBS (16), PRODUCTS (500 products of 4096x4096, about 3 s on an H100),
#   WAITING_PRODUCTS (128: four steps), STEP (32), IDLE (0.6s), JITTER (0.3s),
#   FULL_PRODUCTS (200),
#   BURN (fastgpu-burn). A dry run of the script itself on a machine
#   without a GPU: BURN=fastgpu-burn-cpu FASTGPU_DEVICES=1xH100-80G MEM=8M SIZE=128 (the
#   stand-in holds host memory, so the memory figures then mean nothing).
# Build first: cmake --preset release &&
#   cmake --build --preset release --target fastgpu fastgpu-supervisor fastgpu-burn
set -euo pipefail

BUILD=$(cd "${1:-build/release}" && pwd)
JOBS=${JOBS:-16}
PRODUCTS=${PRODUCTS:-500}
WAITING_PRODUCTS=${WAITING_PRODUCTS:-128}
STEP=${STEP:-32}
IDLE=${IDLE:-0.6s}
JITTER=${JITTER:-0.3s}
FULL_PRODUCTS=${FULL_PRODUCTS:-200}
BATCHES=${BATCHES:-saturating-packed saturating-serial waiting-packed waiting-serial \
  waiting-jittered full-memory}
BURN=${BURN:-fastgpu-burn}
MEM=${MEM:-8G}
SIZE=${SIZE:-4096}
FASTGPU=$BUILD/fastgpu
for binary in "$FASTGPU" "$BUILD/tools/workload/$BURN"; do
  if [[ ! -x $binary ]]; then
    echo "missing $binary; build it first (see the top of $0)" >&2
    exit 2
  fi
done
export PATH="$BUILD/tools/workload:$PATH"  # jobs inherit it and find $BURN by name

WORK=$(mktemp -d /tmp/fastgpu-packed.XXXXXX)
OUT=${2:-$WORK/out}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
export XDG_STATE_HOME=$WORK/state XDG_RUNTIME_DIR=$WORK/run
unset FASTGPU_STATE_DIR FASTGPU_SOCKET
mkdir -p "$XDG_RUNTIME_DIR"
SAMPLER=
cleanup() {
  if [[ -n $SAMPLER ]]; then kill "$SAMPLER" 2>/dev/null || true; fi
  "$FASTGPU" daemon stop >/dev/null 2>&1 || true
  rm -rf "$WORK"  # OUT_DIR, when given, is elsewhere
}
trap cleanup EXIT

"$FASTGPU" daemon start >/dev/null
source=$("$FASTGPU" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["source"])')
if [[ $source != nvml && -z ${FASTGPU_DEVICES:-} ]]; then
  echo "no NVIDIA GPU here (status says '$source'); this check needs one" >&2
  exit 2
fi
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, GPUs:"
"$FASTGPU" status | sed 's/^/  /'
echo "$JOBS jobs a batch, each $BURN --mem $MEM --size $SIZE, declaring 9G"

# write_batch NAME SHARE WORKLOAD_ARGS: a job file of JOBS array members.
write_batch() {
  cat >"$WORK/$1.yaml" <<EOF
defaults:
  time: 10m
jobs:
  - name: $1
    array: 0-$((JOBS - 1))
    gpus: 1
    gpu-mem: 9G
    share: $2
    command: [$BURN, --mem, $MEM, --size, $SIZE, $3]
EOF
}

# run_batch NAME: runs it, sampling the GPUs' memory meanwhile, and keeps what it reported.
run_batch() {
  local name=$1
  if command -v nvidia-smi >/dev/null && [[ $source == nvml ]]; then
    nvidia-smi --query-gpu=index,memory.used,utilization.gpu --format=csv,noheader,nounits \
      -lms 500 >"$OUT/$name.smi.csv" 2>/dev/null &
    SAMPLER=$!
  else
    : >"$OUT/$name.smi.csv"
  fi
  "$FASTGPU" run --json "$WORK/$name.yaml" >"$OUT/$name.report.json" || true
  if [[ -n $SAMPLER ]]; then
    kill "$SAMPLER" 2>/dev/null || true
    wait "$SAMPLER" 2>/dev/null || true
    SAMPLER=
  fi
  # Every job of the batch, with its exit code and its start and end, for the summary.
  "$FASTGPU" history --json >"$OUT/$name.history.json"
  "$FASTGPU" history -n "$JOBS" >"$OUT/$name.history.txt"
}

write_batch saturating-packed 0.125 "--products, $PRODUCTS"
write_batch saturating-serial 1 "--products, $PRODUCTS"
write_batch waiting-packed 0.25 "--products, $WAITING_PRODUCTS, --step, $STEP, --idle, $IDLE"
write_batch waiting-serial 1 "--products, $WAITING_PRODUCTS, --step, $STEP, --idle, $IDLE"
write_batch waiting-jittered 0.25 \
  "--products, $WAITING_PRODUCTS, --step, $STEP, --idle, $IDLE, --idle-jitter, $JITTER"
write_batch full-memory 0.0625 "--products, $FULL_PRODUCTS"
for name in $BATCHES; do
  echo "running $name ..."
  run_batch "$name"
done

python3 - "$OUT" "$BATCHES" <<'EOF'
import csv, json, sys

out = sys.argv[1]

def batch(name):
    report = json.load(open(f"{out}/{name}.report.json"))
    ids = {job["id"] for job in report["jobs"]}
    history = json.load(open(f"{out}/{name}.history.json"))
    jobs = [job for job in history["jobs"] if job["id"] in ids]
    events = sorted([(j["start_time_us"], 1) for j in jobs if j.get("start_time_us")] +
                    [(j["end_time_us"], -1) for j in jobs if j.get("start_time_us")])
    running = most = 0
    for _, step in events:
        running += step
        most = max(most, running)
    failed = [j for j in jobs if j["state"] != "COMPLETED"]
    oom = [j for j in jobs if j.get("exit_code") == 3]
    smi = [row for row in csv.reader(open(f"{out}/{name}.smi.csv")) if len(row) == 3]
    gpu_mib = max((int(row[1]) for row in smi), default=None)
    peaks = [j["peak_gpu_memory_bytes"] for j in report["jobs"] if j.get("peak_gpu_memory_bytes")]
    return {"makespan": report["summary"]["makespan_seconds"], "jobs": len(jobs), "most": most,
            "failed": len(failed), "oom": len(oom), "gpu_mib": gpu_mib,
            "peak": max(peaks) / 2**30 if peaks else None}

def cell(value, form):
    return "n/a" if value is None else form.format(value)

print()
print(f"{'batch':<18} {'jobs':>4} {'makespan':>9} {'at once':>7} {'failed':>6} {'OOM':>4}"
      f" {'GPU mem max':>12} {'job peak':>9}")
rows = {}
names = sys.argv[2].split()
for name in names:
    b = rows[name] = batch(name)
    print(f"{name:<18} {b['jobs']:>4} {b['makespan']:>8.1f}s {b['most']:>7} {b['failed']:>6}"
          f" {b['oom']:>4} {cell(b['gpu_mib'], '{} MiB'):>12} {cell(b['peak'], '{:.2f} GiB'):>9}")
print()
for packed_name, serial_name in [("saturating-packed", "saturating-serial"),
                                 ("waiting-packed", "waiting-serial"),
                                 ("waiting-jittered", "waiting-serial")]:
    if packed_name not in rows or serial_name not in rows:
        continue
    packed, serial = rows[packed_name], rows[serial_name]
    print(f"{serial_name} / {packed_name} = {serial['makespan'] / packed['makespan']:.2f}x "
          f"(the same work; {packed['oom'] + serial['oom']} out-of-memory failures)")
EOF
