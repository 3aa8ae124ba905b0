#!/usr/bin/env python3
"""Turns the JSON of bench/evaluation/run_openb.sh into the Markdown tables of
docs/evaluation.md: the GPU allocation ratio (%) when the arrived GPU request is 100 % and
130 % of capacity, mean over the seeds, for each strategy beside FGD's published rows; then
a summary at 130 %: FastGPU's bestfit and fgd against the paper's BestFit and FGD, and
FastGPU's pack against both FGDs.

    python3 bench/evaluation/openb_tables.py OUT_DIR WORKLOAD...
"""
import json
import os
import statistics
import sys


def at(curve, k):
    return curve[k] if k < len(curve) and curve[k] is not None else None


def fmt(value):
    return "-" if value is None else f"{value:.2f}"


# FastGPU strategy -> the paper's policy it reimplements.
PAPER_POLICY = {"bestfit": "05-BestFit", "fgd": "06-FGD"}


def delta(ours, theirs):
    # The difference of the values as shown (2 decimals), so the columns add up; + 0.0 turns
    # a rounded -0.0 into 0.0.
    if ours is None or theirs is None:
        return "-"
    return f"{round(round(ours, 2) - round(theirs, 2), 2) + 0.0:+.2f}"


def summary(rows):
    """rows: (workload, {strategy: alloc@130}, {policy: alloc@130})."""
    lines = ["| workload | bestfit | paper BestFit | diff | fgd | paper FGD | diff | "
             "pack | pack - fgd | pack - paper FGD |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for workload, ours, paper in rows:
        best, fgd, pack = ours.get("bestfit"), ours.get("fgd"), ours.get("pack")
        paper_best, paper_fgd = paper.get(PAPER_POLICY["bestfit"]), paper.get(PAPER_POLICY["fgd"])
        lines.append(f"| {workload} | {fmt(best)} | {fmt(paper_best)} | {delta(best, paper_best)} | "
                     f"{fmt(fgd)} | {fmt(paper_fgd)} | {delta(fgd, paper_fgd)} | {fmt(pack)} | "
                     f"{delta(pack, fgd)} | {delta(pack, paper_fgd)} |")
    return lines


def main():
    out_dir = sys.argv[1]
    workloads = sys.argv[2:] or ["default"]
    lines = ["| workload | strategy | seeds | alloc @100 % | alloc @130 % | "
             "min..max @130 over seeds | failed tasks (mean) | FGD frag % of idle (end) |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    at130 = []
    for workload in workloads:
        with open(os.path.join(out_dir, f"openb_{workload}.json")) as handle:
            data = json.load(handle)
        ours = {m["strategy"]: at(m["allocation_pct_at_arrived_pct"], 130) for m in data["means"]}
        paper = {r["policy"]: at(r["allocation_pct_at_arrived_pct"], 130) for r in data["reference"]}
        at130.append((workload, ours, paper))
        for mean in data["means"]:
            runs = [r for r in data["runs"] if r["strategy"] == mean["strategy"]]
            ends = [at(r["allocation_pct_at_arrived_pct"], 130) for r in runs]
            ends = [e for e in ends if e is not None]
            curve = mean["allocation_pct_at_arrived_pct"]
            lines.append(
                f"| {workload} | FastGPU {mean['strategy']} | {mean['seeds']} | "
                f"{fmt(at(curve, 100))} | {fmt(at(curve, 130))} | "
                f"{fmt(min(ends)) if ends else '-'}..{fmt(max(ends)) if ends else '-'} | "
                f"{statistics.mean(r['failed'] for r in runs):.0f} | "
                f"{statistics.mean(100 * r['fragmentation_ratio'] for r in runs):.1f} |")
        for ref in data["reference"]:
            curve = ref["allocation_pct_at_arrived_pct"]
            lines.append(f"| {workload} | paper {ref['policy']} | {ref['seeds']} | "
                         f"{fmt(at(curve, 100))} | {fmt(at(curve, 130))} | | | |")
    lines += ["", "GPU allocation ratio (%) at 130 %, mean over the seeds:", ""] + summary(at130)
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out_dir, "tables.md"), "w") as handle:
        handle.write(text)
    print(text)


if __name__ == "__main__":
    main()
