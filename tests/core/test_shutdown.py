"""Stopping the stack is bounded: a client holding a connection open, a request in flight or
a sandbox whose stop never returns cannot hang a test's teardown (or ``paygate run``)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from paygate.bootstrap import build_container
from paygate.demo import sandbox_host
from paygate.kit.shutdown import DEFAULT_STEP_SECONDS, FORCE_GRACE_SECONDS
from paygate.server import stop_services
from tests.support.servers import GRACE_SECONDS, serve_asgi
from tests.support.stack import stack_settings


def never_answering_app() -> tuple[Starlette, asyncio.Event]:
    entered = asyncio.Event()

    async def forever(_: Request) -> PlainTextResponse:
        entered.set()
        await asyncio.Event().wait()
        return PlainTextResponse("never")  # pragma: no cover

    async def health(_: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/forever", forever), Route("/health", health)]), entered


async def test_a_server_stops_in_bounded_time_with_open_connections_and_a_request_in_flight() -> None:
    app, entered = never_answering_app()
    writers: list[asyncio.StreamWriter] = []
    async with serve_asgi(app) as url:
        port = int(url.rsplit(":", 1)[1])

        async def connect(raw: bytes) -> None:
            _, w = await asyncio.open_connection("127.0.0.1", port)
            w.write(raw)
            await w.drain()
            writers.append(w)

        await connect(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")  # then idles, kept alive
        await connect(b"POST /health HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nhalf")
        await connect(b"GET /forever HTTP/1.1\r\nHost: t\r\n\r\n")  # in flight for ever
        await asyncio.wait_for(entered.wait(), 5)
        started = time.monotonic()
    elapsed = time.monotonic() - started
    for w in writers:
        w.close()
    assert elapsed < GRACE_SECONDS + 2, f"the server took {elapsed:.1f} s to stop"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_sandbox_whose_stop_hangs_does_not_hang_the_stack(db_url: str, data_dir: Path) -> None:
    """The hang found in a full `make test`: the old Stripe sandbox's scheduler ran
    ``while True: await asyncio.wait_for(wake.wait(), timeout)``; when a webhook retry was
    scheduled (``wake.set()``) in the loop iteration where ``stop()`` cancelled it, Python
    3.11's ``wait_for`` swallowed the cancellation and ``stop()`` awaited the runner for ever.
    The harness's scheduler stops within its grace; this keeps the race covered."""
    settings = stack_settings(db_url, data_dir)
    container = build_container(settings)
    host = sandbox_host(settings)
    await container.start()
    await host.start()
    stripe: Any = host.sandboxes["stripe"]
    scheduler = stripe.harness.scheduler
    scheduler.later(60, lambda: None)  # a webhook retry due later: the runner waits with a timeout
    await asyncio.sleep(0.05)
    real_stop = stripe.stop

    async def stop_racing_a_retry() -> None:
        scheduler.later(0, lambda: None)  # a delivery failed just now and is retried
        await real_stop()

    stripe.stop = stop_racing_a_retry
    started = time.monotonic()
    stopping = asyncio.ensure_future(stop_services(container, host, step_seconds=0.5))
    done, _ = await asyncio.wait({stopping}, timeout=DEFAULT_STEP_SECONDS + 10)
    assert done, "stop_services hung"
    stopping.result()
    assert time.monotonic() - started < 0.5 + FORCE_GRACE_SECONDS + 3
