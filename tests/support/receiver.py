"""An app's webhook endpoint for tests: real HTTP on a loopback port, verifying every
notification with the ``standardwebhooks`` package (not paygate's code), answering what the
test scripts (e.g. 500 twice, then 204), and keeping what it got."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.servers import serve_asgi


@dataclass
class Received:
    event_id: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    status: int

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]


@dataclass
class Receiver:
    secrets: list[str]
    #: event id -> statuses to answer, in turn (then 204)
    script: dict[str, list[int]] = field(default_factory=dict)
    #: answer every request with this status (when set)
    always: int | None = None
    #: before answering, wait until this is set (a request "in flight")
    hold: asyncio.Event | None = None
    got: list[Received] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    url: str = ""

    def verify(self, body: bytes, headers: dict[str, str]) -> bool:
        for secret in self.secrets:
            try:
                Webhook(secret).verify(body, headers)
                return True
            except WebhookVerificationError:
                continue
        return False

    async def _post(self, request: Request) -> Response:
        body = await request.body()
        headers = dict(request.headers)
        event_id = headers.get("webhook-id", "")
        verified = self.verify(body, headers)
        queued = self.script.get(event_id)
        status = 400 if not verified else (self.always or (queued.pop(0) if queued else 204))
        self.got.append(Received(event_id, headers, body, verified, status))
        self.arrived.set()
        if self.hold is not None:
            await self.hold.wait()
        return Response(b"nope" if status >= 300 else b"", status_code=status)

    def acknowledged(self) -> list[Received]:
        return [r for r in self.got if r.status < 300]

    def ids(self, predicate: Callable[[Received], bool] = lambda r: True) -> list[str]:
        return [r.event_id for r in self.got if predicate(r)]


@contextlib.asynccontextmanager
async def running_receiver(secrets: list[str], **kwargs: Any) -> AsyncIterator[Receiver]:
    receiver = Receiver(secrets, **kwargs)
    app = Starlette(routes=[Route("/hook", receiver._post, methods=["POST"])])
    async with serve_asgi(app) as base:
        receiver.url = f"{base}/hook"
        yield receiver
