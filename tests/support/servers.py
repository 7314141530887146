"""Run ASGI apps on real loopback ports inside tests (real HTTP, no transport mocks)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import time
from collections.abc import AsyncIterator

import uvicorn
from starlette.types import ASGIApp

from paygate.kit.shutdown import stop_within

#: At exit, requests still in flight get this long before uvicorn cancels them.
GRACE_SECONDS = 1


#: Ports handed out by :func:`free_port`, each still bound by its socket until a test server
#: takes it over or :func:`release_port` lets it go, so no other process can be given it.
_RESERVED: dict[int, socket.socket] = {}


def _listen_range() -> tuple[int, int]:
    """Ports for test listeners: below the kernel's ephemeral range, so that no outgoing
    connection (a database client, httpx, a subprocess's) is ever given one of them while a
    released port waits for the subprocess that binds it — and, under pytest-xdist, this
    worker's own slice of them: a port one worker released for its subprocess can never be
    handed to another worker before that subprocess binds it."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    first, last = max(1025, low - 12000), low - 1
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    if not worker.startswith("gw") or not worker[2:].isdigit() or count <= 1:
        return first, last
    size = (last - first + 1) // count
    start = first + int(worker[2:]) % count * size
    return start, start + size - 1


#: Ports :func:`release_port` let go, and when: not handed out again for a while, so that the
#: subprocess they were released for finds them free (this process's own free_port included)
_RELEASED: dict[int, float] = {}
_RELEASE_HOLD_SECONDS = 300.0


def free_port() -> int:
    """A loopback port nobody else can take meanwhile: it stays bound (not listening) until
    :func:`serve_asgi` serves on that very socket, or :func:`release_port` frees it for a
    subprocess to bind. Chosen at random below the ephemeral range, in this xdist worker's
    slice (:func:`_listen_range`), never one released for a subprocess in the last minutes."""
    low, high = _listen_range()
    now = time.monotonic()
    for _ in range(200):
        port = random.randint(low, high)
        released = _RELEASED.get(port)
        if released is not None and now - released < _RELEASE_HOLD_SECONDS:
            continue
        sock = socket.socket()  # no SO_REUSEADDR: nothing else can bind the port while it is held
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            sock.close()
            continue
        _RESERVED[port] = sock
        return port
    raise RuntimeError(f"no free loopback port in {low}-{high}")


def release_port(port: int) -> int:
    """Let a reserved port go (just before a subprocess binds it)."""
    sock = _RESERVED.pop(port, None)
    if sock is not None:
        sock.close()
    _RELEASED[port] = time.monotonic()
    return port


@contextlib.asynccontextmanager
async def serve_asgi(app: ASGIApp, port: int | None = None) -> AsyncIterator[str]:
    """Serve ``app`` on 127.0.0.1 and yield its base URL (``http://127.0.0.1:PORT``).

    The exit is bounded: requests in flight get :data:`GRACE_SECONDS`, then uvicorn cancels
    them (without ``timeout_graceful_shutdown`` it waits for ever for them and for their
    connections); should the server task still not end, it is cancelled too."""
    port = port or free_port()
    sock = _RESERVED.pop(port, None)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=GRACE_SECONDS,
    )
    server = uvicorn.Server(config)
    if sock is not None:  # serve on the reserved socket itself: no window for anyone to take it
        sock.listen(2048)
        task = asyncio.create_task(server.serve(sockets=[sock]))
    else:
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
        if sock is not None:
            sock.close()
