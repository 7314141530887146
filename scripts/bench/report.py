"""Assemble make bench's one JSON line from the phase files in a work directory.

Usage: report.py WORKDIR   (reads gopay.json, query.json, floor.json, checks.json,
gopay_cpu.json, query_cpu.json, floor_cpu.json, machine.json, params.json)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def load(d: Path, name: str) -> dict:
    p = d / name
    return json.loads(p.read_text()) if p.exists() and p.read_text().strip() else {}


def ratio(rps: float, floor_rps: float | None) -> float | None:
    return round(rps / floor_rps, 3) if floor_rps else None


def main() -> None:
    d = Path(sys.argv[1])
    g, q, fl = load(d, "gopay.json"), load(d, "query.json"), load(d, "floor.json")
    out: dict = {
        "gopay_rps": g["rps"],
        "gopay_p50_ms": g["lat_p50_ms"],
        "gopay_p99_ms": g["lat_p99_ms"],
        "query_rps": q["rps"],
        "query_p50_ms": q["lat_p50_ms"],
        "query_p99_ms": q["lat_p99_ms"],
        "floor_gopay_rps": fl.get("floor_gopay_rps"),
        "floor_gopay_p99_ms": fl.get("floor_gopay_p99_ms"),
        "floor_rsa_gopay_rps": fl.get("floor_rsa_gopay_rps"),
        "floor_rsa_gopay_p99_ms": fl.get("floor_rsa_gopay_p99_ms"),
        "floor_hello_rps": fl.get("floor_hello_rps"),
        "gopay_vs_floor": ratio(g["rps"], fl.get("floor_gopay_rps")),
        # against the least an Alipay page pay can cost: the bare create + one RSA-2048 signature
        "gopay_vs_floor_rsa": ratio(g["rps"], fl.get("floor_rsa_gopay_rps")),
        "gopay_cpu_ms_per_req": load(d, "gopay_cpu.json").get("server_cpu_ms_per_req"),
        "query_cpu_ms_per_req": load(d, "query_cpu.json").get("server_cpu_ms_per_req"),
        "gopay_requests": g["requests"],
        "query_requests": q["requests"],
    }
    out.update(load(d, "checks.json"))
    out.update(load(d, "events.json"))  # events_per_second … (scripts/bench/events.py)
    out["load"] = {
        "gopay": load(d, "gopay_cpu.json"),
        "query": load(d, "query_cpu.json"),
        "floor": load(d, "floor_cpu.json"),
    }
    out.update(load(d, "params.json"))
    out.update(load(d, "machine.json"))
    print(json.dumps(out, separators=(", ", ": ")))


if __name__ == "__main__":
    main()
