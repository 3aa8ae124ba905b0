#!/usr/bin/env bash
# FGD's allocation experiment (ATC'23 Fig. 9 and 14) on the openb developer workloads:
# BestFit and FGD (to check the protocol and the reimplementation against FGD's published
# rows) and FastGPU's pack and spread, seeds 42-51, tune 1.3, on the 1,213 GPU nodes (the
# node list that reproduces FGD's rows; see docs/evaluation.md). Writes each workload's
# table and JSON, and the charts docs/evaluation.md shows.
#
#   bench/evaluation/run_openb.sh [OUT_DIR] [STRATEGIES] [WORKLOADS]
#
# FASTGPU (default build/ci/fastgpu) and TRACES (default ../shared/traces) may be set.
set -euo pipefail
cd "$(dirname "$0")/../.."
FASTGPU=${FASTGPU:-build/ci/fastgpu}
TRACES=${TRACES:-../shared/traces}
OUT=${1:-build/evaluation/openb}
STRATEGIES=${2:-bestfit,fgd,pack,spread}
WORKLOADS=${3:-default cpu050 cpu100 cpu200 cpu250}
OPENB="$TRACES/alibaba-openb-2023"
mkdir -p "$OUT"
for workload in $WORKLOADS; do
  file="$OPENB/openb_pod_list_$workload.csv"
  [ -f "$file" ] || file="$file.gz"
  echo "$workload" >&2
  common=(simulate --protocol fgd --trace "openb:$file"
          --cluster "openb:$OPENB/openb_node_list_gpu_node.csv"
          --strategy "$STRATEGIES" --seeds 42-51 --tune 1.3
          --reference "$OPENB/fgd_reference_gpu_alloc_ratio_dev.csv")
  "$FASTGPU" "${common[@]}" --chart "$OUT/openb_${workload}_alloc.svg" --json \
    >"$OUT/openb_$workload.json"
done
python3 bench/evaluation/openb_tables.py "$OUT" $WORKLOADS
