"""make bench's own pieces: the JSON line (scripts/bench/report.py) and what it says on a
machine without wrk (scripts/bench.sh)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def report(work: Path) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts/bench/report.py"), str(work)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    line: dict[str, object] = json.loads(out.stdout)
    return line


def phase_files(work: Path) -> None:
    (work / "gopay.json").write_text(
        json.dumps({"rps": 500.0, "lat_p50_ms": 60.0, "lat_p99_ms": 160.0, "requests": 5000})
    )
    (work / "query.json").write_text(
        json.dumps({"rps": 1400.0, "lat_p50_ms": 20.0, "lat_p99_ms": 120.0, "requests": 14000})
    )
    (work / "gopay_cpu.json").write_text(json.dumps({"server_cpu_ms_per_req": 3.1}))


def test_the_line_compares_gopay_with_both_floors(tmp_path: Path) -> None:
    phase_files(tmp_path)
    floor = {
        "floor_gopay_rps": 2500.0,
        "floor_gopay_p99_ms": 30.0,
        "floor_rsa_gopay_rps": 1000.0,
        "floor_rsa_gopay_p99_ms": 60.0,
        "floor_hello_rps": 20000.0,
    }
    (tmp_path / "floor.json").write_text(json.dumps(floor))
    line = report(tmp_path)
    assert line["gopay_vs_floor"] == 0.2
    assert line["gopay_vs_floor_rsa"] == 0.5
    assert line["floor_rsa_gopay_rps"] == 1000.0 and line["floor_rsa_gopay_p99_ms"] == 60.0
    assert line["gopay_cpu_ms_per_req"] == 3.1


def test_without_a_floor_there_is_no_ratio(tmp_path: Path) -> None:
    phase_files(tmp_path)  # BENCH_SKIP_FLOOR=1
    line = report(tmp_path)
    assert line["gopay_vs_floor"] is None and line["gopay_vs_floor_rsa"] is None


def test_without_wrk_the_bench_says_how_to_get_it(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"  # a PATH with no wrk: only what bench.sh runs before its checks
    bin_dir.mkdir()
    dirname = shutil.which("dirname")
    assert dirname
    os.symlink(dirname, bin_dir / "dirname")
    result = subprocess.run(
        ["/bin/bash", str(ROOT / "scripts/bench.sh")],
        env={"PATH": str(bin_dir), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "wrk" in result.stderr and "Debian package: sudo apt-get install wrk" in result.stderr
