#!/usr/bin/env bash
# Replays the Philly developer slice per VC (Helios' setup: 8-GPU nodes, consolidated
# placement) at native load and with submit times compressed 4x and 16x (SCALES), under the oracle
# baselines and FastGPU's no-oracle policies, and writes the JSON of each run and the
# tables of docs/evaluation.md.
#
#   bench/evaluation/run_philly.sh [OUT_DIR]
#
# FASTGPU (default build/ci/fastgpu) and TRACES (default ../shared/traces) may be set.
set -euo pipefail
cd "$(dirname "$0")/../.."
FASTGPU=${FASTGPU:-build/ci/fastgpu}
TRACES=${TRACES:-../shared/traces}
OUT=${1:-build/evaluation/philly}
mkdir -p "$OUT"
TRACE="philly:$TRACES/philly-dev/philly_dev_2017-09_and_2017-12.csv.gz"
CLUSTER="philly-vc:$TRACES/philly-dev/philly_vc.csv"
LIMITS=(--time-limit-factor 1 --round-time-limits)
SCALES=${SCALES:-1 4 16}

for scale in $SCALES; do
  run() {  # name, then flags
    local name=$1
    shift
    echo "x$scale $name" >&2
    "$FASTGPU" simulate --trace "$TRACE" --cluster "$CLUSTER" --time-scale "$scale" --json "$@" \
      >"$OUT/x${scale}_${name}.json"
  }
  run oracle --policy fifo,sjf-oracle,srtf
  run las --policy las
  run sjf_limits --policy sjf "${LIMITS[@]}"
  run fifo_backfill --policy fifo --backfill "${LIMITS[@]}"
  run sjf_limits_backfill --policy sjf --backfill "${LIMITS[@]}"
done
python3 bench/evaluation/philly_tables.py "$OUT" 1 4 16
