"""The suite's own promise: a run without the services says at the end exactly what it
skipped and why; with CI=true a missing service fails instead (tests/conftest.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port that is bound (no one else gets it) but never listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])


HOOK = "from tests.conftest import pytest_terminal_summary  # noqa: F401\n"
NEEDS = """
from tests.conftest import require_service
import pytest


def need():
    require_service({port}, "FakeDB")
"""
STORE_TESTS = """
def test_a():
    need()


def test_b():
    need()


def test_plain():
    pass
"""
WEB_TESTS = """
def test_c():
    need()


def test_browser():
    pytest.skip("chromium is not installed")
"""


def pytest_in(tmp_path: Path, ci: bool = False) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = str(ROOT)
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def run_suite(tmp_path: Path, port: int, ci: bool) -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text(HOOK)
    (tmp_path / "test_store.py").write_text(NEEDS.format(port=port) + STORE_TESTS)
    (tmp_path / "test_web.py").write_text(NEEDS.format(port=port) + WEB_TESTS)
    return pytest_in(tmp_path, ci)


def test_a_run_without_a_service_ends_with_what_it_skipped_and_why(tmp_path: Path, closed_port: int) -> None:
    result = run_suite(tmp_path, closed_port, ci=False)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "skipped: 4 tests, 2 reasons" in out
    summary = out[out.index("skipped: 4 tests") :].splitlines()
    assert f"FakeDB is not reachable on 127.0.0.1:{closed_port}: 3 tests" in summary
    assert "    test_store.py (2)" in summary and "    test_web.py (1)" in summary
    assert "chromium is not installed: 1 test" in summary
    # the bigger group first, each file under its own reason
    assert summary.index(f"FakeDB is not reachable on 127.0.0.1:{closed_port}: 3 tests") < summary.index(
        "chromium is not installed: 1 test"
    )
    assert summary[summary.index("chromium is not installed: 1 test") + 1] == "    test_web.py (1)"


def test_with_ci_a_missing_service_fails_the_run(tmp_path: Path, closed_port: int) -> None:
    result = run_suite(tmp_path, closed_port, ci=True)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "3 failed" in result.stdout
    assert "CI=true: this test must run" in result.stdout
    assert "skipped: 1 test, 1 reason" in result.stdout  # only the non-service skip is left


def test_a_run_with_nothing_skipped_prints_no_summary(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(HOOK)
    (tmp_path / "test_ok.py").write_text("def test_ok():\n    pass\n")
    result = pytest_in(tmp_path)
    assert result.returncode == 0 and "skipped:" not in result.stdout
