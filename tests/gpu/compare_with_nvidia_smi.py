#!/usr/bin/env python3
"""Compares `fastgpu status --json` with nvidia-smi on a machine with NVIDIA GPUs.

Usage: compare_with_nvidia_smi.py PATH_TO_FASTGPU

Both tools are read back to back. Static fields (name, UUID, total memory) must agree
exactly; used memory within 64 MiB (a running job may allocate between the two reads);
utilization within 25 points (both are sampled averages); the compute-process lists must
hold the same pids with the same used memory (within 64 MiB). Exits 0 when all agree, and
prints a side-by-side table either way.
"""
import json
import subprocess
import sys

MIB = 1024 * 1024


def nvidia_smi(query, section="--query-gpu"):
    out = subprocess.run(
        ["nvidia-smi", f"{section}={query}", "--format=csv,noheader,nounits"],
        check=True, capture_output=True, text=True).stdout
    return [[cell.strip() for cell in line.split(",")] for line in out.splitlines() if line.strip()]


def main():
    fastgpu = sys.argv[1]
    ours = json.loads(subprocess.run([fastgpu, "status", "--json"], check=True,
                                     capture_output=True, text=True).stdout)
    gpus = nvidia_smi("index,uuid,name,memory.total,memory.used,utilization.gpu,pci.bus_id")
    apps = nvidia_smi("gpu_uuid,pid,used_memory", "--query-compute-apps")
    problems = []

    def check(label, theirs, mine, ok):
        verdict = "ok" if ok else "DIFFERS"
        print(f"{label:<34} nvidia-smi={theirs!s:<28} fastgpu={mine!s:<28} {verdict}")
        if not ok:
            problems.append(label)

    devices = {d["uuid"]: d for d in ours["devices"]}
    check("GPU count", len(gpus), len(ours["devices"]), len(gpus) == len(ours["devices"]))
    for index, uuid, name, total, used, util, bus in gpus:
        mine = devices.get(uuid)
        if mine is None:
            check(f"GPU {index} uuid", uuid, None, False)
            continue
        check(f"GPU {index} name", name, mine["name"], name == mine["name"])
        check(f"GPU {index} pci bus id", bus, mine["pci_bus_id"],
              bus.lower().endswith(mine["pci_bus_id"].lower()[-12:]))
        my_total = mine["memory_total_bytes"] // MIB
        check(f"GPU {index} memory total MiB", total, my_total, int(total) == my_total)
        my_used = mine["memory_used_bytes"] // MIB
        check(f"GPU {index} memory used MiB", used, my_used, abs(int(used) - my_used) <= 64)
        my_util = mine["gpu_utilization_percent"]
        check(f"GPU {index} utilization %", util, my_util, abs(int(util) - my_util) <= 25)
        theirs_procs = {int(pid): int(mem) for gpu, pid, mem in apps if gpu == uuid}
        mine_procs = {p["pid"]: (p["used_memory_bytes"] or 0) // MIB
                      for p in (mine["processes"] or [])}
        check(f"GPU {index} process pids", sorted(theirs_procs), sorted(mine_procs),
              set(theirs_procs) == set(mine_procs))
        for pid, mem in theirs_procs.items():
            got = mine_procs.get(pid)
            check(f"GPU {index} pid {pid} used MiB", mem, got,
                  got is not None and abs(mem - got) <= 64)
    print("all fields agree" if not problems else f"{len(problems)} fields differ")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
