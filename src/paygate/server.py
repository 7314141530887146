"""One process, three listeners and the background workers (``paygate run``); or the
workers alone (``paygate worker``).

- internal API on ``internal_host:internal_port`` (8000)
- public channel callbacks on ``public_host:public_port`` (8001)
- channel sandboxes on ``sandbox_host:sandbox_port`` (8090), when enabled, with the demo app's
  notification receiver on ``demo_receiver_port`` (8002)
- the background jobs (event dispatch, broker relay, the reliability engine's checks,
  periodic jobs) when ``workers_enabled``

Stopping is bounded. On the first SIGTERM/SIGINT the listeners stop accepting, requests in
flight get ``shutdown_timeout_seconds`` to finish and are then cancelled; a second signal
stops waiting at once. Then :func:`stop_services` stops the jobs, the sandboxes and the
container, each step within a deadline (``kit.shutdown``). A watchdog ends the process if,
against all that, it is still alive :data:`WATCHDOG_MARGIN_SECONDS` after the grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import sys
import threading
from collections.abc import Generator
from typing import Any

import uvicorn

from paygate.api.internal import create_internal_app
from paygate.api.public import create_public_app
from paygate.bootstrap import Container, build_container
from paygate.config import Settings
from paygate.demo import connect_sandboxes, demo_receiver, sandbox_host
from paygate.jobs import JobRunner
from paygate.kit.shutdown import DEFAULT_STEP_SECONDS, stop_within
from paygate.sandbox.app import SandboxHost

__all__ = ["WATCHDOG_MARGIN_SECONDS", "run_worker", "serve", "stop_services"]

#: After the grace period, the bounded stop steps get this long before the watchdog exits.
WATCHDOG_MARGIN_SECONDS = 30.0
#: How long a stop lets running job rounds finish before it cancels them.
JOB_STOP_SECONDS = 10.0


class _Server(uvicorn.Server):
    """Signals are handled once for all servers by :func:`serve`."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _server(app: Any, host: str, port: int, settings: Settings) -> _Server:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        access_log=False,
        lifespan="on",
        proxy_headers=False,
        # without it uvicorn waits for ever for requests in flight (and their connections)
        timeout_graceful_shutdown=max(1, math.ceil(settings.shutdown_timeout_seconds)),
    )
    return _Server(config)


async def stop_services(
    container: Container,
    host: SandboxHost | None,
    step_seconds: float = DEFAULT_STEP_SECONDS,
    *,
    runner: JobRunner | None = None,
) -> None:
    """Stop the jobs, the sandboxes, then the container (call-log writer, adapters, clients,
    pools); every step within a deadline, so that one stuck part cannot hang the rest."""
    if runner is not None:
        await stop_within(runner.stop(JOB_STOP_SECONDS), JOB_STOP_SECONDS + step_seconds, "background jobs")
    if host is not None:
        for name, sandbox in host.sandboxes.items():
            await stop_within(sandbox.stop(), step_seconds, f"{name} sandbox")
    await container.aclose()


def _arm_watchdog(seconds: float) -> threading.Timer:
    def hard_exit() -> None:
        sys.stderr.write(f"paygate: still not stopped {seconds:.0f} s after the signal; exiting now\n")
        sys.stderr.flush()
        os._exit(1)

    timer = threading.Timer(seconds, hard_exit)
    timer.daemon = True
    timer.start()
    return timer


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
            settings,
        ),
        _server(
            create_public_app(container.public_services()),
            settings.public_host,
            settings.public_port,
            settings,
        ),
    ]
    if settings.sandbox_enabled:
        host = sandbox_host(settings)
        await host.start()
        await connect_sandboxes(container, host)
        servers.append(_server(host.asgi(), settings.sandbox_host, settings.sandbox_port, settings))
        receiver = demo_receiver(container)
        servers.append(
            _server(receiver.asgi(), settings.demo_receiver_host, settings.demo_receiver_port, settings)
        )
    if settings.workers_enabled:
        runner = container.job_runner()
        await runner.start()
    loop = asyncio.get_running_loop()
    signals = 0

    def stop() -> None:
        nonlocal signals
        signals += 1
        if signals == 1:
            _arm_watchdog(settings.shutdown_timeout_seconds + WATCHDOG_MARGIN_SECONDS)
        for s in servers:
            s.should_exit = True
            s.force_exit = signals > 1  # a second signal: stop waiting for requests in flight

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    try:
        await asyncio.gather(*(s.serve() for s in servers))
    finally:
        await stop_services(container, host, runner=runner)


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
        await stop_services(container, None, runner=runner)
