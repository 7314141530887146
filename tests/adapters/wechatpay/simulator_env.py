"""The WeChat Pay sandbox served on loopback for adapter tests, with a notify receiver.

Only the sandbox's public surface is used: ``WechatPaySandbox(SandboxConfig(...))``, its
``app`` mounted at ``/wechatpay``, ``credentials()``, ``register_merchant()``, ``pay()``,
``faults``, ``advance_clock()``, ``start()``/``stop()``. The receiver stands for paygate's
notify endpoint: it hands each notification to its *own* adapter instance (as a separate
paygate process would) and answers what ``notify_reply`` says.
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
from starlette.responses import Response
from starlette.routing import Mount, Route

from paygate.channels.contract import (
    ChannelAccount,
    CreatePayment,
    Notification,
    NotificationRejected,
)
from paygate.channels.wechatpay import WechatPayAdapter
from paygate.kit.money import Money
from paygate.sandbox.base import SandboxConfig
from paygate.sandbox.wechatpay import WechatPaySandbox
from tests.adapters.wechatpay.support import OPENID, account_from_credentials
from tests.support.servers import free_port, serve_asgi

TIME_SCALE = 0.001  # a 15 s notification retry becomes 15 ms, a 5 s refund 5 ms


@dataclass
class Received:
    account_id: int
    headers: dict[str, str]
    body: bytes
    note: Notification | None
    rejected: str | None


@dataclass
class Receiver:
    adapter: WechatPayAdapter
    accounts: dict[int, ChannelAccount] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: Request) -> Response:
        account = self.accounts[int(request.path_params["account_id"])]
        body = await request.body()
        note: Notification | None = None
        rejected: str | None = None
        try:
            note = self.adapter.parse_notification(account, request.headers, body)
        except NotificationRejected as exc:
            rejected = exc.reason
        self.received.append(Received(account.id, dict(request.headers), body, note, rejected))
        self.arrived.set()
        reply = self.adapter.notify_reply(note is not None)
        return Response(reply.body, status_code=reply.status_code, media_type=reply.media_type)

    async def wait_for(self, predicate: Callable[[Received], bool], within: float = 5.0) -> Received:
        async def find() -> Received:
            while True:
                for item in self.received:
                    if predicate(item):
                        return item
                self.arrived.clear()
                await self.arrived.wait()

        return await asyncio.wait_for(find(), within)


@dataclass
class Env:
    sandbox: WechatPaySandbox
    adapter: WechatPayAdapter
    receiver: Receiver
    http: httpx.AsyncClient
    creds: dict[str, Any]
    root: str
    accounts: dict[str, ChannelAccount]  # "public_key" | "certificate"

    def notify_url(self, account_id: int) -> str:
        return f"{self.root}/notify/{account_id}"

    async def control_pay(self, trade: str, outcome: str = "pay") -> httpx.Response:
        """The payer, through the sandbox's control API over HTTP."""
        url = self.creds["base_url"] + "/_sandbox/pay"
        return await self.http.post(url, json={"trade": trade, "outcome": outcome})

    def add_account(self, creds: dict[str, Any], *, public_key_mode: bool, account_id: int) -> ChannelAccount:
        account = account_from_credentials(
            creds,
            public_key_mode=public_key_mode,
            account_id=account_id,
            notify_url=self.notify_url(account_id),
        )
        self.receiver.accounts[account_id] = account
        return account


@contextlib.asynccontextmanager
async def running_sandbox(data_dir: Path) -> AsyncIterator[Env]:
    port = free_port()
    sandbox = WechatPaySandbox(
        SandboxConfig(base_url=f"http://127.0.0.1:{port}", data_dir=data_dir, time_scale=TIME_SCALE)
    )
    async with httpx.AsyncClient() as http:
        receiver = Receiver(WechatPayAdapter(http))
        host = Starlette(
            routes=[
                Mount("/wechatpay", app=sandbox.app),
                Route("/notify/{account_id:int}", receiver.handle, methods=["POST"]),
            ]
        )
        async with serve_asgi(host, port) as root:
            await sandbox.start()
            creds = sandbox.credentials()
            adapter = WechatPayAdapter(http)
            env = Env(sandbox, adapter, receiver, http, creds, root, {})
            env.accounts["public_key"] = env.add_account(creds, public_key_mode=True, account_id=1)
            env.accounts["certificate"] = env.add_account(creds, public_key_mode=False, account_id=2)
            try:
                yield env
            finally:
                sandbox.clear_faults()
                await adapter.aclose()
                await receiver.adapter.aclose()
                await sandbox.stop()


def new_no() -> str:
    return "PG" + uuid.uuid4().hex[:20]


def pay_request(method: str, amount: int = 888, **changes: Any) -> CreatePayment:
    values: dict[str, Any] = {
        "attempt_no": new_no(),
        "trade_no": "T" + uuid.uuid4().hex[:10],
        "method": method,
        "amount": Money(amount, "CNY"),
        "subject": "会员充值 {VIP}",
        "expire_at": datetime.now(UTC) + timedelta(minutes=30),
        "client_ip": "203.0.113.7",
        "extra": {"openid": OPENID} if method == "jsapi" else {},
    }
    values.update(changes)
    return CreatePayment(**values)
