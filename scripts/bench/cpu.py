"""CPU accounting around a benchmark phase, from /proc (Linux).

  cpu.py snap FILE
      record every process's CPU ticks (own + reaped children) and the machine's totals
  cpu.py diff A B --root PID [--server PID] [--reqs N]
      one JSON object for the window between snapshots A and B:
        machine_busy_pct   the machine's busy share (all cores)
        bench_cpu_s        the process tree under --root (bench.sh: servers, wrk, helpers)
        server_cpu_s       the tree under --server (paygate's uvicorn, or floor.sh)
        server_cpu_ms_per_req   server_cpu_s / N
        services_cpu_s     PostgreSQL + Redis (shared with anyone else using them)
        other_cpu_s        everything else: foreign load (someone's tests...), which makes a
                           run noisy; compare it between the paygate and the floor phases
A process that exits inside the window is still counted: its ticks reach its parent's
cutime/cstime when it is reaped, and every tree member's cutime/cstime is included.
"""

from __future__ import annotations

import argparse
import json
import os


def snapshot() -> dict:
    procs = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                raw = f.read()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1 : raw.rindex(")")]
        f = raw[raw.rindex(")") + 2 :].split()
        # after ")": state ppid ... utime(11) stime(12) cutime(13) cstime(14)
        procs[name] = [comm, f[1], int(f[11]) + int(f[12]), int(f[13]) + int(f[14])]
    with open("/proc/stat") as fh:
        cpu = [int(x) for x in fh.readline().split()[1:]]
    return {"procs": procs, "total": sum(cpu[:8]), "idle": cpu[3] + cpu[4], "hz": os.sysconf("SC_CLK_TCK")}


def tree(procs: dict, root: str) -> set[str]:
    kids: dict[str, list[str]] = {}
    for pid, p in procs.items():
        kids.setdefault(p[1], []).append(pid)
    out: set[str] = set()
    todo = [root] if root in procs else []
    while todo:
        p = todo.pop()
        if p not in out:
            out.add(p)
            todo.extend(kids.get(p, []))
    return out


def tree_ticks(snap: dict, root: str | None) -> int:
    if not root:
        return 0
    return sum(snap["procs"][p][2] + snap["procs"][p][3] for p in tree(snap["procs"], root))


def diff(a: dict, b: dict, root: str, server: str | None, reqs: int | None) -> dict:
    hz = b["hz"]
    bench = tree_ticks(b, root) - tree_ticks(a, root)
    srv = tree_ticks(b, server) - tree_ticks(a, server) if server else 0
    mine = tree(a["procs"], root) | tree(b["procs"], root)
    services = 0
    for pid, p in b["procs"].items():
        if pid in mine or not p[0].startswith(("postgres", "redis-server")):
            continue
        before = a["procs"].get(pid)
        services += p[2] + p[3] - (before[2] + before[3] if before and before[0] == p[0] else 0)
    total = b["total"] - a["total"]
    busy = total - (b["idle"] - a["idle"])
    out = {
        "machine_busy_pct": round(100 * busy / total, 1) if total else None,
        "bench_cpu_s": round(bench / hz, 2),
        "server_cpu_s": round(srv / hz, 2),
        "services_cpu_s": round(services / hz, 2),
        "other_cpu_s": round(max(0, busy - bench - services) / hz, 2),
    }
    if reqs:
        out["server_cpu_ms_per_req"] = round(1000 * srv / hz / reqs, 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["snap", "diff"])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--root")
    ap.add_argument("--server")
    ap.add_argument("--reqs", type=int)
    args = ap.parse_args()
    if args.cmd == "snap":
        with open(args.files[0], "w") as f:
            json.dump(snapshot(), f)
        return
    with open(args.files[0]) as f:
        a = json.load(f)
    with open(args.files[1]) as f:
        b = json.load(f)
    print(json.dumps(diff(a, b, args.root, args.server, args.reqs)))


if __name__ == "__main__":
    main()
