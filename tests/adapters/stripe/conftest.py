from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from tests.adapters.stripe.support import Env, Switch, running_sandbox
from tests.support.servers import free_port, serve_asgi


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server() -> AsyncIterator[tuple[Switch, int]]:
    """One loopback server per test module; each test installs its own sandbox on it."""
    switch, port = Switch(), free_port()
    async with serve_asgi(switch, port=port):
        yield switch, port


@pytest_asyncio.fixture(loop_scope="module")
async def env(tmp_path: Path, server: tuple[Switch, int]) -> AsyncIterator[Env]:
    switch, port = server
    async with running_sandbox(tmp_path, switch, port) as value:
        yield value
