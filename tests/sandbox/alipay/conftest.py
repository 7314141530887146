"""The Alipay sandbox served on a real loopback port (mounted at ``/alipay`` like the
sandbox server does), a merchant notification receiver beside it (``/merchant/notify``),
and both public SDKs pointed at it."""

from __future__ import annotations

import asyncio
import http.client
import urllib.parse
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route

from paygate.sandbox.alipay import AlipaySandbox
from paygate.sandbox.base import SandboxConfig
from tests.support.servers import free_port, serve_asgi

#: Notification delays are multiplied by this: the whole 25-hour schedule takes ~0.9 s.
TIME_SCALE = 1e-5


async def eventually(predicate: Callable[[], bool], within: float = 3.0) -> None:
    """Wait until ``predicate()`` holds (the sandbox records an attempt only once the
    receiver's answer is back)."""
    for _ in range(int(within / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached in time")


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]
    form: dict[str, str]


@dataclass
class Receiver:
    """A merchant's notify endpoint: records every POST, answers from a script
    (``answers``), then ``default``."""

    answers: deque[str] = field(default_factory=deque)
    default: str = "success"
    calls: list[Received] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def app(self) -> Starlette:
        async def notify(request: Request) -> Response:
            body = await request.body()
            form = dict(urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True))
            self.calls.append(Received(body, dict(request.headers), form))
            self._changed.set()
            return PlainTextResponse(self.answers.popleft() if self.answers else self.default)

        return Starlette(routes=[Route("/notify", notify, methods=["POST"])])

    async def wait_for(self, count: int, within: float = 5.0) -> list[Received]:
        async def enough() -> None:
            while len(self.calls) < count:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(enough(), within)
        return self.calls


@dataclass
class Env:
    sandbox: AlipaySandbox
    base_url: str
    creds: dict[str, Any]
    receiver: Receiver
    notify_url: str
    http: httpx.AsyncClient

    @property
    def gateway(self) -> str:
        return str(self.creds["gateway_url"])

    def control(self, path: str) -> str:
        return f"{self.base_url}/alipay/_sandbox/{path}"

    def python_sdk(self, sign_type: str = "RSA2", **overrides: Any) -> Any:
        """python-alipay-sdk's ``AliPay`` pointed at the sandbox (§1.1)."""
        from alipay import AliPay

        client = AliPay(
            appid=overrides.get("app_id", self.creds["app_id"]),
            app_notify_url=self.notify_url,
            app_private_key_string=overrides.get("app_private_key", self.creds["app_private_key"]),
            alipay_public_key_string=self.creds["alipay_public_key"],
            sign_type=sign_type,
        )
        client._gateway = self.gateway
        return client

    def official_client(self) -> Any:
        from alipay.aop.api.AlipayClientConfig import AlipayClientConfig
        from alipay.aop.api.DefaultAlipayClient import DefaultAlipayClient

        config = AlipayClientConfig()
        config.server_url = self.gateway
        config.app_id = self.creds["app_id"]
        config.app_private_key = self.creds["app_private_key"]
        config.alipay_public_key = self.creds["alipay_public_key"]
        return DefaultAlipayClient(config)


def _origin_form_connection(url: str, query_string: str, timeout: int) -> tuple[str, Any]:
    """The least-invasive fix of the official SDK's port bug (channels.md §1.1)."""
    parsed = urllib.parse.urlparse(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port or 80, timeout=timeout)
    return parsed.path + "?" + query_string, connection


@pytest.fixture
def official_sdk_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    import alipay.aop.api.util.WebUtils as web_utils

    monkeypatch.setattr(web_utils, "get_http_connection", _origin_form_connection)


@pytest.fixture(scope="session")
def sandbox_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Shared by all tests: keys are generated once, then loaded from alipay.json."""
    return tmp_path_factory.mktemp("alipay-sandbox")


@pytest.fixture
async def env(sandbox_data_dir: Path) -> AsyncIterator[Env]:
    port = free_port()
    config = SandboxConfig(
        base_url=f"http://127.0.0.1:{port}", data_dir=sandbox_data_dir, time_scale=TIME_SCALE
    )
    sandbox = AlipaySandbox(config)
    receiver = Receiver()
    # One server for both: the sandbox where the sandbox server mounts it, and the
    # merchant's notify endpoint beside it (still real HTTP between them).
    host = Starlette(routes=[Mount("/alipay", app=sandbox.app), Mount("/merchant", app=receiver.app())])
    async with httpx.AsyncClient(timeout=10) as client, serve_asgi(host, port) as base_url:
        await sandbox.start()
        try:
            yield Env(
                sandbox=sandbox,
                base_url=base_url,
                creds=sandbox.credentials(),
                receiver=receiver,
                notify_url=f"{base_url}/merchant/notify",
                http=client,
            )
        finally:
            await sandbox.stop()
