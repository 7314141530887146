"""One process, three listeners and the background workers (``paygate run``).

- internal API on ``internal_host:internal_port`` (8000)
- public channel callbacks on ``public_host:public_port`` (8001)
- channel sandboxes on ``sandbox_host:sandbox_port`` (8090), when enabled
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Generator
from typing import Any

import uvicorn

from paygate.api.internal import create_internal_app
from paygate.api.public import create_public_app
from paygate.bootstrap import build_container
from paygate.config import Settings
from paygate.demo import connect_sandboxes, sandbox_host
from paygate.sandbox.app import SandboxHost

__all__ = ["serve"]


class _Server(uvicorn.Server):
    """Signals are handled once for all servers by :func:`serve`."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _server(app: Any, host: str, port: int, log_level: str) -> _Server:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level.lower(),
        access_log=False,
        lifespan="on",
        proxy_headers=False,
    )
    return _Server(config)


async def serve(settings: Settings) -> None:
    container = build_container(settings)
    await container.start()
    host: SandboxHost | None = None
    servers = [
        _server(
            create_internal_app(container.internal_services()),
            settings.internal_host,
            settings.internal_port,
            settings.log_level,
        ),
        _server(
            create_public_app(container.public_services()),
            settings.public_host,
            settings.public_port,
            settings.log_level,
        ),
    ]
    if settings.sandbox_enabled:
        host = sandbox_host(settings)
        await host.start()
        await connect_sandboxes(container, host)
        servers.append(_server(host.asgi(), settings.sandbox_host, settings.sandbox_port, settings.log_level))
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for s in servers:
            s.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    try:
        await asyncio.gather(*(s.serve() for s in servers))
    finally:
        if host is not None:
            await host.stop()
        await container.aclose()
