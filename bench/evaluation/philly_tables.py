#!/usr/bin/env python3
"""Turns the JSON of bench/evaluation/run_philly.sh into the Markdown tables of
docs/evaluation.md: average JCT per VC and policy, FIFO/SJF and FIFO/SRTF ratios (Helios
SC'21 Fig. 13 found 2.5x and 2.8x on Oct-Nov 2017), and where each no-oracle policy lands
between FIFO (0 %) and SRTF (100 %).

    python3 bench/evaluation/philly_tables.py OUT_DIR [SCALE...]   (default 1 4 16)
"""
import json
import os
import sys

# (file suffix, policy inside the file, column title)
COLUMNS = [
    ("oracle", "fifo", "FIFO"),
    ("oracle", "sjf-oracle", "SJF (oracle)"),
    ("oracle", "srtf", "SRTF (oracle)"),
    ("las", "las", "LAS"),
    ("sjf_limits", "sjf", "SJF (limits)"),
    ("fifo_backfill", "fifo", "FIFO+backfill"),
    ("sjf_limits_backfill", "sjf", "SJF+backfill"),
]
NO_ORACLE = ["LAS", "SJF (limits)", "FIFO+backfill", "SJF+backfill"]


def load(out_dir, scale):
    """{column title: {vc: run}} for one time scale."""
    runs = {}
    for suffix, policy, title in COLUMNS:
        path = os.path.join(out_dir, f"x{scale}_{suffix}.json")
        with open(path) as handle:
            data = json.load(handle)
        runs[title] = {r["cluster"]: r for r in data["runs"] if r["policy"] == policy}
        runs.setdefault("_meta", data)
    return runs


def hours(seconds):
    return f"{seconds / 3600:.2f}"


def ratio(a, b):
    return f"{a / b:.2f}x" if b > 0 else "-"


def overall(per_vc, key="avg_jct_s"):
    """Mean over all completed jobs of all VCs (each VC's mean weighted by its jobs)."""
    done = sum(r["completed"] for r in per_vc.values())
    return sum(r[key] * r["completed"] for r in per_vc.values()) / done if done else 0.0


def table(runs, scale):
    titles = [t for _, _, t in COLUMNS]
    fifo = runs["FIFO"]
    vcs = sorted(fifo, key=lambda vc: -fifo[vc]["jobs"])
    lines = [
        f"### Average JCT (hours), submit times / {scale}",
        "",
        "| VC | GPUs | jobs | rejected | " + " | ".join(titles) + " | FIFO/SJF | FIFO/SRTF |",
        "|---|---:|---:|---:|" + "---:|" * (len(titles) + 2),
    ]
    for vc in vcs:
        row = [vc, str(fifo[vc]["gpus"]), str(fifo[vc]["jobs"]), str(fifo[vc]["rejected"])]
        row += [hours(runs[t][vc]["avg_jct_s"]) for t in titles]
        row += [ratio(fifo[vc]["avg_jct_s"], runs["SJF (oracle)"][vc]["avg_jct_s"]),
                ratio(fifo[vc]["avg_jct_s"], runs["SRTF (oracle)"][vc]["avg_jct_s"])]
        lines.append("| " + " | ".join(row) + " |")
    all_row = ["**all VCs**", str(sum(r["gpus"] for r in fifo.values())),
               str(sum(r["jobs"] for r in fifo.values())),
               str(sum(r["rejected"] for r in fifo.values()))]
    all_row += [f"**{hours(overall(runs[t]))}**" for t in titles]
    all_row += [f"**{ratio(overall(fifo), overall(runs['SJF (oracle)']))}**",
                f"**{ratio(overall(fifo), overall(runs['SRTF (oracle)']))}**"]
    lines.append("| " + " | ".join(all_row) + " |")
    lines.append("")
    lines.append(f"All VCs, submit times / {scale}: average queueing delay and where each "
                 "no-oracle policy lands between FIFO (0 %) and SRTF (100 %) in average JCT.")
    lines.append("")
    lines.append("| policy | avg JCT h | median JCT h | p99 JCT h | avg queueing h | FIFO->SRTF |")
    lines.append("|---|---:|---:|---:|---:|---:|")
    gap = overall(fifo) - overall(runs["SRTF (oracle)"])
    for t in titles:
        place = (overall(fifo) - overall(runs[t])) / gap * 100 if gap > 0 else 0.0
        median = max(r["median_jct_s"] for r in runs[t].values())
        p99 = max(r["p99_jct_s"] for r in runs[t].values())
        lines.append(f"| {t} | {hours(overall(runs[t]))} | {hours(median)} (max over VCs) | "
                     f"{hours(p99)} (max over VCs) | "
                     f"{hours(overall(runs[t], 'avg_queueing_delay_s'))} | {place:.0f} % |")
    lines.append("")
    return "\n".join(lines)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "build/evaluation/philly"
    scales = [int(x) for x in sys.argv[2:]] or [1, 4, 16]
    text = []
    for scale in scales:
        runs = load(out_dir, scale)
        text.append(table(runs, scale))
        meta = runs["_meta"]
        text.append(f"Trace jobs: {meta['trace_jobs']}; jobs of VCs outside philly_vc.csv "
                    f"(not simulated): {meta['unassigned_jobs']}.\n")
    result = "\n".join(text)
    with open(os.path.join(out_dir, "tables.md"), "w") as handle:
        handle.write(result)
    print(result)


if __name__ == "__main__":
    main()
