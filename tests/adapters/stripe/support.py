"""The Stripe sandbox served on loopback for adapter tests, a webhook receiver that runs the
adapter, and request helpers.

Only the sandbox's public surface is used: ``StripeSandbox(SandboxConfig(...))``, its
``app`` mounted at ``/stripe``, ``credentials()``, ``start()``/``stop()``,
``configure_webhook`` and the HTTP control API under ``/stripe/_sandbox/``. One server (one
port) per test module; each test installs a fresh sandbox on it through :class:`Switch`.
Webhook signatures made here are computed with ``hmac`` directly, never with the adapter's
code.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from paygate.channels.contract import (
    ChannelAccount,
    CreatePayment,
    Notification,
    NotificationRejected,
    PaymentStatus,
    RefundRequest,
)
from paygate.channels.stripe import StripeAdapter
from paygate.kit.crypto import Secret
from paygate.kit.money import Money
from paygate.sandbox.base import SandboxConfig
from paygate.sandbox.stripe import StripeSandbox

#: A minute of Stripe time is 60 ms: pending refunds settle quickly, webhooks stay ordered.
TIME_SCALE = 0.001
RETURN_URL = "https://shop.example.com/stripe/return?shop=1"


class Switch:
    """Forwards to the app the current test installed (one port for the whole module)."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.app is None:
            await Response(b"no app installed", status_code=503)(scope, receive, send)
            return
        await self.app(scope, receive, send)


@dataclass
class Delivery:
    event_type: str
    notification: Notification | None
    rejected: str | None


@dataclass
class Receiver:
    """paygate's notify endpoint in miniature: verifies and parses with the adapter, answers
    with ``notify_reply`` — so the sandbox sees exactly what Stripe would."""

    adapter: StripeAdapter
    account: ChannelAccount
    deliveries: list[Delivery] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            body = await request.body()
            event_type = str(json.loads(body).get("type", ""))
            try:
                note = self.adapter.parse_notification(self.account, dict(request.headers), body)
                self.deliveries.append(Delivery(event_type, note, None))
                reply = self.adapter.notify_reply(True)
            except NotificationRejected as exc:
                self.deliveries.append(Delivery(event_type, None, exc.reason))
                reply = self.adapter.notify_reply(False)
            self.arrived.set()
            return Response(reply.body, status_code=reply.status_code, media_type=reply.media_type)

        return Starlette(routes=[Route("/hook", hook, methods=["POST"])])

    async def wait_for(self, predicate: Callable[[list[Delivery]], bool], within: float = 5.0) -> None:
        async def poll() -> None:
            while not predicate(self.deliveries):
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(poll(), within)

    def of(self, event_type: str) -> list[Notification]:
        return [d.notification for d in self.deliveries if d.event_type == event_type and d.notification]


@dataclass
class Env:
    sandbox: StripeSandbox
    adapter: StripeAdapter
    account: ChannelAccount
    http: httpx.AsyncClient
    root: str  # http://127.0.0.1:PORT/stripe
    creds: dict[str, Any]
    receiver: Receiver
    hook_url: str

    async def control(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.http.post(self.root + "/_sandbox/" + path, json=body or {})
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    async def pay(self, trade: str, outcome: str = "pay") -> dict[str, Any]:
        """Play the payer through the sandbox's control API (id or next_action URL)."""
        return await self.control("pay", {"trade": trade, "outcome": outcome})

    async def faults(self, spec: dict[str, Any]) -> None:
        await self.control("faults", spec)

    async def sandbox_clear(self) -> None:
        """Remove every fault (and release held requests)."""
        response = await self.http.delete(self.root + "/_sandbox/faults")
        assert response.status_code == 200, response.text

    async def stripe_get(self, path: str, **params: Any) -> dict[str, Any]:
        """Read Stripe directly (as a test's independent witness)."""
        response = await self.http.get(
            self.creds["api_base"] + path,
            params=params,
            headers={"Authorization": f"Bearer {self.creds['secret_key']}"},
        )
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result


def sandbox_account(creds: dict[str, Any], **overrides: Any) -> ChannelAccount:
    values: dict[str, Any] = {
        "id": 11,
        "channel": "stripe",
        "name": "stripe-sandbox",
        "merchant_id": "acct_sandbox",
        "gateway_url": creds["api_base"],
        "secrets": {
            "secret_key": Secret(creds["secret_key"]),
            "webhook_secret": Secret(creds["webhook_secret"]),
        },
        "params": {"statement_descriptor": "PAYGATE"},
        "notify_url": "https://paygate.example.com/notify/stripe/11",
        "return_url": RETURN_URL,
        "timeout_seconds": 2.0,
    }
    values.update(overrides)
    return ChannelAccount(**values)


@contextlib.asynccontextmanager
async def running_sandbox(tmp_path: Path, switch: Switch, port: int) -> AsyncIterator[Env]:
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(timeout=10) as http:
        sandbox = StripeSandbox(SandboxConfig(base, tmp_path, time_scale=TIME_SCALE), http=http)
        creds = sandbox.credentials()
        account = sandbox_account(creds)
        adapter = StripeAdapter(http, retry_delay=0.01)
        receiver = Receiver(adapter, account)
        switch.app = Starlette(
            routes=[Mount("/stripe", app=sandbox.app), Mount("/merchant", app=receiver.app())]
        )
        await sandbox.start()
        try:
            yield Env(
                sandbox, adapter, account, http, f"{base}/stripe", creds, receiver, f"{base}/merchant/hook"
            )
        finally:
            sandbox.clear_faults()  # releases held requests
            await sandbox.stop()
            await adapter.aclose()
            switch.app = None


def new_no(prefix: str = "P") -> str:
    return prefix + uuid.uuid4().hex[:20]


def card_request(
    payment_method: str = "pm_card_visa",
    amount: int = 2000,
    currency: str = "USD",
    **overrides: Any,
) -> CreatePayment:
    values: dict[str, Any] = {
        "attempt_no": new_no("P"),
        "trade_no": new_no("T"),
        "method": "card",
        "amount": Money(amount, currency),
        "subject": "Annual plan",
        "expire_at": datetime.now(UTC) + timedelta(minutes=30),
        "extra": {"payment_method": payment_method},
    }
    values.update(overrides)
    return CreatePayment(**values)


def refund_of(request: CreatePayment, amount: int, intent_id: str | None = None, **kw: Any) -> RefundRequest:
    return RefundRequest(
        refund_no=kw.pop("refund_no", new_no("R")),
        attempt_no=request.attempt_no,
        channel_trade_no=intent_id,
        amount=Money(amount, request.amount.currency),
        total=request.amount,
        **kw,
    )


async def paid(
    env: Env, amount: int = 2000, currency: str = "USD", pm: str = "pm_card_visa"
) -> tuple[CreatePayment, str]:
    request = card_request(pm, amount, currency)
    result = await env.adapter.create_payment(env.account, request)
    assert result.status is PaymentStatus.SUCCEEDED and result.channel_trade_no
    return request, result.channel_trade_no


def ref_signature(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """``Stripe-Signature`` as the spec (§3) defines it, computed here independently."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"
