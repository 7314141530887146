"""Fixtures: a Stripe sandbox served over real HTTP, the stripe SDK pointed at it, and a
webhook receiver app."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import stripe
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from paygate.sandbox.base import SandboxConfig
from paygate.sandbox.stripe import StripeSandbox
from tests.support.servers import free_port, serve_asgi

T = TypeVar("T")

#: Small enough that a minute of Stripe time is 60 ms, large enough to stay ordered.
TIME_SCALE = 0.001


@dataclass
class Env:
    sandbox: StripeSandbox
    api_base: str
    root: str  # http://127.0.0.1:PORT/stripe
    secret_key: str
    publishable_key: str
    webhook_secret: str
    http: httpx.AsyncClient

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


@contextlib.asynccontextmanager
async def running_sandbox(tmp_path: Path, time_scale: float = TIME_SCALE) -> AsyncIterator[Env]:
    port = free_port()
    config = SandboxConfig(f"http://127.0.0.1:{port}", tmp_path, time_scale=time_scale)
    async with httpx.AsyncClient(timeout=10) as http:
        sandbox = StripeSandbox(config, http=http)
        app = Starlette(routes=[Mount("/stripe", app=sandbox.app)])
        async with serve_asgi(app, port=port) as base:
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
                )
            finally:
                sandbox.clear_faults()
                await sandbox.stop()


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with running_sandbox(tmp_path) as value:
        yield value


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
        import json

        return [json.loads(r.body)["type"] for r in self.received]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    state = Receiver()

    async def hook(request: Request) -> Response:
        state.received.append(Received(await request.body(), dict(request.headers)))
        state.arrived.set()
        status = state.statuses.pop(0) if state.statuses else 200
        return Response(b"", status_code=status)

    app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    async with serve_asgi(app) as base:
        state.url = f"{base}/hook"
        yield state


CARD_ONLY: dict[str, Any] = {"payment_method_types": ["card"]}
