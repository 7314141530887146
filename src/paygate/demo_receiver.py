"""The demo app's notification receiver (R-NTF-5): what an app's webhook endpoint does, with
nothing of paygate's own code on the verifying side — the ``standardwebhooks`` package checks
every notification. ``make run`` (``paygate run`` with the sandboxes) starts it on
``demo_receiver_port`` (8002) and points the demo app's notify URL at it; ``paygate demo
receiver`` runs it alone.

It answers 204 to a notification that verifies and 400 to one that does not, prints one line
per notification, and shows the last ones at ``GET /webhooks``.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = ["DemoReceiver"]


class DemoReceiver:
    def __init__(
        self,
        secret: Callable[[], Awaitable[str | None]],
        say: Callable[[str], None] = print,
        keep: int = 100,
    ) -> None:
        self._secret_source = secret
        self._say = say
        self._secret: str | None = None
        #: the last notifications that verified (newest last)
        self.received: deque[dict[str, Any]] = deque(maxlen=keep)

    async def _verify(self, body: bytes, headers: dict[str, str]) -> Any:
        if self._secret is None:
            self._secret = await self._secret_source()
        try:
            if self._secret is None:
                raise WebhookVerificationError("no webhook secret yet")
            return Webhook(self._secret).verify(body, headers)
        except WebhookVerificationError:
            # the secret may have been rotated since it was read: read it again, once
            fresh = await self._secret_source()
            if fresh is None or fresh == self._secret:
                raise
            self._secret = fresh
            return Webhook(fresh).verify(body, headers)

    async def _post(self, request: Request) -> Response:
        body = await request.body()
        try:
            event = await self._verify(body, dict(request.headers))
        except (WebhookVerificationError, ValueError) as exc:
            self._say(f"receiver: REJECTED {request.headers.get('webhook-id', '?')}: {exc}")
            return JSONResponse({"error": str(exc)}, status_code=400)
        data = event.get("data", {}) if isinstance(event, dict) else {}
        self.received.append(event)
        self._say(
            "receiver: verified {type} {id} {trade} state={state} amount={amount} {currency}".format(
                type=event.get("type"),
                id=event.get("id"),
                trade=data.get("trade_no") or data.get("refund_no"),
                state=data.get("state"),
                amount=data.get("amount"),
                currency=data.get("currency"),
            )
        )
        return Response(status_code=204)

    async def _list(self, request: Request) -> Response:
        return Response(
            json.dumps(list(self.received), ensure_ascii=False, indent=2), media_type="application/json"
        )

    def asgi(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/webhooks", self._post, methods=["POST"]),
                Route("/webhooks", self._list, methods=["GET"]),
            ]
        )
