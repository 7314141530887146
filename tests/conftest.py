"""Shared fixtures.

Database-backed tests take the ``db_url`` fixture, parametrised over SQLite and — when
reachable — PostgreSQL (127.0.0.1:5432) and MariaDB/MySQL (127.0.0.1:3306). With
``CI=true`` an unreachable server is a failure, not a skip: every test that needs a service
asks :func:`require_service`. Without CI, the run ends with a list of what was skipped and why
(:func:`pytest_terminal_summary`), so a quiet ``make test`` never hides a missing database.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import socket
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from paygate.kit.db import Base, create_engine
from paygate.migrations.runner import upgrade_sync

if TYPE_CHECKING:
    from tests.support.stack import Stack

IN_CI = os.environ.get("CI") == "true"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
#: pytest-xdist's worker number (``make test`` runs the suite in parallel), 0 without xdist:
#: each worker gets its own databases and Redis database, so workers never see each other's rows.
WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
#: Name of the throw-away test database; set it to run two checkouts' suites at once.
TEST_DB = os.environ.get("PAYGATE_TEST_DB", "paygate_test") + (f"_w{WORKER}" if WORKER else "")
PG_URL = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{TEST_DB}"
MY_URL = f"mysql+asyncmy://root@127.0.0.1:3306/{TEST_DB}"
REDIS_URL = f"redis://127.0.0.1:6379/{int(os.environ.get('PAYGATE_TEST_REDIS_DB', '15')) - WORKER}"
MASTER_KEY = base64.b64encode(b"k" * 32).decode()


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def require_service(port: int, name: str) -> None:
    if port_open(port):
        return
    message = f"{name} is not reachable on 127.0.0.1:{port}"
    if IN_CI:
        pytest.fail(message + " (CI=true: this test must run)")
    pytest.skip(message)


def skipped_by_reason(reports: list[pytest.TestReport]) -> dict[str, Counter[str]]:
    """Skip reason → test file → how many of its tests were skipped for that reason."""
    groups: dict[str, Counter[str]] = defaultdict(Counter)
    for report in reports:
        if isinstance(report.longrepr, tuple):
            reason = report.longrepr[2].removeprefix("Skipped: ")
        else:
            reason = str(report.longrepr or "no reason given")
        groups[reason][report.nodeid.split("::")[0]] += 1
    return groups


def _tests(n: int) -> str:
    return f"{n} test" if n == 1 else f"{n} tests"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """At the end of a run: which tests were skipped, grouped by reason, per file."""
    reports = [r for r in terminalreporter.stats.get("skipped", []) if isinstance(r, pytest.TestReport)]
    if not reports:
        return
    groups = skipped_by_reason(reports)
    reasons = "1 reason" if len(groups) == 1 else f"{len(groups)} reasons"
    terminalreporter.write_sep("=", f"skipped: {_tests(len(reports))}, {reasons}")
    for reason, files in sorted(groups.items(), key=lambda kv: (-sum(kv[1].values()), kv[0])):
        terminalreporter.write_line(f"{reason}: {_tests(sum(files.values()))}")
        for path, n in sorted(files.items()):
            terminalreporter.write_line(f"    {path} ({n})")
    if not IN_CI:
        terminalreporter.write_line(
            "Start the services (bash scripts/services.sh) to run these; with CI=true a missing "
            "service fails the run."
        )


async def _recreate_pg() -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {TEST_DB} WITH (FORCE)")
        await conn.execute(f"CREATE DATABASE {TEST_DB}")
    finally:
        await conn.close()


async def _recreate_mysql() -> None:
    import asyncmy

    conn = await asyncmy.connect(host="127.0.0.1", port=3306, user="root", password="")
    try:
        async with conn.cursor() as cur:
            await cur.execute(f"DROP DATABASE IF EXISTS {TEST_DB}")
            await cur.execute(f"CREATE DATABASE {TEST_DB} CHARACTER SET utf8mb4")
    finally:
        conn.close()


@pytest.fixture(scope="session")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Backend name → URL of a freshly migrated database (created lazily per backend)."""
    urls: dict[str, str] = {}

    class Lazy(dict[str, str]):
        def __missing__(self, backend: str) -> str:
            if backend == "sqlite":
                url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'paygate.db'}"
            elif backend == "postgresql":
                asyncio.run(_recreate_pg())
                url = PG_URL
            else:
                asyncio.run(_recreate_mysql())
                url = MY_URL
            upgrade_sync(url)
            self[backend] = url
            return url

    yield Lazy(urls)


def _backend_param(name: str) -> object:
    marks = {"postgresql": [pytest.mark.postgres], "mysql": [pytest.mark.mysql]}.get(name, [])
    return pytest.param(name, marks=marks, id=name)


ALL_BACKENDS = [_backend_param(n) for n in ("sqlite", "postgresql", "mysql")]


@pytest.fixture(params=ALL_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name == "postgresql":
        require_service(5432, "PostgreSQL")
    elif name == "mysql":
        require_service(3306, "MariaDB/MySQL")
    return name


@pytest.fixture
async def db_url(backend: str, migrated: dict[str, str]) -> AsyncIterator[str]:
    """A migrated database, emptied before each test."""
    url = await asyncio.to_thread(migrated.__getitem__, backend)
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            for table in reversed(Base.metadata.sorted_tables):
                await conn.execute(table.delete())
    finally:
        await engine.dispose()
    yield url


@pytest.fixture(scope="session")
def key_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What a new data directory holds once paygate and its sandboxes first started —
    paygate's platform key, each sandbox's keys and identities — made once per test process
    by the code that makes them for any new data directory. Generating and checking those
    five RSA keys was about half of every stack's start."""
    from paygate.demo import sandbox_host
    from paygate.kit.keys import platform_private_key
    from tests.support.stack import stack_settings

    path = tmp_path_factory.mktemp("key-files")
    platform_private_key(path)
    sandbox_host(stack_settings("sqlite+aiosqlite:///:memory:", path))
    return path


@pytest.fixture
def data_dir(tmp_path: Path, key_files: Path) -> Path:
    """A data directory of the test's own, holding the key files (copied, not shared)."""
    path = tmp_path / "var"
    shutil.copytree(key_files, path)
    return path


@pytest.fixture
async def stack(db_url: str, data_dir: Path) -> AsyncIterator[Stack]:
    """The whole of paygate on loopback ports (see tests/support/stack.py), demo seeded."""
    from tests.support.stack import running_stack, stack_settings

    async with running_stack(stack_settings(db_url, data_dir)) as s:
        yield s
