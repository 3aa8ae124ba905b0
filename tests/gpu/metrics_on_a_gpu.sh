#!/usr/bin/env bash
# GPU test: on a real NVIDIA GPU, `fastgpu metrics` serves the GPUs as NVML reads them and a
# running job's peak memory (NVML per process) and energy so far, and both its text and the
# daemon's TCP port (--metrics-listen) pass `promtool check metrics`. The fake NVML's
# processes are not a job's, so the peak's path is only testable here.
#
# Usage: metrics_on_a_gpu.sh FASTGPU FASTGPU_BURN
# (FASTGPU_NVML_LIBRARY and FASTGPU_FAKE_NVML_STATE may point at the fake NVML to try the
# script without a GPU, with `FASTGPU_CHECK_NO_PEAK=1` and the CPU stand-in as FASTGPU_BURN.)
set -euo pipefail
FASTGPU=$1
BURN=$2
source "$(dirname "$0")/own_daemon.sh" metrics
command -v promtool >/dev/null || { echo "promtool is not installed (Debian prometheus)"; exit 1; }

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$FASTGPU" daemon start --metrics-listen "127.0.0.1:$PORT" >/dev/null
ID=$("$FASTGPU" submit --gpus 1 --gpu-mem 6G --name metered -- "$BURN" --mem 4G --time 30s)
echo "job $ID; metrics on 127.0.0.1:$PORT"

# Until the job's peak and energy are there (the burn allocates first, then computes).
for _ in $(seq 1 60); do
  "$FASTGPU" metrics >"$WORK/metrics.prom"
  if grep -q "^fastgpu_job_energy_joules{job=\"$ID\"" "$WORK/metrics.prom" &&
    { [ "${FASTGPU_CHECK_NO_PEAK:-0}" = 1 ] ||
      grep -q "^fastgpu_job_gpu_memory_peak_bytes{job=\"$ID\"" "$WORK/metrics.prom"; }; then
    break
  fi
  sleep 0.5
done
python3 -c "import urllib.request, sys; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:$PORT/metrics').read().decode())" \
  >"$WORK/scraped.prom"
grep -E "^(DCGM_FI_DEV_FB_USED|DCGM_FI_DEV_GPU_UTIL|DCGM_FI_DEV_POWER_USAGE|fastgpu_job_)" "$WORK/metrics.prom" || true
"$FASTGPU" cancel "$ID" >/dev/null || true

python3 - "$WORK/metrics.prom" "$WORK/scraped.prom" "$ID" "${FASTGPU_CHECK_NO_PEAK:-0}" <<'PY'
import re, sys
text, scraped, job, no_peak = open(sys.argv[1]).read(), open(sys.argv[2]).read(), sys.argv[3], sys.argv[4] == "1"
def samples(name, body=text):
    return {labels: float(value) for labels, value in
            re.findall(r"^" + name + r"\{([^}]*)\} (\S+)$", body, re.M)}
def job_value(name):
    return next((v for labels, v in samples(name).items() if f'job="{job}"' in labels), None)
problems = []
if "fastgpu_gpus_simulated 0" not in text:
    problems.append("the GPUs are not read through NVML")
used = samples("DCGM_FI_DEV_FB_USED")
if not used:
    problems.append("no DCGM_FI_DEV_FB_USED sample")
peak = job_value("fastgpu_job_gpu_memory_peak_bytes")
if not no_peak and (peak is None or peak < 4 * 2**30):
    problems.append(f"the job's peak is {peak}, not at least the 4 GiB it holds")
if not no_peak and max(used.values(), default=0) < 4096:
    problems.append("no GPU shows the job's 4 GiB in DCGM_FI_DEV_FB_USED (MiB)")
energy = job_value("fastgpu_job_energy_joules")
if energy is None or energy <= 0:
    problems.append(f"the job's energy so far is {energy}")
if any('job="' in line for line in scraped.splitlines() if line.startswith("fastgpu_job_")):
    problems.append("the TCP port served a job's own series")
if "DCGM_FI_DEV_FB_USED{" not in scraped:
    problems.append("the TCP port did not serve the GPUs")
print(f"peak {peak}, energy {energy} J, GPUs {len(used)}")
print("ok" if not problems else "; ".join(problems))
sys.exit(1 if problems else 0)
PY
promtool check metrics <"$WORK/metrics.prom"
promtool check metrics <"$WORK/scraped.prom"
echo "ok: both pass promtool"
