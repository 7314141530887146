"""Run ASGI apps on real loopback ports inside tests (real HTTP, no transport mocks)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import uvicorn
from starlette.types import ASGIApp

from paygate.kit.shutdown import stop_within

#: At exit, requests still in flight get this long before uvicorn cancels them.
GRACE_SECONDS = 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def serve_asgi(app: ASGIApp, port: int | None = None) -> AsyncIterator[str]:
    """Serve ``app`` on 127.0.0.1 and yield its base URL (``http://127.0.0.1:PORT``).

    The exit is bounded: requests in flight get :data:`GRACE_SECONDS`, then uvicorn cancels
    them (without ``timeout_graceful_shutdown`` it waits for ever for them and for their
    connections); should the server task still not end, it is cancelled too."""
    port = port or free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=GRACE_SECONDS,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await stop_within(task, GRACE_SECONDS + 5, f"test server on port {port}")
