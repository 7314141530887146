"""Fixtures: a Stripe sandbox served over real HTTP, the stripe SDK pointed at it, and a
webhook receiver beside it.

One loopback server runs for the whole session (tests share its event loop: mark async
tests ``pytest.mark.asyncio(loop_scope="session")``); each test installs a fresh sandbox
with its own data directory on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import pytest_asyncio
import stripe
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from paygate.sandbox.base import SandboxConfig
from paygate.sandbox.stripe import StripeSandbox
from tests.support.servers import free_port, serve_asgi

T = TypeVar("T")

#: Async tests run on the session loop that serves the shared server.
SESSION = pytest.mark.asyncio(loop_scope="session")

#: Small enough that a minute of Stripe time is 60 ms, large enough to stay ordered.
TIME_SCALE = 0.001


async def eventually(predicate: Callable[[], bool], within: float = 5.0) -> None:
    """Wait until ``predicate()`` holds (polling: the sandbox records some things only
    after a round trip)."""
    for _ in range(int(within / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached in time")


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]


@dataclass
class Receiver:
    """A merchant's webhook endpoint: records every POST, answers with ``statuses`` in turn
    (then 200)."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_for(self, predicate: Callable[[list[Received]], bool], within: float = 5) -> None:
        async def poll() -> None:
            while not predicate(self.received):
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(poll(), within)

    def event_types(self) -> list[str]:
        return [json.loads(r.body)["type"] for r in self.received]

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            self.received.append(Received(await request.body(), dict(request.headers)))
            self.arrived.set()
            status = self.statuses.pop(0) if self.statuses else 200
            return Response(b"", status_code=status)

        return Starlette(routes=[Route("/hook", hook, methods=["POST"])])


@dataclass
class Env:
    sandbox: StripeSandbox
    api_base: str
    root: str  # http://127.0.0.1:PORT/stripe
    secret_key: str
    publishable_key: str
    webhook_secret: str
    http: httpx.AsyncClient
    receiver: Receiver

    def client(self, key: str | None = None, **kwargs: Any) -> stripe.StripeClient:
        """A fresh SDK client (no global state), no network retries unless asked."""
        kwargs.setdefault("max_network_retries", 0)
        return stripe.StripeClient(key or self.secret_key, base_addresses={"api": self.api_base}, **kwargs)

    async def sdk(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a (blocking) SDK call off the event loop that serves the sandbox."""
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def raw(self, method: str, path: str, *, key: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = kwargs.pop("headers", {})
        if key != "":
            headers.setdefault("Authorization", f"Bearer {key or self.secret_key}")
        return await self.http.request(method, self.api_base + path, headers=headers, **kwargs)


class Switch:
    """An ASGI app that forwards to whichever app the current test installed, so that one
    server (one port, started once) serves a fresh sandbox to every test."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = self.app
        if app is None:
            await Response(b"no sandbox installed", status_code=503)(scope, receive, send)
            return
        await app(scope, receive, send)


@dataclass(frozen=True)
class Server:
    port: int
    switch: Switch


@contextlib.asynccontextmanager
async def running_sandbox(
    tmp_path: Path, time_scale: float = TIME_SCALE, server: Server | None = None
) -> AsyncIterator[Env]:
    """A fresh sandbox (and receiver) on ``server``, or on a server of its own."""
    async with contextlib.AsyncExitStack() as stack:
        if server is None:
            switch = Switch()
            port = free_port()
            await stack.enter_async_context(serve_asgi(switch, port=port))
            server = Server(port, switch)
        base = f"http://127.0.0.1:{server.port}"
        config = SandboxConfig(base, tmp_path, time_scale=time_scale)
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=10))
        sandbox = StripeSandbox(config, http=http)
        receiver = Receiver(url=f"{base}/merchant/hook")
        server.switch.app = Starlette(
            routes=[Mount("/stripe", app=sandbox.app), Mount("/merchant", app=receiver.app())]
        )
        await sandbox.start()
        creds = sandbox.credentials()
        try:
            yield Env(
                sandbox=sandbox,
                api_base=creds["api_base"],
                root=f"{base}/stripe",
                secret_key=creds["secret_key"],
                publishable_key=creds["publishable_key"],
                webhook_secret=creds["webhook_secret"],
                http=http,
                receiver=receiver,
            )
        finally:
            sandbox.clear_faults()  # releases held requests
            await sandbox.stop()
            server.switch.app = None


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def server() -> AsyncIterator[Server]:
    switch = Switch()
    port = free_port()
    async with serve_asgi(switch, port=port):
        yield Server(port, switch)


@pytest_asyncio.fixture(loop_scope="session")
async def env(tmp_path: Path, server: Server) -> AsyncIterator[Env]:
    async with running_sandbox(tmp_path, server=server) as value:
        yield value


@pytest.fixture
def receiver(env: Env) -> Receiver:
    """The merchant's webhook endpoint, served beside the sandbox."""
    return env.receiver


CARD_ONLY: dict[str, Any] = {"payment_method_types": ["card"]}
