"""One process, three listeners and the background workers (``paygate run``); or the
workers alone (``paygate worker``).

- internal API on ``internal_host:internal_port`` (8000)
- public channel callbacks on ``public_host:public_port`` (8001)
- channel sandboxes on ``sandbox_host:sandbox_port`` (8090), when enabled, with the demo app's
  notification receiver on ``demo_receiver_port`` (8002)
- the background jobs (event dispatch, broker relay, periodic jobs) when ``workers_enabled``
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
from paygate.demo import connect_sandboxes, demo_receiver, sandbox_host
from paygate.jobs import JobRunner
from paygate.sandbox.app import SandboxHost

__all__ = ["run_worker", "serve"]

#: How long a stop lets running job rounds finish before it cancels them.
JOB_STOP_SECONDS = 10.0


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
    runner: JobRunner | None = None
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
        receiver = demo_receiver(container)
        servers.append(
            _server(
                receiver.asgi(), settings.demo_receiver_host, settings.demo_receiver_port, settings.log_level
            )
        )
    if settings.workers_enabled:
        runner = container.job_runner()
        await runner.start()
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for s in servers:
            s.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    try:
        await asyncio.gather(*(s.serve() for s in servers))
    finally:
        if runner is not None:
            await runner.stop(JOB_STOP_SECONDS)
        if host is not None:
            await host.stop()
        await container.aclose()


async def run_worker(settings: Settings, names: set[str] | None = None) -> None:
    """The background jobs alone, until SIGINT/SIGTERM (R-OPS-3): run as many of these
    processes as the load needs, against one PostgreSQL or MariaDB."""
    container = build_container(settings)
    runner = container.job_runner(names)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, runner.wake_to_stop)
    try:
        await runner.start()
        await runner.run_until_stopped()
    finally:
        await runner.stop(JOB_STOP_SECONDS)
        await container.aclose()
