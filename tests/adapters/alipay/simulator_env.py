"""The Alipay sandbox served on loopback for adapter tests, and request helpers.

Only the sandbox's public surface is used: ``AlipaySandbox(SandboxConfig(...))``, its
``app`` mounted at ``/alipay``, ``credentials()``, ``start()``/``stop()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route

from paygate.channels.alipay import AlipayAdapter
from paygate.channels.contract import ChannelAccount, CreatePayment, PaymentStatus, RefundRequest
from paygate.kit.crypto import Secret
from paygate.kit.money import Money
from paygate.sandbox.alipay import AUTH_CODE_SUCCESS, AlipaySandbox
from paygate.sandbox.base import SandboxConfig
from tests.support.servers import free_port, serve_asgi


@dataclass
class Inbox:
    """paygate's notify endpoint, reduced to recording bodies and answering ``success``."""

    bodies: list[bytes] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def app(self) -> Starlette:
        async def notify(request: Request) -> Response:
            self.bodies.append(await request.body())
            self.arrived.set()
            return PlainTextResponse("success")

        return Starlette(routes=[Route("/notify", notify, methods=["POST"])])

    async def wait_for(self, predicate: Any, within: float = 5.0) -> bytes:
        async def find() -> bytes:
            while True:
                for body in self.bodies:
                    if predicate(body):
                        return body
                self.arrived.clear()
                await self.arrived.wait()

        return await asyncio.wait_for(find(), within)


@dataclass
class Env:
    sandbox: AlipaySandbox
    adapter: AlipayAdapter
    account: ChannelAccount
    inbox: Inbox
    http: httpx.AsyncClient
    creds: dict[str, Any]


@contextlib.asynccontextmanager
async def running_sandbox(data_dir: Path) -> AsyncIterator[Env]:
    port = free_port()
    sandbox = AlipaySandbox(
        SandboxConfig(base_url=f"http://127.0.0.1:{port}", data_dir=data_dir, time_scale=1e-5)
    )
    host = Starlette(routes=[Mount("/alipay", app=sandbox.app)])
    inbox = Inbox()
    async with (
        serve_asgi(host, port),
        serve_asgi(inbox.app()) as inbox_url,
        httpx.AsyncClient() as http,
    ):
        await sandbox.start()
        creds = sandbox.credentials()
        account = ChannelAccount(
            id=7,
            channel="alipay",
            name="sandbox",
            merchant_id=creds["app_id"],
            gateway_url=creds["gateway_url"],
            secrets={
                "app_private_key": Secret(creds["app_private_key"]),
                "alipay_public_key": Secret(creds["alipay_public_key"]),
            },
            params={"seller_id": creds["seller_id"], "sign_type": "RSA2"},
            notify_url=inbox_url + "/notify",
            return_url="https://shop.example.com/return",
            timeout_seconds=2.0,
        )
        adapter = AlipayAdapter(http)
        try:
            yield Env(sandbox, adapter, account, inbox, http, creds)
        finally:
            await adapter.aclose()
            await sandbox.stop()


def new_no() -> str:
    return "PG" + uuid.uuid4().hex[:20]


def pay_request(method: str, amount: int = 888, **extra: Any) -> CreatePayment:
    return CreatePayment(
        attempt_no=new_no(),
        trade_no="T" + uuid.uuid4().hex[:10],
        method=method,
        amount=Money(amount, "CNY"),
        subject="会员充值 {VIP}",  # braces inside echoed strings must not break verification
        expire_at=datetime.now(UTC) + timedelta(minutes=30),
        extra=extra,
    )


def about(attempt_no: str) -> Callable[[bytes], bool]:
    return lambda body: attempt_no.encode() in body


async def paid_by_barcode(env: Env, amount: int = 888) -> CreatePayment:
    request = pay_request("barcode", amount, auth_code=AUTH_CODE_SUCCESS)
    result = await env.adapter.create_payment(env.account, request)
    assert result.status is PaymentStatus.SUCCEEDED
    return request


def refund_of(request: CreatePayment, refund_no: str, amount: int) -> RefundRequest:
    return RefundRequest(
        refund_no=refund_no,
        attempt_no=request.attempt_no,
        channel_trade_no=None,
        amount=Money(amount, "CNY"),
        total=request.amount,
        reason="退货",
    )
